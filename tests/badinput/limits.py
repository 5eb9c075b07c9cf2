#!/usr/bin/python3
"""Resource limits (issue 7, docs/limits.md): each limit refuses with exit 3
and one error line naming the file and the limit; raising the option makes
the same input work.

  --max-tensor-mb   an initializer over the limit; an activation over it
                    (a 4 MiB Expand output from a 4-byte input)
  --max-nodes       a graph with more nodes
  --max-model-mb    a file over the limit
  subgraphs         If / Loop (graph attributes) are refused
  nesting           protobuf messages nested 100,000 deep are refused
                    before unpacking (used to overflow the stack)
  --max-pixels      embed: an image over the limit is skipped with its
                    reason (--strict: exit 3)
  manifest lines    a CSV record over 64 KiB is refused (exit 3, names the
                    manifest and the line)
Prints "N passed, M failed".
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXE = os.path.abspath(sys.argv[1])
checks = []


def check(cond, what):
    checks.append((bool(cond), what))
    print(("ok   " if cond else "FAIL ") + what)
    return cond


def run(args):
    p = subprocess.run([EXE] + args, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def refused(what, args, path, words, code=3):
    c, o, e = run(args)
    el = [l for l in e.splitlines() if l.startswith("embeval: error:")]
    ok = c == code and len(el) == 1 and os.path.basename(path) in el[0] and all(w in el[0] for w in words)
    check(ok, "%s: exit %d, one error naming the file and %s (%s)" % (what, c, words, el[0] if el else e.strip()))


def accepted(what, args):
    c, o, e = run(args)
    check(c == 0, "%s: accepted (exit %d %s)" % (what, c, e.strip()[-200:]))


def save(m, path):
    m.ir_version = 8
    onnx.save(m, path)
    return path


def model(nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def vi(name, shape, dt=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dt, shape)


def deep_model(path, depth):
    def varint(n):
        out = bytearray()
        while True:
            b, n = n & 0x7f, n >> 7
            if n:
                out.append(b | 0x80)
            else:
                out.append(b)
                return bytes(out)

    def ld(field, payload):
        return varint(field << 3 | 2) + varint(len(payload)) + payload
    inner = ld(1, varint(1 << 3) + varint(1))  # TypeProto.tensor_type { elem_type: FLOAT }
    heads, n = [], len(inner)
    for _ in range(depth):  # TypeProto.sequence_type { elem_type: TypeProto ... }
        h1 = varint(1 << 3 | 2) + varint(n)
        n += len(h1)
        h2 = varint(4 << 3 | 2) + varint(n)
        n += len(h2)
        heads += [h1, h2]
    t = b"".join(reversed(heads)) + inner
    graph = ld(11, ld(1, b"x") + ld(2, t)) + ld(2, b"g")
    data = varint(1 << 3) + varint(8) + ld(7, graph) + ld(8, ld(1, b"") + varint(2 << 3) + varint(13))
    with open(path, "wb") as f:
        f.write(data)
    return path


def main():
    work = tempfile.mkdtemp(prefix="ev-limits-")
    try:
        x = os.path.join(work, "x.npy")
        np.save(x, np.ones((1, 4), np.float32))
        y = os.path.join(work, "y.npy")
        # initializer of 2 MiB
        w = numpy_helper.from_array(np.ones((4, 131072), np.float32), "w")
        big_init = save(model([helper.make_node("MatMul", ["x", "w"], ["y"])], [vi("x", [1, 4])],
                              [vi("y", [1, 131072])], [w]), os.path.join(work, "big_init.onnx"))
        refused("initializer over --max-tensor-mb 1", ["inspect", big_init, "--max-tensor-mb", "1"], big_init,
                ["limit"])
        accepted("initializer under --max-tensor-mb 3", ["inspect", big_init, "--max-tensor-mb", "3"])
        # activation of 4 MiB from a 16-byte input
        shape = numpy_helper.from_array(np.array([1024, 1024], np.int64), "s")
        big_act = save(model([helper.make_node("Expand", ["x1", "s"], ["y"])], [vi("x1", [1, 1])],
                             [vi("y", [1024, 1024])], [shape]), os.path.join(work, "big_act.onnx"))
        x1 = os.path.join(work, "x1.npy")
        np.save(x1, np.ones((1, 1), np.float32))
        refused("activation over --max-tensor-mb 2 (infer)",
                ["infer", big_act, "--input", x1, "--output", y, "--max-tensor-mb", "2"], big_act, ["bytes"])
        accepted("activation under --max-tensor-mb 8", ["infer", big_act, "--input", x1, "--output", y,
                                                        "--max-tensor-mb", "8"])
        check(np.load(y).shape == (1024, 1024), "activation: output written")
        # nodes
        nodes = [helper.make_node("Relu", ["x" if i == 0 else "r%d" % (i - 1)], ["r%d" % i]) for i in range(50)]
        nodes.append(helper.make_node("Identity", ["r49"], ["y"]))
        many = save(model(nodes, [vi("x", [1, 4])], [vi("y", [1, 4])]), os.path.join(work, "many_nodes.onnx"))
        refused("51 nodes over --max-nodes 50", ["inspect", many, "--max-nodes", "50"], many, ["51", "50"])
        accepted("51 nodes under --max-nodes 51", ["inspect", many, "--max-nodes", "51"])
        # file size
        refused("2 MiB file over --max-model-mb 1", ["infer", big_init, "--input", x, "--output", y,
                                                    "--max-model-mb", "1"], big_init, ["limit"])
        # subgraphs
        then_g = helper.make_graph([helper.make_node("Relu", ["x"], ["t"])], "then", [], [vi("t", [1, 4])])
        else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [], [vi("e", [1, 4])])
        cond = numpy_helper.from_array(np.array(True), "c")
        sub = save(model([helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)],
                         [vi("x", [1, 4])], [vi("y", [1, 4])], [cond]), os.path.join(work, "ifnode.onnx"))
        refused("If (subgraphs) refused (infer)", ["infer", sub, "--input", x, "--output", y], sub, ["'If'"])
        refused("If (subgraphs) refused (inspect)", ["inspect", sub], sub, ["If"])
        relu = helper.make_node("Relu", ["x"], ["y"])
        relu.attribute.append(helper.make_attribute("body", then_g))
        sub2 = save(model([relu], [vi("x", [1, 4])], [vi("y", [1, 4])]), os.path.join(work, "graphattr.onnx"))
        refused("a graph attribute on any node is refused", ["inspect", sub2], sub2, ["subgraph"])
        # protobuf nesting
        deep = deep_model(os.path.join(work, "deep.onnx"), 100000)
        refused("TypeProto nested 100,000 deep", ["inspect", deep], deep, ["nested"])
        ok_deep = deep_model(os.path.join(work, "deep_ok.onnx"), 20)
        c, o, e = run(["inspect", ok_deep])
        check("nested" not in e and c != 139 and c >= 0, "nesting 20 deep is not refused for depth (exit %d)" % c)

        # --max-pixels (embed) and manifest lines
        from PIL import Image
        mdir = os.path.join(work, "models")
        os.makedirs(mdir)
        shutil.copy(os.path.join(ROOT, "models", "pixels_28.onnx"), mdir)
        card = shutil.copy(os.path.join(ROOT, "models", "pixels_28.json"), mdir)
        ds = os.path.join(work, "ds")
        for c_ in range(2):
            os.makedirs(os.path.join(ds, "c%d" % c_))
            Image.new("RGB", (40, 30), (9, 9, 9)).save(os.path.join(ds, "c%d" % c_, "small.png"))
        Image.new("RGB", (200, 150), (9, 9, 9)).save(os.path.join(ds, "c0", "big.png"))
        e_npy = os.path.join(work, "e.npy")
        skipped = os.path.join(work, "skipped.tsv")
        c, o, e = run(["embed", "--model", card, "--dataset", ds, "--out", e_npy, "--no-cache", "--max-pixels",
                       "10000", "--skipped-out", skipped, "--json", "-q"])
        js = json.loads(o) if c == 0 else {}
        check(c == 0 and js.get("skipped") == 1 and js.get("embedded") == 2,
              "--max-pixels 10000: the 30,000-pixel image is skipped (exit %d %s)" % (c, o.strip()[-200:]))
        sk = open(skipped).read() if os.path.exists(skipped) else ""
        check("big.png" in sk and "pixel" in sk, "--max-pixels: the skip reason names the file and the limit")
        refused("--max-pixels with --strict", ["embed", "--model", card, "--dataset", ds, "--out", e_npy,
                                               "--no-cache", "--max-pixels", "10000", "--strict", "-q"],
                "big.png", ["pixel"])
        accepted("--max-pixels 30000", ["embed", "--model", card, "--dataset", ds, "--out", e_npy, "--no-cache",
                                        "--max-pixels", "30000", "-q"])
        man = os.path.join(work, "long.csv")
        with open(man, "w") as f:
            f.write("c0/small.png,a\n")
            f.write("c1/small.png," + "b" * 70000 + "\n")
        shutil.copytree(ds, os.path.join(work, "c0"), dirs_exist_ok=True)
        refused("a 70,000-byte manifest record (limit 64 KiB)",
                ["embed", "--model", card, "--dataset", man, "--out", e_npy, "--no-cache", "-q"], man, [":2"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    nf = sum(1 for ok, _ in checks if not ok)
    print("%d passed, %d failed" % (len(checks) - nf, nf))
    return 1 if nf or not checks else 0


if __name__ == "__main__":
    sys.exit(main())
