#!/usr/bin/python3
"""Tests of `embeval run` and `embeval compare` (CTest cases run.*).

Usage: run_tests.py CASE --embeval BIN --work DIR --source SRC

CASE is one of:
  e2e        two tiny models + a corrupt one on a Fashion-MNIST subset and a
             small ImageFolder (train/test splits, a hostile class name, a bad
             image): exit status 3, every output file, report.json valid
             against docs/report.schema.json, failed model recorded, table
             columns and units, per-item sidecar consistent with the means,
             a warm second run served from the caches with identical numbers,
             no temporary files left behind
  formats    CSV (RFC 4180, one row per dataset x model, formula guard) and
             Markdown (escaping) of a report with hostile names
  schema     the schema check itself rejects broken reports (it can fail)
  compare    embeval compare: identical reports (p = 1), a real difference
             (paired bootstrap p small), --fail-on exit codes, bad inputs
  baseline   embeval run --baseline/--fail-on: exit 0 below, 4 above a limit
  cli        usage errors (2), no models (3), --help (0), --config
  trained    (only when models/fmnist_cnn.json and its .onnx exist) the
             trained reference model is well above the raw-pixel baseline

Models and datasets are made at test time (onnx.helper, numpy, PIL from
Debian's /usr/bin/python3) so the tests do not depend on exported models.
"""
import argparse
import csv
import gzip
import io
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FAILURES = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)
    return cond


def run(args, embeval, timeout=900, env_extra=None):
    env = dict(os.environ)
    env.pop("EMBEVAL_MODELS_DIR", None)
    if env_extra:
        env.update(env_extra)
    p = subprocess.run([embeval, *args], capture_output=True, timeout=timeout, env=env)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    return p.returncode, out, err


# ---- fixtures ---------------------------------------------------------------------------
FMNIST = "/usr/share/datasets/fashion-mnist"
HOSTILE = "<img src=x onerror=alert(1)>"
EVIL_MODEL = 'evil, "pix" <b>|x'


def save_model(nodes, inits, out_dim, path):
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 28, 28])
    y = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", out_dim])
    g = helper.make_graph(nodes, "g", [x], [y], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="embeval-test")
    m.ir_version = 8
    onnx.checker.check_model(m)
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


def make_models(d):
    os.makedirs(d, exist_ok=True)
    # raw pixels: grey = mean over channels, flattened (784-d)
    save_model([helper.make_node("ReduceMean", ["input"], ["g"], axes=[1], keepdims=1),
                helper.make_node("Flatten", ["g"], ["embedding"], axis=1)], [], 784,
               os.path.join(d, "pix.onnx"))
    # a small random conv net (16-d)
    rng = np.random.default_rng(7)
    w1 = numpy_helper.from_array((rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32), "w1")
    b1 = numpy_helper.from_array(np.zeros(8, np.float32), "b1")
    w2 = numpy_helper.from_array((rng.standard_normal((16, 8, 3, 3)) * 0.2).astype(np.float32), "w2")
    b2 = numpy_helper.from_array(np.zeros(16, np.float32), "b2")
    save_model([helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
                helper.make_node("Relu", ["c1"], ["r1"]),
                helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
                helper.make_node("Relu", ["c2"], ["r2"]),
                helper.make_node("GlobalAveragePool", ["r2"], ["p"]),
                helper.make_node("Flatten", ["p"], ["embedding"], axis=1)], [w1, b1, w2, b2], 16,
               os.path.join(d, "conv.onnx"))
    with open(os.path.join(d, "conv.onnx"), "rb") as f:
        data = f.read()
    with open(os.path.join(d, "broken.onnx"), "wb") as f:
        f.write(data[: len(data) // 3])
    pre = {"resize": [28, 28], "interpolation": "bilinear", "antialias": True, "channel_order": "RGB",
           "range": "0-1", "mean": [0.286] * 3, "std": [0.353] * 3, "layout": "NCHW"}

    def card(fname, name, onnx_file, extra):
        c = {"embeval_card": 1, "name": name, "file": onnx_file, "input": "input", "output": "embedding",
             "normalize": True, "preprocess": pre}
        c.update(extra)
        with open(os.path.join(d, fname), "w") as f:
            json.dump(c, f, indent=1)
        return os.path.join(d, fname)

    return {
        "pix": card("pix.json", "pix", "pix.onnx", {"license": "CC0-1.0", "runs_locally": True,
                                                     "weights": "none (raw pixels)"}),
        "conv": card("conv.json", "conv", "conv.onnx", {"license": "Apache-2.0", "runs_locally": True,
                                                        "weights": "random-init (seeded, test fixture)"}),
        "broken": card("broken.json", "broken", "broken.onnx", {"license": "MIT", "runs_locally": False}),
        "evil": card("evil.json", EVIL_MODEL, "pix.onnx", {"license": "=HYPERLINK(\"x\")",
                                                           "weights": "none"}),
        "dir": d,
    }


def read_idx(name):
    with gzip.open(os.path.join(FMNIST, name), "rb") as f:
        data = f.read()
    if data[2] == 8 and data[3] == 3:
        n = int.from_bytes(data[4:8], "big")
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, 28, 28)
    n = int.from_bytes(data[4:8], "big")
    return np.frombuffer(data, np.uint8, offset=8)[:n]


def make_imagefolder(d):
    """train/test x 3 classes (one with a hostile name), 24 + 12 images each,
    plus one corrupt image in test."""
    from PIL import Image
    if os.path.isdir(d):
        return d
    imgs, labels = read_idx("t10k-images-idx3-ubyte.gz"), read_idx("t10k-labels-idx1-ubyte.gz")
    classes = {0: "T-shirt", 1: HOSTILE, 7: 'comma, "quote"'}
    tmp = d + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for lab, cname in classes.items():
        idx = np.nonzero(labels == lab)[0]
        for split, sl in (("train", idx[:24]), ("test", idx[24:36])):
            cd = os.path.join(tmp, split, cname)
            os.makedirs(cd, exist_ok=True)
            for k, i in enumerate(sl):
                Image.fromarray(imgs[i]).save(os.path.join(cd, "%03d.png" % k))
    with open(os.path.join(tmp, "test", "T-shirt", "bad.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n this is not a png")
    os.rename(tmp, d)
    return d


def validate_schema(doc, source):
    import jsonschema
    with open(os.path.join(source, "docs", "report.schema.json")) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    return ["%s: %s" % ("/".join(str(p) for p in e.path), e.message) for e in errors]


def common_args(a, cache):
    return ["--limit", "150", "--train-limit", "300", "--bootstrap", "200", "--bench-runs", "5",
            "--bench-warmup", "2", "--threads", "2", "--cache-dir", cache]


def load(path):
    with open(path) as f:
        return json.load(f)


def vec_mean(v):
    x = [t for t in v if t is not None]
    return sum(x) / len(x) if x else None


# ---- cases ----------------------------------------------------------------------------------
def case_e2e(a):
    m = make_models(os.path.join(a.work, "models"))
    folder = make_imagefolder(os.path.join(a.work, "folder"))
    out, cache = os.path.join(a.work, "e2e-out"), os.path.join(a.work, "e2e-cache")
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    args = ["run", "-m", m["pix"], "-m", m["conv"], "-m", m["broken"], "-d", "fashion-mnist", "-d", folder,
            "--out", out, *common_args(a, cache)]
    rc, so, se = run(args, a.embeval)
    print(so)
    print(se)
    check(rc == 3, "a run with a corrupt model exits 3 (got %d)" % rc)
    for f in ("report.json", "report.items.json", "report.md", "report.csv", "report.html"):
        check(os.path.isfile(os.path.join(out, f)), "%s written" % f)
    check(os.path.isdir(os.path.join(out, "charts")) and any(
        n.endswith(".svg") for n in os.listdir(os.path.join(out, "charts"))), "charts/*.svg written")
    leftovers = [n for n in os.listdir(out) if ".tmp" in n]
    check(not leftovers, "no temporary files left (atomic writes): %s" % leftovers)
    doc = load(os.path.join(out, "report.json"))
    errs = validate_schema(doc, a.source)
    check(not errs, "report.json valid against docs/report.schema.json: %s" % errs[:5])
    check(doc["status"] == "partial", "status partial with one failed model")
    names = [x["name"] for x in doc["models"]]
    check(names == ["pix", "conv", "broken"], "models in command-line order: %s" % names)
    br = doc["models"][2]
    check(br["status"] == "failed" and br["error"] and "broken.onnx" in br["error"],
          "the broken model is failed with an error naming its file: %s" % br.get("error"))
    check(br["bench"] is None, "no efficiency numbers for the broken model")
    for ds in doc["datasets"]:
        r = ds["results"]
        check([x["status"] for x in r] == ["ok", "ok", "failed"], "per-dataset statuses (%s)" % ds["name"])
        check(r[2]["error_phase"] in ("embed", "load"), "failed phase recorded")
        for x in r[:2]:
            mx = x["metrics"]
            for k in ("map", "recall_at_1", "recall_at_5", "precision_at_5", "silhouette", "knn_20_accuracy",
                      "linear_probe_accuracy"):
                check(isinstance(mx.get(k), (int, float)), "%s/%s: %s is a number" % (ds["name"], x["model"], k))
            check("map" in mx["ci95"] and mx["ci95"]["map"][0] <= mx["map"] <= mx["ci95"]["map"][1],
                  "mAP inside its CI")
            check(len(mx["per_class"]) == ds["n_classes"], "per-class entries")
        check(ds["protocol"]["knn"] == "train-test" and ds["protocol"]["queries"] == "test",
              "train/test protocol on %s" % ds["name"])
        check(set(ds["choose"]["pareto"]) <= {"pix", "conv"} and ds["choose"]["pareto"],
              "Pareto set of ok models")
        bv = ds["choose"].get("best_vs_runner_up")
        check(isinstance(bv, dict) and bv["model"] == ds["choose"]["best_quality"] and
              bv["runner_up"] in ("pix", "conv") and bv["runner_up"] != bv["model"] and 0 <= bv["p_value"] <= 1 and
              bv["n"] >= ds["n_queries"] - 1, "best vs runner-up paired test (%s)" % bv)
        if isinstance(bv, dict):
            best = [x for x in r if x["model"] == bv["model"]][0]["metrics"]["map"]
            second = [x for x in r if x["model"] == bv["runner_up"]][0]["metrics"]["map"]
            check(abs(bv["diff"] - (best - second)) < 1e-4, "paired diff = difference of the mAPs")
    fm, fo = doc["datasets"]
    check(fm["n_queries"] == 150 and fm["n_memory"] == 300, "--limit/--train-limit honoured")
    check(HOSTILE in fo["class_names"], "hostile class name kept verbatim in the JSON")
    conv_fo = fo["results"][1]
    check(conv_fo["n_skipped"] == 1 and conv_fo["skipped"][0]["set"] == "queries" and
          "bad.png" in conv_fo["skipped"][0]["name"], "the bad image is listed as skipped")
    check(doc["models"][1]["random_init"] is True and doc["models"][0]["weights_kind"] == "none",
          "weights kind from the card")
    check(any("random-init" in n for n in doc["notes"]), "random-init note present")
    mr = doc["mean_rank"]["models"]
    check(all(len(x["ranks"]) == 2 for x in mr) and mr[2]["mean_rank"] is None and
          mr[0]["mean_rank"] is not None, "mean rank across the two datasets")
    b = doc["models"][0]["bench"]
    check(b["latency_ms"]["min"] <= b["latency_ms"]["median"] <= b["latency_ms"]["p90"] <=
          b["latency_ms"]["p99"], "latency percentiles ordered")
    check(b["params"] == 0 and doc["models"][1]["bench"]["params"] == 8 * 27 + 8 + 16 * 72 + 16,
          "parameter counts")
    # sidecar means == report means
    items = load(os.path.join(out, "report.items.json"))
    for d, ds in enumerate(doc["datasets"]):
        ids = items["datasets"][d]
        check(ids["fingerprint"] == ds["fingerprint"], "sidecar fingerprint")
        for k in range(2):
            v = ids["results"][k]["vectors"]
            mx = ds["results"][k]["metrics"]
            for key in ("map", "recall_at_1", "knn_20_accuracy", "linear_probe_accuracy"):
                check(key in v and abs(vec_mean(v[key]) - mx[key]) < 1e-5,
                      "sidecar vector %s averages to the report's value" % key)
            check(len(ids["results"][k]["items"]) == mx["n_items"], "sidecar item ids")
    # terminal table
    lines = so.splitlines()
    head = [l for l in lines if l.startswith("Model") and "mAP" in l]
    check(len(head) == 2, "one table per dataset")
    if head:
        h = head[0]
        cols = ["mAP", "R@1", "R@5", "P@5", "Silhouette", "Accuracy", "Linear probe", "Latency ms", "Size MiB",
                "License", "Runs locally"]
        pos = [h.find(c) for c in cols]
        check(all(p > 0 for p in pos) and pos == sorted(pos), "table columns in the seed's order: %s" % h)
    check("How to choose" in so and "Pareto set" in so and "best quality" in so and "ahead of" in so,
          "how-to-choose section")
    check("Generalization across 2 datasets" in so, "mean-rank table with two datasets")
    check("FAILED" in so and "broken" in so, "failed model in the table")
    # a warm second run: everything from the caches, same numbers
    out2 = os.path.join(a.work, "e2e-out2")
    shutil.rmtree(out2, ignore_errors=True)
    args2 = [x if x != out else out2 for x in args]
    rc2, so2, se2 = run(args2, a.embeval)
    check(rc2 == 3, "warm run exit 3")
    doc2 = load(os.path.join(out2, "report.json"))
    for d in range(2):
        for k in range(2):
            r1, r2 = doc["datasets"][d]["results"][k], doc2["datasets"][d]["results"][k]
            check(r2["timing"]["metrics_cached"] is True, "warm run: metrics from the result cache")
            check(r2["embed"]["queries"]["cache_hits"] == r2["embed"]["queries"]["embedded"],
                  "warm run: embeddings from the cache")
            check(r1["metrics"]["map"] == r2["metrics"]["map"] and
                  r1["metrics"]["linear_probe_accuracy"] == r2["metrics"]["linear_probe_accuracy"],
                  "warm run: identical numbers")
    # --no-cache gives the same numbers as the cached runs
    out3 = os.path.join(a.work, "e2e-out3")
    rc3, _, _ = run(["run", "-m", m["pix"], "-d", "fashion-mnist", "--out", out3, "--no-cache",
                     *common_args(a, cache)[:-2]], a.embeval)
    doc3 = load(os.path.join(out3, "report.json"))
    check(rc3 == 0 and doc3["settings"]["cache"] is False, "--no-cache run ok")
    check(doc3["datasets"][0]["results"][0]["metrics"]["map"] == doc["datasets"][0]["results"][0]["metrics"]["map"],
          "--no-cache gives the cached numbers")


def case_formats(a):
    m = make_models(os.path.join(a.work, "models"))
    folder = make_imagefolder(os.path.join(a.work, "folder"))
    out, cache = os.path.join(a.work, "fmt-out"), os.path.join(a.work, "fmt-cache")
    shutil.rmtree(out, ignore_errors=True)
    rc, so, se = run(["run", "-m", m["evil"], "-m", m["conv"], "-d", folder, "-d", "fashion-mnist", "--out", out,
                      *common_args(a, cache)], a.embeval)
    check(rc == 0, "run ok (exit %d): %s" % (rc, se[-500:]))
    doc = load(os.path.join(out, "report.json"))
    check(doc["models"][0]["name"] == EVIL_MODEL, "hostile model name verbatim in JSON")
    # CSV: RFC 4180 with csv module, header, one row per dataset x model
    with open(os.path.join(out, "report.csv"), newline="") as f:
        raw = f.read()
    check("\r\n" in raw, "CSV uses CRLF record separators (RFC 4180)")
    rows = list(csv.reader(io.StringIO(raw)))
    header, body = rows[0], rows[1:]
    check(len(body) == 4, "one CSV row per dataset x model (%d)" % len(body))
    check(all(len(r) == len(header) for r in body), "every CSV row has the header's column count")
    for col in ("dataset", "model", "status", "map", "map_ci_low", "map_ci_high", "recall_at_1", "precision_at_5",
                "accuracy", "linear_probe_accuracy", "silhouette", "latency_p50_ms", "latency_p99_ms", "size_mib",
                "params", "license", "runs_locally", "weights_kind", "error"):
        check(col in header, "CSV column %s" % col)
    H = {k: i for i, k in enumerate(header)}
    evil_rows = [r for r in body if r[H["model"]] == EVIL_MODEL]
    check(len(evil_rows) == 2, "the model name with a comma and quotes round-trips through CSV")
    check(all(r[H["license"]].startswith("'=") for r in evil_rows), "formula-like strings are guarded with '")
    for r in body:
        for col in ("map", "recall_at_1", "latency_p50_ms", "size_mib"):
            try:
                v = float(r[H[col]])
                check(math.isfinite(v), "CSV %s is a finite number" % col)
            except ValueError:
                check(False, "CSV %s is a number: %r" % (col, r[H[col]]))
        d = [x for x in doc["datasets"] if x["name"] == r[H["dataset"]]][0]
        res = [x for x in d["results"] if x["model"] == r[H["model"]]][0]
        check(abs(float(r[H["map"]]) - res["metrics"]["map"]) < 1e-9, "CSV map equals the JSON")
    # Markdown: tables well formed, hostile strings escaped
    with open(os.path.join(out, "report.md")) as f:
        md = f.read()
    check("<b>" not in md and "<img" not in md, "no raw HTML from data in report.md")
    check("&lt;img src=x onerror=alert(1)&gt;" in md, "hostile class name escaped in report.md")
    check("evil, \"pix\" &lt;b&gt;\\|x" in md, "model name escaped in Markdown (| and <>)")
    tables = [l for l in md.splitlines() if l.startswith("|")]
    check(len(tables) > 8, "Markdown tables present")
    for l in tables:
        cells = l.count("|") - l.count("\\|")
        check(cells >= 3, "table row has cells: %s" % l[:60])
    blocks, cur = [], []
    for l in md.splitlines() + [""]:
        if l.startswith("|"):
            cur.append(l.count("|") - l.count("\\|"))
        elif cur:
            blocks.append(cur)
            cur = []
    check(all(len(set(b)) == 1 for b in blocks), "every Markdown table has the same cell count on each row")
    check("| Model | mAP | R@1 | R@5 | P@5 | Silhouette | Accuracy | Linear probe | Latency ms | Size MiB | License "
          "| Runs locally |" in md, "main Markdown table header in the seed's column order")
    check("95% bootstrap" in md and "Recall@1 per class" in md and "How to choose" in md, "Markdown sections")
    # the terminal never gets control characters from data
    check("\x1b" not in so, "no escape sequences in the table")


def case_schema(a):
    """The schema check must be able to fail."""
    m = make_models(os.path.join(a.work, "models"))
    out, cache = os.path.join(a.work, "schema-out"), os.path.join(a.work, "schema-cache")
    rc, so, se = run(["run", "-m", m["pix"], "-d", "fashion-mnist", "--out", out, *common_args(a, cache)],
                     a.embeval)
    check(rc == 0, "run ok")
    doc = load(os.path.join(out, "report.json"))
    check(not validate_schema(doc, a.source), "valid report passes")
    import copy
    bad = []
    d = copy.deepcopy(doc); del d["models"][0]["license"]; bad.append(("missing license", d))
    d = copy.deepcopy(doc); d["datasets"][0]["results"][0]["metrics"]["map"] = 1.5; bad.append(("map > 1", d))
    d = copy.deepcopy(doc); d["schema_version"] = 2; bad.append(("schema_version 2", d))
    d = copy.deepcopy(doc); d["models"][0]["bench"]["latency_ms"]["median"] = "fast"; bad.append(("string latency", d))
    d = copy.deepcopy(doc); d["datasets"][0]["fingerprint"] = "xyz"; bad.append(("bad fingerprint", d))
    d = copy.deepcopy(doc); d["models"][0]["status"] = "failed"; bad.append(("failed without error", d))
    for what, d in bad:
        check(validate_schema(d, a.source), "schema rejects: %s" % what)
    # and embeval itself refuses a report from the future
    p = os.path.join(a.work, "future.json")
    d = copy.deepcopy(doc); d["schema_version"] = 99
    with open(p, "w") as f:
        json.dump(d, f)
    rc, so, se = run(["compare", p, os.path.join(out, "report.json")], a.embeval)
    check(rc == 3 and "newer" in se, "compare refuses a newer schema_version (exit %d): %s" % (rc, se))


def case_compare(a):
    m = make_models(os.path.join(a.work, "models"))
    cache = os.path.join(a.work, "cmp-cache")
    A, B = os.path.join(a.work, "cmp-a"), os.path.join(a.work, "cmp-b")
    for d in (A, B):
        shutil.rmtree(d, ignore_errors=True)
    # the same name "net" is the conv model in A and the pixel model in B: a
    # real, large quality difference on the very same items
    pa, pb = os.path.join(a.work, "net_a.json"), os.path.join(a.work, "net_b.json")
    for src, dst in ((m["conv"], pa), (m["pix"], pb)):
        c = load(src)
        c["name"] = "net"
        c["file"] = os.path.join(m["dir"], c["file"])
        with open(dst, "w") as f:
            json.dump(c, f)
    for card, out in ((pa, A), (pb, B)):
        rc, so, se = run(["run", "-m", card, "-m", m["pix"], "-d", "fashion-mnist", "--out", out,
                          *common_args(a, cache)], a.embeval)
        check(rc == 0, "run for compare ok: %s" % se[-300:])
    ra, rb = os.path.join(A, "report.json"), os.path.join(B, "report.json")
    rc, so, se = run(["compare", ra, ra], a.embeval)
    check(rc == 0 and "same items" in so, "compare A A exit 0, paired")
    rc, so, se = run(["compare", ra, rb, "--json"], a.embeval)
    check(rc == 0, "compare A B exit 0")
    j = json.loads(so)
    dsj = j["comparisons"][0]["datasets"][0]
    check(dsj["paired"] is True, "same fingerprint -> paired")
    net = [x for x in dsj["models"] if x["model"] == "net"][0]["metrics"]
    pix = [x for x in dsj["models"] if x["model"] == "pix"][0]["metrics"]
    check(net["map"]["p_value"] is not None and net["map"]["p_value"] < 0.01 and abs(net["map"]["delta"]) > 0.02,
          "a real mAP difference has a small paired p-value: %s" % net["map"])
    check(pix["map"]["delta"] == 0 and pix["map"]["p_value"] == 1, "identical model: delta 0, p = 1")
    worse = "map:-0.001" if net["map"]["delta"] < 0 else "map:+0.001"
    rc, so, se = run(["compare", ra, rb, "--fail-on", worse], a.embeval)
    check(rc == 4 and "THRESHOLD CROSSED" in so, "compare --fail-on crossed -> exit 4 (%d)" % rc)
    rc, so, se = run(["compare", ra, rb, "--fail-on", "map:-0.9,size_mib:+1000%"], a.embeval)
    check(rc == 0 and "no threshold crossed" in so, "compare --fail-on within limits -> exit 0")
    # latency: a doctored copy of A with doubled latency
    doc = load(ra)
    for mo in doc["models"]:
        mo["bench"]["latency_ms"]["median"] *= 2.0
    slow = os.path.join(a.work, "slow.json")
    with open(slow, "w") as f:
        json.dump(doc, f)
    rc, so, se = run(["compare", ra, slow, "--fail-on", "latency_p50:+10%"], a.embeval)
    check(rc == 4, "latency +100%% crosses latency_p50:+10%% (exit %d)" % rc)
    check("different items" in so or "sidecar is missing" in so, "no sidecar next to the doctored copy: no p")
    rc, so, se = run(["compare", slow, ra, "--fail-on", "latency_p50:+10%"], a.embeval)
    check(rc == 0, "latency halved does not cross +10%")
    # bad inputs
    rc, so, se = run(["compare", ra], a.embeval)
    check(rc == 2, "one report is a usage error")
    rc, so, se = run(["compare", ra, rb, "--fail-on", "map"], a.embeval)
    check(rc == 2 and "embeval: error:" in se, "bad --fail-on is a usage error")
    rc, so, se = run(["compare", ra, rb, "--fail-on", "map:0.01"], a.embeval)
    check(rc == 2, "--fail-on limit without sign is a usage error")
    rc, so, se = run(["compare", ra, rb, "--fail-on", "bogus:-1"], a.embeval)
    check(rc == 2, "--fail-on unknown metric is a usage error")
    notrep = os.path.join(a.work, "notreport.json")
    with open(notrep, "w") as f:
        f.write('{"hello": 1}')
    rc, so, se = run(["compare", ra, notrep], a.embeval)
    check(rc == 3 and "not an embeval report" in se, "a JSON that is not a report -> exit 3")
    with open(notrep, "w") as f:
        f.write('{"schema": "embeval.report", ')
    rc, so, se = run(["compare", ra, notrep], a.embeval)
    check(rc == 3 and "invalid JSON" in se, "truncated JSON -> exit 3")
    rc, so, se = run(["compare", ra, os.path.join(a.work, "missing.json")], a.embeval)
    check(rc == 3, "missing report -> exit 3")


def case_baseline(a):
    m = make_models(os.path.join(a.work, "models"))
    cache = os.path.join(a.work, "bl-cache")
    base = os.path.join(a.work, "bl-base")
    rc, so, se = run(["run", "-m", m["pix"], "-m", m["conv"], "-d", "fashion-mnist", "--out", base,
                      *common_args(a, cache)], a.embeval)
    check(rc == 0, "baseline run ok")
    bj = os.path.join(base, "report.json")
    rc, so, se = run(["run", "-m", m["pix"], "-m", m["conv"], "-d", "fashion-mnist", "--baseline", bj,
                      "--fail-on", "map:-0.01,accuracy:-0.01", *common_args(a, cache)], a.embeval)
    check(rc == 0 and "no threshold crossed" in so, "same models within limits -> exit 0 (%d)" % rc)
    # a baseline that claims a better mAP: the new run drops by > 0.01
    doc = load(bj)
    for ds in doc["datasets"]:
        for r in ds["results"]:
            r["metrics"]["map"] = min(1.0, r["metrics"]["map"] + 0.05)
    better = os.path.join(a.work, "better.json")
    with open(better, "w") as f:
        json.dump(doc, f)
    out = os.path.join(a.work, "bl-out")
    rc, so, se = run(["run", "-m", m["pix"], "-m", m["conv"], "-d", "fashion-mnist", "--baseline", better,
                      "--fail-on", "map:-0.01", "--out", out, *common_args(a, cache)], a.embeval)
    check(rc == 4 and "THRESHOLD CROSSED" in so, "mAP drop beyond the limit -> exit 4 (%d)" % rc)
    check(os.path.isfile(os.path.join(out, "report.json")), "the report is written even when a threshold is crossed")
    # a failed model takes precedence (exit 3)
    rc, so, se = run(["run", "-m", m["pix"], "-m", m["broken"], "-d", "fashion-mnist", "--baseline", better,
                      "--fail-on", "map:-0.01", *common_args(a, cache)], a.embeval)
    check(rc == 3, "a failed model with a crossed threshold -> exit 3 (%d)" % rc)
    rc, so, se = run(["run", "-m", m["pix"], "--fail-on", "map:-0.01", *common_args(a, cache)], a.embeval)
    check(rc == 2, "--fail-on without --baseline is a usage error")
    rc, so, se = run(["run", "-m", m["pix"], "--baseline", os.path.join(a.work, "nope.json"),
                      *common_args(a, cache)], a.embeval)
    check(rc == 3, "a missing baseline -> exit 3 before any work")


def case_cli(a):
    m = make_models(os.path.join(a.work, "models"))
    rc, so, se = run(["run", "--help"], a.embeval)
    check(rc == 0 and "Usage: embeval run" in so and "Exit status" in so, "run --help")
    rc, so, se = run(["compare", "--help"], a.embeval)
    check(rc == 0 and "Usage: embeval compare" in so, "compare --help")
    for bad in (["--bogus"], ["--limit", "-3"], ["--limit", "x"], ["--mode", "slow"], ["stray"], ["-m"]):
        rc, so, se = run(["run", *bad], a.embeval)
        check(rc == 2 and se.startswith("embeval: error:"), "usage error for %s (%d): %s" % (bad, rc, se))
    empty = os.path.join(a.work, "empty-models")
    os.makedirs(empty, exist_ok=True)
    rc, so, se = run(["run", "--models-dir", empty, "--no-cache"], a.embeval)
    check(rc == 3 and "no model cards" in se, "no cards -> exit 3: %s" % se)
    rc, so, se = run(["run", "-m", m["pix"], "-d", os.path.join(a.work, "no-such-dataset"), "--no-cache"],
                     a.embeval)
    check(rc == 3 and "embeval: error:" in se, "missing dataset -> exit 3 (%d)" % rc)
    # model discovery from a directory (+ an orphan .onnx warning) and --config
    mdir = os.path.join(a.work, "cfg-models")
    shutil.rmtree(mdir, ignore_errors=True)
    os.makedirs(mdir)
    shutil.copy(os.path.join(m["dir"], "pix.onnx"), mdir)
    shutil.copy(m["pix"], mdir)
    shutil.copy(os.path.join(m["dir"], "conv.onnx"), mdir)  # no card
    with open(os.path.join(mdir, "pix.train.json"), "w") as f:
        f.write('{"preprocess": "not a card"}')
    cfg = os.path.join(a.work, "eval.json")
    with open(cfg, "w") as f:
        json.dump({"models_dir": "cfg-models", "datasets": ["fashion-mnist"], "limit": 120, "train_limit": 200,
                   "bootstrap": 100, "bench_runs": 3, "out": "cfg-out", "cache": False, "threads": 2}, f)
    shutil.rmtree(os.path.join(a.work, "cfg-out"), ignore_errors=True)
    rc, so, se = run(["run", "--config", cfg], a.embeval)
    check(rc == 0, "run --config (exit %d): %s" % (rc, se[-400:]))
    check("conv.onnx has no model card" in se, "orphan .onnx warned about")
    doc = load(os.path.join(a.work, "cfg-out", "report.json"))
    check([x["name"] for x in doc["models"]] == ["pix"], "cards discovered in models_dir (train.json skipped)")
    check(doc["datasets"][0]["n_queries"] == 120 and doc["settings"]["cache"] is False, "config values applied")
    rc, so, se = run(["run", "--config", cfg, "--limit", "100", "--out", os.path.join(a.work, "cfg-out2")],
                     a.embeval)
    doc = load(os.path.join(a.work, "cfg-out2", "report.json"))
    check(rc == 0 and doc["datasets"][0]["n_queries"] == 100, "the command line wins over the config")
    with open(cfg, "w") as f:
        f.write('{"limit": "many"}')
    rc, so, se = run(["run", "--config", cfg], a.embeval)
    check(rc == 3 and "limit" in se, "bad config value -> exit 3")


def case_trained(a):
    card = os.path.join(a.source, "models", "fmnist_cnn.json")
    pix = os.path.join(a.source, "models", "pixels_28.json")
    if not all(os.path.isfile(p) for p in (card, pix, card[:-5] + ".onnx", pix[:-5] + ".onnx")):
        print("SKIP: the trained reference model or the pixel baseline is not in models/")
        sys.exit(77)
    out, cache = os.path.join(a.work, "trained-out"), os.path.join(a.work, "trained-cache")
    rc, so, se = run(["run", "-m", card, "-m", pix, "--out", out, "--limit", "1000", "--train-limit", "3000",
                      "--bootstrap", "200", "--bench-runs", "5", "--threads", "2", "--cache-dir", cache], a.embeval,
                     timeout=1500)
    print(so)
    check(rc == 0, "run ok: %s" % se[-300:])
    doc = load(os.path.join(out, "report.json"))
    r = doc["datasets"][0]["results"]
    acc = [x["metrics"]["knn_20_accuracy"] for x in r]
    mp = [x["metrics"]["map"] for x in r]
    check(acc[0] >= 0.85, "trained model weighted 20-NN accuracy >= 0.85 (%.4f)" % acc[0])
    check(acc[0] > acc[1] + 0.02 and mp[0] > mp[1] + 0.1,
          "trained model well above the pixel baseline (acc %.3f vs %.3f, mAP %.3f vs %.3f)" % (acc[0], acc[1],
                                                                                              mp[0], mp[1]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("case")
    p.add_argument("--embeval", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--source", required=True)
    a = p.parse_args()
    a.work = os.path.join(a.work, a.case)  # cases may run in parallel
    os.makedirs(a.work, exist_ok=True)
    cases = {"e2e": case_e2e, "formats": case_formats, "schema": case_schema, "compare": case_compare,
             "baseline": case_baseline, "cli": case_cli, "trained": case_trained}
    if a.case not in cases:
        print("unknown case", a.case)
        sys.exit(2)
    cases[a.case](a)
    print("%s: %d checks, %d failures" % (a.case, CHECKS[0], len(FAILURES)))
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
