/*
 * lib/kernels/ref_nn.h — internal declarations shared by the numeric
 * reference kernels (ref_nn.c, ref_elementwise.c, ref_conv.c, ref_pool.c,
 * ref_matmul.c, ref_norm.c, ref_reduce.c). Not installed, not used outside
 * lib/kernels.
 *
 * Conventions every kernel here follows:
 *   - prepare() checks arity and attributes and stores parsed attributes in
 *     n->params (graph arena); it never looks at shapes.
 *   - infer() checks dtypes and shapes; unsupported dtypes are
 *     EV_ERR_UNSUPPORTED with the op, node label and dtype in the message.
 *   - run() trusts what infer() established, but never divides by zero,
 *     never reads out of bounds and never invokes undefined behaviour on
 *     hostile values (NaN -> int casts are clamped, integer division by zero
 *     is an error).
 */
#ifndef EV_REF_NN_H
#define EV_REF_NN_H

#include "onnx/ir.h"

/* Label of a node for messages, in a temporary that lives until the end of
 * the enclosing block (C11 compound literal, not a VLA). */
#define EV_LABEL(n) ev_node_label((n), (char[128]){0}, 128)

/* Input i of a node, NULL when omitted or beyond n_in. */
static inline const ev_tensor *ev_ref_in(const ev_node *n, const ev_tensor *const *in, int i)
{
    return (i >= 0 && i < n->n_in) ? in[i] : NULL;
}
/* Output i of a node, NULL when omitted or beyond n_out. */
static inline ev_tensor *ev_ref_out(const ev_node *n, ev_tensor *const *out, int i)
{
    return (i >= 0 && i < n->n_out) ? out[i] : NULL;
}
/* Is input i present (not omitted) in the node? */
static inline int ev_ref_has_in(const ev_node *n, int i)
{
    return i >= 0 && i < n->n_in && n->in[i] >= 0;
}
static inline int ev_ref_has_out(const ev_node *n, int i)
{
    return i >= 0 && i < n->n_out && n->out[i] >= 0;
}

/* Arity check: n_in in [req_in, max_in], the first `req_in` inputs present,
 * n_out in [1, max_out] and output 0 present. */
ev_status ev_ref_arity(const ev_node *n, int req_in, int max_in, int max_out, ev_err *err);
/* EV_ERR_UNSUPPORTED "<Op> node '<label>' (opset N): <what> has unsupported dtype <dt>". */
ev_status ev_ref_bad_dtype(const ev_node *n, const char *what, ev_dtype dt, ev_err *err);
/* Normalise an axis in [-rank, rank) to [0, rank); EV_ERR_SHAPE otherwise. */
ev_status ev_ref_axis(const ev_node *n, int64_t axis, int rank, int *out, ev_err *err);
/* Number of OpenMP threads to use (>= 1). */
int ev_ref_threads(const ev_exec_ctx *ctx);
/* Copy dims/rank of src into dst and set dtype. */
void ev_ref_same_shape(ev_tensor *dst, const ev_tensor *src, ev_dtype dt);
/* Parameter block allocation from the graph arena (zeroed). */
void *ev_ref_params(ev_graph *g, const ev_node *n, size_t size, ev_err *err);

/* ---- windowed ops (Conv, pooling) -------------------------------------- */
enum { EV_PAD_NOTSET, EV_PAD_SAME_UPPER, EV_PAD_SAME_LOWER, EV_PAD_VALID };
#define EV_REF_ATTR_MAX ((int64_t)1 << 24) /* bound for kernel/stride/pad values */
/* Parse the auto_pad attribute. */
ev_status ev_ref_auto_pad(const ev_node *n, int *out, ev_err *err);
/* Copy INTS attribute `name` (at most `max` values, each in [lo,
 * EV_REF_ATTR_MAX]) into dst; *count = 0 when absent. */
ev_status ev_ref_attr_ints(const ev_node *n, const char *name, int64_t lo, int max, int64_t *dst,
                           int *count, ev_err *err);
/* Output size of one spatial dim of a window op and the effective pads
 * (auto_pad resolved; pb and pe hold the explicit pads on entry). ceil_mode
 * follows PyTorch/ONNX Runtime: the last window must start inside the
 * input or the left padding. Returns the output size, < 1 when the
 * (dilated) kernel does not fit. */
int64_t ev_ref_window_out(int auto_pad, int ceil_mode, int64_t in, int64_t k, int64_t s, int64_t d,
                          int64_t *pb, int64_t *pe);

/* C[i,j] = alpha * sum_k A[i,k] B[k,j] + (accumulate ? C[i,j] : 0).
 * A is addressed A[i*rsa + k*csa], B as B[k*rsb + j*csb] (so transposes are
 * free), C is row-major with leading dimension ldc. Threads > 1 splits the
 * work with OpenMP (do not call with threads > 1 from a parallel region). */
void ev_ref_sgemm(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa,
                  int64_t csa, const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc,
                  int accumulate, int threads);

/* ---- op definitions (the table is in ref_nn.c) ---------------------------- */
#define EV_REF_OPS(X)                                                                              \
    X(conv) X(batchnorm7) X(batchnorm9) X(batchnorm14)                                             \
    X(relu) X(leakyrelu) X(clip6) X(clip11) X(hardswish) X(hardsigmoid) X(sigmoid) X(tanh) X(erf)  \
    X(sqrt) X(exp) X(log) X(neg) X(abs) X(reciprocal) X(floor) X(ceil) X(not)                      \
    X(add) X(sub) X(mul) X(div) X(pow) X(equal) X(less) X(greater) X(less_equal)                   \
    X(greater_equal) X(and) X(or) X(min) X(max) X(sum) X(mean) X(where) X(cast)                    \
    X(softmax1) X(softmax13) X(logsoftmax1) X(logsoftmax13) X(layernorm)                           \
    X(reducemean1) X(reducemean18) X(reducesum1) X(reducesum13) X(reducemax1) X(reducemax18)       \
    X(argmax) X(globalavgpool) X(globalmaxpool) X(avgpool) X(maxpool) X(gemm) X(matmul)           \
    /* beyond the seed architectures: cheap, and covered by the ONNX tests */                     \
    X(xor) X(prelu) X(elu) X(selu) X(celu) X(thresholdedrelu) X(softplus) X(softsign) X(round)     \
    X(sign) X(sin) X(cos) X(isnan) X(isinf) X(reducemin1) X(reducemin18) X(argmin)                 \
    X(instancenorm) X(reduceprod1) X(reduceprod18) X(reducel1_1) X(reducel1_18) X(reducel2_1)      \
    X(reducel2_18) X(reducesumsq1) X(reducesumsq18) X(reducelogsum1) X(reducelogsum18)             \
    X(reducelse1) X(reducelse18) X(mod)

#define EV_REF_DECLARE(name) extern const ev_op_def ev_ref_op_##name;
EV_REF_OPS(EV_REF_DECLARE)
#undef EV_REF_DECLARE

#endif
