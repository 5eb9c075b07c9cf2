/*
 * tests/unit/test_metrics_topk.c — the top-L scan (lib/metrics/topk.c) with
 * bf16 screening against the same scan with float32 screening, on float
 * Gaussian data where the bf16 error bound matters (heavily overlapping
 * classes: thousands of items within the bound of each query's L-th score).
 * Both re-score their candidates exactly with the same float32 dot product,
 * so any candidate lost by the bf16 screening shows up as a difference.
 * Also: a mass of identical rows (the rescue path), the query-vs-gallery
 * protocol, and the full-ranking scan on the same data (equal up to
 * float32 rounding differences between sgemm and the dot product).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/mx.h"
#include "test_util.h"

static uint64_t rs = 0x2545f4914f6cdd1dull;
static double gauss(void)
{
    /* Box-Muller on xorshift */
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    double u = ((rs >> 11) + 0.5) * 0x1.0p-53;
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    double v = ((rs >> 11) + 0.5) * 0x1.0p-53;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static void gen(float *x, int32_t *y, int64_t n, int d, int nc, double spread, int64_t copies)
{
    double *proto = malloc((size_t)nc * d * sizeof *proto);
    for (int64_t k = 0; k < (int64_t)nc * d; k++) proto[k] = gauss();
    for (int64_t i = 0; i < n; i++) {
        y[i] = (int32_t)(i % nc);
        for (int j = 0; j < d; j++)
            x[i * d + j] = (float)(spread * proto[(size_t)y[i] * d + j] + gauss());
    }
    /* `copies` rows identical to row 0 (keeping their own labels): masses
     * of exact ties, more than a query's candidate buffer holds */
    for (int64_t c = 1; c <= copies && c < n; c++) {
        int64_t i = c * 7 % n; /* distinct rows: 7 is coprime with the sizes used */
        memcpy(x + i * d, x, (size_t)d * sizeof(float));
    }
    free(proto);
}

typedef struct outs {
    double *mapr, *rp, *rec[3], *prec[3];
    uint8_t *k1, *kt1, *kt5;
    mx_scan_out o;
} outs;

static void outs_init(outs *u, int64_t n, int with_ap)
{
    static const int ks[3] = {1, 5, 10};
    memset(u, 0, sizeof *u);
    u->mapr = malloc((size_t)n * sizeof(double));
    u->rp = malloc((size_t)n * sizeof(double));
    for (int k = 0; k < 3; k++) {
        u->rec[k] = malloc((size_t)n * sizeof(double));
        u->prec[k] = malloc((size_t)n * sizeof(double));
        u->o.recall_at[k] = u->rec[k];
        u->o.precision_at[k] = u->prec[k];
    }
    u->k1 = malloc((size_t)n);
    u->kt1 = malloc((size_t)n);
    u->kt5 = malloc((size_t)n);
    u->o.map_at_r = u->mapr;
    u->o.r_precision = u->rp;
    u->o.n_ks = 3;
    u->o.ks = ks;
    u->o.knn_k = 20;
    u->o.knn_t = 0.07;
    u->o.knn1 = u->k1;
    u->o.knn_top1 = u->kt1;
    u->o.knn_top5 = u->kt5;
    if (with_ap) u->o.ap = malloc((size_t)n * sizeof(double));
}

static void outs_free(outs *u)
{
    free(u->mapr);
    free(u->rp);
    for (int k = 0; k < 3; k++) {
        free(u->rec[k]);
        free(u->prec[k]);
    }
    free(u->k1);
    free(u->kt1);
    free(u->kt5);
    free(u->o.ap);
}

static int64_t differ(const outs *a, const outs *b, int64_t n, double tol)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        int m = 0;
        double x[8] = {a->mapr[i], a->rp[i], a->rec[0][i], a->rec[1][i],
                       a->prec[1][i], a->rec[2][i], a->prec[2][i], a->prec[0][i]};
        double z[8] = {b->mapr[i], b->rp[i], b->rec[0][i], b->rec[1][i],
                       b->prec[1][i], b->rec[2][i], b->prec[2][i], b->prec[0][i]};
        for (int k = 0; k < 8; k++)
            m |= !((isnan(x[k]) && isnan(z[k])) || fabs(x[k] - z[k]) <= tol);
        m |= a->k1[i] != b->k1[i] || a->kt1[i] != b->kt1[i] || a->kt5[i] != b->kt5[i];
        bad += m;
    }
    return bad;
}

static void run(int64_t n, int64_t ng, int d, int nc, double spread, int64_t copies,
                const char *what)
{
    float *x = malloc((size_t)n * d * sizeof(float));
    int32_t *y = malloc((size_t)n * sizeof(int32_t));
    float *g = ng ? malloc((size_t)ng * d * sizeof(float)) : NULL;
    int32_t *gy = ng ? malloc((size_t)ng * sizeof(int32_t)) : NULL;
    gen(x, y, n, d, nc, spread, copies);
    if (ng) gen(g, gy, ng, d, nc, spread, copies);
    ev_labeled_embeddings ve = {x, n, d, y, "eval"}, vg = {g, ng, d, gy, "gallery"};
    mx_set qs, gs;
    ev_err e = {0};
    CHECK(mx_set_init(&qs, &ve, nc, "eval", 2, &e) == EV_OK);
    if (ng) CHECK(mx_set_init(&gs, &vg, nc, "gallery", 2, &e) == EV_OK);
    const mx_set *gp = ng ? &gs : &qs;
    bool loo = ng == 0;
    outs a, b, c, f, sp, sa;
    outs_init(&a, n, 0);
    outs_init(&b, n, 0);
    outs_init(&c, n, 0);
    outs_init(&f, n, 1);
    outs_init(&sp, n, 0);
    outs_init(&sa, n, 0);
    a.o.screen = MX_SCREEN_AUTO;
    b.o.screen = MX_SCREEN_FP32 | MX_SCREEN_PORTABLE | MX_SCREEN_NOGROW;
    b.o.spec_mode = -1;
    c.o.screen = MX_SCREEN_AUTO;
    sp.o.spec_mode = 1; /* first cuts from a 1024-row sample */
    sa.o.spec_mode = 2; /* first cuts deliberately too high: restarts */
    CHECK(mx_scan_topk(&qs, gp, loo, &a.o, 2, NULL, NULL, "t", &e) == EV_OK);
    CHECK(mx_scan_topk(&qs, gp, loo, &b.o, 2, NULL, NULL, "t", &e) == EV_OK);
    CHECK(mx_scan_topk(&qs, gp, loo, &c.o, 1, NULL, NULL, "t", &e) == EV_OK);
    CHECK(mx_scan_topk(&qs, gp, loo, &sp.o, 2, NULL, NULL, "t", &e) == EV_OK);
    CHECK(mx_scan_topk(&qs, gp, loo, &sa.o, 2, NULL, NULL, "t", &e) == EV_OK);
    int64_t dsp = differ(&sp, &b, n, 0), dsa = differ(&sa, &b, n, 0);
    printf("%s: sampled first cuts: %lld queries differ (%lld restarts); too-high cuts: %lld "
           "differ (%lld restarts)\n",
           what, (long long)dsp, (long long)sp.o.spec_restarts, (long long)dsa,
           (long long)sa.o.spec_restarts);
    CHECK(dsp == 0);
    CHECK(dsa == 0);
    CHECK(sa.o.spec_restarts > 0);
    CHECK(mx_scan(&qs, gp, loo, &f.o, 2, NULL, NULL, "t", &e) == EV_OK);
    CHECK(b.o.screened_bf16 == 0);
    int64_t ab = differ(&a, &b, n, 0), ac = differ(&a, &c, n, 0), af = differ(&a, &f, n, 1e-12);
    printf("%s: n %lld, gallery %lld, bf16 screening %s; bf16 vs fp32 screening: %lld "
           "queries differ, 2 vs 1 threads: %lld, top-L vs full scan: %lld\n",
           what, (long long)n, (long long)(ng ? ng : n), a.o.screened_bf16 ? "yes" : "no (fp32)",
           (long long)ab, (long long)ac, (long long)af);
    CHECK(ab == 0);
    CHECK(ac == 0);
    /* sgemm vs the fixed-order dot product: only float32 near-ties may
     * order differently (a handful of queries at most) */
    CHECK(af * 200 <= n);
    CHECK(a.o.n_excluded == f.o.n_excluded);
    outs_free(&a);
    outs_free(&b);
    outs_free(&c);
    outs_free(&f);
    outs_free(&sp);
    outs_free(&sa);
    mx_set_free(&qs);
    if (ng) mx_set_free(&gs);
    free(x);
    free(y);
    free(g);
    free(gy);
}

int main(void)
{
    /* heavy overlap, R ~ 200: compactions, thousands of items within the
     * bf16 bound of the boundary */
    run(12000, 0, 64, 60, 0.35, 0, "loo-overlap");
    /* 6000 copies of one row: exact ties beyond a query's buffer (the
     * reference run b never grows buffers: rescue path) */
    run(12000, 0, 32, 120, 0.5, 6000, "loo-copies");
    /* query-vs-gallery, gallery larger than the buffers */
    run(700, 9000, 48, 30, 0.4, 50, "query-gallery");
    return test_report("test_metrics_topk");
}
