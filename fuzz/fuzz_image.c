/* fuzz/fuzz_image.c — image decode (libvips from a memory buffer: JPEG, PNG,
 * WebP, TIFF, GIF, PNM) + preprocessing. Pixels are bounded (max_pixels 4 M)
 * so a forged header fails with EV_ERR_LIMIT before allocation. The last byte
 * picks exact/fast mode and the resize filter. */
#include <stdint.h>
#include <stdlib.h>

#include "embeval/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    uint8_t sel = data[size - 1];
    ev_decode_options d = ev_decode_default_options();
    d.max_pixels = 4 << 20;
    d.max_file_bytes = 8 << 20;
    d.no_autorotate = sel & 8;
    ev_preprocess p = ev_preprocess_default();
    p.resize_size = 40;
    p.crop_h = p.crop_w = 32;
    static const ev_interp interps[] = {EV_INTERP_NEAREST, EV_INTERP_LANCZOS, EV_INTERP_BILINEAR,
                                        EV_INTERP_BICUBIC, EV_INTERP_BOX, EV_INTERP_HAMMING};
    p.interp = interps[(sel >> 4) % 6];
    p.antialias = (sel & 4) == 0;
    ev_image_mode mode = sel & 1 ? EV_IMAGE_FAST : EV_IMAGE_EXACT;
    char err[512];
    float *out = malloc(3 * 32 * 32 * sizeof *out);
    if (!out) return 0;
    if (sel & 2) {
        ev_preprocess_encoded(&p, mode, &d, data, size - 1, "fuzz-image", out, err, sizeof err);
    } else {
        ev_image img = {0};
        if (ev_image_decode(data, size - 1, "fuzz-image", &d, &img, err, sizeof err) == EV_OK) {
            ev_preprocess_apply(&p, &img, out, err, sizeof err);
            ev_image_free(&img);
        }
    }
    free(out);
    return 0;
}
