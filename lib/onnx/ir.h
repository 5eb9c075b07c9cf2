/*
 * lib/onnx/ir.h — embeval's own graph representation (internal).
 *
 * The protobuf parse tree is discarded after load: initializers are copied
 * into the graph arena (64-byte aligned), attributes are converted into
 * ev_attr records, names into value indices.
 *
 * Lifecycle:
 *   load (onnx_load.c)   protobuf -> ev_graph (values, nodes, attrs, consts),
 *                        structural validation (dangling names, cycles,
 *                        duplicates, limits), topological order;
 *   prepare              op->prepare() for every node: check arity, parse
 *                        attributes into node->params (opset-aware);
 *   plan (plan.c)        for concrete input shapes: op->infer() in topological
 *                        order gives every value a concrete dtype/shape; nodes
 *                        whose inputs are all constant (or that only need
 *                        input *shapes*, EV_OP_SHAPE_ONLY) are evaluated with
 *                        op->run() at plan time (constant folding);
 *                        liveness-based arena offsets for the rest;
 *   run (exec.c)         op->run() over the remaining nodes.
 *
 * Invariants: value indices are in [0, g->n_values); node inputs may be -1
 * (an omitted optional input, "" in ONNX); every non-empty input name resolves
 * to a graph input, an initializer or an earlier node's output.
 */
#ifndef EV_IR_H
#define EV_IR_H

#include "common/util.h"
#include "embeval/common.h"

struct ev_op_def;

typedef enum ev_attr_type {       /* == onnx AttributeProto.AttributeType */
    EV_ATTR_UNDEFINED = 0,
    EV_ATTR_FLOAT = 1,
    EV_ATTR_INT = 2,
    EV_ATTR_STRING = 3,
    EV_ATTR_TENSOR = 4,
    EV_ATTR_GRAPH = 5,
    EV_ATTR_FLOATS = 6,
    EV_ATTR_INTS = 7,
    EV_ATTR_STRINGS = 8
} ev_attr_type;

typedef struct ev_attr {
    const char *name;
    ev_attr_type type;
    float f;                      /* FLOAT                                     */
    int64_t i;                    /* INT                                       */
    const char *s;                /* STRING (NUL-terminated copy)              */
    int64_t n;                    /* FLOATS / INTS / STRINGS count             */
    const float *floats;
    const int64_t *ints;
    const char *const *strings;
    ev_tensor t;                  /* TENSOR: data in graph arena               */
} ev_attr;

typedef struct ev_node {
    const char *name;             /* may be "" (messages then use op#index)    */
    const char *op_type;
    const char *domain;           /* "" for ai.onnx                            */
    int64_t opset;                /* opset version of the node's domain        */
    const struct ev_op_def *op;   /* NULL if unsupported                       */
    int n_in, n_out;
    int *in;                      /* value indices, -1 = omitted optional      */
    int *out;                     /* value indices, -1 = omitted optional      */
    int n_attrs;
    ev_attr *attrs;
    void *params;                 /* op-specific, set by op->prepare()         */
    int index;                    /* position in g->nodes                      */
} ev_node;

typedef enum ev_value_kind {
    EV_VAL_ACTIVATION = 0,        /* produced by a node                        */
    EV_VAL_INPUT = 1,             /* graph input (fed at run time)             */
    EV_VAL_CONST = 2              /* initializer or Constant-node output       */
} ev_value_kind;

typedef struct ev_value {
    const char *name;
    ev_value_kind kind;
    /* Declared type: dtype/rank/dims from value_info/input/initializer;
     * dims[i] = -1 where symbolic/unknown; rank = -1 if unknown. For CONST
     * values decl.data points to the data in the graph arena. */
    ev_tensor decl;
    int producer;                 /* node index or -1                          */
    int n_consumers;              /* node inputs referring to it               */
    int is_output;                /* graph output                              */
} ev_value;

typedef struct ev_graph {
    ev_arena arena;               /* owns every string, array and const       */
    int n_values, n_nodes;
    ev_value *values;
    ev_node *nodes;               /* stored in topological order               */
    int n_inputs, n_outputs;
    int *inputs;                  /* value indices of real (non-initializer)
                                     graph inputs, in file order              */
    int *outputs;
    int64_t opset;                /* default domain                            */
    int64_t ir_version;
    const char *producer;
    int64_t file_bytes;
    int64_t params;
    /* ---- added by the loader (onnx_load.c) ---- */
    int n_op_counts;              /* op histogram of the file's nodes (incl.
                                     Constant/Identity/Dropout), file order   */
    struct ev_op_hist *op_counts;
    int n_unsupported;            /* distinct unsupported op types             */
    int64_t n_file_nodes;         /* nodes in the file                         */
    int64_t n_folded;             /* nodes folded into constants at load       */
    int64_t max_tensor_bytes;     /* limit the graph was loaded with           */
    void *owned_blocks;           /* the loader's memory for large
                                     initializers (onnx/weights.h): the file
                                     mapping they point into, blocks taken
                                     over from the parse tree, and what is
                                     needed to evict and restore them; freed
                                     with the graph                            */
} ev_graph;

/* One op type of the histogram. */
typedef struct ev_op_hist {
    const char *op_type;
    const char *domain;           /* "" for ai.onnx                            */
    int64_t opset;
    int count;
    int supported;
} ev_op_hist;

/* ---- loading (onnx_load.c) ---------------------------------------------- */
typedef struct ev_load_opts {
    int64_t max_file_bytes;       /* 0 = 4 GiB                                 */
    int64_t max_tensor_bytes;     /* 0 = 2 GiB                                 */
    int64_t max_nodes;            /* 0 = 100000                                */
    int allow_unsupported;        /* keep nodes with no kernel (op == NULL)    */
} ev_load_opts;

/* Parse, validate (names, cycles, limits, opsets), sort topologically,
 * remove Identity/Dropout, resolve ops and call op->prepare(). External data
 * is read relative to the directory of `path`. On failure *out is NULL and
 * err names the file/node. */
ev_status ev_graph_load(const char *path, const ev_load_opts *o, ev_graph **out, ev_err *err);
/* Same from memory; `name` is used in messages, `base_dir` (may be NULL:
 * external data refused) locates external data files. */
ev_status ev_graph_load_buffer(const void *buf, size_t len, const char *name,
                               const char *base_dir, const ev_load_opts *o, ev_graph **out,
                               ev_err *err);
void ev_graph_free(ev_graph *g);
/* Parse one serialized TensorProto (e.g. ONNX test data input_0.pb) into a
 * tensor whose data is allocated from `a`. Same checks as initializers. */
ev_status ev_tensor_from_pb(const void *buf, size_t len, const char *name, ev_arena *a,
                            int64_t max_tensor_bytes, ev_tensor *out, ev_err *err);
/* Evaluate, once, every node whose inputs are all constants (they become
 * CONST values and leave g->nodes). Called by the model after load. */
ev_status ev_graph_fold_constants(ev_graph *g, ev_err *err);

/* ---- attribute access (return def when absent or of another type) ------- */
const ev_attr *ev_attr_find(const ev_node *n, const char *name);
int64_t ev_attr_int(const ev_node *n, const char *name, int64_t def);
float ev_attr_float(const ev_node *n, const char *name, float def);
const char *ev_attr_string(const ev_node *n, const char *name, const char *def);
/* INTS/FLOATS: pointer + count, NULL and *count = 0 when absent. */
const int64_t *ev_attr_ints(const ev_node *n, const char *name, int64_t *count);
const float *ev_attr_floats(const ev_node *n, const char *name, int64_t *count);

/* A printable name for messages: node name, or "<op_type>#<index>". */
const char *ev_node_label(const ev_node *n, char *buf, size_t len);

/* ---- operators ---------------------------------------------------------- */

/* Per-run context handed to kernels. */
typedef struct ev_exec_ctx {
    int threads;
    ev_err *err;                  /* kernels report failures here              */
} ev_exec_ctx;

enum {
    EV_OP_SHAPE_ONLY = 1u << 0    /* outputs depend on input shapes only
                                     (Shape, Size): foldable when shapes known.
                                     When folded, run() receives the non-
                                     constant inputs with data == NULL: it must
                                     read their dims only.                     */
};

typedef struct ev_op_def {
    const char *op_type;          /* ONNX op_type, default domain              */
    int min_opset, max_opset;     /* supported opset range of this entry       */
    unsigned flags;
    /* Check input/output counts and attributes; parse attributes into
     * n->params (allocate from g->arena). May be NULL (no attributes). Errors
     * name the node (use ev_node_label) and the problem. */
    ev_status (*prepare)(ev_graph *g, ev_node *n, ev_err *err);
    /* Shape/type inference. in[i] is NULL for an omitted optional input;
     * in[i]->data is non-NULL only when that input is a constant (then its
     * values may be read, e.g. Reshape's shape). Set dtype, rank and dims of
     * each non-NULL out[i]; do not touch out[i]->data. All input dims are
     * concrete (>= 0). */
    ev_status (*infer)(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out,
                       ev_err *err);
    /* Reference kernel: every input and output has data; outputs were
     * shaped by infer(). Plain C, the ground truth for the fast path. */
    ev_status (*run)(const ev_node *n, const ev_tensor *const *in, ev_tensor *const *out,
                     ev_exec_ctx *ctx);
    /* Multiply-accumulates for this node given its shaped inputs/outputs,
     * or NULL (counts 0). Only Conv, ConvTranspose, Gemm, MatMul count. */
    int64_t (*macs)(const ev_node *n, const ev_tensor *const *in, const ev_tensor *const *out);
} ev_op_def;

/* Registry lookup: the entry for (op_type, domain, opset) or NULL. */
const ev_op_def *ev_op_find(const char *op_type, const char *domain, int64_t opset);

/* Op tables, each NULL-terminated, one per kernel family
 * (lib/kernels/ref_nn.c, lib/kernels/ref_shape.c). */
extern const ev_op_def *const ev_ops_nn[];
extern const ev_op_def *const ev_ops_shape[];

/* ---- shared kernel helpers (lib/kernels/broadcast.c) ------------------- */
/* Multidirectional (numpy) broadcast of n shapes into out; EV_ERR_SHAPE if
 * incompatible. */
ev_status ev_broadcast_shapes(const ev_tensor *const *shapes, int n, ev_tensor *out, ev_err *err);
/* Strides (in elements) to read `src` as if it had `dst`'s shape (0 on
 * broadcast dims), aligned to the right; dst->rank entries. */
void ev_broadcast_strides(const ev_tensor *src, const ev_tensor *dst, int64_t *strides);
/* Read element i of a tensor of dtype int64/int32 (for shape-like inputs). */
int64_t ev_tensor_get_int(const ev_tensor *t, int64_t i);

#endif
