#!/usr/bin/env bash
# Install every Debian package embeval needs to build, test and run its demo.
# Idempotent: packages already present are left alone. Needs root (or sudo).
# Usage: scripts/install-deps.sh [--no-python]   (--no-python skips the Python
# oracle/export packages, which only tests and tools/ need)
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake pkg-config git
  libdnnl-dev            # oneDNN 2.6: convolution/matmul kernels
  libprotobuf-c-dev protobuf-c-compiler  # ONNX parsing (code generated at build time)
  libonnx-dev            # /usr/include/onnx/onnx.proto
  libvips-dev            # image decoding and resizing
  libsqlite3-dev         # embedding cache
  libcjson-dev           # model cards, reports
  liblinear-dev          # linear probe
  zlib1g-dev             # gzip'd IDX files
)
TEST_PKGS=(
  libonnx-testdata       # ONNX backend conformance cases
  dataset-fashion-mnist  # default dataset
  clang libclang-rt-14-dev  # sanitizers and libFuzzer
  chromium               # headless browser for the HTML report test (tests/html)
)
PY_PKGS=(
  python3-torch python3-torchvision python3-sklearn python3-onnx
  python3-numpy python3-pil python3-skimage
  python3-jsonschema     # tests/run: report.json against docs/report.schema.json
)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")
# Node.js + npm run the onnxruntime-node reference. Some images ship a newer
# nodejs that bundles npm (and conflicts with Debian's npm package): keep it.
if ! command -v npm >/dev/null 2>&1; then want+=(nodejs npm); fi
if [[ "${1:-}" != "--no-python" ]]; then want+=("${PY_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all Debian packages present"
fi
