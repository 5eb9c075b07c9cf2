/*
 * lib/report/report_internal.h — internals of the report subsystem (not
 * installed): the report handle, JSON builders shared by run/compare, and
 * small cJSON accessors.
 */
#ifndef EV_REPORT_INTERNAL_H
#define EV_REPORT_INTERNAL_H

#include <cjson/cJSON.h>

#include "common/util.h"
#include "embeval/bench.h"
#include "embeval/metrics.h"
#include "embeval/report.h"

#define EVR_SCHEMA "embeval.report"
#define EVR_ITEMS_SCHEMA "embeval.items"
#define EVR_ITEMS_FILE "report.items.json"
#define EVR_MAX_REPORT_BYTES ((size_t)1 << 30)

struct ev_report {
    cJSON *doc;                  /* the report document                       */
    cJSON *items;                /* the per-item sidecar document, or NULL    */
};

/* ---- builders ---------------------------------------------------------------- */
/* The object of `embeval metrics --json --per-class` (same keys). */
cJSON *evr_metrics_json(const ev_metrics_result *r, const ev_metrics_options *o, int64_t n, int64_t d,
                        int64_t n_train, int64_t n_gallery, const char *const *class_names);
/* Per-item vectors {"map": [...], "recall_at_1": [...], ...} of the eval rows. */
cJSON *evr_metrics_vectors(const ev_metrics_result *r, int64_t n);
/* The object of `embeval bench --json` for a run measurement. */
cJSON *evr_bench_json(const ev_bench_result *b, const char *engine);
/* Machine description (cpu, logical_cpus, isa, memory_mib, os, compiler). */
cJSON *evr_machine_json(void);

/* ---- accessors (NULL-safe) ---------------------------------------------------- */
/* Number at a dotted path ("bench.latency_ms.median"); NaN when missing/null. */
double evr_num(const cJSON *o, const char *path);
/* String member or "" */
const char *evr_str(const cJSON *o, const char *key);
/* Boolean member: 1, 0, or -1 when missing / null. */
int evr_bool(const cJSON *o, const char *key);
/* Item i of an array member, or NULL. */
cJSON *evr_at(const cJSON *o, const char *key, int i);
int evr_count(const cJSON *o, const char *key);

/* cJSON helpers that treat NaN/Inf as null. */
cJSON *evr_add_num(cJSON *o, const char *key, double v);
cJSON *evr_add_str(cJSON *o, const char *key, const char *s); /* NULL -> null */

/* The headline accuracy key "knn_<k>_accuracy" of a metrics object. */
void evr_knn_key(const cJSON *metrics, char *buf, size_t len);

/* Resolve a metric name of --fail-on / compare to a value of a result + its
 * model: metrics keys, "accuracy", or efficiency aliases (latency_p50, ...).
 * *higher_is_better is set; returns NaN if unavailable. */
double evr_metric_value(const cJSON *result, const cJSON *model, const char *name, int *higher_is_better,
                        int *is_quality);

/* Paired bootstrap of mean(a - b) over the items two sidecar results
 * (`{"items", "vectors"}`) share; *reverse (may be NULL) gets b - a.
 * Returns 0 when nothing can be paired. */
int evr_paired(const cJSON *res_a, const cJSON *res_b, const char *key, int resamples, uint64_t seed,
               ev_paired_result *out, ev_paired_result *reverse);

/* Write text to dir/name atomically. */
ev_status evr_write_text(const char *dir, const char *name, const char *text, ev_err *e);

#endif
