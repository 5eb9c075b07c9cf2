/* src/cmd_metrics.c — `embeval metrics`: quality metrics of labelled embeddings. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

const char ev_cmd_metrics_summary[] = "retrieval, clustering and kNN/linear-probe metrics of embeddings";

static const char usage_text[] =
    "Usage: embeval metrics --embeddings E.npy --labels L.txt [options]\n"
    "\n"
    "Compute embedding-quality metrics (definitions: docs/metrics.md) of labelled\n"
    "embeddings: retrieval (mAP, Recall@K hit-rate, Precision@K, R-precision,\n"
    "MAP@R), silhouette, k-means NMI/ARI, kNN accuracy (1-NN and weighted k-NN)\n"
    "and a linear probe, with 95% bootstrap confidence intervals.\n"
    "\n"
    "Input (.npy: float32 or float64, shape [N, D], C order; labels: one UTF-8\n"
    "label per line, same order as the rows):\n"
    "  --embeddings FILE          embeddings to evaluate (queries / test items)\n"
    "  --labels FILE              their labels\n"
    "  --train-embeddings FILE    train split: memory of the kNN classifier and\n"
    "  --train-labels FILE          training set of the linear probe (without it,\n"
    "                             kNN is leave-one-out and there is no linear probe)\n"
    "  --gallery-embeddings FILE  retrieval gallery: every eval item is a query\n"
    "  --gallery-labels FILE        against it (default: leave-one-out, the gallery\n"
    "                             of a query is every other eval item)\n"
    "\n"
    "Metrics:\n"
    "  --metrics LIST             comma-separated subset of retrieval, silhouette,\n"
    "                             knn, linear-probe, kmeans (default: all), or\n"
    "                             topk: retrieval without the full-ranking mAP\n"
    "                             (R@K, P@K, R-precision, MAP@R, exact, from each\n"
    "                             query's best items; for millions of items)\n"
    "  --k LIST                   K values of Recall@K and Precision@K (default\n"
    "                             1,5,10; at most 16)\n"
    "  --silhouette-metric M      cosine (default) or euclidean\n"
    "  --silhouette-sample N      silhouette of N items drawn with --seed instead\n"
    "                             of all items (default 0 = exact, all items)\n"
    "  --knn-k K                  neighbours in the weighted vote (default 20)\n"
    "  --knn-temperature T        vote weight exp(similarity / T) (default 0.07)\n"
    "  --kmeans-restarts N        k-means++ restarts, best inertia kept (default 3)\n"
    "  --kmeans-max-iter N        Lloyd iterations per restart (default 100)\n"
    "  --kmeans-assignments-out F write each eval row's k-means cluster id to F\n"
    "                             (.npy int32 if F ends in .npy, else one per line)\n"
    "  --probe-c LIST             linear-probe C grid (default\n"
    "                             0.001,0.01,0.1,1,10,100,1000)\n"
    "  --probe-val-fraction F     stratified validation share of the train split\n"
    "                             used to choose C (default 0.2)\n"
    "  --probe-sweep-max N        the C sweep fits on at most N train rows (even\n"
    "                             per-class thinning; default 20000, 0 = all);\n"
    "                             the final refit always uses the whole split\n"
    "  --bootstrap N              resamples for the 95% intervals (default 1000;\n"
    "                             0 = no intervals)\n"
    "  --seed S                   seed of bootstrap, sampling, k-means and the\n"
    "                             validation split (default 0)\n"
    "\n"
    "Output:\n"
    "  --json                     JSON object on stdout (keys: docs/metrics.md)\n"
    "  --output FILE              write the report to FILE instead of stdout\n"
    "  --per-class                add a per-class breakdown\n"
    "  --threads N                worker threads (default: all cores)\n"
    "  -q, --quiet                no warnings or progress\n"
    "  -v, --verbose              more messages\n"
    "  -h, --help                 show this help\n"
    "\n"
    "Undefined metrics (e.g. silhouette with a single class, linear probe without\n"
    "a train split) are reported as n/a (JSON null) with a reason.\n"
    "\n"
    "Exit codes: 0 ok, 1 runtime failure (e.g. cannot write output), 2 usage\n"
    "error, 3 invalid input (unreadable .npy, wrong dtype or shape, NaN/Inf rows,\n"
    "label count mismatch, empty file, a single class, no class with 2 items).\n";

/* ---- labels ---------------------------------------------------------------- */
#define MAX_LABEL_FILE ((long)1 << 30)

typedef struct labels {
    char *buf;
    char **line;
    int64_t n;
    int32_t *id;
} labels;

static void labels_free(labels *l)
{
    free(l->buf);
    free(l->line);
    free(l->id);
    memset(l, 0, sizeof *l);
}

static int utf8_valid(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s;
        int n;
        if (c < 0x80) n = 0;
        else if ((c & 0xe0) == 0xc0 && c >= 0xc2) n = 1;
        else if ((c & 0xf0) == 0xe0) n = 2;
        else if ((c & 0xf8) == 0xf0 && c <= 0xf4) n = 3;
        else return 0;
        s++;
        for (int i = 0; i < n; i++, s++)
            if ((*s & 0xc0) != 0x80) return 0;
    }
    return 1;
}

/* Returns an exit code (0 = ok); prints the error. */
static int labels_read(const char *path, labels *l)
{
    memset(l, 0, sizeof *l);
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("cannot open labels file: %s (%s)", strerror(errno), path);
        return EV_EXIT_INPUT;
    }
    struct stat fst;
    if (fstat(fileno(f), &fst) == 0 && S_ISDIR(fst.st_mode)) {
        fclose(f);
        cli_error("%s is a directory, expected a labels file", path);
        return EV_EXIT_INPUT;
    }
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        cli_error("cannot read labels file (%s)", path);
        return EV_EXIT_INPUT;
    }
    if (size > MAX_LABEL_FILE) {
        fclose(f);
        cli_error("labels file is larger than 1 GiB (%s)", path);
        return EV_EXIT_INPUT;
    }
    l->buf = malloc((size_t)size + 1);
    if (!l->buf) {
        fclose(f);
        cli_error("out of memory reading labels (%s)", path);
        return EV_EXIT_RUNTIME;
    }
    size_t got = fread(l->buf, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        cli_error("short read of labels file (%s)", path);
        return EV_EXIT_INPUT;
    }
    l->buf[size] = 0;
    if (memchr(l->buf, 0, (size_t)size)) {
        cli_error("labels file contains NUL bytes, expected UTF-8 text (%s)", path);
        return EV_EXIT_INPUT;
    }
    char *p = l->buf;
    if ((unsigned char)p[0] == 0xef && (unsigned char)p[1] == 0xbb && (unsigned char)p[2] == 0xbf)
        p += 3; /* UTF-8 byte order mark */
    int64_t nl = 1;
    for (char *q = p; *q; q++) nl += *q == '\n';
    l->line = malloc((size_t)nl * sizeof *l->line);
    if (!l->line) {
        cli_error("out of memory reading labels (%s)", path);
        return EV_EXIT_RUNTIME;
    }
    int64_t n = 0, lineno = 0;
    while (*p) {
        char *e = strchr(p, '\n');
        char *next = e ? e + 1 : p + strlen(p);
        if (e) *e = 0;
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r') p[--len] = 0;
        lineno++;
        if (len == 0) {
            cli_error("empty label on line %lld (%s)", (long long)lineno, path);
            return EV_EXIT_INPUT;
        }
        if (!utf8_valid((const unsigned char *)p)) {
            cli_error("invalid UTF-8 on line %lld (%s)", (long long)lineno, path);
            return EV_EXIT_INPUT;
        }
        l->line[n++] = p;
        p = next;
    }
    if (n == 0) {
        cli_error("labels file is empty (%s)", path);
        return EV_EXIT_INPUT;
    }
    l->n = n;
    return 0;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Map the labels of every set to ids of the sorted distinct names. */
static int labels_map(labels *sets[], int nsets, char ***names_out, int32_t *n_out)
{
    int64_t tot = 0;
    for (int s = 0; s < nsets; s++)
        if (sets[s]) tot += sets[s]->n;
    char **all = malloc((size_t)tot * sizeof *all);
    if (!all) return 0;
    int64_t k = 0;
    for (int s = 0; s < nsets; s++)
        if (sets[s])
            for (int64_t i = 0; i < sets[s]->n; i++) all[k++] = sets[s]->line[i];
    qsort(all, (size_t)tot, sizeof *all, str_cmp);
    int64_t u = 0;
    for (int64_t i = 0; i < tot; i++)
        if (u == 0 || strcmp(all[u - 1], all[i]) != 0) all[u++] = all[i];
    if (u > INT32_MAX) {
        free(all);
        return 0;
    }
    for (int s = 0; s < nsets; s++) {
        if (!sets[s]) continue;
        sets[s]->id = malloc((size_t)sets[s]->n * sizeof(int32_t));
        if (!sets[s]->id) {
            free(all);
            return 0;
        }
        for (int64_t i = 0; i < sets[s]->n; i++) {
            char **hit = bsearch(&sets[s]->line[i], all, (size_t)u, sizeof *all, str_cmp);
            sets[s]->id[i] = (int32_t)(hit - all);
        }
    }
    *names_out = all;
    *n_out = (int32_t)u;
    return 1;
}

/* ---- embeddings ----------------------------------------------------------- */
static int load_embeddings(const char *path, ev_array *a)
{
    char err[512];
    ev_status st = ev_npy_read(path, EV_DT_FLOAT, a, err, sizeof err);
    if (st != EV_OK) {
        cli_error("%s", err[0] ? err : ev_strerror(st));
        return st == EV_ERR_IO ? EV_EXIT_INPUT : cli_exit_code(st);
    }
    if (a->rank != 2) {
        char shape[128] = "";
        size_t o = 0;
        for (int i = 0; i < a->rank && o < sizeof shape; i++)
            o += (size_t)snprintf(shape + o, sizeof shape - o, i ? ", %lld" : "%lld",
                                  (long long)a->dims[i]);
        cli_error("expected a 2-D array [N, D] of embeddings, got shape (%s) (%s)", shape, path);
        return EV_EXIT_INPUT;
    }
    if (a->dims[0] == 0) {
        cli_error("no embeddings: the array has 0 rows (%s)", path);
        return EV_EXIT_INPUT;
    }
    if (a->dims[1] == 0) {
        cli_error("embeddings have 0 dimensions (%s)", path);
        return EV_EXIT_INPUT;
    }
    return 0;
}

/* ---- option lists ------------------------------------------------------------ */
static int parse_int_list(const char *s, int *out, int max, int64_t lo, int64_t hi, int *n)
{
    char buf[512];
    if (!s || strlen(s) >= sizeof buf) return 0;
    snprintf(buf, sizeof buf, "%s", s);
    *n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int64_t v;
        if (*n >= max || !cli_parse_int(t, lo, hi, &v)) return 0;
        out[(*n)++] = (int)v;
    }
    return *n > 0;
}

static int parse_double_list(const char *s, double *out, int max, int *n)
{
    char buf[512];
    if (!s || strlen(s) >= sizeof buf) return 0;
    snprintf(buf, sizeof buf, "%s", s);
    *n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        double v;
        if (*n >= max || !cli_parse_double(t, &v) || !(v > 0)) return 0;
        out[(*n)++] = v;
    }
    return *n > 0;
}

static int parse_metrics(const char *s, unsigned *what)
{
    char buf[256];
    if (!s || strlen(s) >= sizeof buf) return 0;
    snprintf(buf, sizeof buf, "%s", s);
    *what = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "retrieval")) *what |= EV_METRIC_RETRIEVAL;
        else if (!strcmp(t, "silhouette")) *what |= EV_METRIC_SILHOUETTE;
        else if (!strcmp(t, "knn")) *what |= EV_METRIC_KNN;
        else if (!strcmp(t, "linear-probe")) *what |= EV_METRIC_LINEAR_PROBE;
        else if (!strcmp(t, "kmeans")) *what |= EV_METRIC_KMEANS;
        else if (!strcmp(t, "topk")) *what |= EV_METRIC_RETRIEVAL_TOPK;
        else if (!strcmp(t, "all")) *what |= EV_METRIC_ALL;
        else return 0;
    }
    return *what != 0;
}

/* ---- progress ----------------------------------------------------------------- */
typedef struct prog {
    int tty;
    int last;
    const char *stage;
} prog;

static void on_progress(void *user, const char *stage, double f)
{
    prog *p = user;
    int pct = (int)(f * 100 + 0.5);
    if (!p->tty) return;
    if (p->stage == stage && pct == p->last) return;
    p->stage = stage;
    p->last = pct;
    fprintf(stderr, "\r  %-14s %3d%%", stage, pct);
    if (pct >= 100) fprintf(stderr, "\r%30s\r", "");
    fflush(stderr);
}

/* ---- output --------------------------------------------------------------------- */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p == '\r') fputs("\\r", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

/* Shortest of %.15g / %.17g that reads back as the same double. */
static void json_num(FILE *f, double v)
{
    if (!isfinite(v)) {
        fputs("null", f);
        return;
    }
    char b[40];
    snprintf(b, sizeof b, "%.15g", v);
    if (strtod(b, NULL) != v) snprintf(b, sizeof b, "%.17g", v);
    fputs(b, f);
}

static void write_json(FILE *f, const ev_metrics_result *r, const ev_metrics_options *o,
                       int64_t n, int64_t d, int64_t ntrain, int64_t ngal, char **names,
                       int per_class)
{
    ev_named_metric m[EV_METRICS_MAX_NAMED];
    int nm = ev_metrics_named(r, m);
    fprintf(f, "{\n  \"n_items\": %lld,\n  \"dim\": %lld,\n  \"n_classes\": %d,\n", (long long)n,
            (long long)d, (int)r->n_classes);
    fprintf(f, "  \"n_train\": %lld,\n  \"n_gallery\": %lld,\n", (long long)ntrain,
            (long long)ngal);
    fprintf(f, "  \"protocol\": \"%s\",\n", r->query_gallery ? "query-gallery" : "leave-one-out");
    fprintf(f, "  \"knn_protocol\": \"%s\",\n",
            r->knn_leave_one_out ? "leave-one-out" : "train-test");
    fprintf(f, "  \"n_queries\": %lld,\n  \"n_excluded\": %lld,\n", (long long)r->n_queries,
            (long long)r->n_excluded);
    for (int i = 0; i < nm; i++) {
        fprintf(f, "  \"%s\": ", m[i].key);
        if (m[i].m->defined) json_num(f, m[i].m->value);
        else fputs("null", f);
        fputs(",\n", f);
    }
    fprintf(f, "  \"silhouette_metric\": \"%s\",\n  \"silhouette_n\": %lld,\n",
            r->silhouette_metric == EV_DISTANCE_EUCLIDEAN ? "euclidean" : "cosine",
            (long long)r->silhouette_n);
    fprintf(f, "  \"knn_k\": %d,\n  \"knn_temperature\": ", r->knn_k);
    json_num(f, o->knn_temperature);
    fputs(",\n  \"linear_probe_c\": ", f);
    json_num(f, r->linear_probe_c);
    fprintf(f, ",\n  \"kmeans_k\": %d,\n  \"kmeans_inertia\": ", r->kmeans_k);
    json_num(f, r->kmeans_inertia);
    fprintf(f, ",\n  \"bootstrap\": %d,\n  \"seed\": %llu,\n  \"zero_vectors\": %lld,\n",
            o->bootstrap, (unsigned long long)o->seed, (long long)r->n_zero_vectors);
    fputs("  \"ci95\": {", f);
    int first = 1;
    for (int i = 0; i < nm; i++) {
        if (!m[i].m->defined || !m[i].m->has_ci) continue;
        fprintf(f, "%s\n    \"%s\": [", first ? "" : ",", m[i].key);
        json_num(f, m[i].m->ci_low);
        fputs(", ", f);
        json_num(f, m[i].m->ci_high);
        fputs("]", f);
        first = 0;
    }
    fputs(first ? "},\n" : "\n  },\n", f);
    fputs("  \"reason\": {", f);
    first = 1;
    for (int i = 0; i < nm; i++) {
        if (m[i].m->defined) continue;
        fprintf(f, "%s\n    \"%s\": ", first ? "" : ",", m[i].key);
        json_str(f, m[i].m->reason);
        first = 0;
    }
    fputs(first ? "}" : "\n  }", f);
    if (per_class) {
        fputs(",\n  \"per_class\": [", f);
        for (int32_t c = 0; c < r->n_classes; c++) {
            const ev_class_metrics *pc = &r->per_class[c];
            fprintf(f, "%s\n    {\"label\": ", c ? "," : "");
            json_str(f, names[c]);
            fprintf(f, ", \"n_items\": %lld, \"n_queries\": %lld", (long long)pc->n_items,
                    (long long)pc->n_queries);
            const ev_metric *pm[4 + 2 * EV_METRICS_MAX_K];
            char keys[4 + 2 * EV_METRICS_MAX_K][40];
            int np = 0;
            snprintf(keys[np], 40, "map"), pm[np++] = &pc->map;
            snprintf(keys[np], 40, "map_at_r"), pm[np++] = &pc->map_at_r;
            snprintf(keys[np], 40, "r_precision"), pm[np++] = &pc->r_precision;
            for (int k = 0; k < r->n_ks; k++) {
                snprintf(keys[np], 40, "recall_at_%d", r->ks[k]);
                pm[np++] = &pc->recall_at[k];
            }
            for (int k = 0; k < r->n_ks; k++) {
                snprintf(keys[np], 40, "precision_at_%d", r->ks[k]);
                pm[np++] = &pc->precision_at[k];
            }
            snprintf(keys[np], 40, "knn_%d_accuracy", r->knn_k);
            pm[np++] = &pc->knn_accuracy;
            snprintf(keys[np], 40, "silhouette");
            pm[np++] = &pc->silhouette;
            for (int j = 0; j < np; j++) {
                fprintf(f, ", \"%s\": ", keys[j]);
                if (pm[j]->defined) json_num(f, pm[j]->value);
                else fputs("null", f);
            }
            fputs("}", f);
        }
        fputs("\n  ]", f);
    }
    fputs("\n}\n", f);
}

static void write_table(FILE *f, const ev_metrics_result *r, int64_t n, int64_t d, char **names,
                        int per_class)
{
    ev_named_metric m[EV_METRICS_MAX_NAMED];
    int nm = ev_metrics_named(r, m);
    fprintf(f, "embeval metrics: %lld items, %d classes, %lld dims\n", (long long)n,
            (int)r->n_classes, (long long)d);
    fprintf(f, "retrieval: %s, %lld queries, %lld excluded (no relevant item)\n",
            r->query_gallery ? "queries vs gallery" : "leave-one-out", (long long)r->n_queries,
            (long long)r->n_excluded);
    fprintf(f, "kNN: %s; silhouette: %s%s\n\n",
            r->knn_leave_one_out ? "leave-one-out" : "train split as memory",
            r->silhouette_metric == EV_DISTANCE_EUCLIDEAN ? "euclidean" : "cosine",
            r->silhouette_n > 0 && r->silhouette_n < n ? " (sampled)" : "");
    fprintf(f, "%-28s %10s   %s\n", "metric", "value", "95% CI / note");
    for (int i = 0; i < nm; i++) {
        if (!m[i].m->defined) {
            fprintf(f, "%-28s %10s   (%s)\n", m[i].key, "n/a", m[i].m->reason);
            continue;
        }
        fprintf(f, "%-28s %10.4f", m[i].key, m[i].m->value);
        if (m[i].m->has_ci) fprintf(f, "   [%.4f, %.4f]", m[i].m->ci_low, m[i].m->ci_high);
        fputc('\n', f);
    }
    if (isfinite(r->linear_probe_c)) fprintf(f, "%-28s %10g\n", "linear_probe_c", r->linear_probe_c);
    if (per_class) {
        fprintf(f, "\n%-24s %7s %8s %8s %8s %8s\n", "class", "items", "mAP", "R@1", "kNN",
                "silh.");
        for (int32_t c = 0; c < r->n_classes; c++) {
            const ev_class_metrics *pc = &r->per_class[c];
            fprintf(f, "%-24.24s %7lld", names[c], (long long)pc->n_items);
            const ev_metric *v[4] = {&pc->map, r->n_ks ? &pc->recall_at[0] : &pc->map,
                                     &pc->knn_accuracy, &pc->silhouette};
            for (int j = 0; j < 4; j++) {
                if (v[j]->defined) fprintf(f, " %8.4f", v[j]->value);
                else fprintf(f, " %8s", "n/a");
            }
            fputc('\n', f);
        }
    }
}

static int write_assignments(const char *path, const int32_t *a, int64_t n)
{
    size_t len = strlen(path);
    if (len > 4 && !strcmp(path + len - 4, ".npy")) {
        ev_tensor t;
        memset(&t, 0, sizeof t);
        t.dtype = EV_DT_INT32;
        t.rank = 1;
        t.dims[0] = n;
        t.data = (void *)a;
        char err[512];
        if (ev_npy_write(path, &t, err, sizeof err) != EV_OK) {
            cli_error("%s", err);
            return EV_EXIT_RUNTIME;
        }
        return 0;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_error("cannot write k-means assignments: %s (%s)", strerror(errno), path);
        return EV_EXIT_RUNTIME;
    }
    for (int64_t i = 0; i < n; i++) fprintf(f, "%d\n", (int)a[i]);
    if (fclose(f) != 0) {
        cli_error("cannot write k-means assignments (%s)", path);
        return EV_EXIT_RUNTIME;
    }
    return 0;
}

/* ---- main ------------------------------------------------------------------------ */
enum {
    O_EMB = 256, O_LAB, O_TEMB, O_TLAB, O_GEMB, O_GLAB, O_METRICS, O_K, O_SILM, O_SILS, O_KNNK,
    O_KNNT, O_KMR, O_KMI, O_KMOUT, O_PC, O_PVF, O_PSM, O_BOOT, O_SEED, O_JSON, O_OUT,
    O_PERCLASS, O_THREADS
};

int ev_cmd_metrics(int argc, char **argv)
{
    static const struct option opts[] = {
        {"embeddings", required_argument, 0, O_EMB},
        {"labels", required_argument, 0, O_LAB},
        {"train-embeddings", required_argument, 0, O_TEMB},
        {"train-labels", required_argument, 0, O_TLAB},
        {"gallery-embeddings", required_argument, 0, O_GEMB},
        {"gallery-labels", required_argument, 0, O_GLAB},
        {"metrics", required_argument, 0, O_METRICS},
        {"k", required_argument, 0, O_K},
        {"silhouette-metric", required_argument, 0, O_SILM},
        {"silhouette-sample", required_argument, 0, O_SILS},
        {"knn-k", required_argument, 0, O_KNNK},
        {"knn-temperature", required_argument, 0, O_KNNT},
        {"kmeans-restarts", required_argument, 0, O_KMR},
        {"kmeans-max-iter", required_argument, 0, O_KMI},
        {"kmeans-assignments-out", required_argument, 0, O_KMOUT},
        {"probe-c", required_argument, 0, O_PC},
        {"probe-val-fraction", required_argument, 0, O_PVF},
        {"probe-sweep-max", required_argument, 0, O_PSM},
        {"bootstrap", required_argument, 0, O_BOOT},
        {"seed", required_argument, 0, O_SEED},
        {"json", no_argument, 0, O_JSON},
        {"output", required_argument, 0, O_OUT},
        {"per-class", no_argument, 0, O_PERCLASS},
        {"threads", required_argument, 0, O_THREADS},
        {"quiet", no_argument, 0, 'q'},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *path[6] = {0}; /* emb, lab, temb, tlab, gemb, glab */
    const char *out_path = NULL, *km_out = NULL;
    int json = 0, per_class = 0, verbosity = 0, quiet = 0;
    ev_metrics_options o = ev_metrics_default_options();
    int64_t v;
    double dv;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":hqv", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(usage_text, stdout); return EV_EXIT_OK;
        case 'q': quiet = 1; break;
        case 'v': verbosity++; break;
        case O_EMB: case O_LAB: case O_TEMB: case O_TLAB: case O_GEMB: case O_GLAB:
            path[c - O_EMB] = optarg;
            break;
        case O_METRICS:
            if (!parse_metrics(optarg, &o.what))
                return cli_usage_error("metrics", "bad --metrics '%s' (retrieval, topk, "
                                                  "silhouette, knn, linear-probe, kmeans)",
                                       optarg);
            break;
        case O_K:
            if (!parse_int_list(optarg, o.ks, EV_METRICS_MAX_K, 1, 1000000, &o.n_ks))
                return cli_usage_error("metrics", "bad --k '%s' (comma-separated integers >= 1, "
                                                  "at most %d)", optarg, EV_METRICS_MAX_K);
            break;
        case O_SILM:
            if (!strcmp(optarg, "cosine")) o.silhouette_metric = EV_DISTANCE_COSINE;
            else if (!strcmp(optarg, "euclidean")) o.silhouette_metric = EV_DISTANCE_EUCLIDEAN;
            else return cli_usage_error("metrics", "bad --silhouette-metric '%s' (cosine or "
                                                   "euclidean)", optarg);
            break;
        case O_SILS:
            if (!cli_parse_int(optarg, 0, INT64_MAX, &v))
                return cli_usage_error("metrics", "bad --silhouette-sample '%s'", optarg);
            o.silhouette_sample = v;
            break;
        case O_KNNK:
            if (!cli_parse_int(optarg, 1, 10000, &v))
                return cli_usage_error("metrics", "bad --knn-k '%s' (1..10000)", optarg);
            o.knn_k = (int)v;
            break;
        case O_KNNT:
            if (!cli_parse_double(optarg, &dv) || !(dv > 0))
                return cli_usage_error("metrics", "bad --knn-temperature '%s'", optarg);
            o.knn_temperature = dv;
            break;
        case O_KMR:
            if (!cli_parse_int(optarg, 1, 1000, &v))
                return cli_usage_error("metrics", "bad --kmeans-restarts '%s' (1..1000)", optarg);
            o.kmeans_restarts = (int)v;
            break;
        case O_KMI:
            if (!cli_parse_int(optarg, 1, 100000, &v))
                return cli_usage_error("metrics", "bad --kmeans-max-iter '%s'", optarg);
            o.kmeans_max_iter = (int)v;
            break;
        case O_KMOUT: km_out = optarg; break;
        case O_PC:
            if (!parse_double_list(optarg, o.probe_c, EV_METRICS_MAX_C, &o.n_probe_c))
                return cli_usage_error("metrics", "bad --probe-c '%s' (comma-separated positive "
                                                  "numbers, at most %d)", optarg, EV_METRICS_MAX_C);
            break;
        case O_PVF:
            if (!cli_parse_double(optarg, &dv) || !(dv > 0 && dv < 1))
                return cli_usage_error("metrics", "bad --probe-val-fraction '%s' (0 < F < 1)",
                                       optarg);
            o.probe_val_fraction = dv;
            break;
        case O_PSM:
            if (!cli_parse_int(optarg, 0, INT64_MAX, &v))
                return cli_usage_error("metrics", "bad --probe-sweep-max '%s'", optarg);
            o.probe_sweep_max = v;
            break;
        case O_BOOT:
            if (!cli_parse_int(optarg, 0, 1000000, &v))
                return cli_usage_error("metrics", "bad --bootstrap '%s' (0..1000000)", optarg);
            o.bootstrap = (int)v;
            break;
        case O_SEED:
            if (!cli_parse_int(optarg, 0, INT64_MAX, &v))
                return cli_usage_error("metrics", "bad --seed '%s'", optarg);
            o.seed = (uint64_t)v;
            break;
        case O_JSON: json = 1; break;
        case O_OUT: out_path = optarg; break;
        case O_PERCLASS: per_class = 1; break;
        case O_THREADS:
            if (!cli_parse_int(optarg, 1, 1024, &v))
                return cli_usage_error("metrics", "bad --threads '%s' (1..1024)", optarg);
            o.threads = (int)v;
            break;
        case ':':
            return cli_usage_error("metrics", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("metrics", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("metrics", "unexpected argument '%s'", argv[optind]);
    if (!path[0] || !path[1])
        return cli_usage_error("metrics", "--embeddings and --labels are required");
    if (!path[2] != !path[3])
        return cli_usage_error("metrics", "--train-embeddings and --train-labels go together");
    if (!path[4] != !path[5])
        return cli_usage_error("metrics", "--gallery-embeddings and --gallery-labels go together");
    if (km_out) o.keep_kmeans_assignments = 1;
    if (!quiet) cli_setup_logging(verbosity);

    ev_array arr[3];
    labels lab[3];
    memset(arr, 0, sizeof arr);
    memset(lab, 0, sizeof lab);
    char **names = NULL;
    int32_t n_classes = 0;
    ev_metrics_result *r = NULL;
    int rc = 0;
    for (int s = 0; s < 3 && !rc; s++) {
        if (!path[2 * s]) continue;
        rc = load_embeddings(path[2 * s], &arr[s]);
        if (!rc) rc = labels_read(path[2 * s + 1], &lab[s]);
        if (!rc && lab[s].n != arr[s].dims[0]) {
            cli_error("%lld labels for %lld embedding rows of %s (%s)", (long long)lab[s].n,
                      (long long)arr[s].dims[0], path[2 * s], path[2 * s + 1]);
            rc = EV_EXIT_INPUT;
        }
        if (!rc && s > 0 && arr[s].dims[1] != arr[0].dims[1]) {
            cli_error("embeddings have %lld dimensions but %s has %lld (%s)",
                      (long long)arr[s].dims[1], path[0], (long long)arr[0].dims[1], path[2 * s]);
            rc = EV_EXIT_INPUT;
        }
    }
    if (!rc) {
        labels *ls[3] = {&lab[0], path[2] ? &lab[1] : NULL, path[4] ? &lab[2] : NULL};
        if (!labels_map(ls, 3, &names, &n_classes)) {
            cli_error("out of memory mapping labels");
            rc = EV_EXIT_RUNTIME;
        }
    }
    if (!rc) {
        ev_metrics_input in;
        memset(&in, 0, sizeof in);
        ev_labeled_embeddings *views[3] = {&in.eval, &in.train, &in.gallery};
        for (int s = 0; s < 3; s++) {
            if (!path[2 * s]) continue;
            *views[s] = (ev_labeled_embeddings){arr[s].data, arr[s].dims[0], arr[s].dims[1],
                                                lab[s].id, path[2 * s]};
        }
        in.n_classes = n_classes;
        in.class_names = (const char *const *)names;
        prog pg = {!quiet && cli_stderr_is_tty(), -1, NULL};
        o.progress = on_progress;
        o.progress_user = &pg;
        char err[1024];
        ev_status st = ev_metrics_evaluate(&in, &o, &r, err, sizeof err);
        if (pg.tty) fprintf(stderr, "\r%30s\r", "");
        if (st != EV_OK) {
            cli_error("%s", err[0] ? err : ev_strerror(st));
            rc = cli_exit_code(st);
        }
    }
    if (!rc && km_out && r->kmeans_assignments)
        rc = write_assignments(km_out, r->kmeans_assignments, arr[0].dims[0]);
    if (!rc) {
        /* --output: a temporary file renamed into place, so that a killed or
         * failed run never leaves a partial report where a good one was */
        FILE *f = stdout;
        char tmp[4200] = "";
        if (out_path) snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out_path, (long)getpid());
        if (out_path && !(f = fopen(tmp, "w"))) {
            cli_error("cannot write report: %s (%s)", strerror(errno), out_path);
            rc = EV_EXIT_RUNTIME;
        } else {
            if (json)
                write_json(f, r, &o, arr[0].dims[0], arr[0].dims[1], path[2] ? arr[1].dims[0] : 0,
                           path[4] ? arr[2].dims[0] : 0, names, per_class);
            else write_table(f, r, arr[0].dims[0], arr[0].dims[1], names, per_class);
            int bad = ferror(f);
            if (f != stdout ? fclose(f) != 0 || bad || rename(tmp, out_path) != 0 : fflush(f) != 0) {
                cli_error("cannot write report: %s (%s)", strerror(errno), out_path ? out_path : "stdout");
                if (out_path) unlink(tmp);
                rc = EV_EXIT_RUNTIME;
            }
        }
    }
    ev_metrics_result_free(r);
    free(names);
    for (int s = 0; s < 3; s++) {
        ev_array_free(&arr[s]);
        labels_free(&lab[s]);
    }
    return rc;
}
