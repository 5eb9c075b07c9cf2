#!/usr/bin/python3
"""End-to-end tests of `embeval embed` and `embeval cache` (issue 5).

  embed_cli.py photos  --embeval BIN --model-dir DIR --work DIR
      An ImageFolder of real photos shipped by Debian (python3-sklearn,
      python3-skimage) plus every kind of bad file: bad files are skipped,
      counted and listed (and --strict fails on the first); an empty class
      warns; labels with commas/quotes/UTF-8 survive; each embedding equals
      (cosine >= 0.9999) the model run by `embeval infer` on the tensor
      torchvision makes from the same file; a second run is served entirely
      from the cache; a terminal gets a progress bar.
  embed_cli.py resume  ... [--limit N]
      kill -9 during `embeval embed` at random moments, several times, then
      re-run: everything committed before each kill is still there (cache
      hits), no entry is damaged (cache verify), and the result matches an
      uncached run.
  embed_cli.py fashion ... [--limit N] [--min-speedup X]
      Fashion-MNIST test split through mobilenet_v3_small; the second run,
      from the cache, is at least X times faster (process wall time) and
      bit-identical.

DIR (--model-dir) receives mobilenet_v3_small.onnx (exported by
tools/export_models.py if missing) and a copy of its card.
"""
import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SK = "/usr/lib/python3/dist-packages/skimage/data/"
SL = "/usr/lib/python3/dist-packages/sklearn/datasets/images/"
FAIL = []


def check(cond, what):
    if not cond:
        FAIL.append(what)
        print("FAIL:", what)
    return cond


def setup_model(model_dir, name="mobilenet_v3_small"):
    os.makedirs(model_dir, exist_ok=True)
    onnx = os.path.join(model_dir, name + ".onnx")
    if not os.path.exists(onnx):
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "export_models.py"), "--out", model_dir,
                        "--opsets", "17", "--plain-names", "--models", name], check=True)
    card = os.path.join(model_dir, name + ".json")
    with open(os.path.join(ROOT, "models", name + ".json"), "rb") as f:
        want = f.read()
    try:
        with open(card, "rb") as f:
            same = f.read() == want
    except OSError:
        same = False
    if not same:  # atomically: tests running in parallel read this card
        tmp = "%s.tmp.%d" % (card, os.getpid())
        with open(tmp, "wb") as f:
            f.write(want)
        os.replace(tmp, card)
    return card, onnx


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def torchvision_batch(card_path, paths):
    import torchvision.transforms as T
    from PIL import Image
    with open(card_path) as f:
        p = json.load(f)["preprocess"]
    interp = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC}[p["interpolation"]]
    tf = T.Compose([T.Resize(p["resize"], interpolation=interp), T.CenterCrop(p["crop"]), T.ToTensor(),
                    T.Normalize(p["mean"], p["std"])])
    out = []
    for path in paths:
        im = Image.open(path)
        if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
            im = im.convert("RGBA")
            bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(bg, im)
        out.append(tf(im.convert("RGB")).numpy())
    return np.stack(out).astype(np.float32)


def cosines(a, b):
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-30)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-30)
    return (a * b).sum(1)


# ---------------------------------------------------------------------------
def make_photo_folder(root):
    from PIL import Image
    photos = {"sklearn": [SL + "china.jpg", SL + "flower.jpg"],
              "skimage": [SK + n for n in ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg",
                                           "motorcycle_left.png", "logo.png", "camera.png")],
              'Émile, "q"': [SK + "hubble_deep_field.jpg"]}
    for cls, files in photos.items():
        os.makedirs(os.path.join(root, cls), exist_ok=True)
        for f in files:
            if os.path.exists(f):
                shutil.copy(f, os.path.join(root, cls, os.path.basename(f)))
    os.makedirs(os.path.join(root, "empty_class"), exist_ok=True)
    bad = os.path.join(root, "bad")
    os.makedirs(bad, exist_ok=True)
    open(os.path.join(bad, "zero.jpg"), "wb").close()
    with open(os.path.join(bad, "text.jpg"), "w") as f:
        f.write("this is a text file with a .jpg name\n")
    if os.path.exists(SK + "truncated.jpg"):
        shutil.copy(SK + "truncated.jpg", os.path.join(bad, "truncated.jpg"))
    with open(SL + "china.jpg", "rb") as f:
        data = f.read()
    with open(os.path.join(bad, "cut.jpg"), "wb") as f:
        f.write(data[: len(data) // 3])
    Image.new("RGB", (1, 1), (10, 20, 30)).save(os.path.join(bad, "one.png"))
    # a PNG whose header says 30000 x 30000
    import struct
    import zlib

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    with open(os.path.join(bad, "huge.png"), "wb") as f:
        f.write(png)
    expect = {"zero.jpg": "empty file", "text.jpg": "not a supported image", "cut.jpg": "truncated or corrupt",
              "one.png": "image is 1x1", "huge.png": "30000x30000"}
    if os.path.exists(os.path.join(bad, "truncated.jpg")):
        expect["truncated.jpg"] = "truncated.jpg"
    if os.geteuid() != 0:  # root reads anything: the unit test covers it as another user
        p = os.path.join(bad, "locked.jpg")
        shutil.copy(SL + "flower.jpg", p)
        os.chmod(p, 0)
        expect["locked.jpg"] = "Permission denied"
    return expect


def test_photos(a):
    card, onnx = setup_model(a.model_dir)
    work = tempfile.mkdtemp(prefix="photos-", dir=a.work)
    root = os.path.join(work, "images")
    expect = make_photo_folder(root)
    cache = os.path.join(work, "cache")
    E, L, I, S = (os.path.join(work, n) for n in ("e.npy", "labels.txt", "items.txt", "skipped.tsv"))
    base = [a.embeval, "embed", "--model", card, "--dataset", root, "--out", E, "--labels-out", L, "--items-out", I,
            "--cache-dir", cache, "--threads", "2", "--batch", "4"]
    p = run(base + ["--json", "--skipped-out", S])
    print(p.stderr)
    if not check(p.returncode == 0, "photos: embed exit %d" % p.returncode):
        return
    js = json.loads(p.stdout)
    check(js["skipped"] == len(expect), "photos: %d skipped, expected %d" % (js["skipped"], len(expect)))
    check(js["computed"] == js["embedded"] and js["cache_hits"] == 0, "photos: first run computes everything")
    reasons = {os.path.basename(s["name"]): s["reason"] for s in js["skipped_items"]}
    for name, snippet in expect.items():
        check(name in reasons and snippet in reasons[name], "photos: %s skipped with '%s' (got %r)"
              % (name, snippet, reasons.get(name)))
        check(name in p.stderr, "photos: %s listed on stderr" % name)
    check("empty class 'empty_class'" in p.stderr, "photos: empty class warned")
    with open(S) as f:
        check(len(f.read().strip().split("\n")) == len(expect) + 1, "photos: --skipped-out lists every skip")
    e = np.load(E)
    labels = open(L, encoding="utf-8").read().split("\n")[:-1]
    items = open(I, encoding="utf-8").read().split("\n")[:-1]
    check(e.shape[0] == len(labels) == len(items) == js["embedded"], "photos: rows, labels, items agree")
    check('Émile, "q"' in labels, "photos: a label with a comma, quotes and UTF-8 survives")
    # each row equals the model on torchvision's tensor of the same file
    X = torchvision_batch(card, items)
    xp, yp = os.path.join(work, "x.npy"), os.path.join(work, "y.npy")
    np.save(xp, X)
    q = run([a.embeval, "infer", onnx, "--input", xp, "--output", yp, "--threads", "2"])
    if check(q.returncode == 0, "photos: embeval infer on torchvision tensors: " + q.stderr):
        cos = cosines(e, np.load(yp))
        print("photos: cosine(embed, infer(torchvision tensor)) min %.7f over %d photos" % (cos.min(), len(cos)))
        check(cos.min() >= 0.9999, "photos: cosine %.6f < 0.9999" % cos.min())
    # --strict: the first bad image is an error (exit 3, one error line naming it)
    s = run(base[:-4] + ["--no-cache", "--strict", "--workers", "1", "-q"])
    errs = [l for l in s.stderr.split("\n") if l.startswith("embeval: error:")]
    check(s.returncode == 3, "photos: --strict exit %d" % s.returncode)
    check(len(errs) == 1 and any(n in errs[0] for n in expect), "photos: --strict error line %r" % errs)
    # second run: all from the cache, the model never loaded, same numbers
    e2p = os.path.join(work, "e2.npy")
    p2 = run([x if x != E else e2p for x in base] + ["--json"])
    if check(p2.returncode == 0, "photos: second run"):
        j2 = json.loads(p2.stdout)
        check(j2["cache_hits"] == js["embedded"] and j2["computed"] == 0, "photos: second run all from the cache")
        check(j2["model_load_seconds"] == 0, "photos: second run does not load the model")
        check(np.array_equal(np.load(e2p), e), "photos: cached rows are bit-identical")
    # fast mode: another preprocessing (no hits), close to exact on these small photos
    p3 = run([x if x != E else e2p for x in base] + ["--json", "--mode", "fast"])
    if check(p3.returncode == 0, "photos: fast mode"):
        j3 = json.loads(p3.stdout)
        check(j3["cache_hits"] == 0, "photos: fast mode has its own cache entries")
        cos = cosines(e, np.load(e2p))
        print("photos: cosine(exact, fast) min %.6f mean %.6f" % (cos.min(), cos.mean()))
    # a terminal gets a progress bar (through script(1)'s pseudo-terminal)
    if shutil.which("script"):
        cmd = " ".join("'%s'" % x.replace("'", "'\\''") for x in base[:-4] + ["--no-cache", "--batch", "4"])
        t = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True)  # bytes: keep the \r
        check(t.returncode == 0 and b"\r\033[2Kembed [" in t.stdout and b"img/s" in t.stdout and b"ETA" in t.stdout,
              "photos: progress bar on a terminal")
    # cache stats / verify / clear
    st = run([a.embeval, "cache", "stats", "--json", "--cache-dir", cache])
    if check(st.returncode == 0, "cache stats"):
        check(json.loads(st.stdout)["entries"] == 2 * js["embedded"], "cache stats: exact + fast entries")
    v = run([a.embeval, "cache", "verify", "--cache-dir", cache])
    check(v.returncode == 0 and ", 0 bad" in v.stdout, "cache verify: " + v.stdout + v.stderr)
    c = run([a.embeval, "cache", "clear", "--cache-dir", cache])
    check(c.returncode == 0, "cache clear")
    st = run([a.embeval, "cache", "stats", "--json", "--cache-dir", cache])
    check(st.returncode == 0 and json.loads(st.stdout)["entries"] == 0, "cache clear empties the cache")
    # manifests: labels with commas, quotes and UTF-8; a missing path is a skipped item
    man = os.path.join(root, "list.csv")
    with open(man, "w", encoding="utf-8") as f:
        f.write("path,label,split\n"
                "sklearn/china.jpg,\"a,b\",test\n"
                "sklearn/flower.jpg,\"say \"\"hi\"\"\",test\n"
                "skimage/coffee.png,日本,test\n"
                "skimage/missing.jpg,\"a,b\",test\n"
                "skimage/rocket.jpg,日本,train\n")
    mo = os.path.join(work, "m.npy")
    ml = os.path.join(work, "m.txt")
    pm = run([a.embeval, "embed", "--model", card, "--dataset", man, "--split", "test", "--out", mo,
              "--labels-out", ml, "--cache-dir", cache, "--json", "-q"])
    if check(pm.returncode == 0, "manifest: embed " + pm.stderr):
        jm = json.loads(pm.stdout)
        check(jm["embedded"] == 3 and jm["skipped"] == 1, "manifest: 3 rows, 1 skipped")
        check("missing.jpg: No such file" in jm["skipped_items"][0]["reason"], "manifest: the missing path is named")
        check(open(ml, encoding="utf-8").read() == "a,b\nsay \"hi\"\n日本\n", "manifest: labels survive")
    jl = os.path.join(root, "list.jsonl")
    with open(jl, "w") as f:
        f.write('{"path": "sklearn/china.jpg", "label": "x"}\n{"path": "../../etc/passwd", "label": "y"}\n')
    pj = run([a.embeval, "embed", "--model", card, "--dataset", jl, "--out", mo, "--cache-dir", cache, "-q"])
    check(pj.returncode == 3 and "list.jsonl:2" in pj.stderr and "escapes" in pj.stderr,
          "manifest: an escaping path is refused with its line (%d %s)" % (pj.returncode, pj.stderr.strip()))
    # usage and input errors
    u = run([a.embeval, "embed", "--model", card, "--out", E])
    check(u.returncode == 2 and "no --dataset" in u.stderr, "usage error exit 2")
    m = run([a.embeval, "embed", "--model", card, "--dataset", os.path.join(work, "nope"), "--out", E])
    check(m.returncode == 1 or m.returncode == 3, "missing dataset: exit %d" % m.returncode)
    check("nope" in m.stderr, "missing dataset named")
    shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------
def cache_entries(cache):
    db = os.path.join(cache, "embeddings.sqlite3")
    if not os.path.exists(db):
        return 0
    try:
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        n = con.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        con.close()
        return n
    except sqlite3.Error:
        return 0


def test_resume(a):
    card, onnx = setup_model(a.model_dir)
    work = tempfile.mkdtemp(prefix="resume-", dir=a.work)
    cache = os.path.join(work, "cache")
    ref, out = os.path.join(work, "ref.npy"), os.path.join(work, "out.npy")
    base = [a.embeval, "embed", "--model", card, "--dataset", "fashion-mnist", "--split", "test", "--limit",
            str(a.limit), "--seed", "7", "--batch", "8", "--threads", "2", "-q"]
    r = run(base + ["--out", ref, "--no-cache"])
    if not check(r.returncode == 0, "resume: reference run: " + r.stderr):
        return
    rng = random.Random(int(time.time()))
    seen = 0
    for k in range(3):
        proc = subprocess.Popen(base + ["--out", out, "--cache-dir", cache], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        target = seen + 8 * rng.randint(1, 4)
        t0 = time.time()
        while proc.poll() is None and cache_entries(cache) < target and time.time() - t0 < 600:
            time.sleep(0.02)
        time.sleep(rng.random() * 0.3)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = cache_entries(cache)
        print("resume: kill %d after %d committed entries (exit %s)" % (k + 1, now, proc.returncode))
        check(now >= seen, "resume: entries never decrease (%d -> %d)" % (seen, now))
        seen = now
    v = run([a.embeval, "cache", "verify", "--cache-dir", cache])
    check(v.returncode == 0 and ", 0 bad" in v.stdout, "resume: cache verify after kills: " + v.stdout + v.stderr)
    f = run(base + ["--out", out, "--cache-dir", cache, "--json"])
    if not check(f.returncode == 0, "resume: final run: " + f.stderr):
        return
    js = json.loads(f.stdout)
    check(js["cache_hits"] >= seen, "resume: %d hits, %d were committed before" % (js["cache_hits"], seen))
    check(js["cache_hits"] + js["computed"] == a.limit, "resume: every item accounted for")
    e, eref = np.load(out), np.load(ref)
    check(e.shape == eref.shape, "resume: shape")
    if e.shape == eref.shape:
        cos = cosines(e, eref)
        rel = np.abs(e - eref).max() / max(np.abs(eref).max(), 1e-30)
        print("resume: vs an uncached run: min cosine %.8f, max rel diff %.2e, identical rows %d/%d"
              % (cos.min(), rel, int((e == eref).all(1).sum()), len(e)))
        check(cos.min() >= 0.9999 and rel < 1e-3, "resume: matches the uncached run")
    shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------
def test_fashion(a):
    card, onnx = setup_model(a.model_dir)
    work = tempfile.mkdtemp(prefix="fashion-", dir=a.work)
    cache = os.path.join(work, "cache")
    e1, e2, l1, l2 = (os.path.join(work, n) for n in ("e1.npy", "e2.npy", "l1.txt", "l2.txt"))
    base = [a.embeval, "embed", "--model", card, "--dataset", "fashion-mnist", "--split", "test", "--limit",
            str(a.limit), "--threads", "2", "--cache-dir", cache, "--json"]
    t0 = time.time()
    p1 = run(base + ["--out", e1, "--labels-out", l1])
    t1 = time.time() - t0
    print(p1.stderr.strip().split("\n")[-1] if p1.stderr else "")
    if not check(p1.returncode == 0, "fashion: first run: " + p1.stderr):
        return
    t0 = time.time()
    p2 = run(base + ["--out", e2, "--labels-out", l2])
    t2 = time.time() - t0
    if not check(p2.returncode == 0, "fashion: second run: " + p2.stderr):
        return
    j1, j2 = json.loads(p1.stdout), json.loads(p2.stdout)
    print("fashion: %d images: first run %.2f s (%.0f images/s; embed %.2f s, model %.2f s), second run %.3f s "
          "(%d from cache): %.1fx" % (j1["embedded"], t1, j1["embedded"] / t1, j1["seconds"], j1["infer_seconds"],
                                      t2, j2["cache_hits"], t1 / t2))
    check(j2["cache_hits"] == j1["embedded"] == a.limit, "fashion: all from the cache")
    check(np.array_equal(np.load(e1), np.load(e2)), "fashion: identical embeddings")
    check(open(l1).read() == open(l2).read(), "fashion: identical labels")
    labels = open(l1).read().split("\n")[:-1]
    check(len(set(labels)) == 10 and "Ankle boot" in labels, "fashion: the ten class names")
    check(t1 / t2 >= a.min_speedup, "fashion: cache speedup %.1fx < %.1fx" % (t1 / t2, a.min_speedup))
    # the in-memory 28x28 grey path equals torchvision on Image.fromarray(x).convert("RGB")
    fashion_parity(a, card, onnx, work, np.load(e1))
    shutil.rmtree(work, ignore_errors=True)


def fashion_parity(a, card, onnx, work, e):
    import gzip
    import torchvision.transforms as T
    from PIL import Image
    items = os.path.join(work, "items.txt")
    p = run([a.embeval, "embed", "--model", card, "--dataset", "fashion-mnist", "--split", "test", "--limit",
             str(a.limit), "--threads", "2", "--cache-dir", os.path.join(work, "cache"), "--out",
             os.path.join(work, "e3.npy"), "--items-out", items, "-q"])
    if not check(p.returncode == 0, "fashion parity: embed " + p.stderr):
        return
    idx = [int(l.rsplit("[", 1)[1].rstrip("]")) for l in open(items).read().split("\n")[:-1]][:16]
    with gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") as f:
        px = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with open(card) as f:
        pp = json.load(f)["preprocess"]
    interp = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC}[pp["interpolation"]]
    tf = T.Compose([T.Resize(pp["resize"], interpolation=interp), T.CenterCrop(pp["crop"]), T.ToTensor(),
                    T.Normalize(pp["mean"], pp["std"])])
    X = np.stack([tf(Image.fromarray(px[i]).convert("RGB")).numpy() for i in idx]).astype(np.float32)
    xp, yp = os.path.join(work, "fx.npy"), os.path.join(work, "fy.npy")
    np.save(xp, X)
    q = run([a.embeval, "infer", onnx, "--input", xp, "--output", yp, "--threads", "2"])
    if check(q.returncode == 0, "fashion parity: infer " + q.stderr):
        cos = cosines(e[:16], np.load(yp))
        print("fashion: cosine(embed, infer(torchvision tensor)) min %.7f over 16 images" % cos.min())
        check(cos.min() >= 0.9999, "fashion parity: cosine %.6f < 0.9999" % cos.min())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["photos", "resume", "fashion"])
    ap.add_argument("--embeval", required=True)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--work", default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--min-speedup", type=float, default=20.0)
    a = ap.parse_args()
    if a.work:
        os.makedirs(a.work, exist_ok=True)
    else:
        a.work = tempfile.mkdtemp(prefix="ev-pipeline-")
    if a.limit is None:
        a.limit = {"resume": 400, "fashion": 10000}.get(a.what, 0)
    {"photos": test_photos, "resume": test_resume, "fashion": test_fashion}[a.what](a)
    print("%s: %s" % (a.what, "FAILED (%d)" % len(FAIL) if FAIL else "ok"))
    return 1 if FAIL else 0


if __name__ == "__main__":
    sys.exit(main())
