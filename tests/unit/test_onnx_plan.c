/* tests/unit/test_onnx_plan.c — plans and execution: liveness-based arena
 * reuse (with test-only ops, independent of the kernel families), constant
 * folding of shape chains, per-shape plan cache, input validation, outputs
 * that are inputs/constants, and the public model API end to end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "embeval/model.h"
#include "onnx/ir.h"
#include "onnx/plan.h"
#include "onnx_builder.h"
#include "test_util.h"

/* ---- test ops: Twice (y = 2x) and Sum2 (y = a + b), same shapes -------- */
static int runs;

static ev_status same_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out,
                            ev_err *err)
{
    (void)n; (void)err;
    *out[0] = *in[0];
    out[0]->data = NULL;
    return EV_OK;
}

static ev_status twice_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out,
                           ev_exec_ctx *x)
{
    (void)n; (void)x;
    int64_t c = ev_tensor_numel(in[0]);
    const float *a = in[0]->data;
    float *y = out[0]->data;
    for (int64_t i = 0; i < c; i++) y[i] = 2 * a[i];
    runs++;
    return EV_OK;
}

static ev_status sum2_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out,
                          ev_exec_ctx *x)
{
    (void)n; (void)x;
    int64_t c = ev_tensor_numel(in[0]);
    const float *a = in[0]->data, *b = in[1]->data;
    float *y = out[0]->data;
    for (int64_t i = 0; i < c; i++) y[i] = a[i] + b[i];
    runs++;
    return EV_OK;
}

static int64_t twice_macs(const ev_node *n, const ev_tensor *const *in, const ev_tensor *const *out)
{
    (void)n; (void)out;
    return ev_tensor_numel(in[0]);
}

static const ev_op_def op_twice = {"Twice", 1, 99, 0, NULL, same_infer, twice_run, twice_macs};
static const ev_op_def op_sum2 = {"Sum2", 1, 99, 0, NULL, same_infer, sum2_run, NULL};

static ev_graph *load_custom(Onnx__ModelProto *m)
{
    size_t len;
    uint8_t *buf = ob_pack(m, &len);
    ev_graph *g = NULL;
    ev_err err = {0};
    ev_load_opts o = {0, 0, 0, 1};
    if (ev_graph_load_buffer(buf, len, "t.onnx", NULL, &o, &g, &err) != EV_OK)
        fprintf(stderr, "load: %s\n", err.msg);
    free(buf);
    ob_free(m);
    if (g)
        for (int i = 0; i < g->n_nodes; i++) {
            if (!strcmp(g->nodes[i].op_type, "Twice")) g->nodes[i].op = &op_twice;
            if (!strcmp(g->nodes[i].op_type, "Sum2")) g->nodes[i].op = &op_sum2;
        }
    return g;
}

static void test_arena_reuse(void)
{
    /* a chain of 10 Twice: two buffers suffice (ping-pong) */
    Onnx__ModelProto *m = ob_model(13);
    ob_input(m, "x", 1, 1, (int64_t[]){-1});
    char in[16] = "x", out[16];
    for (int i = 0; i < 10; i++) {
        snprintf(out, sizeof out, i == 9 ? "y" : "t%d", i);
        ob_node(m, "Twice", NULL, in, out);
        snprintf(in, sizeof in, "%s", out);
    }
    ob_output(m, "y");
    ev_graph *g = load_custom(m);
    CHECK(g != NULL);
    if (!g) return;
    ev_tensor x = {EV_DT_FLOAT, 1, {1000}, NULL};
    ev_plan *p = NULL;
    ev_err err = {0};
    CHECK(ev_plan_build(g, &x, 1, NULL, &p, &err) == EV_OK);
    if (p) {
        CHECK(p->n_steps == 10);
        CHECK(p->macs == 10 * 1000);
        CHECK(p->arena_bytes == 2 * 4032); /* 4000 bytes rounded to 64, twice */
        float *xd = malloc(4000);
        for (int i = 0; i < 1000; i++) xd[i] = (float)i;
        x.data = xd;
        void *arena = ev_malloc_aligned((size_t)p->arena_bytes);
        ev_exec_ctx cx = {1, &err};
        runs = 0;
        CHECK(ev_plan_execute(p, arena, &x, 1, &cx) == EV_OK);
        CHECK(runs == 10);
        const float *y = p->vals[g->outputs[0]].data;
        CHECK(y[3] == 3.0f * 1024 && y[999] == 999.0f * 1024);
        ev_free_aligned(arena);
        free(xd);
    }
    ev_plan_free(p);
    ev_graph_free(g);

    /* a value used much later stays intact: y = Sum2(a, Twice(Twice(Twice(a)))) */
    m = ob_model(13);
    ob_input(m, "x", 1, 1, (int64_t[]){-1});
    ob_node(m, "Twice", "A", "x", "a");
    ob_node(m, "Twice", "B", "a", "b");
    ob_node(m, "Twice", "C", "b", "c");
    ob_node(m, "Twice", "D", "c", "d");
    ob_node(m, "Sum2", "E", "a,d", "y");
    ob_output(m, "y");
    g = load_custom(m);
    if (!g) { CHECK(0); return; }
    x = (ev_tensor){EV_DT_FLOAT, 1, {16}, NULL};
    p = NULL;
    CHECK(ev_plan_build(g, &x, 1, NULL, &p, &err) == EV_OK);
    if (p) {
        /* a lives across B..E: 3 buffers (a + ping-pong), y may reuse one */
        CHECK(p->arena_bytes == 3 * 64);
        int va = g->nodes[0].out[0];
        for (int i = 1; i < 4; i++) CHECK(p->offset[g->nodes[i].out[0]] != p->offset[va]);
        float xd[16];
        for (int i = 0; i < 16; i++) xd[i] = (float)i;
        x.data = xd;
        void *arena = ev_malloc_aligned((size_t)p->arena_bytes);
        ev_exec_ctx cx = {1, &err};
        CHECK(ev_plan_execute(p, arena, &x, 1, &cx) == EV_OK);
        const float *y = p->vals[g->outputs[0]].data;
        CHECK(y[5] == 2 * 5 + 16 * 5);
        ev_free_aligned(arena);
    }
    ev_plan_free(p);
    ev_graph_free(g);
}

/* shape chain: Shape -> Gather(0) -> Unsqueeze -> Concat([-1]) -> Reshape */
static Onnx__ModelProto *reshape_model(void)
{
    Onnx__ModelProto *m = ob_model(13);
    ob_input(m, "x", 1, 3, (int64_t[]){-1, 3, 4});
    int64_t zero = 0, minus1 = -1;
    ob_init_raw(m, "idx0", 7, 0, NULL, &zero, 8);
    ob_init_raw(m, "ax0", 7, 1, (int64_t[]){1}, &zero, 8);
    ob_init_raw(m, "m1", 7, 1, (int64_t[]){1}, &minus1, 8);
    ob_node(m, "Shape", "shape", "x", "s");
    ob_node(m, "Gather", "gather", "s,idx0", "n");
    ob_node(m, "Unsqueeze", "unsq", "n,ax0", "n1");
    Onnx__NodeProto *c = ob_node(m, "Concat", "concat", "n1,m1", "target");
    ob_attr_int(c, "axis", 0);
    ob_node(m, "Reshape", "reshape", "x,target", "r");
    ob_node(m, "Relu", "relu", "r", "y");
    ob_output(m, "y");
    return m;
}

static char *write_model(Onnx__ModelProto *m, const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/ev-plan-%d-%s", (int)getpid(), name);
    size_t len;
    uint8_t *buf = ob_pack(m, &len);
    FILE *f = fopen(path, "wb");
    fwrite(buf, 1, len, f);
    fclose(f);
    free(buf);
    ob_free(m);
    return path;
}

static void test_folding_and_cache(int reference_only)
{
    char *path = write_model(reshape_model(), "reshape.onnx");
    ev_model_options o = ev_model_default_options();
    o.threads = 1;
    o.reference_only = reference_only; /* 0: the fast-path pass may fuse steps */
    ev_model *m = ev_model_new(&o);
    CHECK(ev_model_load(m, path) == EV_OK);
    unlink(path);
    if (ev_model_num_inputs(m) != 1) {
        fprintf(stderr, "load: %s\n", ev_model_errmsg(m));
        CHECK(0);
        ev_model_free(m);
        return;
    }
    for (int round = 0; round < 2; round++)
        for (int b = 1; b <= 6; b++) { /* 6 shapes > cache size: evictions */
            float *xd = malloc(sizeof *xd * (size_t)(b * 12));
            for (int i = 0; i < b * 12; i++) xd[i] = (float)(i % 7) - 3;
            ev_tensor x = {EV_DT_FLOAT, 3, {b, 3, 4}, xd};
            ev_plan_stats st;
            ev_value_info oi;
            CHECK(ev_model_plan_stats(m, &x, 1, &st, &oi) == EV_OK);
            if (reference_only) CHECK(st.n_exec_nodes == 2); /* Reshape + Relu; the chain folded */
            CHECK(st.n_folded_nodes == 4);
            CHECK(oi.rank == 2 && oi.dims[0] == b && oi.dims[1] == 12);
            CHECK(ev_model_run(m, &x, 1) == EV_OK);
            ev_tensor y;
            CHECK(ev_model_output(m, 0, &y) == EV_OK);
            CHECK(y.rank == 2 && y.dims[0] == b && y.dims[1] == 12);
            int ok = 1;
            for (int i = 0; i < b * 12; i++) ok &= ((float *)y.data)[i] == (xd[i] > 0 ? xd[i] : 0);
            CHECK(ok);
            free(xd);
        }
    /* input validation: dtype, rank, static dims, count */
    float d[24] = {0};
    ev_tensor bad = {EV_DT_FLOAT, 3, {2, 4, 3}, d};
    CHECK(ev_model_run(m, &bad, 1) == EV_ERR_SHAPE);
    CHECK(strstr(ev_model_errmsg(m), "input 'x'") && strstr(ev_model_errmsg(m), "[?,3,4]"));
    bad = (ev_tensor){EV_DT_INT64, 3, {1, 3, 4}, d};
    CHECK(ev_model_run(m, &bad, 1) == EV_ERR_SHAPE);
    bad = (ev_tensor){EV_DT_FLOAT, 2, {3, 4}, d};
    CHECK(ev_model_run(m, &bad, 1) == EV_ERR_SHAPE);
    CHECK(ev_model_run(m, &bad, 0) == EV_ERR_INVALID_ARG);
    ev_tensor y;
    CHECK(ev_model_output(m, 0, &y) != EV_OK); /* the last run failed */
    ev_model_info info;
    CHECK(ev_model_get_info(m, &info) == EV_OK);
    CHECK(info.n_nodes == 6 && info.n_ops == 6 && info.n_unsupported == 0 && info.opset == 13);
    ev_model_free(m);
}

static void test_shape_as_input(void)
{
    /* Reshape whose shape is a graph input: plans key on its values */
    Onnx__ModelProto *mp = ob_model(13);
    ob_input(mp, "x", 1, 2, (int64_t[]){2, 6});
    ob_input(mp, "shape", 7, 1, (int64_t[]){2});
    ob_node(mp, "Reshape", "reshape", "x,shape", "y");
    ob_output(mp, "y");
    char *path = write_model(mp, "reshape_in.onnx");
    ev_model *m = ev_model_new(NULL);
    CHECK(ev_model_load(m, path) == EV_OK);
    unlink(path);
    float xd[12];
    for (int i = 0; i < 12; i++) xd[i] = (float)i;
    int64_t s1[2] = {3, 4}, s2[2] = {4, -1};
    ev_tensor in[2] = {{EV_DT_FLOAT, 2, {2, 6}, xd}, {EV_DT_INT64, 1, {2}, s1}};
    CHECK(ev_model_run(m, in, 2) == EV_OK);
    ev_tensor y;
    CHECK(ev_model_output(m, 0, &y) == EV_OK && y.rank == 2 && y.dims[0] == 3 && y.dims[1] == 4);
    in[1].data = s2;
    CHECK(ev_model_run(m, in, 2) == EV_OK);
    CHECK(ev_model_output(m, 0, &y) == EV_OK && y.dims[0] == 4 && y.dims[1] == 3);
    CHECK(((float *)y.data)[11] == 11.0f);
    ev_model_free(m);
}

static void test_passthrough_outputs(void)
{
    /* outputs: the input itself and an initializer */
    Onnx__ModelProto *mp = ob_model(13);
    ob_input(mp, "x", 1, 1, (int64_t[]){3});
    float c[2] = {7, 8};
    ob_init_raw(mp, "c", 1, 1, (int64_t[]){2}, c, sizeof c);
    ob_node(mp, "Relu", "relu", "x", "y");
    ob_output(mp, "y");
    ob_output(mp, "x");
    ob_output(mp, "c");
    char *path = write_model(mp, "pass.onnx");
    ev_model *m = ev_model_new(NULL);
    CHECK(ev_model_load(m, path) == EV_OK);
    unlink(path);
    float *xd = malloc(12);
    xd[0] = -1; xd[1] = 2; xd[2] = -3;
    ev_tensor x = {EV_DT_FLOAT, 1, {3}, xd};
    CHECK(ev_model_run(m, &x, 1) == EV_OK);
    xd[1] = 99; /* the caller's buffer changes: the output copy must not */
    free(xd);
    ev_tensor y;
    CHECK(ev_model_output(m, 0, &y) == EV_OK && ((float *)y.data)[1] == 2);
    CHECK(ev_model_output(m, 1, &y) == EV_OK && ((float *)y.data)[1] == 2 && ((float *)y.data)[2] == -3);
    CHECK(ev_model_output(m, 2, &y) == EV_OK && ((float *)y.data)[1] == 8);
    CHECK(ev_model_output(m, 3, &y) == EV_ERR_INVALID_ARG);
    ev_model_free(m);
}

static void test_unsupported_at_plan(void)
{
    Onnx__ModelProto *mp = ob_model(13);
    ob_input(mp, "x", 1, 1, (int64_t[]){3});
    ob_node(mp, "Foo", "foo", "x", "y");
    ob_output(mp, "y");
    char *path = write_model(mp, "foo.onnx");
    ev_model_options o = ev_model_default_options();
    o.allow_unsupported = 1;
    ev_model *m = ev_model_new(&o);
    CHECK(ev_model_load(m, path) == EV_OK);
    unlink(path);
    float xd[3] = {0};
    ev_tensor x = {EV_DT_FLOAT, 1, {3}, xd};
    CHECK(ev_model_run(m, &x, 1) == EV_ERR_UNSUPPORTED);
    CHECK(strstr(ev_model_errmsg(m), "unsupported op 'Foo' (node 'foo', opset 13)") != NULL);
    ev_model_info info;
    ev_model_get_info(m, &info);
    CHECK(info.n_unsupported == 1 && !info.op_counts[0].supported);
    ev_model_free(m);
    CHECK(ev_model_errmsg(NULL) != NULL);
    ev_model_free(NULL);
    /* nothing loaded */
    m = ev_model_new(NULL);
    CHECK(ev_model_run(m, &x, 1) == EV_ERR_INVALID_ARG);
    CHECK(ev_model_load(m, "/nonexistent/model.onnx") == EV_ERR_IO);
    CHECK(strstr(ev_model_errmsg(m), "/nonexistent/model.onnx") != NULL);
    ev_model_free(m);
}

int main(void)
{
    test_arena_reuse();
    test_folding_and_cache(1);
    test_folding_and_cache(0);
    test_shape_as_input();
    test_passthrough_outputs();
    test_unsupported_at_plan();
    return test_report("test_onnx_plan");
}
