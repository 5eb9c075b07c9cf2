/*
 * lib/metrics/bootstrap.c — percentile bootstrap over items.
 *
 * Resample b draws n item indices with replacement from its own RNG stream
 * (seed, b), so the result does not depend on how resamples are spread over
 * threads. Several series (e.g. AP, R@1, R@5 of the same queries) share the
 * same resampled items. The interval is the 2.5th and 97.5th percentile of
 * the resampled means, interpolated linearly as numpy.percentile does.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/mx.h"

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, int n, double q)
{
    double pos = q / 100.0 * (n - 1);
    int i = (int)floor(pos);
    if (i >= n - 1) return sorted[n - 1];
    double f = pos - i;
    return sorted[i] + (sorted[i + 1] - sorted[i]) * f;
}

/* Means of m item-major series (vals: nv x m) over `resamples` resamples. */
static ev_status resample_means(const double *vals, int m, int64_t nv, int resamples,
                                uint64_t seed, int threads, double *means)
{
    int nt = mx_threads(threads);
    int failed = 0;
#pragma omp parallel num_threads(nt)
    {
        double *acc = malloc((size_t)m * sizeof(double));
        if (!acc) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 4)
        for (int b = 0; b < resamples; b++) {
            if (!acc) continue;
            mx_rng r;
            mx_rng_seed(&r, seed, 0x626f6f74ull + (uint64_t)b);
            for (int j = 0; j < m; j++) acc[j] = 0;
            for (int64_t t = 0; t < nv; t++) {
                const double *v = vals + (size_t)mx_rng_below(&r, (uint64_t)nv) * m;
                for (int j = 0; j < m; j++) acc[j] += v[j];
            }
            for (int j = 0; j < m; j++) means[(size_t)b * m + j] = acc[j] / (double)nv;
        }
        free(acc);
    }
    return failed ? EV_ERR_NOMEM : EV_OK;
}

ev_status mx_bootstrap_multi(const double *const *series, int m, int64_t n, int resamples,
                             uint64_t seed, int threads, double *lo, double *hi, ev_err *e)
{
    for (int j = 0; j < m; j++) lo[j] = hi[j] = NAN;
    if (resamples < 1 || m < 1 || n < 1) return EV_OK;
    int64_t nv = 0;
    for (int64_t i = 0; i < n; i++) nv += !isnan(series[0][i]);
    if (nv == 0) return EV_OK;
    double *vals = malloc((size_t)nv * m * sizeof(double));
    double *means = malloc((size_t)resamples * m * sizeof(double));
    double *col = malloc((size_t)resamples * sizeof(double));
    if (!vals || !means || !col) {
        free(vals);
        free(means);
        free(col);
        return ev_err_set(e, EV_ERR_NOMEM, "bootstrap: out of memory for %lld items",
                          (long long)nv);
    }
    for (int64_t i = 0, t = 0; i < n; i++) {
        if (isnan(series[0][i])) continue;
        for (int j = 0; j < m; j++) vals[(size_t)t * m + j] = series[j][i];
        t++;
    }
    ev_status st = resample_means(vals, m, nv, resamples, seed, threads, means);
    if (st == EV_OK) {
        for (int j = 0; j < m; j++) {
            for (int b = 0; b < resamples; b++) col[b] = means[(size_t)b * m + j];
            qsort(col, (size_t)resamples, sizeof *col, dcmp);
            lo[j] = percentile(col, resamples, 2.5);
            hi[j] = percentile(col, resamples, 97.5);
        }
    } else {
        ev_err_set(e, st, "bootstrap: out of memory");
    }
    free(vals);
    free(means);
    free(col);
    return st;
}

ev_status ev_bootstrap_ci(const double *x, int64_t n, int resamples, uint64_t seed, double *lo,
                          double *hi)
{
    if (!x || n < 1 || resamples < 1 || !lo || !hi) return EV_ERR_INVALID_ARG;
    const double *s[1] = {x};
    return mx_bootstrap_multi(s, 1, n, resamples, seed, 0, lo, hi, NULL);
}

ev_status ev_paired_bootstrap(const double *a, const double *b, int64_t n, int resamples,
                              uint64_t seed, ev_paired_result *out)
{
    if (!a || !b || !out || n < 1 || resamples < 1) return EV_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    double *dif = malloc((size_t)n * sizeof *dif);
    double *means = malloc((size_t)resamples * sizeof *means);
    if (!dif || !means) {
        free(dif);
        free(means);
        return EV_ERR_NOMEM;
    }
    int64_t nv = 0;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) continue;
        dif[nv] = a[i] - b[i];
        sum += dif[nv];
        nv++;
    }
    out->n = nv;
    if (nv == 0) {
        free(dif);
        free(means);
        out->diff = out->ci_low = out->ci_high = out->p_value = NAN;
        return EV_ERR_UNDEFINED;
    }
    out->diff = sum / (double)nv;
    ev_status st = resample_means(dif, 1, nv, resamples, seed, 0, means);
    if (st == EV_OK) {
        int64_t le = 0;
        for (int r = 0; r < resamples; r++) le += means[r] <= 0;
        qsort(means, (size_t)resamples, sizeof *means, dcmp);
        out->ci_low = percentile(means, resamples, 2.5);
        out->ci_high = percentile(means, resamples, 97.5);
        out->p_value = (double)(1 + le) / (double)(1 + resamples);
    }
    free(dif);
    free(means);
    return st;
}
