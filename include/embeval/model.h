/*
 * embeval/model.h — load and run ONNX models on the CPU.
 *
 * Usage:
 *
 *     ev_model_options o = ev_model_default_options();
 *     o.threads = 2;
 *     ev_model *m = ev_model_new(&o);
 *     if (ev_model_load(m, "resnet50.onnx") != EV_OK)
 *         fprintf(stderr, "%s\n", ev_model_errmsg(m));
 *     ev_tensor x = { EV_DT_FLOAT, 4, {1, 3, 224, 224}, pixels };
 *     if (ev_model_run(m, &x, 1) == EV_OK) {
 *         ev_tensor y;
 *         ev_model_output(m, 0, &y);   // y.data valid until the next run/free
 *     }
 *     ev_model_free(m);
 *
 * A model handle is not thread-safe: use one handle per thread. The graph is
 * parsed and validated once at load; an execution plan (shapes, folded
 * constants, memory) is built per input shape on first use and cached.
 * Every size read from the file is treated as hostile and checked.
 */
#ifndef EMBEVAL_MODEL_H
#define EMBEVAL_MODEL_H

#include "embeval/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ev_model ev_model;

typedef enum ev_precision {
    EV_PRECISION_FP32 = 0,
    EV_PRECISION_BF16 = 1
} ev_precision;

typedef struct ev_model_options {
    int threads;                 /* 0 = library default (all cores)            */
    ev_precision precision;      /* EV_PRECISION_FP32 by default               */
    int allow_unsupported;       /* load graphs with unsupported ops (for
                                    inspection only: running them fails)       */
    int reference_only;          /* run plain-C reference kernels only         */
    /* Resource limits (0 = default). Exceeding one is EV_ERR_LIMIT. */
    int64_t max_file_bytes;      /* default 4 GiB                              */
    int64_t max_tensor_bytes;    /* per initializer / activation, default 2 GiB */
    int64_t max_nodes;           /* default 100000                             */
} ev_model_options;

EV_API ev_model_options ev_model_default_options(void);

/* Create an empty handle (NULL only on allocation failure). opt may be NULL. */
EV_API ev_model *ev_model_new(const ev_model_options *opt);
/* Free the handle and everything it owns. NULL is a no-op. */
EV_API void ev_model_free(ev_model *m);
/* Message about the last failure on this handle ("" if none). */
EV_API const char *ev_model_errmsg(const ev_model *m);

/* Parse, validate and prepare `path` (external data is read relative to the
 * file's directory). Fails with EV_ERR_FORMAT (malformed), EV_ERR_UNSUPPORTED
 * (op/opset/dtype; the message names the op, node and opset), EV_ERR_LIMIT,
 * EV_ERR_IO. */
EV_API ev_status ev_model_load(ev_model *m, const char *path);

/* ---- description ------------------------------------------------------ */
typedef struct ev_value_info {
    const char *name;
    ev_dtype dtype;
    int rank;
    int64_t dims[EV_MAX_RANK];   /* -1 = dynamic (symbolic or unknown)       */
} ev_value_info;

typedef struct ev_op_count {
    const char *op_type;
    int count;
    int supported;
} ev_op_count;

typedef struct ev_model_info {
    const char *producer;        /* producer_name + version, may be ""       */
    int64_t ir_version;
    int64_t opset;               /* default-domain opset                      */
    int64_t file_bytes;          /* model file + external data               */
    int64_t params;              /* elements of all float initializers        */
    int64_t n_nodes;
    int n_ops;                   /* entries in op_counts                      */
    const ev_op_count *op_counts;
    int n_unsupported;           /* distinct unsupported op types             */
} ev_model_info;

EV_API ev_status ev_model_get_info(ev_model *m, ev_model_info *out);
EV_API int ev_model_num_inputs(const ev_model *m);
EV_API int ev_model_num_outputs(const ev_model *m);
/* Declared graph inputs (initializers excluded) and outputs. */
EV_API ev_status ev_model_input_info(const ev_model *m, int i, ev_value_info *out);
EV_API ev_status ev_model_output_info(const ev_model *m, int i, ev_value_info *out);

/* Statistics of the plan for the given input shapes (builds it if needed):
 * multiply-accumulates of Conv/Gemm/MatMul for the whole batch, and the
 * activation arena size in bytes. Output shapes are filled in out_info
 * (array of ev_model_num_outputs entries, may be NULL). */
typedef struct ev_plan_stats {
    int64_t macs;
    int64_t arena_bytes;
    int64_t n_exec_nodes;        /* nodes left after folding                  */
    int64_t n_folded_nodes;
} ev_plan_stats;
EV_API ev_status ev_model_plan_stats(ev_model *m, const ev_tensor *inputs, int n_inputs,
                                     ev_plan_stats *stats, ev_value_info *out_info);

/* ---- execution -------------------------------------------------------- */
/* Run the model. inputs[i] corresponds to graph input i (see
 * ev_model_input_info); shapes must agree with the declared static dims. */
EV_API ev_status ev_model_run(ev_model *m, const ev_tensor *inputs, int n_inputs);
/* View of output i from the last successful run; valid until the next run or
 * free. */
EV_API ev_status ev_model_output(ev_model *m, int i, ev_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
