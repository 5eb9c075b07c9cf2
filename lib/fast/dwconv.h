/*
 * lib/fast/dwconv.h — our own depthwise convolution for channels-last f32
 * data on AVX-512 CPUs (internal to lib/fast).
 *
 * Why: in EfficientNet-B0 the SiLU (swish) activations cost more than the
 * convolutions around them. oneDNN 2.6 evaluates swish as a post-op at
 * ~0.63 ns per element and core (logistic with a division); this kernel
 * evaluates it at ~0.2 ns (exp by vscalefps, reciprocal by vrcp14ps + one
 * Newton step, relative error ~2e-7) and can apply it to its INPUT as it
 * reads it: the 1x1 expansion convolution before it then runs without a
 * post-op (at full speed) and the expanded tensor is never activated in a
 * separate memory pass. The same kernel can also produce the per-channel
 * means of its output (the squeeze-excitation global pooling), saving a
 * pass over the tensor.
 *
 *   y[n,oh,ow,c] = out_act(bias[c] + sum_{i,j} w[c,i,j] *
 *                          in_act(x_padded[n, oh*s+i-pt, ow*s+j-pl, c]))
 *   pool[n,c]    = mean over (oh,ow) of y[n,oh,ow,c]        (optional)
 *
 * x and y are dense NHWC; C must be a multiple of 16; square kernels of
 * size 3 or 5, stride 1 or 2, no dilation. Zero padding is applied after
 * in_act (as the network pads the activated tensor; all activations here
 * map 0 to 0 except none of them, so this is exact).
 */
#ifndef EV_FAST_DWCONV_H
#define EV_FAST_DWCONV_H

#include "fast/prims.h"

enum { EV_DW_NONE = 0, EV_DW_SWISH, EV_DW_RELU, EV_DW_CLIP, EV_DW_HARDSWISH };

typedef struct ev_dwk {
    int64_t n, h, w, c, oh, ow;
    int k, s, pt, pl;
    int in_act;
    int out_act;
    float lo, hi;                 /* EV_DW_CLIP bounds                        */
    int pool;                     /* write per-channel means                  */
    int64_t wp;                   /* padded row width (pixels)                */
    int groups;                   /* channel groups                           */
    int chunks;                   /* row chunks: parallel units
                                     n * groups * chunks                      */
    int64_t cg;                   /* channels of the largest group            */
    const float *wt;              /* [c/16][k*k][16]                          */
    const float *bias;            /* [c]                                      */
} ev_dwk;

/* True if the CPU and the build can run the kernel (AVX-512F). */
int ev_dw_available(void);

/* Activation code for a conv spec's post-op list (EV_DW_*), -1 if the list
 * is not one the kernel applies. */
int ev_dw_act_of(const ev_fpost *post, float *lo, float *hi);

/* True if the spec is a depthwise convolution this kernel runs. */
int ev_dw_fits(const ev_fconv_spec *s);

/* Build the kernel description in one aligned allocation (*mem, freed with
 * ev_free_aligned) for `nthr` threads. */
ev_status ev_dw_init(const ev_fconv_spec *s, int in_act, int out_act, float lo, float hi, int pool,
                     int nthr, ev_dwk **out, void **mem, ev_err *err);

/* Work memory (bytes) ev_dw_run needs for `nthr` threads. */
size_t ev_dw_work_bytes(const ev_dwk *k, int nthr);

/* Run on nthr OpenMP threads; pool may be NULL when k->pool is 0. */
void ev_dw_run(const ev_dwk *k, const float *x, float *y, float *pool, void *work, int nthr);

/* Reference of one swish evaluation as the kernel computes it (tests). */
void ev_dw_swish16(const float *x, float *y);

#endif
