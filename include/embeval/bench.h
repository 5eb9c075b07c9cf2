/*
 * embeval/bench.h — efficiency of a model on this machine: cold load time,
 * inference latency at batch 1 (median, p90, p99, min), throughput at batch
 * B, peak resident memory, size, parameters and MACs per image.
 *
 *     ev_bench_options o = ev_bench_default_options();
 *     o.threads = 2;
 *     ev_bench_result r;
 *     char err[512];
 *     if (ev_bench_model("resnet50.onnx", &o, &r, err, sizeof err) == EV_OK)
 *         printf("%.2f ms/image\n", r.latency_ms.median);
 *
 * Method (METRICS.md "Efficiency"): inputs are seeded N(0, 1) floats (integer
 * inputs: zeros). Load time covers parsing, constant folding and building the
 * batch-1 plan (primitive creation, weight reorders). Then `warmup` untimed
 * and `runs` timed runs at batch 1 (latency_batch): latency is inference only
 * (no decode, no preprocessing), per image. If batch > 1 and the model's
 * first input dimension is dynamic, `throughput_warmup` + `throughput_runs`
 * runs at batch B give the throughput (B / median batch time); otherwise
 * throughput comes from the latency runs.
 *
 * Peak memory: the process's resident high-water mark (VmHWM) is reset
 * before the load (Linux /proc/self/clear_refs) and read after the last run,
 * so peak_rss_mib is the peak of the whole process while this model was
 * loaded and run, and rss_before_mib the resident size before the load. If
 * the reset is not possible, peak_rss_reset is 0 and the peak is the
 * process's lifetime peak.
 *
 * Not thread-safe with other measurements in the same process (the memory
 * high-water mark is process-wide); the timing is only as quiet as the
 * machine.
 */
#ifndef EMBEVAL_BENCH_H
#define EMBEVAL_BENCH_H

#include "embeval/common.h"
#include "embeval/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EV_BENCH_MAX_SHAPES 16

/* A concrete shape for a named input (for dynamic dimensions other than the
 * first). */
typedef struct ev_bench_shape {
    const char *name;
    int rank;
    int64_t dims[EV_MAX_RANK];
} ev_bench_shape;

typedef struct ev_bench_options {
    int threads;                 /* engine threads, 0 = library default       */
    ev_precision precision;      /* default fp32                              */
    int reference_only;          /* plain-C reference kernels only            */
    int warmup;                  /* batch-1 warm-up runs (default 10)         */
    int runs;                    /* batch-1 timed runs (default 50, >= 1)     */
    int latency_batch;           /* batch of the latency runs (default 1);
                                    latency per image = run time / batch      */
    int batch;                   /* throughput batch B (default 1 = none:
                                    throughput from the latency runs)         */
    int throughput_warmup;       /* default 2                                 */
    int throughput_runs;         /* default 10                                */
    int n_shapes;
    ev_bench_shape shapes[EV_BENCH_MAX_SHAPES];
    uint64_t seed;               /* input values (default fixed)              */
    int compare_fp32;            /* bf16: also run fp32 and fill cosine_vs_fp32 */
} ev_bench_options;

typedef struct ev_bench_stats {
    double median, p90, p99, min; /* nearest-rank percentiles                  */
} ev_bench_stats;

typedef struct ev_bench_result {
    int threads;                 /* as requested (0 = library default)        */
    ev_precision precision;
    int reference_only;
    int warmup, runs;
    int batch;                   /* batch of the latency runs (latency_batch,
                                    or the model's fixed batch dimension)     */
    ev_bench_stats latency_ms;   /* per image: batch_ms / batch               */
    ev_bench_stats batch_ms;     /* whole latency runs                        */
    int throughput_batch;        /* B actually used (1 if the batch dimension
                                    is fixed or batch <= 1)                    */
    double throughput_ips;       /* images per second at throughput_batch     */
    ev_bench_stats throughput_batch_ms; /* batch-B run times                  */
    double load_ms;              /* cold load + plan at the latency batch      */
    double peak_rss_mib;
    double rss_before_mib;
    int peak_rss_reset;          /* 1: the high-water mark was reset first    */
    double size_mib;             /* file + external data                      */
    int64_t file_bytes;
    int64_t params;
    double macs;                 /* per image                                 */
    double arena_mib;            /* activation arena at the latency batch     */
    double cosine_vs_fp32;       /* bf16 with compare_fp32, else NaN          */
    double seconds;              /* wall time of the whole measurement        */
    double other_cpu_share;      /* share of the machine's CPU time used by
                                    other processes during the batch-L timed
                                    runs (0-1; NaN if /proc is unavailable):
                                    above ~0.1 the latencies are inflated      */
} ev_bench_result;

EV_API ev_bench_options ev_bench_default_options(void);

/* Load `path` and measure it. Fails with the load/plan/run error of the
 * model (EV_ERR_FORMAT, EV_ERR_UNSUPPORTED, ...: the message names the file)
 * or EV_ERR_INVALID_ARG for a --shape naming no input / a dynamic dimension
 * without a shape. */
EV_API ev_status ev_bench_model(const char *path, const ev_bench_options *opt, ev_bench_result *out,
                                char *errbuf, size_t errlen);

/* Process memory (MiB): current resident size and the high-water mark;
 * ev_rss_reset_peak returns 0 when the mark was reset. */
EV_API double ev_rss_current_mib(void);
EV_API double ev_rss_peak_mib(void);
EV_API int ev_rss_reset_peak(void);

#ifdef __cplusplus
}
#endif
#endif
