/*
 * lib/kernels/ref_reduce.c — reference reductions: ReduceMean, ReduceSum,
 * ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare,
 * ReduceLogSum, ReduceLogSumExp (axes as attribute, or as input from opset
 * 13 for ReduceSum and 18 for the others; keepdims; noop_with_empty_axes),
 * ArgMax and ArgMin.
 *
 * A reduction walks the input once in memory order over a coalesced view
 * (adjacent dims that are both reduced or both kept are merged), summing
 * into a double accumulator per output element.
 */
#include "kernels/ref_nn.h"

#include <math.h>
#include <string.h>

enum { R_MEAN, R_SUM, R_MAX, R_MIN, R_L1, R_L2, R_SUMSQ, R_LOGSUM, R_LOGSUMEXP, R_PROD };

/* Additive reductions: the term each element contributes. */
static inline double red_term(int kind, float v)
{
    switch (kind) {
    case R_L1: return fabs((double)v);
    case R_L2:
    case R_SUMSQ: return (double)v * (double)v;
    case R_LOGSUMEXP: return exp((double)v);
    default: return v;
    }
}

static float red_empty(int kind)
{
    switch (kind) {
    case R_MEAN: return NAN;
    case R_MAX: case R_LOGSUM: case R_LOGSUMEXP: return -INFINITY;
    case R_MIN: return INFINITY;
    case R_PROD: return 1.0f;
    default: return 0.0f;
    }
}

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
        /* Reducing an empty set: sum 0, mean NaN, max -inf, prod 1, ... */
        for (int64_t i = 0; i < ocnt; i++) y[i] = red_empty(p->kind);
        return EV_OK;
    }
    double *acc = NULL;
    /* Min is computed as -max(-x). */
    float sg = p->kind == R_MIN ? -1.0f : 1.0f;
    int plain = p->kind == R_MEAN || p->kind == R_SUM || p->kind == R_LOGSUM; /* no per-element term */
    int prod = p->kind == R_PROD;
    if (p->kind != R_MAX && p->kind != R_MIN) {
        size_t sz;
        if (!ev_mul_sz((size_t)ocnt, sizeof(double), &sz) || !(acc = ev_calloc_aligned(sz)))
            return ev_err_set(ctx->err, EV_ERR_NOMEM, "%s node '%s': out of memory", n->op_type, EV_LABEL(n));
        if (prod)
            for (int64_t i = 0; i < ocnt; i++) acc[i] = 1.0;
    } else {
        for (int64_t i = 0; i < ocnt; i++) y[i] = -INFINITY;
    }
    int64_t L = dims[nd - 1], rows = total / L;
    int64_t idx[EV_MAX_RANK] = {0}, ooff = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = xs + r * L;
        if (red[nd - 1]) {
            if (prod) {
                double pr = 1.0;
                for (int64_t i = 0; i < L; i++) pr *= xr[i];
                acc[ooff] *= pr;
            } else if (acc) {
                double sm = 0.0;
                if (plain)
                    for (int64_t i = 0; i < L; i++) sm += xr[i];
                else
                    for (int64_t i = 0; i < L; i++) sm += red_term(p->kind, xr[i]);
                acc[ooff] += sm;
            } else {
                float m = y[ooff];
                for (int64_t i = 0; i < L; i++) {
                    float v = sg * xr[i];
                    if (v > m || v != v) m = v;
                }
                y[ooff] = m;
            }
        } else {
            if (prod) {
                double *ar = acc + ooff;
                for (int64_t i = 0; i < L; i++) ar[i] *= xr[i];
            } else if (acc) {
                double *ar = acc + ooff;
                if (plain)
                    for (int64_t i = 0; i < L; i++) ar[i] += xr[i];
                else
                    for (int64_t i = 0; i < L; i++) ar[i] += red_term(p->kind, xr[i]);
            } else {
                float *yr = y + ooff;
                for (int64_t i = 0; i < L; i++) {
                    float v = sg * xr[i];
                    if (v > yr[i] || v != v) yr[i] = v;
                }
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
        for (int64_t i = 0; i < ocnt; i++) {
            double v = acc[i];
            switch (p->kind) {
            case R_MEAN: v /= (double)rcount; break;
            case R_L2: v = sqrt(v); break;
            case R_LOGSUM:
            case R_LOGSUMEXP: v = log(v); break;
            default: break;
            }
            y[i] = (float)v;
        }
        ev_free_aligned(acc);
    } else if (p->kind == R_MIN) {
        for (int64_t i = 0; i < ocnt; i++) y[i] = -y[i];
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
RED_OP(reducemin1, R_MIN, 0, "ReduceMin", 1, 17)
RED_OP(reducemin18, R_MIN, 1, "ReduceMin", 18, 18)
RED_OP(reduceprod1, R_PROD, 0, "ReduceProd", 1, 17)
RED_OP(reduceprod18, R_PROD, 1, "ReduceProd", 18, 18)
RED_OP(reducel1_1, R_L1, 0, "ReduceL1", 1, 17)
RED_OP(reducel1_18, R_L1, 1, "ReduceL1", 18, 18)
RED_OP(reducel2_1, R_L2, 0, "ReduceL2", 1, 17)
RED_OP(reducel2_18, R_L2, 1, "ReduceL2", 18, 18)
RED_OP(reducesumsq1, R_SUMSQ, 0, "ReduceSumSquare", 1, 17)
RED_OP(reducesumsq18, R_SUMSQ, 1, "ReduceSumSquare", 18, 18)
RED_OP(reducelogsum1, R_LOGSUM, 0, "ReduceLogSum", 1, 17)
RED_OP(reducelogsum18, R_LOGSUM, 1, "ReduceLogSum", 18, 18)
RED_OP(reducelse1, R_LOGSUMEXP, 0, "ReduceLogSumExp", 1, 17)
RED_OP(reducelse18, R_LOGSUMEXP, 1, "ReduceLogSumExp", 18, 18)

/* ======================================================================== */
/* ArgMax                                                                    */

typedef struct argmax_params {
    int64_t axis;
    int keepdims, last, is_min;
} argmax_params;

static ev_status argmax_prepare_kind(ev_graph *g, ev_node *n, int is_min, ev_err *err)
{
    EV_TRY(ev_ref_arity(n, 1, 1, 1, err));
    argmax_params *p = ev_ref_params(g, n, sizeof *p, err);
    if (!p) return EV_ERR_NOMEM;
    p->axis = ev_attr_int(n, "axis", 0);
    p->keepdims = ev_attr_int(n, "keepdims", 1) != 0;
    p->last = ev_attr_int(n, "select_last_index", 0) != 0;
    p->is_min = is_min;
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
        return ev_err_set(err, EV_ERR_SHAPE, "%s node '%s': empty reduction axis", n->op_type, EV_LABEL(n));
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
                    int better = p->is_min ? c < best : c > best;                                  \
                    int take = nan_b ? (p->last && nan_c) : (nan_c || better || (p->last && c == best)); \
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
    if (len == 0)
        return ev_err_set(ctx->err, EV_ERR_SHAPE, "%s node '%s': empty reduction axis", n->op_type, EV_LABEL(n));
    if (x->dtype == EV_DT_FLOAT) ARGMAX_LOOP(float);
    else if (x->dtype == EV_DT_INT64) ARGMAX_LOOP(int64_t);
    else ARGMAX_LOOP(int32_t);
    return EV_OK;
}

static ev_status argmax_prepare(ev_graph *g, ev_node *n, ev_err *err) { return argmax_prepare_kind(g, n, 0, err); }
static ev_status argmin_prepare(ev_graph *g, ev_node *n, ev_err *err) { return argmax_prepare_kind(g, n, 1, err); }

const ev_op_def ev_ref_op_argmax = {"ArgMax", 1, 18, 0, argmax_prepare, argmax_infer, argmax_run, NULL};
const ev_op_def ev_ref_op_argmin = {"ArgMin", 1, 18, 0, argmin_prepare, argmax_infer, argmax_run, NULL};
