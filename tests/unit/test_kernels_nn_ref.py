#!/usr/bin/python3
"""Oracle for tests/unit/test_kernels_nn.c.

Usage: test_kernels_nn_ref.py OUTDIR

Writes random inputs (fixed seed) and the outputs PyTorch / NumPy compute
for them as .npy files into OUTDIR, plus OUTDIR/manifest.txt describing each
case for the C test:

    case NAME OP OPSET
    attr_i NAME V | attr_f NAME V | attr_s NAME V | attr_ints NAME N V...
    in FILE [bool]        ('-' = omitted optional input)
    out FILE [bool]       ('-' = output not requested)
    tol RTOL ATOL
    end

bool tensors are stored as int64 (the C side converts). Expected values come
from torch.nn.functional or plain NumPy formulas, never from embeval.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20240611)
lines = []
counter = [0]


def save(arr, is_bool=False):
    counter[0] += 1
    name = "t%04d.npy" % counter[0]
    a = np.asarray(arr)
    if is_bool or a.dtype == np.bool_:
        a = a.astype(np.int64)
    elif a.dtype == np.float32 or a.dtype == np.float64 or a.dtype == np.int64 or a.dtype == np.int32:
        pass
    else:
        raise ValueError(a.dtype)
    np.save(os.path.join(OUT, name), np.array(a, order="C"))  # keeps 0-d shapes
    return name + (" bool" if (is_bool or np.asarray(arr).dtype == np.bool_) else "")


def case(name, op, opset, inputs, outputs, attrs=None, tol=(1e-4, 1e-5)):
    lines.append("case %s %s %d" % (name, op, opset))
    for k, v in (attrs or {}).items():
        if isinstance(v, str):
            lines.append("attr_s %s %s" % (k, v))
        elif isinstance(v, float):
            lines.append("attr_f %s %r" % (k, v))
        elif isinstance(v, (list, tuple)):
            lines.append("attr_ints %s %d %s" % (k, len(v), " ".join(str(int(x)) for x in v)))
        else:
            lines.append("attr_i %s %d" % (k, int(v)))
    for x in inputs:
        lines.append("in -" if x is None else "in " + save(x))
    for y in outputs:
        lines.append("out -" if y is None else "out " + save(y))
    lines.append("tol %g %g" % tol)
    lines.append("end")


def randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


# ---------------------------------------------------------------- Conv
def same_pads(inp, k, s, d, upper):
    pads_b, pads_e = [], []
    for i, kk, ss, dd in zip(inp, k, s, d):
        out = -(-i // ss)
        total = max(0, (out - 1) * ss + (kk - 1) * dd + 1 - i)
        b = total // 2 if upper else total - total // 2
        pads_b.append(b)
        pads_e.append(total - b)
    return pads_b + pads_e


def conv_case(name, N, C, sp, M, k, group=1, s=None, d=None, pads=None, bias=True, auto_pad=None,
              omit_kernel_shape=False, tol=(1e-4, 1e-4)):
    sr = len(sp)
    s = s or [1] * sr
    d = d or [1] * sr
    x = randn(N, C, *sp)
    w = randn(M, C // group, *k)
    b = randn(M) if bias else None
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        p = same_pads(sp, k, s, d, auto_pad == "SAME_UPPER")
    elif auto_pad == "VALID":
        p = [0] * (2 * sr)
    else:
        p = pads or [0] * (2 * sr)
    # F.pad takes (last_begin, last_end, prev_begin, prev_end, ...)
    fp = []
    for i in reversed(range(sr)):
        fp += [p[i], p[i + sr]]
    xt = F.pad(t(x), fp)
    fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[sr]
    y = fn(xt.double(), t(w).double(), None if b is None else t(b).double(), stride=s, dilation=d,
           groups=group).float().numpy()
    attrs = {"strides": s, "dilations": d, "group": group}
    if not omit_kernel_shape:
        attrs["kernel_shape"] = list(k)
    if auto_pad:
        attrs["auto_pad"] = auto_pad
    elif pads:
        attrs["pads"] = pads
    case(name, "Conv", 11, [x, w] + ([b] if bias else []), [y], attrs, tol)


conv_case("conv2d_basic", 2, 8, (13, 13), 16, (3, 3), pads=[1, 1, 1, 1])
conv_case("conv2d_stride_dil_asym", 2, 5, (17, 15), 7, (3, 3), s=[2, 2], d=[2, 1], pads=[1, 0, 2, 3])
conv_case("conv2d_groups", 1, 8, (10, 9), 12, (3, 3), group=4, pads=[1, 1, 1, 1])
conv_case("conv2d_depthwise_s2", 2, 6, (15, 16), 12, (5, 5), group=6, s=[2, 2], pads=[2, 2, 2, 2])
conv_case("conv2d_depthwise_dil", 1, 4, (12, 12), 4, (3, 3), group=4, d=[2, 2], pads=[2, 2, 2, 2], bias=False)
conv_case("conv2d_depthwise_stride3_pad", 1, 3, (11, 14), 3, (3, 3), group=3, s=[3, 3], pads=[0, 2, 1, 0])
conv_case("conv2d_pointwise", 2, 32, (9, 9), 24, (1, 1))
conv_case("conv2d_1x1_stride2", 1, 16, (9, 8), 8, (1, 1), s=[2, 2], bias=False)
conv_case("conv2d_1x1_padded", 1, 7, (5, 5), 5, (1, 1), pads=[1, 1, 1, 1])
conv_case("conv2d_big", 1, 64, (28, 28), 64, (3, 3), pads=[1, 1, 1, 1], tol=(1e-4, 2e-4))
conv_case("conv2d_odd_sizes", 2, 70, (9, 11), 37, (3, 3), pads=[1, 1, 1, 1], tol=(1e-4, 2e-4))
conv_case("conv2d_deep_small_plane", 1, 300, (4, 4), 50, (3, 3), pads=[1, 1, 1, 1], tol=(1e-4, 3e-4))
conv_case("conv2d_stem", 1, 3, (32, 30), 16, (7, 7), s=[2, 2], pads=[3, 3, 3, 3])
conv_case("conv2d_patchify", 2, 3, (64, 64), 24, (16, 16), s=[16, 16], bias=False)
conv_case("conv2d_single_channel", 2, 1, (12, 10), 5, (3, 3), pads=[1, 1, 1, 1])
conv_case("conv2d_same_upper", 1, 4, (11, 10), 6, (3, 3), s=[2, 2], auto_pad="SAME_UPPER")
conv_case("conv2d_same_lower", 1, 4, (11, 10), 6, (4, 4), s=[2, 2], auto_pad="SAME_LOWER")
conv_case("conv2d_valid", 1, 4, (11, 10), 6, (3, 2), s=[2, 3], auto_pad="VALID", omit_kernel_shape=True)
conv_case("conv2d_dw_same_upper", 1, 8, (13, 13), 8, (3, 3), group=8, s=[2, 2], auto_pad="SAME_UPPER")
conv_case("conv1d", 2, 4, (31,), 6, (5,), s=[2], pads=[1, 3])
conv_case("conv1d_dw", 2, 4, (20,), 4, (3,), group=4, d=[3], pads=[3, 3])
conv_case("conv3d", 1, 3, (7, 7, 7), 4, (3, 3, 3), s=[1, 2, 1], d=[1, 1, 2], pads=[1, 1, 1, 1, 1, 1])
conv_case("conv3d_dw", 1, 4, (5, 6, 7), 4, (3, 3, 3), group=4, pads=[1, 1, 1, 1, 1, 1])

# ---------------------------------------------------------------- MatMul / Gemm
def mm_case(name, sa, sb, tol=(1e-4, 1e-4)):
    a, b = randn(*sa), randn(*sb)
    y = np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.float32)
    case(name, "MatMul", 13, [a, b], [y], tol=tol)


mm_case("matmul_2d", (7, 9), (9, 5))
mm_case("matmul_bcast", (3, 1, 5, 7), (4, 7, 6))
mm_case("matmul_fold", (2, 50, 64), (64, 96))
mm_case("matmul_batched", (5, 64, 33), (5, 33, 70))
mm_case("matmul_bcast_a", (33, 17), (3, 17, 21))
mm_case("matmul_1d_2d", (9,), (9, 4))
mm_case("matmul_2d_1d", (4, 9), (9,))
mm_case("matmul_1d_1d", (9,), (9,))
mm_case("matmul_1d_batched", (6,), (2, 3, 6, 5))
mm_case("matmul_large", (97, 300), (300, 530), tol=(1e-4, 3e-4))
mm_case("matmul_attention", (2, 12, 50, 64), (2, 12, 64, 50), tol=(1e-4, 2e-4))


def gemm_case(name, M, N, K, ta=0, tb=0, alpha=1.0, beta=1.0, cshape=None, opset=13):
    a = randn(K, M) if ta else randn(M, K)
    b = randn(N, K) if tb else randn(K, N)
    A = a.T if ta else a
    B = b.T if tb else b
    y = alpha * (A.astype(np.float64) @ B.astype(np.float64))
    ins = [a, b]
    if cshape is not None:
        c = randn(*cshape)
        y = y + beta * c.astype(np.float64)
        ins.append(c)
    attrs = {"transA": ta, "transB": tb}
    if alpha != 1.0:
        attrs["alpha"] = alpha
    if beta != 1.0:
        attrs["beta"] = beta
    case(name, "Gemm", opset, ins, [y.astype(np.float32)], attrs, (1e-4, 1e-4))


gemm_case("gemm_plain", 5, 7, 9, cshape=(5, 7))
gemm_case("gemm_transb_bias", 4, 100, 64, tb=1, cshape=(100,))
gemm_case("gemm_transa", 6, 5, 8, ta=1, cshape=(6, 1))
gemm_case("gemm_both_alpha_beta", 6, 5, 300, ta=1, tb=1, alpha=0.5, beta=2.0, cshape=(1,))
gemm_case("gemm_noc", 3, 4, 5, alpha=2.0)
gemm_case("gemm_scalar_c", 3, 4, 5, cshape=())
gemm_case("gemm_opset9", 2, 3, 4, cshape=(2, 3), opset=9)

# ---------------------------------------------------------------- pooling
def pool_ref(x, kind, k, s, d, p, ceil_mode=False, count_include_pad=False):
    """Pooling through torch on an explicitly padded input (asymmetric pads)."""
    sr = len(k)
    fp = []
    for i in reversed(range(sr)):
        fp += [p[i], p[i + sr]]
    xt = t(x).double()
    if kind == "max":
        xp = F.pad(xt, fp, value=-np.inf)
        fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[sr]
        y = fn(xp, k, s, 0, d, ceil_mode=ceil_mode)
    else:
        fn = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[sr]
        if count_include_pad and all(p[i] == p[i + sr] for i in range(sr)):
            y = fn(xt, k, s, p[:sr], ceil_mode=ceil_mode, count_include_pad=True)
        else:
            # sum over the window / number of real cells in it
            xp = F.pad(xt, fp)
            mp = F.pad(torch.ones_like(xt), fp)
            num = fn(xp, k, s, 0, ceil_mode=ceil_mode, count_include_pad=True)
            den = fn(mp, k, s, 0, ceil_mode=ceil_mode, count_include_pad=True)
            y = num / den
    return y.float().numpy()


def pool_case(name, op, shape, k, s=None, d=None, pads=None, ceil_mode=0, cip=0, auto_pad=None, opset=None):
    sr = len(k)
    s = s or [1] * sr
    d = d or [1] * sr
    x = randn(*shape)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        p = same_pads(shape[2:], k, s, d, auto_pad == "SAME_UPPER")
    else:
        p = pads or [0] * (2 * sr)
    y = pool_ref(x, "max" if op == "MaxPool" else "avg", k, s, d, p, bool(ceil_mode), bool(cip))
    attrs = {"kernel_shape": k, "strides": s}
    if op == "MaxPool" and d != [1] * sr:
        attrs["dilations"] = d
    if auto_pad:
        attrs["auto_pad"] = auto_pad
    elif pads:
        attrs["pads"] = pads
    if ceil_mode:
        attrs["ceil_mode"] = 1
    if cip:
        attrs["count_include_pad"] = 1
    case(name, op, opset or (12 if op == "MaxPool" else 11), [x], [y], attrs)


pool_case("maxpool_resnet", "MaxPool", (2, 4, 16, 16), [3, 3], [2, 2], pads=[1, 1, 1, 1])
pool_case("maxpool_ceil", "MaxPool", (1, 3, 13, 13), [3, 3], [2, 2], ceil_mode=1)
pool_case("maxpool_ceil_pad", "MaxPool", (1, 2, 10, 11), [3, 3], [2, 2], pads=[1, 1, 1, 1], ceil_mode=1)
pool_case("maxpool_dilated", "MaxPool", (1, 2, 12, 12), [3, 3], [1, 1], d=[2, 2], pads=[1, 0, 2, 1])
pool_case("maxpool_same_upper", "MaxPool", (1, 2, 9, 8), [3, 3], [2, 2], auto_pad="SAME_UPPER")
pool_case("maxpool_same_lower", "MaxPool", (1, 2, 9, 8), [2, 2], [2, 2], auto_pad="SAME_LOWER")
pool_case("maxpool_1d", "MaxPool", (2, 3, 17), [4], [3], pads=[1, 2])
pool_case("maxpool_3d", "MaxPool", (1, 2, 6, 7, 5), [2, 3, 2], [2, 2, 1])
pool_case("maxpool_opset8", "MaxPool", (1, 2, 7, 7), [2, 2], [2, 2], opset=8)
pool_case("avgpool_basic", "AveragePool", (2, 3, 12, 12), [3, 3], [2, 2])
pool_case("avgpool_pads_exclude", "AveragePool", (1, 3, 9, 10), [3, 3], [2, 2], pads=[1, 1, 1, 1])
pool_case("avgpool_pads_include", "AveragePool", (1, 3, 9, 10), [3, 3], [2, 2], pads=[1, 1, 1, 1], cip=1)
pool_case("avgpool_asym_exclude", "AveragePool", (1, 2, 8, 9), [3, 2], [1, 2], pads=[0, 1, 2, 1])
pool_case("avgpool_ceil_exclude", "AveragePool", (1, 2, 10, 10), [3, 3], [2, 2], ceil_mode=1)
pool_case("avgpool_ceil_include", "AveragePool", (1, 2, 10, 10), [3, 3], [2, 2], pads=[1, 1, 1, 1], ceil_mode=1, cip=1)
pool_case("avgpool_same_upper", "AveragePool", (1, 2, 9, 8), [3, 3], [2, 2], auto_pad="SAME_UPPER")
pool_case("avgpool_1d", "AveragePool", (2, 3, 17), [4], [3])
pool_case("avgpool_3d", "AveragePool", (1, 2, 6, 6, 6), [2, 2, 2], [2, 2, 2])

x = randn(2, 5, 7, 9)
case("globalavgpool", "GlobalAveragePool", 11, [x], [x.mean(axis=(2, 3), keepdims=True)])
case("globalmaxpool", "GlobalMaxPool", 11, [x], [x.max(axis=(2, 3), keepdims=True)])
x = randn(2, 3, 300, 300)
case("globalavgpool_big", "GlobalAveragePool", 11, [x], [x.astype(np.float64).mean(axis=(2, 3), keepdims=True).astype(np.float32)])
x = randn(2, 3, 11)
case("globalavgpool_1d", "GlobalAveragePool", 11, [x], [x.mean(axis=2, keepdims=True)])

# ---------------------------------------------------------------- normalisation
for shape, name in (((2, 6, 5, 4), "bn_4d"), ((3, 7, 10), "bn_3d"), ((4, 5), "bn_2d")):
    x = randn(*shape)
    C = shape[1]
    sc, b, mu = randn(C), randn(C), randn(C)
    var = rng.uniform(0.5, 2.0, C).astype(np.float32)
    y = F.batch_norm(t(x).double(), t(mu).double(), t(var).double(), t(sc).double(), t(b).double(),
                     training=False, eps=1e-3).float().numpy()
    case(name, "BatchNormalization", 15, [x, sc, b, mu, var], [y], {"epsilon": 1e-3})
x = randn(2, 3, 4, 4)
sc, b, mu = randn(3, 4, 4), randn(3, 4, 4), randn(3, 4, 4)
var = rng.uniform(0.5, 2.0, (3, 4, 4)).astype(np.float32)
y = (x - mu) / np.sqrt(var + 1e-5) * sc + b
case("bn_opset7_per_activation", "BatchNormalization", 7, [x, sc, b, mu, var], [y.astype(np.float32)], {"spatial": 0})
x = randn(2, 3, 4, 4)
sc, b, mu = randn(3), randn(3), randn(3)
var = rng.uniform(0.5, 2.0, 3).astype(np.float32)
y = F.batch_norm(t(x), t(mu), t(var), t(sc), t(b), training=False, eps=1e-5).numpy()
case("bn_opset9", "BatchNormalization", 9, [x, sc, b, mu, var], [y])


def ln_case(name, shape, axis, bias=True, outputs_stats=False, sshape=None):
    x = randn(*shape)
    a = axis if axis >= 0 else axis + len(shape)
    ns = shape[a:]
    sc = randn(*(sshape or ns))
    b = randn(*(sshape or ns)) if bias else None
    xd = x.astype(np.float64)
    ax = tuple(range(a, len(shape)))
    mean = xd.mean(axis=ax, keepdims=True)
    var = ((xd - mean) ** 2).mean(axis=ax, keepdims=True)
    inv = 1.0 / np.sqrt(var + 1e-5)
    y = (xd - mean) * inv * sc + (b if bias else 0)
    yt = F.layer_norm(t(x).double(), ns, None if sshape else t(sc).double(),
                      None if (sshape or not bias) else t(b).double(), 1e-5)
    if not sshape:
        assert np.allclose(yt.numpy(), y, atol=1e-9)
    outs = [y.astype(np.float32)]
    if outputs_stats:
        outs += [mean.astype(np.float32), inv.astype(np.float32)]
    case(name, "LayerNormalization", 17, [x, sc] + ([b] if bias else []), outs, {"axis": axis})


ln_case("layernorm_last", (2, 5, 64), -1)
ln_case("layernorm_axis1", (3, 4, 5), 1, outputs_stats=True)
ln_case("layernorm_nobias", (4, 32), -1, bias=False)
ln_case("layernorm_bcast_scale", (2, 3, 6), 1, sshape=(1, 6))
ln_case("layernorm_vit", (4, 50, 768), -1)


def softmax_case(name, op, opset, shape, axis=None):
    x = randn(*shape) * 3
    xt = t(x).double()
    if opset < 13:
        a = 1 if axis is None else axis
        a = a if a >= 0 else a + len(shape)
        flat = xt.reshape(int(np.prod(shape[:a])), -1)
        y = (F.log_softmax if op == "LogSoftmax" else F.softmax)(flat, dim=1).reshape(shape)
    else:
        a = -1 if axis is None else axis
        y = (F.log_softmax if op == "LogSoftmax" else F.softmax)(xt, dim=a)
    case(name, op, opset, [x], [y.float().numpy()], {} if axis is None else {"axis": axis}, (1e-4, 1e-6))


softmax_case("softmax13_last", "Softmax", 13, (2, 12, 50, 50))
softmax_case("softmax13_axis1", "Softmax", 13, (2, 3, 4, 5), axis=1)
softmax_case("softmax11_coerce", "Softmax", 11, (2, 3, 4))
softmax_case("softmax11_axis2", "Softmax", 11, (2, 3, 4, 5), axis=2)
softmax_case("logsoftmax13_axis0", "LogSoftmax", 13, (3, 4, 5), axis=0)
softmax_case("logsoftmax11_coerce", "LogSoftmax", 11, (2, 3, 4))

# ---------------------------------------------------------------- reductions
x = randn(2, 8, 5, 5)
case("reducemean_axes23", "ReduceMean", 13, [x], [x.mean(axis=(2, 3), keepdims=True)], {"axes": [2, 3]})
case("reducemean_neg_nokeep", "ReduceMean", 13, [x], [x.mean(axis=(-1,), keepdims=False)], {"axes": [-1], "keepdims": 0})
case("reducemean_18_input", "ReduceMean", 18, [x, np.array([1, 3], np.int64)], [x.mean(axis=(1, 3), keepdims=True)])
case("reducemean_all", "ReduceMean", 13, [x], [x.mean(keepdims=True)])
case("reducesum_13_input", "ReduceSum", 13, [x, np.array([0, 2], np.int64)], [x.sum(axis=(0, 2))], {"keepdims": 0})
case("reducesum_13_noaxes", "ReduceSum", 13, [x], [x.sum(keepdims=True)])
case("reducesum_13_noop", "ReduceSum", 13, [x, np.zeros(0, np.int64)], [x], {"noop_with_empty_axes": 1})
case("reducesum_11_attr", "ReduceSum", 11, [x], [x.sum(axis=1)], {"axes": [1], "keepdims": 0})
case("reducemax_all", "ReduceMax", 13, [x], [x.max(keepdims=True)])
case("reducemax_axis0_2", "ReduceMax", 13, [x], [x.max(axis=(0, 2), keepdims=True)], {"axes": [0, 2]})
case("reducemax_18_input", "ReduceMax", 18, [x, np.array([-1], np.int64)], [x.max(axis=-1)], {"keepdims": 0})

x = rng.integers(0, 4, (3, 5, 4)).astype(np.float32)  # many ties
case("argmax_axis1", "ArgMax", 13, [x], [np.argmax(x, axis=1)], {"axis": 1, "keepdims": 0})
case("argmax_keep", "ArgMax", 13, [x], [np.expand_dims(np.argmax(x, axis=2), 2)], {"axis": -1})
last = x.shape[0] - 1 - np.argmax(x[::-1], axis=0)
case("argmax_last", "ArgMax", 13, [x], [np.expand_dims(last, 0)], {"select_last_index": 1})
xi = rng.integers(-50, 50, (4, 6)).astype(np.int64)
case("argmax_int64", "ArgMax", 13, [xi], [np.argmax(xi, axis=1)], {"axis": 1, "keepdims": 0})

# ---------------------------------------------------------------- element-wise
x = randn(3, 4, 5)
pos = np.abs(x) + 0.1
for op, fn, inp in (
        ("Relu", lambda a: np.maximum(a, 0), x), ("Sigmoid", lambda a: 1 / (1 + np.exp(-a.astype(np.float64))), x * 10),
        ("Tanh", np.tanh, x), ("Erf", lambda a: torch.erf(t(a).double()).numpy(), x), ("Sqrt", np.sqrt, pos),
        ("Exp", np.exp, x), ("Log", np.log, pos), ("Neg", np.negative, x), ("Abs", np.abs, x),
        ("Reciprocal", lambda a: 1 / a, pos), ("Floor", np.floor, x * 3), ("Ceil", np.ceil, x * 3)):
    case("unary_" + op.lower(), op, 13, [inp], [fn(inp).astype(np.float32)], tol=(2e-6, 1e-6))
big = randn(300001)
case("unary_sigmoid_big", "Sigmoid", 13, [big], [(1 / (1 + np.exp(-big.astype(np.float64)))).astype(np.float32)], tol=(2e-6, 1e-6))
case("leakyrelu", "LeakyRelu", 16, [x], [np.where(x < 0, 0.1 * x, x)], {"alpha": 0.1})
case("leakyrelu_default", "LeakyRelu", 16, [x], [np.where(x < 0, np.float32(0.01) * x, x)])
case("hardsigmoid_torch", "HardSigmoid", 6, [x * 4], [F.hardsigmoid(t(x * 4)).numpy()], {"alpha": 1.0 / 6, "beta": 0.5})
case("hardsigmoid_default", "HardSigmoid", 6, [x * 4], [np.clip(0.2 * (x * 4) + 0.5, 0, 1).astype(np.float32)])
case("hardswish", "HardSwish", 14, [x * 4], [F.hardswish(t(x * 4)).numpy()])
case("clip6_attrs", "Clip", 6, [x], [np.clip(x, -0.5, 0.7)], {"min": -0.5, "max": 0.7})
case("clip6_default", "Clip", 6, [x], [x])
case("clip13_both", "Clip", 13, [x * 4, np.array(0, np.float32), np.array(6, np.float32)], [np.clip(x * 4, 0, 6)])
case("clip13_min_only", "Clip", 13, [x, np.array(-0.2, np.float32)], [np.maximum(x, -0.2)])
case("clip13_max_only", "Clip", 13, [x, None, np.array(0.3, np.float32)], [np.minimum(x, 0.3)])
case("clip13_none", "Clip", 13, [x], [x])
case("clip13_empty_min", "Clip", 13, [x, np.zeros(0, np.float32), np.array(0.3, np.float32)], [np.minimum(x, 0.3)])
xi = rng.integers(-20, 20, (4, 5)).astype(np.int64)
case("clip13_int64", "Clip", 13, [xi, np.array(-3, np.int64), np.array(7, np.int64)], [np.clip(xi, -3, 7)])
case("neg_int64", "Neg", 13, [xi], [-xi])
case("abs_int32", "Abs", 13, [xi.astype(np.int32)], [np.abs(xi).astype(np.int32)])
case("relu_int64", "Relu", 14, [xi], [np.maximum(xi, 0)])
bx = rng.integers(0, 2, (3, 4)).astype(bool)
case("not", "Not", 1, [bx], [np.logical_not(bx)])

A, B = randn(2, 3, 4, 5), randn(3, 1, 5)
for op, fn in (("Add", np.add), ("Sub", np.subtract), ("Mul", np.multiply), ("Div", np.divide)):
    case("bin_" + op.lower(), op, 14, [A, B], [fn(A, B)], tol=(1e-6, 1e-7))
A2, B2 = randn(4, 1), randn(1, 6)
case("bin_add_outer", "Add", 14, [A2, B2], [A2 + B2])
case("bin_mul_scalar", "Mul", 14, [A, np.array(1.702, np.float32)], [A * np.float32(1.702)])
case("bin_sub_scalar_first", "Sub", 14, [np.array(1.0, np.float32), A], [np.float32(1) - A])
act, se = randn(4, 64, 32, 32), randn(4, 64, 1, 1)
case("bin_mul_se_big", "Mul", 14, [act, se], [act * se], tol=(1e-6, 1e-7))
bb = randn(64, 1, 1)
case("bin_add_bias_big", "Add", 14, [act, bb], [act + bb], tol=(1e-6, 1e-7))
m1, m2 = randn(2, 3, 70000), randn(1, 3, 1)
case("bin_mul_rows_big", "Mul", 14, [m1, m2], [m1 * m2], tol=(1e-6, 1e-7))
ia = rng.integers(-100, 100, (3, 4)).astype(np.int64)
ib = rng.integers(1, 9, (4,)).astype(np.int64) * rng.choice([-1, 1], 4)
case("bin_add_int64", "Add", 14, [ia, ib], [ia + ib])
case("bin_sub_int64", "Sub", 14, [ia, ib], [ia - ib])
case("bin_mul_int64", "Mul", 14, [ia, ib], [ia * ib])
case("bin_div_int64_trunc", "Div", 14, [ia, ib], [(np.sign(ia) * np.sign(ib) * (np.abs(ia) // np.abs(ib))).astype(np.int64)])
case("bin_div_int32_trunc", "Div", 14, [ia.astype(np.int32), ib.astype(np.int32)],
     [(np.sign(ia) * np.sign(ib) * (np.abs(ia) // np.abs(ib))).astype(np.int32)])
case("pow_square", "Pow", 15, [A, np.array(2.0, np.float32)], [A * A])
case("pow_half", "Pow", 15, [np.abs(A), np.array(0.5, np.float32)], [np.power(np.abs(A), 0.5)], tol=(2e-6, 1e-7))
case("pow_bcast", "Pow", 15, [np.abs(A) + 0.5, B], [np.power(np.abs(A) + 0.5, B)], tol=(2e-6, 1e-7))
case("pow_int_exp", "Pow", 15, [A, np.array(3, np.int64)], [A ** 3], tol=(2e-6, 1e-7))
case("pow_int32_exp", "Pow", 15, [A, np.array([1, 2, 3, 0, -1], np.int32)], [(A.astype(np.float64) ** np.array([1, 2, 3, 0, -1]).astype(np.float64)).astype(np.float32)], tol=(2e-6, 1e-7))
ca, cb = rng.integers(0, 3, (3, 4)).astype(np.float32), rng.integers(0, 3, (4,)).astype(np.float32)
for op, fn in (("Equal", np.equal), ("Less", np.less), ("Greater", np.greater),
               ("LessOrEqual", np.less_equal), ("GreaterOrEqual", np.greater_equal)):
    case("cmp_" + op.lower(), op, 16, [ca, cb], [fn(ca, cb)])
    case("cmp_" + op.lower() + "_int64", op, 16, [ca.astype(np.int64), cb.astype(np.int64)], [fn(ca, cb)])
case("cmp_equal_int32", "Equal", 13, [ca.astype(np.int32), cb.astype(np.int32)], [ca == cb])
ba, bb2 = rng.integers(0, 2, (2, 3, 4)).astype(bool), rng.integers(0, 2, (3, 1)).astype(bool)
case("and", "And", 7, [ba, bb2], [ba & bb2])
case("or", "Or", 7, [ba, bb2], [ba | bb2])
case("equal_bool", "Equal", 13, [ba, bb2], [ba == bb2])

v1, v2, v3 = randn(3, 1, 5), randn(4, 5), randn(1)
case("min3", "Min", 13, [v1, v2, v3], [np.minimum(np.minimum(v1, v2), v3)])
case("max3", "Max", 13, [v1, v2, v3], [np.maximum(np.maximum(v1, v2), v3)])
case("sum3", "Sum", 13, [v1, v2, v3], [v1 + v2 + v3], tol=(1e-6, 1e-6))
case("mean3", "Mean", 13, [v1, v2, v3], [((v1.astype(np.float64) + v2 + v3) / 3).astype(np.float32)], tol=(1e-6, 1e-6))
case("max1", "Max", 13, [v2], [v2])
case("min_int64", "Min", 13, [ia, ib], [np.minimum(ia, ib)])
case("max_int64", "Max", 13, [ia, ib], [np.maximum(ia, ib)])

cond = rng.integers(0, 2, (2, 1, 4)).astype(bool)
wx, wy = randn(3, 4), randn(2, 3, 1)
case("where_float", "Where", 16, [cond, wx, wy], [np.where(cond, wx, wy)])
case("where_int64", "Where", 16, [cond, ia[:1], np.array(-7, np.int64)], [np.where(cond, ia[:1], -7)])
case("where_bool", "Where", 16, [cond, ba[:, :1], bb2[:1, :1]], [np.where(cond, ba[:, :1], bb2[:1, :1])])

cf = np.array([-2.7, -0.5, 0.0, 0.4, 1.5, 3.99, 1e6, -1e6], np.float32)
case("cast_f32_i64", "Cast", 13, [cf], [np.trunc(cf).astype(np.int64)], {"to": 7})
case("cast_f32_i32", "Cast", 13, [cf], [np.trunc(cf).astype(np.int32)], {"to": 6})
case("cast_f32_bool", "Cast", 13, [cf], [cf != 0], {"to": 9})
case("cast_f32_f64", "Cast", 13, [cf], [cf.astype(np.float64)], {"to": 11})
case("cast_f64_f32", "Cast", 13, [cf.astype(np.float64) / 3], [(cf.astype(np.float64) / 3).astype(np.float32)], {"to": 1})
case("cast_i64_f32", "Cast", 13, [ia], [ia.astype(np.float32)], {"to": 1})
case("cast_i64_i32", "Cast", 13, [ia], [ia.astype(np.int32)], {"to": 6})
case("cast_i32_i64", "Cast", 13, [ia.astype(np.int32)], [ia], {"to": 7})
case("cast_bool_f32", "Cast", 13, [ba], [ba.astype(np.float32)], {"to": 1})
case("cast_bool_i64", "Cast", 13, [ba], [ba.astype(np.int64)], {"to": 7})
case("cast_i64_bool", "Cast", 13, [ia], [ia != 0], {"to": 9})
case("cast_same", "Cast", 13, [cf], [cf], {"to": 1})

# ---------------------------------------------------------------- extra ops
x = randn(2, 4, 5, 6)
slope = randn(4, 1, 1)
case("prelu_channel", "PRelu", 9, [x, slope], [F.prelu(t(x), t(slope.reshape(4))).numpy()])
case("elu", "Elu", 6, [x], [F.elu(t(x).double(), 0.7).float().numpy()], {"alpha": 0.7}, (2e-6, 1e-7))
case("selu", "Selu", 6, [x], [F.selu(t(x).double()).float().numpy()], tol=(2e-6, 1e-7))
case("celu", "Celu", 12, [x], [F.celu(t(x).double(), 1.5).float().numpy()], {"alpha": 1.5}, (2e-6, 1e-7))
case("softplus_wide", "Softplus", 1, [x * 40], [F.softplus(t(x * 40).double()).float().numpy()], tol=(2e-6, 1e-7))
case("softsign", "Softsign", 1, [x], [(x / (1 + np.abs(x))).astype(np.float32)], tol=(2e-6, 1e-7))
hv = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4, -2.6], np.float32)
case("round_half_even", "Round", 11, [hv], [np.round(hv)])
case("sign_float", "Sign", 13, [np.append(hv, 0).astype(np.float32)], [np.sign(np.append(hv, 0)).astype(np.float32)])
case("sign_int64", "Sign", 13, [ia], [np.sign(ia)])
special = np.array([np.nan, np.inf, -np.inf, 0.0, 1.0], np.float32)
case("isnan", "IsNaN", 9, [special], [np.isnan(special)])
case("isinf_pos", "IsInf", 10, [special], [np.isposinf(special)], {"detect_negative": 0})
case("reducel2", "ReduceL2", 13, [x], [np.sqrt((x.astype(np.float64) ** 2).sum(axis=(1, 3), keepdims=True)).astype(np.float32)], {"axes": [1, 3]})
case("reducelse", "ReduceLogSumExp", 13, [x], [np.log(np.exp(x.astype(np.float64)).sum(axis=2)).astype(np.float32)], {"axes": [2], "keepdims": 0})
case("reduceprod", "ReduceProd", 13, [x], [x.astype(np.float64).prod(axis=0, keepdims=True).astype(np.float32)], {"axes": [0]})
case("reducemin", "ReduceMin", 13, [x], [x.min(axis=(0, 2), keepdims=True)], {"axes": [0, 2]})
xt_ = rng.integers(0, 4, (3, 5, 4)).astype(np.float32)
case("argmin_axis1", "ArgMin", 13, [xt_], [np.argmin(xt_, axis=1)], {"axis": 1, "keepdims": 0})
sc_, b_ = randn(4), randn(4)
case("instancenorm", "InstanceNormalization", 6, [x, sc_, b_],
     [F.instance_norm(t(x).double(), weight=t(sc_).double(), bias=t(b_).double(), eps=1e-5).float().numpy()])

ma = rng.integers(-30, 30, (3, 7)).astype(np.int64)
mb = (rng.integers(1, 6, (7,)) * rng.choice([-1, 1], 7)).astype(np.int64)
case("mod_int64_py", "Mod", 13, [ma, mb], [np.mod(ma, mb)])
case("mod_int64_fmod", "Mod", 13, [ma, mb], [np.fmod(ma, mb)], {"fmod": 1})
case("mod_int32_py", "Mod", 13, [ma.astype(np.int32), mb.astype(np.int32)], [np.mod(ma, mb).astype(np.int32)])
fa, fb = randn(3, 7) * 10, randn(7) * 3
case("mod_float_fmod", "Mod", 13, [fa, fb], [np.fmod(fa, fb)], {"fmod": 1}, (1e-5, 1e-5))

with open(os.path.join(OUT, "manifest.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("%d cases" % sum(1 for ln in lines if ln.startswith("case ")))
