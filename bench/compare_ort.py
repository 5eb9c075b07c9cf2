#!/usr/bin/python3
"""Latency of embeval against ONNX Runtime, measured in the same run.

    /usr/bin/python3 bench/compare_ort.py --embeval BUILD/embeval \\
        --node-modules BUILD/parity-node/node_modules [--threads 2] [--batch 1]
        [--warmup 10] [--runs 30] [--rounds 3] [--embeval-arg ARG]... MODEL.onnx...

For every model, alternately runs ONNX Runtime (tests/parity/ort_bench.js,
intra-op threads = --threads) and `embeval bench --json` (same threads, batch,
warm-up and runs) for --rounds rounds, keeps each side's best median (the
machines are shared and noisy: the best median of interleaved rounds is the
least disturbed estimate) and prints ms per batch and the ratio
embeval / ORT. ORT's install: `tests/parity/parity.py setup-ort --dir D`.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORT_BENCH = os.path.join(ROOT, "tests", "parity", "ort_bench.js")


def run_ort(args, model):
    env = dict(os.environ, NODE_PATH=os.path.abspath(args.node_modules))
    cmd = [args.node, ORT_BENCH, "--json", "--threads", str(args.threads),
           "--batch", str(args.batch), "--warmup", str(args.warmup),
           "--iters", str(args.runs), model]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("ort_bench.js failed on %s: %s" % (model, r.stderr.strip()))
    doc = json.loads(r.stdout.strip().splitlines()[-1])
    return doc["median_ms"]


def run_embeval(args, model):
    cmd = [args.embeval, "bench", model, "--json", "--threads", str(args.threads),
           "--batch", str(args.batch), "--warmup", str(args.warmup),
           "--runs", str(args.runs)] + args.embeval_arg
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("embeval bench failed on %s: %s" % (model, r.stderr.strip()))
    doc = json.loads(r.stdout)
    return doc["batch_ms"]["median"]


def main():
    ap = argparse.ArgumentParser(description="embeval vs ONNX Runtime latency")
    ap.add_argument("--embeval", required=True)
    ap.add_argument("--node-modules", required=True)
    ap.add_argument("--node", default=shutil.which("node") or "node")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--embeval-arg", action="append", default=[])
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()

    print("%-34s %12s %12s %8s" % ("model", "ORT ms", "embeval ms", "ratio"))
    for model in args.models:
        ort = ev = float("inf")
        try:
            for _ in range(args.rounds):
                ort = min(ort, run_ort(args, model))
                ev = min(ev, run_embeval(args, model))
        except RuntimeError as exc:
            print("%-34s error: %s" % (os.path.basename(model), exc))
            continue
        print("%-34s %12.2f %12.2f %8.2f" % (os.path.basename(model), ort, ev, ev / ort),
              flush=True)
    print("(batch %d, %d threads, best median of %d rounds x %d runs; ms per batch; load %s)"
          % (args.batch, args.threads, args.rounds, args.runs,
             open("/proc/loadavg").read().split()[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
