"""EfficientNet-Lite0/1/2 models with their real ImageNet weights (the `lite` extra): a linear
head on the frozen backbone (the mobilenet_v2_linear recipe), and the two-stage fine-tuned model
(mobilenet_v2_ft's recipe: block-boundary cache, top blocks fine-tuned, int8-aware last epochs).

Imported by the ``train`` package itself, so any import of the registry registers them.
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from typing import Any

from sportsedge.train.lite_backbone import VARIANTS, backbone, blocks, load_torch_weights, weights_file
from sportsedge.train.mobilenet import FT_STAGE2
from sportsedge.train.models import (
    IMAGENET_ON_DISK,
    SEED_AUGMENT,
    Built,
    Recipe,
    _backbone_weights,
    keras_api,
    register_model,
)
from sportsedge.train.transfer import transfer

LINEAR = Recipe(100, 30, 1e-3, None, SEED_AUGMENT, cache_views=1)  # as mobilenet_v2_linear


def boundary(name: str) -> tuple[str, int]:
    """(the fine-tuning cache point, groups above it): the residual add closing the block before
    the last stride-2 block (14x14 at 224 px, as MobileNetV2's block 12), and the blocks above
    it plus the head conv, all of which stage 2 trains."""
    layout = blocks(VARIANTS[name])
    last_down = max(i for i, b in enumerate(layout) if b[1] == 2)
    return f"block_{last_down - 1}_add", len(layout) - last_down + 1


def _lite(name: str, num_classes: int, weights: str, size, cut: str | None) -> Built:
    keras = keras_api()

    inp = keras.Input((*size, 3), name="pixels")
    base = keras.Model(inp, backbone(name, inp), name=f"efficientnet_{name}")
    if weights != "none":
        from sportsedge.train.torch_legacy import read_state_dict

        path = weights_file(name) if weights == "imagenet" else _backbone_weights(weights)
        load_torch_weights(base, read_state_dict(path), path)  # the ImageNet classifier is left out
    return transfer(inp, base, num_classes, [keras.layers.Dropout(VARIANTS[name].dropout)], cut)


def _register(name: str) -> None:
    own = (VARIANTS[name].resolution,) * 2
    title = f"EfficientNet-{name.capitalize()}"
    cut, above = boundary(name)

    def linear(num_classes: int, weights: str = "imagenet", size=own) -> Built:
        return _lite(name, num_classes, weights, size, None)

    def finetuned(num_classes: int, weights: str = "imagenet", size=own) -> Built:
        return _lite(name, num_classes, weights, size, cut)

    linear.__doc__ = f"{title} ({own[0]} px) frozen, one softmax layer; ImageNet weights from the lite extra."
    finetuned.__doc__ = f"efficientnet_{name}, then its top {above} blocks fine-tuned on features cached at {cut}."
    IMAGENET_ON_DISK[title] = lambda: importlib.util.find_spec(VARIANTS[name].module) is not None
    common: dict[str, Any] = {"application": title, "resizable": True}
    register_model(f"efficientnet_{name}", own, LINEAR, **common)(linear)
    # 5e-4, not MobileNetV2's 3e-4: Lite0 over seeds 0-2, 94.0% mean against 93.3% (docs/models.md)
    ft = replace(LINEAR, finetune=replace(FT_STAGE2, blocks=above, learning_rate=5e-4))
    register_model(f"efficientnet_{name}_ft", own, ft, **common)(finetuned)


for _name in VARIANTS:
    _register(_name)
