/*
 * lib/kernels/ref_conv.c — reference Conv (1-D, 2-D and 3-D; groups,
 * depthwise, strides, dilations, explicit pads and auto_pad, optional bias).
 *
 * Everything is computed on a 3-D spatial view (1-D/2-D convolutions get
 * leading spatial dims of size 1). Three paths, which differ only in the
 * order of the float additions:
 *   - one input channel per group (depthwise, and single-channel inputs):
 *     direct loops, one output plane at a time;
 *   - 1x1 kernels with stride 1 and no padding: a GEMM on the input as is;
 *   - everything else: im2col on chunks of output positions + GEMM.
 * Work is split over (image, group, position chunk, output-channel block)
 * with OpenMP.
 */
#include "kernels/ref_nn.h"

#include <omp.h>
#include <string.h>

typedef struct conv_params {
    int auto_pad;
    int64_t group;
    int nk, ns, nd, np;            /* counts of the attributes given         */
    int64_t kernel[3], strides[3], dilations[3], pads[6];
} conv_params;

typedef struct conv_geom {
    int sr;                        /* spatial rank 1..3                      */
    int64_t N, C, M, G, Cg, Mg;
    int64_t in[3], k[3], out[3], s[3], d[3], pb[3], pe[3];
    int64_t P, Pin, K;             /* out positions, input plane, Cg*k-volume */
} conv_geom;

static ev_status conv_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    EV_TRY(ev_ref_arity(n, 2, 3, 1, err));
    conv_params *p = ev_ref_params(g, n, sizeof *p, err);
    if (!p) return EV_ERR_NOMEM;
    EV_TRY(ev_ref_auto_pad(n, &p->auto_pad, err));
    p->group = ev_attr_int(n, "group", 1);
    if (p->group < 1 || p->group > EV_REF_ATTR_MAX)
        return ev_err_set(err, EV_ERR_FORMAT, "Conv node '%s': group %lld is out of range", EV_LABEL(n),
                          (long long)p->group);
    EV_TRY(ev_ref_attr_ints(n, "kernel_shape", 1, 3, p->kernel, &p->nk, err));
    EV_TRY(ev_ref_attr_ints(n, "strides", 1, 3, p->strides, &p->ns, err));
    EV_TRY(ev_ref_attr_ints(n, "dilations", 1, 3, p->dilations, &p->nd, err));
    EV_TRY(ev_ref_attr_ints(n, "pads", 0, 6, p->pads, &p->np, err));
    n->params = p;
    return EV_OK;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0))) q--;
    return q;
}

static ev_status conv_geometry(const ev_node *n, const ev_tensor *x, const ev_tensor *w, conv_geom *gm,
                               ev_err *err)
{
    const conv_params *p = n->params;
    if (x->rank < 3 || x->rank > 5)
        return ev_err_set(err, EV_ERR_UNSUPPORTED, "Conv node '%s': input rank %d (only 1-D to 3-D convolutions)",
                          EV_LABEL(n), x->rank);
    int sr = x->rank - 2;
    if (w->rank != x->rank)
        return ev_err_set(err, EV_ERR_SHAPE, "Conv node '%s': weight rank %d differs from input rank %d",
                          EV_LABEL(n), w->rank, x->rank);
    if ((p->nk && p->nk != sr) || (p->ns && p->ns != sr) || (p->nd && p->nd != sr) ||
        (p->np && p->np != 2 * sr))
        return ev_err_set(err, EV_ERR_FORMAT,
                          "Conv node '%s': kernel_shape/strides/dilations/pads lengths do not match %d spatial dims",
                          EV_LABEL(n), sr);
    gm->sr = sr;
    gm->N = x->dims[0];
    gm->C = x->dims[1];
    gm->M = w->dims[0];
    gm->G = p->group;
    if (gm->C % gm->G || gm->M % gm->G || w->dims[1] * gm->G != gm->C)
        return ev_err_set(err, EV_ERR_SHAPE,
                          "Conv node '%s': channels do not match groups (input C=%lld, weight %lldx%lld, group=%lld)",
                          EV_LABEL(n), (long long)gm->C, (long long)gm->M, (long long)w->dims[1],
                          (long long)gm->G);
    gm->Cg = gm->C / gm->G;
    gm->Mg = gm->M / gm->G;
    int off = 3 - sr;
    gm->P = 1;
    gm->Pin = 1;
    gm->K = gm->Cg;
    for (int i = 0; i < 3; i++) {
        int a = i - off; /* attribute index, < 0 for padded dims */
        if (a < 0) {
            gm->in[i] = gm->k[i] = gm->out[i] = gm->s[i] = gm->d[i] = 1;
            gm->pb[i] = gm->pe[i] = 0;
            continue;
        }
        int64_t in = x->dims[2 + a], k = w->dims[2 + a];
        if (k < 1 || k > EV_REF_ATTR_MAX || in > ((int64_t)1 << 40))
            return ev_err_set(err, EV_ERR_SHAPE, "Conv node '%s': bad kernel or input size", EV_LABEL(n));
        if (p->nk && p->kernel[a] != k)
            return ev_err_set(err, EV_ERR_SHAPE, "Conv node '%s': kernel_shape %lld differs from weight dim %lld",
                              EV_LABEL(n), (long long)p->kernel[a], (long long)k);
        int64_t s = p->ns ? p->strides[a] : 1, d = p->nd ? p->dilations[a] : 1;
        int64_t pb = p->np ? p->pads[a] : 0, pe = p->np ? p->pads[a + sr] : 0;
        int64_t out = ev_ref_window_out(p->auto_pad, 0, in, k, s, d, &pb, &pe);
        if (out < 1)
            return ev_err_set(err, EV_ERR_SHAPE,
                              "Conv node '%s': kernel %lld (dilation %lld) larger than padded input %lld",
                              EV_LABEL(n), (long long)k, (long long)d, (long long)(in + pb + pe));
        gm->in[i] = in;
        gm->k[i] = k;
        gm->out[i] = out;
        gm->s[i] = s;
        gm->d[i] = d;
        gm->pb[i] = pb;
        gm->pe[i] = pe;
        gm->P *= out;
        gm->Pin *= in;
        gm->K *= k;
    }
    return EV_OK;
}

static ev_status conv_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out,
                            ev_err *err)
{
    const ev_tensor *x = in[0], *w = in[1], *b = ev_ref_in(n, in, 2);
    if (x->dtype != EV_DT_FLOAT) return ev_ref_bad_dtype(n, "input X", x->dtype, err);
    if (w->dtype != EV_DT_FLOAT) return ev_ref_bad_dtype(n, "input W", w->dtype, err);
    if (b && b->dtype != EV_DT_FLOAT) return ev_ref_bad_dtype(n, "input B", b->dtype, err);
    conv_geom gm;
    EV_TRY(conv_geometry(n, x, w, &gm, err));
    if (b && (b->rank != 1 || b->dims[0] != gm.M))
        return ev_err_set(err, EV_ERR_SHAPE, "Conv node '%s': bias must have shape [%lld]", EV_LABEL(n),
                          (long long)gm.M);
    ev_tensor *o = out[0];
    o->dtype = EV_DT_FLOAT;
    o->rank = x->rank;
    o->dims[0] = gm.N;
    o->dims[1] = gm.M;
    for (int a = 0; a < gm.sr; a++) o->dims[2 + a] = gm.out[3 - gm.sr + a];
    return EV_OK;
}

/* Output positions ow in [lo, hi) read input columns inside [0, in) for
 * kernel offset `koff` = kw*d - pb. */
static void valid_range(int64_t out, int64_t in, int64_t s, int64_t koff, int64_t *lo, int64_t *hi)
{
    /* iw = ow*s + koff in [0, in) */
    int64_t l = koff >= 0 ? 0 : (-koff + s - 1) / s; /* ceil(-koff / s) */
    int64_t h = floor_div(in - 1 - koff, s) + 1;
    if (l < 0) l = 0;
    if (h > out) h = out;
    if (h < l) h = l;
    *lo = l;
    *hi = h;
}

/* Direct convolution of one output plane (depthwise-style: one input
 * channel). y (P floats) already holds the bias. */
static void conv_plane_direct(const conv_geom *gm, const float *x, const float *w, float *y)
{
    for (int64_t kd = 0; kd < gm->k[0]; kd++)
        for (int64_t kh = 0; kh < gm->k[1]; kh++)
            for (int64_t kw = 0; kw < gm->k[2]; kw++) {
                float wv = w[(kd * gm->k[1] + kh) * gm->k[2] + kw];
                int64_t koff = kw * gm->d[2] - gm->pb[2], lo, hi;
                valid_range(gm->out[2], gm->in[2], gm->s[2], koff, &lo, &hi);
                if (lo >= hi) continue;
                for (int64_t od = 0; od < gm->out[0]; od++) {
                    int64_t id = od * gm->s[0] - gm->pb[0] + kd * gm->d[0];
                    if (id < 0 || id >= gm->in[0]) continue;
                    for (int64_t oh = 0; oh < gm->out[1]; oh++) {
                        int64_t ih = oh * gm->s[1] - gm->pb[1] + kh * gm->d[1];
                        if (ih < 0 || ih >= gm->in[1]) continue;
                        /* input column of ow is ow*s + koff, >= 0 for ow >= lo */
                        const float *xr = x + (id * gm->in[1] + ih) * gm->in[2] + lo * gm->s[2] + koff;
                        float *yr = y + (od * gm->out[1] + oh) * gm->out[2] + lo;
                        int64_t s = gm->s[2], cnt = hi - lo;
                        if (s == 1)
                            for (int64_t j = 0; j < cnt; j++) yr[j] += wv * xr[j];
                        else
                            for (int64_t j = 0; j < cnt; j++) yr[j] += wv * xr[j * s];
                    }
                }
            }
}

/* im2col of output positions [p0, p1) of one (image, group) into col
 * (K rows of p1-p0). x points at the group's first input channel. */
static void im2col(const conv_geom *gm, const float *x, int64_t p0, int64_t p1, float *col)
{
    int64_t L = p1 - p0;
    int64_t k0 = gm->k[0], k1 = gm->k[1], k2 = gm->k[2];
    int64_t o1 = gm->out[1], o2 = gm->out[2];
    int64_t row = 0;
    for (int64_t ci = 0; ci < gm->Cg; ci++)
        for (int64_t kd = 0; kd < k0; kd++)
            for (int64_t kh = 0; kh < k1; kh++)
                for (int64_t kw = 0; kw < k2; kw++, row++) {
                    float *dst = col + row * L;
                    int64_t koff = kw * gm->d[2] - gm->pb[2], lo, hi;
                    valid_range(o2, gm->in[2], gm->s[2], koff, &lo, &hi);
                    int64_t p = p0;
                    int64_t ow = p % o2, oh = (p / o2) % o1, od = p / (o2 * o1);
                    while (p < p1) {
                        int64_t seg = o2 - ow < p1 - p ? o2 - ow : p1 - p;
                        /* dd[j] is output column ow + j of this segment */
                        float *dd = dst + (p - p0);
                        int64_t id = od * gm->s[0] - gm->pb[0] + kd * gm->d[0];
                        int64_t ih = oh * gm->s[1] - gm->pb[1] + kh * gm->d[1];
                        if (id < 0 || id >= gm->in[0] || ih < 0 || ih >= gm->in[1]) {
                            for (int64_t j = 0; j < seg; j++) dd[j] = 0.0f;
                        } else {
                            /* valid columns [a, b) relative to ow */
                            int64_t a = lo - ow, b = hi - ow;
                            if (a < 0) a = 0;
                            if (b > seg) b = seg;
                            if (a > b) a = b;
                            int64_t s = gm->s[2];
                            for (int64_t j = 0; j < a; j++) dd[j] = 0.0f;
                            if (a < b) {
                                const float *xr = x + ((ci * gm->in[0] + id) * gm->in[1] + ih) * gm->in[2] +
                                                  (ow + a) * s + koff;
                                float *dv = dd + a;
                                int64_t cnt = b - a;
                                if (s == 1)
                                    for (int64_t j = 0; j < cnt; j++) dv[j] = xr[j];
                                else
                                    for (int64_t j = 0; j < cnt; j++) dv[j] = xr[j * s];
                            }
                            for (int64_t j = b; j < seg; j++) dd[j] = 0.0f;
                        }
                        p += seg;
                        ow = 0;
                        if (++oh == o1) {
                            oh = 0;
                            od++;
                        }
                    }
                }
}

static ev_status conv_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out,
                          ev_exec_ctx *ctx)
{
    const ev_tensor *xt = in[0], *wt = in[1], *bt = ev_ref_in(n, in, 2);
    conv_geom gm;
    EV_TRY(conv_geometry(n, xt, wt, &gm, ctx->err));
    const float *x = xt->data, *w = wt->data, *bias = bt ? bt->data : NULL;
    float *y = out[0]->data;
    int threads = ev_ref_threads(ctx);
    int64_t P = gm.P, K = gm.K, kvol = gm.k[0] * gm.k[1] * gm.k[2];
    if (gm.N == 0 || gm.M == 0) return EV_OK;

    if (gm.Cg == 1) {
        int64_t planes = gm.N * gm.M;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && planes > 1)
        for (int64_t pl = 0; pl < planes; pl++) {
            int64_t ni = pl / gm.M, m = pl % gm.M, gi = m / gm.Mg;
            float *yp = y + pl * P;
            float bv = bias ? bias[m] : 0.0f;
            for (int64_t i = 0; i < P; i++) yp[i] = bv;
            conv_plane_direct(&gm, x + (ni * gm.C + gi) * gm.Pin, w + m * kvol, yp);
        }
        return EV_OK;
    }

    int pointwise = kvol == 1 && gm.s[0] == 1 && gm.s[1] == 1 && gm.s[2] == 1 && gm.pb[0] == 0 &&
                    gm.pb[1] == 0 && gm.pb[2] == 0 && gm.pe[0] == 0 && gm.pe[1] == 0 && gm.pe[2] == 0;
    /* Chunk of output positions: a col buffer of about 128K floats. */
    int64_t pt = 131072 / K;
    pt = pt < 64 ? 64 : pt > 1024 ? 1024 : pt;
    pt = (pt + 15) / 16 * 16;
    if (pt > P) pt = P;
    int64_t nchunk = (P + pt - 1) / pt;
    int64_t items = gm.N * gm.G * nchunk, nmb = 1;
    if (threads > 1 && items < 2 * threads) {
        nmb = (2 * threads + items - 1) / items;
        int64_t maxb = gm.Mg / 16 > 1 ? gm.Mg / 16 : 1;
        if (nmb > maxb) nmb = maxb;
    }
    int64_t mb = (gm.Mg + nmb - 1) / nmb;
    nmb = (gm.Mg + mb - 1) / mb;
    int64_t total = items * nmb;
    float *cols = NULL;
    if (!pointwise) {
        size_t sz;
        if (!ev_mul_sz((size_t)threads, (size_t)(K * pt), &sz) || !ev_mul_sz(sz, sizeof(float), &sz) ||
            !(cols = ev_malloc_aligned(sz)))
            return ev_err_set(ctx->err, EV_ERR_NOMEM, "Conv node '%s': out of memory for im2col (%lld x %lld)",
                              EV_LABEL(n), (long long)K, (long long)pt);
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && total > 1)
    for (int64_t t = 0; t < total; t++) {
        int64_t bi = t % nmb, rest = t / nmb;
        int64_t ch = rest % nchunk, ng = rest / nchunk;
        int64_t ni = ng / gm.G, gi = ng % gm.G;
        int64_t p0 = ch * pt, p1 = p0 + pt < P ? p0 + pt : P, L = p1 - p0;
        int64_t m0 = bi * mb, m1 = m0 + mb < gm.Mg ? m0 + mb : gm.Mg;
        const float *xg = x + (ni * gm.C + gi * gm.Cg) * gm.Pin;
        const float *wg = w + (gi * gm.Mg + m0) * K;
        float *yg = y + (ni * gm.M + gi * gm.Mg + m0) * P + p0;
        for (int64_t m = m0; m < m1; m++) {
            float bv = bias ? bias[gi * gm.Mg + m] : 0.0f;
            float *yr = yg + (m - m0) * P;
            for (int64_t j = 0; j < L; j++) yr[j] = bv;
        }
        if (pointwise) {
            ev_ref_sgemm(m1 - m0, L, K, 1.0f, wg, K, 1, xg + p0, P, 1, yg, P, 1, 1);
        } else {
            float *col = cols + (int64_t)omp_get_thread_num() * K * pt;
            im2col(&gm, xg, p0, p1, col);
            ev_ref_sgemm(m1 - m0, L, K, 1.0f, wg, K, 1, col, L, 1, yg, P, 1, 1);
        }
    }
    ev_free_aligned(cols);
    return EV_OK;
}

static int64_t conv_macs(const ev_node *n, const ev_tensor *const *in, const ev_tensor *const *out)
{
    conv_geom gm;
    if (conv_geometry(n, in[0], in[1], &gm, NULL) != EV_OK) return 0;
    return gm.N * gm.M * gm.P * gm.K;
}

const ev_op_def ev_ref_op_conv = {"Conv", 1, 18, 0, conv_prepare, conv_infer, conv_run, conv_macs};
