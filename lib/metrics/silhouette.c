/*
 * lib/metrics/silhouette.c — silhouette coefficient (Rousseeuw 1987), as
 * sklearn.metrics.silhouette_score.
 *
 * Cosine distance is linear in the normalised vectors, so the mean distance
 * of item i to class C needs only the class sum S_C of normalised vectors:
 *     sum_{j in C} (1 - x^_i . x^_j) = |C| - x^_i . S_C
 * which makes the exact cosine silhouette O(N*d*k) (one GEMM of the rows
 * with the k class sums) instead of O(N^2*d). Self-distance is removed
 * exactly: a_i = 1 - (x^_i . S_y - |x^_i|^2) / (|C_y| - 1).
 *
 * Euclidean distance has no such identity: blocked O(N^2*d) GEMM on
 * mean-centred rows (translation invariance; centring keeps
 * |a|^2 + |b|^2 - 2ab accurate), gallery gathered in class order so each
 * row's per-class sums are contiguous runs.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/mx.h"

#define BQ 256
#define BG 1024

static double sil_value(double a, double b, int64_t own)
{
    if (own <= 1) return 0.0;
    double m = a > b ? a : b;
    if (!(m > 0)) return 0.0;
    return (b - a) / m;
}

static ev_status sil_cosine(const mx_set *s, int threads, double *item, ev_err *e)
{
    const int64_t n = s->n, d = s->d;
    const int32_t k = s->n_classes;
    float *M = malloc((size_t)k * d * sizeof(float));
    if (!M) return ev_err_set(e, EV_ERR_NOMEM, "out of memory for %d class sums", (int)k);
    int nt = mx_threads(threads);
    int failed = 0;
    ev_err ferr = {0};
#pragma omp parallel num_threads(nt)
    {
        mx_thread_enter();
        double *acc = malloc((size_t)d * sizeof(double));
        float *G = malloc((size_t)BQ * BG * sizeof(float));
        if (!acc || !G) {
#pragma omp critical(mx_sil_err)
            {
                failed = 1;
                ev_err_set(&ferr, EV_ERR_NOMEM, "out of memory for silhouette buffers");
            }
        }
        /* class sums of normalised rows, each class summed in row order */
#pragma omp for schedule(dynamic, 1)
        for (int32_t c = 0; c < k; c++) {
            if (!acc) continue;
            memset(acc, 0, (size_t)d * sizeof(double));
            for (int64_t t = s->cstart[c]; t < s->cstart[c + 1]; t++) {
                int32_t i = s->members[t];
                const float *r = s->x + (size_t)i * d;
                double iv = s->inv[i];
                for (int64_t j = 0; j < d; j++) acc[j] += (double)r[j] * iv;
            }
            for (int64_t j = 0; j < d; j++) M[(size_t)c * d + j] = (float)acc[j];
        }
        /* rows x class sums */
        int64_t nbq = (n + BQ - 1) / BQ;
#pragma omp for schedule(dynamic, 1)
        for (int64_t bi = 0; bi < nbq; bi++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop || !G) continue;
            int64_t i0 = bi * BQ, m = n - i0 < BQ ? n - i0 : BQ;
            double bbest[BQ], aown[BQ];
            for (int64_t i = 0; i < m; i++) {
                bbest[i] = INFINITY;
                aown[i] = 0;
            }
            for (int32_t c0 = 0; c0 < k; c0 += BG) {
                int32_t cn = k - c0 < BG ? k - c0 : BG;
                ev_err lerr = {0};
                if (mx_gemm_nt(m, cn, d, s->x + (size_t)i0 * d, d, M + (size_t)c0 * d, d, G, BG,
                               &lerr) != EV_OK) {
#pragma omp critical(mx_sil_err)
                    {
                        failed = 1;
                        ferr = lerr;
                    }
                    break;
                }
                for (int64_t i = 0; i < m; i++) {
                    int64_t r = i0 + i;
                    double iv = s->inv[r];
                    int32_t y = s->y[r];
                    for (int32_t u = 0; u < cn; u++) {
                        int32_t c = c0 + u;
                        int64_t nc = s->cstart[c + 1] - s->cstart[c];
                        if (nc == 0) continue;
                        double dot = (double)G[(size_t)i * BG + u] * iv;
                        if (c == y) {
                            if (nc > 1) {
                                double self = s->norm2[r] * iv * iv;
                                aown[i] = 1.0 - (dot - self) / (double)(nc - 1);
                            }
                        } else {
                            double mean = 1.0 - dot / (double)nc;
                            if (mean < bbest[i]) bbest[i] = mean;
                        }
                    }
                }
            }
            for (int64_t i = 0; i < m; i++) {
                int64_t r = i0 + i;
                int32_t y = s->y[r];
                double a = aown[i] < 0 ? 0 : aown[i], b = bbest[i] < 0 ? 0 : bbest[i];
                item[r] = sil_value(a, b, s->cstart[y + 1] - s->cstart[y]);
            }
        }
        free(acc);
        free(G);
    }
    free(M);
    if (failed) {
        if (e) *e = ferr;
        return ferr.code ? ferr.code : EV_ERR_INTERNAL;
    }
    return EV_OK;
}

static ev_status sil_euclidean(const mx_set *s, int threads, double *item, ev_err *e)
{
    const int64_t n = s->n, d = s->d;
    const int32_t k = s->n_classes;
    /* centre: mean in double, row order */
    double *mu_d = calloc((size_t)d, sizeof(double));
    float *mu = malloc((size_t)d * sizeof(float));
    double *cn2 = malloc((size_t)n * sizeof(double));
    if (!mu_d || !mu || !cn2) {
        free(mu_d);
        free(mu);
        free(cn2);
        return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) mu_d[j] += s->x[(size_t)i * d + j];
    for (int64_t j = 0; j < d; j++) mu[j] = (float)(mu_d[j] / (double)n);
    free(mu_d);
    for (int64_t i = 0; i < n; i++) {
        double a = 0;
        for (int64_t j = 0; j < d; j++) {
            float v = s->x[(size_t)i * d + j] - mu[j];
            a += (double)v * v;
        }
        cn2[i] = a;
    }
    /* rows per block: keep BQ x k sums bounded (about 32 MB per thread) */
    int64_t bq = ((int64_t)1 << 22) / (k > 0 ? k : 1);
    if (bq > BQ) bq = BQ;
    if (bq < 1) bq = 1;
    int nt = mx_threads(threads);
    int failed = 0;
    ev_err ferr = {0};
#pragma omp parallel num_threads(nt)
    {
        mx_thread_enter();
        float *Q = malloc((size_t)bq * d * sizeof(float));
        float *Gb = malloc((size_t)BG * d * sizeof(float));
        float *S = malloc((size_t)bq * BG * sizeof(float));
        double *sums = malloc((size_t)bq * k * sizeof(double));
        if (!Q || !Gb || !S || !sums) {
#pragma omp critical(mx_sil_err)
            {
                failed = 1;
                ev_err_set(&ferr, EV_ERR_NOMEM, "out of memory for silhouette buffers");
            }
        }
        int64_t nbq = (n + bq - 1) / bq;
#pragma omp for schedule(dynamic, 1)
        for (int64_t bi = 0; bi < nbq; bi++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop || !sums) continue;
            int64_t i0 = bi * bq, m = n - i0 < bq ? n - i0 : bq;
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < d; j++)
                    Q[(size_t)i * d + j] = s->x[(size_t)(i0 + i) * d + j] - mu[j];
            memset(sums, 0, (size_t)m * k * sizeof(double));
            for (int64_t l0 = 0; l0 < n; l0 += BG) {
                int64_t cn = n - l0 < BG ? n - l0 : BG;
                for (int64_t u = 0; u < cn; u++) {
                    int32_t gj = s->members[l0 + u];
                    for (int64_t j = 0; j < d; j++)
                        Gb[(size_t)u * d + j] = s->x[(size_t)gj * d + j] - mu[j];
                }
                ev_err lerr = {0};
                if (mx_gemm_nt(m, cn, d, Q, d, Gb, d, S, BG, &lerr) != EV_OK) {
#pragma omp critical(mx_sil_err)
                    {
                        failed = 1;
                        ferr = lerr;
                    }
                    break;
                }
                for (int64_t i = 0; i < m; i++) {
                    int64_t r = i0 + i;
                    double ni = cn2[r];
                    const float *srow = S + (size_t)i * BG;
                    double *srow_sum = sums + (size_t)i * k;
                    int64_t u = 0;
                    while (u < cn) {
                        int32_t c = s->y[s->members[l0 + u]];
                        int64_t u1 = u;
                        double acc = 0;
                        while (u1 < cn && s->y[s->members[l0 + u1]] == c) {
                            int32_t gj = s->members[l0 + u1];
                            if (gj != r) {
                                double d2 = ni + cn2[gj] - 2.0 * (double)srow[u1];
                                acc += d2 > 0 ? sqrt(d2) : 0.0;
                            }
                            u1++;
                        }
                        srow_sum[c] += acc;
                        u = u1;
                    }
                }
            }
            for (int64_t i = 0; i < m; i++) {
                int64_t r = i0 + i;
                int32_t y = s->y[r];
                int64_t own = s->cstart[y + 1] - s->cstart[y];
                double a = own > 1 ? sums[(size_t)i * k + y] / (double)(own - 1) : 0.0;
                double b = INFINITY;
                for (int32_t c = 0; c < k; c++) {
                    int64_t nc = s->cstart[c + 1] - s->cstart[c];
                    if (c == y || nc == 0) continue;
                    double v = sums[(size_t)i * k + c] / (double)nc;
                    if (v < b) b = v;
                }
                item[r] = sil_value(a, b, own);
            }
        }
        free(Q);
        free(Gb);
        free(S);
        free(sums);
    }
    free(mu);
    free(cn2);
    if (failed) {
        if (e) *e = ferr;
        return ferr.code ? ferr.code : EV_ERR_INTERNAL;
    }
    return EV_OK;
}

ev_status mx_silhouette(const mx_set *s, ev_distance metric, int threads, double *item,
                        double *mean, ev_err *e)
{
    int32_t present = 0;
    for (int32_t c = 0; c < s->n_classes; c++)
        if (s->cstart[c + 1] > s->cstart[c]) present++;
    if (present < 2)
        return ev_err_set(e, EV_ERR_UNDEFINED, "fewer than 2 classes");
    if (present >= s->n)
        return ev_err_set(e, EV_ERR_UNDEFINED, "every item is alone in its class");
    ev_status st = metric == EV_DISTANCE_EUCLIDEAN ? sil_euclidean(s, threads, item, e)
                                                   : sil_cosine(s, threads, item, e);
    if (st != EV_OK) return st;
    double acc = 0;
    for (int64_t i = 0; i < s->n; i++) acc += item[i];
    *mean = acc / (double)s->n;
    return EV_OK;
}

static int64_t slot_find(const int64_t *keys, int64_t cap, int64_t key)
{
    uint64_t h = (uint64_t)key * 0x9e3779b97f4a7c15ull;
    int64_t p = (int64_t)(h >> 20) & (cap - 1);
    while (keys[p] != -1 && keys[p] != key) p = (p + 1) & (cap - 1);
    return p;
}

ev_status ev_sample_indices(int64_t n, int64_t sample, uint64_t seed, int64_t *out)
{
    if (n <= 0 || sample <= 0 || sample > n || !out) return EV_ERR_INVALID_ARG;
    /* partial Fisher-Yates over a lazily materialised permutation: a small
     * open-addressing map keeps only the displaced entries. */
    int64_t cap = 16;
    while (cap < 4 * sample) cap <<= 1;
    int64_t *keys = malloc((size_t)cap * sizeof *keys), *vals = malloc((size_t)cap * sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return EV_ERR_NOMEM;
    }
    for (int64_t i = 0; i < cap; i++) keys[i] = -1;
    mx_rng r;
    mx_rng_seed(&r, seed, 0x5a4d504cull);
    for (int64_t i = 0; i < sample; i++) {
        int64_t j = i + (int64_t)mx_rng_below(&r, (uint64_t)(n - i));
        int64_t pi = slot_find(keys, cap, i);
        int64_t vi = keys[pi] == i ? vals[pi] : i;
        int64_t pj = slot_find(keys, cap, j);
        int64_t vj = keys[pj] == j ? vals[pj] : j;
        out[i] = vj;
        /* position j now holds vi; position i is never read again */
        keys[pj] = j;
        vals[pj] = vi;
    }
    free(keys);
    free(vals);
    /* sort ascending (insertion for small, else a simple heap sort) */
    for (int64_t i = sample / 2 - 1; i >= 0; i--) {
        int64_t p = i;
        for (;;) {
            int64_t c = 2 * p + 1;
            if (c >= sample) break;
            if (c + 1 < sample && out[c + 1] > out[c]) c++;
            if (out[p] >= out[c]) break;
            int64_t t = out[p];
            out[p] = out[c];
            out[c] = t;
            p = c;
        }
    }
    for (int64_t end = sample - 1; end > 0; end--) {
        int64_t t = out[0];
        out[0] = out[end];
        out[end] = t;
        int64_t p = 0;
        for (;;) {
            int64_t c = 2 * p + 1;
            if (c >= end) break;
            if (c + 1 < end && out[c + 1] > out[c]) c++;
            if (out[p] >= out[c]) break;
            int64_t t2 = out[p];
            out[p] = out[c];
            out[c] = t2;
            p = c;
        }
    }
    return EV_OK;
}

ev_status ev_silhouette(const float *x, int64_t n, int64_t d, const int32_t *labels,
                        int32_t n_classes, ev_distance metric, int64_t sample, uint64_t seed,
                        int threads, double *out, char *errbuf, size_t errlen)
{
    ev_err e = {0};
    if (!x || !labels || !out || n <= 0 || d <= 0 || n_classes <= 0) {
        ev_err_set(&e, EV_ERR_INVALID_ARG, "silhouette: invalid arguments");
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    ev_labeled_embeddings v = {x, n, d, labels, "silhouette"};
    float *sx = NULL;
    int32_t *sy = NULL;
    int64_t *idx = NULL;
    if (sample > 0 && sample < n) {
        idx = malloc((size_t)sample * sizeof *idx);
        sx = malloc((size_t)sample * d * sizeof *sx);
        sy = malloc((size_t)sample * sizeof *sy);
        if (!idx || !sx || !sy || ev_sample_indices(n, sample, seed, idx) != EV_OK) {
            free(idx);
            free(sx);
            free(sy);
            ev_err_set(&e, EV_ERR_NOMEM, "silhouette: out of memory for the sample");
            ev_err_copy(&e, errbuf, errlen);
            return e.code;
        }
        for (int64_t i = 0; i < sample; i++) {
            memcpy(sx + (size_t)i * d, x + (size_t)idx[i] * d, (size_t)d * sizeof *sx);
            sy[i] = labels[idx[i]];
        }
        v.x = sx;
        v.n = sample;
        v.labels = sy;
    }
    mx_set s;
    ev_status st = mx_set_init(&s, &v, n_classes, "silhouette", threads, &e);
    double *item = NULL;
    if (st == EV_OK) {
        item = malloc((size_t)v.n * sizeof *item);
        if (!item) st = ev_err_set(&e, EV_ERR_NOMEM, "silhouette: out of memory");
        else st = mx_silhouette(&s, metric, threads, item, out, &e);
        mx_set_free(&s);
    }
    free(item);
    free(idx);
    free(sx);
    free(sy);
    if (st != EV_OK) ev_err_copy(&e, errbuf, errlen);
    return st;
}
