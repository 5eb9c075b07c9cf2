/*
 * lib/metrics/metrics.c — ev_metrics_evaluate: validation, the order of the
 * metric computations, bootstrap intervals, per-class breakdown.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/mx.h"

ev_metrics_options ev_metrics_default_options(void)
{
    ev_metrics_options o;
    memset(&o, 0, sizeof o);
    o.what = EV_METRIC_ALL;
    o.threads = 0;
    o.n_ks = 3;
    o.ks[0] = 1;
    o.ks[1] = 5;
    o.ks[2] = 10;
    o.silhouette_metric = EV_DISTANCE_COSINE;
    o.silhouette_sample = 0;
    o.bootstrap = 1000;
    o.seed = 0;
    o.knn_k = 20;
    o.knn_temperature = 0.07;
    o.kmeans_restarts = 3;
    o.kmeans_max_iter = 100;
    o.probe_val_fraction = 0.2;
    o.n_probe_c = 7;
    for (int i = 0; i < 7; i++) o.probe_c[i] = pow(10.0, i - 3);
    o.probe_eps = 0.01;
    o.probe_sweep_max = 20000;
    return o;
}

void ev_metrics_result_free(ev_metrics_result *r)
{
    if (!r) return;
    free(r->kmeans_assignments);
    free(r->item_ap);
    free(r->item_map_at_r);
    free(r->item_r_precision);
    for (int k = 0; k < EV_METRICS_MAX_K; k++) {
        free(r->item_recall_at[k]);
        free(r->item_precision_at[k]);
    }
    free(r->item_knn1_correct);
    free(r->item_knn_correct);
    free(r->item_knn_top5_correct);
    free(r->item_probe_correct);
    free(r->per_class);
    free(r);
}

static const char *cname(const ev_metrics_input *in, int32_t c, char *buf, size_t len)
{
    if (in->class_names && in->class_names[c]) snprintf(buf, len, "'%s'", in->class_names[c]);
    else snprintf(buf, len, "id %d", (int)c);
    return buf;
}

static ev_status check_options(const ev_metrics_options *o, ev_err *e)
{
    EV_FAIL_IF(o->n_ks < 0 || o->n_ks > EV_METRICS_MAX_K, e, EV_ERR_INVALID_ARG,
               "between 0 and %d K values allowed, got %d", EV_METRICS_MAX_K, o->n_ks);
    for (int i = 0; i < o->n_ks; i++)
        EV_FAIL_IF(o->ks[i] < 1, e, EV_ERR_INVALID_ARG, "K must be >= 1, got %d", o->ks[i]);
    EV_FAIL_IF(o->knn_k < 1 || o->knn_k > 10000, e, EV_ERR_INVALID_ARG,
               "kNN k must be in [1, 10000], got %d", o->knn_k);
    EV_FAIL_IF(!(o->knn_temperature > 0) || !isfinite(o->knn_temperature), e, EV_ERR_INVALID_ARG,
               "kNN temperature must be positive");
    EV_FAIL_IF(o->bootstrap < 0 || o->bootstrap > 1000000, e, EV_ERR_INVALID_ARG,
               "bootstrap resamples must be in [0, 1000000]");
    EV_FAIL_IF(o->silhouette_sample < 0, e, EV_ERR_INVALID_ARG, "silhouette sample must be >= 0");
    EV_FAIL_IF(o->silhouette_metric != EV_DISTANCE_COSINE &&
                   o->silhouette_metric != EV_DISTANCE_EUCLIDEAN,
               e, EV_ERR_INVALID_ARG, "unknown silhouette metric");
    EV_FAIL_IF(o->n_probe_c < 1 || o->n_probe_c > EV_METRICS_MAX_C, e, EV_ERR_INVALID_ARG,
               "between 1 and %d C values allowed", EV_METRICS_MAX_C);
    for (int i = 0; i < o->n_probe_c; i++)
        EV_FAIL_IF(!(o->probe_c[i] > 0) || !isfinite(o->probe_c[i]), e, EV_ERR_INVALID_ARG,
                   "C values must be positive");
    EV_FAIL_IF(!(o->probe_val_fraction > 0 && o->probe_val_fraction < 1), e, EV_ERR_INVALID_ARG,
               "validation fraction must be in (0, 1)");
    EV_FAIL_IF(!(o->probe_eps > 0), e, EV_ERR_INVALID_ARG, "probe tolerance must be positive");
    EV_FAIL_IF(o->probe_sweep_max < 0, e, EV_ERR_INVALID_ARG, "probe sweep size must be >= 0");
    EV_FAIL_IF(o->threads < 0, e, EV_ERR_INVALID_ARG, "threads must be >= 0");
    return EV_OK;
}

static ev_status check_view(const ev_labeled_embeddings *v, const char *name, int64_t d, ev_err *e)
{
    EV_FAIL_IF(v->n < 0, e, EV_ERR_INVALID_ARG, "negative row count (%s)", name);
    if (v->n == 0) return EV_OK;
    EV_FAIL_IF(!v->x || !v->labels, e, EV_ERR_INVALID_ARG, "missing data or labels (%s)", name);
    EV_FAIL_IF(v->d != d, e, EV_ERR_SHAPE,
               "embeddings have %lld dimensions but the eval embeddings have %lld (%s)",
               (long long)v->d, (long long)d, name);
    return EV_OK;
}

static int64_t count_zero(const mx_set *s, int64_t *first)
{
    int64_t z = 0;
    *first = -1;
    for (int64_t i = 0; i < s->n; i++)
        if (s->inv[i] == 0.0f) {
            if (*first < 0) *first = i;
            z++;
        }
    return z;
}

typedef struct ctx {
    const ev_metrics_input *in;
    ev_metrics_options o;
    ev_metrics_result *r;
    mx_set ev, tr, ga;
    int has_tr, has_ga;
    double *sil_item;
} ctx;

static void progress(ctx *c, const char *stage, double f)
{
    if (c->o.progress) c->o.progress(c->o.progress_user, stage, f);
}

static ev_status run_scans(ctx *c, ev_err *e)
{
    ev_metrics_result *r = c->r;
    const int64_t n = c->ev.n;
    /* top-K retrieval: everything but the full-ranking mAP, from each
     * query's best items only (lib/metrics/topk.c) */
    const bool topk = !(c->o.what & EV_METRIC_RETRIEVAL) && (c->o.what & EV_METRIC_RETRIEVAL_TOPK);
    const bool want_ret = (c->o.what & EV_METRIC_RETRIEVAL) || topk;
    const bool want_knn = c->o.what & EV_METRIC_KNN;
    bool knn_in_ret = want_knn && !c->has_tr && !c->has_ga;
    if (want_ret) {
        if (!topk) r->item_ap = malloc((size_t)n * sizeof(double));
        r->item_map_at_r = malloc((size_t)n * sizeof(double));
        r->item_r_precision = malloc((size_t)n * sizeof(double));
        if ((!topk && !r->item_ap) || !r->item_map_at_r || !r->item_r_precision)
            return ev_err_set(e, EV_ERR_NOMEM, "out of memory for per-query results");
        for (int k = 0; k < r->n_ks; k++) {
            r->item_recall_at[k] = malloc((size_t)n * sizeof(double));
            r->item_precision_at[k] = malloc((size_t)n * sizeof(double));
            if (!r->item_recall_at[k] || !r->item_precision_at[k])
                return ev_err_set(e, EV_ERR_NOMEM, "out of memory for per-query results");
        }
    }
    if (want_knn) {
        r->item_knn1_correct = malloc((size_t)n);
        r->item_knn_correct = malloc((size_t)n);
        r->item_knn_top5_correct = malloc((size_t)n);
        if (!r->item_knn1_correct || !r->item_knn_correct || !r->item_knn_top5_correct)
            return ev_err_set(e, EV_ERR_NOMEM, "out of memory for per-item results");
    }
    if (want_ret) {
        mx_scan_out so;
        memset(&so, 0, sizeof so);
        so.ap = r->item_ap;
        so.map_at_r = r->item_map_at_r;
        so.r_precision = r->item_r_precision;
        so.n_ks = r->n_ks;
        so.ks = r->ks;
        for (int k = 0; k < r->n_ks; k++) {
            so.recall_at[k] = r->item_recall_at[k];
            so.precision_at[k] = r->item_precision_at[k];
        }
        if (knn_in_ret) {
            so.knn_k = c->o.knn_k;
            so.knn_t = c->o.knn_temperature;
            so.knn1 = r->item_knn1_correct;
            so.knn_top1 = r->item_knn_correct;
            so.knn_top5 = r->item_knn_top5_correct;
        }
        const mx_set *g = c->has_ga ? &c->ga : &c->ev;
        if (topk) {
            EV_TRY(mx_scan_topk(&c->ev, g, !c->has_ga, &so, c->o.threads, c->o.progress,
                                c->o.progress_user, "retrieval", e));
            ev_log(EV_LOG_INFO,
                   "top-K retrieval: %s screening, %lld quer%s streamed again after a first "
                   "cut that was too high",
                   so.screened_bf16 ? "bf16" : "float32", (long long)so.spec_restarts,
                   so.spec_restarts == 1 ? "y" : "ies");
        } else {
            EV_TRY(mx_scan(&c->ev, g, !c->has_ga, &so, c->o.threads, c->o.progress,
                           c->o.progress_user, "retrieval", e));
        }
        r->n_excluded = so.n_excluded;
        r->n_queries = n - so.n_excluded;
    }
    if (want_knn && !(want_ret && knn_in_ret)) {
        mx_scan_out so;
        memset(&so, 0, sizeof so);
        so.knn_k = c->o.knn_k;
        so.knn_t = c->o.knn_temperature;
        so.knn1 = r->item_knn1_correct;
        so.knn_top1 = r->item_knn_correct;
        so.knn_top5 = r->item_knn_top5_correct;
        const mx_set *g = c->has_tr ? &c->tr : &c->ev;
        EV_TRY(mx_scan(&c->ev, g, !c->has_tr, &so, c->o.threads, c->o.progress,
                       c->o.progress_user, "knn", e));
    }
    if (want_ret) {
        int64_t cnt;
        double v = mx_mean_skip_nan(topk ? r->item_map_at_r : r->item_ap, n, &cnt);
        if (cnt == 0) {
            const char *why = "no query has a relevant gallery item";
            mx_metric_undef(&r->map, why);
            mx_metric_undef(&r->map_at_r, why);
            mx_metric_undef(&r->r_precision, why);
            for (int k = 0; k < r->n_ks; k++) {
                mx_metric_undef(&r->recall_at[k], why);
                mx_metric_undef(&r->precision_at[k], why);
            }
        } else {
            if (topk)
                mx_metric_undef(&r->map, "not computed: top-K retrieval ranks only each "
                                         "query's best items (full ranking: --metrics retrieval)");
            else mx_metric_set(&r->map, v);
            mx_metric_set(&r->map_at_r, mx_mean_skip_nan(r->item_map_at_r, n, NULL));
            mx_metric_set(&r->r_precision, mx_mean_skip_nan(r->item_r_precision, n, NULL));
            for (int k = 0; k < r->n_ks; k++) {
                mx_metric_set(&r->recall_at[k], mx_mean_skip_nan(r->item_recall_at[k], n, NULL));
                mx_metric_set(&r->precision_at[k],
                              mx_mean_skip_nan(r->item_precision_at[k], n, NULL));
            }
        }
    }
    if (want_knn) {
        int64_t h1 = 0, h = 0, h5 = 0;
        for (int64_t i = 0; i < n; i++) {
            h1 += r->item_knn1_correct[i];
            h += r->item_knn_correct[i];
            h5 += r->item_knn_top5_correct[i];
        }
        mx_metric_set(&r->knn1_accuracy, (double)h1 / n);
        mx_metric_set(&r->knn_accuracy, (double)h / n);
        mx_metric_set(&r->knn_top5_accuracy, (double)h5 / n);
    }
    return EV_OK;
}

static ev_status run_silhouette(ctx *c, ev_err *e)
{
    ev_metrics_result *r = c->r;
    int64_t n = c->ev.n, ns = c->o.silhouette_sample;
    progress(c, "silhouette", 0);
    r->silhouette_metric = c->o.silhouette_metric;
    ev_status st;
    double mean = NAN;
    ev_err le = {0};
    if (ns > 0 && ns < n) {
        char msg[256];
        st = ev_silhouette(c->ev.x, n, c->ev.d, c->ev.y, c->ev.n_classes, c->o.silhouette_metric,
                           ns, c->o.seed, c->o.threads, &mean, msg, sizeof msg);
        if (st != EV_OK) ev_err_set(&le, st, "%s", msg);
        r->silhouette_n = ns;
    } else {
        c->sil_item = malloc((size_t)n * sizeof(double));
        if (!c->sil_item) return ev_err_set(e, EV_ERR_NOMEM, "out of memory for silhouette");
        st = mx_silhouette(&c->ev, c->o.silhouette_metric, c->o.threads, c->sil_item, &mean, &le);
        r->silhouette_n = n;
        if (st != EV_OK) {
            free(c->sil_item);
            c->sil_item = NULL;
        }
    }
    if (st == EV_ERR_UNDEFINED) {
        mx_metric_undef(&r->silhouette, strstr(le.msg, "fewer") ? "fewer than 2 classes"
                                                                : "every item is alone in its class");
        return EV_OK;
    }
    if (st != EV_OK) {
        if (e) *e = le;
        return st;
    }
    mx_metric_set(&r->silhouette, mean);
    progress(c, "silhouette", 1);
    return EV_OK;
}

static ev_status run_kmeans(ctx *c, ev_err *e)
{
    ev_metrics_result *r = c->r;
    int64_t n = c->ev.n;
    int k = 0;
    for (int32_t cl = 0; cl < c->ev.n_classes; cl++) k += c->ev.cstart[cl + 1] > c->ev.cstart[cl];
    r->kmeans_k = k;
    if (k < 2) {
        mx_metric_undef(&r->nmi, "fewer than 2 classes");
        mx_metric_undef(&r->ari, "fewer than 2 classes");
        return EV_OK;
    }
    progress(c, "kmeans", 0);
    int32_t *as = malloc((size_t)n * sizeof *as);
    if (!as) return ev_err_set(e, EV_ERR_NOMEM, "out of memory for k-means");
    EV_TRY(mx_kmeans(&c->ev, k, c->o.kmeans_restarts, c->o.kmeans_max_iter, c->o.seed,
                     c->o.threads, as, &r->kmeans_inertia, e));
    double nmi, ari;
    ev_status st = ev_nmi_ari(c->ev.y, as, n, &nmi, &ari);
    if (st != EV_OK) {
        free(as);
        return ev_err_set(e, st, "NMI/ARI failed");
    }
    mx_metric_set(&r->nmi, nmi);
    mx_metric_set(&r->ari, ari);
    if (c->o.keep_kmeans_assignments) r->kmeans_assignments = as;
    else free(as);
    progress(c, "kmeans", 1);
    return EV_OK;
}

static ev_status run_probe(ctx *c, ev_err *e)
{
    ev_metrics_result *r = c->r;
    r->linear_probe_c = NAN;
    if (!c->has_tr) {
        mx_metric_undef(&r->linear_probe_accuracy, "no train set");
        return EV_OK;
    }
    progress(c, "linear-probe", 0);
    r->item_probe_correct = malloc((size_t)c->ev.n);
    if (!r->item_probe_correct) return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    double acc = NAN, C = NAN;
    ev_err le = {0};
    ev_status st = mx_linear_probe(&c->tr, &c->ev, &c->o, c->o.threads, r->item_probe_correct,
                                   &acc, &C, &le);
    if (st == EV_ERR_UNDEFINED) {
        free(r->item_probe_correct);
        r->item_probe_correct = NULL;
        mx_metric_undef(&r->linear_probe_accuracy, "train split has fewer than 2 classes");
        return EV_OK;
    }
    if (st != EV_OK) {
        if (e) *e = le;
        return st;
    }
    mx_metric_set(&r->linear_probe_accuracy, acc);
    r->linear_probe_c = C;
    progress(c, "linear-probe", 1);
    return EV_OK;
}

static void u8_to_double(const uint8_t *a, double *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++) out[i] = a[i];
}

static ev_status run_bootstrap(ctx *c, ev_err *e)
{
    ev_metrics_result *r = c->r;
    const int B = c->o.bootstrap;
    const int64_t n = c->ev.n;
    if (B <= 0) return EV_OK;
    progress(c, "bootstrap", 0);
    double lo[3 + 2 * EV_METRICS_MAX_K], hi[3 + 2 * EV_METRICS_MAX_K];
    if (r->item_map_at_r && r->map_at_r.defined) {
        const double *s[3 + 2 * EV_METRICS_MAX_K];
        ev_metric *m[3 + 2 * EV_METRICS_MAX_K];
        int ns = 0;
        if (r->item_ap) s[ns] = r->item_ap, m[ns++] = &r->map;
        s[ns] = r->item_map_at_r, m[ns++] = &r->map_at_r;
        s[ns] = r->item_r_precision, m[ns++] = &r->r_precision;
        for (int k = 0; k < r->n_ks; k++) {
            s[ns] = r->item_recall_at[k], m[ns++] = &r->recall_at[k];
            s[ns] = r->item_precision_at[k], m[ns++] = &r->precision_at[k];
        }
        EV_TRY(mx_bootstrap_multi(s, ns, n, B, c->o.seed, c->o.threads, lo, hi, e));
        for (int j = 0; j < ns; j++) {
            m[j]->has_ci = 1;
            m[j]->ci_low = lo[j];
            m[j]->ci_high = hi[j];
        }
    }
    progress(c, "bootstrap", 0.5);
    const uint8_t *acc[4] = {r->item_knn1_correct, r->item_knn_correct, r->item_knn_top5_correct,
                             r->linear_probe_accuracy.defined ? r->item_probe_correct : NULL};
    ev_metric *am[4] = {&r->knn1_accuracy, &r->knn_accuracy, &r->knn_top5_accuracy,
                        &r->linear_probe_accuracy};
    double *buf = malloc((size_t)n * 4 * sizeof(double));
    if (!buf) return ev_err_set(e, EV_ERR_NOMEM, "out of memory for bootstrap");
    const double *s[4];
    ev_metric *m[4];
    int ns = 0;
    for (int j = 0; j < 4; j++) {
        if (!acc[j] || !am[j]->defined) continue;
        u8_to_double(acc[j], buf + (size_t)ns * n, n);
        s[ns] = buf + (size_t)ns * n;
        m[ns++] = am[j];
    }
    ev_status st = EV_OK;
    if (ns) st = mx_bootstrap_multi(s, ns, n, B, c->o.seed, c->o.threads, lo, hi, e);
    if (st == EV_OK)
        for (int j = 0; j < ns; j++) {
            m[j]->has_ci = 1;
            m[j]->ci_low = lo[j];
            m[j]->ci_high = hi[j];
        }
    free(buf);
    progress(c, "bootstrap", 1);
    return st;
}

static void per_class(ctx *c)
{
    ev_metrics_result *r = c->r;
    const mx_set *s = &c->ev;
    for (int32_t cl = 0; cl < s->n_classes; cl++) {
        ev_class_metrics *pc = &r->per_class[cl];
        int64_t a = s->cstart[cl], b = s->cstart[cl + 1];
        pc->n_items = b - a;
        const char *none = "no item of this class";
        ev_metric *all[3 + 2 * EV_METRICS_MAX_K];
        double *src[3 + 2 * EV_METRICS_MAX_K];
        int nm = 0;
        all[nm] = &pc->map, src[nm++] = r->item_ap;
        all[nm] = &pc->map_at_r, src[nm++] = r->item_map_at_r;
        all[nm] = &pc->r_precision, src[nm++] = r->item_r_precision;
        for (int k = 0; k < r->n_ks; k++) {
            all[nm] = &pc->recall_at[k], src[nm++] = r->item_recall_at[k];
            all[nm] = &pc->precision_at[k], src[nm++] = r->item_precision_at[k];
        }
        for (int j = 0; j < nm; j++) {
            if (!src[j]) {
                mx_metric_undef(all[j], "not computed");
                continue;
            }
            double sum = 0;
            int64_t q = 0;
            for (int64_t t = a; t < b; t++) {
                double v = src[j][s->members[t]];
                if (!isnan(v)) {
                    sum += v;
                    q++;
                }
            }
            if (j == 0 || (j == 1 && !src[0])) pc->n_queries = q;
            if (q) mx_metric_set(all[j], sum / q);
            else mx_metric_undef(all[j], pc->n_items ? "no query of this class has a relevant item"
                                                     : none);
        }
        if (r->item_knn_correct && pc->n_items) {
            int64_t h = 0;
            for (int64_t t = a; t < b; t++) h += r->item_knn_correct[s->members[t]];
            mx_metric_set(&pc->knn_accuracy, (double)h / pc->n_items);
        } else mx_metric_undef(&pc->knn_accuracy, pc->n_items ? "not computed" : none);
        if (c->sil_item && pc->n_items) {
            double sum = 0;
            for (int64_t t = a; t < b; t++) sum += c->sil_item[s->members[t]];
            mx_metric_set(&pc->silhouette, sum / pc->n_items);
        } else mx_metric_undef(&pc->silhouette, pc->n_items ? "not computed (sampled or undefined)"
                                                            : none);
    }
}

static ev_status evaluate(ctx *c, ev_err *e)
{
    const ev_metrics_input *in = c->in;
    ev_metrics_result *r = c->r;
    char nb[160];
    const char *names[3] = {in->eval.name ? in->eval.name : "eval",
                            in->train.name ? in->train.name : "train",
                            in->gallery.name ? in->gallery.name : "gallery"};
    EV_TRY(check_options(&c->o, e));
    EV_FAIL_IF(in->eval.n <= 0, e, EV_ERR_DATA, "no embeddings (%s)", names[0]);
    EV_FAIL_IF(in->eval.d <= 0, e, EV_ERR_DATA, "embeddings have no dimensions (%s)", names[0]);
    EV_FAIL_IF(in->n_classes <= 0, e, EV_ERR_INVALID_ARG, "n_classes must be positive");
    EV_TRY(check_view(&in->eval, names[0], in->eval.d, e));
    EV_TRY(check_view(&in->train, names[1], in->eval.d, e));
    EV_TRY(check_view(&in->gallery, names[2], in->eval.d, e));
    EV_TRY(mx_set_init(&c->ev, &in->eval, in->n_classes, names[0], c->o.threads, e));
    if (in->train.n > 0) {
        EV_TRY(mx_set_init(&c->tr, &in->train, in->n_classes, names[1], c->o.threads, e));
        c->has_tr = 1;
    }
    if (in->gallery.n > 0) {
        EV_TRY(mx_set_init(&c->ga, &in->gallery, in->n_classes, names[2], c->o.threads, e));
        c->has_ga = 1;
    }
    /* class structure of the eval set */
    int32_t present = 0, singles = 0, first_single = -1, only = -1;
    for (int32_t cl = 0; cl < c->ev.n_classes; cl++) {
        int64_t cnt = c->ev.cstart[cl + 1] - c->ev.cstart[cl];
        if (cnt > 0) {
            present++;
            only = cl;
        }
        if (cnt == 1) {
            if (first_single < 0) first_single = cl;
            singles++;
        }
    }
    EV_FAIL_IF(present < 2, e, EV_ERR_DATA,
               "every item has the same label (%s); the metrics need at least 2 classes (%s)",
               cname(in, only, nb, sizeof nb), names[0]);
    EV_FAIL_IF(singles == present && !c->has_ga &&
                   (c->o.what & (EV_METRIC_RETRIEVAL | EV_METRIC_RETRIEVAL_TOPK)), e,
               EV_ERR_DATA,
               "every class has a single item, so no query has a relevant item; give a "
               "gallery set or more items per class (%s)",
               names[0]);
    if (singles && !c->has_ga && (c->o.what & (EV_METRIC_RETRIEVAL | EV_METRIC_RETRIEVAL_TOPK)))
        ev_log(EV_LOG_WARN,
               "%d class%s with a single item (first: %s): %s excluded from retrieval (%s)",
               (int)singles, singles == 1 ? "" : "es", cname(in, first_single, nb, sizeof nb),
               singles == 1 ? "its query is" : "their queries are", names[0]);
    const mx_set *sets[3] = {&c->ev, c->has_tr ? &c->tr : NULL, c->has_ga ? &c->ga : NULL};
    for (int i = 0; i < 3; i++) {
        if (!sets[i]) continue;
        int64_t first;
        int64_t z = count_zero(sets[i], &first);
        r->n_zero_vectors += z;
        if (z)
            ev_log(EV_LOG_WARN,
                   "%lld zero vector%s (first: row %lld, 0-based); %s similarity 0 with "
                   "everything (%s)",
                   (long long)z, z == 1 ? "" : "s", (long long)first,
                   z == 1 ? "it has" : "they have", names[i]);
    }
    r->n_classes = in->n_classes;
    r->per_class = calloc((size_t)in->n_classes, sizeof *r->per_class);
    if (!r->per_class) return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    r->n_ks = c->o.n_ks;
    memcpy(r->ks, c->o.ks, sizeof r->ks);
    r->query_gallery = c->has_ga;
    r->knn_leave_one_out = !c->has_tr;
    r->knn_k = c->o.knn_k;
    r->linear_probe_c = NAN;
    r->kmeans_inertia = NAN;
    const char *off = "not requested";
    mx_metric_undef(&r->map, off);
    mx_metric_undef(&r->map_at_r, off);
    mx_metric_undef(&r->r_precision, off);
    for (int k = 0; k < EV_METRICS_MAX_K; k++) {
        mx_metric_undef(&r->recall_at[k], off);
        mx_metric_undef(&r->precision_at[k], off);
    }
    mx_metric_undef(&r->silhouette, off);
    mx_metric_undef(&r->nmi, off);
    mx_metric_undef(&r->ari, off);
    mx_metric_undef(&r->knn1_accuracy, off);
    mx_metric_undef(&r->knn_accuracy, off);
    mx_metric_undef(&r->knn_top5_accuracy, off);
    mx_metric_undef(&r->linear_probe_accuracy, off);

    EV_TRY(run_scans(c, e));
    if (c->o.what & EV_METRIC_SILHOUETTE) EV_TRY(run_silhouette(c, e));
    if (c->o.what & EV_METRIC_KMEANS) EV_TRY(run_kmeans(c, e));
    if (c->o.what & EV_METRIC_LINEAR_PROBE) EV_TRY(run_probe(c, e));
    EV_TRY(run_bootstrap(c, e));
    per_class(c);
    return EV_OK;
}

ev_status ev_metrics_evaluate(const ev_metrics_input *in, const ev_metrics_options *opt,
                              ev_metrics_result **out, char *errbuf, size_t errlen)
{
    ev_err e = {0};
    if (!in || !out) {
        ev_err_set(&e, EV_ERR_INVALID_ARG, "ev_metrics_evaluate: NULL argument");
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    *out = NULL;
    ctx c;
    memset(&c, 0, sizeof c);
    c.in = in;
    c.o = opt ? *opt : ev_metrics_default_options();
    c.r = calloc(1, sizeof *c.r);
    if (!c.r) {
        ev_err_set(&e, EV_ERR_NOMEM, "out of memory");
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    ev_status st = evaluate(&c, &e);
    mx_set_free(&c.ev);
    mx_set_free(&c.tr);
    mx_set_free(&c.ga);
    free(c.sil_item);
    if (st != EV_OK) {
        ev_metrics_result_free(c.r);
        if (!e.msg[0]) ev_err_set(&e, st, "%s", ev_strerror(st));
        ev_err_copy(&e, errbuf, errlen);
        return st;
    }
    *out = c.r;
    ev_err_copy(&e, errbuf, errlen);
    return EV_OK;
}

int ev_metrics_named(const ev_metrics_result *r, ev_named_metric out[EV_METRICS_MAX_NAMED])
{
    int n = 0, nk = r->n_ks < 0 ? 0 : r->n_ks > EV_METRICS_MAX_K ? EV_METRICS_MAX_K : r->n_ks;
#define ADD(mp, ...)                                                                               \
    do {                                                                                           \
        snprintf(out[n].key, sizeof out[n].key, __VA_ARGS__);                                      \
        out[n++].m = (mp);                                                                         \
    } while (0)
    ADD(&r->map, "map");
    ADD(&r->map_at_r, "map_at_r");
    ADD(&r->r_precision, "r_precision");
    for (int k = 0; k < nk; k++) ADD(&r->recall_at[k], "recall_at_%d", r->ks[k]);
    for (int k = 0; k < nk; k++) ADD(&r->precision_at[k], "precision_at_%d", r->ks[k]);
    ADD(&r->silhouette, "silhouette");
    ADD(&r->knn1_accuracy, "knn_1_accuracy");
    ADD(&r->knn_accuracy, "knn_%d_accuracy", r->knn_k);
    ADD(&r->knn_top5_accuracy, "knn_%d_top5_accuracy", r->knn_k);
    ADD(&r->linear_probe_accuracy, "linear_probe_accuracy");
    ADD(&r->nmi, "nmi");
    ADD(&r->ari, "ari");
#undef ADD
    return n;
}
