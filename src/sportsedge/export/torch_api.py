"""``export_torch``: the Python API's door for a PyTorch model (``sportsedge.export.export_torch``),
the CLI's `export model.pt2` in one call."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sportsedge.core.input_transform import PixelTransform, parse_transform
from sportsedge.export.config import UserModel


def export_torch(
    model,
    *,
    input_size: int | tuple[int, int],
    labels: str,
    preprocess: str | PixelTransform = "torch",
    calibration: str | None = None,
    out: str | Path,
    formats: str = "all",
    parity_data: str | None = None,
    name: str | None = None,
    output: str = "auto",
    config=None,
    say=print,
):
    """Export a PyTorch classifier to every format asked for, each parity-checked against PyTorch.

    Args:
        model: an ``nn.Module`` (NCHW float input, as PyTorch models take) or the path of a
            program saved with ``torch.export.save``.
        input_size: the height and width it classifies at (one int for a square).
        labels: labels.txt (one class per line, in output order) or a folder of class folders.
        preprocess: what the model expects of its pixels: a preset (``torch``: ImageNet mean/std on
            0..1, ``raw``, ``unit``, ``symmetric``, ``caffe``) or a PixelTransform (pixel * scale +
            offset per channel); baked into every exported file.
        calibration: real images for int8 calibration (needed by tflite-int8 and onnx-int8).
        out: the folder for the files and manifest.json.
        formats: as ``sportsedge export --formats``.
        parity_data: images the exports are checked on (default: the calibration folder).
        name: files are ``<name>-<format>``; default the class's or the file's name.
        output: ``auto`` (detected), ``probabilities`` or ``logits``.
        config: an ExportConfig for the rest (int8 accuracy, sizes); its user options are replaced.
        say: where progress lines go.

    Returns:
        The manifest, as ``sportsedge.export.run.export`` returns it.
    """
    from sportsedge.export.config import ExportConfig
    from sportsedge.export.run import export, parse_formats
    from sportsedge.export.torch_model import resolve_torch

    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    user = UserModel(
        labels=labels,
        transform=preprocess if isinstance(preprocess, PixelTransform) else parse_transform(preprocess, None, None),
        input_size=(int(size[0]), int(size[1])),
        output=output,
        parity_data=parity_data,
        name=name,
    )
    config = replace(config or ExportConfig(), user=user, calibration=calibration)
    resolved = resolve_torch(model, user, calibration, say)
    return export([resolved], parse_formats(formats), out, config, say=say)
