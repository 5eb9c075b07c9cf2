#!/usr/bin/python3
"""Parity of embeval's decode + preprocessing with Pillow + torchvision.

For every real photo shipped by Debian packages (python3-sklearn,
python3-skimage) and every preprocessing (the model cards in models/*.json
when given with --cards, plus the three reference recipes below), run
embeval's preprocessing (tests/pipeline/prep_dump) in exact and fast mode
and torchvision's transforms on a PIL image, and compare the normalised
tensors. Exact mode must agree to a mean absolute difference <= 0.01 (it is
in fact bit-exact); fast mode is reported, not asserted.

The Python side loads images the way torchvision's pil_loader does
(Image.open(...).convert("RGB")), except that images with transparency are
first composited on white, as embeval flattens alpha on white.

Usage: parity_preprocess.py PREP_DUMP [--cards DIR] [--json OUT]
Exit 0 when every exact-mode comparison passes, 1 otherwise.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch  # noqa: F401  (torchvision needs it)
import torchvision.transforms as T
from PIL import Image

SK = "/usr/lib/python3/dist-packages/skimage/data/"
SL = "/usr/lib/python3/dist-packages/sklearn/datasets/images/"
PHOTOS = [SL + "china.jpg", SL + "flower.jpg", SK + "astronaut.png", SK + "chelsea.png", SK + "coffee.png",
          SK + "rocket.jpg", SK + "motorcycle_left.png", SK + "motorcycle_right.png", SK + "hubble_deep_field.jpg",
          SK + "retina.jpg", SK + "ihc.png", SK + "camera.png", SK + "horse.png", SK + "logo.png",
          SK + "green_palette.png", SK + "microaneurysms.png"]
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
CLIP = ([0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711])
RECIPES = {
    "torchvision-bilinear-256-224": dict(resize=256, interpolation="bilinear", crop=224, mean=IMAGENET[0], std=IMAGENET[1]),
    "torchvision-bicubic-256-224": dict(resize=256, interpolation="bicubic", crop=224, mean=IMAGENET[0], std=IMAGENET[1]),
    "open_clip-bicubic-224-224": dict(resize=224, interpolation="bicubic", crop=224, mean=CLIP[0], std=CLIP[1]),
}
INTERP = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC,
          "nearest": T.InterpolationMode.NEAREST, "lanczos": T.InterpolationMode.LANCZOS,
          "box": T.InterpolationMode.BOX, "hamming": T.InterpolationMode.HAMMING}


def load_pil(path):
    im = Image.open(path)
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    return im.convert("RGB")


def card_recipe(path):
    """The torchvision transforms a card's preprocessing stands for."""
    with open(path) as f:
        card = json.load(f)
    p = card["preprocess"]
    crop = p.get("crop")
    if isinstance(crop, list):
        crop = tuple(crop)
    resize = p.get("resize")
    if resize is None and "crop_pct" in p:
        c = crop if isinstance(crop, int) else crop[0]
        resize = int(c / p["crop_pct"])
    if isinstance(resize, list):
        resize = tuple(resize)
    return dict(resize=resize, interpolation=p.get("interpolation", "bilinear"), crop=crop,
                mean=p.get("mean", [0, 0, 0]), std=p.get("std", [1, 1, 1]),
                range=p.get("range", "0-1"), order=p.get("channel_order", "RGB"))


def torchvision_tensor(img, r):
    steps = []
    if r["resize"] is not None:
        steps.append(T.Resize(r["resize"], interpolation=INTERP[r["interpolation"]]))
    if r["crop"]:
        steps.append(T.CenterCrop(r["crop"]))
    steps.append(T.ToTensor())
    if r.get("range", "0-1") == "0-255":
        steps.append(T.Lambda(lambda t: t * 255.0))
    steps.append(T.Normalize(r["mean"], r["std"]))
    t = T.Compose(steps)(img)
    if r.get("order", "RGB") == "BGR":
        t = t.flip(0)
    return t.numpy()


def prep_args(r):
    res = r["resize"]
    if res is None:
        rs = "n"
    elif isinstance(res, tuple):
        rs = "e%dx%d" % res
    else:
        rs = "s%d" % res
    crop = r["crop"]
    cs = "0" if not crop else ("%dx%d" % crop if isinstance(crop, tuple) else str(crop))
    return [rs, r["interpolation"], cs, ",".join(repr(float(x)) for x in r["mean"]),
            ",".join(repr(float(x)) for x in r["std"]), "255" if r.get("range") == "0-255" else "1",
            r.get("order", "RGB")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("prep_dump")
    ap.add_argument("--cards")
    ap.add_argument("--json")
    ap.add_argument("--tolerance", type=float, default=0.01)
    a = ap.parse_args()
    recipes = {}
    if a.cards:
        for c in sorted(glob.glob(os.path.join(a.cards, "*.json"))):
            with open(c, encoding="utf-8") as f:
                if "embeval_card" not in json.load(f):  # training logs, export manifest
                    continue
            recipes["card:" + os.path.basename(c)] = card_recipe(c)
    seen = {tuple(prep_args(r)) for r in recipes.values()}
    for name, r in RECIPES.items():  # the reference recipes not already covered by a card
        if tuple(prep_args(r)) not in seen:
            recipes[name] = r
    photos = [p for p in PHOTOS if os.path.exists(p)]
    if len(photos) < 8:
        print("parity: fewer than 8 Debian-shipped photos found (install python3-skimage, python3-sklearn)")
        return 1
    failures = 0
    rows = []
    with tempfile.TemporaryDirectory() as td:
        for name, r in recipes.items():
            for mode in ("exact", "fast"):  # one prep_dump run per recipe and mode
                cmd = [a.prep_dump, "prep", mode] + prep_args(r) + [os.path.join(td, mode + "-")] + photos
                p = subprocess.run(cmd, capture_output=True, text=True)
                if p.returncode != 0:
                    print("FAIL %s %s: prep_dump: %s" % (name, mode, p.stderr.strip()))
                    failures += 1
            for k, photo in enumerate(photos):
                ref = torchvision_tensor(load_pil(photo), r)
                row = {"recipe": name, "photo": os.path.basename(photo)}
                for mode in ("exact", "fast"):
                    out = os.path.join(td, "%s-%d.f32" % (mode, k))
                    if not os.path.exists(out):
                        failures += 1
                        continue
                    ours = np.fromfile(out, np.float32)
                    os.unlink(out)
                    if ours.size != ref.size:
                        print("FAIL %s %s %s: %d values, torchvision %d" % (name, photo, mode, ours.size, ref.size))
                        failures += 1
                        continue
                    d = np.abs(ours.reshape(ref.shape) - ref)
                    row[mode + "_mean_abs"] = float(d.mean())
                    row[mode + "_max_abs"] = float(d.max())
                    if mode == "exact" and not d.mean() <= a.tolerance:
                        print("FAIL %s %s exact: mean abs diff %.3g > %.3g" % (name, photo, d.mean(), a.tolerance))
                        failures += 1
                rows.append(row)
    print("%-34s %-24s %12s %12s %12s" % ("preprocessing", "photo", "exact mean", "exact max", "fast mean"))
    for row in rows:
        print("%-34s %-24s %12.3g %12.3g %12.3g" % (row["recipe"], row["photo"], row.get("exact_mean_abs", -1),
                                                     row.get("exact_max_abs", -1), row.get("fast_mean_abs", -1)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    print("parity: %d comparisons, %d failures" % (len(rows), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
