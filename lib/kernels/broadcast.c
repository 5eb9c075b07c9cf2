/*
 * lib/kernels/broadcast.c — shared helpers for kernels: numpy-style
 * (multidirectional) broadcasting and integer element access.
 *
 * Broadcasting aligns shapes to the right; a dimension of 1 stretches to the
 * other operand's size; a dimension of 0 is allowed (empty tensors) and
 * broadcasts only with 0 or 1.
 */
#include "onnx/ir.h"

ev_status ev_broadcast_shapes(const ev_tensor *const *shapes, int n, ev_tensor *out, ev_err *err)
{
    int rank = 0;
    for (int k = 0; k < n; k++) {
        if (!shapes[k]) continue;
        if (shapes[k]->rank < 0 || shapes[k]->rank > EV_MAX_RANK)
            return ev_err_set(err, EV_ERR_SHAPE, "broadcast: operand %d has invalid rank %d", k,
                              shapes[k]->rank);
        if (shapes[k]->rank > rank) rank = shapes[k]->rank;
    }
    int64_t dims[EV_MAX_RANK];
    for (int d = 0; d < rank; d++) dims[d] = 1;
    for (int k = 0; k < n; k++) {
        const ev_tensor *t = shapes[k];
        if (!t) continue;
        int off = rank - t->rank;
        for (int d = 0; d < t->rank; d++) {
            int64_t a = dims[off + d], b = t->dims[d];
            if (b < 0)
                return ev_err_set(err, EV_ERR_SHAPE, "broadcast: operand %d has unknown dim %d", k, d);
            if (a == b || b == 1) continue;
            if (a == 1) {
                dims[off + d] = b;
                continue;
            }
            return ev_err_set(err, EV_ERR_SHAPE,
                              "broadcast: incompatible dimension %d (%lld vs %lld) in operand %d", off + d,
                              (long long)a, (long long)b, k);
        }
    }
    out->rank = rank;
    for (int d = 0; d < rank; d++) out->dims[d] = dims[d];
    return EV_OK;
}

void ev_broadcast_strides(const ev_tensor *src, const ev_tensor *dst, int64_t *strides)
{
    int off = dst->rank - src->rank;
    int64_t s = 1;
    for (int d = dst->rank - 1; d >= 0; d--) {
        int sd = d - off;
        if (sd < 0) {
            strides[d] = 0;
            continue;
        }
        int64_t dim = src->dims[sd];
        strides[d] = (dim == 1) ? 0 : s; /* size-1 dims never advance */
        s *= dim;
    }
}

int64_t ev_tensor_get_int(const ev_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case EV_DT_INT64: return ((const int64_t *)t->data)[i];
    case EV_DT_INT32: return ((const int32_t *)t->data)[i];
    case EV_DT_INT16: return ((const int16_t *)t->data)[i];
    case EV_DT_INT8: return ((const int8_t *)t->data)[i];
    case EV_DT_UINT8:
    case EV_DT_BOOL: return ((const uint8_t *)t->data)[i];
    case EV_DT_UINT16: return ((const uint16_t *)t->data)[i];
    case EV_DT_UINT32: return ((const uint32_t *)t->data)[i];
    case EV_DT_UINT64: return (int64_t)((const uint64_t *)t->data)[i];
    default: return 0;
    }
}
