#!/usr/bin/python3
"""embeval vs ONNX Runtime: latency of the six seed architectures, measured
alternately in the same run (issue 4, item 6).

    /usr/bin/python3 bench/vs_onnxruntime.py [--models-dir DIR] [--lib LIBEMBEVAL.so]
        [--node-modules DIR] [--models a,b] [--opset 17] [--batches 1,8]
        [--threads 2] [--warmup 10] [--runs 30] [--precision fp32|bf16]
        [--gap-ms 500] [--block 1]
        [--markdown FILE] [--times]

For every model and batch size, embeval (through libembeval's public C API,
loaded with ctypes into this process) and onnxruntime-node (a worker process,
bench/vs_onnxruntime_ort.js) are loaded once, warmed up, then timed
ALTERNATELY: one embeval inference, one ORT inference, and so on (with
--block B: B back-to-back inferences of one runtime, then B of the other;
a --gap-ms pause before every block), `--runs` times each, with the same
intra-op thread count and the same input. On a shared, noisy machine this
keeps both under the same conditions; the ratio of the medians is the
figure that matters. Prints a table: model, batch, ORT ms, embeval ms
(median per batch), ratio embeval/ORT, embeval GFLOP/s
(2 x MACs of the plan / median time), and the load times.

Defaults: models from build/models (written by `ctest -R parity.export_models`
or tools/export_models.py), libembeval from build/libembeval.so, ORT from
build/parity-node/node_modules or tests/parity/node_modules.
"""

import argparse
import ctypes
import math
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODELS = ["mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_lite0",
          "efficientnet_b0", "resnet50", "clip_vit_b32"]

EV_MAX_RANK = 8


class EvTensor(ctypes.Structure):
    # include/embeval/common.h: ev_tensor
    _fields_ = [("dtype", ctypes.c_int), ("rank", ctypes.c_int),
                ("dims", ctypes.c_int64 * EV_MAX_RANK), ("data", ctypes.c_void_p)]


class EvModelOptions(ctypes.Structure):
    # include/embeval/model.h: ev_model_options
    _fields_ = [("threads", ctypes.c_int), ("precision", ctypes.c_int),
                ("allow_unsupported", ctypes.c_int), ("reference_only", ctypes.c_int),
                ("max_file_bytes", ctypes.c_int64), ("max_tensor_bytes", ctypes.c_int64),
                ("max_nodes", ctypes.c_int64)]


class EvPlanStats(ctypes.Structure):
    _fields_ = [("macs", ctypes.c_int64), ("arena_bytes", ctypes.c_int64),
                ("n_exec_nodes", ctypes.c_int64), ("n_folded_nodes", ctypes.c_int64)]


def gaussian(n, seed):
    """Same generator as the ORT worker (xorshift32 + Box-Muller)."""
    import numpy as np
    s = seed & 0xFFFFFFFF or 1
    u = np.empty(n + (n & 1), dtype=np.float64)
    for i in range(u.size):
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        u[i] = (s + 0.5) / 4294967296.0
    r = np.sqrt(-2.0 * np.log(u[0::2]))
    t = 2.0 * math.pi * u[1::2]
    out = np.empty(u.size, dtype=np.float32)
    out[0::2] = r * np.cos(t)
    out[1::2] = r * np.sin(t)
    return out[:n]


class Embeval:
    def __init__(self, lib_path):
        self.lib = ctypes.CDLL(lib_path)
        L = self.lib
        L.ev_model_default_options.restype = EvModelOptions
        L.ev_model_new.restype = ctypes.c_void_p
        L.ev_model_new.argtypes = [ctypes.POINTER(EvModelOptions)]
        L.ev_model_free.argtypes = [ctypes.c_void_p]
        L.ev_model_load.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        L.ev_model_errmsg.restype = ctypes.c_char_p
        L.ev_model_errmsg.argtypes = [ctypes.c_void_p]
        L.ev_model_run.argtypes = [ctypes.c_void_p, ctypes.POINTER(EvTensor), ctypes.c_int]
        L.ev_model_plan_stats.argtypes = [ctypes.c_void_p, ctypes.POINTER(EvTensor), ctypes.c_int,
                                          ctypes.POINTER(EvPlanStats), ctypes.c_void_p]
        self._logfn = None

    def verbose(self, level):
        """Print the library's log lines up to `level` (2 info, 3 debug)."""
        LOGFN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)

        def cb(user, lvl, msg):
            if lvl <= level:
                print("  [embeval] " + msg.decode(errors="replace"), flush=True)
        self._logfn = LOGFN(cb)
        self.lib.ev_set_log.argtypes = [LOGFN, ctypes.c_void_p]
        self.lib.ev_set_log(self._logfn, None)

    def open(self, path, batch, threads, bf16, data):
        o = self.lib.ev_model_default_options()
        o.threads = threads
        o.precision = 1 if bf16 else 0
        m = self.lib.ev_model_new(ctypes.byref(o))
        t0 = time.perf_counter()
        if self.lib.ev_model_load(m, path.encode()) != 0:
            raise RuntimeError(self.lib.ev_model_errmsg(m).decode())
        self.data = data  # keep alive
        t = EvTensor()
        t.dtype = 1
        t.rank = 4
        for i, d in enumerate((batch, 3, 224, 224)):
            t.dims[i] = d
        t.data = data.ctypes.data
        self.t = t
        st = EvPlanStats()
        if self.lib.ev_model_plan_stats(m, ctypes.byref(t), 1, ctypes.byref(st), None) != 0:
            raise RuntimeError(self.lib.ev_model_errmsg(m).decode())
        load_ms = (time.perf_counter() - t0) * 1e3
        self.m = m
        return load_ms, st.macs

    def run(self):
        t0 = time.perf_counter()
        if self.lib.ev_model_run(self.m, ctypes.byref(self.t), 1) != 0:
            raise RuntimeError(self.lib.ev_model_errmsg(self.m).decode())
        return (time.perf_counter() - t0) * 1e3

    def close(self):
        self.lib.ev_model_free(self.m)
        self.m = None


class Ort:
    def __init__(self, node, node_modules, path, batch, threads, seed):
        env = dict(os.environ)
        env["NODE_PATH"] = os.path.abspath(node_modules)
        self.p = subprocess.Popen([node, os.path.join(HERE, "vs_onnxruntime_ort.js"), path,
                                   str(batch), str(threads), str(seed)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                  text=True, bufsize=1)
        line = self.p.stdout.readline().split()
        if not line or line[0] != "ready":
            raise RuntimeError("ORT worker failed to start for %s" % path)
        self.load_ms = float(line[1])

    def run(self):
        self.p.stdin.write("run\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("ORT worker died")
        return float(line)

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
        except BrokenPipeError:
            pass
        self.p.wait(timeout=60)


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    fl = line.split(":", 1)[1].split()
                    flags = ", ".join(x for x in ("avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16")
                                      if x in fl)
                    break
    except OSError:
        pass
    return "%s, %d logical CPUs (%s), %s, Linux %s" % (cpu, os.cpu_count() or 0, flags,
                                                      platform.machine(), platform.release())


def find_default(paths):
    for p in paths:
        if os.path.exists(p):
            return p
    return paths[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models-dir", default=os.path.join(ROOT, "build", "models"))
    ap.add_argument("--lib", default=os.path.join(ROOT, "build", "libembeval.so"))
    ap.add_argument("--node-modules", default=None)
    ap.add_argument("--node", default="node")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--opset", default="17")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ev-threads", type=int, default=None,
                    help="threads for embeval only (default: --threads)")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--gap-ms", type=float, default=500.0,
                    help="pause between runs, so that neither runtime's idle threads "
                         "(which spin-wait for a while after a run) steal the CPU from the "
                         "other's measured run (ORT's workers keep spinning for more than 100 ms after a run; default 500)")
    ap.add_argument("--block", type=int, default=1,
                    help="back-to-back runs of one runtime before switching to the other "
                         "(default 1: strict alternation); the gap separates blocks, so with "
                         "e.g. --block 10 most runs are warm, as in an embedding loop")
    ap.add_argument("--markdown", help="also write the table as Markdown to this file")
    ap.add_argument("--times", action="store_true",
                    help="also print every measured time, in run order (diagnostics)")
    ap.add_argument("-v", "--verbose", action="count", default=0,
                    help="print embeval's log (-v info, -vv debug: fast-path decisions)")
    a = ap.parse_args(argv)
    nm = a.node_modules or find_default([os.path.join(ROOT, "build", "parity-node", "node_modules"),
                                         os.path.join(ROOT, "tests", "parity", "node_modules")])
    ev = Embeval(a.lib)
    if a.verbose:
        ev.verbose(1 + a.verbose)
    rows = []
    print("machine: %s" % machine())
    if a.block < 1:
        ap.error("--block must be at least 1")
    print("threads %d, %s, warm-up %d, %d alternating runs each (blocks of %d, %g ms gaps, ORT "
          "spinning %s); times are medians per batch"
          % (a.threads, a.precision, a.warmup, a.runs, a.block, a.gap_ms,
             {"0": "off", "1": "on"}.get(os.environ.get("EV_ORT_SPIN"), "default")))
    hdr = "%-20s %5s %10s %12s %7s %9s %9s %9s" % ("model", "batch", "ORT ms", "embeval ms",
                                                  "ratio", "GFLOP/s", "ORT load", "ev load")
    print(hdr)
    print("-" * len(hdr))
    for name in a.models.split(","):
        path = os.path.join(a.models_dir, "%s-opset%s.onnx" % (name, a.opset))
        if not os.path.exists(path):
            path = os.path.join(a.models_dir, name + ".onnx")
        if not os.path.exists(path):
            print("%-20s missing (%s)" % (name, path))
            continue
        for batch in [int(b) for b in a.batches.split(",")]:
            data = gaussian(batch * 3 * 224 * 224, 42)
            ort = Ort(a.node, nm, path, batch, a.threads, 42)
            ev_load, macs = ev.open(path, batch, a.ev_threads if a.ev_threads else a.threads,
                                    a.precision == "bf16", data)
            gap = a.gap_ms / 1e3
            # warm-up: each runtime in its own block after a gap (strictly
            # alternated warm-up runs let ORT's spinning workers take a core
            # from embeval's runs, which its adaptive-threads policy then
            # answers with its one-thread variant for a while)
            if a.block > 1:
                for run in (ev.run, ort.run):
                    time.sleep(gap)
                    for _ in range(a.warmup):
                        run()
            else:
                for _ in range(a.warmup):
                    ev.run()
                    ort.run()
            te, to = [], []
            sides = [(te, ev.run), (to, ort.run)]
            turn = 0
            while len(te) < a.runs or len(to) < a.runs:
                # alternate which goes first, so neither always follows the
                # other; a block is --block back-to-back runs of one runtime
                for times, run in (sides if turn % 2 else sides[::-1]):
                    time.sleep(gap)
                    for _ in range(min(a.block, a.runs - len(times))):
                        times.append(run())
                turn += 1
            ev.close()
            ort.close()
            if a.times:
                print("  embeval ms: " + " ".join("%.1f" % t for t in te))
                print("  ORT ms:     " + " ".join("%.1f" % t for t in to))
            me, mo = statistics.median(te), statistics.median(to)
            gf = 2.0 * macs / (me * 1e-3) * 1e-9 if me > 0 else 0.0
            row = (name, batch, mo, me, me / mo, gf, ort.load_ms, ev_load)
            rows.append(row)
            print("%-20s %5d %10.2f %12.2f %7.3f %9.1f %9.0f %9.0f" % row, flush=True)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write("| model | batch | ORT ms | embeval ms | ratio | embeval GFLOP/s |\n")
            f.write("|---|---:|---:|---:|---:|---:|\n")
            for r in rows:
                f.write("| %s | %d | %.2f | %.2f | %.3f | %.1f |\n" % r[:6])
    worst = max((r[4] for r in rows), default=float("nan"))
    print("worst ratio embeval/ORT: %.3f" % worst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
