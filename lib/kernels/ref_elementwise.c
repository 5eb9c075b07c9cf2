/*
 * lib/kernels/ref_elementwise.c — reference element-wise operators:
 *   unary  Relu LeakyRelu Clip HardSwish HardSigmoid Sigmoid Tanh Erf Sqrt
 *          Exp Log Neg Abs Reciprocal Floor Ceil Not Elu Selu Celu
 *          ThresholdedRelu Softplus Softsign Round Sign Sin Cos IsNaN IsInf
 *   binary Add Sub Mul Div Mod Pow PRelu Equal Less Greater LessOrEqual
 *          GreaterOrEqual And Or Xor (numpy broadcasting; PRelu's slope
 *          broadcasts to X only)
 *   n-ary  Min Max Sum Mean (broadcasting), Where
 *   Cast
 *
 * Dtypes: float32 for all math; int32/int64 for Add Sub Mul Div Mod Neg Abs Relu
 * Sign Clip Min Max and the comparisons (shape arithmetic is folded with them);
 * bool for Not And Or Equal Where. Integer arithmetic wraps (computed in
 * unsigned, never signed overflow); integer division truncates toward zero
 * like C and ONNX Runtime, and division by zero is an error.
 *
 * Broadcasting: the output shape is walked as rows of a coalesced view
 * (adjacent dims that every operand reads the same way are merged), so the
 * inner loop is usually long with stride 0 or 1 per operand.
 */
#include "kernels/ref_nn.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ======================================================================== */
/* Broadcast plan and runner                                                 */

#define BC_MAXOPS 3
#define BC_CHUNK 16384

typedef struct bc_plan {
    int nd, nops;
    int64_t dims[EV_MAX_RANK];
    int64_t st[BC_MAXOPS][EV_MAX_RANK];
    int64_t rows, inner;
} bc_plan;

/* Row kernel: n outputs; src[k] already points at the row start of operand
 * k, read with element stride st[k]; dst is contiguous. */
typedef void (*bc_fn)(int64_t n, const void *const *src, const int64_t *st, void *dst, const void *ctx);

static void bc_make(bc_plan *p, const ev_tensor *out, const ev_tensor *const *ins, int nops)
{
    int64_t st[BC_MAXOPS][EV_MAX_RANK];
    for (int k = 0; k < nops; k++) ev_broadcast_strides(ins[k], out, st[k]);
    p->nops = nops;
    p->nd = 0;
    for (int d = 0; d < out->rank; d++) {
        if (out->dims[d] == 1) continue; /* size-1 dims do not move anything */
        int merge = p->nd > 0;
        for (int k = 0; merge && k < nops; k++)
            if (p->st[k][p->nd - 1] != st[k][d] * out->dims[d]) merge = 0;
        if (merge) {
            p->dims[p->nd - 1] *= out->dims[d];
            for (int k = 0; k < nops; k++) p->st[k][p->nd - 1] = st[k][d];
        } else {
            p->dims[p->nd] = out->dims[d];
            for (int k = 0; k < nops; k++) p->st[k][p->nd] = st[k][d];
            p->nd++;
        }
    }
    if (p->nd == 0) {
        p->nd = 1;
        p->dims[0] = 1;
        for (int k = 0; k < nops; k++) p->st[k][0] = 0;
    }
    p->inner = p->dims[p->nd - 1];
    p->rows = 1;
    for (int d = 0; d < p->nd - 1; d++) p->rows *= p->dims[d];
}

static void bc_run(const bc_plan *p, const void *const *src, const size_t *esz, void *dst, size_t osz,
                   bc_fn fn, const void *ctx, int threads)
{
    int64_t nch = (p->inner + BC_CHUNK - 1) / BC_CHUNK;
    int64_t items = p->rows * nch;
    if (items == 0) return;
    int par = threads > 1 && items > 1 && p->rows * p->inner >= (1 << 16);
#pragma omp parallel for schedule(static) num_threads(threads) if (par)
    for (int64_t t = 0; t < items; t++) {
        int64_t r = t / nch, c = t % nch;
        int64_t i0 = c * BC_CHUNK, len = p->inner - i0 < BC_CHUNK ? p->inner - i0 : BC_CHUNK;
        const void *s[BC_MAXOPS];
        int64_t ist[BC_MAXOPS];
        for (int k = 0; k < p->nops; k++) {
            int64_t off = 0, rem = r;
            for (int d = p->nd - 2; d >= 0; d--) {
                off += (rem % p->dims[d]) * p->st[k][d];
                rem /= p->dims[d];
            }
            ist[k] = p->st[k][p->nd - 1];
            off += i0 * ist[k];
            s[k] = (const char *)src[k] + off * (int64_t)esz[k];
        }
        fn(len, s, ist, (char *)dst + (r * p->inner + i0) * (int64_t)osz, ctx);
    }
}

/* ======================================================================== */
/* Binary row kernels                                                        */

/* Loops specialised on the two inner strides (contiguous / broadcast). */
#define BIN_ROW(fname, TA, TB, TO, EXPR)                                                           \
    static void fname(int64_t n, const void *const *src, const int64_t *st, void *dst,             \
                      const void *ctx)                                                             \
    {                                                                                              \
        const TA *A = src[0];                                                                      \
        const TB *B = src[1];                                                                      \
        TO *O = dst;                                                                               \
        int64_t sa = st[0], sb = st[1];                                                            \
        (void)ctx;                                                                                 \
        if (sa == 1 && sb == 1) {                                                                  \
            for (int64_t i = 0; i < n; i++) {                                                      \
                TA a = A[i];                                                                       \
                TB b = B[i];                                                                       \
                O[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else if (sa == 1 && sb == 0) {                                                           \
            TB b = B[0];                                                                           \
            for (int64_t i = 0; i < n; i++) {                                                      \
                TA a = A[i];                                                                       \
                O[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else if (sa == 0 && sb == 1) {                                                           \
            TA a = A[0];                                                                           \
            for (int64_t i = 0; i < n; i++) {                                                      \
                TB b = B[i];                                                                       \
                O[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                TA a = A[i * sa];                                                                  \
                TB b = B[i * sb];                                                                  \
                O[i] = (EXPR);                                                                     \
            }                                                                                      \
        }                                                                                          \
    }

/* Wrapping integer arithmetic without signed overflow. */
#define WRAP64(op, a, b) ((int64_t)((uint64_t)(a)op(uint64_t)(b)))
#define WRAP32(op, a, b) ((int32_t)((uint32_t)(a)op(uint32_t)(b)))
/* Truncating division; b == 0 is excluded beforehand, b == -1 wraps. */
#define IDIV64(a, b) ((b) == -1 ? WRAP64(-, 0, a) : (a) / (b))
#define IDIV32(a, b) ((b) == -1 ? WRAP32(-, 0, a) : (a) / (b))
/* NaN-propagating min/max (np.minimum / np.maximum). */
#define FMIN(a, b) (((a) != (a) || (a) < (b)) ? (a) : (b))
#define FMAX(a, b) (((a) != (a) || (a) > (b)) ? (a) : (b))
#define IMIN(a, b) ((a) < (b) ? (a) : (b))
#define IMAX(a, b) ((a) > (b) ? (a) : (b))

BIN_ROW(add_f32, float, float, float, a + b)
BIN_ROW(sub_f32, float, float, float, a - b)
BIN_ROW(mul_f32, float, float, float, a * b)
BIN_ROW(div_f32, float, float, float, a / b)
BIN_ROW(add_i64, int64_t, int64_t, int64_t, WRAP64(+, a, b))
BIN_ROW(sub_i64, int64_t, int64_t, int64_t, WRAP64(-, a, b))
BIN_ROW(mul_i64, int64_t, int64_t, int64_t, WRAP64(*, a, b))
BIN_ROW(div_i64, int64_t, int64_t, int64_t, IDIV64(a, b))
BIN_ROW(add_i32, int32_t, int32_t, int32_t, WRAP32(+, a, b))
BIN_ROW(sub_i32, int32_t, int32_t, int32_t, WRAP32(-, a, b))
BIN_ROW(mul_i32, int32_t, int32_t, int32_t, WRAP32(*, a, b))
BIN_ROW(div_i32, int32_t, int32_t, int32_t, IDIV32(a, b))
BIN_ROW(pow_f32, float, float, float, powf(a, b))
BIN_ROW(pow_f32_i64, float, int64_t, float, powf(a, (float)b))
BIN_ROW(pow_f32_i32, float, int32_t, float, powf(a, (float)b))
BIN_ROW(square_f32, float, float, float, ((void)b, a * a))
BIN_ROW(min_f32, float, float, float, FMIN(a, b))
BIN_ROW(max_f32, float, float, float, FMAX(a, b))
BIN_ROW(min_i64, int64_t, int64_t, int64_t, IMIN(a, b))
BIN_ROW(max_i64, int64_t, int64_t, int64_t, IMAX(a, b))
BIN_ROW(min_i32, int32_t, int32_t, int32_t, IMIN(a, b))
BIN_ROW(max_i32, int32_t, int32_t, int32_t, IMAX(a, b))
BIN_ROW(eq_f32, float, float, uint8_t, a == b)
BIN_ROW(eq_i64, int64_t, int64_t, uint8_t, a == b)
BIN_ROW(eq_i32, int32_t, int32_t, uint8_t, a == b)
BIN_ROW(eq_u8, uint8_t, uint8_t, uint8_t, a == b)
BIN_ROW(lt_f32, float, float, uint8_t, a < b)
BIN_ROW(lt_i64, int64_t, int64_t, uint8_t, a < b)
BIN_ROW(lt_i32, int32_t, int32_t, uint8_t, a < b)
BIN_ROW(gt_f32, float, float, uint8_t, a > b)
BIN_ROW(gt_i64, int64_t, int64_t, uint8_t, a > b)
BIN_ROW(gt_i32, int32_t, int32_t, uint8_t, a > b)
BIN_ROW(le_f32, float, float, uint8_t, a <= b)
BIN_ROW(le_i64, int64_t, int64_t, uint8_t, a <= b)
BIN_ROW(le_i32, int32_t, int32_t, uint8_t, a <= b)
BIN_ROW(ge_f32, float, float, uint8_t, a >= b)
BIN_ROW(ge_i64, int64_t, int64_t, uint8_t, a >= b)
BIN_ROW(ge_i32, int32_t, int32_t, uint8_t, a >= b)
BIN_ROW(and_b, uint8_t, uint8_t, uint8_t, (a != 0) & (b != 0))
BIN_ROW(or_b, uint8_t, uint8_t, uint8_t, (a != 0) | (b != 0))
BIN_ROW(xor_b, uint8_t, uint8_t, uint8_t, (a != 0) ^ (b != 0))
/* Mod: fmod=0 takes the divisor's sign (Python / numpy), fmod=1 the
 * dividend's (C). b == -1 is special-cased: INT_MIN % -1 is undefined in C. */
#define IMOD(a, b) ((b) == -1 ? 0 : (a) % (b))
#define PYMOD(r, b) (((r) != 0 && (((r) < 0) != ((b) < 0))) ? (r) + (b) : (r))
BIN_ROW(fmod_i64, int64_t, int64_t, int64_t, IMOD(a, b))
BIN_ROW(fmod_i32, int32_t, int32_t, int32_t, IMOD(a, b))
BIN_ROW(mod_i64, int64_t, int64_t, int64_t, PYMOD(IMOD(a, b), b))
BIN_ROW(mod_i32, int32_t, int32_t, int32_t, PYMOD(IMOD(a, b), b))
BIN_ROW(fmod_f32, float, float, float, fmodf(a, b))
BIN_ROW(mod_f32, float, float, float, PYMOD(fmodf(a, b), b))
BIN_ROW(prelu_f32, float, float, float, a < 0.0f ? a * b : a)

/* Copy with broadcast (one operand). */
#define COPY_ROW(fname, T)                                                                         \
    static void fname(int64_t n, const void *const *src, const int64_t *st, void *dst,             \
                      const void *ctx)                                                             \
    {                                                                                              \
        const T *A = src[0];                                                                       \
        T *O = dst;                                                                                \
        (void)ctx;                                                                                 \
        if (st[0] == 1) memcpy(O, A, sizeof(T) * (size_t)n);                                       \
        else                                                                                       \
            for (int64_t i = 0; i < n; i++) O[i] = A[i * st[0]];                                   \
    }
COPY_ROW(copy_1, uint8_t)
COPY_ROW(copy_2, uint16_t)
COPY_ROW(copy_4, uint32_t)
COPY_ROW(copy_8, uint64_t)

/* Where(cond, x, y) by element size. */
#define WHERE_ROW(fname, T)                                                                        \
    static void fname(int64_t n, const void *const *src, const int64_t *st, void *dst,             \
                      const void *ctx)                                                             \
    {                                                                                              \
        const uint8_t *C = src[0];                                                                 \
        const T *X = src[1], *Y = src[2];                                                          \
        T *O = dst;                                                                                \
        (void)ctx;                                                                                 \
        for (int64_t i = 0; i < n; i++) O[i] = C[i * st[0]] ? X[i * st[1]] : Y[i * st[2]];         \
    }
WHERE_ROW(where_1, uint8_t)
WHERE_ROW(where_2, uint16_t)
WHERE_ROW(where_4, uint32_t)
WHERE_ROW(where_8, uint64_t)

/* ======================================================================== */
/* Binary operators                                                          */

enum {
    B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_PRELU, B_MOD, B_FMOD,  /* binary, same dtype out */
    B_EQ, B_LT, B_GT, B_LE, B_GE, B_AND, B_OR, B_XOR,           /* binary, bool out       */
    B_MIN, B_MAX, B_SUM, B_MEAN                                 /* n-ary                  */
};

typedef struct bin_params {
    int kind;
} bin_params;

static int is_int(ev_dtype t) { return t == EV_DT_INT64 || t == EV_DT_INT32; }

/* Row kernel for (kind, dtype of A, dtype of B), NULL if unsupported. */
static bc_fn bin_fn(int kind, ev_dtype ta, ev_dtype tb)
{
    if (kind == B_POW) {
        if (ta != EV_DT_FLOAT) return NULL;
        return tb == EV_DT_FLOAT ? pow_f32 : tb == EV_DT_INT64 ? pow_f32_i64 : tb == EV_DT_INT32 ? pow_f32_i32 : NULL;
    }
    if (ta != tb) return NULL;
#define PICK(f32, i64, i32) return ta == EV_DT_FLOAT ? (f32) : ta == EV_DT_INT64 ? (i64) : ta == EV_DT_INT32 ? (i32) : NULL
    switch (kind) {
    case B_ADD:
    case B_SUM: PICK(add_f32, add_i64, add_i32);
    case B_MEAN: return ta == EV_DT_FLOAT ? add_f32 : NULL;
    case B_SUB: PICK(sub_f32, sub_i64, sub_i32);
    case B_MUL: PICK(mul_f32, mul_i64, mul_i32);
    case B_DIV: PICK(div_f32, div_i64, div_i32);
    case B_MOD: PICK(mod_f32, mod_i64, mod_i32);
    case B_FMOD: PICK(fmod_f32, fmod_i64, fmod_i32);
    case B_MIN: PICK(min_f32, min_i64, min_i32);
    case B_MAX: PICK(max_f32, max_i64, max_i32);
    case B_LT: PICK(lt_f32, lt_i64, lt_i32);
    case B_GT: PICK(gt_f32, gt_i64, gt_i32);
    case B_LE: PICK(le_f32, le_i64, le_i32);
    case B_GE: PICK(ge_f32, ge_i64, ge_i32);
    case B_EQ:
        if (ta == EV_DT_BOOL) return eq_u8;
        PICK(eq_f32, eq_i64, eq_i32);
    case B_AND: return ta == EV_DT_BOOL ? and_b : NULL;
    case B_OR: return ta == EV_DT_BOOL ? or_b : NULL;
    case B_XOR: return ta == EV_DT_BOOL ? xor_b : NULL;
    case B_PRELU: return ta == EV_DT_FLOAT ? prelu_f32 : NULL;
    default: return NULL;
    }
#undef PICK
}

static int is_compare(int kind) { return kind >= B_EQ && kind <= B_XOR; }

static ev_status bin_prepare_kind(ev_graph *g, ev_node *n, int kind, ev_err *err)
{
    if (kind >= B_MIN) EV_TRY(ev_ref_arity(n, 1, 64, 1, err));
    else EV_TRY(ev_ref_arity(n, 2, 2, 1, err));
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] < 0)
            return ev_err_set(err, EV_ERR_FORMAT, "%s node '%s': input %d is empty", n->op_type, EV_LABEL(n), i);
    bin_params *p = ev_ref_params(g, n, sizeof *p, err);
    if (!p) return EV_ERR_NOMEM;
    p->kind = kind;
    n->params = p;
    return EV_OK;
}

static ev_status bin_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    const bin_params *p = n->params;
    ev_dtype t0 = in[0]->dtype;
    if (!bin_fn(p->kind, t0, p->kind == B_POW ? EV_DT_FLOAT : t0)) return ev_ref_bad_dtype(n, "input 0", t0, err);
    for (int i = 1; i < n->n_in; i++) {
        ev_dtype ti = in[i]->dtype;
        if (p->kind == B_POW) {
            if (!bin_fn(p->kind, t0, ti)) return ev_ref_bad_dtype(n, "exponent", ti, err);
        } else if (ti != t0) {
            return ev_err_set(err, EV_ERR_FORMAT, "%s node '%s': input %d is %s but input 0 is %s",
                              n->op_type, EV_LABEL(n), i, ev_dtype_name(ti), ev_dtype_name(t0));
        }
    }
    ev_status st = ev_broadcast_shapes(in, n->n_in, out[0], err);
    if (st) return ev_err_prefix(err, "%s node '%s'", n->op_type, EV_LABEL(n));
    if (p->kind == B_PRELU) { /* slope broadcasts to X, never the reverse */
        int same = out[0]->rank == in[0]->rank;
        for (int d = 0; same && d < in[0]->rank; d++) same = out[0]->dims[d] == in[0]->dims[d];
        if (!same)
            return ev_err_set(err, EV_ERR_SHAPE, "PRelu node '%s': slope does not broadcast to X", EV_LABEL(n));
    }
    out[0]->dtype = is_compare(p->kind) ? EV_DT_BOOL : t0;
    return EV_OK;
}

static int is_scalar_value(const ev_tensor *t, float v)
{
    return t->dtype == EV_DT_FLOAT && ev_tensor_numel(t) == 1 && ((const float *)t->data)[0] == v;
}

static ev_status check_int_divisor(const ev_node *n, const ev_tensor *b, ev_err *err)
{
    int64_t cnt = ev_tensor_numel(b);
    for (int64_t i = 0; i < cnt; i++)
        if (ev_tensor_get_int(b, i) == 0)
            return ev_err_set(err, EV_ERR_DATA, "%s node '%s': integer division by zero", n->op_type, EV_LABEL(n));
    return EV_OK;
}

/* out = fn(a, b) with broadcasting. */
static void bin_apply(bc_fn fn, const ev_tensor *a, const ev_tensor *b, ev_tensor *o, int threads)
{
    const ev_tensor *ops[2] = {a, b};
    bc_plan plan;
    bc_make(&plan, o, ops, 2);
    const void *src[2] = {a->data, b->data};
    size_t esz[2] = {ev_dtype_size(a->dtype), ev_dtype_size(b->dtype)};
    bc_run(&plan, src, esz, o->data, ev_dtype_size(o->dtype), fn, NULL, threads);
}

static ev_status bin_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    const bin_params *p = n->params;
    int threads = ev_ref_threads(ctx);
    ev_tensor *o = out[0];
    if (ev_tensor_numel(o) == 0) return EV_OK;
    if (p->kind < B_MIN) {
        bc_fn fn = bin_fn(p->kind, in[0]->dtype, in[1]->dtype);
        if (!fn) return ev_ref_bad_dtype(n, "input", in[0]->dtype, ctx->err);
        if ((p->kind == B_DIV || p->kind == B_MOD || p->kind == B_FMOD) && is_int(in[1]->dtype))
            EV_TRY(check_int_divisor(n, in[1], ctx->err));
        if (p->kind == B_POW && is_scalar_value(in[1], 2.0f)) fn = square_f32;
        bin_apply(fn, in[0], in[1], o, threads);
        return EV_OK;
    }
    /* n-ary: out = broadcast(in0), then out = op(out, in_k). */
    bc_fn fn = bin_fn(p->kind, in[0]->dtype, in[0]->dtype);
    if (!fn) return ev_ref_bad_dtype(n, "input 0", in[0]->dtype, ctx->err);
    {
        const ev_tensor *ops[1] = {in[0]};
        bc_plan plan;
        bc_make(&plan, o, ops, 1);
        size_t es = ev_dtype_size(o->dtype);
        const void *src[1] = {in[0]->data};
        bc_fn cp = es == 1 ? copy_1 : es == 2 ? copy_2 : es == 4 ? copy_4 : copy_8;
        bc_run(&plan, src, &es, o->data, es, cp, NULL, threads);
    }
    for (int k = 1; k < n->n_in; k++) bin_apply(fn, o, in[k], o, threads);
    if (p->kind == B_MEAN && n->n_in > 1) {
        float *y = o->data, cnt = (float)n->n_in;
        int64_t total = ev_tensor_numel(o);
        for (int64_t i = 0; i < total; i++) y[i] /= cnt;
    }
    return EV_OK;
}

#define BIN_OP(name, kind, op, lo, hi)                                                             \
    static ev_status name##_prepare(ev_graph *g, ev_node *n, ev_err *err)                          \
    {                                                                                              \
        return bin_prepare_kind(g, n, kind, err);                                                  \
    }                                                                                              \
    const ev_op_def ev_ref_op_##name = {op, lo, hi, 0, name##_prepare, bin_infer, bin_run, NULL};

/* Opsets: Add/Sub/Mul/Div/Pow/comparisons/logic use numpy broadcasting from
 * 7 (earlier versions had the legacy `broadcast` attribute); Min/Max/Sum/
 * Mean broadcast from 8. */
BIN_OP(add, B_ADD, "Add", 7, 18)
BIN_OP(sub, B_SUB, "Sub", 7, 18)
BIN_OP(mul, B_MUL, "Mul", 7, 18)
BIN_OP(div, B_DIV, "Div", 7, 18)
BIN_OP(pow, B_POW, "Pow", 7, 18)
BIN_OP(equal, B_EQ, "Equal", 7, 18)
BIN_OP(less, B_LT, "Less", 7, 18)
BIN_OP(greater, B_GT, "Greater", 7, 18)
BIN_OP(less_equal, B_LE, "LessOrEqual", 12, 18)
BIN_OP(greater_equal, B_GE, "GreaterOrEqual", 12, 18)
BIN_OP(and, B_AND, "And", 7, 18)
BIN_OP(or, B_OR, "Or", 7, 18)
BIN_OP(xor, B_XOR, "Xor", 7, 18)
BIN_OP(prelu, B_PRELU, "PRelu", 7, 18)

static ev_status mod_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    return bin_prepare_kind(g, n, ev_attr_int(n, "fmod", 0) ? B_FMOD : B_MOD, err);
}
const ev_op_def ev_ref_op_mod = {"Mod", 10, 18, 0, mod_prepare, bin_infer, bin_run, NULL};
BIN_OP(min, B_MIN, "Min", 8, 18)
BIN_OP(max, B_MAX, "Max", 8, 18)
BIN_OP(sum, B_SUM, "Sum", 8, 18)
BIN_OP(mean, B_MEAN, "Mean", 8, 18)

/* ======================================================================== */
/* Where                                                                     */

static int movable_dtype(ev_dtype t)
{
    switch (t) {
    case EV_DT_FLOAT: case EV_DT_DOUBLE: case EV_DT_INT8: case EV_DT_INT16: case EV_DT_INT32:
    case EV_DT_INT64: case EV_DT_UINT8: case EV_DT_UINT16: case EV_DT_UINT32: case EV_DT_UINT64:
    case EV_DT_BOOL:
        return 1;
    default:
        return 0;
    }
}

static ev_status where_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    return ev_ref_arity(n, 3, 3, 1, err);
}

static ev_status where_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    if (in[0]->dtype != EV_DT_BOOL) return ev_ref_bad_dtype(n, "condition", in[0]->dtype, err);
    if (!movable_dtype(in[1]->dtype)) return ev_ref_bad_dtype(n, "input X", in[1]->dtype, err);
    if (in[2]->dtype != in[1]->dtype)
        return ev_err_set(err, EV_ERR_FORMAT, "Where node '%s': X is %s but Y is %s", EV_LABEL(n),
                          ev_dtype_name(in[1]->dtype), ev_dtype_name(in[2]->dtype));
    if (ev_broadcast_shapes(in, 3, out[0], err)) return ev_err_prefix(err, "Where node '%s'", EV_LABEL(n));
    out[0]->dtype = in[1]->dtype;
    return EV_OK;
}

static ev_status where_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    ev_tensor *o = out[0];
    if (ev_tensor_numel(o) == 0) return EV_OK;
    bc_plan plan;
    bc_make(&plan, o, in, 3);
    size_t es = ev_dtype_size(o->dtype);
    const void *src[3] = {in[0]->data, in[1]->data, in[2]->data};
    size_t esz[3] = {1, es, es};
    bc_fn fn = es == 1 ? where_1 : es == 2 ? where_2 : es == 4 ? where_4 : where_8;
    bc_run(&plan, src, esz, o->data, es, fn, NULL, ev_ref_threads(ctx));
    return EV_OK;
}

const ev_op_def ev_ref_op_where = {"Where", 9, 18, 0, where_prepare, where_infer, where_run, NULL};

/* ======================================================================== */
/* Unary operators                                                           */

enum {
    U_RELU, U_LEAKY, U_CLIP, U_HARDSWISH, U_HARDSIGMOID, U_SIGMOID, U_TANH, U_ERF, U_SQRT, U_EXP,
    U_LOG, U_NEG, U_ABS, U_RECIP, U_FLOOR, U_CEIL, U_NOT, U_ELU, U_SELU, U_CELU, U_THRELU,
    U_SOFTPLUS, U_SOFTSIGN, U_ROUND, U_SIGN, U_SIN, U_COS, U_ISNAN, U_ISINF
};

typedef struct un_params {
    int kind;
    float alpha, beta;            /* LeakyRelu, HardSigmoid, HardSwish        */
    float lo, hi;                 /* Clip before opset 11                     */
    int clip_inputs;              /* Clip >= 11: bounds come from inputs      */
} un_params;

static int un_int_ok(int kind)
{
    return kind == U_RELU || kind == U_NEG || kind == U_ABS || kind == U_CLIP || kind == U_SIGN;
}

static ev_status un_prepare_kind(ev_graph *g, ev_node *n, int kind, ev_err *err)
{
    un_params *p;
    if (kind == U_CLIP && n->opset >= 11) EV_TRY(ev_ref_arity(n, 1, 3, 1, err));
    else EV_TRY(ev_ref_arity(n, 1, 1, 1, err));
    if (!(p = ev_ref_params(g, n, sizeof *p, err))) return EV_ERR_NOMEM;
    p->kind = kind;
    switch (kind) {
    case U_LEAKY: p->alpha = ev_attr_float(n, "alpha", 0.01f); break;
    case U_HARDSIGMOID:
        p->alpha = ev_attr_float(n, "alpha", 0.2f);
        p->beta = ev_attr_float(n, "beta", 0.5f);
        break;
    case U_HARDSWISH:
        p->alpha = 1.0f / 6.0f;
        p->beta = 0.5f;
        break;
    case U_ELU:
    case U_CELU:
    case U_THRELU: p->alpha = ev_attr_float(n, "alpha", 1.0f); break;
    case U_SELU:
        p->alpha = ev_attr_float(n, "alpha", 1.67326319217681884765625f);
        p->beta = ev_attr_float(n, "gamma", 1.05070102214813232421875f);
        break;
    case U_ISINF:
        p->alpha = (float)(ev_attr_int(n, "detect_negative", 1) != 0);
        p->beta = (float)(ev_attr_int(n, "detect_positive", 1) != 0);
        break;
    case U_CLIP:
        if (n->opset < 11) {
            p->lo = ev_attr_float(n, "min", -FLT_MAX);
            p->hi = ev_attr_float(n, "max", FLT_MAX);
        } else {
            p->clip_inputs = 1;
        }
        break;
    default: break;
    }
    n->params = p;
    return EV_OK;
}

static ev_status un_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    const un_params *p = n->params;
    ev_dtype t = in[0]->dtype;
    int ok = p->kind == U_NOT ? t == EV_DT_BOOL : (t == EV_DT_FLOAT || (un_int_ok(p->kind) && is_int(t)));
    if (p->kind == U_CLIP && !p->clip_inputs && t != EV_DT_FLOAT) ok = 0; /* attributes are floats */
    if (!ok) return ev_ref_bad_dtype(n, "input", t, err);
    if (p->kind == U_CLIP && p->clip_inputs) {
        for (int i = 1; i < 3; i++) {
            const ev_tensor *b = ev_ref_in(n, in, i);
            if (!b) continue;
            if (b->dtype != t)
                return ev_err_set(err, EV_ERR_FORMAT, "Clip node '%s': %s is %s but input is %s", EV_LABEL(n),
                                  i == 1 ? "min" : "max", ev_dtype_name(b->dtype), ev_dtype_name(t));
            if (ev_tensor_numel(b) > 1) /* 0 elements: no bound, like an omitted input */
                return ev_err_set(err, EV_ERR_SHAPE, "Clip node '%s': %s must be a scalar", EV_LABEL(n),
                                  i == 1 ? "min" : "max");
        }
    }
    ev_ref_same_shape(out[0], in[0], p->kind == U_ISNAN || p->kind == U_ISINF ? EV_DT_BOOL : t);
    return EV_OK;
}

static void un_f32(const un_params *p, float lo, float hi, const float *x, float *y, int64_t cnt)
{
    switch (p->kind) {
    case U_RELU:
        for (int64_t i = 0; i < cnt; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
        break;
    case U_LEAKY: {
        float a = p->alpha;
        for (int64_t i = 0; i < cnt; i++) y[i] = x[i] < 0.0f ? a * x[i] : x[i];
        break;
    }
    case U_CLIP:
        for (int64_t i = 0; i < cnt; i++) {
            float v = x[i] < lo ? lo : x[i];
            y[i] = v > hi ? hi : v;
        }
        break;
    case U_HARDSIGMOID:
    case U_HARDSWISH: {
        float a = p->alpha, b = p->beta;
        for (int64_t i = 0; i < cnt; i++) {
            float v = a * x[i] + b;
            v = v < 0.0f ? 0.0f : v;
            v = v > 1.0f ? 1.0f : v;
            y[i] = p->kind == U_HARDSWISH ? x[i] * v : v;
        }
        break;
    }
    case U_SIGMOID:
        for (int64_t i = 0; i < cnt; i++) {
            /* exp of a non-positive argument only: no overflow. */
            float v = x[i];
            if (v >= 0.0f) y[i] = 1.0f / (1.0f + expf(-v));
            else {
                float e = expf(v);
                y[i] = e / (1.0f + e);
            }
        }
        break;
    case U_TANH: for (int64_t i = 0; i < cnt; i++) y[i] = tanhf(x[i]); break;
    case U_ERF: for (int64_t i = 0; i < cnt; i++) y[i] = erff(x[i]); break;
    case U_SQRT: for (int64_t i = 0; i < cnt; i++) y[i] = sqrtf(x[i]); break;
    case U_EXP: for (int64_t i = 0; i < cnt; i++) y[i] = expf(x[i]); break;
    case U_LOG: for (int64_t i = 0; i < cnt; i++) y[i] = logf(x[i]); break;
    case U_NEG: for (int64_t i = 0; i < cnt; i++) y[i] = -x[i]; break;
    case U_ABS: for (int64_t i = 0; i < cnt; i++) y[i] = fabsf(x[i]); break;
    case U_RECIP: for (int64_t i = 0; i < cnt; i++) y[i] = 1.0f / x[i]; break;
    case U_FLOOR: for (int64_t i = 0; i < cnt; i++) y[i] = floorf(x[i]); break;
    case U_CEIL: for (int64_t i = 0; i < cnt; i++) y[i] = ceilf(x[i]); break;
    case U_ELU: {
        float a = p->alpha;
        for (int64_t i = 0; i < cnt; i++) y[i] = x[i] < 0.0f ? a * expm1f(x[i]) : x[i];
        break;
    }
    case U_CELU: {
        float a = p->alpha;
        for (int64_t i = 0; i < cnt; i++) y[i] = x[i] < 0.0f ? a * expm1f(x[i] / a) : x[i];
        break;
    }
    case U_SELU: {
        float a = p->alpha, gm = p->beta;
        for (int64_t i = 0; i < cnt; i++) y[i] = gm * (x[i] <= 0.0f ? a * expm1f(x[i]) : x[i]);
        break;
    }
    case U_THRELU: {
        float a = p->alpha;
        for (int64_t i = 0; i < cnt; i++) y[i] = x[i] > a ? x[i] : 0.0f;
        break;
    }
    case U_SOFTPLUS:
        /* log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|) */
        for (int64_t i = 0; i < cnt; i++) y[i] = (x[i] > 0.0f ? x[i] : 0.0f) + log1pf(expf(-fabsf(x[i])));
        break;
    case U_SOFTSIGN: for (int64_t i = 0; i < cnt; i++) y[i] = x[i] / (1.0f + fabsf(x[i])); break;
    case U_ROUND: for (int64_t i = 0; i < cnt; i++) y[i] = nearbyintf(x[i]); break; /* half to even */
    case U_SIGN:
        for (int64_t i = 0; i < cnt; i++) y[i] = x[i] > 0.0f ? 1.0f : x[i] < 0.0f ? -1.0f : x[i];
        break;
    case U_SIN: for (int64_t i = 0; i < cnt; i++) y[i] = sinf(x[i]); break;
    case U_COS: for (int64_t i = 0; i < cnt; i++) y[i] = cosf(x[i]); break;
    default: break;
    }
}

#define UN_INT(fname, T, UT)                                                                       \
    static void fname(int kind, T lo, T hi, const T *x, T *y, int64_t cnt)                         \
    {                                                                                              \
        for (int64_t i = 0; i < cnt; i++) {                                                        \
            T v = x[i];                                                                            \
            switch (kind) {                                                                        \
            case U_RELU: v = v < 0 ? 0 : v; break;                                                 \
            case U_NEG: v = (T)(UT)(0 - (UT)v); break;                                             \
            case U_ABS: v = v < 0 ? (T)(UT)(0 - (UT)v) : v; break;                                 \
            case U_CLIP: v = v < lo ? lo : v; v = v > hi ? hi : v; break;                          \
            case U_SIGN: v = (T)((v > 0) - (v < 0)); break;                                        \
            default: break;                                                                        \
            }                                                                                      \
            y[i] = v;                                                                              \
        }                                                                                          \
    }
UN_INT(un_i64, int64_t, uint64_t)
UN_INT(un_i32, int32_t, uint32_t)

static ev_status un_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    const un_params *p = n->params;
    const ev_tensor *x = in[0];
    int64_t cnt = ev_tensor_numel(x);
    int threads = ev_ref_threads(ctx);
    const ev_tensor *tlo = p->clip_inputs ? ev_ref_in(n, in, 1) : NULL;
    const ev_tensor *thi = p->clip_inputs ? ev_ref_in(n, in, 2) : NULL;
    if (tlo && ev_tensor_numel(tlo) == 0) tlo = NULL;
    if (thi && ev_tensor_numel(thi) == 0) thi = NULL;
    int64_t nch = (cnt + BC_CHUNK - 1) / BC_CHUNK;
    int par = threads > 1 && cnt >= (1 << 16);
    if (p->kind == U_NOT) {
        const uint8_t *a = x->data;
        uint8_t *y = out[0]->data;
        for (int64_t i = 0; i < cnt; i++) y[i] = !a[i];
        return EV_OK;
    }
    if (p->kind == U_ISNAN || p->kind == U_ISINF) {
        const float *a = x->data;
        uint8_t *y = out[0]->data;
        int neg = p->alpha != 0.0f, pos = p->beta != 0.0f;
        for (int64_t i = 0; i < cnt; i++)
            y[i] = p->kind == U_ISNAN ? isnan(a[i]) != 0 : isinf(a[i]) && (a[i] > 0 ? pos : neg);
        return EV_OK;
    }
    if (x->dtype == EV_DT_FLOAT) {
        float lo = p->lo, hi = p->hi;
        if (p->clip_inputs) {
            lo = tlo ? ((const float *)tlo->data)[0] : -INFINITY;
            hi = thi ? ((const float *)thi->data)[0] : INFINITY;
        }
        const float *a = x->data;
        float *y = out[0]->data;
#pragma omp parallel for schedule(static) num_threads(threads) if (par)
        for (int64_t c = 0; c < nch; c++) {
            int64_t i0 = c * BC_CHUNK, len = cnt - i0 < BC_CHUNK ? cnt - i0 : BC_CHUNK;
            un_f32(p, lo, hi, a + i0, y + i0, len);
        }
    } else if (x->dtype == EV_DT_INT64) {
        int64_t lo = tlo ? ev_tensor_get_int(tlo, 0) : INT64_MIN, hi = thi ? ev_tensor_get_int(thi, 0) : INT64_MAX;
        if (!p->clip_inputs && p->kind == U_CLIP) return ev_ref_bad_dtype(n, "input", x->dtype, ctx->err);
        un_i64(p->kind, lo, hi, x->data, out[0]->data, cnt);
    } else if (x->dtype == EV_DT_INT32) {
        int32_t lo = tlo ? (int32_t)ev_tensor_get_int(tlo, 0) : INT32_MIN;
        int32_t hi = thi ? (int32_t)ev_tensor_get_int(thi, 0) : INT32_MAX;
        if (!p->clip_inputs && p->kind == U_CLIP) return ev_ref_bad_dtype(n, "input", x->dtype, ctx->err);
        un_i32(p->kind, lo, hi, x->data, out[0]->data, cnt);
    } else {
        return ev_ref_bad_dtype(n, "input", x->dtype, ctx->err);
    }
    return EV_OK;
}

#define UN_OP(name, kind, op, lo, hi)                                                              \
    static ev_status name##_prepare(ev_graph *g, ev_node *n, ev_err *err)                          \
    {                                                                                              \
        return un_prepare_kind(g, n, kind, err);                                                   \
    }                                                                                              \
    const ev_op_def ev_ref_op_##name = {op, lo, hi, 0, name##_prepare, un_infer, un_run, NULL};

/* Opset 6 removed the legacy consumed_inputs attribute; the semantics have
 * not changed since (later versions only added dtypes). */
UN_OP(relu, U_RELU, "Relu", 6, 18)
UN_OP(leakyrelu, U_LEAKY, "LeakyRelu", 6, 18)
UN_OP(clip6, U_CLIP, "Clip", 6, 10)
UN_OP(clip11, U_CLIP, "Clip", 11, 18)
UN_OP(hardswish, U_HARDSWISH, "HardSwish", 14, 18)
UN_OP(hardsigmoid, U_HARDSIGMOID, "HardSigmoid", 6, 18)
UN_OP(sigmoid, U_SIGMOID, "Sigmoid", 6, 18)
UN_OP(tanh, U_TANH, "Tanh", 6, 18)
UN_OP(erf, U_ERF, "Erf", 9, 18)
UN_OP(sqrt, U_SQRT, "Sqrt", 6, 18)
UN_OP(exp, U_EXP, "Exp", 6, 18)
UN_OP(log, U_LOG, "Log", 6, 18)
UN_OP(neg, U_NEG, "Neg", 6, 18)
UN_OP(abs, U_ABS, "Abs", 6, 18)
UN_OP(reciprocal, U_RECIP, "Reciprocal", 6, 18)
UN_OP(floor, U_FLOOR, "Floor", 6, 18)
UN_OP(ceil, U_CEIL, "Ceil", 6, 18)
UN_OP(not, U_NOT, "Not", 1, 18)
UN_OP(elu, U_ELU, "Elu", 6, 18)
UN_OP(selu, U_SELU, "Selu", 6, 18)
UN_OP(celu, U_CELU, "Celu", 12, 18)
UN_OP(thresholdedrelu, U_THRELU, "ThresholdedRelu", 10, 18)
UN_OP(softplus, U_SOFTPLUS, "Softplus", 1, 18)
UN_OP(softsign, U_SOFTSIGN, "Softsign", 1, 18)
UN_OP(round, U_ROUND, "Round", 11, 18)
UN_OP(sign, U_SIGN, "Sign", 9, 18)
UN_OP(sin, U_SIN, "Sin", 7, 18)
UN_OP(cos, U_COS, "Cos", 7, 18)
UN_OP(isnan, U_ISNAN, "IsNaN", 9, 18)
UN_OP(isinf, U_ISINF, "IsInf", 10, 18)

/* ======================================================================== */
/* Cast                                                                      */

typedef struct cast_params {
    ev_dtype to;
} cast_params;

static ev_status cast_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    EV_TRY(ev_ref_arity(n, 1, 1, 1, err));
    const ev_attr *a = ev_attr_find(n, "to");
    if (!a || a->type != EV_ATTR_INT)
        return ev_err_set(err, EV_ERR_FORMAT, "Cast node '%s': missing integer attribute 'to'", EV_LABEL(n));
    if (a->i < 0 || a->i > 64 || !movable_dtype((ev_dtype)a->i))
        return ev_err_set(err, EV_ERR_UNSUPPORTED, "Cast node '%s' (opset %lld): target dtype %s (%lld) is not supported",
                          EV_LABEL(n), (long long)n->opset, ev_dtype_name((ev_dtype)a->i), (long long)a->i);
    cast_params *p = ev_ref_params(g, n, sizeof *p, err);
    if (!p) return EV_ERR_NOMEM;
    p->to = (ev_dtype)a->i;
    n->params = p;
    return EV_OK;
}

static ev_status cast_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    const cast_params *p = n->params;
    if (!movable_dtype(in[0]->dtype)) return ev_ref_bad_dtype(n, "input", in[0]->dtype, err);
    ev_ref_same_shape(out[0], in[0], p->to);
    return EV_OK;
}

/* A scalar in transit: floating values as double, integers as 64 bits. */
typedef struct cval {
    int kind;                      /* 0 floating, 1 signed, 2 unsigned       */
    double f;
    uint64_t u;                    /* bits of the integer (two's complement) */
} cval;

static inline cval cast_load(const void *src, ev_dtype t, int64_t i)
{
    cval v = {1, 0.0, 0};
    switch (t) {
    case EV_DT_FLOAT: v.kind = 0; v.f = ((const float *)src)[i]; break;
    case EV_DT_DOUBLE: v.kind = 0; v.f = ((const double *)src)[i]; break;
    case EV_DT_INT8: v.u = (uint64_t)(int64_t)((const int8_t *)src)[i]; break;
    case EV_DT_INT16: v.u = (uint64_t)(int64_t)((const int16_t *)src)[i]; break;
    case EV_DT_INT32: v.u = (uint64_t)(int64_t)((const int32_t *)src)[i]; break;
    case EV_DT_INT64: v.u = (uint64_t)((const int64_t *)src)[i]; break;
    case EV_DT_UINT8: v.kind = 2; v.u = ((const uint8_t *)src)[i]; break;
    case EV_DT_UINT16: v.kind = 2; v.u = ((const uint16_t *)src)[i]; break;
    case EV_DT_UINT32: v.kind = 2; v.u = ((const uint32_t *)src)[i]; break;
    case EV_DT_UINT64: v.kind = 2; v.u = ((const uint64_t *)src)[i]; break;
    case EV_DT_BOOL: v.kind = 2; v.u = ((const uint8_t *)src)[i] != 0; break;
    default: break;
    }
    return v;
}

/* Floating -> integer: truncate toward zero; NaN gives 0 and out-of-range
 * values saturate (C leaves both undefined; we define them). */
static inline uint64_t f_to_bits(double f, double lo, double hi_excl, uint64_t lo_bits, uint64_t hi_bits)
{
    if (f != f) return 0;
    if (f < lo) return lo_bits;
    if (f >= hi_excl) return hi_bits;
    double t = trunc(f);
    return t < 0 ? (uint64_t)(int64_t)t : (uint64_t)t;
}

static inline void cast_store(void *dst, ev_dtype t, int64_t i, cval v)
{
    double f = v.kind == 0 ? v.f : v.kind == 1 ? (double)(int64_t)v.u : (double)v.u;
    uint64_t b = v.u;
    switch (t) {
    case EV_DT_FLOAT:
        ((float *)dst)[i] = v.kind == 0 ? (float)v.f : v.kind == 1 ? (float)(int64_t)v.u : (float)v.u;
        return;
    case EV_DT_DOUBLE: ((double *)dst)[i] = f; return;
    case EV_DT_BOOL: ((uint8_t *)dst)[i] = v.kind == 0 ? v.f != 0.0 : v.u != 0; return;
    default: break;
    }
    if (v.kind == 0) {
        switch (t) {
        case EV_DT_INT8: b = f_to_bits(f, INT8_MIN, 128.0, (uint64_t)(int64_t)INT8_MIN, INT8_MAX); break;
        case EV_DT_INT16: b = f_to_bits(f, INT16_MIN, 32768.0, (uint64_t)(int64_t)INT16_MIN, INT16_MAX); break;
        case EV_DT_INT32: b = f_to_bits(f, INT32_MIN, 2147483648.0, (uint64_t)(int64_t)INT32_MIN, INT32_MAX); break;
        case EV_DT_INT64:
            b = f_to_bits(f, -9223372036854775808.0, 9223372036854775808.0, (uint64_t)INT64_MIN, INT64_MAX);
            break;
        case EV_DT_UINT8: b = f_to_bits(f, 0.0, 256.0, 0, UINT8_MAX); break;
        case EV_DT_UINT16: b = f_to_bits(f, 0.0, 65536.0, 0, UINT16_MAX); break;
        case EV_DT_UINT32: b = f_to_bits(f, 0.0, 4294967296.0, 0, UINT32_MAX); break;
        case EV_DT_UINT64: b = f_to_bits(f, 0.0, 18446744073709551616.0, 0, UINT64_MAX); break;
        default: break;
        }
    }
    /* Integer -> integer: keep the low bits (two's complement wrap). */
    switch (t) {
    case EV_DT_INT8: ((int8_t *)dst)[i] = (int8_t)(uint8_t)b; break;
    case EV_DT_INT16: ((int16_t *)dst)[i] = (int16_t)(uint16_t)b; break;
    case EV_DT_INT32: ((int32_t *)dst)[i] = (int32_t)(uint32_t)b; break;
    case EV_DT_INT64: ((int64_t *)dst)[i] = (int64_t)b; break;
    case EV_DT_UINT8: ((uint8_t *)dst)[i] = (uint8_t)b; break;
    case EV_DT_UINT16: ((uint16_t *)dst)[i] = (uint16_t)b; break;
    case EV_DT_UINT32: ((uint32_t *)dst)[i] = (uint32_t)b; break;
    case EV_DT_UINT64: ((uint64_t *)dst)[i] = b; break;
    default: break;
    }
}

static ev_status cast_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    const ev_tensor *x = in[0];
    ev_tensor *y = out[0];
    int64_t cnt = ev_tensor_numel(x);
    if (x->dtype == y->dtype) {
        memcpy(y->data, x->data, (size_t)cnt * ev_dtype_size(x->dtype));
        return EV_OK;
    }
    if (x->dtype == EV_DT_FLOAT && y->dtype == EV_DT_INT64) {
        const float *a = x->data;
        int64_t *o = y->data;
        for (int64_t i = 0; i < cnt; i++)
            o[i] = (int64_t)f_to_bits(a[i], -9223372036854775808.0, 9223372036854775808.0, (uint64_t)INT64_MIN,
                                      INT64_MAX);
        return EV_OK;
    }
    if (x->dtype == EV_DT_INT64 && y->dtype == EV_DT_FLOAT) {
        const int64_t *a = x->data;
        float *o = y->data;
        for (int64_t i = 0; i < cnt; i++) o[i] = (float)a[i];
        return EV_OK;
    }
    for (int64_t i = 0; i < cnt; i++) cast_store(y->data, y->dtype, i, cast_load(x->data, x->dtype, i));
    return EV_OK;
}

const ev_op_def ev_ref_op_cast = {"Cast", 6, 18, 0, cast_prepare, cast_infer, cast_run, NULL};
