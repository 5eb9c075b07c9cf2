#!/usr/bin/python3
"""Build embeval's raw-pixel baseline as an ONNX graph: models/pixels_28.onnx.

Run with Debian's Python (python3-onnx 1.12, python3-numpy):

    /usr/bin/python3 tools/make_pixel_baseline.py

Graph (opset 17, no weights, nothing trained):
    input "input" float32 [N,3,28,28]
      -> ReduceMean(axes=[1], keepdims=1)   RGB -> grey [N,1,28,28]
      -> Flatten(axis=1)
    output "embedding" float32 [N,784]

It takes the same preprocessing contract as the trained reference models
(tools/train_reference.py): RGB, pixel/255, then (x - 0.2860) / 0.3530 on every
channel. The embedding is therefore the mean-centred, scaled grey image. Cosine
similarity is invariant to the scale but NOT to the mean shift, so the contract
matters a little; the .train.json records the kNN accuracy both for the contract
input (what embeval measures) and for plain pixel/255.

Also writes models/pixels_28.train.json (what it is, how it was made, and its
Fashion-MNIST test metrics measured here with the same numpy code as the trained
models: train split as kNN memory, test split as queries).
"""

import argparse
import os
import platform
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "reference_models"))

import train_reference as tr  # noqa: E402  (torch is imported lazily there)
import npy_onnx_eval  # noqa: E402

NAME = "pixels_28"


def build_model():
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 28, 28])
    out = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 784])
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["grey"], name="channel_mean",
                         axes=[1], keepdims=1),
        helper.make_node("Flatten", ["grey"], ["embedding"], name="flatten", axis=1),
    ]
    graph = helper.make_graph(nodes, "pixels_28", [inp], [out])
    model = helper.make_model(graph, producer_name="embeval tools/make_pixel_baseline.py",
                              producer_version="1",
                              opset_imports=[helper.make_opsetid("", tr.OPSET)])
    model.ir_version = 8
    model.doc_string = ("embeval raw-pixel baseline: the 784 grey pixel values (after the "
                        "input normalisation) as the embedding; no weights, not trained")
    for k, v in {
        "embeval.preprocess": ('{"mean": [0.286, 0.286, 0.286], "std": [0.353, 0.353, 0.353], '
                               '"scale": "0-1", "color": "RGB", "size": [28, 28], '
                               '"layout": "NCHW"}'),
        "embeval.license": tr.MODEL_LICENSE.split(" (")[0],
        "embeval.kind": "raw-pixel baseline (no weights)",
    }.items():
        p = model.metadata_props.add()
        p.key = k
        p.value = v
    onnx.checker.check_model(model, full_check=True)
    return model


def embed_onnx(model, u8, chunk=5000):
    out = []
    for a in range(0, u8.shape[0], chunk):
        out.append(npy_onnx_eval.run(model, tr.preprocess(u8[a:a + chunk])).astype(np.float32))
    return np.concatenate(out, axis=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "models"))
    ap.add_argument("--no-metrics", action="store_true",
                    help="only write the graph (skip the Fashion-MNIST measurements)")
    ap.add_argument("--probe", action="store_true",
                    help="also fit the sklearn linear probe on 784-d pixels (slow here: "
                         "Debian numpy uses the reference BLAS)")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, NAME + ".onnx")
    json_path = os.path.join(args.out, NAME + ".train.json")
    model = build_model()
    tmp = onnx_path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, onnx_path)
    print("wrote %s (%d bytes)" % (tr.rel(onnx_path), os.path.getsize(onnx_path)))

    metrics = None
    contract = None
    if not args.no_metrics:
        t0 = time.time()
        tr_u8, tr_y = tr.load_split("train")
        te_u8, te_y = tr.load_split("t10k")
        m, s = tr.exact_stats(tr_u8)
        contract = tr.preprocessing_contract(m, s)
        emb_tr = embed_onnx(model, tr_u8)
        emb_te = embed_onnx(model, te_u8)
        # the graph must equal the normalised grey image (up to float rounding)
        ref = tr.normalise_grey(te_u8[:100]).reshape(100, 784)
        if np.abs(emb_te[:100] - ref).max() > 1e-5:
            raise RuntimeError("pixel graph does not reproduce the normalised grey image")
        acc_w, acc_1 = tr.knn_accuracy(emb_tr, tr_y, emb_te, te_y)
        raw_tr = tr_u8.reshape(-1, 784).astype(np.float32) / np.float32(255)
        raw_te = te_u8.reshape(-1, 784).astype(np.float32) / np.float32(255)
        raw_w, raw_1 = tr.knn_accuracy(raw_tr, tr_y, raw_te, te_y)
        probe = tr.linear_probe(emb_tr, tr_y, emb_te, te_y) if args.probe else None
        secs = time.time() - t0
        print("test: weighted %d-NN %.4f, 1-NN %.4f (contract input); raw pixel/255: "
              "%.4f, %.4f; linear probe %s (%.0f s)"
              % (tr.KNN_K, acc_w, acc_1, raw_w, raw_1,
                 "%.4f" % probe if probe is not None else "not run", secs))
        metrics = {
            "protocol": ("Fashion-MNIST test split (10,000) as queries, train split "
                         "(60,000) as kNN memory; cosine on L2-normalised embeddings of "
                         "contract-preprocessed inputs, graph evaluated by "
                         "tests/reference_models/npy_onnx_eval.py (METRICS.md)"),
            "weighted_knn20_accuracy": round(acc_w, 4),
            "knn1_accuracy": round(acc_1, 4),
            "knn": {"k": tr.KNN_K, "temperature": tr.KNN_T,
                    "vote": "sum exp(s/T) per class, top-1"},
            "linear_probe_accuracy": round(probe, 4) if probe is not None else None,
            "linear_probe_method": tr.LINEAR_PROBE_METHOD if probe is not None else
            "not run (pass --probe)",
            "raw_pixels_without_normalisation": {
                "note": "the same kNN on plain pixel/255 (no mean/std), for reference",
                "weighted_knn20_accuracy": round(raw_w, 4),
                "knn1_accuracy": round(raw_1, 4),
            },
            "seconds": round(secs, 1),
        }

    meta = {
        "name": NAME,
        "file": os.path.basename(onnx_path),
        "file_bytes": os.path.getsize(onnx_path),
        "file_sha256": tr.sha256_file(onnx_path),
        "kind": "raw-pixel baseline (an ONNX graph with no weights; nothing is trained)",
        "embedding_dim": 784,
        "parameters": 0,
        "architecture": ("ReduceMean over the channel axis (RGB -> grey), then Flatten: "
                         "the embedding is the 784 normalised grey pixels"),
        "onnx": {"opset": tr.OPSET, "ops": ["Flatten", "ReduceMean"],
                 "input": "input [N,3,28,28] float32", "output": "embedding [N,784] float32",
                 "builder": "onnx.helper (python3-onnx %s)" % onnx.__version__},
        "training": {
            "command": " ".join(["/usr/bin/python3", "tools/make_pixel_baseline.py"]
                                + sys.argv[1:]),
            "trained": False,
            "note": "no training: the graph is fixed",
        },
        "test_metrics": metrics,
        "preprocessing": contract,
        "preprocessing_note": ("same contract as the trained reference models; with cosine "
                               "similarity the std only rescales (no effect) while the mean "
                               "shift changes the angles a little: see "
                               "test_metrics.raw_pixels_without_normalisation"),
        "classes": tr.CLASSES,
        "license": tr.MODEL_LICENSE.split(" (")[0],
        "dataset_license": tr.DATASET_LICENSE,
        "versions": {"onnx": onnx.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }
    tr.write_json(json_path, meta)
    print("wrote %s" % tr.rel(json_path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
