#!/usr/bin/python3
"""Crash safety (issue 7): kill -9 at random moments, then check nothing that
was already done is lost or damaged.

  crash.py embed EMBEVAL [--kills N] [--images N]
      A clean `embeval embed --no-cache` gives the reference vectors. Then
      `embeval embed` with a cache directory is killed with SIGKILL at a
      random moment (uniform over the clean run's duration, so kills land in
      model load, decoding, model runs and cache commits) N times in a row;
      after each kill the cache must verify (`embeval cache verify`: 0 bad)
      and never lose entries; at the end a normal run completes and every
      vector equals the clean run's bit for bit, and its labels and items
      are identical. (tests/pipeline's resume case kills after a number of
      committed entries and compares with a cosine tolerance; this one kills
      at arbitrary times, also before the first commit, and demands bit
      equality: a torn or mixed-up cache row would show.)
  crash.py run EMBEVAL [--kills N]
      `embeval run --out DIR` over a directory that already holds a good
      report is killed at random moments N times: every report file in DIR
      (report.json, report.items.json, report.md, report.csv, report.html,
      charts/*.svg) must at all times be either absent or complete (JSON
      parses, HTML ends with </html>, SVG with </svg>), and the good report
      is never replaced by a partial one.
Prints "N passed, M failed".
"""
import argparse
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "determinism"))
from determinism import cnn_model  # noqa: E402  (the same small CNN)

checks = []


def check(cond, what):
    checks.append((bool(cond), what))
    if not cond or os.environ.get("VERBOSE"):
        print(("ok   " if cond else "FAIL ") + what)
    return cond


def make_fixture(work, n_images):
    from PIL import Image
    ds = os.path.join(work, "ds")
    rs = np.random.RandomState(11)
    for i in range(n_images):
        c = i % 4
        d = os.path.join(ds, "class%d" % c)
        os.makedirs(d, exist_ok=True)
        a = (rs.rand(48 + i % 17, 56 + i % 13, 3) * 255).astype(np.uint8)
        Image.fromarray(a).save(os.path.join(d, "img%03d.%s" % (i, "png" if i % 2 else "jpg")))
    mdir = os.path.join(work, "models")
    os.makedirs(mdir)
    cnn_model(os.path.join(mdir, "cnn.onnx"))
    card = {"embeval_card": 1, "name": "cnn", "file": "cnn.onnx", "input": "x", "output": "y",
            "preprocess": {"resize": 72, "interpolation": "bilinear", "crop": 64, "mean": [0.5, 0.5, 0.5],
                           "std": [0.25, 0.25, 0.25]}, "license": "test"}
    with open(os.path.join(mdir, "cnn.json"), "w") as f:
        json.dump(card, f)
    return ds, os.path.join(mdir, "cnn.json")


def entries(exe, cache):
    p = subprocess.run([exe, "cache", "stats", "--cache-dir", cache, "--json"], capture_output=True, text=True,
                       timeout=120)
    try:
        return json.loads(p.stdout).get("entries", 0)
    except ValueError:
        return -1


def test_embed(a, work):
    exe = a.embeval
    ds, card = make_fixture(work, a.images)
    cache = os.path.join(work, "cache")
    base = [exe, "embed", "--model", card, "--dataset", ds, "--batch", "4", "--threads", "2", "--workers", "2",
            "-q"]
    ref = os.path.join(work, "ref.npy")
    t0 = time.time()
    p = subprocess.run(base + ["--out", ref, "--labels-out", ref + ".labels", "--items-out", ref + ".items",
                               "--no-cache"], capture_output=True, text=True)
    clean = time.time() - t0
    if not check(p.returncode == 0, "embed: clean run: " + p.stderr):
        return
    rng = random.Random(a.seed if a.seed is not None else int(time.time()))
    out = os.path.join(work, "out.npy")
    seen, kills, finished = 0, 0, 0
    for k in range(a.kills):
        proc = subprocess.Popen(base + ["--out", out, "--cache-dir", cache], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        # over the expected duration of this run: the part still to compute
        # (cache hits are fast) plus model load and start-up
        left = max(0.0, 1.0 - seen / float(a.images))
        delay = rng.uniform(0.0, clean * (0.15 + 0.95 * left))
        try:
            proc.wait(timeout=delay)
            finished += 1  # completed before the kill: fine, the next runs are all hits
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        v = subprocess.run([exe, "cache", "verify", "--cache-dir", cache], capture_output=True, text=True,
                           timeout=300)
        ok_verify = (v.returncode == 0 and ", 0 bad" in v.stdout) or \
                    (not os.path.exists(os.path.join(cache, "embeddings.sqlite3")) and v.returncode == 0)
        check(ok_verify, "embed: cache verifies after kill %d at %.2fs: %s%s" % (k + 1, delay, v.stdout, v.stderr))
        now = entries(exe, cache)
        check(now >= seen, "embed: entries never decrease (%d -> %d)" % (seen, now))
        seen = max(seen, now)
        if os.path.exists(out):
            # an existing --out is always a complete matrix (written atomically)
            try:
                e = np.load(out)
                check(e.shape == np.load(ref).shape, "embed: --out after a kill is complete")
            except Exception as ex:  # noqa: BLE001
                check(False, "embed: --out after a kill is a valid .npy: %s" % ex)
    print("embed: clean run %.2fs; %d kills, %d runs finished first; %d of %d entries committed before the last run"
          % (clean, kills, finished, seen, a.images))
    p = subprocess.run(base + ["--out", out, "--labels-out", out + ".labels", "--items-out", out + ".items",
                               "--cache-dir", cache, "--json"], capture_output=True, text=True)
    if not check(p.returncode == 0, "embed: final run: " + p.stderr):
        return
    js = json.loads(p.stdout)
    check(js["cache_hits"] >= seen, "embed: final run used the %d committed entries (%d hits)"
          % (seen, js["cache_hits"]))
    e, eref = np.load(out), np.load(ref)
    same = e.shape == eref.shape and np.array_equal(e.view(np.uint32), eref.view(np.uint32))
    if not same and e.shape == eref.shape:
        rows = int((e != eref).any(1).sum())
        print("embed: %d rows differ, max abs diff %.3g" % (rows, np.abs(e - eref).max()))
    check(same, "embed: every vector bit-identical to the clean run (%s)" % (e.shape,))
    check(open(out + ".labels").read() == open(ref + ".labels").read(), "embed: labels identical")
    check(open(out + ".items").read() == open(ref + ".items").read(), "embed: items identical")
    left = glob.glob(os.path.join(work, "*.tmp.*"))
    print("embed: %d temporary files left by killed runs next to --out (never in its place)" % len(left))


REPORT_FILES = ("report.json", "report.items.json", "report.md", "report.csv", "report.html")


def report_state(d):
    """{file: 'ok' | 'partial: why'} for every report file present."""
    st = {}
    for f in REPORT_FILES + tuple(os.path.relpath(p, d) for p in glob.glob(os.path.join(d, "charts", "*.svg"))):
        p = os.path.join(d, f)
        if not os.path.exists(p):
            continue
        data = open(p, "rb").read()
        why = None
        if f.endswith(".json"):
            try:
                json.loads(data)
            except ValueError as ex:
                why = "invalid JSON: %s" % ex
        elif f.endswith(".html"):
            why = None if data.rstrip().endswith(b"</html>") else "no </html>"
        elif f.endswith(".svg"):
            why = None if data.rstrip().endswith(b"</svg>") else "no </svg>"
        elif not data:
            why = "empty"
        st[f] = "ok" if why is None else "partial: " + why
    return st


def test_run(a, work):
    exe = a.embeval
    ds, card = make_fixture(work, 24)
    out = os.path.join(work, "report")
    base = [exe, "run", "-m", card, "-d", ds, "--limit", "0", "--bench-runs", "3", "--bench-warmup", "0",
            "--bootstrap", "20", "--threads", "2", "--no-cache", "--out", out]
    t0 = time.time()
    p = subprocess.run(base, capture_output=True, text=True)
    clean = time.time() - t0
    if not check(p.returncode == 0, "run: clean run: " + p.stderr):
        return
    st = report_state(out)
    check(all(v == "ok" for v in st.values()) and "report.json" in st and "report.html" in st,
          "run: the clean report is complete: %s" % st)
    good = open(os.path.join(out, "report.json"), "rb").read()
    rng = random.Random(a.seed if a.seed is not None else int(time.time()))
    kills = 0
    for k in range(a.kills):
        proc = subprocess.Popen(base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        delay = rng.uniform(0.0, clean * 1.05)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        st = report_state(out)
        bad = {f: v for f, v in st.items() if v != "ok"}
        check(not bad, "run: after kill %d at %.2fs every report file is complete: %s" % (k + 1, delay, bad))
        check("report.json" in st, "run: report.json still there after kill %d" % (k + 1))
    print("run: clean run %.2fs, %d kills" % (clean, kills))
    del good


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["embed", "run"])
    ap.add_argument("embeval")
    ap.add_argument("--kills", type=int, default=8)
    ap.add_argument("--images", type=int, default=120)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    a.embeval = os.path.abspath(a.embeval)
    work = tempfile.mkdtemp(prefix="ev-crash-")
    try:
        {"embed": test_embed, "run": test_run}[a.what](a, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    nf = sum(1 for ok, _ in checks if not ok)
    print("%d passed, %d failed" % (len(checks) - nf, nf))
    return 1 if nf or not checks else 0


if __name__ == "__main__":
    sys.exit(main())
