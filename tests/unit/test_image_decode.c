/* Image decoding: every supported format and conversion, and bad files. */
#include <sys/resource.h>
#include <sys/wait.h>
#include <vips/vips.h>
#include <zlib.h>

#include "embeval/image.h"
#include "pipeline/tu.h"

static char dir[512];

/* w x h x bands pattern */
static uint8_t *pattern(int w, int h, int bands)
{
    uint8_t *p = malloc((size_t)w * h * bands);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int b = 0; b < bands; b++) p[((size_t)y * w + x) * bands + b] = (uint8_t)(x * 7 + y * 13 + b * 50);
    return p;
}

static VipsImage *vimg(const void *px, int w, int h, int bands, VipsBandFormat fmt, VipsInterpretation interp)
{
    size_t es = fmt == VIPS_FORMAT_USHORT ? 2 : 1;
    VipsImage *im = vips_image_new_from_memory_copy(px, (size_t)w * h * bands * es, w, h, bands, fmt);
    VipsImage *out = NULL;
    vips_copy(im, &out, "interpretation", interp, NULL);
    g_object_unref(im);
    return out;
}

static ev_status decode(const void *buf, size_t len, ev_image *img, char *err, size_t errlen)
{
    ev_decode_options o = ev_decode_default_options();
    o.min_side = 1;
    return ev_image_decode(buf, len, "mem", &o, img, err, errlen);
}

static int maxdiff(const uint8_t *a, const uint8_t *b, size_t n)
{
    int m = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d > m) m = d;
    }
    return m;
}

static void test_formats(void)
{
    char err[512];
    ev_image img;
    void *buf;
    size_t len;
    int w = 37, h = 23;
    uint8_t *rgb = pattern(w, h, 3);
    VipsImage *im = vimg(rgb, w, h, 3, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);

    /* PNG 8-bit RGB: exact */
    CHECK(vips_pngsave_buffer(im, &buf, &len, NULL) == 0);
    CHECK_MSG(decode(buf, len, &img, err, sizeof err) == EV_OK, "%s", err);
    CHECK(img.width == w && img.height == h && img.channels == 3);
    CHECK(img.data && maxdiff(img.data, rgb, (size_t)w * h * 3) == 0);
    ev_image_free(&img);
    g_free(buf);
    /* WebP lossless and TIFF: exact */
    CHECK(vips_webpsave_buffer(im, &buf, &len, "lossless", TRUE, NULL) == 0);
    CHECK_MSG(decode(buf, len, &img, err, sizeof err) == EV_OK, "%s", err);
    CHECK(img.data && maxdiff(img.data, rgb, (size_t)w * h * 3) == 0);
    ev_image_free(&img);
    g_free(buf);
    CHECK(vips_tiffsave_buffer(im, &buf, &len, NULL) == 0);
    CHECK_MSG(decode(buf, len, &img, err, sizeof err) == EV_OK, "%s", err);
    CHECK(img.data && maxdiff(img.data, rgb, (size_t)w * h * 3) == 0);
    ev_image_free(&img);
    g_free(buf);
    /* JPEG: lossy but close */
    CHECK(vips_jpegsave_buffer(im, &buf, &len, "Q", 98, NULL) == 0);
    CHECK_MSG(decode(buf, len, &img, err, sizeof err) == EV_OK, "%s", err);
    CHECK(img.data && maxdiff(img.data, rgb, (size_t)w * h * 3) < 40);
    ev_image_free(&img);
    /* truncated JPEG: an error naming the data, not grey pixels */
    CHECK(decode(buf, len / 2, &img, err, sizeof err) == EV_ERR_FORMAT);
    CHECK_HAS(err, "mem: truncated or corrupt JPEG");
    CHECK(img.data == NULL);
    g_free(buf);
    g_object_unref(im);

    /* PNM (P6) */
    char pnm[64 + 37 * 23 * 3];
    int hl = snprintf(pnm, 64, "P6\n%d %d\n255\n", w, h);
    memcpy(pnm + hl, rgb, (size_t)w * h * 3);
    CHECK_MSG(decode(pnm, (size_t)hl + (size_t)w * h * 3, &img, err, sizeof err) == EV_OK, "%s", err);
    CHECK(img.data && maxdiff(img.data, rgb, (size_t)w * h * 3) == 0);
    ev_image_free(&img);

    /* greyscale PNG -> replicated */
    uint8_t *grey = pattern(w, h, 1);
    im = vimg(grey, w, h, 1, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_B_W);
    CHECK(vips_pngsave_buffer(im, &buf, &len, NULL) == 0);
    CHECK_MSG(decode(buf, len, &img, err, sizeof err) == EV_OK, "%s", err);
    CHECK(img.data && img.data[3 * 5] == grey[5] && img.data[3 * 5 + 1] == grey[5] && img.data[3 * 5 + 2] == grey[5]);
    ev_image_free(&img);
    g_free(buf);
    g_object_unref(im);

    /* 16-bit RGB PNG -> high byte */
    uint16_t *rgb16 = malloc(sizeof(uint16_t) * (size_t)w * h * 3);
    for (size_t i = 0; i < (size_t)w * h * 3; i++) rgb16[i] = (uint16_t)(rgb[i] * 256 + (i % 251));
    im = vimg(rgb16, w, h, 3, VIPS_FORMAT_USHORT, VIPS_INTERPRETATION_RGB16);
    CHECK(vips_pngsave_buffer(im, &buf, &len, "bitdepth", 16, NULL) == 0);
    CHECK_MSG(decode(buf, len, &img, err, sizeof err) == EV_OK, "%s", err);
    CHECK(img.data && maxdiff(img.data, rgb, (size_t)w * h * 3) == 0);
    ev_image_free(&img);
    g_free(buf);
    g_object_unref(im);
    /* 16-bit grey TIFF */
    uint16_t *g16 = malloc(sizeof(uint16_t) * (size_t)w * h);
    for (size_t i = 0; i < (size_t)w * h; i++) g16[i] = (uint16_t)(grey[i] * 256 + 255);
    im = vimg(g16, w, h, 1, VIPS_FORMAT_USHORT, VIPS_INTERPRETATION_GREY16);
    CHECK(vips_tiffsave_buffer(im, &buf, &len, NULL) == 0);
    CHECK_MSG(decode(buf, len, &img, err, sizeof err) == EV_OK, "%s", err);
    CHECK(img.data && img.data[3 * 7] == grey[7] && img.data[3 * 7 + 2] == grey[7]);
    ev_image_free(&img);
    g_free(buf);
    g_object_unref(im);

    /* RGBA: alpha 0 -> white background, alpha 255 -> colour, 128 -> blend */
    uint8_t rgba[4 * 3 * 8];
    for (int i = 0; i < 24; i++) {
        rgba[4 * i] = 200;
        rgba[4 * i + 1] = 10;
        rgba[4 * i + 2] = 0;
        rgba[4 * i + 3] = i < 8 ? 0 : i < 16 ? 255 : 128;
    }
    im = vimg(rgba, 8, 3, 4, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
    CHECK(vips_pngsave_buffer(im, &buf, &len, NULL) == 0);
    CHECK_MSG(decode(buf, len, &img, err, sizeof err) == EV_OK, "%s", err);
    if (img.data) {
        CHECK(img.data[0] == 255 && img.data[1] == 255 && img.data[2] == 255);
        CHECK(img.data[3 * 8] == 200 && img.data[3 * 8 + 1] == 10 && img.data[3 * 8 + 2] == 0);
        CHECK(abs(img.data[3 * 16] - 228) <= 1 && abs(img.data[3 * 16 + 1] - 132) <= 1 &&
              abs(img.data[3 * 16 + 2] - 127) <= 1);
    }
    ev_image_free(&img);
    /* a black background on request */
    ev_decode_options o = ev_decode_default_options();
    o.min_side = 1;
    o.background[0] = o.background[1] = o.background[2] = 0;
    CHECK(ev_image_decode(buf, len, "mem", &o, &img, err, sizeof err) == EV_OK);
    CHECK(img.data && img.data[0] == 0 && img.data[3 * 8] == 200);
    ev_image_free(&img);
    g_free(buf);
    g_object_unref(im);
    /* grey + alpha */
    uint8_t ga[2 * 8 * 2];
    for (int i = 0; i < 16; i++) {
        ga[2 * i] = 40;
        ga[2 * i + 1] = i < 8 ? 0 : 255;
    }
    im = vimg(ga, 8, 2, 2, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_B_W);
    CHECK(vips_pngsave_buffer(im, &buf, &len, NULL) == 0);
    CHECK_MSG(decode(buf, len, &img, err, sizeof err) == EV_OK, "%s", err);
    CHECK(img.data && img.data[0] == 255 && img.data[3 * 8] == 40 && img.data[3 * 8 + 2] == 40);
    ev_image_free(&img);
    g_free(buf);
    g_object_unref(im);

    /* palette PNG (few colours: lossless) */
    uint8_t pal[3 * 16 * 16];
    for (int i = 0; i < 256; i++) {
        pal[3 * i] = (uint8_t)((i % 4) * 80);
        pal[3 * i + 1] = (uint8_t)((i / 64) * 80);
        pal[3 * i + 2] = 30;
    }
    im = vimg(pal, 16, 16, 3, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
    CHECK(vips_pngsave_buffer(im, &buf, &len, "palette", TRUE, "dither", 0.0, "Q", 100, NULL) == 0);
    CHECK(len > 33 && ((uint8_t *)buf)[25] == 3); /* IHDR colour type 3: indexed */
    CHECK_MSG(decode(buf, len, &img, err, sizeof err) == EV_OK, "%s", err);
    CHECK(img.data && maxdiff(img.data, pal, sizeof pal) <= 2);
    ev_image_free(&img);
    g_free(buf);
    g_object_unref(im);

    /* GIF with two frames: the first one */
    uint8_t two[3 * 8 * 16];
    for (int i = 0; i < 8 * 16; i++) {
        uint8_t v = i < 64 ? 0 : 255;
        two[3 * i] = two[3 * i + 1] = two[3 * i + 2] = v;
    }
    im = vimg(two, 8, 16, 3, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
    vips_image_set_int(im, "page-height", 8);
    CHECK(vips_gifsave_buffer(im, &buf, &len, NULL) == 0);
    CHECK_MSG(decode(buf, len, &img, err, sizeof err) == EV_OK, "%s", err);
    CHECK(img.data && img.width == 8 && img.height == 8 && img.data[0] < 10 && img.data[3 * 63] < 10);
    ev_image_free(&img);
    g_free(buf);
    g_object_unref(im);

    /* CMYK JPEG: no ink -> white, full K -> dark */
    uint8_t cmyk[4 * 16 * 16];
    for (int i = 0; i < 256; i++) {
        cmyk[4 * i] = cmyk[4 * i + 1] = cmyk[4 * i + 2] = 0;
        cmyk[4 * i + 3] = i < 128 ? 0 : 255;
    }
    im = vimg(cmyk, 16, 16, 4, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_CMYK);
    CHECK(vips_jpegsave_buffer(im, &buf, &len, "Q", 100, NULL) == 0);
    CHECK_MSG(decode(buf, len, &img, err, sizeof err) == EV_OK, "%s", err);
    if (img.data) {
        CHECK_MSG(img.data[0] > 230 && img.data[1] > 230 && img.data[2] > 230, "%d %d %d", img.data[0], img.data[1],
                  img.data[2]);
        CHECK_MSG(img.data[3 * 255] < 80, "%d", img.data[3 * 255]);
    }
    ev_image_free(&img);
    g_free(buf);
    g_object_unref(im);

    /* EXIF orientation 6 (rotate 90 CW): a 40x20 image becomes 20x40; the
       top-left red block moves to the top-right */
    uint8_t *o6 = calloc(40 * 20 * 3, 1);
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) o6[(y * 40 + x) * 3] = 255;
    im = vimg(o6, 40, 20, 3, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
    vips_image_set_int(im, "orientation", 6);
    CHECK(vips_jpegsave_buffer(im, &buf, &len, "Q", 95, NULL) == 0);
    CHECK_MSG(decode(buf, len, &img, err, sizeof err) == EV_OK, "%s", err);
    if (img.data) {
        CHECK(img.width == 20 && img.height == 40);
        CHECK(img.data[(2 * 20 + 17) * 3] > 200 && img.data[(2 * 20 + 2) * 3] < 60);
    }
    ev_image_free(&img);
    o = ev_decode_default_options();
    o.no_autorotate = 1;
    CHECK(ev_image_decode(buf, len, "mem", &o, &img, err, sizeof err) == EV_OK && img.width == 40);
    ev_image_free(&img);
    g_free(buf);
    g_object_unref(im);
    free(o6);

    /* in-memory grey pixels */
    CHECK(ev_image_from_pixels(grey, w, h, 1, &img, err, sizeof err) == EV_OK);
    CHECK(img.channels == 3 && img.data[3 * 9 + 1] == grey[9]);
    ev_image_free(&img);
    CHECK(ev_image_from_pixels(grey, w, h, 2, &img, err, sizeof err) == EV_ERR_INVALID_ARG);
    free(rgb);
    free(grey);
    free(rgb16);
    free(g16);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A PNG whose header claims w x h, with a few bytes of image data. */
static size_t fake_png(uint8_t *b, uint32_t w, uint32_t h)
{
    size_t n = 0;
    memcpy(b, "\x89PNG\r\n\x1a\n", 8);
    n = 8;
    put32(b + n, 13);
    memcpy(b + n + 4, "IHDR", 4);
    put32(b + n + 8, w);
    put32(b + n + 12, h);
    b[n + 16] = 8;
    b[n + 17] = 2;
    b[n + 18] = b[n + 19] = b[n + 20] = 0;
    put32(b + n + 21, (uint32_t)crc32(0, b + n + 4, 17));
    n += 25;
    uint8_t raw[64] = {0}, z[128];
    uLongf zl = sizeof z;
    compress(z, &zl, raw, sizeof raw);
    put32(b + n, (uint32_t)zl);
    memcpy(b + n + 4, "IDAT", 4);
    memcpy(b + n + 8, z, zl);
    put32(b + n + 8 + zl, (uint32_t)crc32(0, b + n + 4, (uInt)zl + 4));
    n += 12 + zl;
    put32(b + n, 0);
    memcpy(b + n + 4, "IEND", 4);
    put32(b + n + 8, (uint32_t)crc32(0, (const Bytef *)"IEND", 4));
    return n + 12;
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_bad_files(void)
{
    char err[512], p[1024];
    ev_image img;
    /* zero bytes */
    snprintf(p, sizeof p, "%s/empty.jpg", dir);
    tu_write(p, "", 0);
    CHECK(ev_image_decode_file(p, NULL, &img, err, sizeof err) == EV_ERR_FORMAT);
    CHECK_HAS(err, "empty.jpg: empty file");
    /* text named .jpg */
    snprintf(p, sizeof p, "%s/text.jpg", dir);
    tu_writes(p, "hello, I am not a JPEG\n");
    CHECK(ev_image_decode_file(p, NULL, &img, err, sizeof err) == EV_ERR_FORMAT);
    CHECK_HAS(err, "text.jpg: not a supported image");
    /* BMP: recognised, unsupported */
    CHECK(ev_image_decode("BM\x36\0\0\0\0\0\0\0\x36\0\0\0", 14, "x.bmp", NULL, &img, err, sizeof err) ==
          EV_ERR_UNSUPPORTED);
    CHECK_HAS(err, "BMP");
    /* skimage's truncated JPEG */
    const char *tj = "/usr/lib/python3/dist-packages/skimage/data/truncated.jpg";
    if (access(tj, R_OK) == 0) {
        CHECK(ev_image_decode_file(tj, NULL, &img, err, sizeof err) == EV_ERR_FORMAT);
        CHECK_HAS(err, "truncated.jpg");
    }
    /* missing, directory */
    snprintf(p, sizeof p, "%s/missing.png", dir);
    CHECK(ev_image_decode_file(p, NULL, &img, err, sizeof err) == EV_ERR_IO);
    CHECK_HAS(err, "missing.png");
    CHECK(ev_image_decode_file(dir, NULL, &img, err, sizeof err) == EV_ERR_IO);

    /* 1x1: below the default minimum side, fine when allowed */
    uint8_t px[3] = {10, 20, 30};
    VipsImage *im = vimg(px, 1, 1, 3, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
    void *buf;
    size_t len;
    vips_pngsave_buffer(im, &buf, &len, NULL);
    g_object_unref(im);
    snprintf(p, sizeof p, "%s/one.png", dir);
    tu_write(p, buf, len);
    g_free(buf);
    CHECK(ev_image_decode_file(p, NULL, &img, err, sizeof err) == EV_ERR_LIMIT);
    CHECK_HAS(err, "one.png: image is 1x1, smaller than the minimum side of 8");
    ev_decode_options o = ev_decode_default_options();
    o.min_side = 1;
    CHECK(ev_image_decode_file(p, &o, &img, err, sizeof err) == EV_OK);
    CHECK(img.data && img.width == 1 && img.data[2] == 30);
    ev_image_free(&img);

    /* 30000 x 30000 header: refused before any pixel memory is allocated */
    uint8_t fake[512];
    size_t fl = fake_png(fake, 30000, 30000);
    snprintf(p, sizeof p, "%s/huge.png", dir);
    tu_write(p, fake, fl);
    long rss0 = max_rss_kb();
    CHECK(ev_image_decode_file(p, NULL, &img, err, sizeof err) == EV_ERR_LIMIT);
    CHECK_HAS(err, "huge.png: image is 30000x30000 (900000000 pixels), over the limit");
    CHECK_MSG(max_rss_kb() - rss0 < 100 * 1024, "RSS grew by %ld KiB", max_rss_kb() - rss0);
    /* the same through a JPEG header */
    uint8_t s3[3 * 64 * 64] = {0};
    im = vimg(s3, 64, 64, 3, VIPS_FORMAT_UCHAR, VIPS_INTERPRETATION_sRGB);
    vips_jpegsave_buffer(im, &buf, &len, NULL);
    g_object_unref(im);
    uint8_t *j = buf;
    for (size_t i = 0; i + 9 < len; i++)
        if (j[i] == 0xff && (j[i + 1] == 0xc0 || j[i + 1] == 0xc2)) {
            j[i + 5] = 30000 >> 8; j[i + 6] = 30000 & 255; /* height */
            j[i + 7] = 30000 >> 8; j[i + 8] = 30000 & 255; /* width */
            break;
        }
    CHECK(ev_image_decode(buf, len, "huge.jpg", NULL, &img, err, sizeof err) == EV_ERR_LIMIT);
    CHECK_HAS(err, "huge.jpg: image is 30000x30000");
    g_free(buf);
    /* a custom pixel limit */
    o = ev_decode_default_options();
    o.max_pixels = 100;
    o.min_side = 1;
    fl = fake_png(fake, 11, 10);
    CHECK(ev_image_decode(fake, fl, "lim", &o, &img, err, sizeof err) == EV_ERR_LIMIT);
    /* a PNG with a broken IDAT: corrupt data is an error, never garbage */
    o.max_pixels = 0;
    CHECK(ev_image_decode(fake, fl, "bad-idat", &o, &img, err, sizeof err) == EV_ERR_FORMAT);
    CHECK_HAS(err, "bad-idat");

    /* unreadable permissions: checked as an unprivileged user when run as root */
    snprintf(p, sizeof p, "%s/secret.png", dir);
    tu_write(p, fake, fl);
    chmod(p, 0600);
    if (geteuid() == 0 && chown(p, 0, 0) != 0) perror("chown");
    chmod(dir, 0755);
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && setuid(65534) != 0) _exit(9);
        char e2[512];
        ev_image im2;
        ev_status st = ev_image_decode_file(p, NULL, &im2, e2, sizeof e2);
        _exit(st == EV_ERR_IO && strstr(e2, "secret.png: Permission denied") ? 0 : 1);
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    CHECK_MSG(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child status %d", ws);
}

int main(void)
{
    char err[256];
    if (ev_image_init(err, sizeof err) != EV_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    tu_tmpdir(dir, sizeof dir, "img");
    test_formats();
    test_bad_files();
    tu_rm_rf(dir);
    return tu_done("test_image_decode");
}
