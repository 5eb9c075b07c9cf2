#!/usr/bin/python3
"""Small ONNX graphs that exercise every fusion pattern of the fast path.

    /usr/bin/python3 tests/fast/make_patterns.py OUT_DIR

The six seed architectures (tools/export_models.py) cover the common forms;
these hand-built graphs (onnx.helper, random weights from a fixed seed) cover
the variants the exporters did not produce there: BatchNormalization left in
the graph (dynamo exporter), Clip with attributes (opset 6) and with inputs,
HardSigmoid with a non-PyTorch alpha, x*HardSigmoid(x), x*Sigmoid(x), LeakyRelu,
Tanh, erf-GELU, QuickGELU, decomposed LayerNorm, Gemm with transB/alpha/beta,
attention with Div/Mul scales, SE blocks with ReduceMean, pools with
ceil_mode / count_include_pad, Slice/Gather/Concat/Transpose/Squeeze views,
broadcast binaries with constants on either side. Each graph has a dynamic
batch axis; tests/fast/fast_diff runs it through the reference kernels and
the fast path and compares.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(20241128)


class G:
    def __init__(self, name, opset=13):
        self.name, self.opset = name, opset
        self.nodes, self.inits = [], []
        self.n = 0

    def t(self, prefix="t"):
        self.n += 1
        return "%s%d" % (prefix, self.n)

    def const(self, arr, dtype=np.float32):
        name = self.t("c")
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype=dtype), name))
        return name

    def op(self, op_type, inputs, n_out=1, **attrs):
        outs = [self.t() for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name="%s_%d" % (op_type, self.n),
                                           **attrs))
        return outs[0] if n_out == 1 else outs

    def conv(self, x, cin, cout, k, stride=1, group=1, bias=True, pad=None):
        w = RNG.normal(0, 1.0 / np.sqrt(cin // group * k * k), (cout, cin // group, k, k))
        ins = [x, self.const(w)]
        if bias:
            ins.append(self.const(RNG.normal(0, 0.1, cout)))
        p = k // 2 if pad is None else pad
        return self.op("Conv", ins, kernel_shape=[k, k], strides=[stride, stride],
                       pads=[p, p, p, p], group=group)

    def bn(self, x, c):
        return self.op("BatchNormalization",
                       [x, self.const(RNG.uniform(0.6, 1.4, c)), self.const(RNG.normal(0, 0.1, c)),
                        self.const(RNG.normal(0, 0.2, c)), self.const(RNG.uniform(0.5, 2.0, c))],
                       epsilon=1e-3)

    def save(self, out_dir, x_shape, y):
        x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch"] + list(x_shape))
        graph = helper.make_graph(self.nodes, self.name, [x], [], self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                              producer_name="embeval-fast-patterns")
        m.ir_version = 8
        # the output's type and shape as ONNX infers them (batch stays symbolic)
        inf = onnx.shape_inference.infer_shapes(m)
        vi = [v for v in inf.graph.value_info if v.name == y]
        if not vi:
            raise SystemExit("make_patterns: no inferred type for %s in %s" % (y, self.name))
        m.graph.output.append(vi[0])
        onnx.checker.check_model(m)
        onnx.save(m, os.path.join(out_dir, self.name + ".onnx"))


def cnn_patterns(out):
    g = G("cnn_patterns", 13)
    x = g.conv("input", 3, 16, 3, stride=2)
    x = g.bn(x, 16)                                   # Conv + BN (folded)
    x = g.op("Clip", [x, g.const(0.0), g.const(6.0)])  # ReLU6 post-op
    r = x
    y = g.conv(x, 16, 16, 3, group=16, bias=False)    # depthwise, no bias
    y = g.bn(y, 16)
    hs = g.op("HardSigmoid", [y], alpha=1.0 / 6, beta=0.5)
    y = g.op("Mul", [y, hs])                          # x * HardSigmoid(x) = HardSwish
    y = g.conv(y, 16, 16, 1)
    y = g.op("Add", [r, y])                           # residual (sum post-op)
    y = g.op("Relu", [y])
    # squeeze-excitation with ReduceMean, SiLU reduce, HardSigmoid(0.2) gate
    s = g.op("ReduceMean", [y], axes=[2, 3], keepdims=1)
    s = g.conv(s, 16, 8, 1)
    s = g.op("Mul", [s, g.op("Sigmoid", [s])])        # SiLU
    s = g.conv(s, 8, 16, 1)
    s = g.op("HardSigmoid", [s], alpha=0.2, beta=0.5)
    y = g.op("Mul", [s, y])                           # broadcast Mul, gate first
    y = g.op("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 0, 0], ceil_mode=1)
    y = g.conv(y, 16, 24, 3)
    y = g.op("LeakyRelu", [y], alpha=0.1)
    y = g.op("AveragePool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
             count_include_pad=0, ceil_mode=1)
    y = g.conv(y, 24, 24, 3)
    y = g.op("Tanh", [y])
    t = g.op("Sigmoid", [y])                          # standalone eltwise chain
    y = g.op("Sub", [t, g.const(RNG.normal(0, 0.1, (24, 1, 1)))])   # broadcast constant
    y = g.op("Div", [y, g.const(np.float32(0.5))])
    y = g.op("Add", [g.const(RNG.normal(0, 0.1, (1, 24, 1, 1))), y])  # constant first
    y = g.op("ReduceMean", [y], axes=[2, 3], keepdims=0)  # -> [N, 24]
    g.save(out, [3, 64, 64], y)


def clip6_patterns(out):
    g = G("clip6_patterns", 9)
    x = g.conv("input", 3, 8, 3)
    x = g.op("Clip", [x], min=0.0, max=6.0)           # Clip-6 attributes
    x = g.conv(x, 8, 8, 5, stride=2)
    x = g.op("Relu", [x])
    x = g.op("GlobalAveragePool", [x])
    x = g.op("Flatten", [x], axis=1)
    g.save(out, [3, 32, 32], x)


def dw_patterns(out):
    """EfficientNet-style blocks for the fast path's own depthwise kernel
    (lib/fast/dwconv.c): SiLU moved from the producing convolution into the
    kernel's input, squeeze-excitation pooling computed by the kernel, 3x3
    and 5x5, stride 1 and 2, asymmetric pads, odd widths (register block
    tails), a producer read twice (SiLU stays), and shapes the kernel
    refuses (channels not a multiple of 16, dilation)."""
    g = G("dw_patterns", 13)

    def silu(x):
        return g.op("Mul", [x, g.op("Sigmoid", [x])])

    def dw(x, c, k, stride=1, pads=None, dil=1):
        w = RNG.normal(0, 1.0 / k, (c, 1, k, k))
        p = pads if pads is not None else [k // 2] * 4
        return g.op("Conv", [x, g.const(w), g.const(RNG.normal(0, 0.1, c))], kernel_shape=[k, k],
                    strides=[stride, stride], pads=p, group=c, dilations=[dil, dil])

    def se(x, c, reduce_mean=False):
        if reduce_mean:
            s = g.op("ReduceMean", [x], axes=[2, 3], keepdims=1)
        else:
            s = g.op("GlobalAveragePool", [x])
        s = silu(g.conv(s, c, 8, 1))
        s = g.op("Sigmoid", [g.conv(s, 8, c, 1)])
        return g.op("Mul", [x, s])

    x = silu(g.conv("input", 3, 32, 3, stride=2))          # 23x23, SiLU moves into dw
    y = silu(dw(x, 32, 3))
    y = se(y, 32)
    y = g.conv(y, 32, 16, 1)
    y = silu(g.conv(y, 16, 96, 1))                         # expand
    y = silu(dw(y, 96, 5, stride=2, pads=[1, 2, 2, 1]))    # asymmetric pads
    y = se(y, 96, reduce_mean=True)
    y = g.conv(y, 96, 32, 1)
    y = g.op("Relu", [dw(y, 32, 3, stride=2, pads=[0, 0, 1, 1])])  # TF "same" padding
    x2 = silu(g.conv(y, 32, 48, 1))
    y2 = silu(dw(x2, 48, 5))                               # x2 also read by Concat
    y = g.op("Concat", [x2, y2], axis=1)                   # 96 channels
    y = g.op("Relu", [dw(y, 96, 3, dil=2, pads=[2, 2, 2, 2])])   # dilated: oneDNN
    y = g.conv(y, 96, 24, 1)
    y = silu(dw(y, 24, 3))                                 # 24 channels: oneDNN
    y = silu(g.conv(y, 24, 64, 1))
    y = silu(dw(y, 64, 3))
    y = g.op("GlobalAveragePool", [y])                     # the graph output
    g.save(out, [3, 45, 45], y)


def transformer_patterns(out, opset):
    """Pre-LN block: decomposed LayerNorm (opset 13) or the op (17), attention
    with Transpose/Reshape/Div/Softmax, erf-GELU MLP, Gemm head."""
    g = G("transformer_patterns_opset%d" % opset, opset)
    T, C, H = 10, 32, 4
    D = C // H

    def ln(x):
        gamma = g.const(RNG.uniform(0.8, 1.2, C))
        beta = g.const(RNG.normal(0, 0.05, C))
        if opset >= 17:
            return g.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=1e-5)
        mu = g.op("ReduceMean", [x], axes=[-1], keepdims=1)
        d = g.op("Sub", [x, mu])
        v = g.op("ReduceMean", [g.op("Pow", [d, g.const(np.float32(2.0))])], axes=[-1], keepdims=1)
        sd = g.op("Sqrt", [g.op("Add", [v, g.const(np.float32(1e-5))])])
        return g.op("Add", [g.op("Mul", [g.op("Div", [d, sd]), gamma]), beta])

    def lin(x, cin, cout):
        y = g.op("MatMul", [x, g.const(RNG.normal(0, 1.0 / np.sqrt(cin), (cin, cout)))])
        return g.op("Add", [g.const(RNG.normal(0, 0.02, cout)), y])   # bias first

    x = g.op("Reshape", ["input", g.const(np.array([-1, T, C]), np.int64)])
    h = ln(x)
    qkv = lin(h, C, 3 * C)
    q, k, v = g.op("Split", [qkv, g.const(np.array([C, C, C]), np.int64)], n_out=3, axis=-1) \
        if opset >= 13 else None

    def heads(t):
        t = g.op("Reshape", [t, g.const(np.array([-1, T, H, D]), np.int64)])
        return g.op("Transpose", [t], perm=[0, 2, 1, 3])

    q = g.op("Div", [heads(q), g.const(np.float32(np.sqrt(D)))])
    kt = g.op("Transpose", [heads(k)], perm=[0, 1, 3, 2])
    a = g.op("Softmax", [g.op("MatMul", [q, kt])], axis=-1)
    o = g.op("MatMul", [a, heads(v)])
    o = g.op("Reshape", [g.op("Transpose", [o], perm=[0, 2, 1, 3]),
                         g.const(np.array([-1, T, C]), np.int64)])
    x = g.op("Add", [x, lin(o, C, C)])
    h = ln(x)
    m = lin(h, C, 4 * C)
    e = g.op("Erf", [g.op("Div", [m, g.const(np.float32(np.sqrt(2.0)))])])
    m = g.op("Mul", [g.op("Mul", [m, g.op("Add", [e, g.const(np.float32(1.0))])]),
                     g.const(np.float32(0.5))])
    x = g.op("Add", [lin(m, 4 * C, C), x])             # residual second
    # QuickGELU on a side branch, then class token, Gemm head
    qg = g.op("Mul", [x, g.op("Sigmoid", [g.op("Mul", [x, g.const(np.float32(1.702))])])])
    cls = g.op("Gather", [qg, g.const(np.array(0), np.int64)], axis=1)          # [B, C]
    tail = g.op("Slice", [x, g.const(np.array([1]), np.int64), g.const(np.array([3]), np.int64),
                          g.const(np.array([1]), np.int64)])                   # [B, 2, C]
    tail = g.op("Squeeze", [g.op("ReduceMean", [tail], axes=[1], keepdims=1),
                            g.const(np.array([1]), np.int64)])                 # [B, C]
    y = g.op("Concat", [cls, tail], axis=1)                                    # [B, 2C]
    y = g.op("Gemm", [y, g.const(RNG.normal(0, 0.1, (16, 2 * C))), g.const(RNG.normal(0, 0.1, 16))],
             transB=1, alpha=0.5, beta=2.0)
    g.save(out, [T * C], y)


def main():
    if len(sys.argv) != 2:
        print("usage: make_patterns.py OUT_DIR", file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    cnn_patterns(out)
    clip6_patterns(out)
    dw_patterns(out)
    transformer_patterns(out, 13)
    transformer_patterns(out, 17)
    print("make_patterns: wrote 5 models to %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
