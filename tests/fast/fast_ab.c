/*
 * tests/fast/fast_ab.c — A/B timing of two fast-path configurations of the
 * same model in one process, runs alternating (a tool, not a test):
 *
 *   fast_ab MODEL.onnx --disable-a MASK --disable-b MASK [--batch B]
 *           [--threads N] [--runs R] [--gap-ms G]
 *
 * Prints the median wall time of each and the ratio B/A. On a shared,
 * noisy machine only such alternating comparisons mean something.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fast/fast.h"
#include "onnx/ir.h"
#include "onnx/plan.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int batch = 1, threads = 2, runs = 30, da = 0, db = 0;
    double gap_ms = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--disable-a") && i + 1 < argc) da = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--disable-b") && i + 1 < argc) db = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--gap-ms") && i + 1 < argc) gap_ms = atof(argv[++i]);
        else if (!path) path = argv[i];
        else return 2;
    }
    if (!path || runs < 1 || runs > 100000) return 2;
    ev_err err;
    ev_graph *g = NULL;
    ev_load_opts lo;
    memset(&lo, 0, sizeof lo);
    if (ev_graph_load(path, &lo, &g, &err) != EV_OK || ev_graph_fold_constants(g, &err) != EV_OK) {
        fprintf(stderr, "fast_ab: %s\n", err.msg);
        return 1;
    }
    ev_tensor in = g->values[g->inputs[0]].decl;
    in.dims[0] = batch;
    float *x = calloc((size_t)ev_tensor_numel(&in), sizeof(float));
    for (int64_t i = 0; i < ev_tensor_numel(&in); i++) x[i] = (float)sin((double)i);
    in.data = x;
    ev_fast_opts oa = {threads, 0, da}, ob = {threads, 0, db};
    ev_plan_opts pa, pb;
    memset(&pa, 0, sizeof pa);
    memset(&pb, 0, sizeof pb);
    pa.pass = pb.pass = ev_fast_pass;
    pa.pass_user = &oa;
    pb.pass_user = &ob;
    ev_plan *A = NULL, *B = NULL;
    if (ev_plan_build(g, &in, 1, &pa, &A, &err) != EV_OK || ev_plan_build(g, &in, 1, &pb, &B, &err) != EV_OK) {
        fprintf(stderr, "fast_ab: %s\n", err.msg);
        return 1;
    }
    void *ma = ev_malloc_aligned((size_t)A->arena_bytes + 64), *mb = ev_malloc_aligned((size_t)B->arena_bytes + 64);
    double *ta = malloc((size_t)runs * sizeof(double)), *tb = malloc((size_t)runs * sizeof(double));
    ev_exec_ctx xc = {threads, &err};
    for (int i = 0; i < 3; i++) {
        ev_plan_execute(A, ma, &in, 1, &xc);
        ev_plan_execute(B, mb, &in, 1, &xc);
    }
    struct timespec gap = {(time_t)(gap_ms / 1e3), (long)(fmod(gap_ms, 1e3) * 1e6)};
    for (int i = 0; i < runs; i++) {
        if (gap_ms > 0) nanosleep(&gap, NULL);
        double t0 = now_ms();
        ev_plan_execute(A, ma, &in, 1, &xc);
        ta[i] = now_ms() - t0;
        if (gap_ms > 0) nanosleep(&gap, NULL);
        t0 = now_ms();
        ev_plan_execute(B, mb, &in, 1, &xc);
        tb[i] = now_ms() - t0;
    }
    qsort(ta, (size_t)runs, sizeof(double), cmpd);
    qsort(tb, (size_t)runs, sizeof(double), cmpd);
    printf("A (disable %d): median %.3f ms min %.3f | B (disable %d): median %.3f ms min %.3f | B/A %.3f\n",
           da, ta[runs / 2], ta[0], db, tb[runs / 2], tb[0], tb[runs / 2] / ta[runs / 2]);
    ev_plan_free(A);
    ev_plan_free(B);
    ev_free_aligned(ma);
    ev_free_aligned(mb);
    free(ta);
    free(tb);
    free(x);
    ev_graph_free(g);
    return 0;
}
