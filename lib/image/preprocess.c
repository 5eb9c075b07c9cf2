/*
 * lib/image/preprocess.c — resize, centre crop, normalise into a float
 * tensor, the way torchvision's Resize / CenterCrop / ToTensor / Normalize
 * do on a PIL image (torchvision 0.14 + Pillow 9).
 *
 *   Resize(S):      shorter side to S, longer to int(S * long / short);
 *                   no resize when the size already matches.
 *   CenterCrop(c):  offset round((size - c) / 2) with Python's round (half
 *                   to even); if c > size the image is first zero-padded by
 *                   (c - size) // 2 before and the rest after.
 *   ToTensor:       float32(v) / 255; Normalize: (x - mean) / std in float32.
 */
#include "image/image_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIDE 16384
#define FAST_REDUCING_GAP 2

ev_preprocess ev_preprocess_default(void)
{
    ev_preprocess p;
    memset(&p, 0, sizeof p);
    p.resize_mode = EV_RESIZE_SHORTER;
    p.resize_size = 256; /* floor(224 / 0.875) */
    p.interp = EV_INTERP_BICUBIC;
    p.antialias = 1;
    p.crop_h = p.crop_w = 224;
    p.range = 1.0f;
    p.mean[0] = 0.485f;
    p.mean[1] = 0.456f;
    p.mean[2] = 0.406f;
    p.std[0] = 0.229f;
    p.std[1] = 0.224f;
    p.std[2] = 0.225f;
    p.layout = EV_LAYOUT_NCHW;
    return p;
}

static ev_status bad(char *errbuf, size_t errlen, const char *msg)
{
    if (errbuf && errlen) snprintf(errbuf, errlen, "invalid preprocessing: %s", msg);
    return EV_ERR_INVALID_ARG;
}

ev_status ev_preprocess_validate(const ev_preprocess *p, char *errbuf, size_t errlen)
{
    if (!p) return bad(errbuf, errlen, "missing");
    switch (p->resize_mode) {
    case EV_RESIZE_NONE: break;
    case EV_RESIZE_SHORTER:
        if (p->resize_size < 1 || p->resize_size > MAX_SIDE) return bad(errbuf, errlen, "resize size out of 1..16384");
        break;
    case EV_RESIZE_EXACT:
        if (p->resize_h < 1 || p->resize_h > MAX_SIDE || p->resize_w < 1 || p->resize_w > MAX_SIDE)
            return bad(errbuf, errlen, "resize height/width out of 1..16384");
        break;
    default: return bad(errbuf, errlen, "unknown resize mode");
    }
    if (p->crop_h < 0 || p->crop_w < 0 || p->crop_h > MAX_SIDE || p->crop_w > MAX_SIDE || (!p->crop_h != !p->crop_w))
        return bad(errbuf, errlen, "crop height/width out of 1..16384");
    if (!p->crop_h && p->resize_mode != EV_RESIZE_EXACT)
        return bad(errbuf, errlen, "the output size is not fixed: give a crop or an exact resize");
    if ((int)p->interp < EV_INTERP_NEAREST || (int)p->interp > EV_INTERP_HAMMING)
        return bad(errbuf, errlen, "unknown interpolation");
    if (!(p->range == 1.0f || p->range == 255.0f)) return bad(errbuf, errlen, "range must be 1 or 255");
    for (int c = 0; c < 3; c++) {
        if (!isfinite(p->mean[c]) || !isfinite(p->std[c])) return bad(errbuf, errlen, "mean/std must be finite");
        if (p->std[c] == 0.0f) return bad(errbuf, errlen, "std must not be zero");
    }
    if (p->layout != EV_LAYOUT_NCHW && p->layout != EV_LAYOUT_NHWC) return bad(errbuf, errlen, "unknown layout");
    return EV_OK;
}

ev_status ev_preprocess_output_size(const ev_preprocess *p, int *c, int *h, int *w)
{
    if (ev_preprocess_validate(p, NULL, 0) != EV_OK) return EV_ERR_INVALID_ARG;
    *c = 3;
    *h = p->crop_h ? p->crop_h : p->resize_h;
    *w = p->crop_w ? p->crop_w : p->resize_w;
    return EV_OK;
}

static const char *interp_name(ev_interp i)
{
    switch (i) {
    case EV_INTERP_NEAREST: return "nearest";
    case EV_INTERP_LANCZOS: return "lanczos";
    case EV_INTERP_BILINEAR: return "bilinear";
    case EV_INTERP_BICUBIC: return "bicubic";
    case EV_INTERP_BOX: return "box";
    case EV_INTERP_HAMMING: return "hamming";
    }
    return "?";
}

ev_status ev_preprocess_describe(const ev_preprocess *p, ev_image_mode mode, const ev_decode_options *dopt, char *buf,
                                 size_t len)
{
    if (ev_preprocess_validate(p, buf, len) != EV_OK) return EV_ERR_INVALID_ARG;
    ev_decode_options d = dopt ? *dopt : ev_decode_default_options();
    char rs[64];
    if (p->resize_mode == EV_RESIZE_SHORTER) snprintf(rs, sizeof rs, "shorter:%d", p->resize_size);
    else if (p->resize_mode == EV_RESIZE_EXACT) snprintf(rs, sizeof rs, "exact:%dx%d", p->resize_h, p->resize_w);
    else snprintf(rs, sizeof rs, "none");
    int n = snprintf(buf, len,
                     "embeval-preprocess/1 mode=%s resize=%s interp=%s aa=%d crop=%dx%d order=%s range=%g "
                     "mean=%.9g,%.9g,%.9g std=%.9g,%.9g,%.9g layout=%s bg=%d,%d,%d autorot=%d",
                     mode == EV_IMAGE_FAST ? "fast" : "exact", rs, interp_name(p->interp), p->antialias ? 1 : 0,
                     p->crop_h, p->crop_w, p->bgr ? "BGR" : "RGB", (double)p->range, (double)p->mean[0],
                     (double)p->mean[1], (double)p->mean[2], (double)p->std[0], (double)p->std[1], (double)p->std[2],
                     p->layout == EV_LAYOUT_NHWC ? "NHWC" : "NCHW", d.background[0], d.background[1], d.background[2],
                     d.no_autorotate ? 0 : 1);
    return (n > 0 && (size_t)n < len) ? EV_OK : EV_ERR_INVALID_ARG;
}

/* Python's round((size - c) / 2) for non-negative size - c. */
static int round_half_even_div2(int d)
{
    int k = d / 2;
    if (d % 2 == 0) return k;
    return (k % 2 == 0) ? k : k + 1;
}

/* Crop offset in resized coordinates: output index o reads resized index
 * o + off (negative off = zero padding before). */
static int crop_offset(int size, int c)
{
    if (c > size) return -((c - size) / 2);
    return round_half_even_div2(size - c);
}

static void resized_dims(const ev_preprocess *p, int w, int h, int *rw, int *rh)
{
    if (p->resize_mode == EV_RESIZE_SHORTER) {
        int s = p->resize_size;
        if (w <= h) {
            *rw = s;
            *rh = (int)((double)((int64_t)s * h) / w);
        } else {
            *rh = s;
            *rw = (int)((double)((int64_t)s * w) / h);
        }
        if (*rw < 1) *rw = 1;
        if (*rh < 1) *rh = 1;
    } else if (p->resize_mode == EV_RESIZE_EXACT) {
        *rw = p->resize_w;
        *rh = p->resize_h;
    } else {
        *rw = w;
        *rh = h;
    }
}

/* The core: pixels (c = 1 grey or 3 RGB) -> float tensor. */
static ev_status preprocess_pixels(const ev_preprocess *p, const uint8_t *px, int w, int h, int c, float *out,
                                   ev_err *e)
{
    int oc, oh, ow;
    if (ev_preprocess_output_size(p, &oc, &oh, &ow) != EV_OK)
        return ev_err_set(e, EV_ERR_INVALID_ARG, "invalid preprocessing");
    int rw, rh;
    resized_dims(p, w, h, &rw, &rh);
    if ((int64_t)rw * rh > ((int64_t)1 << 28))
        return ev_err_set(e, EV_ERR_LIMIT, "resized image %dx%d is too large", rw, rh);
    int offx = p->crop_w ? crop_offset(rw, p->crop_w) : 0;
    int offy = p->crop_h ? crop_offset(rh, p->crop_h) : 0;
    /* window of the resized image that lands inside the output */
    int wx0 = offx < 0 ? 0 : offx, wy0 = offy < 0 ? 0 : offy;
    int wx1 = offx + ow < rw ? offx + ow : rw, wy1 = offy + oh < rh ? offy + oh : rh;
    int ww = wx1 - wx0, wh = wy1 - wy0;

    /* lookup tables: output channel k reads source channel src_ch[k] */
    float lut[3][256];
    int src_ch[3];
    for (int k = 0; k < 3; k++) {
        src_ch[k] = c == 1 ? 0 : (p->bgr ? 2 - k : k);
        for (int v = 0; v < 256; v++) {
            float x = p->range == 1.0f ? (float)v / 255.0f : (float)v;
            lut[k][v] = (x - p->mean[k]) / p->std[k];
        }
    }
    size_t plane = (size_t)oh * ow;
    /* padding (zero pixels) where the crop is larger than the image */
    if (ww < ow || wh < oh) {
        for (int k = 0; k < 3; k++) {
            float z = lut[k][0];
            for (size_t i = 0; i < plane; i++) {
                if (p->layout == EV_LAYOUT_NCHW) out[k * plane + i] = z;
                else out[i * 3 + k] = z;
            }
        }
    }
    if (ww <= 0 || wh <= 0) return EV_OK;
    uint8_t *win = malloc((size_t)ww * wh * c);
    if (!win) return ev_err_set(e, EV_ERR_NOMEM, "out of memory (preprocess)");
    ev_status st = ev_resample_window(px, w, h, c, rw, rh, p->interp, p->antialias, wx0, wy0, ww, wh, win, e);
    if (st != EV_OK) {
        free(win);
        return st;
    }
    /* place the window: output (y, x) <- window (y + offy - wy0, x + offx - wx0) */
    int dx = wx0 - offx, dy = wy0 - offy; /* output coordinates of the window's corner */
    for (int y = 0; y < wh; y++) {
        const uint8_t *s = win + (size_t)y * ww * c;
        size_t orow = (size_t)(y + dy) * ow + dx;
        if (p->layout == EV_LAYOUT_NCHW) {
            for (int k = 0; k < 3; k++) {
                float *d = out + k * plane + orow;
                const float *L = lut[k];
                int sc = src_ch[k];
                for (int x = 0; x < ww; x++) d[x] = L[s[x * c + sc]];
            }
        } else {
            float *d = out + orow * 3;
            for (int x = 0; x < ww; x++)
                for (int k = 0; k < 3; k++) d[3 * x + k] = lut[k][s[x * c + src_ch[k]]];
        }
    }
    free(win);
    return EV_OK;
}

ev_status ev_preprocess_apply(const ev_preprocess *p, const ev_image *img, float *out, char *errbuf, size_t errlen)
{
    ev_err e;
    ev_err_clear(&e);
    if (!img || !img->data || img->width <= 0 || img->height <= 0 || (img->channels != 3 && img->channels != 1)) {
        ev_err_set(&e, EV_ERR_INVALID_ARG, "invalid image");
    } else if (ev_preprocess_validate(p, errbuf, errlen) != EV_OK) {
        return EV_ERR_INVALID_ARG;
    } else {
        preprocess_pixels(p, img->data, img->width, img->height, img->channels, out, &e);
    }
    ev_err_copy(&e, errbuf, errlen);
    return e.code;
}

/* internal: in-memory dataset pixels (grey or RGB), no copy */
ev_status ev_preprocess_pixels_internal(const ev_preprocess *p, const uint8_t *px, int w, int h, int c, float *out,
                                        ev_err *e)
{
    if (!px || w <= 0 || h <= 0 || (c != 1 && c != 3)) return ev_err_set(e, EV_ERR_INVALID_ARG, "invalid pixels");
    return preprocess_pixels(p, px, w, h, c, out, e);
}

int ev_preprocess_shrink_target(const ev_preprocess *p, ev_image_mode mode)
{
    if (mode != EV_IMAGE_FAST) return 0;
    if (p->resize_mode == EV_RESIZE_SHORTER) return FAST_REDUCING_GAP * p->resize_size;
    if (p->resize_mode == EV_RESIZE_EXACT)
        return FAST_REDUCING_GAP * (p->resize_h > p->resize_w ? p->resize_h : p->resize_w);
    return 0;
}

ev_status ev_preprocess_encoded(const ev_preprocess *p, ev_image_mode mode, const ev_decode_options *dopt,
                                const void *buf, size_t len, const char *name, float *out, char *errbuf,
                                size_t errlen)
{
    if (ev_preprocess_validate(p, errbuf, errlen) != EV_OK) return EV_ERR_INVALID_ARG;
    ev_decode_options d = dopt ? *dopt : ev_decode_default_options();
    d.shrink_min_side = ev_preprocess_shrink_target(p, mode);
    ev_image img;
    ev_status st = ev_image_decode(buf, len, name, &d, &img, errbuf, errlen);
    if (st != EV_OK) return st;
    ev_err e;
    ev_err_clear(&e);
    st = preprocess_pixels(p, img.data, img.width, img.height, 3, out, &e);
    ev_image_free(&img);
    if (st != EV_OK) {
        ev_err_prefix(&e, "%s", name ? name : "<memory>");
        ev_err_copy(&e, errbuf, errlen);
    }
    return st;
}

ev_status ev_image_resize(const ev_image *in, int out_w, int out_h, ev_interp interp, int antialias, ev_image *out,
                          char *errbuf, size_t errlen)
{
    ev_err e;
    ev_err_clear(&e);
    memset(out, 0, sizeof *out);
    if (!in || !in->data || in->channels < 1 || in->channels > 4 || out_w < 1 || out_h < 1 || out_w > MAX_SIDE ||
        out_h > MAX_SIDE) {
        ev_err_set(&e, EV_ERR_INVALID_ARG, "invalid resize arguments");
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    uint8_t *d = malloc((size_t)out_w * out_h * in->channels);
    if (!d) return EV_ERR_NOMEM;
    ev_status st = ev_resample_window(in->data, in->width, in->height, in->channels, out_w, out_h, interp, antialias,
                                      0, 0, out_w, out_h, d, &e);
    if (st != EV_OK) {
        free(d);
        ev_err_copy(&e, errbuf, errlen);
        return st;
    }
    out->data = d;
    out->width = out_w;
    out->height = out_h;
    out->channels = in->channels;
    return EV_OK;
}
