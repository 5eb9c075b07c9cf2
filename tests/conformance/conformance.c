/*
 * tests/conformance/conformance.c — run ONNX's own backend test cases.
 *
 * Usage: conformance [-v] [--filter SUBSTR] [--threads N] [--mutate N] DIR...
 *
 * --mutate N also loads and runs N byte-mutated copies of every passing
 * case's model (robustness: no crash, no sanitizer report).
 * --fast runs with the oneDNN fast-path pass (default: reference kernels
 * only, the ground truth).
 *
 * Each DIR holds case directories `<case>/model.onnx` +
 * `<case>/test_data_set_N/input_N.pb, output_N.pb` (TensorProto). For every case:
 * load the model; a load refused with EV_ERR_UNSUPPORTED (op, opset, dtype,
 * non-tensor values) SKIPS the case and the reason is tallied; so does a
 * plan refused with EV_ERR_UNSUPPORTED (a kernel rejecting a dtype). Else
 * every data set is run and every output compared: floats with
 * |a - b| <= atol + rtol * |b| (rtol 1e-3, atol 1e-4; NaN matches NaN),
 * integers and bools exactly. Prints failures, then a summary table with the
 * skip reasons; exits 1 if any case failed.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embeval/embeval.h"
#include "onnx/ir.h"
#include "onnx/plan.h"
#include "onnx/onnx.pb-c.h"

#define RTOL 1e-3
#define ATOL 1e-4
#define MAX_IO 64

static int verbose;
static int use_fast; /* --fast: let the oneDNN fast-path pass rewrite plans */

typedef struct reason {
    char text[160];
    int count;
    char example[128];
} reason;

static reason reasons[512];
static int n_reasons;

static void tally(const char *text, const char *example)
{
    for (int i = 0; i < n_reasons; i++)
        if (!strcmp(reasons[i].text, text)) { reasons[i].count++; return; }
    if (n_reasons < (int)(sizeof reasons / sizeof reasons[0])) {
        snprintf(reasons[n_reasons].text, sizeof reasons[n_reasons].text, "%s", text);
        snprintf(reasons[n_reasons].example, sizeof reasons[n_reasons].example, "%s", example);
        reasons[n_reasons++].count = 1;
    }
}

/* Reduce an "unsupported" message to a tally key. */
static void classify(const char *msg, char *out, size_t len)
{
    const char *p;
    if ((p = strstr(msg, "unsupported op '"))) {
        p += strlen("unsupported op '");
        const char *q = strchr(p, '\'');
        int n = q ? (int)(q - p) : 40;
        const char *dom = strstr(msg, "of domain '");
        if (dom && (!q || dom > q)) {
            dom += strlen("of domain '");
            const char *dq = strchr(dom, '\'');
            snprintf(out, len, "op %.*s (domain %.*s)", n, p, dq ? (int)(dq - dom) : 30, dom);
        } else {
            snprintf(out, len, "op %.*s", n, p);
        }
    } else if ((p = strstr(msg, "opset ")) && strstr(msg, "default domain is not supported")) {
        snprintf(out, len, "opset %d (< 7 or > 18)", atoi(p + 6));
    } else if (strstr(msg, "is not a tensor")) {
        snprintf(out, len, "non-tensor values (sequence/map/optional)");
    } else if ((p = strstr(msg, "element type ")) || (p = strstr(msg, "tensor type "))) {
        p = strchr(p, ' ');
        p = p ? strchr(p + 1, ' ') : NULL;
        snprintf(out, len, "dtype %.*s", p ? (int)strcspn(p + 1, " ),") : 1, p ? p + 1 : "?");
    } else if (strstr(msg, "imports no opset of the default")) {
        snprintf(out, len, "no default-domain opset (e.g. training domain only)");
    } else {
        /* kernel refusals: "<Op> node '<name>' (opset N): <detail>" */
        char op[64] = "?";
        sscanf(msg, "%63s", op);
        const char *d = strstr(msg, "): ");
        d = d ? d + 3 : msg;
        const char *dt = strstr(d, "dtype ");
        if (dt) {
            dt += 6;
            snprintf(out, len, "dtype %.*s (%s)", (int)strcspn(dt, " ),;"), dt, op);
        } else if (strstr(d, "training")) {
            snprintf(out, len, "training mode (%s)", op);
        } else {
            snprintf(out, len, "%s: %.*s", op, (int)strcspn(d, "(;"), d);
        }
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted list of entries of `dir` starting with `prefix` (numeric suffix
 * order for input_N / output_N). */
static int list_dir(const char *dir, const char *prefix, char ***out)
{
    DIR *d = opendir(dir);
    *out = NULL;
    if (!d) return 0;
    int n = 0, cap = 0;
    char **v = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix))) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, sizeof *v * (size_t)cap);
            if (!nv) break;
            v = nv;
        }
        v[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n > 1) qsort(v, (size_t)n, sizeof *v, cmp_str);
    /* numeric order for input_10 after input_9 */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            int a = atoi(v[j - 1] + strlen(prefix)), b = atoi(v[j] + strlen(prefix));
            if (a <= b) break;
            char *t = v[j - 1]; v[j - 1] = v[j]; v[j] = t;
        }
    *out = v;
    return n;
}

static void free_list(char **v, int n)
{
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

typedef struct pbtensor {
    char name[256];
    ev_tensor t;
} pbtensor;

static int read_pb(const char *path, ev_arena *a, pbtensor *out, char *msg, size_t mlen)
{
    char *buf = NULL;
    size_t len = 0;
    ev_err err = {0};
    if (ev_read_file(path, (size_t)1 << 30, &buf, &len, &err) != EV_OK) {
        snprintf(msg, mlen, "%s", err.msg);
        return -1;
    }
    out->name[0] = 0;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, (const uint8_t *)buf);
    if (tp) {
        if (tp->name) snprintf(out->name, sizeof out->name, "%s", tp->name);
        onnx__tensor_proto__free_unpacked(tp, NULL);
    }
    ev_status st = ev_tensor_from_pb(buf, len, path, a, 0, &out->t, &err);
    free(buf);
    if (st != EV_OK) {
        snprintf(msg, mlen, "%s", err.msg);
        return st == EV_ERR_UNSUPPORTED ? -2 : -1;
    }
    return 0;
}

static double get_f(const ev_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case EV_DT_FLOAT: return ((const float *)t->data)[i];
    case EV_DT_DOUBLE: return ((const double *)t->data)[i];
    case EV_DT_FLOAT16: {
        uint16_t h = ((const uint16_t *)t->data)[i];
        int s = h >> 15, e = (h >> 10) & 31, f = h & 1023;
        double v = e == 0 ? ldexp(f, -24) : e == 31 ? (f ? NAN : INFINITY) : ldexp(f + 1024, e - 25);
        return s ? -v : v;
    }
    case EV_DT_BFLOAT16: {
        uint32_t u = (uint32_t)((const uint16_t *)t->data)[i] << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    default: return 0;
    }
}

static int is_float(ev_dtype dt)
{
    return dt == EV_DT_FLOAT || dt == EV_DT_DOUBLE || dt == EV_DT_FLOAT16 || dt == EV_DT_BFLOAT16;
}

static void shape_str(const ev_tensor *t, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "%s[", ev_dtype_name(t->dtype));
    for (int i = 0; i < t->rank && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : "", (long long)t->dims[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
}

/* 0 = equal; else message in msg */
static int compare(const ev_tensor *got, const ev_tensor *want, char *msg, size_t mlen)
{
    char a[128], b[128];
    shape_str(got, a, sizeof a);
    shape_str(want, b, sizeof b);
    if (got->dtype != want->dtype || got->rank != want->rank) {
        snprintf(msg, mlen, "got %s, expected %s", a, b);
        return 1;
    }
    for (int i = 0; i < got->rank; i++)
        if (got->dims[i] != want->dims[i]) {
            snprintf(msg, mlen, "got %s, expected %s", a, b);
            return 1;
        }
    int64_t n = ev_tensor_numel(want);
    if (n > 0 && !got->data) {
        snprintf(msg, mlen, "output has no data");
        return 1;
    }
    int64_t bad = 0, first = -1;
    double worst = 0, wa = 0, wb = 0;
    if (is_float(want->dtype)) {
        for (int64_t i = 0; i < n; i++) {
            double x = get_f(got, i), y = get_f(want, i);
            if (isnan(y) && isnan(x)) continue;
            if (isinf(y) && x == y) continue;
            double d = fabs(x - y);
            if (!(d <= ATOL + RTOL * fabs(y))) {
                if (first < 0) first = i;
                bad++;
                if (!(d <= worst)) { worst = d; wa = x; wb = y; }
            }
        }
        if (bad) {
            snprintf(msg, mlen, "%lld of %lld values differ; worst |%g - %g| = %g (first at %lld)",
                     (long long)bad, (long long)n, wa, wb, worst, (long long)first);
            return 1;
        }
        return 0;
    }
    size_t es = ev_dtype_size(want->dtype);
    for (int64_t i = 0; i < n; i++)
        if (memcmp((const char *)got->data + i * (int64_t)es, (const char *)want->data + i * (int64_t)es, es)) {
            if (first < 0) first = i;
            bad++;
        }
    if (bad) {
        long long gv = 0, wv = 0;
        memcpy(&gv, (const char *)got->data + first * (int64_t)es, es < 8 ? es : 8);
        memcpy(&wv, (const char *)want->data + first * (int64_t)es, es < 8 ? es : 8);
        snprintf(msg, mlen, "%lld of %lld values differ (first at %lld: %lld vs %lld)", (long long)bad,
                 (long long)n, (long long)first, gv, wv);
        return 1;
    }
    return 0;
}

enum { R_PASS, R_FAIL, R_SKIP };

static int run_case(const char *dir, const char *name, int threads, char *msg, size_t mlen,
                    char *why, size_t wlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(why, wlen, "no model.onnx");
        return R_SKIP;
    }
    ev_model_options o = ev_model_default_options();
    o.threads = threads;
    o.reference_only = !use_fast;
    ev_model *m = ev_model_new(&o);
    if (!m) { snprintf(msg, mlen, "out of memory"); return R_FAIL; }
    ev_status s = ev_model_load(m, path);
    if (s != EV_OK) {
        int r = s == EV_ERR_UNSUPPORTED ? R_SKIP : R_FAIL;
        if (r == R_SKIP) classify(ev_model_errmsg(m), why, wlen);
        snprintf(msg, mlen, "load: %s", ev_model_errmsg(m));
        ev_model_free(m);
        return r;
    }
    char **sets;
    int n_sets = list_dir(dir, "test_data_set_", &sets);
    int result = R_PASS;
    if (n_sets == 0) {
        snprintf(why, wlen, "no test data");
        result = R_SKIP;
    }
    int nin = ev_model_num_inputs(m), nout = ev_model_num_outputs(m);
    for (int si = 0; si < n_sets && result == R_PASS; si++) {
        char sdir[4096];
        snprintf(sdir, sizeof sdir, "%s/%s", dir, sets[si]);
        ev_arena a;
        ev_arena_init(&a, 0);
        char **ins, **outs;
        int ni = list_dir(sdir, "input_", &ins), no = list_dir(sdir, "output_", &outs);
        pbtensor in[MAX_IO], want[MAX_IO];
        ev_tensor feed[MAX_IO];
        int rc = 0;
        if (ni > MAX_IO || no > MAX_IO || nin > MAX_IO) rc = -1, snprintf(msg, mlen, "too many inputs");
        for (int i = 0; i < ni && !rc; i++) {
            char p[8400];
            snprintf(p, sizeof p, "%s/%s", sdir, ins[i]);
            rc = read_pb(p, &a, &in[i], msg, mlen);
        }
        for (int i = 0; i < no && !rc; i++) {
            char p[8400];
            snprintf(p, sizeof p, "%s/%s", sdir, outs[i]);
            rc = read_pb(p, &a, &want[i], msg, mlen);
        }
        if (rc == -2) {
            classify(msg, why, wlen);
            result = R_SKIP;
        } else if (rc) {
            result = R_FAIL;
        } else if (ni != nin || no != nout) {
            snprintf(msg, mlen, "model has %d inputs/%d outputs, test data %d/%d", nin, nout, ni, no);
            result = R_FAIL;
        } else {
            /* match by name when the data names a model input, else by position */
            for (int i = 0; i < nin; i++) {
                ev_value_info vi;
                ev_model_input_info(m, i, &vi);
                feed[i] = in[i].t;
                for (int k = 0; k < ni; k++)
                    if (in[k].name[0] && !strcmp(in[k].name, vi.name)) feed[i] = in[k].t;
                /* ONNX stores some bfloat16/float16 test inputs as uint16 */
                if (feed[i].dtype == EV_DT_UINT16 &&
                    (vi.dtype == EV_DT_BFLOAT16 || vi.dtype == EV_DT_FLOAT16))
                    feed[i].dtype = vi.dtype;
            }
            /* a few ONNX cases feed data that contradicts the model's own
             * declared static input shape: a defect of the case, skipped */
            for (int i = 0; i < nin && result == R_PASS; i++) {
                ev_value_info vi;
                ev_model_input_info(m, i, &vi);
                int bad = vi.rank >= 0 && vi.rank != feed[i].rank;
                for (int k = 0; !bad && vi.rank >= 0 && k < vi.rank; k++)
                    bad = vi.dims[k] >= 0 && vi.dims[k] != feed[i].dims[k];
                if (bad) {
                    snprintf(why, wlen, "test data contradicts the declared input shape");
                    result = R_SKIP;
                }
            }
            s = result == R_PASS ? ev_model_run(m, feed, nin) : EV_OK;
            if (result != R_PASS) {
                /* skipped above */
            } else if (s == EV_ERR_UNSUPPORTED) {
                classify(ev_model_errmsg(m), why, wlen);
                snprintf(msg, mlen, "plan: %s", ev_model_errmsg(m));
                result = R_SKIP;
            } else if (s != EV_OK) {
                snprintf(msg, mlen, "run (%s): %s", sets[si], ev_model_errmsg(m));
                result = R_FAIL;
            } else {
                for (int i = 0; i < nout && result == R_PASS; i++) {
                    ev_tensor got;
                    ev_value_info vi;
                    ev_model_output_info(m, i, &vi);
                    ev_model_output(m, i, &got);
                    char cm[512];
                    if (compare(&got, &want[i].t, cm, sizeof cm)) {
                        snprintf(msg, mlen, "output '%s' (%s): %s", vi.name, sets[si], cm);
                        result = R_FAIL;
                    }
                }
            }
        }
        free_list(ins, ni);
        free_list(outs, no);
        ev_arena_free(&a);
    }
    free_list(sets, n_sets);
    ev_model_free(m);
    (void)name;
    return result;
}

/* Robustness mode: load and run byte-mutated copies of a (passing) case's
 * model on its first data set. Only the absence of crashes (and, in the
 * sanitizer build, of memory errors) is checked; statuses are ignored. */
static unsigned long long mut_state = 0x9e3779b97f4a7c15ull;

static unsigned mut_rand(void)
{
    mut_state = mut_state * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)(mut_state >> 33);
}

static void mutate_case(const char *dir, int n, int threads, int *loads, int *runs)
{
    char path[4200], sdir[4200];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    snprintf(sdir, sizeof sdir, "%s/test_data_set_0", dir);
    char *buf = NULL;
    size_t len = 0;
    ev_err err = {0};
    if (ev_read_file(path, (size_t)1 << 26, &buf, &len, &err) != EV_OK || len == 0) {
        free(buf);
        return;
    }
    ev_arena a;
    ev_arena_init(&a, 0);
    char **ins;
    int ni = list_dir(sdir, "input_", &ins);
    pbtensor in[MAX_IO];
    ev_tensor feed[MAX_IO];
    char msg[256];
    int ok = ni <= MAX_IO;
    for (int i = 0; ok && i < ni; i++) {
        char p[8400];
        snprintf(p, sizeof p, "%s/%s", sdir, ins[i]);
        ok = read_pb(p, &a, &in[i], msg, sizeof msg) == 0;
        if (ok) feed[i] = in[i].t;
    }
    char *mut = malloc(len);
    for (int it = 0; ok && mut && it < n; it++) {
        memcpy(mut, buf, len);
        int flips = 1 + (int)(mut_rand() % 4);
        for (int k = 0; k < flips; k++) mut[mut_rand() % len] = (char)mut_rand();
        /* the internal API loads from memory: no temporary files */
        ev_graph *g = NULL;
        if (ev_graph_load_buffer(mut, len, "mutated.onnx", NULL, NULL, &g, &err) == EV_OK &&
            ev_graph_fold_constants(g, &err) == EV_OK) {
            (*loads)++;
            ev_plan *p = NULL;
            if (g->n_inputs == ni && ev_plan_build(g, feed, ni, NULL, &p, &err) == EV_OK) {
                void *arena = ev_malloc_aligned((size_t)p->arena_bytes);
                ev_exec_ctx x = {threads, &err};
                if (arena && ev_plan_execute(p, arena, feed, ni, &x) == EV_OK) (*runs)++;
                ev_free_aligned(arena);
            }
            ev_plan_free(p);
        }
        ev_graph_free(g);
    }
    free(mut);
    free_list(ins, ni);
    ev_arena_free(&a);
    free(buf);
}

int main(int argc, char **argv)
{
    int mutate = 0, loads = 0, runs = 0;
    const char *filter = NULL;
    int threads = 1, n_dirs = 0;
    const char *dirs[16];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) verbose = 1;
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--mutate") && i + 1 < argc) mutate = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--fast")) use_fast = 1;
        else if (n_dirs < 16) dirs[n_dirs++] = argv[i];
    }
    if (!n_dirs) {
        fprintf(stderr, "usage: conformance [-v] [--filter SUBSTR] [--threads N] [--mutate N] [--fast] DIR...\n");
        return 2;
    }
    int pass = 0, failn = 0, skip = 0;
    for (int d = 0; d < n_dirs; d++) {
        char **cases;
        int nc = list_dir(dirs[d], "", &cases);
        if (nc == 0) {
            fprintf(stderr, "conformance: no cases in %s\n", dirs[d]);
            failn++;
        }
        for (int c = 0; c < nc; c++) {
            if (cases[c][0] == '.') continue;
            if (filter && !strstr(cases[c], filter)) continue;
            char dir[4096], msg[1024] = "", why[256] = "";
            snprintf(dir, sizeof dir, "%s/%s", dirs[d], cases[c]);
            struct stat st;
            if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
            int r = run_case(dir, cases[c], threads, msg, sizeof msg, why, sizeof why);
            if (r == R_PASS && mutate > 0) mutate_case(dir, mutate, threads, &loads, &runs);
            if (r == R_PASS) {
                pass++;
                if (verbose) printf("PASS %s\n", cases[c]);
            } else if (r == R_FAIL) {
                failn++;
                printf("FAIL %s: %s\n", cases[c], msg);
            } else {
                skip++;
                tally(why, cases[c]);
                if (verbose) printf("SKIP %s: %s\n", cases[c], why);
            }
            fflush(stdout);
        }
        free_list(cases, nc);
    }
    /* summary: skip reasons by count */
    for (int i = 1; i < n_reasons; i++)
        for (int j = i; j > 0 && reasons[j - 1].count < reasons[j].count; j--) {
            reason t = reasons[j - 1]; reasons[j - 1] = reasons[j]; reasons[j] = t;
        }
    printf("\nONNX backend conformance (rtol %g, atol %g, %s)\n", RTOL, ATOL,
           use_fast ? "fast path" : "reference kernels");
    printf("  passed  %5d\n  failed  %5d\n  skipped %5d\n", pass, failn, skip);
    if (mutate > 0)
        printf("  mutated models: %d per passing case, %d loaded, %d ran (no crash)\n", mutate, loads,
               runs);
    if (n_reasons) {
        printf("\nskip reasons (count, reason, example case):\n");
        for (int i = 0; i < n_reasons; i++)
            printf("  %5d  %-50s %s\n", reasons[i].count, reasons[i].text, reasons[i].example);
    }
    return failn ? 1 : 0;
}
