/* src/cmd_bench.c — `embeval bench MODEL.onnx`: latency, throughput, load
 * time, memory and size of one model on this machine. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_model.h"

const char ev_cmd_bench_summary[] = "measure a model's latency, throughput, load time, memory";

static void help(void)
{
    printf("Usage: embeval bench MODEL.onnx [--batch B] [--threads N] [--warmup W] [--runs R]\n"
           "                     [--precision fp32|bf16] [--latency-batch L]\n"
           "                     [--shape NAME=d0,d1,...] [--reference] [--json] [-v]\n"
           "\n"
           "Load MODEL.onnx, plan it (the oneDNN fast path unless --reference) and measure\n"
           "on seeded N(0,1) inputs, inference only (no decoding or preprocessing):\n"
           "  latency     per image at batch L (default 1): W warm-up runs, then R timed\n"
           "              runs; median, p90, p99, min in ms (batch time / L)\n"
           "  throughput  images per second at batch B (B / median batch time)\n"
           "  load        cold load in ms: parse, constant folding, plan, primitive\n"
           "              creation and weight reorders (the batch-L plan)\n"
           "  peak RSS    peak resident memory of the process while the model was\n"
           "              loaded and run (MiB)\n"
           "  size        model file + external data (MiB), parameters, MACs per image\n"
           "With --precision bf16 the output is also computed in fp32 on the same input\n"
           "and the cosine similarity of the two printed (cosine_vs_fp32, min over rows).\n"
           "The measurement is library code shared with `embeval run` (embeval/bench.h).\n"
           "\n"
           "Options:\n"
           "  --batch B            throughput batch size (default 1: throughput from the\n"
           "                       latency runs); the first dimension of every input where\n"
           "                       it is dynamic\n"
           "  --latency-batch L    batch size of the latency runs (default 1)\n"
           "  --threads N          threads (default 0 = all cores); honoured exactly\n"
           "  --warmup W           warm-up runs, not measured (default 10)\n"
           "  --runs R             measured runs (default 50)\n"
           "  --precision P        fp32 (default) or bf16 (needs a CPU with AVX512_BF16)\n"
           "  --shape NAME=d0,...  concrete shape of input NAME (for dynamic dimensions\n"
           "                       other than the first; repeatable)\n"
           "  --reference          plain-C reference kernels only (no oneDNN)\n"
           "  --json               one JSON object: latency_ms.{median,p90,p99,min},\n"
           "                       throughput_ips, load_ms, peak_rss_mib, size_mib, params,\n"
           "                       macs (per image), cosine_vs_fp32 (bf16 only), batch_ms,\n"
           "                       arena_mib, other_cpu_share (share of the machine's\n"
           "                       CPU time other processes used during the latency\n"
           "                       runs; above 0.1 the latencies are inflated) and\n"
           "                       the settings\n"
           "  -v, --verbose        log the fast path's decisions (-vv: more)\n"
           "  -h, --help           show this help\n"
           "\n"
           "Exit status: 0 ok; 2 usage error; 3 the model is malformed or unsupported;\n"
           "1 other failures (e.g. bf16 on a CPU without bf16 support).\n");
}

int ev_cmd_bench(int argc, char **argv)
{
    const char *path = NULL;
    int64_t batch = 1, lbatch = 1, threads = 0, warmup = 10, runs = 50;
    int json = 0, reference = 0, verbose = 0;
    ev_precision prec = EV_PRECISION_FP32;
    cli_shape_arg shapes[EV_BENCH_MAX_SHAPES];
    char *names[EV_BENCH_MAX_SHAPES];
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
        } else if (OPTVAL("--latency-batch")) {
            if (!v || !cli_parse_int(v, 1, 1 << 16, &lbatch))
                return cli_usage_error("bench", "--latency-batch must be an integer in 1..65536, got '%s'",
                                       v ? v : "");
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
            if (n_shapes >= EV_BENCH_MAX_SHAPES) return cli_usage_error("bench", "too many --shape options");
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

    ev_bench_options o = ev_bench_default_options();
    o.threads = (int)threads;
    o.precision = prec;
    o.reference_only = reference;
    o.warmup = (int)warmup;
    o.runs = (int)runs;
    o.latency_batch = (int)lbatch;
    o.batch = (int)batch;
    o.throughput_runs = (int)(runs < 10 ? runs : 10);
    o.throughput_warmup = (int)(warmup < 2 ? warmup : 2);
    o.compare_fp32 = prec == EV_PRECISION_BF16;
    o.n_shapes = n_shapes;
    for (int i = 0; i < n_shapes; i++) {
        /* the name is not NUL-terminated in argv: copy it */
        names[i] = strndup(shapes[i].name, shapes[i].name_len);
        if (!names[i]) {
            cli_error("out of memory");
            for (int k = 0; k < i; k++) free(names[k]);
            return EV_EXIT_RUNTIME;
        }
        o.shapes[i].name = names[i];
        o.shapes[i].rank = shapes[i].rank;
        memcpy(o.shapes[i].dims, shapes[i].dims, sizeof o.shapes[i].dims);
    }
    ev_bench_result r;
    char err[1024];
    ev_status st = ev_bench_model(path, &o, &r, err, sizeof err);
    for (int i = 0; i < n_shapes; i++) free(names[i]);
    if (st != EV_OK) {
        if (st == EV_ERR_INVALID_ARG) return cli_usage_error("bench", "%s", err);
        cli_error("%s", err);
        return cli_exit_code(st);
    }
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "model", path);
        cJSON_AddNumberToObject(root, "threads", r.threads);
        cJSON_AddStringToObject(root, "precision", prec == EV_PRECISION_BF16 ? "bf16" : "fp32");
        cJSON_AddStringToObject(root, "engine", reference ? "reference" : "fast");
        cJSON_AddNumberToObject(root, "warmup", r.warmup);
        cJSON_AddNumberToObject(root, "runs", r.runs);
        cJSON_AddNumberToObject(root, "latency_batch", r.batch);
        cJSON *l = cJSON_AddObjectToObject(root, "latency_ms");
        cJSON_AddNumberToObject(l, "median", r.latency_ms.median);
        cJSON_AddNumberToObject(l, "p90", r.latency_ms.p90);
        cJSON_AddNumberToObject(l, "p99", r.latency_ms.p99);
        cJSON_AddNumberToObject(l, "min", r.latency_ms.min);
        cJSON_AddNumberToObject(root, "batch", r.throughput_batch);
        cJSON *bl = cJSON_AddObjectToObject(root, "batch_ms");
        cJSON_AddNumberToObject(bl, "median", r.throughput_batch_ms.median);
        cJSON_AddNumberToObject(bl, "min", r.throughput_batch_ms.min);
        cJSON_AddNumberToObject(root, "throughput_ips", r.throughput_ips);
        cJSON_AddNumberToObject(root, "load_ms", r.load_ms);
        cJSON_AddNumberToObject(root, "peak_rss_mib", r.peak_rss_mib);
        cJSON_AddNumberToObject(root, "size_mib", r.size_mib);
        cJSON_AddNumberToObject(root, "params", (double)r.params);
        cJSON_AddNumberToObject(root, "macs", r.macs);
        cJSON_AddNumberToObject(root, "arena_mib", r.arena_mib);
        if (prec == EV_PRECISION_BF16) cJSON_AddNumberToObject(root, "cosine_vs_fp32", r.cosine_vs_fp32);
        if (isfinite(r.other_cpu_share)) cJSON_AddNumberToObject(root, "other_cpu_share", r.other_cpu_share);
        char *s = cJSON_Print(root);
        cJSON_Delete(root);
        if (!s) {
            cli_error("out of memory");
            return EV_EXIT_RUNTIME;
        }
        printf("%s\n", s);
        free(s);
        return EV_EXIT_OK;
    }
    char pc[32];
    cli_format_count(r.params, pc, sizeof pc);
    printf("model       %s\n", path);
    printf("settings    %s, %s, threads %s%d, %d warm-up + %d runs\n",
           reference ? "reference kernels" : "fast path", prec == EV_PRECISION_BF16 ? "bf16" : "fp32",
           r.threads ? "" : "all (0) = ", r.threads, r.warmup, r.runs);
    printf("latency     %.3f ms/image median, p90 %.3f, p99 %.3f, min %.3f (batch %d)\n", r.latency_ms.median,
           r.latency_ms.p90, r.latency_ms.p99, r.latency_ms.min, r.batch);
    printf("throughput  %.1f images/s at batch %d (%.3f ms per batch)\n", r.throughput_ips,
           r.throughput_batch, r.throughput_batch_ms.median);
    printf("load        %.1f ms (parse, fold, plan, primitives, weight reorders)\n", r.load_ms);
    printf("memory      peak RSS %.1f MiB, activation arena %.2f MiB at batch %d\n", r.peak_rss_mib,
           r.arena_mib, r.batch);
    double gf = r.latency_ms.median > 0 ? 2.0 * r.macs / (r.latency_ms.median * 1e-3) * 1e-9 : 0.0;
    printf("model size  %.2f MiB, %s parameters, %.3f GMACs/image (%.1f GFLOP/s at batch %d)\n", r.size_mib,
           pc, r.macs * 1e-9, gf, r.batch);
    if (prec == EV_PRECISION_BF16) printf("bf16        cosine vs fp32 %.6f (min over rows)\n", r.cosine_vs_fp32);
    if (isfinite(r.other_cpu_share))
        printf("machine     other processes used %.0f%% of the CPUs during the latency runs%s\n",
               100.0 * r.other_cpu_share, r.other_cpu_share > 0.1 ? ": the latencies are inflated" : "");
    return EV_EXIT_OK;
}
