/* lib/kernels/ref_nn.c — reference kernels: numeric / neural-network ops.
 * (Being written; the table is extended as ops land.) */
#include "onnx/ir.h"

const ev_op_def *const ev_ops_nn[] = {NULL};
