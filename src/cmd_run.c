/* src/cmd_run.c — `embeval run`: evaluate models on datasets and write the
 * report (table, JSON, Markdown, CSV, HTML + SVG charts). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

const char ev_cmd_run_summary[] = "evaluate models on datasets: quality, efficiency, report (table, HTML, JSON)";

static void help(void)
{
    printf(
        "Usage: embeval run [--config eval.json] [-m CARD_OR_ONNX ...] [-d DATASET ...]\n"
        "                   [--limit N] [--train-limit N] [--threads N] [--out DIR]\n"
        "                   [--baseline OLD.json --fail-on SPEC] [--no-cache] [--bench-runs R]\n"
        "                   [options]\n"
        "\n"
        "Evaluate every model on every dataset and print the comparison table: for each\n"
        "model, embed the images (through the embedding cache), compute the metrics of\n"
        "docs/metrics.md with 95%% bootstrap intervals, measure latency, throughput, load\n"
        "time, memory and size on this machine, and read license and provenance from\n"
        "the model card. A model that fails (bad card, corrupt or unsupported .onnx) is\n"
        "reported as failed with its error; the others are still evaluated.\n"
        "\n"
        "With no -m, every model card in the models directory is evaluated (search\n"
        "order: --models-dir, $EMBEVAL_MODELS_DIR, ./models, the source tree's models/\n"
        "next to the build directory, <prefix>/share/embeval/models). With no -d, the\n"
        "dataset is Fashion-MNIST (Debian package dataset-fashion-mnist).\n"
        "\n"
        "Protocol: when a dataset has a train split, the queries are a stratified\n"
        "subset of its test split (else val) and the kNN memory / linear-probe training\n"
        "set a stratified subset of its train split; retrieval, silhouette and k-means\n"
        "use the queries (leave-one-out retrieval among them). Without a train split,\n"
        "everything is leave-one-out on a stratified subset and there is no probe.\n"
        "\n"
        "Options:\n"
        "  --config FILE        JSON settings: {\"models\": [...], \"datasets\": [...],\n"
        "                       \"limit\", \"train_limit\", \"threads\", \"out\", \"baseline\",\n"
        "                       \"fail_on\", \"cache\", \"cache_dir\", \"bench\", \"bench_runs\",\n"
        "                       \"seed\", \"bootstrap\", \"mode\", \"models_dir\"}; relative\n"
        "                       paths are relative to FILE; command-line options win\n"
        "  -m, --model M        a model card (.json) or a bare .onnx (repeatable)\n"
        "  -d, --dataset D      a dataset spec, as for `embeval embed` (repeatable):\n"
        "                       fashion-mnist, DIR (ImageFolder, IDX, CIFAR), FILE.csv,\n"
        "                       FILE.jsonl, FORMAT:PATH\n"
        "  --models-dir DIR     where to look for cards when no -m is given\n"
        "  --limit N            queries per dataset: stratified subset (default 2000;\n"
        "                       0 = all)\n"
        "  --train-limit N      kNN memory / probe training items: stratified subset of\n"
        "                       the train split (default 3000; 0 = all)\n"
        "  --seed N             seed of the subsets, bootstrap and k-means (default 0)\n"
        "  --bootstrap N        resamples for the confidence intervals (default 1000)\n"
        "  --threads N          engine and metrics threads (default 0 = all cores)\n"
        "  --workers N          image decode threads (default: --threads)\n"
        "  --batch B            embedding batch (default 32)\n"
        "  --mode M             exact (default) or fast preprocessing (docs/model-cards.md)\n"
        "  --out DIR            write report.json, report.items.json, report.md,\n"
        "                       report.csv, report.html and charts/*.svg into DIR\n"
        "  --baseline OLD.json  compare with an earlier report (printed after the table)\n"
        "  --fail-on SPEC       with --baseline: exit 4 when a change crosses a limit.\n"
        "                       SPEC: comma-separated METRIC:LIMIT, LIMIT signed, '-' =\n"
        "                       fail on a drop, '+' = on a rise, absolute or with %%:\n"
        "                       \"map:-0.01,latency_p50:+10%%\". METRIC: map, recall_at_K,\n"
        "                       precision_at_K, accuracy, linear_probe_accuracy,\n"
        "                       silhouette, nmi, ari, latency_p50, latency_p90,\n"
        "                       latency_p99, latency_min, throughput, load_ms,\n"
        "                       peak_rss_mib, size_mib, params, macs\n"
        "  --no-cache           neither read nor write the embedding and result caches\n"
        "  --cache-dir DIR      cache directory (default $EMBEVAL_CACHE_DIR, else\n"
        "                       $XDG_CACHE_HOME/embeval, else ~/.cache/embeval)\n"
        "  --bench-runs R       timed batch-1 latency runs per model (default 50)\n"
        "  --bench-warmup W     warm-up runs (default 10)\n"
        "  --bench-batch B      throughput batch (default 16)\n"
        "  --no-bench           skip the efficiency measurement\n"
        "  --json               print report.json on stdout instead of the table\n"
        "  -q, --quiet          no progress output\n"
        "  -v, --verbose        more diagnostics\n"
        "  -h, --help           show this help\n"
        "\n"
        "Progress goes to stderr (one updating line on a terminal, plain lines\n"
        "otherwise); the table goes to stdout. Report format: docs/report-schema.md.\n"
        "\n"
        "Exit status: 0 every model evaluated; 3 at least one model failed (the report\n"
        "is still written and lists the error), or a dataset/config/baseline is\n"
        "invalid, or no model was found; 4 a --fail-on threshold was crossed (and no\n"
        "model failed); 2 usage error; 1 other failures (e.g. the report cannot be\n"
        "written).\n");
}

/* ---- progress ----------------------------------------------------------------------- */
typedef struct prog {
    int tty, quiet, drawn, failed;
    double t_model;
    int last_model;
} prog;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void on_progress(void *user, const ev_run_progress *p)
{
    prog *g = user;
    if (g->quiet) return;
    if (p->model != g->last_model) {
        g->last_model = p->model;
        g->t_model = now_s();
        g->failed = 0;
    }
    char where[512];
    if (p->model < 0)
        snprintf(where, sizeof where, "dataset %d/%d %s", p->dataset + 1, p->n_datasets, p->dataset_name);
    else if (p->n_datasets > 1)
        snprintf(where, sizeof where, "[%d/%d] %s on %s", p->model + 1, p->n_models, p->model_name,
                 p->dataset_name);
    else
        snprintf(where, sizeof where, "[%d/%d] %s", p->model + 1, p->n_models, p->model_name);
    char what[256] = "";
    int embed = !strncmp(p->phase, "embed", 5);
    if (embed)
        snprintf(what, sizeof what, "%s %lld/%lld (%lld cached)", p->phase, (long long)p->done, (long long)p->total,
                 (long long)p->cache_hits);
    else if (!strcmp(p->phase, "metrics"))
        snprintf(what, sizeof what, "metrics%s%s%s", p->detail ? " (" : "", p->detail ? p->detail : "",
                 p->detail ? ")" : "");
    else if (!strcmp(p->phase, "open"))
        snprintf(what, sizeof what, "opening, selecting and fingerprinting");
    else
        snprintf(what, sizeof what, "%s", p->phase);
    if (!strcmp(p->phase, "failed")) {
        if (g->tty && g->drawn) fputs("\r\033[2K", stderr);
        fprintf(stderr, "run: %s FAILED: %s\n", where, p->detail ? p->detail : "");
        g->drawn = 0;
        g->failed = 1;
        return;
    }
    if (!strcmp(p->phase, "done")) {
        if (g->tty && g->drawn) fputs("\r\033[2K", stderr);
        if (!g->failed) fprintf(stderr, "run: %s done in %.1f s\n", where, now_s() - g->t_model);
        g->drawn = 0;
        return;
    }
    if (g->tty) {
        fprintf(stderr, "\r\033[2Krun: %s: %s", where, what);
        if (p->fraction >= 0 && !embed) fprintf(stderr, " %3.0f%%", 100 * p->fraction);
        fprintf(stderr, " %.0f s", p->elapsed);
        fflush(stderr);
        g->drawn = 1;
    } else if (p->phase_finished) {
        if (embed)
            fprintf(stderr, "run: %s: %s: %lld items (%lld from the cache) in %.1f s\n", where, p->phase,
                    (long long)p->total, (long long)p->cache_hits, p->elapsed);
        else
            fprintf(stderr, "run: %s: %s finished in %.1f s\n", where, p->phase, p->elapsed);
    }
}

/* ---- config ------------------------------------------------------------------------------ */
typedef struct strv {
    char **v;
    int n, cap;
} strv;

static int strv_push(strv *s, const char *x)
{
    if (s->n + 1 >= s->cap) {
        int c = s->cap ? s->cap * 2 : 8;
        char **nv = realloc(s->v, (size_t)c * sizeof *nv);
        if (!nv) return 0;
        s->v = nv;
        s->cap = c;
    }
    s->v[s->n] = strdup(x);
    if (!s->v[s->n]) return 0;
    s->n++;
    s->v[s->n] = NULL;
    return 1;
}

static void strv_free(strv *s)
{
    for (int i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* base_dir + "/" + p unless p is absolute (or base_dir is empty). */
static char *rel_to(const char *base_dir, const char *p)
{
    if (!base_dir || !*base_dir || p[0] == '/') return strdup(p);
    size_t n = strlen(base_dir) + strlen(p) + 2;
    char *r = malloc(n);
    if (r) snprintf(r, n, "%s/%s", base_dir, p);
    return r;
}

/* A dataset spec from a config file: "fashion-mnist" stays, FORMAT:PATH
 * resolves PATH, a path resolves relative to the config. */
static char *rel_spec(const char *base_dir, const char *spec)
{
    if (!strcmp(spec, "fashion-mnist")) return strdup(spec);
    static const char *const fmts[] = {"imagefolder:", "csv:", "jsonl:", "idx:", "cifar10:", "cifar100:"};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        size_t l = strlen(fmts[i]);
        if (!strncmp(spec, fmts[i], l)) {
            char *p = rel_to(base_dir, spec + l);
            if (!p) return NULL;
            size_t n = l + strlen(p) + 1;
            char *r = malloc(n);
            if (r) snprintf(r, n, "%s%s", fmts[i], p);
            free(p);
            return r;
        }
    }
    return rel_to(base_dir, spec);
}

typedef struct settings {
    strv models, datasets;
    char *out, *baseline, *fail_on, *cache_dir, *models_dir, *mode;
    int64_t limit, train_limit, threads, workers, batch, seed, bootstrap, bench_runs, bench_warmup, bench_batch;
    int no_cache, no_bench;
} settings;

static void settings_free(settings *s)
{
    strv_free(&s->models);
    strv_free(&s->datasets);
    free(s->out);
    free(s->baseline);
    free(s->fail_on);
    free(s->cache_dir);
    free(s->models_dir);
    free(s->mode);
}

static int set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? strdup(v) : NULL;
    return !v || *dst;
}

/* Returns an exit code (0 ok). */
static int read_config(const char *path, settings *s)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("cannot read the config: %s (%s)", strerror(errno), path);
        return EV_EXIT_INPUT;
    }
    char *buf = malloc((size_t)1 << 20);
    size_t n = buf ? fread(buf, 1, ((size_t)1 << 20) - 1, f) : 0;
    int big = buf && n == ((size_t)1 << 20) - 1 && fgetc(f) != EOF;
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    if (!buf) {
        cli_error("out of memory");
        return EV_EXIT_RUNTIME;
    }
    if (rerr) { /* e.g. a directory: fopen succeeds, reading fails */
        free(buf);
        cli_error("cannot read the config: %s (%s)", strerror(rerr), path);
        return EV_EXIT_INPUT;
    }
    if (big) {
        free(buf);
        cli_error("the config is larger than 1 MiB (%s)", path);
        return EV_EXIT_INPUT;
    }
    buf[n] = 0;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        cli_error("the config is not a JSON object (%s)", path);
        return EV_EXIT_INPUT;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *sl = strrchr(dir, '/');
    if (sl) *sl = 0;
    else dir[0] = 0;
    int rc = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, j)
    {
        const char *k = it->string;
        if (!strcmp(k, "models") || !strcmp(k, "datasets")) {
            strv *dst = !strcmp(k, "models") ? &s->models : &s->datasets;
            if (!cJSON_IsArray(it)) {
                cli_error("config key \"%s\" must be an array of strings (%s)", k, path);
                rc = EV_EXIT_INPUT;
                break;
            }
            cJSON *x;
            cJSON_ArrayForEach(x, it)
            {
                if (!cJSON_IsString(x)) {
                    cli_error("config key \"%s\" must be an array of strings (%s)", k, path);
                    rc = EV_EXIT_INPUT;
                    break;
                }
                char *r = dst == &s->models ? rel_to(dir, x->valuestring) : rel_spec(dir, x->valuestring);
                if (!r || !strv_push(dst, r)) rc = EV_EXIT_RUNTIME;
                free(r);
            }
            if (rc) break;
        } else if (!strcmp(k, "out") || !strcmp(k, "baseline") || !strcmp(k, "cache_dir") ||
                   !strcmp(k, "models_dir") || !strcmp(k, "fail_on") || !strcmp(k, "mode")) {
            if (!cJSON_IsString(it)) {
                cli_error("config key \"%s\" must be a string (%s)", k, path);
                rc = EV_EXIT_INPUT;
                break;
            }
            int is_path = strcmp(k, "fail_on") != 0 && strcmp(k, "mode") != 0;
            char *v = is_path ? rel_to(dir, it->valuestring) : strdup(it->valuestring);
            char **dst = !strcmp(k, "out")        ? &s->out
                         : !strcmp(k, "baseline")  ? &s->baseline
                         : !strcmp(k, "cache_dir") ? &s->cache_dir
                         : !strcmp(k, "models_dir") ? &s->models_dir
                         : !strcmp(k, "fail_on")   ? &s->fail_on
                                                   : &s->mode;
            free(*dst);
            *dst = v;
        } else if (!strcmp(k, "cache") || !strcmp(k, "bench")) {
            if (!cJSON_IsBool(it)) {
                cli_error("config key \"%s\" must be true or false (%s)", k, path);
                rc = EV_EXIT_INPUT;
                break;
            }
            if (!strcmp(k, "cache")) s->no_cache = cJSON_IsFalse(it);
            else s->no_bench = cJSON_IsFalse(it);
        } else {
            static const char *const nk[] = {"limit", "train_limit", "threads", "workers", "batch", "seed",
                                             "bootstrap", "bench_runs", "bench_warmup", "bench_batch"};
            int64_t *dst[] = {&s->limit, &s->train_limit, &s->threads, &s->workers, &s->batch, &s->seed,
                              &s->bootstrap, &s->bench_runs, &s->bench_warmup, &s->bench_batch};
            int found = 0;
            for (size_t i = 0; i < sizeof nk / sizeof nk[0]; i++) {
                if (strcmp(k, nk[i]) != 0) continue;
                found = 1;
                if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 1e12 ||
                    it->valuedouble != floor(it->valuedouble)) {
                    cli_error("config key \"%s\" must be a non-negative integer (%s)", k, path);
                    rc = EV_EXIT_INPUT;
                } else {
                    *dst[i] = (int64_t)it->valuedouble;
                }
            }
            if (rc) break;
            if (!found) cli_warn("unknown config key \"%s\" ignored (%s)", k, path);
        }
    }
    cJSON_Delete(j);
    return rc;
}

/* ---- model directory ------------------------------------------------------------------------ */
static int dir_has_cards(const char *dir)
{
    char **paths = NULL;
    int n = 0;
    if (ev_model_list(dir, &paths, &n, NULL, NULL, NULL, 0) != EV_OK) return 0;
    ev_model_list_free(paths);
    return n > 0;
}

/* The models directory by the documented search order; "" if none. */
static void find_models_dir(const char *opt, char *buf, size_t len)
{
    buf[0] = 0;
    if (opt && *opt) {
        snprintf(buf, len, "%s", opt);
        return;
    }
    const char *env = getenv("EMBEVAL_MODELS_DIR");
    if (env && *env) {
        snprintf(buf, len, "%s", env);
        return;
    }
    if (dir_has_cards("models")) {
        snprintf(buf, len, "models");
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *sl = strrchr(exe, '/');
        if (sl) *sl = 0;
        const char *rel[] = {"../models", "../share/embeval/models"};
        for (int i = 0; i < 2; i++) {
            char cand[PATH_MAX + 32];
            snprintf(cand, sizeof cand, "%s/%s", exe, rel[i]);
            if (strlen(cand) < len && dir_has_cards(cand)) {
                memcpy(buf, cand, strlen(cand) + 1);
                return;
            }
        }
    }
    const char *sys[] = {"/usr/local/share/embeval/models", "/usr/share/embeval/models"};
    for (int i = 0; i < 2; i++)
        if (dir_has_cards(sys[i])) {
            snprintf(buf, len, "%s", sys[i]);
            return;
        }
}

static int resolve_cache_dir(const char *opt, char *buf, size_t len)
{
    if (opt && *opt) {
        snprintf(buf, len, "%s", opt);
        return 0;
    }
    const char *env = getenv("EMBEVAL_CACHE_DIR");
    if (env && *env) {
        snprintf(buf, len, "%s", env);
        return 0;
    }
    return ev_cache_default_dir(getenv("XDG_CACHE_HOME"), getenv("HOME"), buf, len) == EV_OK ? 0 : -1;
}

/* ---- main --------------------------------------------------------------------------------------- */
int ev_cmd_run(int argc, char **argv)
{
    settings s;
    memset(&s, 0, sizeof s);
    s.limit = s.train_limit = s.threads = s.workers = s.batch = s.seed = s.bootstrap = -1;
    s.bench_runs = s.bench_warmup = s.bench_batch = -1;
    settings cli;
    memset(&cli, 0, sizeof cli);
    cli.limit = cli.train_limit = cli.threads = cli.workers = cli.batch = cli.seed = cli.bootstrap = -1;
    cli.bench_runs = cli.bench_warmup = cli.bench_batch = -1;
    const char *config = NULL;
    int json = 0, quiet = 0, verbose = 0, rc = EV_EXIT_OK;
    ev_report *rep = NULL, *base = NULL;
    ev_cache *cache = NULL;
    char **found = NULL, **orphans = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            settings_free(&cli);
            return EV_EXIT_OK;
        }
        if (!strcmp(a, "--no-cache")) { cli.no_cache = 1; continue; }
        if (!strcmp(a, "--no-bench")) { cli.no_bench = 1; continue; }
        if (!strcmp(a, "--json")) { json = 1; continue; }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) { quiet = 1; continue; }
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) { verbose++; continue; }
        static const char *const with_value[] = {
            "--config", "--model", "-m", "--dataset", "-d", "--models-dir", "--limit", "--train-limit", "--seed",
            "--bootstrap", "--threads", "--workers", "--batch", "--mode", "--out", "--baseline", "--fail-on",
            "--cache-dir", "--bench-runs", "--bench-warmup", "--bench-batch"};
        const char *opt = NULL, *v = NULL;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) {
            size_t l = strlen(with_value[k]);
            if (!strcmp(a, with_value[k])) {
                opt = with_value[k];
                if (i + 1 >= argc) {
                    settings_free(&cli);
                    return cli_usage_error("run", "%s needs a value", a);
                }
                v = argv[++i];
                break;
            }
            if (with_value[k][1] == '-' && !strncmp(a, with_value[k], l) && a[l] == '=') {
                opt = with_value[k];
                v = a + l + 1;
                break;
            }
        }
        if (!opt) {
            settings_free(&cli);
            if (a[0] == '-') return cli_usage_error("run", "unknown option '%s'", a);
            return cli_usage_error("run", "unexpected argument '%s' (models go after -m, datasets after -d)", a);
        }
        int ok = 1;
        if (!strcmp(opt, "--config")) config = v;
        else if (!strcmp(opt, "--model") || !strcmp(opt, "-m")) ok = strv_push(&cli.models, v);
        else if (!strcmp(opt, "--dataset") || !strcmp(opt, "-d")) ok = strv_push(&cli.datasets, v);
        else if (!strcmp(opt, "--models-dir")) ok = set_str(&cli.models_dir, v);
        else if (!strcmp(opt, "--mode")) {
            if (strcmp(v, "exact") != 0 && strcmp(v, "fast") != 0) {
                settings_free(&cli);
                return cli_usage_error("run", "--mode must be exact or fast, got '%s'", v);
            }
            ok = set_str(&cli.mode, v);
        } else if (!strcmp(opt, "--out")) ok = set_str(&cli.out, v);
        else if (!strcmp(opt, "--baseline")) ok = set_str(&cli.baseline, v);
        else if (!strcmp(opt, "--fail-on")) ok = set_str(&cli.fail_on, v);
        else if (!strcmp(opt, "--cache-dir")) ok = set_str(&cli.cache_dir, v);
        else {
            int64_t lo = 0, hi = INT32_MAX, *dst = NULL;
            if (!strcmp(opt, "--limit")) dst = &cli.limit;
            else if (!strcmp(opt, "--train-limit")) dst = &cli.train_limit;
            else if (!strcmp(opt, "--seed")) { dst = &cli.seed; hi = INT64_MAX; }
            else if (!strcmp(opt, "--bootstrap")) { dst = &cli.bootstrap; hi = 1000000; }
            else if (!strcmp(opt, "--threads")) { dst = &cli.threads; hi = 1024; }
            else if (!strcmp(opt, "--workers")) { dst = &cli.workers; lo = 1; hi = 256; }
            else if (!strcmp(opt, "--batch")) { dst = &cli.batch; lo = 1; hi = 4096; }
            else if (!strcmp(opt, "--bench-runs")) { dst = &cli.bench_runs; lo = 1; hi = 1000000; }
            else if (!strcmp(opt, "--bench-warmup")) { dst = &cli.bench_warmup; hi = 1000000; }
            else if (!strcmp(opt, "--bench-batch")) { dst = &cli.bench_batch; lo = 1; hi = 4096; }
            if (!dst || !cli_parse_int(v, lo, hi, dst)) {
                settings_free(&cli);
                return cli_usage_error("run", "%s must be an integer in %lld..%lld, got '%s'", opt, (long long)lo,
                                       (long long)hi, v);
            }
        }
        if (!ok) {
            settings_free(&cli);
            cli_error("out of memory");
            return EV_EXIT_RUNTIME;
        }
    }
    if (!quiet || verbose) cli_setup_logging(verbose);
    if (config && (rc = read_config(config, &s)) != 0) goto done;
    /* the command line wins over the config */
    if (cli.models.n) {
        strv_free(&s.models);
        s.models = cli.models;
        memset(&cli.models, 0, sizeof cli.models);
    }
    if (cli.datasets.n) {
        strv_free(&s.datasets);
        s.datasets = cli.datasets;
        memset(&cli.datasets, 0, sizeof cli.datasets);
    }
#define OVERRIDE_S(f)                                                                              \
    if (cli.f) {                                                                                   \
        free(s.f);                                                                                 \
        s.f = cli.f;                                                                               \
        cli.f = NULL;                                                                              \
    }
    OVERRIDE_S(out)
    OVERRIDE_S(baseline)
    OVERRIDE_S(fail_on)
    OVERRIDE_S(cache_dir)
    OVERRIDE_S(models_dir)
    OVERRIDE_S(mode)
#undef OVERRIDE_S
#define OVERRIDE_I(f)                                                                              \
    if (cli.f >= 0) s.f = cli.f;
    OVERRIDE_I(limit)
    OVERRIDE_I(train_limit)
    OVERRIDE_I(threads)
    OVERRIDE_I(workers)
    OVERRIDE_I(batch)
    OVERRIDE_I(seed)
    OVERRIDE_I(bootstrap)
    OVERRIDE_I(bench_runs)
    OVERRIDE_I(bench_warmup)
    OVERRIDE_I(bench_batch)
#undef OVERRIDE_I
    if (cli.no_cache) s.no_cache = 1;
    if (cli.no_bench) s.no_bench = 1;

    char err[1024];
    if (s.fail_on && !s.baseline) {
        rc = cli_usage_error("run", "--fail-on needs --baseline OLD.json");
        goto done;
    }
    if (s.fail_on && ev_fail_on_validate(s.fail_on, err, sizeof err) != EV_OK) {
        rc = cli_usage_error("run", "%s", err);
        goto done;
    }
    if (s.mode && strcmp(s.mode, "exact") != 0 && strcmp(s.mode, "fast") != 0) {
        cli_error("config: \"mode\" must be exact or fast (%s)", config ? config : "");
        rc = EV_EXIT_INPUT;
        goto done;
    }
    /* inputs that can fail are checked before the long work */
    if (s.baseline) {
        ev_status st = ev_report_load(s.baseline, &base, err, sizeof err);
        if (st != EV_OK) {
            cli_error("baseline: %s", err);
            rc = st == EV_ERR_IO || st == EV_ERR_FORMAT || st == EV_ERR_UNSUPPORTED ? EV_EXIT_INPUT : cli_exit_code(st);
            goto done;
        }
    }
    if (s.out) {
        struct stat sb;
        if (stat(s.out, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
            cli_error("--out must be a directory (%s)", s.out);
            rc = EV_EXIT_RUNTIME;
            goto done;
        }
    }
    int n_found = 0, n_orphans = 0;
    if (s.models.n == 0) {
        char mdir[PATH_MAX];
        find_models_dir(s.models_dir, mdir, sizeof mdir);
        if (!mdir[0]) {
            cli_error("no model given and no model cards found (looked in --models-dir, $EMBEVAL_MODELS_DIR, "
                      "./models, the source tree's models/, <prefix>/share/embeval/models): give -m CARD_OR_ONNX");
            rc = EV_EXIT_INPUT;
            goto done;
        }
        ev_status st = ev_model_list(mdir, &found, &n_found, &orphans, &n_orphans, err, sizeof err);
        if (st != EV_OK || n_found == 0) {
            cli_error("%s", st != EV_OK ? err : "no model cards in the models directory");
            rc = EV_EXIT_INPUT;
            goto done;
        }
        for (int i = 0; i < n_orphans; i++)
            cli_warn("%s has no model card: not evaluated (write a card, see docs/model-cards.md, or pass it "
                     "with -m)",
                     orphans[i]);
        for (int i = 0; i < n_found; i++)
            if (!strv_push(&s.models, found[i])) {
                cli_error("out of memory");
                rc = EV_EXIT_RUNTIME;
                goto done;
            }
        if (!quiet) fprintf(stderr, "run: %d model cards from %s\n", n_found, mdir);
    }
    char cdir[PATH_MAX] = "", rdir[PATH_MAX + 16] = "";
    if (!s.no_cache) {
        if (resolve_cache_dir(s.cache_dir, cdir, sizeof cdir) != 0) {
            cli_warn("no cache directory (set --cache-dir or HOME): continuing without the cache");
        } else if (ev_cache_open(cdir, &cache, err, sizeof err) != EV_OK) {
            if (s.cache_dir) {
                cli_error("%s", err);
                rc = EV_EXIT_RUNTIME;
                goto done;
            }
            cli_warn("%s: continuing without the cache", err);
            cache = NULL;
        } else {
            snprintf(rdir, sizeof rdir, "%s/results", cdir);
        }
    }

    ev_run_options o = ev_run_default_options();
    o.models = (const char *const *)s.models.v;
    o.n_models = s.models.n;
    o.datasets = (const char *const *)s.datasets.v;
    o.n_datasets = s.datasets.n;
    if (s.limit >= 0) o.limit = s.limit;
    if (s.train_limit >= 0) o.train_limit = s.train_limit;
    if (s.seed >= 0) o.seed = (uint64_t)s.seed;
    if (s.bootstrap >= 0) o.bootstrap = (int)s.bootstrap;
    if (s.threads >= 0) o.threads = (int)s.threads;
    if (s.workers > 0) o.workers = (int)s.workers;
    if (s.batch > 0) o.batch = (int)s.batch;
    if (s.bench_runs > 0) o.bench_runs = (int)s.bench_runs;
    if (s.bench_warmup >= 0) o.bench_warmup = (int)s.bench_warmup;
    if (s.bench_batch > 0) o.bench_batch = (int)s.bench_batch;
    o.bench = !s.no_bench;
    o.mode = s.mode && !strcmp(s.mode, "fast") ? EV_IMAGE_FAST : EV_IMAGE_EXACT;
    o.cache = cache;
    o.results_cache_dir = cache && rdir[0] ? rdir : NULL;
    o.argc = argc;
    o.argv = (const char *const *)argv;
    prog pg = {cli_stderr_is_tty(), quiet, 0, 0, now_s(), -2};
    o.progress = on_progress;
    o.progress_user = &pg;
    double t0 = now_s();
    ev_status st = ev_run(&o, &rep, err, sizeof err);
    if (pg.drawn) fputs("\r\033[2K", stderr);
    if (st != EV_OK) {
        /* ev_run fails as a whole only for datasets (and resources) */
        cli_error("%s", err);
        rc = st == EV_ERR_NOMEM || st == EV_ERR_INTERNAL || st == EV_ERR_BACKEND ? EV_EXIT_RUNTIME : EV_EXIT_INPUT;
        goto done;
    }
    ev_report_counts cnt;
    ev_report_counts_get(rep, &cnt);
    if (json) {
        char *t = ev_report_json(rep);
        if (t) printf("%s\n", t);
        free(t);
    } else {
        char *t = ev_report_format_table(rep, 0);
        if (t) fputs(t, stdout);
        free(t);
    }
    if (s.out) {
        st = ev_report_write(rep, s.out, EV_REPORT_ALL, err, sizeof err);
        if (st != EV_OK) {
            cli_error("%s", err);
            rc = EV_EXIT_RUNTIME;
        } else if (!quiet) {
            fprintf(stderr, "run: report written to %s/report.html (also report.json, report.md, report.csv, "
                            "charts/)\n",
                    s.out);
        }
    }
    int crossed = 0;
    if (base) {
        ev_compare_options co = ev_compare_default_options();
        co.fail_on = s.fail_on;
        co.seed = o.seed;
        const ev_report *pair[2] = {base, rep};
        const char *names[2] = {s.baseline, s.out ? s.out : "this run"};
        char *text = NULL;
        st = ev_report_compare(pair, names, 2, &co, &text, &crossed, err, sizeof err);
        if (st != EV_OK) {
            cli_error("comparison with the baseline: %s", err);
            if (!rc) rc = EV_EXIT_RUNTIME;
        } else {
            fputs(text, json ? stderr : stdout);
        }
        free(text);
    }
    if (!quiet)
        fprintf(stderr, "run: %d model%s x %d dataset%s in %.1f s: %d ok, %d failed%s\n", cnt.models,
                cnt.models == 1 ? "" : "s", cnt.datasets, cnt.datasets == 1 ? "" : "s", now_s() - t0,
                cnt.results_ok, cnt.results_failed, s.no_cache ? " (no cache)" : "");
    if (rc == EV_EXIT_OK && cnt.models_failed > 0) rc = EV_EXIT_INPUT;
    if (rc == EV_EXIT_OK && crossed > 0) rc = EV_EXIT_THRESHOLD;
done:
    ev_report_free(rep);
    ev_report_free(base);
    ev_cache_close(cache);
    ev_model_list_free(found);
    ev_model_list_free(orphans);
    settings_free(&s);
    settings_free(&cli);
    return rc;
}
