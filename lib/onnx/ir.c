/* lib/onnx/ir.c — attribute accessors and node labels (see ir.h). */
#include "onnx/ir.h"

#include <stdio.h>
#include <string.h>

const ev_attr *ev_attr_find(const ev_node *n, const char *name)
{
    if (!n || !name) return NULL;
    for (int i = 0; i < n->n_attrs; i++)
        if (n->attrs[i].name && !strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

int64_t ev_attr_int(const ev_node *n, const char *name, int64_t def)
{
    const ev_attr *a = ev_attr_find(n, name);
    return a && a->type == EV_ATTR_INT ? a->i : def;
}

float ev_attr_float(const ev_node *n, const char *name, float def)
{
    const ev_attr *a = ev_attr_find(n, name);
    return a && a->type == EV_ATTR_FLOAT ? a->f : def;
}

const char *ev_attr_string(const ev_node *n, const char *name, const char *def)
{
    const ev_attr *a = ev_attr_find(n, name);
    return a && a->type == EV_ATTR_STRING && a->s ? a->s : def;
}

const int64_t *ev_attr_ints(const ev_node *n, const char *name, int64_t *count)
{
    const ev_attr *a = ev_attr_find(n, name);
    if (a && a->type == EV_ATTR_INTS) {
        if (count) *count = a->n;
        return a->ints;
    }
    if (count) *count = 0;
    return NULL;
}

const float *ev_attr_floats(const ev_node *n, const char *name, int64_t *count)
{
    const ev_attr *a = ev_attr_find(n, name);
    if (a && a->type == EV_ATTR_FLOATS) {
        if (count) *count = a->n;
        return a->floats;
    }
    if (count) *count = 0;
    return NULL;
}

const char *ev_node_label(const ev_node *n, char *buf, size_t len)
{
    if (!buf || !len) return "";
    if (!n) snprintf(buf, len, "?");
    else if (n->name && n->name[0]) snprintf(buf, len, "%s", n->name);
    else snprintf(buf, len, "%s#%d", n->op_type ? n->op_type : "?", n->index);
    return buf;
}
