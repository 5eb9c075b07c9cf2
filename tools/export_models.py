#!/usr/bin/python3
"""Export embeval's six seed architectures to ONNX (random weights, fixed seed).

Run with Debian's Python (python3-torch 1.13, python3-torchvision 0.14):

    /usr/bin/python3 tools/export_models.py --out DIR [--opsets 13,17]
        [--models a,b] [--plain-names] [--if-stale]

Writes DIR/<name>-opset<N>.onnx for every model and opset (with --plain-names and
a single opset: DIR/<name>.onnx) and DIR/models.json, a manifest that is an
independent oracle for `embeval inspect` (parameter counts by torch, MACs counted
by forward hooks, embedding dimension).

No pretrained weights can be downloaded here, so every model is randomly
initialised from a fixed seed (torch.manual_seed per model). The graphs are the
real architectures; only the numbers are random. To make the numbers exercise
the engine (and stay finite through 50+ layers):

* BatchNorm gets random affine parameters (gamma in [0.6, 1.4], beta ~ N(0, 0.1);
  gamma halved for the BN that ends a residual branch, see randomise_affine)
  and non-trivial running statistics: during one calibration forward pass in eval
  mode (seeded N(0,1) images, batch 4, one thread) a pre-hook on every BatchNorm
  measures its actual input mean/variance per channel and sets
      running_mean = mean + 0.1 * std * N(0,1),  running_var = var * U(0.8, 1.25).
  Every BN therefore normalises its input to roughly unit scale (activations
  neither explode nor vanish), yet its statistics are far from the default 0/1,
  so BN folding (by the exporter or by the engine) is really tested.
* LayerNorm (CLIP) gets gamma in [0.8, 1.2] and beta ~ N(0, 0.05); all biases that
  PyTorch initialises to zero get N(0, 0.02) so bias addition is exercised.

Embedding (the output named "embedding", shape [batch, D]; input "input",
[batch, 3, 224, 224]; the batch axis is dynamic):

* resnet50          2048: avgpool output flattened (the input of the removed fc).
* efficientnet_b0   1280: avgpool output flattened (input of the removed
                          classifier Dropout+Linear).
* efficientnet_lite0 1280: same position (head conv 1x1 320->1280 + BN + ReLU6,
                          global average pool, flatten).
* mobilenet_v3_small 576: avgpool output flattened, i.e. the input of the removed
                          classifier (Linear 576->1024, Hardswish, Dropout, Linear).
* mobilenet_v3_large 960: same position (classifier Linear 960->1280 ... removed).
* clip_vit_b32       512: ln_post(class token) @ proj, open_clip's image embedding
                          (before any L2 normalisation).

Manifest fields per file: file, name, opset, embedding_dim, params_torch
(sum(p.numel() for p in model.parameters())), bn_channels (sum of num_features
over BatchNorm layers), params_folded (params_torch - bn_channels: what the ONNX
file holds after the exporter folds each BN's gamma/beta (2C) into a conv bias
(C); the BN running statistics are buffers, not parameters), onnx_float_elems
(float elements over all initializers of the written file, counted with the onnx
package), macs (multiply-accumulates per image of Conv/Linear/attention matmuls,
counted by forward hooks), seed, sha256, bytes, torch_ref_input/torch_ref_output
(DIR/ref/<name>-input.npy, a seeded N(0,1) batch of 2, and torch's own output
on it in eval mode: lets tests check the reference runtime against torch).
"""

import argparse
import hashlib
import json
import math
import os
import sys
import tempfile
import time
import zlib

import numpy as np
import torch
import torch.nn as nn
import torchvision

MODEL_NAMES = [
    "resnet50",
    "efficientnet_b0",
    "efficientnet_lite0",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "clip_vit_b32",
]

EMBED_DIMS = {
    "resnet50": 2048,
    "efficientnet_b0": 1280,
    "efficientnet_lite0": 1280,
    "mobilenet_v3_small": 576,
    "mobilenet_v3_large": 960,
    "clip_vit_b32": 512,
}

MANIFEST = "models.json"
STAMP = ".export-stamp"


def model_seed(name):
    """Fixed per-model seed, stable across Python runs (crc32 of the name)."""
    return zlib.crc32(name.encode("ascii")) & 0x7FFFFFFF


# ---------------------------------------------------------------------------
# EfficientNet-Lite0 (published definition: EfficientNet-B0 without squeeze-
# excitation, ReLU6 instead of SiLU, stem 32 and head 1280 fixed).
# ---------------------------------------------------------------------------

def _conv_bn_act(cin, cout, k, stride=1, groups=1, act=True):
    layers = [
        nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout, eps=1e-3),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class LiteMBConv(nn.Module):
    """Inverted residual without SE: [expand 1x1] -> depthwise kxk -> project 1x1."""

    def __init__(self, cin, cout, k, stride, expand):
        super().__init__()
        mid = cin * expand
        layers = []
        if expand != 1:
            layers.append(_conv_bn_act(cin, mid, 1))
        layers.append(_conv_bn_act(mid, mid, k, stride, groups=mid))
        layers.append(_conv_bn_act(mid, cout, 1, act=False))
        self.block = nn.Sequential(*layers)
        self.use_res = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.use_res else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 (TF "efficientnet-lite0", as timm's efficientnet_lite0):
    stem conv 3x3/2 -> 32, BN, ReLU6; the 16 MBConv blocks of B0 without
    squeeze-excitation and with ReLU6 (first block: depthwise 3x3 + project, no
    expansion); head conv 1x1 320 -> 1280, BN, ReLU6; global average pool.
    BatchNorm eps 1e-3 (the TF definition). 3,371,008 parameters without the
    classifier (timm's 4.65M minus its 1280x1000+1000 head)."""

    # (expand, kernel, stride, in, out, repeats): EfficientNet-B0's block table.
    CONFIG = [
        (1, 3, 1, 32, 16, 1),
        (6, 3, 2, 16, 24, 2),
        (6, 5, 2, 24, 40, 2),
        (6, 3, 2, 40, 80, 3),
        (6, 5, 1, 80, 112, 3),
        (6, 5, 2, 112, 192, 4),
        (6, 3, 1, 192, 320, 1),
    ]

    def __init__(self):
        super().__init__()
        layers = [_conv_bn_act(3, 32, 3, 2)]  # stem fixed at 32
        for expand, k, stride, cin, cout, reps in self.CONFIG:
            for i in range(reps):
                layers.append(LiteMBConv(cin if i == 0 else cout, cout, k,
                                         stride if i == 0 else 1, expand))
        layers.append(_conv_bn_act(320, 1280, 1))  # head fixed at 1280
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return torch.flatten(x, 1)


# ---------------------------------------------------------------------------
# CLIP ViT-B/32 image tower, open_clip layout.
# ---------------------------------------------------------------------------

class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads, mlp_width):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, mlp_width))
        self.mlp.add_module("gelu", QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(mlp_width, width))

    def forward(self, x):
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        x = x + self.mlp(self.ln_2(x))
        return x


class ClipVisionTransformer(nn.Module):
    def __init__(self, image_size=224, patch_size=32, width=768, layers=12,
                 heads=12, mlp_width=3072, output_dim=512):
        super().__init__()
        grid = image_size // patch_size
        scale = width ** -0.5
        self.conv1 = nn.Conv2d(3, width, patch_size, patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = nn.Sequential(
            *[ResidualAttentionBlock(width, heads, mlp_width) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x):
        x = self.conv1(x)                                  # [N, width, grid, grid]
        x = x.reshape(x.shape[0], x.shape[1], -1)          # [N, width, grid**2]
        x = x.permute(0, 2, 1)                             # [N, grid**2, width]
        cls = self.class_embedding.view(1, 1, -1).expand(x.shape[0], -1, -1)
        x = torch.cat([cls.to(x.dtype), x], dim=1)         # [N, grid**2 + 1, width]
        x = x + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x)
        x = self.transformer(x)
        x = self.ln_post(x[:, 0, :])
        return x @ self.proj


# ---------------------------------------------------------------------------
# Building, initialising, counting.
# ---------------------------------------------------------------------------

def build(name):
    tv = torchvision.models
    if name == "resnet50":
        m = tv.resnet50(weights=None)
        m.fc = nn.Identity()
    elif name == "efficientnet_b0":
        m = tv.efficientnet_b0(weights=None)
        m.classifier = nn.Identity()
    elif name == "efficientnet_lite0":
        m = EfficientNetLite0()
    elif name == "mobilenet_v3_small":
        m = tv.mobilenet_v3_small(weights=None)
        m.classifier = nn.Identity()
    elif name == "mobilenet_v3_large":
        m = tv.mobilenet_v3_large(weights=None)
        m.classifier = nn.Identity()
    elif name == "clip_vit_b32":
        m = ClipVisionTransformer()
    else:
        raise ValueError("unknown model %r" % name)
    return m


def randomise_affine(model, gen):
    """Random BN/LN affine parameters and non-zero biases (all seeded by gen)."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=gen) * 0.8 + 0.6)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.1)
            elif isinstance(mod, nn.LayerNorm):
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=gen) * 0.4 + 0.8)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.05)
            elif isinstance(mod, (nn.Linear, nn.Conv2d)) and mod.bias is not None:
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.02)
            elif isinstance(mod, nn.MultiheadAttention):
                mod.in_proj_bias.copy_(torch.randn(mod.in_proj_bias.shape, generator=gen) * 0.02)
        # Halve gamma of the last BN of every residual branch (in the spirit of
        # torchvision's zero_init_residual). Randomly initialised BN networks are
        # chaotic: without this, rounding differences grow about 1.3x per ResNet
        # block and ResNet-50's fp32 output is only ~3e-5 x max|y| away from its
        # own fp64 result, too close to the 1e-4 parity tolerance. With it: ~6e-6.
        for mod in model.modules():
            bn = residual_branch_bn(mod)
            if bn is not None:
                bn.weight.mul_(0.5)


def residual_branch_bn(mod):
    """The BatchNorm ending the residual branch of a residual block (every ResNet
    Bottleneck; torchvision MBConv/InvertedResidual and LiteMBConv when they have
    the identity shortcut), or None."""
    if isinstance(mod, torchvision.models.resnet.Bottleneck):
        return mod.bn3
    if getattr(mod, "use_res_connect", False) or getattr(mod, "use_res", False):
        bns = [m for m in mod.block.modules() if isinstance(m, nn.BatchNorm2d)]
        return bns[-1] if bns else None
    return None


def calibrate_bn(model, gen):
    """One eval-mode pass; each BN's pre-hook sets its running stats from its
    actual input (perturbed), so downstream layers see the perturbed statistics."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return

    def hook(mod, inputs):
        x = inputs[0].detach()
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=False)
        c = mean.numel()
        noise = torch.randn(c, generator=gen)
        factor = torch.exp((torch.rand(c, generator=gen) * 2 - 1) * math.log(1.25))
        mod.running_mean.copy_(mean + 0.1 * var.sqrt() * noise)
        mod.running_var.copy_((var * factor).clamp_min(1e-4))

    handles = [m.register_forward_pre_hook(hook) for m in bns]
    x = torch.randn((4, 3, 224, 224), generator=gen)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # keep the reductions' order fixed (determinism)
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        torch.set_num_threads(threads)
        for h in handles:
            h.remove()


def count_macs(model, name):
    """MACs per image of Conv2d, Linear and attention matmuls (forward hooks)."""
    total = [0]

    def conv_hook(mod, inp, out):
        k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups)
        total[0] += out[0].numel() * k  # out[0]: the first image

    def linear_hook(mod, inp, out):
        total[0] += (out[0].numel() // mod.out_features) * mod.in_features * mod.out_features

    def mha_hook(mod, inp, out):
        q = inp[0][0]  # [L, E] for one image (batch_first)
        seq, emb = q.shape
        total[0] += seq * emb * 3 * emb      # in projection
        total[0] += 2 * seq * seq * emb      # QK^T and AV over all heads
        total[0] += seq * emb * emb          # out projection (NonDynamicallyQuantizableLinear
        # is a Linear but MHA calls F.linear on its weight, so its hook never fires)

    handles = []
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            handles.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.Linear) and not isinstance(
                mod, nn.modules.linear.NonDynamicallyQuantizableLinear):
            handles.append(mod.register_forward_hook(linear_hook))
        elif isinstance(mod, nn.MultiheadAttention):
            handles.append(mod.register_forward_hook(mha_hook))
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 224, 224))
    for h in handles:
        h.remove()
    macs = total[0]
    if name == "clip_vit_b32":
        macs += out.shape[1] * 768  # ln_post(cls) @ proj
    return macs


def onnx_float_elems(path):
    import onnx
    m = onnx.load(path, load_external_data=False)
    floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16,
              onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16)
    n = 0
    for t in m.graph.initializer:
        if t.data_type in floats:
            n += math.prod(t.dims)
    return n


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def prepare(name):
    seed = model_seed(name)
    torch.manual_seed(seed)
    model = build(name)
    gen = torch.Generator().manual_seed(seed ^ 0x5EED)
    randomise_affine(model, gen)
    calibrate_bn(model, gen)
    model.eval()
    return model, seed


def check_output(model, name):
    x = torch.randn((2, 3, 224, 224), generator=torch.Generator().manual_seed(1234))
    with torch.no_grad():
        y = model(x)
    if tuple(y.shape) != (2, EMBED_DIMS[name]):
        raise RuntimeError("%s: output shape %s, expected (2, %d)"
                           % (name, tuple(y.shape), EMBED_DIMS[name]))
    if not torch.isfinite(y).all():
        raise RuntimeError("%s: non-finite output" % name)
    amax = y.abs().max().item()
    std = y.std().item()
    if not (1e-3 < std < 1e3 and amax < 1e4):
        raise RuntimeError("%s: output scale out of range (std %g, max|y| %g)"
                           % (name, std, amax))
    # Rows must differ: a collapsed embedding would make parity meaningless.
    cos = torch.nn.functional.cosine_similarity(y[0], y[1], dim=0).item()
    return std, amax, cos, x.numpy(), y.numpy()


def export(model, path, opset):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".onnx", dir=d)
    os.close(fd)
    try:
        x = torch.randn((1, 3, 224, 224), generator=torch.Generator().manual_seed(0))
        # Grad mode stays enabled: torch 1.13 cannot export nn.MultiheadAttention
        # under no_grad or with parameters that do not require grad: either selects
        # the fused fast path (aten::_native_multi_head_attention), which has no
        # ONNX symbolic. Tracing records no gradient state into the file.
        with torch.enable_grad():
            torch.onnx.export(
                model, x, tmp,
                input_names=["input"], output_names=["embedding"],
                dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}},
                opset_version=opset, do_constant_folding=True,
                training=torch.onnx.TrainingMode.EVAL,
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def script_fingerprint(args_key):
    with open(os.path.abspath(__file__), "rb") as f:
        h = hashlib.sha256(f.read())
    h.update(args_key.encode())
    h.update(torch.__version__.encode())
    h.update(torchvision.__version__.encode())
    return h.hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--opsets", default="13,17", help="comma-separated opsets (default 13,17)")
    ap.add_argument("--models", default=",".join(MODEL_NAMES),
                    help="comma-separated subset of: " + ", ".join(MODEL_NAMES))
    ap.add_argument("--plain-names", action="store_true",
                    help="write DIR/<name>.onnx (requires a single opset)")
    ap.add_argument("--if-stale", action="store_true",
                    help="do nothing if DIR holds the files of an earlier run of this "
                         "same script with the same arguments")
    args = ap.parse_args(argv)

    try:
        opsets = [int(s) for s in args.opsets.split(",") if s.strip()]
    except ValueError:
        ap.error("--opsets: comma-separated integers expected")
    names = [s.strip() for s in args.models.split(",") if s.strip()]
    for n in names:
        if n not in MODEL_NAMES:
            ap.error("unknown model %r (known: %s)" % (n, ", ".join(MODEL_NAMES)))
    for o in opsets:
        if not 9 <= o <= 17:
            ap.error("opset %d not supported by torch 1.13's exporter (9..17)" % o)
    if args.plain_names and len(opsets) != 1:
        ap.error("--plain-names needs exactly one opset")
    if not names or not opsets:
        ap.error("nothing to export")

    def fname(n, o):
        return "%s.onnx" % n if args.plain_names else "%s-opset%d.onnx" % (n, o)

    os.makedirs(args.out, exist_ok=True)
    files = [fname(n, o) for n in names for o in opsets]
    key = json.dumps({"models": names, "opsets": opsets, "plain": args.plain_names})
    fp = script_fingerprint(key)
    stamp_path = os.path.join(args.out, STAMP)
    if args.if_stale:
        try:
            with open(stamp_path) as f:
                stamps = json.load(f)
        except (OSError, ValueError):
            stamps = {}
        refs = ["ref/%s-%s.npy" % (n, kind) for n in names for kind in ("input", "torch")]
        if stamps.get(key) == fp and all(
                os.path.exists(os.path.join(args.out, f)) for f in files + refs + [MANIFEST]):
            print("export_models: %d files in %s are up to date" % (len(files), args.out))
            return 0

    manifest_path = os.path.join(args.out, MANIFEST)
    try:
        with open(manifest_path) as f:
            manifest = {e["file"]: e for e in json.load(f)["models"]}
    except (OSError, ValueError, KeyError, TypeError):
        manifest = {}

    t_all = time.time()
    for name in names:
        t0 = time.time()
        model, seed = prepare(name)
        std, amax, cos, ref_x, ref_y = check_output(model, name)
        params = sum(p.numel() for p in model.parameters())
        bn_ch = sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))
        macs = count_macs(model, name)
        # Torch's own output on a seeded batch of 2: lets tests check the reference
        # runtime (ONNX Runtime) against the framework that defined the model.
        os.makedirs(os.path.join(args.out, "ref"), exist_ok=True)
        ref_in = "ref/%s-input.npy" % name
        ref_out = "ref/%s-torch.npy" % name
        np.save(os.path.join(args.out, ref_in), ref_x)
        np.save(os.path.join(args.out, ref_out), ref_y)
        for opset in opsets:
            path = os.path.join(args.out, fname(name, opset))
            export(model, path, opset)
            manifest[os.path.basename(path)] = {
                "file": os.path.basename(path),
                "name": name,
                "opset": opset,
                "embedding_dim": EMBED_DIMS[name],
                "input_shape": ["batch", 3, 224, 224],
                "params_torch": params,
                "bn_channels": bn_ch,
                "params_folded": params - bn_ch,
                "onnx_float_elems": onnx_float_elems(path),
                "macs": macs,
                "seed": seed,
                "sha256": sha256_file(path),
                "bytes": os.path.getsize(path),
                "torch_ref_input": ref_in,
                "torch_ref_output": ref_out,
            }
        print("export_models: %-19s params %10d  macs %13d  out std %.3g max %.3g "
              "row-cos %.3f  %.1fs" % (name, params, macs, std, amax, cos, time.time() - t0),
              flush=True)

    doc = {
        "generator": "tools/export_models.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "models": [manifest[k] for k in sorted(manifest)],
    }
    tmp = manifest_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, manifest_path)

    try:
        with open(stamp_path) as f:
            stamps = json.load(f)
    except (OSError, ValueError):
        stamps = {}
    stamps[key] = fp
    with open(stamp_path, "w") as f:
        json.dump(stamps, f)
    print("export_models: wrote %d files to %s in %.1fs"
          % (len(files), args.out, time.time() - t_all))
    return 0


if __name__ == "__main__":
    sys.exit(main())
