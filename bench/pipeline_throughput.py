#!/usr/bin/python3
"""End-to-end embedding throughput: embeval vs a Python pipeline.

    /usr/bin/python3 bench/pipeline_throughput.py --embeval BUILD/embeval
        [--images DIR] [--n 3000] [--models mobilenet_v3_small,resnet50]
        [--threads 2] [--batch 32] [--limit N] [--model-dir DIR] [--no-fast]

Both sides read the same folder of JPEGs (bench/pipeline_throughput_images.py
makes it from the photos Debian ships: mixed sizes, 64 to 2400 pixels on the
shorter side), decode, preprocess per the model card (torchvision recipe) and
run the model, with the same number of threads:

  embeval   `embeval embed --no-cache --threads T --workers T` (T decode
            threads while the engine runs batches on T threads), exact mode
            and fast mode (JPEG shrink-on-load);
  Python    torchvision.datasets.ImageFolder (PIL loader) + the card's
            transforms (Resize, CenterCrop, ToTensor, Normalize) in a
            DataLoader with T worker processes, torch 1.13 inference with
            torch.set_num_threads(T), batch B, torch.no_grad().

Wall time covers everything from process start to the last embedding
(embeval: the whole CLI run; Python: first batch request to last output,
after the model is built). Models are the exporter's random-weight
architectures: throughput does not depend on the weights. Prints a table;
asserts nothing (timings on shared machines are noisy: compare the ratio).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def ensure_images(d, n):
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "pipeline_throughput_images.py"), "--out", d, "--n", str(n)],
                   check=True)


def ensure_models(model_dir, names):
    os.makedirs(model_dir, exist_ok=True)
    missing = [m for m in names if not os.path.exists(os.path.join(model_dir, m + ".onnx"))]
    if missing:
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "export_models.py"), "--out", model_dir,
                        "--opsets", "17", "--plain-names", "--models", ",".join(missing)], check=True)
    for m in names:
        tmp = os.path.join(model_dir, "%s.json.tmp.%d" % (m, os.getpid()))
        shutil.copy(os.path.join(ROOT, "models", m + ".json"), tmp)
        os.replace(tmp, os.path.join(model_dir, m + ".json"))


def subset_folder(images, limit, work):
    """A folder with the first `limit` images (symlinks), stratified by class order."""
    if not limit:
        return images
    out = os.path.join(work, "subset")
    classes = sorted(c for c in os.listdir(images) if os.path.isdir(os.path.join(images, c)))
    files = {c: sorted(os.listdir(os.path.join(images, c))) for c in classes}
    k = 0
    while k < limit:
        for c in classes:
            i = k // len(classes)
            if k < limit and i < len(files[c]):
                os.makedirs(os.path.join(out, c), exist_ok=True)
                os.symlink(os.path.join(images, c, files[c][i]), os.path.join(out, c, files[c][i]))
            k += 1
    return out


def run_embeval(a, card, images, mode, work):
    out = os.path.join(work, "e.npy")
    cmd = [a.embeval, "embed", "--model", card, "--dataset", images, "--out", out, "--no-cache", "--threads",
           str(a.threads), "--workers", str(a.threads), "--batch", str(a.batch), "--mode", mode, "--json", "-q"]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    t = time.time() - t0
    if p.returncode != 0:
        raise RuntimeError("embeval failed: " + p.stderr)
    return t, json.loads(p.stdout)


def run_python(a, name, card_path, images):
    import torch
    import torchvision.transforms as T
    from torchvision.datasets import ImageFolder
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import export_models
    with open(card_path) as f:
        p = json.load(f)["preprocess"]
    resize = p.get("resize") or int(p["crop"] / p["crop_pct"])
    interp = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC}[p["interpolation"]]
    tf = T.Compose([T.Resize(resize, interpolation=interp), T.CenterCrop(p["crop"]), T.ToTensor(),
                    T.Normalize(p["mean"], p["std"])])
    torch.set_num_threads(a.threads)
    model = export_models.build(name).eval()
    ds = ImageFolder(images, transform=tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, num_workers=a.threads, shuffle=False)
    n = 0
    t0 = time.time()
    with torch.no_grad():
        for x, _ in dl:
            model(x)
            n += x.shape[0]
    return time.time() - t0, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--embeval", required=True)
    ap.add_argument("--images", default=os.path.join(tempfile.gettempdir(), "embeval-bench-photos"))
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N images")
    ap.add_argument("--models", default="mobilenet_v3_small,resnet50")
    ap.add_argument("--model-dir", default=os.path.join(tempfile.gettempdir(), "embeval-bench-models"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--no-fast", action="store_true")
    a = ap.parse_args()
    names = a.models.split(",")
    ensure_images(a.images, a.n)
    ensure_models(a.model_dir, names)
    work = tempfile.mkdtemp(prefix="ev-bench-")
    images = subset_folder(a.images, a.limit, work)
    rows = []
    for name in names:
        card = os.path.join(a.model_dir, name + ".json")
        te, je = run_embeval(a, card, images, "exact", work)
        tf = jf = None
        if not a.no_fast:
            tf, jf = run_embeval(a, card, images, "fast", work)
        tp, n = run_python(a, name, card, images)
        rows.append((name, n, te, je, tf, jf, tp))
        print("%s: embeval exact %.1f s (model %.1f s, decode+preprocess %.1f s summed over %d workers), "
              "python %.1f s" % (name, te, je["infer_seconds"], je["decode_seconds"], a.threads, tp), flush=True)
    print()
    print("End-to-end throughput, %d threads, batch %d, %s" % (a.threads, a.batch, images))
    print("%-20s %7s %12s %12s %12s %12s %9s" % ("model", "images", "embeval", "embeval fast", "python", "embeval/py",
                                                 "fast/py"))
    for name, n, te, je, tf, jf, tp in rows:
        print("%-20s %7d %8.1f i/s %8s i/s %8.1f i/s %11.2fx %8sx" % (
            name, n, n / te, "%.1f" % (n / tf) if tf else "-", n / tp, tp / te, "%.2f" % (tp / tf) if tf else "-"))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
