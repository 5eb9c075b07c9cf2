/*
 * embeval/metrics.h — embedding-quality metrics: retrieval, clustering,
 * classification, bootstrap confidence intervals.
 *
 * Every number follows docs/metrics.md (the contract, derived from
 * METRICS.md). Inputs are float32 row-major matrices [n x d] with integer
 * class ids in [0, n_classes). Nothing is ever printed: warnings go through
 * the ev_set_log() callback, progress through opt->progress.
 *
 * Usage:
 *
 *     ev_metrics_input in = {0};
 *     in.eval = (ev_labeled_embeddings){x, n, d, labels, "eval.npy"};
 *     in.n_classes = k;
 *     ev_metrics_options o = ev_metrics_default_options();
 *     o.threads = 2;
 *     ev_metrics_result *r = NULL;
 *     char err[512];
 *     if (ev_metrics_evaluate(&in, &o, &r, err, sizeof err) != EV_OK)
 *         fprintf(stderr, "%s\n", err);
 *     else if (r->map.defined)
 *         printf("mAP %.4f [%.4f, %.4f]\n", r->map.value, r->map.ci_low, r->map.ci_high);
 *     ev_metrics_result_free(r);
 *
 * Protocols. Retrieval is leave-one-out on `eval` (every item is a query, the
 * gallery is every other item) unless `gallery` is given, then `eval` items
 * are queries against the gallery (no self-exclusion). Queries without any
 * relevant gallery item are excluded and counted (n_excluded). kNN uses
 * `train` as memory and `eval` as queries, or leave-one-out on `eval` when
 * there is no train set. The linear probe needs `train`.
 *
 * Similarities are cosine similarities computed as (x_q . x_g) / |x_q| / |x_g|
 * in float32 by blocked GEMM (oneDNN); ties are exact ties of these float32
 * values. A zero vector has similarity 0 with everything.
 *
 * Determinism: results depend only on the inputs and options (seed), never
 * on the thread count.
 *
 * Memory: O(n*d) for the inputs (never copied whole) plus O(block^2) scratch
 * per thread; the n x n similarity matrix is never formed. The linear probe
 * additionally holds liblinear's copy of the train set (16 bytes per value).
 */
#ifndef EMBEVAL_METRICS_H
#define EMBEVAL_METRICS_H

#include "embeval/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EV_METRICS_MAX_K 16      /* most K values for Recall@K / Precision@K */
#define EV_METRICS_MAX_C 16      /* most C values in the linear-probe grid   */

/* A view of labelled embeddings (nothing is owned). n = 0 means "absent". */
typedef struct ev_labeled_embeddings {
    const float *x;              /* n rows of d floats, row-major             */
    int64_t n;
    int64_t d;
    const int32_t *labels;       /* n class ids in [0, n_classes)             */
    const char *name;            /* optional, names the set in messages (e.g.
                                    its file); default "eval"/"train"/"gallery" */
} ev_labeled_embeddings;

typedef struct ev_metrics_input {
    ev_labeled_embeddings eval;    /* required: queries / test items          */
    ev_labeled_embeddings train;   /* optional: kNN memory, linear-probe fit  */
    ev_labeled_embeddings gallery; /* optional: query-vs-gallery retrieval    */
    int32_t n_classes;             /* every label is in [0, n_classes)        */
    const char *const *class_names; /* optional: n_classes names, used in
                                       warnings and error messages            */
} ev_metrics_input;

typedef enum ev_distance {
    EV_DISTANCE_COSINE = 0,      /* 1 - cosine similarity                     */
    EV_DISTANCE_EUCLIDEAN = 1
} ev_distance;

/* Metric families (bit set for ev_metrics_options.what). */
enum {
    EV_METRIC_RETRIEVAL = 1u << 0,     /* mAP, R@K, P@K, R-precision, MAP@R  */
    EV_METRIC_SILHOUETTE = 1u << 1,
    EV_METRIC_KNN = 1u << 2,           /* 1-NN and weighted k-NN             */
    EV_METRIC_LINEAR_PROBE = 1u << 3,  /* needs a train set                  */
    EV_METRIC_KMEANS = 1u << 4,        /* k-means NMI / ARI                  */
    EV_METRIC_ALL = 0x1fu,
    /* R@K, P@K, R-precision, MAP@R (and leave-one-out kNN) from each query's
     * best L = max(R, K, knn_k) items, exact, but without the full-ranking
     * mAP: for very large sets (bf16-screened GEMM, exact float32 re-scoring,
     * docs/metrics.md). Ignored when EV_METRIC_RETRIEVAL is set. */
    EV_METRIC_RETRIEVAL_TOPK = 1u << 5
};

/* Progress: `stage` is "retrieval", "knn", "silhouette", "kmeans",
 * "linear-probe" or "bootstrap"; fraction in [0, 1]. Called from the thread
 * that called ev_metrics_evaluate, possibly while worker threads run. */
typedef void (*ev_progress_fn)(void *user, const char *stage, double fraction);

typedef struct ev_metrics_options {
    unsigned what;               /* EV_METRIC_* bits; default EV_METRIC_ALL   */
    int threads;                 /* 0 = all cores                             */
    int n_ks;                    /* K list for Recall@K and Precision@K       */
    int ks[EV_METRICS_MAX_K];    /* default {1, 5, 10}; each K >= 1           */
    ev_distance silhouette_metric;     /* default cosine                      */
    int64_t silhouette_sample;   /* 0 = exact; else silhouette of a seeded
                                    random subset of this many items          */
    int bootstrap;               /* resamples for 95% CIs; 0 = none (def 1000) */
    uint64_t seed;               /* one seed for bootstrap, sampling, k-means,
                                    validation split (default 0)              */
    int knn_k;                   /* weighted kNN neighbours (default 20)       */
    double knn_temperature;      /* T in exp(s / T) (default 0.07)            */
    int kmeans_restarts;         /* k-means++ restarts, best inertia (def 3)  */
    int kmeans_max_iter;         /* Lloyd iterations per restart (def 100)    */
    double probe_val_fraction;   /* stratified validation share (def 0.2)     */
    int n_probe_c;               /* C grid (default 1e-3 .. 1e3, 7 values)    */
    double probe_c[EV_METRICS_MAX_C];
    double probe_eps;            /* liblinear stopping tolerance (def 0.01)   */
    int64_t probe_sweep_max;     /* C sweep fits on at most this many train
                                    rows (class-stratified thinning; default
                                    20000, 0 = all); the refit uses all rows  */
    int keep_kmeans_assignments; /* fill result->kmeans_assignments           */
    ev_progress_fn progress;
    void *progress_user;
} ev_metrics_options;

EV_API ev_metrics_options ev_metrics_default_options(void);

/* One reported number. When `defined` is 0, `value` is NaN and `reason` says
 * why (e.g. "fewer than 2 classes"). ci_low/ci_high are set when has_ci. */
typedef struct ev_metric {
    double value;
    int defined;
    const char *reason;          /* static string; "" when defined            */
    int has_ci;
    double ci_low, ci_high;      /* 95% bootstrap percentile interval         */
} ev_metric;

typedef struct ev_class_metrics {
    int64_t n_items;             /* eval items with this label                */
    int64_t n_queries;           /* of them, retrieval queries kept           */
    ev_metric map, map_at_r, r_precision;
    ev_metric recall_at[EV_METRICS_MAX_K], precision_at[EV_METRICS_MAX_K];
    ev_metric knn_accuracy;      /* weighted kNN top-1                        */
    ev_metric silhouette;        /* mean silhouette of its items (exact mode) */
} ev_class_metrics;

typedef struct ev_metrics_result {
    /* retrieval */
    int query_gallery;           /* 0 leave-one-out, 1 query-vs-gallery       */
    int64_t n_queries;           /* queries kept                              */
    int64_t n_excluded;          /* queries without a relevant gallery item   */
    ev_metric map, map_at_r, r_precision;
    int n_ks;
    int ks[EV_METRICS_MAX_K];
    ev_metric recall_at[EV_METRICS_MAX_K];    /* hit-rate                    */
    ev_metric precision_at[EV_METRICS_MAX_K];
    /* clustering */
    ev_metric silhouette;
    ev_distance silhouette_metric;
    int64_t silhouette_n;        /* items used (sample size or n)            */
    ev_metric nmi, ari;
    int kmeans_k;
    double kmeans_inertia;
    int32_t *kmeans_assignments; /* eval.n cluster ids or NULL               */
    /* classification */
    int knn_leave_one_out;       /* 1 when there was no train set            */
    int knn_k;
    ev_metric knn1_accuracy;     /* 1-NN top-1                               */
    ev_metric knn_accuracy;      /* weighted k-NN top-1 (headline accuracy)  */
    ev_metric knn_top5_accuracy; /* weighted k-NN top-5                      */
    ev_metric linear_probe_accuracy;
    double linear_probe_c;       /* chosen C (NaN when not run)              */
    /* per item, for paired comparisons (NULL when not computed). Retrieval
     * arrays have eval.n entries, NaN for excluded queries; accuracy arrays
     * hold 0/1 per eval item. */
    double *item_ap, *item_map_at_r, *item_r_precision;
    double *item_recall_at[EV_METRICS_MAX_K], *item_precision_at[EV_METRICS_MAX_K];
    uint8_t *item_knn1_correct, *item_knn_correct, *item_knn_top5_correct;
    uint8_t *item_probe_correct;
    /* data checks */
    int64_t n_zero_vectors;      /* over all sets                            */
    /* per class (n_classes entries; eval labels) */
    int32_t n_classes;
    ev_class_metrics *per_class;
} ev_metrics_result;

/* Validate the input and compute every metric selected in opt->what
 * (NULL = defaults). On success *out is a new result (free it with
 * ev_metrics_result_free). Errors: EV_ERR_INVALID_ARG (bad options or
 * views), EV_ERR_DATA (NaN/Inf: the message names the set and first row;
 * one class only; no class with two items), EV_ERR_SHAPE (dimension
 * mismatch), EV_ERR_NOMEM, EV_ERR_BACKEND (oneDNN). Metrics that are merely
 * undefined for this input come back with defined = 0 and a reason. */
EV_API ev_status ev_metrics_evaluate(const ev_metrics_input *in, const ev_metrics_options *opt,
                                     ev_metrics_result **out, char *errbuf, size_t errlen);
EV_API void ev_metrics_result_free(ev_metrics_result *r);

/* The headline metrics of a result under their JSON keys ("map",
 * "recall_at_5", "knn_20_accuracy", ...), in the order of `embeval metrics
 * --json`. Fills at most EV_METRICS_MAX_NAMED entries; returns the count. */
#define EV_METRICS_MAX_NAMED (10 + 2 * EV_METRICS_MAX_K)
typedef struct ev_named_metric {
    char key[48];
    const ev_metric *m;          /* points into the result                    */
} ev_named_metric;
EV_API int ev_metrics_named(const ev_metrics_result *r, ev_named_metric out[EV_METRICS_MAX_NAMED]);

/* ---- building blocks ------------------------------------------------- */

/* Scan embeddings: index of the first row holding NaN/Inf (-1 if none),
 * number of all-zero rows and the first one (-1 if none). */
typedef struct ev_embeddings_check {
    int64_t first_nonfinite_row;
    int64_t n_zero_rows;
    int64_t first_zero_row;
} ev_embeddings_check;
EV_API void ev_embeddings_scan(const float *x, int64_t n, int64_t d, ev_embeddings_check *out);

/* Silhouette (exact, or over opt-style sample if sample > 0) of x with labels
 * in [0, n_classes). Undefined (EV_ERR_UNDEFINED, reason in errbuf) for fewer
 * than 2 classes or as many classes as items. */
EV_API ev_status ev_silhouette(const float *x, int64_t n, int64_t d, const int32_t *labels,
                               int32_t n_classes, ev_distance metric, int64_t sample,
                               uint64_t seed, int threads, double *out, char *errbuf,
                               size_t errlen);

/* The `sample` distinct row indices (sorted ascending) that the sampled
 * silhouette uses for this n and seed. */
EV_API ev_status ev_sample_indices(int64_t n, int64_t sample, uint64_t seed, int64_t *out);

/* k-means (k-means++ init, `restarts` restarts keeping the lowest inertia,
 * at most max_iter Lloyd iterations) on L2-normalised rows. assign: n ids. */
EV_API ev_status ev_kmeans(const float *x, int64_t n, int64_t d, int k, int restarts, int max_iter,
                           uint64_t seed, int threads, int32_t *assign, double *inertia,
                           char *errbuf, size_t errlen);

/* Clustering agreement between two labelings of n items (ids >= 0), as
 * sklearn's normalized_mutual_info_score (arithmetic) and
 * adjusted_rand_score. */
EV_API ev_status ev_nmi_ari(const int32_t *a, const int32_t *b, int64_t n, double *nmi,
                            double *ari);

/* Bootstrap 95% percentile CI of the mean of x[0..n) (NaN entries are
 * skipped before resampling). */
EV_API ev_status ev_bootstrap_ci(const double *x, int64_t n, int resamples, uint64_t seed,
                                 double *lo, double *hi);

/* Paired bootstrap on the same items: diff = mean(a) - mean(b); ci of the
 * difference; p_value = (1 + #{resamples with mean(a-b) <= 0}) /
 * (1 + resamples), a one-sided p-value for "A is better than B". Pairs where
 * either value is NaN are skipped. */
typedef struct ev_paired_result {
    int64_t n;
    double diff, ci_low, ci_high, p_value;
} ev_paired_result;
EV_API ev_status ev_paired_bootstrap(const double *a, const double *b, int64_t n, int resamples,
                                     uint64_t seed, ev_paired_result *out);

#ifdef __cplusplus
}
#endif
#endif
