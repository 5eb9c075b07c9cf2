#!/usr/bin/python3
"""Output safety (issue 7).

  - `embeval run --out DIR`: report files in DIR that are symlinks to files
    outside DIR are replaced, never written through; DIR/charts as a symlink
    to a directory outside is not written into.
  - `embeval embed --out / --labels-out / --items-out`, `embeval infer
    --output`: a symlink at the output path is replaced by the new file; its
    target is untouched.
  - manifests: a path with '..' leaving the manifest directory, or an
    absolute path, is refused (exit 3, the error names the manifest) unless
    --allow-absolute-paths, with which the same manifest works.
  - HTML: class names and a card name full of markup appear escaped in
    report.html (no raw tag survives).
Prints "N passed, M failed".
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXE = os.path.abspath(sys.argv[1])
checks = []


def check(cond, what):
    checks.append((bool(cond), what))
    print(("ok   " if cond else "FAIL ") + what)
    return cond


def run(args):
    p = subprocess.run([EXE] + args, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def errlines(err):
    return [l for l in err.splitlines() if l.startswith("embeval: error:")]


def main():
    from PIL import Image
    work = tempfile.mkdtemp(prefix="ev-outsafe-")
    try:
        mdir = os.path.join(work, "models")
        os.makedirs(mdir)
        shutil.copy(os.path.join(ROOT, "models", "pixels_28.onnx"), mdir)
        card = json.load(open(os.path.join(ROOT, "models", "pixels_28.json")))
        evil = '"><script>alert(1)</script>&'
        card["name"] = "px" + evil
        card_path = os.path.join(mdir, "px.json")
        json.dump(card, open(card_path, "w"))
        ds = os.path.join(work, "ds")
        classes = ["plain", "<img src=x onerror=alert(2)>", "a&b \"q\" 'r'"]
        for c, name in enumerate(classes):
            os.makedirs(os.path.join(ds, name))
            for i in range(4):
                Image.new("RGB", (16, 16), (60 * c, 30 * i, 9)).save(os.path.join(ds, name, "i%d.png" % i))
        outside = os.path.join(work, "outside")
        os.makedirs(outside)
        victims = {}
        for f in ("report.json", "report.items.json", "report.md", "report.csv", "report.html", "e.npy",
                  "l.txt", "i.txt", "y.npy"):
            victims[f] = os.path.join(outside, "victim-" + f)
            with open(victims[f], "w") as fh:
                fh.write("precious %s\n" % f)
        charts_out = os.path.join(outside, "charts-target")
        os.makedirs(charts_out)

        # --- run --out DIR with symlinks inside DIR ---------------------------------
        out = os.path.join(work, "out")
        os.makedirs(out)
        for f in ("report.json", "report.items.json", "report.md", "report.csv", "report.html"):
            os.symlink(victims[f], os.path.join(out, f))
        os.symlink(charts_out, os.path.join(out, "charts"))
        code, so, se = run(["run", "-m", card_path, "-d", ds, "--limit", "0", "--bench-runs", "2",
                            "--bench-warmup", "0", "--bootstrap", "10", "--no-cache", "--out", out])
        print("run --out with symlinks: exit %d %s" % (code, " | ".join(errlines(se))))
        check(code in (0, 1), "run --out with symlinks: exit 0 (replaced) or 1 (refused), got %d" % code)
        if code == 1:
            check(len(errlines(se)) == 1 and "charts" in se, "run: one error line naming charts")
        for f in ("report.json", "report.items.json", "report.md", "report.csv", "report.html"):
            check(open(victims[f]).read() == "precious %s\n" % f, "run: symlink target of %s untouched" % f)
        check(not os.listdir(charts_out), "run: nothing written through the charts symlink (%s)"
              % os.listdir(charts_out))
        if code == 0:
            for f in ("report.json", "report.html"):
                p = os.path.join(out, f)
                check(os.path.isfile(p) and not os.path.islink(p), "run: %s is a regular file now" % f)

        # --- HTML escaping, end to end --------------------------------------------------
        out2 = os.path.join(work, "out2")
        code, so, se = run(["run", "-m", card_path, "-d", ds, "--limit", "0", "--bench-runs", "2",
                            "--bench-warmup", "0", "--bootstrap", "10", "--no-cache", "--out", out2])
        if check(code == 0, "run with markup in names: exit 0 (%s)" % se.strip()[-300:]):
            html = open(os.path.join(out2, "report.html"), encoding="utf-8").read()
            check("<script>alert(1)" not in html and "<img src=x" not in html,
                  "html: no raw markup from the card name or class names")
            check("&lt;script&gt;alert(1)" in html or "&lt;script>alert(1)" in html,
                  "html: the card name is shown, escaped")
            for svg in glob.glob(os.path.join(out2, "charts", "*.svg")):
                s = open(svg, encoding="utf-8").read()
                check("<script>alert" not in s, "svg %s: no raw markup" % os.path.basename(svg))

        # --- single-file outputs that are symlinks ---------------------------------------
        eo = os.path.join(work, "eout")
        os.makedirs(eo)
        for f in ("e.npy", "l.txt", "i.txt", "y.npy"):
            os.symlink(victims[f], os.path.join(eo, f))
        code, so, se = run(["embed", "--model", card_path, "--dataset", ds, "--out", os.path.join(eo, "e.npy"),
                            "--labels-out", os.path.join(eo, "l.txt"), "--items-out", os.path.join(eo, "i.txt"),
                            "--no-cache", "-q"])
        check(code == 0, "embed with symlinked outputs: exit 0 (%s)" % se.strip())
        for f in ("e.npy", "l.txt", "i.txt"):
            check(open(victims[f]).read() == "precious %s\n" % f, "embed: symlink target of %s untouched" % f)
            check(not os.path.islink(os.path.join(eo, f)), "embed: %s replaced by a regular file" % f)
        x = os.path.join(work, "x.npy")
        np.save(x, np.zeros((1, 3, 28, 28), np.float32))
        code, so, se = run(["infer", os.path.join(mdir, "pixels_28.onnx"), "--input", x, "--output",
                            os.path.join(eo, "y.npy")])
        check(code == 0 and open(victims["y.npy"]).read() == "precious y.npy\n",
              "infer --output symlink: target untouched (exit %d)" % code)

        # --- manifest paths ---------------------------------------------------------------
        mf = os.path.join(work, "man")
        os.makedirs(mf)
        inside = os.path.join(mf, "in.png")
        Image.new("RGB", (16, 16), (1, 2, 3)).save(inside)
        Image.new("RGB", (16, 16), (4, 5, 6)).save(os.path.join(work, "up.png"))
        cases = {
            "dotdot": "in.png,a\n../up.png,b\n",
            "absolute": "in.png,a\n%s,b\n" % os.path.join(work, "up.png"),
            "dotdot-inside": "sub/../in.png,a\nin.png,b\n",
        }
        for name, text in cases.items():
            m = os.path.join(mf, name + ".csv")
            open(m, "w").write(text)
            code, so, se = run(["embed", "--model", card_path, "--dataset", m, "--out", os.path.join(work, "m.npy"),
                                "--no-cache", "-q"])
            if name == "dotdot-inside":
                check(code == 0, "manifest %s: a '..' that stays inside is fine (exit %d %s)" % (name, code, se))
                continue
            el = errlines(se)
            check(code == 3 and len(el) == 1 and name + ".csv" in el[0],
                  "manifest %s: refused, exit 3, one error naming the manifest (exit %d: %s)" % (name, code, el))
            code, so, se = run(["embed", "--model", card_path, "--dataset", m, "--out", os.path.join(work, "m.npy"),
                                "--no-cache", "-q", "--allow-absolute-paths", "--json"])
            check(code == 0 and json.loads(so or "{}").get("embedded") == 2,
                  "manifest %s: accepted with --allow-absolute-paths (exit %d)" % (name, code))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    nf = sum(1 for ok, _ in checks if not ok)
    print("%d passed, %d failed" % (len(checks) - nf, nf))
    return 1 if nf or not checks else 0


if __name__ == "__main__":
    sys.exit(main())
