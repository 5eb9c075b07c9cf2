#!/usr/bin/python3
"""embeval parity driver: embeval's engine against ONNX Runtime (and torch).

Subcommands (run with /usr/bin/python3, Debian's numpy):

  setup-ort --dir D
      Install onnxruntime-node from this directory's package-lock.json into D
      (`npm ci --ignore-scripts`; skipped when D already matches the lockfile).

  run --embeval BIN --models-dir M --node-modules D/node_modules
      [--models a,b] [--opsets 13,17] [--batches 1,4] [--work W] [--threads N]
      [--infer-arg ARG]...
      For every model x opset x batch: a seeded N(0,1) input, `embeval infer`
      and ort_run.js on it, then cosine similarity (every row) >= 0.99999 and
      max|diff| <= 1e-4 * max|ref| (whole output and every row). Prints a table
      and "N passed, M failed"; exits 1 on any failure.

  ort-vs-torch --models-dir M --node-modules D/node_modules [--models a,b]
      Checks the reference itself: ORT on every exported file against torch's
      own output saved by tools/export_models.py (same criteria), plus output
      shape and finiteness.

  inspect --embeval BIN --models-dir M [--models a,b]
      `embeval inspect FILE --json` against models.json: parameters equal to the
      exporter's count (see check_inspect), MACs per image equal to the torch
      hook count within 2%, ResNet-50 within 2% of the published 4.09 GMACs
      minus the removed fc (2048 x 1000 MACs).
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_NAMES = ["resnet50", "efficientnet_b0", "efficientnet_lite0",
               "mobilenet_v3_small", "mobilenet_v3_large", "clip_vit_b32"]

COS_MIN = 0.99999
REL_MAX = 1e-4

# Published ResNet-50 figure (torchvision / He et al.: 4.09 GMACs per 224x224
# image, classifier included); the exported model has no fc layer.
RESNET50_GMACS_PUBLISHED = 4.09e9
RESNET50_FC_MACS = 2048 * 1000


def csv_list(s):
    return [x.strip() for x in s.split(",") if x.strip()]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


# ---------------------------------------------------------------------------
# setup-ort
# ---------------------------------------------------------------------------

def cmd_setup_ort(args):
    os.makedirs(args.dir, exist_ok=True)
    lock = os.path.join(HERE, "package-lock.json")
    want = sha256_file(lock) + sha256_file(os.path.join(HERE, "package.json"))
    stamp = os.path.join(args.dir, ".lock-stamp")
    marker = os.path.join(args.dir, "node_modules", "onnxruntime-node", "package.json")
    try:
        with open(stamp) as f:
            have = f.read().strip()
    except OSError:
        have = ""
    if have == want and os.path.exists(marker):
        print("setup-ort: %s is up to date" % args.dir)
        return 0
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(os.path.join(HERE, name), os.path.join(args.dir, name))
    npm = shutil.which("npm")
    if not npm:
        print("setup-ort: error: npm not found (scripts/install-deps.sh installs it)",
              file=sys.stderr)
        return 1
    # --ignore-scripts: onnxruntime-node's postinstall downloads from a host that is
    # not reachable here; the CPU library ships inside the package.
    cmd = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
    print("setup-ort: %s (in %s)" % (" ".join(cmd), args.dir), flush=True)
    r = subprocess.run(cmd, cwd=args.dir)
    if r.returncode != 0:
        print("setup-ort: error: npm ci failed (exit %d)" % r.returncode, file=sys.stderr)
        return 1
    if not os.path.exists(marker):
        print("setup-ort: error: onnxruntime-node missing after npm ci", file=sys.stderr)
        return 1
    with open(stamp, "w") as f:
        f.write(want + "\n")
    return 0


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------

def compare(out, ref):
    """Returns (ok, min row cosine, max|diff|/max|ref|, worst row rel diff, why)."""
    if out.shape != ref.shape:
        return False, float("nan"), float("nan"), float("nan"), \
            "shape %s, reference %s" % (out.shape, ref.shape)
    if not np.isfinite(ref).all():
        return False, float("nan"), float("nan"), float("nan"), "reference not finite"
    if not np.isfinite(out).all():
        return False, float("nan"), float("nan"), float("nan"), \
            "%d non-finite values" % int((~np.isfinite(out)).sum())
    o = out.astype(np.float64).reshape(out.shape[0], -1)
    r = ref.astype(np.float64).reshape(ref.shape[0], -1)
    cos = []
    row_rel = []
    for a, b in zip(o, r):
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        if na == 0.0 or nb == 0.0:
            cos.append(1.0 if na == nb else 0.0)
        else:
            cos.append(float(a @ b / (na * nb)))
        bm = np.abs(b).max()
        row_rel.append(float(np.abs(a - b).max() / bm) if bm > 0 else float(np.abs(a).max()))
    rmax = np.abs(r).max()
    rel = float(np.abs(o - r).max() / rmax) if rmax > 0 else float(np.abs(o).max())
    cmin = min(cos)
    rrow = max(row_rel)
    why = []
    if cmin < COS_MIN:
        why.append("cosine %.7f < %g (row %d)" % (cmin, COS_MIN, int(np.argmin(cos))))
    if rel > REL_MAX:
        i = np.unravel_index(int(np.argmax(np.abs(o - r))), o.shape)
        why.append("max|diff| %.3g x max|ref| > %g at [%d,%d] (%.6g vs %.6g)"
                   % (rel, REL_MAX, i[0], i[1], o[i], r[i]))
    if rrow > REL_MAX:
        why.append("row max|diff| %.3g x row max|ref| > %g (row %d)"
                   % (rrow, REL_MAX, int(np.argmax(row_rel))))
    return not why, cmin, rel, rrow, "; ".join(why)


def make_input(name, batch):
    seed = (zlib.crc32(name.encode()) + 1000003 * batch) & 0xFFFFFFFF
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, 3, 224, 224)).astype(np.float32)


def first_line(text):
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def run_ort(args, model, x_path, y_path, timeout):
    env = dict(os.environ)
    env["NODE_PATH"] = os.path.abspath(args.node_modules)
    cmd = [args.node, os.path.join(HERE, "ort_run.js"), model, x_path, y_path,
           "--threads", "2"]
    t0 = time.time()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return r, time.time() - t0


def load_manifest(models_dir):
    path = os.path.join(models_dir, "models.json")
    with open(path) as f:
        doc = json.load(f)
    return {(e["name"], e["opset"]): e for e in doc["models"]}


def print_table(rows, header):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    def fmt(r):
        return "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(fmt(r))


# ---------------------------------------------------------------------------
# run: embeval vs ORT
# ---------------------------------------------------------------------------

def cmd_run(args):
    names = csv_list(args.models)
    opsets = [int(o) for o in csv_list(args.opsets)]
    batches = [int(b) for b in csv_list(args.batches)]
    os.makedirs(args.work, exist_ok=True)
    rows = []
    details = []
    passed = failed = 0
    for name in names:
        for batch in batches:
            x = make_input(name, batch)
            x_path = os.path.join(args.work, "%s-b%d-input.npy" % (name, batch))
            np.save(x_path, x)
            for opset in opsets:
                model = os.path.join(args.models_dir, "%s-opset%d.onnx" % (name, opset))
                case = "%s opset%d b%d" % (name, opset, batch)
                tag = "%s-opset%d-b%d" % (name, opset, batch)
                ort_path = os.path.join(args.work, tag + "-ort.npy")
                ev_path = os.path.join(args.work, tag + "-embeval.npy")
                for p in (ort_path, ev_path):
                    if os.path.exists(p):
                        os.unlink(p)
                status, cos, rel, rrow, why, t_ev, t_ort = "FAIL", "-", "-", "-", "", "-", "-"
                try:
                    if not os.path.exists(model):
                        raise RuntimeError("model file missing: %s" % model)
                    r, dt = run_ort(args, model, x_path, ort_path, args.timeout)
                    t_ort = "%.1f" % dt
                    if r.returncode != 0:
                        raise RuntimeError("ort_run.js exit %d: %s"
                                           % (r.returncode, first_line(r.stderr)))
                    cmd = [args.embeval, "infer", model, "--input", x_path, "--output", ev_path]
                    if args.threads:
                        cmd += ["--threads", str(args.threads)]
                    cmd += args.infer_arg
                    t0 = time.time()
                    r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
                    t_ev = "%.1f" % (time.time() - t0)
                    if r.returncode != 0:
                        raise RuntimeError("embeval infer exit %d: %s"
                                           % (r.returncode, first_line(r.stderr) or
                                              first_line(r.stdout)))
                    ok, c, e, er, why = compare(np.load(ev_path), np.load(ort_path))
                    cos, rel, rrow = "%.2e" % (1.0 - c), "%.2e" % e, "%.2e" % er
                    status = "ok" if ok else "FAIL"
                except subprocess.TimeoutExpired as exc:
                    why = "timeout after %ds: %s" % (args.timeout, " ".join(exc.cmd[:2]))
                except (RuntimeError, OSError, ValueError) as exc:
                    why = str(exc)
                if status == "ok":
                    passed += 1
                else:
                    failed += 1
                    details.append("%s: %s" % (case, why))
                rows.append([name, opset, batch, cos, rel, rrow, t_ev, t_ort, status])
                print("parity: %-32s %-4s %s" % (case, status, why), flush=True)
    print()
    print_table(rows, ["model", "opset", "batch", "1-min cos", "maxdiff/max",
                       "row maxdiff/max", "embeval s", "ort s", "result"])
    if details:
        print("\nfailures:")
        for d in details:
            print("  " + d)
    print("\n%d passed, %d failed (criteria: cosine >= %g per row, max|diff| <= %g x max|ref| "
          "overall and per row)" % (passed, failed, COS_MIN, REL_MAX))
    return 1 if failed else 0


# ---------------------------------------------------------------------------
# ort-vs-torch: the reference against the framework
# ---------------------------------------------------------------------------

def cmd_ort_vs_torch(args):
    manifest = load_manifest(args.models_dir)
    names = csv_list(args.models)
    rows = []
    failed = 0
    os.makedirs(args.work, exist_ok=True)
    for (name, opset), e in sorted(manifest.items()):
        if name not in names:
            continue
        model = os.path.join(args.models_dir, e["file"])
        x_path = os.path.join(args.models_dir, e["torch_ref_input"])
        ref = np.load(os.path.join(args.models_dir, e["torch_ref_output"]))
        y_path = os.path.join(args.work, "%s-opset%d-ort-torchref.npy" % (name, opset))
        r, dt = run_ort(args, model, x_path, y_path, args.timeout)
        if r.returncode != 0:
            rows.append([e["file"], "-", "-", "-", "FAIL"])
            print("ort-vs-torch: %s: ort_run.js exit %d: %s"
                  % (e["file"], r.returncode, first_line(r.stderr)))
            failed += 1
            continue
        y = np.load(y_path)
        ok, c, rel, _, why = compare(y, ref)
        if y.shape != (ref.shape[0], e["embedding_dim"]):
            ok, why = False, "output shape %s, expected [%d, %d]" % (
                y.shape, ref.shape[0], e["embedding_dim"])
        rows.append([e["file"], "x".join(map(str, y.shape)), "%.2e" % (1.0 - c), "%.2e" % rel,
                     "ok" if ok else "FAIL"])
        if not ok:
            failed += 1
            print("ort-vs-torch: %s: %s" % (e["file"], why))
    print_table(rows, ["file", "shape", "1-min cos", "maxdiff/max", "result"])
    print("\n%d passed, %d failed" % (len(rows) - failed, failed))
    if not rows:
        print("ort-vs-torch: error: no models found in the manifest", file=sys.stderr)
        return 1
    return 1 if failed else 0


# ---------------------------------------------------------------------------
# inspect: parameter and MAC counts
# ---------------------------------------------------------------------------

def find_key(obj, keys):
    """First value under any of keys (searched depth-first in dicts)."""
    if isinstance(obj, dict):
        for k in keys:
            if k in obj and isinstance(obj[k], (int, float)):
                return obj[k]
        for v in obj.values():
            found = find_key(v, keys)
            if found is not None:
                return found
    return None


def cmd_inspect(args):
    """Parameters: embeval counts the float elements of the file's initializers.
    torch.onnx.export (eval mode) folds every BatchNorm into the preceding Conv:
    BN's gamma and beta (2 x C parameters in torch) become one conv bias (C), and
    the running statistics (buffers, not torch parameters) disappear. So the file
    holds params_torch - bn_channels floats = the manifest's params_folded, which
    the exporter also cross-checks by counting the written initializers
    (onnx_float_elems). Required: inspect == params_folded exactly."""
    manifest = load_manifest(args.models_dir)
    names = csv_list(args.models)
    rows = []
    failed = 0
    for (name, opset), e in sorted(manifest.items()):
        if name not in names:
            continue
        path = os.path.join(args.models_dir, e["file"])
        r = subprocess.run([args.embeval, "inspect", path, "--json"],
                           capture_output=True, text=True, timeout=args.timeout)
        why = []
        params = macs = None
        if r.returncode != 0:
            why.append("embeval inspect exit %d: %s" % (r.returncode, first_line(r.stderr)))
        else:
            try:
                doc = json.loads(r.stdout)
            except ValueError as exc:
                doc = None
                why.append("inspect --json output is not JSON (%s)" % exc)
            if doc is not None:
                params = find_key(doc, ["params", "parameters", "param_count", "num_params"])
                macs = find_key(doc, ["macs_per_image", "macs", "mac_count"])
                if params is None:
                    why.append("no parameter count in inspect --json")
                if macs is None:
                    why.append("no MAC count in inspect --json")
        if params is not None and params != e["params_folded"]:
            why.append("params %d != %d (torch %d - %d BN channels folded; file holds %d floats)"
                       % (params, e["params_folded"], e["params_torch"], e["bn_channels"],
                          e["onnx_float_elems"]))
        if macs is not None and abs(macs - e["macs"]) > 0.02 * e["macs"]:
            why.append("MACs %d differ from torch hook count %d by %.2f%% (> 2%%)"
                       % (macs, e["macs"], 100.0 * (macs - e["macs"]) / e["macs"]))
        pub = "-"
        if name == "resnet50" and macs is not None:
            want = RESNET50_GMACS_PUBLISHED - RESNET50_FC_MACS
            dev = (macs - want) / want
            pub = "%+.2f%%" % (100 * dev)
            if abs(dev) > 0.02:
                why.append("ResNet-50 MACs %d are %.2f%% from the published %.4g (4.09 G - fc)"
                           % (macs, 100 * dev, want))
        rows.append([e["file"],
                     params if params is not None else "-", e["params_folded"], e["params_torch"],
                     macs if macs is not None else "-", e["macs"], pub, "ok" if not why else "FAIL"])
        if why:
            failed += 1
            print("inspect: %s: %s" % (e["file"], "; ".join(why)))
    print_table(rows, ["file", "inspect params", "expected", "torch params",
                       "inspect MACs/img", "torch-hook MACs", "vs published", "result"])
    print("\nexpected params = torch parameters - BatchNorm channels (the exporter folds "
          "each BN's gamma/beta into a conv bias)")
    print("%d passed, %d failed" % (len(rows) - failed, failed))
    if not rows:
        print("inspect: error: no models found in the manifest", file=sys.stderr)
        return 1
    return 1 if failed else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="embeval parity driver")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("setup-ort")
    p.add_argument("--dir", required=True)

    def common(p, embeval=True, ort=True):
        if embeval:
            p.add_argument("--embeval", required=True, help="path of the embeval binary")
        p.add_argument("--models-dir", required=True)
        p.add_argument("--models", default=",".join(MODEL_NAMES))
        if ort:
            p.add_argument("--node-modules", required=True)
            p.add_argument("--node", default=shutil.which("node") or "node")
            p.add_argument("--work", default="parity-work")
        p.add_argument("--timeout", type=int, default=900, help="seconds per process")

    p = sub.add_parser("run")
    common(p)
    p.add_argument("--opsets", default="13,17")
    p.add_argument("--batches", default="1,4")
    p.add_argument("--threads", type=int, default=0,
                   help="pass --threads N to embeval infer (0: its default)")
    p.add_argument("--infer-arg", action="append", default=[],
                   help="extra argument for embeval infer (repeatable), e.g. a "
                        "flag that selects the reference or the fast kernels")
    p = sub.add_parser("ort-vs-torch")
    common(p, embeval=False)
    p = sub.add_parser("inspect")
    common(p, ort=False)

    args = ap.parse_args(argv)
    return {"setup-ort": cmd_setup_ort, "run": cmd_run,
            "ort-vs-torch": cmd_ort_vs_torch, "inspect": cmd_inspect}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
