/*
 * lib/kernels/ref_norm.c — reference normalisations: BatchNormalization
 * (inference), InstanceNormalization, LayerNormalization, Softmax,
 * LogSoftmax.
 *
 * Sums and variances accumulate in double, so the reference is at least as
 * accurate as any fast path it is compared with.
 */
#include "kernels/ref_nn.h"

#include <math.h>

/* ======================================================================== */
/* BatchNormalization (inference)                                            */

typedef struct bn_params {
    float epsilon;
    int spatial;                   /* opsets 7-8: 0 = per-activation params  */
} bn_params;

static ev_status bn_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    int max_out = n->opset >= 14 ? 3 : 5;
    EV_TRY(ev_ref_arity(n, 5, 5, max_out, err));
    if (n->opset >= 14 && ev_attr_int(n, "training_mode", 0) != 0)
        return ev_err_set(err, EV_ERR_UNSUPPORTED,
                          "BatchNormalization node '%s' (opset %lld): training_mode=1 is not supported (inference only)",
                          EV_LABEL(n), (long long)n->opset);
    /* The running/saved statistics outputs only exist in training; tolerate
     * them when nothing reads them (old exporters declared them). */
    for (int i = 1; i < n->n_out; i++) {
        int v = n->out[i];
        if (v >= 0 && v < g->n_values && (g->values[v].n_consumers > 0 || g->values[v].is_output))
            return ev_err_set(err, EV_ERR_UNSUPPORTED,
                              "BatchNormalization node '%s' (opset %lld): output %d (training statistics) is used; only inference is supported",
                              EV_LABEL(n), (long long)n->opset, i);
    }
    bn_params *p = ev_ref_params(g, n, sizeof *p, err);
    if (!p) return EV_ERR_NOMEM;
    p->epsilon = ev_attr_float(n, "epsilon", 1e-5f);
    p->spatial = n->opset < 9 ? ev_attr_int(n, "spatial", 1) != 0 : 1;
    n->params = p;
    return EV_OK;
}

static ev_status bn_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    const bn_params *p = n->params;
    static const char *const names[5] = {"input X", "scale", "B", "mean", "var"};
    for (int i = 0; i < 5; i++)
        if (in[i]->dtype != EV_DT_FLOAT) return ev_ref_bad_dtype(n, names[i], in[i]->dtype, err);
    const ev_tensor *x = in[0];
    if (x->rank < 2)
        return ev_err_set(err, EV_ERR_SHAPE, "BatchNormalization node '%s': input rank %d < 2", EV_LABEL(n), x->rank);
    int64_t C = x->dims[1], S = 1;
    for (int d = 2; d < x->rank; d++) S *= x->dims[d];
    for (int i = 1; i < 5; i++) {
        int64_t cnt = ev_tensor_numel(in[i]);
        if (cnt != C && !(p->spatial == 0 && cnt == C * S))
            return ev_err_set(err, EV_ERR_SHAPE, "BatchNormalization node '%s': %s has %lld elements, expected %lld",
                              EV_LABEL(n), names[i], (long long)cnt, (long long)C);
    }
    ev_ref_same_shape(out[0], x, EV_DT_FLOAT);
    for (int i = 1; i < n->n_out; i++)
        if (out[i]) ev_ref_same_shape(out[i], in[i % 2 ? 3 : 4], EV_DT_FLOAT);
    return EV_OK;
}

static ev_status bn_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    const bn_params *p = n->params;
    const ev_tensor *x = in[0];
    const float *xs = x->data, *sc = in[1]->data, *bb = in[2]->data, *mu = in[3]->data, *va = in[4]->data;
    float *y = out[0]->data;
    int64_t N = x->dims[0], C = x->dims[1], S = 1;
    for (int d = 2; d < x->rank; d++) S *= x->dims[d];
    int per_elem = ev_tensor_numel(in[1]) != C; /* spatial=0 parameters */
    int threads = ev_ref_threads(ctx);
    int64_t planes = N * C;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && planes * S > 65536)
    for (int64_t pl = 0; pl < planes; pl++) {
        int64_t c = pl % C;
        const float *xp = xs + pl * S;
        float *yp = y + pl * S;
        if (!per_elem) {
            float a = sc[c] / sqrtf(va[c] + p->epsilon), b = bb[c] - mu[c] * a;
            for (int64_t i = 0; i < S; i++) yp[i] = xp[i] * a + b;
        } else {
            for (int64_t i = 0; i < S; i++) {
                int64_t j = c * S + i;
                float a = sc[j] / sqrtf(va[j] + p->epsilon);
                yp[i] = (xp[i] - mu[j]) * a + bb[j];
            }
        }
    }
    /* Unused training outputs (tolerated in prepare): the running stats. */
    for (int i = 1; i < n->n_out; i++) {
        ev_tensor *o = ev_ref_out(n, out, i);
        if (!o) continue;
        const ev_tensor *src = in[i % 2 ? 3 : 4];
        const float *s = src->data;
        float *d = o->data;
        int64_t cnt = ev_tensor_numel(src);
        for (int64_t k = 0; k < cnt; k++) d[k] = s[k];
    }
    return EV_OK;
}

/* spatial attribute (7-8), plain inference (9-13), training_mode (14-15). */
const ev_op_def ev_ref_op_batchnorm7 = {"BatchNormalization", 7, 8, 0, bn_prepare, bn_infer, bn_run, NULL};
const ev_op_def ev_ref_op_batchnorm9 = {"BatchNormalization", 9, 13, 0, bn_prepare, bn_infer, bn_run, NULL};
const ev_op_def ev_ref_op_batchnorm14 = {"BatchNormalization", 14, 18, 0, bn_prepare, bn_infer, bn_run, NULL};

/* ======================================================================== */
/* InstanceNormalization                                                     */

static ev_status in_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    EV_TRY(ev_ref_arity(n, 3, 3, 1, err));
    float *eps = ev_ref_params(g, n, sizeof *eps, err);
    if (!eps) return EV_ERR_NOMEM;
    *eps = ev_attr_float(n, "epsilon", 1e-5f);
    n->params = eps;
    return EV_OK;
}

static ev_status in_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    static const char *const names[3] = {"input", "scale", "B"};
    for (int i = 0; i < 3; i++)
        if (in[i]->dtype != EV_DT_FLOAT) return ev_ref_bad_dtype(n, names[i], in[i]->dtype, err);
    const ev_tensor *x = in[0];
    if (x->rank < 3)
        return ev_err_set(err, EV_ERR_SHAPE, "InstanceNormalization node '%s': input rank %d < 3", EV_LABEL(n), x->rank);
    for (int i = 1; i < 3; i++)
        if (in[i]->rank != 1 || in[i]->dims[0] != x->dims[1])
            return ev_err_set(err, EV_ERR_SHAPE, "InstanceNormalization node '%s': %s must have shape [%lld]",
                              EV_LABEL(n), names[i], (long long)x->dims[1]);
    ev_ref_same_shape(out[0], x, EV_DT_FLOAT);
    return EV_OK;
}

static ev_status in_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    const float eps = *(const float *)n->params;
    const ev_tensor *x = in[0];
    const float *xs = x->data, *sc = in[1]->data, *bb = in[2]->data;
    float *y = out[0]->data;
    int64_t C = x->dims[1], S = 1, planes = x->dims[0] * C;
    for (int d = 2; d < x->rank; d++) S *= x->dims[d];
    int threads = ev_ref_threads(ctx);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && planes * S > 65536)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = xs + pl * S;
        float *yp = y + pl * S;
        double sum = 0.0, var = 0.0;
        for (int64_t i = 0; i < S; i++) sum += xp[i];
        double mean = S ? sum / (double)S : 0.0;
        for (int64_t i = 0; i < S; i++) var += (xp[i] - mean) * (xp[i] - mean);
        var = S ? var / (double)S : 0.0;
        float a = (float)(sc[pl % C] / sqrt(var + (double)eps)), m = (float)mean, b = bb[pl % C];
        for (int64_t i = 0; i < S; i++) yp[i] = (xp[i] - m) * a + b;
    }
    return EV_OK;
}

const ev_op_def ev_ref_op_instancenorm = {"InstanceNormalization", 6, 18, 0, in_prepare, in_infer, in_run, NULL};

/* ======================================================================== */
/* LayerNormalization (opset 17)                                             */

typedef struct ln_params {
    int64_t axis;
    float epsilon;
} ln_params;

static ev_status ln_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    EV_TRY(ev_ref_arity(n, 2, 3, 3, err));
    int64_t stash = ev_attr_int(n, "stash_type", 1);
    if (stash != EV_DT_FLOAT)
        return ev_err_set(err, EV_ERR_UNSUPPORTED, "LayerNormalization node '%s' (opset %lld): stash_type %lld is not supported",
                          EV_LABEL(n), (long long)n->opset, (long long)stash);
    ln_params *p = ev_ref_params(g, n, sizeof *p, err);
    if (!p) return EV_ERR_NOMEM;
    p->axis = ev_attr_int(n, "axis", -1);
    p->epsilon = ev_attr_float(n, "epsilon", 1e-5f);
    n->params = p;
    return EV_OK;
}

/* Is t unidirectionally broadcastable to x.dims[axis:]? */
static int bcast_to_tail(const ev_tensor *t, const ev_tensor *x, int axis)
{
    int tail = x->rank - axis;
    if (t->rank > tail) return 0;
    for (int d = 0; d < t->rank; d++) {
        int64_t td = t->dims[d], xd = x->dims[x->rank - t->rank + d];
        if (td != xd && td != 1) return 0;
    }
    return 1;
}

static ev_status ln_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    const ln_params *p = n->params;
    const ev_tensor *x = in[0], *s = in[1], *b = ev_ref_in(n, in, 2);
    if (x->dtype != EV_DT_FLOAT) return ev_ref_bad_dtype(n, "input X", x->dtype, err);
    if (s->dtype != EV_DT_FLOAT) return ev_ref_bad_dtype(n, "Scale", s->dtype, err);
    if (b && b->dtype != EV_DT_FLOAT) return ev_ref_bad_dtype(n, "B", b->dtype, err);
    int axis;
    EV_TRY(ev_ref_axis(n, p->axis, x->rank, &axis, err));
    if (!bcast_to_tail(s, x, axis) || (b && !bcast_to_tail(b, x, axis)))
        return ev_err_set(err, EV_ERR_SHAPE, "LayerNormalization node '%s': Scale/B do not broadcast to the normalised dims",
                          EV_LABEL(n));
    ev_ref_same_shape(out[0], x, EV_DT_FLOAT);
    for (int i = 1; i < 3; i++) {
        ev_tensor *o = ev_ref_out(n, out, i);
        if (!o) continue;
        ev_ref_same_shape(o, x, EV_DT_FLOAT);
        for (int d = axis; d < x->rank; d++) o->dims[d] = 1;
    }
    return EV_OK;
}

/* Expand t (broadcastable to the tail dims of x from axis) into buf. */
static void expand_tail(const ev_tensor *t, const ev_tensor *x, int axis, float *buf)
{
    ev_tensor tail = {.dtype = EV_DT_FLOAT, .rank = x->rank - axis};
    for (int d = 0; d < tail.rank; d++) tail.dims[d] = x->dims[axis + d];
    int64_t st[EV_MAX_RANK], cnt = ev_tensor_numel(&tail);
    ev_broadcast_strides(t, &tail, st);
    const float *src = t->data;
    for (int64_t i = 0; i < cnt; i++) {
        int64_t rem = i, off = 0;
        for (int d = tail.rank - 1; d >= 0; d--) {
            off += (rem % tail.dims[d]) * st[d];
            rem /= tail.dims[d];
        }
        buf[i] = src[off];
    }
}

static ev_status ln_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    const ln_params *p = n->params;
    const ev_tensor *x = in[0], *s = in[1], *b = ev_ref_in(n, in, 2);
    int axis;
    EV_TRY(ev_ref_axis(n, p->axis, x->rank, &axis, ctx->err));
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    for (int d = axis; d < x->rank; d++) inner *= x->dims[d];
    const float *sc = s->data, *bi = b ? b->data : NULL;
    float *tmp = NULL;
    int exp_s = ev_tensor_numel(s) != inner, exp_b = b && ev_tensor_numel(b) != inner;
    if (exp_s || exp_b) {
        size_t sz;
        if (!ev_mul_sz((size_t)inner, 2 * sizeof(float), &sz) || !(tmp = ev_malloc_aligned(sz)))
            return ev_err_set(ctx->err, EV_ERR_NOMEM, "LayerNormalization node '%s': out of memory", EV_LABEL(n));
        if (exp_s) {
            expand_tail(s, x, axis, tmp);
            sc = tmp;
        }
        if (exp_b) {
            expand_tail(b, x, axis, tmp + inner);
            bi = tmp + inner;
        }
    }
    const float *xs = x->data;
    float *y = out[0]->data;
    ev_tensor *om = ev_ref_out(n, out, 1), *oi = ev_ref_out(n, out, 2);
    float *mean_out = om ? om->data : NULL, *inv_out = oi ? oi->data : NULL;
    int threads = ev_ref_threads(ctx);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && outer > 1 && outer * inner > 65536)
    for (int64_t r = 0; r < outer; r++) {
        const float *xr = xs + r * inner;
        float *yr = y + r * inner;
        double sum = 0.0;
        for (int64_t i = 0; i < inner; i++) sum += xr[i];
        double mean = inner ? sum / (double)inner : 0.0, var = 0.0;
        for (int64_t i = 0; i < inner; i++) {
            double dlt = xr[i] - mean;
            var += dlt * dlt;
        }
        var = inner ? var / (double)inner : 0.0;
        float inv = (float)(1.0 / sqrt(var + (double)p->epsilon)), m = (float)mean;
        if (bi)
            for (int64_t i = 0; i < inner; i++) yr[i] = (xr[i] - m) * inv * sc[i] + bi[i];
        else
            for (int64_t i = 0; i < inner; i++) yr[i] = (xr[i] - m) * inv * sc[i];
        if (mean_out) mean_out[r] = m;
        if (inv_out) inv_out[r] = inv;
    }
    ev_free_aligned(tmp);
    return EV_OK;
}

const ev_op_def ev_ref_op_layernorm = {"LayerNormalization", 17, 18, 0, ln_prepare, ln_infer, ln_run, NULL};

/* ======================================================================== */
/* Softmax / LogSoftmax                                                      */

typedef struct sm_params {
    int64_t axis;
    int want_log;
    int coerce_2d;                 /* opset < 13: flatten to [pre, post] at axis */
} sm_params;

static ev_status sm_prepare_kind(ev_graph *g, ev_node *n, int want_log, ev_err *err)
{
    EV_TRY(ev_ref_arity(n, 1, 1, 1, err));
    sm_params *p = ev_ref_params(g, n, sizeof *p, err);
    if (!p) return EV_ERR_NOMEM;
    p->want_log = want_log;
    p->coerce_2d = n->opset < 13;
    p->axis = ev_attr_int(n, "axis", p->coerce_2d ? 1 : -1);
    n->params = p;
    return EV_OK;
}

static ev_status sm_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    const sm_params *p = n->params;
    const ev_tensor *x = in[0];
    if (x->dtype != EV_DT_FLOAT) return ev_ref_bad_dtype(n, "input", x->dtype, err);
    int axis;
    EV_TRY(ev_ref_axis(n, p->axis, x->rank, &axis, err));
    ev_ref_same_shape(out[0], x, EV_DT_FLOAT);
    return EV_OK;
}

/* Softmax over n elements at stride `st`. */
static void sm_vec(const float *x, float *y, int64_t n, int64_t st, int want_log)
{
    if (n <= 0) return;
    float mx = x[0];
    for (int64_t i = 1; i < n; i++)
        if (x[i * st] > mx) mx = x[i * st];
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += exp((double)(x[i * st] - mx));
    if (want_log) {
        float ls = (float)log(sum);
        for (int64_t i = 0; i < n; i++) y[i * st] = x[i * st] - mx - ls;
    } else {
        float inv = (float)(1.0 / sum);
        for (int64_t i = 0; i < n; i++) y[i * st] = expf(x[i * st] - mx) * inv;
    }
}

static ev_status sm_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    const sm_params *p = n->params;
    const ev_tensor *x = in[0];
    int axis;
    EV_TRY(ev_ref_axis(n, p->axis, x->rank, &axis, ctx->err));
    int64_t outer = 1, len = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    if (p->coerce_2d) {
        for (int d = axis; d < x->rank; d++) len *= x->dims[d];
    } else {
        len = x->dims[axis];
        for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
    }
    const float *xs = x->data;
    float *y = out[0]->data;
    int64_t vecs = outer * inner;
    int threads = ev_ref_threads(ctx);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && vecs > 1 && vecs * len > 65536)
    for (int64_t v = 0; v < vecs; v++) {
        int64_t o = v / inner, j = v % inner;
        int64_t base = o * len * inner + j;
        sm_vec(xs + base, y + base, len, inner, p->want_log);
    }
    return EV_OK;
}

static ev_status softmax_prepare(ev_graph *g, ev_node *n, ev_err *err) { return sm_prepare_kind(g, n, 0, err); }
static ev_status logsoftmax_prepare(ev_graph *g, ev_node *n, ev_err *err) { return sm_prepare_kind(g, n, 1, err); }

/* Before 13 the input is coerced to 2-D at `axis` (default 1); from 13 the
 * op works along `axis` (default -1). */
const ev_op_def ev_ref_op_softmax1 = {"Softmax", 1, 12, 0, softmax_prepare, sm_infer, sm_run, NULL};
const ev_op_def ev_ref_op_softmax13 = {"Softmax", 13, 18, 0, softmax_prepare, sm_infer, sm_run, NULL};
const ev_op_def ev_ref_op_logsoftmax1 = {"LogSoftmax", 1, 12, 0, logsoftmax_prepare, sm_infer, sm_run, NULL};
const ev_op_def ev_ref_op_logsoftmax13 = {"LogSoftmax", 13, 18, 0, logsoftmax_prepare, sm_infer, sm_run, NULL};
