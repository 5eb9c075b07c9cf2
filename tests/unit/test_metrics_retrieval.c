/*
 * tests/unit/test_metrics_retrieval.c — the streaming retrieval/kNN engine
 * against a plain O(N^2 log N) reference (full sort per query), on
 * small-integer embeddings: their dot products are exact in float32 whatever
 * the summation order, so both sides see bit-identical similarities and
 * every tie is a real tie. Also: thread-count invariance, query-vs-gallery
 * protocol, zero vectors, radix/insertion sort paths, the all-tied bucket
 * table, and the sklearn AP tie convention on a hand-computed case.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "embeval/metrics.h"
#include "test_util.h"

static uint64_t rs = 88172645463325252ull;
static uint64_t xr(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

typedef struct ref_out {
    double *ap, *mapr, *rprec, *rec[3], *prec[3];
    uint8_t *k1, *kw, *k5;
    int64_t excluded;
} ref_out;

typedef struct pair {
    float s;
    int32_t j;
} pair;

static int pair_cmp(const void *a, const void *b)
{
    const pair *p = a, *q = b;
    if (p->s != q->s) return p->s > q->s ? -1 : 1;
    return p->j < q->j ? -1 : p->j > q->j;
}

static float inv_norm(const float *x, int d)
{
    double a = 0;
    for (int j = 0; j < d; j++) a += (double)x[j] * x[j];
    return a > 0 ? (float)(1.0 / sqrt(a)) : 0.0f;
}

static float sim(const float *a, const float *b, int d, float ia, float ib)
{
    double dot = 0;
    for (int j = 0; j < d; j++) dot += (double)a[j] * b[j];
    return ((float)dot * ia) * ib;
}

/* Plain reference. g == NULL: leave-one-out on q. */
static void reference(const float *q, const int32_t *qy, int nq, const float *g, const int32_t *gy,
                      int ng, int d, const int *ks, int nk, int knn_k, double T, ref_out *o)
{
    int loo = g == NULL;
    if (loo) {
        g = q;
        gy = qy;
        ng = nq;
    }
    pair *p = malloc((size_t)ng * sizeof *p);
    o->excluded = 0;
    for (int i = 0; i < nq; i++) {
        int n = 0, R = 0;
        float iq = inv_norm(q + (size_t)i * d, d);
        for (int j = 0; j < ng; j++) {
            if (loo && j == i) continue;
            p[n].s = sim(q + (size_t)i * d, g + (size_t)j * d, d, iq, inv_norm(g + (size_t)j * d, d));
            p[n].j = j;
            R += gy[j] == qy[i];
            n++;
        }
        qsort(p, (size_t)n, sizeof *p, pair_cmp);
        /* kNN */
        int kk = knn_k < n ? knn_k : n;
        o->k1[i] = kk > 0 && gy[p[0].j] == qy[i];
        double cs[64] = {0};
        for (int t = 0; t < kk; t++) cs[gy[p[t].j]] += exp((double)p[t].s / T);
        int rank = 0;
        for (int c = 0; c < 64; c++)
            if (cs[c] > cs[qy[i]] || (cs[c] == cs[qy[i]] && c < qy[i])) rank++;
        o->kw[i] = cs[qy[i]] > 0 && rank == 0;
        o->k5[i] = cs[qy[i]] > 0 && rank < 5;
        if (R == 0) {
            o->excluded++;
            o->ap[i] = o->mapr[i] = o->rprec[i] = NAN;
            for (int k = 0; k < nk; k++) o->rec[k][i] = o->prec[k][i] = NAN;
            continue;
        }
        /* AP, sklearn style: distinct thresholds */
        double ap = 0, tp = 0, fp = 0;
        for (int a = 0; a < n;) {
            int b = a;
            double gtp = 0;
            while (b < n && p[b].s == p[a].s) {
                gtp += gy[p[b].j] == qy[i];
                b++;
            }
            tp += gtp;
            fp += (b - a) - gtp;
            if (gtp > 0) ap += (gtp / R) * (tp / (tp + fp));
            a = b;
        }
        o->ap[i] = ap;
        double hits = 0, mapr = 0;
        for (int t = 0; t < R && t < n; t++)
            if (gy[p[t].j] == qy[i]) {
                hits++;
                mapr += hits / (t + 1);
            }
        o->mapr[i] = mapr / R;
        o->rprec[i] = hits / R;
        for (int k = 0; k < nk; k++) {
            double h = 0;
            for (int t = 0; t < ks[k] && t < n; t++) h += gy[p[t].j] == qy[i];
            o->rec[k][i] = h > 0;
            o->prec[k][i] = h / ks[k];
        }
    }
    free(p);
}

static void alloc_ref(ref_out *o, int n)
{
    o->ap = malloc(n * sizeof(double));
    o->mapr = malloc(n * sizeof(double));
    o->rprec = malloc(n * sizeof(double));
    for (int k = 0; k < 3; k++) {
        o->rec[k] = malloc(n * sizeof(double));
        o->prec[k] = malloc(n * sizeof(double));
    }
    o->k1 = malloc(n);
    o->kw = malloc(n);
    o->k5 = malloc(n);
}

static void free_ref(ref_out *o)
{
    free(o->ap);
    free(o->mapr);
    free(o->rprec);
    for (int k = 0; k < 3; k++) {
        free(o->rec[k]);
        free(o->prec[k]);
    }
    free(o->k1);
    free(o->kw);
    free(o->k5);
}

static int same(double a, double b) { return (isnan(a) && isnan(b)) || fabs(a - b) <= 1e-12; }

/* Generate n rows: class prototypes of small integers plus noise, some
 * exact duplicates and (optionally) zero rows. */
static void gen(float *x, int32_t *y, int n, int d, int nc, int range, int zeros)
{
    float proto[64][64];
    for (int c = 0; c < nc; c++)
        for (int j = 0; j < d; j++) proto[c][j] = (float)((int)(xr() % (2 * range + 1)) - range);
    for (int i = 0; i < n; i++) {
        y[i] = (int32_t)(xr() % nc);
        if (i > 0 && xr() % 8 == 0) { /* exact duplicate of an earlier row */
            int src = (int)(xr() % i);
            memcpy(x + (size_t)i * d, x + (size_t)src * d, d * sizeof(float));
            continue;
        }
        for (int j = 0; j < d; j++) {
            float v = proto[y[i]][j];
            if (xr() % 3 == 0) v = (float)((int)(xr() % (2 * range + 1)) - range);
            x[(size_t)i * d + j] = v;
        }
    }
    for (int z = 0; z < zeros; z++) memset(x + (size_t)(xr() % n) * d, 0, d * sizeof(float));
}

static void compare(const ev_metrics_result *r, const ref_out *o, int n, const char *what)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        if (r->item_ap) bad += !same(r->item_ap[i], o->ap[i]); /* NULL in top-K mode */
        bad += !same(r->item_map_at_r[i], o->mapr[i]);
        bad += !same(r->item_r_precision[i], o->rprec[i]);
        for (int k = 0; k < 3; k++) {
            bad += !same(r->item_recall_at[k][i], o->rec[k][i]);
            bad += !same(r->item_precision_at[k][i], o->prec[k][i]);
        }
        bad += r->item_knn1_correct[i] != o->k1[i];
        bad += r->item_knn_correct[i] != o->kw[i];
        bad += r->item_knn_top5_correct[i] != o->k5[i];
        if (bad && bad < 4)
            fprintf(stderr, "%s: item %d: ap %.9f vs %.9f, mapr %.9f vs %.9f, knn %d/%d\n", what,
                    i, r->item_ap ? r->item_ap[i] : NAN, o->ap[i], r->item_map_at_r[i], o->mapr[i],
                    r->item_knn_correct[i], o->kw[i]);
    }
    if (bad) fprintf(stderr, "%s: %d mismatches\n", what, bad);
    CHECK(bad == 0);
    CHECK(r->n_excluded == o->excluded);
}

static void run_case(int n, int ng, int d, int nc, int range, int zeros, const char *what)
{
    float *x = malloc((size_t)n * d * sizeof(float));
    int32_t *y = malloc(n * sizeof(int32_t));
    float *g = ng ? malloc((size_t)ng * d * sizeof(float)) : NULL;
    int32_t *gy = ng ? malloc(ng * sizeof(int32_t)) : NULL;
    gen(x, y, n, d, nc, range, zeros);
    if (ng) {
        gen(g, gy, ng, d, nc, range, zeros);
        for (int i = 0; i < ng; i++) /* the last class has no gallery item */
            if (gy[i] == nc - 1) gy[i] = 0;
    }
    ev_metrics_input in;
    memset(&in, 0, sizeof in);
    in.eval = (ev_labeled_embeddings){x, n, d, y, NULL};
    if (ng) in.gallery = (ev_labeled_embeddings){g, ng, d, gy, NULL};
    in.n_classes = nc;
    ev_metrics_options o = ev_metrics_default_options();
    o.what = EV_METRIC_RETRIEVAL | EV_METRIC_KNN;
    o.bootstrap = 0;
    o.threads = 2;
    ev_metrics_result *r2 = NULL, *r1 = NULL;
    char err[512];
    ev_status st = ev_metrics_evaluate(&in, &o, &r2, err, sizeof err);
    if (st != EV_OK) fprintf(stderr, "%s: %s\n", what, err);
    CHECK(st == EV_OK);
    o.threads = 1;
    CHECK(ev_metrics_evaluate(&in, &o, &r1, err, sizeof err) == EV_OK);
    if (r1 && r2) {
        ref_out ro;
        alloc_ref(&ro, n);
        /* kNN here is leave-one-out on eval when there is no train set,
         * even in the query-vs-gallery protocol */
        if (ng) {
            ref_out tmp;
            alloc_ref(&tmp, n);
            reference(x, y, n, g, gy, ng, d, o.ks, 3, o.knn_k, o.knn_temperature, &ro);
            reference(x, y, n, NULL, NULL, 0, d, o.ks, 3, o.knn_k, o.knn_temperature, &tmp);
            memcpy(ro.k1, tmp.k1, n);
            memcpy(ro.kw, tmp.kw, n);
            memcpy(ro.k5, tmp.k5, n);
            free_ref(&tmp);
        } else {
            reference(x, y, n, NULL, NULL, 0, d, o.ks, 3, o.knn_k, o.knn_temperature, &ro);
        }
        compare(r2, &ro, n, what);
        /* bitwise identical across thread counts */
        CHECK(memcmp(r1->item_ap, r2->item_ap, n * sizeof(double)) == 0);
        CHECK(memcmp(r1->item_map_at_r, r2->item_map_at_r, n * sizeof(double)) == 0);
        CHECK(memcmp(r1->item_knn_correct, r2->item_knn_correct, n) == 0);
        CHECK(r1->map.value == r2->map.value);
        /* top-K mode (lib/metrics/topk.c): the same values without mAP,
         * exact against the same reference, for any thread count */
        ev_metrics_result *t1 = NULL, *t2 = NULL;
        o.what = EV_METRIC_RETRIEVAL_TOPK | EV_METRIC_KNN;
        o.threads = 2;
        st = ev_metrics_evaluate(&in, &o, &t2, err, sizeof err);
        if (st != EV_OK) fprintf(stderr, "%s (topk): %s\n", what, err);
        CHECK(st == EV_OK);
        o.threads = 1;
        CHECK(ev_metrics_evaluate(&in, &o, &t1, err, sizeof err) == EV_OK);
        if (t1 && t2) {
            char tag[96];
            snprintf(tag, sizeof tag, "%s (topk)", what);
            compare(t2, &ro, n, tag);
            CHECK(t2->item_ap == NULL && !t2->map.defined);
            CHECK(memcmp(t1->item_map_at_r, t2->item_map_at_r, n * sizeof(double)) == 0);
            CHECK(memcmp(t1->item_knn_correct, t2->item_knn_correct, n) == 0);
            CHECK(t2->map_at_r.value == r2->map_at_r.value);
            CHECK(t2->n_queries == r2->n_queries);
        }
        ev_metrics_result_free(t1);
        ev_metrics_result_free(t2);
        free_ref(&ro);
    }
    ev_metrics_result_free(r1);
    ev_metrics_result_free(r2);
    free(x);
    free(y);
    free(g);
    free(gy);
}

/* sklearn: average_precision_score([1,0,1,0], [0.9,0.9,0.5,0.1]) = 0.5*0.5 + 0.5*(2/3)
 * Build four gallery items with exactly these cosines to one query. */
static void hand_case(void)
{
    /* query e0; gallery rows with cosines 1,1,0,-1 -> ties at the top */
    float x[5 * 2] = {1, 0, /* query, class 0 */
                      2, 0, /* rel, cos 1 */
                      3, 0, /* irrel, cos 1 */
                      0, 1, /* rel, cos 0 */
                      -1, 0}; /* irrel, cos -1 */
    int32_t y[5] = {0, 0, 1, 0, 1};
    ev_metrics_input in;
    memset(&in, 0, sizeof in);
    in.eval = (ev_labeled_embeddings){x, 1, 2, y, NULL};
    in.gallery = (ev_labeled_embeddings){x + 2, 4, 2, y + 1, NULL};
    in.n_classes = 2;
    ev_metrics_options o = ev_metrics_default_options();
    o.what = EV_METRIC_RETRIEVAL;
    o.bootstrap = 0;
    o.n_ks = 2;
    o.ks[0] = 1;
    o.ks[1] = 2;
    ev_metrics_result *r = NULL;
    char err[256];
    /* eval has one class only -> must be rejected; add a second query */
    CHECK(ev_metrics_evaluate(&in, &o, &r, err, sizeof err) == EV_ERR_DATA);
    float x2[4] = {1, 0, -1, 0};
    int32_t y2[2] = {0, 1};
    in.eval = (ev_labeled_embeddings){x2, 2, 2, y2, NULL};
    CHECK(ev_metrics_evaluate(&in, &o, &r, err, sizeof err) == EV_OK);
    if (r) {
        /* query 0: ranking (score desc, index asc): g0 rel(1), g1 irr(1), g2 rel(0), g3 irr(-1)
         * AP: threshold 1 -> P = 1/2, recall +1/2; threshold 0 -> P = 2/3, recall +1/2 */
        CHECK_NEAR(r->item_ap[0], 0.5 * 0.5 + 0.5 * (2.0 / 3.0), 1e-15);
        CHECK_NEAR(r->item_recall_at[0][0], 1.0, 0);    /* g0 first by index */
        CHECK_NEAR(r->item_precision_at[1][0], 0.5, 0); /* g0, g1 */
        CHECK_NEAR(r->item_r_precision[0], 0.5, 0);     /* R = 2: g0, g1 */
        CHECK_NEAR(r->item_map_at_r[0], 0.5, 1e-15);    /* (1/1) / 2 */
        /* query 1 = (-1,0), class 1: sims g0 -1, g1 -1, g2 0 (rel? no: class 0), g3 +1 */
        /* relevant: g1 (-1), g3 (+1): ranking g3(1) g2(0) g0(-1) g1(-1) */
        CHECK_NEAR(r->item_ap[1], 0.5 * 1.0 + 0.5 * (2.0 / 4.0), 1e-15);
        CHECK(r->n_excluded == 0);
    }
    ev_metrics_result_free(r);
}

int main(void)
{
    hand_case();
    /* many ties: +-1 entries in 8 dims */
    run_case(300, 0, 8, 5, 1, 0, "loo-ties");
    /* wider values, duplicates, zero rows, small classes (insertion sort) */
    run_case(400, 0, 16, 40, 3, 5, "loo-many-classes");
    /* big classes (radix path, R > 48) */
    run_case(700, 0, 12, 3, 2, 2, "loo-big-classes");
    /* every vector identical within a class: all thresholds tie (B = 1) */
    run_case(200, 0, 1, 4, 1, 0, "loo-1d");
    /* query-vs-gallery, some query classes absent from the gallery */
    run_case(250, 333, 10, 12, 2, 3, "query-gallery");
    /* more queries than one block */
    run_case(1500, 0, 6, 30, 2, 0, "loo-blocks");
    /* gallery larger than one GEMM block (8192 rows) and relevant lists
     * longer than one gather chunk (1024 rows) */
    run_case(300, 9000, 8, 6, 2, 4, "query-gallery-big");
    return test_report("test_metrics_retrieval");
}
