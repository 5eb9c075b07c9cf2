/* lib/bench/bench.c — efficiency measurement of one model (embeval/bench.h).
 *
 * Shared by `embeval bench` and `embeval run`, so both report the same
 * numbers measured the same way. */
#include "embeval/bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

ev_bench_options ev_bench_default_options(void)
{
    ev_bench_options o;
    memset(&o, 0, sizeof o);
    o.precision = EV_PRECISION_FP32;
    o.warmup = 10;
    o.runs = 50;
    o.batch = 1;
    o.latency_batch = 1;
    o.throughput_warmup = 2;
    o.throughput_runs = 10;
    o.seed = 0x2545F4914F6CDD1Dull;
    return o;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* A "Vm...:" line of /proc/self/status in MiB, or -1. */
static double proc_status_mib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1.0;
    char line[256];
    size_t kl = strlen(key);
    double v = -1.0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) != 0 || line[kl] != ':') continue;
        long long kb;
        if (sscanf(line + kl + 1, " %lld", &kb) == 1) v = (double)kb / 1024.0;
        break;
    }
    fclose(f);
    return v;
}

double ev_rss_current_mib(void)
{
    double v = proc_status_mib("VmRSS");
    return v < 0 ? 0.0 : v;
}

double ev_rss_peak_mib(void)
{
    double v = proc_status_mib("VmHWM");
    if (v >= 0) return v;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) return (double)ru.ru_maxrss / 1024.0;
    return 0.0;
}

int ev_rss_reset_peak(void)
{
    /* Linux >= 4.0: writing 5 resets the peak RSS to the current RSS. */
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0;
    if (fclose(f) != 0) ok = 0;
    return ok ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted values. */
static double pct(const double *v, int n, double p)
{
    if (n <= 0) return NAN;
    int k = (int)ceil(p / 100.0 * n) - 1;
    if (k < 0) k = 0;
    if (k >= n) k = n - 1;
    return v[k];
}

static void stats_of(double *v, int n, double scale, ev_bench_stats *s)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    s->median = pct(v, n, 50) * scale;
    s->p90 = pct(v, n, 90) * scale;
    s->p99 = pct(v, n, 99) * scale;
    s->min = (n > 0 ? v[0] : NAN) * scale;
}

static double urand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return ((double)(*s >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

#define MAX_INPUTS 16

typedef struct inputs {
    int n;
    ev_tensor t[MAX_INPUTS];
    void *buf[MAX_INPUTS];
    int batch_dynamic;           /* first input's first dim is dynamic        */
} inputs;

static void inputs_free(inputs *in)
{
    for (int i = 0; i < in->n; i++) free(in->buf[i]);
    memset(in, 0, sizeof *in);
}

/* Concrete inputs at `batch`: seeded N(0,1) floats, zeros otherwise. */
static ev_status make_inputs(ev_model *m, const char *path, int64_t batch, const ev_bench_options *o,
                             inputs *in, ev_err *e)
{
    memset(in, 0, sizeof *in);
    int n = ev_model_num_inputs(m);
    EV_FAIL_IF(n > MAX_INPUTS, e, EV_ERR_UNSUPPORTED, "the model has %d inputs, at most %d are supported (%s)", n,
               MAX_INPUTS, path);
    for (int s = 0; s < o->n_shapes; s++) {
        int found = 0;
        for (int i = 0; i < n && !found; i++) {
            ev_value_info vi;
            ev_model_input_info(m, i, &vi);
            found = o->shapes[s].name && !strcmp(vi.name, o->shapes[s].name);
        }
        EV_FAIL_IF(!found, e, EV_ERR_INVALID_ARG, "shape given for '%s', which is not an input of %s",
                   o->shapes[s].name ? o->shapes[s].name : "(null)", path);
    }
    uint64_t rng = o->seed ? o->seed : 0x2545F4914F6CDD1Dull;
    for (int i = 0; i < n; i++) {
        ev_value_info vi;
        ev_model_input_info(m, i, &vi);
        const ev_bench_shape *sa = NULL;
        for (int s = 0; s < o->n_shapes; s++)
            if (!strcmp(vi.name, o->shapes[s].name)) sa = &o->shapes[s];
        ev_tensor *t = &in->t[i];
        memset(t, 0, sizeof *t);
        t->dtype = vi.dtype ? vi.dtype : EV_DT_FLOAT;
        if (sa) {
            EV_FAIL_IF(sa->rank < 0 || sa->rank > EV_MAX_RANK, e, EV_ERR_INVALID_ARG, "bad rank %d for input '%s'",
                       sa->rank, vi.name);
            t->rank = sa->rank;
            memcpy(t->dims, sa->dims, sizeof t->dims);
        } else {
            if (vi.rank < 0) {
                inputs_free(in);
                return ev_err_set(e, EV_ERR_INVALID_ARG, "input '%s' has no declared shape: give its shape (%s)",
                                  vi.name, path);
            }
            t->rank = vi.rank;
            for (int k = 0; k < vi.rank; k++) {
                if (vi.dims[k] >= 0) t->dims[k] = vi.dims[k];
                else if (k == 0) {
                    t->dims[k] = batch;
                    if (i == 0) in->batch_dynamic = 1;
                } else {
                    inputs_free(in);
                    return ev_err_set(e, EV_ERR_INVALID_ARG,
                                      "input '%s' has dynamic dimension %d: give its shape (%s)", vi.name, k, path);
                }
            }
        }
        int64_t numel = ev_tensor_numel(t);
        size_t es = ev_dtype_size(t->dtype);
        if (numel < 0 || es == 0) {
            inputs_free(in);
            return ev_err_set(e, EV_ERR_UNSUPPORTED, "input '%s': unsupported element type %s (%s)", vi.name,
                              ev_dtype_name(t->dtype), path);
        }
        size_t bytes;
        if (!ev_mul_sz((size_t)(numel > 0 ? numel : 1), es, &bytes) || bytes > ((size_t)1 << 34)) {
            inputs_free(in);
            return ev_err_set(e, EV_ERR_LIMIT, "input '%s' is too large (%s)", vi.name, path);
        }
        in->buf[i] = calloc(1, bytes);
        in->n = i + 1;
        if (!in->buf[i]) {
            inputs_free(in);
            return ev_err_set(e, EV_ERR_NOMEM, "out of memory for input '%s'", vi.name);
        }
        if (t->dtype == EV_DT_FLOAT) {
            float *f = in->buf[i];
            for (int64_t j = 0; j < numel; j += 2) {
                double r = sqrt(-2.0 * log(urand(&rng))), a = 2.0 * 3.14159265358979323846 * urand(&rng);
                f[j] = (float)(r * cos(a));
                if (j + 1 < numel) f[j + 1] = (float)(r * sin(a));
            }
        }
        t->data = in->buf[i];
    }
    return EV_OK;
}

/* Cosine similarity of two float outputs: the minimum over rows (dim 0). */
static double min_row_cosine(const ev_tensor *a, const ev_tensor *b)
{
    int64_t n = ev_tensor_numel(a);
    if (n != ev_tensor_numel(b) || n <= 0 || a->dtype != EV_DT_FLOAT || b->dtype != EV_DT_FLOAT) return NAN;
    int64_t rows = a->rank > 1 && a->dims[0] > 0 ? a->dims[0] : 1, cols = n / rows;
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

/* Time `warm` + `runs` runs; fills v[0..runs) with ms per run. */
/* CPU time of the whole machine (busy seconds over all CPUs, from the "cpu"
 * line of /proc/stat) and of this process; false when unavailable. */
static bool cpu_times(double *machine_busy_s, double *self_s)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return false;
    unsigned long long v[8] = {0};
    int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                     &v[6], &v[7]);
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (got < 4 || hz <= 0) return false;
    /* busy = user + nice + system + irq + softirq + steal (not idle, iowait) */
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    *machine_busy_s = (double)busy / (double)hz;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return false;
    *self_s = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
              1e-6 * (double)ru.ru_stime.tv_usec;
    return true;
}

static ev_status timed_runs(ev_model *m, const inputs *in, int warm, int runs, double *v, const char *path,
                            ev_err *e)
{
    for (int i = 0; i < warm + runs; i++) {
        double s = now_ms();
        ev_status st = ev_model_run(m, in->t, in->n);
        double t = now_ms() - s;
        if (st != EV_OK) return ev_err_set(e, st, "run failed: %s (%s)", ev_model_errmsg(m), path);
        if (i >= warm) v[i - warm] = t;
    }
    return EV_OK;
}

ev_status ev_bench_model(const char *path, const ev_bench_options *opt, ev_bench_result *out, char *errbuf,
                         size_t errlen)
{
    ev_err e = {0};
    ev_bench_options o = opt ? *opt : ev_bench_default_options();
    ev_status st = EV_OK;
    ev_model *m = NULL, *ref = NULL;
    inputs in = {0}, inb = {0};
    double *lat = NULL;
    if (errbuf && errlen) errbuf[0] = 0;
    if (!path || !out || o.runs < 1 || o.warmup < 0 || o.batch < 0 || o.latency_batch < 1 || o.throughput_runs < 0 ||
        o.throughput_warmup < 0 || o.n_shapes < 0 || o.n_shapes > EV_BENCH_MAX_SHAPES) {
        ev_err_set(&e, EV_ERR_INVALID_ARG, "ev_bench_model: invalid arguments");
        ev_err_copy(&e, errbuf, errlen);
        return e.code;
    }
    memset(out, 0, sizeof *out);
    out->threads = o.threads;
    out->precision = o.precision;
    out->reference_only = o.reference_only;
    out->warmup = o.warmup;
    out->runs = o.runs;
    out->batch = o.latency_batch;
    out->throughput_batch = o.latency_batch;
    out->cosine_vs_fp32 = NAN;
    out->other_cpu_share = NAN;
    double t_start = now_ms();

    ev_model_options mo = ev_model_default_options();
    mo.threads = o.threads;
    mo.precision = o.precision;
    mo.reference_only = o.reference_only;
    out->rss_before_mib = ev_rss_current_mib();
    out->peak_rss_reset = ev_rss_reset_peak() == 0;
    m = ev_model_new(&mo);
    if (!m) {
        st = ev_err_set(&e, EV_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* cold load: parse + fold + plan (primitive creation, weight reorders) */
    double t0 = now_ms();
    st = ev_model_load(m, path);
    if (st != EV_OK) {
        /* the loader's message already names the file */
        if (strstr(ev_model_errmsg(m), path)) ev_err_set(&e, st, "%s", ev_model_errmsg(m));
        else ev_err_set(&e, st, "%s (%s)", ev_model_errmsg(m), path);
        goto done;
    }
    if ((st = make_inputs(m, path, o.latency_batch, &o, &in, &e)) != EV_OK) goto done;
    ev_plan_stats ps;
    st = ev_model_plan_stats(m, in.t, in.n, &ps, NULL);
    if (st != EV_OK) {
        ev_err_set(&e, st, "cannot plan the model at batch %d: %s (%s)", o.latency_batch, ev_model_errmsg(m),
                   path);
        goto done;
    }
    out->load_ms = now_ms() - t0;
    ev_model_info info;
    if ((st = ev_model_get_info(m, &info)) != EV_OK) {
        ev_err_set(&e, st, "%s (%s)", ev_model_errmsg(m), path);
        goto done;
    }
    out->file_bytes = info.file_bytes;
    out->size_mib = (double)info.file_bytes / (1024.0 * 1024.0);
    out->params = info.params;
    /* a fixed batch dimension different from latency_batch: per image is
     * per row of the first input */
    double lb = in.n > 0 && in.t[0].rank > 0 && in.t[0].dims[0] > 0 ? (double)in.t[0].dims[0] : 1.0;
    if (!in.batch_dynamic) out->batch = (int)lb;
    out->macs = (double)ps.macs / lb;
    out->arena_mib = (double)ps.arena_bytes / (1024.0 * 1024.0);

    int nmax = o.runs > o.throughput_runs ? o.runs : o.throughput_runs;
    lat = malloc((size_t)nmax * sizeof *lat);
    if (!lat) {
        st = ev_err_set(&e, EV_ERR_NOMEM, "out of memory");
        goto done;
    }
    double mb0, self0, mb1, self1, w0 = now_ms();
    bool have0 = cpu_times(&mb0, &self0);
    if ((st = timed_runs(m, &in, o.warmup, o.runs, lat, path, &e)) != EV_OK) goto done;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double wall_s = (now_ms() - w0) * 1e-3;
    if (have0 && cpu_times(&mb1, &self1) && ncpu > 0 && wall_s > 0.05) {
        /* other processes' CPU time over the capacity of the window; the
         * counters tick at 1/HZ, so short windows are coarse */
        double other = (mb1 - mb0) - (self1 - self0);
        double share = other / (wall_s * (double)ncpu);
        out->other_cpu_share = share < 0 ? 0 : share > 1 ? 1 : share;
    }
    stats_of(lat, o.runs, 1.0, &out->batch_ms);
    out->latency_ms.median = out->batch_ms.median / lb;
    out->latency_ms.p90 = out->batch_ms.p90 / lb;
    out->latency_ms.p99 = out->batch_ms.p99 / lb;
    out->latency_ms.min = out->batch_ms.min / lb;
    out->throughput_batch = out->batch;
    out->throughput_ips = out->batch_ms.median > 0 ? lb * 1000.0 / out->batch_ms.median : 0.0;
    out->throughput_batch_ms = out->batch_ms;

    if (o.precision == EV_PRECISION_BF16 && o.compare_fp32) {
        ev_tensor yb, yf;
        ev_model_output(m, 0, &yb);
        ev_model_options of = mo;
        of.precision = EV_PRECISION_FP32;
        ref = ev_model_new(&of);
        if (!ref || ev_model_load(ref, path) != EV_OK || ev_model_run(ref, in.t, in.n) != EV_OK ||
            ev_model_output(ref, 0, &yf) != EV_OK) {
            st = ev_err_set(&e, EV_ERR_BACKEND, "fp32 comparison run failed: %s (%s)",
                            ref ? ev_model_errmsg(ref) : "out of memory", path);
            goto done;
        }
        out->cosine_vs_fp32 = min_row_cosine(&yb, &yf);
        ev_model_free(ref);
        ref = NULL;
    }

    if (o.batch > 1 && o.batch != out->batch && in.batch_dynamic && o.throughput_runs > 0) {
        if ((st = make_inputs(m, path, o.batch, &o, &inb, &e)) != EV_OK) goto done;
        if ((st = timed_runs(m, &inb, o.throughput_warmup, o.throughput_runs, lat, path, &e)) != EV_OK) goto done;
        stats_of(lat, o.throughput_runs, 1.0, &out->throughput_batch_ms);
        out->throughput_batch = o.batch;
        double med = out->throughput_batch_ms.median;
        out->throughput_ips = med > 0 ? (double)o.batch * 1000.0 / med : 0.0;
    }
    out->peak_rss_mib = ev_rss_peak_mib();

done:
    out->seconds = (now_ms() - t_start) * 1e-3;
    free(lat);
    inputs_free(&in);
    inputs_free(&inb);
    ev_model_free(ref);
    ev_model_free(m);
    if (st != EV_OK) ev_err_copy(&e, errbuf, errlen);
    return st;
}
