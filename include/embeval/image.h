/*
 * embeval/image.h — decode images and preprocess them exactly as a model's
 * training pipeline did.
 *
 * Decoding (libvips): JPEG, PNG (8/16-bit, palette, grey, alpha), WebP, TIFF
 * (first page), GIF (first frame) and PNM. Formats are recognised by their
 * magic bytes, never by the file name; libvips' "untrusted" loaders
 * (ImageMagick, PDF, ...) are blocked. Every image becomes 8-bit sRGB RGB:
 *   - greyscale is replicated to three channels; CMYK is converted through
 *     an ICC profile (the embedded one, else libvips' built-in CMYK profile);
 *   - 16-bit samples keep their high byte (v >> 8);
 *   - alpha is flattened onto a background, white (255,255,255) by default;
 *     Pillow's convert("RGB") instead drops alpha, exposing whatever colour
 *     transparent pixels store: we flatten because that colour is arbitrary;
 *   - EXIF orientation (tags 2-8) is applied; torchvision's pil_loader does
 *     not apply it, so rotated JPEGs differ from torchvision by design.
 * The pixel-count limit is checked on the header, before pixel memory is
 * allocated. Truncated or corrupt data is an error (libvips fail_on=error).
 *
 * Preprocessing (ev_preprocess): resize (shorter side to S, or direct to
 * HxW) with Pillow's separable resampling filters — bit-exact with Pillow
 * 9.x Image.resize for 8-bit images: the filter support is widened by the
 * downscale factor (antialiasing), coefficients are 22-bit fixed point, the
 * horizontal pass is rounded to 8 bits before the vertical one — then a
 * centre crop with torchvision's offsets (round half to even; zero padding
 * when the crop is larger), channel order, scale to [0,1] or [0,255],
 * (x - mean) / std in float32, layout NCHW or NHWC. Only the pixels inside
 * the crop are computed; that gives the same numbers as resizing the whole
 * image and cropping.
 *
 * Modes: EV_IMAGE_EXACT decodes the whole image and resizes it, matching
 * Pillow + torchvision; EV_IMAGE_FAST lets the JPEG decoder shrink by 2, 4
 * or 8 while the image stays at least twice the resize target (like Pillow's
 * draft() with reducing_gap 2), then applies the same filter. The difference
 * is measured in docs/model-cards.md.
 *
 * Thread safety: every function may be called from several threads at once.
 * libvips is initialised on first use (once, thread-safely); the library
 * then sets libvips' own concurrency to 1 and disables its operation cache,
 * because embeval parallelises across images itself.
 */
#ifndef EMBEVAL_IMAGE_H
#define EMBEVAL_IMAGE_H

#include "embeval/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An 8-bit interleaved image (HWC). data is owned by the struct when it came
 * from a decode or resize function: release with ev_image_free. */
typedef struct ev_image {
    int width, height, channels;
    uint8_t *data;
} ev_image;

typedef enum ev_image_mode {
    EV_IMAGE_EXACT = 0,
    EV_IMAGE_FAST = 1
} ev_image_mode;

typedef struct ev_decode_options {
    int64_t max_pixels;          /* width*height limit, default 100,000,000   */
    int64_t max_file_bytes;      /* default 512 MiB                           */
    int min_side;                /* smaller images are rejected, default 8    */
    uint8_t background[3];       /* alpha is flattened on this, default white */
    int no_autorotate;           /* 1: ignore EXIF orientation                */
    int shrink_min_side;         /* fast mode: let the JPEG decoder shrink by
                                    2/4/8 while min(w,h) stays >= this; 0 = off */
} ev_decode_options;

EV_API ev_decode_options ev_decode_default_options(void);

/* Initialise libvips once (thread-safe; called implicitly by the decoders).
 * Returns EV_ERR_BACKEND with a message if libvips cannot start. */
EV_API ev_status ev_image_init(char *errbuf, size_t errlen);

/* Decode an encoded image held in memory to 8-bit sRGB RGB (channels = 3).
 * `name` is used in messages. Errors: EV_ERR_FORMAT (empty, not an image,
 * truncated/corrupt), EV_ERR_UNSUPPORTED (recognised but unsupported format),
 * EV_ERR_LIMIT (pixel limit, too small), EV_ERR_BACKEND (libvips). */
EV_API ev_status ev_image_decode(const void *buf, size_t len, const char *name, const ev_decode_options *opt,
                                 ev_image *out, char *errbuf, size_t errlen);
/* Read and decode a file (EV_ERR_IO if it cannot be read). */
EV_API ev_status ev_image_decode_file(const char *path, const ev_decode_options *opt, ev_image *out,
                                      char *errbuf, size_t errlen);
/* Wrap in-memory pixels (grey or RGB) as an RGB image (copied; grey is
 * replicated). */
EV_API ev_status ev_image_from_pixels(const uint8_t *pixels, int width, int height, int channels, ev_image *out,
                                      char *errbuf, size_t errlen);
EV_API void ev_image_free(ev_image *img);

/* ---- preprocessing ------------------------------------------------------ */
typedef enum ev_resize_mode {
    EV_RESIZE_NONE = 0,          /* keep the decoded size (crop must fit)     */
    EV_RESIZE_SHORTER = 1,       /* shorter side to resize_size, aspect kept:
                                    long = floor(size * long / short), as
                                    torchvision's Resize(int)                 */
    EV_RESIZE_EXACT = 2          /* to resize_h x resize_w                    */
} ev_resize_mode;

/* Pillow's filters (same numbering as PIL.Image.Resampling). */
typedef enum ev_interp {
    EV_INTERP_NEAREST = 0,
    EV_INTERP_LANCZOS = 1,
    EV_INTERP_BILINEAR = 2,
    EV_INTERP_BICUBIC = 3,
    EV_INTERP_BOX = 4,
    EV_INTERP_HAMMING = 5
} ev_interp;

typedef enum ev_layout {
    EV_LAYOUT_NCHW = 0,
    EV_LAYOUT_NHWC = 1
} ev_layout;

typedef struct ev_preprocess {
    ev_resize_mode resize_mode;
    int resize_size;             /* EV_RESIZE_SHORTER                         */
    int resize_h, resize_w;      /* EV_RESIZE_EXACT                           */
    ev_interp interp;
    int antialias;               /* 1 (Pillow): widen the filter when
                                    downscaling; 0: fixed support (like
                                    torch interpolate without antialias)      */
    int crop_h, crop_w;          /* centre crop; 0 = none                     */
    int bgr;                     /* 1: output channels in B, G, R order       */
    float range;                 /* 1: pixels scaled to [0,1]; 255: [0,255]   */
    float mean[3], std[3];       /* in output channel order                   */
    ev_layout layout;
} ev_preprocess;

/* timm's default: shorter side to floor(224 / 0.875) = 256, bicubic,
 * antialias, centre crop 224, RGB, [0,1], ImageNet mean/std, NCHW. */
EV_API ev_preprocess ev_preprocess_default(void);

/* Check the values (positive sizes, std != 0, a fixed output size: a crop,
 * or an exact resize). EV_ERR_INVALID_ARG with a message otherwise. */
EV_API ev_status ev_preprocess_validate(const ev_preprocess *p, char *errbuf, size_t errlen);

/* Output tensor size of one image: channels (3), height, width. */
EV_API ev_status ev_preprocess_output_size(const ev_preprocess *p, int *c, int *h, int *w);

/* A canonical text naming every parameter that changes the tensor,
 * including the mode and the pipeline version, e.g.
 * "embeval-preprocess/1 mode=exact resize=shorter:256 interp=bilinear aa=1
 * crop=224x224 order=RGB range=1 mean=... std=... layout=NCHW bg=255,255,255
 * autorot=1". Hashed into the embedding cache key. */
EV_API ev_status ev_preprocess_describe(const ev_preprocess *p, ev_image_mode mode,
                                        const ev_decode_options *dopt, char *buf, size_t len);

/* Preprocess an RGB image into out (c*h*w floats, layout per p). */
EV_API ev_status ev_preprocess_apply(const ev_preprocess *p, const ev_image *img, float *out, char *errbuf,
                                     size_t errlen);

/* Decode + preprocess in one call; fast mode sets the shrink-on-load target
 * from p. */
EV_API ev_status ev_preprocess_encoded(const ev_preprocess *p, ev_image_mode mode, const ev_decode_options *dopt,
                                       const void *buf, size_t len, const char *name, float *out,
                                       char *errbuf, size_t errlen);

/* Pillow-exact 8-bit resize of a whole image (for tests and tools). */
EV_API ev_status ev_image_resize(const ev_image *in, int out_w, int out_h, ev_interp interp, int antialias,
                                 ev_image *out, char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
