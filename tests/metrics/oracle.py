#!/usr/bin/python3
"""Reference test of `embeval metrics` against scikit-learn and brute-force numpy.

Run with Debian's /usr/bin/python3 (numpy + scikit-learn). One case per call:

  ties      +-1 embeddings (16 dims, so every cosine is an exact multiple of 1/16 in
            float32 and float64 alike), planted classes, exact duplicate rows:
            thousands of exact score ties. Every metric must match exactly
            (1e-9), sklearn's tie handling in average_precision_score included.
  planted   float32 Gaussian class structure (no ties); mAP within 1e-6 of the
            mean of per-query sklearn average_precision_score, silhouette within
            1e-5 of sklearn silhouette_score, top-K metrics and kNN exact up to
            pairs the float64 reference sees closer than 1e-6 (counted).
  quantized the planted classes rounded to small integers: the reference
            reproduces embeval's float32 similarities bit for bit, so retrieval
            and kNN must match exactly, ties and a zero vector included.
  gallery   query-vs-gallery protocol on tie-rich data, one query class absent
            from the gallery (excluded queries counted).
Every retrieval case also runs `--metrics topk` (top-L scan without mAP) and
checks the same values against the same reference.
  probe     train/test split: linear probe within 1 point of sklearn
            LogisticRegression(solver="liblinear") tuned the same way (stratified
            20% validation split of train, C grid 1e-3..1e3, refit), kNN
            train-vs-test exact.

NMI/ARI are checked against sklearn on the k-means assignments embeval writes
(--kmeans-assignments-out). Exit status 0 = all checks passed.
"""
import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (adjusted_rand_score, average_precision_score,
                             normalized_mutual_info_score, silhouette_score)
from sklearn.model_selection import train_test_split

FAILS = []


def check(name, got, want, tol):
    ok = got is not None and want is not None and abs(got - want) <= tol
    print(f"{'ok  ' if ok else 'FAIL'} {name}: embeval {got!r} reference {want!r} (tol {tol:g})")
    if not ok:
        FAILS.append(name)


def check_true(name, cond, detail=""):
    print(f"{'ok  ' if cond else 'FAIL'} {name} {detail}")
    if not cond:
        FAILS.append(name)


def write_set(d, stem, x, labels):
    e = os.path.join(d, stem + ".npy")
    l = os.path.join(d, stem + ".txt")
    np.save(e, x)
    with open(l, "w", encoding="utf-8") as f:
        for v in labels:
            f.write(f"c{int(v):03d}\n")
    return e, l


def run_embeval(exe, args):
    cmd = [exe, "metrics", "--json", "--threads", "2"] + args
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stderr)
        raise SystemExit(f"embeval failed ({p.returncode}): {' '.join(cmd)}")
    return json.loads(p.stdout)


def normalize(x):
    x = x.astype(np.float64)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


def f32_scores(q, g):
    """embeval's float32 similarity, bit for bit, for integer-valued rows:
    s = (float32(dot) * inv_q) * inv_g with inv = float32(1 / sqrt(|x|^2)); the
    dot product of small integers is exact in any summation order."""
    q64, g64 = q.astype(np.float64), g.astype(np.float64)
    assert np.all(q64 == np.round(q64)) and np.all(g64 == np.round(g64))
    dot = (q64 @ g64.T).astype(np.float32)

    def inv(x):
        n2 = (x * x).sum(axis=1)
        with np.errstate(divide="ignore"):
            return np.where(n2 > 0, 1.0 / np.sqrt(n2), 0.0).astype(np.float32)

    return (dot * inv(q64)[:, None]) * inv(g64)[None, :]


def retrieval_reference(q, yq, g, yg, loo, ks, S=None):
    """Per-query AP (sklearn), R@K hit-rate, P@K, R-precision, MAP@R
    (ties ordered by gallery index), on float64 cosines unless S is given."""
    if S is None:
        S = normalize(q) @ normalize(g).T
    aps, rk, pk, rp, mr = [], {k: [] for k in ks}, {k: [] for k in ks}, [], []
    excluded = 0
    for i in range(len(q)):
        s, rel = S[i], (yg == yq[i])
        if loo:
            keep = np.arange(len(g)) != i
            s, rel = s[keep], rel[keep]
        R = int(rel.sum())
        if R == 0:
            excluded += 1
            continue
        aps.append(average_precision_score(rel, s))
        order = np.argsort(-s, kind="stable")  # ties: lower gallery index first
        r = rel[order]
        for k in ks:
            rk[k].append(1.0 if r[:k].any() else 0.0)
            pk[k].append(r[:k].sum() / k)
        rp.append(r[:R].sum() / R)
        hits = np.cumsum(r[:R])
        mr.append(float(np.sum(np.where(r[:R], hits / np.arange(1, R + 1), 0.0))) / R)
    out = {"map": np.mean(aps), "r_precision": np.mean(rp), "map_at_r": np.mean(mr),
           "n_excluded": excluded}
    for k in ks:
        out[f"recall_at_{k}"] = np.mean(rk[k])
        out[f"precision_at_{k}"] = np.mean(pk[k])
    return out, S


def knn_reference(q, yq, g, yg, loo, k=20, T=0.07, S=None):
    if S is None:
        S = normalize(q) @ normalize(g).T
    ncls = int(max(yq.max(), yg.max())) + 1
    c1 = cw = c5 = 0
    for i in range(len(q)):
        s = S[i].copy()
        idx = np.arange(len(g))
        if loo:
            keep = idx != i
            s, idx = s[keep], idx[keep]
        order = np.argsort(-s, kind="stable")[:k]
        c1 += yg[idx[order[0]]] == yq[i]
        score = [0.0] * ncls
        for t in order:
            score[yg[idx[t]]] += math.exp(float(s[t]) / T)
        st = score[yq[i]]
        rank = sum(1 for c in range(ncls) if score[c] > st or (score[c] == st and c < yq[i]))
        cw += st > 0 and rank == 0
        c5 += st > 0 and rank < 5
    n = len(q)
    return c1 / n, cw / n, c5 / n


def near_ties(S, q_labels, g_labels, loo, eps):
    """Pairs (relevant, irrelevant) of one query whose float64 scores differ by
    less than eps without being equal: float32 rounding could order them
    differently, so exact top-K comparisons need none near the top."""
    bad = 0
    for i in range(S.shape[0]):
        s = S[i]
        rel = g_labels == q_labels[i]
        if loo:
            keep = np.arange(len(s)) != i
            s, rel = s[keep], rel[keep]
        o = np.argsort(-s, kind="stable")
        ss, rr = s[o], rel[o]
        d = np.abs(np.diff(ss))
        close = (d < eps) & (d > 0) & (rr[1:] != rr[:-1])
        bad += int(close[:64].sum())
    return bad


def planted(rng, n, d, ncls, spread, noise, dup=0.0, integer=False):
    protos = rng.normal(size=(ncls, d))
    y = rng.integers(0, ncls, size=n)
    y[:ncls] = np.arange(ncls)  # every class present
    x = spread * protos[y] + noise * rng.normal(size=(n, d))
    if integer:
        x = np.where(x >= 0, 1.0, -1.0)
    for i in range(1, n):
        if rng.random() < dup:
            j = rng.integers(0, i)
            x[i], y[i] = x[j], y[j]
    return x.astype(np.float32), y


def check_clustering(tag, res, x, y, assign_path, metric="cosine"):
    a = np.load(assign_path)
    check_true(f"{tag} kmeans assignments shape", a.shape == (len(x),))
    check_true(f"{tag} kmeans k", len(np.unique(a)) <= res["kmeans_k"] and res["kmeans_k"] == len(np.unique(y)))
    check(f"{tag} nmi", res["nmi"], normalized_mutual_info_score(y, a), 1e-9)
    check(f"{tag} ari", res["ari"], adjusted_rand_score(y, a), 1e-9)


def compare_retrieval(tag, res, ref, ks, exact, topk_tol=1e-9):
    check(f"{tag} map", res["map"], ref["map"], 1e-9 if exact else 1e-6)
    for key in ["map_at_r", "r_precision"] + [f"recall_at_{k}" for k in ks] + \
               [f"precision_at_{k}" for k in ks]:
        check(f"{tag} {key}", res[key], ref[key], topk_tol)
    check_true(f"{tag} n_excluded", res["n_excluded"] == ref["n_excluded"],
               f"({res['n_excluded']} vs {ref['n_excluded']})")


def check_topk(tag, exe, args, ref, ks, tol, knn=None):
    """The same data through `--metrics topk` (each query's best items only,
    lib/metrics/topk.c): the same values against the same reference, and mAP
    null with a reason."""
    res = run_embeval(exe, args + ["--metrics", "topk,knn" if knn else "topk", "--bootstrap", "0"])
    check_true(f"{tag} topk: map null with a reason", res["map"] is None and "map" in res["reason"])
    for key in ["map_at_r", "r_precision"] + [f"recall_at_{k}" for k in ks] + \
               [f"precision_at_{k}" for k in ks]:
        check(f"{tag} topk {key}", res[key], ref[key], tol)
    check_true(f"{tag} topk n_excluded", res["n_excluded"] == ref["n_excluded"])
    if knn:
        for key, want in zip(["knn_1_accuracy", "knn_20_accuracy", "knn_20_top5_accuracy"], knn):
            check(f"{tag} topk {key}", res[key], want, max(tol, 1e-12))


def case_ties(exe, wd):
    rng = np.random.default_rng(7)
    x, y = planted(rng, 600, 16, 8, 1.0, 1.2, dup=0.1, integer=True)
    e, l = write_set(wd, "ties", x, y)
    km = os.path.join(wd, "ties_km.npy")
    ks = [1, 5, 10]
    res = run_embeval(exe, ["--embeddings", e, "--labels", l, "--kmeans-assignments-out", km,
                            "--bootstrap", "200"])
    ref, S = retrieval_reference(x, y, x, y, True, ks)
    ties = sum(len(S[i]) - len(np.unique(S[i])) for i in range(len(S)))
    check_true("ties: data has many exact score ties", ties > 10000, f"({ties})")
    compare_retrieval("ties", res, ref, ks, True)
    k1, kw, k5 = knn_reference(x, y, x, y, True)
    check("ties knn_1_accuracy", res["knn_1_accuracy"], k1, 1e-12)
    check("ties knn_20_accuracy", res["knn_20_accuracy"], kw, 1e-12)
    check("ties knn_20_top5_accuracy", res["knn_20_top5_accuracy"], k5, 1e-12)
    check_topk("ties", exe, ["--embeddings", e, "--labels", l], ref, ks, 1e-9, (k1, kw, k5))
    check("ties silhouette cosine", res["silhouette"],
          silhouette_score(x.astype(np.float64), y, metric="cosine"), 1e-5)
    check_clustering("ties", res, x, y, km)
    check_true("ties ci95 brackets map", res["ci95"]["map"][0] <= res["map"] <= res["ci95"]["map"][1])
    check_true("ties linear probe null without train", res["linear_probe_accuracy"] is None and
               "linear_probe_accuracy" in res["reason"])
    res2 = run_embeval(exe, ["--embeddings", e, "--labels", l, "--metrics", "silhouette",
                             "--silhouette-metric", "euclidean"])
    check("ties silhouette euclidean", res2["silhouette"],
          silhouette_score(x.astype(np.float64), y, metric="euclidean"), 1e-5)


def case_planted(exe, wd):
    rng = np.random.default_rng(11)
    x, y = planted(rng, 700, 48, 12, 0.35, 1.0)
    e, l = write_set(wd, "planted", x, y)
    km = os.path.join(wd, "planted_km.npy")
    ks = [1, 3, 5, 10, 50]
    res = run_embeval(exe, ["--embeddings", e, "--labels", l, "--k", "1,3,5,10,50",
                            "--kmeans-assignments-out", km, "--bootstrap", "100"])
    ref, S = retrieval_reference(x, y, x, y, True, ks)
    # float64 reference vs float32 engine: a (relevant, irrelevant) pair closer
    # than 1e-6 may be ordered either way; each such pair can move one query's
    # top-K value by at most 1, i.e. a mean by 1/N.
    nt = near_ties(S, y, y, True, 1e-6)
    tol = nt / len(x) + 1e-9
    print(f"     planted map {ref['map']:.4f}, R@1 {ref['recall_at_1']:.4f}, "
          f"{nt} near-ties -> top-K tolerance {tol:.2g}")
    compare_retrieval("planted", res, ref, ks, False, tol)
    k1, kw, k5 = knn_reference(x, y, x, y, True)
    check("planted knn_1_accuracy", res["knn_1_accuracy"], k1, tol)
    check("planted knn_20_accuracy", res["knn_20_accuracy"], kw, tol)
    check("planted knn_20_top5_accuracy", res["knn_20_top5_accuracy"], k5, tol)
    check_topk("planted", exe, ["--embeddings", e, "--labels", l, "--k", "1,3,5,10,50"], ref, ks,
               tol, (k1, kw, k5))
    check("planted silhouette cosine", res["silhouette"],
          silhouette_score(x.astype(np.float64), y, metric="cosine"), 1e-5)
    check_clustering("planted", res, x, y, km)
    res2 = run_embeval(exe, ["--embeddings", e, "--labels", l, "--metrics", "silhouette",
                             "--silhouette-metric", "euclidean", "--threads", "1"])
    check("planted silhouette euclidean", res2["silhouette"],
          silhouette_score(x.astype(np.float64), y, metric="euclidean"), 1e-5)
    # a large common offset: euclidean distances must stay accurate
    xo = x + np.float32(50.0)
    e2, l2 = write_set(wd, "planted_offset", xo, y)
    res3 = run_embeval(exe, ["--embeddings", e2, "--labels", l2, "--metrics", "silhouette",
                             "--silhouette-metric", "euclidean"])
    check("planted+offset silhouette euclidean", res3["silhouette"],
          silhouette_score(xo.astype(np.float64), y, metric="euclidean"), 1e-5)


def case_quantized(exe, wd):
    """Planted classes rounded to small integers (norms vary): the reference
    reproduces embeval's float32 scores exactly, so every metric is exact."""
    rng = np.random.default_rng(13)
    x, y = planted(rng, 800, 48, 12, 0.35, 1.0)
    x = np.round(x * 3).astype(np.float32)
    x[17] = 0  # a zero vector: similarity 0 with everything
    e, l = write_set(wd, "quant", x, y)
    km = os.path.join(wd, "quant_km.npy")
    ks = [1, 2, 5, 10, 100]
    res = run_embeval(exe, ["--embeddings", e, "--labels", l, "--k", "1,2,5,10,100",
                            "--kmeans-assignments-out", km, "--bootstrap", "0",
                            "--threads", "1"])
    S = f32_scores(x, x)
    ref, _ = retrieval_reference(x, y, x, y, True, ks, S=S)
    print(f"     quantized map {ref['map']:.4f}, R@1 {ref['recall_at_1']:.4f}")
    compare_retrieval("quantized", res, ref, ks, True)
    k1, kw, k5 = knn_reference(x, y, x, y, True, S=S)
    check("quantized knn_1_accuracy", res["knn_1_accuracy"], k1, 1e-12)
    check("quantized knn_20_accuracy", res["knn_20_accuracy"], kw, 1e-12)
    check("quantized knn_20_top5_accuracy", res["knn_20_top5_accuracy"], k5, 1e-12)
    check_topk("quantized", exe, ["--embeddings", e, "--labels", l, "--k", "1,2,5,10,100"], ref,
               ks, 1e-9, (k1, kw, k5))
    check("quantized silhouette cosine", res["silhouette"],
          silhouette_score(x.astype(np.float64), y, metric="cosine"), 1e-5)
    check_true("quantized zero vector counted", res["zero_vectors"] == 1)
    check_clustering("quantized", res, x, y, km)


def case_gallery(exe, wd):
    rng = np.random.default_rng(3)
    x, y = planted(rng, 500, 16, 6, 1.0, 1.0, dup=0.05, integer=True)
    q, yq, g, yg = x[:150], y[:150], x[150:], y[150:].copy()
    keep = yg != 5  # class c005 has no gallery item: its queries are excluded
    g, yg = g[keep], yg[keep]
    eq, lq = write_set(wd, "queries", q, yq)
    eg, lg = write_set(wd, "gallery", g, yg)
    ks = [1, 5, 10]
    res = run_embeval(exe, ["--embeddings", eq, "--labels", lq, "--gallery-embeddings", eg,
                            "--gallery-labels", lg, "--metrics", "retrieval"])
    ref, _ = retrieval_reference(q, yq, g, yg, False, ks)
    check_true("gallery protocol", res["protocol"] == "query-gallery")
    check_true("gallery excludes queries of the absent class", ref["n_excluded"] > 0)
    compare_retrieval("gallery", res, ref, ks, True)
    check_topk("gallery", exe, ["--embeddings", eq, "--labels", lq, "--gallery-embeddings", eg,
                                "--gallery-labels", lg], ref, ks, 1e-9)
    check_true("gallery n_queries", res["n_queries"] == len(q) - ref["n_excluded"])


def case_probe(exe, wd):
    rng = np.random.default_rng(5)
    # class structure where test accuracy is flat (within a point) for C in
    # 0.1..1000, so a different validation split cannot move the result much
    x, y = planted(rng, 5000, 32, 10, 0.6, 1.0)
    tr, ytr, te, yte = x[:4000], y[:4000], x[4000:], y[4000:]
    et, lt = write_set(wd, "train", tr, ytr)
    ee, le = write_set(wd, "test", te, yte)
    res = run_embeval(exe, ["--embeddings", ee, "--labels", le, "--train-embeddings", et,
                            "--train-labels", lt, "--metrics", "knn,linear-probe",
                            "--bootstrap", "0"])
    # sklearn, tuned the same way: stratified 20% validation split of train,
    # C on a log grid, ties to the smaller C, refit on all of train
    Xtr, Xte = normalize(tr), normalize(te)
    a, v, ya, yv = train_test_split(Xtr, ytr, test_size=0.2, stratify=ytr, random_state=0)
    best, bestC = -1, None
    for C in [1e-3, 1e-2, 1e-1, 1, 10, 100, 1000]:
        m = LogisticRegression(solver="liblinear", C=C).fit(a, ya)
        acc = (m.predict(v) == yv).mean()
        if acc > best:
            best, bestC = acc, C
    ref = (LogisticRegression(solver="liblinear", C=bestC).fit(Xtr, ytr).predict(Xte) == yte).mean()
    print(f"     sklearn C={bestC} acc {ref:.4f}; embeval C={res['linear_probe_c']}")
    check("probe linear_probe_accuracy (1 point)", res["linear_probe_accuracy"], ref, 0.01)
    check_true("probe accuracy is informative", 0.5 < ref < 0.98, f"({ref:.3f})")
    # same C as embeval chose: must agree closely too
    ref_same = (LogisticRegression(solver="liblinear", C=res["linear_probe_c"]).fit(Xtr, ytr)
                .predict(Xte) == yte).mean()
    check("probe accuracy at embeval's C (1 point)", res["linear_probe_accuracy"], ref_same, 0.01)
    k1, kw, k5 = knn_reference(te, yte, tr, ytr, False)
    check_true("probe knn protocol", res["knn_protocol"] == "train-test")
    check("probe knn_1_accuracy", res["knn_1_accuracy"], k1, 1e-12)
    check("probe knn_20_accuracy", res["knn_20_accuracy"], kw, 1e-12)
    check("probe knn_20_top5_accuracy", res["knn_20_top5_accuracy"], k5, 1e-12)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--embeval", required=True)
    ap.add_argument("--case", required=True, choices=["ties", "planted", "quantized", "gallery", "probe"])
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    {"ties": case_ties, "planted": case_planted, "quantized": case_quantized,
     "gallery": case_gallery,
     "probe": case_probe}[a.case](a.embeval, a.workdir)
    if FAILS:
        print(f"{len(FAILS)} check(s) failed: {', '.join(FAILS)}")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
