/*
 * lib/image/resample.c — Pillow's resampling, reimplemented bit-exactly for
 * 8-bit images (Pillow 9.x src/libImaging/Resample.c semantics).
 *
 * For each output index the filter is centred at (i + 0.5) * scale in the
 * input; when downscaling (scale > 1) and antialiasing, the filter is
 * stretched by scale (support * scale taps each side) — a true area
 * filter, which is what makes Pillow's downscaling alias-free. The taps are
 * normalised to sum 1, then converted to fixed point with 22 fractional bits
 * (PRECISION_BITS = 32 - 8 - 2: 8 bits of pixel, 2 bits of headroom for
 * negative lobes). Each pass accumulates in int32 starting at half an ulp
 * and clips to 0..255; the horizontal pass goes first and its result is
 * rounded to 8 bits before the vertical pass reads it. A pass is skipped
 * when its size does not change (as Pillow does).
 *
 * NEAREST follows Pillow's affine scaling: source index floor(x0 + (i + 0.5)
 * * scale), accumulated step by step as Pillow does.
 */
#include "image/image_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PRECISION_BITS (32 - 8 - 2)

typedef struct {
    double (*fn)(double x);
    double support;
} filter_def;

static double box_filter(double x)
{
    if (x > -0.5 && x <= 0.5) return 1.0;
    return 0.0;
}

static double bilinear_filter(double x)
{
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

static double hamming_filter(double x)
{
    if (x < 0.0) x = -x;
    if (x == 0.0) return 1.0;
    if (x >= 1.0) return 0.0;
    x = x * M_PI;
    return sin(x) / x * (0.54 + 0.46 * cos(x));
}

static double bicubic_filter(double x)
{
    /* Keys' cubic convolution with a = -0.5 */
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double sinc_filter(double x)
{
    if (x == 0.0) return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}

static double lanczos_filter(double x)
{
    /* truncated sinc: -3 <= x < 3 */
    if (-3.0 <= x && x < 3.0) return sinc_filter(x) * sinc_filter(x / 3);
    return 0.0;
}

static const filter_def *filter_for(ev_interp interp)
{
    static const filter_def BOX = {box_filter, 0.5}, BILINEAR = {bilinear_filter, 1.0},
                            HAMMING = {hamming_filter, 1.0}, BICUBIC = {bicubic_filter, 2.0},
                            LANCZOS = {lanczos_filter, 3.0};
    switch (interp) {
    case EV_INTERP_BOX: return &BOX;
    case EV_INTERP_BILINEAR: return &BILINEAR;
    case EV_INTERP_HAMMING: return &HAMMING;
    case EV_INTERP_BICUBIC: return &BICUBIC;
    case EV_INTERP_LANCZOS: return &LANCZOS;
    default: return NULL;
    }
}

/* Fixed-point coefficients for out_size outputs over in_size inputs.
 * bounds[2i] = first input index, bounds[2i+1] = number of taps. */
static ev_status precompute(int in_size, int out_size, const filter_def *f, int antialias, int **boundsp,
                            int32_t **kkp, int *ksizep, ev_err *e)
{
    double scale = (double)in_size / out_size;
    double filterscale = scale;
    if (filterscale < 1.0 || !antialias) filterscale = 1.0;
    double support = f->support * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    size_t nk;
    if (!ev_mul_sz((size_t)out_size, (size_t)ksize, &nk) || nk > ((size_t)1 << 28))
        return ev_err_set(e, EV_ERR_LIMIT, "resize %d -> %d needs too many filter taps", in_size, out_size);
    double *kd = malloc(nk * sizeof *kd);
    int32_t *kk = malloc(nk * sizeof *kk);
    int *bounds = malloc((size_t)out_size * 2 * sizeof *bounds);
    if (!kd || !kk || !bounds) {
        free(kd);
        free(kk);
        free(bounds);
        return ev_err_set(e, EV_ERR_NOMEM, "out of memory (resize coefficients)");
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = &kd[(size_t)xx * ksize];
        int x;
        for (x = 0; x < xmax; x++) {
            double w = f->fn((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        bounds[xx * 2 + 0] = xmin;
        bounds[xx * 2 + 1] = xmax;
    }
    for (size_t i = 0; i < nk; i++)
        kk[i] = kd[i] < 0 ? (int32_t)(-0.5 + kd[i] * (1 << PRECISION_BITS))
                          : (int32_t)(0.5 + kd[i] * (1 << PRECISION_BITS));
    free(kd);
    *boundsp = bounds;
    *kkp = kk;
    *ksizep = ksize;
    return EV_OK;
}

static inline uint8_t clip8(int32_t v)
{
    v >>= PRECISION_BITS; /* arithmetic shift, as Pillow's lookup index */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static ev_status resample_nearest(const uint8_t *src, int in_w, int in_h, int c, int out_w, int out_h, int x0, int y0,
                                  int ww, int wh, uint8_t *dst, ev_err *e)
{
    int *xin = malloc((size_t)out_w * sizeof *xin);
    int *yin = malloc((size_t)out_h * sizeof *yin);
    if (!xin || !yin) {
        free(xin);
        free(yin);
        return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    }
    double sx = (double)in_w / out_w, sy = (double)in_h / out_h;
    double xo = sx * 0.5;
    for (int x = 0; x < out_w; x++) {
        int v = xo < 0.0 ? -1 : (int)xo;
        xin[x] = v < 0 ? 0 : v >= in_w ? in_w - 1 : v;
        xo += sx;
    }
    double yo = sy * 0.5;
    for (int y = 0; y < out_h; y++) {
        int v = yo < 0.0 ? -1 : (int)yo;
        yin[y] = v < 0 ? 0 : v >= in_h ? in_h - 1 : v;
        yo += sy;
    }
    for (int y = 0; y < wh; y++) {
        const uint8_t *row = src + (size_t)yin[y0 + y] * in_w * c;
        uint8_t *d = dst + (size_t)y * ww * c;
        for (int x = 0; x < ww; x++) memcpy(d + (size_t)x * c, row + (size_t)xin[x0 + x] * c, (size_t)c);
    }
    free(xin);
    free(yin);
    return EV_OK;
}

ev_status ev_resample_window(const uint8_t *src, int in_w, int in_h, int c, int out_w, int out_h, ev_interp interp,
                             int antialias, int x0, int y0, int ww, int wh, uint8_t *dst, ev_err *e)
{
    if (in_w <= 0 || in_h <= 0 || out_w <= 0 || out_h <= 0 || c <= 0 || c > 4 || x0 < 0 || y0 < 0 || ww <= 0 ||
        wh <= 0 || x0 + ww > out_w || y0 + wh > out_h)
        return ev_err_set(e, EV_ERR_INVALID_ARG, "bad resize window");
    if (interp == EV_INTERP_NEAREST) return resample_nearest(src, in_w, in_h, c, out_w, out_h, x0, y0, ww, wh, dst, e);
    const filter_def *f = filter_for(interp);
    if (!f) return ev_err_set(e, EV_ERR_INVALID_ARG, "unknown interpolation %d", (int)interp);
    bool need_h = out_w != in_w, need_v = out_h != in_h;

    int *bh = NULL, *bv = NULL, ksh = 0, ksv = 0;
    int32_t *kh = NULL, *kv = NULL;
    ev_status st = EV_OK;
    if (need_h) st = precompute(in_w, out_w, f, antialias, &bh, &kh, &ksh, e);
    if (st == EV_OK && need_v) st = precompute(in_h, out_h, f, antialias, &bv, &kv, &ksv, e);
    if (st != EV_OK) goto done;

    /* input rows the vertical pass reads for output rows y0 .. y0+wh-1 */
    int r0 = y0, r1 = y0 + wh; /* no vertical pass: the same rows */
    if (need_v) {
        r0 = bv[2 * y0];
        r1 = bv[2 * (y0 + wh - 1)] + bv[2 * (y0 + wh - 1) + 1];
    }
    /* horizontal pass over rows r0..r1 and output columns x0..x0+ww into tmp */
    const uint8_t *tmp;
    size_t tstride;
    uint8_t *tbuf = NULL;
    if (need_h) {
        size_t n;
        if (!ev_mul_sz((size_t)(r1 - r0), (size_t)ww * c, &n)) {
            st = ev_err_set(e, EV_ERR_LIMIT, "resize too large");
            goto done;
        }
        tbuf = malloc(n ? n : 1);
        if (!tbuf) {
            st = ev_err_set(e, EV_ERR_NOMEM, "out of memory (resize)");
            goto done;
        }
        for (int y = r0; y < r1; y++) {
            const uint8_t *row = src + (size_t)y * in_w * c;
            uint8_t *d = tbuf + (size_t)(y - r0) * ww * c;
            for (int xx = 0; xx < ww; xx++) {
                int ox = x0 + xx, xmin = bh[2 * ox], xmax = bh[2 * ox + 1];
                const int32_t *k = kh + (size_t)ox * ksh;
                const uint8_t *s = row + (size_t)xmin * c;
                if (c == 3) {
                    int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                    for (int x = 0; x < xmax; x++) {
                        s0 += s[3 * x + 0] * k[x];
                        s1 += s[3 * x + 1] * k[x];
                        s2 += s[3 * x + 2] * k[x];
                    }
                    d[3 * xx + 0] = clip8(s0);
                    d[3 * xx + 1] = clip8(s1);
                    d[3 * xx + 2] = clip8(s2);
                } else {
                    for (int ch = 0; ch < c; ch++) {
                        int32_t s0 = 1 << (PRECISION_BITS - 1);
                        for (int x = 0; x < xmax; x++) s0 += s[c * x + ch] * k[x];
                        d[c * xx + ch] = clip8(s0);
                    }
                }
            }
        }
        tmp = tbuf;
        tstride = (size_t)ww * c;
    } else {
        tmp = src + (size_t)r0 * in_w * c + (size_t)x0 * c; /* same columns */
        tstride = (size_t)in_w * c;
    }
    /* vertical pass */
    for (int yy = 0; yy < wh; yy++) {
        uint8_t *d = dst + (size_t)yy * ww * c;
        if (!need_v) {
            memcpy(d, tmp + (size_t)(y0 + yy - r0) * tstride, (size_t)ww * c);
            continue;
        }
        int oy = y0 + yy, ymin = bv[2 * oy] - r0, ymax = bv[2 * oy + 1];
        const int32_t *k = kv + (size_t)oy * ksv;
        for (int xx = 0; xx < ww * c; xx++) {
            int32_t s0 = 1 << (PRECISION_BITS - 1);
            const uint8_t *s = tmp + (size_t)ymin * tstride + xx;
            for (int y = 0; y < ymax; y++) s0 += s[(size_t)y * tstride] * k[y];
            d[xx] = clip8(s0);
        }
    }
    free(tbuf);
done:
    free(bh);
    free(bv);
    free(kh);
    free(kv);
    return st;
}
