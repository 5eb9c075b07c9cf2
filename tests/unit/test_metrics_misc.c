/*
 * tests/unit/test_metrics_misc.c — silhouette (fast class-sum and blocked
 * paths vs an O(N^2) double reference; sampling = exact on the sample),
 * sample indices, k-means (separable clusters, thread invariance), NMI/ARI
 * against values sklearn prints, bootstrap and paired bootstrap, the radix
 * sort, and bitwise thread invariance of a full ev_metrics_evaluate.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "embeval/metrics.h"
#include "metrics/mx.h"
#include "test_util.h"

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static double urand(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) * 0x1.0p-53;
}
static double nrand(void)
{
    double u = urand() + 1e-300, v = urand();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static void planted(float *x, int32_t *y, int n, int d, int k, double spread)
{
    double *p = malloc((size_t)k * d * sizeof *p);
    for (int i = 0; i < k * d; i++) p[i] = nrand();
    for (int i = 0; i < n; i++) {
        y[i] = i < k ? i : (int32_t)(urand() * k);
        for (int j = 0; j < d; j++) x[(size_t)i * d + j] = (float)(spread * p[y[i] * d + j] + nrand());
    }
    free(p);
}

/* O(N^2) silhouette in double precision. */
static double sil_ref(const float *x, const int32_t *y, int n, int d, int k, int cosine)
{
    double *nx = malloc((size_t)n * d * sizeof *nx);
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)x[i * d + j] * x[i * d + j];
        s = cosine && s > 0 ? 1 / sqrt(s) : 1;
        for (int j = 0; j < d; j++) nx[i * d + j] = x[i * d + j] * s;
    }
    int *cnt = calloc(k, sizeof *cnt);
    for (int i = 0; i < n; i++) cnt[y[i]]++;
    double *sum = malloc(k * sizeof *sum), tot = 0;
    for (int i = 0; i < n; i++) {
        memset(sum, 0, k * sizeof *sum);
        for (int j = 0; j < n; j++) {
            if (j == i) continue;
            double dist = 0;
            if (cosine) {
                double dot = 0;
                for (int t = 0; t < d; t++) dot += nx[i * d + t] * nx[j * d + t];
                dist = 1 - dot;
            } else {
                for (int t = 0; t < d; t++) {
                    double u = nx[i * d + t] - nx[j * d + t];
                    dist += u * u;
                }
                dist = sqrt(dist);
            }
            sum[y[j]] += dist;
        }
        if (cnt[y[i]] < 2) continue;
        double a = sum[y[i]] / (cnt[y[i]] - 1), b = INFINITY;
        for (int c = 0; c < k; c++)
            if (c != y[i] && cnt[c] && sum[c] / cnt[c] < b) b = sum[c] / cnt[c];
        double m = a > b ? a : b;
        tot += m > 0 ? (b - a) / m : 0;
    }
    free(nx);
    free(cnt);
    free(sum);
    return tot / n;
}

static void test_silhouette(void)
{
    int n = 300, d = 24, k = 7;
    float *x = malloc((size_t)n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    planted(x, y, n, d, k, 0.8);
    y[n - 1] = k; /* a singleton class */
    char err[256];
    double v;
    CHECK(ev_silhouette(x, n, d, y, k + 1, EV_DISTANCE_COSINE, 0, 0, 2, &v, err, sizeof err) == EV_OK);
    CHECK_NEAR(v, sil_ref(x, y, n, d, k + 1, 1), 1e-6);
    CHECK(ev_silhouette(x, n, d, y, k + 1, EV_DISTANCE_EUCLIDEAN, 0, 0, 2, &v, err, sizeof err) == EV_OK);
    CHECK_NEAR(v, sil_ref(x, y, n, d, k + 1, 0), 1e-6);
    /* sampled = exact on exactly the sampled rows */
    int64_t idx[100];
    CHECK(ev_sample_indices(n, 100, 42, idx) == EV_OK);
    float *sx = malloc((size_t)100 * d * sizeof *sx);
    int32_t sy[100];
    for (int i = 0; i < 100; i++) {
        memcpy(sx + i * d, x + idx[i] * d, d * sizeof *sx);
        sy[i] = y[idx[i]];
    }
    for (int m = 0; m < 2; m++) {
        double a, b;
        CHECK(ev_silhouette(x, n, d, y, k + 1, m, 100, 42, 2, &a, err, sizeof err) == EV_OK);
        CHECK(ev_silhouette(sx, 100, d, sy, k + 1, m, 0, 0, 1, &b, err, sizeof err) == EV_OK);
        CHECK(a == b);
    }
    /* undefined: one class, every item alone */
    int32_t *one = calloc(n, sizeof *one);
    CHECK(ev_silhouette(x, n, d, one, 1, EV_DISTANCE_COSINE, 0, 0, 1, &v, err, sizeof err) ==
          EV_ERR_UNDEFINED);
    int32_t *ids = malloc(n * sizeof *ids);
    for (int i = 0; i < n; i++) ids[i] = i;
    CHECK(ev_silhouette(x, n, d, ids, n, EV_DISTANCE_COSINE, 0, 0, 1, &v, err, sizeof err) ==
          EV_ERR_UNDEFINED);
    free(one);
    free(ids);
    free(sx);
    free(x);
    free(y);
}

static void test_sample(void)
{
    int64_t a[500], b[500];
    CHECK(ev_sample_indices(100000, 500, 7, a) == EV_OK);
    CHECK(ev_sample_indices(100000, 500, 7, b) == EV_OK);
    CHECK(memcmp(a, b, sizeof a) == 0);
    int ok = 1;
    for (int i = 0; i < 500; i++) ok &= a[i] >= 0 && a[i] < 100000 && (i == 0 || a[i] > a[i - 1]);
    CHECK(ok);
    CHECK(ev_sample_indices(100000, 500, 8, b) == EV_OK);
    CHECK(memcmp(a, b, sizeof a) != 0);
    CHECK(ev_sample_indices(500, 500, 1, b) == EV_OK);
    ok = 1;
    for (int i = 0; i < 500; i++) ok &= b[i] == i;
    CHECK(ok);
    CHECK(ev_sample_indices(10, 11, 1, b) == EV_ERR_INVALID_ARG);
}

static void test_kmeans(void)
{
    int n = 400, d = 16, k = 5;
    float *x = malloc((size_t)n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y), *a1 = malloc(n * sizeof *a1), *a2 = malloc(n * sizeof *a2);
    planted(x, y, n, d, k, 8.0); /* well separated */
    double in1, in2, nmi, ari;
    char err[256];
    CHECK(ev_kmeans(x, n, d, k, 3, 100, 1, 1, a1, &in1, err, sizeof err) == EV_OK);
    CHECK(ev_kmeans(x, n, d, k, 3, 100, 1, 2, a2, &in2, err, sizeof err) == EV_OK);
    CHECK(memcmp(a1, a2, n * sizeof *a1) == 0);
    CHECK(in1 == in2);
    CHECK(ev_nmi_ari(y, a1, n, &nmi, &ari) == EV_OK);
    CHECK_NEAR(nmi, 1.0, 1e-12);
    CHECK_NEAR(ari, 1.0, 1e-12);
    CHECK(ev_kmeans(x, n, d, n + 1, 1, 10, 1, 1, a1, &in1, err, sizeof err) == EV_ERR_INVALID_ARG);
    free(x);
    free(y);
    free(a1);
    free(a2);
}

static void test_nmi_ari(void)
{
    double nmi, ari;
    int32_t a[] = {0, 0, 1, 1}, b[] = {0, 0, 1, 2};
    CHECK(ev_nmi_ari(a, b, 4, &nmi, &ari) == EV_OK);
    CHECK_NEAR(ari, 0.5714285714285714, 1e-15);
    CHECK_NEAR(nmi, 0.7999999999999999, 1e-15);
    int32_t c[] = {0, 0, 0, 1, 1, 1, 2, 2}, e[] = {1, 1, 0, 0, 2, 2, 2, 0};
    CHECK(ev_nmi_ari(c, e, 8, &nmi, &ari) == EV_OK);
    CHECK_NEAR(ari, 0.047619047619047616, 1e-15);
    CHECK_NEAR(nmi, 0.3987478202411473, 1e-14);
    int32_t z[] = {0, 0, 0, 0}, u[] = {0, 1, 2, 3};
    CHECK(ev_nmi_ari(z, u, 4, &nmi, &ari) == EV_OK);
    CHECK_NEAR(nmi, 0.0, 0);
    CHECK_NEAR(ari, 0.0, 0);
    CHECK(ev_nmi_ari(z, z, 4, &nmi, &ari) == EV_OK);
    CHECK_NEAR(nmi, 1.0, 0);
    CHECK_NEAR(ari, 1.0, 0);
    int32_t p[] = {2, 2, 0, 0}; /* permuted ids */
    CHECK(ev_nmi_ari(a, p, 4, &nmi, &ari) == EV_OK);
    CHECK_NEAR(nmi, 1.0, 1e-15);
    CHECK_NEAR(ari, 1.0, 1e-15);
}

static void test_bootstrap(void)
{
    double x[10], lo, hi, lo2, hi2;
    for (int i = 0; i < 10; i++) x[i] = 3.0;
    CHECK(ev_bootstrap_ci(x, 10, 200, 1, &lo, &hi) == EV_OK);
    CHECK(lo == 3.0 && hi == 3.0);
    double *v = malloc(2000 * sizeof *v), *w = malloc(2000 * sizeof *w);
    for (int i = 0; i < 2000; i++) {
        v[i] = i % 3 == 0 ? NAN : (urand() < 0.7);
        w[i] = isnan(v[i]) ? NAN : v[i] - 0.05;
    }
    int64_t cnt;
    double mean = mx_mean_skip_nan(v, 2000, &cnt);
    CHECK(ev_bootstrap_ci(v, 2000, 1000, 5, &lo, &hi) == EV_OK);
    CHECK(lo < mean && mean < hi);
    /* binomial standard error ~ sqrt(.21/1333) = 0.0126: 95% half-width ~0.025 */
    CHECK(hi - lo > 0.035 && hi - lo < 0.065);
    CHECK(ev_bootstrap_ci(v, 2000, 1000, 5, &lo2, &hi2) == EV_OK);
    CHECK(lo == lo2 && hi == hi2);
    ev_paired_result pr;
    CHECK(ev_paired_bootstrap(v, w, 2000, 1000, 3, &pr) == EV_OK);
    CHECK(pr.n == cnt);
    CHECK_NEAR(pr.diff, 0.05, 1e-12);
    CHECK_NEAR(pr.ci_low, 0.05, 1e-12);
    CHECK_NEAR(pr.p_value, 1.0 / 1001, 1e-15); /* A beats B in every resample */
    CHECK(ev_paired_bootstrap(w, v, 2000, 1000, 3, &pr) == EV_OK);
    CHECK_NEAR(pr.p_value, 1.0, 1e-15);
    /* noisy, no real difference: p far from 0 */
    for (int i = 0; i < 2000; i++) w[i] = isnan(v[i]) ? NAN : (urand() < 0.7);
    CHECK(ev_paired_bootstrap(v, w, 2000, 1000, 3, &pr) == EV_OK);
    CHECK(pr.ci_low < pr.diff && pr.diff < pr.ci_high);
    CHECK((pr.diff > 0) == (pr.p_value < 0.5));
    free(v);
    free(w);
}

static void test_sort(void)
{
    for (int n = 1; n <= 3000; n = n * 3 + 1) {
        float *s = malloc(n * sizeof *s), *ts = malloc(n * sizeof *ts);
        int32_t *id = malloc(n * sizeof *id), *ti = malloc(n * sizeof *ti);
        for (int i = 0; i < n; i++) {
            int r = (int)(urand() * 9);
            s[i] = r == 0 ? -0.0f : r == 1 ? 0.0f : r == 2 ? -INFINITY : (float)(nrand() * 0.01);
            if (r == 3) s[i] = 1.0f; /* many ties */
            id[i] = i;
        }
        mx_sort_desc(s, id, n, ts, ti);
        int ok = 1;
        for (int i = 1; i < n; i++) {
            ok &= s[i - 1] >= s[i];
            if (s[i - 1] == s[i]) ok &= id[i - 1] < id[i]; /* stable; -0 == +0 */
        }
        CHECK(ok);
        free(s);
        free(ts);
        free(id);
        free(ti);
    }
}

static void test_evaluate_threads(void)
{
    int n = 600, nt = 900, d = 20, k = 6;
    float *x = malloc((size_t)n * d * sizeof *x), *t = malloc((size_t)nt * d * sizeof *t);
    int32_t *y = malloc(n * sizeof *y), *ty = malloc(nt * sizeof *ty);
    planted(x, y, n, d, k, 0.7);
    planted(t, ty, nt, d, k, 0.7);
    ev_metrics_input in;
    memset(&in, 0, sizeof in);
    in.eval = (ev_labeled_embeddings){x, n, d, y, "eval"};
    in.train = (ev_labeled_embeddings){t, nt, d, ty, "train"};
    in.n_classes = k;
    ev_metrics_options o = ev_metrics_default_options();
    o.bootstrap = 300;
    o.silhouette_metric = EV_DISTANCE_EUCLIDEAN;
    ev_metrics_result *r[2] = {0};
    char err[256];
    for (int i = 0; i < 2; i++) {
        o.threads = i + 1;
        CHECK(ev_metrics_evaluate(&in, &o, &r[i], err, sizeof err) == EV_OK);
    }
    if (r[0] && r[1]) {
        const ev_metric *m0[] = {&r[0]->map, &r[0]->map_at_r, &r[0]->recall_at[1], &r[0]->silhouette,
                                 &r[0]->nmi, &r[0]->ari, &r[0]->knn_accuracy,
                                 &r[0]->linear_probe_accuracy};
        const ev_metric *m1[] = {&r[1]->map, &r[1]->map_at_r, &r[1]->recall_at[1], &r[1]->silhouette,
                                 &r[1]->nmi, &r[1]->ari, &r[1]->knn_accuracy,
                                 &r[1]->linear_probe_accuracy};
        for (int j = 0; j < 8; j++) {
            CHECK(m0[j]->defined && m1[j]->defined);
            CHECK(m0[j]->value == m1[j]->value);
            CHECK(m0[j]->ci_low == m1[j]->ci_low || (isnan(m0[j]->ci_low) && isnan(m1[j]->ci_low)));
        }
        CHECK(r[0]->map.has_ci && r[0]->map.ci_low <= r[0]->map.value &&
              r[0]->map.value <= r[0]->map.ci_high);
        CHECK(r[0]->linear_probe_accuracy.has_ci);
        CHECK(!r[0]->knn_leave_one_out);
        CHECK(r[0]->per_class[2].n_items > 0 && r[0]->per_class[2].map.defined);
        CHECK(r[0]->linear_probe_c > 0);
    }
    ev_metrics_result_free(r[0]);
    ev_metrics_result_free(r[1]);
    /* invalid options are rejected */
    o.n_ks = 1;
    o.ks[0] = 0;
    CHECK(ev_metrics_evaluate(&in, &o, &r[0], err, sizeof err) == EV_ERR_INVALID_ARG);
    CHECK(r[0] == NULL);
    free(x);
    free(t);
    free(y);
    free(ty);
}

int main(void)
{
    test_sort();
    test_sample();
    test_nmi_ari();
    test_bootstrap();
    test_silhouette();
    test_kmeans();
    test_evaluate_threads();
    return test_report("test_metrics_misc");
}
