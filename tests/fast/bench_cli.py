#!/usr/bin/python3
"""`embeval bench` CLI checks: --help, usage errors, the JSON keys of issue 4
(latency_ms.{median,p90,p99,min}, throughput_ips, load_ms, peak_rss_mib,
size_mib, params, macs, cosine_vs_fp32 with bf16), text output, exit codes.

    bench_cli.py EMBEVAL MODEL.onnx
"""
import json
import math
import subprocess
import sys

fails = 0


def check(cond, what):
    global fails
    if not cond:
        fails += 1
        print("FAIL: " + what)


def run(args):
    p = subprocess.run(args, capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def main():
    exe, model = sys.argv[1], sys.argv[2]
    rc, out, err = run([exe, "bench", "--help"])
    check(rc == 0 and "--precision" in out and "--json" in out, "--help")
    rc, out, err = run([exe, "bench", model, "--runs", "0"])
    check(rc == 2 and err.startswith("embeval: error:"), "--runs 0 is a usage error")
    rc, out, err = run([exe, "bench", model, "--precision", "fp16"])
    check(rc == 2, "--precision fp16 is a usage error")
    rc, out, err = run([exe, "bench", "/nonexistent.onnx"])
    check(rc != 0 and err.count("\n") == 1 and "embeval: error:" in err, "missing model: one error line")
    rc, out, err = run([exe, "bench", model, "--threads", "2", "--runs", "5", "--warmup", "1",
                        "--batch", "3", "--json"])
    check(rc == 0, "bench --json exit 0 (%s)" % err.strip())
    if rc == 0:
        j = json.loads(out)
        for k in ("median", "p90", "p99", "min"):
            v = j["latency_ms"][k]
            check(isinstance(v, (int, float)) and v > 0 and math.isfinite(v), "latency_ms.%s" % k)
        lat = j["latency_ms"]
        check(lat["min"] <= lat["median"] <= lat["p90"] <= lat["p99"], "percentiles ordered")
        for k in ("throughput_ips", "load_ms", "peak_rss_mib", "size_mib", "params", "macs"):
            check(isinstance(j.get(k), (int, float)) and j[k] > 0, k)
        check(j["batch"] == 3 and j["threads"] == 2, "settings echoed")
        check("cosine_vs_fp32" not in j, "no cosine in fp32")
    # other_cpu_share: with one busy-looping process per CPU running beside
    # the benchmark, other processes get a large share of the machine during
    # the latency runs and the measurement must see it (3000 runs of this
    # 0.08 ms model keep the window well above the 50 ms it needs)
    import os, signal
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(os.cpu_count() or 1)]
    try:
        import time
        time.sleep(0.3)
        rc, out, err = run([exe, "bench", model, "--threads", "1", "--runs", "3000", "--warmup", "2",
                            "--json"])
    finally:
        for sp in spinners:
            sp.send_signal(signal.SIGKILL)
            sp.wait()
    check(rc == 0, "bench beside busy loops exit 0 (%s)" % err.strip())
    if rc == 0:
        sh = json.loads(out).get("other_cpu_share")
        check(isinstance(sh, (int, float)) and 0.15 <= sh <= 1.0,
              "other_cpu_share %r sees %d busy processes" % (sh, len(spinners)))
    rc, out, err = run([exe, "bench", model, "--runs", "3", "--warmup", "0"])
    check(rc == 0 and "latency" in out and "ms/image" in out and "peak RSS" in out, "text output")
    has_bf16 = False
    try:
        with open("/proc/cpuinfo") as f:
            has_bf16 = "avx512_bf16" in f.read()
    except OSError:
        pass
    rc, out, err = run([exe, "bench", model, "--runs", "3", "--warmup", "1", "--precision", "bf16",
                        "--json"])
    if has_bf16:
        check(rc == 0, "bf16 runs (%s)" % err.strip())
        if rc == 0:
            c = json.loads(out).get("cosine_vs_fp32")
            check(isinstance(c, (int, float)) and 0.99 <= c <= 1.0000001, "cosine_vs_fp32 %r" % c)
    else:
        check(rc == 1 and "bf16" in err, "bf16 refused with a clear message")
    print("bench_cli: %d failure(s)" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
