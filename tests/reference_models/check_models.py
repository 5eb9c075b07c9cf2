#!/usr/bin/python3
"""Checks of the committed reference models (models/fmnist_*.onnx, models/pixels_*.onnx).

    check_models.py integrity NAME [--models-dir DIR]
        onnx.checker (full), opset 17, input "input" float32 [N,3,28,28] and output
        "embedding" float32 [N,D] with a symbolic batch axis, only plain operators,
        file size, metadata (.train.json) in sync with the file (sha256, dims,
        contract, accuracy >= 0.85 for trained models), fixture input equal to the
        contract applied to the dataset, and the graph evaluated by a torch-free
        numpy evaluator equal to torch's outputs saved at training time.
    check_models.py infer NAME --embeval BIN --tmp DIR [--models-dir DIR]
        runs `embeval infer` on the 64 fixture inputs and compares with torch's
        embeddings (pixels: with the exact numpy expectation): cosine >= 0.99999.
    check_models.py tools
        unit checks of the training script's numpy helpers (IDX parser on hostile
        headers, kNN tie rule against a brute-force implementation).

Exit 0 when every check passes, 1 otherwise (each failure printed).
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXDIR = os.path.join(HERE, "fixtures")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tools"))

MIN_COSINE = 0.99999
MAX_BYTES = 5 << 20
TRAINED = {"fmnist_cnn": 128, "fmnist_metric": 64}
BASELINES = {"pixels_28": 784}
CONTRACT_MEAN = 0.2860
CONTRACT_STD = 0.3530

failures = []


def check(cond, what):
    if cond:
        print("ok   %s" % what)
    else:
        print("FAIL %s" % what)
        failures.append(what)
    return cond


def rowwise_cosine(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    return (a * b).sum(axis=1) / np.maximum(na * nb, 1e-30)


def expected_output(name, x):
    """The reference embedding of the fixture inputs for model NAME."""
    if name in BASELINES:
        return x.astype(np.float64).mean(axis=1).reshape(x.shape[0], -1)
    return np.load(os.path.join(FIXDIR, name + ".out.npy"))


def dims_of(value_info):
    t = value_info.type.tensor_type
    out = []
    for d in t.shape.dim:
        if d.HasField("dim_value"):
            out.append(d.dim_value)
        elif d.HasField("dim_param"):
            out.append(d.dim_param or None)
        else:
            out.append(None)
    return t.elem_type, out


def integrity(name, models_dir):
    import onnx
    import npy_onnx_eval

    dim = TRAINED.get(name) or BASELINES.get(name)
    if not check(dim is not None, "%s is a known reference model" % name):
        return
    path = os.path.join(models_dir, name + ".onnx")
    if not check(os.path.isfile(path), "%s exists" % path):
        return
    size = os.path.getsize(path)
    check(0 < size < MAX_BYTES, "%s: size %d bytes < 5 MiB" % (name, size))

    model = onnx.load(path)
    try:
        onnx.checker.check_model(model, full_check=True)
        check(True, "%s: onnx.checker (full_check)" % name)
    except Exception as e:  # noqa: BLE001 - report any checker failure
        check(False, "%s: onnx.checker: %s" % (name, e))
    opsets = {o.domain: o.version for o in model.opset_import}
    check(opsets.get("", opsets.get("ai.onnx")) == 17 and len(opsets) == 1,
          "%s: opset 17 only (%s)" % (name, opsets))

    g = model.graph
    inits = {t.name for t in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    check(len(inputs) == 1 and inputs[0].name == "input",
          "%s: one graph input named 'input' (%s)" % (name, [i.name for i in inputs]))
    if inputs:
        et, d = dims_of(inputs[0])
        check(et == onnx.TensorProto.FLOAT, "%s: input is float32" % name)
        check(len(d) == 4 and isinstance(d[0], str) and d[1:] == [3, 28, 28],
              "%s: input shape [N,3,28,28] with symbolic N (%s)" % (name, d))
    check(len(g.output) == 1 and g.output[0].name == "embedding",
          "%s: one graph output named 'embedding'" % name)
    if g.output:
        et, d = dims_of(g.output[0])
        check(et == onnx.TensorProto.FLOAT, "%s: output is float32" % name)
        check(len(d) == 2 and isinstance(d[0], str) and d[1] == dim,
              "%s: output shape [N,%d] with symbolic N (%s)" % (name, dim, d))
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    _, d = dims_of(inferred.graph.output[0])
    check(len(d) == 2 and d[1] == dim, "%s: shape inference gives [N,%d] (%s)" % (name, dim, d))
    ops = sorted({n.op_type for n in g.node})
    check(set(ops) <= npy_onnx_eval.ALLOWED_OPS,
          "%s: only plain ops %s" % (name, ops))
    check(g.node[0].op_type == "ReduceMean" and g.node[0].input[0] == "input",
          "%s: first node averages the RGB channels (ReduceMean on 'input')" % name)

    # metadata in sync with the file
    meta_path = os.path.join(models_dir, name + ".train.json")
    meta = None
    if check(os.path.isfile(meta_path), "%s exists" % meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        import hashlib
        with open(path, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        check(meta.get("file_sha256") == sha, "%s: .train.json sha256 matches the file" % name)
        check(meta.get("embedding_dim") == dim, "%s: .train.json embedding_dim %s" % (
            name, meta.get("embedding_dim")))
        check(bool(meta.get("license")) and meta.get("dataset_license", {}).get("license")
              == "MIT (Expat)", "%s: licenses recorded" % name)
        pre = meta.get("preprocessing") or {}
        check(pre.get("mean") == [CONTRACT_MEAN] * 3 and pre.get("std") == [CONTRACT_STD] * 3
              and pre.get("input_name") == "input" and pre.get("output_name") == "embedding",
              "%s: preprocessing contract recorded" % name)
        tm = meta.get("test_metrics") or {}
        if name in TRAINED:
            acc = tm.get("weighted_knn20_accuracy") or 0.0
            check(acc >= 0.85, "%s: recorded weighted 20-NN test accuracy %.4f >= 0.85"
                  % (name, acc))
            t = meta.get("training") or {}
            check(bool(t.get("command")) and isinstance(t.get("seed"), int)
                  and len(t.get("log", [])) == t.get("epochs"),
                  "%s: training command, seed and per-epoch log recorded" % name)

    # fixture input = the contract applied to the first 64 test images
    x = np.load(os.path.join(FIXDIR, "input64.npy"))
    check(x.dtype == np.float32 and x.shape == (64, 3, 28, 28),
          "fixture input64.npy is float32 [64,3,28,28]")
    ds = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
    if os.path.isfile(ds):
        import train_reference as tr
        u8 = tr.read_idx_gz(ds)[:64]
        ref = (u8.astype(np.float32) / np.float32(255) - np.float32(CONTRACT_MEAN)) \
            / np.float32(CONTRACT_STD)
        check(np.array_equal(x, np.repeat(ref[:, None], 3, axis=1)),
              "fixture input equals (pixel/255 - 0.2860)/0.3530 replicated to RGB")
        labels = np.load(os.path.join(FIXDIR, "labels64.npy"))
        y = tr.read_idx_gz(ds.replace("images-idx3", "labels-idx1"))[:64]
        check(np.array_equal(labels, y), "fixture labels equal the dataset's")

    # the graph itself (numpy evaluator, float64) against torch's outputs
    want = expected_output(name, x)
    check(want.shape == (64, dim), "%s: fixture output shape %s" % (name, want.shape))
    got = npy_onnx_eval.run(model, x)
    check(got.shape == want.shape, "%s: numpy evaluator output shape %s" % (name, got.shape))
    if got.shape == want.shape:
        cos = rowwise_cosine(got, want).min()
        rel = np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)
        check(cos >= MIN_COSINE and rel <= 1e-4,
              "%s: ONNX graph (numpy) vs reference: min cosine %.9f, max rel diff %.2e"
              % (name, cos, rel))
        one = npy_onnx_eval.run(model, x[5:6])
        check(np.allclose(one[0], got[5], rtol=1e-9, atol=1e-9),
              "%s: batch of 1 gives the same row as batch of 64" % name)
    if name in TRAINED:
        # the embedding is meaningful: same-class fixture pairs are closer on average
        labels = np.load(os.path.join(FIXDIR, "labels64.npy"))
        e = got / np.linalg.norm(got, axis=1, keepdims=True)
        s = e @ e.T
        same = labels[:, None] == labels[None, :]
        off = ~np.eye(64, dtype=bool)
        check(s[same & off].mean() > s[~same].mean() + 0.2,
              "%s: same-class cosine %.3f > other-class %.3f + 0.2 on the fixture"
              % (name, s[same & off].mean(), s[~same].mean()))


def infer(name, models_dir, embeval, tmp):
    path = os.path.join(models_dir, name + ".onnx")
    x_path = os.path.join(FIXDIR, "input64.npy")
    x = np.load(x_path)
    want = expected_output(name, x)
    os.makedirs(tmp, exist_ok=True)
    out = os.path.join(tmp, "ref_%s_out.npy" % name)
    if os.path.exists(out):
        os.remove(out)
    for batch_rows, tag in ((slice(0, 64), "batch 64"), (slice(7, 8), "batch 1")):
        xin = x_path
        if batch_rows != slice(0, 64):
            xin = os.path.join(tmp, "ref_%s_in1.npy" % name)
            np.save(xin, np.ascontiguousarray(x[batch_rows]))
        cmd = [embeval, "infer", path, "--input", xin, "--output", out, "--threads", "2"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            check(False, "%s: `%s` exits 0 (rc %d, stderr: %s)" % (
                name, " ".join(cmd), r.returncode, r.stderr.strip()[-300:]))
            continue
        check(True, "%s: embeval infer (%s) exits 0" % (name, tag))
        got = np.load(out)
        w = want[batch_rows]
        if not check(got.dtype == np.float32 and got.shape == w.shape,
                     "%s: %s output float32 %s (got %s %s)" % (name, tag, w.shape,
                                                                got.dtype, got.shape)):
            continue
        cos = rowwise_cosine(got, w).min()
        rel = np.abs(got - w).max() / max(np.abs(w).max(), 1e-30)
        check(cos >= MIN_COSINE,
              "%s: embeval infer (%s) vs reference: min cosine %.9f >= %.5f (max rel diff %.2e)"
              % (name, tag, cos, MIN_COSINE, rel))


def tools():
    import train_reference as tr

    # IDX parser: good file, then hostile variants
    with tempfile.TemporaryDirectory() as d:
        def write(name, payload):
            p = os.path.join(d, name)
            with gzip.open(p, "wb") as f:
                f.write(payload)
            return p
        good = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (2).to_bytes(4, "big") \
            + (3).to_bytes(4, "big") + bytes(range(12))
        a = tr.read_idx_gz(write("good.gz", good))
        check(a.shape == (2, 2, 3) and a[1, 1, 2] == 11, "IDX: parses a valid file")
        bad = {
            "truncated body": good[:-1],
            "extra bytes": good + b"\0",
            "bad magic": bytes([1]) + good[1:],
            "float type": good[:2] + bytes([0x0D]) + good[3:],
            "rank 0": good[:3] + bytes([0]) + good[4:],
            "huge dims": bytes([0, 0, 8, 2]) + (0xFFFFFFFF).to_bytes(4, "big") * 2,
            "short header": bytes([0, 0, 8]),
        }
        for what, payload in bad.items():
            try:
                tr.read_idx_gz(write("bad.gz", payload))
                check(False, "IDX: rejects %s" % what)
            except ValueError:
                check(True, "IDX: rejects %s" % what)

    # kNN tie rule against a brute force over quantised vectors (many exact ties)
    rng = np.random.default_rng(0)
    mem = rng.integers(-2, 3, (1500, 4)).astype(np.float32)
    my = rng.integers(0, 10, 1500)
    q = rng.integers(-2, 3, (300, 4)).astype(np.float32)
    qy = rng.integers(0, 10, 300)
    got = tr.knn_accuracy(mem, my, q, qy, chunk=128)
    M = tr.l2n(mem)
    Q = tr.l2n(q)
    cw = c1 = 0
    for i in range(len(q)):
        s = (M * Q[i]).sum(axis=1)   # float32, elementwise (no BLAS)
        order = sorted(range(len(s)), key=lambda j: (-float(s[j]), j))[:tr.KNN_K]
        sc = np.zeros(10)
        for j in order:
            sc[my[j]] += np.exp(float(s[j]) / tr.KNN_T)
        cw += int(sc.argmax() == qy[i])
        c1 += int(my[order[0]] == qy[i])
    # the similarity may differ in the last bit between conv and elementwise sums,
    # which can flip an exact tie: allow one query of slack
    check(abs(got[0] - cw / len(q)) <= 1.0 / len(q) and abs(got[1] - c1 / len(q)) <= 1.0 / len(q),
          "kNN: weighted 20-NN %.4f / 1-NN %.4f equal brute force %.4f / %.4f"
          % (got[0], got[1], cw / len(q), c1 / len(q)))
    x = tr.preprocess(np.array([[[0, 255] * 14] * 28], dtype=np.uint8))
    check(x.shape == (1, 3, 28, 28) and abs(x[0, 2, 0, 0] - (-0.2860 / 0.3530)) < 1e-6
          and abs(x[0, 0, 0, 1] - (0.7140 / 0.3530)) < 1e-6,
          "preprocess: (pixel/255 - 0.2860)/0.3530 on 3 channels")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["integrity", "infer", "tools"])
    ap.add_argument("name", nargs="?")
    ap.add_argument("--models-dir", default=os.path.join(REPO, "models"))
    ap.add_argument("--embeval")
    ap.add_argument("--tmp", default=tempfile.gettempdir())
    args = ap.parse_args()
    if args.mode == "integrity":
        integrity(args.name, args.models_dir)
    elif args.mode == "infer":
        if not args.embeval:
            ap.error("--embeval is required")
        infer(args.name, args.models_dir, args.embeval, args.tmp)
    else:
        tools()
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
