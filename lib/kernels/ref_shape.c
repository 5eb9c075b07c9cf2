/*
 * lib/kernels/ref_shape.c — reference kernels: shape and data-movement ops.
 *
 * Reshape, Flatten, Transpose, Concat, Split, Slice, Gather, Squeeze,
 * Unsqueeze, Expand, Shape, Size, ConstantOfShape, Pad, Tile, Range,
 * Identity, Dropout (inference), DepthToSpace, SpaceToDepth, GatherElements.
 *
 * Data movement is dtype-agnostic: elements are copied by their size, so every
 * fixed-size dtype works (float32, int64, int32, bool, uint8, ...). Only
 * Range and the Pad/Dropout fill values do arithmetic on element values.
 *
 * Shape-like inputs (Reshape's shape, Slice's starts/ends/axes/steps, Split's
 * split, Squeeze/Unsqueeze axes, Expand's shape, Tile's repeats, Pad's pads,
 * ConstantOfShape's shape, Range's scalars) must be constant when infer()
 * runs: the planner folds shape subgraphs so that they are. A non-constant
 * one is refused with EV_ERR_UNSUPPORTED naming the node and the input.
 *
 * Every op validates its inputs in infer() (ranks, counts, axes, element
 * counts, overflow of the output size); run() re-derives the same geometry
 * from the (then materialised) inputs and checks it against the outputs it
 * was given, so a kernel never reads or writes outside its tensors even if
 * called with inconsistent shapes. Out-of-range Gather indices are an error.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/ir.h"

/* Strided copies may view a tensor with twice its rank (Tile, DepthToSpace). */
#define SH_MAX_VIEW (2 * EV_MAX_RANK)

/* ======================================================================== */
/* helpers                                                                  */
/* ======================================================================== */

/* "Reshape node 'name' (opset 13): <problem>" */
static ev_status EV_PRINTF(4, 5) op_fail(ev_err *err, ev_status code, const ev_node *n, const char *fmt, ...)
{
    char label[160];
    char msg[EV_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ev_err_set(err, code, "%s node '%s' (opset %lld): %s", n->op_type,
                      ev_node_label(n, label, sizeof label), (long long)n->opset, msg);
}

/* Optional input/output access: NULL when omitted or beyond the count. */
static const ev_tensor *opt_in(const ev_node *n, const ev_tensor *const *in, int i)
{
    return (i < n->n_in) ? in[i] : NULL;
}
static ev_tensor *opt_out(const ev_node *n, ev_tensor *const *out, int i)
{
    return (i < n->n_out) ? out[i] : NULL;
}

static int node_has_in(const ev_node *n, int i) { return i < n->n_in && n->in[i] >= 0; }

/* Arity check shared by prepare(): inputs [min_in, max_in] with the first
 * `required` present, outputs [1, max_out] with output 0 present. */
static ev_status check_arity(const ev_node *n, int min_in, int max_in, int required, int max_out, ev_err *err)
{
    if (n->n_in < min_in || n->n_in > max_in)
        return op_fail(err, EV_ERR_SHAPE, n, "expects %d to %d inputs, got %d", min_in, max_in, n->n_in);
    for (int i = 0; i < required; i++)
        if (n->in[i] < 0) return op_fail(err, EV_ERR_SHAPE, n, "required input %d is missing", i);
    if (n->n_out < 1 || n->n_out > max_out)
        return op_fail(err, EV_ERR_SHAPE, n, "expects 1 to %d outputs, got %d", max_out, n->n_out);
    if (n->out[0] < 0) return op_fail(err, EV_ERR_SHAPE, n, "output 0 is missing");
    return EV_OK;
}

/* Element size of a tensor that is moved around; refuses strings/unknown. */
static ev_status elem_size(const ev_node *n, const ev_tensor *t, const char *what, size_t *esz, ev_err *err)
{
    size_t s = ev_dtype_size(t->dtype);
    if (s == 0 || t->dtype == EV_DT_STRING)
        return op_fail(err, EV_ERR_UNSUPPORTED, n, "%s has unsupported dtype %s", what, ev_dtype_name(t->dtype));
    *esz = s;
    return EV_OK;
}

/* Checked product of dims[0..rank). */
static ev_status dims_numel(const ev_node *n, int rank, const int64_t *dims, int64_t *numel, ev_err *err)
{
    int64_t p = 1;
    for (int k = 0; k < rank; k++) {
        if (dims[k] < 0) return op_fail(err, EV_ERR_SHAPE, n, "negative dimension %lld", (long long)dims[k]);
        if (!ev_mul_i64(p, dims[k], &p))
            return op_fail(err, EV_ERR_LIMIT, n, "element count overflows");
    }
    *numel = p;
    return EV_OK;
}

/* Set an output's type; checks the element count and byte size fit. */
static ev_status set_out(const ev_node *n, ev_tensor *o, ev_dtype dt, int rank, const int64_t *dims, ev_err *err)
{
    int64_t numel, bytes;
    if (!o) return EV_OK;
    if (rank < 0 || rank > EV_MAX_RANK)
        return op_fail(err, EV_ERR_UNSUPPORTED, n, "output rank %d exceeds the maximum %d", rank, EV_MAX_RANK);
    EV_TRY(dims_numel(n, rank, dims, &numel, err));
    if (!ev_mul_i64(numel, (int64_t)(ev_dtype_size(dt) ? ev_dtype_size(dt) : 1), &bytes) ||
        (uint64_t)bytes > (uint64_t)SIZE_MAX)
        return op_fail(err, EV_ERR_LIMIT, n, "output byte size overflows");
    o->dtype = dt;
    o->rank = rank;
    for (int k = 0; k < rank; k++) o->dims[k] = dims[k];
    for (int k = rank; k < EV_MAX_RANK; k++) o->dims[k] = 0;
    return EV_OK;
}

/* run(): the output must have exactly the shape infer() would give. */
static ev_status check_out(const ev_node *n, const ev_tensor *o, ev_dtype dt, int rank, const int64_t *dims, ev_err *err)
{
    if (!o) return EV_OK;
    if (o->dtype != dt || o->rank != rank)
        return op_fail(err, EV_ERR_INTERNAL, n, "output tensor does not match the inferred type/rank");
    for (int k = 0; k < rank; k++)
        if (o->dims[k] != dims[k])
            return op_fail(err, EV_ERR_INTERNAL, n, "output dimension %d is %lld, expected %lld", k,
                           (long long)o->dims[k], (long long)dims[k]);
    if (!o->data) {
        int64_t ne = 1;
        for (int k = 0; k < rank; k++) ne *= dims[k];
        if (ne > 0) return op_fail(err, EV_ERR_INTERNAL, n, "output tensor has no data");
    }
    return EV_OK;
}

static int64_t row_numel(const ev_tensor *t, int from, int to) /* dims[from..to) */
{
    int64_t p = 1;
    for (int k = from; k < to; k++) p *= t->dims[k];
    return p;
}

/* Normalise an axis into [0, rank) (or [0, rank] when inclusive). */
static ev_status norm_axis(const ev_node *n, int64_t axis, int rank, int inclusive, const char *what, int *out,
                           ev_err *err)
{
    /* Negative axes count from the end: -1 is the last axis (for the
     * inclusive form, e.g. Flatten, -1 is still rank-1). */
    int64_t hi = inclusive ? rank : rank - 1;
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a > hi)
        return op_fail(err, EV_ERR_SHAPE, n, "%s %lld is out of range for rank %d", what, (long long)axis, rank);
    *out = (int)a;
    return EV_OK;
}

static int is_int_index_dtype(ev_dtype dt) { return dt == EV_DT_INT64 || dt == EV_DT_INT32; }

static int64_t get_int(const ev_tensor *t, int64_t i)
{
    if (t->dtype == EV_DT_INT64) return ((const int64_t *)t->data)[i];
    return ((const int32_t *)t->data)[i];
}

/* Read a constant 1-D (or scalar) int32/int64 input into vals[0..*count).
 * A missing input is an error unless `optional` (then *count = -1). */
static ev_status const_ints(const ev_node *n, const ev_tensor *t, const char *what, int optional, int64_t maxn,
                            int64_t *vals, int64_t *count, ev_err *err)
{
    int64_t ne;
    if (!t) {
        if (optional) {
            *count = -1;
            return EV_OK;
        }
        return op_fail(err, EV_ERR_SHAPE, n, "input '%s' is missing", what);
    }
    if (!is_int_index_dtype(t->dtype))
        return op_fail(err, EV_ERR_SHAPE, n, "input '%s' must be int64 or int32, got %s", what,
                       ev_dtype_name(t->dtype));
    if (t->rank > 1)
        return op_fail(err, EV_ERR_SHAPE, n, "input '%s' must be 1-D, got rank %d", what, t->rank);
    ne = t->rank == 0 ? 1 : t->dims[0];
    if (ne > maxn)
        return op_fail(err, EV_ERR_SHAPE, n, "input '%s' has %lld values, at most %lld allowed", what, (long long)ne,
                       (long long)maxn);
    if (ne > 0 && !t->data)
        return op_fail(err, EV_ERR_UNSUPPORTED, n,
                       "input '%s' is not a constant at plan time (it must be computable from shapes and "
                       "initializers)",
                       what);
    for (int64_t i = 0; i < ne; i++) vals[i] = get_int(t, i);
    *count = ne;
    return EV_OK;
}

/* Normalise a list of axes (unique) against `rank`; marks[] set per axis. */
static ev_status norm_axes(const ev_node *n, const int64_t *axes, int64_t cnt, int rank, const char *what,
                           int *out_axes, ev_err *err)
{
    int seen[SH_MAX_VIEW] = {0};
    for (int64_t i = 0; i < cnt; i++) {
        int a = 0;
        EV_TRY(norm_axis(n, axes[i], rank, 0, what, &a, err));
        if (seen[a]) return op_fail(err, EV_ERR_SHAPE, n, "%s %lld is repeated", what, (long long)axes[i]);
        seen[a] = 1;
        out_axes[i] = a;
    }
    return EV_OK;
}

/* Store value v converted to dtype dt at p (fill values, Range, masks). */
static ev_status store_scalar(const ev_node *n, ev_dtype dt, void *p, double v, ev_err *err)
{
    switch (dt) {
    case EV_DT_FLOAT: { float x = (float)v; memcpy(p, &x, sizeof x); break; }
    case EV_DT_DOUBLE: memcpy(p, &v, sizeof v); break;
    case EV_DT_INT64: { int64_t x = (int64_t)v; memcpy(p, &x, sizeof x); break; }
    case EV_DT_INT32: { int32_t x = (int32_t)v; memcpy(p, &x, sizeof x); break; }
    case EV_DT_INT16: { int16_t x = (int16_t)v; memcpy(p, &x, sizeof x); break; }
    case EV_DT_INT8: { int8_t x = (int8_t)v; memcpy(p, &x, sizeof x); break; }
    case EV_DT_UINT64: { uint64_t x = (uint64_t)v; memcpy(p, &x, sizeof x); break; }
    case EV_DT_UINT32: { uint32_t x = (uint32_t)v; memcpy(p, &x, sizeof x); break; }
    case EV_DT_UINT16: { uint16_t x = (uint16_t)v; memcpy(p, &x, sizeof x); break; }
    case EV_DT_UINT8: { uint8_t x = (uint8_t)v; memcpy(p, &x, sizeof x); break; }
    case EV_DT_BOOL: { uint8_t x = v != 0.0; memcpy(p, &x, sizeof x); break; }
    default:
        return op_fail(err, EV_ERR_UNSUPPORTED, n, "cannot produce a %s value", ev_dtype_name(dt));
    }
    return EV_OK;
}

/* Fill `count` elements of size esz with the element at val. */
static void fill_elems(void *dst, const void *val, size_t esz, int64_t count)
{
    char *d = dst;
    int allzero = 1;
    for (size_t b = 0; b < esz; b++)
        if (((const unsigned char *)val)[b]) allzero = 0;
    if (allzero) {
        memset(dst, 0, (size_t)count * esz);
        return;
    }
    for (int64_t i = 0; i < count; i++) memcpy(d + (size_t)i * esz, val, esz);
}

/* Copy a whole tensor's bytes (may alias: Reshape in place). */
static void copy_all(void *dst, const void *src, int64_t numel, size_t esz)
{
    if (numel <= 0 || dst == src) return;
    memmove(dst, src, (size_t)numel * esz);
}

#define COPY_RUN(T)                                                                                            \
    do {                                                                                                       \
        T *dd_ = (T *)(void *)d;                                                                               \
        const T *ss_ = (const T *)(const void *)s + soff;                                                      \
        for (int64_t j_ = 0; j_ < inner; j_++) dd_[j_] = ss_[j_ * ist];                                        \
    } while (0)

/* Dense dst[rank dims] <- src viewed with per-axis element strides st
 * (any sign, 0 = broadcast) starting at element offset `off`. */
static void strided_copy(void *dst, const void *src, size_t esz, int rank, const int64_t *dims, const int64_t *st,
                         int64_t off)
{
    int64_t total = 1, inner, ist, soff = off;
    int64_t idx[SH_MAX_VIEW] = {0};
    char *d = dst;
    const char *s = src;
    for (int k = 0; k < rank; k++) total *= dims[k];
    if (total <= 0) return;
    if (rank == 0) {
        memcpy(d, s + (size_t)off * esz, esz);
        return;
    }
    inner = dims[rank - 1];
    ist = st[rank - 1];
    for (int64_t done = 0; done < total; done += inner) {
        if (ist == 1) {
            memcpy(d, s + (size_t)soff * esz, (size_t)inner * esz);
        } else {
            switch (esz) {
            case 1: COPY_RUN(uint8_t); break;
            case 2: COPY_RUN(uint16_t); break;
            case 4: COPY_RUN(uint32_t); break;
            case 8: COPY_RUN(uint64_t); break;
            default:
                for (int64_t j = 0; j < inner; j++) memcpy(d + (size_t)j * esz, s + (size_t)(soff + j * ist) * esz, esz);
            }
        }
        d += (size_t)inner * esz;
        for (int k = rank - 2; k >= 0; k--) {
            soff += st[k];
            if (++idx[k] < dims[k]) break;
            soff -= st[k] * dims[k];
            idx[k] = 0;
        }
    }
}

/* Row-major element strides of dims[0..rank). */
static void dense_strides(int rank, const int64_t *dims, int64_t *st)
{
    int64_t s = 1;
    for (int k = rank - 1; k >= 0; k--) {
        st[k] = s;
        s *= dims[k];
    }
}

/* dst = transpose(src viewed as vdims[0..rank), perm). */
static void permute_copy(void *dst, const void *src, size_t esz, int rank, const int64_t *vdims, const int *perm)
{
    int64_t vst[SH_MAX_VIEW], od[SH_MAX_VIEW], ost[SH_MAX_VIEW];
    dense_strides(rank, vdims, vst);
    for (int k = 0; k < rank; k++) {
        od[k] = vdims[perm[k]];
        ost[k] = vst[perm[k]];
    }
    strided_copy(dst, src, esz, rank, od, ost, 0);
}

static ev_status alloc_params(ev_graph *g, ev_node *n, size_t size, void **p, ev_err *err)
{
    *p = ev_arena_alloc(&g->arena, size);
    if (!*p) return op_fail(err, EV_ERR_NOMEM, n, "out of memory for parameters");
    n->params = *p;
    return EV_OK;
}

/* An INTS attribute must not be absurdly long (bounded by the rank). */
static ev_status attr_ints_bounded(const ev_node *n, const char *name, int64_t maxn, const int64_t **v, int64_t *cnt,
                                   ev_err *err)
{
    const ev_attr *a = ev_attr_find(n, name);
    *v = NULL;
    *cnt = 0;
    if (!a) return EV_OK;
    if (a->type != EV_ATTR_INTS)
        return op_fail(err, EV_ERR_SHAPE, n, "attribute '%s' must be a list of ints", name);
    if (a->n > maxn)
        return op_fail(err, EV_ERR_SHAPE, n, "attribute '%s' has %lld values, at most %lld allowed", name,
                       (long long)a->n, (long long)maxn);
    *v = a->ints;
    *cnt = a->n;
    return EV_OK;
}

static ev_status attr_int_typed(const ev_node *n, const char *name, int64_t def, int64_t *v, int *present,
                                ev_err *err)
{
    const ev_attr *a = ev_attr_find(n, name);
    if (present) *present = a != NULL;
    if (!a) {
        *v = def;
        return EV_OK;
    }
    if (a->type != EV_ATTR_INT) return op_fail(err, EV_ERR_SHAPE, n, "attribute '%s' must be an int", name);
    *v = a->i;
    return EV_OK;
}

/* ======================================================================== */
/* Identity, Dropout                                                        */
/* ======================================================================== */

static ev_status identity_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    (void)g;
    return check_arity(n, 1, 1, 1, 1, err);
}

static ev_status copy_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    size_t esz = 0;
    EV_TRY(elem_size(n, in[0], "input", &esz, err));
    return set_out(n, out[0], in[0]->dtype, in[0]->rank, in[0]->dims, err);
}

static ev_status copy_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    size_t esz = 0;
    EV_TRY(elem_size(n, in[0], "input", &esz, ctx->err));
    EV_TRY(check_out(n, out[0], in[0]->dtype, in[0]->rank, in[0]->dims, ctx->err));
    copy_all(out[0]->data, in[0]->data, ev_tensor_numel(in[0]), esz);
    return EV_OK;
}

static const ev_op_def op_identity = {"Identity", 1, 18, 0, identity_prepare, copy_infer, copy_run, NULL};

typedef struct dropout_params {
    float ratio; /* attribute (opset < 12) */
} dropout_params;

static ev_status dropout_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    dropout_params *p;
    if (n->opset >= 12) {
        EV_TRY(check_arity(n, 1, 3, 1, 2, err));
    } else {
        EV_TRY(check_arity(n, 1, 1, 1, 2, err));
    }
    EV_TRY(alloc_params(g, n, sizeof *p, (void **)&p, err));
    p->ratio = ev_attr_float(n, "ratio", 0.5f);
    return EV_OK;
}

/* Training mode is only supported when it is a no-op (ratio 0). Returns
 * EV_OK and *known = 0 when the flag is not yet known (non-constant). */
static ev_status dropout_check_mode(const ev_node *n, const ev_tensor *const *in, ev_err *err)
{
    const ev_tensor *tm = opt_in(n, in, 2), *rt = opt_in(n, in, 1);
    double ratio = 0.5;
    if (!tm) return EV_OK;
    if (tm->dtype != EV_DT_BOOL || ev_tensor_numel(tm) != 1)
        return op_fail(err, EV_ERR_SHAPE, n, "training_mode must be a bool scalar");
    if (!tm->data || !((const uint8_t *)tm->data)[0]) return EV_OK;
    if (rt) {
        if (ev_tensor_numel(rt) != 1) return op_fail(err, EV_ERR_SHAPE, n, "ratio must be a scalar");
        if (!rt->data) return op_fail(err, EV_ERR_UNSUPPORTED, n, "training mode with a non-constant ratio");
        if (rt->dtype == EV_DT_FLOAT) ratio = ((const float *)rt->data)[0];
        else if (rt->dtype == EV_DT_DOUBLE) ratio = ((const double *)rt->data)[0];
        else return op_fail(err, EV_ERR_UNSUPPORTED, n, "ratio of dtype %s", ev_dtype_name(rt->dtype));
    }
    if (ratio != 0.0)
        return op_fail(err, EV_ERR_UNSUPPORTED, n,
                       "training mode (random dropout, ratio %g) is not supported; export the model in eval mode",
                       ratio);
    return EV_OK;
}

static ev_dtype dropout_mask_dtype(const ev_node *n, const ev_tensor *x)
{
    return n->opset >= 10 ? EV_DT_BOOL : x->dtype; /* Dropout-7: mask is T */
}

static ev_status dropout_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    EV_TRY(copy_infer(n, in, out, err));
    EV_TRY(dropout_check_mode(n, in, err));
    return set_out(n, opt_out(n, out, 1), dropout_mask_dtype(n, in[0]), in[0]->rank, in[0]->dims, err);
}

static ev_status dropout_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    ev_tensor *mask = opt_out(n, out, 1);
    EV_TRY(dropout_check_mode(n, in, ctx->err));
    EV_TRY(copy_run(n, in, out, ctx));
    if (mask) {
        ev_dtype mdt = dropout_mask_dtype(n, in[0]);
        size_t msz = ev_dtype_size(mdt);
        unsigned char one[16];
        EV_TRY(check_out(n, mask, mdt, in[0]->rank, in[0]->dims, ctx->err));
        if (msz == 0 || msz > sizeof one) return op_fail(ctx->err, EV_ERR_UNSUPPORTED, n, "mask dtype");
        EV_TRY(store_scalar(n, mdt, one, 1.0, ctx->err));
        fill_elems(mask->data, one, msz, ev_tensor_numel(mask));
    }
    return EV_OK;
}

static const ev_op_def op_dropout = {"Dropout", 7, 18, 0, dropout_prepare, dropout_infer, dropout_run, NULL};

/* ======================================================================== */
/* Reshape, Flatten                                                         */
/* ======================================================================== */

typedef struct reshape_params {
    int allowzero;
} reshape_params;

static ev_status reshape_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    reshape_params *p;
    int64_t az = 0;
    EV_TRY(check_arity(n, 2, 2, 2, 1, err));
    EV_TRY(alloc_params(g, n, sizeof *p, (void **)&p, err));
    if (n->opset >= 14) EV_TRY(attr_int_typed(n, "allowzero", 0, &az, NULL, err));
    if (az != 0 && az != 1) return op_fail(err, EV_ERR_SHAPE, n, "allowzero must be 0 or 1, got %lld", (long long)az);
    p->allowzero = (int)az;
    return EV_OK;
}

static ev_status reshape_dims(const ev_node *n, const ev_tensor *const *in, int *rank, int64_t *dims, ev_err *err)
{
    const reshape_params *p = n->params;
    const ev_tensor *x = in[0];
    int64_t shp[EV_MAX_RANK], cnt, in_numel, known = 1;
    int neg = -1, has_zero = 0;
    EV_TRY(const_ints(n, in[1], "shape", 0, EV_MAX_RANK, shp, &cnt, err));
    if (in[1]->rank != 1) return op_fail(err, EV_ERR_SHAPE, n, "shape must be 1-D, got rank %d", in[1]->rank);
    EV_TRY(dims_numel(n, x->rank, x->dims, &in_numel, err));
    for (int64_t i = 0; i < cnt; i++) {
        int64_t v = shp[i];
        if (v == -1) {
            if (neg >= 0) return op_fail(err, EV_ERR_SHAPE, n, "shape has more than one -1");
            neg = (int)i;
            dims[i] = 1;
            continue;
        }
        if (v < -1) return op_fail(err, EV_ERR_SHAPE, n, "shape[%lld] = %lld is invalid", (long long)i, (long long)v);
        if (v == 0) {
            has_zero = 1;
            if (!p->allowzero) {
                if (i >= x->rank)
                    return op_fail(err, EV_ERR_SHAPE, n,
                                   "shape[%lld] = 0 copies input dimension %lld, but the input has rank %d",
                                   (long long)i, (long long)i, x->rank);
                v = x->dims[i];
            }
        }
        dims[i] = v;
        if (!ev_mul_i64(known, v, &known)) return op_fail(err, EV_ERR_LIMIT, n, "target element count overflows");
    }
    if (neg >= 0) {
        if (p->allowzero && has_zero)
            return op_fail(err, EV_ERR_SHAPE, n, "shape contains both -1 and 0 with allowzero=1");
        if (known == 0)
            return op_fail(err, EV_ERR_SHAPE, n, "cannot infer the -1 dimension: the other dimensions multiply to 0");
        if (in_numel % known != 0)
            return op_fail(err, EV_ERR_SHAPE, n, "cannot reshape %lld elements with -1 (other dims multiply to %lld)",
                           (long long)in_numel, (long long)known);
        dims[neg] = in_numel / known;
        known = in_numel;
    }
    if (known != in_numel)
        return op_fail(err, EV_ERR_SHAPE, n, "cannot reshape %lld elements into a shape of %lld elements",
                       (long long)in_numel, (long long)known);
    *rank = (int)cnt;
    return EV_OK;
}

static ev_status reshape_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    int64_t dims[EV_MAX_RANK];
    int rank;
    size_t esz = 0;
    EV_TRY(elem_size(n, in[0], "data", &esz, err));
    EV_TRY(reshape_dims(n, in, &rank, dims, err));
    return set_out(n, out[0], in[0]->dtype, rank, dims, err);
}

static ev_status reshape_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    int64_t dims[EV_MAX_RANK];
    int rank;
    size_t esz = 0;
    EV_TRY(elem_size(n, in[0], "data", &esz, ctx->err));
    EV_TRY(reshape_dims(n, in, &rank, dims, ctx->err));
    EV_TRY(check_out(n, out[0], in[0]->dtype, rank, dims, ctx->err));
    copy_all(out[0]->data, in[0]->data, ev_tensor_numel(in[0]), esz);
    return EV_OK;
}

static const ev_op_def op_reshape = {"Reshape", 5, 18, 0, reshape_prepare, reshape_infer, reshape_run, NULL};

typedef struct axis_params {
    int64_t axis;
} axis_params;

static ev_status flatten_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    axis_params *p;
    EV_TRY(check_arity(n, 1, 1, 1, 1, err));
    EV_TRY(alloc_params(g, n, sizeof *p, (void **)&p, err));
    return attr_int_typed(n, "axis", 1, &p->axis, NULL, err);
}

static ev_status flatten_dims(const ev_node *n, const ev_tensor *x, int64_t *dims, ev_err *err)
{
    const axis_params *p = n->params;
    int a = 0;
    EV_TRY(norm_axis(n, p->axis, x->rank, 1, "axis", &a, err));
    EV_TRY(dims_numel(n, a, x->dims, &dims[0], err));
    return dims_numel(n, x->rank - a, x->dims + a, &dims[1], err);
}

static ev_status flatten_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    int64_t dims[2];
    size_t esz = 0;
    EV_TRY(elem_size(n, in[0], "input", &esz, err));
    EV_TRY(flatten_dims(n, in[0], dims, err));
    return set_out(n, out[0], in[0]->dtype, 2, dims, err);
}

static ev_status flatten_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    int64_t dims[2];
    size_t esz = 0;
    EV_TRY(elem_size(n, in[0], "input", &esz, ctx->err));
    EV_TRY(flatten_dims(n, in[0], dims, ctx->err));
    EV_TRY(check_out(n, out[0], in[0]->dtype, 2, dims, ctx->err));
    copy_all(out[0]->data, in[0]->data, ev_tensor_numel(in[0]), esz);
    return EV_OK;
}

static const ev_op_def op_flatten = {"Flatten", 1, 18, 0, flatten_prepare, flatten_infer, flatten_run, NULL};

/* ======================================================================== */
/* Squeeze, Unsqueeze                                                       */
/* ======================================================================== */

typedef struct axes_params {
    const int64_t *axes; /* attribute form (opset < 13) */
    int64_t n_axes;
    int has_axes;
} axes_params;

static ev_status squeeze_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    axes_params *p;
    int unsq = strcmp(n->op_type, "Unsqueeze") == 0;
    if (n->opset >= 13) {
        EV_TRY(check_arity(n, unsq ? 2 : 1, 2, unsq ? 2 : 1, 1, err));
    } else {
        EV_TRY(check_arity(n, 1, 1, 1, 1, err));
    }
    EV_TRY(alloc_params(g, n, sizeof *p, (void **)&p, err));
    if (n->opset < 13) {
        EV_TRY(attr_ints_bounded(n, "axes", 2 * EV_MAX_RANK, &p->axes, &p->n_axes, err));
        p->has_axes = ev_attr_find(n, "axes") != NULL;
        if (unsq && !p->has_axes) return op_fail(err, EV_ERR_SHAPE, n, "attribute 'axes' is required");
    }
    return EV_OK;
}

/* Axes (raw, not normalised) from the attribute or input 1; *cnt = -1 when
 * absent (Squeeze: all size-1 dims). */
static ev_status squeeze_axes(const ev_node *n, const ev_tensor *const *in, int64_t *axes, int64_t *cnt, ev_err *err)
{
    const axes_params *p = n->params;
    if (n->opset < 13) {
        if (!p->has_axes) {
            *cnt = -1;
            return EV_OK;
        }
        memcpy(axes, p->axes, (size_t)p->n_axes * sizeof *axes);
        *cnt = p->n_axes;
        return EV_OK;
    }
    return const_ints(n, opt_in(n, in, 1), "axes", 1, 2 * EV_MAX_RANK, axes, cnt, err);
}

static ev_status squeeze_dims(const ev_node *n, const ev_tensor *const *in, int *rank, int64_t *dims, ev_err *err)
{
    const ev_tensor *x = in[0];
    int64_t axes[2 * EV_MAX_RANK], cnt;
    int na[2 * EV_MAX_RANK], drop[EV_MAX_RANK] = {0}, r = 0;
    EV_TRY(squeeze_axes(n, in, axes, &cnt, err));
    if (cnt < 0) {
        for (int k = 0; k < x->rank; k++) drop[k] = x->dims[k] == 1;
    } else {
        EV_TRY(norm_axes(n, axes, cnt, x->rank, "axis", na, err));
        for (int64_t i = 0; i < cnt; i++) {
            if (x->dims[na[i]] != 1)
                return op_fail(err, EV_ERR_SHAPE, n, "cannot squeeze axis %d of size %lld", na[i],
                               (long long)x->dims[na[i]]);
            drop[na[i]] = 1;
        }
    }
    for (int k = 0; k < x->rank; k++)
        if (!drop[k]) dims[r++] = x->dims[k];
    *rank = r;
    return EV_OK;
}

static ev_status unsqueeze_dims(const ev_node *n, const ev_tensor *const *in, int *rank, int64_t *dims, ev_err *err)
{
    const ev_tensor *x = in[0];
    int64_t axes[2 * EV_MAX_RANK], cnt, out_rank;
    int na[2 * EV_MAX_RANK], ins[SH_MAX_VIEW] = {0}, j = 0;
    EV_TRY(squeeze_axes(n, in, axes, &cnt, err));
    if (cnt < 0) return op_fail(err, EV_ERR_SHAPE, n, "axes are required");
    out_rank = x->rank + cnt;
    if (out_rank > EV_MAX_RANK)
        return op_fail(err, EV_ERR_UNSUPPORTED, n, "output rank %lld exceeds the maximum %d", (long long)out_rank,
                       EV_MAX_RANK);
    EV_TRY(norm_axes(n, axes, cnt, (int)out_rank, "axis", na, err));
    for (int64_t i = 0; i < cnt; i++) ins[na[i]] = 1;
    for (int k = 0; k < out_rank; k++) dims[k] = ins[k] ? 1 : x->dims[j++];
    *rank = (int)out_rank;
    return EV_OK;
}

static ev_status squeeze_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    int64_t dims[EV_MAX_RANK];
    int rank;
    size_t esz = 0;
    EV_TRY(elem_size(n, in[0], "data", &esz, err));
    if (strcmp(n->op_type, "Unsqueeze") == 0) EV_TRY(unsqueeze_dims(n, in, &rank, dims, err));
    else EV_TRY(squeeze_dims(n, in, &rank, dims, err));
    return set_out(n, out[0], in[0]->dtype, rank, dims, err);
}

static ev_status squeeze_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    int64_t dims[EV_MAX_RANK];
    int rank;
    size_t esz = 0;
    EV_TRY(elem_size(n, in[0], "data", &esz, ctx->err));
    if (strcmp(n->op_type, "Unsqueeze") == 0) EV_TRY(unsqueeze_dims(n, in, &rank, dims, ctx->err));
    else EV_TRY(squeeze_dims(n, in, &rank, dims, ctx->err));
    EV_TRY(check_out(n, out[0], in[0]->dtype, rank, dims, ctx->err));
    copy_all(out[0]->data, in[0]->data, ev_tensor_numel(in[0]), esz);
    return EV_OK;
}

static const ev_op_def op_squeeze = {"Squeeze", 1, 18, 0, squeeze_prepare, squeeze_infer, squeeze_run, NULL};
static const ev_op_def op_unsqueeze = {"Unsqueeze", 1, 18, 0, squeeze_prepare, squeeze_infer, squeeze_run, NULL};

/* ======================================================================== */
/* Transpose                                                                */
/* ======================================================================== */

typedef struct transpose_params {
    const int64_t *perm;
    int64_t n_perm;
    int has_perm;
} transpose_params;

static ev_status transpose_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    transpose_params *p;
    EV_TRY(check_arity(n, 1, 1, 1, 1, err));
    EV_TRY(alloc_params(g, n, sizeof *p, (void **)&p, err));
    EV_TRY(attr_ints_bounded(n, "perm", EV_MAX_RANK, &p->perm, &p->n_perm, err));
    p->has_perm = ev_attr_find(n, "perm") != NULL;
    return EV_OK;
}

static ev_status transpose_perm(const ev_node *n, const ev_tensor *x, int *perm, int64_t *dims, ev_err *err)
{
    const transpose_params *p = n->params;
    int seen[EV_MAX_RANK] = {0};
    if (!p->has_perm) {
        for (int k = 0; k < x->rank; k++) perm[k] = x->rank - 1 - k;
    } else {
        if (p->n_perm != x->rank)
            return op_fail(err, EV_ERR_SHAPE, n, "perm has %lld entries but the input has rank %d",
                           (long long)p->n_perm, x->rank);
        for (int k = 0; k < x->rank; k++) {
            int64_t v = p->perm[k];
            if (v < 0 || v >= x->rank || seen[v])
                return op_fail(err, EV_ERR_SHAPE, n, "perm is not a permutation of 0..%d (entry %d = %lld)",
                               x->rank - 1, k, (long long)v);
            seen[v] = 1;
            perm[k] = (int)v;
        }
    }
    for (int k = 0; k < x->rank; k++) dims[k] = x->dims[perm[k]];
    return EV_OK;
}

static ev_status transpose_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    int perm[EV_MAX_RANK];
    int64_t dims[EV_MAX_RANK];
    size_t esz = 0;
    EV_TRY(elem_size(n, in[0], "data", &esz, err));
    EV_TRY(transpose_perm(n, in[0], perm, dims, err));
    return set_out(n, out[0], in[0]->dtype, in[0]->rank, dims, err);
}

static ev_status transpose_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    int perm[EV_MAX_RANK];
    int64_t dims[EV_MAX_RANK];
    size_t esz = 0;
    EV_TRY(elem_size(n, in[0], "data", &esz, ctx->err));
    EV_TRY(transpose_perm(n, in[0], perm, dims, ctx->err));
    EV_TRY(check_out(n, out[0], in[0]->dtype, in[0]->rank, dims, ctx->err));
    if (out[0]->data == in[0]->data && ev_tensor_numel(in[0]) > 1)
        return op_fail(ctx->err, EV_ERR_INTERNAL, n, "cannot transpose in place");
    permute_copy(out[0]->data, in[0]->data, esz, in[0]->rank, in[0]->dims, perm);
    return EV_OK;
}

static const ev_op_def op_transpose = {"Transpose", 1, 18, 0, transpose_prepare, transpose_infer, transpose_run, NULL};

/* ======================================================================== */
/* Concat                                                                   */
/* ======================================================================== */

static ev_status concat_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    axis_params *p;
    int present;
    if (n->n_in < 1) return op_fail(err, EV_ERR_SHAPE, n, "expects at least one input");
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] < 0) return op_fail(err, EV_ERR_SHAPE, n, "input %d is missing", i);
    EV_TRY(check_arity(n, n->n_in, n->n_in, n->n_in, 1, err));
    EV_TRY(alloc_params(g, n, sizeof *p, (void **)&p, err));
    /* Concat-1 defaults to axis 1; from opset 4 the axis is required. */
    EV_TRY(attr_int_typed(n, "axis", 1, &p->axis, &present, err));
    if (!present && n->opset >= 4) return op_fail(err, EV_ERR_SHAPE, n, "attribute 'axis' is required");
    return EV_OK;
}

static ev_status concat_dims(const ev_node *n, const ev_tensor *const *in, int *axis, int64_t *dims, ev_err *err)
{
    const axis_params *p = n->params;
    const ev_tensor *x0 = in[0];
    int a = 0;
    size_t esz = 0;
    if (!x0) return op_fail(err, EV_ERR_SHAPE, n, "input 0 is missing");
    EV_TRY(elem_size(n, x0, "input 0", &esz, err));
    if (x0->rank < 1) return op_fail(err, EV_ERR_SHAPE, n, "cannot concatenate scalars");
    EV_TRY(norm_axis(n, p->axis, x0->rank, 0, "axis", &a, err));
    for (int k = 0; k < x0->rank; k++) dims[k] = x0->dims[k];
    for (int i = 1; i < n->n_in; i++) {
        const ev_tensor *t = in[i];
        if (!t) return op_fail(err, EV_ERR_SHAPE, n, "input %d is missing", i);
        if (t->dtype != x0->dtype)
            return op_fail(err, EV_ERR_SHAPE, n, "input %d has dtype %s, input 0 has %s", i, ev_dtype_name(t->dtype),
                           ev_dtype_name(x0->dtype));
        if (t->rank != x0->rank)
            return op_fail(err, EV_ERR_SHAPE, n, "input %d has rank %d, input 0 has rank %d", i, t->rank, x0->rank);
        for (int k = 0; k < x0->rank; k++) {
            if (k == a) continue;
            if (t->dims[k] != x0->dims[k])
                return op_fail(err, EV_ERR_SHAPE, n, "input %d has dimension %d = %lld, input 0 has %lld", i, k,
                               (long long)t->dims[k], (long long)x0->dims[k]);
        }
        if (!ev_add_i64(dims[a], t->dims[a], &dims[a]))
            return op_fail(err, EV_ERR_LIMIT, n, "concatenated dimension overflows");
    }
    *axis = a;
    return EV_OK;
}

static ev_status concat_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    int64_t dims[EV_MAX_RANK];
    int a = 0;
    EV_TRY(concat_dims(n, in, &a, dims, err));
    return set_out(n, out[0], in[0]->dtype, in[0]->rank, dims, err);
}

static ev_status concat_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    int64_t dims[EV_MAX_RANK], outer, inner, out_row;
    int a = 0;
    size_t esz = 0;
    char *dst;
    EV_TRY(concat_dims(n, in, &a, dims, ctx->err));
    EV_TRY(check_out(n, out[0], in[0]->dtype, in[0]->rank, dims, ctx->err));
    esz = ev_dtype_size(in[0]->dtype);
    outer = row_numel(in[0], 0, a);
    inner = row_numel(in[0], a + 1, in[0]->rank);
    out_row = dims[a] * inner;
    dst = out[0]->data;
    for (int i = 0; i < n->n_in; i++) {
        int64_t chunk = in[i]->dims[a] * inner;
        const char *src = in[i]->data;
        if (chunk == 0) continue;
        if (in[i]->data == out[0]->data)
            return op_fail(ctx->err, EV_ERR_INTERNAL, n, "input %d aliases the output", i);
        for (int64_t o = 0; o < outer; o++)
            memcpy(dst + (size_t)(o * out_row) * esz, src + (size_t)(o * chunk) * esz, (size_t)chunk * esz);
        dst += (size_t)chunk * esz; /* next input starts further along each output row */
    }
    return EV_OK;
}

static const ev_op_def op_concat = {"Concat", 1, 18, 0, concat_prepare, concat_infer, concat_run, NULL};

/* ======================================================================== */
/* Split                                                                    */
/* ======================================================================== */

typedef struct split_params {
    int64_t axis;
    const int64_t *split; /* attribute form (opset < 13) */
    int64_t n_split;
    int has_split;
    int64_t num_outputs; /* opset 18; 0 = absent */
} split_params;

static ev_status split_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    split_params *p;
    int present = 0;
    /* Outputs are variadic and any of them may be omitted (""). */
    if (n->n_in < 1 || n->n_in > (n->opset >= 13 ? 2 : 1) || n->in[0] < 0)
        return op_fail(err, EV_ERR_SHAPE, n, "expects the input (and at opset >= 13 an optional 'split'), got %d inputs",
                       n->n_in);
    if (n->n_out < 1) return op_fail(err, EV_ERR_SHAPE, n, "expects at least one output");
    EV_TRY(alloc_params(g, n, sizeof *p, (void **)&p, err));
    EV_TRY(attr_int_typed(n, "axis", 0, &p->axis, NULL, err));
    if (n->opset < 13) {
        EV_TRY(attr_ints_bounded(n, "split", n->n_out, &p->split, &p->n_split, err));
        p->has_split = ev_attr_find(n, "split") != NULL;
        if (p->has_split && p->n_split != n->n_out)
            return op_fail(err, EV_ERR_SHAPE, n, "attribute 'split' has %lld entries for %d outputs",
                           (long long)p->n_split, n->n_out);
    }
    if (n->opset >= 18) {
        EV_TRY(attr_int_typed(n, "num_outputs", 0, &p->num_outputs, &present, err));
        if (present) {
            if (p->num_outputs < 1) return op_fail(err, EV_ERR_SHAPE, n, "num_outputs must be positive");
            if (p->num_outputs != n->n_out)
                return op_fail(err, EV_ERR_SHAPE, n, "num_outputs = %lld but the node has %d outputs",
                               (long long)p->num_outputs, n->n_out);
            if (node_has_in(n, 1))
                return op_fail(err, EV_ERR_SHAPE, n, "both the 'split' input and 'num_outputs' are given");
        }
    }
    return EV_OK;
}

/* sizes[n_out] along *axis; caller frees *sizes. */
static ev_status split_sizes(const ev_node *n, const ev_tensor *const *in, int *axis, int64_t **sizes, ev_err *err)
{
    const split_params *p = n->params;
    const ev_tensor *x = in[0];
    int64_t *s, cnt = -1, dim, sum = 0;
    int a = 0, no = n->n_out;
    size_t esz = 0;
    *sizes = NULL;
    EV_TRY(elem_size(n, x, "input", &esz, err));
    if (x->rank < 1) return op_fail(err, EV_ERR_SHAPE, n, "cannot split a scalar");
    EV_TRY(norm_axis(n, p->axis, x->rank, 0, "axis", &a, err));
    dim = x->dims[a];
    s = calloc((size_t)no, sizeof *s);
    if (!s) return op_fail(err, EV_ERR_NOMEM, n, "out of memory");
    if (n->opset < 13) {
        if (p->has_split) {
            memcpy(s, p->split, (size_t)no * sizeof *s);
            cnt = no;
        }
    } else {
        ev_status st = const_ints(n, opt_in(n, in, 1), "split", 1, no, s, &cnt, err);
        if (st != EV_OK) {
            free(s);
            return st;
        }
        if (cnt >= 0 && cnt != no) {
            free(s);
            return op_fail(err, EV_ERR_SHAPE, n, "'split' has %lld entries for %d outputs", (long long)cnt, no);
        }
    }
    if (cnt < 0) {
        if (n->opset >= 18 && p->num_outputs > 0) {
            /* ceil-sized chunks, the last one smaller */
            int64_t chunk = (dim + no - 1) / no;
            for (int i = 0; i < no; i++) {
                int64_t rem = dim - (int64_t)i * chunk;
                s[i] = rem < 0 ? 0 : (rem < chunk ? rem : chunk);
            }
            if (dim > 0 && (int64_t)(no - 1) * chunk >= dim) {
                free(s);
                return op_fail(err, EV_ERR_SHAPE, n, "cannot split dimension %lld into %d non-empty chunks",
                               (long long)dim, no);
            }
        } else {
            if (dim % no != 0) {
                free(s);
                return op_fail(err, EV_ERR_SHAPE, n, "dimension %lld of axis %d is not divisible into %d equal parts",
                               (long long)dim, a, no);
            }
            for (int i = 0; i < no; i++) s[i] = dim / no;
        }
    }
    for (int i = 0; i < no; i++) {
        if (s[i] < 0 || !ev_add_i64(sum, s[i], &sum)) {
            int64_t bad = s[i];
            free(s);
            return op_fail(err, EV_ERR_SHAPE, n, "split size %d is invalid (%lld)", i, (long long)bad);
        }
    }
    if (sum != dim) {
        free(s);
        return op_fail(err, EV_ERR_SHAPE, n, "split sizes sum to %lld but axis %d has size %lld", (long long)sum, a,
                       (long long)dim);
    }
    *axis = a;
    *sizes = s;
    return EV_OK;
}

static ev_status split_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    int64_t *s, dims[EV_MAX_RANK];
    int a = 0;
    ev_status st = EV_OK;
    EV_TRY(split_sizes(n, in, &a, &s, err));
    memcpy(dims, in[0]->dims, sizeof dims);
    for (int i = 0; i < n->n_out && st == EV_OK; i++) {
        dims[a] = s[i];
        st = set_out(n, out[i], in[0]->dtype, in[0]->rank, dims, err);
    }
    free(s);
    return st;
}

static ev_status split_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    int64_t *s, dims[EV_MAX_RANK], outer, inner, off = 0;
    int a = 0;
    size_t esz = 0;
    ev_status st = EV_OK;
    const ev_tensor *x = in[0];
    EV_TRY(split_sizes(n, in, &a, &s, ctx->err));
    esz = ev_dtype_size(x->dtype);
    outer = row_numel(x, 0, a);
    inner = row_numel(x, a + 1, x->rank);
    memcpy(dims, x->dims, sizeof dims);
    for (int i = 0; i < n->n_out; i++) {
        int64_t chunk = s[i] * inner;
        ev_tensor *o = out[i];
        if (o) {
            dims[a] = s[i];
            st = check_out(n, o, x->dtype, x->rank, dims, ctx->err);
            if (st != EV_OK) break;
            for (int64_t r = 0; r < outer && chunk > 0; r++)
                memcpy((char *)o->data + (size_t)(r * chunk) * esz,
                       (const char *)x->data + (size_t)(r * x->dims[a] * inner + off) * esz, (size_t)chunk * esz);
        }
        off += chunk;
    }
    free(s);
    return st;
}

static const ev_op_def op_split = {"Split", 2, 18, 0, split_prepare, split_infer, split_run, NULL};

/* ======================================================================== */
/* Slice                                                                    */
/* ======================================================================== */

typedef struct slice_params {
    const int64_t *starts, *ends, *axes; /* attribute form (opset < 10) */
    int64_t n_starts, n_ends, n_axes;
    int has_axes;
} slice_params;

static ev_status slice_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    slice_params *p;
    if (n->opset >= 10) {
        EV_TRY(check_arity(n, 3, 5, 3, 1, err));
        return EV_OK;
    }
    EV_TRY(check_arity(n, 1, 1, 1, 1, err));
    EV_TRY(alloc_params(g, n, sizeof *p, (void **)&p, err));
    EV_TRY(attr_ints_bounded(n, "starts", EV_MAX_RANK, &p->starts, &p->n_starts, err));
    EV_TRY(attr_ints_bounded(n, "ends", EV_MAX_RANK, &p->ends, &p->n_ends, err));
    EV_TRY(attr_ints_bounded(n, "axes", EV_MAX_RANK, &p->axes, &p->n_axes, err));
    if (!ev_attr_find(n, "starts") || !ev_attr_find(n, "ends"))
        return op_fail(err, EV_ERR_SHAPE, n, "attributes 'starts' and 'ends' are required");
    p->has_axes = ev_attr_find(n, "axes") != NULL;
    return EV_OK;
}

/* Per input axis: output length, first index and step. */
static ev_status slice_geom(const ev_node *n, const ev_tensor *const *in, int64_t *len, int64_t *first,
                            int64_t *step, ev_err *err)
{
    const ev_tensor *x = in[0];
    int64_t starts[EV_MAX_RANK], ends[EV_MAX_RANK], axes[EV_MAX_RANK], steps[EV_MAX_RANK];
    int64_t ns, ne, na = -1, nst = -1;
    int nax[EV_MAX_RANK];
    size_t esz = 0;
    EV_TRY(elem_size(n, x, "data", &esz, err));
    if (n->opset < 10) {
        const slice_params *p = n->params;
        ns = p->n_starts;
        ne = p->n_ends;
        memcpy(starts, p->starts, (size_t)ns * sizeof *starts);
        memcpy(ends, p->ends, (size_t)ne * sizeof *ends);
        if (p->has_axes) {
            na = p->n_axes;
            memcpy(axes, p->axes, (size_t)na * sizeof *axes);
        }
    } else {
        EV_TRY(const_ints(n, in[1], "starts", 0, EV_MAX_RANK, starts, &ns, err));
        EV_TRY(const_ints(n, in[2], "ends", 0, EV_MAX_RANK, ends, &ne, err));
        EV_TRY(const_ints(n, opt_in(n, in, 3), "axes", 1, EV_MAX_RANK, axes, &na, err));
        EV_TRY(const_ints(n, opt_in(n, in, 4), "steps", 1, EV_MAX_RANK, steps, &nst, err));
    }
    if (ns != ne)
        return op_fail(err, EV_ERR_SHAPE, n, "starts has %lld entries, ends has %lld", (long long)ns, (long long)ne);
    if (ns > x->rank)
        return op_fail(err, EV_ERR_SHAPE, n, "%lld slice entries for an input of rank %d", (long long)ns, x->rank);
    if (na < 0) {
        for (int64_t i = 0; i < ns; i++) axes[i] = i;
    } else if (na != ns) {
        return op_fail(err, EV_ERR_SHAPE, n, "axes has %lld entries, starts has %lld", (long long)na, (long long)ns);
    }
    if (nst < 0) {
        for (int64_t i = 0; i < ns; i++) steps[i] = 1;
    } else if (nst != ns) {
        return op_fail(err, EV_ERR_SHAPE, n, "steps has %lld entries, starts has %lld", (long long)nst, (long long)ns);
    }
    EV_TRY(norm_axes(n, axes, ns, x->rank, "axis", nax, err));
    for (int k = 0; k < x->rank; k++) {
        len[k] = x->dims[k];
        first[k] = 0;
        step[k] = 1;
    }
    for (int64_t i = 0; i < ns; i++) {
        int k = nax[i];
        int64_t d = x->dims[k], s = starts[i], e = ends[i], st = steps[i], l;
        if (st == 0) return op_fail(err, EV_ERR_SHAPE, n, "step for axis %d is 0", k);
        /* ONNX Slice: negative start/end count from the end, then clamp to
         * [0, d] (step > 0) or start to [0, d-1] and end to [-1, d-1] (step < 0). */
        if (s < 0) s += d;
        if (e < 0) e += d;
        if (st > 0) {
            s = s < 0 ? 0 : (s > d ? d : s);
            e = e < 0 ? 0 : (e > d ? d : e);
            l = e > s ? (e - s - 1) / st + 1 : 0;
        } else {
            s = s < 0 ? 0 : (s > d - 1 ? d - 1 : s);
            e = e < -1 ? -1 : (e > d - 1 ? d - 1 : e);
            /* -st cannot overflow: st < 0 and st >= INT64_MIN; handle MIN. */
            l = (s > e && d > 0) ? (st == INT64_MIN ? 1 : (s - e - 1) / (-st) + 1) : 0;
        }
        len[k] = l;
        first[k] = l > 0 ? s : 0;
        step[k] = l > 1 ? st : 1; /* with <= 1 element the step is never used */
    }
    return EV_OK;
}

static ev_status slice_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    int64_t len[EV_MAX_RANK], first[EV_MAX_RANK], step[EV_MAX_RANK];
    EV_TRY(slice_geom(n, in, len, first, step, err));
    return set_out(n, out[0], in[0]->dtype, in[0]->rank, len, err);
}

static ev_status slice_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    const ev_tensor *x = in[0];
    int64_t len[EV_MAX_RANK], first[EV_MAX_RANK], step[EV_MAX_RANK], st[EV_MAX_RANK], xs[EV_MAX_RANK], off = 0;
    EV_TRY(slice_geom(n, in, len, first, step, ctx->err));
    EV_TRY(check_out(n, out[0], x->dtype, x->rank, len, ctx->err));
    if (ev_tensor_numel(out[0]) == 0) return EV_OK;
    if (out[0]->data == x->data) return op_fail(ctx->err, EV_ERR_INTERNAL, n, "cannot slice in place");
    dense_strides(x->rank, x->dims, xs);
    for (int k = 0; k < x->rank; k++) {
        off += first[k] * xs[k];
        st[k] = step[k] * xs[k];
    }
    strided_copy(out[0]->data, x->data, ev_dtype_size(x->dtype), x->rank, len, st, off);
    return EV_OK;
}

static const ev_op_def op_slice = {"Slice", 1, 18, 0, slice_prepare, slice_infer, slice_run, NULL};

/* ======================================================================== */
/* Gather                                                                   */
/* ======================================================================== */

static ev_status gather_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    axis_params *p;
    EV_TRY(check_arity(n, 2, 2, 2, 1, err));
    EV_TRY(alloc_params(g, n, sizeof *p, (void **)&p, err));
    return attr_int_typed(n, "axis", 0, &p->axis, NULL, err);
}

static ev_status gather_dims(const ev_node *n, const ev_tensor *const *in, int *axis, int *rank, int64_t *dims,
                             ev_err *err)
{
    const axis_params *p = n->params;
    const ev_tensor *x = in[0], *ix = in[1];
    int a = 0, r = 0;
    size_t esz = 0;
    EV_TRY(elem_size(n, x, "data", &esz, err));
    if (!is_int_index_dtype(ix->dtype))
        return op_fail(err, EV_ERR_SHAPE, n, "indices must be int64 or int32, got %s", ev_dtype_name(ix->dtype));
    if (x->rank < 1) return op_fail(err, EV_ERR_SHAPE, n, "data must have rank >= 1");
    EV_TRY(norm_axis(n, p->axis, x->rank, 0, "axis", &a, err));
    if (x->rank - 1 + ix->rank > EV_MAX_RANK)
        return op_fail(err, EV_ERR_UNSUPPORTED, n, "output rank %d exceeds the maximum %d", x->rank - 1 + ix->rank,
                       EV_MAX_RANK);
    for (int k = 0; k < a; k++) dims[r++] = x->dims[k];
    for (int k = 0; k < ix->rank; k++) dims[r++] = ix->dims[k];
    for (int k = a + 1; k < x->rank; k++) dims[r++] = x->dims[k];
    *axis = a;
    *rank = r;
    return EV_OK;
}

static ev_status gather_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    int64_t dims[EV_MAX_RANK];
    int a = 0, r;
    EV_TRY(gather_dims(n, in, &a, &r, dims, err));
    return set_out(n, out[0], in[0]->dtype, r, dims, err);
}

static ev_status gather_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    const ev_tensor *x = in[0], *ix = in[1];
    int64_t dims[EV_MAX_RANK], outer, inner, nidx, ad;
    int a = 0, r;
    size_t esz, row;
    char *dst;
    EV_TRY(gather_dims(n, in, &a, &r, dims, ctx->err));
    EV_TRY(check_out(n, out[0], x->dtype, r, dims, ctx->err));
    esz = ev_dtype_size(x->dtype);
    outer = row_numel(x, 0, a);
    inner = row_numel(x, a + 1, x->rank);
    ad = x->dims[a];
    nidx = ev_tensor_numel(ix);
    /* Validate every index before writing anything. */
    for (int64_t j = 0; j < nidx; j++) {
        int64_t v = get_int(ix, j);
        if (v < -ad || v >= ad)
            return op_fail(ctx->err, EV_ERR_DATA, n, "index %lld (position %lld) is out of range for axis %d of size %lld",
                           (long long)v, (long long)j, a, (long long)ad);
    }
    if (ev_tensor_numel(out[0]) == 0) return EV_OK;
    if (out[0]->data == x->data) return op_fail(ctx->err, EV_ERR_INTERNAL, n, "cannot gather in place");
    row = (size_t)inner * esz;
    dst = out[0]->data;
    for (int64_t o = 0; o < outer; o++) {
        const char *base = (const char *)x->data + (size_t)(o * ad) * row;
        for (int64_t j = 0; j < nidx; j++) {
            int64_t v = get_int(ix, j);
            if (v < 0) v += ad;
            memcpy(dst, base + (size_t)v * row, row);
            dst += row;
        }
    }
    return EV_OK;
}

static const ev_op_def op_gather = {"Gather", 1, 18, 0, gather_prepare, gather_infer, gather_run, NULL};

/* ======================================================================== */
/* GatherElements                                                           */
/* ======================================================================== */

static ev_status gather_el_dims(const ev_node *n, const ev_tensor *const *in, int *axis, ev_err *err)
{
    const axis_params *p = n->params;
    const ev_tensor *x = in[0], *ix = in[1];
    size_t esz = 0;
    EV_TRY(elem_size(n, x, "data", &esz, err));
    if (!is_int_index_dtype(ix->dtype))
        return op_fail(err, EV_ERR_SHAPE, n, "indices must be int64 or int32, got %s", ev_dtype_name(ix->dtype));
    if (x->rank < 1) return op_fail(err, EV_ERR_SHAPE, n, "data must have rank >= 1");
    if (ix->rank != x->rank)
        return op_fail(err, EV_ERR_SHAPE, n, "indices have rank %d, data has rank %d", ix->rank, x->rank);
    EV_TRY(norm_axis(n, p->axis, x->rank, 0, "axis", axis, err));
    /* Off the axis, an index position addresses the same data position:
     * indices may not be larger there. */
    for (int k = 0; k < x->rank; k++)
        if (k != *axis && ix->dims[k] > x->dims[k])
            return op_fail(err, EV_ERR_SHAPE, n, "indices dimension %d (%lld) exceeds the data's (%lld)", k,
                           (long long)ix->dims[k], (long long)x->dims[k]);
    return EV_OK;
}

static ev_status gather_el_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    int a = 0;
    EV_TRY(gather_el_dims(n, in, &a, err));
    return set_out(n, out[0], in[0]->dtype, in[1]->rank, in[1]->dims, err);
}

static ev_status gather_el_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    const ev_tensor *x = in[0], *ix = in[1];
    int64_t xs[EV_MAX_RANK], idx[EV_MAX_RANK] = {0}, ne, ad, base = 0;
    int a = 0, r = x->rank;
    size_t esz = 0;
    char *dst;
    EV_TRY(gather_el_dims(n, in, &a, ctx->err));
    EV_TRY(check_out(n, out[0], x->dtype, ix->rank, ix->dims, ctx->err));
    esz = ev_dtype_size(x->dtype);
    ne = ev_tensor_numel(ix);
    ad = x->dims[a];
    for (int64_t j = 0; j < ne; j++) {
        int64_t v = get_int(ix, j);
        if (v < -ad || v >= ad)
            return op_fail(ctx->err, EV_ERR_DATA, n,
                           "index %lld (position %lld) is out of range for axis %d of size %lld", (long long)v,
                           (long long)j, a, (long long)ad);
    }
    if (ne == 0) return EV_OK;
    if (out[0]->data == x->data) return op_fail(ctx->err, EV_ERR_INTERNAL, n, "cannot gather in place");
    dense_strides(r, x->dims, xs);
    dst = out[0]->data;
    /* odometer over the indices; base = data offset of the non-axis coords */
    for (int64_t j = 0; j < ne; j++) {
        int64_t v = get_int(ix, j);
        if (v < 0) v += ad;
        memcpy(dst + (size_t)j * esz, (const char *)x->data + (size_t)(base + v * xs[a]) * esz, esz);
        for (int k = r - 1; k >= 0; k--) {
            if (k != a) base += xs[k];
            if (++idx[k] < ix->dims[k]) break;
            if (k != a) base -= xs[k] * ix->dims[k];
            idx[k] = 0;
        }
    }
    return EV_OK;
}

static const ev_op_def op_gather_elements = {"GatherElements", 11, 18, 0, gather_prepare, gather_el_infer,
                                             gather_el_run, NULL};

/* ======================================================================== */
/* Expand, Tile                                                             */
/* ======================================================================== */

static ev_status expand_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    (void)g;
    return check_arity(n, 2, 2, 2, 1, err);
}

static ev_status expand_dims(const ev_node *n, const ev_tensor *const *in, ev_tensor *shape_out, ev_err *err)
{
    ev_tensor target;
    const ev_tensor *both[2];
    int64_t vals[EV_MAX_RANK], cnt;
    size_t esz = 0;
    ev_status st;
    char label[160];
    EV_TRY(elem_size(n, in[0], "input", &esz, err));
    EV_TRY(const_ints(n, in[1], "shape", 0, EV_MAX_RANK, vals, &cnt, err));
    if (in[1]->rank != 1) return op_fail(err, EV_ERR_SHAPE, n, "shape must be 1-D, got rank %d", in[1]->rank);
    memset(&target, 0, sizeof target);
    target.dtype = in[0]->dtype;
    target.rank = (int)cnt;
    for (int64_t i = 0; i < cnt; i++) {
        if (vals[i] < 0)
            return op_fail(err, EV_ERR_SHAPE, n, "shape[%lld] = %lld is negative", (long long)i, (long long)vals[i]);
        target.dims[i] = vals[i];
    }
    both[0] = in[0];
    both[1] = &target;
    memset(shape_out, 0, sizeof *shape_out);
    st = ev_broadcast_shapes(both, 2, shape_out, err);
    if (st != EV_OK) {
        ev_err_prefix(err, "%s node '%s' (opset %lld)", n->op_type, ev_node_label(n, label, sizeof label),
                      (long long)n->opset);
        return st;
    }
    shape_out->dtype = in[0]->dtype;
    return EV_OK;
}

static ev_status expand_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    ev_tensor s;
    EV_TRY(expand_dims(n, in, &s, err));
    return set_out(n, out[0], in[0]->dtype, s.rank, s.dims, err);
}

static ev_status expand_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    ev_tensor s;
    int64_t st[EV_MAX_RANK];
    EV_TRY(expand_dims(n, in, &s, ctx->err));
    EV_TRY(check_out(n, out[0], in[0]->dtype, s.rank, s.dims, ctx->err));
    if (ev_tensor_numel(out[0]) == 0) return EV_OK;
    if (out[0]->data == in[0]->data && ev_tensor_numel(out[0]) != ev_tensor_numel(in[0]))
        return op_fail(ctx->err, EV_ERR_INTERNAL, n, "cannot expand in place");
    ev_broadcast_strides(in[0], out[0], st);
    strided_copy(out[0]->data, in[0]->data, ev_dtype_size(in[0]->dtype), out[0]->rank, out[0]->dims, st, 0);
    return EV_OK;
}

static const ev_op_def op_expand = {"Expand", 8, 18, 0, expand_prepare, expand_infer, expand_run, NULL};

static ev_status tile_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    (void)g;
    return check_arity(n, 2, 2, 2, 1, err);
}

static ev_status tile_dims(const ev_node *n, const ev_tensor *const *in, int64_t *reps, int64_t *dims, ev_err *err)
{
    const ev_tensor *x = in[0];
    int64_t cnt;
    size_t esz = 0;
    EV_TRY(elem_size(n, x, "input", &esz, err));
    EV_TRY(const_ints(n, in[1], "repeats", 0, EV_MAX_RANK, reps, &cnt, err));
    if (in[1]->rank != 1) return op_fail(err, EV_ERR_SHAPE, n, "repeats must be 1-D, got rank %d", in[1]->rank);
    if (cnt != x->rank)
        return op_fail(err, EV_ERR_SHAPE, n, "repeats has %lld entries but the input has rank %d", (long long)cnt,
                       x->rank);
    for (int k = 0; k < x->rank; k++) {
        if (reps[k] < 0) return op_fail(err, EV_ERR_SHAPE, n, "repeats[%d] = %lld is negative", k, (long long)reps[k]);
        if (!ev_mul_i64(x->dims[k], reps[k], &dims[k]))
            return op_fail(err, EV_ERR_LIMIT, n, "output dimension %d overflows", k);
    }
    return EV_OK;
}

static ev_status tile_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    int64_t reps[EV_MAX_RANK], dims[EV_MAX_RANK];
    EV_TRY(tile_dims(n, in, reps, dims, err));
    return set_out(n, out[0], in[0]->dtype, in[0]->rank, dims, err);
}

static ev_status tile_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    const ev_tensor *x = in[0];
    int64_t reps[EV_MAX_RANK], dims[EV_MAX_RANK], xs[EV_MAX_RANK], vd[SH_MAX_VIEW], vs[SH_MAX_VIEW];
    EV_TRY(tile_dims(n, in, reps, dims, ctx->err));
    EV_TRY(check_out(n, out[0], x->dtype, x->rank, dims, ctx->err));
    if (ev_tensor_numel(out[0]) == 0) return EV_OK;
    if (out[0]->data == x->data && ev_tensor_numel(out[0]) != ev_tensor_numel(x))
        return op_fail(ctx->err, EV_ERR_INTERNAL, n, "cannot tile in place");
    /* Output axis k of size r*d is viewed as (r, d): stride 0 then x's stride. */
    dense_strides(x->rank, x->dims, xs);
    for (int k = 0; k < x->rank; k++) {
        vd[2 * k] = reps[k];
        vs[2 * k] = 0;
        vd[2 * k + 1] = x->dims[k];
        vs[2 * k + 1] = xs[k];
    }
    strided_copy(out[0]->data, x->data, ev_dtype_size(x->dtype), 2 * x->rank, vd, vs, 0);
    return EV_OK;
}

static const ev_op_def op_tile = {"Tile", 6, 18, 0, tile_prepare, tile_infer, tile_run, NULL};

/* ======================================================================== */
/* Shape, Size                                                              */
/* ======================================================================== */

typedef struct shape_params {
    int64_t start, end;
    int has_end;
} shape_params;

static ev_status shape_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    shape_params *p;
    EV_TRY(check_arity(n, 1, 1, 1, 1, err));
    EV_TRY(alloc_params(g, n, sizeof *p, (void **)&p, err));
    p->start = 0;
    p->has_end = 0;
    if (n->opset >= 15) {
        EV_TRY(attr_int_typed(n, "start", 0, &p->start, NULL, err));
        EV_TRY(attr_int_typed(n, "end", 0, &p->end, &p->has_end, err));
    }
    return EV_OK;
}

static void shape_range(const ev_node *n, int rank, int64_t *s, int64_t *e)
{
    const shape_params *p = n->params;
    int64_t a = p->start, b = p->has_end ? p->end : rank;
    if (a < 0) a += rank;
    if (b < 0) b += rank;
    a = a < 0 ? 0 : (a > rank ? rank : a);
    b = b < 0 ? 0 : (b > rank ? rank : b);
    *s = a;
    *e = b > a ? b : a;
}

static ev_status shape_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    int64_t s, e, d;
    shape_range(n, in[0]->rank, &s, &e);
    d = e - s;
    return set_out(n, out[0], EV_DT_INT64, 1, &d, err);
}

static ev_status shape_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    int64_t s, e, d;
    shape_range(n, in[0]->rank, &s, &e);
    d = e - s;
    EV_TRY(check_out(n, out[0], EV_DT_INT64, 1, &d, ctx->err));
    for (int64_t k = s; k < e; k++) ((int64_t *)out[0]->data)[k - s] = in[0]->dims[k];
    return EV_OK;
}

static const ev_op_def op_shape = {"Shape", 1, 18, EV_OP_SHAPE_ONLY, shape_prepare, shape_infer, shape_run, NULL};

static ev_status size_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    (void)g;
    return check_arity(n, 1, 1, 1, 1, err);
}

static ev_status size_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    int64_t ne;
    EV_TRY(dims_numel(n, in[0]->rank, in[0]->dims, &ne, err));
    return set_out(n, out[0], EV_DT_INT64, 0, NULL, err);
}

static ev_status size_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    int64_t ne;
    EV_TRY(dims_numel(n, in[0]->rank, in[0]->dims, &ne, ctx->err));
    EV_TRY(check_out(n, out[0], EV_DT_INT64, 0, NULL, ctx->err));
    ((int64_t *)out[0]->data)[0] = ne;
    return EV_OK;
}

static const ev_op_def op_size = {"Size", 1, 18, EV_OP_SHAPE_ONLY, size_prepare, size_infer, size_run, NULL};

/* ======================================================================== */
/* ConstantOfShape                                                          */
/* ======================================================================== */

typedef struct cos_params {
    ev_dtype dtype;
    unsigned char value[16];
} cos_params;

static ev_status cos_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    cos_params *p;
    const ev_attr *a;
    EV_TRY(check_arity(n, 1, 1, 1, 1, err));
    EV_TRY(alloc_params(g, n, sizeof *p, (void **)&p, err));
    p->dtype = EV_DT_FLOAT; /* default: float 0 */
    a = ev_attr_find(n, "value");
    if (a) {
        size_t esz = ev_dtype_size(a->t.dtype);
        if (a->type != EV_ATTR_TENSOR) return op_fail(err, EV_ERR_SHAPE, n, "attribute 'value' must be a tensor");
        if (esz == 0 || esz > sizeof p->value || a->t.dtype == EV_DT_STRING)
            return op_fail(err, EV_ERR_UNSUPPORTED, n, "'value' has unsupported dtype %s", ev_dtype_name(a->t.dtype));
        if (ev_tensor_numel(&a->t) != 1 || !a->t.data)
            return op_fail(err, EV_ERR_SHAPE, n, "'value' must hold exactly one element");
        p->dtype = a->t.dtype;
        memcpy(p->value, a->t.data, esz);
    }
    return EV_OK;
}

static ev_status cos_dims(const ev_node *n, const ev_tensor *const *in, int *rank, int64_t *dims, ev_err *err)
{
    int64_t cnt;
    EV_TRY(const_ints(n, in[0], "shape", 0, EV_MAX_RANK, dims, &cnt, err));
    if (in[0]->rank != 1) return op_fail(err, EV_ERR_SHAPE, n, "shape must be 1-D, got rank %d", in[0]->rank);
    for (int64_t i = 0; i < cnt; i++)
        if (dims[i] < 0)
            return op_fail(err, EV_ERR_SHAPE, n, "shape[%lld] = %lld is negative", (long long)i, (long long)dims[i]);
    *rank = (int)cnt;
    return EV_OK;
}

static ev_status cos_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    const cos_params *p = n->params;
    int64_t dims[EV_MAX_RANK];
    int rank;
    EV_TRY(cos_dims(n, in, &rank, dims, err));
    return set_out(n, out[0], p->dtype, rank, dims, err);
}

static ev_status cos_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    const cos_params *p = n->params;
    int64_t dims[EV_MAX_RANK];
    int rank;
    EV_TRY(cos_dims(n, in, &rank, dims, ctx->err));
    EV_TRY(check_out(n, out[0], p->dtype, rank, dims, ctx->err));
    fill_elems(out[0]->data, p->value, ev_dtype_size(p->dtype), ev_tensor_numel(out[0]));
    return EV_OK;
}

static const ev_op_def op_constantofshape = {"ConstantOfShape", 9, 18, 0, cos_prepare, cos_infer, cos_run, NULL};

/* ======================================================================== */
/* Range                                                                    */
/* ======================================================================== */

static ev_status range_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    (void)g;
    return check_arity(n, 3, 3, 3, 1, err);
}

static ev_status range_scalar(const ev_node *n, const ev_tensor *t, const char *what, ev_dtype dt, double *d,
                              int64_t *i, ev_err *err)
{
    if (t->dtype != dt)
        return op_fail(err, EV_ERR_SHAPE, n, "'%s' has dtype %s, 'start' has %s", what, ev_dtype_name(t->dtype),
                       ev_dtype_name(dt));
    if (t->rank > 1 || ev_tensor_numel(t) != 1)
        return op_fail(err, EV_ERR_SHAPE, n, "'%s' must be a scalar", what);
    if (!t->data) return op_fail(err, EV_ERR_UNSUPPORTED, n, "input '%s' is not a constant at plan time", what);
    switch (dt) {
    case EV_DT_FLOAT: *d = ((const float *)t->data)[0]; break;
    case EV_DT_DOUBLE: *d = ((const double *)t->data)[0]; break;
    case EV_DT_INT16: *i = ((const int16_t *)t->data)[0]; break;
    case EV_DT_INT32: *i = ((const int32_t *)t->data)[0]; break;
    case EV_DT_INT64: *i = ((const int64_t *)t->data)[0]; break;
    default: return op_fail(err, EV_ERR_UNSUPPORTED, n, "Range of dtype %s", ev_dtype_name(dt));
    }
    return EV_OK;
}

typedef struct range_geom {
    ev_dtype dt;
    int is_float;
    double fs, fd;
    int64_t is, id;
    int64_t count;
} range_geom;

static ev_status range_compute(const ev_node *n, const ev_tensor *const *in, range_geom *r, ev_err *err)
{
    double fl = 0;
    int64_t il = 0;
    r->dt = in[0]->dtype;
    r->is_float = r->dt == EV_DT_FLOAT || r->dt == EV_DT_DOUBLE;
    r->fs = r->fd = 0;
    r->is = r->id = 0;
    EV_TRY(range_scalar(n, in[0], "start", r->dt, &r->fs, &r->is, err));
    EV_TRY(range_scalar(n, in[1], "limit", r->dt, &fl, &il, err));
    EV_TRY(range_scalar(n, in[2], "delta", r->dt, &r->fd, &r->id, err));
    if (r->is_float) {
        double c;
        if (r->fd == 0.0 || !isfinite(r->fd) || !isfinite(r->fs) || !isfinite(fl))
            return op_fail(err, EV_ERR_SHAPE, n, "start/limit/delta must be finite and delta non-zero");
        /* limit - start in the element type (as ONNX Runtime), then the
         * division in double. */
        double diff = r->dt == EV_DT_FLOAT ? (double)((float)fl - (float)r->fs) : fl - r->fs;
        c = ceil(diff / r->fd);
        if (!(c < 9.0e18)) return op_fail(err, EV_ERR_LIMIT, n, "too many elements");
        r->count = c > 0 ? (int64_t)c : 0;
    } else {
        int64_t diff;
        if (r->id == 0) return op_fail(err, EV_ERR_SHAPE, n, "delta is 0");
        if (__builtin_sub_overflow(il, r->is, &diff)) return op_fail(err, EV_ERR_LIMIT, n, "limit - start overflows");
        if ((diff > 0) != (r->id > 0) || diff == 0) {
            r->count = 0;
        } else {
            /* ceil(diff / delta) with both of the same sign */
            int64_t q = diff / r->id, rem = diff % r->id;
            r->count = q + (rem != 0);
        }
    }
    return EV_OK;
}

static ev_status range_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    range_geom r;
    EV_TRY(range_compute(n, in, &r, err));
    return set_out(n, out[0], r.dt, 1, &r.count, err);
}

static ev_status range_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    range_geom r;
    EV_TRY(range_compute(n, in, &r, ctx->err));
    EV_TRY(check_out(n, out[0], r.dt, 1, &r.count, ctx->err));
    for (int64_t i = 0; i < r.count; i++) {
        switch (r.dt) {
        case EV_DT_FLOAT: ((float *)out[0]->data)[i] = (float)(r.fs + (double)i * r.fd); break;
        case EV_DT_DOUBLE: ((double *)out[0]->data)[i] = r.fs + (double)i * r.fd; break;
        /* |i * delta| <= |limit - start| + |delta|: no int64 overflow; the
         * value lies between start and limit so it fits the dtype. */
        case EV_DT_INT16: ((int16_t *)out[0]->data)[i] = (int16_t)(r.is + i * r.id); break;
        case EV_DT_INT32: ((int32_t *)out[0]->data)[i] = (int32_t)(r.is + i * r.id); break;
        default: ((int64_t *)out[0]->data)[i] = r.is + i * r.id; break;
        }
    }
    return EV_OK;
}

static const ev_op_def op_range = {"Range", 11, 18, 0, range_prepare, range_infer, range_run, NULL};

/* ======================================================================== */
/* Pad                                                                      */
/* ======================================================================== */

enum { PAD_CONSTANT = 0, PAD_REFLECT = 1, PAD_EDGE = 2 };

typedef struct pad_params {
    int mode;
    const int64_t *pads; /* attribute form (opset < 11) */
    int64_t n_pads;
    float value;
} pad_params;

static ev_status pad_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    pad_params *p;
    const char *mode;
    if (n->opset >= 18) {
        EV_TRY(check_arity(n, 2, 4, 2, 1, err));
    } else if (n->opset >= 11) {
        EV_TRY(check_arity(n, 2, 3, 2, 1, err));
    } else {
        EV_TRY(check_arity(n, 1, 1, 1, 1, err));
    }
    EV_TRY(alloc_params(g, n, sizeof *p, (void **)&p, err));
    mode = ev_attr_string(n, "mode", "constant");
    if (strcmp(mode, "constant") == 0) p->mode = PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0) p->mode = PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0) p->mode = PAD_EDGE;
    else return op_fail(err, EV_ERR_UNSUPPORTED, n, "mode '%s' is not supported", mode);
    if (n->opset < 11) {
        EV_TRY(attr_ints_bounded(n, "pads", 2 * EV_MAX_RANK, &p->pads, &p->n_pads, err));
        if (!ev_attr_find(n, "pads")) return op_fail(err, EV_ERR_SHAPE, n, "attribute 'pads' is required");
        p->value = ev_attr_float(n, "value", 0.0f);
    }
    return EV_OK;
}

typedef struct pad_geom {
    int64_t before[EV_MAX_RANK], after[EV_MAX_RANK], dims[EV_MAX_RANK];
    int64_t lo[EV_MAX_RANK], ext[EV_MAX_RANK]; /* kept input range after cropping */
    unsigned char cval[16]; /* fill element (constant mode) */
} pad_geom;

static ev_status pad_compute(const ev_node *n, const ev_tensor *const *in, pad_geom *pg, ev_err *err)
{
    const pad_params *p = n->params;
    const ev_tensor *x = in[0];
    int64_t pads[2 * EV_MAX_RANK], np, axes[EV_MAX_RANK], na = -1;
    int nax[EV_MAX_RANK];
    int r = x->rank;
    size_t esz = 0;
    EV_TRY(elem_size(n, x, "data", &esz, err));
    if (esz > sizeof pg->cval) return op_fail(err, EV_ERR_UNSUPPORTED, n, "dtype %s", ev_dtype_name(x->dtype));
    memset(pg->cval, 0, sizeof pg->cval);
    if (n->opset < 11) {
        np = p->n_pads;
        memcpy(pads, p->pads, (size_t)np * sizeof *pads);
        if (p->mode == PAD_CONSTANT) EV_TRY(store_scalar(n, x->dtype, pg->cval, (double)p->value, err));
    } else {
        const ev_tensor *cv = opt_in(n, in, 2);
        EV_TRY(const_ints(n, in[1], "pads", 0, 2 * EV_MAX_RANK, pads, &np, err));
        if (in[1]->rank != 1) return op_fail(err, EV_ERR_SHAPE, n, "pads must be 1-D, got rank %d", in[1]->rank);
        if (n->opset >= 18) EV_TRY(const_ints(n, opt_in(n, in, 3), "axes", 1, EV_MAX_RANK, axes, &na, err));
        if (cv && p->mode == PAD_CONSTANT) {
            int64_t ne = ev_tensor_numel(cv);
            if (cv->dtype != x->dtype)
                return op_fail(err, EV_ERR_SHAPE, n, "constant_value has dtype %s, data has %s",
                               ev_dtype_name(cv->dtype), ev_dtype_name(x->dtype));
            if (ne > 1 || cv->rank > 1) return op_fail(err, EV_ERR_SHAPE, n, "constant_value must be a scalar");
            /* At plan time the value may be unknown (a runtime input): it
             * does not affect shapes. run() always has the data. */
            if (ne == 1 && cv->data) memcpy(pg->cval, cv->data, esz);
        }
    }
    if (na < 0) {
        if (np != 2 * (int64_t)r)
            return op_fail(err, EV_ERR_SHAPE, n, "pads has %lld entries, expected %d for rank %d", (long long)np, 2 * r,
                           r);
        for (int k = 0; k < r; k++) {
            pg->before[k] = pads[k];
            pg->after[k] = pads[k + r];
        }
    } else {
        if (np != 2 * na)
            return op_fail(err, EV_ERR_SHAPE, n, "pads has %lld entries for %lld axes", (long long)np, (long long)na);
        EV_TRY(norm_axes(n, axes, na, r, "axis", nax, err));
        for (int k = 0; k < r; k++) pg->before[k] = pg->after[k] = 0;
        for (int64_t i = 0; i < na; i++) {
            pg->before[nax[i]] = pads[i];
            pg->after[nax[i]] = pads[i + na];
        }
    }
    for (int k = 0; k < r; k++) {
        int64_t d;
        if (!ev_add_i64(x->dims[k], pg->before[k], &d) || !ev_add_i64(d, pg->after[k], &d))
            return op_fail(err, EV_ERR_LIMIT, n, "padded dimension %d overflows", k);
        if (d < 0)
            return op_fail(err, EV_ERR_SHAPE, n, "pads crop axis %d of size %lld below zero", k, (long long)x->dims[k]);
        /* Negative pads crop first; the remaining (cropped) extent is what
         * edge/reflect padding replicates (as ONNX Runtime does). */
        pg->lo[k] = pg->before[k] < 0 ? -pg->before[k] : 0;
        pg->ext[k] = x->dims[k] - pg->lo[k] - (pg->after[k] < 0 ? -pg->after[k] : 0);
        if (pg->ext[k] < 0)
            return op_fail(err, EV_ERR_SHAPE, n, "pads crop axis %d of size %lld below zero", k, (long long)x->dims[k]);
        if (p->mode != PAD_CONSTANT && pg->ext[k] == 0 && d > 0)
            return op_fail(err, EV_ERR_SHAPE, n, "cannot %s-pad the empty axis %d",
                           p->mode == PAD_EDGE ? "edge" : "reflect", k);
        pg->dims[k] = d;
    }
    return EV_OK;
}

static ev_status pad_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    pad_geom pg;
    EV_TRY(pad_compute(n, in, &pg, err));
    return set_out(n, out[0], in[0]->dtype, in[0]->rank, pg.dims, err);
}

/* Source index (relative to the kept range of size d) along an axis for
 * output index o, `before` >= 0 elements padded in front (-1 = fill). */
static int64_t pad_map(int mode, int64_t o, int64_t before, int64_t d)
{
    int64_t i = o - before;
    if (i >= 0 && i < d) return i;
    if (mode == PAD_CONSTANT) return -1;
    if (mode == PAD_EDGE) return i < 0 ? 0 : d - 1;
    /* reflect (numpy 'reflect'): the signal extended with period 2(d-1) */
    if (d == 1) return 0;
    {
        int64_t period = 2 * (d - 1), m = i % period;
        if (m < 0) m += period;
        return m < d ? m : period - m;
    }
}

static ev_status pad_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    const pad_params *p = n->params;
    const ev_tensor *x = in[0];
    pad_geom pg;
    int64_t xs[EV_MAX_RANK], total = 0, *maps, *mp[EV_MAX_RANK], idx[EV_MAX_RANK] = {0}, numel, inner;
    int r = x->rank;
    size_t esz = 0;
    char *dst;
    const char *src = x->data;
    EV_TRY(pad_compute(n, in, &pg, ctx->err));
    EV_TRY(check_out(n, out[0], x->dtype, r, pg.dims, ctx->err));
    esz = ev_dtype_size(x->dtype);
    numel = ev_tensor_numel(out[0]);
    if (numel == 0) return EV_OK;
    if (out[0]->data == x->data) return op_fail(ctx->err, EV_ERR_INTERNAL, n, "cannot pad in place");
    if (r == 0) {
        memcpy(out[0]->data, x->data, esz);
        return EV_OK;
    }
    for (int k = 0; k < r; k++) total += pg.dims[k];
    maps = malloc((size_t)total * sizeof *maps);
    if (!maps) return op_fail(ctx->err, EV_ERR_NOMEM, n, "out of memory");
    for (int64_t k = 0, at = 0; k < r; k++) {
        mp[k] = maps + at;
        int64_t before = pg.before[k] > 0 ? pg.before[k] : 0;
        for (int64_t o = 0; o < pg.dims[k]; o++) {
            int64_t m = pad_map(p->mode, o, before, pg.ext[k]);
            mp[k][o] = m < 0 ? -1 : m + pg.lo[k];
        }
        at += pg.dims[k];
    }
    dense_strides(r, x->dims, xs);
    inner = pg.dims[r - 1];
    dst = out[0]->data;
    for (int64_t done = 0; done < numel; done += inner) {
        int64_t base = 0;
        int fill = 0;
        for (int k = 0; k < r - 1; k++) {
            int64_t m = mp[k][idx[k]];
            if (m < 0) fill = 1;
            else base += m * xs[k];
        }
        for (int64_t j = 0; j < inner; j++) {
            int64_t m = mp[r - 1][j];
            if (fill || m < 0) memcpy(dst, pg.cval, esz);
            else memcpy(dst, src + (size_t)(base + m) * esz, esz);
            dst += esz;
        }
        for (int k = r - 2; k >= 0; k--) {
            if (++idx[k] < pg.dims[k]) break;
            idx[k] = 0;
        }
    }
    free(maps);
    return EV_OK;
}

static const ev_op_def op_pad = {"Pad", 2, 18, 0, pad_prepare, pad_infer, pad_run, NULL};

/* ======================================================================== */
/* DepthToSpace, SpaceToDepth                                               */
/* ======================================================================== */

typedef struct d2s_params {
    int64_t b;
    int crd; /* DepthToSpace mode CRD (opset >= 11) */
} d2s_params;

static ev_status d2s_prepare(ev_graph *g, ev_node *n, ev_err *err)
{
    d2s_params *p;
    int present;
    EV_TRY(check_arity(n, 1, 1, 1, 1, err));
    EV_TRY(alloc_params(g, n, sizeof *p, (void **)&p, err));
    EV_TRY(attr_int_typed(n, "blocksize", 0, &p->b, &present, err));
    if (!present || p->b < 1 || p->b > (1 << 20))
        return op_fail(err, EV_ERR_SHAPE, n, "attribute 'blocksize' must be given and positive");
    p->crd = 0;
    if (strcmp(n->op_type, "DepthToSpace") == 0 && n->opset >= 11) {
        const char *m = ev_attr_string(n, "mode", "DCR");
        if (strcmp(m, "CRD") == 0) p->crd = 1;
        else if (strcmp(m, "DCR") != 0) return op_fail(err, EV_ERR_SHAPE, n, "mode '%s' is invalid", m);
    }
    return EV_OK;
}

/* View dims (rank 6) and permutation of the input, and the output dims. */
static ev_status d2s_geom(const ev_node *n, const ev_tensor *x, int64_t *vd, int *perm, int64_t *od, ev_err *err)
{
    const d2s_params *p = n->params;
    int64_t b = p->b, bb = b * b, N, C, H, W;
    size_t esz = 0;
    EV_TRY(elem_size(n, x, "input", &esz, err));
    if (x->rank != 4) return op_fail(err, EV_ERR_SHAPE, n, "input must be 4-D, got rank %d", x->rank);
    N = x->dims[0];
    C = x->dims[1];
    H = x->dims[2];
    W = x->dims[3];
    if (strcmp(n->op_type, "DepthToSpace") == 0) {
        static const int dcr[6] = {0, 3, 4, 1, 5, 2}, crd[6] = {0, 1, 4, 2, 5, 3};
        if (C % bb != 0)
            return op_fail(err, EV_ERR_SHAPE, n, "channels %lld are not divisible by blocksize^2 = %lld", (long long)C,
                           (long long)bb);
        if (p->crd) {
            int64_t v[6] = {N, C / bb, b, b, H, W};
            memcpy(vd, v, sizeof v);
            memcpy(perm, crd, sizeof crd);
        } else {
            int64_t v[6] = {N, b, b, C / bb, H, W};
            memcpy(vd, v, sizeof v);
            memcpy(perm, dcr, sizeof dcr);
        }
        od[0] = N;
        od[1] = C / bb;
        if (!ev_mul_i64(H, b, &od[2]) || !ev_mul_i64(W, b, &od[3]))
            return op_fail(err, EV_ERR_LIMIT, n, "output size overflows");
    } else {
        static const int s2d[6] = {0, 3, 5, 1, 2, 4};
        if (H % b != 0 || W % b != 0)
            return op_fail(err, EV_ERR_SHAPE, n, "spatial size %lldx%lld is not divisible by blocksize %lld",
                           (long long)H, (long long)W, (long long)b);
        {
            int64_t v[6] = {N, C, H / b, b, W / b, b};
            memcpy(vd, v, sizeof v);
        }
        memcpy(perm, s2d, sizeof s2d);
        od[0] = N;
        if (!ev_mul_i64(C, bb, &od[1])) return op_fail(err, EV_ERR_LIMIT, n, "output size overflows");
        od[2] = H / b;
        od[3] = W / b;
    }
    return EV_OK;
}

static ev_status d2s_infer(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_err *err)
{
    int64_t vd[6], od[4];
    int perm[6];
    EV_TRY(d2s_geom(n, in[0], vd, perm, od, err));
    return set_out(n, out[0], in[0]->dtype, 4, od, err);
}

static ev_status d2s_run(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out, ev_exec_ctx *ctx)
{
    int64_t vd[6], od[4];
    int perm[6];
    EV_TRY(d2s_geom(n, in[0], vd, perm, od, ctx->err));
    EV_TRY(check_out(n, out[0], in[0]->dtype, 4, od, ctx->err));
    if (ev_tensor_numel(out[0]) == 0) return EV_OK;
    if (out[0]->data == in[0]->data) return op_fail(ctx->err, EV_ERR_INTERNAL, n, "cannot rearrange in place");
    permute_copy(out[0]->data, in[0]->data, ev_dtype_size(in[0]->dtype), 6, vd, perm);
    return EV_OK;
}

static const ev_op_def op_depthtospace = {"DepthToSpace", 1, 18, 0, d2s_prepare, d2s_infer, d2s_run, NULL};
static const ev_op_def op_spacetodepth = {"SpaceToDepth", 1, 18, 0, d2s_prepare, d2s_infer, d2s_run, NULL};

/* ======================================================================== */

const ev_op_def *const ev_ops_shape[] = {
    &op_reshape, &op_flatten,         &op_transpose, &op_concat,  &op_split,        &op_slice,
    &op_gather,  &op_squeeze,         &op_unsqueeze, &op_expand,  &op_shape,        &op_size,
    &op_constantofshape, &op_pad,     &op_tile,      &op_range,   &op_identity,     &op_dropout,
    &op_depthtospace, &op_spacetodepth, &op_gather_elements, NULL};
