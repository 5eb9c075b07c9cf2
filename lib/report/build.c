/* lib/report/build.c — JSON builders and accessors for the report document
 * (docs/report-schema.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "report/report_internal.h"

cJSON *evr_add_num(cJSON *o, const char *key, double v)
{
    if (!isfinite(v)) return cJSON_AddNullToObject(o, key);
    return cJSON_AddNumberToObject(o, key, v);
}

cJSON *evr_add_str(cJSON *o, const char *key, const char *s)
{
    if (!s) return cJSON_AddNullToObject(o, key);
    return cJSON_AddStringToObject(o, key, s);
}

static void add_metric(cJSON *o, const char *key, const ev_metric *m)
{
    evr_add_num(o, key, m->defined ? m->value : NAN);
}

cJSON *evr_metrics_json(const ev_metrics_result *r, const ev_metrics_options *o, int64_t n, int64_t d,
                        int64_t n_train, int64_t n_gallery, const char *const *class_names)
{
    ev_named_metric m[EV_METRICS_MAX_NAMED];
    int nm = ev_metrics_named(r, m);
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddNumberToObject(j, "n_items", (double)n);
    cJSON_AddNumberToObject(j, "dim", (double)d);
    cJSON_AddNumberToObject(j, "n_classes", r->n_classes);
    cJSON_AddNumberToObject(j, "n_train", (double)n_train);
    cJSON_AddNumberToObject(j, "n_gallery", (double)n_gallery);
    cJSON_AddStringToObject(j, "protocol", r->query_gallery ? "query-gallery" : "leave-one-out");
    cJSON_AddStringToObject(j, "knn_protocol", r->knn_leave_one_out ? "leave-one-out" : "train-test");
    cJSON_AddNumberToObject(j, "n_queries", (double)r->n_queries);
    cJSON_AddNumberToObject(j, "n_excluded", (double)r->n_excluded);
    for (int i = 0; i < nm; i++) add_metric(j, m[i].key, m[i].m);
    cJSON_AddStringToObject(j, "silhouette_metric",
                            r->silhouette_metric == EV_DISTANCE_EUCLIDEAN ? "euclidean" : "cosine");
    cJSON_AddNumberToObject(j, "silhouette_n", (double)r->silhouette_n);
    cJSON_AddNumberToObject(j, "knn_k", r->knn_k);
    evr_add_num(j, "knn_temperature", o->knn_temperature);
    evr_add_num(j, "linear_probe_c", r->linear_probe_c);
    cJSON_AddNumberToObject(j, "kmeans_k", r->kmeans_k);
    evr_add_num(j, "kmeans_inertia", r->kmeans_inertia);
    cJSON_AddNumberToObject(j, "bootstrap", o->bootstrap);
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    cJSON_AddNumberToObject(j, "zero_vectors", (double)r->n_zero_vectors);
    cJSON *ci = cJSON_AddObjectToObject(j, "ci95");
    cJSON *reason = cJSON_AddObjectToObject(j, "reason");
    for (int i = 0; i < nm; i++) {
        if (m[i].m->defined && m[i].m->has_ci && isfinite(m[i].m->ci_low) && isfinite(m[i].m->ci_high)) {
            double v[2] = {m[i].m->ci_low, m[i].m->ci_high};
            cJSON_AddItemToObject(ci, m[i].key, cJSON_CreateDoubleArray(v, 2));
        }
        if (!m[i].m->defined) cJSON_AddStringToObject(reason, m[i].key, m[i].m->reason ? m[i].m->reason : "");
    }
    cJSON *pcs = cJSON_AddArrayToObject(j, "per_class");
    for (int32_t c = 0; r->per_class && c < r->n_classes; c++) {
        const ev_class_metrics *pc = &r->per_class[c];
        cJSON *o1 = cJSON_CreateObject();
        if (!o1) break;
        cJSON_AddItemToArray(pcs, o1);
        char fallback[16];
        snprintf(fallback, sizeof fallback, "%d", (int)c);
        cJSON_AddStringToObject(o1, "label", class_names && class_names[c] ? class_names[c] : fallback);
        cJSON_AddNumberToObject(o1, "n_items", (double)pc->n_items);
        cJSON_AddNumberToObject(o1, "n_queries", (double)pc->n_queries);
        add_metric(o1, "map", &pc->map);
        add_metric(o1, "map_at_r", &pc->map_at_r);
        add_metric(o1, "r_precision", &pc->r_precision);
        char key[48];
        for (int k = 0; k < r->n_ks; k++) {
            snprintf(key, sizeof key, "recall_at_%d", r->ks[k]);
            add_metric(o1, key, &pc->recall_at[k]);
        }
        for (int k = 0; k < r->n_ks; k++) {
            snprintf(key, sizeof key, "precision_at_%d", r->ks[k]);
            add_metric(o1, key, &pc->precision_at[k]);
        }
        snprintf(key, sizeof key, "knn_%d_accuracy", r->knn_k);
        add_metric(o1, key, &pc->knn_accuracy);
        add_metric(o1, "silhouette", &pc->silhouette);
    }
    return j;
}

/* 6 significant digits are plenty for a per-item value and keep the sidecar
 * small. */
static double round6(double v)
{
    if (!isfinite(v) || v == 0) return v;
    char b[32];
    snprintf(b, sizeof b, "%.6g", v);
    return strtod(b, NULL);
}

static cJSON *vec_d(const double *v, int64_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, isfinite(v[i]) ? cJSON_CreateNumber(round6(v[i])) : cJSON_CreateNull());
    return a;
}

static cJSON *vec_u8(const uint8_t *v, int64_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i] ? 1 : 0));
    return a;
}

cJSON *evr_metrics_vectors(const ev_metrics_result *r, int64_t n)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char key[48];
    if (r->item_ap && r->map.defined) cJSON_AddItemToObject(o, "map", vec_d(r->item_ap, n));
    if (r->item_map_at_r && r->map_at_r.defined) cJSON_AddItemToObject(o, "map_at_r", vec_d(r->item_map_at_r, n));
    if (r->item_r_precision && r->r_precision.defined)
        cJSON_AddItemToObject(o, "r_precision", vec_d(r->item_r_precision, n));
    for (int k = 0; k < r->n_ks; k++) {
        if (r->item_recall_at[k] && r->recall_at[k].defined) {
            snprintf(key, sizeof key, "recall_at_%d", r->ks[k]);
            cJSON_AddItemToObject(o, key, vec_d(r->item_recall_at[k], n));
        }
        if (r->item_precision_at[k] && r->precision_at[k].defined) {
            snprintf(key, sizeof key, "precision_at_%d", r->ks[k]);
            cJSON_AddItemToObject(o, key, vec_d(r->item_precision_at[k], n));
        }
    }
    if (r->item_knn1_correct && r->knn1_accuracy.defined)
        cJSON_AddItemToObject(o, "knn_1_accuracy", vec_u8(r->item_knn1_correct, n));
    if (r->item_knn_correct && r->knn_accuracy.defined) {
        snprintf(key, sizeof key, "knn_%d_accuracy", r->knn_k);
        cJSON_AddItemToObject(o, key, vec_u8(r->item_knn_correct, n));
    }
    if (r->item_knn_top5_correct && r->knn_top5_accuracy.defined) {
        snprintf(key, sizeof key, "knn_%d_top5_accuracy", r->knn_k);
        cJSON_AddItemToObject(o, key, vec_u8(r->item_knn_top5_correct, n));
    }
    if (r->item_probe_correct && r->linear_probe_accuracy.defined)
        cJSON_AddItemToObject(o, "linear_probe_accuracy", vec_u8(r->item_probe_correct, n));
    return o;
}

static void add_stats(cJSON *o, const char *key, const ev_bench_stats *s, int full)
{
    cJSON *l = cJSON_AddObjectToObject(o, key);
    evr_add_num(l, "median", s->median);
    if (full) {
        evr_add_num(l, "p90", s->p90);
        evr_add_num(l, "p99", s->p99);
    }
    evr_add_num(l, "min", s->min);
}

cJSON *evr_bench_json(const ev_bench_result *b, const char *engine)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "engine", engine ? engine : (b->reference_only ? "reference" : "fast"));
    cJSON_AddStringToObject(j, "precision", b->precision == EV_PRECISION_BF16 ? "bf16" : "fp32");
    cJSON_AddNumberToObject(j, "threads", b->threads);
    cJSON_AddNumberToObject(j, "warmup", b->warmup);
    cJSON_AddNumberToObject(j, "runs", b->runs);
    /* the keys of `embeval bench --json`: latency at latency_batch, "batch"
     * and "batch_ms" are the throughput batch B and its run times */
    cJSON_AddNumberToObject(j, "latency_batch", b->batch);
    add_stats(j, "latency_ms", &b->latency_ms, 1);
    cJSON_AddNumberToObject(j, "batch", b->throughput_batch);
    add_stats(j, "batch_ms", &b->throughput_batch_ms, 0);
    cJSON_AddNumberToObject(j, "throughput_batch", b->throughput_batch);
    evr_add_num(j, "throughput_ips", b->throughput_ips);
    evr_add_num(j, "load_ms", b->load_ms);
    evr_add_num(j, "peak_rss_mib", b->peak_rss_mib);
    evr_add_num(j, "rss_before_mib", b->rss_before_mib);
    cJSON_AddBoolToObject(j, "peak_rss_reset", b->peak_rss_reset);
    evr_add_num(j, "size_mib", b->size_mib);
    cJSON_AddNumberToObject(j, "params", (double)b->params);
    evr_add_num(j, "macs", b->macs);
    evr_add_num(j, "arena_mib", b->arena_mib);
    if (isfinite(b->cosine_vs_fp32)) cJSON_AddNumberToObject(j, "cosine_vs_fp32", b->cosine_vs_fp32);
    if (isfinite(b->other_cpu_share)) cJSON_AddNumberToObject(j, "other_cpu_share", b->other_cpu_share);
    return j;
}

cJSON *evr_machine_json(void)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    char cpu[256] = "unknown";
    char flags[8192] = "";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[8192];
        int got_cpu = 0, got_flags = 0;
        while (fgets(line, sizeof line, f) && !(got_cpu && got_flags)) {
            char *c = strchr(line, ':');
            if (!c) continue;
            char *v = c + 1;
            while (*v == ' ') v++;
            v[strcspn(v, "\n")] = 0;
            if (!got_cpu && !strncmp(line, "model name", 10)) {
                snprintf(cpu, sizeof cpu, "%s", v);
                got_cpu = 1;
            } else if (!got_flags && !strncmp(line, "flags", 5)) {
                snprintf(flags, sizeof flags, " %s ", v);
                got_flags = 1;
            }
        }
        fclose(f);
    }
    cJSON_AddStringToObject(j, "cpu", cpu);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cJSON_AddNumberToObject(j, "logical_cpus", ncpu > 0 ? (double)ncpu : 1);
    cJSON *isa = cJSON_AddArrayToObject(j, "isa");
    static const char *const want[][2] = {{"avx2", "avx2"},
                                         {"fma", "fma"},
                                         {"avx512f", "avx512f"},
                                         {"avx512bw", "avx512bw"},
                                         {"avx512vl", "avx512vl"},
                                         {"avx512_vnni", "avx512_vnni"},
                                         {"avx512_bf16", "avx512_bf16"},
                                         {"amx_bf16", "amx_bf16"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char pat[64];
        snprintf(pat, sizeof pat, " %s ", want[i][0]);
        if (strstr(flags, pat)) cJSON_AddItemToArray(isa, cJSON_CreateString(want[i][1]));
    }
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    evr_add_num(j, "memory_mib", pages > 0 && psize > 0 ? (double)pages * (double)psize / 1048576.0 : NAN);
    struct utsname u;
    char os[3 * 65 + 4] = "unknown";
    if (uname(&u) == 0) snprintf(os, sizeof os, "%s %s %s", u.sysname, u.release, u.machine);
    cJSON_AddStringToObject(j, "os", os);
#if defined(__clang__)
    cJSON_AddStringToObject(j, "compiler", "clang " __clang_version__);
#elif defined(__GNUC__)
    cJSON_AddStringToObject(j, "compiler", "gcc " __VERSION__);
#else
    cJSON_AddStringToObject(j, "compiler", "unknown");
#endif
    return j;
}

/* ---- accessors ---------------------------------------------------------------- */
double evr_num(const cJSON *o, const char *path)
{
    char key[128];
    const char *p = path;
    while (o && *p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l >= sizeof key) return NAN;
        memcpy(key, p, l);
        key[l] = 0;
        o = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
        p = dot ? dot + 1 : p + l;
    }
    return o && cJSON_IsNumber(o) ? o->valuedouble : NAN;
}

const char *evr_str(const cJSON *o, const char *key)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

int evr_bool(const cJSON *o, const char *key)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    if (cJSON_IsTrue(v)) return 1;
    if (cJSON_IsFalse(v)) return 0;
    return -1;
}

cJSON *evr_at(const cJSON *o, const char *key, int i)
{
    const cJSON *a = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return cJSON_IsArray(a) ? cJSON_GetArrayItem(a, i) : NULL;
}

int evr_count(const cJSON *o, const char *key)
{
    const cJSON *a = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
}

void evr_knn_key(const cJSON *metrics, char *buf, size_t len)
{
    double k = evr_num(metrics, "knn_k");
    snprintf(buf, len, "knn_%d_accuracy", isfinite(k) && k >= 1 && k < 1e6 ? (int)k : 20);
}

typedef struct alias {
    const char *name, *path;
    int higher_better;
} alias;

static const alias eff_alias[] = {
    {"latency_p50", "bench.latency_ms.median", 0}, {"latency_median", "bench.latency_ms.median", 0},
    {"latency_p90", "bench.latency_ms.p90", 0},    {"latency_p99", "bench.latency_ms.p99", 0},
    {"latency_min", "bench.latency_ms.min", 0},    {"throughput", "bench.throughput_ips", 1},
    {"throughput_ips", "bench.throughput_ips", 1}, {"load_ms", "bench.load_ms", 0},
    {"peak_rss_mib", "bench.peak_rss_mib", 0},     {"size_mib", "bench.size_mib", 0},
    {"params", "bench.params", 0},                 {"macs", "bench.macs", 0},
};

double evr_metric_value(const cJSON *result, const cJSON *model, const char *name, int *higher_is_better,
                        int *is_quality)
{
    int hb = 1, q = 1;
    double v = NAN;
    for (size_t i = 0; i < sizeof eff_alias / sizeof eff_alias[0]; i++) {
        if (!strcmp(name, eff_alias[i].name)) {
            hb = eff_alias[i].higher_better;
            q = 0;
            v = evr_num(model, eff_alias[i].path);
            goto out;
        }
    }
    const cJSON *m = result ? cJSON_GetObjectItemCaseSensitive(result, "metrics") : NULL;
    char key[64];
    if (!strcmp(name, "accuracy")) evr_knn_key(m, key, sizeof key);
    else snprintf(key, sizeof key, "%s", name);
    v = evr_num(m, key);
out:
    if (higher_is_better) *higher_is_better = hb;
    if (is_quality) *is_quality = q;
    return v;
}

ev_status evr_write_text(const char *dir, const char *name, const char *text, ev_err *e)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p) return ev_err_set(e, EV_ERR_NOMEM, "out of memory");
    snprintf(p, n, "%s/%s", dir, name);
    ev_status st = ev_write_file_atomic(p, text, strlen(text), e);
    free(p);
    return st;
}
