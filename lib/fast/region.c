/*
 * lib/fast/region.c — fused regions of a plan: layouts, primitives, memory
 * and execution (see fast.h).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fast/dwconv.h"
#include "fast/fuse.h"
#include "onnx/weights.h"

/* ---- data structures ---------------------------------------------------------------- */

enum { BR_INT = 0, BR_IN = 1, BR_OUT = 2, BR_CONST = 3 };

/* Where bytes live: an internal buffer, a boundary input/output of the
 * region step (plan value), or a constant. `off` is a byte offset (views). */
typedef struct bref {
    int kind;
    int idx;
    int64_t off;
    const void *ptr;              /* BR_CONST */
} bref;

typedef struct xbind {
    int arg;
    bref r;
} xbind;

typedef struct xitem {
    ev_fprim prim;
    int n_bind;
    xbind bind[EV_FPRIM_MAXARGS];
    const char *label;            /* node of the fused op (profiles)           */
    int nthr;                     /* OpenMP threads it was created for         */
    /* our own kernel instead of a primitive (prim.prim == NULL): called with
     * the resolved pointers of the bindings, in order */
    void (*cfn)(const struct xitem *it, void *const *ptr);
    int64_t cp[4];
    const void *cd;               /* cfn's description (in prim.owned[0])      */
    double prof_ms;               /* accumulated wall time when profiling      */
    double prof_cpu_ms;           /* accumulated CPU time of the calling thread */
    int64_t prof_n;
} xitem;

static int g_profile;             /* ev_fast_profile(): time every primitive   */

typedef struct ibuf {
    int64_t size;
    int first, last;              /* item interval (inclusive)                 */
    int last_fop;                 /* last region fop reading it (in-place)     */
    int64_t offset;
    int64_t rep;                  /* per-image bytes of a buffer the front
                                     writes image by image (0: reused)       */
} ibuf;

#define MAX_HOMES 3
typedef struct home {
    dnnl_memory_desc_t md;
    bref r;
} home;

typedef struct vinfo {
    int n_homes;
    home h[MAX_HOMES];            /* [0] = where the producer wrote it         */
    int last_fop;                 /* region position of the last reader        */
    int bin, bout;                /* boundary input/output index or -1         */
} vinfo;

typedef struct fshared {
    ev_fctx c;
    int refs;
    /* Constant weights (entries of onnx/weights.h) that this plan reads only
     * as the source of weight reorders, sorted: evicted from the graph once
     * reordered (src_done), restored when a later build needs them again
     * (src_acquire, e.g. the one-thread variant wanting another layout). */
    const ev_graph *g;
    const void **ev;
    int n_ev;
} fshared;

static void fshared_unref(fshared *sh)
{
    if (!sh || --sh->refs > 0) return;
    ev_fctx_fini(&sh->c);
    free(sh->ev);
    free(sh);
}

typedef struct region {
    fshared *sh;
    int threads;
    int n_items, cap_items;
    xitem *items;
    int n_bufs, cap_bufs;
    ibuf *bufs;
    int n_in, n_out;
    int *in_v, *out_v;
    int64_t int_bytes;            /* internal buffers                           */
    int64_t dnnl_scratch;         /* shared oneDNN scratchpad (after buffers)   */
    int n_fops, n_nodes, n_reorders;
    int n_fallbacks_total;        /* recorded on the plan's first region        */
    /* what is needed to build the region again (the one-thread variant) */
    ev_plan *p;
    ev_fast_opts o;
    int n_fcopy;
    fop *fcopy;                   /* the region's fused ops, in order           */
    int owns_weights;             /* fcopy's w_own/b_own are freed with it      */
    /* Image-by-image front (batch > 1): the first front_fops fused ops
     * (the high-resolution layers of a CNN) are built for ONE image and
     * their n_front_items items run `batch` times, image after image, so
     * that their activations stay in the caches; the rest runs once on the
     * whole batch. Bindings of the front move by image n * rep bytes
     * (ibuf.rep, in_rep/out_rep of the boundary); buffers the front alone
     * uses are reused by every image. */
    int front_fops;
    int n_front_items;
    int64_t batch;
    int64_t *in_rep, *out_rep;
    /* Adaptive threads. With the machine to itself, the full thread count
     * is fastest. When other processes compete for the cores, every OpenMP
     * parallel region waits for its slowest (descheduled) thread and the
     * full-thread primitives can run several times slower than on one
     * thread. A one-thread variant of the region (same fused ops, primitives
     * created for one thread, weights shared) is then built and the faster
     * one used; see region_run. Never more than the requested threads. */
    int adaptive;
    struct region *alt;           /* one-thread variant, built on demand        */
    int alt_failed;
    void *alt_mem;                /* alt's buffers + scratchpad when the step's
                                     scratch is too small for them, or NULL   */
    ev_fast_adapt ad;
} region;

static void region_free(void *ctx)
{
    region *r = ctx;
    if (!r) return;
    region_free(r->alt);
    for (int i = 0; i < r->n_items; i++) ev_fprim_free(&r->items[i].prim);
    free(r->items);
    free(r->bufs);
    free(r->in_v);
    free(r->out_v);
    free(r->in_rep);
    free(r->out_rep);
    if (r->owns_weights)
        for (int i = 0; i < r->n_fcopy; i++) {
            free(r->fcopy[i].w_own);
            free(r->fcopy[i].b_own);
        }
    free(r->fcopy);
    ev_free_aligned(r->alt_mem);
    fshared_unref(r->sh);
    free(r);
}

/* ---- execution ------------------------------------------------------------------------- */

/* Data of a binding for image `img` of the front (0 outside the front). */
static void *resolve(const ev_plan_step *s, char *base, const region *r, const bref *b, int64_t img)
{
    switch (b->kind) {
    case BR_INT: return base + r->bufs[b->idx].offset + b->off + img * r->bufs[b->idx].rep;
    case BR_IN: return (char *)s->in[b->idx]->data + b->off + (img ? img * r->in_rep[b->idx] : 0);
    case BR_OUT: return (char *)s->out[b->idx]->data + b->off + (img ? img * r->out_rep[b->idx] : 0);
    default: return (char *)b->ptr + b->off;
    }
}

static ev_status run_item(region *r, int i, int64_t img, const ev_plan_step *s, char *base, ev_exec_ctx *x)
{
    {
        xitem *it = &r->items[i];
        struct timespec t0, t1, c0, c1;
        if (g_profile) {
            clock_gettime(CLOCK_MONOTONIC, &t0);
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        }
        if (it->cfn) {
            void *ptr[EV_FPRIM_MAXARGS];
            for (int k = 0; k < it->n_bind; k++) ptr[k] = resolve(s, base, r, &it->bind[k].r, img);
            it->cfn(it, ptr);
        } else {
            ev_fast_set_threads(it->nthr);
            for (int k = 0; k < it->n_bind; k++)
                EV_TRY(ev_fprim_bind(&it->prim, it->bind[k].arg, resolve(s, base, r, &it->bind[k].r, img),
                                     x->err));
            if (it->prim.scratch_bytes > 0)
                EV_TRY(ev_fprim_bind(&it->prim, DNNL_ARG_SCRATCHPAD, base + r->int_bytes, x->err));
            dnnl_status_t st = dnnl_primitive_execute(it->prim.prim, r->sh->c.stream, it->prim.n_args,
                                                      it->prim.exec);
            if (st != dnnl_success) return ev_dnnl_err(st, x->err, it->prim.kind);
        }
        if (g_profile) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
            it->prof_ms += (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6;
            it->prof_cpu_ms += (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) * 1e-6;
            if (img == 0) it->prof_n++; /* per run; the front's images add up */
        }
    }
    return EV_OK;
}

static ev_status run_items(region *r, const ev_plan_step *s, char *base, ev_exec_ctx *x)
{
    int64_t imgs = r->n_front_items > 0 ? r->batch : 0;
    for (int64_t img = 0; img < imgs; img++)
        for (int i = 0; i < r->n_front_items; i++) EV_TRY(run_item(r, i, img, s, base, x));
    for (int i = imgs ? r->n_front_items : 0; i < r->n_items; i++) EV_TRY(run_item(r, i, 0, s, base, x));
    ev_fast_set_threads(r->threads);
    return EV_OK;
}

static ev_status build_alt(region *r, ev_err *err);

static double mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* Adaptive policy (per region, wall time of the region per run). Decisions
 * compare the median of the recent runs of each variant with the median of
 * three exploration runs (robust to single fast or slow runs), and a switch
 * to one thread needs a clear win:
 *   - the first 5 full-thread runs only warm up (not recorded);
 *   - full mode: if the recent full-thread runs are 1.5x slower than the
 *     best ever, or the calling thread had the CPU for less than 70% of them
 *     (it was descheduled, or slept waiting for a descheduled worker: busy
 *     cores), run the one-thread variant three times; switch to it if their
 *     median beats the recent full-thread median by 15%, else retry after 8,
 *     16, 32, then every 64 runs;
 *   - one-thread mode: 8 runs after the switch, then every 16 runs, run
 *     the full variant three times; switch back if their median beats the
 *     recent one-thread median (contention is often short: a first check
 *     after 8 runs halves the time spent on one thread after a burst).
 * On a quiet machine the full variant keeps its times and CPU share and
 * nothing else ever runs. */
/* Median of the recent runs in a ring (0 if none). */
static double recent_med(const double *w, int n)
{
    int k = n < EV_FAST_ADAPT_WIN ? n : EV_FAST_ADAPT_WIN;
    double v[EV_FAST_ADAPT_WIN];
    for (int i = 0; i < k; i++) {
        int j = i;
        while (j > 0 && v[j - 1] > w[i]) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = w[i];
    }
    return k ? v[k / 2] : 0.0;
}

int ev_fast_adapt_choose(const ev_fast_adapt *a) { return a->explore > 0 ? !a->mode : a->mode; }

void ev_fast_adapt_update(ev_fast_adapt *a, int one, double dt, double cpu, int alt_ok)
{
    int exploring = a->explore > 0;
    if (!one) {
        if (a->warm < 5) {
            /* the first runs are cold (page faults, caches): not recorded */
            a->warm++;
            return;
        }
        a->full[a->n_full % EV_FAST_ADAPT_WIN] = dt;
        a->n_full++;
        if (a->best_full == 0 || dt < a->best_full) a->best_full = dt;
        double u = dt > 0 ? cpu / dt : 1.0;
        a->ema_util = a->n_full == 1 ? u : 0.7 * a->ema_util + 0.3 * u;
    } else {
        a->one[a->n_one % EV_FAST_ADAPT_WIN] = dt;
        a->n_one++;
    }
    if (a->cool > 0) a->cool--;
    a->since++;
    if (exploring) {
        if (--a->explore > 0) return; /* more exploration runs follow */
        /* decide: median of the exploration runs against the recent median */
        if (a->mode == 0) {
            double e[3];
            for (int i = 0; i < 3; i++) e[i] = a->one[(a->n_one - 1 - i + 3 * EV_FAST_ADAPT_WIN) % EV_FAST_ADAPT_WIN];
            double o = recent_med(e, 3);
            if (a->n_one >= 3 && o < 0.85 * recent_med(a->full, a->n_full)) {
                a->mode = 1;
                a->fails = 0;
                a->back = 8;
            } else {
                /* back off: 8, 16, 32, 64 runs */
                a->cool = EV_FAST_ADAPT_WIN << (a->fails < 3 ? a->fails : 3);
                a->fails++;
            }
        } else {
            double e[3];
            for (int i = 0; i < 3; i++) e[i] = a->full[(a->n_full - 1 - i + 3 * EV_FAST_ADAPT_WIN) % EV_FAST_ADAPT_WIN];
            double f = recent_med(e, 3);
            if (f < recent_med(a->one, a->n_one)) {
                a->mode = 0;
                a->cool = 8;
                /* forget the slow full-thread runs of the busy period */
                for (int i = 0; i < EV_FAST_ADAPT_WIN; i++) a->full[i] = e[i % 3];
            } else {
                a->back = 16;
            }
        }
        a->since = 0;
        return;
    }
    if (!alt_ok) {
        a->mode = 0;
        return;
    }
    if (a->mode == 0) {
        if (a->cool == 0 && a->n_full >= 4 &&
            (recent_med(a->full, a->n_full) > 1.5 * a->best_full || a->ema_util < 0.7))
            a->explore = 3;
    } else if (a->since >= (a->back > 0 ? a->back : 16)) {
        a->explore = 3;
    }
}

/* Where the one-thread variant runs: its own memory, or the step's scratch
 * when it fits there (see build_alt). */
static char *region_alt_mem(const region *r, const ev_plan_step *s)
{
    return r->alt_mem ? r->alt_mem : s->scratch;
}

static ev_status region_run(const ev_plan_step *s, ev_exec_ctx *x)
{
    region *r = s->ctx;
    if (!r->adaptive) return run_items(r, s, s->scratch, x);
    if (r->o.disable & EV_FAST_ALT_ONLY) return run_items(r->alt, s, region_alt_mem(r, s), x);
    int one = ev_fast_adapt_choose(&r->ad);
    if (one && !r->alt && !r->alt_failed) {
        if (ev_log_enabled())
            ev_log(EV_LOG_DEBUG, "memory: before the one-thread variant: VmRSS %.1f MiB (peak %.1f)",
                   (double)ev_mem_rss_kib() / 1024.0, (double)ev_mem_peak_kib() / 1024.0);
        ev_err e2;
        ev_err_clear(&e2);
        if (build_alt(r, &e2) != EV_OK) {
            r->alt_failed = 1;
            ev_log(EV_LOG_INFO, "fast path: no one-thread variant: %s", e2.msg);
        } else {
            ev_log(EV_LOG_INFO, "fast path: the cores are busy: built a one-thread variant of a region");
            if (ev_log_enabled())
                ev_log(EV_LOG_DEBUG,
                       "memory: one-thread variant: buffers %.1f MiB + scratchpad %.1f MiB (%s, "
                       "step scratch %.1f MiB), VmRSS %.1f MiB (peak %.1f)",
                       (double)r->alt->int_bytes / 1048576.0,
                       (double)r->alt->dnnl_scratch / 1048576.0,
                       r->alt_mem ? "own memory" : "in the step's scratch",
                       (double)(r->int_bytes + r->dnnl_scratch) / 1048576.0,
                       (double)ev_mem_rss_kib() / 1024.0, (double)ev_mem_peak_kib() / 1024.0);
        }
    }
    if (one && !r->alt) one = 0;
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    double t0 = mono_ms();
    ev_status st = one ? run_items(r->alt, s, region_alt_mem(r, s), x) : run_items(r, s, s->scratch, x);
    if (st != EV_OK) return st;
    double wall = mono_ms() - t0;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) * 1e-6;
    int before = r->ad.mode;
    ev_fast_adapt_update(&r->ad, one, wall, cpu, !r->alt_failed);
    if (r->ad.mode != before)
        ev_log(EV_LOG_DEBUG,
               "fast path: region now on %s (full threads %.3f ms, best %.3f, CPU share %.2f; one "
               "thread %.3f ms)",
               r->ad.mode ? "one thread" : "full threads", recent_med(r->ad.full, r->ad.n_full),
               r->ad.best_full, r->ad.ema_util, recent_med(r->ad.one, r->ad.n_one));
    return EV_OK;
}

/* ---- builder ------------------------------------------------------------------------------ */

typedef struct bctx {
    ev_plan *p;
    const ev_fast_opts *o;
    region *r;
    fshared *sh;
    dnnl_data_type_t dt;          /* compute type                              */
    vinfo *vi;                    /* per value                                 */
    int pos;                      /* region position of the fop being built    */
    int failed;                   /* fop refused by oneDNN                     */
    const char *label;            /* node name of the fop being built          */
    int64_t in_hw;                /* pixels of the model's image input or 0    */
    int full_threads;             /* the plan's thread count                   */
    const ev_tensor *vt1;         /* building the front: value shapes of ONE
                                     image (VT), else NULL                    */
    double small_us;              /* fops estimated under this: one thread     */
} bctx;

static const ev_tensor *VT(const bctx *b, int v) { return b->vt1 ? &b->vt1[v] : &b->p->vals[v]; }

static size_t dt_size(dnnl_data_type_t dt) { return dt == dnnl_bf16 ? 2 : 4; }

static ev_status add_item(bctx *b, ev_fprim *prim, xitem **out, ev_err *err)
{
    region *r = b->r;
    if (r->n_items == r->cap_items) {
        int nc = r->cap_items ? r->cap_items * 2 : 32;
        xitem *ni = realloc(r->items, (size_t)nc * sizeof *ni);
        if (!ni) {
            ev_fprim_free(prim);
            return ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
        }
        r->items = ni;
        r->cap_items = nc;
    }
    xitem *it = &r->items[r->n_items++];
    memset(it, 0, sizeof *it);
    it->prim = *prim;
    it->label = b->label;
    it->nthr = b->sh->c.threads;
    if (!strcmp(prim->kind, "reorder")) r->n_reorders++;
    if (prim->scratch_bytes > (size_t)r->dnnl_scratch) r->dnnl_scratch = (int64_t)prim->scratch_bytes;
    *out = it;
    return EV_OK;
}

static void touch(bctx *b, const bref *ref, int item)
{
    if (ref->kind != BR_INT) return;
    ibuf *u = &b->r->bufs[ref->idx];
    if (u->first < 0 || item < u->first) u->first = item;
    if (item > u->last) u->last = item;
}

static ev_status bind(bctx *b, xitem *it, int arg, bref ref, ev_err *err)
{
    EV_FAIL_IF(it->n_bind >= EV_FPRIM_MAXARGS, err, EV_ERR_INTERNAL, "fast path: too many bindings");
    it->bind[it->n_bind].arg = arg;
    it->bind[it->n_bind].r = ref;
    it->n_bind++;
    touch(b, &ref, (int)(it - b->r->items));
    return EV_OK;
}

static ev_status new_buf(bctx *b, size_t bytes, bref *out, ev_err *err)
{
    region *r = b->r;
    if (r->n_bufs == r->cap_bufs) {
        int nc = r->cap_bufs ? r->cap_bufs * 2 : 32;
        ibuf *nb = realloc(r->bufs, (size_t)nc * sizeof *nb);
        EV_FAIL_IF(!nb, err, EV_ERR_NOMEM, "fast path: out of memory");
        r->bufs = nb;
        r->cap_bufs = nc;
    }
    ibuf *u = &r->bufs[r->n_bufs];
    memset(u, 0, sizeof *u);
    u->size = (int64_t)((bytes + EV_ALIGN - 1) / EV_ALIGN * EV_ALIGN);
    u->first = u->last = -1;
    u->last_fop = -1;
    u->rep = 0;
    memset(out, 0, sizeof *out);
    out->kind = BR_INT;
    out->idx = r->n_bufs++;
    return EV_OK;
}

/* Record a home for value v and extend its buffer's lifetime. */
static void set_home(bctx *b, int v, const dnnl_memory_desc_t *md, bref ref, int primary)
{
    vinfo *q = &b->vi[v];
    home h = {*md, ref};
    if (primary || q->n_homes == 0) {
        q->h[0] = h;
        if (q->n_homes == 0) q->n_homes = 1;
    } else if (q->n_homes < MAX_HOMES) {
        q->h[q->n_homes++] = h;
    } else {
        q->h[MAX_HOMES - 1] = h;
    }
    if (ref.kind == BR_INT) {
        ibuf *u = &b->r->bufs[ref.idx];
        if (q->last_fop > u->last_fop) u->last_fop = q->last_fop;
    }
}

static ev_status plain_md(const bctx *b, int v, dnnl_data_type_t dt, dnnl_memory_desc_t *md, ev_err *err)
{
    const ev_tensor *t = VT(b, v);
    if (t->rank == 0) {
        int64_t one = 1;
        return ev_fmd_plain(md, 1, &one, dt, err);
    }
    return ev_fmd_plain(md, t->rank, t->dims, dt, err);
}

static int is_blocked_plainish(const dnnl_memory_desc_t *md)
{
    return md->format_kind == dnnl_blocked && md->format_desc.blocking.inner_nblks == 0;
}

/* Dense: a permutation of a packed layout, no gaps (any dimension order),
 * or a blocked layout oneDNN chose (never a view). */
static int is_dense(const dnnl_memory_desc_t *md)
{
    if (md->format_kind == dnnl_blocked && md->format_desc.blocking.inner_nblks > 0)
        return md->offset0 == 0;
    if (!is_blocked_plainish(md)) return 0;
    int64_t n = 1;
    for (int i = 0; i < md->ndims; i++) n *= md->dims[i];
    return (int64_t)ev_fmd_bytes(md) == n * (int64_t)dt_size(md->data_type) && md->offset0 == 0;
}

static ev_status add_custom(bctx *b, const char *kind, void (*fn)(const xitem *, void *const *),
                            xitem **out, ev_err *err);
static int is_nhwc_f32(const dnnl_memory_desc_t *md);

/* nchw -> nhwc for few channels (the network input before a channels-last
 * stem convolution): a plain loop at memory speed, where oneDNN's generic
 * reorder is several times slower. cp = {N, C, H*W}. */
static void k_nchw2nhwc(const xitem *it, void *const *p)
{
    const float *x = p[0];
    float *y = p[1];
    int64_t N = it->cp[0], C = it->cp[1], HW = it->cp[2];
#pragma omp parallel for num_threads(it->nthr) if (it->nthr > 1 && N * HW * C >= 65536) schedule(static)
    for (int64_t q = 0; q < N * HW; q++) {
        int64_t n = q / HW, i = q % HW;
        const float *xi = x + n * C * HW + i;
        float *yo = y + q * C;
        for (int64_t c = 0; c < C; c++) yo[c] = xi[c * HW];
    }
}

static ev_status reorder_item(bctx *b, const dnnl_memory_desc_t *smd, bref src,
                              const dnnl_memory_desc_t *dmd, bref dst, ev_err *err)
{
    if (smd->ndims == 4 && smd->data_type == dnnl_f32 && ev_fmd_is_plain(smd) && is_nhwc_f32(dmd) &&
        smd->dims[1] <= 8 && smd->dims[2] * smd->dims[3] > 1 &&
        !memcmp(smd->dims, dmd->dims, 4 * sizeof smd->dims[0])) {
        xitem *it;
        EV_TRY(add_custom(b, "reorder", k_nchw2nhwc, &it, err));
        it->cp[0] = smd->dims[0];
        it->cp[1] = smd->dims[1];
        it->cp[2] = smd->dims[2] * smd->dims[3];
        it->prim.src_md = *smd;
        it->prim.dst_md = *dmd;
        EV_TRY(bind(b, it, DNNL_ARG_SRC, src, err));
        return bind(b, it, DNNL_ARG_DST, dst, err);
    }
    ev_fprim pr;
    EV_TRY(ev_freorder_create(&b->sh->c, smd, dmd, &pr, err));
    xitem *it;
    EV_TRY(add_item(b, &pr, &it, err));
    EV_TRY(bind(b, it, DNNL_ARG_SRC, src, err));
    return bind(b, it, DNNL_ARG_DST, dst, err);
}

/* A reference to v in layout `want` (reorder if no home has it). */
static ev_status get_input(bctx *b, int v, const dnnl_memory_desc_t *want, bref *out, ev_err *err)
{
    vinfo *q = &b->vi[v];
    EV_FAIL_IF(q->n_homes == 0, err, EV_ERR_INTERNAL, "fast path: value '%s' has no data",
               b->p->g->values[v].name);
    for (int i = 0; i < q->n_homes; i++)
        if (ev_fmd_equal(&q->h[i].md, want)) {
            *out = q->h[i].r;
            return EV_OK;
        }
    bref nb;
    EV_TRY(new_buf(b, ev_fmd_bytes(want), &nb, err));
    EV_TRY(reorder_item(b, &q->h[0].md, q->h[0].r, want, nb, err));
    set_home(b, v, want, nb, 0);
    *out = nb;
    return EV_OK;
}

/* Plain, dense version of v with data type dt (a home or a reorder). */
static ev_status get_plain(bctx *b, int v, dnnl_data_type_t dt, dnnl_memory_desc_t *md, bref *out,
                           ev_err *err)
{
    EV_TRY(plain_md(b, v, dt, md, err));
    return get_input(b, v, md, out, err);
}

/* Where the producer of v writes when its primitive produces layout md:
 * straight into the plan's buffer when v leaves the region as plain f32,
 * else a new internal buffer. */
static ev_status alloc_out(bctx *b, int v, const dnnl_memory_desc_t *md, bref *out, ev_err *err)
{
    vinfo *q = &b->vi[v];
    if (q->bout >= 0) {
        dnnl_memory_desc_t pm;
        EV_TRY(plain_md(b, v, dnnl_f32, &pm, err));
        if (ev_fmd_equal(md, &pm)) {
            memset(out, 0, sizeof *out);
            out->kind = BR_OUT;
            out->idx = q->bout;
            return EV_OK;
        }
    }
    return new_buf(b, ev_fmd_bytes(md), out, err);
}

/* Can the fop being built overwrite v's primary home? */
static int can_inplace(const bctx *b, int v, const dnnl_memory_desc_t *md)
{
    const vinfo *q = &b->vi[v];
    if (q->n_homes == 0 || q->h[0].r.kind != BR_INT || q->h[0].r.off != 0) return 0;
    if (q->bout >= 0 || b->vi[v].last_fop > b->pos) return 0;
    if (b->r->bufs[q->h[0].r.idx].last_fop > b->pos) return 0;
    return ev_fmd_equal(&q->h[0].md, md) && is_dense(md);
}

/* ---- row-permuted dense layouts ([T,B,C] views of [B,T,C] data) -------------------------- */

/* If md is a dense permutation with the last axis innermost, give the
 * order of axes from outermost to innermost. */
static int dense_order(const dnnl_memory_desc_t *md, int *order)
{
    if (!is_blocked_plainish(md) || md->offset0 != 0) return 0;
    int r = md->ndims;
    const dnnl_dim_t *st = md->format_desc.blocking.strides;
    int used[DNNL_MAX_NDIMS] = {0};
    for (int k = 0; k < r; k++) {
        int best = -1;
        for (int i = 0; i < r; i++)
            if (!used[i] && (best < 0 || st[i] > st[best] || (st[i] == st[best] && i < best))) best = i;
        used[best] = 1;
        order[k] = best;
    }
    if (order[r - 1] != r - 1) {
        /* the last axis must be innermost unless it has size 1 */
        if (md->dims[r - 1] != 1) return 0;
    }
    int64_t s = 1;
    for (int k = r - 1; k >= 0; k--) {
        int i = order[k];
        if (md->dims[i] != 1 && st[i] != s) return 0;
        s *= md->dims[i];
    }
    return 1;
}

/* md with the dims `dims` laid out in the same axis order as `like`. */
static ev_status md_like(const dnnl_memory_desc_t *like, const int *order, const int64_t *dims,
                         dnnl_data_type_t dt, dnnl_memory_desc_t *out, ev_err *err)
{
    int r = like->ndims;
    int64_t st[DNNL_MAX_NDIMS], s = 1;
    for (int k = r - 1; k >= 0; k--) {
        st[order[k]] = s;
        s *= dims[order[k]];
    }
    return ev_fmd_strided(out, r, dims, st, dt, err);
}

/* ---- per-kind builders ------------------------------------------------------------------------ */

#define REFUSE(st)                                                                                 \
    do {                                                                                           \
        if ((st) == EV_ERR_UNSUPPORTED) {                                                          \
            b->failed = 1;                                                                         \
            return EV_ERR_UNSUPPORTED;                                                             \
        }                                                                                          \
        return (st);                                                                               \
    } while (0)

/* The destination of a fused op with an optional sum post-op: in place in
 * the residual when possible, else a copy of the residual first. */
static ev_status sum_dst(bctx *b, const fop *f, const dnnl_memory_desc_t *dmd, bref *dst, ev_err *err)
{
    if (f->sum_in < 0) return alloc_out(b, f->out, dmd, dst, err);
    int rv = f->in[f->sum_in];
    if (can_inplace(b, rv, dmd)) {
        *dst = b->vi[rv].h[0].r;
        return EV_OK;
    }
    bref src;
    EV_TRY(get_input(b, rv, dmd, &src, err));
    /* a copy in the wanted layout (just made, or an earlier alternate)
     * that nothing reads later can be summed into directly */
    const vinfo *q = &b->vi[rv];
    if (src.kind == BR_INT && src.off == 0 && q->bout < 0 && q->last_fop <= b->pos &&
        b->r->bufs[src.idx].last_fop <= b->pos && is_dense(dmd) &&
        !(q->h[0].r.kind == BR_INT && q->h[0].r.idx == src.idx && !ev_fmd_equal(&q->h[0].md, dmd))) {
        *dst = src;
        return EV_OK;
    }
    EV_TRY(alloc_out(b, f->out, dmd, dst, err));
    return reorder_item(b, dmd, src, dmd, *dst, err);
}

static ev_status build_conv(bctx *b, const fop *f, ev_err *err)
{
    ev_fconv_spec s = f->conv;
    s.dt = b->dt;
    s.post = f->post;
    /* a blocked producer layout (chosen by a Winograd convolution) is kept
     * by the convolutions that follow when they have a fast kernel for it,
     * instead of reordering back and forth */
    const home *hx = &b->vi[f->in[0]].h[0];
    s.src_have = hx->md.format_kind == dnnl_blocked && hx->md.format_desc.blocking.inner_nblks > 0 &&
                         hx->r.off == 0
                     ? &hx->md
                     : NULL;
    s.winograd = !(b->o->disable & EV_FAST_NO_WINOGRAD);
    /* bf16: the stem (output >= 1/4 of the image's pixels) stays f32: the
     * rounding errors made there are amplified by every later layer, while
     * it holds a small share of the MACs. Everything after it, residual
     * sums included, is bf16 (f32 accumulation inside each primitive), so
     * that no f32 <-> bf16 reorders run between the blocks. ResNet-50 with
     * random weights, cosine to fp32: 0.9954 all-bf16, 0.99955 with this
     * rule; the earlier rule (f32 up to 1/16 of the pixels and f32
     * residual sums: 0.99994) was 11% (batch 1) to 18% (batch 8) slower. */
    s.dst_dt = b->dt;
    int64_t od[4];
    if (b->dt == dnnl_bf16 && b->in_hw > 0 && ev_fconv_out_dims(&s, od) && od[2] * od[3] * 4 >= b->in_hw)
        s.dt = s.dst_dt = dnnl_f32;
    ev_fprim pr;
    ev_status st = ev_fconv_create(&b->sh->c, &s, &pr, err);
    if (st != EV_OK) REFUSE(st);
    bref src, dst;
    st = get_input(b, f->in[0], &pr.src_md, &src, err);
    if (st == EV_OK) st = sum_dst(b, f, &pr.dst_md, &dst, err);
    if (st != EV_OK) {
        ev_fprim_free(&pr);
        return st;
    }
    dnnl_memory_desc_t dmd = pr.dst_md;
    xitem *it;
    EV_TRY(add_item(b, &pr, &it, err));
    EV_TRY(bind(b, it, DNNL_ARG_SRC, src, err));
    EV_TRY(bind(b, it, DNNL_ARG_DST, dst, err));
    set_home(b, f->out, &dmd, dst, 1);
    return EV_OK;
}

static ev_status build_matmul(bctx *b, const fop *f, ev_err *err)
{
    int x = f->in[0];
    const ev_tensor *xt = VT(b, x), *yt = VT(b, f->out);
    int64_t K = f->mm_k, N = f->mm_n, M = ev_tensor_numel(xt) / K;
    /* the rows may be in any order: use the producer's (dense) row order */
    const vinfo *q = &b->vi[x];
    int order[DNNL_MAX_NDIMS];
    dnnl_memory_desc_t amd, ymd;
    bref src;
    const dnnl_memory_desc_t *h0 = &q->h[0].md;
    /* bf16: a residual sum accumulates in f32 (the residual stream stays f32) */
    dnnl_data_type_t ydt = f->sum_in >= 0 ? dnnl_f32 : b->dt;
    if (q->n_homes > 0 && h0->data_type == b->dt && h0->ndims == xt->rank && dense_order(h0, order) &&
        q->h[0].r.kind != BR_CONST) {
        src = q->h[0].r;
        EV_TRY(md_like(h0, order, yt->dims, ydt, &ymd, err));
    } else {
        EV_TRY(get_plain(b, x, b->dt, &amd, &src, err));
        EV_TRY(plain_md(b, f->out, ydt, &ymd, err));
    }
    ev_fmatmul_spec s;
    memset(&s, 0, sizeof s);
    s.rank = 2;
    s.a_dims[0] = M;
    s.a_dims[1] = K;
    s.b_dims[0] = K;
    s.b_dims[1] = N;
    s.b_const = f->mm_b;
    s.bias = f->mm_bias;
    s.scale = 1.0f;
    s.post = f->post;
    s.dt = b->dt;
    s.dst_dt = ydt;
    ev_fprim pr;
    ev_status st = ev_fmatmul_create(&b->sh->c, &s, &pr, err);
    if (st != EV_OK) REFUSE(st);
    bref dst;
    st = sum_dst(b, f, &ymd, &dst, err);
    if (st != EV_OK) {
        ev_fprim_free(&pr);
        return st;
    }
    xitem *it;
    EV_TRY(add_item(b, &pr, &it, err));
    EV_TRY(bind(b, it, DNNL_ARG_SRC, src, err));
    EV_TRY(bind(b, it, DNNL_ARG_DST, dst, err));
    set_home(b, f->out, &ymd, dst, 1);
    return EV_OK;
}

/* A strided (non-blocked) home of v with type dt, or a plain copy. */
static ev_status get_strided(bctx *b, int v, dnnl_data_type_t dt, dnnl_memory_desc_t *md, bref *out,
                             ev_err *err)
{
    const vinfo *q = &b->vi[v];
    for (int i = 0; i < q->n_homes; i++)
        if (is_blocked_plainish(&q->h[i].md) && q->h[i].md.data_type == dt &&
            q->h[i].md.ndims == VT(b, v)->rank) {
            *md = q->h[i].md;
            *out = q->h[i].r;
            return EV_OK;
        }
    return get_plain(b, v, dt, md, out, err);
}

static ev_status build_bmm(bctx *b, const fop *f, ev_err *err)
{
    const ev_tensor *at = VT(b, f->in[0]), *bt = VT(b, f->in[1]);
    dnnl_memory_desc_t amd, bmd, cmd;
    bref ar, br, cr;
    EV_TRY(get_strided(b, f->in[0], b->dt, &amd, &ar, err));
    EV_TRY(get_strided(b, f->in[1], b->dt, &bmd, &br, err));
    EV_TRY(plain_md(b, f->out, b->dt, &cmd, err));
    ev_fmatmul_spec s;
    memset(&s, 0, sizeof s);
    s.rank = at->rank;
    memcpy(s.a_dims, at->dims, (size_t)at->rank * sizeof(int64_t));
    memcpy(s.b_dims, bt->dims, (size_t)bt->rank * sizeof(int64_t));
    s.a_md = &amd;
    s.b_md = &bmd;
    s.c_md = &cmd;
    s.scale = f->scale;
    s.dt = b->dt;
    ev_fprim pr;
    ev_status st = ev_fmatmul_create(&b->sh->c, &s, &pr, err);
    if (st == EV_ERR_UNSUPPORTED && (!ev_fmd_is_plain(&amd) || !ev_fmd_is_plain(&bmd))) {
        /* strided operands refused: plain copies */
        EV_TRY(get_plain(b, f->in[0], b->dt, &amd, &ar, err));
        EV_TRY(get_plain(b, f->in[1], b->dt, &bmd, &br, err));
        st = ev_fmatmul_create(&b->sh->c, &s, &pr, err);
    }
    if (st != EV_OK) REFUSE(st);
    st = alloc_out(b, f->out, &cmd, &cr, err);
    if (st != EV_OK) {
        ev_fprim_free(&pr);
        return st;
    }
    xitem *it;
    EV_TRY(add_item(b, &pr, &it, err));
    EV_TRY(bind(b, it, DNNL_ARG_SRC, ar, err));
    EV_TRY(bind(b, it, DNNL_ARG_WEIGHTS, br, err));
    EV_TRY(bind(b, it, DNNL_ARG_DST, cr, err));
    set_home(b, f->out, &cmd, cr, 1);
    return EV_OK;
}

static ev_status build_pool(bctx *b, const fop *f, ev_err *err)
{
    const vinfo *q = &b->vi[f->in[0]];
    dnnl_memory_desc_t smd = q->h[0].md;
    bref src = q->h[0].r;
    if (!is_dense(&smd) && !(smd.format_kind == dnnl_blocked && smd.offset0 == 0 && src.off == 0))
        EV_TRY(get_plain(b, f->in[0], smd.data_type, &smd, &src, err));
    ev_fpool_spec s = f->pool;
    s.src_md = &smd;
    ev_fprim pr;
    ev_status st = ev_fpool_create(&b->sh->c, &s, &pr, err);
    if (st != EV_OK) REFUSE(st);
    dnnl_memory_desc_t dmd = pr.dst_md;
    const ev_tensor *yt = VT(b, f->out);
    bref dst;
    if (yt->rank == 4) {
        st = alloc_out(b, f->out, &dmd, &dst, err);
    } else {
        st = new_buf(b, ev_fmd_bytes(&dmd), &dst, err);
    }
    if (st != EV_OK) {
        ev_fprim_free(&pr);
        return st;
    }
    xitem *it;
    EV_TRY(add_item(b, &pr, &it, err));
    EV_TRY(bind(b, it, DNNL_ARG_SRC, src, err));
    EV_TRY(bind(b, it, DNNL_ARG_DST, dst, err));
    if (yt->rank == 4) {
        set_home(b, f->out, &dmd, dst, 1);
        return EV_OK;
    }
    /* ReduceMean keepdims=0: [N,C,1,1] -> [N,C] */
    dnnl_memory_desc_t ymd;
    EV_TRY(plain_md(b, f->out, dmd.data_type, &ymd, err));
    if (ev_fmd_is_plain(&dmd)) {
        set_home(b, f->out, &ymd, dst, 1);
        return EV_OK;
    }
    int64_t d4[4] = {yt->dims[0], yt->dims[1], 1, 1};
    dnnl_memory_desc_t p4;
    EV_TRY(ev_fmd_plain(&p4, 4, d4, dmd.data_type, err));
    bref pb;
    EV_TRY(new_buf(b, ev_fmd_bytes(&p4), &pb, err));
    EV_TRY(reorder_item(b, &dmd, dst, &p4, pb, err));
    set_home(b, f->out, &ymd, pb, 1);
    return EV_OK;
}

static int src_is_home0(const bctx *b, int v, const bref *r)
{
    const bref *h = &b->vi[v].h[0].r;
    return b->vi[v].n_homes > 0 && h->kind == r->kind && h->idx == r->idx && h->off == r->off;
}

/* Source for an op whose dst uses the same (dense) layout as its src. */
static ev_status dense_src(bctx *b, int v, dnnl_memory_desc_t *md, bref *r, ev_err *err)
{
    const vinfo *q = &b->vi[v];
    for (int i = 0; i < q->n_homes; i++)
        if (is_dense(&q->h[i].md) || (q->h[i].md.format_kind == dnnl_blocked &&
                                      q->h[i].md.format_desc.blocking.inner_nblks > 0)) {
            *md = q->h[i].md;
            *r = q->h[i].r;
            return EV_OK;
        }
    return get_plain(b, v, q->h[0].md.data_type, md, r, err);
}

static ev_status build_eltwise(bctx *b, const fop *f, ev_err *err)
{
    dnnl_memory_desc_t md;
    bref src, dst;
    EV_TRY(dense_src(b, f->in[0], &md, &src, err));
    int inplace = src_is_home0(b, f->in[0], &src) && can_inplace(b, f->in[0], &md);
    ev_fprim p1, p2;
    ev_status st = ev_feltwise_create(&b->sh->c, f->alg[0], f->alpha[0], f->beta[0], &md, &p1, err);
    if (st != EV_OK) REFUSE(st);
    if (f->n_alg > 1) {
        st = ev_feltwise_create(&b->sh->c, f->alg[1], f->alpha[1], f->beta[1], &md, &p2, err);
        if (st != EV_OK) {
            ev_fprim_free(&p1);
            REFUSE(st);
        }
    }
    if (inplace) dst = src;
    else st = alloc_out(b, f->out, &md, &dst, err);
    if (st != EV_OK) {
        ev_fprim_free(&p1);
        if (f->n_alg > 1) ev_fprim_free(&p2);
        return st;
    }
    xitem *it;
    st = add_item(b, &p1, &it, err);
    if (st != EV_OK) {
        if (f->n_alg > 1) ev_fprim_free(&p2);
        return st;
    }
    EV_TRY(bind(b, it, DNNL_ARG_SRC, src, err));
    EV_TRY(bind(b, it, DNNL_ARG_DST, dst, err));
    if (f->n_alg > 1) {
        EV_TRY(add_item(b, &p2, &it, err));
        EV_TRY(bind(b, it, DNNL_ARG_SRC, dst, err));
        EV_TRY(bind(b, it, DNNL_ARG_DST, dst, err));
    }
    set_home(b, f->out, &md, dst, 1);
    return EV_OK;
}

/* Squeeze-excitation scaling on channels-last data: y[n,p,c] = x[n,p,c] *
 * s[n,c]. oneDNN 2.6's binary primitive broadcasts a per-channel operand over
 * an nhwc tensor ~12x slower than over nchw (no per-channel path for
 * channels-last); this loop runs at memory speed. cp = {N, H*W, C}. */
static void k_semul(const xitem *it, void *const *p)
{
    const float *x = p[0], *sc = p[1];
    float *y = p[2];
    int64_t N = it->cp[0], HW = it->cp[1], C = it->cp[2], total = N * HW;
#pragma omp parallel for num_threads(it->nthr) if (it->nthr > 1 && total * C >= 65536) schedule(static)
    for (int64_t q = 0; q < total; q++) {
        const float *g = sc + (q / HW) * C;
        const float *xi = x + q * C;
        float *yo = y + q * C;
#pragma omp simd
        for (int64_t c = 0; c < C; c++) yo[c] = xi[c] * g[c];
    }
}

/* ---- our own depthwise convolution (dwconv.h) ---------------------------------------------- */

static void k_dw(const xitem *it, void *const *p)
{
    const ev_dwk *k = it->cd;
    ev_dw_run(k, p[0], p[1], k->pool ? p[3] : NULL, p[2], it->nthr);
}

/* Channels-last f32 in, channels-last f32 out (+ the per-channel means). */
static ev_status build_dwconv(bctx *b, const fop *f, ev_err *err)
{
    const ev_fconv_spec *cs = &f->conv;
    int64_t od[4], xd[4] = {cs->n, cs->c, cs->h, cs->w};
    float lo, hi;
    int act = ev_dw_act_of(&f->post, &lo, &hi);
    EV_FAIL_IF(act < 0 || !ev_fconv_out_dims(cs, od), err, EV_ERR_INTERNAL,
               "fast path: depthwise kernel chosen for an unsupported convolution");
    dnnl_memory_desc_t xmd, ymd;
    EV_TRY(ev_fmd_nhwc(&xmd, 4, xd, dnnl_f32, err));
    EV_TRY(ev_fmd_nhwc(&ymd, 4, od, dnnl_f32, err));
    bref src, dst, work;
    EV_TRY(get_input(b, f->in[0], &xmd, &src, err));
    EV_TRY(alloc_out(b, f->out, &ymd, &dst, err));
    int nthr = b->sh->c.threads;
    ev_fctx *c = &b->sh->c;
    const void *wsrc = cs->weights;
    if (c->src_acquire) EV_TRY(c->src_acquire(c->src_user, wsrc, err));
    ev_dwk *k = NULL;
    void *mem = NULL;
    ev_status st = ev_dw_init(cs, f->dw_in_act, act, lo, hi, f->dw_pool, nthr, &k, &mem, err);
    if (c->src_done) c->src_done(c->src_user, wsrc);
    if (st != EV_OK) return st;
    xitem *it = NULL;
    st = add_custom(b, "dwconv", k_dw, &it, err);
    if (st != EV_OK) {
        ev_free_aligned(mem);
        return st;
    }
    it->prim.owned[0] = mem;
    it->prim.n_owned = 1;
    it->cd = k;
    snprintf(it->prim.impl, sizeof it->prim.impl, "embeval:avx512%s%s", f->dw_in_act ? "+in_act" : "",
             f->dw_pool ? "+mean" : "");
    it->prim.src_md = xmd;
    it->prim.dst_md = ymd;
    it->prim.flops = 2.0 * (double)od[0] * (double)od[1] * (double)od[2] * (double)od[3] * (double)(cs->kh * cs->kw);
    EV_TRY(new_buf(b, ev_dw_work_bytes(k, nthr) + 64, &work, err));
    EV_TRY(bind(b, it, DNNL_ARG_SRC, src, err));
    EV_TRY(bind(b, it, DNNL_ARG_DST, dst, err));
    EV_TRY(bind(b, it, DNNL_ARG_WORKSPACE, work, err));
    if (f->dw_pool) {
        dnnl_memory_desc_t pmd;
        bref pr;
        EV_TRY(plain_md(b, f->dw_pool_v, dnnl_f32, &pmd, err));
        EV_TRY(alloc_out(b, f->dw_pool_v, &pmd, &pr, err));
        EV_TRY(bind(b, it, DNNL_ARG_DST_1, pr, err));
        set_home(b, f->dw_pool_v, &pmd, pr, 1);
    }
    set_home(b, f->out, &ymd, dst, 1);
    return EV_OK;
}

static int region_reads(const region *r, int v, int except)
{
    for (int k = 0; k < r->n_fcopy; k++)
        if (k != except)
            for (int i = 0; i < r->fcopy[k].n_in; i++)
                if (r->fcopy[k].in[i] == v) return 1;
    return 0;
}

static int region_outputs(const region *r, int v)
{
    for (int i = 0; i < r->n_out; i++)
        if (r->out_v[i] == v) return 1;
    return 0;
}

/* Which convolutions of a region run on our depthwise kernel, and what it
 * absorbs: the swish post-op of the convolution that produces its input
 * (when nothing else reads that value) and a global average pooling of its
 * output (squeeze-excitation). Works on the region's own copies of the
 * fops; f32 AVX-512 only. */
static void dw_prepass(region *r)
{
    if (r->o.bf16 || (r->o.disable & EV_FAST_NO_OWNDW) || !ev_dw_available()) return;
    ev_plan *p = r->p;
    for (int k = 0; k < r->n_fcopy; k++) {
        fop *f = &r->fcopy[k];
        float lo, hi;
        if (f->kind != FOP_CONV || f->failed || f->sum_in >= 0 || f->n_in != 1 || !ev_dw_fits(&f->conv) ||
            ev_dw_act_of(&f->post, &lo, &hi) < 0)
            continue;
        const ev_tensor *xt = &p->vals[f->in[0]];
        if (xt->rank != 4 || xt->dims[0] != f->conv.n || xt->dims[1] != f->conv.c) continue;
        f->dw = 1;
        int x = f->in[0];
        for (int j = 0; j < k; j++) {
            fop *q = &r->fcopy[j];
            if (q->kind != FOP_CONV || q->out != x || q->failed || q->post.n < 1) continue;
            const ev_fpo *o = &q->post.op[q->post.n - 1];
            if (o->kind != EV_FPO_ELTWISE || o->alg != dnnl_eltwise_swish || o->alpha != 1.0f || o->scale != 1.0f)
                continue;
            if (region_reads(r, x, k) || region_outputs(r, x)) continue;
            q->post.n--;
            f->dw_in_act = EV_DW_SWISH;
        }
        /* without a swish to take over, oneDNN's depthwise kernel (brdgmm)
         * is as fast or faster: EfficientNet-Lite0 and MobileNetV3 5-8%
         * slower overall with ours */
        if (f->dw_in_act != EV_DW_SWISH && ev_dw_act_of(&f->post, &lo, &hi) != EV_DW_SWISH) {
            f->dw = 0;
            continue;
        }
        int64_t od[4];
        if (!ev_fconv_out_dims(&f->conv, od)) continue;
        for (int j = k + 1; j < r->n_fcopy; j++) {
            fop *q = &r->fcopy[j];
            const ev_fpool_spec *ps = &q->pool;
            if (q->kind != FOP_POOL || q->failed || q->merged || q->in[0] != f->out || ps->max || ps->kh != od[2] ||
                ps->kw != od[3] || ps->oh != 1 || ps->ow != 1 || ps->pad[0] || ps->pad[1] || ps->pad[2] ||
                ps->pad[3])
                continue;
            f->dw_pool = 1;
            f->dw_pool_v = q->out;
            q->merged = 1;
            break;
        }
    }
}

/* Channels-last, dense, f32, 4-D? */
static int is_nhwc_f32(const dnnl_memory_desc_t *md)
{
    if (md->ndims != 4 || md->data_type != dnnl_f32 || !is_blocked_plainish(md) || md->offset0) return 0;
    const dnnl_dim_t *d = md->dims, *st = md->format_desc.blocking.strides;
    return st[1] == 1 && (d[3] == 1 || st[3] == d[1]) && (d[2] == 1 || st[2] == d[1] * d[3]) &&
           (d[0] == 1 || st[0] == d[1] * d[2] * d[3]);
}

static ev_status add_custom(bctx *b, const char *kind, void (*fn)(const xitem *, void *const *),
                            xitem **out, ev_err *err)
{
    ev_fprim pr;
    memset(&pr, 0, sizeof pr);
    pr.kind = kind;
    snprintf(pr.impl, sizeof pr.impl, "embeval:c");
    EV_TRY(add_item(b, &pr, out, err));
    (*out)->cfn = fn;
    return EV_OK;
}

static ev_status build_binary(bctx *b, const fop *f, ev_err *err)
{
    const ev_tensor *yt = VT(b, f->out);
    int r = yt->rank;
    dnnl_memory_desc_t m0, m1;
    bref s0, s1;
    EV_TRY(dense_src(b, f->in[0], &m0, &s0, err));
    if (f->cst_pos == 1) {
        int64_t d[EV_MAX_RANK];
        for (int i = 0; i < r; i++) d[i] = 1;
        for (int i = 0; i < f->cst.rank; i++) d[r - f->cst.rank + i] = f->cst.dims[i];
        EV_TRY(ev_fmd_plain(&m1, r, d, dnnl_f32, err));
        memset(&s1, 0, sizeof s1);
        s1.kind = BR_CONST;
        s1.ptr = f->cst.data;
    } else {
        const ev_tensor *t1 = VT(b, f->in[1]);
        int full = t1->rank == r;
        for (int i = 0; full && i < r; i++) full = t1->dims[i] == yt->dims[i];
        if (full) {
            dnnl_memory_desc_t want = m0;
            EV_TRY(get_input(b, f->in[1], &want, &s1, err));
            m1 = want;
        } else if (t1->rank == r) {
            EV_TRY(get_strided(b, f->in[1], b->vi[f->in[1]].h[0].md.data_type, &m1, &s1, err));
        } else {
            /* lower rank: read its plain data with leading 1s */
            dnnl_memory_desc_t pm;
            EV_TRY(get_plain(b, f->in[1], b->vi[f->in[1]].h[0].md.data_type, &pm, &s1, err));
            int64_t d[EV_MAX_RANK];
            for (int i = 0; i < r; i++) d[i] = 1;
            for (int i = 0; i < t1->rank; i++) d[r - t1->rank + i] = t1->dims[i];
            EV_TRY(ev_fmd_plain(&m1, r, d, pm.data_type, err));
        }
    }
    if (m0.ndims != r) {
        /* src0 home of another rank cannot happen for a full-shape operand */
        return ev_err_set(err, EV_ERR_INTERNAL, "fast path: binary rank mismatch");
    }
    if (f->balg == dnnl_binary_mul && f->post.n == 0 && f->cst_pos != 1 && is_nhwc_f32(&m0) &&
        m1.ndims == 4 && m1.dims[2] == 1 && m1.dims[3] == 1 && m1.dims[1] == m0.dims[1] &&
        m1.dims[0] == m0.dims[0] && m0.dims[2] * m0.dims[3] > 1) {
        /* squeeze-excitation gate: our own loop (see k_semul) */
        dnnl_memory_desc_t gm;
        bref g;
        EV_TRY(get_plain(b, f->in[1], dnnl_f32, &gm, &g, err));
        bref dst;
        if (src_is_home0(b, f->in[0], &s0) && can_inplace(b, f->in[0], &m0)) dst = s0;
        else EV_TRY(alloc_out(b, f->out, &m0, &dst, err));
        xitem *it = NULL;
        EV_TRY(add_custom(b, "semul", k_semul, &it, err));
        it->cp[0] = m0.dims[0];
        it->cp[1] = m0.dims[2] * m0.dims[3];
        it->cp[2] = m0.dims[1];
        it->prim.dst_md = m0;
        it->prim.src_md = m0;
        EV_TRY(bind(b, it, DNNL_ARG_SRC_0, s0, err));
        EV_TRY(bind(b, it, DNNL_ARG_SRC_1, g, err));
        EV_TRY(bind(b, it, DNNL_ARG_DST, dst, err));
        set_home(b, f->out, &m0, dst, 1);
        return EV_OK;
    }
    ev_fprim pr;
    ev_status st = ev_fbinary_create(&b->sh->c, f->balg, &m0, &m1, &m0, &f->post, &pr, err);
    if (st != EV_OK) REFUSE(st);
    bref dst;
    int inplace = src_is_home0(b, f->in[0], &s0) && can_inplace(b, f->in[0], &m0) &&
                  !(f->cst_pos != 1 && f->in[1] == f->in[0]);
    if (inplace) dst = s0;
    else st = alloc_out(b, f->out, &m0, &dst, err);
    if (st != EV_OK) {
        ev_fprim_free(&pr);
        return st;
    }
    xitem *it;
    EV_TRY(add_item(b, &pr, &it, err));
    EV_TRY(bind(b, it, DNNL_ARG_SRC_0, s0, err));
    EV_TRY(bind(b, it, DNNL_ARG_SRC_1, s1, err));
    EV_TRY(bind(b, it, DNNL_ARG_DST, dst, err));
    set_home(b, f->out, &m0, dst, 1);
    return EV_OK;
}

static ev_status build_softmax(bctx *b, const fop *f, ev_err *err)
{
    dnnl_memory_desc_t md;
    bref src, dst;
    EV_TRY(dense_src(b, f->in[0], &md, &src, err));
    if (!ev_fmd_is_plain(&md)) EV_TRY(get_plain(b, f->in[0], md.data_type, &md, &src, err));
    ev_fprim pr;
    ev_status st = ev_fsoftmax_create(&b->sh->c, &md, f->axis, &pr, err);
    if (st != EV_OK) REFUSE(st);
    if (src_is_home0(b, f->in[0], &src) && can_inplace(b, f->in[0], &md)) dst = src;
    else st = alloc_out(b, f->out, &md, &dst, err);
    if (st != EV_OK) {
        ev_fprim_free(&pr);
        return st;
    }
    xitem *it;
    EV_TRY(add_item(b, &pr, &it, err));
    EV_TRY(bind(b, it, DNNL_ARG_SRC, src, err));
    EV_TRY(bind(b, it, DNNL_ARG_DST, dst, err));
    set_home(b, f->out, &md, dst, 1);
    return EV_OK;
}

static ev_status build_lnorm(bctx *b, const fop *f, ev_err *err)
{
    int x = f->in[0];
    const ev_tensor *xt = VT(b, x);
    int64_t C = xt->dims[xt->rank - 1], M = ev_tensor_numel(xt) / C;
    const vinfo *q = &b->vi[x];
    int order[DNNL_MAX_NDIMS];
    dnnl_memory_desc_t ymd, md2;
    bref src, dst;
    dnnl_data_type_t dt = q->h[0].md.data_type;
    if (q->h[0].md.ndims == xt->rank && dense_order(&q->h[0].md, order)) {
        src = q->h[0].r;
        EV_TRY(md_like(&q->h[0].md, order, xt->dims, dt, &ymd, err));
    } else {
        dnnl_memory_desc_t pm;
        EV_TRY(get_plain(b, x, dt, &pm, &src, err));
        ymd = pm;
    }
    int64_t d2[2] = {M, C};
    EV_TRY(ev_fmd_plain(&md2, 2, d2, dt, err));
    ev_fprim pr;
    ev_status st = ev_flnorm_create(&b->sh->c, &md2, f->eps, f->gamma, f->beta_v, &pr, err);
    if (st != EV_OK) REFUSE(st);
    if (src_is_home0(b, x, &src) && can_inplace(b, x, &ymd)) dst = src;
    else st = alloc_out(b, f->out, &ymd, &dst, err);
    if (st != EV_OK) {
        ev_fprim_free(&pr);
        return st;
    }
    xitem *it;
    EV_TRY(add_item(b, &pr, &it, err));
    EV_TRY(bind(b, it, DNNL_ARG_SRC, src, err));
    EV_TRY(bind(b, it, DNNL_ARG_DST, dst, err));
    set_home(b, f->out, &ymd, dst, 1);
    return EV_OK;
}

/* Strides that read a strided tensor (od, ost) as shape nd without a copy
 * (NumPy's no-copy reshape rule, C order); false if impossible. */
static int reshape_strides(int orank, const int64_t *od, const int64_t *ost, int nrank,
                           const int64_t *nd, int64_t *nst)
{
    int64_t odim[DNNL_MAX_NDIMS], ostr[DNNL_MAX_NDIMS];
    int on = 0;
    for (int i = 0; i < orank; i++)
        if (od[i] != 1) {
            odim[on] = od[i];
            ostr[on] = ost[i];
            on++;
        }
    int oi = 0, oj = 1, ni = 0, nj = 1;
    while (ni < nrank && oi < on) {
        int64_t np = nd[ni], op = odim[oi];
        while (np != op) {
            if (np < op) {
                if (nj >= nrank) return 0;
                np *= nd[nj++];
            } else {
                if (oj >= on) return 0;
                op *= odim[oj++];
            }
        }
        for (int ok = oi; ok < oj - 1; ok++)
            if (ostr[ok] != odim[ok + 1] * ostr[ok + 1]) return 0;
        nst[nj - 1] = ostr[oj - 1];
        for (int nk = nj - 1; nk > ni; nk--) nst[nk - 1] = nst[nk] * nd[nk];
        ni = nj++;
        oi = oj++;
    }
    if (oi < on) return 0;
    int64_t last = ni >= 1 ? nst[ni - 1] : 1;
    for (int nk = ni; nk < nrank; nk++) nst[nk] = last;
    return 1;
}

static ev_status build_reshape(bctx *b, const fop *f, ev_err *err)
{
    const vinfo *q = &b->vi[f->in[0]];
    const ev_tensor *yt = VT(b, f->out);
    int64_t one = 1;
    int yr = yt->rank ? yt->rank : 1;
    const int64_t *yd = yt->rank ? yt->dims : &one;
    /* a view of any strided home when the shapes allow it */
    for (int i = 0; i < q->n_homes; i++) {
        const dnnl_memory_desc_t *md = &q->h[i].md;
        if (!is_blocked_plainish(md) || md->offset0 != 0) continue;
        int64_t od[DNNL_MAX_NDIMS], ost[DNNL_MAX_NDIMS], nst[DNNL_MAX_NDIMS];
        for (int k = 0; k < md->ndims; k++) {
            od[k] = md->dims[k];
            ost[k] = md->format_desc.blocking.strides[k];
        }
        if (!reshape_strides(md->ndims, od, ost, yr, yd, nst)) continue;
        dnnl_memory_desc_t ymd;
        EV_TRY(ev_fmd_strided(&ymd, yr, yd, nst, md->data_type, err));
        set_home(b, f->out, &ymd, q->h[i].r, 1);
        return EV_OK;
    }
    dnnl_memory_desc_t md, ymd;
    bref src;
    EV_TRY(get_plain(b, f->in[0], q->h[0].md.data_type, &md, &src, err));
    EV_TRY(plain_md(b, f->out, md.data_type, &ymd, err));
    set_home(b, f->out, &ymd, src, 1);
    return EV_OK;
}

static ev_status build_transpose(bctx *b, const fop *f, ev_err *err)
{
    dnnl_memory_desc_t md, ymd;
    bref src;
    EV_TRY(get_strided(b, f->in[0], b->vi[f->in[0]].h[0].md.data_type, &md, &src, err));
    const ev_tensor *yt = VT(b, f->out);
    int64_t st[DNNL_MAX_NDIMS];
    for (int i = 0; i < yt->rank; i++) st[i] = md.format_desc.blocking.strides[f->perm[i]];
    EV_TRY(ev_fmd_strided(&ymd, yt->rank, yt->dims, st, md.data_type, err));
    set_home(b, f->out, &ymd, src, 1);
    return EV_OK;
}

static ev_status build_slice(bctx *b, const fop *f, ev_err *err)
{
    dnnl_memory_desc_t md, ymd;
    bref src;
    EV_TRY(get_strided(b, f->in[0], b->vi[f->in[0]].h[0].md.data_type, &md, &src, err));
    const ev_tensor *xt = VT(b, f->in[0]), *yt = VT(b, f->out);
    int64_t st[DNNL_MAX_NDIMS], off = 0;
    int k = 0;
    for (int i = 0; i < xt->rank; i++) {
        int64_t s = md.format_desc.blocking.strides[i];
        off += f->sl_start[i] * s;
        if (i == f->drop_axis) continue;
        st[k++] = s * f->sl_step[i];
    }
    EV_FAIL_IF(k != yt->rank, err, EV_ERR_INTERNAL, "fast path: slice rank");
    if (yt->rank == 0) {
        int64_t one = 1, s1 = 1;
        EV_TRY(ev_fmd_strided(&ymd, 1, &one, &s1, md.data_type, err));
    } else {
        EV_TRY(ev_fmd_strided(&ymd, yt->rank, yt->dims, st, md.data_type, err));
    }
    src.off += off * (int64_t)dt_size(md.data_type);
    set_home(b, f->out, &ymd, src, 1);
    return EV_OK;
}

static ev_status build_concat(bctx *b, const fop *f, ev_err *err)
{
    const ev_tensor *yt = VT(b, f->out);
    dnnl_memory_desc_t ymd;
    EV_TRY(plain_md(b, f->out, b->dt, &ymd, err));
    bref dst;
    EV_TRY(alloc_out(b, f->out, &ymd, &dst, err));
    int64_t st[EV_MAX_RANK], s = 1;
    for (int i = yt->rank - 1; i >= 0; i--) {
        st[i] = s;
        s *= yt->dims[i];
    }
    int64_t cum = 0;
    for (int k = 0; k < f->n_in; k++) {
        const ev_tensor *xt = VT(b, f->in[k]);
        dnnl_memory_desc_t sub;
        EV_TRY(ev_fmd_strided(&sub, yt->rank, xt->dims, st, b->dt, err));
        bref part = dst;
        part.off += cum * st[f->axis] * (int64_t)dt_size(b->dt);
        const home *h = &b->vi[f->in[k]].h[0];
        ev_status rc = reorder_item(b, &h->md, h->r, &sub, part, err);
        if (rc != EV_OK) REFUSE(rc);
        cum += xt->dims[f->axis];
    }
    set_home(b, f->out, &ymd, dst, 1);
    return EV_OK;
}

static ev_status build_split(bctx *b, const fop *f, ev_err *err)
{
    dnnl_memory_desc_t md, ymd;
    bref src;
    EV_TRY(get_strided(b, f->in[0], b->vi[f->in[0]].h[0].md.data_type, &md, &src, err));
    int64_t st[DNNL_MAX_NDIMS];
    for (int i = 0; i < md.ndims; i++) st[i] = md.format_desc.blocking.strides[i];
    int64_t cum = 0;
    for (int k = 0; k < f->n_xout; k++) {
        const ev_tensor *yt = VT(b, f->xout[k]);
        EV_TRY(ev_fmd_strided(&ymd, yt->rank, yt->dims, st, md.data_type, err));
        bref part = src;
        part.off += cum * st[f->axis] * (int64_t)dt_size(md.data_type);
        set_home(b, f->xout[k], &ymd, part, 1);
        cum += yt->dims[f->axis];
    }
    return EV_OK;
}

/* Outputs of a fop: out, or every split output. */
static int fop_outs(const fop *f, int *outs)
{
    if (f->kind == FOP_SPLIT) {
        memcpy(outs, f->xout, (size_t)f->n_xout * sizeof(int));
        return f->n_xout;
    }
    outs[0] = f->out;
    return 1;
}

/* Bytes of a value as f32. */
static double vbytes(const bctx *b, int v) { return v >= 0 ? 4.0 * (double)ev_tensor_numel(VT(b, v)) : 0.0; }

/* Threads for a fused op: small ones run on the calling thread alone, so
 * that they cost no OpenMP fork/join (a few microseconds each, much more
 * when the machine is busy). The estimate is deliberately crude: time at
 * ~40 GFLOP/s and ~15 GB/s per thread. */
static int fop_threads(const bctx *b, const fop *f)
{
    int full = b->full_threads;
    if (full <= 1) return full;
    double flops = 0.0, bytes = vbytes(b, f->out);
    for (int i = 0; i < f->n_in; i++) bytes += vbytes(b, f->in[i]);
    if (f->kind == FOP_CONV) {
        const ev_fconv_spec *c = &f->conv;
        int64_t od[4];
        if (ev_fconv_out_dims(c, od))
            flops = 2.0 * (double)od[0] * (double)od[1] * (double)od[2] * (double)od[3] *
                    (double)(c->c / c->groups) * (double)c->kh * (double)c->kw;
        bytes += 4.0 * (double)c->oc * (double)(c->c / c->groups) * (double)(c->kh * c->kw);
    } else if (f->kind == FOP_MATMUL) {
        double rows = vbytes(b, f->out) / 4.0 / (double)f->mm_n;
        flops = 2.0 * rows * (double)f->mm_n * (double)f->mm_k;
        bytes += 4.0 * (double)f->mm_n * (double)f->mm_k;
    } else if (f->kind == FOP_BMM) {
        const ev_tensor *a = VT(b, f->in[0]);
        flops = 2.0 * vbytes(b, f->out) / 4.0 * (double)a->dims[a->rank - 1];
    } else if (f->kind == FOP_RESHAPE || f->kind == FOP_TRANSPOSE || f->kind == FOP_SLICE ||
               f->kind == FOP_SPLIT) {
        return full; /* views: no primitive unless a reorder is needed */
    }
    double us = flops / 40e3 + bytes / 15e3;
    return us < b->small_us ? 1 : full;
}

static ev_status build_fop(bctx *b, const fop *f, ev_err *err)
{
    switch (f->kind) {
    case FOP_CONV: return f->dw ? build_dwconv(b, f, err) : build_conv(b, f, err);
    case FOP_MATMUL: return build_matmul(b, f, err);
    case FOP_BMM: return build_bmm(b, f, err);
    case FOP_POOL: return f->merged ? EV_OK : build_pool(b, f, err);
    case FOP_ELTWISE: return build_eltwise(b, f, err);
    case FOP_BINARY: return build_binary(b, f, err);
    case FOP_SOFTMAX: return build_softmax(b, f, err);
    case FOP_LNORM: return build_lnorm(b, f, err);
    case FOP_RESHAPE: return build_reshape(b, f, err);
    case FOP_TRANSPOSE: return build_transpose(b, f, err);
    case FOP_SLICE: return build_slice(b, f, err);
    case FOP_CONCAT: return build_concat(b, f, err);
    case FOP_SPLIT: return build_split(b, f, err);
    }
    return ev_err_set(err, EV_ERR_INTERNAL, "fast path: unknown fused op");
}

/* ---- memory plan inside a region ------------------------------------------------------------ */

static int cmp_buf_size(const void *a, const void *b)
{
    const ibuf *const *x = a, *const *y = b;
    if ((*x)->size != (*y)->size) return (*x)->size > (*y)->size ? -1 : 1;
    return (*x)->first - (*y)->first;
}

static ev_status plan_buffers(region *r, ev_err *err)
{
    ibuf **ord = malloc(((size_t)r->n_bufs + 1) * sizeof *ord);
    EV_FAIL_IF(!ord, err, EV_ERR_NOMEM, "fast path: out of memory");
    int n = 0;
    for (int i = 0; i < r->n_bufs; i++) {
        r->bufs[i].offset = 0;
        if (r->bufs[i].first >= 0) ord[n++] = &r->bufs[i];
    }
    qsort(ord, (size_t)n, sizeof *ord, cmp_buf_size);
    int64_t top = 0;
    for (int i = 0; i < n; i++) {
        int64_t cur = 0;
        /* lowest offset free of every placed, time-overlapping buffer */
        for (int again = 1; again;) {
            again = 0;
            for (int j = 0; j < i; j++) {
                ibuf *o = ord[j];
                if (o->first > ord[i]->last || ord[i]->first > o->last) continue;
                if (cur < o->offset + o->size && o->offset < cur + ord[i]->size) {
                    cur = o->offset + o->size;
                    again = 1;
                }
            }
        }
        ord[i]->offset = cur;
        if (cur + ord[i]->size > top) top = cur + ord[i]->size;
    }
    free(ord);
    r->int_bytes = (top + 4095) / 4096 * 4096;
    return EV_OK;
}

/* ---- the pass --------------------------------------------------------------------------------- */

typedef struct rgroup {
    int first, n;                 /* range in the anchor-ordered fop list     */
    region *r;
} rgroup;

typedef struct pass_state {
    ev_plan *p;
    const ev_fast_opts *o;
    fop_list *L;
    fshared *sh;
    int *order;                   /* fop indices by anchor                    */
    int n_order;
    int *fop_region;              /* fop -> region id or -1                   */
    rgroup *groups;
    int n_groups;
} pass_state;

/* Regions: maximal runs of fop anchors with no reference step between. */
static ev_status make_groups(pass_state *S, ev_err *err)
{
    ev_plan *p = S->p;
    fop_list *L = S->L;
    S->n_order = 0;
    S->n_groups = 0;
    for (int i = 0; i < L->n; i++) S->fop_region[i] = -1;
    int open = 0;
    for (int s = 0; s < p->n_steps; s++) {
        int f = L->claim[s];
        if (f < 0) {
            open = 0;
            continue;
        }
        if (L->v[f].anchor != s) continue;
        if (!open) {
            rgroup *g = &S->groups[S->n_groups++];
            g->first = S->n_order;
            g->n = 0;
            g->r = NULL;
            open = 1;
        }
        S->order[S->n_order++] = f;
        S->groups[S->n_groups - 1].n++;
        S->fop_region[f] = S->n_groups - 1;
    }
    (void)err;
    return EV_OK;
}

static void free_groups(pass_state *S)
{
    for (int i = 0; i < S->n_groups; i++) {
        region_free(S->groups[i].r);
        S->groups[i].r = NULL;
    }
}

/* Values a region's front hands to the rest of it (or to the plan) become
 * whole-batch values: every home's layout must hold image n at n times the
 * bytes of one image (batch outermost, no view offsets); internal buffers
 * then hold all images (ibuf.rep) and live from the region's start. False
 * if some layout does not allow it. */
static int front_handover(bctx *b, int nv)
{
    region *r = b->r;
    for (int v = 0; v < nv; v++) {
        vinfo *q = &b->vi[v];
        if (q->n_homes == 0 || b->vt1[v].dims[0] == b->p->vals[v].dims[0] || q->last_fop < r->front_fops)
            continue;
        for (int i = 0; i < q->n_homes; i++) {
            home *h = &q->h[i];
            if (h->r.kind == BR_CONST) continue;
            dnnl_memory_desc_t *md = &h->md;
            if (md->format_kind != dnnl_blocked || md->offset0 != 0 || h->r.off != 0 || md->dims[0] != 1 ||
                md->padded_dims[0] != 1)
                return 0;
            int64_t img = (int64_t)ev_fmd_bytes(md), es = (int64_t)dt_size(md->data_type);
            if (md->format_desc.blocking.strides[0] * es != img) return 0; /* batch not outermost */
            md->format_desc.blocking.strides[0] = img / es;
            md->dims[0] = md->padded_dims[0] = b->p->vals[v].dims[0];
            if (h->r.kind == BR_INT) {
                ibuf *u = &r->bufs[h->r.idx];
                if (u->rep != 0 && u->rep != img) return 0;
                if (u->rep == 0) {
                    u->rep = img;
                    u->size = (img * r->batch + EV_ALIGN - 1) / EV_ALIGN * EV_ALIGN;
                }
                u->first = 0;
            } else if (h->r.kind == BR_IN) {
                if (r->in_rep[h->r.idx] != img) return 0;
            } else if (h->r.kind == BR_OUT) {
                if (r->out_rep[h->r.idx] != img) return 0;
            }
        }
    }
    return 1;
}

static void clear_items(region *r)
{
    for (int i = 0; i < r->n_items; i++) ev_fprim_free(&r->items[i].prim);
    r->n_items = 0;
    r->n_bufs = 0;
    r->n_reorders = 0;
    r->dnnl_scratch = 0;
    r->int_bytes = 0;
    r->n_front_items = 0;
}

static ev_status build_items_try(region *r, int threads, int front, int *bad, int *no_front, ev_err *err);

/* Build the items of region r from r->fcopy and its boundary (in_v/out_v),
 * creating primitives for at most `threads` threads. On a oneDNN refusal
 * *bad = the index in fcopy of the refused fop. With an image-by-image
 * front that the layouts do not allow, the region is built without it. */
static ev_status build_items(region *r, int threads, int *bad, ev_err *err)
{
    int no_front = 0;
    ev_status st = build_items_try(r, threads, r->front_fops, bad, &no_front, err);
    if (st == EV_OK && no_front) {
        ev_log(EV_LOG_DEBUG, "fast path: no image-by-image front (a layout keeps the batch inside)");
        clear_items(r);
        r->front_fops = 0;
        st = build_items_try(r, threads, 0, bad, &no_front, err);
    }
    return st;
}

static ev_status build_items_try(region *r, int threads, int front, int *bad, int *no_front, ev_err *err)
{
    ev_plan *p = r->p;
    const ev_graph *g = p->g;
    int nv = g->n_values;
    *bad = -1;
    *no_front = 0;
    bctx b;
    memset(&b, 0, sizeof b);
    fshared *sh = r->sh;
    int saved = sh->c.threads;
    vinfo *vi = calloc((size_t)nv + 1, sizeof *vi);
    ev_tensor *vt1 = NULL;
    ev_status st = EV_OK;
    if (!vi) return ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
    if (front > 0) {
        /* the front's view of the values: one image */
        vt1 = malloc(((size_t)nv + 1) * sizeof *vt1);
        if (!vt1) {
            free(vi);
            return ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
        }
        for (int v = 0; v < nv; v++) {
            vt1[v] = p->vals[v];
            if (p->state[v] != EV_VS_CONST && vt1[v].rank >= 1 && vt1[v].dims[0] == r->batch) vt1[v].dims[0] = 1;
        }
    }
    r->threads = threads;
    r->n_front_items = 0;
    for (int v = 0; v < nv; v++) {
        vi[v].bin = vi[v].bout = -1;
        vi[v].last_fop = -1;
    }
    for (int i = 0; i < r->n_in; i++) vi[r->in_v[i]].bin = i;
    for (int i = 0; i < r->n_out; i++) vi[r->out_v[i]].bout = i;
    for (int k = 0; k < r->n_fcopy; k++) {
        const fop *f = &r->fcopy[k];
        for (int i = 0; i < f->n_in; i++)
            if (f->in[i] >= 0) vi[f->in[i]].last_fop = k;
    }
    for (int i = 0; i < r->n_out; i++) vi[r->out_v[i]].last_fop = INT_MAX;
    b.p = p;
    b.o = &r->o;
    b.r = r;
    b.sh = sh;
    b.dt = r->o.bf16 ? dnnl_bf16 : dnnl_f32;
    b.vi = vi;
    b.full_threads = threads;
    b.small_us = 12.0;
    b.vt1 = vt1;
    for (int i = 0; i < g->n_inputs && !b.in_hw; i++) {
        const ev_tensor *t = &p->vals[g->inputs[i]];
        if (t->rank == 4) b.in_hw = t->dims[2] * t->dims[3];
    }
    /* constant inputs of fops (Concat of a class token, ...): read in place */
    for (int k = 0; k < r->n_fcopy; k++) {
        const fop *f = &r->fcopy[k];
        for (int i = 0; i < f->n_in; i++) {
            int v = f->in[i];
            if (v < 0 || p->state[v] != EV_VS_CONST || vi[v].n_homes) continue;
            dnnl_memory_desc_t md;
            if ((st = plain_md(&b, v, dnnl_f32, &md, err)) != EV_OK) goto out;
            bref br = {BR_CONST, 0, 0, p->vals[v].data};
            set_home(&b, v, &md, br, 1);
        }
    }
    for (int i = 0; i < r->n_in; i++) {
        int v = r->in_v[i];
        dnnl_memory_desc_t md;
        if ((st = plain_md(&b, v, dnnl_f32, &md, err)) != EV_OK) goto out;
        bref br = {BR_IN, i, 0, NULL};
        set_home(&b, v, &md, br, 1);
    }
    r->n_fops = r->n_nodes = 0;
    for (int k = 0; k < r->n_fcopy; k++) {
        const fop *f = &r->fcopy[k];
        fop one;
        if (front > 0 && k == front) {
            /* end of the front: what it hands over holds the whole batch */
            if (!front_handover(&b, nv)) {
                *no_front = 1;
                goto out;
            }
            b.vt1 = NULL;
            r->n_front_items = r->n_items;
        }
        if (b.vt1) {
            one = *f;
            one.conv.n = 1;
            one.pool.n = 1;
            f = &one;
        }
        b.pos = k;
        b.failed = 0;
        b.label = f->label;
        sh->c.threads = fop_threads(&b, f);
        st = build_fop(&b, f, err);
        if (st != EV_OK) {
            if (b.failed || st == EV_ERR_UNSUPPORTED) *bad = k;
            goto out;
        }
        r->n_fops++;
        r->n_nodes += f->n_steps;
        int outs[FOP_MAX_IN], no = fop_outs(f, outs);
        for (int j = 0; j < no; j++) {
            const vinfo *q = &vi[outs[j]];
            if (q->bout < 0 || q->h[0].r.kind == BR_OUT) continue;
            dnnl_memory_desc_t pm;
            bref ob = {BR_OUT, q->bout, 0, NULL};
            if ((st = plain_md(&b, outs[j], dnnl_f32, &pm, err)) != EV_OK) goto out;
            if ((st = reorder_item(&b, &q->h[0].md, q->h[0].r, &pm, ob, err)) != EV_OK) {
                if (st == EV_ERR_UNSUPPORTED) *bad = k;
                goto out;
            }
        }
        sh->c.threads = threads;
    }
    if (b.vt1) r->n_front_items = r->n_items; /* the whole region runs image by image */
    st = plan_buffers(r, err);
out:
    sh->c.threads = saved;
    free(vi);
    free(vt1);
    return st;
}

/* The one-thread variant of r, with its own buffers and scratchpad. */
static ev_status build_alt(region *r, ev_err *err)
{
    region *a = calloc(1, sizeof *a);
    EV_FAIL_IF(!a, err, EV_ERR_NOMEM, "fast path: out of memory");
    a->sh = r->sh;
    r->sh->refs++;
    a->p = r->p;
    a->o = r->o;
    a->n_in = r->n_in;
    a->n_out = r->n_out;
    a->in_v = malloc(((size_t)r->n_in + 1) * sizeof(int));
    a->out_v = malloc(((size_t)r->n_out + 1) * sizeof(int));
    a->fcopy = malloc(((size_t)r->n_fcopy + 1) * sizeof(fop));
    ev_status st = EV_OK;
    int bad;
    if (!a->in_v || !a->out_v || !a->fcopy) {
        st = ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
        goto fail;
    }
    memcpy(a->in_v, r->in_v, (size_t)r->n_in * sizeof(int));
    memcpy(a->out_v, r->out_v, (size_t)r->n_out * sizeof(int));
    a->front_fops = r->front_fops;
    a->batch = r->batch;
    if (r->in_rep && r->out_rep) {
        a->in_rep = malloc(((size_t)r->n_in + 1) * sizeof(int64_t));
        a->out_rep = malloc(((size_t)r->n_out + 1) * sizeof(int64_t));
        if (!a->in_rep || !a->out_rep) {
            st = ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
            goto fail;
        }
        memcpy(a->in_rep, r->in_rep, (size_t)r->n_in * sizeof(int64_t));
        memcpy(a->out_rep, r->out_rep, (size_t)r->n_out * sizeof(int64_t));
    }
    memcpy(a->fcopy, r->fcopy, (size_t)r->n_fcopy * sizeof(fop)); /* weights borrowed */
    a->n_fcopy = r->n_fcopy;
    if ((st = build_items(a, 1, &bad, err)) != EV_OK) goto fail;
    /* the variants never run at the same time: the one-thread variant uses
     * the step's scratch when it fits (it usually does: its scratchpad is
     * one thread's), else memory of its own */
    if (a->int_bytes + a->dnnl_scratch > r->int_bytes + r->dnnl_scratch) {
        a->alt_mem = ev_malloc_aligned((size_t)(a->int_bytes + a->dnnl_scratch + 64));
        if (!a->alt_mem) {
            st = ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
            goto fail;
        }
    }
    r->alt = a;
    r->alt_mem = a->alt_mem;
    a->alt_mem = NULL; /* freed with r */
    return EV_OK;
fail:
    region_free(a);
    return st;
}

/* Image-by-image front of a CNN region at batch > 1 (see region.front_fops):
 * the longest prefix of convolutions, pooling, element-wise and binary ops
 * over batch-major values whose convolution outputs (pooling inputs) have
 * at least 1/64 of the image's pixels (28x28 at 224x224: there one image's
 * activations fit the caches, the whole batch's do not, and the weights
 * are small), cut where the least data crosses to the rest (a residual
 * stream between blocks rather than an expanded tensor); only when the
 * largest activation of the batch there exceeds 16 MiB (the L3 cache of a
 * server core complex is 16-32 MiB). */
static ev_status choose_front(region *r)
{
    ev_plan *p = r->p;
    const ev_graph *g = p->g;
    r->front_fops = 0;
    r->batch = 0;
    if (g->n_inputs < 1 || (r->o.disable & EV_FAST_NO_FRONT)) return EV_OK;
    const ev_tensor *x = &p->vals[g->inputs[0]];
    if (x->rank != 4 || x->dims[0] < 2) return EV_OK;
    int64_t N = x->dims[0], in_hw = x->dims[2] * x->dims[3];
    r->batch = N;
    r->in_rep = malloc(((size_t)r->n_in + 1) * sizeof(int64_t));
    r->out_rep = malloc(((size_t)r->n_out + 1) * sizeof(int64_t));
    if (!r->in_rep || !r->out_rep) return EV_ERR_NOMEM;
    for (int i = 0; i < r->n_in; i++) {
        const ev_tensor *t = &p->vals[r->in_v[i]];
        r->in_rep[i] = t->rank >= 1 && t->dims[0] == N ? ev_tensor_numel(t) / N * 4 : 0;
    }
    for (int i = 0; i < r->n_out; i++) {
        const ev_tensor *t = &p->vals[r->out_v[i]];
        r->out_rep[i] = t->rank >= 1 && t->dims[0] == N ? ev_tensor_numel(t) / N * 4 : 0;
    }
    int kmax = 0;
    for (int k = 0; k < r->n_fcopy; k++) {
        const fop *f = &r->fcopy[k];
        int ok = f->kind == FOP_CONV || f->kind == FOP_POOL || f->kind == FOP_ELTWISE || f->kind == FOP_BINARY;
        for (int i = 0; ok && i < f->n_in; i++) {
            if (f->in[i] < 0 || p->state[f->in[i]] == EV_VS_CONST) continue;
            const ev_tensor *t = &p->vals[f->in[i]];
            ok = t->rank >= 1 && t->dims[0] == N;
            if (ok && r->in_rep) {
                for (int j = 0; j < r->n_in; j++)
                    if (r->in_v[j] == f->in[i] && r->in_rep[j] == 0) ok = 0;
            }
        }
        if (ok) {
            const ev_tensor *t = &p->vals[f->out];
            ok = t->rank >= 1 && t->dims[0] == N;
        }
        if (ok && f->kind == FOP_CONV) {
            int64_t od[4];
            /* (squeeze-excitation convolutions on pooled 1x1 data follow) */
            ok = ev_fconv_out_dims(&f->conv, od) && (od[2] * od[3] * 64 >= in_hw || f->conv.h * f->conv.w == 1);
        } else if (ok && f->kind == FOP_POOL && !f->merged) {
            ok = f->pool.h * f->pool.w * 64 >= in_hw;
        }
        if (!ok) break;
        kmax = k + 1;
    }
    if (kmax < 2) return EV_OK;
    /* worth it only when the batch's activations overflow the caches
     * (MobileNetV3-small at batch 8, 6 MiB: 5% slower image by image) */
    double big = 0;
    for (int k = 0; k < kmax; k++) {
        double bytes = 4.0 * (double)ev_tensor_numel(&p->vals[r->fcopy[k].out]);
        if (bytes > big) big = bytes;
    }
    if (big < 16.0 * 1048576.0 && !(r->o.disable & EV_FAST_FORCE_FRONT)) return EV_OK;
    /* the cut with the fewest bytes crossing it (the later one on ties) */
    int best = 0;
    double best_bytes = 0;
    for (int c = 2; c <= kmax; c++) {
        double bytes = 0;
        for (int k = 0; k < c; k++) {
            int v = r->fcopy[k].out;
            int crosses = region_outputs(r, v);
            for (int j = c; !crosses && j < r->n_fcopy; j++)
                for (int i = 0; i < r->fcopy[j].n_in; i++)
                    if (r->fcopy[j].in[i] == v) crosses = 1;
            if (crosses) bytes += (double)ev_tensor_numel(&p->vals[v]);
        }
        if (best == 0 || bytes <= best_bytes) {
            best = c;
            best_bytes = bytes;
        }
    }
    r->front_fops = best;
    return EV_OK;
}

/* Build region gi: boundary, copies of its fops, items. On a oneDNN
 * refusal, *bad = the refused fop (index in S->L). */
static ev_status build_group(pass_state *S, int gi, int *bad, ev_err *err)
{
    ev_plan *p = S->p;
    const ev_graph *g = p->g;
    fop_list *L = S->L;
    rgroup *G = &S->groups[gi];
    int nv = g->n_values;
    *bad = -1;
    region *r = calloc(1, sizeof *r);
    int *prodr = malloc(((size_t)nv + 1) * sizeof *prodr);
    unsigned char *seen = calloc((size_t)nv + 1, 1);
    ev_status st = EV_OK;
    if (!r || !prodr || !seen) {
        free(r);
        free(prodr);
        free(seen);
        return ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
    }
    r->sh = S->sh;
    S->sh->refs++;
    r->p = p;
    r->o = *S->o;
    G->r = r;
    r->in_v = malloc(((size_t)nv + 1) * sizeof *r->in_v);
    r->out_v = malloc(((size_t)nv + 1) * sizeof *r->out_v);
    r->fcopy = malloc(((size_t)G->n + 1) * sizeof *r->fcopy);
    if (!r->in_v || !r->out_v || !r->fcopy) {
        st = ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
        goto out;
    }
    for (int k = 0; k < G->n; k++) r->fcopy[k] = L->v[S->order[G->first + k]]; /* borrowed */
    r->n_fcopy = G->n;
    for (int v = 0; v < nv; v++) prodr[v] = -1;
    for (int k = 0; k < G->n; k++) {
        int outs[FOP_MAX_IN], no = fop_outs(&r->fcopy[k], outs);
        for (int j = 0; j < no; j++) prodr[outs[j]] = gi;
    }
    /* boundary outputs: read outside the region, or graph outputs */
    for (int s = 0; s < p->n_steps; s++) {
        int f = L->claim[s];
        int rs = f >= 0 ? S->fop_region[f] : -1;
        const ev_plan_step *ps = &p->steps[s];
        for (int k = 0; k < ps->n_in; k++) {
            int v = ps->in_v[k];
            if (v >= 0 && prodr[v] == gi && rs != gi && !(seen[v] & 2)) {
                seen[v] |= 2;
                r->out_v[r->n_out++] = v;
            }
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        if (prodr[v] == gi && !(seen[v] & 2)) {
            seen[v] |= 2;
            r->out_v[r->n_out++] = v;
        }
    }
    /* boundary inputs: runtime values produced elsewhere */
    for (int k = 0; k < G->n; k++) {
        const fop *f = &r->fcopy[k];
        for (int i = 0; i < f->n_in; i++) {
            int v = f->in[i];
            if (v < 0 || p->state[v] == EV_VS_CONST || prodr[v] == gi || (seen[v] & 1)) continue;
            seen[v] |= 1;
            r->in_v[r->n_in++] = v;
        }
    }
    dw_prepass(r);
    st = choose_front(r);
    if (st != EV_OK) {
        st = ev_err_set(err, st, "fast path: out of memory");
        goto out;
    }
    int badk = -1;
    r->adaptive = S->sh->c.threads > 1 && !(S->o->disable & (EV_FAST_NO_ADAPT | EV_FAST_ALT_ONLY));
    st = build_items(r, S->sh->c.threads, &badk, err);
    if (st != EV_OK && badk >= 0) *bad = S->order[G->first + badk];
    if (st == EV_OK && (S->o->disable & EV_FAST_ALT_ONLY) && S->sh->c.threads > 1) {
        /* tests: build the one-thread variant now and always use it */
        st = build_alt(r, err);
        if (st == EV_OK) r->adaptive = 1;
    }
out:
    free(prodr);
    free(seen);
    return st;
}

static ev_status rewrite_steps(pass_state *S, ev_err *err)
{
    ev_plan *p = S->p;
    fop_list *L = S->L;
    int k = 0;
    for (int s = 0; s < p->n_steps; s++) {
        int f = L->claim[s];
        if (f < 0) {
            p->steps[k++] = p->steps[s];
            continue;
        }
        int gi = S->fop_region[f];
        rgroup *G = &S->groups[gi];
        if (S->order[G->first] != f || L->v[f].anchor != s) continue;
        region *r = G->r;
        ev_plan_step ns;
        memset(&ns, 0, sizeof ns);
        ns.node = p->steps[L->v[f].steps[0]].node;
        ns.fn = region_run;
        ns.ctx = r;
        ns.ctx_free = region_free;
        ns.n_in = r->n_in;
        ns.n_out = r->n_out;
        ns.in_v = ev_arena_array(&p->mem, (size_t)r->n_in + 1, sizeof(int));
        ns.out_v = ev_arena_array(&p->mem, (size_t)r->n_out + 1, sizeof(int));
        EV_FAIL_IF(!ns.in_v || !ns.out_v, err, EV_ERR_NOMEM, "fast path: out of memory");
        memcpy(ns.in_v, r->in_v, (size_t)r->n_in * sizeof(int));
        memcpy(ns.out_v, r->out_v, (size_t)r->n_out * sizeof(int));
        ns.scratch_bytes = r->int_bytes + r->dnnl_scratch;
        p->steps[k++] = ns;
        /* the region owns its fops' folded weights from now on */
        for (int i = 0; i < G->n; i++) {
            fop *lf = &L->v[S->order[G->first + i]];
            lf->w_own = NULL;
            lf->b_own = NULL;
        }
        r->owns_weights = 1;
        G->r = NULL; /* owned by the plan now */
    }
    p->n_steps = k;
    return EV_OK;
}

/* ---- weights residency (onnx/weights.h) ----------------------------------------------- */
static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(const void *const *)a, y = (uintptr_t)*(const void *const *)b;
    return x < y ? -1 : x > y;
}

static int ev_has(const fshared *sh, const void *src)
{
    return sh->n_ev > 0 &&
           bsearch(&src, sh->ev, (size_t)sh->n_ev, sizeof *sh->ev, cmp_ptr) != NULL;
}

static ev_status hook_acquire(void *user, const void *src, ev_err *err)
{
    const fshared *sh = user;
    return ev_graph_const_restore(sh->g, src, err);
}

static void hook_done(void *user, const void *src)
{
    const fshared *sh = user;
    if (ev_has(sh, src)) ev_graph_const_release(sh->g, src);
}

/* Does fop f read constant value v (data d) only as its weights source (or
 * not at all: folded into its own copy)? */
static int reads_as_weights_only(const fop *f, int v, const void *d)
{
    if (f->failed || (f->kind != FOP_CONV && f->kind != FOP_MATMUL)) return 0;
    for (int i = 0; i < f->n_in; i++)
        if (f->in[i] == v) return 0;
    if (f->kind == FOP_CONV) return (const void *)f->conv.bias != d;
    return (const void *)f->mm_bias != d;
}

typedef struct wread {
    const void *ptr;
    int ok;
} wread;

static int cmp_wread(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const wread *)a)->ptr, y = (uintptr_t)((const wread *)b)->ptr;
    return x < y ? -1 : x > y;
}

/* Over the plan's steps (before the rewrite): every evictable constant the
 * plan reads, with ok = 1 if every reader is a fused op that reads it only
 * as weights. Sorted by pointer, one record per pointer. */
static ev_status weight_reads(const pass_state *S, wread **out, int *n_out, ev_err *err)
{
    const ev_plan *p = S->p;
    const fop_list *L = S->L;
    int n = 0, cap = 0;
    wread *w = NULL;
    *out = NULL;
    *n_out = 0;
    for (int s = 0; s < p->n_steps; s++) {
        const ev_plan_step *ps = &p->steps[s];
        const fop *f = L->claim[s] >= 0 ? &L->v[L->claim[s]] : NULL;
        for (int k = 0; k < ps->n_in; k++) {
            int v = ps->in_v[k];
            if (v < 0 || p->state[v] != EV_VS_CONST) continue;
            const void *d = p->vals[v].data;
            if (!ev_graph_const_is_entry(p->g, d)) continue;
            if (n == cap) {
                int nc = cap ? cap * 2 : 64;
                wread *nw = realloc(w, (size_t)nc * sizeof *nw);
                if (!nw) {
                    free(w);
                    return ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
                }
                w = nw;
                cap = nc;
            }
            w[n].ptr = d;
            w[n].ok = f && reads_as_weights_only(f, v, d);
            n++;
        }
    }
    if (n) qsort(w, (size_t)n, sizeof *w, cmp_wread);
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m > 0 && w[m - 1].ptr == w[i].ptr) {
            w[m - 1].ok &= w[i].ok;
            continue;
        }
        w[m++] = w[i];
    }
    *out = w;
    *n_out = m;
    return EV_OK;
}

/* (Re)compute sh->ev from the plan; with `final`, also pin what the plan
 * reads otherwise (ev_graph_const_need) and evict what is left of sh->ev
 * (weights folded into copies were never reordered from the graph). */
static ev_status weights_residency(pass_state *S, int final, ev_err *err)
{
    wread *w;
    int n;
    EV_TRY(weight_reads(S, &w, &n, err));
    fshared *sh = S->sh;
    free(sh->ev);
    sh->ev = NULL;
    sh->n_ev = 0;
    sh->g = S->p->g;
    if (n) {
        sh->ev = malloc((size_t)n * sizeof *sh->ev);
        if (!sh->ev) {
            free(w);
            return ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
        }
    }
    ev_status st = EV_OK;
    for (int i = 0; i < n && st == EV_OK; i++) {
        if (w[i].ok) sh->ev[sh->n_ev++] = w[i].ptr;
        else if (final) st = ev_graph_const_need(sh->g, w[i].ptr, err);
    }
    free(w);
    if (st != EV_OK || !final) return st;
    for (int i = 0; i < sh->n_ev; i++) ev_graph_const_release(sh->g, sh->ev[i]);
    ev_mem_release_freed();
    if (ev_log_enabled()) {
        ev_graph_const_stats gs;
        ev_graph_const_stats_get(sh->g, &gs);
        ev_log(EV_LOG_DEBUG,
               "memory: fast path: %d of %d initializers evicted from the graph (%.1f MiB), VmRSS "
               "%.1f MiB (peak %.1f)",
               gs.n_evicted, gs.n_entries, (double)gs.evicted_bytes / 1048576.0,
               (double)ev_mem_rss_kib() / 1024.0, (double)ev_mem_peak_kib() / 1024.0);
    }
    return EV_OK;
}

ev_status ev_fast_pass(ev_plan *p, void *user, ev_err *err)
{
    const ev_fast_opts *o = user;
    ev_fast_opts def;
    if (!o) {
        memset(&def, 0, sizeof def);
        o = &def;
    }
    if (o->bf16 && !ev_fast_has_bf16())
        return ev_err_set(err, EV_ERR_UNSUPPORTED,
                          "bf16 precision needs a CPU with AVX512_BF16 (or AMX); this CPU has "
                          "neither: use fp32");
    fop_list L;
    EV_TRY(ev_fast_match(p, o, &L, err));
    if (ev_log_enabled())
        ev_log(EV_LOG_DEBUG, "memory: fast path: %d fused ops matched, VmRSS %.1f MiB (peak %.1f)", L.n,
               (double)ev_mem_rss_kib() / 1024.0, (double)ev_mem_peak_kib() / 1024.0);
    if (L.n == 0) {
        ev_fast_fops_free(&L);
        return EV_OK;
    }
    pass_state S;
    memset(&S, 0, sizeof S);
    S.p = p;
    S.o = o;
    S.L = &L;
    S.order = malloc(((size_t)L.n + 1) * sizeof *S.order);
    S.fop_region = malloc(((size_t)L.n + 1) * sizeof *S.fop_region);
    S.groups = calloc((size_t)L.n + 1, sizeof *S.groups);
    S.sh = calloc(1, sizeof *S.sh);
    ev_status st = EV_OK;
    int n_fallbacks = 0;
    if (!S.order || !S.fop_region || !S.groups || !S.sh) {
        st = ev_err_set(err, EV_ERR_NOMEM, "fast path: out of memory");
        goto out;
    }
    if ((st = ev_fctx_init(&S.sh->c, o->threads, err)) != EV_OK) {
        free(S.sh);
        S.sh = NULL;
        goto out;
    }
    S.sh->refs = 1;
    S.sh->c.share_weights = 1; /* full and one-thread variants share weights */
    S.sh->c.src_acquire = hook_acquire;
    S.sh->c.src_done = hook_done;
    S.sh->c.src_user = S.sh;
    S.sh->c.defer = 1; /* weights reordered after the build, largest growth first */
    if ((st = weights_residency(&S, 0, err)) != EV_OK) goto out;
    for (;;) {
        make_groups(&S, err);
        int refused = 0;
        for (int gi = 0; gi < S.n_groups; gi++) {
            int bad = -1;
            ev_err e2;
            ev_err_clear(&e2);
            st = build_group(&S, gi, &bad, &e2);
            if (st == EV_OK) continue;
            if (bad < 0) {
                if (err) *err = e2;
                free_groups(&S);
                goto out;
            }
            /* oneDNN refused this fused op: its nodes go back to the
             * reference kernels; rebuild after this round */
            fop *f = &L.v[bad];
            char lb[200];
            ev_log(EV_LOG_INFO, "fast path: node '%s' (%s) stays on the reference kernel: %s",
                   ev_node_label(p->steps[f->steps[0]].node, lb, sizeof lb),
                   p->steps[f->steps[0]].node->op_type, e2.msg);
            f->failed = 1;
            for (int i = 0; i < f->n_steps; i++) L.claim[f->steps[i]] = -1;
            n_fallbacks++;
            refused = 1;
            st = EV_OK;
        }
        if (!refused) break;
        free_groups(&S);
    }
    int n_prims = 0, n_reord = 0, n_fused = 0;
    for (int gi = 0; gi < S.n_groups; gi++) {
        n_prims += S.groups[gi].r->n_items;
        n_reord += S.groups[gi].r->n_reorders;
        n_fused += S.groups[gi].r->n_nodes;
    }
    int n_before = p->n_steps, n_groups = S.n_groups;
    S.sh->c.defer = 0; /* later builds (the one-thread variant) reorder at once */
    if ((st = ev_fctx_flush_weights(&S.sh->c, err)) != EV_OK ||
        (st = weights_residency(&S, 1, err)) != EV_OK) {
        free_groups(&S);
        goto out;
    }
    if ((st = rewrite_steps(&S, err)) != EV_OK) {
        free_groups(&S);
        goto out;
    }
    if (n_groups > 0) {
        region *r0 = p->steps[0].fn == region_run ? p->steps[0].ctx : NULL;
        for (int s = 0; s < p->n_steps && !r0; s++)
            if (p->steps[s].fn == region_run) r0 = p->steps[s].ctx;
        if (r0) r0->n_fallbacks_total = n_fallbacks;
    }
    if (ev_log_enabled())
        ev_log(EV_LOG_DEBUG, "memory: fast path: reordered weights %.1f MiB, VmRSS %.1f MiB",
               (double)S.sh->c.wcache_bytes / 1048576.0, (double)ev_mem_rss_kib() / 1024.0);
    ev_log(EV_LOG_INFO,
           "fast path: %d of %d steps fused into %d region%s (%d oneDNN primitives, %d reorders), "
           "%d reference step%s, %d fallback%s",
           n_fused, n_before, n_groups, n_groups == 1 ? "" : "s", n_prims, n_reord,
           p->n_steps - n_groups, p->n_steps - n_groups == 1 ? "" : "s", n_fallbacks,
           n_fallbacks == 1 ? "" : "s");
out:
    fshared_unref(S.sh);
    free(S.order);
    free(S.fop_region);
    free(S.groups);
    ev_fast_fops_free(&L);
    return st;
}

int ev_fast_step_is_region(const ev_plan_step *s) { return s && s->fn == region_run; }

void ev_fast_plan_stats(const ev_plan *p, ev_fast_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!p) return;
    for (int s = 0; s < p->n_steps; s++) {
        const ev_plan_step *ps = &p->steps[s];
        if (ps->fn != region_run) {
            out->n_ref_steps++;
            continue;
        }
        const region *r = ps->ctx;
        out->n_regions++;
        out->n_fops += r->n_fops;
        out->n_fused_nodes += r->n_nodes;
        out->n_prims += r->n_items;
        out->n_reorders += r->n_reorders;
        out->n_fallbacks += r->n_fallbacks_total;
        if (r->n_front_items > 0) out->n_front_ops += r->front_fops;
        if (ps->scratch_bytes > out->scratch_bytes) out->scratch_bytes = ps->scratch_bytes;
        out->weights_bytes = (int64_t)r->sh->c.wcache_bytes; /* one context per plan */
    }
}

void ev_fast_profile(int on) { g_profile = on; }

static int cmp_prof(const void *a, const void *b)
{
    const xitem *const *x = a, *const *y = b;
    return (*x)->prof_cpu_ms < (*y)->prof_cpu_ms ? 1 : (*x)->prof_cpu_ms > (*y)->prof_cpu_ms ? -1 : 0;
}

void ev_fast_profile_report(const ev_plan *p, ev_buf *out, int top)
{
    int n = 0;
    for (int s = 0; s < p->n_steps; s++)
        if (p->steps[s].fn == region_run) n += ((const region *)p->steps[s].ctx)->n_items;
    xitem **all = malloc(((size_t)n + 1) * sizeof *all);
    if (!all) return;
    n = 0;
    double total = 0, total_cpu = 0;
    int64_t runs = 0;
    for (int s = 0; s < p->n_steps; s++)
        if (p->steps[s].fn == region_run) {
            region *r = p->steps[s].ctx;
            for (int i = 0; i < r->n_items; i++) {
                all[n++] = &r->items[i];
                total += r->items[i].prof_ms;
                total_cpu += r->items[i].prof_cpu_ms;
                if (r->items[i].prof_n > runs) runs = r->items[i].prof_n;
            }
        }
    qsort(all, (size_t)n, sizeof *all, cmp_prof);
    /* totals per primitive kind/implementation */
    if (runs < 1) runs = 1;
    ev_buf_printf(out, "per run: %.3f ms wall, %.3f ms CPU of the calling thread, %d primitives "
                       "(sorted by CPU time; GFLOP/s from CPU time)\n",
                  total / (double)runs, total_cpu / (double)runs, n);
    for (int i = 0; i < n && i < top; i++) {
        xitem *it = all[i];
        double per = it->prof_n ? it->prof_ms / (double)it->prof_n : 0;
        double cpu = it->prof_n ? it->prof_cpu_ms / (double)it->prof_n : 0;
        ev_buf_printf(out, "%8.3f ms wall %8.3f ms cpu %5.1f%%  %-8s %-28s t%d %7.1f GFLOP/s  %s\n", per,
                      cpu, total_cpu > 0 ? 100.0 * it->prof_cpu_ms / total_cpu : 0.0, it->prim.kind,
                      it->prim.impl, it->nthr,
                      it->prim.flops > 0 && cpu > 0 ? it->prim.flops / (cpu * 1e-3) * 1e-9 : 0.0,
                      it->label ? it->label : "");
    }
    free(all);
}

void ev_fast_dump(const ev_plan *p, ev_buf *out)
{
    for (int s = 0; s < p->n_steps; s++) {
        const ev_plan_step *ps = &p->steps[s];
        if (ps->fn != region_run) {
            ev_buf_printf(out, "step %d: reference %s (%s)\n", s, ps->node->op_type, ps->node->name);
            continue;
        }
        const region *r = ps->ctx;
        ev_buf_printf(out, "step %d: region, %d items, %d in, %d out, scratch %lld + %lld bytes\n", s,
                      r->n_items, r->n_in, r->n_out, (long long)r->int_bytes, (long long)r->dnnl_scratch);
        if (r->n_front_items > 0)
            ev_buf_printf(out, "  items 0-%d (%d fused ops) run image by image, %lld times\n",
                          r->n_front_items - 1, r->front_fops, (long long)r->batch);
        for (int i = 0; i < r->n_items; i++) {
            const xitem *it = &r->items[i];
            char md[96], sm[96];
            ev_fmd_str(&it->prim.dst_md, md, sizeof md);
            ev_fmd_str(&it->prim.src_md, sm, sizeof sm);
            ev_buf_printf(out, "  %3d %-8s %-30s t%d %-26s <- %-26s %s\n", i, it->prim.kind, it->prim.impl,
                          it->nthr, md, sm, it->label ? it->label : "");
        }
    }
}
