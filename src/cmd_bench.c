/* src/cmd_bench.c — `embeval bench MODEL.onnx`: latency, throughput, load
 * time, memory and size of one model on this machine. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"
#include "cli_model.h"

const char ev_cmd_bench_summary[] = "measure a model's latency, throughput, load time, memory";

static void help(void)
{
    printf("Usage: embeval bench MODEL.onnx [--batch B] [--threads N] [--warmup W] [--runs R]\n"
           "                     [--precision fp32|bf16] [--shape NAME=d0,d1,...] [--json]\n"
           "                     [--reference] [-v]\n"
           "\n"
           "Load MODEL.onnx, build its execution plan for batch B (the oneDNN fast path\n"
           "unless --reference), run it W times to warm up and R times measured on a\n"
           "seeded N(0,1) input, and report:\n"
           "  latency     inference only, per image (batch time / B): median, p90, p99,\n"
           "              min in ms\n"
           "  throughput  images per second at batch B (B / median batch time)\n"
           "  load        cold load in ms: parse, constant folding, plan, primitive\n"
           "              creation and weight reorders (first plan built)\n"
           "  peak RSS    peak resident memory of the process (MiB)\n"
           "  size        model file + external data (MiB), parameters, MACs per image\n"
           "With --precision bf16 the embedding is also computed in fp32 on the same\n"
           "input and their cosine similarity printed (cosine_vs_fp32).\n"
           "\n"
           "Options:\n"
           "  --batch B            batch size (default 1): the first dimension of every\n"
           "                       input where it is dynamic\n"
           "  --threads N          threads (default 0 = all cores); honoured exactly\n"
           "  --warmup W           warm-up runs, not measured (default 10)\n"
           "  --runs R             measured runs (default 50)\n"
           "  --precision P        fp32 (default) or bf16 (needs a CPU with AVX512_BF16)\n"
           "  --shape NAME=d0,...  concrete shape of input NAME (for dynamic dimensions\n"
           "                       other than the first; repeatable)\n"
           "  --reference          plain-C reference kernels only (no oneDNN)\n"
           "  --json               print one JSON object: latency_ms.{median,p90,p99,min},\n"
           "                       batch_ms.{median,min}, throughput_ips, load_ms,\n"
           "                       peak_rss_mib, size_mib, params, macs (per image),\n"
           "                       cosine_vs_fp32 (bf16 only), and the settings\n"
           "  -v, --verbose        log the fast path's decisions (-vv: every fallback)\n"
           "  -h, --help           show this help\n"
           "\n"
           "Exit status: 0 ok; 2 usage error; 3 the model is malformed or unsupported;\n"
           "1 other failures (e.g. bf16 on a CPU without bf16 support).\n");
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* Peak resident set size in MiB (VmHWM; getrusage as a fallback). */
static double peak_rss_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            long long kb;
            if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) {
                fclose(f);
                return (double)kb / 1024.0;
            }
        }
        fclose(f);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) return (double)ru.ru_maxrss / 1024.0;
    return 0.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted values. */
static double pct(const double *v, int n, double p)
{
    if (n <= 0) return 0.0;
    int k = (int)ceil(p / 100.0 * n) - 1;
    if (k < 0) k = 0;
    if (k >= n) k = n - 1;
    return v[k];
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((double)(rng_state >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

typedef struct bench_inputs {
    int n;
    ev_tensor t[16];
    void *buf[16];
} bench_inputs;

static void free_inputs(bench_inputs *in)
{
    for (int i = 0; i < in->n; i++) free(in->buf[i]);
    in->n = 0;
}

/* Concrete inputs: seeded N(0,1) floats (int inputs: zeros). Returns an
 * exit code (0 ok). */
static int make_inputs(ev_model *m, const char *path, int64_t batch, const cli_shape_arg *shapes,
                       int n_shapes, bench_inputs *in)
{
    int n = ev_model_num_inputs(m);
    if (n > 16) {
        cli_error("the model has %d inputs, bench supports up to 16 (%s)", n, path);
        return EV_EXIT_INPUT;
    }
    for (int s = 0; s < n_shapes; s++) {
        int found = 0;
        for (int i = 0; i < n && !found; i++) {
            ev_value_info vi;
            ev_model_input_info(m, i, &vi);
            found = strlen(vi.name) == shapes[s].name_len && !strncmp(vi.name, shapes[s].name, shapes[s].name_len);
        }
        if (!found)
            return cli_usage_error("bench", "--shape names '%.*s', which is not an input of %s",
                                   (int)shapes[s].name_len, shapes[s].name, path);
    }
    memset(in, 0, sizeof *in);
    for (int i = 0; i < n; i++) {
        ev_value_info vi;
        ev_model_input_info(m, i, &vi);
        const cli_shape_arg *sa = NULL;
        for (int s = 0; s < n_shapes; s++)
            if (strlen(vi.name) == shapes[s].name_len && !strncmp(vi.name, shapes[s].name, shapes[s].name_len))
                sa = &shapes[s];
        ev_tensor *t = &in->t[i];
        memset(t, 0, sizeof *t);
        t->dtype = vi.dtype ? vi.dtype : EV_DT_FLOAT;
        if (sa) {
            t->rank = sa->rank;
            memcpy(t->dims, sa->dims, sizeof t->dims);
        } else {
            if (vi.rank < 0) {
                cli_error("input '%s' has no declared shape: give --shape %s=d0,d1,... (%s)", vi.name,
                          vi.name, path);
                return EV_EXIT_USAGE;
            }
            t->rank = vi.rank;
            for (int k = 0; k < vi.rank; k++) {
                if (vi.dims[k] >= 0) t->dims[k] = vi.dims[k];
                else if (k == 0) t->dims[k] = batch;
                else {
                    cli_error("input '%s' has dynamic dimension %d: give --shape %s=d0,d1,... (%s)",
                              vi.name, k, vi.name, path);
                    return EV_EXIT_USAGE;
                }
            }
        }
        int64_t numel = ev_tensor_numel(t);
        size_t es = ev_dtype_size(t->dtype);
        if (numel < 0 || es == 0) {
            cli_error("input '%s': unsupported element type %s (%s)", vi.name, ev_dtype_name(t->dtype), path);
            return EV_EXIT_INPUT;
        }
        in->buf[i] = calloc((size_t)(numel > 0 ? numel : 1), es);
        if (!in->buf[i]) {
            cli_error("out of memory for input '%s'", vi.name);
            return EV_EXIT_RUNTIME;
        }
        if (t->dtype == EV_DT_FLOAT) {
            float *f = in->buf[i];
            for (int64_t j = 0; j < numel; j += 2) {
                double r = sqrt(-2.0 * log(urand())), a = 2.0 * 3.14159265358979323846 * urand();
                f[j] = (float)(r * cos(a));
                if (j + 1 < numel) f[j + 1] = (float)(r * sin(a));
            }
        }
        t->data = in->buf[i];
        in->n = i + 1;
    }
    return 0;
}

/* Cosine similarity of two float outputs: the minimum over rows (dim 0). */
static double min_row_cosine(const ev_tensor *a, const ev_tensor *b)
{
    int64_t n = ev_tensor_numel(a);
    if (n != ev_tensor_numel(b) || n <= 0 || a->dtype != EV_DT_FLOAT || b->dtype != EV_DT_FLOAT) return NAN;
    int64_t rows = a->rank > 1 ? a->dims[0] : 1, cols = n / rows;
    const float *x = a->data, *y = b->data;
    double worst = 1.0;
    for (int64_t r = 0; r < rows; r++) {
        double sxy = 0, sxx = 0, syy = 0;
        for (int64_t i = 0; i < cols; i++) {
            double p = x[r * cols + i], q = y[r * cols + i];
            sxy += p * q;
            sxx += p * p;
            syy += q * q;
        }
        double c = (sxx > 0 && syy > 0) ? sxy / sqrt(sxx * syy) : (sxx == syy ? 1.0 : 0.0);
        if (!(c >= worst)) worst = c;
    }
    return worst;
}

int ev_cmd_bench(int argc, char **argv)
{
    const char *path = NULL;
    int64_t batch = 1, threads = 0, warmup = 10, runs = 50;
    int json = 0, reference = 0, verbose = 0;
    ev_precision prec = EV_PRECISION_FP32;
    cli_shape_arg shapes[16];
    int n_shapes = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
#define OPTVAL(name)                                                                               \
    (!strcmp(a, name) ? (v = i + 1 < argc ? argv[++i] : NULL, 1)                                   \
                      : (!strncmp(a, name "=", sizeof(name)) ? (v = a + sizeof(name), 1) : 0))
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help();
            return EV_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--reference")) {
            reference = 1;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose++;
        } else if (!strcmp(a, "-vv")) {
            verbose += 2;
        } else if (OPTVAL("--batch")) {
            if (!v || !cli_parse_int(v, 1, 1 << 16, &batch))
                return cli_usage_error("bench", "--batch must be an integer in 1..65536, got '%s'", v ? v : "");
        } else if (OPTVAL("--threads")) {
            if (!v || !cli_parse_int(v, 0, 4096, &threads))
                return cli_usage_error("bench", "--threads must be an integer in 0..4096, got '%s'", v ? v : "");
        } else if (OPTVAL("--warmup")) {
            if (!v || !cli_parse_int(v, 0, 1000000, &warmup))
                return cli_usage_error("bench", "--warmup must be an integer in 0..1000000, got '%s'", v ? v : "");
        } else if (OPTVAL("--runs")) {
            if (!v || !cli_parse_int(v, 1, 1000000, &runs))
                return cli_usage_error("bench", "--runs must be an integer in 1..1000000, got '%s'", v ? v : "");
        } else if (OPTVAL("--precision")) {
            if (v && !strcmp(v, "fp32")) prec = EV_PRECISION_FP32;
            else if (v && !strcmp(v, "bf16")) prec = EV_PRECISION_BF16;
            else return cli_usage_error("bench", "--precision must be fp32 or bf16, got '%s'", v ? v : "");
        } else if (OPTVAL("--shape")) {
            if (!v) return cli_usage_error("bench", "--shape needs NAME=d0,d1,...");
            if (n_shapes >= 16) return cli_usage_error("bench", "too many --shape options");
            if (!cli_parse_shape_arg(v, &shapes[n_shapes]))
                return cli_usage_error("bench", "bad --shape '%s': expected NAME=d0,d1,...", v);
            n_shapes++;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("bench", "unknown option '%s'", a);
        } else if (!path) {
            path = a;
        } else {
            return cli_usage_error("bench", "more than one model given ('%s' and '%s')", path, a);
        }
#undef OPTVAL
    }
    if (!path) return cli_usage_error("bench", "no model given");
    if (reference && prec == EV_PRECISION_BF16)
        return cli_usage_error("bench", "--precision bf16 needs the fast path (not --reference)");
    cli_setup_logging(verbose);

    ev_model_options o = ev_model_default_options();
    o.threads = (int)threads;
    o.precision = prec;
    o.reference_only = reference;
    int rc = EV_EXIT_OK;
    bench_inputs in = {0};
    double *lat = NULL;
    ev_model *ref = NULL;
    ev_model *m = ev_model_new(&o);
    if (!m) {
        cli_error("out of memory");
        return EV_EXIT_RUNTIME;
    }
    /* cold load: parse + fold + plan (primitive creation, weight reorders) */
    double t0 = now_ms();
    ev_status st = ev_model_load(m, path);
    if (st != EV_OK) {
        cli_error("%s (%s)", ev_model_errmsg(m), path);
        rc = cli_exit_code(st);
        goto out;
    }
    if ((rc = make_inputs(m, path, batch, shapes, n_shapes, &in)) != 0) goto out;
    ev_plan_stats ps;
    st = ev_model_plan_stats(m, in.t, in.n, &ps, NULL);
    if (st != EV_OK) {
        cli_error("cannot plan the model at batch %lld: %s (%s)", (long long)batch, ev_model_errmsg(m), path);
        rc = cli_exit_code(st);
        goto out;
    }
    double load_ms = now_ms() - t0;
    ev_model_info info;
    ev_model_get_info(m, &info);
    lat = malloc((size_t)runs * sizeof *lat);
    if (!lat) {
        cli_error("out of memory");
        rc = EV_EXIT_RUNTIME;
        goto out;
    }
    for (int64_t i = 0; i < warmup + runs; i++) {
        double s = now_ms();
        st = ev_model_run(m, in.t, in.n);
        double e = now_ms();
        if (st != EV_OK) {
            cli_error("run failed: %s (%s)", ev_model_errmsg(m), path);
            rc = cli_exit_code(st);
            goto out;
        }
        if (i >= warmup) lat[i - warmup] = e - s;
    }
    double rss = peak_rss_mib();
    double cosine = NAN;
    if (prec == EV_PRECISION_BF16) {
        ev_tensor yb, yf;
        ev_model_output(m, 0, &yb);
        ev_model_options of = o;
        of.precision = EV_PRECISION_FP32;
        ref = ev_model_new(&of);
        if (!ref || ev_model_load(ref, path) != EV_OK || ev_model_run(ref, in.t, in.n) != EV_OK ||
            ev_model_output(ref, 0, &yf) != EV_OK) {
            cli_error("fp32 comparison run failed: %s (%s)", ref ? ev_model_errmsg(ref) : "out of memory", path);
            rc = EV_EXIT_RUNTIME;
            goto out;
        }
        cosine = min_row_cosine(&yb, &yf);
    }
    qsort(lat, (size_t)runs, sizeof *lat, cmp_double);
    double med = pct(lat, (int)runs, 50), p90 = pct(lat, (int)runs, 90), p99 = pct(lat, (int)runs, 99),
           mn = lat[0];
    double B = (double)batch;
    double size_mib = (double)info.file_bytes / (1024.0 * 1024.0);
    double macs = (double)ps.macs / B;
    int eff_threads = (int)threads;
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "model", path);
        cJSON_AddNumberToObject(root, "batch", B);
        cJSON_AddNumberToObject(root, "threads", eff_threads);
        cJSON_AddStringToObject(root, "precision", prec == EV_PRECISION_BF16 ? "bf16" : "fp32");
        cJSON_AddStringToObject(root, "engine", reference ? "reference" : "fast");
        cJSON_AddNumberToObject(root, "warmup", (double)warmup);
        cJSON_AddNumberToObject(root, "runs", (double)runs);
        cJSON *l = cJSON_AddObjectToObject(root, "latency_ms");
        cJSON_AddNumberToObject(l, "median", med / B);
        cJSON_AddNumberToObject(l, "p90", p90 / B);
        cJSON_AddNumberToObject(l, "p99", p99 / B);
        cJSON_AddNumberToObject(l, "min", mn / B);
        cJSON *bl = cJSON_AddObjectToObject(root, "batch_ms");
        cJSON_AddNumberToObject(bl, "median", med);
        cJSON_AddNumberToObject(bl, "min", mn);
        cJSON_AddNumberToObject(root, "throughput_ips", med > 0 ? B * 1000.0 / med : 0.0);
        cJSON_AddNumberToObject(root, "load_ms", load_ms);
        cJSON_AddNumberToObject(root, "peak_rss_mib", rss);
        cJSON_AddNumberToObject(root, "size_mib", size_mib);
        cJSON_AddNumberToObject(root, "params", (double)info.params);
        cJSON_AddNumberToObject(root, "macs", macs);
        cJSON_AddNumberToObject(root, "arena_mib", (double)ps.arena_bytes / (1024.0 * 1024.0));
        if (prec == EV_PRECISION_BF16) cJSON_AddNumberToObject(root, "cosine_vs_fp32", cosine);
        char *s = cJSON_Print(root);
        cJSON_Delete(root);
        if (!s) {
            cli_error("out of memory");
            rc = EV_EXIT_RUNTIME;
            goto out;
        }
        printf("%s\n", s);
        free(s);
    } else {
        char pc[32];
        cli_format_count(info.params, pc, sizeof pc);
        printf("model       %s\n", path);
        printf("settings    %s, %s, batch %lld, threads %s%lld, %lld warm-up + %lld runs\n",
               reference ? "reference kernels" : "fast path", prec == EV_PRECISION_BF16 ? "bf16" : "fp32",
               (long long)batch, threads ? "" : "all (0) = ", (long long)threads, (long long)warmup,
               (long long)runs);
        printf("latency     %.3f ms/image median, p90 %.3f, p99 %.3f, min %.3f", med / B, p90 / B,
               p99 / B, mn / B);
        if (batch > 1) printf("  (batch of %lld: %.3f ms median)", (long long)batch, med);
        printf("\n");
        printf("throughput  %.1f images/s\n", med > 0 ? B * 1000.0 / med : 0.0);
        printf("load        %.1f ms (parse, fold, plan, primitives, weight reorders)\n", load_ms);
        printf("memory      peak RSS %.1f MiB, activation arena %.2f MiB\n", rss,
               (double)ps.arena_bytes / (1024.0 * 1024.0));
        printf("model size  %.2f MiB, %s parameters, %.3f GMACs/image (%.1f GFLOP/s achieved)\n",
               size_mib, pc, macs * 1e-9, med > 0 ? 2.0 * (double)ps.macs / (med * 1e-3) * 1e-9 : 0.0);
        if (prec == EV_PRECISION_BF16) printf("bf16        cosine vs fp32 %.6f (min over rows)\n", cosine);
    }
out:
    free(lat);
    free_inputs(&in);
    ev_model_free(ref);
    ev_model_free(m);
    return rc;
}
