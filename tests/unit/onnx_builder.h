/*
 * tests/unit/onnx_builder.h — build tiny ONNX models in C with the generated
 * protobuf-c structs, for the loader/plan unit tests. Everything is malloc'd
 * so that protobuf_c_message_free_unpacked(..., NULL) releases a model.
 */
#ifndef EV_ONNX_BUILDER_H
#define EV_ONNX_BUILDER_H

#include <stdlib.h>
#include <string.h>

#include "onnx/onnx.pb-c.h"

#define OB_NEW(T, INIT) ob_new_((void *)&(T)INIT, sizeof(T))

static inline void *ob_new_(const void *init, size_t size)
{
    void *p = malloc(size);
    memcpy(p, init, size);
    return p;
}

#define OB_PUSH(arr, n, v)                                                     \
    do {                                                                       \
        (arr) = realloc((arr), sizeof *(arr) * ((n) + 1));                     \
        (arr)[(n)++] = (v);                                                    \
    } while (0)

static inline Onnx__ModelProto *ob_model(int64_t opset)
{
    Onnx__ModelProto *m = OB_NEW(Onnx__ModelProto, ONNX__MODEL_PROTO__INIT);
    m->has_ir_version = 1;
    m->ir_version = 8;
    m->producer_name = strdup("unit");
    m->graph = OB_NEW(Onnx__GraphProto, ONNX__GRAPH_PROTO__INIT);
    m->graph->name = strdup("g");
    if (opset > 0) {
        Onnx__OperatorSetIdProto *os = OB_NEW(Onnx__OperatorSetIdProto, ONNX__OPERATOR_SET_ID_PROTO__INIT);
        os->domain = strdup("");
        os->has_version = 1;
        os->version = opset;
        OB_PUSH(m->opset_import, m->n_opset_import, os);
    }
    return m;
}

static inline void ob_import(Onnx__ModelProto *m, const char *domain, int64_t v)
{
    Onnx__OperatorSetIdProto *os = OB_NEW(Onnx__OperatorSetIdProto, ONNX__OPERATOR_SET_ID_PROTO__INIT);
    os->domain = strdup(domain);
    os->has_version = 1;
    os->version = v;
    OB_PUSH(m->opset_import, m->n_opset_import, os);
}

/* dims: -1 = symbolic "N"; rank -1 = no shape */
static inline Onnx__ValueInfoProto *ob_vi(const char *name, int dtype, int rank, const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = OB_NEW(Onnx__ValueInfoProto, ONNX__VALUE_INFO_PROTO__INIT);
    vi->name = strdup(name);
    Onnx__TypeProto *tp = OB_NEW(Onnx__TypeProto, ONNX__TYPE_PROTO__INIT);
    Onnx__TypeProto__Tensor *tt = OB_NEW(Onnx__TypeProto__Tensor, ONNX__TYPE_PROTO__TENSOR__INIT);
    tt->has_elem_type = 1;
    tt->elem_type = dtype;
    if (rank >= 0) {
        tt->shape = OB_NEW(Onnx__TensorShapeProto, ONNX__TENSOR_SHAPE_PROTO__INIT);
        for (int i = 0; i < rank; i++) {
            Onnx__TensorShapeProto__Dimension *d =
                OB_NEW(Onnx__TensorShapeProto__Dimension, ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT);
            if (dims[i] >= 0) {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = dims[i];
            } else {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = strdup("N");
            }
            OB_PUSH(tt->shape->dim, tt->shape->n_dim, d);
        }
    }
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    return vi;
}

static inline void ob_input(Onnx__ModelProto *m, const char *name, int dtype, int rank, const int64_t *dims)
{
    OB_PUSH(m->graph->input, m->graph->n_input, ob_vi(name, dtype, rank, dims));
}

static inline void ob_output(Onnx__ModelProto *m, const char *name)
{
    OB_PUSH(m->graph->output, m->graph->n_output, ob_vi(name, 1, -1, NULL));
}

/* comma-separated name lists; an empty item is an omitted optional input */
static inline void ob_split(const char *list, char ***arr, size_t *n)
{
    if (!list) return;
    const char *p = list;
    for (;;) {
        size_t len = strcspn(p, ",");
        char *s = malloc(len + 1);
        memcpy(s, p, len);
        s[len] = 0;
        OB_PUSH(*arr, *n, s);
        if (!p[len]) break;
        p += len + 1;
    }
}

static inline Onnx__NodeProto *ob_node(Onnx__ModelProto *m, const char *op, const char *name,
                                const char *ins, const char *outs)
{
    Onnx__NodeProto *n = OB_NEW(Onnx__NodeProto, ONNX__NODE_PROTO__INIT);
    n->op_type = strdup(op);
    n->name = strdup(name ? name : "");
    if (ins && *ins) ob_split(ins, &n->input, &n->n_input);
    if (outs && *outs) ob_split(outs, &n->output, &n->n_output);
    OB_PUSH(m->graph->node, m->graph->n_node, n);
    return n;
}

static inline Onnx__AttributeProto *ob_attr(Onnx__NodeProto *n, const char *name, int type)
{
    Onnx__AttributeProto *a = OB_NEW(Onnx__AttributeProto, ONNX__ATTRIBUTE_PROTO__INIT);
    a->name = strdup(name);
    a->has_type = 1;
    a->type = type;
    OB_PUSH(n->attribute, n->n_attribute, a);
    return a;
}

static inline void ob_attr_int(Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = ob_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static inline void ob_attr_ints(Onnx__NodeProto *n, const char *name, int count, const int64_t *v)
{
    Onnx__AttributeProto *a = ob_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->ints = malloc(sizeof *a->ints * (size_t)(count ? count : 1));
    for (int i = 0; i < count; i++) a->ints[i] = v[i];
    a->n_ints = (size_t)count;
}

static inline Onnx__TensorProto *ob_tensor(const char *name, int dtype, int rank, const int64_t *dims)
{
    Onnx__TensorProto *t = OB_NEW(Onnx__TensorProto, ONNX__TENSOR_PROTO__INIT);
    t->name = strdup(name);
    t->has_data_type = 1;
    t->data_type = dtype;
    t->dims = malloc(sizeof *t->dims * (size_t)(rank ? rank : 1));
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
    t->n_dims = (size_t)rank;
    return t;
}

static inline void ob_raw(Onnx__TensorProto *t, const void *data, size_t len)
{
    t->has_raw_data = 1;
    t->raw_data.len = len;
    t->raw_data.data = malloc(len ? len : 1);
    if (len) memcpy(t->raw_data.data, data, len);
}

static inline void ob_float_data(Onnx__TensorProto *t, const float *v, size_t n)
{
    t->float_data = malloc(sizeof *v * (n ? n : 1));
    if (n) memcpy(t->float_data, v, sizeof *v * n);
    t->n_float_data = n;
}

static inline Onnx__TensorProto *ob_init_raw(Onnx__ModelProto *m, const char *name, int dtype, int rank,
                                      const int64_t *dims, const void *data, size_t len)
{
    Onnx__TensorProto *t = ob_tensor(name, dtype, rank, dims);
    ob_raw(t, data, len);
    OB_PUSH(m->graph->initializer, m->graph->n_initializer, t);
    return t;
}

static inline void ob_kv(Onnx__TensorProto *t, const char *k, const char *v)
{
    Onnx__StringStringEntryProto *e = OB_NEW(Onnx__StringStringEntryProto, ONNX__STRING_STRING_ENTRY_PROTO__INIT);
    e->key = strdup(k);
    e->value = strdup(v);
    OB_PUSH(t->external_data, t->n_external_data, e);
}

static inline uint8_t *ob_pack(const Onnx__ModelProto *m, size_t *len)
{
    *len = onnx__model_proto__get_packed_size(m);
    uint8_t *buf = malloc(*len ? *len : 1);
    onnx__model_proto__pack(m, buf);
    return buf;
}

static inline void ob_free(Onnx__ModelProto *m)
{
    protobuf_c_message_free_unpacked(&m->base, NULL);
}

#endif
