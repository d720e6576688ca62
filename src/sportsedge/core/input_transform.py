"""What a model expects its input pixels to be, as an affine map of raw RGB 0..255.

Our exports bake this into the graph (every artifact takes raw pixels). It is also recorded in
the metadata: as information for an exported user model, and as an instruction the runtime
applies (``ModelMetadata.input_transform``) for a file labelled with `sportsedge label`, whose
graph we did not build.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sportsedge.core.errors import UsageError

_IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's, on 0..1 RGB
_IMAGENET_STD = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # keras.applications' "caffe" mode, on 0..255 BGR


@dataclass(frozen=True)
class PixelTransform:
    name: str  # preset name, or "custom" for --scale/--offset
    scale: tuple[float, float, float]  # per channel, applied after the optional RGB->BGR swap
    offset: tuple[float, float, float]  # model input = pixel * scale + offset
    bgr: bool = False  # the model wants channels in BGR order

    @property
    def identity(self) -> bool:
        return not self.bgr and self.scale == (1.0, 1.0, 1.0) and self.offset == (0.0, 0.0, 0.0)

    def apply(self, pixels: Any) -> Any:
        """Raw (..., 3) pixels -> the model's float32 input."""
        import numpy as np  # this module stays light: the CLI reads PRESETS to build --help

        x = np.asarray(pixels, np.float32)
        if self.bgr:
            x = x[..., ::-1]
        return x * np.asarray(self.scale, np.float32) + np.asarray(self.offset, np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "scale": list(self.scale), "offset": list(self.offset), "bgr": self.bgr}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PixelTransform:
        return cls(str(d.get("name", "custom")), _triple(d["scale"]), _triple(d["offset"]), bool(d.get("bgr", False)))


def _triple(v: Any) -> tuple[float, float, float]:
    vals = [float(x) for x in (v if isinstance(v, (list, tuple)) else [v])]
    if len(vals) == 1:
        vals *= 3
    if len(vals) != 3:
        raise UsageError(f"expected 1 or 3 numbers, got {len(vals)}")
    return tuple(vals)  # type: ignore[return-value]


def _preset(name: str, scale: Any, offset: Any, bgr: bool = False) -> PixelTransform:
    return PixelTransform(name, _triple(scale), _triple(offset), bgr)


# --preprocess names: what the model expects, in the terms of keras.applications and torchvision.
PRESETS: dict[str, PixelTransform] = {
    t.name: t
    for t in (
        _preset("raw", 1.0, 0.0),  # 0..255 RGB (ours; keras.applications models with include_preprocessing)
        _preset("unit", 1 / 255, 0.0),  # 0..1
        _preset("symmetric", 1 / 127.5, -1.0),  # -1..1 ("tf" mode: MobileNet, Inception)
        _preset("caffe", 1.0, [-m for m in _CAFFE_MEAN_BGR], bgr=True),  # BGR minus ImageNet mean (VGG, ResNet50)
        _preset(  # (x/255 - mean) / std, ImageNet statistics (torchvision)
            "torch", [1 / (255 * s) for s in _IMAGENET_STD], [-m / s for m, s in zip(_IMAGENET_MEAN, _IMAGENET_STD)]
        ),
    )
}


def parse_transform(preset: str | None, scale: str | None = None, offset: str | None = None) -> PixelTransform | None:
    """--preprocess NAME, or --scale S[,S,S] --offset O[,O,O]; None when neither is given."""
    if preset is not None and (scale is not None or offset is not None):
        raise UsageError("give --preprocess or --scale/--offset, not both")
    if preset is not None:
        if preset not in PRESETS:
            raise UsageError(f"unknown --preprocess {preset!r}; choose from {', '.join(PRESETS)}")
        return PRESETS[preset]
    if scale is None and offset is None:
        return None
    return PixelTransform("custom", _per_channel("--scale", scale or "1"), _per_channel("--offset", offset or "0"))


def _per_channel(option: str, text: str) -> tuple[float, float, float]:
    try:
        return _triple(_floats(text))
    except (ValueError, UsageError) as err:
        raise UsageError(f"{option} takes 1 number or 3 (R,G,B), comma-separated: {text!r}") from err


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]
