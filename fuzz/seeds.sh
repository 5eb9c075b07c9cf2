#!/usr/bin/env bash
# fuzz/seeds.sh NAME DIR — write a small seed corpus for harness NAME into DIR.
# Seeds are generated at fuzz time (nothing big is committed): ONNX models
# from ONNX's node tests (package libonnx-testdata) and the repository's tiny
# models; images, manifests, cards, IDX and CIFAR files written here. Uses
# Debian's /usr/bin/python3 (numpy, PIL) where a generator is easier in Python.
set -euo pipefail
name=$1; out=$2
root=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
mkdir -p "$out"
case "$name" in
onnx)
  td=/usr/share/libonnx-testdata/data
  if [[ -d $td ]]; then
    i=0
    # every node test model (small), plus the small converted models
    while IFS= read -r f; do
      cp "$f" "$out/node-$i.onnx"; i=$((i + 1))
    done < <(find "$td/node" "$td/simple" "$td/pytorch-operator" -name model.onnx -size -64k | sort)
    while IFS= read -r f; do
      cp "$f" "$out/conv-$i.onnx"; i=$((i + 1))
    done < <(find "$td/pytorch-converted" -name model.onnx -size -256k | sort)
  fi
  for f in "$root"/models/*.onnx; do [[ -f $f && $(stat -c %s "$f") -lt 1000000 ]] && cp "$f" "$out/"; done
  ;;
npy)
  $py - "$out" <<'PY'
import sys, numpy as np
o = sys.argv[1]
np.save(f"{o}/f4.npy", np.arange(12, dtype="<f4").reshape(3, 4))
np.save(f"{o}/f8.npy", np.linspace(0, 1, 5))
np.save(f"{o}/i8.npy", np.arange(6, dtype=np.int64).reshape(2, 3, 1))
np.save(f"{o}/u1.npy", np.arange(7, dtype=np.uint8))
np.save(f"{o}/fortran.npy", np.asfortranarray(np.ones((2, 3), dtype="<f4")))
np.save(f"{o}/be.npy", np.arange(4, dtype=">f4"))
np.save(f"{o}/scalar.npy", np.float32(3))
np.save(f"{o}/empty.npy", np.zeros((0, 4), dtype="<f4"))
PY
  ;;
manifest)
  # last byte of each seed selects the format (odd = JSONL), as the harness reads it
  printf 'path,label,split\na.jpg,cat,train\nb/c.png,dog,test\n"q,""x"".jpg",cat,val\n\x00' > "$out/csv1"
  printf 'x.jpg,1\ny.jpg,0\nz.jpg,10\n\x04' > "$out/csv2"
  printf 'path,label\n"multi\nline.jpg",a\n../up.jpg,b\n/abs.jpg,c\n\x02' > "$out/csv3"
  printf '{"path":"a.jpg","label":"cat","split":"train"}\n{"path":"d/b.png","label":2,"extra":[1,{"k":null}]}\n\x01' > "$out/jsonl1"
  printf '{"path":"\\u00e9.jpg","label":"\\u4e2d"}\r\n\n{"path":"../x.jpg","label":"a"}\n\x03' > "$out/jsonl2"
  ;;
card)
  for f in "$root"/models/*.json; do [[ -f $f ]] && cp "$f" "$out/"; done
  printf '{"embeval_card":1,"name":"t","file":"t.onnx","preprocess":{"resize":[32,48],"interpolation":"nearest","crop_pct":0.9,"channel_order":"BGR","range":"0-255","mean":[1,2,3],"std":[1,1,1],"layout":"NHWC"}}' > "$out/exact.json"
  ;;
idx)
  $py - "$out" <<'PY'
import sys, struct
o = sys.argv[1]
def seed(path, n, r, c, labels=None):
    img = struct.pack(">IIII", 0x803, n, r, c) + bytes((i * 7) & 255 for i in range(n * r * c))
    lab = struct.pack(">II", 0x801, n) + bytes(labels or [i % 10 for i in range(n)])
    open(path, "wb").write(struct.pack("<H", len(img)) + img + lab)
seed(f"{o}/mnist4", 4, 28, 28)
seed(f"{o}/tiny", 3, 8, 8, [0, 9, 3])
seed(f"{o}/one", 1, 1, 1)
PY
  ;;
cifar)
  $py - "$out" <<'PY'
import sys
o = sys.argv[1]
def rec(label, extra=b""): return extra + bytes([label]) + bytes((label * 31 + i) & 255 for i in range(3072))
open(f"{o}/c10", "wb").write(b"".join(rec(i % 10) for i in range(3)) + b"\x00")
open(f"{o}/c100", "wb").write(b"".join(bytes([i % 20]) + rec(i % 100) for i in range(2)) + b"\x01")
open(f"{o}/c100c", "wb").write(b"".join(bytes([i % 20]) + rec(i % 100) for i in range(2)) + b"\x03")
PY
  ;;
image)
  $py - "$out" <<'PY'
import sys, io
from PIL import Image
o = sys.argv[1]
def save(name, im, fmt, sel, **kw):
    b = io.BytesIO(); im.save(b, fmt, **kw)
    open(f"{o}/{name}", "wb").write(b.getvalue() + bytes([sel]))
rgb = Image.new("RGB", (37, 23))
for y in range(23):
    for x in range(37): rgb.putpixel((x, y), (x * 7 & 255, y * 11 & 255, (x * y) & 255))
save("rgb.jpg", rgb, "JPEG", 0x00, quality=80)
save("rgb-fast.jpg", rgb.resize((300, 200)), "JPEG", 0x13, quality=70)
save("prog.jpg", rgb, "JPEG", 0x22, progressive=True)
save("rgb.png", rgb, "PNG", 0x32)
save("grey.png", rgb.convert("L"), "PNG", 0x40)
save("pal.png", rgb.convert("P"), "PNG", 0x52)
save("rgba.png", rgb.convert("RGBA"), "PNG", 0x02)
save("la.png", rgb.convert("LA"), "PNG", 0x10)
save("i16.png", rgb.convert("L").convert("I"), "PNG", 0x22)
save("rgb.webp", rgb, "WEBP", 0x30)
save("rgb.gif", rgb.convert("P"), "GIF", 0x42)
save("rgb.tif", rgb, "TIFF", 0x50)
save("rgb.ppm", rgb, "PPM", 0x02)
save("cmyk.jpg", rgb.convert("CMYK"), "JPEG", 0x12)
ex = Image.Exif(); ex[0x0112] = 6
save("rot.jpg", rgb, "JPEG", 0x20, exif=ex.tobytes())
PY
  ;;
*) ;;
esac
