/*
 * lib/metrics/kmeans.c — k-means on L2-normalised rows (greedy k-means++
 * initialisation as in sklearn, Lloyd iterations, seeded restarts), and the
 * clustering agreement scores NMI (arithmetic) and ARI as sklearn computes
 * them.
 *
 * Determinism: distances come from GEMM calls on fixed row blocks; sums
 * (inertia, potentials, centroids) are taken per block or per cluster in a
 * fixed order, never per thread.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/mx.h"

#define BQ 256
#define BC 1024

typedef struct km {
    const mx_set *s;
    int k, nt;
    int64_t nblk;
    float *C;                     /* k x d centroids                          */
    double *c2;                   /* |c|^2                                    */
    double *xhat2;                /* |x^_i|^2 (1 or 0)                        */
    double *blk;                  /* per-block partial sums                   */
} km;

/* Assign every row to its nearest centroid; returns inertia. dist (may be
 * NULL) receives each row's squared distance. */
static ev_status km_assign(km *K, int32_t *assign, double *dist, int64_t *changed, double *inertia,
                           ev_err *e)
{
    const mx_set *s = K->s;
    const int64_t n = s->n, d = s->d;
    const int k = K->k;
    int failed = 0;
    int64_t nchg = 0;
    ev_err ferr = {0};
#pragma omp parallel num_threads(K->nt) reduction(+ : nchg)
    {
        mx_thread_enter();
        float *G = malloc((size_t)BQ * BC * sizeof(float));
        if (!G) {
#pragma omp critical(mx_km_err)
            {
                failed = 1;
                ev_err_set(&ferr, EV_ERR_NOMEM, "k-means: out of memory");
            }
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t bi = 0; bi < K->nblk; bi++) {
            if (!G) continue;
            int64_t i0 = bi * BQ, m = n - i0 < BQ ? n - i0 : BQ;
            double best[BQ];
            int32_t arg[BQ];
            for (int64_t i = 0; i < m; i++) {
                best[i] = INFINITY;
                arg[i] = 0;
            }
            for (int c0 = 0; c0 < k; c0 += BC) {
                int cn = k - c0 < BC ? k - c0 : BC;
                ev_err lerr = {0};
                if (mx_gemm_nt(m, cn, d, s->x + (size_t)i0 * d, d, K->C + (size_t)c0 * d, d, G, BC,
                               &lerr) != EV_OK) {
#pragma omp critical(mx_km_err)
                    {
                        failed = 1;
                        ferr = lerr;
                    }
                    break;
                }
                for (int64_t i = 0; i < m; i++) {
                    double iv = s->inv[i0 + i], x2 = K->xhat2[i0 + i];
                    for (int u = 0; u < cn; u++) {
                        double dd = x2 + K->c2[c0 + u] - 2.0 * iv * (double)G[(size_t)i * BC + u];
                        if (dd < best[i]) {
                            best[i] = dd;
                            arg[i] = c0 + u;
                        }
                    }
                }
            }
            double part = 0;
            for (int64_t i = 0; i < m; i++) {
                double dd = best[i] > 0 ? best[i] : 0;
                if (assign[i0 + i] != arg[i]) nchg++;
                assign[i0 + i] = arg[i];
                if (dist) dist[i0 + i] = dd;
                part += dd;
            }
            K->blk[bi] = part;
        }
        free(G);
    }
    if (failed) {
        if (e) *e = ferr;
        return ferr.code ? ferr.code : EV_ERR_INTERNAL;
    }
    double tot = 0;
    for (int64_t bi = 0; bi < K->nblk; bi++) tot += K->blk[bi];
    *inertia = tot;
    if (changed) *changed = nchg;
    return EV_OK;
}

/* Centroids = mean of normalised members, each summed in row order.
 * Empty clusters take the farthest rows (dist), largest first. */
static ev_status km_update(km *K, int32_t *assign, double *dist, ev_err *e)
{
    const mx_set *s = K->s;
    const int64_t n = s->n, d = s->d;
    const int k = K->k;
    int64_t *start = calloc((size_t)k + 1, sizeof *start);
    int32_t *mem = malloc((size_t)n * sizeof *mem);
    if (!start || !mem) {
        free(start);
        free(mem);
        return ev_err_set(e, EV_ERR_NOMEM, "k-means: out of memory");
    }
    for (int64_t i = 0; i < n; i++) start[assign[i] + 1]++;
    /* relocate empty clusters */
    for (int c = 0; c < k; c++) {
        if (start[c + 1] != 0) continue;
        int64_t far = -1;
        for (int64_t i = 0; i < n; i++) {
            if (start[assign[i] + 1] <= 1) continue; /* keep clusters non-empty */
            if (far < 0 || dist[i] > dist[far]) far = i;
        }
        if (far < 0) break;
        start[assign[far] + 1]--;
        assign[far] = c;
        start[c + 1]++;
        dist[far] = 0;
    }
    for (int c = 0; c < k; c++) start[c + 1] += start[c];
    {
        int64_t *pos = malloc((size_t)k * sizeof *pos);
        if (!pos) {
            free(start);
            free(mem);
            return ev_err_set(e, EV_ERR_NOMEM, "k-means: out of memory");
        }
        memcpy(pos, start, (size_t)k * sizeof *pos);
        for (int64_t i = 0; i < n; i++) mem[pos[assign[i]]++] = (int32_t)i;
        free(pos);
    }
    int failed = 0;
#pragma omp parallel num_threads(K->nt)
    {
        double *acc = malloc((size_t)d * sizeof(double));
        if (!acc) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 4)
        for (int c = 0; c < k; c++) {
            if (!acc) continue;
            memset(acc, 0, (size_t)d * sizeof(double));
            int64_t cnt = start[c + 1] - start[c];
            for (int64_t t = start[c]; t < start[c + 1]; t++) {
                int32_t i = mem[t];
                const float *r = s->x + (size_t)i * d;
                double iv = s->inv[i];
                for (int64_t j = 0; j < d; j++) acc[j] += (double)r[j] * iv;
            }
            double c2 = 0;
            for (int64_t j = 0; j < d; j++) {
                float v = cnt ? (float)(acc[j] / (double)cnt) : 0.0f;
                K->C[(size_t)c * d + j] = v;
                c2 += (double)v * v;
            }
            K->c2[c] = c2;
        }
        free(acc);
    }
    free(start);
    free(mem);
    if (failed) return ev_err_set(e, EV_ERR_NOMEM, "k-means: out of memory");
    return EV_OK;
}

static void set_centroid(km *K, int c, int64_t row)
{
    const mx_set *s = K->s;
    double c2 = 0;
    for (int64_t j = 0; j < s->d; j++) {
        float v = s->x[(size_t)row * s->d + j] * s->inv[row];
        K->C[(size_t)c * s->d + j] = v;
        c2 += (double)v * v;
    }
    K->c2[c] = c2;
}

/* Squared distances of every row to `m` candidate rows (normalised);
 * out is m x n. */
static ev_status km_dist_to_rows(km *K, const int64_t *rows, int m, float *cand, double *cand2,
                                 double *out, ev_err *e)
{
    const mx_set *s = K->s;
    const int64_t n = s->n, d = s->d;
    for (int t = 0; t < m; t++) {
        double c2 = 0;
        for (int64_t j = 0; j < d; j++) {
            float v = s->x[(size_t)rows[t] * d + j] * s->inv[rows[t]];
            cand[(size_t)t * d + j] = v;
            c2 += (double)v * v;
        }
        cand2[t] = c2;
    }
    int failed = 0;
    ev_err ferr = {0};
#pragma omp parallel num_threads(K->nt)
    {
        mx_thread_enter();
        float *G = malloc((size_t)BQ * m * sizeof(float));
        if (!G) {
#pragma omp critical(mx_km_err)
            {
                failed = 1;
                ev_err_set(&ferr, EV_ERR_NOMEM, "k-means: out of memory");
            }
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t bi = 0; bi < K->nblk; bi++) {
            if (!G) continue;
            int64_t i0 = bi * BQ, mm = n - i0 < BQ ? n - i0 : BQ;
            ev_err lerr = {0};
            if (mx_gemm_nt(mm, m, d, s->x + (size_t)i0 * d, d, cand, d, G, m, &lerr) != EV_OK) {
#pragma omp critical(mx_km_err)
                {
                    failed = 1;
                    ferr = lerr;
                }
                continue;
            }
            for (int64_t i = 0; i < mm; i++) {
                double iv = s->inv[i0 + i], x2 = K->xhat2[i0 + i];
                for (int t = 0; t < m; t++) {
                    double dd = x2 + cand2[t] - 2.0 * iv * (double)G[(size_t)i * m + t];
                    out[(size_t)t * n + i0 + i] = dd > 0 ? dd : 0;
                }
            }
        }
        free(G);
    }
    if (failed) {
        if (e) *e = ferr;
        return ferr.code ? ferr.code : EV_ERR_INTERNAL;
    }
    return EV_OK;
}

/* Greedy k-means++ (sklearn's _kmeans_plusplus: 2 + floor(ln k) local
 * trials per centre, keep the candidate with the lowest potential). */
static ev_status km_init(km *K, mx_rng *rng, ev_err *e)
{
    const mx_set *s = K->s;
    const int64_t n = s->n, d = s->d;
    const int k = K->k;
    int trials = 2 + (int)log((double)k);
    double *closest = malloc((size_t)n * sizeof(double));
    double *cum = malloc((size_t)n * sizeof(double));
    double *cd = malloc((size_t)trials * n * sizeof(double));
    float *cand = malloc((size_t)trials * d * sizeof(float));
    double *cand2 = malloc((size_t)trials * sizeof(double));
    int64_t *rows = malloc((size_t)trials * sizeof(int64_t));
    ev_status st = EV_OK;
    if (!closest || !cum || !cd || !cand || !cand2 || !rows) {
        st = ev_err_set(e, EV_ERR_NOMEM, "k-means: out of memory");
        goto out;
    }
    rows[0] = (int64_t)mx_rng_below(rng, (uint64_t)n);
    set_centroid(K, 0, rows[0]);
    st = km_dist_to_rows(K, rows, 1, cand, cand2, closest, e);
    if (st != EV_OK) goto out;
    for (int c = 1; c < k; c++) {
        double pot = 0;
        for (int64_t i = 0; i < n; i++) {
            pot += closest[i];
            cum[i] = pot;
        }
        for (int t = 0; t < trials; t++) {
            double r = mx_rng_double(rng) * pot;
            /* first i with cum[i] > r (searchsorted right) */
            int64_t a = 0, b = n - 1;
            while (a < b) {
                int64_t m = a + (b - a) / 2;
                if (cum[m] > r) b = m;
                else a = m + 1;
            }
            rows[t] = a;
        }
        st = km_dist_to_rows(K, rows, trials, cand, cand2, cd, e);
        if (st != EV_OK) goto out;
        int best = 0;
        double best_pot = INFINITY;
        for (int t = 0; t < trials; t++) {
            double p = 0;
            const double *dt = cd + (size_t)t * n;
            for (int64_t i = 0; i < n; i++) p += dt[i] < closest[i] ? dt[i] : closest[i];
            if (p < best_pot) {
                best_pot = p;
                best = t;
            }
        }
        const double *db = cd + (size_t)best * n;
        for (int64_t i = 0; i < n; i++)
            if (db[i] < closest[i]) closest[i] = db[i];
        set_centroid(K, c, rows[best]);
    }
out:
    free(closest);
    free(cum);
    free(cd);
    free(cand);
    free(cand2);
    free(rows);
    return st;
}

ev_status mx_kmeans(const mx_set *s, int k, int restarts, int max_iter, uint64_t seed,
                    int threads, int32_t *assign, double *inertia, ev_err *e)
{
    const int64_t n = s->n, d = s->d;
    EV_FAIL_IF(k < 1 || k > n, e, EV_ERR_INVALID_ARG, "k-means: k = %d for %lld items", k,
               (long long)n);
    if (restarts < 1) restarts = 1;
    if (max_iter < 1) max_iter = 1;
    km K = {0};
    K.s = s;
    K.k = k;
    K.nt = mx_threads(threads);
    K.nblk = (n + BQ - 1) / BQ;
    K.C = malloc((size_t)k * d * sizeof(float));
    K.c2 = malloc((size_t)k * sizeof(double));
    K.xhat2 = malloc((size_t)n * sizeof(double));
    K.blk = malloc((size_t)K.nblk * sizeof(double));
    int32_t *cur = malloc((size_t)n * sizeof(int32_t));
    double *dist = malloc((size_t)n * sizeof(double));
    float *Cold = malloc((size_t)k * d * sizeof(float));
    ev_status st = EV_OK;
    if (!K.C || !K.c2 || !K.xhat2 || !K.blk || !cur || !dist || !Cold) {
        st = ev_err_set(e, EV_ERR_NOMEM, "k-means: out of memory");
        goto out;
    }
    for (int64_t i = 0; i < n; i++) K.xhat2[i] = s->norm2[i] * (double)s->inv[i] * s->inv[i];
    /* sklearn's stopping rule: total squared centroid shift <= 1e-4 x the
     * mean per-feature variance of the (normalised) data */
    double tol;
    {
        double *mean = calloc((size_t)d, sizeof *mean);
        if (!mean) {
            st = ev_err_set(e, EV_ERR_NOMEM, "k-means: out of memory");
            goto out;
        }
        double sq = 0;
        for (int64_t i = 0; i < n; i++) {
            const float *row = s->x + (size_t)i * d;
            double iv = s->inv[i];
            for (int64_t j = 0; j < d; j++) mean[j] += (double)row[j] * iv;
            sq += K.xhat2[i];
        }
        double m2 = 0;
        for (int64_t j = 0; j < d; j++) m2 += (mean[j] / n) * (mean[j] / n);
        free(mean);
        tol = 1e-4 * ((sq / n - m2) / (double)d);
    }
    double best = INFINITY;
    for (int r = 0; r < restarts; r++) {
        mx_rng rng;
        mx_rng_seed(&rng, seed, 0x6b6d65616e73ull + (uint64_t)r);
        st = km_init(&K, &rng, e);
        if (st != EV_OK) goto out;
        for (int64_t i = 0; i < n; i++) cur[i] = -1;
        double in = 0;
        for (int it = 0; it < max_iter; it++) {
            int64_t changed = 0;
            st = km_assign(&K, cur, dist, &changed, &in, e);
            if (st != EV_OK) goto out;
            if (changed == 0) break;
            memcpy(Cold, K.C, (size_t)k * d * sizeof(float));
            st = km_update(&K, cur, dist, e);
            if (st != EV_OK) goto out;
            double shift = 0;
            for (size_t j = 0; j < (size_t)k * d; j++) {
                double u = (double)K.C[j] - Cold[j];
                shift += u * u;
            }
            if (it == max_iter - 1 || shift <= tol) {
                /* final assignment against the last centroids */
                st = km_assign(&K, cur, dist, &changed, &in, e);
                if (st != EV_OK) goto out;
                break;
            }
        }
        if (in < best) {
            best = in;
            memcpy(assign, cur, (size_t)n * sizeof *assign);
        }
    }
    *inertia = best;
out:
    free(K.C);
    free(K.c2);
    free(K.xhat2);
    free(K.blk);
    free(cur);
    free(dist);
    free(Cold);
    return st;
}

ev_status ev_kmeans(const float *x, int64_t n, int64_t d, int k, int restarts, int max_iter,
                    uint64_t seed, int threads, int32_t *assign, double *inertia, char *errbuf,
                    size_t errlen)
{
    ev_err e = {0};
    if (!x || !assign || !inertia || n <= 0 || d <= 0 || k < 1 || k > n) {
        ev_err_set(&e, EV_ERR_INVALID_ARG, "k-means: invalid arguments");
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    int32_t *zeros = calloc((size_t)n, sizeof *zeros);
    if (!zeros) return EV_ERR_NOMEM;
    ev_labeled_embeddings v = {x, n, d, zeros, "k-means"};
    mx_set s;
    ev_status st = mx_set_init(&s, &v, 1, "k-means", threads, &e);
    if (st == EV_OK) {
        st = mx_kmeans(&s, k, restarts, max_iter, seed, threads, assign, inertia, &e);
        mx_set_free(&s);
    }
    free(zeros);
    if (st != EV_OK) ev_err_copy(&e, errbuf, errlen);
    return st;
}

/* ---- NMI / ARI ---------------------------------------------------------------- */
typedef struct cell {
    int32_t a, b;
} cell;

static int cell_cmp(const void *x, const void *y)
{
    const cell *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    if (p->b != q->b) return p->b < q->b ? -1 : 1;
    return 0;
}

ev_status ev_nmi_ari(const int32_t *a, const int32_t *b, int64_t n, double *nmi, double *ari)
{
    if (!a || !b || n <= 0) return EV_ERR_INVALID_ARG;
    int32_t ma = 0, mb = 0;
    for (int64_t i = 0; i < n; i++) {
        if (a[i] < 0 || b[i] < 0) return EV_ERR_INVALID_ARG;
        if (a[i] > ma) ma = a[i];
        if (b[i] > mb) mb = b[i];
    }
    int64_t *ca = calloc((size_t)ma + 1, sizeof *ca), *cb = calloc((size_t)mb + 1, sizeof *cb);
    cell *cells = malloc((size_t)n * sizeof *cells);
    if (!ca || !cb || !cells) {
        free(ca);
        free(cb);
        free(cells);
        return EV_ERR_NOMEM;
    }
    for (int64_t i = 0; i < n; i++) {
        ca[a[i]]++;
        cb[b[i]]++;
        cells[i].a = a[i];
        cells[i].b = b[i];
    }
    qsort(cells, (size_t)n, sizeof *cells, cell_cmp);
    const double N = (double)n, logN = log(N);
    int64_t ka = 0, kb = 0;
    for (int32_t i = 0; i <= ma; i++) ka += ca[i] > 0;
    for (int32_t i = 0; i <= mb; i++) kb += cb[i] > 0;
    /* entropies as sklearn: -sum (p) (log(count) - log(N)) */
    double ha = 0, hb = 0;
    for (int32_t i = 0; i <= ma; i++)
        if (ca[i]) ha -= ((double)ca[i] / N) * (log((double)ca[i]) - logN);
    for (int32_t i = 0; i <= mb; i++)
        if (cb[i]) hb -= ((double)cb[i] / N) * (log((double)cb[i]) - logN);
    /* mutual information and pair counts from the contingency cells */
    double mi = 0;
    long double sum_sq = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && cells[j].a == cells[i].a && cells[j].b == cells[i].b) j++;
        double nij = (double)(j - i);
        double pij = nij / N;
        double outer = (double)ca[cells[i].a] * (double)cb[cells[i].b];
        double term = pij * (log(nij) - logN) + pij * (-log(outer) + logN + logN);
        if (fabs(term) < 2.220446049250313e-16) term = 0.0;
        mi += term;
        sum_sq += (long double)nij * nij;
        i = j;
    }
    if (mi < 0) mi = 0;
    if ((ka == 1 && kb == 1) || (ka == 0 && kb == 0)) *nmi = 1.0;
    else if (mi <= 0) *nmi = 0.0;
    else {
        double norm = (ha + hb) / 2.0;
        if (norm < 2.220446049250313e-16) norm = 2.220446049250313e-16;
        *nmi = mi / norm;
    }
    /* ARI via the pair confusion matrix (sklearn.metrics.pair_confusion_matrix) */
    long double sa = 0, sb = 0;
    for (int32_t i = 0; i <= ma; i++) sa += (long double)ca[i] * ca[i];
    for (int32_t i = 0; i <= mb; i++) sb += (long double)cb[i] * cb[i];
    long double tp = sum_sq - n;
    long double fp = sb - sum_sq;  /* C[0,1]: same cluster in b, different in a */
    long double fn = sa - sum_sq;  /* C[1,0] */
    long double tn = (long double)n * n - fp - fn - sum_sq;
    if (fn == 0 && fp == 0) *ari = 1.0;
    else
        *ari = (double)(2.0L * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)));
    free(ca);
    free(cb);
    free(cells);
    return EV_OK;
}
