"""What `sportsedge export` was given: a training run, or someone else's model file.

``SourceKind`` names the kinds of MODEL argument the built-in families take (export/sources/: how
each is recognised, loaded and converted, asked through export/families.py); ``Source`` is one
resolved. The side that loads and wraps a user's model lives in ``user_model.py`` and ``torch_model.py``.
Kept free of heavy imports: the CLI resolves sources (and rejects bad ones) before TensorFlow loads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from sportsedge.core.errors import ModelError, UsageError
from sportsedge.core.input_transform import PixelTransform
from sportsedge.core.outputs import OutputKind
from sportsedge.util import fileio


class SourceKind(str, Enum):
    RUN = "run"  # a folder written by `sportsedge train` (config.json + model.keras)
    KERAS = "keras"  # a Keras 3 .keras file
    H5 = "h5"  # a legacy Keras HDF5 file
    SAVED_MODEL = "saved_model"  # a TensorFlow SavedModel folder
    ONNX = "onnx"  # a float ONNX classifier (e.g. from PyTorch): ONNX formats only
    TORCH = "torch"  # a torch.export program (.pt2) or an nn.Module: litert-torch and torch.onnx convert it

    def __str__(self) -> str:
        return self.value


def has_suffix(*suffixes: str) -> Callable[[Path], bool]:
    """A test of a path: a file with one of these suffixes (any case)."""
    return lambda p: p.is_file() and p.suffix.lower() in suffixes


def model_sha256(path: Path) -> str:
    """Of the model file, or of every file in a SavedModel folder (names and contents)."""
    if path.is_file():
        return fileio.sha256_file(path)
    parts = {str(f.relative_to(path)): fileio.sha256_file(f) for f in sorted(path.rglob("*")) if f.is_file()}
    return fileio.fingerprint(parts)


@dataclass(frozen=True)
class Source:
    """A model to export, resolved: everything the exporter needs to know about it."""

    path: Path  # the run folder or model file/folder given
    kind: str  # what it is: a SourceKind of the built-in families, or a registered family's kind
    name: str  # artifacts are <name>-<format><ext>
    labels: tuple[str, ...]  # class names in output order
    input_size: tuple[int, int]  # (height, width) of the exported artifacts' input
    transform: PixelTransform | None  # the preprocessing wrapped around a user model; None for our runs
    output: OutputKind  # what the source model outputs
    calibration_dir: Path | None  # real images for int8 calibration; None = cannot calibrate
    parity_dir: Path  # images for the parity check (class folders: accuracy too)
    sha256: str  # of the model file(s): part of every artifact's fingerprint
    ours: bool = False  # a sportsedge run (its family says so): labels, size and preprocessing of its own

    def settings(self) -> dict:
        """What about the source shapes its artifacts, for the export fingerprint."""
        return {
            "model_sha256": self.sha256,
            "labels": list(self.labels),
            "input_size": list(self.input_size),
            "transform": self.transform.to_dict() if self.transform else None,
            "output": str(self.output),
            "parity_data": str(self.parity_dir),
        }


def image_layout(shape, where: Path) -> tuple[bool, tuple[int | None, int | None]]:
    """(channels_first, (height, width)) of a 4-D image input shape; one-line errors otherwise."""
    dims = [d if isinstance(d, int) and d > 0 else None for d in shape]
    if len(dims) != 4:
        raise ModelError(where, f"input is not an image tensor: shape {tuple(shape)} (expected N,H,W,3 or N,3,H,W)")
    if dims[3] == 3:
        return False, (dims[1], dims[2])
    if dims[1] == 3:
        return True, (dims[2], dims[3])
    raise ModelError(where, f"input is not an RGB image tensor: shape {tuple(shape)} (no axis of 3 channels)")


def fixed_size(native, given, where: Path) -> tuple[int, int]:
    if given is not None:
        if all(native) and tuple(native) != tuple(given):
            raise UsageError(
                f"{where}: --input-size {given[0]}x{given[1]} differs from the model's {native[0]}x{native[1]}"
            )
        return tuple(given)
    if not all(native):
        raise ModelError(where, "input has a dynamic height/width: give --input-size HxW")
    return tuple(native)
