/*
 * tests/unit/test_kernels_nn.c — the numeric reference kernels (lib/kernels/
 * ref_nn.c and friends), called directly through their ev_op_def.
 *
 * 1. Hand-derived cases (answers obvious by construction) and validation:
 *    malformed or unsupported cases must fail with the right status and a
 *    message naming the op and the node; MAC counts of known layers.
 * 2. Randomized cases whose inputs and expected outputs PyTorch / NumPy
 *    produce at test time (tests/unit/test_kernels_nn_ref.py, run with
 *    /usr/bin/python3): every case runs with 1 and with 2 threads, the
 *    inferred shape must equal the oracle's and the values must agree within
 *    the case's tolerance (|got - want| <= atol + rtol * |want|).
 *
 * `test_kernels_nn --perf` instead times a few heavy kernels (not a test:
 * it prints GFLOP/s, best and mean of repeated runs, and asserts nothing).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "embeval/npy.h"
#include "onnx/ir.h"

static int g_fail, g_checks;
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        g_checks++;                                                                                \
        if (!(cond)) {                                                                             \
            g_fail++;                                                                              \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define MAXIO 8
#define MAXATTR 16

/* ---- a node and its call -------------------------------------------------- */

typedef struct call {
    const char *name, *op;
    int64_t opset;
    int n_in, n_out;
    ev_tensor *in[MAXIO];          /* NULL = omitted                         */
    int want_out[MAXIO];           /* output i requested                     */
    int n_attrs;
    ev_attr attrs[MAXATTR];
    int const_data;                /* inputs visible to infer() as constants */
} call;

typedef struct result {
    ev_status prepare, infer, run;
    ev_err err;
    ev_tensor out[MAXIO];
    int64_t macs;
} result;

static ev_status do_call(const call *c, int threads, result *r)
{
    memset(r, 0, sizeof *r);
    ev_graph g;
    memset(&g, 0, sizeof g);
    ev_arena_init(&g.arena, 0);
    ev_value vals[2 * MAXIO];
    memset(vals, 0, sizeof vals);
    g.values = vals;
    g.n_values = 2 * MAXIO;
    int in_idx[MAXIO], out_idx[MAXIO];
    ev_node n;
    memset(&n, 0, sizeof n);
    n.name = c->name;
    n.op_type = c->op;
    n.domain = "";
    n.opset = c->opset;
    n.op = ev_op_find(c->op, "", c->opset);
    n.n_in = c->n_in;
    n.n_out = c->n_out;
    for (int i = 0; i < c->n_in; i++) in_idx[i] = c->in[i] ? i : -1;
    for (int i = 0; i < c->n_out; i++) out_idx[i] = c->want_out[i] ? MAXIO + i : -1;
    n.in = in_idx;
    n.out = out_idx;
    n.n_attrs = c->n_attrs;
    n.attrs = (ev_attr *)c->attrs;
    ev_status st = EV_OK;
    if (!n.op) {
        st = r->prepare = ev_err_set(&r->err, EV_ERR_UNSUPPORTED, "no kernel for %s opset %lld", c->op,
                                     (long long)c->opset);
        goto done;
    }
    if (n.op->prepare && (st = r->prepare = n.op->prepare(&g, &n, &r->err))) goto done;
    const ev_tensor *ins[MAXIO];
    ev_tensor shown[MAXIO];
    for (int i = 0; i < c->n_in; i++) {
        if (!c->in[i]) {
            ins[i] = NULL;
            continue;
        }
        shown[i] = *c->in[i];
        if (!c->const_data) shown[i].data = NULL;
        ins[i] = &shown[i];
    }
    ev_tensor *outs[MAXIO];
    for (int i = 0; i < c->n_out; i++) outs[i] = c->want_out[i] ? &r->out[i] : NULL;
    if ((st = r->infer = n.op->infer(&n, ins, outs, &r->err))) goto done;
    for (int i = 0; i < c->n_out; i++) {
        if (!outs[i]) continue;
        int64_t cnt = ev_tensor_numel(outs[i]);
        size_t bytes = (size_t)(cnt > 0 ? cnt : 1) * ev_dtype_size(outs[i]->dtype);
        outs[i]->data = malloc(bytes);
        memset(outs[i]->data, 0xA5, bytes); /* poison: unwritten outputs show */
    }
    const ev_tensor *rins[MAXIO];
    for (int i = 0; i < c->n_in; i++) rins[i] = c->in[i];
    ev_exec_ctx ctx = {.threads = threads, .err = &r->err};
    if ((st = r->run = n.op->run(&n, rins, outs, &ctx))) goto done;
    if (n.op->macs) r->macs = n.op->macs(&n, rins, (const ev_tensor *const *)outs);
done:
    if (st != EV_OK)
        for (int i = 0; i < MAXIO; i++) {
            free(r->out[i].data);
            r->out[i].data = NULL;
        }
    ev_arena_free(&g.arena);
    return st;
}

static void free_result(result *r)
{
    for (int i = 0; i < MAXIO; i++) free(r->out[i].data);
}

/* ---- tensor helpers for hand-written cases -------------------------------- */

static ev_tensor *tf(int rank, const int64_t *dims, const float *v)
{
    ev_tensor *t = calloc(1, sizeof *t);
    t->dtype = EV_DT_FLOAT;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
    int64_t cnt = ev_tensor_numel(t);
    t->data = calloc((size_t)(cnt > 0 ? cnt : 1), sizeof(float));
    if (v) memcpy(t->data, v, sizeof(float) * (size_t)cnt);
    return t;
}

static ev_tensor *ti64(int rank, const int64_t *dims, const int64_t *v)
{
    ev_tensor *t = calloc(1, sizeof *t);
    t->dtype = EV_DT_INT64;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
    int64_t cnt = ev_tensor_numel(t);
    t->data = calloc((size_t)(cnt > 0 ? cnt : 1), sizeof(int64_t));
    if (v) memcpy(t->data, v, sizeof(int64_t) * (size_t)cnt);
    return t;
}

static void tfree(ev_tensor *t)
{
    if (!t) return;
    free(t->data);
    free(t);
}

#define D(...) ((const int64_t[]){__VA_ARGS__})
#define F(...) ((const float[]){__VA_ARGS__})

static ev_attr a_int(const char *name, int64_t v) { return (ev_attr){.name = name, .type = EV_ATTR_INT, .i = v}; }
static ev_attr a_float(const char *name, float v) { return (ev_attr){.name = name, .type = EV_ATTR_FLOAT, .f = v}; }
static ev_attr a_ints(const char *name, int n, const int64_t *v)
{
    return (ev_attr){.name = name, .type = EV_ATTR_INTS, .n = n, .ints = v};
}

static int msg_has(const result *r, const char *a, const char *b)
{
    return strstr(r->err.msg, a) && (!b || strstr(r->err.msg, b));
}

/* ---- 1. hand-derived and validation cases ---------------------------------- */

static void test_hand(void)
{
    result r;
    /* Conv: 3x3 ramp, 2x2 ones kernel -> sums of 2x2 windows. */
    {
        ev_tensor *x = tf(4, D(1, 1, 3, 3), F(1, 2, 3, 4, 5, 6, 7, 8, 9));
        ev_tensor *w = tf(4, D(1, 1, 2, 2), F(1, 1, 1, 1));
        call c = {.name = "c1", .op = "Conv", .opset = 11, .n_in = 2, .n_out = 1, .in = {x, w}, .want_out = {1}};
        CHECK(do_call(&c, 1, &r) == EV_OK, "conv: %s", r.err.msg);
        const float *y = r.out[0].data;
        CHECK(r.out[0].rank == 4 && r.out[0].dims[2] == 2 && r.out[0].dims[3] == 2, "conv shape");
        CHECK(y && y[0] == 12 && y[1] == 16 && y[2] == 24 && y[3] == 28, "conv values");
        CHECK(r.macs == 4 * 4, "conv macs %lld", (long long)r.macs);
        free_result(&r);
        /* Same with pads 1 and stride 2: corners of the padded 5x5. */
        ev_attr at[2] = {a_ints("pads", 4, D(1, 1, 1, 1)), a_ints("strides", 2, D(2, 2))};
        call c2 = c;
        c2.n_attrs = 2;
        memcpy(c2.attrs, at, sizeof at);
        CHECK(do_call(&c2, 1, &r) == EV_OK, "conv pad: %s", r.err.msg);
        y = r.out[0].data;
        CHECK(y && y[0] == 1 && y[1] == 2 + 3 && y[2] == 4 + 7 && y[3] == 5 + 6 + 8 + 9, "conv pad values");
        free_result(&r);
        /* float64 input: refused, naming op, node and dtype. */
        x->dtype = EV_DT_DOUBLE;
        CHECK(do_call(&c, 1, &r) == EV_ERR_UNSUPPORTED && msg_has(&r, "Conv", "'c1'") && msg_has(&r, "float64", NULL),
              "conv f64: %s", r.err.msg);
        x->dtype = EV_DT_FLOAT;
        /* channels not matching groups */
        ev_attr gat[1] = {a_int("group", 2)};
        call c3 = c;
        c3.n_attrs = 1;
        memcpy(c3.attrs, gat, sizeof gat);
        CHECK(do_call(&c3, 1, &r) == EV_ERR_SHAPE && msg_has(&r, "Conv", "group"), "conv groups: %s", r.err.msg);
        /* stride 0 refused at prepare */
        ev_attr sat[1] = {a_ints("strides", 2, D(0, 1))};
        memcpy(c3.attrs, sat, sizeof sat);
        CHECK(do_call(&c3, 1, &r) == EV_ERR_FORMAT && r.prepare, "conv stride 0: %s", r.err.msg);
        /* kernel larger than the input */
        ev_tensor *wb = tf(4, D(1, 1, 4, 4), NULL);
        call c4 = c;
        c4.in[1] = wb;
        CHECK(do_call(&c4, 1, &r) == EV_ERR_SHAPE, "conv big kernel: %s", r.err.msg);
        tfree(wb);
        tfree(x);
        tfree(w);
    }
    /* MACs of the ResNet-50 stem: 64x112x112 outputs x 3x7x7 = 118013952. */
    {
        ev_tensor *x = tf(4, D(1, 3, 224, 224), NULL), *w = tf(4, D(64, 3, 7, 7), NULL);
        call c = {.name = "stem", .op = "Conv", .opset = 13, .n_in = 2, .n_out = 1, .in = {x, w}, .want_out = {1},
                  .n_attrs = 2, .attrs = {a_ints("pads", 4, D(3, 3, 3, 3)), a_ints("strides", 2, D(2, 2))}};
        CHECK(do_call(&c, 2, &r) == EV_OK && r.macs == 118013952, "stem macs %lld %s", (long long)r.macs, r.err.msg);
        free_result(&r);
        tfree(x);
        tfree(w);
    }
    /* Gemm / MatMul MACs */
    {
        ev_tensor *a = tf(2, D(5, 9), NULL), *b = tf(2, D(7, 9), NULL);
        call c = {.name = "fc", .op = "Gemm", .opset = 13, .n_in = 2, .n_out = 1, .in = {a, b}, .want_out = {1},
                  .n_attrs = 1, .attrs = {a_int("transB", 1)}};
        CHECK(do_call(&c, 1, &r) == EV_OK && r.macs == 5 * 7 * 9, "gemm macs %lld", (long long)r.macs);
        free_result(&r);
        /* Gemm without C before opset 11 is malformed */
        c.opset = 9;
        CHECK(do_call(&c, 1, &r) == EV_ERR_FORMAT && msg_has(&r, "Gemm", "'fc'"), "gemm9 no C: %s", r.err.msg);
        tfree(a);
        tfree(b);
        ev_tensor *m1 = tf(4, D(3, 1, 5, 7), NULL), *m2 = tf(3, D(4, 7, 6), NULL);
        call m = {.name = "mm", .op = "MatMul", .opset = 13, .n_in = 2, .n_out = 1, .in = {m1, m2}, .want_out = {1}};
        CHECK(do_call(&m, 1, &r) == EV_OK && r.macs == 3 * 4 * 5 * 6 * 7, "matmul macs %lld", (long long)r.macs);
        free_result(&r);
        m2->dims[1] = 8;
        CHECK(do_call(&m, 1, &r) == EV_ERR_SHAPE && msg_has(&r, "MatMul", "'mm'"), "matmul K: %s", r.err.msg);
        tfree(m1);
        tfree(m2);
    }
    /* Integer division: truncation, and division by zero is an error. */
    {
        ev_tensor *a = ti64(1, D(4), (const int64_t[]){7, -7, 7, INT64_MIN});
        ev_tensor *b = ti64(1, D(4), (const int64_t[]){2, 2, -2, -1});
        call c = {.name = "d", .op = "Div", .opset = 14, .n_in = 2, .n_out = 1, .in = {a, b}, .want_out = {1}};
        CHECK(do_call(&c, 1, &r) == EV_OK, "div: %s", r.err.msg);
        const int64_t *y = r.out[0].data;
        CHECK(y && y[0] == 3 && y[1] == -3 && y[2] == -3 && y[3] == INT64_MIN, "div values");
        free_result(&r);
        ((int64_t *)b->data)[1] = 0;
        CHECK(do_call(&c, 1, &r) == EV_ERR_DATA && msg_has(&r, "Div", "zero"), "div0: %s", r.err.msg);
        /* mixed dtypes are malformed */
        b->dtype = EV_DT_FLOAT;
        CHECK(do_call(&c, 1, &r) == EV_ERR_FORMAT, "div mixed: %s", r.err.msg);
        tfree(a);
        tfree(b);
    }
    /* Cast: NaN and out-of-range values to int64 are defined (0 / saturate). */
    {
        ev_tensor *x = tf(1, D(4), F(NAN, 1e20f, -1e20f, -2.5f));
        call c = {.name = "cast", .op = "Cast", .opset = 13, .n_in = 1, .n_out = 1, .in = {x}, .want_out = {1},
                  .n_attrs = 1, .attrs = {a_int("to", EV_DT_INT64)}};
        CHECK(do_call(&c, 1, &r) == EV_OK, "cast: %s", r.err.msg);
        const int64_t *y = r.out[0].data;
        CHECK(y && y[0] == 0 && y[1] == INT64_MAX && y[2] == INT64_MIN && y[3] == -2, "cast values");
        free_result(&r);
        c.attrs[0] = a_int("to", EV_DT_FLOAT16);
        CHECK(do_call(&c, 1, &r) == EV_ERR_UNSUPPORTED && msg_has(&r, "Cast", "float16"), "cast f16: %s", r.err.msg);
        tfree(x);
    }
    /* Clip with min > max gives max everywhere (ONNX spec). */
    {
        ev_tensor *x = tf(1, D(3), F(-5, 0.5f, 5)), *lo = tf(0, D(0), F(2)), *hi = tf(0, D(0), F(1));
        call c = {.name = "clip", .op = "Clip", .opset = 13, .n_in = 3, .n_out = 1, .in = {x, lo, hi}, .want_out = {1}};
        CHECK(do_call(&c, 1, &r) == EV_OK, "clip: %s", r.err.msg);
        const float *y = r.out[0].data;
        CHECK(y && y[0] == 1 && y[1] == 1 && y[2] == 1, "clip min>max");
        free_result(&r);
        tfree(x);
        tfree(lo);
        tfree(hi);
    }
    /* Refusals that must name the op and the node. */
    {
        ev_tensor *x = tf(4, D(1, 2, 2, 2), NULL), *p = tf(1, D(2), F(1, 1));
        call bn = {.name = "bn", .op = "BatchNormalization", .opset = 15, .n_in = 5, .n_out = 1,
                   .in = {x, p, p, p, p}, .want_out = {1}, .n_attrs = 1, .attrs = {a_int("training_mode", 1)}};
        CHECK(do_call(&bn, 1, &r) == EV_ERR_UNSUPPORTED && r.prepare && msg_has(&r, "BatchNormalization", "'bn'"),
              "bn training: %s", r.err.msg);
        call mp = {.name = "mp", .op = "MaxPool", .opset = 12, .n_in = 1, .n_out = 2, .in = {x}, .want_out = {1, 1},
                   .n_attrs = 1, .attrs = {a_ints("kernel_shape", 2, D(2, 2))}};
        CHECK(do_call(&mp, 1, &r) == EV_ERR_UNSUPPORTED && msg_has(&r, "MaxPool", "Indices"), "maxpool idx: %s", r.err.msg);
        mp.want_out[1] = 0; /* declared but omitted: fine */
        CHECK(do_call(&mp, 1, &r) == EV_OK, "maxpool no idx: %s", r.err.msg);
        free_result(&r);
        mp.n_attrs = 0;
        CHECK(do_call(&mp, 1, &r) == EV_ERR_FORMAT && msg_has(&r, "kernel_shape", NULL), "maxpool no kernel: %s", r.err.msg);
        /* ReduceMean-18 with a computed (non-constant) axes input */
        ev_tensor *ax = ti64(1, D(1), (const int64_t[]){1});
        call rm = {.name = "rm", .op = "ReduceMean", .opset = 18, .n_in = 2, .n_out = 1, .in = {x, ax}, .want_out = {1}};
        CHECK(do_call(&rm, 1, &r) == EV_ERR_UNSUPPORTED && msg_has(&r, "ReduceMean", "constant"), "reduce axes: %s", r.err.msg);
        rm.const_data = 1;
        CHECK(do_call(&rm, 1, &r) == EV_OK && r.out[0].rank == 4 && r.out[0].dims[1] == 1, "reduce const axes: %s", r.err.msg);
        free_result(&r);
        /* repeated axis */
        ev_tensor *ax2 = ti64(1, D(2), (const int64_t[]){1, -3});
        rm.in[1] = ax2;
        CHECK(do_call(&rm, 1, &r) == EV_ERR_FORMAT && msg_has(&r, "repeated", NULL), "reduce dup axes: %s", r.err.msg);
        /* LayerNormalization with a double stash type */
        call ln = {.name = "ln", .op = "LayerNormalization", .opset = 17, .n_in = 2, .n_out = 1, .in = {x, p},
                   .want_out = {1}, .n_attrs = 1, .attrs = {a_int("stash_type", EV_DT_DOUBLE)}};
        CHECK(do_call(&ln, 1, &r) == EV_ERR_UNSUPPORTED, "ln stash: %s", r.err.msg);
        /* Add of incompatible shapes */
        ev_tensor *y3 = tf(1, D(3), NULL);
        call add = {.name = "add", .op = "Add", .opset = 14, .n_in = 2, .n_out = 1, .in = {x, y3}, .want_out = {1}};
        CHECK(do_call(&add, 1, &r) == EV_ERR_SHAPE && msg_has(&r, "Add", "'add'"), "add shapes: %s", r.err.msg);
        /* Softmax axis out of range */
        call sm = {.name = "sm", .op = "Softmax", .opset = 13, .n_in = 1, .n_out = 1, .in = {x}, .want_out = {1},
                   .n_attrs = 1, .attrs = {a_int("axis", 4)}};
        CHECK(do_call(&sm, 1, &r) == EV_ERR_SHAPE && msg_has(&r, "Softmax", "axis"), "softmax axis: %s", r.err.msg);
        /* Relu on float16 */
        x->dtype = EV_DT_FLOAT16;
        call relu = {.name = "r", .op = "Relu", .opset = 14, .n_in = 1, .n_out = 1, .in = {x}, .want_out = {1}};
        CHECK(do_call(&relu, 1, &r) == EV_ERR_UNSUPPORTED && msg_has(&r, "Relu", "float16"), "relu f16: %s", r.err.msg);
        x->dtype = EV_DT_FLOAT;
        tfree(x);
        tfree(p);
        tfree(ax);
        tfree(ax2);
        tfree(y3);
    }
    /* HardSigmoid reads alpha/beta (PyTorch exports alpha = 1/6). */
    {
        ev_tensor *x = tf(1, D(3), F(-3, 0, 1.5f));
        call c = {.name = "hs", .op = "HardSigmoid", .opset = 6, .n_in = 1, .n_out = 1, .in = {x}, .want_out = {1},
                  .n_attrs = 1, .attrs = {a_float("alpha", 1.0f / 6.0f)}};
        CHECK(do_call(&c, 1, &r) == EV_OK, "hardsigmoid: %s", r.err.msg);
        const float *y = r.out[0].data;
        CHECK(y && y[0] == 0.0f && y[1] == 0.5f && fabsf(y[2] - 0.75f) < 1e-7f, "hardsigmoid values");
        free_result(&r);
        tfree(x);
    }
    /* Opset coverage of the registry entries that changed semantics. */
    CHECK(ev_op_find("Softmax", "", 11) && ev_op_find("Softmax", "", 13) &&
              ev_op_find("Softmax", "", 11) != ev_op_find("Softmax", "", 13), "softmax entries");
    CHECK(ev_op_find("Clip", "", 10) != ev_op_find("Clip", "", 11), "clip entries");
    CHECK(ev_op_find("ReduceMean", "", 17) != ev_op_find("ReduceMean", "", 18), "reducemean entries");
    CHECK(ev_op_find("ReduceSum", "", 12) != ev_op_find("ReduceSum", "", 13), "reducesum entries");
    CHECK(!ev_op_find("HardSwish", "", 13) && ev_op_find("HardSwish", "", 14), "hardswish opsets");
    CHECK(!ev_op_find("LayerNormalization", "", 16) && ev_op_find("LayerNormalization", "", 17), "layernorm opsets");
    CHECK(!ev_op_find("Conv", "", 19), "no opset beyond 18");
}

/* ---- 2. randomized cases against the PyTorch/NumPy oracle ---------------- */

typedef struct tcase {
    char name[128], op[64];
    int opset;
    int n_attrs;
    ev_attr attrs[MAXATTR];
    char anames[MAXATTR][64], astr[MAXATTR][64];
    int64_t aints[MAXATTR][16];
    int n_in, n_out;
    ev_tensor in[MAXIO], out[MAXIO];
    int in_present[MAXIO], out_present[MAXIO];
    double rtol, atol;
} tcase;

static int load_npy(const char *dir, const char *file, int as_bool, ev_tensor *t)
{
    char path[1024], eb[256];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    ev_array a;
    if (ev_npy_read(path, EV_DT_UNDEFINED, &a, eb, sizeof eb) != EV_OK) {
        fprintf(stderr, "cannot read %s: %s\n", path, eb);
        return -1;
    }
    memset(t, 0, sizeof *t);
    t->dtype = a.dtype;
    t->rank = a.rank;
    for (int i = 0; i < a.rank; i++) t->dims[i] = a.dims[i];
    t->data = a.data;
    if (as_bool) {
        int64_t cnt = ev_tensor_numel(t);
        uint8_t *b = malloc((size_t)(cnt > 0 ? cnt : 1));
        for (int64_t i = 0; i < cnt; i++) b[i] = ((const int64_t *)a.data)[i] != 0;
        ev_array_free(&a);
        t->data = b;
        t->dtype = EV_DT_BOOL;
    }
    return 0;
}

static double elem(const ev_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case EV_DT_FLOAT: return ((const float *)t->data)[i];
    case EV_DT_DOUBLE: return ((const double *)t->data)[i];
    case EV_DT_INT64: return (double)((const int64_t *)t->data)[i];
    case EV_DT_INT32: return ((const int32_t *)t->data)[i];
    case EV_DT_BOOL: return ((const uint8_t *)t->data)[i];
    default: return NAN;
    }
}

static void compare(const tcase *tc, int threads, int k, const ev_tensor *got, const ev_tensor *want)
{
    int shape_ok = got->rank == want->rank && got->dtype == want->dtype;
    for (int d = 0; shape_ok && d < got->rank; d++) shape_ok = got->dims[d] == want->dims[d];
    CHECK(shape_ok, "%s (threads %d) output %d: got %s rank %d [%lld,...], want %s rank %d [%lld,...]", tc->name,
          threads, k, ev_dtype_name(got->dtype), got->rank, (long long)(got->rank ? got->dims[0] : 0),
          ev_dtype_name(want->dtype), want->rank, (long long)(want->rank ? want->dims[0] : 0));
    if (!shape_ok) return;
    int64_t cnt = ev_tensor_numel(want), bad = 0, first = -1;
    double worst = 0;
    int exact = want->dtype != EV_DT_FLOAT && want->dtype != EV_DT_DOUBLE;
    for (int64_t i = 0; i < cnt; i++) {
        double g = elem(got, i), w = elem(want, i);
        int ok;
        if (exact) ok = (want->dtype == EV_DT_INT64) ? ((const int64_t *)got->data)[i] == ((const int64_t *)want->data)[i] : g == w;
        else if (isnan(w)) ok = isnan(g);
        else ok = fabs(g - w) <= tc->atol + tc->rtol * fabs(w);
        if (!ok) {
            if (first < 0) first = i;
            bad++;
            if (fabs(g - w) > worst) worst = fabs(g - w);
        }
    }
    CHECK(bad == 0, "%s (threads %d) output %d: %lld of %lld elements differ (first at %lld: got %.9g want %.9g; worst |diff| %.3g)",
          tc->name, threads, k, (long long)bad, (long long)cnt, (long long)first, first >= 0 ? elem(got, first) : 0.0,
          first >= 0 ? elem(want, first) : 0.0, worst);
}

static void run_tcase(const tcase *tc)
{
    for (int threads = 1; threads <= 2; threads++) {
        call c;
        memset(&c, 0, sizeof c);
        c.name = tc->name;
        c.op = tc->op;
        c.opset = tc->opset;
        c.n_in = tc->n_in;
        c.n_out = tc->n_out;
        c.const_data = 1;
        for (int i = 0; i < tc->n_in; i++) c.in[i] = tc->in_present[i] ? (ev_tensor *)&tc->in[i] : NULL;
        for (int i = 0; i < tc->n_out; i++) c.want_out[i] = tc->out_present[i];
        c.n_attrs = tc->n_attrs;
        memcpy(c.attrs, tc->attrs, sizeof c.attrs);
        result r;
        ev_status st = do_call(&c, threads, &r);
        CHECK(st == EV_OK, "%s (threads %d): %s", tc->name, threads, r.err.msg);
        if (st == EV_OK)
            for (int k = 0; k < tc->n_out; k++)
                if (tc->out_present[k]) compare(tc, threads, k, &r.out[k], &tc->out[k]);
        free_result(&r);
    }
}

static void free_tcase(tcase *tc)
{
    for (int i = 0; i < tc->n_in; i++)
        if (tc->in_present[i]) free(tc->in[i].data);
    for (int i = 0; i < tc->n_out; i++)
        if (tc->out_present[i]) free(tc->out[i].data);
    memset(tc, 0, sizeof *tc);
}

static int rm_dir(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

static void test_oracle(void)
{
    char dir[] = "/tmp/ev_kernels_nn_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/../unit/test_kernels_nn_ref.py' '%s' > '%s/log.txt' 2>&1",
             EV_TEST_DATA_DIR, dir, dir);
    int rc = system(cmd);
    CHECK(rc == 0, "oracle script failed (%d): see %s/log.txt", rc, dir);
    if (rc != 0) return; /* keep the directory for inspection */
    char path[1100];
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "no manifest");
    if (!f) return;
    static tcase tc;
    memset(&tc, 0, sizeof tc);
    char line[4096];
    int ncases = 0, ok_load = 1;
    while (fgets(line, sizeof line, f)) {
        char kw[32] = "", a[128] = "", b[128] = "";
        if (sscanf(line, "%31s", kw) != 1) continue;
        if (!strcmp(kw, "case")) {
            free_tcase(&tc);
            ok_load = sscanf(line, "case %127s %63s %d", tc.name, tc.op, &tc.opset) == 3;
        } else if (!strncmp(kw, "attr_", 5)) {
            int k = tc.n_attrs++;
            ev_attr *at = &tc.attrs[k];
            if (sscanf(line, "%*s %63s %63s", tc.anames[k], tc.astr[k]) != 2) ok_load = 0;
            at->name = tc.anames[k];
            if (!strcmp(kw, "attr_i")) {
                at->type = EV_ATTR_INT;
                at->i = strtoll(tc.astr[k], NULL, 10);
            } else if (!strcmp(kw, "attr_f")) {
                at->type = EV_ATTR_FLOAT;
                at->f = strtof(tc.astr[k], NULL);
            } else if (!strcmp(kw, "attr_s")) {
                at->type = EV_ATTR_STRING;
                at->s = tc.astr[k];
            } else {
                at->type = EV_ATTR_INTS;
                char *p = line;
                for (int skip = 0; skip < 3; skip++) { /* keyword, name, count */
                    while (*p == ' ') p++;
                    while (*p && *p != ' ') p++;
                }
                at->n = strtoll(tc.astr[k], NULL, 10);
                for (int64_t i = 0; i < at->n && i < 16; i++) tc.aints[k][i] = strtoll(p, &p, 10);
                at->ints = tc.aints[k];
            }
        } else if (!strcmp(kw, "in") || !strcmp(kw, "out")) {
            int is_in = kw[0] == 'i';
            int n = sscanf(line, "%*s %127s %127s", a, b);
            int i = is_in ? tc.n_in++ : tc.n_out++;
            if (strcmp(a, "-")) {
                ev_tensor *t = is_in ? &tc.in[i] : &tc.out[i];
                if (load_npy(dir, a, n == 2 && !strcmp(b, "bool"), t)) ok_load = 0;
                else (is_in ? tc.in_present : tc.out_present)[i] = 1;
            }
        } else if (!strcmp(kw, "tol")) {
            sscanf(line, "tol %lf %lf", &tc.rtol, &tc.atol);
        } else if (!strcmp(kw, "end")) {
            CHECK(ok_load, "case %s could not be loaded", tc.name);
            if (ok_load) run_tcase(&tc);
            ncases++;
        }
    }
    free_tcase(&tc);
    fclose(f);
    CHECK(ncases >= 150, "only %d oracle cases", ncases);
    printf("oracle cases: %d\n", ncases);
    if (g_fail == 0) rm_dir(dir);
    else fprintf(stderr, "oracle data kept in %s\n", dir);
}

/* ---- 3. perf mode --------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void perf_one(const char *what, const call *c, int threads, double seconds)
{
    result r;
    if (do_call(c, threads, &r) != EV_OK) {
        printf("%s: %s\n", what, r.err.msg);
        return;
    }
    free_result(&r);
    double best = 1e30, t0 = now_s(), total = 0;
    int reps = 0;
    int64_t macs = 0;
    while (total < seconds) {
        double a = now_s();
        do_call(c, threads, &r);
        double dt = now_s() - a;
        macs = r.macs;
        free_result(&r);
        if (dt < best) best = dt;
        reps++;
        total = now_s() - t0;
    }
    printf("%-44s threads %d: best %8.3f ms %6.1f GFLOP/s   mean %8.3f ms %6.1f GFLOP/s\n", what, threads,
           best * 1e3, 2.0 * (double)macs / best * 1e-9, total / reps * 1e3,
           2.0 * (double)macs * reps / total * 1e-9);
}

static ev_tensor *trand(int rank, const int64_t *dims)
{
    ev_tensor *t = tf(rank, dims, NULL);
    float *v = t->data;
    uint32_t s = 12345;
    for (int64_t i = 0; i < ev_tensor_numel(t); i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
    return t;
}

static int perf(void)
{
    ev_tensor *x = trand(4, D(1, 64, 56, 56)), *w = trand(4, D(64, 64, 3, 3)), *b = trand(1, D(64));
    call c = {.name = "conv", .op = "Conv", .opset = 13, .n_in = 3, .n_out = 1, .in = {x, w, b}, .want_out = {1},
              .n_attrs = 1, .attrs = {a_ints("pads", 4, D(1, 1, 1, 1))}};
    ev_tensor *xd = trand(4, D(1, 144, 56, 56)), *wd = trand(4, D(144, 1, 3, 3));
    call dw = {.name = "dw", .op = "Conv", .opset = 13, .n_in = 2, .n_out = 1, .in = {xd, wd}, .want_out = {1},
               .n_attrs = 2, .attrs = {a_ints("pads", 4, D(1, 1, 1, 1)), a_int("group", 144)}};
    ev_tensor *a = trand(2, D(200, 768)), *m = trand(2, D(768, 3072));
    call mm = {.name = "mm", .op = "MatMul", .opset = 13, .n_in = 2, .n_out = 1, .in = {a, m}, .want_out = {1}};
    for (int t = 1; t <= 2; t++) {
        perf_one("Conv 3x3 64->64 56x56 (pad 1)", &c, t, 3.0);
        perf_one("Conv depthwise 3x3 144ch 56x56 (pad 1)", &dw, t, 2.0);
        perf_one("MatMul [200,768] x [768,3072]", &mm, t, 3.0);
    }
    tfree(x), tfree(w), tfree(b), tfree(xd), tfree(wd), tfree(a), tfree(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--perf")) return perf();
    test_hand();
    test_oracle();
    printf("test_kernels_nn: %d checks, %d failed\n", g_checks, g_fail);
    return g_fail ? 1 : 0;
}
