/* tests/unit/test_onnx_weights.c — memory of large initializers
 * (lib/onnx/weights.h): a model loaded from a file keeps one copy of each
 * large payload (in the file mapping, no parse-tree copy), the oneDNN fast
 * path evicts the plain weights it reordered, later plans and reference
 * kernels get them back from the file, constants read at run time are never
 * evicted, and a changed file is refused. The file loader must agree with
 * the buffer loader on every model, including truncated and mutated ones. */
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fast/fast.h"
#include "onnx/ir.h"
#include "onnx/plan.h"
#include "onnx/weights.h"
#include "onnx_builder.h"
#include "test_util.h"

#define C_IN 32
#define C_OUT 64
#define HW 8

static float frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f;
}

/* x[N,32,8,8] -> Conv 3x3 (W 73 KiB, bias) -> Relu -> + C (Constant node,
 * 16 KiB, read in place at run time) -> Conv 1x1 (W2 8 KiB) -> y */
static Onnx__ModelProto *model(void)
{
    unsigned seed = 7;
    Onnx__ModelProto *m = ob_model(13);
    ob_input(m, "x", 1, 4, (int64_t[]){-1, C_IN, HW, HW});
    static float w[C_OUT * C_IN * 9], b[C_OUT], c[C_OUT * HW * HW], w2[C_OUT * C_OUT];
    for (size_t i = 0; i < sizeof w / sizeof *w; i++) w[i] = frand(&seed) * 0.2f;
    for (size_t i = 0; i < sizeof b / sizeof *b; i++) b[i] = frand(&seed);
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) c[i] = frand(&seed);
    for (size_t i = 0; i < sizeof w2 / sizeof *w2; i++) w2[i] = frand(&seed) * 0.2f;
    ob_init_raw(m, "W", 1, 4, (int64_t[]){C_OUT, C_IN, 3, 3}, w, sizeof w);
    ob_init_raw(m, "B", 1, 1, (int64_t[]){C_OUT}, b, sizeof b);
    ob_init_raw(m, "W2", 1, 4, (int64_t[]){C_OUT, C_OUT, 1, 1}, w2, sizeof w2);
    Onnx__NodeProto *cn = ob_node(m, "Constant", "cst", "", "C");
    Onnx__AttributeProto *a = ob_attr(cn, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = ob_tensor("C", 1, 3, (int64_t[]){C_OUT, HW, HW});
    ob_raw(a->t, c, sizeof c);
    Onnx__NodeProto *c1 = ob_node(m, "Conv", "conv1", "x,W,B", "h");
    ob_attr_ints(c1, "pads", 4, (int64_t[]){1, 1, 1, 1});
    ob_node(m, "Relu", "relu", "h", "r");
    ob_node(m, "Add", "add", "r,C", "s");
    ob_node(m, "Conv", "conv2", "s,W2", "y");
    ob_output(m, "y");
    return m;
}

/* x[1,32,8,8] -> Conv 3x3 (W) -> Concat with C [1,64,8,8] (a constant the
 * fast path reads in place) -> Conv 1x1 (W3) -> y */
static Onnx__ModelProto *model_concat(void)
{
    unsigned seed = 11;
    Onnx__ModelProto *m = ob_model(13);
    ob_input(m, "x", 1, 4, (int64_t[]){1, C_IN, HW, HW});
    static float w[C_OUT * C_IN * 9], c[C_OUT * HW * HW], w3[C_OUT * 2 * C_OUT];
    for (size_t i = 0; i < sizeof w / sizeof *w; i++) w[i] = frand(&seed) * 0.2f;
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) c[i] = frand(&seed);
    for (size_t i = 0; i < sizeof w3 / sizeof *w3; i++) w3[i] = frand(&seed) * 0.2f;
    ob_init_raw(m, "W", 1, 4, (int64_t[]){C_OUT, C_IN, 3, 3}, w, sizeof w);
    ob_init_raw(m, "C", 1, 4, (int64_t[]){1, C_OUT, HW, HW}, c, sizeof c);
    ob_init_raw(m, "W3", 1, 4, (int64_t[]){C_OUT, 2 * C_OUT, 1, 1}, w3, sizeof w3);
    Onnx__NodeProto *c1 = ob_node(m, "Conv", "conv1", "x,W", "h");
    ob_attr_ints(c1, "pads", 4, (int64_t[]){1, 1, 1, 1});
    Onnx__NodeProto *cc = ob_node(m, "Concat", "cat", "h,C", "s");
    ob_attr_int(cc, "axis", 1);
    ob_node(m, "Conv", "conv2", "s,W3", "y");
    ob_output(m, "y");
    return m;
}

static char g_path[256];

static void write_file(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(buf, 1, len, f) == len);
    fclose(f);
}

static const ev_value *find(const ev_graph *g, const char *name)
{
    for (int v = 0; v < g->n_values; v++)
        if (!strcmp(g->values[v].name, name)) return &g->values[v];
    return NULL;
}

/* Same constants (names, types, shapes, bytes) in both graphs. */
static int same_constants(const ev_graph *a, const ev_graph *b)
{
    int n = 0;
    for (int v = 0; v < a->n_values; v++) {
        const ev_value *x = &a->values[v];
        if (x->kind != EV_VAL_CONST) continue;
        const ev_value *y = find(b, x->name);
        if (!y || y->kind != EV_VAL_CONST || x->decl.dtype != y->decl.dtype || x->decl.rank != y->decl.rank)
            return 0;
        if (memcmp(x->decl.dims, y->decl.dims, sizeof x->decl.dims)) return 0;
        int64_t ne = ev_tensor_numel(&x->decl);
        size_t bytes = (size_t)ne * ev_dtype_size(x->decl.dtype);
        if (bytes && memcmp(x->decl.data, y->decl.data, bytes)) return 0;
        n++;
    }
    for (int v = 0; v < b->n_values; v++)
        if (b->values[v].kind == EV_VAL_CONST) n--;
    return n == 0;
}

static void test_one_copy(const uint8_t *buf, size_t len)
{
    ev_graph *gf = NULL, *gb = NULL;
    ev_err err = {0};
    CHECK(ev_graph_load(g_path, NULL, &gf, &err) == EV_OK);
    CHECK(ev_graph_load_buffer(buf, len, "m.onnx", NULL, NULL, &gb, &err) == EV_OK);
    if (!gf || !gb) goto out;
    CHECK(same_constants(gf, gb));
    /* the large payloads are entries of the file mapping (not copies), 64-byte aligned */
    const char *big[] = {"W", "W2", "C"};
    int64_t total = 0;
    for (int i = 0; i < 3; i++) {
        const ev_value *v = find(gf, big[i]);
        CHECK(v && ev_graph_const_is_entry(gf, v->decl.data));
        CHECK(v && (uintptr_t)v->decl.data % 64 == 0);
        if (v) total += ev_tensor_numel(&v->decl) * 4;
    }
    const ev_value *bias = find(gf, "B"); /* 256 bytes: stays in the arena */
    CHECK(bias && !ev_graph_const_is_entry(gf, bias->decl.data));
    ev_graph_const_stats st;
    ev_graph_const_stats_get(gf, &st);
    CHECK(st.n_entries == 3 && st.entry_bytes == total && st.n_evicted == 0);
    /* buffer loads have no entries: nothing can be evicted */
    const ev_value *wb = find(gb, "W");
    CHECK(wb && !ev_graph_const_is_entry(gb, wb->decl.data) && !ev_graph_const_release(gb, wb->decl.data));

    /* evict, restore, pin */
    const ev_value *w = find(gf, "W"), *w2 = find(gf, "W2");
    if (!w || !w2 || !wb) goto out;
    CHECK(ev_graph_const_release(gf, w->decl.data) == 1);
    CHECK(ev_graph_const_is_evicted(gf, w->decl.data));
    ev_graph_const_stats_get(gf, &st);
    CHECK(st.n_evicted == 1 && st.evicted_bytes >= 64 * 1024 - 8192);
    CHECK(ev_graph_const_restore(gf, w->decl.data, &err) == EV_OK);
    CHECK(!ev_graph_const_is_evicted(gf, w->decl.data));
    CHECK(memcmp(w->decl.data, wb->decl.data, (size_t)ev_tensor_numel(&w->decl) * 4) == 0);
    CHECK(ev_graph_const_need(gf, w->decl.data, &err) == EV_OK);
    CHECK(ev_graph_const_release(gf, w->decl.data) == 0); /* pinned */
    CHECK(ev_graph_const_release(gf, w2->decl.data) == 1);
    CHECK(ev_graph_const_restore_all(gf, &err) == EV_OK);
    ev_graph_const_stats_get(gf, &st);
    CHECK(st.n_evicted == 0 && st.evicted_bytes == 0);
    CHECK(same_constants(gf, gb));
out:
    ev_graph_free(gf);
    ev_graph_free(gb);
}

/* the model file changes after the load: a restore refuses to read it */
static void test_changed_file(const uint8_t *buf, size_t len)
{
    ev_graph *g = NULL;
    ev_err err = {0};
    CHECK(ev_graph_load(g_path, NULL, &g, &err) == EV_OK);
    if (!g) return;
    const ev_value *w = find(g, "W");
    CHECK(w && ev_graph_const_release(g, w->decl.data) == 1);
    uint8_t *other = malloc(len);
    memcpy(other, buf, len);
    for (size_t i = len / 2; i < len; i++) other[i] ^= 0x5a;
    write_file(g_path, other, len);
    struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}}; /* distinct mtime */
    CHECK(utimensat(AT_FDCWD, g_path, ts, 0) == 0);
    ev_status st = ev_graph_const_restore(g, w ? w->decl.data : NULL, &err);
    CHECK(st == EV_ERR_IO && strstr(err.msg, "changed"));
    ev_graph_free(g);
    write_file(g_path, buf, len);
    free(other);
}

static void run_plan(ev_plan *p, const float *x, int n, float *y)
{
    ev_tensor in = {EV_DT_FLOAT, 4, {n, C_IN, HW, HW}, (void *)x};
    ev_err err = {0};
    void *arena = ev_malloc_aligned((size_t)(p->arena_bytes ? p->arena_bytes : 64));
    ev_exec_ctx cx = {1, &err};
    CHECK(ev_plan_execute(p, arena, &in, 1, &cx) == EV_OK);
    const ev_tensor *t = &p->vals[p->g->outputs[0]];
    CHECK(t->rank == 4 && t->dims[0] == n && t->dims[1] == C_OUT);
    memcpy(y, t->data, (size_t)n * C_OUT * HW * HW * sizeof(float));
    ev_free_aligned(arena);
}

static ev_plan *plan(const ev_graph *g, int n, int fast)
{
    ev_tensor in = {EV_DT_FLOAT, 4, {n, C_IN, HW, HW}, NULL};
    ev_fast_opts fo = {1, 0, 0};
    ev_plan_opts po;
    memset(&po, 0, sizeof po);
    if (fast) {
        po.pass = ev_fast_pass;
        po.pass_user = &fo;
    }
    ev_plan *p = NULL;
    ev_err err = {0};
    ev_status st = ev_plan_build(g, &in, 1, &po, &p, &err);
    if (st != EV_OK) fprintf(stderr, "plan: %s\n", err.msg);
    CHECK(st == EV_OK);
    return p;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

/* plans of several batch sizes on one graph, fast and reference */
static void test_plans(void)
{
    ev_graph *g = NULL;
    ev_err err = {0};
    CHECK(ev_graph_load(g_path, NULL, &g, &err) == EV_OK);
    if (!g) return;
    CHECK(ev_graph_fold_constants(g, &err) == EV_OK);
    const ev_value *w = find(g, "W"), *c = find(g, "C");
    if (!w || !c) {
        CHECK(0);
        ev_graph_free(g);
        return;
    }
    const size_t per = (size_t)C_OUT * HW * HW;
    float *x = malloc(3 * C_IN * HW * HW * sizeof(float));
    unsigned seed = 99;
    for (int i = 0; i < C_IN * HW * HW; i++) x[i] = x[i + C_IN * HW * HW] = x[i + 2 * C_IN * HW * HW] = frand(&seed);
    float *y1 = malloc(per * sizeof(float)), *y2 = malloc(2 * per * sizeof(float)),
          *yr = malloc(per * sizeof(float)), *y3 = malloc(3 * per * sizeof(float));

    ev_plan *p1 = plan(g, 1, 1);
    ev_fast_stats fs;
    ev_fast_plan_stats(p1, &fs);
    CHECK(fs.n_regions >= 1 && fs.weights_bytes > 0);
    /* the conv weights were reordered: the plain copy left memory; the
     * constant added at run time (read in place) stays */
    CHECK(ev_graph_const_is_evicted(g, w->decl.data));
    CHECK(!ev_graph_const_is_evicted(g, c->decl.data));
    /* a second batch size: weights read again from the file, evicted again */
    ev_plan *p2 = plan(g, 2, 1);
    CHECK(ev_graph_const_is_evicted(g, w->decl.data));
    /* reference kernels read W at run time: restored and pinned */
    ev_plan *pr = plan(g, 1, 0);
    CHECK(!ev_graph_const_is_evicted(g, w->decl.data));
    ev_plan *p3 = plan(g, 3, 1);
    CHECK(!ev_graph_const_is_evicted(g, w->decl.data));
    if (p1 && p2 && pr && p3) {
        run_plan(pr, x, 1, yr);
        run_plan(p1, x, 1, y1);
        run_plan(p2, x, 2, y2);
        run_plan(p3, x, 3, y3);
        double scale = 0;
        for (size_t i = 0; i < per; i++) scale = fmax(scale, fabs(yr[i]));
        CHECK(scale > 0.1);
        double tol = 1e-4 * (1 + scale);
        CHECK(max_diff(y1, yr, per) <= tol);
        CHECK(max_diff(y2, yr, per) <= tol && max_diff(y2 + per, yr, per) <= tol);
        CHECK(max_diff(y3 + 2 * per, yr, per) <= tol);
    }
    ev_plan_free(p1);
    ev_plan_free(p2);
    ev_plan_free(pr);
    ev_plan_free(p3);
    ev_graph_free(g);
    free(x);
    free(y1);
    free(y2);
    free(yr);
    free(y3);
}

/* a constant bound in place by a fused region is never evicted */
static void test_inplace_constant(void)
{
    Onnx__ModelProto *m = model_concat();
    size_t len;
    uint8_t *buf = ob_pack(m, &len);
    ob_free(m);
    write_file(g_path, buf, len);
    free(buf);
    ev_graph *g = NULL;
    ev_err err = {0};
    CHECK(ev_graph_load(g_path, NULL, &g, &err) == EV_OK);
    if (!g) return;
    CHECK(ev_graph_fold_constants(g, &err) == EV_OK);
    const ev_value *w = find(g, "W"), *c = find(g, "C");
    const size_t per = (size_t)C_OUT * HW * HW;
    float *x = malloc(C_IN * HW * HW * sizeof(float)), *yf = malloc(per * sizeof(float)),
          *yr = malloc(per * sizeof(float));
    unsigned seed = 5;
    for (int i = 0; i < C_IN * HW * HW; i++) x[i] = frand(&seed);
    ev_plan *pf = plan(g, 1, 1);
    ev_fast_stats fs;
    ev_fast_plan_stats(pf, &fs);
    CHECK(fs.n_ref_steps == 0); /* the Concat is fused: C is read by the region */
    CHECK(w && c && ev_graph_const_is_evicted(g, w->decl.data));
    CHECK(c && !ev_graph_const_is_evicted(g, c->decl.data));
    if (pf) run_plan(pf, x, 1, yf);
    /* the reference plan is built after the fast plan ran */
    ev_plan *pr = plan(g, 1, 0);
    if (pf && pr) {
        run_plan(pr, x, 1, yr);
        double scale = 0;
        for (size_t i = 0; i < per; i++) scale = fmax(scale, fabs(yr[i]));
        CHECK(scale > 0.1);
        CHECK(max_diff(yf, yr, per) <= 1e-4 * (1 + scale));
    }
    ev_plan_free(pf);
    ev_plan_free(pr);
    ev_graph_free(g);
    free(x);
    free(yf);
    free(yr);
}

/* truncated and mutated files: the file loader (payloads cut out of the
 * wire data) accepts exactly what the buffer loader accepts, with the same
 * constants */
static void test_hostile_files(const uint8_t *buf, size_t len)
{
    uint8_t *mut = malloc(len);
    unsigned seed = 4242;
    int agree = 0, loaded = 0, n = 0;
    for (int it = 0; it < 600; it++) {
        memcpy(mut, buf, len);
        size_t mlen = len;
        seed = seed * 1103515245u + 12345u;
        if (it < 100) {
            mlen = (seed >> 4) % len;
        } else {
            int nflip = 1 + it % 4;
            for (int k = 0; k < nflip; k++) {
                seed = seed * 1103515245u + 12345u;
                /* half of the flips in the messages before the payloads */
                size_t span = (it & 1) ? len : (len < 2048 ? len : 2048);
                size_t pos = (seed >> 8) % span;
                seed = seed * 1103515245u + 12345u;
                mut[pos] = (uint8_t)(seed >> 16);
            }
        }
        write_file(g_path, mut, mlen);
        ev_graph *gf = NULL, *gb = NULL;
        ev_err ef = {0}, eb = {0};
        ev_status sf = ev_graph_load(g_path, NULL, &gf, &ef);
        ev_status sb = ev_graph_load_buffer(mut, mlen, "m.onnx", NULL, NULL, &gb, &eb);
        n++;
        int same = (sf == EV_OK) == (sb == EV_OK);
        if (same && sf == EV_OK) {
            loaded++;
            same = same_constants(gf, gb);
        }
        if (!same) fprintf(stderr, "case %d: file %d '%s', buffer %d '%s'\n", it, sf, ef.msg, sb, eb.msg);
        agree += same;
        ev_graph_free(gf);
        ev_graph_free(gb);
    }
    CHECK(agree == n);
    printf("hostile files: %d cases, %d load, file and buffer loaders agree on %d\n", n, loaded, agree);
    free(mut);
    write_file(g_path, buf, len);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_path, sizeof g_path, "%s/ev_weights_%d.onnx", tmp && tmp[0] ? tmp : "/tmp", (int)getpid());
    Onnx__ModelProto *m = model();
    size_t len;
    uint8_t *buf = ob_pack(m, &len);
    ob_free(m);
    write_file(g_path, buf, len);
    test_one_copy(buf, len);
    test_plans();
    test_changed_file(buf, len);
    test_hostile_files(buf, len);
    test_inplace_constant();
    unlink(g_path);
    free(buf);
    return test_report("test_onnx_weights");
}
