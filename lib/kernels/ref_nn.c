/*
 * lib/kernels/ref_nn.c — reference kernels, numeric / neural-network family:
 * the op table and the helpers shared by the family (see ref_nn.h).
 *
 * The kernels live by theme: ref_elementwise.c (unary, binary, variadic,
 * comparison, logic, Where, Cast), ref_conv.c, ref_pool.c, ref_matmul.c
 * (Gemm, MatMul, the shared sgemm), ref_norm.c (BatchNormalization,
 * LayerNormalization, Softmax, LogSoftmax), ref_reduce.c (ReduceMean/Sum/
 * Max, ArgMax).
 */
#include "kernels/ref_nn.h"

#include <omp.h>
#include <string.h>

#define EV_REF_ENTRY(name) &ev_ref_op_##name,
const ev_op_def *const ev_ops_nn[] = {EV_REF_OPS(EV_REF_ENTRY) NULL};
#undef EV_REF_ENTRY

ev_status ev_ref_arity(const ev_node *n, int req_in, int max_in, int max_out, ev_err *err)
{
    if (n->n_in < req_in || n->n_in > max_in) {
        if (req_in == max_in)
            return ev_err_set(err, EV_ERR_FORMAT, "%s node '%s': expects %d input%s, has %d",
                              n->op_type, EV_LABEL(n), req_in, req_in == 1 ? "" : "s", n->n_in);
        return ev_err_set(err, EV_ERR_FORMAT, "%s node '%s': expects %d to %d inputs, has %d",
                          n->op_type, EV_LABEL(n), req_in, max_in, n->n_in);
    }
    for (int i = 0; i < req_in; i++)
        if (n->in[i] < 0)
            return ev_err_set(err, EV_ERR_FORMAT, "%s node '%s': required input %d is empty",
                              n->op_type, EV_LABEL(n), i);
    if (n->n_out < 1 || n->n_out > max_out)
        return ev_err_set(err, EV_ERR_FORMAT, "%s node '%s': expects at most %d output%s, has %d",
                          n->op_type, EV_LABEL(n), max_out, max_out == 1 ? "" : "s", n->n_out);
    if (n->out[0] < 0)
        return ev_err_set(err, EV_ERR_FORMAT, "%s node '%s': output 0 is empty", n->op_type,
                          EV_LABEL(n));
    return EV_OK;
}

ev_status ev_ref_bad_dtype(const ev_node *n, const char *what, ev_dtype dt, ev_err *err)
{
    return ev_err_set(err, EV_ERR_UNSUPPORTED, "%s node '%s' (opset %lld): %s has unsupported dtype %s",
                      n->op_type, EV_LABEL(n), (long long)n->opset, what, ev_dtype_name(dt));
}

ev_status ev_ref_axis(const ev_node *n, int64_t axis, int rank, int *out, ev_err *err)
{
    if (axis < -(int64_t)rank || axis >= rank)
        return ev_err_set(err, EV_ERR_SHAPE, "%s node '%s': axis %lld out of range for rank %d",
                          n->op_type, EV_LABEL(n), (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return EV_OK;
}

int ev_ref_threads(const ev_exec_ctx *ctx)
{
    int t = ctx && ctx->threads > 0 ? ctx->threads : 1;
    /* Inside someone else's parallel region: stay serial. */
    if (omp_in_parallel()) return 1;
    return t;
}

void ev_ref_same_shape(ev_tensor *dst, const ev_tensor *src, ev_dtype dt)
{
    dst->dtype = dt;
    dst->rank = src->rank;
    for (int d = 0; d < EV_MAX_RANK; d++) dst->dims[d] = d < src->rank ? src->dims[d] : 0;
}

void *ev_ref_params(ev_graph *g, const ev_node *n, size_t size, ev_err *err)
{
    void *p = ev_arena_alloc(&g->arena, size);
    if (!p)
        ev_err_set(err, EV_ERR_NOMEM, "%s node '%s': out of memory for parameters", n->op_type,
                   EV_LABEL(n));
    return p;
}

ev_status ev_ref_auto_pad(const ev_node *n, int *out, ev_err *err)
{
    const char *ap = ev_attr_string(n, "auto_pad", "NOTSET");
    if (!strcmp(ap, "NOTSET")) *out = EV_PAD_NOTSET;
    else if (!strcmp(ap, "SAME_UPPER")) *out = EV_PAD_SAME_UPPER;
    else if (!strcmp(ap, "SAME_LOWER")) *out = EV_PAD_SAME_LOWER;
    else if (!strcmp(ap, "VALID")) *out = EV_PAD_VALID;
    else
        return ev_err_set(err, EV_ERR_FORMAT, "%s node '%s': unknown auto_pad '%s'", n->op_type,
                          EV_LABEL(n), ap);
    return EV_OK;
}

ev_status ev_ref_attr_ints(const ev_node *n, const char *name, int64_t lo, int max, int64_t *dst,
                           int *count, ev_err *err)
{
    int64_t c = 0;
    const int64_t *v = ev_attr_ints(n, name, &c);
    *count = 0;
    if (!v) return EV_OK;
    if (c > max)
        return ev_err_set(err, EV_ERR_UNSUPPORTED,
                          "%s node '%s': attribute %s has %lld values (at most %d supported)",
                          n->op_type, EV_LABEL(n), name, (long long)c, max);
    for (int64_t i = 0; i < c; i++) {
        if (v[i] < lo || v[i] > EV_REF_ATTR_MAX)
            return ev_err_set(err, EV_ERR_FORMAT, "%s node '%s': attribute %s[%lld] = %lld is out of range",
                              n->op_type, EV_LABEL(n), name, (long long)i, (long long)v[i]);
        dst[i] = v[i];
    }
    *count = (int)c;
    return EV_OK;
}

int64_t ev_ref_window_out(int auto_pad, int ceil_mode, int64_t in, int64_t k, int64_t s, int64_t d,
                          int64_t *pb, int64_t *pe)
{
    int64_t ek = (k - 1) * d + 1, out;
    switch (auto_pad) {
    case EV_PAD_SAME_UPPER:
    case EV_PAD_SAME_LOWER: {
        out = (in + s - 1) / s;
        int64_t total = (out - 1) * s + ek - in;
        if (total < 0) total = 0;
        *pb = auto_pad == EV_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        *pe = total - *pb;
        return out;
    }
    case EV_PAD_VALID:
        *pb = *pe = 0;
        return in >= ek ? (in - ek) / s + 1 : 0;
    default: {
        int64_t span = in + *pb + *pe - ek;
        if (span < 0) return 0;
        out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
        if (ceil_mode && (out - 1) * s >= in + *pb) out--;
        return out;
    }
    }
}
