/*
 * lib/image/decode.c — encoded image -> 8-bit sRGB RGB with libvips.
 *
 * Steps: sniff the format from magic bytes (the file name is never
 * trusted); open the header with the matching libvips loader (lazy: no
 * pixels yet) with fail_on=error so truncation is an error; check the pixel
 * limit and minimum size on the header; in fast mode reopen JPEGs with
 * shrink-on-load; convert to sRGB (ICC for CMYK), flatten alpha onto the
 * background, cast 16-bit to 8-bit (high byte), force three bands; render
 * into memory; apply the EXIF orientation while copying into the result.
 *
 * libvips keeps one global error buffer: messages from images decoded at
 * the same time on other threads may mix into the detail we quote, so our
 * own text (file name + what failed) always comes first.
 */
#include "image/image_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#define DEFAULT_MAX_PIXELS ((int64_t)100000000)
#define DEFAULT_MAX_FILE ((int64_t)512 << 20)
#define DEFAULT_MIN_SIDE 8

ev_decode_options ev_decode_default_options(void)
{
    ev_decode_options o;
    memset(&o, 0, sizeof o);
    o.max_pixels = DEFAULT_MAX_PIXELS;
    o.max_file_bytes = DEFAULT_MAX_FILE;
    o.min_side = DEFAULT_MIN_SIDE;
    o.background[0] = o.background[1] = o.background[2] = 255;
    return o;
}

/* ---- one-time libvips start ------------------------------------------------ */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_vips_ok;
static char g_vips_err[256];

/* libvips reports through GLib logging, whose default handler prints to
 * stderr; the library never prints, so route it to the log callback. */
static void glib_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer user)
{
    (void)user;
    (void)level;
    ev_log(EV_LOG_DEBUG, "%s: %s", domain ? domain : "glib", msg);
}

static void vips_start(void)
{
    g_log_set_handler("VIPS", (GLogLevelFlags)(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO |
                                               G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_CRITICAL),
                      glib_log, NULL);
    if (VIPS_INIT("embeval") != 0) {
        snprintf(g_vips_err, sizeof g_vips_err, "libvips failed to start: %s", vips_error_buffer());
        vips_error_clear();
        return;
    }
    /* embeval parallelises across images; one libvips worker per pipeline */
    vips_concurrency_set(1);
    /* the operation cache would keep references to caller buffers */
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    /* no ImageMagick / PDF / ... loaders on untrusted files */
    vips_block_untrusted_set(TRUE);
    g_vips_ok = 1;
}

ev_status ev_image_init(char *errbuf, size_t errlen)
{
    pthread_once(&g_once, vips_start);
    if (!g_vips_ok) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "%s", g_vips_err);
        return EV_ERR_BACKEND;
    }
    return EV_OK;
}

void ev_image_thread_cleanup(void)
{
    if (g_vips_ok) vips_thread_shutdown();
}

/* First line of libvips' error buffer (cleared). */
static void vips_detail(char *buf, size_t len)
{
    char *all = vips_error_buffer_copy();
    buf[0] = 0;
    if (!all) return;
    char *nl = strchr(all, '\n');
    if (nl) *nl = 0;
    snprintf(buf, len, "%s", all);
    g_free(all);
}

/* ---- format sniffing -------------------------------------------------------- */
typedef enum { F_UNKNOWN, F_JPEG, F_PNG, F_GIF, F_WEBP, F_TIFF, F_PNM, F_BMP, F_HEIF, F_OTHER } fmt_kind;

static fmt_kind sniff(const uint8_t *b, size_t n, const char **name)
{
    *name = "unknown";
    if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) { *name = "JPEG"; return F_JPEG; }
    if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) { *name = "PNG"; return F_PNG; }
    if (n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6))) { *name = "GIF"; return F_GIF; }
    if (n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4)) { *name = "WebP"; return F_WEBP; }
    if (n >= 4 && (!memcmp(b, "II*\0", 4) || !memcmp(b, "MM\0*", 4) || !memcmp(b, "II+\0", 4) ||
                   !memcmp(b, "MM\0+", 4))) {
        *name = "TIFF";
        return F_TIFF;
    }
    if (n >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6' && (b[2] == ' ' || b[2] == '\n' || b[2] == '\r' ||
                                                                b[2] == '\t')) {
        *name = "PNM";
        return F_PNM;
    }
    if (n >= 2 && b[0] == 'B' && b[1] == 'M') { *name = "BMP"; return F_BMP; }
    if (n >= 12 && !memcmp(b + 4, "ftyp", 4)) { *name = "HEIF/AVIF"; return F_HEIF; }
    if (n >= 4 && !memcmp(b, "%PDF", 4)) { *name = "PDF"; return F_OTHER; }
    if (n >= 4 && (!memcmp(b, "<svg", 4) || !memcmp(b, "<?xm", 4))) { *name = "SVG/XML"; return F_OTHER; }
    return F_UNKNOWN;
}

/* ---- PNM (P5 grey, P6 RGB; binary) ------------------------------------------
 * libvips counts its PPM loader as untrusted, so a small strict parser:
 * "P5"/"P6", whitespace/comments, width, height, maxval (1..65535), one
 * whitespace byte, then exactly width*height*channels samples (1 or 2 bytes
 * big-endian). Samples are scaled to 0..255 as v * 255 / maxval, rounded. */
static const uint8_t *pnm_token(const uint8_t *p, const uint8_t *end, long *v)
{
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        if (p < end && *p == '#') {
            while (p < end && *p != '\n') p++;
            continue;
        }
        break;
    }
    long x = 0;
    const uint8_t *s = p;
    while (p < end && *p >= '0' && *p <= '9' && p - s < 7) x = x * 10 + (*p++ - '0');
    if (p == s || (p < end && *p >= '0' && *p <= '9')) return NULL;
    *v = x;
    return p;
}

static ev_status pnm_decode(const uint8_t *b, size_t len, const char *name, const ev_decode_options *o,
                            ev_image *out, ev_err *e)
{
    const uint8_t *end = b + len, *p = b + 2;
    if (b[1] != '5' && b[1] != '6')
        return ev_err_set(e, EV_ERR_UNSUPPORTED, "%s: ASCII or bitmap PNM (P%c) is not supported (P5, P6 are)", name,
                          b[1]);
    int ch = b[1] == '6' ? 3 : 1;
    long w, h, maxval;
    if (!(p = pnm_token(p, end, &w)) || !(p = pnm_token(p, end, &h)) || !(p = pnm_token(p, end, &maxval)) ||
        p >= end || w < 1 || h < 1 || maxval < 1 || maxval > 65535)
        return ev_err_set(e, EV_ERR_FORMAT, "%s: malformed PNM header", name);
    p++; /* the single whitespace byte */
    if ((int64_t)w * h > o->max_pixels)
        return ev_err_set(e, EV_ERR_LIMIT, "%s: image is %ldx%ld (%lld pixels), over the limit of %lld pixels", name, w,
                          h, (long long)w * h, (long long)o->max_pixels);
    if (w < o->min_side || h < o->min_side)
        return ev_err_set(e, EV_ERR_LIMIT, "%s: image is %ldx%ld, smaller than the minimum side of %d pixels", name, w,
                          h, o->min_side);
    size_t bps = maxval > 255 ? 2 : 1, n = (size_t)w * h * ch;
    if ((size_t)(end - p) < n * bps)
        return ev_err_set(e, EV_ERR_FORMAT, "%s: truncated or corrupt PNM data (%zu of %zu bytes)", name,
                          (size_t)(end - p), n * bps);
    uint8_t *d = malloc((size_t)w * h * 3);
    if (!d) return ev_err_set(e, EV_ERR_NOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < n; i++) {
        long v = bps == 2 ? (p[2 * i] << 8 | p[2 * i + 1]) : p[i];
        if (v > maxval) v = maxval;
        uint8_t u = (uint8_t)((v * 255 + maxval / 2) / maxval);
        if (ch == 3) d[i] = u;
        else d[3 * i] = d[3 * i + 1] = d[3 * i + 2] = u;
    }
    out->data = d;
    out->width = (int)w;
    out->height = (int)h;
    out->channels = 3;
    return EV_OK;
}

static VipsImage *load(fmt_kind k, const void *buf, size_t len, int shrink)
{
    VipsImage *im = NULL;
    void *b = (void *)buf; /* libvips' buffer loaders take a non-const pointer but do not write */
    switch (k) {
    case F_JPEG:
        if (vips_jpegload_buffer(b, len, &im, "fail_on", VIPS_FAIL_ON_ERROR, "access", VIPS_ACCESS_SEQUENTIAL,
                                 "shrink", shrink, NULL))
            return NULL;
        return im;
    case F_PNG:
        if (vips_pngload_buffer(b, len, &im, "fail_on", VIPS_FAIL_ON_ERROR, "access", VIPS_ACCESS_SEQUENTIAL, NULL))
            return NULL;
        return im;
    case F_GIF:
        if (vips_gifload_buffer(b, len, &im, "fail_on", VIPS_FAIL_ON_ERROR, "access", VIPS_ACCESS_SEQUENTIAL,
                                "page", 0, "n", 1, NULL))
            return NULL;
        return im;
    case F_WEBP:
        if (vips_webpload_buffer(b, len, &im, "fail_on", VIPS_FAIL_ON_ERROR, "access", VIPS_ACCESS_SEQUENTIAL,
                                 "page", 0, "n", 1, NULL))
            return NULL;
        return im;
    case F_TIFF:
        if (vips_tiffload_buffer(b, len, &im, "fail_on", VIPS_FAIL_ON_ERROR, "access", VIPS_ACCESS_SEQUENTIAL,
                                 "page", 0, "n", 1, NULL))
            return NULL;
        return im;
    default:
        return NULL;
    }
}

/* Replace *im by the result of an operation (unref the old one). */
#define STEP(call)                                                                                                     \
    do {                                                                                                               \
        VipsImage *nx_ = NULL;                                                                                         \
        if (call) goto vips_fail;                                                                                      \
        g_object_unref(im);                                                                                            \
        im = nx_;                                                                                                      \
    } while (0)

static ev_status finish_err(ev_err *e, char *errbuf, size_t errlen)
{
    ev_err_copy(e, errbuf, errlen);
    return e->code;
}

/* Copy src (w x h x 3) into dst applying EXIF orientation o (1..8).
 * Output size is (h x w) for orientations 5..8. */
static void orient_copy(const uint8_t *src, int w, int h, int o, uint8_t *dst)
{
    int ow = (o >= 5) ? h : w;
    for (int y = 0; y < h; y++) {
        const uint8_t *s = src + (size_t)y * w * 3;
        for (int x = 0; x < w; x++) {
            int dx, dy;
            switch (o) {
            case 2: dx = w - 1 - x; dy = y; break;             /* mirror horizontal */
            case 3: dx = w - 1 - x; dy = h - 1 - y; break;     /* rotate 180 */
            case 4: dx = x; dy = h - 1 - y; break;             /* mirror vertical */
            case 5: dx = y; dy = x; break;                     /* transpose */
            case 6: dx = h - 1 - y; dy = x; break;             /* rotate 90 CW */
            case 7: dx = h - 1 - y; dy = w - 1 - x; break;     /* transverse */
            case 8: dx = y; dy = w - 1 - x; break;             /* rotate 270 CW */
            default: dx = x; dy = y; break;
            }
            uint8_t *d = dst + ((size_t)dy * ow + dx) * 3;
            d[0] = s[3 * x];
            d[1] = s[3 * x + 1];
            d[2] = s[3 * x + 2];
        }
    }
}

ev_status ev_image_decode(const void *buf, size_t len, const char *name, const ev_decode_options *opt, ev_image *out,
                          char *errbuf, size_t errlen)
{
    ev_err e;
    ev_err_clear(&e);
    memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    ev_decode_options o = opt ? *opt : ev_decode_default_options();
    if (o.max_pixels <= 0) o.max_pixels = DEFAULT_MAX_PIXELS;
    if (o.min_side <= 0) o.min_side = 1;
    if (ev_image_init(errbuf, errlen) != EV_OK) return EV_ERR_BACKEND;
    if (len == 0) {
        ev_err_set(&e, EV_ERR_FORMAT, "%s: empty file (0 bytes)", name);
        return finish_err(&e, errbuf, errlen);
    }
    const char *fname;
    fmt_kind k = sniff(buf, len, &fname);
    if (k == F_UNKNOWN) {
        const uint8_t *b = buf;
        char hex[40] = "";
        size_t n = len < 8 ? len : 8;
        for (size_t i = 0; i < n; i++) snprintf(hex + 3 * i, sizeof hex - 3 * i, "%02x ", b[i]);
        ev_err_set(&e, EV_ERR_FORMAT,
                   "%s: not a supported image (JPEG, PNG, WebP, TIFF, GIF, PNM); it starts with bytes %s", name, hex);
        return finish_err(&e, errbuf, errlen);
    }
    if (k == F_BMP || k == F_HEIF || k == F_OTHER) {
        ev_err_set(&e, EV_ERR_UNSUPPORTED, "%s: %s images are not supported (JPEG, PNG, WebP, TIFF, GIF, PNM are)", name,
                   fname);
        return finish_err(&e, errbuf, errlen);
    }
    if (k == F_PNM) {
        if (pnm_decode(buf, len, name, &o, out, &e) != EV_OK) return finish_err(&e, errbuf, errlen);
        if (errbuf && errlen) errbuf[0] = 0;
        return EV_OK;
    }
    char detail[256];
    VipsImage *im = load(k, buf, len, 1);
    if (!im) {
        vips_detail(detail, sizeof detail);
        ev_err_set(&e, EV_ERR_FORMAT, "%s: cannot read the %s header (libvips: %s)", name, fname, detail);
        return finish_err(&e, errbuf, errlen);
    }
    int w = vips_image_get_width(im), h = vips_image_get_height(im);
    if ((int64_t)w * h > o.max_pixels) {
        g_object_unref(im);
        ev_err_set(&e, EV_ERR_LIMIT, "%s: image is %dx%d (%lld pixels), over the limit of %lld pixels", name, w, h,
                   (long long)w * h, (long long)o.max_pixels);
        return finish_err(&e, errbuf, errlen);
    }
    if (w < o.min_side || h < o.min_side) {
        g_object_unref(im);
        ev_err_set(&e, EV_ERR_LIMIT, "%s: image is %dx%d, smaller than the minimum side of %d pixels", name, w, h,
                   o.min_side);
        return finish_err(&e, errbuf, errlen);
    }
    if (vips_image_get_bands(im) > 16) {
        g_object_unref(im);
        ev_err_set(&e, EV_ERR_UNSUPPORTED, "%s: %d bands", name, vips_image_get_bands(im));
        return finish_err(&e, errbuf, errlen);
    }
    int orientation = o.no_autorotate ? 1 : vips_image_get_orientation(im);
    if (orientation < 1 || orientation > 8) orientation = 1;

    /* fast mode: JPEG shrink-on-load by the largest of 8, 4, 2 that keeps
       the shorter side at least shrink_min_side */
    if (k == F_JPEG && o.shrink_min_side > 0) {
        int shortest = w < h ? w : h, shrink = 1;
        for (int f = 8; f >= 2; f /= 2)
            if (shortest / f >= o.shrink_min_side) { shrink = f; break; }
        if (shrink > 1) {
            VipsImage *im2 = load(k, buf, len, shrink);
            if (im2) {
                g_object_unref(im);
                im = im2;
            } else {
                vips_error_clear();
            }
        }
    }

    VipsInterpretation interp = vips_image_guess_interpretation(im);
    if (interp == VIPS_INTERPRETATION_CMYK) {
        /* CMYK: ICC transform (embedded profile or libvips' built-in CMYK) */
        STEP(vips_icc_import(im, &nx_, "embedded", TRUE, "input_profile", "cmyk", NULL));
        STEP(vips_colourspace(im, &nx_, VIPS_INTERPRETATION_sRGB, NULL));
    } else if (interp == VIPS_INTERPRETATION_GREY16 || interp == VIPS_INTERPRETATION_RGB16 ||
               vips_image_get_format(im) == VIPS_FORMAT_USHORT) {
        /* 16-bit: keep the high byte (alpha included), as 8-bit decoders would */
        STEP(vips_rshift_const1(im, &nx_, 8, NULL));
        STEP(vips_cast_uchar(im, &nx_, NULL));
        interp = vips_image_get_bands(im) >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W;
        STEP(vips_copy(im, &nx_, "interpretation", interp, NULL));
    } else if (interp != VIPS_INTERPRETATION_sRGB && interp != VIPS_INTERPRETATION_B_W &&
               interp != VIPS_INTERPRETATION_MULTIBAND) {
        STEP(vips_colourspace(im, &nx_, VIPS_INTERPRETATION_sRGB, NULL));
    }
    if (vips_image_get_format(im) != VIPS_FORMAT_UCHAR) STEP(vips_cast_uchar(im, &nx_, NULL));
    if (vips_image_hasalpha(im)) {
        int bands = vips_image_get_bands(im);
        double bg[3] = {o.background[0], o.background[1], o.background[2]};
        if (bands == 2) {
            /* grey + alpha: flatten on the background's luma-free grey: use
               three bands so a coloured background is honoured */
            VipsImage *grey = NULL, *alpha = NULL, *rgb = NULL, *joined = NULL;
            VipsImage *parts[3];
            if (vips_extract_band(im, &grey, 0, NULL)) goto vips_fail;
            if (vips_extract_band(im, &alpha, 1, NULL)) { g_object_unref(grey); goto vips_fail; }
            parts[0] = parts[1] = parts[2] = grey;
            if (vips_bandjoin(parts, &rgb, 3, NULL)) { g_object_unref(grey); g_object_unref(alpha); goto vips_fail; }
            VipsImage *p2[2] = {rgb, alpha};
            int r = vips_bandjoin(p2, &joined, 2, NULL);
            g_object_unref(grey);
            g_object_unref(alpha);
            g_object_unref(rgb);
            if (r) goto vips_fail;
            g_object_unref(im);
            im = joined;
            STEP(vips_copy(im, &nx_, "interpretation", VIPS_INTERPRETATION_sRGB, NULL));
        }
        VipsArrayDouble *bga = vips_array_double_new(bg, 3);
        VipsImage *flat = NULL;
        int fr = vips_flatten(im, &flat, "background", bga, "max_alpha", 255.0, NULL);
        vips_area_unref(VIPS_AREA(bga)); /* the operation took its own reference */
        if (fr) goto vips_fail;
        g_object_unref(im);
        im = flat;
        if (vips_image_get_format(im) != VIPS_FORMAT_UCHAR) STEP(vips_cast_uchar(im, &nx_, NULL));
    }
    int bands = vips_image_get_bands(im);
    if (bands == 1) {
        VipsImage *parts[3] = {im, im, im};
        VipsImage *nx = NULL;
        if (vips_bandjoin(parts, &nx, 3, NULL)) goto vips_fail;
        g_object_unref(im);
        im = nx;
    } else if (bands == 2) {
        STEP(vips_extract_band(im, &nx_, 0, "n", 1, NULL));
        VipsImage *parts[3] = {im, im, im};
        VipsImage *nx = NULL;
        if (vips_bandjoin(parts, &nx, 3, NULL)) goto vips_fail;
        g_object_unref(im);
        im = nx;
    } else if (bands > 3) {
        STEP(vips_extract_band(im, &nx_, 0, "n", 3, NULL));
    }

    w = vips_image_get_width(im);
    h = vips_image_get_height(im);
    size_t size = 0;
    void *pix = vips_image_write_to_memory(im, &size);
    g_object_unref(im);
    im = NULL;
    if (!pix) {
        vips_detail(detail, sizeof detail);
        ev_err_set(&e, EV_ERR_FORMAT, "%s: truncated or corrupt %s data (libvips: %s)", name, fname, detail);
        return finish_err(&e, errbuf, errlen);
    }
    if (size != (size_t)w * h * 3) {
        g_free(pix);
        ev_err_set(&e, EV_ERR_INTERNAL, "%s: decoder returned %zu bytes for %dx%d RGB", name, size, w, h);
        return finish_err(&e, errbuf, errlen);
    }
    uint8_t *data = malloc(size);
    if (!data) {
        g_free(pix);
        ev_err_set(&e, EV_ERR_NOMEM, "%s: out of memory (%zu bytes)", name, size);
        return finish_err(&e, errbuf, errlen);
    }
    if (orientation == 1) memcpy(data, pix, size);
    else orient_copy(pix, w, h, orientation, data);
    g_free(pix);
    out->data = data;
    out->channels = 3;
    out->width = orientation >= 5 ? h : w;
    out->height = orientation >= 5 ? w : h;
    if (errbuf && errlen) errbuf[0] = 0;
    return EV_OK;

vips_fail:
    if (im) g_object_unref(im);
    vips_detail(detail, sizeof detail);
    ev_err_set(&e, EV_ERR_FORMAT, "%s: cannot convert the %s image to RGB (libvips: %s)", name, fname, detail);
    return finish_err(&e, errbuf, errlen);
}

ev_status ev_image_decode_file(const char *path, const ev_decode_options *opt, ev_image *out, char *errbuf,
                               size_t errlen)
{
    ev_err e;
    ev_err_clear(&e);
    memset(out, 0, sizeof *out);
    ev_decode_options o = opt ? *opt : ev_decode_default_options();
    if (o.max_file_bytes <= 0) o.max_file_bytes = DEFAULT_MAX_FILE;
    char *buf = NULL;
    size_t len = 0;
    if (ev_read_file(path, (size_t)o.max_file_bytes, &buf, &len, &e) != EV_OK) return finish_err(&e, errbuf, errlen);
    ev_status st = ev_image_decode(buf, len, path, &o, out, errbuf, errlen);
    free(buf);
    return st;
}

ev_status ev_image_from_pixels(const uint8_t *pixels, int width, int height, int channels, ev_image *out,
                               char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!pixels || width <= 0 || height <= 0 || (channels != 1 && channels != 3)) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "invalid in-memory image %dx%dx%d", width, height, channels);
        return EV_ERR_INVALID_ARG;
    }
    size_t n;
    if (!ev_mul_sz((size_t)width * 3, (size_t)height, &n)) return EV_ERR_LIMIT;
    uint8_t *d = malloc(n);
    if (!d) return EV_ERR_NOMEM;
    if (channels == 3) memcpy(d, pixels, n);
    else
        for (size_t i = 0; i < (size_t)width * height; i++) d[3 * i] = d[3 * i + 1] = d[3 * i + 2] = pixels[i];
    out->data = d;
    out->width = width;
    out->height = height;
    out->channels = 3;
    return EV_OK;
}

void ev_image_free(ev_image *img)
{
    if (!img) return;
    free(img->data);
    img->data = NULL;
    img->width = img->height = img->channels = 0;
}
