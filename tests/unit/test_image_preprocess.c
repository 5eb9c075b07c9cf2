/* Preprocessing: torchvision's crop rounding and padding, resize sizes,
 * channel order, range, layout, grey fast path, validation, descriptions,
 * and the resampler against a plain (non-windowed, float) reference. */
#include <math.h>

#include "embeval/image.h"
#include "image/image_internal.h"
#include "pipeline/tu.h"

/* image whose red channel is x, green is y (both < 256), blue 7 */
static ev_image coord_image(int w, int h)
{
    ev_image im = {w, h, 3, malloc((size_t)w * h * 3)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = im.data + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)x;
            p[1] = (uint8_t)y;
            p[2] = 7;
        }
    return im;
}

static ev_preprocess raw_pre(int crop_h, int crop_w)
{
    ev_preprocess p = ev_preprocess_default();
    p.resize_mode = EV_RESIZE_NONE;
    p.crop_h = crop_h;
    p.crop_w = crop_w;
    p.range = 255.0f;
    for (int c = 0; c < 3; c++) {
        p.mean[c] = 0.0f;
        p.std[c] = 1.0f;
    }
    return p;
}

static void test_crop(void)
{
    char err[256];
    /* (11 - 4) / 2 = 3.5 -> round half to even -> 4; (9 - 4) / 2 = 2.5 -> 2 */
    ev_image im = coord_image(11, 9);
    ev_preprocess p = raw_pre(4, 4);
    float out[3 * 16];
    CHECK(ev_preprocess_apply(&p, &im, out, err, sizeof err) == EV_OK);
    CHECK(out[0] == 4.0f);      /* x of the first output pixel */
    CHECK(out[16] == 2.0f);     /* y of the first output pixel */
    CHECK(out[32] == 7.0f);
    ev_image_free(&im);
    /* (13 - 4) / 2 = 4.5 -> 4; (15 - 4) / 2 = 5.5 -> 6 */
    im = coord_image(13, 15);
    CHECK(ev_preprocess_apply(&p, &im, out, err, sizeof err) == EV_OK);
    CHECK(out[0] == 4.0f && out[16] == 6.0f);
    ev_image_free(&im);
    /* padding: a 3 x 2 image in a 6 x 5 crop (HxW): pad top (6-2)//2 = 2, left (5-3)//2 = 1 */
    im = coord_image(3, 2);
    p = raw_pre(6, 5);
    p.mean[0] = 1.0f; /* padded pixels are 0 before normalisation -> -1 */
    float o2[3 * 30];
    CHECK(ev_preprocess_apply(&p, &im, o2, err, sizeof err) == EV_OK);
    CHECK(o2[0] == -1.0f && o2[2 * 5 + 0] == -1.0f);
    CHECK(o2[2 * 5 + 1] == -1.0f + 0.0f + 0.0f); /* image x 0 -> value 0 - 1 */
    CHECK(o2[2 * 5 + 3] == 2.0f - 1.0f);        /* image x 2 */
    CHECK(o2[2 * 5 + 4] == -1.0f);              /* right pad */
    CHECK(o2[30 + 3 * 5 + 2] == 1.0f);          /* green = y 1 at output row 3 */
    CHECK(o2[30 + 4 * 5 + 2] == 0.0f);          /* bottom pad row 4: mean 0 -> 0 */
    ev_image_free(&im);
    /* BGR, NHWC */
    im = coord_image(4, 4);
    p = raw_pre(2, 2);
    p.bgr = 1;
    p.layout = EV_LAYOUT_NHWC;
    float o3[12];
    CHECK(ev_preprocess_apply(&p, &im, o3, err, sizeof err) == EV_OK);
    CHECK(o3[0] == 7.0f && o3[1] == 1.0f && o3[2] == 1.0f); /* B, G(y=1), R(x=1) */
    CHECK(o3[3] == 7.0f && o3[5] == 2.0f);                  /* next pixel x = 2 */
    ev_image_free(&im);
    /* range 1 + mean/std as torchvision: (v / 255 - m) / s in float32 */
    im = coord_image(4, 4);
    p = raw_pre(4, 4);
    p.range = 1.0f;
    p.mean[0] = 0.485f;
    p.std[0] = 0.229f;
    float o4[48];
    CHECK(ev_preprocess_apply(&p, &im, o4, err, sizeof err) == EV_OK);
    CHECK(o4[3] == ((float)3 / 255.0f - 0.485f) / 0.229f);
    ev_image_free(&im);
}

static void test_sizes(void)
{
    char err[256];
    /* shorter side: 451 x 300 -> 384 x 256 (int(256 * 451 / 300) = 384) then crop 224 */
    ev_image im = coord_image(451 % 256, 300 % 256); /* sizes only matter below */
    ev_image_free(&im);
    ev_image big = {451, 300, 3, calloc(451 * 300 * 3, 1)};
    ev_preprocess p = ev_preprocess_default();
    int c, h, w;
    CHECK(ev_preprocess_output_size(&p, &c, &h, &w) == EV_OK && c == 3 && h == 224 && w == 224);
    float *out = malloc(sizeof(float) * 3 * 224 * 224);
    CHECK(ev_preprocess_apply(&p, &big, out, err, sizeof err) == EV_OK);
    /* all-black input: every value is (0 - mean) / std */
    CHECK(out[0] == (0.0f - 0.485f) / 0.229f && out[2 * 224 * 224 + 5] == (0.0f - 0.406f) / 0.225f);
    free(big.data);
    /* exact resize without crop */
    p.resize_mode = EV_RESIZE_EXACT;
    p.resize_h = 20;
    p.resize_w = 30;
    p.crop_h = p.crop_w = 0;
    CHECK(ev_preprocess_output_size(&p, &c, &h, &w) == EV_OK && h == 20 && w == 30);
    free(out);
    /* validation */
    p = ev_preprocess_default();
    p.crop_h = p.crop_w = 0;
    CHECK(ev_preprocess_validate(&p, err, sizeof err) == EV_ERR_INVALID_ARG);
    CHECK_HAS(err, "not fixed");
    p = ev_preprocess_default();
    p.std[1] = 0.0f;
    CHECK(ev_preprocess_validate(&p, err, sizeof err) == EV_ERR_INVALID_ARG);
    p = ev_preprocess_default();
    p.range = 2.0f;
    CHECK(ev_preprocess_validate(&p, err, sizeof err) == EV_ERR_INVALID_ARG);
    p = ev_preprocess_default();
    p.resize_size = 0;
    CHECK(ev_preprocess_validate(&p, err, sizeof err) == EV_ERR_INVALID_ARG);
    p = ev_preprocess_default();
    p.mean[0] = NAN;
    CHECK(ev_preprocess_validate(&p, err, sizeof err) == EV_ERR_INVALID_ARG);
    p = ev_preprocess_default();
    p.crop_w = 0;
    CHECK(ev_preprocess_validate(&p, err, sizeof err) == EV_ERR_INVALID_ARG);
}

static void test_describe(void)
{
    char a[512], b[512], c[512];
    ev_preprocess p = ev_preprocess_default();
    CHECK(ev_preprocess_describe(&p, EV_IMAGE_EXACT, NULL, a, sizeof a) == EV_OK);
    CHECK(ev_preprocess_describe(&p, EV_IMAGE_FAST, NULL, b, sizeof b) == EV_OK);
    CHECK(strcmp(a, b) != 0);
    CHECK_HAS(a, "embeval-preprocess/1 mode=exact resize=shorter:256 interp=bicubic aa=1 crop=224x224");
    CHECK_HAS(a, "mean=0.485000014,0.456,0.405999988");
    p.mean[2] = 0.40600002f;
    CHECK(ev_preprocess_describe(&p, EV_IMAGE_EXACT, NULL, c, sizeof c) == EV_OK);
    CHECK(strcmp(a, c) != 0);
    ev_decode_options d = ev_decode_default_options();
    d.background[0] = 0;
    p = ev_preprocess_default();
    CHECK(ev_preprocess_describe(&p, EV_IMAGE_EXACT, &d, c, sizeof c) == EV_OK);
    CHECK(strcmp(a, c) != 0);
    CHECK(ev_preprocess_describe(&p, EV_IMAGE_EXACT, NULL, c, 10) == EV_ERR_INVALID_ARG);
}

/* Float reference of Pillow's algorithm (no fixed point, whole image) to
 * check the windowed fixed-point code within 1 level. */
static double ref_bilinear(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

static void ref_resize_1d(const double *in, int n_in, double *out, int n_out, int stride_in, int stride_out)
{
    double scale = (double)n_in / n_out, fs = scale < 1.0 ? 1.0 : scale, support = fs;
    for (int i = 0; i < n_out; i++) {
        double center = (i + 0.5) * scale, ws = 0, acc = 0;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > n_in) hi = n_in;
        for (int j = lo; j < hi; j++) {
            double w = ref_bilinear((j - center + 0.5) / fs);
            ws += w;
            acc += w * in[j * stride_in];
        }
        out[i * stride_out] = acc / ws;
    }
}

static void test_resampler_reference(void)
{
    char err[256];
    int W = 97, H = 61, OW = 40, OH = 29;
    ev_image im = {W, H, 1, malloc((size_t)W * H)};
    uint32_t s = 12345;
    for (int i = 0; i < W * H; i++) {
        s = s * 1103515245u + 12345u;
        im.data[i] = (uint8_t)(s >> 24);
    }
    ev_image out;
    CHECK(ev_image_resize(&im, OW, OH, EV_INTERP_BILINEAR, 1, &out, err, sizeof err) == EV_OK);
    double *a = malloc(sizeof(double) * W * H), *t = malloc(sizeof(double) * OW * H), *r = malloc(sizeof(double) * OW * OH);
    for (int i = 0; i < W * H; i++) a[i] = im.data[i];
    for (int y = 0; y < H; y++) ref_resize_1d(a + y * W, W, t + y * OW, OW, 1, 1);
    for (int x = 0; x < OW; x++) ref_resize_1d(t + x, H, r + x, OH, OW, OW);
    int worst = 0;
    for (int i = 0; i < OW * OH; i++) {
        int d = abs((int)lrint(r[i]) - out.data[i]);
        if (d > worst) worst = d;
    }
    CHECK_MSG(worst <= 1, "worst %d", worst);
    /* a window equals the same region of the full resize */
    uint8_t win[10 * 7];
    ev_err e;
    CHECK(ev_resample_window(im.data, W, H, 1, OW, OH, EV_INTERP_BICUBIC, 1, 13, 9, 10, 7, win, &e) == EV_OK);
    ev_image full;
    CHECK(ev_image_resize(&im, OW, OH, EV_INTERP_BICUBIC, 1, &full, err, sizeof err) == EV_OK);
    int same = 1;
    for (int y = 0; y < 7; y++)
        for (int x = 0; x < 10; x++)
            if (win[y * 10 + x] != full.data[(y + 9) * OW + x + 13]) same = 0;
    CHECK(same);
    /* upscaling a constant image stays constant (coefficients sum to one) */
    memset(im.data, 77, (size_t)W * H);
    ev_image up;
    CHECK(ev_image_resize(&im, 300, 200, EV_INTERP_BICUBIC, 1, &up, err, sizeof err) == EV_OK);
    int konst = 1;
    for (int i = 0; i < 300 * 200; i++)
        if (up.data[i] != 77) konst = 0;
    CHECK(konst);
    ev_image_free(&up);
    CHECK(ev_image_resize(&im, 0, 5, EV_INTERP_BICUBIC, 1, &up, err, sizeof err) == EV_ERR_INVALID_ARG);
    ev_image_free(&full);
    ev_image_free(&out);
    ev_image_free(&im);
    free(a);
    free(t);
    free(r);
}

static void test_grey_path(void)
{
    /* the grey fast path (resize one channel, replicate) equals the RGB path */
    char err[256];
    int W = 28, H = 28;
    uint8_t g[28 * 28];
    for (int i = 0; i < W * H; i++) g[i] = (uint8_t)(i * 37);
    ev_image rgb;
    CHECK(ev_image_from_pixels(g, W, H, 1, &rgb, err, sizeof err) == EV_OK);
    ev_preprocess p = ev_preprocess_default();
    p.interp = EV_INTERP_BILINEAR;
    size_t n = 3 * 224 * 224;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    ev_err e;
    CHECK(ev_preprocess_apply(&p, &rgb, a, err, sizeof err) == EV_OK);
    CHECK(ev_preprocess_pixels_internal(&p, g, W, H, 1, b, &e) == EV_OK);
    CHECK(!memcmp(a, b, n * sizeof(float)));
    free(a);
    free(b);
    ev_image_free(&rgb);
}

int main(void)
{
    test_crop();
    test_sizes();
    test_describe();
    test_resampler_reference();
    test_grey_path();
    return tu_done("test_image_preprocess");
}
