/* lib/onnx/registry.c — operator lookup over the reference kernel tables.
 *
 * An op table entry covers opsets [min_opset, max_opset] of one op_type in
 * the default domain (a family may register several entries for one op when
 * its semantics changed, e.g. Softmax before/after opset 13). */
#include "onnx/ir.h"

#include <string.h>

static int is_default_domain(const char *d)
{
    return !d || !d[0] || !strcmp(d, "ai.onnx");
}

static const ev_op_def *find_in(const ev_op_def *const *table, const char *op_type, int64_t opset)
{
    for (int i = 0; table[i]; i++) {
        const ev_op_def *d = table[i];
        if (d->op_type && !strcmp(d->op_type, op_type) && opset >= d->min_opset &&
            opset <= d->max_opset)
            return d;
    }
    return NULL;
}

const ev_op_def *ev_op_find(const char *op_type, const char *domain, int64_t opset)
{
    if (!op_type || !is_default_domain(domain)) return NULL;
    const ev_op_def *d = find_in(ev_ops_nn, op_type, opset);
    if (!d) d = find_in(ev_ops_shape, op_type, opset);
    return d;
}
