#!/usr/bin/python3
"""`embeval metrics` on bad input: every case must give its exit code and a
clear one-line message (`embeval: error: <what> (<where>)`) or warning.

Usage: bad_input.py --embeval PATH --workdir DIR
"""
import argparse
import os
import subprocess
import sys

import numpy as np

FAILS = []


def run(exe, args):
    p = subprocess.run([exe, "metrics"] + args, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def expect(name, exe, args, code, stderr_has=(), stdout_has=(), one_line=True):
    rc, out, err = run(exe, args)
    ok = rc == code
    for s in stderr_has:
        ok = ok and s in err
    for s in stdout_has:
        ok = ok and s in out
    if one_line and code in (2, 3):
        lines = [l for l in err.splitlines() if l.startswith("embeval: error: ")]
        ok = ok and len(lines) == 1
    print(f"{'ok  ' if ok else 'FAIL'} {name}: exit {rc} (want {code}); stderr: {err.strip()[:300]}")
    if not ok:
        FAILS.append(name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--embeval", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    exe, wd = a.embeval, a.workdir
    os.makedirs(wd, exist_ok=True)
    P = lambda n: os.path.join(wd, n)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8)).astype(np.float32)
    y = [f"class{i % 4}" for i in range(40)]

    def labels(name, lines, raw=None):
        with open(P(name), "wb") as f:
            f.write(raw if raw is not None else "".join(l + "\n" for l in lines).encode())
        return P(name)

    np.save(P("good.npy"), x)
    good_l = labels("good.txt", y)
    fast = ["--bootstrap", "0", "--kmeans-restarts", "1"]

    expect("good input", exe, ["--embeddings", P("good.npy"), "--labels", good_l] + fast, 0,
           stdout_has=["map"])
    np.save(P("f64.npy"), x.astype(np.float64))
    expect("float64 accepted", exe, ["--embeddings", P("f64.npy"), "--labels", good_l] + fast, 0)

    bad = x.copy()
    bad[7, 3] = np.nan
    bad[9, 0] = np.inf
    np.save(P("nan.npy"), bad)
    expect("NaN row named", exe, ["--embeddings", P("nan.npy"), "--labels", good_l] + fast, 3,
           stderr_has=["row 7", "NaN", "nan.npy"])
    inf = x.copy()
    inf[12, 1] = -np.inf
    np.save(P("inf.npy"), inf)
    expect("Inf row named", exe, ["--embeddings", P("inf.npy"), "--labels", good_l] + fast, 3,
           stderr_has=["row 12", "Inf"])

    z = x.copy()
    z[5] = 0
    z[30] = 0
    np.save(P("zero.npy"), z)
    expect("zero vectors warn", exe, ["--embeddings", P("zero.npy"), "--labels", good_l] + fast,
           0, stderr_has=["warning", "2 zero vectors", "row 5"])

    one = labels("one.txt", ["same"] * 40)
    expect("one class", exe, ["--embeddings", P("good.npy"), "--labels", one] + fast, 3,
           stderr_has=["same label", "'same'", "at least 2 classes"])

    single = labels("single.txt", y[:-1] + ["lonely"])
    expect("class of one item warns", exe,
           ["--embeddings", P("good.npy"), "--labels", single] + fast, 0,
           stderr_has=["warning", "single item", "'lonely'", "excluded"])

    all_single = labels("allsingle.txt", [f"u{i}" for i in range(40)])
    expect("every class a single item", exe,
           ["--embeddings", P("good.npy"), "--labels", all_single] + fast, 3,
           stderr_has=["every class has a single item"])

    short = labels("short.txt", y[:39])
    expect("label count mismatch", exe, ["--embeddings", P("good.npy"), "--labels", short] + fast,
           3, stderr_has=["39 labels", "40 embedding rows"])

    empty_l = labels("empty.txt", [], raw=b"")
    expect("empty labels file", exe, ["--embeddings", P("good.npy"), "--labels", empty_l] + fast,
           3, stderr_has=["empty", "empty.txt"])
    blank = labels("blank.txt", y[:10] + [""] + y[11:])
    expect("empty label line", exe, ["--embeddings", P("good.npy"), "--labels", blank] + fast, 3,
           stderr_has=["empty label on line 11"])
    badutf = labels("badutf.txt", [], raw=("\n".join(y[:5]) + "\n\xff\xfe\n").encode("latin-1") +
                    ("\n".join(y[7:]) + "\n").encode())
    expect("invalid UTF-8 label", exe, ["--embeddings", P("good.npy"), "--labels", badutf] + fast,
           3, stderr_has=["invalid UTF-8 on line 6"])
    crlf = labels("crlf.txt", [], raw="".join(l + "\r\n" for l in y).encode())
    expect("CRLF labels accepted", exe, ["--embeddings", P("good.npy"), "--labels", crlf] + fast, 0)
    utf = labels("utf.txt", [f"café-{i % 4}" for i in range(40)])
    expect("UTF-8 labels in output", exe,
           ["--embeddings", P("good.npy"), "--labels", utf, "--json", "--per-class"] + fast, 0,
           stdout_has=["café-0"])

    open(P("empty.npy"), "wb").close()
    expect("empty .npy file", exe, ["--embeddings", P("empty.npy"), "--labels", good_l] + fast, 3,
           stderr_has=["empty.npy"])
    np.save(P("rows0.npy"), np.zeros((0, 8), np.float32))
    expect(".npy with 0 rows", exe, ["--embeddings", P("rows0.npy"), "--labels", good_l] + fast,
           3, stderr_has=["0 rows"])
    np.save(P("int.npy"), (x * 10).astype(np.int64))
    expect("wrong dtype int64", exe, ["--embeddings", P("int.npy"), "--labels", good_l] + fast, 3,
           stderr_has=["int.npy"])
    np.save(P("f16.npy"), x.astype(np.float16))
    expect("wrong dtype float16", exe, ["--embeddings", P("f16.npy"), "--labels", good_l] + fast,
           3, stderr_has=["f16.npy"])
    with open(P("good.npy"), "rb") as f:
        raw = bytearray(f.read())
    hdr = raw.replace(b"'descr'", b"'dexcr'", 1)
    with open(P("badhdr.npy"), "wb") as f:
        f.write(hdr)
    expect("malformed .npy header", exe, ["--embeddings", P("badhdr.npy"), "--labels", good_l] +
           fast, 3, stderr_has=["badhdr.npy"])
    with open(P("trunc.npy"), "wb") as f:
        f.write(raw[:-100])
    expect("truncated .npy", exe, ["--embeddings", P("trunc.npy"), "--labels", good_l] + fast, 3,
           stderr_has=["trunc.npy"])
    with open(P("notnpy.npy"), "wb") as f:
        f.write(b"hello world, not a numpy file\n" * 4)
    expect("not a .npy", exe, ["--embeddings", P("notnpy.npy"), "--labels", good_l] + fast, 3,
           stderr_has=["notnpy.npy"])
    np.save(P("vec.npy"), x[:, 0].copy())
    expect("1-D array", exe, ["--embeddings", P("vec.npy"), "--labels", good_l] + fast, 3,
           stderr_has=["2-D", "(40)"])
    expect("missing file", exe, ["--embeddings", P("nope.npy"), "--labels", good_l] + fast, 3,
           stderr_has=["nope.npy"])
    expect("missing labels file", exe, ["--embeddings", P("good.npy"), "--labels", P("nope.txt")] +
           fast, 3, stderr_has=["nope.txt"])
    np.save(P("d9.npy"), rng.normal(size=(40, 9)).astype(np.float32))
    expect("train dims mismatch", exe,
           ["--embeddings", P("good.npy"), "--labels", good_l, "--train-embeddings", P("d9.npy"),
            "--train-labels", good_l] + fast, 3, stderr_has=["9 dimensions", "d9.npy"])

    # usage errors: exit 2
    expect("missing --labels", exe, ["--embeddings", P("good.npy")], 2, stderr_has=["required"])
    expect("unknown option", exe, ["--embeddings", P("good.npy"), "--labels", good_l, "--frob"], 2,
           stderr_has=["unknown option '--frob'"])
    expect("bad --k", exe, ["--embeddings", P("good.npy"), "--labels", good_l, "--k", "1,0"], 2,
           stderr_has=["--k"])
    expect("bad --silhouette-metric", exe,
           ["--embeddings", P("good.npy"), "--labels", good_l, "--silhouette-metric", "manhattan"],
           2, stderr_has=["manhattan"])
    expect("option without value", exe, ["--embeddings", P("good.npy"), "--labels"], 2,
           stderr_has=["needs a value"])
    expect("train without labels", exe,
           ["--embeddings", P("good.npy"), "--labels", good_l, "--train-embeddings",
            P("good.npy")], 2, stderr_has=["go together"])
    expect("--help", exe, ["--help"], 0, stdout_has=["--silhouette-sample", "Exit codes"],
           one_line=False)
    if FAILS:
        print(f"{len(FAILS)} case(s) failed: {', '.join(FAILS)}")
        return 1
    print("all bad-input cases passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
