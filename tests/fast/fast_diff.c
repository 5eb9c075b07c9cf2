/*
 * tests/fast/fast_diff.c — differential test of the oneDNN fast path: the
 * same model planned twice for the same input, once with the reference
 * kernels only and once through ev_fast_pass, executed on the same seeded
 * N(0,1) input; every output must agree:
 *     cosine similarity of every row >= 0.99999 and
 *     max |fast - ref| <= 1e-4 * max |ref|           (fp32)
 *     cosine >= 0.999                                  (--bf16)
 *
 *   fast_diff MODEL.onnx [--batch B] [--threads N] [--disable MASK] [--bf16]
 *             [--min-fused K] [--min-fused-frac F] [--max-fallbacks K] [--min-front K]
 *             [--profile RUNS] [--profile-top N] [--dump]
 *
 * --min-fused / --min-fused-frac fail the test if fewer than K plan steps
 * (or fraction F of them) were fused, so a pattern that silently stops
 * matching is noticed; --max-fallbacks bounds the fused ops that oneDNN
 * refused; --min-front fails it if fewer than K fused ops run image by
 * image (batch > 1, see region.c). Prints one line with the agreement and the fast path's
 * statistics; --profile times every primitive over RUNS extra runs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fast/fast.h"
#include "fast/prims.h"
#include "onnx/ir.h"
#include "onnx/plan.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static int run_plan(const ev_graph *g, const ev_tensor *in, int n_in, const ev_plan_opts *po,
                    ev_plan **pp, void **arena, double *ms, int threads, int runs, ev_err *err)
{
    if (ev_plan_build(g, in, n_in, po, pp, err) != EV_OK) return 1;
    ev_plan *p = *pp;
    *arena = ev_malloc_aligned((size_t)(p->arena_bytes > 0 ? p->arena_bytes : 64));
    if (!*arena) return 1;
    ev_exec_ctx x = {threads, err};
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        if (ev_plan_execute(p, *arena, in, n_in, &x) != EV_OK) return 1;
        double t = now_s() - t0;
        if (t < best) best = t;
    }
    *ms = best * 1e3;
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int batch = 1, threads = 2, bf16 = 0, min_fused = 0, max_fallbacks = -1, min_front = 0;
    double min_frac = 0.0;
    int disable = 0, profile = 0, dump = 0, top = 40;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--disable") && i + 1 < argc) disable = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-fused") && i + 1 < argc) min_fused = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-fallbacks") && i + 1 < argc) max_fallbacks = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-front") && i + 1 < argc) min_front = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-fused-frac") && i + 1 < argc) min_frac = atof(argv[++i]);
        else if (!strcmp(argv[i], "--bf16")) bf16 = 1;
        else if (!strcmp(argv[i], "--dump")) dump = 1;
        else if (!strcmp(argv[i], "--profile") && i + 1 < argc) profile = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--profile-top") && i + 1 < argc) top = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else {
            fprintf(stderr, "usage: fast_diff MODEL.onnx [--batch B] [--threads N] [--disable MASK] "
                            "[--bf16] [--min-fused K] [--min-fused-frac F] [--max-fallbacks K] [--min-front K] "
                            "[--profile RUNS]\n");
            return 2;
        }
    }
    if (!path || batch < 1) {
        fprintf(stderr, "fast_diff: no model\n");
        return 2;
    }
    ev_err err;
    ev_err_clear(&err);
    if (bf16 && !ev_fast_has_bf16()) {
        printf("skip: this CPU has no bf16 support\n");
        return 77;
    }
    ev_graph *g = NULL;
    ev_load_opts lo;
    memset(&lo, 0, sizeof lo);
    if (ev_graph_load(path, &lo, &g, &err) != EV_OK || ev_graph_fold_constants(g, &err) != EV_OK) {
        fprintf(stderr, "fast_diff: %s: %s\n", path, err.msg);
        return 1;
    }
    /* inputs: declared shapes with the dynamic (batch) axis set */
    ev_tensor in[8];
    float *buf[8] = {0};
    int n_in = g->n_inputs;
    if (n_in > 8) {
        fprintf(stderr, "fast_diff: too many inputs\n");
        return 1;
    }
    for (int i = 0; i < n_in; i++) {
        const ev_tensor *d = &g->values[g->inputs[i]].decl;
        in[i] = *d;
        in[i].dtype = EV_DT_FLOAT;
        for (int k = 0; k < d->rank; k++)
            if (in[i].dims[k] < 0) in[i].dims[k] = k == 0 ? batch : 1;
        int64_t n = ev_tensor_numel(&in[i]);
        buf[i] = malloc((size_t)n * sizeof(float));
        for (int64_t j = 0; j < n; j += 2) {
            double r = sqrt(-2.0 * log(urand())), t = 2.0 * M_PI * urand();
            buf[i][j] = (float)(r * cos(t));
            if (j + 1 < n) buf[i][j + 1] = (float)(r * sin(t));
        }
        in[i].data = buf[i];
    }
    ev_plan_opts po_ref, po_fast;
    memset(&po_ref, 0, sizeof po_ref);
    memset(&po_fast, 0, sizeof po_fast);
    ev_fast_opts fo = {threads, bf16, disable};
    po_fast.pass = ev_fast_pass;
    po_fast.pass_user = &fo;
    ev_plan *pr = NULL, *pf = NULL;
    void *ar = NULL, *af = NULL;
    double ms_ref = 0, ms_fast = 0;
    if (run_plan(g, in, n_in, &po_ref, &pr, &ar, &ms_ref, threads, 1, &err)) {
        fprintf(stderr, "fast_diff: reference: %s\n", err.msg);
        return 1;
    }
    int n_ref_steps = pr->n_steps;
    if (run_plan(g, in, n_in, &po_fast, &pf, &af, &ms_fast, threads, 3, &err)) {
        fprintf(stderr, "fast_diff: fast: %s\n", err.msg);
        return 1;
    }
    ev_fast_stats fs;
    ev_fast_plan_stats(pf, &fs);
    int fail = 0;
    double worst_cos = 1.0, worst_rel = 0.0;
    for (int o = 0; o < g->n_outputs; o++) {
        int v = g->outputs[o];
        const ev_tensor *a = &pr->vals[v], *b = &pf->vals[v];
        if (a->dtype != EV_DT_FLOAT) continue;
        int64_t n = ev_tensor_numel(a);
        int64_t rows = a->rank > 1 ? a->dims[0] : 1, cols = rows ? n / rows : 0;
        const float *x = a->data, *y = b->data;
        double mx = 0, md = 0;
        for (int64_t i = 0; i < n; i++) {
            if (fabs(x[i]) > mx) mx = fabs(x[i]);
            double d = fabs((double)x[i] - y[i]);
            if (!(d <= md)) md = d;
        }
        double rel = mx > 0 ? md / mx : md;
        if (!(rel <= worst_rel)) worst_rel = rel;
        for (int64_t r = 0; r < rows; r++) {
            double sxy = 0, sxx = 0, syy = 0;
            for (int64_t i = 0; i < cols; i++) {
                double p = x[r * cols + i], q = y[r * cols + i];
                sxy += p * q;
                sxx += p * p;
                syy += q * q;
            }
            double cs = (sxx > 0 && syy > 0) ? sxy / sqrt(sxx * syy) : (sxx == syy ? 1.0 : 0.0);
            if (!(cs >= worst_cos)) worst_cos = cs;
        }
    }
    if (bf16) {
        if (!(worst_cos >= 0.999)) fail = 1;
    } else if (!(worst_cos >= 0.99999) || !(worst_rel <= 1e-4)) {
        fail = 1;
    }
    if (fs.n_fused_nodes < min_fused || fs.n_fused_nodes < min_frac * n_ref_steps) {
        fprintf(stderr, "fast_diff: only %d steps fused, expected at least %d\n", fs.n_fused_nodes,
                min_fused);
        fail = 1;
    }
    if (fs.n_front_ops < min_front) {
        fprintf(stderr, "fast_diff: %d fused ops run image by image, expected at least %d\n",
                fs.n_front_ops, min_front);
        fail = 1;
    }
    if (max_fallbacks >= 0 && fs.n_fallbacks > max_fallbacks) {
        fprintf(stderr, "fast_diff: %d fused ops fell back to reference kernels (max %d)\n",
                fs.n_fallbacks, max_fallbacks);
        fail = 1;
    }
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    printf("%s %-32s batch %d%s: cos %.7f rel %.2e | fused %d/%d steps, %d regions, %d prims "
           "(%d reorders), %d ref steps, %d fallbacks, weights %.1f MiB | ref %.1f ms fast %.2f ms\n",
           fail ? "FAIL" : "ok  ", base, batch, bf16 ? " bf16" : "", worst_cos, worst_rel,
           fs.n_fused_nodes, n_ref_steps, fs.n_regions, fs.n_prims, fs.n_reorders, fs.n_ref_steps,
           fs.n_fallbacks, (double)fs.weights_bytes / 1048576.0, ms_ref, ms_fast);
    if (fs.n_ref_steps > 0) {
        printf("reference steps:");
        for (int s = 0; s < pf->n_steps; s++)
            if (!ev_fast_step_is_region(&pf->steps[s]))
                printf(" %s(%s)", pf->steps[s].node->op_type, pf->steps[s].node->name);
        printf("\n");
    }
    if (dump) {
        ev_buf b;
        ev_buf_init(&b, 0);
        ev_fast_dump(pf, &b);
        printf("%s", b.data ? b.data : "");
        ev_buf_free(&b);
    }
    if (profile > 0) {
        /* extra timed runs of the fast plan, per primitive */
        ev_fast_profile(1);
        ev_exec_ctx x = {threads, &err};
        double t0 = now_s();
        for (int r = 0; r < profile; r++) ev_plan_execute(pf, af, in, n_in, &x);
        double per = (now_s() - t0) / profile * 1e3;
        ev_fast_profile(0);
        ev_buf b;
        ev_buf_init(&b, 0);
        ev_fast_profile_report(pf, &b, top);
        printf("profile: %.3f ms per run (wall)\n%s", per, b.data ? b.data : "");
        ev_buf_free(&b);
    }
    ev_plan_free(pr);
    ev_plan_free(pf);
    ev_free_aligned(ar);
    ev_free_aligned(af);
    for (int i = 0; i < n_in; i++) free(buf[i]);
    ev_graph_free(g);
    return fail;
}
