"""A tiny torch-free ONNX evaluator (numpy, float64) for the reference models.

It supports only the plain operators the reference models are allowed to use and
refuses anything else, so it doubles as the "nothing exotic" check:
ReduceMean, Conv, Relu, MaxPool, GlobalAveragePool, Flatten, Gemm, MatMul, Add,
Reshape, Identity, Constant.

python3-onnx 1.12 has no onnx.reference evaluator, hence this file.
"""

import numpy as np
import onnx
from onnx import numpy_helper

ALLOWED_OPS = {"ReduceMean", "Conv", "Relu", "MaxPool", "GlobalAveragePool", "Flatten",
               "Gemm", "MatMul", "Add", "Reshape", "Identity", "Constant"}


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pads2d(a, kh, kw):
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise ValueError("auto_pad not supported")
    p = list(a.get("pads", [0, 0, 0, 0]))
    if len(p) != 4:
        raise ValueError("only 2-D pads supported")
    return p


def _windows(x, kh, kw, sh, sw, pads, fill):
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])),
                constant_values=fill)
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    return win[:, :, ::sh, ::sw]          # [N, C, OH, OW, kh, kw]


def _conv(x, w, b, a):
    if a.get("group", 1) != 1:
        raise ValueError("grouped Conv not supported")
    if any(d != 1 for d in a.get("dilations", [1, 1])):
        raise ValueError("dilated Conv not supported")
    kh, kw = w.shape[2], w.shape[3]
    sh, sw = a.get("strides", [1, 1])
    win = _windows(x, kh, kw, sh, sw, _pads2d(a, kh, kw), 0.0)
    y = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # [N, OH, OW, O]
    y = y.transpose(0, 3, 1, 2)
    if b is not None:
        y = y + b[None, :, None, None]
    return y


def _maxpool(x, a):
    if a.get("ceil_mode", 0) != 0:
        raise ValueError("MaxPool ceil_mode not supported")
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    win = _windows(x, kh, kw, sh, sw, _pads2d(a, kh, kw), -np.inf)
    return win.max(axis=(4, 5))


def run(model, x):
    """Evaluate a loaded ModelProto on one input array; returns the first output."""
    g = model.graph
    env = {t.name: numpy_helper.to_array(t).astype(np.float64)
           if numpy_helper.to_array(t).dtype.kind == "f" else numpy_helper.to_array(t)
           for t in g.initializer}
    inputs = [i.name for i in g.input if i.name not in env]
    if len(inputs) != 1:
        raise ValueError("expected one graph input, got %s" % inputs)
    env[inputs[0]] = np.asarray(x, dtype=np.float64)
    for node in g.node:
        op = node.op_type
        if op not in ALLOWED_OPS:
            raise ValueError("op %s (node %s) not allowed" % (op, node.name))
        a = _attrs(node)
        ins = [env[n] if n else None for n in node.input]
        if op == "ReduceMean":
            axes = a.get("axes")
            if axes is None and len(ins) > 1 and ins[1] is not None:
                axes = ins[1]
            axes = tuple(int(v) for v in axes) if axes is not None else None
            y = ins[0].mean(axis=axes, keepdims=bool(a.get("keepdims", 1)))
        elif op == "Conv":
            y = _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
        elif op == "Relu":
            y = np.maximum(ins[0], 0.0)
        elif op == "MaxPool":
            y = _maxpool(ins[0], a)
        elif op == "GlobalAveragePool":
            y = ins[0].mean(axis=tuple(range(2, ins[0].ndim)), keepdims=True)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            s = ins[0].shape
            y = ins[0].reshape(int(np.prod(s[:ax])), int(np.prod(s[ax:])))
        elif op == "Gemm":
            A, B = ins[0], ins[1]
            if a.get("transA", 0):
                A = A.T
            if a.get("transB", 0):
                B = B.T
            y = a.get("alpha", 1.0) * (A @ B)
            if len(ins) > 2 and ins[2] is not None:
                y = y + a.get("beta", 1.0) * ins[2]
        elif op == "MatMul":
            y = ins[0] @ ins[1]
        elif op == "Add":
            y = ins[0] + ins[1]
        elif op == "Reshape":
            shape = [int(v) for v in ins[1]]
            shape = [ins[0].shape[i] if v == 0 else v for i, v in enumerate(shape)]
            y = ins[0].reshape(shape)
        elif op == "Identity":
            y = ins[0]
        elif op == "Constant":
            y = numpy_helper.to_array(a["value"])
        if len(node.output) != 1:
            raise ValueError("node %s: expected one output" % node.name)
        env[node.output[0]] = y
    return env[g.output[0].name]


def run_file(path, x):
    return run(onnx.load(path), x)
