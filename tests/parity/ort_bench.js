'use strict';
// Latency of ONNX Runtime (CPU) on models: median ms per run after warm-up.
//
//   node ort_bench.js [--threads 2] [--batch 1] [--warmup 10] [--iters 30] [--spin 0|1] [--json] MODEL.onnx...
//
// --spin 0 disables ORT's intra-op spin-waiting, so the process CPU time per
// run (cpu, median, all threads) measures work rather than waiting: on a loaded
// machine cpu/threads is a lower bound of the uncontended wall time.
// Input: N(0,1)-like pseudo-random floats of shape [batch, 3, 224, 224] (or the
// model's static shape). Prints one line per model: name, output dims,
// finite check, median/min ms per batch (--json: one JSON object per line with
// model, dims, finite, max_abs, median_ms, min_ms, batch, threads, iters), and
// exits 1 if any output is non-finite.

function usage(msg) {
  if (msg) process.stderr.write(`ort_bench: ${msg}\n`);
  process.stderr.write('usage: node ort_bench.js [--threads N] [--batch B] [--warmup W] [--iters I] MODEL.onnx...\n');
  process.exit(2);
}

function gaussian(n, seed) {
  // xorshift32 + Box-Muller: deterministic, no dependencies.
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const a = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const t = 2 * Math.PI * next();
    a[i] = r * Math.cos(t);
    if (i + 1 < n) a[i + 1] = r * Math.sin(t);
  }
  return a;
}

async function main() {
  const opt = { threads: 2, batch: 1, warmup: 10, iters: 30, spin: 1 };
  const models = [];
  let json = false;
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') {
      json = true;
    } else if (a.startsWith('--')) {
      const k = a.slice(2);
      if (!(k in opt)) usage(`unknown option ${a}`);
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < (k === 'warmup' || k === 'spin' ? 0 : 1)) usage(`${a} needs an integer`);
      opt[k] = v;
    } else {
      models.push(a);
    }
  }
  if (models.length === 0) usage();
  const ort = require('onnxruntime-node');
  let bad = 0;
  for (const path of models) {
    const session = await ort.InferenceSession.create(path, {
      executionProviders: ['cpu'],
      intraOpNumThreads: opt.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      extra: { session: { intra_op: { allow_spinning: String(opt.spin) } } },
    });
    const shape = [opt.batch, 3, 224, 224];
    const n = shape.reduce((x, y) => x * y, 1);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', gaussian(n, 42), shape) };
    let out;
    for (let i = 0; i < opt.warmup; i++) out = await session.run(feeds);
    const times = [];
    const cpus = [];
    for (let i = 0; i < opt.iters; i++) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      out = await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const c = process.cpuUsage(c0);
      cpus.push((c.user + c.system) / 1e3);
    }
    cpus.sort((x, y) => x - y);
    const cpuMed = cpus[Math.floor(cpus.length / 2)];
    times.sort((x, y) => x - y);
    const med = times.length % 2 ? times[(times.length - 1) / 2]
      : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
    const o = out[session.outputNames[0]];
    let finite = true;
    let amax = 0;
    for (const v of o.data) {
      if (!Number.isFinite(v)) finite = false;
      else if (Math.abs(v) > amax) amax = Math.abs(v);
    }
    if (!finite) bad++;
    const name = path.split('/').pop();
    if (json) {
      console.log(JSON.stringify({
        model: path, dims: o.dims.map(Number), finite, max_abs: amax, median_ms: med,
        min_ms: times[0], cpu_ms: cpuMed, batch: opt.batch, threads: opt.threads, iters: opt.iters,
        spin: opt.spin,
      }));
    } else console.log(`${name.padEnd(34)} out [${o.dims.join(',')}] ${finite ? 'finite' : 'NON-FINITE'} `
      + `max|y| ${amax.toPrecision(3).padStart(6)}  median ${med.toFixed(2).padStart(7)} ms  `
      + `min ${times[0].toFixed(2).padStart(7)} ms  cpu ${cpuMed.toFixed(2).padStart(7)} ms  `
      + `(batch ${opt.batch}, ${opt.threads} threads, spin ${opt.spin})`);
    await session.release();
  }
  process.exit(bad ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`ort_bench: error: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
