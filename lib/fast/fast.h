/*
 * lib/fast/fast.h — the oneDNN fast path as a plan pass (internal).
 *
 * ev_fast_pass() runs on a freshly built plan (lib/onnx/plan.h), before its
 * memory planning:
 *
 *   1. pattern matching (match.c) groups the plan's steps into fused
 *      operations ("fops"): Conv + BatchNorm folding + residual Add (sum
 *      post-op) + activation post-ops; MatMul/Gemm + bias + GELU/QuickGELU/...
 *      post-ops + residual Add; attention MatMuls with the scale folded;
 *      LayerNormalization and its decomposed pattern; pooling (global
 *      pooling and spatial ReduceMean as average pooling); element-wise
 *      activations, broadcast binary ops (squeeze-excitation Mul), Softmax;
 *      Reshape/Flatten/Squeeze/Unsqueeze/Transpose/Slice/Gather as views.
 *   2. regions (region.c): every maximal run of consecutive fops becomes ONE
 *      plan step. Inside a region each value lives in the layout oneDNN chose
 *      (channels-last for convolutions here), layouts propagate through
 *      layout-agnostic primitives and views, and reorders appear only where
 *      a primitive asks for another layout and at the region's boundary
 *      (values read or written by reference steps are plain f32). Internal
 *      values get a liveness-based layout in the step's scratch (with in-place
 *      reuse for sum post-ops, binary and element-wise ops), followed by one
 *      oneDNN scratchpad shared by all primitives of the region; the plan's
 *      arena planner overlaps the scratch of different regions.
 *   3. anything without a fast formulation, or for which oneDNN only offers
 *      a `ref:` implementation, stays on the reference kernels (logged at
 *      debug level).
 *
 * Execution of a region is a flat loop of dnnl_primitive_execute over
 * pre-bound memory objects (pointers are re-bound only when the arena or an
 * input buffer moved). Two operations where oneDNN 2.6 is slow run our own
 * loops instead (the squeeze-excitation gate on channels-last data, the
 * nchw->nhwc input reorder). Small operations run on one thread.
 *
 * Threads: never more than requested. oneDNN's OpenMP primitives partition
 * work statically, so on busy cores every parallel region waits for its
 * descheduled thread; each region therefore measures itself and, when that
 * happens, builds (once) and uses a one-thread variant of itself while it is
 * faster (ev_fast_adapt_*, region.c). On an idle machine the full thread
 * count is never left.
 */
#ifndef EV_FAST_H
#define EV_FAST_H

#include "onnx/plan.h"

typedef struct ev_fast_opts {
    int threads;                  /* <= 0: all processors                     */
    int bf16;                     /* bf16 activations/weights, f32 accumulate */
    int disable;                  /* bit mask of EV_FAST_NO_* (tests)          */
} ev_fast_opts;

/* Pattern families that can be switched off (differential tests). */
enum {
    EV_FAST_NO_POSTOPS = 1 << 0,  /* no activation/sum post-ops: separate ops  */
    EV_FAST_NO_BNFOLD = 1 << 1,   /* keep BatchNormalization (reference)       */
    EV_FAST_NO_VIEWS = 1 << 2,    /* shape ops stay on the reference kernels   */
    EV_FAST_NO_LNORM = 1 << 3,    /* layer norm patterns stay reference        */
    EV_FAST_NO_WINOGRAD = 1 << 4, /* direct convolutions only                  */
    EV_FAST_NO_ADAPT = 1 << 5,    /* always the full thread count              */
    EV_FAST_ALT_ONLY = 1 << 6,    /* always the one-thread variant (tests)     */
    EV_FAST_NO_OWNDW = 1 << 7,    /* depthwise convolutions on oneDNN only     */
    EV_FAST_NO_FRONT = 1 << 8,    /* no image-by-image front at batch > 1      */
    EV_FAST_FORCE_FRONT = 1 << 9  /* front whatever the activations' size (tests) */
};

/* ev_plan_pass_fn: `user` is a const ev_fast_opts *. */
ev_status ev_fast_pass(ev_plan *p, void *user, ev_err *err);

/* Statistics of the last pass on a plan (for inspect/bench/tests). */
typedef struct ev_fast_stats {
    int n_fops;                   /* fused operations                          */
    int n_fused_nodes;            /* plan steps they replaced                   */
    int n_regions;
    int n_prims;                  /* primitives executed per run               */
    int n_reorders;               /* of which reorders                         */
    int n_ref_steps;              /* steps left on reference kernels           */
    int n_fallbacks;              /* fops refused by oneDNN (ref: or unsupp.)   */
    int n_front_ops;              /* fused ops run image by image (batch > 1)  */
    int64_t scratch_bytes;        /* largest region scratch                    */
    int64_t weights_bytes;        /* reordered weights held by the plan        */
} ev_fast_stats;

/* True if the step is a fused oneDNN region (false: a reference kernel). */
int ev_fast_step_is_region(const ev_plan_step *s);

/* Fill *out from the plan's fast regions (zeros if none). */
void ev_fast_plan_stats(const ev_plan *p, ev_fast_stats *out);

/* Adaptive threads (region.c): which variant of a region runs next. With
 * the machine to itself the full thread count is fastest; when other
 * processes compete for the cores, OpenMP regions wait for descheduled
 * threads and a one-thread variant can be several times faster. */
#define EV_FAST_ADAPT_WIN 8
typedef struct ev_fast_adapt {
    double full[EV_FAST_ADAPT_WIN];  /* recent wall times (ms), ring buffers  */
    double one[EV_FAST_ADAPT_WIN];
    int n_full, n_one;               /* runs recorded (all time)              */
    double best_full;                /* best full-thread run ever             */
    double ema_util;                 /* CPU time of the calling thread / wall
                                        time of full-thread runs (~1 when the
                                        cores are ours: waiting threads spin) */
    int mode;                        /* 0 full threads, 1 one thread          */
    int explore;                     /* runs left trying the other variant    */
    int cool;                        /* runs before the next exploration      */
    int fails;                       /* explorations in a row that lost      */
    int warm;                        /* cold runs skipped so far              */
    int since;                       /* runs since the last mode decision     */
    int back;                        /* one-thread mode: runs between checks
                                        of the full variant (8 after a switch,
                                        then 16: contention is often short)   */
} ev_fast_adapt;
/* 1 if the next run should use the one-thread variant. */
int ev_fast_adapt_choose(const ev_fast_adapt *a);
/* Record a run of `one` (0/1) that took `ms` of wall time and `cpu_ms` of
 * the calling thread's CPU time; `alt_ok` 0 if no one-thread variant can
 * exist (never explore). */
void ev_fast_adapt_update(ev_fast_adapt *a, int one, double ms, double cpu_ms, int alt_ok);

/* Every step and primitive of a plan, one per line (tests/tools only). */
void ev_fast_dump(const ev_plan *p, ev_buf *out);

/* Profiling (tests/tools only): time every primitive of every region. */
void ev_fast_profile(int on);
/* Append the `top` slowest primitives of p (mean ms per run) to out. */
void ev_fast_profile_report(const ev_plan *p, ev_buf *out, int top);

#endif
