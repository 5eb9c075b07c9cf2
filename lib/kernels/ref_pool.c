/*
 * lib/kernels/ref_pool.c — reference pooling: GlobalAveragePool,
 * GlobalMaxPool, AveragePool (count_include_pad, ceil_mode, pads, auto_pad)
 * and MaxPool (ceil_mode, dilations, pads, auto_pad; output 0 only).
 *
 * 1-D to 3-D windows on a 3-D spatial view, one (image, channel) plane per
 * OpenMP iteration. Padding never contributes to a maximum; for averages
 * count_include_pad=1 counts the padding cells that lie inside the padded
 * extent [-pad_begin, in + pad_end) (cells beyond it, reachable only with
 * ceil_mode, are not counted: PyTorch and ONNX Runtime agree on this).
 */
#include "kernels/ref_nn.h"

#include <math.h>

enum { P_AVG, P_MAX, P_GAVG, P_GMAX };

typedef struct pool_params {
    int kind, auto_pad, ceil_mode, count_include_pad;
    int nk, ns, nd, np;
    int64_t kernel[3], strides[3], dilations[3], pads[6];
} pool_params;

typedef struct pool_geom {
    int sr;
    int64_t planes;                /* N * C                                  */
    int64_t in[3], k[3], out[3], s[3], d[3], pb[3], pe[3];
    int64_t P, Pin;
} pool_geom;

static ev_status pool_prepare_kind(ev_graph *g, ev_node *n, int kind, ev_err *err)
{
    /* MaxPool may declare the Indices output; we only produce output 0. */
    EV_TRY(ev_ref_arity(n, 1, 1, kind == P_MAX ? 2 : 1, err));
    if (kind == P_MAX && ev_ref_has_out(n, 1))
        return ev_err_set(err, EV_ERR_UNSUPPORTED, "MaxPool node '%s' (opset %lld): the Indices output is not supported",
                          EV_LABEL(n), (long long)n->opset);
    pool_params *p = ev_ref_params(g, n, sizeof *p, err);
    if (!p) return EV_ERR_NOMEM;
    p->kind = kind;
    if (kind == P_AVG || kind == P_MAX) {
        EV_TRY(ev_ref_auto_pad(n, &p->auto_pad, err));
        EV_TRY(ev_ref_attr_ints(n, "kernel_shape", 1, 3, p->kernel, &p->nk, err));
        if (p->nk == 0)
            return ev_err_set(err, EV_ERR_FORMAT, "%s node '%s': kernel_shape is required", n->op_type, EV_LABEL(n));
        EV_TRY(ev_ref_attr_ints(n, "strides", 1, 3, p->strides, &p->ns, err));
        EV_TRY(ev_ref_attr_ints(n, "dilations", 1, 3, p->dilations, &p->nd, err));
        EV_TRY(ev_ref_attr_ints(n, "pads", 0, 6, p->pads, &p->np, err));
        p->ceil_mode = ev_attr_int(n, "ceil_mode", 0) != 0;
        p->count_include_pad = ev_attr_int(n, "count_include_pad", 0) != 0;
        if ((p->ns && p->ns != p->nk) || (p->nd && p->nd != p->nk) || (p->np && p->np != 2 * p->nk))
            return ev_err_set(err, EV_ERR_FORMAT, "%s node '%s': strides/dilations/pads lengths do not match kernel_shape",
                              n->op_type, EV_LABEL(n));
    }
    n->params = p;
    return EV_OK;
}

static ev_status pool_geometry(const ev_node *n, const ev_tensor *x, pool_geom *gm, ev_err *err)
{
    const pool_params *p = n->params;
    int global = p->kind == P_GAVG || p->kind == P_GMAX;
    if (x->rank < (global ? 2 : 3) || x->rank > 5)
        return ev_err_set(err, EV_ERR_UNSUPPORTED, "%s node '%s': input rank %d (only 1-D to 3-D pooling)",
                          n->op_type, EV_LABEL(n), x->rank);
    int sr = x->rank - 2;
    if (!global && p->nk != sr)
        return ev_err_set(err, EV_ERR_SHAPE, "%s node '%s': kernel_shape has %d dims, input has %d spatial dims",
                          n->op_type, EV_LABEL(n), p->nk, sr);
    gm->sr = sr;
    gm->planes = x->dims[0] * x->dims[1];
    gm->P = gm->Pin = 1;
    int off = 3 - sr;
    for (int i = 0; i < 3; i++) {
        int a = i - off;
        gm->in[i] = gm->k[i] = gm->out[i] = gm->s[i] = gm->d[i] = 1;
        gm->pb[i] = gm->pe[i] = 0;
        if (a < 0) continue;
        int64_t in = x->dims[2 + a];
        gm->in[i] = in;
        if (global) {
            gm->k[i] = in;
        } else {
            int64_t k = p->kernel[a], s = p->ns ? p->strides[a] : 1, d = p->nd ? p->dilations[a] : 1;
            int64_t pb = p->np ? p->pads[a] : 0, pe = p->np ? p->pads[a + sr] : 0;
            int64_t out = ev_ref_window_out(p->auto_pad, p->ceil_mode, in, k, s, d, &pb, &pe);
            if (out < 1)
                return ev_err_set(err, EV_ERR_SHAPE, "%s node '%s': kernel %lld larger than padded input %lld",
                                  n->op_type, EV_LABEL(n), (long long)k, (long long)(in + pb + pe));
            gm->k[i] = k;
            gm->s[i] = s;
            gm->d[i] = d;
            gm->pb[i] = pb;
            gm->pe[i] = pe;
            gm->out[i] = out;
        }
        gm->P *= gm->out[i];
        gm->Pin *= in;
    }
    return EV_OK;
}

static ev_status pool_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    const ev_tensor *x = in[0];
    if (x->dtype != EV_DT_FLOAT) return ev_ref_bad_dtype(n, "input", x->dtype, err);
    pool_geom gm;
    EV_TRY(pool_geometry(n, x, &gm, err));
    ev_tensor *o = out[0];
    o->dtype = EV_DT_FLOAT;
    o->rank = x->rank;
    o->dims[0] = x->dims[0];
    o->dims[1] = x->dims[1];
    for (int a = 0; a < gm.sr; a++) o->dims[2 + a] = gm.out[3 - gm.sr + a];
    return EV_OK;
}

/* Window taps [lo, hi) of output position o inside the input, and the
 * number of taps inside the padded extent. */
static void taps(const pool_geom *gm, int i, int64_t o, int64_t *lo, int64_t *hi, int64_t *padded)
{
    int64_t start = o * gm->s[i] - gm->pb[i], d = gm->d[i], k = gm->k[i];
    int64_t l = start >= 0 ? 0 : (-start + d - 1) / d;
    int64_t h = start > gm->in[i] - 1 ? 0 : (gm->in[i] - 1 - start) / d + 1;
    if (h > k) h = k;
    if (l > h) l = h;
    int64_t pl = gm->in[i] + gm->pe[i] - 1 - start; /* last padded cell offset */
    int64_t ph = pl < 0 ? 0 : pl / d + 1;
    if (ph > k) ph = k;
    *lo = l;
    *hi = h;
    *padded = ph;
}

static void pool_plane(const pool_params *p, const pool_geom *gm, const float *x, float *y)
{
    int avg = p->kind == P_AVG || p->kind == P_GAVG;
    for (int64_t od = 0; od < gm->out[0]; od++) {
        int64_t l0, h0, c0;
        taps(gm, 0, od, &l0, &h0, &c0);
        for (int64_t oh = 0; oh < gm->out[1]; oh++) {
            int64_t l1, h1, c1;
            taps(gm, 1, oh, &l1, &h1, &c1);
            for (int64_t ow = 0; ow < gm->out[2]; ow++) {
                int64_t l2, h2, c2;
                taps(gm, 2, ow, &l2, &h2, &c2);
                int64_t id0 = od * gm->s[0] - gm->pb[0], ih0 = oh * gm->s[1] - gm->pb[1];
                int64_t iw0 = ow * gm->s[2] - gm->pb[2];
                double sum = 0.0;
                float mx = -INFINITY;
                for (int64_t a = l0; a < h0; a++) {
                    int64_t id = id0 + a * gm->d[0];
                    for (int64_t b = l1; b < h1; b++) {
                        int64_t ih = ih0 + b * gm->d[1];
                        const float *row = x + (id * gm->in[1] + ih) * gm->in[2];
                        for (int64_t c = l2; c < h2; c++) {
                            float v = row[iw0 + c * gm->d[2]];
                            sum += v;
                            if (v > mx || v != v) mx = v;
                        }
                    }
                }
                float r;
                if (avg) {
                    int64_t cnt = p->count_include_pad ? c0 * c1 * c2 : (h0 - l0) * (h1 - l1) * (h2 - l2);
                    r = cnt > 0 ? (float)(sum / (double)cnt) : 0.0f;
                } else {
                    r = mx;
                }
                y[(od * gm->out[1] + oh) * gm->out[2] + ow] = r;
            }
        }
    }
}

static ev_status pool_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    const pool_params *p = n->params;
    pool_geom gm;
    EV_TRY(pool_geometry(n, in[0], &gm, ctx->err));
    const float *x = in[0]->data;
    float *y = out[0]->data;
    int threads = ev_ref_threads(ctx);
    int64_t planes = gm.planes;
    if (p->kind == P_GAVG || p->kind == P_GMAX) {
        int64_t L = gm.Pin;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && planes * L > 65536)
        for (int64_t pl = 0; pl < planes; pl++) {
            const float *xp = x + pl * L;
            if (p->kind == P_GAVG) {
                double s = 0.0;
                for (int64_t i = 0; i < L; i++) s += xp[i];
                y[pl] = L > 0 ? (float)(s / (double)L) : NAN;
            } else {
                float m = -INFINITY;
                for (int64_t i = 0; i < L; i++)
                    if (xp[i] > m || xp[i] != xp[i]) m = xp[i];
                y[pl] = m;
            }
        }
        return EV_OK;
    }
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && planes > 1)
    for (int64_t pl = 0; pl < planes; pl++) pool_plane(p, &gm, x + pl * gm.Pin, y + pl * gm.P);
    return EV_OK;
}

#define POOL_OP(name, kind, op, lo, hi)                                                            \
    static ev_status name##_prepare(ev_graph *g, ev_node *n, ev_err *err)                          \
    {                                                                                              \
        return pool_prepare_kind(g, n, kind, err);                                                 \
    }                                                                                              \
    const ev_op_def ev_ref_op_##name = {op, lo, hi, 0, name##_prepare, pool_infer, pool_run, NULL};

/* AveragePool: count_include_pad since 7, ceil_mode since 10, dilations
 * only from 19 (not covered). MaxPool: dilations/ceil_mode since 10 (the
 * attributes are simply absent before). */
POOL_OP(globalavgpool, P_GAVG, "GlobalAveragePool", 1, 18)
POOL_OP(globalmaxpool, P_GMAX, "GlobalMaxPool", 1, 18)
POOL_OP(avgpool, P_AVG, "AveragePool", 7, 18)
POOL_OP(maxpool, P_MAX, "MaxPool", 7, 18)
