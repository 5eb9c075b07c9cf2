#!/usr/bin/python3
"""Train embeval's reference embedding models on the Fashion-MNIST train split.

Run with Debian's Python (python3-torch 1.13, python3-onnx, python3-numpy,
python3-sklearn), not the `python3` on PATH:

    /usr/bin/python3 tools/train_reference.py            # both models
    /usr/bin/python3 tools/train_reference.py --models fmnist_cnn

For every model this writes
    models/<name>.onnx          the embedding network (classifier head removed)
    models/<name>.train.json    command, seed, optimiser, per-epoch log, test metrics,
                                preprocessing contract, licenses, versions
    tests/reference_models/fixtures/<name>.out.npy
                                torch's embeddings of the 64 fixture inputs
and once
    tests/reference_models/fixtures/input64.npy   (64 test images, preprocessed)

Only the TRAIN split is used for training. The TEST split is used after training
to measure the numbers recorded in the .train.json (kNN memory = train split).

Input contract of every model (what embeval's preprocessing must produce):
    input "input", float32 [N,3,28,28], RGB (a grey image replicated to 3 channels),
    pixel/255 in [0,1], then (x - 0.2860) / 0.3530 on every channel.
    The network first averages the 3 channels into one (ReduceMean), so a grey image
    replicated to RGB gives back the grey channel.
Output "embedding", float32 [N,D]; compare with cosine similarity.

Deterministic: fixed seeds, torch.use_deterministic_algorithms(True), 2 threads.
Re-running on the same machine and software gives the same weights; other CPUs may
differ in the last bits of float arithmetic.
"""

import argparse
import gzip
import hashlib
import json
import os
import platform
import struct
import sys
import time

import numpy as np

DATA_DIR = "/usr/share/datasets/fashion-mnist"
# Preprocessing contract: Fashion-MNIST train statistics of pixel/255, rounded to
# 4 decimals (the exact values are computed at run time and recorded).
MEAN = 0.2860
STD = 0.3530
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
KNN_K = 20
KNN_T = 0.07
FIXTURE_COUNT = 64
OPSET = 17
DATASET_LICENSE = {
    "name": "Fashion-MNIST",
    "license": "MIT (Expat)",
    "copyright": "2017, Zalando SE",
    "source": "https://github.com/zalandoresearch/fashion-mnist",
    "verified_from": "/usr/share/doc/dataset-fashion-mnist/copyright",
    "debian_package": "dataset-fashion-mnist",
}
MODEL_LICENSE = ("same as the embeval project (weights trained by this project "
                 "from Fashion-MNIST, which is MIT-licensed)")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------
# Data (torch-free; also used by tools/make_pixel_baseline.py)
# ----------------------------------------------------------------------------

def read_idx_gz(path, max_bytes=200 << 20):
    """Parse a gzip'd IDX file (unsigned byte data only) into a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError("%s: larger than %d bytes" % (path, max_bytes))
    if len(data) < 4:
        raise ValueError("%s: too short for an IDX header" % path)
    if data[0] != 0 or data[1] != 0:
        raise ValueError("%s: bad IDX magic" % path)
    if data[2] != 0x08:
        raise ValueError("%s: IDX type 0x%02x is not unsigned byte" % (path, data[2]))
    ndim = data[3]
    if ndim < 1 or ndim > 4 or len(data) < 4 + 4 * ndim:
        raise ValueError("%s: bad IDX rank %d" % (path, ndim))
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    count = 1
    for d in dims:
        count *= d
    body = data[4 + 4 * ndim:]
    if len(body) != count:
        raise ValueError("%s: %d data bytes, header says %d" % (path, len(body), count))
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def load_split(split, data_dir=DATA_DIR):
    """split: 'train' or 't10k'. Returns (uint8 [N,28,28], int64 [N])."""
    images = read_idx_gz(os.path.join(data_dir, "%s-images-idx3-ubyte.gz" % split))
    labels = read_idx_gz(os.path.join(data_dir, "%s-labels-idx1-ubyte.gz" % split))
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 \
            or labels.shape[0] != images.shape[0]:
        raise ValueError("unexpected Fashion-MNIST shapes %s %s" % (images.shape, labels.shape))
    if labels.max() > 9:
        raise ValueError("label out of range")
    return images, labels.astype(np.int64)


def data_files(data_dir=DATA_DIR):
    out = {}
    for split in ("train", "t10k"):
        for kind in ("images-idx3", "labels-idx1"):
            name = "%s-%s-ubyte.gz" % (split, kind)
            with open(os.path.join(data_dir, name), "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def normalise_grey(u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28], the contract's arithmetic in float32."""
    x = u8.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return x[:, None, :, :]


def preprocess(u8):
    """uint8 [N,28,28] -> float32 [N,3,28,28]: the model input contract."""
    return np.ascontiguousarray(np.repeat(normalise_grey(u8), 3, axis=1))


def exact_stats(train_u8):
    x = train_u8.astype(np.float64) / 255.0
    return float(x.mean()), float(x.std())


def preprocessing_contract(exact_mean, exact_std):
    return {
        "input_name": "input",
        "input_shape": ["N", 3, 28, 28],
        "dtype": "float32",
        "layout": "NCHW",
        "color": "RGB (a grey image is replicated to the 3 channels)",
        "resize": "none for Fashion-MNIST (28x28); other images: direct resize to 28x28",
        "scale": "pixel / 255 -> [0, 1]",
        "mean": [MEAN, MEAN, MEAN],
        "std": [STD, STD, STD],
        "formula": "x = (pixel / 255 - mean) / std, per channel",
        "stats_note": ("mean/std are the Fashion-MNIST train-split statistics of pixel/255 "
                       "rounded to 4 decimals; exact values: mean %.6f, std %.6f "
                       "(population std over all 47,040,000 train pixels)"
                       % (exact_mean, exact_std)),
        "exact_train_mean": round(exact_mean, 8),
        "exact_train_std": round(exact_std, 8),
        "in_model": "the graph first averages the 3 channels into one (ReduceMean over axis 1)",
        "output_name": "embedding",
        "similarity": "cosine (L2-normalise the embedding)",
    }


# ----------------------------------------------------------------------------
# Metrics (numpy; METRICS.md definitions)
# ----------------------------------------------------------------------------

def l2n(x):
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return x / n


def _similarity_fn(mem):
    """Return f(q) = q @ mem.T (float32). Debian's numpy uses the reference BLAS
    (about 1 GFLOP/s here), so when torch is importable the product is computed as a
    1x1 convolution, which runs on oneDNN (about 100x faster)."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return lambda q: q @ mem.T
    w = torch.from_numpy(np.ascontiguousarray(mem)).reshape(mem.shape[0], mem.shape[1], 1, 1)

    def f(q):
        x = torch.from_numpy(np.ascontiguousarray(q.T)).reshape(1, q.shape[1], 1, q.shape[0])
        with torch.no_grad():
            y = F.conv2d(x, w)                       # [1, M, 1, q]
        return np.ascontiguousarray(y.reshape(mem.shape[0], q.shape[0]).numpy().T)
    return f


def _top_candidates(s, m):
    """Indices of (at least) the m largest entries of each row, unordered."""
    try:
        import torch
        return torch.topk(torch.from_numpy(s), m, dim=1, sorted=False).indices.numpy()
    except ImportError:
        return np.argpartition(-s, m, axis=1)[:, :m]


def knn_accuracy(mem, mem_y, qry, qry_y, k=KNN_K, t=KNN_T, chunk=1000, nclass=10):
    """Weighted k-NN (DINO: score = sum exp(s/T)) and 1-NN top-1 accuracy.
    Cosine on L2-normalised embeddings; rank by similarity descending, ties by
    lower memory index."""
    mem = l2n(mem)
    qry = l2n(qry)
    sim = _similarity_fn(mem)
    correct_w = 0
    correct_1 = 0
    for a in range(0, qry.shape[0], chunk):
        s = sim(qry[a:a + chunk])                             # [q, M] float32
        part = _top_candidates(s, k + 8)
        # exact top-k with the tie rule: sort candidates by (-s, index)
        rows = np.arange(s.shape[0])[:, None]
        cand_s = s[rows, part]
        order = np.lexsort((part, -cand_s), axis=1)
        top = np.take_along_axis(part, order, axis=1)[:, :k]
        # The candidate set may miss a lower-index item tied with the k-th score:
        # rows where the k-th score occurs more often than inside the top k are
        # re-ranked exactly.
        kth = s[rows[:, 0], top[:, -1]]
        ties = (s == kth[:, None]).sum(axis=1) > (s[rows, top] == kth[:, None]).sum(axis=1)
        for r in np.nonzero(ties)[0]:
            full = np.lexsort((np.arange(s.shape[1]), -s[r]))
            top[r] = full[:k]
        top_s = s[rows, top]
        top_y = mem_y[top]
        w = np.exp(top_s.astype(np.float64) / t)
        score = np.zeros((s.shape[0], nclass))
        for c in range(nclass):
            score[:, c] = (w * (top_y == c)).sum(axis=1)
        pred_w = score.argmax(axis=1)
        pred_1 = mem_y[s.argmax(axis=1)]  # argmax: first (lowest-index) maximum
        correct_w += int((pred_w == qry_y[a:a + chunk]).sum())
        correct_1 += int((pred_1 == qry_y[a:a + chunk]).sum())
    n = qry.shape[0]
    return correct_w / n, correct_1 / n


def linear_probe(train_x, train_y, test_x, test_y, c=1.0):
    """sklearn multinomial logistic regression on L2-normalised embeddings."""
    from sklearn.linear_model import LogisticRegression
    clf = LogisticRegression(C=c, max_iter=300, tol=1e-4)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(l2n(train_x), train_y)
    return float((clf.predict(l2n(test_x)) == test_y).mean())


LINEAR_PROBE_METHOD = ("sklearn 1.2 LogisticRegression(multinomial, lbfgs, C=1.0, "
                       "max_iter=300) on L2-normalised embeddings, fit on the full train "
                       "split, top-1 on test (not embeval's C-selected liblinear probe)")


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def rel(path):
    return os.path.relpath(path, REPO)


# ----------------------------------------------------------------------------
# Models (torch)
# ----------------------------------------------------------------------------

def build_specs():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class ChannelMean(nn.Module):
        """RGB [N,3,H,W] -> grey [N,1,H,W] (exported as ReduceMean axes=[1])."""
        def forward(self, x):
            return x.mean(dim=1, keepdim=True)

    def conv_bn(cin, cout, stride=1):
        return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    class LinearHead(nn.Module):
        def __init__(self, dim, ncls):
            super().__init__()
            self.fc = nn.Linear(dim, ncls)

        def forward(self, e):
            return self.fc(e)

    class CosineHead(nn.Module):
        """NormFace: logits = s * cos(e, w_c), s fixed."""
        def __init__(self, dim, ncls, scale):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(ncls, dim) * 0.01)
            self.scale = scale

        def forward(self, e):
            return self.scale * F.linear(F.normalize(e, dim=1), F.normalize(self.weight, dim=1))

    def cnn_body():
        return nn.Sequential(
            ChannelMean(),
            *conv_bn(1, 16), nn.MaxPool2d(2),          # 28 -> 14
            *conv_bn(16, 32), nn.MaxPool2d(2),         # 14 -> 7
            *conv_bn(32, 64),
            *conv_bn(64, 128),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())     # 128-d

    def metric_body():
        return nn.Sequential(
            ChannelMean(),
            *conv_bn(1, 16),                           # 28
            *conv_bn(16, 32, stride=2),                # 14
            *conv_bn(32, 64, stride=2),                # 7
            *conv_bn(64, 128),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(128, 64))                        # 64-d

    return {
        "fmnist_cnn": {
            "body": cnn_body,
            "head": lambda: LinearHead(128, 10),
            "dim": 128,
            "epochs": 4,
            "lr": 3e-3,
            "architecture": ("ReduceMean(RGB->grey); conv3x3(1->16)+BN+ReLU, maxpool2; "
                             "conv3x3(16->32)+BN+ReLU, maxpool2; conv3x3(32->64)+BN+ReLU; "
                             "conv3x3(64->128)+BN+ReLU; global average pool -> 128-d "
                             "embedding. BN folded into Conv in the ONNX file."),
            "objective": ("softmax cross-entropy through a linear classifier head "
                          "(Linear 128->10), removed after training: the ONNX output is "
                          "the 128-d pooled feature before the head"),
        },
        "fmnist_metric": {
            "body": metric_body,
            "head": lambda: CosineHead(64, 10, 16.0),
            "dim": 64,
            "epochs": 4,
            "lr": 3e-3,
            "architecture": ("ReduceMean(RGB->grey); conv3x3(1->16)+BN+ReLU; "
                             "conv3x3/s2(16->32)+BN+ReLU; conv3x3/s2(32->64)+BN+ReLU; "
                             "conv3x3(64->128)+BN+ReLU; global average pool; Linear 128->64 "
                             "-> 64-d embedding. BN folded into Conv in the ONNX file."),
            "objective": ("NormFace (normalised softmax / cosine classifier, Wang et al. "
                          "2017): logits = 16 * cos(embedding, class weight), "
                          "cross-entropy; the cosine head is removed after training"),
        },
    }


def set_determinism(seed):
    import torch
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)


def embed_all(body, x1, batch=1000):
    """Embeddings of normalised grey [N,1,28,28] fed through the 3-channel contract."""
    import torch
    out = []
    with torch.no_grad():
        for a in range(0, x1.shape[0], batch):
            xb = torch.from_numpy(x1[a:a + batch]).expand(-1, 3, -1, -1)
            out.append(body(xb).numpy())
    return np.concatenate(out, axis=0)


def head_accuracy(head, emb, y):
    import torch
    with torch.no_grad():
        logits = head(torch.from_numpy(emb)).numpy()
    return float((logits.argmax(axis=1) == y).mean())


def export_onnx(body, path, dim, meta):
    import torch
    import onnx
    dummy = torch.from_numpy(np.zeros((2, 3, 28, 28), dtype=np.float32))
    tmp = path + ".tmp"
    torch.onnx.export(body, dummy, tmp, opset_version=OPSET,
                      input_names=["input"], output_names=["embedding"],
                      dynamic_axes={"input": {0: "N"}, "embedding": {0: "N"}},
                      do_constant_folding=True,
                      training=torch.onnx.TrainingMode.EVAL)
    m = onnx.load(tmp)
    ops = sorted({n.op_type for n in m.graph.node})
    if "BatchNormalization" in ops:
        raise RuntimeError("BatchNormalization was not folded: %s" % ops)
    m.doc_string = ("embeval reference model: %s-d Fashion-MNIST embedding, trained by "
                    "tools/train_reference.py; see %s" % (dim, meta["train_json"]))
    for k, v in meta["props"].items():
        p = m.metadata_props.add()
        p.key = k
        p.value = v
    onnx.checker.check_model(m)
    onnx.save(m, tmp)
    os.replace(tmp, path)
    return ops


def train_one(name, spec, data, args):
    import torch
    import torch.nn.functional as F

    seed = args.seed
    set_determinism(seed)
    body = spec["body"]().to(memory_format=torch.channels_last)  # faster oneDNN path
    head = spec["head"]()
    params = list(body.parameters()) + list(head.parameters())
    n_params_body = sum(p.numel() for p in body.parameters())
    epochs = args.epochs if args.epochs else spec["epochs"]
    xtr1, ytr = data["train_x1"], data["train_y"]
    if args.train_limit:
        xtr1, ytr = xtr1[:args.train_limit], ytr[:args.train_limit]
    n = xtr1.shape[0]
    bs = args.batch
    steps_per_epoch = (n + bs - 1) // bs
    opt = torch.optim.AdamW(params, lr=spec["lr"], weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=spec["lr"], epochs=epochs, steps_per_epoch=steps_per_epoch,
        pct_start=0.2)
    rng = np.random.default_rng(seed)
    log = []
    print("[%s] %d parameters (embedding net), %d epochs x %d steps, batch %d"
          % (name, n_params_body, epochs, steps_per_epoch, bs), flush=True)
    t_train = time.time()
    cpu_train = time.process_time()
    load_start = os.getloadavg()[0]
    for ep in range(epochs):
        body.train()
        head.train()
        t0 = time.time()
        perm = rng.permutation(n)
        flips = rng.random(n) < 0.5
        loss_sum = 0.0
        correct = 0
        for s in range(steps_per_epoch):
            idx = perm[s * bs:(s + 1) * bs]
            xb = xtr1[idx].copy()
            f = flips[idx]
            xb[f] = xb[f][:, :, :, ::-1]   # random horizontal flip
            xt = torch.from_numpy(xb).expand(-1, 3, -1, -1)
            yt = torch.from_numpy(ytr[idx])
            logits = head(body(xt))
            loss = F.cross_entropy(logits, yt)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss) * len(idx)
            correct += int((logits.argmax(dim=1) == yt).sum())
            if args.verbose and s % 100 == 0:
                print("  step %d/%d loss %.4f" % (s, steps_per_epoch, float(loss)), flush=True)
        entry = {"epoch": ep + 1, "train_loss": round(loss_sum / n, 5),
                 "train_accuracy": round(correct / n, 5),
                 "lr_end": float("%.6g" % sched.get_last_lr()[0]),
                 "seconds": round(time.time() - t0, 1)}
        log.append(entry)
        print("[%s] epoch %d: loss %.4f acc %.4f (%.0f s)" % (
            name, ep + 1, entry["train_loss"], entry["train_accuracy"], entry["seconds"]),
            flush=True)
    train_seconds = time.time() - t_train
    train_cpu = time.process_time() - cpu_train
    load_end = os.getloadavg()[0]

    body.eval()
    head.eval()
    t0 = time.time()
    emb_tr = embed_all(body, data["train_x1"])
    emb_te = embed_all(body, data["test_x1"])
    acc_w, acc_1 = knn_accuracy(emb_tr, data["train_y"], emb_te, data["test_y"])
    head_acc = head_accuracy(head, emb_te, data["test_y"])
    probe = linear_probe(emb_tr, data["train_y"], emb_te, data["test_y"]) \
        if not args.no_probe else None
    eval_seconds = time.time() - t0
    print("[%s] test: weighted %d-NN %.4f, 1-NN %.4f, head %.4f, linear probe %s (%.0f s)"
          % (name, KNN_K, acc_w, acc_1, head_acc,
             "%.4f" % probe if probe is not None else "-", eval_seconds), flush=True)

    # fixture: torch embeddings of the 64 contract-preprocessed test images
    body = body.to(memory_format=torch.contiguous_format)   # as exported
    fix_in = data["fixture_input"]
    with torch.no_grad():
        fix_out = body(torch.from_numpy(fix_in)).numpy().astype(np.float32)

    onnx_path = os.path.join(args.out, name + ".onnx")
    json_path = os.path.join(args.out, name + ".train.json")
    props = {
        "embeval.preprocess": json.dumps({"mean": [MEAN] * 3, "std": [STD] * 3,
                                          "scale": "0-1", "color": "RGB", "size": [28, 28],
                                          "layout": "NCHW"}),
        "embeval.license": MODEL_LICENSE,
        "embeval.dataset": "Fashion-MNIST train split (MIT, Zalando SE)",
        "embeval.training": "tools/train_reference.py seed %d" % seed,
    }
    # doc_string names the metadata as it sits in the repository, whatever --out is,
    # so that two runs with the same seed give byte-identical files
    ops = export_onnx(body, onnx_path, spec["dim"],
                      {"train_json": "models/%s.train.json" % name, "props": props})
    fix_dir = args.fixture_dir
    os.makedirs(fix_dir, exist_ok=True)
    np.save(os.path.join(fix_dir, name + ".out.npy"), fix_out)

    # check the exported file against torch on the fixture with our numpy evaluator
    onnx_check = None
    try:
        sys.path.insert(0, os.path.join(REPO, "tests", "reference_models"))
        import npy_onnx_eval  # noqa: E402  (tests/reference_models/npy_onnx_eval.py)
        got = npy_onnx_eval.run_file(onnx_path, fix_in)
        cos = float((l2n(got) * l2n(fix_out)).sum(axis=1).min())
        onnx_check = {"numpy_evaluator_min_cosine_vs_torch": round(cos, 9),
                      "max_abs_diff": float("%.3g" % np.abs(got - fix_out).max())}
        print("[%s] ONNX (numpy evaluator) vs torch on fixture: min cosine %.9f"
              % (name, cos), flush=True)
    except ImportError:
        pass

    meta = {
        "name": name,
        "file": os.path.basename(onnx_path),
        "file_bytes": os.path.getsize(onnx_path),
        "file_sha256": sha256_file(onnx_path),
        "kind": "trained reference embedding model",
        "embedding_dim": spec["dim"],
        "parameters": int(n_params_body),
        "architecture": spec["architecture"],
        "onnx": {"opset": OPSET, "ops": ops, "input": "input [N,3,28,28] float32",
                 "output": "embedding [N,%d] float32" % spec["dim"],
                 "exporter": "torch.onnx.export (torch %s), do_constant_folding, eval mode"
                             % torch.__version__},
        "objective": spec["objective"],
        "training": {
            "command": " ".join(["/usr/bin/python3", "tools/train_reference.py"] + sys.argv[1:]),
            "data": "Fashion-MNIST train split only (%d images)" % n,
            "seed": seed,
            "deterministic": "torch.manual_seed, numpy default_rng(seed), "
                             "torch.use_deterministic_algorithms(True), 2 threads",
            "epochs": epochs,
            "batch_size": bs,
            "optimizer": "AdamW(lr=%g, betas=(0.9, 0.999), weight_decay=5e-4)" % spec["lr"],
            "lr_schedule": "OneCycleLR(max_lr=%g, pct_start=0.2, cosine anneal), per step"
                           % spec["lr"],
            "augmentation": "random horizontal flip (p=0.5)",
            "training_seconds": round(train_seconds, 1),
            "training_cpu_seconds": round(train_cpu, 1),
            "machine_load_average": {"start": round(load_start, 2), "end": round(load_end, 2),
                                     "note": "1-minute load average of the shared 2-core "
                                             "machine; wall time grows with it"},
            "evaluation_seconds": round(eval_seconds, 1),
            "threads": 2,
            "log": log,
        },
        "test_metrics": {
            "protocol": ("Fashion-MNIST test split (10,000) as queries, train split "
                         "(60,000) as kNN memory; cosine on L2-normalised embeddings of "
                         "contract-preprocessed inputs (METRICS.md)"),
            "weighted_knn20_accuracy": round(acc_w, 4),
            "knn1_accuracy": round(acc_1, 4),
            "knn": {"k": KNN_K, "temperature": KNN_T,
                    "vote": "sum exp(s/T) per class, top-1"},
            "softmax_head_accuracy": round(head_acc, 4),
            "linear_probe_accuracy": round(probe, 4) if probe is not None else None,
            "linear_probe_method": LINEAR_PROBE_METHOD,
        },
        "onnx_vs_torch": onnx_check,
        "preprocessing": data["contract"],
        "classes": CLASSES,
        "license": MODEL_LICENSE,
        "dataset_license": DATASET_LICENSE,
        "data_files_sha256": data["sha256"],
        "fixture": {"input": rel(os.path.join(fix_dir, "input64.npy")),
                    "output": rel(os.path.join(fix_dir, name + ".out.npy")),
                    "images": "Fashion-MNIST test split indices 0..%d" % (FIXTURE_COUNT - 1)},
        "versions": {"torch": torch.__version__, "numpy": np.__version__,
                     "onnx": __import__("onnx").__version__,
                     "sklearn": __import__("sklearn").__version__,
                     "python": platform.python_version()},
        "host": {"machine": platform.machine(), "cpu_count": os.cpu_count()},
    }
    write_json(json_path, meta)
    print("[%s] wrote %s (%d bytes), %s" % (name, rel(onnx_path), meta["file_bytes"],
                                            rel(json_path)), flush=True)
    return meta


def load_data(fixture_dir):
    t0 = time.time()
    tr_u8, tr_y = load_split("train")
    te_u8, te_y = load_split("t10k")
    m, s = exact_stats(tr_u8)
    fix_in = preprocess(te_u8[:FIXTURE_COUNT])
    os.makedirs(fixture_dir, exist_ok=True)
    np.save(os.path.join(fixture_dir, "input64.npy"), fix_in)
    np.save(os.path.join(fixture_dir, "labels64.npy"), te_y[:FIXTURE_COUNT].astype(np.int64))
    print("data: train %s test %s, exact train mean %.6f std %.6f (%.1f s)"
          % (tr_u8.shape, te_u8.shape, m, s, time.time() - t0), flush=True)
    return {"train_x1": normalise_grey(tr_u8), "train_y": tr_y,
            "test_x1": normalise_grey(te_u8), "test_y": te_y,
            "fixture_input": fix_in, "contract": preprocessing_contract(m, s),
            "sha256": data_files()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="fmnist_cnn,fmnist_metric",
                    help="comma-separated subset of: fmnist_cnn, fmnist_metric")
    ap.add_argument("--out", default=os.path.join(REPO, "models"))
    ap.add_argument("--fixture-dir",
                    default=os.path.join(REPO, "tests", "reference_models", "fixtures"))
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--epochs", type=int, default=0, help="override per-model default")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--train-limit", type=int, default=0,
                    help="train on the first N train images only (for quick trials)")
    ap.add_argument("--no-probe", action="store_true", help="skip the linear probe")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    import torch
    torch.set_num_interop_threads(1)   # once, before any parallel work
    specs = build_specs()
    names = [x for x in args.models.split(",") if x]
    for nm in names:
        if nm not in specs:
            ap.error("unknown model %r" % nm)
    os.makedirs(args.out, exist_ok=True)
    data = load_data(args.fixture_dir)
    for nm in names:
        train_one(nm, specs[nm], data, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
