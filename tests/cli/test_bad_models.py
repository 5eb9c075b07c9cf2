#!/usr/bin/python3
"""CLI tests of `embeval inspect` / `embeval infer` on good and hostile models.

Usage: test_bad_models.py EMBEVAL_BINARY

Every bad model must give exactly one line on stderr starting with
`embeval: error:` that names the model file, exit status 3, and no crash.
Models are written at test time with onnx.helper (Debian python3-onnx) into a
temporary directory. Run with /usr/bin/python3 (Debian's, with numpy/onnx).
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

EMBEVAL = sys.argv[1]
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*args):
    p = subprocess.run([EMBEVAL, *args], capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def model(nodes, inputs, outputs, inits=(), opset=13, check_model=False):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="embeval-test")
    m.ir_version = 8
    if check_model:
        onnx.checker.check_model(m)
    return m


def vi(name, shape, dt=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dt, shape)


def save(m, path):
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    return path


def expect_error(path, label, x_npy, want_code=3):
    base = os.path.basename(path)
    for cmd in (["inspect", path], ["infer", path, "--input", x_npy, "--output",
                                    os.path.join(os.path.dirname(path), "y.npy")]):
        code, out, err = run(*cmd)
        lines = err.splitlines()
        tag = f"{label}: embeval {cmd[0]}"
        check(code == want_code, f"{tag}: exit {code}, want {want_code} (stderr: {err.strip()!r})")
        check(len(lines) == 1, f"{tag}: want exactly one stderr line, got {lines!r}")
        check(bool(lines) and lines[0].startswith("embeval: error:"),
              f"{tag}: stderr must start with 'embeval: error:', got {err.strip()!r}")
        check(base in err, f"{tag}: error must name the file {base}: {err.strip()!r}")


def main():
    tmp = tempfile.mkdtemp(prefix="embeval-cli-")
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 2, 2) - 6.0
    x_npy = os.path.join(tmp, "x.npy")
    np.save(x_npy, x)

    # --- a good model: y = Relu(x) + w -------------------------------------
    w = np.linspace(-1, 1, 12, dtype=np.float32).reshape(1, 3, 2, 2)
    good = model([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                  helper.make_node("Add", ["r", "w"], ["y"], name="add")],
                 [vi("x", ["N", 3, 2, 2])], [vi("y", ["N", 3, 2, 2])],
                 [numpy_helper.from_array(w, "w")], check_model=True)
    good_path = save(good, os.path.join(tmp, "good.onnx"))

    code, out, err = run("inspect", good_path)
    check(code == 0, f"inspect good: exit {code}: {err}")
    check("params    12 " in out, f"inspect good: params line missing: {out}")
    check("Relu" in out and "Add" in out, "inspect good: op histogram")
    code, out, err = run("inspect", good_path, "--json", "--batch", "4")
    check(code == 0, f"inspect --json: exit {code}: {err}")
    if code == 0:
        import json
        j = json.loads(out)
        check(j["params"] == 12 and j["plan"]["batch"] == 4, f"inspect --json content: {j}")
        check(j["plan"]["outputs"][0]["shape"] == [4, 3, 2, 2], "inspect --json output shape")
    y_npy = os.path.join(tmp, "y.npy")
    code, out, err = run("infer", good_path, "--input", x_npy, "--output", y_npy, "--threads", "1")
    check(code == 0, f"infer good: exit {code}: {err}")
    if code == 0:
        y = np.load(y_npy)
        check(y.shape == (1, 3, 2, 2) and np.allclose(y, np.maximum(x, 0) + w, atol=1e-6),
              "infer good: wrong values")
    code, out, err = run("infer", good_path, "--input", x_npy, "--output", y_npy, "--reference")
    check(code == 0 and np.allclose(np.load(y_npy), np.maximum(x, 0) + w, atol=1e-6),
          f"infer --reference: exit {code}: {err}")
    # named input, batch 3
    x3 = np.random.default_rng(0).standard_normal((3, 3, 2, 2)).astype(np.float32)
    x3_npy = os.path.join(tmp, "x3.npy")
    np.save(x3_npy, x3)
    code, out, err = run("infer", good_path, "--input", "x=" + x3_npy, "--output", y_npy)
    check(code == 0, f"infer named input: exit {code}: {err}")
    if code == 0:
        check(np.allclose(np.load(y_npy), np.maximum(x3, 0) + w, atol=1e-6), "infer batch 3 values")

    # usage errors: exit 2
    for args in (["inspect"], ["infer", good_path], ["infer", good_path, "--input", x_npy],
                 ["inspect", good_path, "--bogus"], ["infer", good_path, "--input", x_npy,
                                                     "--output", y_npy, "--threads", "x"]):
        code, out, err = run(*args)
        check(code == 2, f"usage {args}: exit {code}, want 2")
    # input data errors: wrong shape -> 3, naming the .npy
    bad_x = os.path.join(tmp, "badshape.npy")
    np.save(bad_x, np.zeros((1, 4, 2, 2), np.float32))
    code, out, err = run("infer", good_path, "--input", bad_x, "--output", y_npy)
    check(code == 3 and "badshape.npy" in err and len(err.splitlines()) == 1,
          f"infer wrong shape: exit {code} {err!r}")
    garbage = os.path.join(tmp, "garbage.npy")
    with open(garbage, "wb") as f:
        f.write(b"\x93NUMPY garbage")
    code, out, err = run("infer", good_path, "--input", garbage, "--output", y_npy)
    check(code == 3 and "garbage.npy" in err and len(err.splitlines()) == 1,
          f"infer garbage npy: exit {code} {err!r}")
    for flag in ("--help",):
        code, out, err = run("inspect", flag)
        check(code == 0 and "--shape" in out, "inspect --help")
        code, out, err = run("infer", flag)
        check(code == 0 and "--output-name" in out, "infer --help")

    # --- hostile / invalid models --------------------------------------------
    big = np.random.default_rng(1).standard_normal((64, 64)).astype(np.float32)
    m = model([helper.make_node("MatMul", ["x", "W"], ["y"])], [vi("x", [1, 64])],
              [vi("y", [1, 64])], [numpy_helper.from_array(big, "W")])
    data = m.SerializeToString()
    p = os.path.join(tmp, "truncated.onnx")
    with open(p, "wb") as f:
        f.write(data[: len(data) // 2])
    expect_error(p, "truncated", x_npy)

    rnd = random.Random(1234)
    p = os.path.join(tmp, "random.onnx")
    with open(p, "wb") as f:
        f.write(bytes(rnd.getrandbits(8) for _ in range(4096)))
    expect_error(p, "random bytes", x_npy)

    p = os.path.join(tmp, "empty.onnx")
    open(p, "wb").close()
    expect_error(p, "empty file", x_npy)

    for op in ("Foo", "LSTM"):
        nodes = [helper.make_node(op, ["x"], ["y"], name="n_" + op.lower(), hidden_size=3)]
        p = save(model(nodes, [vi("x", [1, 3, 2, 2])], [vi("y", [1, 3, 2, 2])]),
                 os.path.join(tmp, f"unsupported_{op}.onnx"))
        expect_error(p, f"unsupported op {op}", x_npy)
        code, out, err = run("inspect", p)
        check(op in out and "UNSUPPORTED" in out, f"inspect lists unsupported {op}: {out}")
        check(op in err, f"inspect error names {op}: {err}")
        code, out, err = run("infer", p, "--input", x_npy, "--output", y_npy)
        check(f"unsupported op '{op}'" in err and f"n_{op.lower()}" in err,
              f"infer names op and node: {err}")

    p = save(model([helper.make_node("Relu", ["nowhere"], ["y"], name="r")],
                   [vi("x", [1, 3, 2, 2])], [vi("y", [1, 3, 2, 2])]),
             os.path.join(tmp, "dangling.onnx"))
    expect_error(p, "dangling input", x_npy)
    code, out, err = run("inspect", p)
    check("'nowhere'" in err and "'r'" in err, f"dangling: names input and node: {err}")

    p = save(model([helper.make_node("Add", ["x", "b"], ["a"], name="first"),
                    helper.make_node("Relu", ["a"], ["b"], name="second"),
                    helper.make_node("Relu", ["a"], ["y"], name="third")],
                   [vi("x", [1, 3, 2, 2])], [vi("y", [1, 3, 2, 2])]),
             os.path.join(tmp, "cycle.onnx"))
    expect_error(p, "cycle", x_npy)
    code, out, err = run("inspect", p)
    check("cycle" in err, f"cycle: message: {err}")

    p = save(model([helper.make_node("Relu", ["x"], ["y"], name="a"),
                    helper.make_node("Relu", ["x"], ["y"], name="b")],
                   [vi("x", [1, 3, 2, 2])], [vi("y", [1, 3, 2, 2])]),
             os.path.join(tmp, "duplicate.onnx"))
    expect_error(p, "duplicate producer", x_npy)

    t = numpy_helper.from_array(np.zeros((2, 3), np.float32), "w")
    t.raw_data = t.raw_data[:-4]  # 5 elements for a 2x3 tensor
    p = save(model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [2, 3])],
                   [vi("y", [2, 3])], [t]), os.path.join(tmp, "count.onnx"))
    expect_error(p, "element count", x_npy)

    t = numpy_helper.from_array(np.zeros((2, 3), np.float32), "w")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "../../etc/passwd"), ("offset", "0"), ("length", "24")):
        e = t.external_data.add()
        e.key, e.value = k, v
    p = save(model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [2, 3])],
                   [vi("y", [2, 3])], [t]), os.path.join(tmp, "escape.onnx"))
    expect_error(p, "external data outside the model directory", x_npy)

    p = save(model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [1, 3, 2, 2])],
                   [vi("y", [1, 3, 2, 2])], opset=5), os.path.join(tmp, "opset5.onnx"))
    expect_error(p, "opset 5", x_npy)

    # dynamic non-batch dimension: inspect asks for --shape, then uses it
    p = save(model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", ["N", "C"])],
                   [vi("y", ["N", "C"])]), os.path.join(tmp, "dyn.onnx"))
    code, out, err = run("inspect", p)
    check(code == 2 and "--shape x=" in err, f"dynamic dims: exit {code} {err!r}")
    code, out, err = run("inspect", p, "--json", "--shape", "x=2,5")
    check(code == 0, f"inspect --shape: exit {code} {err!r}")
    if code == 0:
        import json
        j = json.loads(out)
        check(j["plan"]["outputs"][0]["shape"] == [2, 5] and j["plan"]["batch"] == 2,
              f"inspect --shape result: {j['plan']}")
    code, out, err = run("inspect", p, "--shape", "nosuch=1,2")
    check(code == 2, f"inspect --shape unknown input: exit {code}")

    # absurd static shapes: refused by limits, one line, exit 3
    p = save(model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [1 << 40, 1 << 40])],
                   [vi("y", [1 << 40, 1 << 40])]), os.path.join(tmp, "huge.onnx"))
    code, out, err = run("inspect", p)
    check(code == 3 and len(err.splitlines()) == 1 and "huge.onnx" in err,
          f"huge shapes: exit {code} {err!r}")

    # mutated copies of the good model: never a crash (exit 0 or 3 only)
    gdata = bytearray(good.SerializeToString())
    for i in range(60):
        d = bytearray(gdata)
        for _ in range(1 + i % 4):
            d[rnd.randrange(len(d))] = rnd.getrandbits(8)
        p = os.path.join(tmp, "mut.onnx")
        with open(p, "wb") as f:
            f.write(d)
        code, out, err = run("inspect", p)
        check(code in (0, 2, 3) and (code == 0 or err.startswith("embeval: error:")),
              f"mutation {i}: inspect exit {code} {err!r}")

    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    if failures:
        print("fixtures kept in", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
