/*
 * lib/metrics/topk.c — top-L retrieval for large N: Recall@K, Precision@K,
 * R-precision, MAP@R and kNN without the full ranking (no mAP).
 *
 * Every query needs only its L best gallery items, L = max(R, max K, kNN k)
 * (R = its relevant count). The gallery streams by in blocks; a GEMM gives
 * *screening* scores a that differ from the exact scores s by at most a
 * per-query bound E (|a - s| <= E, proven below). Each query keeps a buffer
 * of candidates; once the buffer holds L items, the L-th largest lower bound
 * theta (a - E, or s once an entry has been scored exactly) bounds the L-th
 * exact score from below, so only items with a > theta - E can still enter
 * the top L. At the end of the stream, every remaining candidate is scored
 * exactly, in float32, as (x_q . x_g) * (1/|x_q|) * (1/|x_g|) like the full
 * scan, and sorted by (score desc, gallery index asc): the top L and the
 * ranks in it are exact, whatever the screening precision.
 *
 * Screening is bf16 (oneDNN matmul, AVX512_BF16) on unit vectors rounded to
 * bf16: a = sum h_q h_g with fp32 accumulation, h = bf16(x / |x|), so
 *   |a - q.g| <= |h_q| |g - h_g| + |q - h_q| |g| + gamma_d |h_q| |h_g|
 * with the two rounding residual norms measured per row (about 1e-3 each
 * for d = 512). Where oneDNN has no fast bf16 matmul (its implementation
 * name starts with "ref"), screening is an fp32 sgemm and E covers only
 * float rounding. Both give the same results bit for bit (tested).
 *
 * Cost: one screening GEMM over N x N (bf16: about twice the fp32 rate), a
 * compare per score, O(L log) per query, and L + (items within 2E of the
 * boundary) exact dot products per query, taken in gallery order so each
 * gallery row is read once per query block. Memory: the bf16 gallery copy
 * (N * d * 2 bytes) plus O(BQ * (BG + L)) per thread.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <oneapi/dnnl/dnnl.h>

#include "fast/prims.h"
#include "metrics/mx.h"

#define TQ 512                      /* queries per block                       */
#define TG 256                      /* gallery rows per screening GEMM         */
#define L_BUDGET ((int64_t)1 << 22) /* sum of L over a block (soft)            */
#define SLACK 4096                  /* buffer capacity beyond 1.5 L            */
#define CHUNK_SHIFT 8               /* exact scoring walks 256-row chunks      */
#define SPEC_S 16384                /* gallery sample for the first cut        */
#define SPEC_MIN_G 65536            /* ... used from this gallery size on      */
#define SPEC_NB 2048                /* histogram bins over [-1.0625, 1.0625]   */

typedef struct tq {
    int32_t qi, cls, R, L;
    double E;                       /* screening error bound                   */
    float cut;                      /* accept a > cut: max(theta - E, spec)    */
    float spec;                     /* speculative cut from a gallery sample,  */
                                    /*   verified after the stream (-inf: none) */
    int frozen;                     /* done; accepts nothing in a re-stream    */
    double theta;                   /* lower bound of the L-th exact score     */
    int32_t n, cap;
    int32_t n_exact;                /* entries [0, n_exact) have an exact score */
    int32_t *idx;                   /* gallery ids, ascending                  */
    float *a;                       /* screening scores                        */
    float *ex;                      /* exact scores (valid below n_exact)      */
} tq;

struct pair3 {
    int32_t gj, slot, k;
};

typedef struct tworker {
    tq st[TQ];
    float *qf;                      /* TQ x d unit queries (fp32 screening)    */
    uint16_t *qh;                   /* TQ x d bf16 unit queries                */
    float *s;                       /* TG x TQ screening scores                */
    float *lb;                      /* scratch for selection (cap)             */
    float *ts;                      /* sort scratch                            */
    int32_t *ti;
    int64_t cap_scratch;
    int64_t *cnt;                   /* exact scoring: chunk counts             */
    int64_t cap_cnt;
    struct pair3 *pairs;            /* (gallery row, query slot, entry)        */
    int64_t cap_pairs;
    uint16_t *hist_spec;            /* TQ x SPEC_NB                            */
    uint32_t hist[4096];
    int portable;                   /* test hook: SSE2 loops only              */
    int nogrow;                     /* test hook: rescue instead of growing    */
    double *cls_score;
    int32_t *cls_id;
    /* oneDNN (bf16 screening) */
    dnnl_stream_t stream;
    dnnl_primitive_t prim[2];       /* full TG block, tail block               */
    int64_t prim_rows[2];
    dnnl_memory_t msrc[2], mwei[2], mdst[2];
} tworker;

/* ---- bf16 ------------------------------------------------------------------ */
static inline uint16_t to_bf16(float f)
{
    union {
        float f;
        uint32_t u;
    } v = {f};
    uint32_t u = v.u + 0x7fffu + ((v.u >> 16) & 1u); /* round to nearest even */
    return (uint16_t)(u >> 16);
}

static inline float from_bf16(uint16_t h)
{
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}

/* Unit vector of row x (inv = 1/|x|) rounded to bf16; returns |residual|. */
static double unit_bf16(const float *x, float inv, int64_t d, uint16_t *h)
{
    double r2 = 0;
    for (int64_t k = 0; k < d; k++) {
        float u = x[k] * inv;
        h[k] = to_bf16(u);
        double lo = (double)u - (double)from_bf16(h[k]);
        r2 += lo * lo;
    }
    return sqrt(r2);
}

/* gamma_d of the float32 accumulation of d products, with margin. */
static double gamma_d(int64_t d)
{
    double u = ldexp(1.0, -24);
    return 1.1 * (double)d * u / (1.0 - (double)d * u);
}

/* ---- exact score ----------------------------------------------------------- */
/* float32 dot product in a fixed order (16 partial sums, then pairwise), so
 * equal rows give equal scores. Cloned for AVX-512 and AVX2 (the same order
 * of operations; FMA contraction may differ between clones, i.e. between
 * machines, never between runs or thread counts on one machine). */
typedef float v16f __attribute__((vector_size(64), aligned(4)));
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static float dot_f32(const float *a, const float *b, int64_t d)
{
    v16f acc = {0};
    int64_t k = 0;
    for (; k + 16 <= d; k += 16) {
        v16f x, y;
        memcpy(&x, a + k, sizeof x);
        memcpy(&y, b + k, sizeof y);
        acc += x * y;
    }
    float t[16];
    memcpy(t, &acc, sizeof t);
    for (int u = 0; k < d; k++, u++) t[u] += a[k] * b[k];
    for (int w = 8; w >= 1; w >>= 1)
        for (int u = 0; u < w; u++) t[u] += t[u + w];
    return t[0];
}

static inline float exact_score(const mx_set *q, const mx_set *g, int32_t qi, int32_t gj)
{
    float raw = dot_f32(q->x + (size_t)qi * q->d, g->x + (size_t)gj * g->d, q->d);
    return ((raw * q->inv[qi]) * g->inv[gj]) + 0.0f;
}

/* ---- selection ------------------------------------------------------------ */
static float bound_below(double c)
{
    float f = (float)c;
    if ((double)f > c) f = nextafterf(f, -INFINITY);
    return f;
}

static void set_cut(tq *t)
{
    float f = bound_below(t->theta - t->E);
    t->cut = f > t->spec ? f : t->spec;
}

/* Lower edge of the value range holding the k-th largest (0-based) of
 * v[0..n): at most one histogram bin (1/4096 of the range) below it, which is
 * far below the screening bound; every one of the k + 1 largest values is
 * >= the returned value. Three branch-light passes instead of a selection. */
#define NBIN 4096
static double kth_lower(const float *v, int64_t n, int64_t k, uint32_t *hist)
{
    float lo = v[0], hi = v[0];
    for (int64_t i = 1; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    if (!(hi > lo)) return lo;
    double scale = (double)NBIN / ((double)hi - (double)lo);
    memset(hist, 0, NBIN * sizeof *hist);
    for (int64_t i = 0; i < n; i++) {
        int64_t b = (int64_t)(((double)v[i] - (double)lo) * scale);
        hist[b < NBIN ? b : NBIN - 1]++;
    }
    int64_t acc = 0, b = NBIN - 1;
    for (; b > 0; b--) {
        acc += hist[b];
        if (acc > k) break;
    }
    /* v in bin b means (v - lo) * scale >= b up to rounding: one bin of
     * slack makes the edge a bound */
    return b > 0 ? (double)lo + (double)(b - 1) / scale : (double)lo;
}

/* Raise theta from the buffer (needs n >= L) and drop entries whose upper
 * bound is below it. Keeps the order of the kept entries. */
static void tq_compact(tq *t, tworker *w)
{
    if (t->n < t->L || t->L == 0) return;
    double th;
    if (!t->n_exact) {
        /* every entry is screened only: lower bound a - E */
        th = kth_lower(t->a, t->n, t->L - 1, w->hist) - t->E;
    } else {
        for (int32_t k = 0; k < t->n; k++)
            w->lb[k] = k >= t->n_exact ? t->a[k] : t->ex[k] + (float)t->E;
        /* exact entries shifted up by E (rounded) compete with a; then the
         * common - E: a valid lower bound for both kinds up to float
         * rounding of the shift, covered by a 1e-6 margin */
        th = kth_lower(w->lb, t->n, t->L - 1, w->hist) - t->E - 1e-6;
    }
    if (th > t->theta) t->theta = th;
    set_cut(t);
    /* keep a + E >= theta (screened) or s >= theta (exact) */
    const float ca = t->cut; /* <= theta - E */
    int32_t o = 0;
    if (!t->n_exact) {
        for (int32_t k = 0; k < t->n; k++) {
            t->idx[o] = t->idx[k];
            t->a[o] = t->a[k];
            o += t->a[k] >= ca;
        }
    } else {
        int32_t ne = 0;
        for (int32_t k = 0; k < t->n; k++) {
            int exact = k < t->n_exact;
            int keep = exact ? (double)t->ex[k] >= t->theta : t->a[k] >= ca;
            if (keep) {
                t->idx[o] = t->idx[k];
                t->a[o] = t->a[k];
                t->ex[o] = t->ex[k];
                ne += exact;
                o++;
            }
        }
        t->n_exact = ne;
    }
    t->n = o;
}

/* Many candidates within the bound (e.g. masses of exact ties): score them
 * all exactly, keep the exact top L (score desc, index asc) in index order,
 * and theta becomes the exact L-th score. Later items have larger indices,
 * so they need a score above it. */
static void tq_rescue(tq *t, const mx_set *q, const mx_set *g, tworker *w)
{
    for (int32_t k = 0; k < t->n; k++)
        if (k >= t->n_exact) t->ex[k] = exact_score(q, g, t->qi, t->idx[k]);
    t->n_exact = t->n;
    if (t->n <= t->L) return;
    for (int32_t k = 0; k < t->n; k++) {
        w->lb[k] = t->ex[k];
        w->ti[k] = t->idx[k];
    }
    /* entries are in index order here: a stable sort by score keeps index
     * order among ties */
    mx_sort_desc(w->lb, w->ti, t->n, w->ts, w->ti + t->cap);
    float sL = w->lb[t->L - 1];
    int32_t iL = w->ti[t->L - 1];
    int32_t o = 0;
    for (int32_t k = 0; k < t->n; k++)
        if (t->ex[k] > sL || (t->ex[k] == sL && t->idx[k] <= iL)) {
            t->idx[o] = t->idx[k];
            t->a[o] = t->a[k];
            t->ex[o] = t->ex[k];
            o++;
        }
    t->n = o;
    t->n_exact = o;
    /* newcomers tied with sL lose on index: they need s > sL, and s <= a + E */
    t->theta = sL;
    set_cut(t);
}

/* Buffer full: compact; if that frees too little, rescue. */
/* Selection scratch of at least `cap` entries (ti holds 2 cap). */
static int ensure_scratch(tworker *w, int64_t cap)
{
    if (cap <= w->cap_scratch) return 1;
    float *lb = realloc(w->lb, (size_t)cap * sizeof *lb);
    if (lb) w->lb = lb;
    float *ts = realloc(w->ts, (size_t)cap * sizeof *ts);
    if (ts) w->ts = ts;
    int32_t *ti = realloc(w->ti, (size_t)cap * 2 * sizeof *ti);
    if (ti) w->ti = ti;
    if (!lb || !ts || !ti) return 0;
    w->cap_scratch = cap;
    return 1;
}

/* Grow a query's buffer to `cap` entries (0 on failure, buffer unchanged). */
static int tq_grow(tq *t, tworker *w, int64_t cap)
{
    if (cap > INT32_MAX || !ensure_scratch(w, cap)) return 0;
    int32_t *ni = realloc(t->idx, (size_t)cap * sizeof *ni);
    if (ni) t->idx = ni;
    float *na = realloc(t->a, (size_t)cap * sizeof *na);
    if (na) t->a = na;
    float *nx = realloc(t->ex, (size_t)cap * sizeof *nx);
    if (nx) t->ex = nx;
    if (!ni || !na || !nx) return 0;
    t->cap = (int32_t)cap;
    return 1;
}

/* Buffer full: compact; if that frees too little (many candidates within
 * the bound), grow the buffer up to 4L + 65536 entries, and past that score
 * the candidates exactly (rescue: masses of exact ties). */
static void tq_full(tq *t, const mx_set *q, const mx_set *g, tworker *w)
{
    tq_compact(t, w);
    if (t->n <= t->cap - t->cap / 4) return;
    if (!w->nogrow && (int64_t)t->cap < 4 * (int64_t)t->L + 65536 &&
        tq_grow(t, w, 2 * (int64_t)t->cap))
        return;
    tq_rescue(t, q, g, w);
}

/* ---- streaming ------------------------------------------------------------ */
/* Item (gallery row gj, screening score v) passed query i's cut. */
static inline void accept(tworker *w, int i, int32_t gj, float v, bool loo, const mx_set *q,
                          const mx_set *g, float *cut)
{
    tq *t = &w->st[i];
    if (loo && gj == t->qi) return;
    if (t->n == t->cap) {
        tq_full(t, q, g, w);
        cut[i] = t->cut;
        if (!(v > cut[i])) return;
    }
    t->idx[t->n] = gj;
    t->a[t->n] = v;
    t->n++;
}

/* Scores of gallery rows [g0, g0 + gn) (row-major gn x TQ in s) against the
 * block's m queries; a row scale applies in fp32 mode (1/|x_g|). Columns
 * past m have an infinite cut. */
static void screen_rows_sse(tworker *w, int m, const float *s, int64_t g0, int64_t gn,
                            const float *rowscale, bool loo, const mx_set *q, const mx_set *g,
                            float *cut)
{
    int mp = (m + 3) & ~3;
    for (int64_t j = 0; j < gn; j++) {
        const float *row = s + (size_t)j * TQ;
        float sc = rowscale ? rowscale[j] : 1.0f;
        for (int i0 = 0; i0 < mp; i0 += 4) {
            unsigned mask;
#if defined(__SSE2__)
            __m128 v = _mm_mul_ps(_mm_loadu_ps(row + i0), _mm_set1_ps(sc));
            mask = (unsigned)_mm_movemask_ps(_mm_cmpgt_ps(v, _mm_loadu_ps(cut + i0)));
#else
            mask = 0;
            for (int u = 0; u < 4; u++) mask |= (unsigned)(row[i0 + u] * sc > cut[i0 + u]) << u;
#endif
            while (mask) {
                int i = i0 + __builtin_ctz(mask);
                mask &= mask - 1;
                accept(w, i, (int32_t)(g0 + j), row[i] * sc, loo, q, g, cut);
            }
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_SCREEN 1
__attribute__((target("avx512f"))) static void
screen_rows_avx512(tworker *w, int m, const float *s, int64_t g0, int64_t gn,
                   const float *rowscale, bool loo, const mx_set *q, const mx_set *g, float *cut)
{
    int mp = (m + 15) & ~15;
    for (int64_t j = 0; j < gn; j++) {
        const float *row = s + (size_t)j * TQ;
        float sc = rowscale ? rowscale[j] : 1.0f;
        __m512 vs = _mm512_set1_ps(sc);
        for (int i0 = 0; i0 < mp; i0 += 16) {
            __m512 v = _mm512_mul_ps(_mm512_loadu_ps(row + i0), vs);
            unsigned mask = (unsigned)_mm512_cmp_ps_mask(v, _mm512_loadu_ps(cut + i0), _CMP_GT_OQ);
            while (mask) {
                int i = i0 + __builtin_ctz(mask);
                mask &= mask - 1;
                accept(w, i, (int32_t)(g0 + j), row[i] * sc, loo, q, g, cut);
            }
        }
    }
}
#endif

static void screen_rows(tworker *w, int m, const float *s, int64_t g0, int64_t gn,
                        const float *rowscale, bool loo, const mx_set *q, const mx_set *g)
{
    float cut[TQ];
    for (int i = 0; i < m; i++) cut[i] = w->st[i].cut;
    for (int i = m; i < TQ; i++) cut[i] = INFINITY;
#ifdef HAVE_AVX512_SCREEN
    if (!w->portable && __builtin_cpu_supports("avx512f")) {
        screen_rows_avx512(w, m, s, g0, gn, rowscale, loo, q, g, cut);
        return;
    }
#endif
    screen_rows_sse(w, m, s, g0, gn, rowscale, loo, q, g, cut);
}

/* ---- exact scoring and the metrics ----------------------------------------- */
static int grow(void **p, int64_t *cap, int64_t need, size_t elem)
{
    if (need <= *cap) return 1;
    int64_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *np = realloc(*p, (size_t)c * elem);
    if (!np) return 0;
    *p = np;
    *cap = c;
    return 1;
}

/* Score every remaining inexact candidate of the block in gallery order:
 * a counting sort of the (row, query, entry) triples by 256-row chunk (half
 * a MiB of float32 rows, which stays in cache while its queries use it), so
 * the gallery streams through once per block. */
static int score_block(tworker *w, int m, const mx_set *q, const mx_set *g)
{
    const int64_t nch = ((g->n - 1) >> CHUNK_SHIFT) + 1;
    if (!grow((void **)&w->cnt, &w->cap_cnt, nch + 1, sizeof *w->cnt)) return 0;
    int64_t total = 0;
    for (int i = 0; i < m; i++) total += w->st[i].n - w->st[i].n_exact;
    if (!grow((void **)&w->pairs, &w->cap_pairs, total, sizeof *w->pairs)) return 0;
    memset(w->cnt, 0, (size_t)(nch + 1) * sizeof *w->cnt);
    for (int i = 0; i < m; i++) {
        tq *t = &w->st[i];
        for (int32_t k = t->n_exact; k < t->n; k++) w->cnt[(t->idx[k] >> CHUNK_SHIFT) + 1]++;
    }
    for (int64_t c = 0; c < nch; c++) w->cnt[c + 1] += w->cnt[c];
    for (int i = 0; i < m; i++) {
        tq *t = &w->st[i];
        for (int32_t k = t->n_exact; k < t->n; k++)
            w->pairs[w->cnt[t->idx[k] >> CHUNK_SHIFT]++] = (struct pair3){t->idx[k], i, k};
    }
    for (int64_t p = 0; p < total; p++) {
        tq *t = &w->st[w->pairs[p].slot];
        t->ex[w->pairs[p].k] = exact_score(q, g, t->qi, w->pairs[p].gj);
    }
    return 1;
}

static void finish_query(tq *t, tworker *w, const mx_set *g, bool want_rank, int K,
                         mx_scan_out *o)
{
    int32_t n = t->n;
    for (int32_t k = 0; k < n; k++) {
        w->lb[k] = t->ex[k];
        w->ti[k] = t->idx[k];
    }
    /* the buffer is in gallery index order (appends follow the stream,
     * compaction and rescue keep the order): a stable sort by score leaves
     * ties in index order */
    mx_sort_desc(w->lb, w->ti, n, w->ts, w->ti + t->cap);
    int32_t top = n < t->L ? n : t->L;
    if (want_rank) {
        int32_t R = t->R;
        if (R <= 0) {
            if (o->map_at_r) o->map_at_r[t->qi] = NAN;
            if (o->r_precision) o->r_precision[t->qi] = NAN;
            for (int k = 0; k < o->n_ks; k++) {
                if (o->recall_at[k]) o->recall_at[k][t->qi] = NAN;
                if (o->precision_at[k]) o->precision_at[k][t->qi] = NAN;
            }
        } else {
            double mapr = 0;
            int64_t hits = 0, in_r = 0;
            int64_t hits_at[EV_METRICS_MAX_K] = {0};
            for (int32_t r = 0; r < top; r++) {
                if (g->y[w->ti[r]] != t->cls) continue;
                hits++;
                if (r < R) {
                    in_r++;
                    mapr += (double)hits / (double)(r + 1);
                }
                for (int k = 0; k < o->n_ks; k++)
                    if (r < o->ks[k]) hits_at[k]++;
            }
            if (o->map_at_r) o->map_at_r[t->qi] = mapr / R;
            if (o->r_precision) o->r_precision[t->qi] = (double)in_r / R;
            for (int k = 0; k < o->n_ks; k++) {
                if (o->recall_at[k]) o->recall_at[k][t->qi] = hits_at[k] > 0 ? 1.0 : 0.0;
                if (o->precision_at[k])
                    o->precision_at[k][t->qi] = (double)hits_at[k] / (double)o->ks[k];
            }
        }
    }
    if (K) {
        int hn = top < K ? top : K;
        mx_knn_finalize(t->qi, hn, w->lb, w->ti, g, t->cls, o->knn_t, w->cls_score, w->cls_id, o);
    }
}

/* ---- oneDNN bf16 matmul ----------------------------------------------------- */
/* The bf16 screening matmul for `rows` gallery rows: *is_ref (if given) says
 * whether oneDNN picked a reference implementation; the primitive is only
 * created when p is given. */
static dnnl_status_t make_prim(dnnl_engine_t eng, int64_t rows, int64_t d, dnnl_primitive_t *p,
                               int *is_ref)
{
    dnnl_memory_desc_t sd, wd, dd;
    dnnl_dims_t ds = {rows, d}, dw = {d, TQ}, dst = {rows, TQ};
    dnnl_status_t st;
    if ((st = dnnl_memory_desc_init_by_tag(&sd, 2, ds, dnnl_bf16, dnnl_ab)) ||
        (st = dnnl_memory_desc_init_by_tag(&wd, 2, dw, dnnl_bf16, dnnl_ba)) ||
        (st = dnnl_memory_desc_init_by_tag(&dd, 2, dst, dnnl_f32, dnnl_ab)))
        return st;
    dnnl_matmul_desc_t md;
    if ((st = dnnl_matmul_desc_init(&md, &sd, &wd, NULL, &dd))) return st;
    dnnl_primitive_desc_t pd;
    if ((st = dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL))) return st;
    if (is_ref) {
        const char *s = NULL;
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s);
        *is_ref = ev_fast_impl_is_ref(s);
    }
    if (p) st = dnnl_primitive_create(p, pd);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

/* Does this CPU get a non-reference bf16 matmul from oneDNN? */
static int bf16_fast(int64_t d)
{
    dnnl_engine_t eng;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0)) return 0;
    int is_ref = 1;
    int ok = make_prim(eng, TG, d, NULL, &is_ref) == dnnl_success && !is_ref;
    dnnl_engine_destroy(eng);
    return ok;
}

static void tworker_free(tworker *w)
{
    for (int i = 0; i < TQ; i++) {
        free(w->st[i].idx);
        free(w->st[i].a);
        free(w->st[i].ex);
    }
    free(w->qf);
    free(w->qh);
    free(w->s);
    free(w->lb);
    free(w->ts);
    free(w->ti);
    free(w->cnt);
    free(w->pairs);
    free(w->hist_spec);
    free(w->cls_score);
    free(w->cls_id);
    for (int k = 0; k < 2; k++) {
        if (w->msrc[k]) dnnl_memory_destroy(w->msrc[k]);
        if (w->mwei[k]) dnnl_memory_destroy(w->mwei[k]);
        if (w->mdst[k]) dnnl_memory_destroy(w->mdst[k]);
        if (w->prim[k]) dnnl_primitive_destroy(w->prim[k]);
    }
    if (w->stream) dnnl_stream_destroy(w->stream);
}

static ev_status setup_bf16(tworker *w, dnnl_engine_t eng, int64_t ng, int64_t d, ev_err *e)
{
    int64_t rows[2] = {ng < TG ? ng : TG, ng % TG};
    EV_FAIL_IF(dnnl_stream_create(&w->stream, eng, dnnl_stream_default_flags), e, EV_ERR_BACKEND,
               "oneDNN stream creation failed");
    for (int k = 0; k < 2; k++) {
        w->prim_rows[k] = rows[k];
        if (rows[k] <= 0 || (k == 1 && rows[1] == rows[0])) continue;
        EV_FAIL_IF(make_prim(eng, rows[k], d, &w->prim[k], NULL), e, EV_ERR_BACKEND,
                   "oneDNN bf16 matmul creation failed (%lld x %lld x %d)", (long long)rows[k],
                   (long long)d, TQ);
        const dnnl_memory_desc_t *sd, *wd, *dd;
        const_dnnl_primitive_desc_t pd;
        dnnl_primitive_get_primitive_desc(w->prim[k], &pd);
        sd = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
        wd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        dd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
        EV_FAIL_IF(dnnl_memory_create(&w->msrc[k], sd, eng, DNNL_MEMORY_NONE) ||
                       dnnl_memory_create(&w->mwei[k], wd, eng, DNNL_MEMORY_NONE) ||
                       dnnl_memory_create(&w->mdst[k], dd, eng, DNNL_MEMORY_NONE),
                   e, EV_ERR_BACKEND, "oneDNN memory creation failed");
    }
    return EV_OK;
}

static ev_status run_bf16(tworker *w, const uint16_t *src, int64_t rows, ev_err *e)
{
    int k = rows == w->prim_rows[0] ? 0 : 1;
    EV_FAIL_IF(!w->prim[k] || w->prim_rows[k] != rows, e, EV_ERR_INTERNAL,
               "no bf16 matmul for %lld rows", (long long)rows);
    dnnl_memory_set_data_handle(w->msrc[k], (void *)src);
    dnnl_memory_set_data_handle(w->mwei[k], w->qh);
    dnnl_memory_set_data_handle(w->mdst[k], w->s);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, w->msrc[k]},
                               {DNNL_ARG_WEIGHTS, w->mwei[k]},
                               {DNNL_ARG_DST, w->mdst[k]}};
    EV_FAIL_IF(dnnl_primitive_execute(w->prim[k], w->stream, 3, args) ||
                   dnnl_stream_wait(w->stream),
               e, EV_ERR_BACKEND, "oneDNN bf16 matmul failed");
    return EV_OK;
}

/* ---- screening passes ---------------------------------------------------------- */
typedef struct screen_src {
    bool bf16;
    const uint16_t *h;              /* bf16 unit rows                          */
    const float *x, *inv;           /* fp32 rows and their 1/|x|               */
    int64_t n, d;
} screen_src;

/* Screening scores of rows [r0, r0 + rn) of src against the block's queries
 * into w->s (rn x TQ); returns the row scale (NULL in bf16 mode). */
static ev_status screen_gemm(tworker *w, int m, const screen_src *src, int64_t r0, int64_t rn,
                             const float **rowscale, ev_err *e)
{
    if (src->bf16) {
        *rowscale = NULL;
        return run_bf16(w, src->h + (size_t)r0 * src->d, rn, e);
    }
    *rowscale = src->inv + r0;
    return mx_gemm_nt(rn, m, src->d, src->x + (size_t)r0 * src->d, src->d, w->qf, src->d, w->s,
                      TQ, e);
}

static ev_status stream(tworker *w, int m, const screen_src *src, bool loo, const mx_set *q,
                        const mx_set *g, ev_err *e)
{
    for (int64_t g0 = 0; g0 < src->n; g0 += TG) {
        int64_t gn = src->n - g0 < TG ? src->n - g0 : TG;
        const float *rs;
        EV_TRY(screen_gemm(w, m, src, g0, gn, &rs, e));
        screen_rows(w, m, w->s, g0, gn, rs, loo, q, g);
    }
    return EV_OK;
}

static inline int spec_bin(float a)
{
    int b = (int)((a + 1.0625f) * (float)(SPEC_NB / 2.125));
    return b < 0 ? 0 : b >= SPEC_NB ? SPEC_NB - 1 : b;
}

/* A first cut per query from a sample of the gallery: the sample's score at
 * rank ~ L * S / N plus a margin of 4 standard deviations (and one bin and
 * 2E lower). Not a bound: verified after the stream (see verify_spec). */
static ev_status speculate(tworker *w, int m, const screen_src *smp, int64_t ng, bool loo,
                           int aggressive, ev_err *e)
{
    memset(w->hist_spec, 0, (size_t)TQ * SPEC_NB * sizeof *w->hist_spec);
    for (int64_t r0 = 0; r0 < smp->n; r0 += TG) {
        int64_t rn = smp->n - r0 < TG ? smp->n - r0 : TG;
        const float *rs;
        EV_TRY(screen_gemm(w, m, smp, r0, rn, &rs, e));
        for (int64_t j = 0; j < rn; j++) {
            const float *row = w->s + (size_t)j * TQ;
            float sc = rs ? rs[j] : 1.0f;
            for (int i = 0; i < m; i++) w->hist_spec[(size_t)i * SPEC_NB + spec_bin(row[i] * sc)]++;
        }
    }
    for (int i = 0; i < m; i++) {
        tq *t = &w->st[i];
        t->spec = -INFINITY;
        if (t->L <= 0) continue;
        double r = (double)t->L * (double)smp->n / (double)ng;
        double kk = aggressive ? r / 2 : r + 4.0 * sqrt(r) + 8.0 + (loo ? 1.0 : 0.0);
        if (kk >= (double)smp->n) continue;
        int64_t k = (int64_t)ceil(kk), acc = 0;
        const uint16_t *h = w->hist_spec + (size_t)i * SPEC_NB;
        int b = SPEC_NB - 1;
        for (; b > 0; b--) {
            acc += h[b];
            if (acc >= k) break;
        }
        if (b <= 1) continue;
        double edge = -1.0625 + (double)(b - 1) * (2.125 / SPEC_NB);
        t->spec = bound_below(edge - 2.0 * t->E);
        if (t->spec > t->cut) t->cut = t->spec;
    }
    return EV_OK;
}

/* After the stream and a final compaction: a speculative cut is safe when
 * theta (a lower bound of the L-th exact score) exceeds it by more than E,
 * since every top-L item has a >= s_L - E >= theta - E > spec. Queries where
 * that fails restart with no cut; the others are frozen. Returns the
 * number of restarts. */
static int verify_spec(tworker *w, int m)
{
    int redo = 0;
    for (int i = 0; i < m; i++) {
        tq *t = &w->st[i];
        t->frozen = 1;
        if (t->spec == -INFINITY) continue;
        if (t->theta > (double)t->spec + t->E) continue;
        t->frozen = 0;
        t->spec = -INFINITY;
        t->n = 0;
        t->n_exact = 0;
        t->theta = -INFINITY;
        t->cut = -INFINITY;
        redo++;
    }
    if (redo)
        for (int i = 0; i < m; i++)
            if (w->st[i].frozen) w->st[i].cut = INFINITY;
    return redo;
}

/* ---- driver ------------------------------------------------------------------ */
ev_status mx_scan_topk(const mx_set *q, const mx_set *g, bool loo, mx_scan_out *o, int threads,
                       ev_progress_fn progress, void *user, const char *stage, ev_err *e)
{
    const int64_t d = q->d, nq = q->n, ng = g->n;
    const bool want_rank = mx_scan_wants_rank(o);
    const int K = mx_scan_knn_k(o);
    EV_FAIL_IF(g->d != d, e, EV_ERR_SHAPE, "gallery has %lld dims, queries %lld", (long long)g->d,
               (long long)d);
    EV_FAIL_IF(o->ap, e, EV_ERR_INTERNAL, "top-L scan cannot compute full-ranking AP");
    int kmax = 0;
    for (int k = 0; k < o->n_ks; k++)
        if (o->ks[k] > kmax) kmax = o->ks[k];
    const int64_t navail = ng - (loo ? 1 : 0);
    const bool bf16 = !(o->screen & MX_SCREEN_FP32) && bf16_fast(d);
    o->screened_bf16 = bf16;

    /* blocks of class-sorted queries */
    const int32_t *order = q->members;
    int64_t *rel = malloc((size_t)nq * sizeof *rel);
    int64_t *lim = malloc((size_t)nq * sizeof *lim);
    int64_t *bstart = malloc(((size_t)nq + 1) * sizeof *bstart);
    uint16_t *gh = NULL, *sh = NULL;
    float *eg = NULL, *sx = NULL, *sinv = NULL;
    double egmax = 0;
    ev_status rc = EV_OK;
    if (!rel || !lim || !bstart) {
        rc = ev_err_set(e, EV_ERR_NOMEM, "out of memory (%lld queries)", (long long)nq);
        goto out;
    }
    /* L of every query, blocks bounded by TQ and by the sum of L */
    o->n_excluded = mx_relevant_counts(q, g, loo, want_rank, rel);
    int64_t maxL = 0;
    for (int64_t t = 0; t < nq; t++) {
        int64_t R = rel[t], L = K;
        if (R > 0) {
            if (R > L) L = R;
            if (kmax > L) L = kmax;
        }
        if (L > navail) L = navail;
        if (L < 0) L = 0;
        lim[t] = L;
        if (L > maxL) maxL = L;
    }
    const int64_t nb = mx_blocks(lim, nq, TQ, L_BUDGET, bstart);

    int nt = mx_threads(threads);
    if (bf16) {
        /* the gallery as bf16 unit vectors, and its largest rounding residual */
        gh = malloc((size_t)ng * d * sizeof *gh);
        eg = malloc((size_t)ng * sizeof *eg);
        if (!gh || !eg) {
            rc = ev_err_set(e, EV_ERR_NOMEM, "out of memory for the bf16 gallery (%lld x %lld)",
                            (long long)ng, (long long)d);
            goto out;
        }
#pragma omp parallel for num_threads(nt) schedule(static, 4096)
        for (int64_t j = 0; j < ng; j++)
            eg[j] = (float)unit_bf16(g->x + (size_t)j * d, g->inv[j], d, gh + (size_t)j * d);
        for (int64_t j = 0; j < ng; j++)
            if (eg[j] > egmax) egmax = eg[j];
        /* float rounding of eg: a relative 1e-6 margin */
        egmax *= 1.000001;
    }
    /* the screening source and, for large galleries, an evenly spaced
     * sample of it for the first cuts */
    screen_src src = {bf16, gh, g->x, g->inv, ng, d};
    screen_src smp = src;
    const int spec_mode = o->spec_mode;
    int64_t ns = spec_mode > 0 ? (ng < 1024 ? ng : 1024) : SPEC_S;
    bool spec = spec_mode > 0 || (spec_mode == 0 && ng >= SPEC_MIN_G);
    if (spec) {
        smp.n = ns;
        if (bf16) sh = malloc((size_t)ns * d * sizeof *sh);
        else {
            sx = malloc((size_t)ns * d * sizeof *sx);
            sinv = malloc((size_t)ns * sizeof *sinv);
        }
        if (bf16 ? !sh : (!sx || !sinv)) {
            rc = ev_err_set(e, EV_ERR_NOMEM, "out of memory for the gallery sample");
            goto out;
        }
        for (int64_t t = 0; t < ns; t++) {
            int64_t j = t * ng / ns;
            if (bf16) memcpy(sh + (size_t)t * d, gh + (size_t)j * d, (size_t)d * sizeof *sh);
            else {
                memcpy(sx + (size_t)t * d, g->x + (size_t)j * d, (size_t)d * sizeof *sx);
                sinv[t] = g->inv[j];
            }
        }
        smp.h = sh;
        smp.x = sx;
        smp.inv = sinv;
    }
    int64_t restarts = 0;
    const double gam = gamma_d(d);
    dnnl_engine_t eng = NULL;
    if (bf16 && dnnl_engine_create(&eng, dnnl_cpu, 0)) {
        rc = ev_err_set(e, EV_ERR_BACKEND, "oneDNN engine creation failed");
        goto out;
    }

    int failed = 0;
    int64_t done = 0;
    ev_err ferr = {0};
#pragma omp parallel num_threads(nt)
    {
        mx_thread_enter();
        tworker *w = calloc(1, sizeof *w);
        ev_err lerr = {0};
        int ok = w != NULL;
        if (ok) {
            w->portable = (o->screen & MX_SCREEN_PORTABLE) != 0;
            w->nogrow = (o->screen & MX_SCREEN_NOGROW) != 0;
            int64_t cap0 = maxL + maxL / 2 + SLACK;
            w->s = malloc((size_t)TG * TQ * sizeof(float));
            w->qf = calloc((size_t)TQ * d, sizeof(float));
            w->qh = calloc((size_t)TQ * d, sizeof(uint16_t));
            w->cap_scratch = cap0;
            w->lb = malloc((size_t)cap0 * sizeof(float));
            w->ts = malloc((size_t)cap0 * sizeof(float));
            w->ti = malloc((size_t)cap0 * 2 * sizeof(int32_t));
            if (K) {
                w->cls_score = malloc((size_t)K * sizeof(double));
                w->cls_id = malloc((size_t)K * sizeof(int32_t));
                ok = w->cls_score && w->cls_id;
            }
            if (spec) {
                w->hist_spec = malloc((size_t)TQ * SPEC_NB * sizeof *w->hist_spec);
                ok = ok && w->hist_spec;
            }
            ok = ok && w->s && w->qf && w->qh && w->lb && w->ts && w->ti;
            if (ok && bf16 && setup_bf16(w, eng, ng, d, &lerr) != EV_OK) ok = 0;
            if (!ok && !lerr.code) ev_err_set(&lerr, EV_ERR_NOMEM, "out of memory for scan buffers");
        } else {
            ev_err_set(&lerr, EV_ERR_NOMEM, "out of memory for scan buffers");
        }
        if (!ok) {
#pragma omp critical(mx_topk_err)
            {
                if (!failed) ferr = lerr;
                failed = 1;
            }
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t bi = 0; bi < nb; bi++) {
            int fail_now;
#pragma omp atomic read
            fail_now = failed;
            if (fail_now || !ok) continue;
            int64_t t0 = bstart[bi];
            int m = (int)(bstart[bi + 1] - t0);
            /* queries: unit rows (fp32 and bf16), bounds, buffers */
            memset(w->qh, 0, (size_t)TQ * d * sizeof(uint16_t));
            memset(w->qf, 0, (size_t)TQ * d * sizeof(float));
            for (int i = 0; i < m; i++) {
                tq *t = &w->st[i];
                int32_t qi = order[t0 + i];
                t->qi = qi;
                t->cls = q->y[qi];
                t->R = (int32_t)rel[t0 + i];
                t->L = (int32_t)lim[t0 + i];
                t->n = 0;
                t->n_exact = 0;
                t->theta = -INFINITY;
                t->spec = -INFINITY;
                t->frozen = 0;
                const float *x = q->x + (size_t)qi * d;
                float *qf = w->qf + (size_t)i * d;
                for (int64_t k = 0; k < d; k++) qf[k] = x[k] * q->inv[qi];
                if (bf16) {
                    double eq = unit_bf16(x, q->inv[qi], d, w->qh + (size_t)i * d) * 1.000001;
                    t->E = (1.0 + eq) * egmax + eq * (1.0 + 1e-6) +
                           2.0 * gam * (1.0 + eq) * (1.0 + egmax) + 4e-6;
                } else {
                    t->E = 3.0 * gam + 4e-6;
                }
                t->cut = t->L > 0 ? -INFINITY : INFINITY;
                int64_t need = (int64_t)t->L + t->L / 2 + SLACK;
                if (need > INT32_MAX) {
                    ev_err_set(&lerr, EV_ERR_LIMIT, "%lld best items per query is too many",
                               (long long)t->L);
                    goto block_fail;
                }
                if (t->cap < need && !tq_grow(t, w, need)) {
                    ev_err_set(&lerr, EV_ERR_NOMEM, "out of memory for candidates");
                    goto block_fail;
                }
            }
            if (spec && speculate(w, m, &smp, ng, loo, spec_mode == 2, &lerr) != EV_OK)
                goto block_fail;
            if (stream(w, m, &src, loo, q, g, &lerr) != EV_OK) goto block_fail;
            for (int i = 0; i < m; i++) tq_compact(&w->st[i], w);
            if (spec) {
                int redo = verify_spec(w, m);
                if (redo) {
#pragma omp atomic
                    restarts += redo;
                    if (stream(w, m, &src, loo, q, g, &lerr) != EV_OK) goto block_fail;
                    for (int i = 0; i < m; i++)
                        if (!w->st[i].frozen) tq_compact(&w->st[i], w);
                }
            }
            if (!score_block(w, m, q, g)) {
                ev_err_set(&lerr, EV_ERR_NOMEM, "out of memory for exact scoring");
                goto block_fail;
            }
            for (int i = 0; i < m; i++) finish_query(&w->st[i], w, g, want_rank, K, o);
            {
                int64_t dn;
#pragma omp atomic capture
                dn = ++done;
                if (progress && omp_get_thread_num() == 0) progress(user, stage, (double)dn / nb);
            }
            continue;
        block_fail:
#pragma omp critical(mx_topk_err)
            {
                if (!failed) ferr = lerr;
                failed = 1;
            }
        }
        if (w) {
            tworker_free(w);
            free(w);
        }
    }
    if (failed) {
        if (e) *e = ferr;
        rc = ferr.code ? ferr.code : EV_ERR_INTERNAL;
    }
    if (eng) dnnl_engine_destroy(eng);
out:
    free(rel);
    free(lim);
    free(bstart);
    free(gh);
    free(eg);
    free(sh);
    free(sx);
    free(sinv);
    o->spec_restarts = restarts;
    return rc;
}
