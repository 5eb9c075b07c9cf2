/*
 * tests/unit/test_fast_prims.c — every oneDNN building block of lib/fast
 * against a plain loop, with a tolerance. Inputs are random; activations
 * go through reorders into the layout the primitive chose and back.
 *
 * EV_FAST_PERF=1 in the environment also prints the GFLOP/s of a few
 * convolutions and matmuls (not asserted: timings on shared machines are
 * noise).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fast/prims.h"
#include "test_util.h"

static uint64_t rng = 88172645463325252ull;
static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}
static float *rand_buf(int64_t n)
{
    float *p = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = frand();
    return p;
}

static ev_fctx C;

/* Copy plain data into a new buffer laid out as `want` (reorder). */
static void *to_layout(const dnnl_memory_desc_t *plain, const void *data,
                       const dnnl_memory_desc_t *want)
{
    size_t bytes = ev_fmd_bytes(want);
    void *out = ev_calloc_aligned(bytes + 64);
    ev_fprim r;
    ev_err e;
    CHECK(ev_freorder_create(&C, plain, want, &r, &e) == EV_OK);
    ev_fprim_bind(&r, DNNL_ARG_SRC, (void *)data, &e);
    ev_fprim_bind(&r, DNNL_ARG_DST, out, &e);
    ev_fctx_scratch(&C, &e);
    CHECK(ev_fprim_exec(&C, &r, &e) == EV_OK);
    ev_fprim_free(&r);
    return out;
}
static void from_layout(const dnnl_memory_desc_t *have, const void *data,
                        const dnnl_memory_desc_t *plain, void *out)
{
    ev_fprim r;
    ev_err e;
    CHECK(ev_freorder_create(&C, have, plain, &r, &e) == EV_OK);
    ev_fprim_bind(&r, DNNL_ARG_SRC, (void *)data, &e);
    ev_fprim_bind(&r, DNNL_ARG_DST, out, &e);
    ev_fctx_scratch(&C, &e);
    CHECK(ev_fprim_exec(&C, &r, &e) == EV_OK);
    ev_fprim_free(&r);
}

/* max |a-b| relative to max |ref| */
static double rel_diff(const float *got, const float *ref, int64_t n)
{
    double mx = 1e-30, md = 0;
    for (int64_t i = 0; i < n; i++) {
        if (fabs(ref[i]) > mx) mx = fabs(ref[i]);
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= md)) md = d; /* NaN propagates as failure */
    }
    return md / mx;
}

/* ---- post-op reference ----------------------------------------------------- */
static float apply_post(const ev_fpost *p, float x, float resid, float bin)
{
    for (int i = 0; i < p->n; i++) {
        const ev_fpo *o = &p->op[i];
        if (o->kind == EV_FPO_SUM) {
            x = x + o->scale * resid;
        } else if (o->kind == EV_FPO_BINARY) {
            x = o->alg == dnnl_binary_mul ? x * bin : x + bin;
        } else {
            float y = x;
            switch (o->alg) {
            case dnnl_eltwise_relu: y = x > 0 ? x : x * o->alpha; break;
            case dnnl_eltwise_clip_v2: y = x < o->alpha ? o->alpha : x > o->beta ? o->beta : x; break;
            case dnnl_eltwise_hardswish: y = x * fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f; break;
            case dnnl_eltwise_logistic: y = 1.0f / (1.0f + expf(-x)); break;
            case dnnl_eltwise_swish: y = x / (1.0f + expf(-o->alpha * x)); break;
            case dnnl_eltwise_linear: y = o->alpha * x + o->beta; break;
            case dnnl_eltwise_gelu_erf: y = 0.5f * x * (1.0f + erff(x / sqrtf(2.0f))); break;
            default: y = NAN;
            }
            x = o->scale * y;
        }
    }
    return x;
}

/* ---- convolution ------------------------------------------------------------ */
static void conv_ref(const ev_fconv_spec *s, const float *x, float *y, const int64_t od[4])
{
    int64_t g = s->groups, icg = s->c / g, ocg = s->oc / g;
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t oc = 0; oc < s->oc; oc++) {
            int64_t gi = oc / ocg;
            for (int64_t oh = 0; oh < od[2]; oh++)
                for (int64_t ow = 0; ow < od[3]; ow++) {
                    double acc = s->bias ? s->bias[oc] : 0.0;
                    for (int64_t ic = 0; ic < icg; ic++)
                        for (int64_t kh = 0; kh < s->kh; kh++)
                            for (int64_t kw = 0; kw < s->kw; kw++) {
                                int64_t ih = oh * s->stride[0] - s->pad[0] + kh * s->dil[0];
                                int64_t iw = ow * s->stride[1] - s->pad[1] + kw * s->dil[1];
                                if (ih < 0 || iw < 0 || ih >= s->h || iw >= s->w) continue;
                                acc += (double)x[((n * s->c + gi * icg + ic) * s->h + ih) * s->w + iw] *
                                       s->weights[((oc * icg + ic) * s->kh + kh) * s->kw + kw];
                            }
                    y[((n * s->oc + oc) * od[2] + oh) * od[3] + ow] = (float)acc;
                }
        }
}

typedef struct conv_case {
    const char *name;
    int64_t n, c, h, w, oc, g, kh, kw, s0, s1, p[4], d0, d1;
    int post; /* 0 none, 1 relu, 2 clip06, 3 hardswish, 4 sigmoid, 5 swish, 6 hardsigmoid,
                 7 sum+relu, 8 binary mul (SE-like) */
    int bias;
} conv_case;

static void test_conv_case(const conv_case *k, dnnl_data_type_t dt, double tol)
{
    ev_fconv_spec s;
    memset(&s, 0, sizeof s);
    s.n = k->n; s.c = k->c; s.h = k->h; s.w = k->w; s.oc = k->oc; s.groups = k->g;
    s.kh = k->kh; s.kw = k->kw; s.stride[0] = k->s0; s.stride[1] = k->s1;
    memcpy(s.pad, k->p, sizeof s.pad);
    s.dil[0] = k->d0; s.dil[1] = k->d1;
    s.dt = dt;
    int64_t wn = k->oc * (k->c / k->g) * k->kh * k->kw;
    float *wts = rand_buf(wn);
    float *bias = k->bias ? rand_buf(k->oc) : NULL;
    s.weights = wts;
    s.bias = bias;
    int64_t od[4];
    CHECK(ev_fconv_out_dims(&s, od));
    int64_t on = od[0] * od[1] * od[2] * od[3];
    int64_t in = k->n * k->c * k->h * k->w;
    float *resid = rand_buf(on);
    int64_t bdims[4] = {od[0], od[1], 1, 1};
    float *binv = rand_buf(od[0] * od[1]);
    dnnl_memory_desc_t bin_md;
    ev_err e;
    ev_fmd_nhwc(&bin_md, 4, bdims, dnnl_f32, &e);
    switch (k->post) {
    case 1: ev_fpost_relu(&s.post); break;
    case 2: ev_fpost_clip(&s.post, 0.0f, 6.0f); break;
    case 3: ev_fpost_hardswish(&s.post); break;
    case 4: ev_fpost_sigmoid(&s.post); break;
    case 5: ev_fpost_swish(&s.post, 1.0f); break;
    case 6: ev_fpost_hardsigmoid(&s.post, 1.0f / 6.0f, 0.5f); break;
    case 7: ev_fpost_sum(&s.post, 1.0f); ev_fpost_relu(&s.post); break;
    case 8: ev_fpost_binary(&s.post, dnnl_binary_mul, &bin_md); break;
    }
    float *x = rand_buf(in);
    ev_fprim p;
    ev_status st = ev_fconv_create(&C, &s, &p, &e);
    if (st != EV_OK) fprintf(stderr, "conv %s: %s\n", k->name, e.msg);
    CHECK(st == EV_OK);
    if (st != EV_OK) goto out;
    int64_t sd[4] = {k->n, k->c, k->h, k->w};
    dnnl_memory_desc_t xplain, yplain;
    ev_fmd_plain(&xplain, 4, sd, dnnl_f32, &e);
    ev_fmd_plain(&yplain, 4, od, dnnl_f32, &e);
    /* plain f32 -> primitive layout (and type) */
    void *xl = to_layout(&xplain, x, &p.src_md);
    void *yl = k->post == 7 ? to_layout(&yplain, resid, &p.dst_md) : ev_calloc_aligned(ev_fmd_bytes(&p.dst_md));
    void *bl = NULL;
    ev_fprim_bind(&p, DNNL_ARG_SRC, xl, &e);
    ev_fprim_bind(&p, DNNL_ARG_DST, yl, &e);
    if (k->post == 8) {
        bl = to_layout(&bin_md, binv, &bin_md);
        CHECK(ev_fprim_bind(&p, ev_fpost_binary_arg(&s.post, 0), bl, &e) == EV_OK);
    }
    CHECK(ev_fctx_scratch(&C, &e) == EV_OK);
    CHECK(ev_fprim_exec(&C, &p, &e) == EV_OK);
    float *y = malloc((size_t)on * sizeof(float));
    from_layout(&p.dst_md, yl, &yplain, y);
    float *ref = malloc((size_t)on * sizeof(float));
    conv_ref(&s, x, ref, od);
    for (int64_t i = 0; i < on; i++) {
        int64_t nc = i / (od[2] * od[3]);
        ref[i] = apply_post(&s.post, ref[i], resid[i], binv[nc]);
    }
    double d = rel_diff(y, ref, on);
    char lay[96];
    ev_fmd_str(&p.dst_md, lay, sizeof lay);
    if (!(d <= tol))
        fprintf(stderr, "conv %s (%s, %s): rel diff %.3g > %.3g\n", k->name, p.impl, lay, d, tol);
    CHECK(d <= tol);
    if (getenv("EV_FAST_VERBOSE")) printf("  conv %-22s %-28s %s  rel %.2g\n", k->name, p.impl, lay, d);
    free(y);
    free(ref);
    ev_free_aligned(xl);
    ev_free_aligned(yl);
    ev_free_aligned(bl);
    ev_fprim_free(&p);
out:
    free(x); free(wts); free(bias); free(resid); free(binv);
}

static const conv_case conv_cases[] = {
    {"stem 3x3 s2", 1, 3, 33, 31, 16, 1, 3, 3, 2, 2, {1, 1, 1, 1}, 1, 1, 3, 1},
    {"1x1 relu", 2, 24, 14, 14, 40, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, 1, 1, 1},
    {"3x3 clip", 1, 16, 12, 12, 32, 1, 3, 3, 1, 1, {1, 1, 1, 1}, 1, 1, 2, 1},
    {"dw3 hardswish", 2, 32, 15, 15, 32, 32, 3, 3, 1, 1, {1, 1, 1, 1}, 1, 1, 3, 1},
    {"dw5 s2 asym", 1, 24, 17, 16, 24, 24, 5, 5, 2, 2, {1, 2, 2, 1}, 1, 1, 5, 1},
    {"1x1 sigmoid", 1, 8, 1, 1, 32, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, 1, 4, 1},
    {"1x1 hardsigmoid", 1, 8, 1, 1, 24, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, 1, 6, 1},
    {"3x3 sum+relu", 2, 16, 9, 9, 16, 1, 3, 3, 1, 1, {1, 1, 1, 1}, 1, 1, 7, 1},
    {"1x1 se-mul", 1, 16, 7, 7, 24, 1, 1, 1, 1, 1, {0, 0, 0, 0}, 1, 1, 8, 0},
    {"3x3 dil2 g2 nobias", 1, 8, 11, 11, 12, 2, 3, 3, 1, 1, {2, 2, 2, 2}, 2, 2, 0, 0},
    {"patch 8x8 s8", 2, 3, 32, 32, 48, 1, 8, 8, 8, 8, {0, 0, 0, 0}, 1, 1, 0, 0},
};

/* ---- matmul ------------------------------------------------------------------ */
static void test_matmul(void)
{
    ev_err e;
    /* 2-D, constant B, bias, gelu_erf / quickgelu */
    for (int v = 0; v < 2; v++) {
        int64_t M = 10, K = 48, N = 40;
        float *a = rand_buf(M * K), *b = rand_buf(K * N), *bias = rand_buf(N);
        ev_fmatmul_spec s;
        memset(&s, 0, sizeof s);
        s.rank = 2;
        s.a_dims[0] = M; s.a_dims[1] = K;
        s.b_dims[0] = K; s.b_dims[1] = N;
        s.b_const = b;
        s.bias = bias;
        s.scale = 1.0f;
        s.dt = dnnl_f32;
        if (v == 0) ev_fpost_gelu_erf(&s.post);
        else ev_fpost_swish(&s.post, 1.702f);
        ev_fprim p;
        CHECK(ev_fmatmul_create(&C, &s, &p, &e) == EV_OK);
        float *c = ev_calloc_aligned((size_t)(M * N) * 4), *ref = malloc((size_t)(M * N) * 4);
        ev_fprim_bind(&p, DNNL_ARG_SRC, a, &e);
        ev_fprim_bind(&p, DNNL_ARG_DST, c, &e);
        ev_fctx_scratch(&C, &e);
        CHECK(ev_fprim_exec(&C, &p, &e) == EV_OK);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double acc = bias[j];
                for (int64_t k = 0; k < K; k++) acc += (double)a[i * K + k] * b[k * N + j];
                float x = (float)acc;
                ref[i * N + j] = v == 0 ? 0.5f * x * (1.0f + erff(x / sqrtf(2.0f)))
                                        : x / (1.0f + expf(-1.702f * x));
            }
        CHECK(rel_diff(c, ref, M * N) <= 1e-5);
        if (getenv("EV_FAST_VERBOSE")) printf("  matmul 2d post%d %s rel %.2g\n", v, p.impl, rel_diff(c, ref, M * N));
        ev_fprim_free(&p);
        free(a); free(b); free(bias); ev_free_aligned(c); free(ref);
    }
    /* batched runtime B with output scale, A read through a transposed
     * (strided) view: A logical [H, M, K] stored as [M, H, K] */
    {
        int64_t H = 3, M = 7, K = 16, N = 9;
        float *a = rand_buf(H * M * K), *b = rand_buf(H * K * N);
        ev_fmatmul_spec s;
        memset(&s, 0, sizeof s);
        s.rank = 3;
        int64_t ad[3] = {H, M, K}, bd[3] = {H, K, N}, ast[3] = {K, H * K, 1};
        memcpy(s.a_dims, ad, sizeof ad);
        memcpy(s.b_dims, bd, sizeof bd);
        dnnl_memory_desc_t amd;
        ev_fmd_strided(&amd, 3, ad, ast, dnnl_f32, &e);
        s.a_md = &amd;
        s.scale = 0.125f;
        s.dt = dnnl_f32;
        ev_fprim p;
        CHECK(ev_fmatmul_create(&C, &s, &p, &e) == EV_OK);
        float *c = ev_calloc_aligned((size_t)(H * M * N) * 4), *ref = malloc((size_t)(H * M * N) * 4);
        ev_fprim_bind(&p, DNNL_ARG_SRC, a, &e);
        ev_fprim_bind(&p, DNNL_ARG_WEIGHTS, b, &e);
        ev_fprim_bind(&p, DNNL_ARG_DST, c, &e);
        ev_fctx_scratch(&C, &e);
        CHECK(ev_fprim_exec(&C, &p, &e) == EV_OK);
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    double acc = 0;
                    for (int64_t k = 0; k < K; k++)
                        acc += (double)a[i * H * K + h * K + k] * b[(h * K + k) * N + j];
                    ref[(h * M + i) * N + j] = (float)(acc * 0.125);
                }
        CHECK(rel_diff(c, ref, H * M * N) <= 1e-5);
        if (getenv("EV_FAST_VERBOSE")) printf("  matmul strided batched %s\n", p.impl);
        ev_fprim_free(&p);
        free(a); free(b); ev_free_aligned(c); free(ref);
    }
}

/* ---- layer norm ---------------------------------------------------------------- */
static void test_lnorm(void)
{
    ev_err e;
    int64_t d[3] = {2, 5, 64};
    int64_t n = 2 * 5 * 64;
    float *x = rand_buf(n), *g = rand_buf(64), *b = rand_buf(64);
    for (int64_t i = 0; i < n; i++) x[i] = x[i] * 3.0f + 1.0f;
    dnnl_memory_desc_t md;
    ev_fmd_plain(&md, 3, d, dnnl_f32, &e);
    ev_fprim p;
    CHECK(ev_flnorm_create(&C, &md, 1e-5f, g, b, &p, &e) == EV_OK);
    float *y = ev_calloc_aligned((size_t)n * 4), *ref = malloc((size_t)n * 4);
    ev_fprim_bind(&p, DNNL_ARG_SRC, x, &e);
    ev_fprim_bind(&p, DNNL_ARG_DST, y, &e);
    ev_fctx_scratch(&C, &e);
    CHECK(ev_fprim_exec(&C, &p, &e) == EV_OK);
    for (int64_t r = 0; r < 10; r++) {
        double m = 0, v = 0;
        for (int i = 0; i < 64; i++) m += x[r * 64 + i];
        m /= 64;
        for (int i = 0; i < 64; i++) v += (x[r * 64 + i] - m) * (x[r * 64 + i] - m);
        v /= 64;
        for (int i = 0; i < 64; i++)
            ref[r * 64 + i] = (float)((x[r * 64 + i] - m) / sqrt(v + 1e-5) * g[i] + b[i]);
    }
    CHECK(rel_diff(y, ref, n) <= 1e-5);
    if (getenv("EV_FAST_VERBOSE")) printf("  layernorm %s\n", p.impl);
    ev_fprim_free(&p);
    free(x); free(g); free(b); ev_free_aligned(y); free(ref);
}

/* ---- pooling ---------------------------------------------------------------------- */
static void pool_case(int max, int include_pad, int64_t h, int64_t w, int64_t k, int64_t st,
                      int64_t pad, int ceil_mode, int global)
{
    ev_err e;
    int64_t N = 2, Cc = 24;
    ev_fpool_spec s;
    memset(&s, 0, sizeof s);
    s.max = max;
    s.count_include_pad = include_pad;
    s.n = N; s.c = Cc; s.h = h; s.w = w;
    s.kh = global ? h : k; s.kw = global ? w : k;
    s.stride[0] = s.stride[1] = global ? 1 : st;
    for (int i = 0; i < 4; i++) s.pad[i] = global ? 0 : pad;
    if (global) {
        s.oh = s.ow = 1;
    } else {
        int64_t num_h = h + 2 * pad - k, num_w = w + 2 * pad - k;
        s.oh = (ceil_mode ? (num_h + st - 1) / st : num_h / st) + 1;
        s.ow = (ceil_mode ? (num_w + st - 1) / st : num_w / st) + 1;
        if (ceil_mode && (s.oh - 1) * st >= h + pad) s.oh--;
        if (ceil_mode && (s.ow - 1) * st >= w + pad) s.ow--;
    }
    int64_t sd[4] = {N, Cc, h, w}, od[4] = {N, Cc, s.oh, s.ow};
    dnnl_memory_desc_t xp, xl_md, yp;
    ev_fmd_plain(&xp, 4, sd, dnnl_f32, &e);
    ev_fmd_nhwc(&xl_md, 4, sd, dnnl_f32, &e);
    ev_fmd_plain(&yp, 4, od, dnnl_f32, &e);
    s.src_md = &xl_md;
    ev_fprim p;
    ev_status rc = ev_fpool_create(&C, &s, &p, &e);
    if (rc != EV_OK) fprintf(stderr, "pool: %s\n", e.msg);
    CHECK(rc == EV_OK);
    if (rc != EV_OK) return;
    int64_t n = N * Cc * h * w, on = N * Cc * s.oh * s.ow;
    float *x = rand_buf(n), *y = malloc((size_t)on * 4), *ref = malloc((size_t)on * 4);
    void *xl = to_layout(&xp, x, &xl_md), *yl = ev_calloc_aligned(ev_fmd_bytes(&p.dst_md));
    ev_fprim_bind(&p, DNNL_ARG_SRC, xl, &e);
    ev_fprim_bind(&p, DNNL_ARG_DST, yl, &e);
    ev_fctx_scratch(&C, &e);
    CHECK(ev_fprim_exec(&C, &p, &e) == EV_OK);
    from_layout(&p.dst_md, yl, &yp, y);
    for (int64_t nc = 0; nc < N * Cc; nc++)
        for (int64_t oh = 0; oh < s.oh; oh++)
            for (int64_t ow = 0; ow < s.ow; ow++) {
                double acc = max ? -INFINITY : 0;
                int cnt = 0, cnt_pad = 0;
                for (int64_t a = 0; a < s.kh; a++)
                    for (int64_t b = 0; b < s.kw; b++) {
                        int64_t ih = oh * s.stride[0] - s.pad[0] + a, iw = ow * s.stride[1] - s.pad[1] + b;
                        if (ih < h + s.pad[2] && iw < w + s.pad[3]) cnt_pad++;
                        if (ih < 0 || iw < 0 || ih >= h || iw >= w) continue;
                        float v = x[(nc * h + ih) * w + iw];
                        if (max) acc = v > acc ? v : acc;
                        else acc += v;
                        cnt++;
                    }
                ref[(nc * s.oh + oh) * s.ow + ow] = (float)(max ? acc : acc / (include_pad ? cnt_pad : cnt));
            }
    double d = rel_diff(y, ref, on);
    if (!(d <= 1e-5)) fprintf(stderr, "pool max=%d ceil=%d global=%d: %.3g\n", max, ceil_mode, global, d);
    CHECK(d <= 1e-5);
    ev_fprim_free(&p);
    free(x); free(y); free(ref); ev_free_aligned(xl); ev_free_aligned(yl);
}

/* ---- binary / eltwise / softmax ----------------------------------------------------- */
static void test_binary(void)
{
    ev_err e;
    int64_t d[4] = {2, 40, 7, 9}, bd[4] = {2, 40, 1, 1};
    int64_t n = 2 * 40 * 7 * 9;
    dnnl_memory_desc_t a, b, ap;
    ev_fmd_nhwc(&a, 4, d, dnnl_f32, &e);
    ev_fmd_nhwc(&b, 4, bd, dnnl_f32, &e);
    ev_fmd_plain(&ap, 4, d, dnnl_f32, &e);
    float *x = rand_buf(n), *s = rand_buf(80), *y = malloc((size_t)n * 4), *ref = malloc((size_t)n * 4);
    /* SE: nhwc x [N,C,1,1] broadcast, then relu post-op */
    ev_fpost post = {0};
    ev_fpost_relu(&post);
    ev_fprim p;
    CHECK(ev_fbinary_create(&C, dnnl_binary_mul, &a, &b, &a, &post, &p, &e) == EV_OK);
    CHECK(!ev_fast_impl_is_ref(p.impl));
    void *xl = to_layout(&ap, x, &a), *yl = ev_calloc_aligned((size_t)n * 4);
    ev_fprim_bind(&p, DNNL_ARG_SRC_0, xl, &e);
    ev_fprim_bind(&p, DNNL_ARG_SRC_1, s, &e);
    ev_fprim_bind(&p, DNNL_ARG_DST, yl, &e);
    ev_fctx_scratch(&C, &e);
    CHECK(ev_fprim_exec(&C, &p, &e) == EV_OK);
    from_layout(&a, yl, &ap, y);
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] * s[i / 63];
        ref[i] = v > 0 ? v : 0;
    }
    CHECK(rel_diff(y, ref, n) <= 1e-6);
    if (getenv("EV_FAST_VERBOSE")) printf("  binary se-mul %s\n", p.impl);
    ev_fprim_free(&p);
    /* in-place eltwise (logistic) on a plain tensor */
    CHECK(ev_feltwise_create(&C, dnnl_eltwise_logistic, 0, 0, &ap, &p, &e) == EV_OK);
    memcpy(y, x, (size_t)n * 4);
    ev_fprim_bind(&p, DNNL_ARG_SRC, y, &e);
    ev_fprim_bind(&p, DNNL_ARG_DST, y, &e);
    CHECK(ev_fprim_exec(&C, &p, &e) == EV_OK);
    for (int64_t i = 0; i < n; i++) ref[i] = 1.0f / (1.0f + expf(-x[i]));
    CHECK(rel_diff(y, ref, n) <= 1e-6);
    ev_fprim_free(&p);
    /* softmax over the last axis */
    CHECK(ev_fsoftmax_create(&C, &ap, 3, &p, &e) == EV_OK);
    ev_fprim_bind(&p, DNNL_ARG_SRC, x, &e);
    ev_fprim_bind(&p, DNNL_ARG_DST, y, &e);
    ev_fctx_scratch(&C, &e);
    CHECK(ev_fprim_exec(&C, &p, &e) == EV_OK);
    for (int64_t r = 0; r < n / 9; r++) {
        double m = -1e30, z = 0;
        for (int i = 0; i < 9; i++) m = x[r * 9 + i] > m ? x[r * 9 + i] : m;
        for (int i = 0; i < 9; i++) z += exp(x[r * 9 + i] - m);
        for (int i = 0; i < 9; i++) ref[r * 9 + i] = (float)(exp(x[r * 9 + i] - m) / z);
    }
    CHECK(rel_diff(y, ref, n) <= 1e-5);
    ev_fprim_free(&p);
    free(x); free(s); free(y); free(ref); ev_free_aligned(xl); ev_free_aligned(yl);
}

/* A blocked tensor times a plain broadcast operand only has ref:any in
 * oneDNN 2.6: the builder must refuse it (the caller then keeps its own
 * kernel), and accept it when the context allows reference kernels. */
static void test_ref_refused(void)
{
    ev_err e;
    dnnl_dims_t d = {1, 32, 5, 5}, bd = {1, 32, 1, 1};
    dnnl_memory_desc_t a, b;
    dnnl_memory_desc_init_by_tag(&a, 4, d, dnnl_f32, dnnl_nChw16c);
    dnnl_memory_desc_init_by_tag(&b, 4, bd, dnnl_f32, dnnl_nchw);
    ev_fprim p;
    int before = C.n_ref_refused;
    ev_status st = ev_fbinary_create(&C, dnnl_binary_mul, &a, &b, &a, NULL, &p, &e);
    CHECK(st == EV_ERR_UNSUPPORTED);
    CHECK(C.n_ref_refused == before + 1);
    CHECK(strstr(e.msg, "ref") != NULL);
    C.allow_ref = 1;
    CHECK(ev_fbinary_create(&C, dnnl_binary_mul, &a, &b, &a, NULL, &p, &e) == EV_OK);
    CHECK(ev_fast_impl_is_ref(p.impl));
    ev_fprim_free(&p);
    C.allow_ref = 0;
    CHECK(ev_fast_impl_is_ref("ref:any"));
    CHECK(!ev_fast_impl_is_ref("ref_fused_convolution:any"));
    CHECK(!ev_fast_impl_is_ref("brgconv:avx512_core"));
}

static void test_md_helpers(void)
{
    ev_err e;
    int64_t d[4] = {2, 8, 1, 1};
    dnnl_memory_desc_t a, b;
    ev_fmd_plain(&a, 4, d, dnnl_f32, &e);
    ev_fmd_nhwc(&b, 4, d, dnnl_f32, &e);
    CHECK(ev_fmd_equal(&a, &b)); /* h = w = 1: same memory */
    CHECK(ev_fmd_is_plain(&b));
    int64_t d2[4] = {2, 8, 3, 3};
    ev_fmd_plain(&a, 4, d2, dnnl_f32, &e);
    ev_fmd_nhwc(&b, 4, d2, dnnl_f32, &e);
    CHECK(!ev_fmd_equal(&a, &b));
    CHECK(!ev_fmd_is_plain(&b));
    CHECK(ev_fmd_bytes(&b) == 2 * 8 * 9 * 4);
    char s[64];
    ev_fmd_str(&b, s, sizeof s);
    CHECK(strcmp(s, "f32 2x8x3x3 acdb") == 0);
    int64_t bad[2] = {0, 3};
    CHECK(ev_fmd_plain(&a, 2, bad, dnnl_f32, &e) == EV_ERR_SHAPE);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void perf_conv(int64_t n, int64_t c, int64_t h, int64_t oc, int64_t k, dnnl_data_type_t dt)
{
    ev_err e;
    ev_fconv_spec s;
    memset(&s, 0, sizeof s);
    s.n = n; s.c = c; s.h = h; s.w = h; s.oc = oc; s.groups = 1; s.kh = s.kw = k;
    s.stride[0] = s.stride[1] = 1;
    for (int i = 0; i < 4; i++) s.pad[i] = k / 2;
    s.dil[0] = s.dil[1] = 1;
    s.dt = dt;
    float *w = rand_buf(oc * c * k * k);
    s.weights = w;
    ev_fpost_relu(&s.post);
    ev_fprim p;
    if (ev_fconv_create(&C, &s, &p, &e) != EV_OK) { free(w); return; }
    void *x = ev_calloc_aligned(ev_fmd_bytes(&p.src_md)), *y = ev_calloc_aligned(ev_fmd_bytes(&p.dst_md));
    ev_fprim_bind(&p, DNNL_ARG_SRC, x, &e);
    ev_fprim_bind(&p, DNNL_ARG_DST, y, &e);
    ev_fctx_scratch(&C, &e);
    for (int i = 0; i < 5; i++) ev_fprim_exec(&C, &p, &e);
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
        double t0 = now_s();
        for (int i = 0; i < 10; i++) ev_fprim_exec(&C, &p, &e);
        double t = (now_s() - t0) / 10;
        if (t < best) best = t;
    }
    printf("  perf conv N%lld %lldx%lld %lld->%lld k%lld %s %-26s %.3f ms %.0f GFLOP/s (best of 5)\n",
           (long long)n, (long long)h, (long long)h, (long long)c, (long long)oc, (long long)k,
           dt == dnnl_bf16 ? "bf16" : "f32 ", p.impl, best * 1e3, p.flops / best * 1e-9);
    ev_fprim_free(&p);
    ev_free_aligned(x); ev_free_aligned(y); free(w);
}

int main(void)
{
    ev_err e;
    int threads = getenv("EV_FAST_THREADS") ? atoi(getenv("EV_FAST_THREADS")) : 2;
    if (ev_fctx_init(&C, threads, &e) != EV_OK) {
        fprintf(stderr, "fctx: %s\n", e.msg);
        return 1;
    }
    test_md_helpers();
    for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++)
        test_conv_case(&conv_cases[i], dnnl_f32, 1e-5);
    if (ev_fast_has_bf16()) {
        /* bf16 activations and weights, f32 accumulation: ~3 significant digits */
        for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++)
            test_conv_case(&conv_cases[i], dnnl_bf16, 3e-2);
    } else {
        printf("no AVX512_BF16: bf16 cases skipped\n");
    }
    test_matmul();
    test_lnorm();
    pool_case(1, 0, 16, 15, 3, 2, 1, 0, 0);
    pool_case(1, 0, 14, 14, 3, 2, 0, 1, 0);  /* ceil_mode */
    pool_case(0, 0, 14, 14, 3, 2, 1, 1, 0);  /* avg ceil_mode, exclude pad */
    pool_case(0, 1, 14, 14, 3, 1, 1, 0, 0);  /* avg count_include_pad */
    pool_case(0, 0, 7, 7, 0, 0, 0, 0, 1);    /* global average pooling */
    test_binary();
    test_ref_refused();
    if (getenv("EV_FAST_PERF")) {
        perf_conv(1, 64, 56, 64, 3, dnnl_f32);
        perf_conv(1, 256, 56, 64, 1, dnnl_f32);
        perf_conv(8, 64, 56, 64, 3, dnnl_f32);
        perf_conv(1, 256, 14, 256, 3, dnnl_f32);
        if (ev_fast_has_bf16()) {
            perf_conv(1, 64, 56, 64, 3, dnnl_bf16);
            perf_conv(8, 64, 56, 64, 3, dnnl_bf16);
        }
    }
    ev_fctx_fini(&C);
    return test_report("test_fast_prims");
}
