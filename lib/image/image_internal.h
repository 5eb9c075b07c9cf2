/*
 * lib/image/image_internal.h — internals shared by decode.c, resample.c and
 * preprocess.c.
 */
#ifndef EV_IMAGE_INTERNAL_H
#define EV_IMAGE_INTERNAL_H

#include <stdint.h>

#include "common/util.h"
#include "embeval/image.h"

/* Pillow-exact 8-bit separable resize of an interleaved image (c channels)
 * from in_w x in_h to out_w x out_h, computing only the output window
 * [x0, x0 + ww) x [y0, y0 + wh) (inside the output) into dst (ww*wh*c bytes,
 * row-major). The window's values equal those of a full resize. */
ev_status ev_resample_window(const uint8_t *src, int in_w, int in_h, int c, int out_w, int out_h, ev_interp interp,
                             int antialias, int x0, int y0, int ww, int wh, uint8_t *dst, ev_err *e);

/* Preprocess in-memory pixels (c = 1 grey or 3 RGB, HWC) without copying:
 * identical to ev_preprocess_apply on the RGB image (grey is replicated at
 * the end, which gives the same numbers since channels are independent). */
ev_status ev_preprocess_pixels_internal(const ev_preprocess *p, const uint8_t *px, int w, int h, int c, float *out,
                                        ev_err *e);

/* The decoder's shrink-on-load target for a mode (0 in exact mode). */
int ev_preprocess_shrink_target(const ev_preprocess *p, ev_image_mode mode);

/* Release libvips' per-thread state; worker threads call this before they
 * exit (no-op if libvips was never used). */
void ev_image_thread_cleanup(void);

#endif
