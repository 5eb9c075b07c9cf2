'use strict';
// ONNX Runtime worker for bench/vs_onnxruntime.py.
//
//   NODE_PATH=.../node_modules node vs_onnxruntime_ort.js MODEL.onnx BATCH THREADS SEED
//
// Loads MODEL.onnx into an ORT CPU session (intra-op threads = THREADS,
// inter-op 1, sequential, all graph optimisations), feeds a seeded
// pseudo-random [BATCH, 3, 224, 224]-like input (the model's first input,
// dynamic first axis = BATCH), prints "ready LOAD_MS", then answers one line
// per command on stdin:
//   run    -> one inference, prints its wall time in ms (session.run only)
//   quit   -> exits
const readline = require('readline');

function gaussian(n, seed) {
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
  const [path, batchS, threadsS, seedS] = process.argv.slice(2);
  if (!path) {
    process.stderr.write('usage: vs_onnxruntime_ort.js MODEL.onnx BATCH THREADS SEED\n');
    process.exit(2);
  }
  const batch = Number(batchS || 1), threads = Number(threadsS || 2), seed = Number(seedS || 42);
  const spin = process.env.EV_ORT_SPIN === undefined ? null : process.env.EV_ORT_SPIN;
  const ort = require('onnxruntime-node');
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(path, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    ...(spin === null ? {} : { extra: { session: { intra_op: { allow_spinning: spin } } } }),
  });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const shape = [batch, 3, 224, 224];
  const n = shape.reduce((x, y) => x * y, 1);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', gaussian(n, seed), shape) };
  process.stdout.write(`ready ${loadMs.toFixed(3)}\n`);
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const cmd = line.trim();
    if (cmd === 'run') {
      const s = process.hrtime.bigint();
      await session.run(feeds);
      process.stdout.write(`${(Number(process.hrtime.bigint() - s) / 1e6).toFixed(4)}\n`);
    } else if (cmd === 'quit') {
      break;
    }
  }
  await session.release();
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`vs_onnxruntime_ort: error: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
