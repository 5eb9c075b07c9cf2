/*
 * lib/kernels/ref_reduce.c — reference reductions: ReduceMean, ReduceSum,
 * ReduceMax (axes as attribute, or as input from opset 13 for ReduceSum and
 * 18 for the others; keepdims; noop_with_empty_axes) and ArgMax.
 *
 * A reduction walks the input once in memory order over a coalesced view
 * (adjacent dims that are both reduced or both kept are merged), summing
 * into a double accumulator per output element.
 */
#include "kernels/ref_nn.h"

#include <math.h>
#include <string.h>

enum { R_MEAN, R_SUM, R_MAX };

typedef struct red_params {
    int kind;
    int keepdims, noop_empty;
    int axes_input;                /* axes come from input 1                  */
    int naxes;                     /* attribute axes                          */
    int64_t axes[EV_MAX_RANK];
} red_params;

static ev_status red_prepare_kind(ev_graph *g, ev_node *n, int kind, int axes_input, ev_err *err)
{
    EV_TRY(ev_ref_arity(n, 1, axes_input ? 2 : 1, 1, err));
    red_params *p = ev_ref_params(g, n, sizeof *p, err);
    if (!p) return EV_ERR_NOMEM;
    p->kind = kind;
    p->axes_input = axes_input;
    p->keepdims = ev_attr_int(n, "keepdims", 1) != 0;
    p->noop_empty = axes_input ? ev_attr_int(n, "noop_with_empty_axes", 0) != 0 : 0;
    if (!axes_input) {
        int64_t c = 0;
        const int64_t *a = ev_attr_ints(n, "axes", &c);
        if (c > EV_MAX_RANK)
            return ev_err_set(err, EV_ERR_FORMAT, "%s node '%s': %lld axes", n->op_type, EV_LABEL(n), (long long)c);
        for (int64_t i = 0; i < c; i++) p->axes[i] = a[i];
        p->naxes = (int)c;
    }
    n->params = p;
    return EV_OK;
}

/* mask[d] = 1 for reduced dims; *identity = 1 when nothing is reduced
 * (noop_with_empty_axes with empty axes). */
static ev_status red_mask(const ev_node *n, const ev_tensor *const *in, int *mask, int *identity, ev_err *err)
{
    const red_params *p = n->params;
    const ev_tensor *x = in[0];
    const int64_t *av = p->axes;
    int64_t na = p->naxes;
    int64_t buf[EV_MAX_RANK];
    *identity = 0;
    if (p->axes_input) {
        const ev_tensor *a = ev_ref_in(n, in, 1);
        na = 0;
        if (a) {
            if (!a->data)
                return ev_err_set(err, EV_ERR_UNSUPPORTED, "%s node '%s' (opset %lld): axes input must be a constant",
                                  n->op_type, EV_LABEL(n), (long long)n->opset);
            if (a->dtype != EV_DT_INT64) return ev_ref_bad_dtype(n, "axes", a->dtype, err);
            if (a->rank > 1) return ev_err_set(err, EV_ERR_SHAPE, "%s node '%s': axes must be 1-D", n->op_type, EV_LABEL(n));
            na = ev_tensor_numel(a);
            if (na > EV_MAX_RANK)
                return ev_err_set(err, EV_ERR_SHAPE, "%s node '%s': %lld axes", n->op_type, EV_LABEL(n), (long long)na);
            for (int64_t i = 0; i < na; i++) buf[i] = ev_tensor_get_int(a, i);
        }
        av = buf;
    }
    for (int d = 0; d < x->rank; d++) mask[d] = na == 0;
    if (na == 0 && p->noop_empty) {
        for (int d = 0; d < x->rank; d++) mask[d] = 0;
        *identity = 1;
        return EV_OK;
    }
    for (int64_t i = 0; i < na; i++) {
        int ax;
        EV_TRY(ev_ref_axis(n, av[i], x->rank, &ax, err));
        if (mask[ax] && na > 0)
            return ev_err_set(err, EV_ERR_FORMAT, "%s node '%s': axis %lld repeated", n->op_type, EV_LABEL(n),
                              (long long)av[i]);
        mask[ax] = 1;
    }
    return EV_OK;
}

static ev_status red_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    const red_params *p = n->params;
    const ev_tensor *x = in[0];
    if (x->dtype != EV_DT_FLOAT) return ev_ref_bad_dtype(n, "input", x->dtype, err);
    int mask[EV_MAX_RANK], identity;
    EV_TRY(red_mask(n, in, mask, &identity, err));
    ev_tensor *o = out[0];
    o->dtype = EV_DT_FLOAT;
    o->rank = 0;
    for (int d = 0; d < x->rank; d++) {
        if (!mask[d]) o->dims[o->rank++] = x->dims[d];
        else if (p->keepdims) o->dims[o->rank++] = 1;
    }
    return EV_OK;
}

static ev_status red_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    const red_params *p = n->params;
    const ev_tensor *x = in[0];
    int mask[EV_MAX_RANK], identity;
    EV_TRY(red_mask(n, in, mask, &identity, ctx->err));
    const float *xs = x->data;
    float *y = out[0]->data;
    int64_t total = ev_tensor_numel(x), ocnt = ev_tensor_numel(out[0]);
    if (identity) {
        memcpy(y, xs, sizeof(float) * (size_t)total);
        return EV_OK;
    }
    /* Coalesced view: dims, reduced flag, output stride (0 if reduced). */
    int nd = 0, red[EV_MAX_RANK];
    int64_t dims[EV_MAX_RANK];
    for (int d = 0; d < x->rank; d++) {
        if (x->dims[d] == 1) continue;
        if (nd > 0 && red[nd - 1] == mask[d]) {
            dims[nd - 1] *= x->dims[d];
        } else {
            dims[nd] = x->dims[d];
            red[nd] = mask[d];
            nd++;
        }
    }
    if (nd == 0) {
        dims[0] = 1;
        red[0] = 0;
        nd = 1;
    }
    int64_t ost[EV_MAX_RANK], s = 1, rcount = 1;
    for (int d = nd - 1; d >= 0; d--) {
        ost[d] = red[d] ? 0 : s;
        if (!red[d]) s *= dims[d];
        else rcount *= dims[d];
    }
    if (total == 0) {
        /* Reducing an empty set: sum 0, mean NaN, max -inf. */
        for (int64_t i = 0; i < ocnt; i++) y[i] = p->kind == R_SUM ? 0.0f : p->kind == R_MEAN ? NAN : -INFINITY;
        return EV_OK;
    }
    double *acc = NULL;
    if (p->kind != R_MAX) {
        size_t sz;
        if (!ev_mul_sz((size_t)ocnt, sizeof(double), &sz) || !(acc = ev_calloc_aligned(sz)))
            return ev_err_set(ctx->err, EV_ERR_NOMEM, "%s node '%s': out of memory", n->op_type, EV_LABEL(n));
    } else {
        for (int64_t i = 0; i < ocnt; i++) y[i] = -INFINITY;
    }
    int64_t L = dims[nd - 1], rows = total / L;
    int64_t idx[EV_MAX_RANK] = {0}, ooff = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = xs + r * L;
        if (red[nd - 1]) {
            if (acc) {
                double sm = 0.0;
                for (int64_t i = 0; i < L; i++) sm += xr[i];
                acc[ooff] += sm;
            } else {
                float m = y[ooff];
                for (int64_t i = 0; i < L; i++)
                    if (xr[i] > m || xr[i] != xr[i]) m = xr[i];
                y[ooff] = m;
            }
        } else {
            if (acc) {
                double *ar = acc + ooff;
                for (int64_t i = 0; i < L; i++) ar[i] += xr[i];
            } else {
                float *yr = y + ooff;
                for (int64_t i = 0; i < L; i++)
                    if (xr[i] > yr[i] || xr[i] != xr[i]) yr[i] = xr[i];
            }
        }
        /* advance the row counter over dims [0, nd-1) */
        for (int d = nd - 2; d >= 0; d--) {
            ooff += ost[d];
            if (++idx[d] < dims[d]) break;
            ooff -= ost[d] * dims[d];
            idx[d] = 0;
        }
    }
    if (acc) {
        double div = p->kind == R_MEAN ? (double)rcount : 1.0;
        for (int64_t i = 0; i < ocnt; i++) y[i] = (float)(acc[i] / div);
        ev_free_aligned(acc);
    }
    return EV_OK;
}

#define RED_OP(name, kind, axes_input, op, lo, hi)                                                 \
    static ev_status name##_prepare(ev_graph *g, ev_node *n, ev_err *err)                          \
    {                                                                                              \
        return red_prepare_kind(g, n, kind, axes_input, err);                                      \
    }                                                                                              \
    const ev_op_def ev_ref_op_##name = {op, lo, hi, 0, name##_prepare, red_infer, red_run, NULL};

RED_OP(reducemean1, R_MEAN, 0, "ReduceMean", 1, 17)
RED_OP(reducemean18, R_MEAN, 1, "ReduceMean", 18, 18)
RED_OP(reducesum1, R_SUM, 0, "ReduceSum", 1, 12)
RED_OP(reducesum13, R_SUM, 1, "ReduceSum", 13, 18)
RED_OP(reducemax1, R_MAX, 0, "ReduceMax", 1, 17)
RED_OP(reducemax18, R_MAX, 1, "ReduceMax", 18, 18)

/* ======================================================================== */
/* ArgMax                                                                    */

typedef struct argmax_params {
    int64_t axis;
    int keepdims, last;
} argmax_params;

static ev_status argmax_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    EV_TRY(ev_ref_arity(n, 1, 1, 1, err));
    argmax_params *p = ev_ref_params(g, n, sizeof *p, err);
    if (!p) return EV_ERR_NOMEM;
    p->axis = ev_attr_int(n, "axis", 0);
    p->keepdims = ev_attr_int(n, "keepdims", 1) != 0;
    p->last = ev_attr_int(n, "select_last_index", 0) != 0;
    n->params = p;
    return EV_OK;
}

static ev_status argmax_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    const argmax_params *p = n->params;
    const ev_tensor *x = in[0];
    if (x->dtype != EV_DT_FLOAT && x->dtype != EV_DT_INT64 && x->dtype != EV_DT_INT32)
        return ev_ref_bad_dtype(n, "input", x->dtype, err);
    int axis;
    EV_TRY(ev_ref_axis(n, p->axis, x->rank, &axis, err));
    if (x->dims[axis] == 0)
        return ev_err_set(err, EV_ERR_SHAPE, "ArgMax node '%s': empty reduction axis", EV_LABEL(n));
    ev_tensor *o = out[0];
    o->dtype = EV_DT_INT64;
    o->rank = 0;
    for (int d = 0; d < x->rank; d++) {
        if (d != axis) o->dims[o->rank++] = x->dims[d];
        else if (p->keepdims) o->dims[o->rank++] = 1;
    }
    return EV_OK;
}

#define ARGMAX_LOOP(T)                                                                             \
    do {                                                                                           \
        const T *xs = x->data;                                                                     \
        for (int64_t o = 0; o < outer; o++)                                                        \
            for (int64_t j = 0; j < inner; j++) {                                                  \
                const T *v = xs + o * len * inner + j;                                             \
                T best = v[0];                                                                     \
                int64_t bi = 0;                                                                    \
                for (int64_t i = 1; i < len; i++) {                                                \
                    T c = v[i * inner];                                                            \
                    /* NaN wins over numbers (numpy); the first or last tie. */                   \
                    int nan_c = c != c, nan_b = best != best;                                      \
                    int take = nan_b ? (p->last && nan_c) : (nan_c || c > best || (p->last && c == best)); \
                    if (take) {                                                                    \
                        best = c;                                                                  \
                        bi = i;                                                                    \
                    }                                                                              \
                }                                                                                  \
                y[o * inner + j] = bi;                                                             \
            }                                                                                      \
    } while (0)

static ev_status argmax_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    const argmax_params *p = n->params;
    const ev_tensor *x = in[0];
    int axis;
    EV_TRY(ev_ref_axis(n, p->axis, x->rank, &axis, ctx->err));
    int64_t outer = 1, len = x->dims[axis], inner = 1;
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
    int64_t *y = out[0]->data;
    if (len == 0) return ev_err_set(ctx->err, EV_ERR_SHAPE, "ArgMax node '%s': empty reduction axis", EV_LABEL(n));
    if (x->dtype == EV_DT_FLOAT) ARGMAX_LOOP(float);
    else if (x->dtype == EV_DT_INT64) ARGMAX_LOOP(int64_t);
    else ARGMAX_LOOP(int32_t);
    return EV_OK;
}

const ev_op_def ev_ref_op_argmax = {"ArgMax", 1, 18, 0, argmax_prepare, argmax_infer, argmax_run, NULL};
