#!/usr/bin/env python3
"""Report fixtures for the HTML report tests.

  make_fixture.py realistic OUT.json   the committed fixture (fixture-report.json), in
                                       the schema of docs/report-schema.md: a
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
    """The keys of `embeval metrics --json --per-class` (docs/report-schema.md)."""
    q = quality
    m = {
        "n_items": 2000, "dim": 128, "n_classes": len(classes), "n_train": 60000,
        "n_gallery": 1999, "protocol": "leave-one-out", "knn_protocol": "train-test",
        "n_queries": 2000,
        "n_excluded": 0,
        "map": clamp(q * 0.8 + rng.uniform(-0.02, 0.02)),
        "map_at_r": clamp(q * 0.6),
        "r_precision": clamp(q * 0.7),
        "recall_at_1": clamp(q + rng.uniform(-0.02, 0.02)),
        "recall_at_5": clamp(q + (1 - q) * 0.6),
        "recall_at_10": clamp(q + (1 - q) * 0.75),
        "precision_at_1": clamp(q),
        "precision_at_5": clamp(q * 0.93),
        "precision_at_10": clamp(q * 0.9),
        "silhouette": silhouette if silhouette is not None else round(q * 0.3 - 0.05, 4),
        "knn_1_accuracy": clamp(q * 0.98),
        "knn_20_accuracy": clamp(q + 0.02),
        "knn_20_top5_accuracy": clamp(q + 0.1),
        "linear_probe_accuracy": clamp(q + 0.04),
        "nmi": clamp(q * 0.7),
        "ari": clamp(q * 0.55),
        "silhouette_metric": "cosine", "silhouette_n": 2000, "knn_k": 20,
        "knn_temperature": 0.07, "linear_probe_c": 1.0, "kmeans_k": len(classes),
        "kmeans_inertia": 812.5, "bootstrap": 1000, "seed": 0, "zero_vectors": 0,
        "ci95": {},
        "reason": {},
    }
    if ci:
        m["ci95"] = {k: [clamp(m[k] - 0.012), clamp(m[k] + 0.012)]
                     for k in ("map", "recall_at_1", "recall_at_5", "precision_at_5",
                               "knn_20_accuracy", "linear_probe_accuracy")}
        m["ci95"]["silhouette"] = [round(m["silhouette"] - 0.004, 4),
                                   round(m["silhouette"] + 0.004, 4)]
    if per_class:
        m["per_class"] = [{"label": c, "n_items": 200, "n_queries": 200,
                           "recall_at_1": clamp(q + rng.uniform(-0.25, 0.15)),
                           "map": clamp(q * 0.8 + rng.uniform(-0.2, 0.1))}
                          for c in classes]
    return m


def model(name, file, lat, size, params, macs, license="BSD-3-Clause", weights="trained",
          status="ok", error=None, runs_locally=True, error_phase=None):
    kind = ("random-init" if weights.startswith("random-init") else
            "none" if weights.startswith("none") else "trained")
    m = {"name": name, "card": name + ".json", "file": file, "sha256": "ab" * 32,
         "architecture": "", "license": license, "license_url": "", "source_url": "",
         "runs_locally": runs_locally,
         "runs_locally_why": "exported locally from Debian's python3-torchvision",
         "weights": weights, "weights_kind": kind, "random_init": kind == "random-init",
         "embedding_dim": 128, "normalize": False, "preprocess": "resize 224, RGB 0-1",
         "training": None, "status": status, "error": error, "error_phase": error_phase,
         "bench": {"engine": "fast", "precision": "fp32", "threads": 2, "warmup": 10,
                   "runs": 50,
                   "latency_ms": {"median": lat, "p90": lat * 1.08, "p99": lat * 1.25,
                                  "min": lat * 0.93},
                   "batch": 1, "batch_ms": {"median": lat, "min": lat * 0.93},
                   "throughput_batch": 16,
                   "throughput_ips": 1000.0 / lat * 1.6, "load_ms": 20 + size * 2.1,
                   "peak_rss_mib": 60 + size * 2.2, "rss_before_mib": 40, "size_mib": size,
                   "params": params, "macs": macs, "arena_mib": 3.5},
         "timing": {"bench_s": 1.5}}
    return m


RANDOM = ("random-init (no pretrained weights offline): seeded by tools/export_models.py. "
          "Quality metrics of this file are a random-feature baseline; latency, size, "
          "parameters and MACs are exact for the architecture.")


def result(model_name, met, status="ok", error=None, rank=None, skipped=()):
    return {"model": model_name, "status": status, "error": error,
            "error_phase": None if status == "ok" else "load", "metrics": met, "rank": rank,
            "embed": {"queries": {"items": 2000, "embedded": 2000, "cache_hits": 0,
                                  "computed": 2000, "skipped": len(skipped), "seconds": 3.1,
                                  "decode_seconds": 0.4, "infer_seconds": 2.5,
                                  "model_load_seconds": 0.05, "images_per_s": 640.0},
                      "memory": None},
            "n_skipped": len(skipped), "skipped": list(skipped),
            "timing": {"embed_s": 3.2, "metrics_s": 1.1, "metrics_cached": False}}


def dataset(name, classes, results, choose=None):
    return {"name": name, "format": "idx", "root": "/usr/share/datasets/" + name,
            "fingerprint": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "queries_sha256": "00" * 32, "memory_sha256": "11" * 32,
            "protocol": {"queries": "test", "memory": "train", "retrieval": "leave-one-out",
                         "knn": "train-test", "linear_probe": "train-test"},
            "n_classes": len(classes), "class_names": classes, "n_items_total": 70000,
            "split_counts": {"train": 60000, "val": 0, "test": 10000, "none": 0},
            "n_queries": 2000, "n_memory": 60000, "warnings": [], "results": results,
            "choose": choose, "timing": {"open_s": 0.4, "total_s": 12.5}}


def top(datasets, models, notes=(), warnings=(), mean_rank=None):
    return {"schema": "embeval.report", "schema_version": 1, "embeval_version": "0.1.0",
            "created_utc": "2025-01-15T10:20:30Z",
            "command": ["embeval", "run", "--out", "out/<evil dir>"],
            "status": "partial" if any(m["status"] != "ok" for m in models) else "ok",
            "machine": {"cpu": "Intel(R) Xeon(R) <AVX-512>", "logical_cpus": 2,
                        "isa": ["avx2", "fma", "avx512f", "avx512_bf16"],
                        "memory_mib": 24000, "os": "Linux 6.1.0-18-amd64 x86_64",
                        "compiler": "GCC 12.2.0"},
            "settings": {"threads": 2, "limit": 2000, "train_limit": 0, "seed": 0,
                         "bootstrap": 1000, "ks": [1, 5, 10], "knn_k": 20,
                         "knn_temperature": 0.07, "mode": "exact", "cache": True,
                         "bench": {"warmup": 10, "runs": 50, "batch": 16,
                                   "throughput_runs": 5}},
            "models": models, "datasets": datasets,
            "mean_rank": mean_rank or {"metric": "map", "models": []},
            "notes": list(notes), "warnings": list(warnings),
            "timing": {"total_s": 95.2}, "items_file": "report.items.json"}


def realistic():
    rng = random.Random(1)
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
        model("broken & <b>bad</b>", "corrupt.onnx", 1, 0.1, 0, 0,
              license="unknown", status="failed", error_phase="load",
              error="corrupt.onnx: protobuf parse failed at byte 17 (<truncated> & \"odd\")"),
    ]
    models[-1]["bench"] = None   # failed before the efficiency measurement
    models[-1]["runs_locally"] = None
    quality = [0.31, 0.29, 0.33, 0.30, 0.27, 0.24, 0.86, 0.89, 0.71, None]
    sil = [0.021, -0.034, 0.012, 0.008, -0.061, 0.004, 0.262, 0.281, 0.103, None]
    results = []
    for m, q, s in zip(models, quality, sil):
        if q is None:
            results.append(result(m["name"], None, status="failed", error=m["error"]))
            continue
        results.append(result(m["name"], metrics_for(rng, q, CLASSES, silhouette=s)))
    # the pixel baseline has no linear probe (null with a reason)
    pm = results[8]["metrics"]
    pm["linear_probe_accuracy"] = None
    pm["reason"]["linear_probe_accuracy"] = "skipped: --no-probe"
    del pm["ci95"]["linear_probe_accuracy"]
    results[6] = result(models[6]["name"], results[6]["metrics"],
                        skipped=[{"set": "queries", "name": "imgs/" + EVIL + ".png",
                                  "reason": "decode failed: <not an image>"}])
    ok = [i for i, q in enumerate(quality) if q is not None]
    maps = {i: results[i]["metrics"]["map"] for i in ok}
    for i in ok:
        results[i]["rank"] = 1 + sum(1 for j in ok if maps[j] > maps[i])
    choose = {"quality_metric": "map", "best_quality": "fmnist_cnn_wide",
              "fastest": "pixels_28", "smallest": "pixels_28",
              "pareto": ["pixels_28", "fmnist_cnn_small", "fmnist_cnn_wide"]}
    ds = dataset("fashion-mnist", CLASSES, results, choose)
    ds["warnings"] = ["class name <img src=x onerror=alert(1)> contains markup"]
    notes = ["6 models have random-init weights (no pretrained weights offline): their "
             "quality columns are a random-feature baseline; latency, size, params and MACs "
             "are exact."]
    mean_rank = {"metric": "map",
                 "models": [{"model": m["name"], "ranks": [results[i]["rank"]],
                             "mean_rank": results[i]["rank"]} for i, m in enumerate(models)]}
    return top([ds], models, notes=notes,
               warnings=["card broken.json: unknown key \"zoom\" ignored"],
               mean_rank=mean_rank)


def many():
    rng = random.Random(2)
    classes = ["class_%03d_%s" % (i, "x" * (i % 23)) for i in range(99)] + [EVIL]
    models = []
    names = []
    for i in range(30):
        name = "model_%02d_%s" % (i, "long-name-" * (i % 4))
        lat = 10 ** rng.uniform(-1, 2.5)
        models.append(model(name, name + ".onnx", lat, 10 ** rng.uniform(-1, 2.7), 1e6 * i,
                            1e8 * i, weights=RANDOM if i % 3 == 0 else "trained"))
        names.append(name)
    dss = []
    for dname in ("big-A", "big/A"):   # same file-name slug
        res = [result(n, metrics_for(rng, rng.uniform(0.05, 0.95), classes,
                                     silhouette=rng.uniform(-0.3, 0.5))) for n in names]
        dss.append(dataset(dname, classes, res))   # no "choose": computed by the page
    ranks = []
    for i in range(30):
        rk = [1 + sum(1 for r2 in d["results"]
                      if r2["metrics"]["map"] > d["results"][i]["metrics"]["map"])
              for d in dss]
        ranks.append({"model": names[i], "ranks": rk, "mean_rank": sum(rk) / 2.0})
    return top(dss, models, mean_rank={"metric": "map", "models": ranks})


def one():
    rng = random.Random(3)
    m = model("solo", "solo.onnx", 2.5, 1.0, 1000, 1e6)
    met = metrics_for(rng, 0.5, ["a", "b"], ci=False)
    met["silhouette"] = None
    met["reason"] = {"silhouette": "undefined: fewer than 2 classes with 2 items"}
    met["per_class"][1]["recall_at_1"] = None
    ds = dataset("tiny", ["a", "b"], [result("solo", met)])
    return top([ds], [m])


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
    # a top-level "results" array (pre-v1 drafts) is still read
    return {"schema": "embeval.report", "schema_version": 1, "datasets": [ds],
            "models": models, "results": results, "machine": "unknown",
            "notes": [None, 3], "mean_rank": {"models": "x"}, "settings": {"knn_k": -5}}


def empty():
    return {"schema": "embeval.report", "schema_version": 1}


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
