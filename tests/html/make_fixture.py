#!/usr/bin/env python3
"""Report fixtures for the HTML report tests.

  make_fixture.py realistic OUT.json   the committed fixture (fixture-report.json):
                                       Fashion-MNIST-like run, 10 models (6 random-init,
                                       2 trained, pixels, 1 failed), hostile strings
  make_fixture.py many OUT.json        30 models x 100 classes, 2 datasets
  make_fixture.py one OUT.json         1 model, 2 classes, many nulls
  make_fixture.py nulls OUT.json       every metric null / missing, odd types
  make_fixture.py empty OUT.json       {"schema": ..., no models, no datasets}

Deterministic (seeded); standard library only.
"""
import json
import random
import sys

EVIL = "<img src=x onerror=alert(1)>"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandale \u2013 \u00e9t\u00e9 \u2713", "Shirt \"& 'tie'\"", "Sneaker", EVIL,
           "Ankle boot"]


def clamp(v, lo=0.0, hi=1.0):
    return max(lo, min(hi, v))


def metrics_for(rng, quality, classes, silhouette=None, per_class=True, ci=True):
    q = quality
    m = {
        "map": clamp(q * 0.8 + rng.uniform(-0.02, 0.02)),
        "recall_at_1": clamp(q + rng.uniform(-0.02, 0.02)),
        "recall_at_5": clamp(q + (1 - q) * 0.6),
        "recall_at_10": clamp(q + (1 - q) * 0.75),
        "precision_at_5": clamp(q * 0.93),
        "map_at_r": clamp(q * 0.6),
        "r_precision": clamp(q * 0.7),
        "silhouette": silhouette if silhouette is not None else round(q * 0.3 - 0.05, 4),
        "knn_1_accuracy": clamp(q * 0.98),
        "knn_20_accuracy": clamp(q + 0.02),
        "linear_probe_accuracy": clamp(q + 0.04),
        "nmi": clamp(q * 0.7),
        "ari": clamp(q * 0.55),
        "n_queries": 2000,
        "n_excluded": 0,
        "reason": {},
    }
    if ci:
        m["ci95"] = {k: [clamp(m[k] - 0.012), clamp(m[k] + 0.012)]
                     for k in ("map", "recall_at_1", "recall_at_5", "precision_at_5",
                               "knn_20_accuracy", "linear_probe_accuracy")}
    if per_class:
        m["per_class"] = [{"label": c, "n_queries": 200, "n_items": 6200,
                           "recall_at_1": clamp(q + rng.uniform(-0.25, 0.15)),
                           "map": clamp(q * 0.8 + rng.uniform(-0.2, 0.1))}
                          for c in classes]
    return m


def model(name, file, lat, size, params, macs, license="BSD-3-Clause", weights="trained",
          status="ok", error=None, runs_locally=True):
    m = {"name": name, "file": file, "license": license, "runs_locally": runs_locally,
         "runs_locally_why": "exported locally from Debian's python3-torchvision",
         "weights": weights, "status": status,
         "efficiency": {"latency_ms": {"median": lat, "p90": lat * 1.08, "p99": lat * 1.25,
                                       "min": lat * 0.93},
                        "throughput_ips": 1000.0 / lat * 1.6, "load_ms": 20 + size * 2.1,
                        "peak_rss_mib": 60 + size * 2.2, "size_mib": size, "params": params,
                        "macs": macs}}
    if error:
        m["error"] = error
    return m


RANDOM = ("random-init (no pretrained weights offline): seeded by tools/export_models.py. "
          "Quality metrics of this file are a random-feature baseline; latency, size, "
          "parameters and MACs are exact for the architecture.")


def realistic():
    rng = random.Random(1)
    ds = {"name": "fashion-mnist", "fingerprint": "sha256:9f86d081884c7d65",
          "n_train": 60000, "n_query": 2000, "n_classes": 10, "classes": CLASSES,
          "protocol": "train memory / test queries (stratified 2000 of 10000)"}
    models = [
        model("mobilenet_v3_small", "mobilenet_v3_small.onnx", 1.18, 3.7, 927008, 56.5e6,
              weights=RANDOM),
        model("mobilenet_v3_large", "mobilenet_v3_large.onnx", 3.05, 11.4, 2971952, 216e6,
              weights=RANDOM),
        model("efficientnet_lite0", "efficientnet_lite0.onnx", 4.21, 13.4, 3371488, 385e6,
              license="Apache-2.0", weights=RANDOM),
        model("efficientnet_b0", "efficientnet_b0.onnx", 5.77, 15.3, 4007548, 386e6,
              license="Apache-2.0", weights=RANDOM),
        model("resnet50", "resnet50.onnx", 23.6, 89.6, 23508032, 4.09e9, weights=RANDOM),
        model("clip_vit_b32", "clip_vit_b32.onnx", 38.7, 335.2, 87849216, 4.37e9, license="MIT",
              weights=RANDOM),
        model("fmnist_cnn_small", "fmnist_cnn_small.onnx", 0.21, 0.4, 98000, 2.1e6,
              license="MIT", weights="trained by tools/train_reference.py (seed 0)"),
        model("fmnist_cnn_wide", "fmnist_cnn_wide.onnx", 0.62, 1.9, 480000, 11.2e6,
              license="MIT", weights="trained by tools/train_reference.py (seed 0)"),
        model("pixels_28", "pixels_28.onnx", 0.004, 0.0006, 0, 0, license="MIT",
              weights="none (raw pixels)"),
        model("broken & <b>bad</b>", "corrupt.onnx", float("nan"), 0.1, 0, 0,
              license="unknown", status="failed",
              error="corrupt.onnx: protobuf parse failed at byte 17 (<truncated> & \"odd\")"),
    ]
    # the failed model has no efficiency numbers
    models[-1]["efficiency"] = {"size_mib": 0.1}
    quality = [0.31, 0.29, 0.33, 0.30, 0.27, 0.24, 0.86, 0.89, 0.71, None]
    sil = [0.021, -0.034, 0.012, 0.008, -0.061, 0.004, 0.262, 0.281, 0.103, None]
    results = []
    for m, q, s in zip(models, quality, sil):
        if q is None:
            results.append({"dataset": ds["name"], "model": m["name"], "status": "failed",
                            "error": m["error"]})
            continue
        met = metrics_for(rng, q, CLASSES, silhouette=s)
        results.append({"dataset": ds["name"], "model": m["name"], "status": "ok",
                        "metrics": met, "skipped_images": [],
                        "timing": {"embed_s": 3.2, "metrics_s": 1.1}})
    # the pixel baseline has no linear probe (null with a reason)
    pm = results[8]["metrics"]
    pm["linear_probe_accuracy"] = None
    pm["reason"]["linear_probe_accuracy"] = "skipped: --no-probe"
    del pm["ci95"]["linear_probe_accuracy"]
    results[6]["skipped_images"] = [{"path": "imgs/" + EVIL + ".png", "reason": "decode failed"}]
    return {"schema": "embeval-report", "schema_version": 1, "embeval_version": "0.1.0",
            "created": "2025-01-15T10:20:30Z",
            "machine": {"cpu": "Intel(R) Xeon(R) <AVX-512>", "cores": 2, "threads": 2,
                        "os": "Debian GNU/Linux 12 (bookworm)", "memory_gib": 23.4},
            "datasets": [ds], "models": models, "results": results,
            "summary": {}}


def many():
    rng = random.Random(2)
    classes = ["class_%03d_%s" % (i, "x" * (i % 23)) for i in range(99)] + [EVIL]
    dss = [{"name": "big-A", "n_classes": 100, "classes": classes},
           {"name": "big/A", "n_classes": 100, "classes": classes}]  # same slug
    models, results = [], []
    for i in range(30):
        name = "model_%02d_%s" % (i, "long-name-" * (i % 4))
        lat = 10 ** rng.uniform(-1, 2.5)
        m = model(name, name + ".onnx", lat, 10 ** rng.uniform(-1, 2.7), 1e6 * i, 1e8 * i,
                  weights=RANDOM if i % 3 == 0 else "trained")
        models.append(m)
        for d in dss:
            q = rng.uniform(0.05, 0.95)
            results.append({"dataset": d["name"], "model": name, "status": "ok",
                            "metrics": metrics_for(rng, q, classes,
                                                   silhouette=rng.uniform(-0.3, 0.5))})
    return {"schema": "embeval-report", "schema_version": 1, "datasets": dss,
            "models": models, "results": results}


def one():
    rng = random.Random(3)
    ds = {"name": "tiny", "classes": ["a", "b"]}
    m = model("solo", "solo.onnx", 2.5, 1.0, 1000, 1e6)
    met = metrics_for(rng, 0.5, ["a", "b"], ci=False)
    met["silhouette"] = None
    met["reason"] = {"silhouette": "undefined: fewer than 2 classes with 2 items"}
    met["per_class"][1]["recall_at_1"] = None
    return {"schema": "embeval-report", "schema_version": 1, "datasets": [ds], "models": [m],
            "results": [{"dataset": "tiny", "model": "solo", "status": "ok", "metrics": met}]}


def nulls():
    ds = {"name": None, "classes": [None, 3, {"name": "named"}], "n_classes": "ten"}
    models = [{"name": "no-eff"}, {"name": 5}, {"efficiency": {"latency_ms": {"median": None}}},
              {"name": "zero-lat", "efficiency": {"latency_ms": {"median": 0}, "size_mib": -1}},
              {"name": "strings", "efficiency": {"latency_ms": "fast", "size_mib": "big"},
               "weights": {"provenance": "random-init"}, "runs_locally": "maybe"}]
    results = [{"model": "no-eff", "metrics": {"map": None, "recall_at_1": "0.5",
                                               "ci95": {"map": [None, 1]},
                                               "per_class": [{"label": None}, 7]}},
               {"model": "zero-lat", "metrics": {"map": {"value": 0.4, "reason": "x"},
                                                 "silhouette": -1.0}},
               {"model": "strings", "metrics": "nope"},
               "not an object"]
    return {"schema": "embeval-report", "schema_version": 1, "datasets": [ds],
            "models": models, "results": results, "machine": "unknown"}


def empty():
    return {"schema": "embeval-report", "schema_version": 1}


def main():
    kind, out = sys.argv[1], sys.argv[2]
    doc = {"realistic": realistic, "many": many, "one": one, "nulls": nulls,
           "empty": empty}[kind]()
    with open(out, "w", encoding="utf-8") as f:
        f.write(_dumps(doc))


def _dumps(doc):
    # NaN is not JSON: write it as null, as embeval does
    def fix(o):
        if isinstance(o, float) and o != o:
            return None
        if isinstance(o, dict):
            return {k: fix(v) for k, v in o.items()}
        if isinstance(o, list):
            return [fix(v) for v in o]
        return o
    return json.dumps(fix(doc), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    main()
