#!/usr/bin/python3
"""Make the image folder bench/pipeline_throughput.py reads: JPEGs of mixed
sizes cut and rescaled from the real photos Debian ships (python3-sklearn,
python3-skimage), one class per source photo.

    /usr/bin/python3 bench/pipeline_throughput_images.py --out DIR [--n 3000] [--seed 0]

Sizes: a third small (shorter side 64-400), a third medium (400-1000), a third
large (1000-2400); each image is a random crop (40-100% of each side) of a
photo, resized with Pillow's Lanczos filter and saved as baseline JPEG,
quality 85-95, 4:2:0. Deterministic for a given seed. Idempotent: an existing
DIR with a matching stamp file is left alone.
"""
import argparse
import json
import os
import random
import sys

from PIL import Image

SK = "/usr/lib/python3/dist-packages/skimage/data/"
SL = "/usr/lib/python3/dist-packages/sklearn/datasets/images/"
SOURCES = [SL + "china.jpg", SL + "flower.jpg", SK + "astronaut.png", SK + "chelsea.png", SK + "coffee.png",
           SK + "rocket.jpg", SK + "motorcycle_left.png", SK + "hubble_deep_field.jpg", SK + "retina.jpg",
           SK + "ihc.png"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    stamp = os.path.join(a.out, ".stamp.json")
    want = {"n": a.n, "seed": a.seed, "version": 1}
    if os.path.exists(stamp):
        with open(stamp) as f:
            if json.load(f) == want:
                print("images: %s is up to date (%d images)" % (a.out, a.n))
                return 0
    srcs = [(os.path.splitext(os.path.basename(p))[0], Image.open(p).convert("RGB")) for p in SOURCES
            if os.path.exists(p)]
    if len(srcs) < 5:
        print("images: fewer than 5 Debian photos found (install python3-skimage, python3-sklearn)")
        return 1
    rng = random.Random(a.seed)
    for name, _ in srcs:
        os.makedirs(os.path.join(a.out, name), exist_ok=True)
    for i in range(a.n):
        name, im = srcs[i % len(srcs)]
        w, h = im.size
        cw, ch = int(w * rng.uniform(0.4, 1.0)), int(h * rng.uniform(0.4, 1.0))
        x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
        crop = im.crop((x0, y0, x0 + cw, y0 + ch))
        band = i % 3
        short = rng.randint(*[(64, 400), (400, 1000), (1000, 2400)][band])
        s = short / min(cw, ch)
        size = (max(1, round(cw * s)), max(1, round(ch * s)))
        out = crop.resize(size, Image.LANCZOS)
        out.save(os.path.join(a.out, name, "%05d.jpg" % i), quality=rng.randint(85, 95), subsampling=2)
    with open(stamp, "w") as f:
        json.dump(want, f)
    print("images: wrote %d JPEGs to %s" % (a.n, a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
