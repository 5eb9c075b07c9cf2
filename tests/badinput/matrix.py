#!/usr/bin/python3
"""Bad-input matrix (issue 7): every user-facing command against missing files,
empty files, truncated and garbage files, files of the wrong type, directories
where files are expected, and unwritable outputs.

Usage: matrix.py EMBEVAL_BINARY [--keep] [-v]

For every case the command must
  - exit with the code ARCHITECTURE.md gives: 3 for invalid input data or
    model (empty, truncated, garbage, wrong type), 1 for a runtime failure
    (cannot write an output; a path that cannot be opened or read -- missing
    file, directory -- is an I/O failure: 1, or 3 where a command reports it
    as invalid input), 2 for usage errors;
  - print exactly one line starting with `embeval: error:` on stderr, and that
    line names the offending file (its base name);
  - print no sanitizer report (AddressSanitizer, LeakSanitizer, UBSan
    "runtime error:"), no crash, no hang (timeout 120 s).
The same script runs in the normal and the sanitizer build (CTest in both).
Fixtures are written at test time: the repository's tiny pixels_28 model and
card, small .npy arrays, PNG images (Debian python3-pil), manifests, a real
report from `embeval run` and a real embedding cache.
Prints a table of every case and "N passed, M failed".
"""
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EMBEVAL = os.path.abspath(sys.argv[1])
KEEP = "--keep" in sys.argv
VERBOSE = "-v" in sys.argv
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer",
                   "ThreadSanitizer", "Segmentation fault", "core dumped")
results = []  # (command, case, ok, detail)


def run(args, env=None, timeout=120):
    e = dict(os.environ)
    e.setdefault("EMBEVAL_CACHE_DIR", CACHE)
    if env:
        e.update(env)
    try:
        p = subprocess.run([EMBEVAL] + args, capture_output=True, timeout=timeout, env=e,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, "", "TIMEOUT"
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def case(cmd, name, args, codes, names, env=None):
    """Run one case; `codes` is the set of acceptable exit codes, `names` the
    file name(s) of which at least one must appear in the error line."""
    code, out, err = run([cmd] + args, env)
    errlines = [l for l in err.splitlines() if l.startswith("embeval: error:")]
    problems = []
    if code is None:
        problems.append("timed out")
    elif code < 0:
        problems.append("killed by signal %d" % -code)
    elif code not in codes:
        problems.append("exit %d, want %s" % (code, "/".join(map(str, sorted(codes)))))
    if len(errlines) != 1:
        problems.append("%d error lines" % len(errlines))
    elif names and not any(os.path.basename(n.rstrip("/")) in errlines[0] for n in names):
        problems.append("error line does not name %s" % os.path.basename(names[0].rstrip("/")))
    for m in SANITIZER_MARKS:
        if m in err:
            problems.append("sanitizer/crash report: " + m)
    if "Traceback" in err:
        problems.append("traceback")
    ok = not problems
    detail = "exit %s: %s" % (code, errlines[0][len("embeval: error: "):] if len(errlines) == 1 else
                              " | ".join(err.strip().splitlines()[-3:]))
    if problems:
        detail = "; ".join(problems) + " -- " + detail
    results.append((cmd, name, ok, detail))
    if VERBOSE or not ok:
        print("%s %-8s %-34s %s" % ("ok  " if ok else "FAIL", cmd, name, detail[:300]))
        if not ok and VERBOSE:
            print(err)
    return code, out, err


# ---------------------------------------------------------------------------
def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def variants(work, kind, good, wrong):
    """Bad versions of a good file: {case: path}."""
    rng = random.Random(hash(kind) & 0xffff)
    d = os.path.join(work, "bad", kind)
    os.makedirs(d, exist_ok=True)
    ext = os.path.splitext(good)[1]
    data = open(good, "rb").read()
    v = {
        "missing": os.path.join(d, "missing" + ext),
        "empty": write(os.path.join(d, "empty" + ext), b""),
        "truncated": write(os.path.join(d, "truncated" + ext), data[: max(1, len(data) // 2)]),
        "garbage": write(os.path.join(d, "garbage" + ext), bytes(rng.randrange(256) for _ in range(4096))),
        "wrong-type": write(os.path.join(d, "wrongtype" + ext), open(wrong, "rb").read()),
    }
    dd = os.path.join(d, "isdir" + ext)
    os.makedirs(dd, exist_ok=True)
    v["directory"] = dd
    return v


CODES = {"missing": {1, 3}, "directory": {1, 3}, "empty": {3}, "truncated": {3}, "garbage": {3},
         "wrong-type": {3}}


def unwritable(work, name):
    """Output paths that cannot be written (we run as root in CI, so no
    permission bits: a parent that is a regular file, and an existing
    directory in place of the file)."""
    f = write(os.path.join(work, "unwritable", "afile"), b"x")
    d = os.path.join(work, "unwritable", "adir-" + name)
    os.makedirs(d, exist_ok=True)
    return {"out-parent-is-file": os.path.join(f, name), "out-is-directory": d}


def main():
    global CACHE
    work = tempfile.mkdtemp(prefix="ev-badinput-")
    CACHE = os.path.join(work, "cache")
    from PIL import Image

    # --- good fixtures -------------------------------------------------------
    mdir = os.path.join(work, "models")
    os.makedirs(mdir)
    model = shutil.copy(os.path.join(ROOT, "models", "pixels_28.onnx"), mdir)
    card = shutil.copy(os.path.join(ROOT, "models", "pixels_28.json"), mdir)
    x = os.path.join(work, "x.npy")
    np.save(x, np.random.RandomState(0).rand(1, 3, 28, 28).astype(np.float32))
    rs = np.random.RandomState(1)
    emb = os.path.join(work, "emb.npy")
    np.save(emb, rs.randn(30, 8).astype(np.float32))
    labels = write(os.path.join(work, "labels.txt"), "".join("c%d\n" % (i % 3) for i in range(30)).encode())
    ds = os.path.join(work, "ds")
    for c in range(2):
        for i in range(3):
            im = Image.new("RGB", (32, 32), (40 * i, 100 * c, 7 * i + 3 * c))
            os.makedirs(os.path.join(ds, "class%d" % c), exist_ok=True)
            im.save(os.path.join(ds, "class%d" % c, "img%d.png" % i))
    png = os.path.join(ds, "class0", "img0.png")
    csv = write(os.path.join(work, "ds.csv"),
                "".join("ds/class%d/img%d.png,class%d\n" % (c, i, c) for c in range(2) for i in range(3)).encode())
    jsonl = write(os.path.join(work, "ds.jsonl"), "".join(
        json.dumps({"path": "ds/class%d/img%d.png" % (c, i), "label": "class%d" % c}) + "\n"
        for c in range(2) for i in range(3)).encode())
    out = os.path.join(work, "out")
    os.makedirs(out)

    # sanity: the good fixtures work (otherwise every case below is meaningless)
    base_ok = [
        ("inspect", [model]),
        ("infer", [model, "--input", x, "--output", os.path.join(out, "y.npy")]),
        ("bench", [model, "--runs", "1", "--warmup", "0"]),
        ("metrics", ["--embeddings", emb, "--labels", labels, "--bootstrap", "0", "--metrics", "retrieval"]),
        ("embed", ["--model", card, "--dataset", ds, "--out", os.path.join(out, "e.npy"), "-q"]),
        ("embed", ["--model", card, "--dataset", csv, "--out", os.path.join(out, "e2.npy"), "-q"]),
        ("embed", ["--model", card, "--dataset", jsonl, "--out", os.path.join(out, "e3.npy"), "-q"]),
        ("cache", ["stats"]),
        ("run", ["-m", card, "-d", ds, "--limit", "0", "--bench-runs", "2", "--bench-warmup", "0",
                 "--bootstrap", "10", "--out", os.path.join(out, "report")]),
    ]
    for cmd, args in base_ok:
        code, o, e = run([cmd] + args)
        if code != 0:
            print("FAIL: good fixture: embeval %s %s -> %s\n%s" % (cmd, " ".join(args), code, e))
            results.append((cmd, "good fixture", False, e))
    report = os.path.join(out, "report", "report.json")
    have_report = os.path.exists(report)

    # --- models: inspect, infer, bench ----------------------------------------
    for name, p in variants(work, "model", model, emb).items():
        case("inspect", "model " + name, [p], CODES[name], [p])
        case("infer", "model " + name, [p, "--input", x, "--output", os.path.join(out, "y.npy")], CODES[name], [p])
        case("bench", "model " + name, [p, "--runs", "1", "--warmup", "0"], CODES[name], [p])
    for name, p in variants(work, "input", x, png).items():
        case("infer", "input " + name, [model, "--input", p, "--output", os.path.join(out, "y.npy")],
             CODES[name], [p])
    for name, p in unwritable(work, "y.npy").items():
        case("infer", name, [model, "--input", x, "--output", p], {1}, [p])

    # --- metrics ---------------------------------------------------------------
    mbase = ["--bootstrap", "0", "--metrics", "retrieval,knn"]
    for name, p in variants(work, "emb", emb, png).items():
        case("metrics", "embeddings " + name, ["--embeddings", p, "--labels", labels] + mbase, CODES[name], [p])
    for name, p in variants(work, "labels", labels, png).items():
        if name == "truncated":
            codes = {3}  # fewer labels than rows
        else:
            codes = CODES[name]
        case("metrics", "labels " + name, ["--embeddings", emb, "--labels", p] + mbase, codes, [p])
    for name, p in variants(work, "train", emb, png).items():
        case("metrics", "train-embeddings " + name,
             ["--embeddings", emb, "--labels", labels, "--train-embeddings", p, "--train-labels", labels] + mbase,
             CODES[name], [p])
    for name, p in unwritable(work, "m.json").items():
        case("metrics", name, ["--embeddings", emb, "--labels", labels, "--output", p, "--json"] + mbase, {1}, [p])

    # --- embed -----------------------------------------------------------------
    def embed(d, c=card, o=None, extra=()):
        return ["--model", c, "--dataset", d, "--out", o or os.path.join(out, "e.npy"), "-q"] + list(extra)
    for name, p in variants(work, "card", card, emb).items():
        case("embed", "card " + name, embed(ds, c=p), CODES[name], [p])
    # a good card whose model file is bad
    for name, p in variants(work, "cardmodel", model, emb).items():
        if name == "missing":
            continue  # below, with the card
        d = os.path.join(work, "cardmodel-" + name)
        os.makedirs(d, exist_ok=True)
        cj = json.load(open(card))
        cj["file"] = os.path.relpath(p, d)
        c = write(os.path.join(d, "card.json"), json.dumps(cj).encode())
        case("embed", "card's model " + name, embed(ds, c=c, extra=["--no-cache"]), CODES[name], [p])
    cj = json.load(open(card))
    cj["file"] = "nowhere.onnx"
    c = write(os.path.join(work, "cardmissing", "card.json"), json.dumps(cj).encode())
    case("embed", "card's model missing", embed(ds, c=c, extra=["--no-cache"]), {1, 3}, ["nowhere.onnx"])
    for name, p in variants(work, "csv", csv, png).items():
        spec = p if name != "directory" else "csv:" + p
        codes = CODES[name]
        if name == "truncated":
            continue  # a CSV cut at a line end is a valid smaller manifest: see below
        case("embed", "csv " + name, embed(spec), codes, [p])
    # a CSV record cut in the middle of a quoted field
    tq = write(os.path.join(work, "bad", "csv", "cutquote.csv"), b'path,label\n"ds/class0/img0.png,cl')
    case("embed", "csv truncated in a quote", embed(tq), {3}, [tq])
    for name, p in variants(work, "jsonl", jsonl, png).items():
        spec = p if name != "directory" else "jsonl:" + p
        case("embed", "jsonl " + name, embed(spec), CODES[name], [p])
    case("embed", "dataset missing dir", embed(os.path.join(work, "nodir")), {1, 3}, ["nodir"])
    emptyds = os.path.join(work, "emptyds")
    os.makedirs(emptyds)
    case("embed", "dataset empty dir", embed(emptyds), {3}, ["emptyds"])
    # manifest naming a missing image, an image that is garbage: skipped unless --strict
    m2 = write(os.path.join(work, "strict", "m.csv"), b"nothere.png,a\ngarbage.png,b\n")
    write(os.path.join(work, "strict", "garbage.png"), b"\x89PNG\r\n\x1a\nnot really")
    case("embed", "strict: missing image", embed(m2, extra=["--strict", "--no-cache"]), {1, 3}, ["nothere.png"])
    case("embed", "no image embeddable", embed(m2, extra=["--no-cache"]), {3}, [m2, "nothere.png", "garbage.png"])
    for name, p in unwritable(work, "e.npy").items():
        case("embed", name, embed(ds, o=p), {1}, [p])
    cf = write(os.path.join(work, "cachefile"), b"not a directory")
    case("embed", "cache-dir is a file", embed(ds, extra=["--cache-dir", cf]), {1, 3}, [cf])
    for name, p in unwritable(work, "l.txt").items():
        case("embed", "labels-" + name, embed(ds, extra=["--labels-out", p]), {1}, [p])

    # --- cache -----------------------------------------------------------------
    for sub in ("stats", "verify"):
        case("cache", sub + ": cache-dir is a file", [sub, "--cache-dir", cf], {1, 3}, [cf])
    real_db = os.path.join(CACHE, "embeddings.sqlite3")
    if os.path.exists(real_db):
        for name, p in variants(work, "db", real_db, png).items():
            if name in ("missing", "directory"):
                continue
            d = os.path.join(work, "cachedb-" + name)
            os.makedirs(d, exist_ok=True)
            shutil.copy(p, os.path.join(d, "embeddings.sqlite3"))
            if name == "empty":
                continue  # an empty file is a new, empty SQLite database
            case("cache", "stats: db " + name, ["stats", "--cache-dir", d], {1, 3}, ["embeddings.sqlite3", d])
            case("cache", "verify: db " + name, ["verify", "--cache-dir", d], {1, 3}, ["embeddings.sqlite3", d])
        # a database whose rows were damaged
        d = os.path.join(work, "cachedb-damaged")
        os.makedirs(d, exist_ok=True)
        shutil.copy(real_db, os.path.join(d, "embeddings.sqlite3"))
        con = sqlite3.connect(os.path.join(d, "embeddings.sqlite3"))
        cols = [r[1] for r in con.execute("PRAGMA table_info(embeddings)")]
        blob = [c for c in cols if c in ("vec", "vector", "data", "embedding")]
        if blob:
            con.execute("UPDATE embeddings SET %s = substr(%s, 1, 5)" % (blob[0], blob[0]))
            con.commit()
        con.close()
        if blob:
            code, o, e = run(["cache", "verify", "--cache-dir", d])
            ok = code == 3 and not any(m in e for m in SANITIZER_MARKS)
            results.append(("cache", "verify: damaged rows", ok, "exit %s" % code))
            if not ok:
                print("FAIL cache verify: damaged rows: exit %s %s" % (code, e))
    else:
        results.append(("cache", "fixture", False, "the good embed run left no cache"))

    # --- run / compare -----------------------------------------------------------
    rbase = ["--limit", "0", "--bench-runs", "2", "--bench-warmup", "0", "--bootstrap", "10", "--no-cache"]
    for name, p in variants(work, "rundata", csv, png).items():
        if name == "truncated":
            continue
        spec = p if name != "directory" else "csv:" + p
        case("run", "dataset csv " + name, ["-m", card, "-d", spec] + rbase, CODES[name], [p])
    for name, p in variants(work, "runcfg", card, png).items():
        case("run", "config " + name, ["--config", p] + rbase, CODES[name] | ({2} if name != "missing" else set()), [p])
    for name, p in unwritable(work, "report").items():
        if name == "out-is-directory":
            continue  # --out is a directory by design
        case("run", "--out " + name, ["-m", card, "-d", ds, "--out", p] + rbase, {1}, [p])
    if have_report:
        for name, p in variants(work, "report", report, emb).items():
            case("compare", "baseline " + name, [p, report], CODES[name], [p])
            case("compare", "other " + name, [report, p], CODES[name], [p])
        for name, p in variants(work, "baseline", report, emb).items():
            case("run", "baseline " + name, ["-m", card, "-d", ds, "--baseline", p] + rbase, CODES[name], [p])
    else:
        results.append(("run", "fixture report", False, "embeval run wrote no report.json"))

    # --- summary -----------------------------------------------------------------
    npass = sum(1 for r in results if r[2])
    nfail = len(results) - npass
    print("\n%-8s %-34s %s" % ("command", "case", "result"))
    for cmd, name, ok, detail in results:
        print("%-8s %-34s %s %s" % (cmd, name, "ok  " if ok else "FAIL", detail[:160]))
    print("\n%d passed, %d failed" % (npass, nfail))
    if not KEEP:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("kept", work)
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
