/*
 * lib/metrics/mx.h — internals shared by the metric modules: prepared
 * embedding sets (inverse norms, class index), GEMM, seeded RNG, radix sort,
 * threading rules.
 *
 * Threading rule (ENGINE-NOTES: oneDNN uses OpenMP): every parallel loop here
 * is an OpenMP region with `threads` workers; GEMM is called *inside* those
 * regions with the per-thread ICV set to 1 (mx_thread_enter), so oneDNN runs
 * single-threaded and there is never oversubscription. Work is split into
 * blocks whose boundaries do not depend on the thread count, and every
 * floating-point reduction runs in block order, so results are bitwise
 * identical for any thread count.
 */
#ifndef EV_METRICS_MX_H
#define EV_METRICS_MX_H

#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"
#include "embeval/metrics.h"

/* A prepared view of one labelled set. */
typedef struct mx_set {
    const float *x;
    int64_t n, d;
    const int32_t *y;
    int32_t n_classes;
    float *inv;                  /* 1 / |x_i| (0 for a zero row)              */
    double *norm2;               /* |x_i|^2 in double                          */
    int64_t *cstart;             /* n_classes + 1 offsets into members        */
    int32_t *members;            /* row ids sorted by (class, row)            */
} mx_set;

/* Prepare (inverse norms, class index). `name` is used in messages. */
ev_status mx_set_init(mx_set *s, const ev_labeled_embeddings *v, int32_t n_classes,
                      const char *name, int threads, ev_err *e);
void mx_set_free(mx_set *s);

/* C[m x n] = A[m x k] * B[n x k]^T (row-major, leading dims). */
ev_status mx_gemm_nt(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float *c, int64_t ldc, ev_err *e);

int mx_threads(int requested);
/* Call first inside every parallel region that may call GEMM. */
void mx_thread_enter(void);

/* ---- RNG: xoshiro256** seeded by splitmix64 ---------------------------- */
typedef struct mx_rng {
    uint64_t s[4];
} mx_rng;
void mx_rng_seed(mx_rng *r, uint64_t seed, uint64_t stream);
uint64_t mx_rng_next(mx_rng *r);
/* Uniform integer in [0, n) (Lemire's method; n > 0). */
uint64_t mx_rng_below(mx_rng *r, uint64_t n);
/* Uniform double in [0, 1). */
double mx_rng_double(mx_rng *r);

/* ---- sorting ------------------------------------------------------------ */
/* Order-preserving key of a float for ascending order (-0.0 == +0.0). */
static inline uint32_t mx_float_key(float f)
{
    union {
        float f;
        uint32_t u;
    } v;
    v.f = f + 0.0f;              /* -0.0 becomes +0.0 */
    return (v.u & 0x80000000u) ? ~v.u : (v.u | 0x80000000u);
}
/* Stable sort of (score, id) pairs by score descending: equal scores keep
 * their input order. tmp_s/tmp_i hold n entries. */
void mx_sort_desc(float *score, int32_t *id, int64_t n, float *tmp_s, int32_t *tmp_i);

/* ---- per-item metric helpers ---------------------------------------------- */
void mx_metric_set(ev_metric *m, double v);
void mx_metric_undef(ev_metric *m, const char *reason);
/* Mean of the non-NaN entries (NaN when there are none), in index order. */
double mx_mean_skip_nan(const double *x, int64_t n, int64_t *count);

/* ---- module entry points (used by metrics.c) ----------------------------- */

/* The streaming similarity engine: queries q against gallery g (q == g and
 * self excluded when loo). Retrieval outputs are per query (NaN when
 * excluded); kNN outputs 0/1 per query. Any output pointer may be NULL to
 * skip that metric family. */
typedef struct mx_scan_out {
    /* retrieval */
    double *ap, *map_at_r, *r_precision;
    int n_ks;
    const int *ks;
    double *recall_at[EV_METRICS_MAX_K], *precision_at[EV_METRICS_MAX_K];
    int64_t n_excluded;
    /* kNN */
    int knn_k;
    double knn_t;
    uint8_t *knn1, *knn_top1, *knn_top5;
    /* mx_scan_topk only: screening precision (MX_SCREEN_AUTO: bf16 where
     * oneDNN has a fast bf16 matmul) and what it used */
    int screen;
    int screened_bf16;
    /* mx_scan_topk only: speculative first cuts from a gallery sample
     * (0 auto: galleries of 65536+ rows; -1 off; test hooks: 1 on with a
     * 1024-row sample, 2 on and deliberately too high, so queries restart)
     * and how many queries restarted */
    int spec_mode;
    int64_t spec_restarts;
} mx_scan_out;
enum {
    MX_SCREEN_AUTO = 0,
    MX_SCREEN_FP32 = 1,          /* float32 screening even where bf16 is fast */
    MX_SCREEN_PORTABLE = 2,      /* test hook: SSE2 scan loops, no AVX-512    */
    MX_SCREEN_NOGROW = 4         /* test hook: full buffers never grow (the
                                    exact-scoring rescue runs instead)        */
};
ev_status mx_scan(const mx_set *q, const mx_set *g, bool loo, mx_scan_out *o, int threads,
                  ev_progress_fn progress, void *user, const char *stage, ev_err *e);

/* What a scan output asks for: ranking metrics, and the kNN k (0: none). */
static inline bool mx_scan_wants_rank(const mx_scan_out *o)
{
    return o->ap || o->map_at_r || o->r_precision || o->n_ks > 0;
}
static inline int mx_scan_knn_k(const mx_scan_out *o)
{
    return (o->knn1 || o->knn_top1 || o->knn_top5) ? (o->knn_k > 0 ? o->knn_k : 1) : 0;
}

/* Query planning shared by the scans. Queries are taken in class order
 * (q->members). rel[t] = relevant gallery items of query q->members[t]
 * (same class, itself excluded when loo; 0 when !want_rank); returns the
 * number of queries without any when want_rank, else 0. */
int64_t mx_relevant_counts(const mx_set *q, const mx_set *g, bool loo, bool want_rank,
                           int64_t *rel);
/* Split n consecutive items into blocks of at most cap items whose weights
 * sum to at most budget (an item heavier than that gets a block of its
 * own). bstart receives nb + 1 offsets; returns nb. */
int64_t mx_blocks(const int64_t *weight, int64_t n, int cap, int64_t budget, int64_t *bstart);

/* Top-L variant (no full-ranking AP: o->ap must be NULL): exact R@K, P@K,
 * R-precision, MAP@R and kNN from each query's L best items, screened by a
 * bf16 GEMM with exact float32 re-scoring (lib/metrics/topk.c). */
ev_status mx_scan_topk(const mx_set *q, const mx_set *g, bool loo, mx_scan_out *o, int threads,
                       ev_progress_fn progress, void *user, const char *stage, ev_err *e);

/* kNN outcome of query qi from its hn best neighbours (scores hs, gallery
 * ids hi, best first; yq its class; cs/cid scratch of hn entries). */
void mx_knn_finalize(int32_t qi, int hn, const float *hs, const int32_t *hi, const mx_set *g,
                     int32_t yq, double T, double *cs, int32_t *cid, mx_scan_out *o);

/* Silhouette per item (s[i], NaN-free) over set s; returns the mean. */
ev_status mx_silhouette(const mx_set *s, ev_distance metric, int threads, double *item,
                        double *mean, ev_err *e);

ev_status mx_kmeans(const mx_set *s, int k, int restarts, int max_iter, uint64_t seed,
                    int threads, int32_t *assign, double *inertia, ev_err *e);

/* Linear probe: fit on train, top-1 accuracy on test. correct: test.n flags. */
ev_status mx_linear_probe(const mx_set *train, const mx_set *test, const ev_metrics_options *o,
                          int threads, uint8_t *correct, double *acc, double *chosen_c,
                          ev_err *e);

/* Bootstrap CIs of the means of m series over the same resampled items
 * (every series has n entries; NaN entries are skipped per series after the
 * first series' NaN pattern: callers pass series with equal NaN patterns). */
ev_status mx_bootstrap_multi(const double *const *series, int m, int64_t n, int resamples,
                             uint64_t seed, int threads, double *lo, double *hi, ev_err *e);

#endif
