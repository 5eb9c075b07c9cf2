#!/usr/bin/python3
"""Determinism (issue 7).

  determinism.py metrics EMBEVAL   `embeval metrics --json` on the same inputs is
      byte-identical across repeated runs and across --threads 1 / 2 / 3
      (every metric, bootstrap interval, k-means, kNN, linear probe and the
      per-class breakdown), with a train split and without, euclidean and
      cosine silhouette, silhouette sampling.
  determinism.py infer EMBEVAL     `embeval infer` on a small CNN (Conv, BN-folded
      bias, Relu, MaxPool, depthwise Conv, GlobalAveragePool, Gemm; written with
      python3-onnx, random weights) is bit-identical across repeated runs with
      the same thread count, and within the parity tolerance (max |diff| <=
      1e-4 * max |y|, cosine >= 0.99999 per row) across --threads 1 / 2 -- on
      the fast path (oneDNN) and on the reference kernels (--reference).
  determinism.py embed EMBEVAL     `embeval embed` of the same images with
      --threads 1 / --workers 1 vs --threads 2 / --workers 2 and a different
      --batch: identical row order and labels, vectors within tolerance.
Prints "N passed, M failed".
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
checks = []


def check(cond, what):
    checks.append((bool(cond), what))
    print(("ok   " if cond else "FAIL ") + what)
    return cond


def run(exe, args):
    p = subprocess.run([exe] + args, capture_output=True, timeout=600)
    if p.returncode != 0:
        print("embeval %s -> %d\n%s" % (" ".join(args), p.returncode, p.stderr.decode(errors="replace")))
    return p


def test_metrics(exe, work):
    rs = np.random.RandomState(3)
    n, d, k = 300, 24, 6
    cls = rs.randint(0, k, n)
    emb = (rs.randn(n, d) + 1.5 * np.eye(k, d)[cls]).astype(np.float32)
    tr_cls = rs.randint(0, k, 300)
    tr = (rs.randn(300, d) + 1.5 * np.eye(k, d)[tr_cls]).astype(np.float32)
    paths = {}
    for name, a in (("e", emb), ("t", tr)):
        paths[name] = os.path.join(work, name + ".npy")
        np.save(paths[name], a)
    for name, c in (("l", cls), ("tl", tr_cls)):
        paths[name] = os.path.join(work, name + ".txt")
        with open(paths[name], "w") as f:
            f.write("".join("class %d\n" % x for x in c))
    configs = {
        "loo, all metrics": ["--embeddings", paths["e"], "--labels", paths["l"], "--bootstrap", "100",
                             "--per-class"],
        "train split": ["--embeddings", paths["e"], "--labels", paths["l"], "--train-embeddings", paths["t"],
                        "--train-labels", paths["tl"], "--bootstrap", "100", "--per-class"],
        "euclidean, sampled silhouette": ["--embeddings", paths["e"], "--labels", paths["l"],
                                          "--silhouette-metric", "euclidean", "--silhouette-sample", "150",
                                          "--seed", "5", "--bootstrap", "100"],
    }
    for cname, args in configs.items():
        outs = {}
        for threads in ("1", "2", "3", "2"):
            p = run(exe, ["metrics", "--json", "--threads", threads] + args)
            if not check(p.returncode == 0, "metrics [%s] --threads %s runs" % (cname, threads)):
                return
            outs.setdefault(threads, []).append(p.stdout)
        js = json.loads(outs["1"][0])
        check(js.get("map") is not None and js.get("ci95"), "metrics [%s]: the JSON has metrics and CIs" % cname)
        check(outs["2"][0] == outs["2"][1], "metrics [%s]: repeated run (--threads 2) byte-identical" % cname)
        check(outs["1"][0] == outs["2"][0] == outs["3"][0],
              "metrics [%s]: --threads 1 / 2 / 3 byte-identical" % cname)


def cnn_model(path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rs = np.random.RandomState(7)

    def w(name, *shape, scale=0.2):
        return numpy_helper.from_array((rs.randn(*shape) * scale).astype(np.float32), name)
    inits = [w("w1", 16, 3, 3, 3), w("b1", 16), w("w2", 16, 1, 3, 3), w("b2", 16), w("w3", 32, 16, 1, 1),
             w("b3", 32), w("wf", 32, 10), w("bf", 10)]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=16),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("MaxPool", ["r2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p2", "w3", "b3"], ["c3"]),
        helper.make_node("Relu", ["c3"], ["r3"]),
        helper.make_node("GlobalAveragePool", ["r3"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"]),
    ]
    g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 64, 64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def close(a, b):
    rel = np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)
    cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)
    return rel, cos.min()


def test_infer(exe, work):
    model = os.path.join(work, "cnn.onnx")
    cnn_model(model)
    x = os.path.join(work, "x.npy")
    np.save(x, np.random.RandomState(1).rand(5, 3, 64, 64).astype(np.float32))
    for flavour, extra in (("fast path", []), ("reference", ["--reference"])):
        ys = {}
        for threads in ("1", "2", "2", "1"):
            y = os.path.join(work, "y-%s-%d.npy" % (threads, len(ys.get(threads, []))))
            p = run(exe, ["infer", model, "--input", x, "--output", y, "--threads", threads] + extra)
            if not check(p.returncode == 0, "infer (%s) --threads %s runs" % (flavour, threads)):
                return
            ys.setdefault(threads, []).append(np.load(y))
        for t in ("1", "2"):
            check(np.array_equal(ys[t][0], ys[t][1]),
                  "infer (%s) --threads %s: repeated runs bit-identical" % (flavour, t))
        rel, cos = close(ys["2"][0], ys["1"][0])
        print("     infer (%s): --threads 2 vs 1: max rel diff %.2e, min cosine %.9f, bit-identical %s"
              % (flavour, rel, cos, np.array_equal(ys["2"][0], ys["1"][0])))
        check(rel <= 1e-4 and cos >= 0.99999, "infer (%s): --threads 1 vs 2 within tolerance" % flavour)


def test_embed(exe, work):
    from PIL import Image
    ds = os.path.join(work, "ds")
    rs = np.random.RandomState(2)
    for c in range(3):
        os.makedirs(os.path.join(ds, "c%d" % c))
        for i in range(7):
            a = (rs.rand(30 + 3 * i, 41 - i, 3) * 255).astype(np.uint8)
            Image.fromarray(a).save(os.path.join(ds, "c%d" % c, "i%d.png" % i))
    mdir = os.path.join(work, "models")
    os.makedirs(mdir)
    cnn_model(os.path.join(mdir, "cnn.onnx"))
    card = {"embeval_card": 1, "name": "cnn", "file": "cnn.onnx", "input": "x", "output": "y",
            "preprocess": {"resize": 72, "interpolation": "bicubic", "crop": 64, "mean": [0.5, 0.5, 0.5],
                           "std": [0.25, 0.25, 0.25]},
            "license": "test"}
    with open(os.path.join(mdir, "cnn.json"), "w") as f:
        json.dump(card, f)
    outs = []
    for threads, workers, batch in (("1", "1", "4"), ("2", "2", "8"), ("2", "2", "8")):
        e = os.path.join(work, "e-%d.npy" % len(outs))
        lab = e + ".labels"
        p = run(exe, ["embed", "--model", os.path.join(mdir, "cnn.json"), "--dataset", ds, "--out", e,
                      "--labels-out", lab, "--items-out", e + ".items", "--no-cache", "--threads", threads,
                      "--workers", workers, "--batch", batch, "-q"])
        if not check(p.returncode == 0, "embed --threads %s --workers %s --batch %s runs" % (threads, workers, batch)):
            return
        outs.append((np.load(e), open(lab).read(), open(e + ".items").read()))
    check(outs[0][0].shape == (21, 10), "embed: 21 rows of 10")
    check(outs[0][1] == outs[1][1] and outs[0][2] == outs[1][2], "embed: same rows, order and labels")
    check(np.array_equal(outs[1][0], outs[2][0]), "embed: repeated run bit-identical")
    rel, cos = close(outs[1][0], outs[0][0])
    print("     embed: threads 2/batch 8 vs threads 1/batch 4: max rel diff %.2e, min cosine %.9f" % (rel, cos))
    check(rel <= 1e-4 and cos >= 0.99999, "embed: threads/workers/batch within tolerance")


def main():
    what, exe = sys.argv[1], os.path.abspath(sys.argv[2])
    work = tempfile.mkdtemp(prefix="ev-determinism-")
    try:
        {"metrics": test_metrics, "infer": test_infer, "embed": test_embed}[what](exe, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    nf = sum(1 for ok, _ in checks if not ok)
    print("%d passed, %d failed" % (len(checks) - nf, nf))
    return 1 if nf or not checks else 0


if __name__ == "__main__":
    sys.exit(main())
