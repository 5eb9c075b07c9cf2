'use strict';
// Reference runner: ONNX Runtime (onnxruntime-node, CPU) on one input.
//
//   node ort_run.js MODEL.onnx IN.npy OUT.npy [--threads N]
//
// IN.npy: float32 array fed to the model's first input; OUT.npy: the first
// output, float32. intraOpNumThreads defaults to 2. Exit 0 on success, 1 on
// a runtime failure, 2 on usage errors.
//
// onnxruntime-node is resolved normally or through NODE_PATH (the parity
// driver installs it with `npm ci --ignore-scripts` into the build tree).

const { readNpy, writeNpy } = require('./npy.js');

function usage(msg) {
  if (msg) process.stderr.write(`ort_run: ${msg}\n`);
  process.stderr.write('usage: node ort_run.js MODEL.onnx IN.npy OUT.npy [--threads N]\n');
  process.exit(2);
}

async function main() {
  const pos = [];
  let threads = 2;
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--threads') {
      threads = Number(argv[++i]);
      if (!Number.isInteger(threads) || threads < 1) usage('--threads needs a positive integer');
    } else if (argv[i].startsWith('--')) {
      usage(`unknown option ${argv[i]}`);
    } else {
      pos.push(argv[i]);
    }
  }
  if (pos.length !== 3) usage();
  const [modelPath, inPath, outPath] = pos;

  const ort = require('onnxruntime-node');
  const input = readNpy(inPath);
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = {};
  feeds[session.inputNames[0]] = new ort.Tensor('float32', input.data, input.shape);
  const outName = session.outputNames[0];
  const result = await session.run(feeds, [outName]);
  const out = result[outName];
  if (out.type !== 'float32') throw new Error(`output ${outName} has type ${out.type}, not float32`);
  writeNpy(outPath, out.dims.map(Number), out.data);
}

main().catch((e) => {
  process.stderr.write(`ort_run: error: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
