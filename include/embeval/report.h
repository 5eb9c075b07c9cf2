/*
 * embeval/report.h — evaluation runs and their reports.
 *
 * ev_run() evaluates several models on several datasets: for each dataset
 * and model it embeds the queries (and the train split used as kNN memory
 * and linear-probe training set) through the embedding cache, computes every
 * metric of docs/metrics.md, and measures the model's efficiency once
 * (embeval/bench.h). The result is a report document: a JSON tree whose
 * schema is docs/report-schema.md (machine-checkable:
 * docs/report.schema.json). Every output is rendered from that document:
 *
 *     ev_run_options o = ev_run_default_options();
 *     const char *models[] = {"models/fmnist_cnn.json", "models/pixels_28.json"};
 *     o.models = models;
 *     o.n_models = 2;                         // datasets: default fashion-mnist
 *     ev_report *r;
 *     char err[512];
 *     if (ev_run(&o, &r, err, sizeof err) != EV_OK) { ...; }
 *     char *table = ev_report_format_table(r, 0);
 *     fputs(table, stdout);
 *     free(table);
 *     ev_report_write(r, "out", EV_REPORT_ALL, err, sizeof err);
 *     ev_report_free(r);
 *
 * A model that fails (unreadable card, corrupt .onnx, unsupported op, a
 * model error while embedding) is recorded as failed with its error and the
 * run goes on with the others: ev_run itself fails only for problems that
 * concern every model (bad options, a dataset that cannot be opened, out of
 * memory). Progress goes through opt->progress; nothing is printed.
 *
 * Protocol per dataset: with a train split, the queries are a stratified
 * subset (`limit`) of the test split (else of the val split) and the kNN
 * memory / linear-probe training set a stratified subset (`train_limit`) of
 * the train split; retrieval, silhouette and k-means are computed on the
 * queries (leave-one-out retrieval among them). Without a train split every
 * metric is leave-one-out on a stratified subset of all items and there is
 * no linear probe.
 */
#ifndef EMBEVAL_REPORT_H
#define EMBEVAL_REPORT_H

#include "embeval/cache.h"
#include "embeval/common.h"
#include "embeval/image.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EV_REPORT_SCHEMA_VERSION 1

typedef struct ev_report ev_report;

/* ---- running an evaluation ------------------------------------------------- */

/* Progress of a run. Called from the thread that called ev_run. */
typedef struct ev_run_progress {
    int dataset, n_datasets;     /* 0-based index, count                       */
    const char *dataset_name;
    int model, n_models;         /* -1 while opening the dataset               */
    const char *model_name;      /* NULL while opening the dataset             */
    const char *phase;           /* "open", "embed queries", "embed memory",
                                    "metrics", "bench", "done", "failed"       */
    double fraction;             /* progress within the phase in [0,1], or -1  */
    int64_t done, total;         /* items for the embed phases, else 0         */
    int64_t cache_hits;          /* embed phases                               */
    double elapsed;              /* seconds since the phase started            */
    int phase_finished;          /* 1 on the last call of a phase              */
    const char *detail;          /* a metrics stage name, or the error of a
                                    "failed" phase; may be NULL                */
} ev_run_progress;

typedef void (*ev_run_progress_fn)(void *user, const ev_run_progress *p);

typedef struct ev_run_options {
    const char *const *models;   /* cards (.json) or bare .onnx files          */
    int n_models;                /* >= 1                                       */
    const char *const *datasets; /* dataset specs (embeval/dataset.h)          */
    int n_datasets;              /* 0: {"fashion-mnist"}                       */
    int64_t limit;               /* queries per dataset, 0 = all (default 2000) */
    int64_t train_limit;         /* memory items, 0 = all (default 3000)        */
    uint64_t seed;               /* subsets, bootstrap, k-means (default 0)    */
    int threads;                 /* engine / metrics threads, 0 = all cores    */
    int workers;                 /* decode threads, 0 = threads (or 2)         */
    int batch;                   /* embedding batch (default 32)               */
    ev_image_mode mode;          /* EV_IMAGE_EXACT by default                  */
    ev_cache *cache;             /* embedding cache, NULL = none               */
    const char *results_cache_dir; /* metric results keyed by the SHA-256 of
                                    their exact inputs (embeddings, labels,
                                    options) and of this build of embeval
                                    (its GNU build ID), so never stale;
                                    NULL = none                                */
    int bootstrap;               /* resamples for CIs (default 1000)           */
    int bench;                   /* 1: measure efficiency (default 1)          */
    int bench_warmup;            /* default 10                                 */
    int bench_runs;              /* default 50                                 */
    int bench_batch;             /* throughput batch (default 16)              */
    int bench_throughput_runs;   /* default 5                                  */
    int argc;                    /* the command line, recorded in the report   */
    const char *const *argv;
    ev_run_progress_fn progress;
    void *progress_user;
} ev_run_options;

EV_API ev_run_options ev_run_default_options(void);

/* Run the evaluation. On success *out is the report (free with
 * ev_report_free), even if every model failed (see ev_report_counts). */
EV_API ev_status ev_run(const ev_run_options *opt, ev_report **out, char *errbuf, size_t errlen);

/* The model cards (*.json holding "embeval_card" or "preprocess", excluding
 * *.train.json and models.json) in `dir`, sorted by file name. *paths is a
 * NULL-terminated malloc'd array (free with ev_model_list_free). Bare .onnx
 * files without a card are listed in *orphans (may be NULL) — ev_run would
 * need a card to preprocess them correctly. */
EV_API ev_status ev_model_list(const char *dir, char ***paths, int *n, char ***orphans, int *n_orphans,
                               char *errbuf, size_t errlen);
EV_API void ev_model_list_free(char **paths);

/* ---- the report document ----------------------------------------------------- */
EV_API void ev_report_free(ev_report *r);

/* Read report.json (and its per-item sidecar when present, for paired
 * tests). EV_ERR_FORMAT for invalid JSON or a document that is not an
 * embeval report; EV_ERR_UNSUPPORTED for a newer schema_version. */
EV_API ev_status ev_report_load(const char *path, ev_report **out, char *errbuf, size_t errlen);
/* Parse a report held in memory (no sidecar). */
EV_API ev_status ev_report_parse(const char *json, size_t len, const char *name, ev_report **out,
                                 char *errbuf, size_t errlen);

/* The document as JSON text (malloc'd; free()). NULL on allocation failure. */
EV_API char *ev_report_json(const ev_report *r);

typedef struct ev_report_counts {
    int models, datasets;
    int results_ok, results_failed; /* over datasets x models                  */
    int models_failed;           /* models with at least one failed result or
                                    a failed efficiency measurement            */
    int random_init;             /* models with random-init weights            */
} ev_report_counts;
EV_API void ev_report_counts_get(const ev_report *r, ev_report_counts *out);

/* Outputs. */
enum {
    EV_REPORT_OUT_JSON = 1u << 0,    /* report.json                            */
    EV_REPORT_OUT_ITEMS = 1u << 1,   /* report.items.json (per-item sidecar)   */
    EV_REPORT_OUT_MD = 1u << 2,      /* report.md                              */
    EV_REPORT_OUT_CSV = 1u << 3,     /* report.csv                             */
    EV_REPORT_OUT_HTML = 1u << 4,    /* report.html + charts/ (SVG)           */
    EV_REPORT_ALL = 0x1fu
};

/* Write the selected outputs into dir (created if missing), each atomically
 * (temporary file + rename). If the HTML renderer fails, the other files are
 * still written and the error is returned. */
EV_API ev_status ev_report_write(const ev_report *r, const char *dir, unsigned what, char *errbuf,
                                 size_t errlen);

/* Renderings (malloc'd UTF-8 text; free()). NULL on allocation failure.
 * The terminal table: per dataset, the seed article's columns (mAP, R@1,
 * R@5, Silhouette, Accuracy, Latency ms, Size MiB, License, Runs locally)
 * plus P@5 and linear-probe accuracy; notes; "how to choose"; with several
 * datasets, the mean rank. */
EV_API char *ev_report_format_table(const ev_report *r, unsigned flags);
EV_API char *ev_report_format_markdown(const ev_report *r);
EV_API char *ev_report_format_csv(const ev_report *r);

/* ---- comparing reports --------------------------------------------------------- */

/* A --fail-on specification: comma-separated "METRIC:LIMIT" terms. LIMIT is
 * a signed number, optionally with '%': "-0.01" fails when the metric drops
 * by more than 0.01 (absolute), "+10%" when it rises by more than 10% of the
 * baseline. METRIC is a metrics key of the report (map, recall_at_1,
 * knn_20_accuracy, linear_probe_accuracy, silhouette, ...), "accuracy" (the
 * headline weighted kNN accuracy), or an efficiency key: latency_p50,
 * latency_p90, latency_p99, latency_min, throughput, load_ms, peak_rss_mib,
 * size_mib, params, macs. */
EV_API ev_status ev_fail_on_validate(const char *spec, char *errbuf, size_t errlen);

typedef struct ev_compare_options {
    int bootstrap;               /* paired bootstrap resamples (default 1000)  */
    uint64_t seed;
    const char *fail_on;         /* NULL = no thresholds                       */
    int json;                    /* 1: *text_out is JSON instead of a table    */
} ev_compare_options;

EV_API ev_compare_options ev_compare_default_options(void);

/* Compare reports[1..n) against reports[0] (the baseline): per dataset
 * (matched by name) and model (matched by name), the metric and efficiency
 * values side by side with their differences, and, where both reports share
 * the dataset fingerprint and have per-item sidecars, a paired bootstrap
 * two-sided p-value for each quality difference. With opt->fail_on,
 * *crossed is the number of thresholds crossed (the text lists them).
 * names label the reports (e.g. their paths). */
EV_API ev_status ev_report_compare(const ev_report *const *reports, const char *const *names, int n,
                                   const ev_compare_options *opt, char **text_out, int *crossed,
                                   char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
