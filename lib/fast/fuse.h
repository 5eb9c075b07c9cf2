/*
 * lib/fast/fuse.h — fused operations ("fops") shared by the pattern matcher
 * (match.c) and the region builder (region.c). Internal to lib/fast.
 */
#ifndef EV_FAST_FUSE_H
#define EV_FAST_FUSE_H

#include "fast/fast.h"
#include "fast/prims.h"

typedef enum fop_kind {
    FOP_CONV = 1,
    FOP_MATMUL,                   /* constant B (2-D over flattened rows)      */
    FOP_BMM,                      /* runtime A and B (batched, strided views)  */
    FOP_POOL,
    FOP_ELTWISE,                  /* one or two element-wise algorithms        */
    FOP_BINARY,
    FOP_SOFTMAX,
    FOP_LNORM,
    FOP_RESHAPE,                  /* view of plain data with another shape     */
    FOP_TRANSPOSE,                /* strided view                              */
    FOP_SLICE,                    /* strided view (Slice, Gather scalar)       */
    FOP_CONCAT,
    FOP_SPLIT                     /* views; outputs in xout[]                 */
} fop_kind;

#define FOP_MAX_STEPS 12
#define FOP_MAX_IN 8

typedef struct fop {
    fop_kind kind;
    int anchor;                   /* plan step of the group's last node        */
    int n_steps;
    int steps[FOP_MAX_STEPS];     /* plan steps covered (anchor included)      */
    int n_in;
    int in[FOP_MAX_IN];           /* runtime input values (see per kind)       */
    int out;                      /* output value                              */
    int n_xout;                   /* FOP_SPLIT: all outputs (out = xout[0])    */
    int xout[FOP_MAX_IN];
    int failed;                   /* oneDNN refused it: reference kernels      */
    const char *label;            /* node name of the anchor (logs, profiles)  */
    ev_fpost post;                /* eltwise/sum post-ops (conv/matmul/binary) */
    int sum_in;                   /* index in in[] of the sum post-op operand,
                                     -1 if none                              */
    /* FOP_CONV: spec without src/weights pointers; weights/bias point to
     * graph/plan constants or to w_own/b_own (folded BatchNorm) */
    ev_fconv_spec conv;
    float *w_own, *b_own;         /* malloc'd, freed with the fop list        */
    /* FOP_MATMUL: B [K, N] plain (constant or w_own), bias [N] or NULL.
     * FOP_BMM: scale. */
    int64_t mm_k, mm_n;
    const float *mm_b, *mm_bias;
    float scale;
    /* FOP_POOL */
    ev_fpool_spec pool;
    /* FOP_ELTWISE */
    int n_alg;
    dnnl_alg_kind_t alg[2];
    float alpha[2], beta[2];
    /* FOP_BINARY: in[0] op in[1]; a constant operand has in[k] = -1 and
     * its data/shape in cst */
    dnnl_alg_kind_t balg;
    int cst_pos;                  /* 0/1 position of the constant, -1 none     */
    ev_tensor cst;
    /* FOP_SOFTMAX / FOP_CONCAT: axis */
    int axis;
    /* FOP_LNORM */
    float eps;
    const float *gamma, *beta_v;
    /* FOP_TRANSPOSE */
    int perm[EV_MAX_RANK];
    /* FOP_SLICE: per axis start and step; output dims from the plan;
     * drop_axis >= 0 for Gather with a scalar index */
    int64_t sl_start[EV_MAX_RANK], sl_step[EV_MAX_RANK];
    int drop_axis;
    /* FOP_CONV run by our own depthwise kernel (dwconv.h), decided per
     * region (region.c, dw_prepass): dw_in_act is applied to the input as
     * it is read (the producer's swish post-op moved here); with dw_pool
     * the kernel also writes value dw_pool_v, the per-channel mean of its
     * output (a global average pooling fop, then `merged`). */
    int dw;
    int dw_in_act;
    int dw_pool;
    int dw_pool_v;
    int merged;                   /* computed by another fop: nothing to build */
} fop;

typedef struct fop_list {
    int n, cap;
    fop *v;
    int *claim;                   /* per plan step: fop index or -1            */
} fop_list;

/* Pattern matching over p's steps (match.c). */
ev_status ev_fast_match(ev_plan *p, const ev_fast_opts *o, fop_list *L, ev_err *err);
void ev_fast_fops_free(fop_list *L);

#endif
