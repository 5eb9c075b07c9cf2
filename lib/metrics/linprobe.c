/*
 * lib/metrics/linprobe.c — linear probe: L2-regularised logistic regression
 * (liblinear solver L2R_LR, primal trust-region Newton, bias feature = 1 as
 * sklearn's LogisticRegression(solver="liblinear") does) on L2-normalised
 * embeddings, one-vs-rest.
 *
 * Protocol (METRICS.md): C is chosen on a stratified validation split carved
 * from the train split (opt->probe_val_fraction of every class with at least
 * two items; ties between C values go to the smaller C), the model is refit
 * on the full train split with that C, and top-1 accuracy is measured on the
 * test split (argmax of the one-vs-rest decision values, ties to the lower
 * class id).
 *
 * liblinear's own multi-class mode trains the one-vs-rest problems one after
 * the other; here each (C, class) binary problem is a task of an OpenMP loop
 * (liblinear's primal LR solver keeps no global state besides the print
 * hook), which is the same model and parallel.
 */
#include <linear.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/mx.h"

static void quiet(const char *s) { (void)s; }

typedef struct probe {
    const mx_set *tr;
    int64_t d;
    struct feature_node *nodes;   /* train rows, d + 2 nodes each            */
    int32_t *cls;                 /* classes present in train               */
    int k;
} probe;

/* Train one-vs-rest models for every class on the rows `rows` with one C;
 * W receives k x (d + 1) weights (last = bias), oriented so that a positive
 * value means "this class". W_init (may be NULL) warm-starts each problem
 * (liblinear's init_sol). */
static ev_status train_ovr(const probe *P, const int32_t *rows, int64_t nrows, double C,
                           double eps, int nt, double *W, const double *W_init, ev_err *e)
{
    const int64_t d = P->d;
    const int k = P->k;
    int failed = 0;
    set_print_string_function(quiet);
#pragma omp parallel num_threads(nt)
    {
        double *y = malloc((size_t)nrows * sizeof(double));
        struct feature_node **xs = malloc((size_t)nrows * sizeof *xs);
        if (!y || !xs) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int u = 0; u < k; u++) {
            if (!y || !xs) continue;
            int32_t c = P->cls[u];
            int64_t first_pos = -1, npos = 0;
            for (int64_t i = 0; i < nrows; i++) {
                xs[i] = P->nodes + (size_t)rows[i] * (d + 2);
                y[i] = P->tr->y[rows[i]] == c ? 1.0 : -1.0;
                if (y[i] > 0) {
                    npos++;
                    if (first_pos < 0) first_pos = i;
                }
            }
            double *w = W + (size_t)u * (d + 1);
            if (npos == 0 || npos == nrows) {
                /* degenerate (cannot happen for classes present in rows) */
                for (int64_t j = 0; j <= d; j++) w[j] = 0;
                w[d] = npos ? 1.0 : -1.0;
                continue;
            }
            /* liblinear orders labels by first appearance and scores the
             * first one: put a positive row first so w scores class c. */
            struct feature_node *tx = xs[0];
            xs[0] = xs[first_pos];
            xs[first_pos] = tx;
            double ty = y[0];
            y[0] = y[first_pos];
            y[first_pos] = ty;
            struct problem prob;
            prob.l = (int)nrows;
            prob.n = (int)d + 1;
            prob.y = y;
            prob.x = xs;
            prob.bias = 1.0;
            struct parameter par;
            memset(&par, 0, sizeof par);
            par.solver_type = L2R_LR;
            par.eps = eps;
            par.C = C;
            par.p = 0.1;
            par.init_sol = W_init ? (double *)(W_init + (size_t)u * (d + 1)) : NULL;
            struct model *m = train(&prob, &par);
            if (!m || m->label[0] != 1) {
                if (m) free_and_destroy_model(&m);
#pragma omp atomic write
                failed = 1;
                continue;
            }
            for (int64_t j = 0; j <= d; j++) w[j] = m->w[j];
            free_and_destroy_model(&m);
        }
        free(y);
        free(xs);
    }
    if (failed) return ev_err_set(e, EV_ERR_NOMEM, "linear probe: liblinear training failed");
    return EV_OK;
}

/* Predict rows of set s (all rows when rows == NULL); correct[i] = 0/1. */
static int64_t probe_predict(const probe *P, const double *W, const mx_set *s, const int32_t *rows,
                       int64_t nrows, int nt, uint8_t *correct)
{
    const int64_t d = P->d;
    const int k = P->k;
    int64_t hits = 0;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : hits)
    for (int64_t t = 0; t < nrows; t++) {
        int64_t i = rows ? rows[t] : t;
        const float *x = s->x + (size_t)i * d;
        double iv = s->inv[i];
        double best = -INFINITY;
        int32_t arg = -1;
        for (int u = 0; u < k; u++) {
            const double *w = W + (size_t)u * (d + 1);
            double v = w[d];
            for (int64_t j = 0; j < d; j++) v += w[j] * ((double)x[j] * iv);
            if (v > best) { /* ties keep the lower class id (cls ascending) */
                best = v;
                arg = P->cls[u];
            }
        }
        int ok = arg == s->y[i];
        if (correct) correct[t] = (uint8_t)ok;
        hits += ok;
    }
    return hits;
}

ev_status mx_linear_probe(const mx_set *train, const mx_set *test, const ev_metrics_options *o,
                          int threads, uint8_t *correct, double *acc, double *chosen_c, ev_err *e)
{
    const int64_t n = train->n, d = train->d;
    EV_FAIL_IF(test->d != d, e, EV_ERR_SHAPE, "linear probe: train has %lld dims, test %lld",
               (long long)d, (long long)test->d);
    EV_FAIL_IF(d + 2 > INT32_MAX, e, EV_ERR_LIMIT, "linear probe: too many dimensions");
    int nt = mx_threads(threads);
    probe P = {0};
    P.tr = train;
    P.d = d;
    P.cls = malloc((size_t)train->n_classes * sizeof *P.cls);
    if (!P.cls) return ev_err_set(e, EV_ERR_NOMEM, "linear probe: out of memory");
    for (int32_t c = 0; c < train->n_classes; c++)
        if (train->cstart[c + 1] > train->cstart[c]) P.cls[P.k++] = c;
    if (P.k < 2) {
        free(P.cls);
        return ev_err_set(e, EV_ERR_UNDEFINED, "train split has fewer than 2 classes");
    }
    size_t nnodes;
    if (!ev_mul_sz((size_t)n, (size_t)d + 2, &nnodes)) {
        free(P.cls);
        return ev_err_set(e, EV_ERR_LIMIT, "linear probe: train set too large");
    }
    P.nodes = malloc(nnodes * sizeof *P.nodes);
    int32_t *rows = malloc((size_t)n * sizeof *rows);
    int32_t *val = malloc((size_t)n * sizeof *val);
    int nC = o->n_probe_c;
    size_t wbytes = (size_t)P.k * (d + 1) * sizeof(double);
    double *W = malloc(wbytes), *Wc = malloc(wbytes), *Wp = malloc(wbytes);
    uint8_t *vc = malloc((size_t)n);
    ev_status st = EV_OK;
    if (!P.nodes || !rows || !val || !W || !Wc || !Wp || !vc) {
        st = ev_err_set(e, EV_ERR_NOMEM, "linear probe: out of memory for %lld x %lld features",
                        (long long)n, (long long)d);
        goto out;
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        struct feature_node *r = P.nodes + (size_t)i * (d + 2);
        double iv = train->inv[i];
        for (int64_t j = 0; j < d; j++) {
            r[j].index = (int)j + 1;
            r[j].value = (double)train->x[(size_t)i * d + j] * iv;
        }
        r[d].index = (int)d + 1; /* bias feature */
        r[d].value = 1.0;
        r[d + 1].index = -1;
        r[d + 1].value = 0;
    }
    /* stratified split: per class, a seeded shuffle; the first n_val go to
     * validation. Both lists stay in row order. */
    int64_t nfit = 0, nval = 0;
    {
        uint8_t *is_val = calloc((size_t)n, 1);
        int32_t *tmp = malloc((size_t)n * sizeof *tmp);
        if (!is_val || !tmp) {
            free(is_val);
            free(tmp);
            st = ev_err_set(e, EV_ERR_NOMEM, "linear probe: out of memory");
            goto out;
        }
        mx_rng rng;
        mx_rng_seed(&rng, o->seed, 0x70726f6265ull);
        for (int32_t c = 0; c < train->n_classes; c++) {
            int64_t a = train->cstart[c], cnt = train->cstart[c + 1] - a;
            if (cnt < 2) continue;
            int64_t nv = (int64_t)llround(o->probe_val_fraction * (double)cnt);
            if (nv < 1) nv = 1;
            if (nv > cnt - 1) nv = cnt - 1;
            memcpy(tmp, train->members + a, (size_t)cnt * sizeof *tmp);
            for (int64_t i = 0; i < nv; i++) {
                int64_t j = i + (int64_t)mx_rng_below(&rng, (uint64_t)(cnt - i));
                int32_t t = tmp[i];
                tmp[i] = tmp[j];
                tmp[j] = t;
                is_val[tmp[i]] = 1;
            }
        }
        for (int64_t i = 0; i < n; i++) {
            if (is_val[i]) val[nval++] = (int32_t)i;
            else rows[nfit++] = (int32_t)i;
        }
        free(is_val);
        free(tmp);
    }
    /* Sweep: ascending C, each fit warm-started from the previous C; the
     * walk stops when two C values in a row did not beat the best
     * validation accuracy so far.
     * A fit part larger than probe_sweep_max rows is thinned evenly within
     * each class for the sweep; the refit always uses every train row. */
    int order[EV_METRICS_MAX_C] = {0};
    for (int i = 0; i < nC; i++) order[i] = i;
    for (int i = 1; i < nC; i++)
        for (int j = i; j > 0 && o->probe_c[order[j]] < o->probe_c[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    double bestC = o->probe_c[order[0]];
    int have_best = 0;
    if (nC > 1 && nval > 0) {
        if (o->probe_sweep_max > 0 && nfit > o->probe_sweep_max) {
            /* even thinning within each class (rows are in class-mixed row
             * order): the r-th fit row of a class is kept when floor(r * f)
             * steps, f = max / nfit, and the first row of every class is kept */
            int64_t keep = 0;
            int64_t *seen = calloc((size_t)train->n_classes, sizeof *seen);
            if (!seen) {
                st = ev_err_set(e, EV_ERR_NOMEM, "linear probe: out of memory");
                goto out;
            }
            double frac = (double)o->probe_sweep_max / (double)nfit;
            for (int64_t i = 0; i < nfit; i++) {
                int64_t r = seen[train->y[rows[i]]]++;
                if (r == 0 || (int64_t)((r + 1) * frac) != (int64_t)(r * frac))
                    rows[keep++] = rows[i];
            }
            free(seen);
            nfit = keep;
        }
        int64_t best_hits = -1;
        int stale = 0;
        const double *prev = NULL;
        for (int oi = 0; oi < nC; oi++) {
            double C = o->probe_c[order[oi]];
            st = train_ovr(&P, rows, nfit, C, o->probe_eps, nt, Wc, prev, e);
            if (st != EV_OK) goto out;
            int64_t h = probe_predict(&P, Wc, train, val, nval, nt, vc);
            if (h > best_hits) {
                best_hits = h;
                bestC = C;
                memcpy(W, Wc, wbytes);
                have_best = 1;
                stale = 0;
            } else if (++stale >= 2) {
                break; /* no gain for two larger C values: larger C only
                          costs more iterations (separable data) */
            }
            memcpy(Wp, Wc, wbytes);
            prev = Wp;
        }
    }
    /* refit on the whole train split, warm-started from the sweep's fit */
    for (int64_t i = 0; i < n; i++) rows[i] = (int32_t)i;
    st = train_ovr(&P, rows, n, bestC, o->probe_eps, nt, Wc, have_best ? W : NULL, e);
    if (st != EV_OK) goto out;
    memcpy(W, Wc, wbytes);
    int64_t hits = probe_predict(&P, W, test, NULL, test->n, nt, correct);
    *acc = (double)hits / (double)test->n;
    *chosen_c = bestC;
out:
    free(P.cls);
    free(P.nodes);
    free(rows);
    free(val);
    free(W);
    free(Wc);
    free(Wp);
    free(vc);
    return st;
}
