#!/usr/bin/python3
"""Benchmark: `embeval metrics` vs scikit-learn, and embeval alone at large N.

Prints a table of wall time, CPU time and peak RSS. Run with Debian's
/usr/bin/python3 (numpy + scikit-learn):

    /usr/bin/python3 bench/metrics_vs_sklearn.py --embeval build/embeval
    /usr/bin/python3 bench/metrics_vs_sklearn.py --embeval build/embeval \\
        --sizes 10000,100000,1000000 --extrapolate-from 20000

Data: N eval rows of d = 512 float32 with 100 planted classes (a Gaussian
prototype per class, scaled by --spread, plus unit noise: mAP ~0.2-0.3,
R@1 ~0.75 at N = 10,000), and a train split of the same size for the kNN
memory and the linear probe.

Per size:
  * N <= --sklearn-max (10,000): silhouette_score(cosine) and a per-query
    average_precision_score loop (leave-one-out mAP, on a precomputed
    similarity matrix) timed in the same run as embeval's silhouette and
    retrieval; the values are compared too.
  * every N: embeval with all metrics (retrieval, silhouette, kNN, k-means,
    linear probe, bootstrap CIs) when N <= --all-max, else `--metrics
    topk,knn,silhouette`: R@K, P@K, R-precision, MAP@R and leave-one-out kNN
    from each query's best items (bf16-screened, exactly re-scored; no
    full-ranking mAP), a sampled silhouette (--silhouette-sample 10000) and
    bootstrap CIs, leave-one-out over all N items.
  * --extrapolate-from Q: for N > --all-max the large run instead uses Q
    queries against the full N-row gallery (query-vs-gallery protocol, same
    per-query work as leave-one-out) and scales the time by N / Q; peak RSS
    is measured for real (the whole gallery is loaded). The table says
    "extrapolated".

Timings on shared machines are noisy: compare ratios from the same run, and
look at CPU time when the machine is busy.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def gen(prefix, n, d, k, seed, spread):
    """n rows of k planted classes (prototypes depend only on k and d, so a
    train split or a query set with the same k shares the classes), written
    in chunks (never more than ~256 MB in RAM)."""
    prefix = f"{prefix}-n{n}-d{d}-k{k}-s{spread:g}-seed{seed}"
    emb, lab = prefix + ".npy", prefix + ".txt"
    if os.path.exists(emb) and os.path.exists(lab):
        return emb, lab
    protos = np.random.default_rng(1000 + k).normal(size=(k, d)).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(emb + ".tmp", mode="w+", dtype=np.float32, shape=(n, d))
    y = np.arange(n) % k if n >= k else rng.integers(0, k, size=n)
    rng.shuffle(y)
    step = 1 << 17
    for a in range(0, n, step):
        b = min(n, a + step)
        out[a:b] = spread * protos[y[a:b]] + rng.normal(size=(b - a, d)).astype(np.float32)
    out.flush()
    del out
    os.replace(emb + ".tmp", emb)
    with open(lab, "w") as f:
        f.write("".join(f"class{int(v):06d}\n" for v in y))
    return emb, lab


class Meter:
    """Wall time, CPU time and peak RSS of one child. Peak RSS comes from
    /usr/bin/time: a child forked from this (large) Python process would
    report the parent's pages as its own high-water mark."""

    @staticmethod
    def run(cmd):
        tf = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"embeval-bench-time-{os.getpid()}")
        t = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-o", tf, "-f", "%M %U %S"] + cmd,
                           capture_output=True)
        wall = time.perf_counter() - t
        if p.returncode != 0:
            sys.stderr.write(p.stderr.decode(errors="replace"))
            raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd)}")
        with open(tf) as f:
            rss_kb, ut, st = f.read().split()[-3:]
        os.unlink(tf)
        out = p.stdout
        return {"wall": wall, "cpu": float(ut) + float(st), "rss": float(rss_kb) / 1024.0,
                "json": json.loads(out) if out.strip().startswith(b"{") else None}


def sklearn_times(emb, lab):
    from sklearn.metrics import average_precision_score, silhouette_score
    X = np.load(emb)
    y = np.array(open(lab).read().split())
    t0, c0 = time.perf_counter(), time.process_time()
    sil = silhouette_score(X, y, metric="cosine")
    sil_t = (time.perf_counter() - t0, time.process_time() - c0)
    t0, c0 = time.perf_counter(), time.process_time()
    Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-30)
    S = Xn @ Xn.T
    aps = []
    idx = np.arange(len(X))
    for i in range(len(X)):
        keep = idx != i
        rel = y[keep] == y[i]
        if rel.any():
            aps.append(average_precision_score(rel, S[i, keep]))
    ap_t = (time.perf_counter() - t0, time.process_time() - c0)
    return {"silhouette": (sil, sil_t), "map": (float(np.mean(aps)), ap_t)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embeval", required=True)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--spread", type=float, default=0.3,
                    help="prototype scale vs unit noise (class separation)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sklearn-max", type=int, default=10000)
    ap.add_argument("--all-max", type=int, default=100000)
    ap.add_argument("--extrapolate-from", type=int, default=0)
    ap.add_argument("--workdir", default="/tmp/embeval-bench-metrics")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    rows = []
    th = ["--threads", str(a.threads)]
    for n in [int(s) for s in a.sizes.split(",")]:
        k = a.classes
        ev = gen(os.path.join(a.workdir, "eval"), n, a.dim, k, 1, a.spread)
        base = [a.embeval, "metrics", "--json", "--embeddings", ev[0], "--labels", ev[1]] + th
        if n <= a.sklearn_max:
            sk = sklearn_times(*ev)
            m = Meter.run(base + ["--metrics", "silhouette"])
            rows.append((n, "silhouette (cosine, exact)", m, sk["silhouette"][1],
                         f"value {m['json']['silhouette']:.6f} vs sklearn {sk['silhouette'][0]:.6f}"))
            m = Meter.run(base + ["--metrics", "retrieval", "--bootstrap", "0"])
            rows.append((n, "mAP (+R@K,P@K,MAP@R), leave-one-out", m, sk["map"][1],
                         f"value {m['json']['map']:.6f} vs sklearn {sk['map'][0]:.6f}"))
        large = n > a.all_max and a.extrapolate_from and n > a.extrapolate_from
        if n <= a.all_max:
            tr = gen(os.path.join(a.workdir, "train"), n, a.dim, k, 2, a.spread)
            m = Meter.run(base + ["--train-embeddings", tr[0], "--train-labels", tr[1]])
            j = m["json"]
            rows.append((n, "all metrics (+train split of N)", m, None,
                         f"mAP {j['map']:.4f} R@1 {j['recall_at_1']:.4f} kNN {j['knn_20_accuracy']:.4f} "
                         f"probe {j['linear_probe_accuracy']:.4f} NMI {j['nmi']:.4f}"))
        else:
            extra = ["--metrics", "topk,knn,silhouette", "--silhouette-sample", "10000",
                     "--bootstrap", "1000"]
            if large:
                q = a.extrapolate_from
                qs = gen(os.path.join(a.workdir, "queries"), q, a.dim, k, 3, a.spread)
                cmd = [a.embeval, "metrics", "--json", "--embeddings", qs[0], "--labels", qs[1],
                       "--gallery-embeddings", ev[0], "--gallery-labels", ev[1]] + th + extra
                m = Meter.run(cmd)
                f = n / q
                m["wall"] *= f
                m["cpu"] *= f
                rows.append((n, f"top-K retrieval + sampled silhouette (extrapolated x{f:g} "
                                f"from {q} queries)", m, None,
                             f"R@1 {m['json']['recall_at_1']:.4f} MAP@R {m['json']['map_at_r']:.4f}"))
            else:
                m = Meter.run(base + extra)
                j = m["json"]
                rows.append((n, "top-K retrieval + kNN + sampled silhouette", m, None,
                             f"R@1 {j['recall_at_1']:.4f} MAP@R {j['map_at_r']:.4f} "
                             f"kNN {j['knn_20_accuracy']:.4f} sil {j['silhouette']:.4f}"))
        for r in rows:
            if r[0] == n:
                print(f"  done: N={n} {r[1]}: {r[2]['wall']:.1f} s", file=sys.stderr)
    print(f"\nembeval metrics vs scikit-learn (d={a.dim}, {a.classes} classes, spread {a.spread:g}, "
          f"{a.threads} threads; sklearn: BLAS threads as configured)\n")
    print(f"| {'N':>9} | {'what':<58} | {'embeval wall s':>14} | {'embeval CPU s':>13} | "
          f"{'peak RSS MiB':>12} | {'sklearn wall s':>14} | {'speed-up':>8} | notes")
    print(f"|{'-' * 11}|{'-' * 60}|{'-' * 16}|{'-' * 15}|{'-' * 14}|{'-' * 16}|{'-' * 10}|------")
    for n, what, m, sk, note in rows:
        skw = f"{sk[0]:.2f}" if sk else "-"
        sp = f"{sk[0] / m['wall']:.1f}x" if sk else "-"
        print(f"| {n:>9,} | {what:<58} | {m['wall']:>14.2f} | {m['cpu']:>13.2f} | "
              f"{m['rss']:>12.0f} | {skw:>14} | {sp:>8} | {note}")


if __name__ == "__main__":
    main()
