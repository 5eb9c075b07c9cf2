/*
 * lib/fast/prims.h — oneDNN 2.6 building blocks of the fast path (internal).
 *
 * Each builder creates one oneDNN primitive for fixed shapes, reorders its
 * constant weights once into the layout the primitive asked for
 * (format_tag_any) and returns an ev_fprim: the primitive plus one memory
 * object per execution argument. The caller binds data pointers with
 * ev_fprim_bind() (once, when the arena is fixed) and runs it with
 * ev_fprim_exec(): a plan's execution is a flat loop of those calls.
 *
 * Layouts: activations are described by dnnl memory descriptors. A builder
 * takes the layout the producer wrote ("have") and reports the layout the
 * primitive reads (p->src_md) and writes (p->dst_md); when they differ the
 * caller inserts a reorder (ev_freorder_create). oneDNN chooses (any) where
 * the primitive supports it; layout-agnostic primitives (eltwise, pooling,
 * binary, reorder) keep the layout they are given.
 *
 * Slow implementations: every builder reads impl_info_str; a "ref:"
 * implementation (except the ref_fused wrapper around JIT kernels) is
 * refused with EV_ERR_UNSUPPORTED unless the context allows it, so that the
 * caller keeps its own kernel. The refusal is logged at debug level.
 *
 * Threads: oneDNN here uses OpenMP. ev_fctx_init() records the thread count;
 * ev_fast_set_threads() applies it to the calling thread and must precede
 * primitive creation and execution (builders and ev_fprim_exec do it).
 * Never call these from inside an OpenMP parallel region.
 */
#ifndef EV_FAST_PRIMS_H
#define EV_FAST_PRIMS_H

#include <oneapi/dnnl/dnnl.h>

#include "common/util.h"

typedef struct ev_fctx {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    int threads;                  /* >= 1                                     */
    int allow_ref;                /* accept ref: implementations (tests)      */
    size_t scratch_bytes;         /* max scratchpad of the primitives created */
    void *scratch;                /* shared user scratchpad (ev_fctx_scratch) */
    size_t scratch_cap;
    dnnl_memory_t scratch_mem;    /* 1-D u8 memory over `scratch`             */
    int n_ref_refused;            /* statistics                               */
    /* Reordered constant weights, keyed by (source data, layout): primitives
     * of one context that read the same weights in the same layout (e.g. the
     * full-thread and one-thread variants of a region) share one copy. Owned
     * by the context. Only when share_weights is set: the caller promises
     * that weight pointers stay valid (and unchanged) while it lives. */
    int share_weights;
    int n_wcache, cap_wcache;
    struct ev_fweights *wcache;
    size_t wcache_bytes;
    /* Optional residency hooks for constant weights (lib/onnx/weights.h):
     * src_acquire before a reorder reads src (restores it if it was
     * evicted), src_done after the reorder (may evict src again). */
    ev_status (*src_acquire)(void *user, const void *src, ev_err *err);
    void (*src_done)(void *user, const void *src);
    void *src_user;
    /* defer: shared weights are allocated (untouched pages) when a
     * primitive is created but reordered only by ev_fctx_flush_weights,
     * largest expansion first (Winograd weights are ~2x their source): the
     * reorders' transient memory then falls while most plain weights are
     * still resident, not on top of all the reordered ones. */
    int defer;
    int n_pend, cap_pend;
    struct ev_fpend *pend;
} ev_fctx;

/* threads <= 0: all processors (omp_get_num_procs). */
ev_status ev_fctx_init(ev_fctx *c, int threads, ev_err *err);
void ev_fctx_fini(ev_fctx *c);
/* (Re)allocate the shared scratchpad to c->scratch_bytes; call after every
 * primitive is created and before the first execution. */
ev_status ev_fctx_scratch(ev_fctx *c, ev_err *err);
/* Run the deferred weight reorders (see defer); no-op if none. */
ev_status ev_fctx_flush_weights(ev_fctx *c, ev_err *err);
/* omp_set_num_threads(n) for the calling thread. */
void ev_fast_set_threads(int n);
/* True if the CPU runs bf16 natively (AVX512_BF16 or AMX). */
int ev_fast_has_bf16(void);

/* dnnl status -> EV_ERR_BACKEND (or NOMEM/UNSUPPORTED) with a message. */
ev_status ev_dnnl_err(dnnl_status_t s, ev_err *err, const char *what);
const char *ev_dnnl_status_str(dnnl_status_t s);
/* True for the slow reference implementations ("ref:..."), false for
 * "ref_fused_..." (a wrapper around JIT kernels) and everything else. */
int ev_fast_impl_is_ref(const char *impl);

/* ---- memory descriptors ------------------------------------------------ */
/* Plain row-major (dense) descriptor. */
ev_status ev_fmd_plain(dnnl_memory_desc_t *md, int rank, const int64_t *dims,
                       dnnl_data_type_t dt, ev_err *err);
/* Channels-last for rank 4 (nhwc) / 3 (nwc) / 5 (ndhwc), plain otherwise. */
ev_status ev_fmd_nhwc(dnnl_memory_desc_t *md, int rank, const int64_t *dims,
                      dnnl_data_type_t dt, ev_err *err);
ev_status ev_fmd_strided(dnnl_memory_desc_t *md, int rank, const int64_t *dims,
                         const int64_t *strides, dnnl_data_type_t dt, ev_err *err);
ev_status ev_fmd_any(dnnl_memory_desc_t *md, int rank, const int64_t *dims, dnnl_data_type_t dt,
                     ev_err *err);
int ev_fmd_is_plain(const dnnl_memory_desc_t *md);
int ev_fmd_equal(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b);
size_t ev_fmd_bytes(const dnnl_memory_desc_t *md);
/* Short text of a layout for logs ("f32 nhwc 1x64x56x56", "f32 blocked..."). */
void ev_fmd_str(const dnnl_memory_desc_t *md, char *buf, size_t len);

/* ---- post-ops ------------------------------------------------------------ */
#define EV_FPO_MAX 6
typedef enum ev_fpo_kind { EV_FPO_ELTWISE = 1, EV_FPO_SUM = 2, EV_FPO_BINARY = 3 } ev_fpo_kind;
typedef struct ev_fpo {
    ev_fpo_kind kind;
    dnnl_alg_kind_t alg;          /* eltwise or binary algorithm              */
    float scale, alpha, beta;     /* eltwise: scale*f(x; alpha, beta);
                                     sum: dst = scale*dst + result            */
    dnnl_memory_desc_t src1;      /* binary: the second operand (broadcast)   */
} ev_fpo;
typedef struct ev_fpost {
    int n;
    ev_fpo op[EV_FPO_MAX];
} ev_fpost;

/* Append helpers; return false when the list is full. */
bool ev_fpost_eltwise(ev_fpost *p, dnnl_alg_kind_t alg, float alpha, float beta);
bool ev_fpost_relu(ev_fpost *p);
bool ev_fpost_clip(ev_fpost *p, float lo, float hi);
bool ev_fpost_hardswish(ev_fpost *p);
bool ev_fpost_sigmoid(ev_fpost *p);
bool ev_fpost_swish(ev_fpost *p, float alpha);          /* x*sigmoid(alpha x) */
bool ev_fpost_hardsigmoid(ev_fpost *p, float alpha, float beta); /* linear+clip */
bool ev_fpost_gelu_erf(ev_fpost *p);
bool ev_fpost_sum(ev_fpost *p, float scale);
bool ev_fpost_binary(ev_fpost *p, dnnl_alg_kind_t alg, const dnnl_memory_desc_t *src1);
/* Index of the first binary post-op argument for ev_fprim_bind (the binary
 * post-op number k is bound with DNNL_ARG_ATTR_MULTIPLE_POST_OP(k)|SRC_1). */
int ev_fpost_binary_arg(const ev_fpost *p, int k);

/* ---- a created primitive ------------------------------------------------- */
#define EV_FPRIM_MAXARGS 12
typedef struct ev_fprim {
    dnnl_primitive_t prim;
    char impl[64];
    const char *kind;             /* "conv", "matmul", ...                    */
    int n_args;
    int arg[EV_FPRIM_MAXARGS];    /* DNNL_ARG_* of each slot                  */
    dnnl_memory_t mem[EV_FPRIM_MAXARGS];
    dnnl_exec_arg_t exec[EV_FPRIM_MAXARGS];
    void *bound[EV_FPRIM_MAXARGS];/* current data handle of each slot         */
    int n_owned;
    void *owned[4];               /* reordered weights/bias, freed with it    */
    size_t scratch_bytes;
    dnnl_memory_desc_t src_md;    /* layout read (SRC / SRC_0)                */
    dnnl_memory_desc_t src1_md;   /* second input (binary SRC_1, matmul B)    */
    dnnl_memory_desc_t dst_md;    /* layout written                           */
    double flops;                 /* 2*MACs of one execution (conv/matmul)    */
} ev_fprim;

void ev_fprim_free(ev_fprim *p);
/* Point argument `arg` (DNNL_ARG_SRC, ...) at `data`. EV_ERR_INTERNAL if the
 * primitive has no such argument. */
ev_status ev_fprim_bind(ev_fprim *p, int arg, void *data, ev_err *err);
int ev_fprim_has_arg(const ev_fprim *p, int arg);
/* Execute (the stream is in-order and synchronous on the CPU). */
ev_status ev_fprim_exec(ev_fctx *c, ev_fprim *p, ev_err *err);

/* ---- builders ------------------------------------------------------------ */
typedef struct ev_fconv_spec {
    int64_t n, c, h, w;           /* input (logical NCHW)                     */
    int64_t oc, groups;
    int64_t kh, kw;
    int64_t stride[2];
    int64_t pad[4];               /* top, left, bottom, right                 */
    int64_t dil[2];               /* ONNX dilation (1 = dense)                */
    const float *weights;         /* [oc, c/groups, kh, kw] fp32              */
    const float *bias;            /* [oc] or NULL                             */
    ev_fpost post;
    dnnl_data_type_t dt;          /* activations/weights: f32 or bf16         */
    dnnl_data_type_t dst_dt;      /* output type (0 = dt): f32 keeps a bf16
                                     network's residual stream exact-ish     */
    const dnnl_memory_desc_t *src_have; /* producer's layout or NULL          */
    int winograd;                 /* try the Winograd algorithm first (f32,
                                     3x3, stride 1): 1.5-3x fewer flops       */
} ev_fconv_spec;
/* Output dims of a conv spec ([n, oc, oh, ow]); false if empty/negative. */
bool ev_fconv_out_dims(const ev_fconv_spec *s, int64_t out[4]);
ev_status ev_fconv_create(ev_fctx *c, const ev_fconv_spec *s, ev_fprim *p, ev_err *err);

typedef struct ev_fmatmul_spec {
    int rank;                     /* 2..4; batch dims broadcast as oneDNN does */
    int64_t a_dims[4];            /* [..., M, K]                              */
    int64_t b_dims[4];            /* [..., K, N]                              */
    const dnnl_memory_desc_t *a_md; /* NULL: plain; may be strided (views)    */
    const dnnl_memory_desc_t *b_md; /* runtime B: NULL = plain                */
    const dnnl_memory_desc_t *c_md; /* NULL: plain                            */
    const float *b_const;         /* constant B (plain, b_dims) or NULL       */
    const float *bias;            /* [N] or NULL                              */
    float scale;                  /* output scale (attention), 1 = none       */
    ev_fpost post;
    dnnl_data_type_t dt;
    dnnl_data_type_t dst_dt;      /* output type when c_md is NULL (0 = dt)   */
} ev_fmatmul_spec;
ev_status ev_fmatmul_create(ev_fctx *c, const ev_fmatmul_spec *s, ev_fprim *p, ev_err *err);

/* Layer normalization over the last axis; gamma/beta [last] (beta may be
 * NULL). */
ev_status ev_flnorm_create(ev_fctx *c, const dnnl_memory_desc_t *md, float eps,
                           const float *gamma, const float *beta, ev_fprim *p, ev_err *err);

typedef struct ev_fpool_spec {
    int max;                      /* 1 = max, 0 = average                     */
    int count_include_pad;        /* average only                             */
    int64_t n, c, h, w;
    int64_t kh, kw, stride[2], pad[4]; /* pad: top, left, bottom, right       */
    int64_t oh, ow;               /* output size (ceil_mode already applied)  */
    const dnnl_memory_desc_t *src_md; /* layout (required)                    */
} ev_fpool_spec;
ev_status ev_fpool_create(ev_fctx *c, const ev_fpool_spec *s, ev_fprim *p, ev_err *err);

/* Elementwise binary dst = src0 (op) src1 (src1 broadcast), + post-ops. */
ev_status ev_fbinary_create(ev_fctx *c, dnnl_alg_kind_t alg, const dnnl_memory_desc_t *src0,
                            const dnnl_memory_desc_t *src1, const dnnl_memory_desc_t *dst,
                            const ev_fpost *post, ev_fprim *p, ev_err *err);
ev_status ev_feltwise_create(ev_fctx *c, dnnl_alg_kind_t alg, float alpha, float beta,
                             const dnnl_memory_desc_t *md, ev_fprim *p, ev_err *err);
ev_status ev_fsoftmax_create(ev_fctx *c, const dnnl_memory_desc_t *md, int axis, ev_fprim *p,
                             ev_err *err);
ev_status ev_freorder_create(ev_fctx *c, const dnnl_memory_desc_t *src,
                             const dnnl_memory_desc_t *dst, ev_fprim *p, ev_err *err);

#endif
