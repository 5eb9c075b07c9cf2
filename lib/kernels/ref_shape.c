/* lib/kernels/ref_shape.c — reference kernels: shape and data-movement ops.
 * (Being written; the table is extended as ops land.) */
#include "onnx/ir.h"

const ev_op_def *const ev_ops_shape[] = {NULL};
