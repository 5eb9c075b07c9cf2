'use strict';
// Minimal NumPy .npy reader/writer for little-endian float32 C-order arrays
// (format versions 1.0, 2.0 and 3.0 read; 1.0 written). Anything else is refused.

const fs = require('fs');

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

function fail(path, what) {
  throw new Error(`${path}: ${what}`);
}

function parseHeader(path, text) {
  // e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (4, 3, 224, 224), }
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) fail(path, `malformed .npy header: ${text.trim()}`);
  if (descr[1] !== '<f4' && descr[1] !== '=f4') fail(path, `dtype ${descr[1]} is not float32 ('<f4')`);
  if (fortran[1] !== 'False') fail(path, 'fortran_order arrays are not supported');
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const out = dims.map((s) => {
    if (!/^\d+$/.test(s)) fail(path, `bad dimension '${s}' in shape`);
    return Number(s);
  });
  return out;
}

function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) fail(path, 'not a .npy file (bad magic)');
  const major = buf[6];
  let hlen;
  let off;
  if (major === 1) {
    hlen = buf.readUInt16LE(8);
    off = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) fail(path, 'truncated header');
    hlen = buf.readUInt32LE(8);
    off = 12;
  } else {
    fail(path, `unsupported .npy version ${major}`);
  }
  if (off + hlen > buf.length) fail(path, 'truncated header');
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', off, off + hlen);
  const shape = parseHeader(path, header);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataOff = off + hlen;
  if (buf.length - dataOff !== count * 4) {
    fail(path, `data has ${buf.length - dataOff} bytes, shape [${shape}] needs ${count * 4}`);
  }
  // Copy into an aligned Float32Array (the data offset need not be 4-aligned).
  const data = new Float32Array(count);
  Buffer.from(data.buffer).set(buf.subarray(dataOff));
  return { shape, data };
}

function writeNpy(path, shape, data) {
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const total = 10 + header.length + 1; // + trailing newline
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  MAGIC.copy(head, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
  const body = Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength);
  fs.writeFileSync(path, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

module.exports = { readNpy, writeNpy };
