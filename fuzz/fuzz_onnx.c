/* fuzz/fuzz_onnx.c — ONNX model bytes: load (protobuf parse, validation,
 * topological sort, op prepare), load-time constant folding, a plan for the
 * declared input shapes (symbolic dims = 1), and, when the plan is small, a
 * run through the reference kernels (and, for a quarter of the inputs, the
 * oneDNN fast path's pattern matching, fusion and kernels). Limits are small
 * so that a mutated size fails fast with EV_ERR_LIMIT instead of allocating
 * gigabytes. Any status is fine; crashes, leaks, sanitizer reports and hangs
 * are findings. Half of the inputs are loaded from a file (an in-memory
 * memfd opened by path): the file loader cuts large payloads out of the wire
 * data into its mapping, and a fast-path plan then evicts reordered weights,
 * which a second (reference) plan restores from that file. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "onnx/ir.h"
#include "onnx/plan.h"
#include "fast/fast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_TENSOR (4 << 20)     /* bytes per initializer / activation */
#define FZ_MAX_ARENA (16 << 20)
#define FZ_RUN_ARENA (1 << 20)      /* run only plans this small ...      */
#define FZ_RUN_MACS 2000000         /* ... and this cheap                 */
#define FZ_RUN_COST 20000000        /* element visits, see plan_cost()     */

/* A rough upper bound of the work of a plan in element visits: per step,
 * (input + output elements) x the product of its kernel_shape attribute
 * (pooling windows), plus the MACs of Conv/Gemm/MatMul. A small arena does
 * not mean a cheap run: MaxPool with a 200-wide dilated window over 224k
 * elements (regression timeout-maxpool-window) is legitimate but takes
 * seconds under ASan, so such plans are planned but not run. */
static int64_t plan_cost(const ev_plan *p)
{
    int64_t cost = p->macs;
    for (int s = 0; s < p->n_steps; s++) {
        const ev_plan_step *st = &p->steps[s];
        int64_t elems = 0, win = 1, cnt = 0;
        for (int i = 0; i < st->n_in; i++)
            if (st->in[i]) elems += ev_tensor_numel(st->in[i]);
        for (int i = 0; i < st->n_out; i++)
            if (st->out[i]) elems += ev_tensor_numel(st->out[i]);
        const int64_t *ks = st->node ? ev_attr_ints(st->node, "kernel_shape", &cnt) : NULL;
        for (int64_t k = 0; ks && k < cnt; k++) {
            if (ks[k] <= 0 || win > INT64_MAX / 2 / (ks[k] + 1)) return INT64_MAX;
            win *= ks[k];
        }
        if (elems < 0 || (win && elems > INT64_MAX / 4 / win)) return INT64_MAX;
        cost += elems * win;
        if (cost > INT64_MAX / 4) return INT64_MAX;
    }
    return cost;
}

static void fill(ev_tensor *t, size_t n)
{
    /* small values including negatives and zero: exercises index wrapping
     * (Gather with -1), division by zero, empty ranges */
    static const int pat[] = {0, 1, -1, 2, 3, -2, 1, 0};
    for (size_t i = 0; i < n; i++) {
        int v = pat[i % 8];
        switch (t->dtype) {
        case EV_DT_FLOAT: ((float *)t->data)[i] = (float)v * 0.5f; break;
        case EV_DT_DOUBLE: ((double *)t->data)[i] = v * 0.5; break;
        case EV_DT_INT64: ((int64_t *)t->data)[i] = v; break;
        case EV_DT_INT32: ((int32_t *)t->data)[i] = v; break;
        case EV_DT_BOOL: ((uint8_t *)t->data)[i] = (uint8_t)(v > 0); break;
        default: break; /* other types stay zero */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ev_load_opts lo = {1 << 26, FZ_MAX_TENSOR, 512, 0};
    ev_graph *g = NULL;
    ev_err err;
    ev_err_clear(&err);
    uint8_t sel0 = size ? data[size - 1] : 0;
    int fd = -1;
    ev_status lst;
    if (sel0 & 8) {
        fd = memfd_create("fuzz.onnx", MFD_CLOEXEC);
        if (fd < 0) return 0;
        size_t off = 0;
        while (off < size) {
            ssize_t w = write(fd, data + off, size - off);
            if (w <= 0) break;
            off += (size_t)w;
        }
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        lst = off == size ? ev_graph_load(path, &lo, &g, &err) : EV_ERR_IO;
    } else {
        lst = ev_graph_load_buffer(data, size, "fuzz.onnx", NULL, &lo, &g, &err);
    }
    if (lst != EV_OK) {
        if (fd >= 0) close(fd);
        return 0;
    }
    if (ev_graph_fold_constants(g, &err) != EV_OK || g->n_inputs > 8) {
        ev_graph_free(g);
        if (fd >= 0) close(fd);
        return 0;
    }
    ev_tensor in[8];
    void *bufs[8] = {0};
    int ok = 1;
    memset(in, 0, sizeof in);
    for (int i = 0; i < g->n_inputs && ok; i++) {
        const ev_tensor *d = &g->values[g->inputs[i]].decl;
        if (d->rank < 0 || d->rank > EV_MAX_RANK || ev_dtype_size(d->dtype) == 0) { ok = 0; break; }
        in[i].dtype = d->dtype;
        in[i].rank = d->rank;
        for (int k = 0; k < d->rank; k++) in[i].dims[k] = d->dims[k] < 0 ? 1 : d->dims[k];
        int64_t n = ev_tensor_numel(&in[i]);
        if (n < 0 || n > (1 << 18)) { ok = 0; break; }
        bufs[i] = calloc((size_t)n + 1, ev_dtype_size(d->dtype));
        if (!bufs[i]) { ok = 0; break; }
        in[i].data = bufs[i];
        fill(&in[i], (size_t)n);
    }
    if (ok) {
        ev_plan_opts po;
        memset(&po, 0, sizeof po);
        po.max_tensor_bytes = FZ_MAX_TENSOR;
        po.max_arena_bytes = FZ_MAX_ARENA;
        uint8_t sel = size ? data[size - 1] : 0;
        po.const_inputs_max = sel & 1 ? 64 : 0; /* both plan flavours */
        /* a quarter of the inputs also go through the oneDNN fast path's
         * pattern matching and fusion (slower: primitive creation) */
        ev_fast_opts fo = {1, 0, 0};
        if ((sel & 6) == 6) {
            po.pass = ev_fast_pass;
            po.pass_user = &fo;
        }
        ev_plan *p = NULL;
        if (ev_plan_build(g, in, g->n_inputs, &po, &p, &err) == EV_OK) {
            if (p->arena_bytes <= FZ_RUN_ARENA && p->macs <= FZ_RUN_MACS && plan_cost(p) <= FZ_RUN_COST) {
                void *arena = ev_malloc_aligned((size_t)p->arena_bytes + 64);
                ev_exec_ctx x = {1, &err};
                if (arena) ev_plan_execute(p, arena, in, g->n_inputs, &x);
                ev_free_aligned(arena);
            }
            ev_plan_free(p);
            if (fd >= 0 && po.pass) {
                /* a plan after the fast path: restores evicted weights */
                ev_plan_opts pr = po;
                pr.pass = NULL;
                pr.pass_user = NULL;
                p = NULL;
                if (ev_plan_build(g, in, g->n_inputs, &pr, &p, &err) == EV_OK) ev_plan_free(p);
            }
        }
    }
    for (int i = 0; i < 8; i++) free(bufs[i]);
    ev_graph_free(g);
    if (fd >= 0) close(fd);
    return 0;
}
