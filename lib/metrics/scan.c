/*
 * lib/metrics/scan.c — the streaming similarity engine behind retrieval and
 * kNN metrics.
 *
 * Queries are processed in blocks (at most BQ queries, and a bounded total
 * number of relevant items). For one block:
 *
 *   pass A  the gallery members of the block's classes are gathered in
 *           chunks and multiplied with the block's queries: each query gets
 *           the scores of its R relevant items ("thresholds"), sorted by
 *           (score desc, gallery index asc) with a stable radix sort.
 *   pass B  the whole gallery streams by in blocks of BG rows (one GEMM
 *           each). For every irrelevant gallery item and every query we need
 *           which thresholds it beats; a per-query bucket table over
 *           [t_min, t_max] answers that in O(1) except when the item lands in
 *           a bucket holding a threshold (then an exact comparison, with the
 *           gallery index breaking ties). Counts go to difference arrays.
 *           The same stream keeps each query's top-k neighbours for kNN.
 *
 * From the counts, rank_p (0-based, ties by gallery index) of the p-th
 * relevant item is p + #irrelevant beating it, and #items with score >= t_p
 * gives sklearn's tie-aware precision. So per query the work is O(N + R log R)
 * after the GEMM, memory is O(BQ*BG + sum R), and never N x N.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "metrics/mx.h"

#define BQ 128                     /* queries per block                        */
#define BG 8192                   /* gallery rows per GEMM (pass B)           */
#define BA 1024                   /* gathered relevant rows per GEMM (pass A) */
#define R_BUDGET ((int64_t)1 << 21) /* relevant items per block (soft)        */
#define MAX_B (1 << 18)           /* most buckets per query                   */
#define WIN 8                     /* thresholds compared without branches     */
#define PAD 16                    /* per-query slack: WIN padding, dummy slots */

typedef struct qst {
    int32_t qi, cls, R;
    int32_t B;
    int64_t off;                  /* into thr/tid (R entries), dbeat/dtie (R+1) */
    int64_t toff;                 /* into table (B+1 entries)                 */
    float tmin, tmax, scale;
    int hn;                       /* kNN entries kept                         */
} qst;

typedef struct worker {
    float *q, *g, *s;             /* BQ x d, BA x d, BQ x BG                   */
    int32_t *lidx;                /* gathered gallery ids (chunk)             */
    int32_t *lrun;                /* their run (class) index in the block     */
    qst *st;
    float *thr;
    int32_t *tid;
    uint32_t *dbeat, *dtie, *table;
    int64_t cap_r, cap_t;
    float *tmp_s;
    int32_t *tmp_i;
    int64_t cap_tmp;
    float *hs;                    /* BQ x k                                   */
    int32_t *hi;
    double *cls_score;            /* k                                        */
    int32_t *cls_id;
} worker;

static void worker_free(worker *w)
{
    free(w->q);
    free(w->g);
    free(w->s);
    free(w->lidx);
    free(w->lrun);
    free(w->st);
    free(w->thr);
    free(w->tid);
    free(w->dbeat);
    free(w->dtie);
    free(w->table);
    free(w->tmp_s);
    free(w->tmp_i);
    free(w->hs);
    free(w->hi);
    free(w->cls_score);
    free(w->cls_id);
}

static int grow(void **p, int64_t *cap, int64_t need, size_t elem)
{
    (void)cap;
    void *n = realloc(*p, (size_t)(need > 0 ? need : 1) * elem);
    if (!n) return 0;
    *p = n;
    return 1;
}

static int worker_reserve(worker *w, int64_t sum_r, int64_t sum_t, int64_t max_r, int nq)
{
    if (sum_r + (int64_t)PAD * nq > w->cap_r) {
        int64_t c = (sum_r + (int64_t)PAD * nq) * 5 / 4 + 64;
        if (!grow((void **)&w->thr, NULL, c, sizeof(float)) ||
            !grow((void **)&w->tid, NULL, c, sizeof(int32_t)) ||
            !grow((void **)&w->dbeat, NULL, c, sizeof(uint32_t)) ||
            !grow((void **)&w->dtie, NULL, c, sizeof(uint32_t)))
            return 0;
        w->cap_r = c;
    }
    if (sum_t > w->cap_t) {
        int64_t c = sum_t * 5 / 4 + 64;
        if (!grow((void **)&w->table, NULL, c, sizeof(uint32_t))) return 0;
        w->cap_t = c;
    }
    if (max_r > w->cap_tmp) {
        int64_t c = max_r * 5 / 4 + 64;
        if (!grow((void **)&w->tmp_s, NULL, c, sizeof(float)) ||
            !grow((void **)&w->tmp_i, NULL, c, sizeof(int32_t)))
            return 0;
        w->cap_tmp = c;
    }
    return 1;
}

static int32_t buckets_for(int32_t R)
{
    int32_t b = 1;
    while (b < R && b < MAX_B) b <<= 1;
    return b;
}

/* Bucket of a score: q = floor(clamp((s - t_min) * scale, -1, B - 0.5)) + 1,
 * in [0, B]; bucket q - 1 for q >= 1. The same float operations are used
 * for thresholds and items, and each is monotone non-decreasing, so
 * q(t) > q(s) implies t > s exactly: only thresholds of the item's own
 * bucket need a comparison. */
static inline int32_t bucket_q(float s, float tmin, float scale, float fmax)
{
    float f = (s - tmin) * scale;
    f = f < -1.0f ? -1.0f : f;
    f = f > fmax ? fmax : f;
    return (int32_t)(f + 1.0f);
}

/* Build the bucket table of one query (thresholds sorted desc):
 * T[b] = number of thresholds in buckets >= b, b in [0, B]. */
static void build_table(qst *st, const float *thr, uint32_t *T)
{
    int32_t R = st->R;
    st->tmax = thr[0];
    st->tmin = thr[R - 1];
    double span = (double)st->tmax - (double)st->tmin;
    int32_t B = buckets_for(R);
    if (!(span > 1e-30)) {
        B = 1;
        st->scale = 0.0f;
    } else {
        st->scale = (float)((double)B / span);
        if (!isfinite(st->scale)) {
            B = 1;
            st->scale = 0.0f;
        }
    }
    st->B = B;
    float fmax = (float)B - 0.5f;
    memset(T, 0, (size_t)(B + 1) * sizeof *T);
    for (int32_t p = 0; p < R; p++) {
        int32_t q = bucket_q(thr[p], st->tmin, st->scale, fmax);
        T[q > 0 ? q - 1 : 0]++;
    }
    uint32_t acc = 0;
    for (int32_t b = B - 1; b >= 0; b--) {
        acc += T[b];
        T[b] = acc;
    }
    T[B] = 0;
}

/* Exact placement of an irrelevant item (score s, gallery id j) among the
 * thresholds [lo, hi) of one bucket. */
static inline void place_slow(float s, int32_t j, const float *thr, const int32_t *tid, uint32_t lo,
                              uint32_t hi, uint32_t *dbeat, uint32_t *dtie)
{
    /* first position with t <= s (thresholds descending) */
    uint32_t a = lo, b = hi;
    while (a < b) {
        uint32_t m = a + (b - a) / 2;
        if (thr[m] <= s) b = m;
        else a = m + 1;
    }
    uint32_t pge = a, pbeat = a;
    /* tied thresholds with a smaller gallery id are not beaten */
    while (pbeat < hi && thr[pbeat] == s && tid[pbeat] < j) pbeat++;
    dbeat[pbeat]++;
    if (pbeat > pge) {
        dtie[pge]++;
        dtie[pbeat]--;
    }
}

/* Count, for one query and one block of gallery scores, which thresholds
 * every irrelevant item beats. Branch-free in the common case: the bucket
 * of s gives the first candidate position lo; the WIN thresholds from lo on
 * are compared with s at once (positions past the bucket are smaller than s
 * by construction, padding is -inf), so the count of larger thresholds is a
 * popcount. Items below t_min, relevant items and the query itself go to
 * dummy slots R+1..R+8 (spread to avoid a store-forwarding chain on one
 * counter). Exact ties (rare) and buckets holding more than WIN thresholds
 * (rare) take a branch. */
static void scan_row(const qst *st, const float *srow, float iq, const float *ginv,
                     const int32_t *gy, int32_t c, int32_t g0, int64_t gn, const float *thr,
                     const int32_t *tid, uint32_t *dbeat, uint32_t *dtie, const uint32_t *T)
{
    const float tmin = st->tmin, scale = st->scale, fmax = (float)st->B - 0.5f;
    const uint32_t R = (uint32_t)st->R;
    for (int64_t j = 0; j < gn; j++) {
        float s = (srow[j] * iq) * ginv[j];
        /* q = 0 only below t_min; q >= 1: bucket q - 1 (values above t_max
         * land in the top bucket, whose thresholds they all beat) */
        int32_t q = bucket_q(s, tmin, scale, fmax);
        uint32_t hi = q ? T[q - 1] : R, lo = q ? T[q] : R;
        uint32_t cnt, eq;
#if defined(__SSE2__)
        __m128 sv = _mm_set1_ps(s);
        __m128 a0 = _mm_loadu_ps(thr + lo), a1 = _mm_loadu_ps(thr + lo + 4);
        uint32_t gt = (uint32_t)_mm_movemask_ps(_mm_cmpgt_ps(a0, sv)) |
                      ((uint32_t)_mm_movemask_ps(_mm_cmpgt_ps(a1, sv)) << 4);
        eq = (uint32_t)_mm_movemask_ps(_mm_cmpeq_ps(a0, sv)) |
             ((uint32_t)_mm_movemask_ps(_mm_cmpeq_ps(a1, sv)) << 4);
        cnt = (uint32_t)__builtin_ctz(~gt); /* thresholds descend: gt is a prefix */
#else
        cnt = 0;
        eq = 0;
        for (int u = 0; u < WIN; u++) {
            cnt += thr[lo + u] > s;
            eq |= (uint32_t)(thr[lo + u] == s) << u;
        }
#endif
        uint32_t dummy = (s < tmin) | (gy[j] == c);
        uint32_t p = dummy ? R + 1 + ((uint32_t)j & 7) : lo + cnt;
        if (__builtin_expect(hi - lo > WIN || (eq && !dummy), 0)) {
            if (dummy) {
                dbeat[p]++;
                continue;
            }
            place_slow(s, g0 + (int32_t)j, thr, tid, lo, hi, dbeat, dtie);
            continue;
        }
        dbeat[p]++;
    }
}

static void finalize_rank(const qst *st, const float *thr, const int32_t *tid, uint32_t *dbeat,
                          uint32_t *dtie, mx_scan_out *o)
{
    (void)tid;
    int32_t R = st->R, qi = st->qi;
    /* prefix sums: beat[p] = irrelevant items beating threshold p,
     * tie[p] = irrelevant items tied with t_p but after it by index */
    uint32_t cb = 0, ct = 0;
    for (int32_t p = 0; p < R; p++) {
        cb += dbeat[p];
        ct += dtie[p];
        dbeat[p] = cb;
        dtie[p] = ct;
    }
    /* AP with sklearn's tie handling: one threshold per distinct score. */
    double ap = 0;
    for (int32_t a = 0; a < R;) {
        int32_t e = a + 1;
        while (e < R && thr[e] == thr[a]) e++;
        /* all of [a, e) share the score; irrelevant items with score >= t:
         * those beating the first of the group plus those tied after it,
         * which is the same count for every member: use position a. */
        double ge = (double)dbeat[a] + (double)dtie[a];
        ap += (double)(e - a) * ((double)e / ((double)e + ge));
        a = e;
    }
    if (o->ap) o->ap[qi] = ap / R;
    /* ranks (0-based) with ties by gallery index */
    double mapr = 0;
    int64_t in_r = 0;
    for (int32_t p = 0; p < R; p++) {
        int64_t rank = (int64_t)p + dbeat[p];
        if (rank < R) {
            in_r++;
            mapr += (double)(p + 1) / (double)(rank + 1);
        }
    }
    if (o->map_at_r) o->map_at_r[qi] = mapr / R;
    if (o->r_precision) o->r_precision[qi] = (double)in_r / R;
    for (int k = 0; k < o->n_ks; k++) {
        int64_t K = o->ks[k];
        int64_t c = 0;
        /* ranks increase with p: count the prefix with rank < K */
        while (c < R && (int64_t)c + dbeat[c] < K) c++;
        if (o->recall_at[k]) o->recall_at[k][qi] = c > 0 ? 1.0 : 0.0;
        if (o->precision_at[k]) o->precision_at[k][qi] = (double)c / (double)K;
    }
}

void mx_knn_finalize(int32_t qi, int hn, const float *hs, const int32_t *hi, const mx_set *g,
                     int32_t yq, double T, double *cs, int32_t *cid, mx_scan_out *o)
{
    if (o->knn1) o->knn1[qi] = (hn > 0 && g->y[hi[0]] == yq) ? 1 : 0;
    int nc = 0;
    for (int t = 0; t < hn; t++) {
        int32_t c = g->y[hi[t]];
        double w = exp((double)hs[t] / T);
        int u = 0;
        while (u < nc && cid[u] != c) u++;
        if (u == nc) {
            cid[nc] = c;
            cs[nc] = 0;
            nc++;
        }
        cs[u] += w;
    }
    double st_true = 0;
    int have = 0;
    for (int u = 0; u < nc; u++)
        if (cid[u] == yq) {
            st_true = cs[u];
            have = 1;
        }
    int rank = 0;
    if (have)
        for (int u = 0; u < nc; u++)
            if (cs[u] > st_true || (cs[u] == st_true && cid[u] < yq)) rank++;
    if (o->knn_top1) o->knn_top1[qi] = (have && rank == 0) ? 1 : 0;
    if (o->knn_top5) o->knn_top5[qi] = (have && rank < 5) ? 1 : 0;
}

ev_status mx_scan(const mx_set *q, const mx_set *g, bool loo, mx_scan_out *o, int threads,
                  ev_progress_fn progress, void *user, const char *stage, ev_err *e)
{
    const int64_t d = q->d, nq = q->n, ng = g->n;
    const bool want_rank = mx_scan_wants_rank(o);
    const int K = mx_scan_knn_k(o);
    EV_FAIL_IF(g->d != d, e, EV_ERR_SHAPE, "gallery has %lld dims, queries %lld", (long long)g->d,
               (long long)d);
    /* Query order: by class (pass A locality), blocks bounded by BQ and by
     * the total number of relevant items. */
    const int32_t *order = q->members;
    int64_t *rel = malloc((size_t)nq * sizeof *rel);
    int64_t *bstart = malloc(((size_t)nq + 1) * sizeof *bstart);
    if (!rel || !bstart) {
        free(rel);
        free(bstart);
        return ev_err_set(e, EV_ERR_NOMEM, "out of memory (%lld queries)", (long long)nq);
    }
    o->n_excluded = mx_relevant_counts(q, g, loo, want_rank, rel);
    const int64_t nb = mx_blocks(rel, nq, BQ, R_BUDGET, bstart);

    int nt = mx_threads(threads);
    int failed = 0;
    int64_t done = 0;
    ev_err ferr = {0};
#pragma omp parallel num_threads(nt)
    {
        mx_thread_enter();
        worker w;
        memset(&w, 0, sizeof w);
        int ok = 1;
        w.q = malloc((size_t)BQ * d * sizeof(float));
        w.g = malloc((size_t)BA * d * sizeof(float));
        w.s = malloc((size_t)BQ * BG * sizeof(float));
        w.lidx = malloc((size_t)BA * sizeof(int32_t));
        w.lrun = malloc((size_t)BA * sizeof(int32_t));
        w.st = malloc((size_t)BQ * sizeof(qst));
        if (K) {
            w.hs = malloc((size_t)BQ * K * sizeof(float));
            w.hi = malloc((size_t)BQ * K * sizeof(int32_t));
            w.cls_score = malloc((size_t)K * sizeof(double));
            w.cls_id = malloc((size_t)K * sizeof(int32_t));
            if (!w.hs || !w.hi || !w.cls_score || !w.cls_id) ok = 0;
        }
        if (!w.q || !w.g || !w.s || !w.lidx || !w.lrun || !w.st) ok = 0;
        if (!ok) {
#pragma omp critical(mx_scan_err)
            {
                if (!failed) ev_err_set(&ferr, EV_ERR_NOMEM, "out of memory for scan buffers");
                failed = 1;
            }
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t bi = 0; bi < nb; bi++) {
            int fail_now;
#pragma omp atomic read
            fail_now = failed;
            if (fail_now || !ok) continue;
            ev_err lerr = {0};
            int64_t t0 = bstart[bi], t1 = bstart[bi + 1];
            int m = (int)(t1 - t0);
            int64_t sum_r = 0, sum_t = 0, max_r = 0;
            for (int64_t t = t0; t < t1; t++) {
                sum_r += rel[t];
                sum_t += buckets_for((int32_t)rel[t]) + 1;
                if (rel[t] > max_r) max_r = rel[t];
            }
            if (!worker_reserve(&w, sum_r, sum_t, max_r, m)) {
                ev_err_set(&lerr, EV_ERR_NOMEM, "out of memory for %lld relevant items",
                           (long long)sum_r);
                goto block_fail;
            }
            /* gather queries, set up state */
            {
                int64_t off = 0, toff = 0;
                for (int i = 0; i < m; i++) {
                    int32_t qi = order[t0 + i];
                    memcpy(w.q + (size_t)i * d, q->x + (size_t)qi * d, (size_t)d * sizeof(float));
                    qst *st = &w.st[i];
                    st->qi = qi;
                    st->cls = q->y[qi];
                    st->R = (int32_t)rel[t0 + i];
                    st->off = off;
                    st->toff = toff;
                    st->hn = 0;
                    off += st->R + PAD;
                    toff += buckets_for(st->R) + 1;
                }
            }
            /* ---- pass A: scores of relevant items -------------------------- */
            if (want_rank && sum_r > 0) {
                /* The gallery members of the block's classes (queries are
                 * class-sorted, so each class is one run of queries),
                 * gathered in chunks; one GEMM per chunk with all m queries
                 * (the same M as pass B), each query keeps its class's part. */
                int64_t fill[BQ];
                for (int i = 0; i < m; i++) fill[i] = 0;
                int64_t lsize = 0;
                int32_t runs[BQ][2]; /* class, first query of the run */
                int nruns = 0;
                for (int i = 0; i < m; i++)
                    if (i == 0 || w.st[i].cls != w.st[i - 1].cls) {
                        runs[nruns][0] = w.st[i].cls;
                        runs[nruns][1] = i;
                        nruns++;
                        int32_t cl = w.st[i].cls;
                        if (cl < g->n_classes) lsize += g->cstart[cl + 1] - g->cstart[cl];
                    }
                /* walk L = concatenation of the runs' member lists */
                int ri = 0;
                int64_t rpos = 0; /* position inside run ri's member list */
                for (int64_t l0 = 0; l0 < lsize; l0 += BA) {
                    int64_t cn = lsize - l0 < BA ? lsize - l0 : BA;
                    /* gather, remembering which run each column belongs to */
                    int64_t u = 0;
                    while (u < cn) {
                        int32_t cl = runs[ri][0];
                        int64_t cs = cl < g->n_classes ? g->cstart[cl] : 0;
                        int64_t ce = cl < g->n_classes ? g->cstart[cl + 1] : 0;
                        if (cs + rpos >= ce) {
                            ri++;
                            rpos = 0;
                            continue;
                        }
                        int32_t gj = g->members[cs + rpos];
                        w.lidx[u] = gj;
                        w.lrun[u] = ri;
                        memcpy(w.g + (size_t)u * d, g->x + (size_t)gj * d,
                               (size_t)d * sizeof(float));
                        u++;
                        rpos++;
                    }
                    if (mx_gemm_nt(m, cn, d, w.q, d, w.g, d, w.s, BG, &lerr) != EV_OK)
                        goto block_fail;
                    for (int64_t v = 0; v < cn;) {
                        int run = w.lrun[v];
                        int64_t v1 = v;
                        while (v1 < cn && w.lrun[v1] == run) v1++;
                        int qe = run + 1 < nruns ? runs[run + 1][1] : m;
                        for (int i = runs[run][1]; i < qe; i++) {
                            qst *st = &w.st[i];
                            float iq = q->inv[st->qi];
                            const float *srow = w.s + (size_t)i * BG;
                            float *thr = w.thr + st->off;
                            int32_t *tid = w.tid + st->off;
                            int64_t f = fill[i];
                            for (int64_t x = v; x < v1; x++) {
                                int32_t gj = w.lidx[x];
                                if (loo && gj == st->qi) continue;
                                thr[f] = (srow[x] * iq) * g->inv[gj] + 0.0f;
                                tid[f] = gj;
                                f++;
                            }
                            fill[i] = f;
                        }
                        v = v1;
                    }
                }
                for (int i = 0; i < m; i++) {
                    qst *st = &w.st[i];
                    if (st->R == 0) continue;
                    if (fill[i] != st->R) {
                        ev_err_set(&lerr, EV_ERR_INTERNAL, "relevant count mismatch (%lld vs %d)",
                                   (long long)fill[i], (int)st->R);
                        goto block_fail;
                    }
                    float *thr = w.thr + st->off;
                    int32_t *tid = w.tid + st->off;
                    mx_sort_desc(thr, tid, st->R, w.tmp_s, w.tmp_i);
                    build_table(st, thr, w.table + st->toff);
                    /* padding: WIN comparisons past the end see -inf */
                    for (int u = 0; u < WIN; u++) {
                        thr[st->R + u] = -INFINITY;
                        tid[st->R + u] = INT32_MAX;
                    }
                    memset(w.dbeat + st->off, 0, ((size_t)st->R + PAD) * sizeof(uint32_t));
                    memset(w.dtie + st->off, 0, ((size_t)st->R + PAD) * sizeof(uint32_t));
                }
            }
            /* ---- pass B: stream the gallery -------------------------------- */
            for (int64_t g0 = 0; g0 < ng; g0 += BG) {
                int64_t gn = ng - g0 < BG ? ng - g0 : BG;
                if (mx_gemm_nt(m, gn, d, w.q, d, g->x + (size_t)g0 * d, d, w.s, BG, &lerr) != EV_OK)
                    goto block_fail;
                const float *ginv = g->inv + g0;
                const int32_t *gy = g->y + g0;
                for (int i = 0; i < m; i++) {
                    qst *st = &w.st[i];
                    const float *srow = w.s + (size_t)i * BG;
                    const float iq = q->inv[st->qi];
                    const int32_t c = st->cls, self = loo ? st->qi : -1;
                    if (K) {
                        float *hs = w.hs + (size_t)i * K;
                        int32_t *hi = w.hi + (size_t)i * K;
                        int hn = st->hn;
                        float kth = hn < K ? -INFINITY : hs[K - 1];
                        for (int64_t j = 0; j < gn; j++) {
                            float s = (srow[j] * iq) * ginv[j];
                            if (s > kth) {
                                int32_t gj = (int32_t)(g0 + j);
                                if (gj == self) continue;
                                int p = hn < K ? hn : K - 1;
                                while (p > 0 && hs[p - 1] < s) {
                                    hs[p] = hs[p - 1];
                                    hi[p] = hi[p - 1];
                                    p--;
                                }
                                hs[p] = s;
                                hi[p] = gj;
                                if (hn < K) hn++;
                                kth = hn < K ? -INFINITY : hs[K - 1];
                            }
                        }
                        st->hn = hn;
                    }
                    if (!want_rank || st->R == 0) continue;
                    scan_row(st, srow, iq, ginv, gy, c, (int32_t)g0, gn, w.thr + st->off,
                             w.tid + st->off, w.dbeat + st->off, w.dtie + st->off,
                             w.table + st->toff);
                }
            }
            /* ---- finalize ------------------------------------------------------ */
            for (int i = 0; i < m; i++) {
                qst *st = &w.st[i];
                if (want_rank) {
                    if (st->R > 0)
                        finalize_rank(st, w.thr + st->off, w.tid + st->off, w.dbeat + st->off,
                                      w.dtie + st->off, o);
                    else {
                        if (o->ap) o->ap[st->qi] = NAN;
                        if (o->map_at_r) o->map_at_r[st->qi] = NAN;
                        if (o->r_precision) o->r_precision[st->qi] = NAN;
                        for (int k = 0; k < o->n_ks; k++) {
                            if (o->recall_at[k]) o->recall_at[k][st->qi] = NAN;
                            if (o->precision_at[k]) o->precision_at[k][st->qi] = NAN;
                        }
                    }
                }
                if (K)
                    mx_knn_finalize(st->qi, st->hn, w.hs + (size_t)i * K, w.hi + (size_t)i * K, g,
                                    st->cls, o->knn_t, w.cls_score, w.cls_id, o);
            }
            {
                int64_t dn;
#pragma omp atomic capture
                dn = ++done;
                if (progress && omp_get_thread_num() == 0) progress(user, stage, (double)dn / nb);
            }
            continue;
        block_fail:
#pragma omp critical(mx_scan_err)
            {
                if (!failed) ferr = lerr;
                failed = 1;
            }
        }
        worker_free(&w);
    }
    free(rel);
    free(bstart);
    if (failed) {
        if (e) *e = ferr;
        return ferr.code ? ferr.code : EV_ERR_INTERNAL;
    }
    return EV_OK;
}
