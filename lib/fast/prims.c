/*
 * lib/fast/prims.c — oneDNN 2.6 primitive builders (see prims.h).
 */
#include "fast/prims.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- context, errors, threads -------------------------------------------- */

const char *ev_dnnl_status_str(dnnl_status_t s)
{
    switch (s) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
    default: return "unknown status";
    }
}

ev_status ev_dnnl_err(dnnl_status_t s, ev_err *err, const char *what)
{
    ev_status code = EV_ERR_BACKEND;
    if (s == dnnl_out_of_memory) code = EV_ERR_NOMEM;
    else if (s == dnnl_unimplemented) code = EV_ERR_UNSUPPORTED;
    return ev_err_set(err, code, "oneDNN: %s: %s", what, ev_dnnl_status_str(s));
}

#define DNNL_TRY(call, what)                                                   \
    do {                                                                       \
        dnnl_status_t dnnl_s_ = (call);                                        \
        if (dnnl_s_ != dnnl_success) return ev_dnnl_err(dnnl_s_, err, (what)); \
    } while (0)

void ev_fast_set_threads(int n)
{
    if (n < 1) n = 1;
    if (omp_get_max_threads() != n) omp_set_num_threads(n);
}

int ev_fast_has_bf16(void)
{
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) == (unsigned)dnnl_cpu_isa_avx512_core_bf16;
}

int ev_fast_impl_is_ref(const char *impl)
{
    if (!impl) return 1;
    if (strncmp(impl, "ref_fused", 9) == 0) return 0;
    return strncmp(impl, "ref:", 4) == 0 || strncmp(impl, "ref_", 4) == 0;
}

ev_status ev_fctx_init(ev_fctx *c, int threads, ev_err *err)
{
    memset(c, 0, sizeof *c);
    c->threads = threads > 0 ? threads : omp_get_num_procs();
    if (c->threads < 1) c->threads = 1;
    ev_fast_set_threads(c->threads);
    DNNL_TRY(dnnl_engine_create(&c->eng, dnnl_cpu, 0), "engine creation");
    dnnl_status_t s = dnnl_stream_create(&c->stream, c->eng, dnnl_stream_default_flags);
    if (s != dnnl_success) {
        dnnl_engine_destroy(c->eng);
        c->eng = NULL;
        return ev_dnnl_err(s, err, "stream creation");
    }
    return EV_OK;
}

typedef struct ev_fweights {
    const void *src;
    dnnl_memory_desc_t md;
    void *buf;
    size_t map_len;               /* > 0: buf is an anonymous mapping          */
} ev_fweights;

typedef struct ev_fpend {
    const void *src;
    dnnl_memory_desc_t umd, want;
    void *buf;
} ev_fpend;

/* Large weight buffers are mappings: their pages are untouched (not
 * resident) until the reorder writes them, and go back to the system when
 * freed. */
#define EV_WBUF_MAP_MIN ((size_t)256 << 10)

static void *wbuf_alloc(size_t bytes, size_t *map_len)
{
    *map_len = 0;
    if (bytes >= EV_WBUF_MAP_MIN) {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return NULL;
        *map_len = bytes;
        return p;
    }
    return ev_calloc_aligned(bytes ? bytes : 1);
}

static void wbuf_free(void *buf, size_t map_len)
{
    if (!buf) return;
    if (map_len) munmap(buf, map_len);
    else ev_free_aligned(buf);
}

void ev_fctx_fini(ev_fctx *c)
{
    if (!c) return;
    for (int i = 0; i < c->n_wcache; i++) wbuf_free(c->wcache[i].buf, c->wcache[i].map_len);
    free(c->wcache);
    free(c->pend);
    if (c->scratch_mem) dnnl_memory_destroy(c->scratch_mem);
    ev_free_aligned(c->scratch);
    if (c->stream) dnnl_stream_destroy(c->stream);
    if (c->eng) dnnl_engine_destroy(c->eng);
    memset(c, 0, sizeof *c);
}

ev_status ev_fctx_scratch(ev_fctx *c, ev_err *err)
{
    if (c->scratch && c->scratch_cap >= c->scratch_bytes) return EV_OK;
    ev_free_aligned(c->scratch);
    c->scratch = NULL;
    c->scratch_cap = 0;
    if (c->scratch_bytes == 0) return EV_OK;
    c->scratch = ev_malloc_aligned(c->scratch_bytes);
    EV_FAIL_IF(!c->scratch, err, EV_ERR_NOMEM, "oneDNN scratchpad: out of memory (%zu bytes)",
               c->scratch_bytes);
    c->scratch_cap = c->scratch_bytes;
    return EV_OK;
}

/* ---- memory descriptors --------------------------------------------------- */

static ev_status md_dims(int rank, const int64_t *dims, dnnl_dims_t out, ev_err *err)
{
    EV_FAIL_IF(rank < 1 || rank > DNNL_MAX_NDIMS, err, EV_ERR_UNSUPPORTED,
               "oneDNN: rank %d not supported", rank);
    memset(out, 0, sizeof(dnnl_dims_t));
    for (int i = 0; i < rank; i++) {
        EV_FAIL_IF(dims[i] < 1, err, EV_ERR_SHAPE, "oneDNN: empty or negative dimension %lld",
                   (long long)dims[i]);
        out[i] = dims[i];
    }
    return EV_OK;
}

ev_status ev_fmd_plain(dnnl_memory_desc_t *md, int rank, const int64_t *dims,
                       dnnl_data_type_t dt, ev_err *err)
{
    dnnl_dims_t d, st;
    EV_TRY(md_dims(rank, dims, d, err));
    memset(st, 0, sizeof st);
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        st[i] = s;
        EV_FAIL_IF(!ev_mul_i64(s, dims[i], &s), err, EV_ERR_LIMIT, "oneDNN: tensor too large");
    }
    DNNL_TRY(dnnl_memory_desc_init_by_strides(md, rank, d, dt, st), "memory descriptor");
    return EV_OK;
}

ev_status ev_fmd_nhwc(dnnl_memory_desc_t *md, int rank, const int64_t *dims,
                      dnnl_data_type_t dt, ev_err *err)
{
    if (rank < 3) return ev_fmd_plain(md, rank, dims, dt, err);
    dnnl_dims_t d, st;
    EV_TRY(md_dims(rank, dims, d, err));
    memset(st, 0, sizeof st);
    /* order: n, spatial..., c */
    int64_t s = 1;
    st[1] = s;
    EV_FAIL_IF(!ev_mul_i64(s, dims[1], &s), err, EV_ERR_LIMIT, "oneDNN: tensor too large");
    for (int i = rank - 1; i >= 2; i--) {
        st[i] = s;
        EV_FAIL_IF(!ev_mul_i64(s, dims[i], &s), err, EV_ERR_LIMIT, "oneDNN: tensor too large");
    }
    st[0] = s;
    DNNL_TRY(dnnl_memory_desc_init_by_strides(md, rank, d, dt, st), "memory descriptor");
    return EV_OK;
}

ev_status ev_fmd_strided(dnnl_memory_desc_t *md, int rank, const int64_t *dims,
                         const int64_t *strides, dnnl_data_type_t dt, ev_err *err)
{
    dnnl_dims_t d, st;
    EV_TRY(md_dims(rank, dims, d, err));
    memset(st, 0, sizeof st);
    for (int i = 0; i < rank; i++) st[i] = strides[i];
    DNNL_TRY(dnnl_memory_desc_init_by_strides(md, rank, d, dt, st), "memory descriptor");
    return EV_OK;
}

ev_status ev_fmd_any(dnnl_memory_desc_t *md, int rank, const int64_t *dims, dnnl_data_type_t dt,
                     ev_err *err)
{
    dnnl_dims_t d;
    EV_TRY(md_dims(rank, dims, d, err));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(md, rank, d, dt, dnnl_format_tag_any),
             "memory descriptor");
    return EV_OK;
}

int ev_fmd_is_plain(const dnnl_memory_desc_t *md)
{
    if (md->format_kind != dnnl_blocked || md->format_desc.blocking.inner_nblks != 0) return 0;
    if (md->offset0 != 0) return 0;
    int64_t s = 1;
    for (int i = md->ndims - 1; i >= 0; i--) {
        if (md->dims[i] != 1 && md->format_desc.blocking.strides[i] != s) return 0;
        if (md->padded_dims[i] != md->dims[i]) return 0;
        s *= md->dims[i];
    }
    return 1;
}

/* Equal as memory: same type, dims and element addresses. Strides of
 * size-1 dimensions do not matter (nhwc == nchw when h = w = 1). */
int ev_fmd_equal(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b)
{
    if (dnnl_memory_desc_equal(a, b)) return 1;
    if (a->ndims != b->ndims || a->data_type != b->data_type) return 0;
    if (a->format_kind != dnnl_blocked || b->format_kind != dnnl_blocked) return 0;
    if (a->offset0 != b->offset0) return 0;
    const dnnl_blocking_desc_t *x = &a->format_desc.blocking, *y = &b->format_desc.blocking;
    if (x->inner_nblks != 0 || y->inner_nblks != 0) return 0;
    for (int i = 0; i < a->ndims; i++) {
        if (a->dims[i] != b->dims[i] || a->padded_dims[i] != b->padded_dims[i]) return 0;
        if (a->dims[i] != 1 && x->strides[i] != y->strides[i]) return 0;
    }
    return 1;
}

size_t ev_fmd_bytes(const dnnl_memory_desc_t *md) { return dnnl_memory_desc_get_size(md); }

void ev_fmd_str(const dnnl_memory_desc_t *md, char *buf, size_t len)
{
    ev_buf b;
    ev_buf_init(&b, 4096);
    ev_buf_puts(&b, md->data_type == dnnl_bf16 ? "bf16 " : md->data_type == dnnl_f32 ? "f32 " : "? ");
    for (int i = 0; i < md->ndims; i++) ev_buf_printf(&b, "%s%lld", i ? "x" : "", (long long)md->dims[i]);
    if (md->format_kind == dnnl_format_kind_any) {
        ev_buf_puts(&b, " any");
    } else if (md->format_kind == dnnl_blocked) {
        const dnnl_blocking_desc_t *bl = &md->format_desc.blocking;
        /* name the dimension order by decreasing stride: "acdb" = nhwc */
        int order[DNNL_MAX_NDIMS], used[DNNL_MAX_NDIMS] = {0};
        for (int k = 0; k < md->ndims; k++) {
            int best = -1;
            for (int i = 0; i < md->ndims; i++)
                if (!used[i] && (best < 0 || bl->strides[i] > bl->strides[best])) best = i;
            used[best] = 1;
            order[k] = best;
        }
        ev_buf_puts(&b, " ");
        for (int k = 0; k < md->ndims; k++) ev_buf_printf(&b, "%c", 'a' + order[k]);
        for (int i = 0; i < bl->inner_nblks; i++)
            ev_buf_printf(&b, "%lld%c", (long long)bl->inner_blks[i], (char)('a' + bl->inner_idxs[i]));
    } else {
        ev_buf_puts(&b, " opaque");
    }
    snprintf(buf, len, "%s", b.data ? b.data : "?");
    ev_buf_free(&b);
}

/* ---- post-ops ------------------------------------------------------------ */

bool ev_fpost_eltwise(ev_fpost *p, dnnl_alg_kind_t alg, float alpha, float beta)
{
    if (p->n >= EV_FPO_MAX) return false;
    ev_fpo *o = &p->op[p->n++];
    memset(o, 0, sizeof *o);
    o->kind = EV_FPO_ELTWISE;
    o->alg = alg;
    o->scale = 1.0f;
    o->alpha = alpha;
    o->beta = beta;
    return true;
}
bool ev_fpost_relu(ev_fpost *p) { return ev_fpost_eltwise(p, dnnl_eltwise_relu, 0.0f, 0.0f); }
bool ev_fpost_clip(ev_fpost *p, float lo, float hi)
{
    return ev_fpost_eltwise(p, dnnl_eltwise_clip_v2, lo, hi);
}
bool ev_fpost_hardswish(ev_fpost *p) { return ev_fpost_eltwise(p, dnnl_eltwise_hardswish, 0.0f, 0.0f); }
bool ev_fpost_sigmoid(ev_fpost *p) { return ev_fpost_eltwise(p, dnnl_eltwise_logistic, 0.0f, 0.0f); }
bool ev_fpost_swish(ev_fpost *p, float alpha) { return ev_fpost_eltwise(p, dnnl_eltwise_swish, alpha, 0.0f); }
bool ev_fpost_hardsigmoid(ev_fpost *p, float alpha, float beta)
{
    if (p->n + 2 > EV_FPO_MAX) return false;
    return ev_fpost_eltwise(p, dnnl_eltwise_linear, alpha, beta) &&
           ev_fpost_eltwise(p, dnnl_eltwise_clip_v2, 0.0f, 1.0f);
}
bool ev_fpost_gelu_erf(ev_fpost *p) { return ev_fpost_eltwise(p, dnnl_eltwise_gelu_erf, 0.0f, 0.0f); }
bool ev_fpost_sum(ev_fpost *p, float scale)
{
    if (p->n >= EV_FPO_MAX) return false;
    ev_fpo *o = &p->op[p->n++];
    memset(o, 0, sizeof *o);
    o->kind = EV_FPO_SUM;
    o->scale = scale;
    return true;
}
bool ev_fpost_binary(ev_fpost *p, dnnl_alg_kind_t alg, const dnnl_memory_desc_t *src1)
{
    if (p->n >= EV_FPO_MAX) return false;
    ev_fpo *o = &p->op[p->n++];
    memset(o, 0, sizeof *o);
    o->kind = EV_FPO_BINARY;
    o->alg = alg;
    o->scale = 1.0f;
    o->src1 = *src1;
    return true;
}
int ev_fpost_binary_arg(const ev_fpost *p, int k)
{
    return DNNL_ARG_ATTR_MULTIPLE_POST_OP(k) | DNNL_ARG_SRC_1;
}

/* Attributes: user scratchpad + post-ops (+ output scale). */
static ev_status make_attr(const ev_fpost *post, float scale, dnnl_primitive_attr_t *out,
                           ev_err *err)
{
    dnnl_primitive_attr_t a = NULL;
    DNNL_TRY(dnnl_primitive_attr_create(&a), "attribute creation");
    dnnl_status_t s = dnnl_primitive_attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_user);
    if (s == dnnl_success && scale != 1.0f) s = dnnl_primitive_attr_set_output_scales(a, 1, 0, &scale);
    if (s == dnnl_success && post && post->n > 0) {
        dnnl_post_ops_t po = NULL;
        s = dnnl_post_ops_create(&po);
        for (int i = 0; s == dnnl_success && i < post->n; i++) {
            const ev_fpo *o = &post->op[i];
            if (o->kind == EV_FPO_ELTWISE)
                s = dnnl_post_ops_append_eltwise(po, o->scale, o->alg, o->alpha, o->beta);
            else if (o->kind == EV_FPO_SUM)
                s = dnnl_post_ops_append_sum(po, o->scale);
            else if (o->kind == EV_FPO_BINARY)
                s = dnnl_post_ops_append_binary(po, o->alg, &o->src1);
            else
                s = dnnl_invalid_arguments;
        }
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(a, po);
        if (po) dnnl_post_ops_destroy(po);
    }
    if (s != dnnl_success) {
        dnnl_primitive_attr_destroy(a);
        return ev_dnnl_err(s, err, "primitive attributes");
    }
    *out = a;
    return EV_OK;
}

/* ---- ev_fprim -------------------------------------------------------------- */

void ev_fprim_free(ev_fprim *p)
{
    if (!p) return;
    for (int i = 0; i < p->n_args; i++)
        if (p->mem[i]) dnnl_memory_destroy(p->mem[i]);
    if (p->prim) dnnl_primitive_destroy(p->prim);
    for (int i = 0; i < p->n_owned; i++) ev_free_aligned(p->owned[i]);
    memset(p, 0, sizeof *p);
}

static int slot_of(const ev_fprim *p, int arg)
{
    for (int i = 0; i < p->n_args; i++)
        if (p->arg[i] == arg) return i;
    return -1;
}

int ev_fprim_has_arg(const ev_fprim *p, int arg) { return slot_of(p, arg) >= 0; }

ev_status ev_fprim_bind(ev_fprim *p, int arg, void *data, ev_err *err)
{
    int i = slot_of(p, arg);
    EV_FAIL_IF(i < 0, err, EV_ERR_INTERNAL, "oneDNN %s: no argument %d to bind", p->kind, arg);
    if (p->bound[i] == data) return EV_OK;
    DNNL_TRY(dnnl_memory_set_data_handle(p->mem[i], data), "set data handle");
    p->bound[i] = data;
    return EV_OK;
}

ev_status ev_fprim_exec(ev_fctx *c, ev_fprim *p, ev_err *err)
{
    if (p->scratch_bytes > 0) {
        EV_FAIL_IF(!c->scratch || c->scratch_cap < p->scratch_bytes, err, EV_ERR_INTERNAL,
                   "oneDNN %s: scratchpad not allocated", p->kind);
        EV_TRY(ev_fprim_bind(p, DNNL_ARG_SCRATCHPAD, c->scratch, err));
    }
    dnnl_status_t s = dnnl_primitive_execute(p->prim, c->stream, p->n_args, p->exec);
    if (s != dnnl_success) return ev_dnnl_err(s, err, p->kind);
    return EV_OK;
}

static ev_status add_slot(ev_fprim *p, ev_fctx *c, int arg, const dnnl_memory_desc_t *md,
                          ev_err *err)
{
    EV_FAIL_IF(p->n_args >= EV_FPRIM_MAXARGS, err, EV_ERR_INTERNAL, "oneDNN %s: too many arguments",
               p->kind);
    int i = p->n_args;
    DNNL_TRY(dnnl_memory_create(&p->mem[i], md, c->eng, DNNL_MEMORY_NONE), "memory creation");
    p->arg[i] = arg;
    p->exec[i].arg = arg;
    p->exec[i].memory = p->mem[i];
    p->bound[i] = NULL;
    p->n_args++;
    return EV_OK;
}

/* Check the implementation, create the primitive and one memory slot per
 * execution argument in `args` (those the descriptor actually has), plus
 * the scratchpad. Destroys pd in every case. */
static ev_status finish(ev_fctx *c, dnnl_primitive_desc_t pd, const char *kind, const int *args,
                        int n, ev_fprim *p, ev_err *err)
{
    ev_status st = EV_OK;
    const char *impl = NULL;
    p->kind = kind;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success) impl = "?";
    snprintf(p->impl, sizeof p->impl, "%s", impl ? impl : "?");
    if (ev_fast_impl_is_ref(p->impl) && !c->allow_ref) {
        c->n_ref_refused++;
        ev_log(EV_LOG_DEBUG, "fast: oneDNN offers only '%s' for this %s: not used", p->impl, kind);
        st = ev_err_set(err, EV_ERR_UNSUPPORTED, "oneDNN %s: only a reference implementation (%s)",
                        kind, p->impl);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, args[i]);
        if (!md || md->ndims == 0) continue;
        if ((st = add_slot(p, c, args[i], md, err)) != EV_OK) goto out;
        if (args[i] == DNNL_ARG_SRC) p->src_md = *md;
        if (args[i] == DNNL_ARG_SRC_1 || (args[i] == DNNL_ARG_WEIGHTS && !strcmp(kind, "matmul")))
            p->src1_md = *md;
        if (args[i] == DNNL_ARG_DST) p->dst_md = *md;
    }
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    p->scratch_bytes = sp ? dnnl_memory_desc_get_size(sp) : 0;
    if (p->scratch_bytes > 0) {
        if ((st = add_slot(p, c, DNNL_ARG_SCRATCHPAD, sp, err)) != EV_OK) goto out;
        if (p->scratch_bytes > c->scratch_bytes) c->scratch_bytes = p->scratch_bytes;
    }
    dnnl_status_t s = dnnl_primitive_create(&p->prim, pd);
    if (s != dnnl_success) st = ev_dnnl_err(s, err, "primitive creation");
out:
    dnnl_primitive_desc_destroy(pd);
    if (st != EV_OK) ev_fprim_free(p);
    return st;
}

/* Reorder `src` (plain user data, described by `umd`) into a new buffer
 * laid out as `want`; the buffer is owned by p. */
/* One reorder of constant data into buf (laid out as want). */
static ev_status reorder_once(ev_fctx *c, const dnnl_memory_desc_t *umd, const void *src,
                              const dnnl_memory_desc_t *want, void *buf, ev_err *err)
{
    dnnl_memory_t ms = NULL, md = NULL, mscr = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_primitive_attr_t attr = NULL;
    void *scr = NULL;
    size_t scr_len = 0;
    /* one thread: a load-time copy gains little from a second thread and
     * would stall on every OpenMP barrier when the cores are busy */
    ev_fast_set_threads(1);
    dnnl_status_t s = dnnl_memory_create(&ms, umd, c->eng, (void *)src);
    if (s == dnnl_success) s = dnnl_memory_create(&md, want, c->eng, buf);
    /* our own scratchpad, returned to the system right after: the
     * library's would stay in the heap as garbage (Winograd weight
     * transforms need about the size of the weights) */
    if (s == dnnl_success) s = dnnl_primitive_attr_create(&attr);
    if (s == dnnl_success) s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success) s = dnnl_reorder_primitive_desc_create(&rpd, umd, c->eng, want, c->eng, attr);
    if (s == dnnl_success) s = dnnl_primitive_create(&r, rpd);
    if (s == dnnl_success) {
        const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(rpd, dnnl_query_scratchpad_md, 0);
        size_t sb = smd ? dnnl_memory_desc_get_size(smd) : 0;
        if (sb > 0) {
            scr = wbuf_alloc(sb, &scr_len);
            if (!scr) s = dnnl_out_of_memory;
            if (s == dnnl_success) s = dnnl_memory_create(&mscr, smd, c->eng, scr);
        }
    }
    if (s == dnnl_success) {
        dnnl_exec_arg_t a[3] = {{DNNL_ARG_FROM, ms}, {DNNL_ARG_TO, md}, {DNNL_ARG_SCRATCHPAD, mscr}};
        s = dnnl_primitive_execute(r, c->stream, mscr ? 3 : 2, a);
        if (s == dnnl_success) s = dnnl_stream_wait(c->stream);
    }
    ev_fast_set_threads(c->threads);
    if (r) dnnl_primitive_destroy(r);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (ms) dnnl_memory_destroy(ms);
    if (md) dnnl_memory_destroy(md);
    if (mscr) dnnl_memory_destroy(mscr);
    wbuf_free(scr, scr_len);
    if (s != dnnl_success) return ev_dnnl_err(s, err, "weights reorder");
    return EV_OK;
}

/* reorder_once from constant weights, with the context's residency hooks */
static ev_status reorder_weights(ev_fctx *c, const dnnl_memory_desc_t *umd, const void *src,
                                 const dnnl_memory_desc_t *want, void *buf, ev_err *err)
{
    if (c->src_acquire) EV_TRY(c->src_acquire(c->src_user, src, err));
    ev_status st = reorder_once(c, umd, src, want, buf, err);
    if (c->src_done) c->src_done(c->src_user, src);
    return st;
}

static ev_status own_reordered(ev_fctx *c, ev_fprim *p, const dnnl_memory_desc_t *umd,
                               const void *src, const dnnl_memory_desc_t *want, void **out,
                               ev_err *err)
{
    if (!c->share_weights) {
        /* private copy owned by the primitive */
        EV_FAIL_IF(p->n_owned >= 4, err, EV_ERR_INTERNAL, "oneDNN: too many owned buffers");
        size_t bytes = dnnl_memory_desc_get_size(want);
        void *buf = ev_calloc_aligned(bytes ? bytes : 1);
        EV_FAIL_IF(!buf, err, EV_ERR_NOMEM, "oneDNN: out of memory for weights (%zu bytes)", bytes);
        p->owned[p->n_owned++] = buf;
        EV_TRY(reorder_weights(c, umd, src, want, buf, err));
        *out = buf;
        return EV_OK;
    }
    for (int i = 0; i < c->n_wcache; i++)
        if (c->wcache[i].src == src && dnnl_memory_desc_equal(&c->wcache[i].md, want)) {
            *out = c->wcache[i].buf;
            return EV_OK;
        }
    if (c->n_wcache == c->cap_wcache) {
        int nc = c->cap_wcache ? c->cap_wcache * 2 : 64;
        ev_fweights *nw = realloc(c->wcache, (size_t)nc * sizeof *nw);
        EV_FAIL_IF(!nw, err, EV_ERR_NOMEM, "oneDNN: out of memory for weights");
        c->wcache = nw;
        c->cap_wcache = nc;
    }
    size_t bytes = dnnl_memory_desc_get_size(want), map_len = 0;
    if (c->defer && c->n_pend == c->cap_pend) {
        int nc = c->cap_pend ? c->cap_pend * 2 : 64;
        ev_fpend *np = realloc(c->pend, (size_t)nc * sizeof *np);
        EV_FAIL_IF(!np, err, EV_ERR_NOMEM, "oneDNN: out of memory for weights");
        c->pend = np;
        c->cap_pend = nc;
    }
    void *buf = wbuf_alloc(bytes, &map_len);
    EV_FAIL_IF(!buf, err, EV_ERR_NOMEM, "oneDNN: out of memory for weights (%zu bytes)", bytes);
    if (c->defer) {
        c->pend[c->n_pend++] = (ev_fpend){src, *umd, *want, buf};
    } else {
        ev_status rs = reorder_weights(c, umd, src, want, buf, err);
        if (rs != EV_OK) {
            wbuf_free(buf, map_len);
            return rs;
        }
    }
    ev_fweights *w = &c->wcache[c->n_wcache++];
    w->src = src;
    w->md = *want;
    w->buf = buf;
    w->map_len = map_len;
    c->wcache_bytes += bytes;
    *out = buf;
    return EV_OK;
}

/* Largest growth (reordered - plain bytes) first, then largest first. */
static int cmp_pend(const void *a, const void *b)
{
    const ev_fpend *x = a, *y = b;
    size_t xo = dnnl_memory_desc_get_size(&x->want), yo = dnnl_memory_desc_get_size(&y->want);
    size_t xi = dnnl_memory_desc_get_size(&x->umd), yi = dnnl_memory_desc_get_size(&y->umd);
    long long gx = (long long)xo - (long long)xi, gy = (long long)yo - (long long)yi;
    if (gx != gy) return gx > gy ? -1 : 1;
    return xo > yo ? -1 : xo < yo;
}

ev_status ev_fctx_flush_weights(ev_fctx *c, ev_err *err)
{
    if (!c->n_pend) return EV_OK;
    qsort(c->pend, (size_t)c->n_pend, sizeof *c->pend, cmp_pend);
    ev_status st = EV_OK;
    for (int i = 0; i < c->n_pend && st == EV_OK; i++)
        st = reorder_weights(c, &c->pend[i].umd, c->pend[i].src, &c->pend[i].want, c->pend[i].buf,
                             err);
    c->n_pend = 0;
    return st;
}

/* Copy a small f32 vector into an owned buffer (bias, gamma, beta). */
static ev_status own_copy(ev_fprim *p, const float *src, int64_t n, float fill, void **out,
                          ev_err *err)
{
    EV_FAIL_IF(p->n_owned >= 4, err, EV_ERR_INTERNAL, "oneDNN: too many owned buffers");
    float *buf = ev_malloc_aligned((size_t)n * sizeof(float));
    EV_FAIL_IF(!buf, err, EV_ERR_NOMEM, "oneDNN: out of memory");
    p->owned[p->n_owned++] = buf;
    for (int64_t i = 0; i < n; i++) buf[i] = src ? src[i] : fill;
    *out = buf;
    return EV_OK;
}

static const int post_args_base[] = {DNNL_ARG_SRC, DNNL_ARG_SRC_1, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS,
                                     DNNL_ARG_DST};

/* Argument list: the base args + one per binary post-op. */
static int collect_args(const ev_fpost *post, int *args, int cap)
{
    int n = 0;
    for (size_t i = 0; i < sizeof post_args_base / sizeof post_args_base[0] && n < cap; i++)
        args[n++] = post_args_base[i];
    if (post)
        for (int k = 0; k < post->n && n < cap; k++)
            if (post->op[k].kind == EV_FPO_BINARY) args[n++] = ev_fpost_binary_arg(post, k);
    return n;
}

/* ---- convolution ------------------------------------------------------------ */

bool ev_fconv_out_dims(const ev_fconv_spec *s, int64_t out[4])
{
    if (s->stride[0] < 1 || s->stride[1] < 1 || s->dil[0] < 1 || s->dil[1] < 1) return false;
    int64_t ekh = (s->kh - 1) * s->dil[0] + 1, ekw = (s->kw - 1) * s->dil[1] + 1;
    int64_t oh = (s->h + s->pad[0] + s->pad[2] - ekh) / s->stride[0] + 1;
    int64_t ow = (s->w + s->pad[1] + s->pad[3] - ekw) / s->stride[1] + 1;
    if (s->h + s->pad[0] + s->pad[2] < ekh || s->w + s->pad[1] + s->pad[3] < ekw) return false;
    out[0] = s->n;
    out[1] = s->oc;
    out[2] = oh;
    out[3] = ow;
    return oh >= 1 && ow >= 1;
}

ev_status ev_fconv_create(ev_fctx *c, const ev_fconv_spec *s, ev_fprim *p, ev_err *err)
{
    memset(p, 0, sizeof *p);
    EV_FAIL_IF(s->groups < 1 || s->c % s->groups || s->oc % s->groups || !s->weights, err,
               EV_ERR_INVALID_ARG, "oneDNN conv: bad groups/channels");
    EV_FAIL_IF(s->dt != dnnl_f32 && s->dt != dnnl_bf16, err, EV_ERR_INVALID_ARG,
               "oneDNN conv: data type");
    int64_t od[4];
    EV_FAIL_IF(!ev_fconv_out_dims(s, od), err, EV_ERR_SHAPE, "oneDNN conv: empty output");
    ev_fast_set_threads(c->threads);
    int64_t sd[4] = {s->n, s->c, s->h, s->w};
    int64_t g = s->groups;
    int64_t wd5[5] = {g, s->oc / g, s->c / g, s->kh, s->kw};
    int64_t wd4[4] = {s->oc, s->c, s->kh, s->kw};
    int wrank = g > 1 ? 5 : 4;
    const int64_t *wd = g > 1 ? wd5 : wd4;
    dnnl_memory_desc_t src, wts, wuser, bias, dst;
    EV_TRY(ev_fmd_any(&src, 4, sd, s->dt, err));
    EV_TRY(ev_fmd_any(&dst, 4, od, s->dst_dt ? s->dst_dt : s->dt, err));
    EV_TRY(ev_fmd_any(&wts, wrank, wd, s->dt, err));
    EV_TRY(ev_fmd_plain(&wuser, wrank, wd, dnnl_f32, err));
    int64_t bd[1] = {s->oc};
    EV_TRY(ev_fmd_plain(&bias, 1, bd, dnnl_f32, err));
    dnnl_dims_t strides = {0}, dil = {0}, pl = {0}, pr = {0};
    strides[0] = s->stride[0];
    strides[1] = s->stride[1];
    dil[0] = s->dil[0] - 1;
    dil[1] = s->dil[1] - 1;
    pl[0] = s->pad[0];
    pl[1] = s->pad[1];
    pr[0] = s->pad[2];
    pr[1] = s->pad[3];
    dnnl_convolution_desc_t cd;
    dnnl_primitive_attr_t attr = NULL;
    EV_TRY(make_attr(&s->post, 1.0f, &attr, err));
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t ds;
    if (s->winograd && s->dt == dnnl_f32 && (s->dst_dt == 0 || s->dst_dt == dnnl_f32) &&
        s->kh == 3 && s->kw == 3 && s->stride[0] == 1 && s->stride[1] == 1 && s->dil[0] == 1 &&
        s->dil[1] == 1 && g == 1 &&
        dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_winograd,
                                           &src, &wts, &bias, &dst, strides, pl, pr) == dnnl_success &&
        dnnl_primitive_desc_create(&pd, &cd, attr, c->eng, NULL) == dnnl_success) {
        const char *impl = NULL;
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
        if (!impl || !strstr(impl, "wino")) {
            dnnl_primitive_desc_destroy(pd);
            pd = NULL;
        }
    }
    if (!pd && s->src_have && s->src_have->data_type == s->dt) {
        /* keep the producer's layout when a fast implementation reads it */
        if (dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                                                       dnnl_convolution_direct, s->src_have, &wts,
                                                       &bias, &dst, strides, dil, pl, pr) == dnnl_success &&
            dnnl_primitive_desc_create(&pd, &cd, attr, c->eng, NULL) == dnnl_success) {
            const char *impl = NULL;
            dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
            if (!impl || ev_fast_impl_is_ref(impl) || strstr(impl, "gemm")) {
                dnnl_primitive_desc_destroy(pd);
                pd = NULL;
            }
        }
    }
    if (!pd) {
        ds = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                                                        dnnl_convolution_direct, &src, &wts, &bias,
                                                        &dst, strides, dil, pl, pr);
        if (ds == dnnl_success) ds = dnnl_primitive_desc_create(&pd, &cd, attr, c->eng, NULL);
        if (ds != dnnl_success) {
            dnnl_primitive_attr_destroy(attr);
            return ev_dnnl_err(ds, err, "convolution");
        }
    }
    dnnl_primitive_attr_destroy(attr);
    int args[EV_FPRIM_MAXARGS];
    int n = collect_args(&s->post, args, EV_FPRIM_MAXARGS);
    EV_TRY(finish(c, pd, "conv", args, n, p, err));
    p->flops = 2.0 * (double)od[0] * (double)od[1] * (double)od[2] * (double)od[3] *
               (double)(s->c / g) * (double)s->kh * (double)s->kw;
    /* weights reordered once; bias copied (f32) */
    int wi = slot_of(p, DNNL_ARG_WEIGHTS);
    const dnnl_memory_desc_t *want = NULL;
    ev_status st = EV_OK;
    if (wi < 0 || dnnl_memory_get_memory_desc(p->mem[wi], &want) != dnnl_success) {
        st = ev_err_set(err, EV_ERR_INTERNAL, "oneDNN conv: no weights argument");
    }
    void *wbuf = NULL, *bbuf = NULL;
    if (st == EV_OK) st = own_reordered(c, p, &wuser, s->weights, want, &wbuf, err);
    if (st == EV_OK) st = ev_fprim_bind(p, DNNL_ARG_WEIGHTS, wbuf, err);
    if (st == EV_OK && ev_fprim_has_arg(p, DNNL_ARG_BIAS)) {
        st = own_copy(p, s->bias, s->oc, 0.0f, &bbuf, err);
        if (st == EV_OK) st = ev_fprim_bind(p, DNNL_ARG_BIAS, bbuf, err);
    }
    if (st != EV_OK) ev_fprim_free(p);
    return st;
}

/* ---- matmul -------------------------------------------------------------------- */

ev_status ev_fmatmul_create(ev_fctx *c, const ev_fmatmul_spec *s, ev_fprim *p, ev_err *err)
{
    memset(p, 0, sizeof *p);
    int r = s->rank;
    EV_FAIL_IF(r < 2 || r > 4, err, EV_ERR_UNSUPPORTED, "oneDNN matmul: rank %d", r);
    EV_FAIL_IF(s->a_dims[r - 1] != s->b_dims[r - 2], err, EV_ERR_SHAPE,
               "oneDNN matmul: inner dimensions %lld and %lld differ",
               (long long)s->a_dims[r - 1], (long long)s->b_dims[r - 2]);
    ev_fast_set_threads(c->threads);
    int64_t cd[4];
    for (int i = 0; i < r - 2; i++) {
        int64_t x = s->a_dims[i], y = s->b_dims[i];
        EV_FAIL_IF(x != y && x != 1 && y != 1, err, EV_ERR_SHAPE, "oneDNN matmul: batch dims");
        cd[i] = x > y ? x : y;
    }
    cd[r - 2] = s->a_dims[r - 2];
    cd[r - 1] = s->b_dims[r - 1];
    dnnl_data_type_t dt = s->dt;
    dnnl_memory_desc_t a, b, buser, bias, dst;
    if (s->a_md) a = *s->a_md;
    else EV_TRY(ev_fmd_plain(&a, r, s->a_dims, dt, err));
    if (s->b_const) {
        EV_TRY(ev_fmd_any(&b, r, s->b_dims, dt, err));
        EV_TRY(ev_fmd_plain(&buser, r, s->b_dims, dnnl_f32, err));
    } else if (s->b_md) {
        b = *s->b_md;
    } else {
        EV_TRY(ev_fmd_plain(&b, r, s->b_dims, dt, err));
    }
    if (s->c_md) dst = *s->c_md;
    else EV_TRY(ev_fmd_plain(&dst, r, cd, s->dst_dt ? s->dst_dt : dt, err));
    int64_t bdims[4] = {1, 1, 1, 1};
    bdims[r - 1] = cd[r - 1];
    if (s->bias) EV_TRY(ev_fmd_plain(&bias, r, bdims, dnnl_f32, err));
    dnnl_matmul_desc_t md;
    DNNL_TRY(dnnl_matmul_desc_init(&md, &a, &b, s->bias ? &bias : NULL, &dst), "matmul descriptor");
    dnnl_primitive_attr_t attr = NULL;
    EV_TRY(make_attr(&s->post, s->scale == 0.0f ? 1.0f : s->scale, &attr, err));
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t ds = dnnl_primitive_desc_create(&pd, &md, attr, c->eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (ds != dnnl_success) return ev_dnnl_err(ds, err, "matmul");
    int args[EV_FPRIM_MAXARGS];
    int n = collect_args(&s->post, args, EV_FPRIM_MAXARGS);
    EV_TRY(finish(c, pd, "matmul", args, n, p, err));
    double batch = 1;
    for (int i = 0; i < r - 2; i++) batch *= (double)cd[i];
    p->flops = 2.0 * batch * (double)cd[r - 2] * (double)cd[r - 1] * (double)s->a_dims[r - 1];
    ev_status st = EV_OK;
    if (s->b_const) {
        const dnnl_memory_desc_t *want = NULL;
        int wi = slot_of(p, DNNL_ARG_WEIGHTS);
        if (wi < 0 || dnnl_memory_get_memory_desc(p->mem[wi], &want) != dnnl_success)
            st = ev_err_set(err, EV_ERR_INTERNAL, "oneDNN matmul: no weights argument");
        void *wbuf = NULL;
        if (st == EV_OK) st = own_reordered(c, p, &buser, s->b_const, want, &wbuf, err);
        if (st == EV_OK) st = ev_fprim_bind(p, DNNL_ARG_WEIGHTS, wbuf, err);
    }
    if (st == EV_OK && s->bias) {
        void *bbuf = NULL;
        st = own_copy(p, s->bias, cd[r - 1], 0.0f, &bbuf, err);
        if (st == EV_OK) st = ev_fprim_bind(p, DNNL_ARG_BIAS, bbuf, err);
    }
    if (st != EV_OK) ev_fprim_free(p);
    return st;
}

/* ---- layer normalization ------------------------------------------------------ */

ev_status ev_flnorm_create(ev_fctx *c, const dnnl_memory_desc_t *md, float eps,
                           const float *gamma, const float *beta, ev_fprim *p, ev_err *err)
{
    memset(p, 0, sizeof *p);
    ev_fast_set_threads(c->threads);
    EV_FAIL_IF(!gamma, err, EV_ERR_INVALID_ARG, "oneDNN layer norm: no scale");
    dnnl_layer_normalization_desc_t d;
    DNNL_TRY(dnnl_layer_normalization_forward_desc_init(&d, dnnl_forward_inference, md, NULL, eps,
                                                        dnnl_use_scale | dnnl_use_shift),
             "layer normalization descriptor");
    dnnl_primitive_attr_t attr = NULL;
    EV_TRY(make_attr(NULL, 1.0f, &attr, err));
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t ds = dnnl_primitive_desc_create(&pd, &d, attr, c->eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (ds != dnnl_success) return ev_dnnl_err(ds, err, "layer normalization");
    static const int args[] = {DNNL_ARG_SRC,  DNNL_ARG_DST,      DNNL_ARG_SCALE,
                               DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
    EV_TRY(finish(c, pd, "layernorm", args, 6, p, err));
    EV_FAIL_IF(ev_fprim_has_arg(p, DNNL_ARG_MEAN), err, EV_ERR_INTERNAL,
               "oneDNN layer norm: unexpected statistics output");
    int64_t last = md->dims[md->ndims - 1];
    void *g = NULL, *b = NULL;
    ev_status st = own_copy(p, gamma, last, 1.0f, &g, err);
    if (st == EV_OK) st = own_copy(p, beta, last, 0.0f, &b, err);
    if (st == EV_OK) st = ev_fprim_bind(p, DNNL_ARG_SCALE, g, err);
    if (st == EV_OK) st = ev_fprim_bind(p, DNNL_ARG_SHIFT, b, err);
    if (st != EV_OK) ev_fprim_free(p);
    return st;
}

/* ---- pooling -------------------------------------------------------------------- */

ev_status ev_fpool_create(ev_fctx *c, const ev_fpool_spec *s, ev_fprim *p, ev_err *err)
{
    memset(p, 0, sizeof *p);
    EV_FAIL_IF(!s->src_md, err, EV_ERR_INVALID_ARG, "oneDNN pooling: no source layout");
    ev_fast_set_threads(c->threads);
    /* oneDNN derives the output size from the padding: extend the right/
     * bottom padding for ceil_mode outputs. Windows that then start in the
     * padding are not allowed. */
    int64_t pr0 = (s->oh - 1) * s->stride[0] + s->kh - s->h - s->pad[0];
    int64_t pr1 = (s->ow - 1) * s->stride[1] + s->kw - s->w - s->pad[1];
    if (pr0 < 0) pr0 = 0; /* floor: trailing rows unused, oneDNN needs exact */
    if (pr1 < 0) pr1 = 0;
    EV_FAIL_IF((pr0 != s->pad[2] || pr1 != s->pad[3]) && !s->max && s->count_include_pad, err,
               EV_ERR_UNSUPPORTED, "oneDNN pooling: ceil_mode with count_include_pad");
    EV_FAIL_IF((s->oh - 1) * s->stride[0] >= s->h + s->pad[0] ||
                   (s->ow - 1) * s->stride[1] >= s->w + s->pad[1],
               err, EV_ERR_UNSUPPORTED, "oneDNN pooling: window starts in the padding");
    int64_t od[4] = {s->n, s->c, s->oh, s->ow};
    dnnl_memory_desc_t dst;
    EV_TRY(ev_fmd_any(&dst, 4, od, s->src_md->data_type, err));
    dnnl_dims_t st = {0}, k = {0}, dl = {0}, pl = {0}, pr = {0};
    st[0] = s->stride[0];
    st[1] = s->stride[1];
    k[0] = s->kh;
    k[1] = s->kw;
    pl[0] = s->pad[0];
    pl[1] = s->pad[1];
    pr[0] = pr0;
    pr[1] = pr1;
    dnnl_alg_kind_t alg = s->max ? dnnl_pooling_max
                                 : s->count_include_pad ? dnnl_pooling_avg_include_padding
                                                        : dnnl_pooling_avg_exclude_padding;
    /* Floor-mode outputs that leave trailing rows unused: oneDNN checks
     * (h + pl + pr - k) / s + 1 == oh, with pr >= 0; a negative computed
     * pr was clamped above, so verify the relation holds. */
    EV_FAIL_IF((s->h + s->pad[0] + pr0 - s->kh) / s->stride[0] + 1 != s->oh ||
                   (s->w + s->pad[1] + pr1 - s->kw) / s->stride[1] + 1 != s->ow,
               err, EV_ERR_UNSUPPORTED, "oneDNN pooling: output size");
    dnnl_pooling_v2_desc_t d;
    DNNL_TRY(dnnl_pooling_v2_forward_desc_init(&d, dnnl_forward_inference, alg, s->src_md, &dst,
                                               st, k, dl, pl, pr),
             "pooling descriptor");
    dnnl_primitive_attr_t attr = NULL;
    EV_TRY(make_attr(NULL, 1.0f, &attr, err));
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t ds = dnnl_primitive_desc_create(&pd, &d, attr, c->eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (ds != dnnl_success) return ev_dnnl_err(ds, err, "pooling");
    static const int args[] = {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WORKSPACE};
    EV_TRY(finish(c, pd, "pool", args, 3, p, err));
    EV_FAIL_IF(ev_fprim_has_arg(p, DNNL_ARG_WORKSPACE), err, EV_ERR_INTERNAL,
               "oneDNN pooling: unexpected workspace");
    return EV_OK;
}

/* ---- binary, eltwise, softmax, reorder ------------------------------------------ */

ev_status ev_fbinary_create(ev_fctx *c, dnnl_alg_kind_t alg, const dnnl_memory_desc_t *src0,
                            const dnnl_memory_desc_t *src1, const dnnl_memory_desc_t *dst,
                            const ev_fpost *post, ev_fprim *p, ev_err *err)
{
    memset(p, 0, sizeof *p);
    ev_fast_set_threads(c->threads);
    dnnl_binary_desc_t d;
    DNNL_TRY(dnnl_binary_desc_init(&d, alg, src0, src1, dst), "binary descriptor");
    dnnl_primitive_attr_t attr = NULL;
    EV_TRY(make_attr(post, 1.0f, &attr, err));
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t ds = dnnl_primitive_desc_create(&pd, &d, attr, c->eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (ds != dnnl_success) return ev_dnnl_err(ds, err, "binary");
    int args[EV_FPRIM_MAXARGS];
    int n = collect_args(post, args, EV_FPRIM_MAXARGS);
    return finish(c, pd, "binary", args, n, p, err);
}

ev_status ev_feltwise_create(ev_fctx *c, dnnl_alg_kind_t alg, float alpha, float beta,
                             const dnnl_memory_desc_t *md, ev_fprim *p, ev_err *err)
{
    memset(p, 0, sizeof *p);
    ev_fast_set_threads(c->threads);
    dnnl_eltwise_desc_t d;
    DNNL_TRY(dnnl_eltwise_forward_desc_init(&d, dnnl_forward_inference, alg, md, alpha, beta),
             "eltwise descriptor");
    dnnl_primitive_attr_t attr = NULL;
    EV_TRY(make_attr(NULL, 1.0f, &attr, err));
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t ds = dnnl_primitive_desc_create(&pd, &d, attr, c->eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (ds != dnnl_success) return ev_dnnl_err(ds, err, "eltwise");
    static const int args[] = {DNNL_ARG_SRC, DNNL_ARG_DST};
    return finish(c, pd, "eltwise", args, 2, p, err);
}

ev_status ev_fsoftmax_create(ev_fctx *c, const dnnl_memory_desc_t *md, int axis, ev_fprim *p,
                             ev_err *err)
{
    memset(p, 0, sizeof *p);
    ev_fast_set_threads(c->threads);
    dnnl_softmax_v2_desc_t d;
    DNNL_TRY(dnnl_softmax_v2_forward_desc_init(&d, dnnl_forward_inference, dnnl_softmax_accurate,
                                               md, md, axis),
             "softmax descriptor");
    dnnl_primitive_attr_t attr = NULL;
    EV_TRY(make_attr(NULL, 1.0f, &attr, err));
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t ds = dnnl_primitive_desc_create(&pd, &d, attr, c->eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (ds != dnnl_success) return ev_dnnl_err(ds, err, "softmax");
    static const int args[] = {DNNL_ARG_SRC, DNNL_ARG_DST};
    return finish(c, pd, "softmax", args, 2, p, err);
}

ev_status ev_freorder_create(ev_fctx *c, const dnnl_memory_desc_t *src,
                             const dnnl_memory_desc_t *dst, ev_fprim *p, ev_err *err)
{
    memset(p, 0, sizeof *p);
    ev_fast_set_threads(c->threads);
    dnnl_primitive_attr_t attr = NULL;
    EV_TRY(make_attr(NULL, 1.0f, &attr, err));
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t ds = dnnl_reorder_primitive_desc_create(&pd, src, c->eng, dst, c->eng, attr);
    dnnl_primitive_attr_destroy(attr);
    if (ds != dnnl_success) return ev_dnnl_err(ds, err, "reorder");
    static const int args[] = {DNNL_ARG_SRC, DNNL_ARG_DST};
    return finish(c, pd, "reorder", args, 2, p, err);
}
