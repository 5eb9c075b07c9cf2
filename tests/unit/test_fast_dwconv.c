/*
 * tests/unit/test_fast_dwconv.c — the fast path's own depthwise kernel
 * (lib/fast/dwconv.c) against a plain double-precision loop: every input
 * and output activation, the per-channel means, 3x3/5x5, stride 1/2,
 * asymmetric pads, widths that leave every register-block tail, batch 1
 * (channel groups) and 5 (one unit per image), 1 and 2 threads. Also the
 * swish approximation over its whole range and the post-op decoding.
 * Nothing to test (passes with a note) on CPUs without AVX-512F: the fast
 * path never uses the kernel there.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fast/dwconv.h"
#include "test_util.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static double act(double v, int a, double lo, double hi)
{
    switch (a) {
    case EV_DW_SWISH: return v / (1.0 + exp(-v));
    case EV_DW_RELU: return v > 0 ? v : 0;
    case EV_DW_CLIP: return v < lo ? lo : v > hi ? hi : v;
    case EV_DW_HARDSWISH: {
        double g = v / 6.0 + 0.5;
        return v * (g < 0 ? 0 : g > 1 ? 1 : g);
    }
    default: return v;
    }
}

/* One configuration; returns the worst |diff| / (1 + |ref|). */
static double run_case(int64_t n, int64_t c, int64_t h, int64_t w, int k, int s, const int64_t pad[4],
                       int in_act, int out_act, int nthr, int bias)
{
    ev_fconv_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.n = n, sp.c = c, sp.h = h, sp.w = w, sp.oc = c, sp.groups = c, sp.kh = sp.kw = k;
    sp.stride[0] = sp.stride[1] = s;
    memcpy(sp.pad, pad, sizeof sp.pad);
    sp.dil[0] = sp.dil[1] = 1;
    float *wt = malloc((size_t)(c * k * k) * sizeof(float)), *b = malloc((size_t)c * sizeof(float));
    for (int64_t i = 0; i < c * k * k; i++) wt[i] = frand();
    for (int64_t i = 0; i < c; i++) b[i] = 0.3f * frand();
    sp.weights = wt;
    sp.bias = bias ? b : NULL;
    CHECK(ev_dw_fits(&sp));
    int64_t od[4];
    CHECK(ev_fconv_out_dims(&sp, od));
    int64_t oh = od[2], ow = od[3];
    float lo = -0.5f, hi = 0.75f;
    ev_dwk *kd = NULL;
    void *mem = NULL;
    ev_err err;
    CHECK(ev_dw_init(&sp, in_act, out_act, lo, hi, 1, nthr, &kd, &mem, &err) == EV_OK);
    float *x = malloc((size_t)(n * h * w * c) * sizeof(float));
    for (int64_t i = 0; i < n * h * w * c; i++) x[i] = 4.0f * frand();
    float *y = malloc((size_t)(n * oh * ow * c) * sizeof(float)), *pool = malloc((size_t)(n * c) * sizeof(float));
    void *work = ev_malloc_aligned(ev_dw_work_bytes(kd, nthr) + 64);
    ev_dw_run(kd, x, y, pool, work, nthr);
    double worst = 0.0;
    for (int64_t in = 0; in < n; in++)
        for (int64_t ch = 0; ch < c; ch++) {
            double sum = 0.0;
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    double a = bias ? b[ch] : 0.0;
                    for (int u = 0; u < k; u++)
                        for (int v = 0; v < k; v++) {
                            int64_t ih = i * s - pad[0] + u, iw = j * s - pad[1] + v;
                            if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                            a += act(x[((in * h + ih) * w + iw) * c + ch], in_act, lo, hi) * wt[(ch * k + u) * k + v];
                        }
                    a = act(a, out_act, lo, hi);
                    sum += a;
                    double d = fabs(a - y[((in * oh + i) * ow + j) * c + ch]) / (1.0 + fabs(a));
                    if (d > worst) worst = d;
                }
            double m = sum / (double)(oh * ow);
            double d = fabs(m - pool[in * c + ch]) / (1.0 + fabs(m));
            if (d > worst) worst = d;
        }
    ev_free_aligned(work);
    ev_free_aligned(mem);
    free(x);
    free(y);
    free(pool);
    free(wt);
    free(b);
    return worst;
}

int main(void)
{
    if (!ev_dw_available()) {
        printf("test_fast_dwconv: no AVX-512F: the kernel is never used, nothing to test\n");
        return 0;
    }
    /* swish over its range, including the clamped tails */
    for (int i = 0; i < 4000; i++) {
        float xs[16], ys[16];
        for (int j = 0; j < 16; j++) xs[j] = (float)(i * 16 + j - 32000) * (200.0f / 64000.0f);
        ev_dw_swish16(xs, ys);
        for (int j = 0; j < 16; j++) {
            double r = (double)xs[j] / (1.0 + exp(-(double)xs[j]));
            double tol = 1e-6 * fabs(r) + 1e-30;
            if (xs[j] < -80.0f) tol = 1e-30; /* exact value is below 1e-33 */
            if (!(fabs(ys[j] - r) <= tol)) {
                CHECK(fabs(ys[j] - r) <= tol);
                printf("swish(%g) = %g, expected %g\n", (double)xs[j], (double)ys[j], r);
                i = 4000;
                break;
            }
        }
    }
    CHECK(1);
    /* post-op decoding */
    ev_fpost po;
    float lo, hi;
    memset(&po, 0, sizeof po);
    CHECK(ev_dw_act_of(&po, &lo, &hi) == EV_DW_NONE);
    ev_fpost_swish(&po, 1.0f);
    CHECK(ev_dw_act_of(&po, &lo, &hi) == EV_DW_SWISH);
    memset(&po, 0, sizeof po);
    ev_fpost_swish(&po, 1.702f);
    CHECK(ev_dw_act_of(&po, &lo, &hi) == -1);
    memset(&po, 0, sizeof po);
    ev_fpost_clip(&po, 0.0f, 6.0f);
    CHECK(ev_dw_act_of(&po, &lo, &hi) == EV_DW_CLIP && lo == 0.0f && hi == 6.0f);
    ev_fpost_relu(&po);
    CHECK(ev_dw_act_of(&po, &lo, &hi) == -1); /* two post-ops */
    memset(&po, 0, sizeof po);
    ev_fpost_sum(&po, 1.0f);
    CHECK(ev_dw_act_of(&po, &lo, &hi) == -1);

    static const int64_t p_sym3[4] = {1, 1, 1, 1}, p_sym5[4] = {2, 2, 2, 2}, p_tf[4] = {0, 0, 1, 1},
                         p_asym[4] = {1, 2, 2, 1}, p_none[4] = {0, 0, 0, 0};
    struct {
        int64_t n, c, h, w;
        int k, s;
        const int64_t *pad;
        int in_act, out_act, bias;
    } cases[] = {
        {1, 32, 23, 23, 3, 1, p_sym3, EV_DW_SWISH, EV_DW_SWISH, 1},
        {1, 48, 9, 17, 3, 1, p_sym3, EV_DW_NONE, EV_DW_RELU, 0},
        {5, 16, 7, 7, 5, 1, p_sym5, EV_DW_SWISH, EV_DW_CLIP, 1},
        {1, 96, 20, 31, 5, 2, p_asym, EV_DW_SWISH, EV_DW_SWISH, 1},
        {5, 64, 12, 12, 3, 2, p_tf, EV_DW_NONE, EV_DW_HARDSWISH, 1},
        {2, 32, 14, 10, 3, 2, p_sym3, EV_DW_RELU, EV_DW_NONE, 1},
        {1, 16, 5, 5, 5, 1, p_none, EV_DW_CLIP, EV_DW_SWISH, 1},
        {3, 160, 6, 9, 5, 2, p_sym5, EV_DW_HARDSWISH, EV_DW_SWISH, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int t = 1; t <= 2; t++) {
            double e = run_case(cases[i].n, cases[i].c, cases[i].h, cases[i].w, cases[i].k, cases[i].s,
                                cases[i].pad, cases[i].in_act, cases[i].out_act, t, cases[i].bias);
            if (!(e <= 2e-5)) printf("case %zu threads %d: worst error %.3g\n", i, t, e);
            CHECK(e <= 2e-5);
        }
    /* what the kernel refuses */
    ev_fconv_spec sp;
    memset(&sp, 0, sizeof sp);
    float wdummy[24 * 9];
    sp.n = 1, sp.c = sp.oc = sp.groups = 24, sp.h = sp.w = 8, sp.kh = sp.kw = 3;
    sp.stride[0] = sp.stride[1] = 1, sp.dil[0] = sp.dil[1] = 1, sp.weights = wdummy;
    CHECK(!ev_dw_fits(&sp)); /* 24 channels */
    sp.c = sp.oc = sp.groups = 32;
    CHECK(ev_dw_fits(&sp));
    sp.dil[0] = 2;
    CHECK(!ev_dw_fits(&sp));
    sp.dil[0] = 1, sp.kh = 7, sp.kw = 7;
    CHECK(!ev_dw_fits(&sp));
    sp.kh = sp.kw = 3, sp.groups = 1;
    CHECK(!ev_dw_fits(&sp));
    return test_report("test_fast_dwconv");
}
