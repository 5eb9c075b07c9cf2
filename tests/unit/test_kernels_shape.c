/*
 * tests/unit/test_kernels_shape.c — the shape/data-movement reference kernels
 * (lib/kernels/ref_shape.c), called directly through their ev_op_def.
 *
 * Three kinds of checks:
 *  1. small hand-derived cases whose answer is obvious by construction;
 *  2. validation: every malformed case must fail with the right status and
 *     a message naming the op and the node;
 *  3. randomized cases (fixed seed) whose expected output NumPy computes at
 *     test time (/usr/bin/python3): Slice, Transpose, Gather, Pad, Tile,
 *     Expand, Split, Concat, Squeeze/Unsqueeze, Flatten, DepthToSpace.
 *     Inputs are arange(n) reshaped, so NumPy rebuilds them from the shape.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onnx/ir.h"

static int g_fail, g_checks;
#define CHECK(cond, ...)                                                                                       \
    do {                                                                                                       \
        g_checks++;                                                                                            \
        if (!(cond)) {                                                                                         \
            g_fail++;                                                                                          \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                               \
            fprintf(stderr, __VA_ARGS__);                                                                      \
            fputc('\n', stderr);                                                                               \
        }                                                                                                      \
    } while (0)

static ev_arena g_mem; /* every tensor of the test */

/* ---- tensors ----------------------------------------------------------- */

static double get_elem(const ev_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case EV_DT_FLOAT: return ((const float *)t->data)[i];
    case EV_DT_DOUBLE: return ((const double *)t->data)[i];
    case EV_DT_INT64: return (double)((const int64_t *)t->data)[i];
    case EV_DT_INT32: return ((const int32_t *)t->data)[i];
    case EV_DT_INT16: return ((const int16_t *)t->data)[i];
    case EV_DT_UINT8:
    case EV_DT_BOOL: return ((const uint8_t *)t->data)[i];
    default: return NAN;
    }
}

static void set_elem(ev_tensor *t, int64_t i, double v)
{
    switch (t->dtype) {
    case EV_DT_FLOAT: ((float *)t->data)[i] = (float)v; break;
    case EV_DT_DOUBLE: ((double *)t->data)[i] = v; break;
    case EV_DT_INT64: ((int64_t *)t->data)[i] = (int64_t)v; break;
    case EV_DT_INT32: ((int32_t *)t->data)[i] = (int32_t)v; break;
    case EV_DT_INT16: ((int16_t *)t->data)[i] = (int16_t)v; break;
    case EV_DT_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)(int64_t)v; break;
    case EV_DT_BOOL: ((uint8_t *)t->data)[i] = v != 0; break;
    default: break;
    }
}

static ev_tensor *mk(ev_dtype dt, int rank, const int64_t *dims)
{
    ev_tensor *t = ev_arena_alloc(&g_mem, sizeof *t);
    int64_t n;
    t->dtype = dt;
    t->rank = rank;
    for (int k = 0; k < rank; k++) t->dims[k] = dims[k];
    n = ev_tensor_numel(t);
    t->data = ev_arena_alloc(&g_mem, (size_t)(n > 0 ? n : 1) * ev_dtype_size(dt));
    return t;
}

/* A tensor with the given values (as doubles converted to dt). */
static ev_tensor *tv(ev_dtype dt, int rank, const int64_t *dims, const double *vals)
{
    ev_tensor *t = mk(dt, rank, dims);
    for (int64_t i = 0; i < ev_tensor_numel(t); i++) set_elem(t, i, vals[i]);
    return t;
}

/* arange(n) converted to dt (uint8 wraps, bool is i != 0: as NumPy astype). */
static ev_tensor *iota(ev_dtype dt, int rank, const int64_t *dims)
{
    ev_tensor *t = mk(dt, rank, dims);
    for (int64_t i = 0; i < ev_tensor_numel(t); i++) {
        if (dt == EV_DT_UINT8) ((uint8_t *)t->data)[i] = (uint8_t)i;
        else set_elem(t, i, (double)i);
    }
    return t;
}

static ev_tensor *ints(int n, const int64_t *v) /* 1-D int64 */
{
    int64_t d = n;
    ev_tensor *t = mk(EV_DT_INT64, 1, &d);
    if (n > 0) memcpy(t->data, v, (size_t)n * sizeof *v);
    return t;
}

static ev_tensor *nodata(ev_tensor *t) /* as a non-constant input at plan time */
{
    ev_tensor *c = ev_arena_alloc(&g_mem, sizeof *c);
    *c = *t;
    c->data = NULL;
    return c;
}

#define D(...) ((const int64_t[]){__VA_ARGS__})
#define V(...) ((const double[]){__VA_ARGS__})
#define I64(...) ints((int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__})

/* ---- attributes ---------------------------------------------------------- */
static ev_attr a_int(const char *name, int64_t v) { return (ev_attr){.name = name, .type = EV_ATTR_INT, .i = v}; }
static ev_attr a_float(const char *name, float v) { return (ev_attr){.name = name, .type = EV_ATTR_FLOAT, .f = v}; }
static ev_attr a_str(const char *name, const char *v) { return (ev_attr){.name = name, .type = EV_ATTR_STRING, .s = v}; }
static ev_attr a_ints(const char *name, int n, const int64_t *v)
{
    int64_t *c = ev_arena_alloc(&g_mem, (size_t)(n ? n : 1) * sizeof *c);
    memcpy(c, v, (size_t)n * sizeof *c);
    return (ev_attr){.name = name, .type = EV_ATTR_INTS, .n = n, .ints = c};
}
static ev_attr a_tensor(const char *name, const ev_tensor *t)
{
    return (ev_attr){.name = name, .type = EV_ATTR_TENSOR, .t = *t};
}

/* ---- calling an op ------------------------------------------------------- */
#define MAXIO 8

typedef struct call {
    const char *op;
    int64_t opset;
    int n_in;
    const ev_tensor *in[MAXIO]; /* NULL = omitted optional input */
    int n_out;
    int omit_out[MAXIO];
    int n_attrs;
    ev_attr attrs[6];
    /* results */
    ev_tensor *out[MAXIO];
    ev_status st;
    char msg[EV_ERRLEN];
    int stage; /* 0 prepare, 1 infer, 2 run */
} call;

static const ev_op_def *find_op(const char *op, int64_t opset)
{
    for (int i = 0; ev_ops_shape[i]; i++)
        if (!strcmp(ev_ops_shape[i]->op_type, op) && opset >= ev_ops_shape[i]->min_opset &&
            opset <= ev_ops_shape[i]->max_opset)
            return ev_ops_shape[i];
    return NULL;
}

/* prepare -> infer (with the given inputs, data present = constant) ->
 * allocate outputs -> run. Stops at the first failure. */
static ev_status run_call(call *c)
{
    const ev_op_def *def = find_op(c->op, c->opset);
    ev_graph g;
    ev_node n;
    int in_idx[MAXIO], out_idx[MAXIO];
    ev_tensor *outp[MAXIO];
    ev_err err;
    ev_exec_ctx ctx = {1, &err};
    memset(&g, 0, sizeof g);
    memset(&n, 0, sizeof n);
    ev_err_clear(&err);
    c->msg[0] = 0;
    c->stage = 0;
    if (!def) {
        snprintf(c->msg, sizeof c->msg, "no op %s at opset %lld", c->op, (long long)c->opset);
        return c->st = EV_ERR_UNSUPPORTED;
    }
    ev_arena_init(&g.arena, 0);
    n.name = "node_under_test";
    n.op_type = c->op;
    n.domain = "";
    n.opset = c->opset;
    n.op = def;
    n.n_in = c->n_in;
    n.n_out = c->n_out;
    n.in = in_idx;
    n.out = out_idx;
    n.attrs = c->attrs;
    n.n_attrs = c->n_attrs;
    for (int i = 0; i < c->n_in; i++) in_idx[i] = c->in[i] ? i : -1;
    for (int i = 0; i < c->n_out; i++) {
        out_idx[i] = c->omit_out[i] ? -1 : 100 + i;
        c->out[i] = NULL;
        outp[i] = NULL;
        if (!c->omit_out[i]) {
            c->out[i] = ev_arena_alloc(&g_mem, sizeof(ev_tensor));
            outp[i] = c->out[i];
        }
    }
    c->st = def->prepare ? def->prepare(&g, &n, &err) : EV_OK;
    if (c->st == EV_OK) {
        c->stage = 1;
        c->st = def->infer(&n, c->in, outp, &err);
    }
    if (c->st == EV_OK) {
        c->stage = 2;
        for (int i = 0; i < c->n_out; i++) {
            if (!outp[i]) continue;
            int64_t ne = ev_tensor_numel(outp[i]);
            outp[i]->data = ev_arena_alloc(&g_mem, (size_t)(ne > 0 ? ne : 1) * ev_dtype_size(outp[i]->dtype) + 64);
            memset(outp[i]->data, 0xA5, (size_t)(ne > 0 ? ne : 1) * ev_dtype_size(outp[i]->dtype) + 64);
        }
        c->st = def->run(&n, c->in, outp, &ctx);
    }
    if (c->st != EV_OK) snprintf(c->msg, sizeof c->msg, "%s", err.msg);
    ev_arena_free(&g.arena);
    return c->st;
}

/* Convenience: single output, inputs as varargs (NULL allowed). */
static call *op_call(const char *op, int64_t opset, int n_in, ...)
{
    call *c = ev_arena_alloc(&g_mem, sizeof *c);
    va_list ap;
    c->op = op;
    c->opset = opset;
    c->n_in = n_in;
    c->n_out = 1;
    va_start(ap, n_in);
    for (int i = 0; i < n_in; i++) c->in[i] = va_arg(ap, const ev_tensor *);
    va_end(ap);
    return c;
}
static call *with(call *c, ev_attr a)
{
    c->attrs[c->n_attrs++] = a;
    return c;
}

/* Expect success with the given dtype, dims and values. */
static void expect_ok(int line, call *c, int oi, ev_dtype dt, int rank, const int64_t *dims, const double *vals)
{
    const ev_tensor *o;
    int64_t ne;
    if (c->st != EV_OK || !c->out[oi]) {
        CHECK(0, "line %d: %s failed (stage %d): %s", line, c->op, c->stage, c->msg);
        return;
    }
    o = c->out[oi];
    CHECK(o->dtype == dt, "line %d: %s dtype %d, expected %d", line, c->op, o->dtype, dt);
    CHECK(o->rank == rank, "line %d: %s rank %d, expected %d", line, c->op, o->rank, rank);
    if (o->rank != rank) return;
    for (int k = 0; k < rank; k++)
        CHECK(o->dims[k] == dims[k], "line %d: %s dim %d = %lld, expected %lld", line, c->op, k,
              (long long)o->dims[k], (long long)dims[k]);
    ne = ev_tensor_numel(o);
    for (int64_t i = 0; i < ne && vals; i++) {
        double g = get_elem(o, i);
        if (g != vals[i]) {
            CHECK(0, "line %d: %s element %lld = %g, expected %g", line, c->op, (long long)i, g, vals[i]);
            break;
        }
    }
}
#define EXPECT(c, dt, rank, dims, vals)                                                                        \
    do {                                                                                                       \
        call *c_ = (c);                                                                                        \
        run_call(c_);                                                                                          \
        expect_ok(__LINE__, c_, 0, dt, rank, dims, vals);                                                      \
    } while (0)

/* Expect failure with status st and a message naming op and node. */
static void expect_err(int line, call *c, ev_status st, const char *needle)
{
    run_call(c);
    CHECK(c->st == st, "line %d: %s returned %d (%s), expected %d", line, c->op, c->st, c->msg, st);
    CHECK(strstr(c->msg, c->op) && strstr(c->msg, "node_under_test"),
          "line %d: message does not name op and node: '%s'", line, c->msg);
    if (needle) CHECK(strstr(c->msg, needle), "line %d: message '%s' lacks '%s'", line, c->msg, needle);
}
#define EXPECT_ERR(c, st, needle) expect_err(__LINE__, c, st, needle)

/* ======================================================================== */
/* hand-derived cases                                                       */
/* ======================================================================== */

static void test_reshape(void)
{
    ev_tensor *x = iota(EV_DT_FLOAT, 2, D(2, 3));
    EXPECT(op_call("Reshape", 13, 2, x, I64(3, -1)), EV_DT_FLOAT, 2, D(3, 2), V(0, 1, 2, 3, 4, 5));
    EXPECT(op_call("Reshape", 13, 2, x, I64(0, 3)), EV_DT_FLOAT, 2, D(2, 3), V(0, 1, 2, 3, 4, 5));
    EXPECT(op_call("Reshape", 13, 2, x, I64(-1)), EV_DT_FLOAT, 1, D(6), V(0, 1, 2, 3, 4, 5));
    EXPECT(op_call("Reshape", 5, 2, x, I64(1, 1, 6)), EV_DT_FLOAT, 3, D(1, 1, 6), V(0, 1, 2, 3, 4, 5));
    /* int64 data, 0 copies input dim 1 */
    EXPECT(op_call("Reshape", 14, 2, iota(EV_DT_INT64, 3, D(2, 3, 2)), I64(-1, 0, 2)), EV_DT_INT64, 3, D(2, 3, 2),
           V(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
    /* allowzero: 0 means a real 0 dimension */
    EXPECT(with(op_call("Reshape", 14, 2, iota(EV_DT_FLOAT, 2, D(0, 3)), I64(3, 0)), a_int("allowzero", 1)),
           EV_DT_FLOAT, 2, D(3, 0), NULL);
    /* without allowzero, 0 copies dims[0] = 2 */
    EXPECT(op_call("Reshape", 14, 2, iota(EV_DT_FLOAT, 2, D(2, 3)), I64(0, -1)), EV_DT_FLOAT, 2, D(2, 3), NULL);
    EXPECT_ERR(op_call("Reshape", 13, 2, x, I64(-1, -1)), EV_ERR_SHAPE, "more than one -1");
    EXPECT_ERR(op_call("Reshape", 13, 2, x, I64(4, -1)), EV_ERR_SHAPE, NULL);
    EXPECT_ERR(op_call("Reshape", 13, 2, x, I64(7)), EV_ERR_SHAPE, NULL);
    EXPECT_ERR(op_call("Reshape", 13, 2, x, I64(0, 0, 0)), EV_ERR_SHAPE, "rank");
    EXPECT_ERR(op_call("Reshape", 13, 2, x, I64(-2, -3)), EV_ERR_SHAPE, NULL);
    EXPECT_ERR(with(op_call("Reshape", 14, 2, x, I64(0, -1)), a_int("allowzero", 1)), EV_ERR_SHAPE, "allowzero");
    EXPECT_ERR(op_call("Reshape", 13, 2, x, nodata(I64(3, 2))), EV_ERR_UNSUPPORTED, "not a constant");
    EXPECT_ERR(op_call("Reshape", 13, 2, x, NULL), EV_ERR_SHAPE, "missing");
    /* -1 with a zero-sized other dim is ambiguous */
    EXPECT_ERR(op_call("Reshape", 13, 2, iota(EV_DT_FLOAT, 2, D(0, 3)), I64(0, -1)), EV_ERR_SHAPE, "-1");
    {
        /* overflow of the target product */
        EXPECT_ERR(op_call("Reshape", 13, 2, x, I64(INT64_MAX / 2, 4)), EV_ERR_LIMIT, "overflow");
    }
}

static void test_flatten(void)
{
    ev_tensor *x = iota(EV_DT_FLOAT, 4, D(2, 3, 4, 5));
    EXPECT(op_call("Flatten", 13, 1, x), EV_DT_FLOAT, 2, D(2, 60), NULL);
    EXPECT(with(op_call("Flatten", 13, 1, x), a_int("axis", 0)), EV_DT_FLOAT, 2, D(1, 120), NULL);
    EXPECT(with(op_call("Flatten", 13, 1, x), a_int("axis", 4)), EV_DT_FLOAT, 2, D(120, 1), NULL);
    EXPECT(with(op_call("Flatten", 13, 1, x), a_int("axis", -1)), EV_DT_FLOAT, 2, D(24, 5), NULL);
    EXPECT(with(op_call("Flatten", 13, 1, x), a_int("axis", -4)), EV_DT_FLOAT, 2, D(1, 120), NULL);
    EXPECT(with(op_call("Flatten", 9, 1, iota(EV_DT_INT32, 2, D(2, 2))), a_int("axis", 1)), EV_DT_INT32, 2, D(2, 2),
           V(0, 1, 2, 3));
    EXPECT_ERR(with(op_call("Flatten", 13, 1, x), a_int("axis", 5)), EV_ERR_SHAPE, "axis");
    EXPECT_ERR(with(op_call("Flatten", 13, 1, x), a_int("axis", -5)), EV_ERR_SHAPE, "axis");
}

static void test_transpose(void)
{
    ev_tensor *x = iota(EV_DT_FLOAT, 2, D(2, 3));
    EXPECT(op_call("Transpose", 13, 1, x), EV_DT_FLOAT, 2, D(3, 2), V(0, 3, 1, 4, 2, 5));
    EXPECT(with(op_call("Transpose", 13, 1, x), a_ints("perm", 2, D(0, 1))), EV_DT_FLOAT, 2, D(2, 3),
           V(0, 1, 2, 3, 4, 5));
    /* uint8, rank 3: y[i][j][k] = x[k][i][j] with perm (2,0,1) */
    EXPECT(with(op_call("Transpose", 13, 1, iota(EV_DT_UINT8, 3, D(2, 2, 2))), a_ints("perm", 3, D(2, 0, 1))),
           EV_DT_UINT8, 3, D(2, 2, 2), V(0, 2, 4, 6, 1, 3, 5, 7));
    EXPECT_ERR(with(op_call("Transpose", 13, 1, x), a_ints("perm", 2, D(0, 0))), EV_ERR_SHAPE, "permutation");
    EXPECT_ERR(with(op_call("Transpose", 13, 1, x), a_ints("perm", 3, D(0, 1, 2))), EV_ERR_SHAPE, "perm");
    EXPECT_ERR(with(op_call("Transpose", 13, 1, x), a_ints("perm", 2, D(0, 2))), EV_ERR_SHAPE, "permutation");
    /* scalar transposes to itself */
    EXPECT(op_call("Transpose", 13, 1, tv(EV_DT_FLOAT, 0, NULL, V(7))), EV_DT_FLOAT, 0, NULL, V(7));
}

static void test_concat(void)
{
    ev_tensor *a = tv(EV_DT_FLOAT, 2, D(2, 1), V(1, 2)), *b = tv(EV_DT_FLOAT, 2, D(2, 2), V(3, 4, 5, 6));
    EXPECT(with(op_call("Concat", 13, 2, a, b), a_int("axis", 1)), EV_DT_FLOAT, 2, D(2, 3), V(1, 3, 4, 2, 5, 6));
    EXPECT(with(op_call("Concat", 13, 2, a, b), a_int("axis", -1)), EV_DT_FLOAT, 2, D(2, 3), V(1, 3, 4, 2, 5, 6));
    EXPECT(with(op_call("Concat", 13, 3, a, iota(EV_DT_FLOAT, 2, D(0, 1)), a), a_int("axis", 0)), EV_DT_FLOAT, 2,
           D(4, 1), V(1, 2, 1, 2));
    EXPECT(with(op_call("Concat", 13, 2, tv(EV_DT_BOOL, 1, D(2), V(1, 0)), tv(EV_DT_BOOL, 1, D(1), V(1))),
                a_int("axis", 0)),
           EV_DT_BOOL, 1, D(3), V(1, 0, 1));
    EXPECT_ERR(with(op_call("Concat", 13, 2, a, b), a_int("axis", 0)), EV_ERR_SHAPE, "dimension");
    EXPECT_ERR(with(op_call("Concat", 13, 2, a, iota(EV_DT_INT64, 2, D(2, 1))), a_int("axis", 0)), EV_ERR_SHAPE,
               "dtype");
    EXPECT_ERR(with(op_call("Concat", 13, 2, a, iota(EV_DT_FLOAT, 1, D(2))), a_int("axis", 0)), EV_ERR_SHAPE, "rank");
    EXPECT_ERR(with(op_call("Concat", 13, 2, a, b), a_int("axis", 2)), EV_ERR_SHAPE, "axis");
    EXPECT_ERR(op_call("Concat", 13, 2, a, b), EV_ERR_SHAPE, "axis");
}

static void test_split(void)
{
    ev_tensor *x = iota(EV_DT_FLOAT, 2, D(2, 6));
    call *c;
    /* opset 13 equal split of axis 1 into 3 */
    c = with(op_call("Split", 13, 1, x), a_int("axis", 1));
    c->n_out = 3;
    run_call(c);
    expect_ok(__LINE__, c, 0, EV_DT_FLOAT, 2, D(2, 2), V(0, 1, 6, 7));
    expect_ok(__LINE__, c, 1, EV_DT_FLOAT, 2, D(2, 2), V(2, 3, 8, 9));
    expect_ok(__LINE__, c, 2, EV_DT_FLOAT, 2, D(2, 2), V(4, 5, 10, 11));
    /* opset 11: split attribute; negative axis */
    c = with(with(op_call("Split", 11, 1, x), a_int("axis", -1)), a_ints("split", 2, D(1, 5)));
    c->n_out = 2;
    run_call(c);
    expect_ok(__LINE__, c, 0, EV_DT_FLOAT, 2, D(2, 1), V(0, 6));
    expect_ok(__LINE__, c, 1, EV_DT_FLOAT, 2, D(2, 5), V(1, 2, 3, 4, 5, 7, 8, 9, 10, 11));
    /* opset 13: split input, zero-sized part */
    c = with(op_call("Split", 13, 2, x, I64(4, 0, 2)), a_int("axis", 1));
    c->n_out = 3;
    run_call(c);
    expect_ok(__LINE__, c, 0, EV_DT_FLOAT, 2, D(2, 4), V(0, 1, 2, 3, 6, 7, 8, 9));
    expect_ok(__LINE__, c, 1, EV_DT_FLOAT, 2, D(2, 0), NULL);
    expect_ok(__LINE__, c, 2, EV_DT_FLOAT, 2, D(2, 2), V(4, 5, 10, 11));
    /* opset 18: num_outputs = 3 over 7 -> 3, 3, 1 */
    c = with(op_call("Split", 18, 1, iota(EV_DT_INT64, 1, D(7))), a_int("num_outputs", 3));
    c->n_out = 3;
    run_call(c);
    expect_ok(__LINE__, c, 0, EV_DT_INT64, 1, D(3), V(0, 1, 2));
    expect_ok(__LINE__, c, 1, EV_DT_INT64, 1, D(3), V(3, 4, 5));
    expect_ok(__LINE__, c, 2, EV_DT_INT64, 1, D(1), V(6));
    /* omitted output is skipped */
    c = op_call("Split", 13, 1, iota(EV_DT_FLOAT, 1, D(4)));
    c->n_out = 2;
    c->omit_out[0] = 1;
    run_call(c);
    expect_ok(__LINE__, c, 1, EV_DT_FLOAT, 1, D(2), V(2, 3));
    /* errors */
    c = with(op_call("Split", 13, 1, x), a_int("axis", 1));
    c->n_out = 4;
    EXPECT_ERR(c, EV_ERR_SHAPE, "divisible");
    c = with(op_call("Split", 13, 2, x, I64(1, 2)), a_int("axis", 1));
    c->n_out = 2;
    EXPECT_ERR(c, EV_ERR_SHAPE, "sum");
    c = with(op_call("Split", 13, 2, x, I64(7, -1)), a_int("axis", 1));
    c->n_out = 2;
    EXPECT_ERR(c, EV_ERR_SHAPE, "invalid");
    c = with(op_call("Split", 13, 2, x, I64(6)), a_int("axis", 1));
    c->n_out = 2;
    EXPECT_ERR(c, EV_ERR_SHAPE, "entries");
    c = with(op_call("Split", 18, 1, x), a_int("num_outputs", 3));
    c->n_out = 2;
    EXPECT_ERR(c, EV_ERR_SHAPE, "num_outputs");
    c = with(op_call("Split", 13, 1, x), a_int("axis", 2));
    c->n_out = 2;
    EXPECT_ERR(c, EV_ERR_SHAPE, "axis");
    c = with(op_call("Split", 13, 2, x, nodata(I64(3, 3))), a_int("axis", 1));
    c->n_out = 2;
    EXPECT_ERR(c, EV_ERR_UNSUPPORTED, "constant");
}

static void test_slice(void)
{
    ev_tensor *x = iota(EV_DT_FLOAT, 2, D(3, 4));
    /* opset 13: rows 1.., columns 3 down to 1 (step -1) */
    EXPECT(op_call("Slice", 13, 5, x, I64(1, 3), I64(INT64_MAX, 0), I64(0, 1), I64(1, -1)), EV_DT_FLOAT, 2, D(2, 3),
           V(7, 6, 5, 11, 10, 9));
    /* opset 1 attributes, negative start */
    EXPECT(with(with(with(op_call("Slice", 1, 1, x), a_ints("starts", 1, D(-2))), a_ints("ends", 1, D(100))),
                a_ints("axes", 1, D(1))),
           EV_DT_FLOAT, 2, D(3, 2), V(2, 3, 6, 7, 10, 11));
    /* spec clamping for negative steps: start -10 -> -6 -> clamp 0; end
     * INT64_MIN -> clamp -1: exactly element 0 (NumPy would give nothing). */
    EXPECT(op_call("Slice", 13, 5, iota(EV_DT_INT64, 1, D(4)), I64(-10), I64(INT64_MIN), I64(0), I64(-1)),
           EV_DT_INT64, 1, D(1), V(0));
    /* start past the end with step -2: clamp to 3 -> 3, 1 */
    EXPECT(op_call("Slice", 13, 5, iota(EV_DT_INT64, 1, D(4)), I64(100), I64(-100), NULL, I64(-2)), EV_DT_INT64, 1,
           D(2), V(3, 1));
    /* huge negative step: one element */
    EXPECT(op_call("Slice", 13, 5, iota(EV_DT_INT64, 1, D(4)), I64(2), I64(-100), NULL, I64(INT64_MIN)), EV_DT_INT64,
           1, D(1), V(2));
    /* int32 starts/ends, negative axes */
    {
        int64_t one = 1;
        ev_tensor *s = mk(EV_DT_INT32, 1, &one), *e = mk(EV_DT_INT32, 1, &one), *ax = mk(EV_DT_INT32, 1, &one);
        ((int32_t *)s->data)[0] = 1;
        ((int32_t *)e->data)[0] = 3;
        ((int32_t *)ax->data)[0] = -2;
        EXPECT(op_call("Slice", 13, 4, x, s, e, ax), EV_DT_FLOAT, 2, D(2, 4), V(4, 5, 6, 7, 8, 9, 10, 11));
    }
    /* empty result */
    EXPECT(op_call("Slice", 10, 3, x, I64(2), I64(1)), EV_DT_FLOAT, 2, D(0, 4), NULL);
    EXPECT_ERR(op_call("Slice", 13, 5, x, I64(0), I64(1), I64(0), I64(0)), EV_ERR_SHAPE, "step");
    EXPECT_ERR(op_call("Slice", 13, 4, x, I64(0, 0), I64(1, 1), I64(1, -1)), EV_ERR_SHAPE, "repeated");
    EXPECT_ERR(op_call("Slice", 13, 4, x, I64(0), I64(1), I64(2)), EV_ERR_SHAPE, "axis");
    EXPECT_ERR(op_call("Slice", 13, 3, x, I64(0, 0), I64(1)), EV_ERR_SHAPE, "ends");
    EXPECT_ERR(op_call("Slice", 13, 3, x, I64(0, 0, 0), I64(1, 1, 1)), EV_ERR_SHAPE, "rank");
    EXPECT_ERR(op_call("Slice", 13, 3, x, nodata(I64(0)), I64(1)), EV_ERR_UNSUPPORTED, "starts");
    EXPECT_ERR(op_call("Slice", 1, 1, x), EV_ERR_SHAPE, "required");
}

static void test_gather(void)
{
    ev_tensor *x = iota(EV_DT_FLOAT, 2, D(3, 2));
    int64_t two = 2;
    ev_tensor *i32 = mk(EV_DT_INT32, 1, &two);
    ((int32_t *)i32->data)[0] = -1;
    ((int32_t *)i32->data)[1] = 0;
    EXPECT(op_call("Gather", 13, 2, x, I64(2, 0)), EV_DT_FLOAT, 2, D(2, 2), V(4, 5, 0, 1));
    EXPECT(op_call("Gather", 13, 2, x, i32), EV_DT_FLOAT, 2, D(2, 2), V(4, 5, 0, 1));
    EXPECT(with(op_call("Gather", 13, 2, x, i32), a_int("axis", -1)), EV_DT_FLOAT, 2, D(3, 2), V(1, 0, 3, 2, 5, 4));
    /* scalar index: x[:, 0] (the ViT class token pattern) */
    EXPECT(with(op_call("Gather", 13, 2, x, tv(EV_DT_INT64, 0, NULL, V(0))), a_int("axis", 1)), EV_DT_FLOAT, 1,
           D(3), V(0, 2, 4));
    /* int64 token ids through an embedding table (int64 data too) */
    EXPECT(op_call("Gather", 13, 2, iota(EV_DT_INT64, 2, D(4, 2)), tv(EV_DT_INT64, 2, D(1, 3), V(3, 3, 1))),
           EV_DT_INT64, 3, D(1, 3, 2), V(6, 7, 6, 7, 2, 3));
    /* Gather on a shape vector: constant folding pattern */
    EXPECT(op_call("Gather", 13, 2, I64(8, 3, 224, 224), tv(EV_DT_INT64, 0, NULL, V(0))), EV_DT_INT64, 0, NULL, V(8));
    /* out of range: error, not an out-of-bounds read */
    EXPECT_ERR(op_call("Gather", 13, 2, x, I64(3)), EV_ERR_DATA, "out of range");
    EXPECT_ERR(op_call("Gather", 13, 2, x, I64(0, -4)), EV_ERR_DATA, "out of range");
    EXPECT_ERR(op_call("Gather", 13, 2, iota(EV_DT_FLOAT, 2, D(0, 2)), I64(0)), EV_ERR_DATA, "out of range");
    EXPECT_ERR(op_call("Gather", 13, 2, x, tv(EV_DT_FLOAT, 1, D(1), V(0))), EV_ERR_SHAPE, "indices");
    EXPECT_ERR(with(op_call("Gather", 13, 2, x, I64(0)), a_int("axis", 2)), EV_ERR_SHAPE, "axis");
    EXPECT_ERR(op_call("Gather", 13, 2, tv(EV_DT_FLOAT, 0, NULL, V(1)), I64(0)), EV_ERR_SHAPE, "rank");
    /* empty indices are fine */
    EXPECT(op_call("Gather", 13, 2, x, iota(EV_DT_INT64, 1, D(0))), EV_DT_FLOAT, 2, D(0, 2), NULL);
}

static void test_gather_elements(void)
{
    ev_tensor *x = iota(EV_DT_FLOAT, 2, D(2, 3)); /* [[0 1 2] [3 4 5]] */
    /* axis 1: out[i][j] = x[i][idx[i][j]] */
    EXPECT(with(op_call("GatherElements", 13, 2, x, tv(EV_DT_INT64, 2, D(2, 2), V(2, 0, -1, 1))), a_int("axis", 1)),
           EV_DT_FLOAT, 2, D(2, 2), V(2, 0, 5, 4));
    /* axis 0, indices narrower than the data on axis 1 */
    EXPECT(op_call("GatherElements", 11, 2, x, tv(EV_DT_INT32, 2, D(1, 2), V(1, 0))), EV_DT_FLOAT, 2, D(1, 2), V(3, 1));
    EXPECT_ERR(op_call("GatherElements", 13, 2, x, tv(EV_DT_INT64, 2, D(1, 1), V(2))), EV_ERR_DATA, "out of range");
    EXPECT_ERR(op_call("GatherElements", 13, 2, x, tv(EV_DT_INT64, 2, D(1, 4), V(0, 0, 0, 0))), EV_ERR_SHAPE,
               "exceeds");
    EXPECT_ERR(op_call("GatherElements", 13, 2, x, I64(0)), EV_ERR_SHAPE, "rank");
}

static void test_squeeze_unsqueeze(void)
{
    ev_tensor *x = iota(EV_DT_FLOAT, 4, D(1, 3, 1, 2));
    EXPECT(op_call("Squeeze", 13, 1, x), EV_DT_FLOAT, 2, D(3, 2), V(0, 1, 2, 3, 4, 5));
    EXPECT(op_call("Squeeze", 13, 2, x, I64(-2)), EV_DT_FLOAT, 3, D(1, 3, 2), NULL);
    EXPECT(with(op_call("Squeeze", 11, 1, x), a_ints("axes", 2, D(0, 2))), EV_DT_FLOAT, 2, D(3, 2), NULL);
    EXPECT(op_call("Squeeze", 13, 2, x, NULL), EV_DT_FLOAT, 2, D(3, 2), NULL);
    EXPECT(op_call("Squeeze", 13, 1, tv(EV_DT_INT64, 1, D(1), V(5))), EV_DT_INT64, 0, NULL, V(5));
    EXPECT_ERR(op_call("Squeeze", 13, 2, x, I64(1)), EV_ERR_SHAPE, "size 3");
    EXPECT_ERR(op_call("Squeeze", 13, 2, x, I64(4)), EV_ERR_SHAPE, "axis");
    EXPECT_ERR(op_call("Squeeze", 13, 2, x, I64(0, -4)), EV_ERR_SHAPE, "repeated");

    EXPECT(op_call("Unsqueeze", 13, 2, tv(EV_DT_INT64, 0, NULL, V(9)), I64(0)), EV_DT_INT64, 1, D(1), V(9));
    EXPECT(op_call("Unsqueeze", 13, 2, iota(EV_DT_FLOAT, 2, D(3, 2)), I64(3, 0)), EV_DT_FLOAT, 4, D(1, 3, 2, 1),
           NULL);
    EXPECT(op_call("Unsqueeze", 13, 2, iota(EV_DT_FLOAT, 2, D(3, 2)), I64(-1)), EV_DT_FLOAT, 3, D(3, 2, 1), NULL);
    EXPECT(with(op_call("Unsqueeze", 11, 1, iota(EV_DT_FLOAT, 2, D(3, 2))), a_ints("axes", 2, D(1, -1))), EV_DT_FLOAT,
           4, D(3, 1, 2, 1), NULL);
    EXPECT_ERR(op_call("Unsqueeze", 13, 2, iota(EV_DT_FLOAT, 2, D(3, 2)), I64(4)), EV_ERR_SHAPE, "axis");
    EXPECT_ERR(op_call("Unsqueeze", 13, 2, iota(EV_DT_FLOAT, 2, D(3, 2)), I64(1, 1)), EV_ERR_SHAPE, "repeated");
    EXPECT_ERR(op_call("Unsqueeze", 13, 2, iota(EV_DT_FLOAT, 4, D(1, 1, 1, 1)), I64(0, 1, 2, 3, 4)),
               EV_ERR_UNSUPPORTED, "rank");
    EXPECT_ERR(op_call("Unsqueeze", 11, 1, iota(EV_DT_FLOAT, 1, D(3))), EV_ERR_SHAPE, "axes");
    EXPECT_ERR(op_call("Unsqueeze", 13, 2, iota(EV_DT_FLOAT, 1, D(3)), nodata(I64(0))), EV_ERR_UNSUPPORTED,
               "constant");
}

static void test_expand_tile(void)
{
    ev_tensor *col = tv(EV_DT_FLOAT, 2, D(2, 1), V(1, 2));
    EXPECT(op_call("Expand", 13, 2, col, I64(2, 3)), EV_DT_FLOAT, 2, D(2, 3), V(1, 1, 1, 2, 2, 2));
    /* shape shorter than the input and with 1s: keeps the input dims */
    EXPECT(op_call("Expand", 13, 2, col, I64(1)), EV_DT_FLOAT, 2, D(2, 1), V(1, 2));
    EXPECT(op_call("Expand", 8, 2, col, I64(2, 1, 2)), EV_DT_FLOAT, 3, D(2, 2, 2), V(1, 1, 2, 2, 1, 1, 2, 2));
    /* class-token expand: [1,1,3] -> [4,1,3] (bool) */
    EXPECT(op_call("Expand", 13, 2, tv(EV_DT_BOOL, 3, D(1, 1, 3), V(1, 0, 1)), I64(4, 1, 1)), EV_DT_BOOL, 3,
           D(4, 1, 3), V(1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1));
    EXPECT_ERR(op_call("Expand", 13, 2, col, I64(3, 3)), EV_ERR_SHAPE, "Expand");
    EXPECT_ERR(op_call("Expand", 13, 2, col, I64(-1, 3)), EV_ERR_SHAPE, "negative");
    EXPECT_ERR(op_call("Expand", 13, 2, col, nodata(I64(2, 3))), EV_ERR_UNSUPPORTED, "constant");

    EXPECT(op_call("Tile", 13, 2, tv(EV_DT_INT32, 2, D(1, 2), V(1, 2)), I64(2, 2)), EV_DT_INT32, 2, D(2, 4),
           V(1, 2, 1, 2, 1, 2, 1, 2));
    EXPECT(op_call("Tile", 6, 2, tv(EV_DT_FLOAT, 1, D(2), V(3, 4)), I64(0)), EV_DT_FLOAT, 1, D(0), NULL);
    EXPECT_ERR(op_call("Tile", 13, 2, col, I64(2)), EV_ERR_SHAPE, "rank");
    EXPECT_ERR(op_call("Tile", 13, 2, col, I64(2, -1)), EV_ERR_SHAPE, "negative");
    {
        /* shapes only: dims 2^40 x repeats 2^30 overflows */
        ev_tensor *big = ev_arena_alloc(&g_mem, sizeof *big);
        big->dtype = EV_DT_FLOAT;
        big->rank = 1;
        big->dims[0] = (int64_t)1 << 40;
        EXPECT_ERR(op_call("Tile", 13, 2, big, I64((int64_t)1 << 30)), EV_ERR_LIMIT, "overflow");
        EXPECT_ERR(op_call("Expand", 13, 2, tv(EV_DT_FLOAT, 1, D(1), V(0)), I64((int64_t)1 << 40, (int64_t)1 << 40)),
                   EV_ERR_LIMIT, "overflow");
    }
}

static void test_shape_size(void)
{
    ev_tensor *x = iota(EV_DT_FLOAT, 4, D(2, 3, 4, 5));
    EXPECT(op_call("Shape", 13, 1, x), EV_DT_INT64, 1, D(4), V(2, 3, 4, 5));
    EXPECT(op_call("Shape", 13, 1, nodata(x)), EV_DT_INT64, 1, D(4), V(2, 3, 4, 5)); /* dims only */
    EXPECT(with(with(op_call("Shape", 15, 1, x), a_int("start", 1)), a_int("end", -1)), EV_DT_INT64, 1, D(2), V(3, 4));
    EXPECT(with(op_call("Shape", 15, 1, x), a_int("start", -10)), EV_DT_INT64, 1, D(4), V(2, 3, 4, 5));
    EXPECT(with(op_call("Shape", 15, 1, x), a_int("end", 10)), EV_DT_INT64, 1, D(4), V(2, 3, 4, 5));
    EXPECT(with(with(op_call("Shape", 15, 1, x), a_int("start", 3)), a_int("end", 1)), EV_DT_INT64, 1, D(0), NULL);
    /* before 15 start/end do not exist */
    EXPECT(with(op_call("Shape", 13, 1, x), a_int("start", 2)), EV_DT_INT64, 1, D(4), NULL);
    EXPECT(op_call("Size", 13, 1, nodata(x)), EV_DT_INT64, 0, NULL, V(120));
    EXPECT(op_call("Size", 13, 1, tv(EV_DT_BOOL, 0, NULL, V(1))), EV_DT_INT64, 0, NULL, V(1));
    CHECK(find_op("Shape", 15)->flags & EV_OP_SHAPE_ONLY, "Shape must be EV_OP_SHAPE_ONLY");
    CHECK(find_op("Size", 13)->flags & EV_OP_SHAPE_ONLY, "Size must be EV_OP_SHAPE_ONLY");
}

static void test_constantofshape_range(void)
{
    ev_tensor *v = tv(EV_DT_INT64, 1, D(1), V(7));
    EXPECT(op_call("ConstantOfShape", 9, 1, I64(2, 2)), EV_DT_FLOAT, 2, D(2, 2), V(0, 0, 0, 0));
    EXPECT(with(op_call("ConstantOfShape", 9, 1, I64(3)), a_tensor("value", v)), EV_DT_INT64, 1, D(3), V(7, 7, 7));
    EXPECT(with(op_call("ConstantOfShape", 9, 1, ints(0, NULL)), a_tensor("value", v)), EV_DT_INT64, 0, NULL, V(7));
    EXPECT(with(op_call("ConstantOfShape", 9, 1, I64(2, 0)), a_tensor("value", v)), EV_DT_INT64, 2, D(2, 0), NULL);
    EXPECT(with(op_call("ConstantOfShape", 9, 1, I64(2)), a_tensor("value", tv(EV_DT_BOOL, 1, D(1), V(1)))),
           EV_DT_BOOL, 1, D(2), V(1, 1));
    EXPECT_ERR(op_call("ConstantOfShape", 9, 1, I64(-1)), EV_ERR_SHAPE, "negative");
    EXPECT_ERR(with(op_call("ConstantOfShape", 9, 1, I64(2)), a_tensor("value", iota(EV_DT_FLOAT, 1, D(2)))),
               EV_ERR_SHAPE, "one element");
    EXPECT_ERR(op_call("ConstantOfShape", 9, 1, nodata(I64(2))), EV_ERR_UNSUPPORTED, "constant");

    EXPECT(op_call("Range", 11, 3, tv(EV_DT_INT32, 0, NULL, V(10)), tv(EV_DT_INT32, 0, NULL, V(4)),
                   tv(EV_DT_INT32, 0, NULL, V(-3))),
           EV_DT_INT32, 1, D(2), V(10, 7));
    EXPECT(op_call("Range", 11, 3, tv(EV_DT_FLOAT, 0, NULL, V(1)), tv(EV_DT_FLOAT, 0, NULL, V(5)),
                   tv(EV_DT_FLOAT, 0, NULL, V(2))),
           EV_DT_FLOAT, 1, D(2), V(1, 3));
    EXPECT(op_call("Range", 11, 3, tv(EV_DT_INT64, 0, NULL, V(0)), tv(EV_DT_INT64, 0, NULL, V(5)),
                   tv(EV_DT_INT64, 0, NULL, V(1))),
           EV_DT_INT64, 1, D(5), V(0, 1, 2, 3, 4));
    EXPECT(op_call("Range", 11, 3, tv(EV_DT_INT64, 0, NULL, V(0)), tv(EV_DT_INT64, 0, NULL, V(7)),
                   tv(EV_DT_INT64, 0, NULL, V(3))),
           EV_DT_INT64, 1, D(3), V(0, 3, 6));
    /* 0.1f steps: (1 - 0) / 0.1f must give 10 elements, the last < 1 */
    EXPECT(op_call("Range", 11, 3, tv(EV_DT_FLOAT, 0, NULL, V(0)), tv(EV_DT_FLOAT, 0, NULL, V(1)),
                   tv(EV_DT_FLOAT, 0, NULL, V(0.1))),
           EV_DT_FLOAT, 1, D(10), NULL);
    /* Concat-1: axis defaults to 1 */
    EXPECT(op_call("Concat", 1, 2, tv(EV_DT_FLOAT, 2, D(1, 1), V(1)), tv(EV_DT_FLOAT, 2, D(1, 1), V(2))), EV_DT_FLOAT,
           2, D(1, 2), V(1, 2));
    EXPECT(op_call("Range", 11, 3, tv(EV_DT_INT64, 0, NULL, V(3)), tv(EV_DT_INT64, 0, NULL, V(3)),
                   tv(EV_DT_INT64, 0, NULL, V(1))),
           EV_DT_INT64, 1, D(0), NULL);
    EXPECT(op_call("Range", 11, 3, tv(EV_DT_INT64, 0, NULL, V(5)), tv(EV_DT_INT64, 0, NULL, V(0)),
                   tv(EV_DT_INT64, 0, NULL, V(1))),
           EV_DT_INT64, 1, D(0), NULL);
    EXPECT_ERR(op_call("Range", 11, 3, tv(EV_DT_INT64, 0, NULL, V(0)), tv(EV_DT_INT64, 0, NULL, V(5)),
                       tv(EV_DT_INT64, 0, NULL, V(0))),
               EV_ERR_SHAPE, "delta");
    EXPECT_ERR(op_call("Range", 11, 3, tv(EV_DT_INT64, 0, NULL, V(0)), tv(EV_DT_INT32, 0, NULL, V(5)),
                       tv(EV_DT_INT64, 0, NULL, V(1))),
               EV_ERR_SHAPE, "dtype");
    EXPECT_ERR(op_call("Range", 11, 3, nodata(tv(EV_DT_INT64, 0, NULL, V(0))), tv(EV_DT_INT64, 0, NULL, V(5)),
                       tv(EV_DT_INT64, 0, NULL, V(1))),
               EV_ERR_UNSUPPORTED, "constant");
}

static void test_identity_dropout(void)
{
    ev_tensor *x = tv(EV_DT_FLOAT, 1, D(3), V(1, -2, 3));
    call *c;
    EXPECT(op_call("Identity", 13, 1, x), EV_DT_FLOAT, 1, D(3), V(1, -2, 3));
    EXPECT(op_call("Identity", 16, 1, iota(EV_DT_UINT8, 1, D(3))), EV_DT_UINT8, 1, D(3), V(0, 1, 2));
    EXPECT(op_call("Dropout", 13, 1, x), EV_DT_FLOAT, 1, D(3), V(1, -2, 3));
    c = op_call("Dropout", 13, 2, x, tv(EV_DT_FLOAT, 0, NULL, V(0.3)));
    c->n_out = 2;
    run_call(c);
    expect_ok(__LINE__, c, 0, EV_DT_FLOAT, 1, D(3), V(1, -2, 3));
    expect_ok(__LINE__, c, 1, EV_DT_BOOL, 1, D(3), V(1, 1, 1));
    c = with(op_call("Dropout", 7, 1, x), a_float("ratio", 0.5f));
    c->n_out = 2;
    run_call(c);
    expect_ok(__LINE__, c, 1, EV_DT_FLOAT, 1, D(3), V(1, 1, 1)); /* Dropout-7: mask has type T */
    /* training mode with ratio 0 is the identity */
    c = op_call("Dropout", 13, 3, x, tv(EV_DT_FLOAT, 0, NULL, V(0)), tv(EV_DT_BOOL, 0, NULL, V(1)));
    c->n_out = 2;
    run_call(c);
    expect_ok(__LINE__, c, 1, EV_DT_BOOL, 1, D(3), V(1, 1, 1));
    /* real training-mode dropout is random: refused */
    EXPECT_ERR(op_call("Dropout", 13, 3, x, tv(EV_DT_FLOAT, 0, NULL, V(0.5)), tv(EV_DT_BOOL, 0, NULL, V(1))),
               EV_ERR_UNSUPPORTED, "training");
    EXPECT_ERR(op_call("Dropout", 13, 3, x, NULL, tv(EV_DT_BOOL, 0, NULL, V(1))), EV_ERR_UNSUPPORTED, "training");
    EXPECT(op_call("Dropout", 13, 3, x, NULL, tv(EV_DT_BOOL, 0, NULL, V(0))), EV_DT_FLOAT, 1, D(3), V(1, -2, 3));
}

static void test_pad(void)
{
    ev_tensor *x = tv(EV_DT_FLOAT, 2, D(2, 2), V(1, 2, 3, 4));
    /* constant, opset 13: one column in front of axis 1, one row after axis 0 */
    EXPECT(op_call("Pad", 13, 3, x, I64(0, 1, 1, 0), tv(EV_DT_FLOAT, 0, NULL, V(9))), EV_DT_FLOAT, 2, D(3, 3),
           V(9, 1, 2, 9, 3, 4, 9, 9, 9));
    /* constant without value: zeros */
    EXPECT(op_call("Pad", 11, 2, x, I64(0, 0, 0, 1)), EV_DT_FLOAT, 2, D(2, 3), V(1, 2, 0, 3, 4, 0));
    /* opset 2 attribute form, int64 data, float value converted */
    EXPECT(with(with(op_call("Pad", 2, 1, iota(EV_DT_INT64, 1, D(2))), a_ints("pads", 2, D(1, 1))),
                a_float("value", 5.0f)),
           EV_DT_INT64, 1, D(4), V(5, 0, 1, 5));
    /* edge and reflect on 1-D [1 2 3] */
    EXPECT(with(op_call("Pad", 13, 2, tv(EV_DT_FLOAT, 1, D(3), V(1, 2, 3)), I64(2, 1)), a_str("mode", "edge")),
           EV_DT_FLOAT, 1, D(6), V(1, 1, 1, 2, 3, 3));
    EXPECT(with(op_call("Pad", 13, 2, tv(EV_DT_FLOAT, 1, D(3), V(1, 2, 3)), I64(2, 2)), a_str("mode", "reflect")),
           EV_DT_FLOAT, 1, D(7), V(3, 2, 1, 2, 3, 2, 1));
    /* negative pads crop */
    EXPECT(op_call("Pad", 13, 2, iota(EV_DT_INT32, 1, D(5)), I64(-2, 1)), EV_DT_INT32, 1, D(4), V(2, 3, 4, 0));
    /* opset 18 axes input */
    EXPECT(op_call("Pad", 18, 4, x, I64(1, 0), NULL, I64(-1)), EV_DT_FLOAT, 2, D(2, 3), V(0, 1, 2, 0, 3, 4));
    EXPECT_ERR(op_call("Pad", 13, 2, x, I64(0, -3, 0, 0)), EV_ERR_SHAPE, "below zero");
    EXPECT_ERR(op_call("Pad", 13, 2, x, I64(0, 0, 0)), EV_ERR_SHAPE, "pads");
    EXPECT_ERR(with(op_call("Pad", 13, 2, iota(EV_DT_FLOAT, 1, D(0)), I64(1, 0)), a_str("mode", "reflect")),
               EV_ERR_SHAPE, "empty");
    EXPECT_ERR(with(op_call("Pad", 13, 2, x, I64(0, 0, 0, 0)), a_str("mode", "wrap")), EV_ERR_UNSUPPORTED, "wrap");
    EXPECT_ERR(op_call("Pad", 13, 3, x, I64(0, 0, 0, 0), tv(EV_DT_INT64, 0, NULL, V(1))), EV_ERR_SHAPE, "dtype");
    EXPECT_ERR(op_call("Pad", 13, 2, x, nodata(I64(0, 0, 0, 0))), EV_ERR_UNSUPPORTED, "constant");
    {
        /* constant_value unknown at plan time (a runtime input) is fine */
        call *c = op_call("Pad", 13, 3, x, I64(0, 0, 0, 1), tv(EV_DT_FLOAT, 0, NULL, V(-1)));
        const ev_op_def *def = find_op("Pad", 13);
        ev_tensor *ins[3] = {x, NULL, nodata((ev_tensor *)c->in[2])}, out;
        ev_graph g;
        ev_node nd;
        int idx[3] = {0, 1, 2}, oidx[1] = {3};
        ev_err e;
        ins[1] = (ev_tensor *)c->in[1];
        memset(&g, 0, sizeof g);
        memset(&nd, 0, sizeof nd);
        memset(&out, 0, sizeof out);
        ev_arena_init(&g.arena, 0);
        nd.name = "n";
        nd.op_type = "Pad";
        nd.domain = "";
        nd.opset = 13;
        nd.n_in = 3;
        nd.n_out = 1;
        nd.in = idx;
        nd.out = oidx;
        {
            ev_tensor *outs[1] = {&out};
            CHECK(def->prepare(&g, &nd, &e) == EV_OK, "Pad prepare");
            CHECK(def->infer(&nd, (const ev_tensor *const *)ins, outs, &e) == EV_OK && out.rank == 2 &&
                      out.dims[1] == 3,
                  "Pad infer with a runtime constant_value: %s", e.msg);
        }
        ev_arena_free(&g.arena);
        EXPECT(c, EV_DT_FLOAT, 2, D(2, 3), V(1, 2, -1, 3, 4, -1));
    }
}

static void test_depth_space(void)
{
    /* [1,4,1,1] with blocksize 2, DCR: channel c -> position (c/2, c%2) */
    EXPECT(with(op_call("DepthToSpace", 13, 1, iota(EV_DT_FLOAT, 4, D(1, 4, 1, 1))), a_int("blocksize", 2)),
           EV_DT_FLOAT, 4, D(1, 1, 2, 2), V(0, 1, 2, 3));
    EXPECT(with(op_call("SpaceToDepth", 13, 1, iota(EV_DT_FLOAT, 4, D(1, 1, 2, 2))), a_int("blocksize", 2)),
           EV_DT_FLOAT, 4, D(1, 4, 1, 1), V(0, 1, 2, 3));
    /* 8 channels, DCR vs CRD differ in which channels go to a block */
    EXPECT(with(op_call("DepthToSpace", 13, 1, iota(EV_DT_FLOAT, 4, D(1, 8, 1, 1))), a_int("blocksize", 2)),
           EV_DT_FLOAT, 4, D(1, 2, 2, 2), V(0, 2, 4, 6, 1, 3, 5, 7));
    EXPECT(with(with(op_call("DepthToSpace", 13, 1, iota(EV_DT_FLOAT, 4, D(1, 8, 1, 1))), a_int("blocksize", 2)),
                a_str("mode", "CRD")),
           EV_DT_FLOAT, 4, D(1, 2, 2, 2), V(0, 1, 2, 3, 4, 5, 6, 7));
    EXPECT_ERR(with(op_call("DepthToSpace", 13, 1, iota(EV_DT_FLOAT, 4, D(1, 3, 1, 1))), a_int("blocksize", 2)),
               EV_ERR_SHAPE, "divisible");
    EXPECT_ERR(with(op_call("SpaceToDepth", 13, 1, iota(EV_DT_FLOAT, 4, D(1, 1, 3, 2))), a_int("blocksize", 2)),
               EV_ERR_SHAPE, "divisible");
    EXPECT_ERR(op_call("SpaceToDepth", 13, 1, iota(EV_DT_FLOAT, 4, D(1, 1, 2, 2))), EV_ERR_SHAPE, "blocksize");
    EXPECT_ERR(with(op_call("SpaceToDepth", 13, 1, iota(EV_DT_FLOAT, 3, D(1, 2, 2))), a_int("blocksize", 2)),
               EV_ERR_SHAPE, "4-D");
}

static void test_table(void)
{
    static const char *const ops[] = {"Reshape", "Flatten", "Transpose", "Concat", "Split", "Slice", "Gather",
                                      "Squeeze", "Unsqueeze", "Expand", "Shape", "Size", "ConstantOfShape", "Pad",
                                      "Tile", "Range", "Identity", "Dropout", "DepthToSpace", "SpaceToDepth",
                                      "GatherElements"};
    int n = 0;
    while (ev_ops_shape[n]) n++;
    CHECK(n == (int)(sizeof ops / sizeof ops[0]), "table has %d entries", n);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        for (int64_t v = 11; v <= 18; v++) CHECK(find_op(ops[i], v) != NULL, "%s missing at opset %lld", ops[i], (long long)v);
    CHECK(find_op("Reshape", 19) == NULL, "Reshape-19 is not claimed");
    /* string tensors are refused, not copied */
    {
        ev_tensor *s = iota(EV_DT_FLOAT, 1, D(2));
        ev_tensor *c = ev_arena_alloc(&g_mem, sizeof *c);
        *c = *s;
        c->dtype = EV_DT_STRING;
        EXPECT_ERR(op_call("Identity", 13, 1, c), EV_ERR_UNSUPPORTED, "string");
    }
}

/* ======================================================================== */
/* randomized cases checked by NumPy                                        */
/* ======================================================================== */

typedef struct pycase {
    char expr[4096];
    const ev_tensor *got;
    int line;
    char what[64];
} pycase;

static pycase *g_py;
static int g_npy, g_cap;
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}
static int64_t rint_in(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }

static const char *np_dtype(ev_dtype dt)
{
    switch (dt) {
    case EV_DT_FLOAT: return "float32";
    case EV_DT_INT64: return "int64";
    case EV_DT_INT32: return "int32";
    case EV_DT_UINT8: return "uint8";
    case EV_DT_BOOL: return "bool";
    default: return "?";
    }
}

static ev_dtype rnd_dtype(void)
{
    static const ev_dtype d[] = {EV_DT_FLOAT, EV_DT_FLOAT, EV_DT_INT64, EV_DT_INT32, EV_DT_UINT8, EV_DT_BOOL};
    return d[rnd() % 6];
}

/* "A((2,3),'float32')" for an iota input */
static void np_input(char *buf, size_t len, const ev_tensor *t)
{
    char sh[128] = "(";
    size_t p = 1;
    for (int k = 0; k < t->rank; k++) p += (size_t)snprintf(sh + p, sizeof sh - p, "%lld,", (long long)t->dims[k]);
    snprintf(sh + p, sizeof sh - p, ")");
    snprintf(buf, len, "A(%s,'%s')", sh, np_dtype(t->dtype));
}

static void EV_PRINTF(4, 5) py_add(int line, const char *what, const ev_tensor *got, const char *fmt, ...)
{
    va_list ap;
    if (g_npy == g_cap) {
        g_cap = g_cap ? 2 * g_cap : 256;
        g_py = realloc(g_py, (size_t)g_cap * sizeof *g_py);
        if (!g_py) abort();
    }
    va_start(ap, fmt);
    vsnprintf(g_py[g_npy].expr, sizeof g_py[g_npy].expr, fmt, ap);
    va_end(ap);
    snprintf(g_py[g_npy].what, sizeof g_py[g_npy].what, "%s", what);
    g_py[g_npy].got = got;
    g_py[g_npy].line = line;
    g_npy++;
}

/* Run the call and queue a NumPy comparison of output oi. */
static void py_check(int line, call *c, int oi, const char *fmt, ...) EV_PRINTF(4, 5);
static void py_check(int line, call *c, int oi, const char *fmt, ...)
{
    char expr[4096];
    va_list ap;
    if (c->stage == 0 && c->st == EV_OK && !c->out[oi]) run_call(c);
    va_start(ap, fmt);
    vsnprintf(expr, sizeof expr, fmt, ap);
    va_end(ap);
    if (c->st != EV_OK) {
        CHECK(0, "line %d: %s failed: %s [numpy: %s]", line, c->op, c->msg, expr);
        return;
    }
    py_add(line, c->op, c->out[oi], "%s", expr);
}

static void fmt_list(char *buf, size_t len, int n, const int64_t *v, int tuple)
{
    size_t p = (size_t)snprintf(buf, len, tuple ? "(" : "[");
    for (int i = 0; i < n && p < len; i++) p += (size_t)snprintf(buf + p, len - p, "%lld,", (long long)v[i]);
    if (p < len) snprintf(buf + p, len - p, tuple ? ")" : "]");
}

static ev_tensor *rnd_input(int rmin, int rmax, int dmin, int dmax, ev_dtype dt, int *rank_out)
{
    int64_t dims[EV_MAX_RANK];
    int r = (int)rint_in(rmin, rmax);
    for (int k = 0; k < r; k++) dims[k] = rint_in(dmin, dmax);
    *rank_out = r;
    return iota(dt, r, dims);
}

static void random_slice(int iters)
{
    for (int it = 0; it < iters; it++) {
        int r, ns, perm[EV_MAX_RANK];
        ev_tensor *x = rnd_input(1, 4, 0, 5, rnd_dtype(), &r);
        int64_t st[EV_MAX_RANK], en[EV_MAX_RANK], ax[EV_MAX_RANK], sp[EV_MAX_RANK];
        char idx[EV_MAX_RANK][96], inp[128], sl[512];
        int omit_axes = 0, omit_steps = 1;
        ns = (int)rint_in(1, r);
        for (int k = 0; k < r; k++) perm[k] = k;
        for (int k = r - 1; k > 0; k--) {
            int j = (int)rint_in(0, k), t = perm[k];
            perm[k] = perm[j];
            perm[j] = t;
        }
        if (rnd() % 4 == 0) {
            omit_axes = 1;
            for (int i = 0; i < ns; i++) perm[i] = i;
        }
        for (int k = 0; k < r; k++) snprintf(idx[k], sizeof idx[k], ":");
        for (int i = 0; i < ns; i++) {
            int k = perm[i];
            int64_t d = x->dims[k];
            ax[i] = (rnd() % 2) ? k - r : k;
            sp[i] = rint_in(-3, 3);
            if (sp[i] == 0) sp[i] = 1;
            if (sp[i] != 1) omit_steps = 0;
            st[i] = rint_in(-7, 7);
            en[i] = rint_in(-7, 7);
            if (rnd() % 8 == 0) st[i] = sp[i] > 0 ? INT64_MIN : INT64_MAX;
            if (rnd() % 8 == 0) en[i] = sp[i] > 0 ? INT64_MAX : INT64_MIN;
            /* NumPy and ONNX differ only for start < -d with a negative
             * step (ONNX clamps to 0, NumPy to "before 0"): covered by a
             * hand case above, avoided here. */
            if (sp[i] < 0 && st[i] < -d) st[i] = -d;
            snprintf(idx[k], sizeof idx[k], "%lld:%lld:%lld", (long long)st[i], (long long)en[i], (long long)sp[i]);
        }
        {
            size_t p = 0;
            sl[0] = 0;
            for (int k = 0; k < r; k++) p += (size_t)snprintf(sl + p, sizeof sl - p, "%s%s", k ? "," : "", idx[k]);
        }
        np_input(inp, sizeof inp, x);
        {
            call *c = op_call("Slice", 13, 3, x, ints(ns, st), ints(ns, en));
            if (!omit_axes || !omit_steps) {
                c->n_in = 4;
                c->in[3] = omit_axes ? NULL : ints(ns, ax);
            }
            if (!omit_steps) {
                c->n_in = 5;
                c->in[4] = ints(ns, sp);
            }
            run_call(c);
            py_check(__LINE__, c, 0, "%s[%s]", inp, sl);
        }
    }
}

static void random_transpose(int iters)
{
    for (int it = 0; it < iters; it++) {
        int r;
        ev_tensor *x = rnd_input(1, 6, 1, 4, rnd_dtype(), &r);
        int64_t perm[EV_MAX_RANK];
        char inp[128], ps[64];
        call *c = op_call("Transpose", 13, 1, x);
        for (int k = 0; k < r; k++) perm[k] = k;
        for (int k = r - 1; k > 0; k--) {
            int j = (int)rint_in(0, k);
            int64_t t = perm[k];
            perm[k] = perm[j];
            perm[j] = t;
        }
        np_input(inp, sizeof inp, x);
        if (rnd() % 5 == 0) {
            py_check(__LINE__, c, 0, "np.transpose(%s)", inp);
            continue;
        }
        with(c, a_ints("perm", r, perm));
        fmt_list(ps, sizeof ps, r, perm, 1);
        py_check(__LINE__, c, 0, "np.transpose(%s,%s)", inp, ps);
    }
}

static void random_gather(int iters)
{
    for (int it = 0; it < iters; it++) {
        int r, qr = (int)rint_in(0, 2), a;
        ev_tensor *x = rnd_input(1, 3, 1, 4, rnd_dtype(), &r);
        int64_t qd[2] = {rint_in(0, 3), rint_in(1, 3)}, nq = 1, vals[16];
        ev_tensor *ix;
        char inp[128], iv[256], qs[64];
        a = (int)rint_in(-r, r - 1);
        for (int k = 0; k < qr; k++) nq *= qd[k];
        ix = mk((rnd() % 2) ? EV_DT_INT64 : EV_DT_INT32, qr, qd);
        for (int64_t j = 0; j < nq; j++) {
            int64_t d = x->dims[a < 0 ? a + r : a];
            vals[j] = rint_in(-d, d - 1);
            set_elem(ix, j, (double)vals[j]);
        }
        np_input(inp, sizeof inp, x);
        fmt_list(iv, sizeof iv, (int)nq, vals, 0);
        fmt_list(qs, sizeof qs, qr, qd, 1);
        py_check(__LINE__, with(op_call("Gather", 13, 2, x, ix), a_int("axis", a)), 0,
                 "np.take(%s,np.array(%s,dtype=np.int64).reshape(%s),axis=%d)", inp, iv, qs, a);
    }
}

static void random_gather_elements(int iters)
{
    for (int it = 0; it < iters; it++) {
        int r, a;
        ev_tensor *x = rnd_input(1, 4, 1, 4, rnd_dtype(), &r);
        int64_t qd[EV_MAX_RANK], nq = 1, vals[256];
        ev_tensor *ix;
        char inp[128], iv[1024], qs[64], sl[128];
        size_t p = 0;
        a = (int)rint_in(-r, r - 1);
        for (int k = 0; k < r; k++) {
            qd[k] = (k == (a < 0 ? a + r : a)) ? rint_in(0, 4) : rint_in(1, x->dims[k]);
            nq *= qd[k];
            if (k != (a < 0 ? a + r : a))
                p += (size_t)snprintf(sl + p, sizeof sl - p, "%s:%lld", k ? "," : "", (long long)qd[k]);
            else
                p += (size_t)snprintf(sl + p, sizeof sl - p, "%s:", k ? "," : "");
        }
        ix = mk((rnd() % 2) ? EV_DT_INT64 : EV_DT_INT32, r, qd);
        for (int64_t j = 0; j < nq; j++) {
            int64_t d = x->dims[a < 0 ? a + r : a];
            vals[j] = rint_in(-d, d - 1);
            set_elem(ix, j, (double)vals[j]);
        }
        np_input(inp, sizeof inp, x);
        fmt_list(iv, sizeof iv, (int)nq, vals, 0);
        fmt_list(qs, sizeof qs, r, qd, 1);
        /* NumPy's take_along_axis wants matching shapes off the axis, and
         * non-negative indices: slice the data, wrap the indices. */
        py_check(__LINE__, with(op_call("GatherElements", 13, 2, x, ix), a_int("axis", a)), 0,
                 "np.take_along_axis(%s[%s],np.array(%s,dtype=np.int64).reshape(%s)%%%s.shape[%d],axis=%d)", inp, sl,
                 iv, qs, inp, a, a);
    }
}

static void random_pad(int iters)
{
    static const char *const modes[] = {"constant", "reflect", "edge"};
    for (int it = 0; it < iters; it++) {
        int r, m = (int)(rnd() % 3);
        ev_tensor *x = rnd_input(1, 3, 1, 4, rnd_dtype(), &r);
        int64_t pads[2 * EV_MAX_RANK];
        char inp[160], crop[256] = "", pw[256] = "(", extra[64] = "";
        size_t pc = 0, pp = 1;
        call *c;
        for (int k = 0; k < r; k++) {
            int64_t d = x->dims[k], b, e, kept;
            b = rint_in(-1, 4);
            e = rint_in(-1, 4);
            if (b < 0 && e < 0 && d < 3) b = 0;
            if (-(b < 0 ? b : 0) - (e < 0 ? e : 0) >= d) b = e = 0; /* keep at least one */
            kept = d + (b < 0 ? b : 0) + (e < 0 ? e : 0);
            (void)kept;
            pads[k] = b;
            pads[k + r] = e;
            pc += (size_t)snprintf(crop + pc, sizeof crop - pc, "%s%lld:%lld", k ? "," : "", (long long)(b < 0 ? -b : 0),
                                   (long long)(d - (e < 0 ? -e : 0)));
            pp += (size_t)snprintf(pw + pp, sizeof pw - pp, "(%lld,%lld),", (long long)(b > 0 ? b : 0),
                                   (long long)(e > 0 ? e : 0));
        }
        snprintf(pw + pp, sizeof pw - pp, ")");
        np_input(inp, sizeof inp, x);
        if (m == 0 && x->dtype != EV_DT_BOOL) {
            c = op_call("Pad", 13, 3, x, ints(2 * r, pads), tv(x->dtype, 0, NULL, V(7)));
            snprintf(extra, sizeof extra, ",constant_values=7");
        } else {
            c = op_call("Pad", 13, 2, x, ints(2 * r, pads));
        }
        with(c, a_str("mode", modes[m]));
        py_check(__LINE__, c, 0, "np.pad(%s[%s],%s,mode='%s'%s)", inp, crop, pw, modes[m], extra);
    }
}

static void random_tile_expand(int iters)
{
    for (int it = 0; it < iters; it++) {
        int r;
        ev_tensor *x = rnd_input(1, 3, 0, 3, rnd_dtype(), &r);
        int64_t reps[EV_MAX_RANK], shp[EV_MAX_RANK];
        int sr = (int)rint_in(0, 4);
        char inp[128], rs[64], ss[64];
        for (int k = 0; k < r; k++) reps[k] = rint_in(0, 3);
        np_input(inp, sizeof inp, x);
        fmt_list(rs, sizeof rs, r, reps, 1);
        py_check(__LINE__, op_call("Tile", 13, 2, x, ints(r, reps)), 0, "np.tile(%s,%s)", inp, rs);
        /* a broadcast-compatible target: per aligned dim, 1 / the same / any
         * (when the input has 1 there) */
        for (int k = 0; k < sr; k++) {
            int xi = k - (sr - r);
            int64_t xd = xi >= 0 ? x->dims[xi] : 1;
            int ch = (int)(rnd() % 3);
            shp[k] = ch == 0 ? 1 : (xd == 1 ? rint_in(0, 3) : xd);
        }
        fmt_list(ss, sizeof ss, sr, shp, 1);
        py_check(__LINE__, op_call("Expand", 13, 2, x, ints(sr, shp)), 0,
                 "np.broadcast_to(%s,np.broadcast_shapes(%s.shape,%s))", inp, inp, ss);
        (void)ss;
    }
}

static void random_split_concat(int iters)
{
    for (int it = 0; it < iters; it++) {
        int r, a, no = (int)rint_in(1, 4);
        ev_tensor *x = rnd_input(1, 3, 0, 5, rnd_dtype(), &r);
        int64_t sizes[4], left, cuts[4];
        char inp[128], cs[64];
        call *c;
        a = (int)rint_in(-r, r - 1);
        left = x->dims[a < 0 ? a + r : a];
        for (int i = 0; i < no; i++) {
            sizes[i] = i == no - 1 ? left : rint_in(0, left);
            left -= sizes[i];
        }
        for (int i = 0, s = 0; i < no - 1; i++) {
            s += (int)sizes[i];
            cuts[i] = s;
        }
        np_input(inp, sizeof inp, x);
        fmt_list(cs, sizeof cs, no - 1, cuts, 0);
        c = with(op_call("Split", 13, 2, x, ints(no, sizes)), a_int("axis", a));
        c->n_out = no;
        run_call(c);
        for (int i = 0; i < no; i++) py_check(__LINE__, c, i, "np.split(%s,%s,axis=%d)[%d]", inp, cs, a, i);
        /* Concat the pieces back plus x itself: [x, x] along a */
        if (c->st == EV_OK) {
            call *cc = with(op_call("Concat", 13, 0), a_int("axis", a));
            cc->n_in = no + 1;
            for (int i = 0; i < no; i++) cc->in[i] = c->out[i];
            cc->in[no] = x;
            py_check(__LINE__, cc, 0, "np.concatenate([%s,%s],axis=%d)", inp, inp, a);
        }
    }
}

static void random_misc(int iters)
{
    for (int it = 0; it < iters; it++) {
        int r, fa;
        ev_tensor *x = rnd_input(1, 4, 1, 3, rnd_dtype(), &r);
        char inp[128], as[64];
        int64_t axes[EV_MAX_RANK];
        int na = 0, ur;
        np_input(inp, sizeof inp, x);
        fa = (int)rint_in(-r, r);
        py_check(__LINE__, with(op_call("Flatten", 13, 1, x), a_int("axis", fa)), 0,
                 "%s.reshape(int(np.prod(%s.shape[:%d])),-1)", inp, inp, fa < 0 ? fa + r : fa);
        /* Squeeze the size-1 axes (some of them, given negative or not) */
        for (int k = 0; k < r; k++)
            if (x->dims[k] == 1 && rnd() % 2) axes[na++] = (rnd() % 2) ? k - r : k;
        fmt_list(as, sizeof as, na, axes, 1);
        if (na > 0)
            py_check(__LINE__, op_call("Squeeze", 13, 2, x, ints(na, axes)), 0, "np.squeeze(%s,axis=%s)", inp, as);
        /* Unsqueeze: random distinct output positions */
        ur = (int)rint_in(1, EV_MAX_RANK - r);
        {
            int used[EV_MAX_RANK] = {0};
            na = 0;
            while (na < ur) {
                int p = (int)rint_in(0, r + ur - 1);
                if (used[p]) continue;
                used[p] = 1;
                axes[na++] = (rnd() % 2) ? p - (r + ur) : p;
            }
        }
        fmt_list(as, sizeof as, na, axes, 1);
        py_check(__LINE__, op_call("Unsqueeze", 13, 2, x, ints(na, axes)), 0, "np.expand_dims(%s,axis=%s)", inp, as);
    }
    /* DepthToSpace / SpaceToDepth against the spec's reshape/transpose */
    for (int it = 0; it < 6; it++) {
        int64_t b = rint_in(1, 3), N = rint_in(1, 2), C = rint_in(1, 3), H = rint_in(1, 3), W = rint_in(1, 3);
        ev_tensor *x = iota(EV_DT_FLOAT, 4, D(N, C * b * b, H, W));
        ev_tensor *y = iota(EV_DT_INT32, 4, D(N, C, H * b, W * b));
        char inp[128], inq[128];
        np_input(inp, sizeof inp, x);
        np_input(inq, sizeof inq, y);
        py_check(__LINE__, with(op_call("DepthToSpace", 13, 1, x), a_int("blocksize", b)), 0,
                 "%s.reshape(%lld,%lld,%lld,%lld,%lld,%lld).transpose(0,3,4,1,5,2).reshape(%lld,%lld,%lld,%lld)", inp,
                 (long long)N, (long long)b, (long long)b, (long long)C, (long long)H, (long long)W, (long long)N,
                 (long long)C, (long long)(H * b), (long long)(W * b));
        py_check(__LINE__,
                 with(with(op_call("DepthToSpace", 11, 1, x), a_int("blocksize", b)), a_str("mode", "CRD")), 0,
                 "%s.reshape(%lld,%lld,%lld,%lld,%lld,%lld).transpose(0,1,4,2,5,3).reshape(%lld,%lld,%lld,%lld)", inp,
                 (long long)N, (long long)C, (long long)b, (long long)b, (long long)H, (long long)W, (long long)N,
                 (long long)C, (long long)(H * b), (long long)(W * b));
        py_check(__LINE__, with(op_call("SpaceToDepth", 13, 1, y), a_int("blocksize", b)), 0,
                 "%s.reshape(%lld,%lld,%lld,%lld,%lld,%lld).transpose(0,3,5,1,2,4).reshape(%lld,%lld,%lld,%lld)", inq,
                 (long long)N, (long long)C, (long long)H, (long long)b, (long long)W, (long long)b, (long long)N,
                 (long long)(C * b * b), (long long)H, (long long)W);
    }
}

static const char PY_SCRIPT[] =
    "import sys\n"
    "import numpy as np\n"
    "def A(shape, dt):\n"
    "    n = int(np.prod(shape)) if len(shape) else 1\n"
    "    return np.arange(n).reshape(shape).astype(dt)\n"
    "for line in open(sys.argv[1]):\n"
    "    try:\n"
    "        r = np.asarray(eval(line))\n"
    "        print(r.ndim, *r.shape, *[repr(float(v)) for v in r.ravel()])\n"
    "    except Exception as e:\n"
    "        print('ERR', type(e).__name__, str(e).replace(chr(10), ' '))\n";

static void run_python_checks(void)
{
    char cases[] = "/tmp/ev_shape_cases_XXXXXX", script[] = "/tmp/ev_shape_py_XXXXXX", cmd[256];
    int fd1 = mkstemp(cases), fd2 = mkstemp(script);
    FILE *f, *p;
    char *line = NULL;
    size_t cap = 0;
    int done = 0;
    CHECK(fd1 >= 0 && fd2 >= 0, "mkstemp failed");
    if (fd1 < 0 || fd2 < 0) return;
    f = fdopen(fd1, "w");
    for (int i = 0; i < g_npy; i++) fprintf(f, "%s\n", g_py[i].expr);
    fclose(f);
    f = fdopen(fd2, "w");
    fputs(PY_SCRIPT, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", script, cases);
    p = popen(cmd, "r");
    CHECK(p != NULL, "cannot run /usr/bin/python3");
    while (p && getline(&line, &cap, p) > 0 && done < g_npy) {
        pycase *pc = &g_py[done++];
        const ev_tensor *o = pc->got;
        char *s = line, *end;
        long nd;
        if (!strncmp(line, "ERR", 3)) {
            CHECK(0, "line %d (%s): numpy failed on '%s': %s", pc->line, pc->what, pc->expr, line);
            continue;
        }
        nd = strtol(s, &end, 10);
        s = end;
        if (nd != o->rank) {
            CHECK(0, "line %d (%s): rank %d, numpy %ld for %s", pc->line, pc->what, o->rank, nd, pc->expr);
            continue;
        }
        {
            int ok = 1;
            for (int k = 0; k < nd; k++) {
                long long d = strtoll(s, &end, 10);
                s = end;
                if (d != o->dims[k]) ok = 0;
            }
            if (!ok) {
                CHECK(0, "line %d (%s): shape differs from numpy for %s", pc->line, pc->what, pc->expr);
                continue;
            }
        }
        {
            int64_t ne = ev_tensor_numel(o), bad = -1;
            double want = 0;
            for (int64_t i = 0; i < ne; i++) {
                want = strtod(s, &end);
                if (end == s || get_elem(o, i) != want) {
                    bad = i;
                    break;
                }
                s = end;
            }
            CHECK(bad < 0, "line %d (%s): element %lld = %g, numpy %g for %s", pc->line, pc->what, (long long)bad,
                  bad >= 0 ? get_elem(o, bad) : 0.0, want, pc->expr);
            g_checks++;
        }
    }
    CHECK(p && pclose(p) == 0, "python exited with an error");
    CHECK(done == g_npy, "numpy answered %d of %d cases", done, g_npy);
    free(line);
    unlink(cases);
    unlink(script);
    printf("numpy-checked cases: %d\n", g_npy);
}

int main(void)
{
    ev_arena_init(&g_mem, 0);
    test_table();
    test_reshape();
    test_flatten();
    test_transpose();
    test_concat();
    test_split();
    test_slice();
    test_gather();
    test_gather_elements();
    test_squeeze_unsqueeze();
    test_expand_tile();
    test_shape_size();
    test_constantofshape_range();
    test_identity_dropout();
    test_pad();
    test_depth_space();

    random_slice(300);
    random_transpose(80);
    random_gather(80);
    random_gather_elements(60);
    random_pad(120);
    random_tile_expand(80);
    random_split_concat(60);
    random_misc(60);
    run_python_checks();

    free(g_py);
    ev_arena_free(&g_mem);
    printf("%d checks, %d failed\n", g_checks, g_fail);
    return g_fail ? 1 : 0;
}
