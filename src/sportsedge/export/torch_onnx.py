"""A PyTorch source as float32 ONNX through ``torch.onnx`` (the TorchScript exporter, opset 17):
the same opset as our Keras exports, a dynamic batch, and one file (the dynamo exporter writes
opset 18 and external weight files unless told otherwise; measured on EfficientNet-Lite0, the
TorchScript exporter matches torch to 1.6e-5)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from sportsedge.core.errors import ModelError, first_line
from sportsedge.export.onnx_convert import OPSET
from sportsedge.export.onnx_wrap import INPUT_NAME


def float_onnx(ctx) -> bytes:
    """A PyTorch source's float32 ONNX (its family's ``float_onnx``)."""
    return torch_to_onnx(ctx.loaded.model, ctx.input_size, ctx.source.path)


def torch_to_onnx(wrapped, size: tuple[int, int], where: Path) -> bytes:
    """The wrapped module (raw NHWC pixels in) as ONNX bytes, batch dynamic."""
    from sportsedge.export.torch_model import torch_module

    torch = torch_module()
    buf = io.BytesIO()
    sample = torch.zeros((1, *size, 3), dtype=torch.float32)
    try:
        with warnings.catch_warnings():  # "legacy TorchScript-based exporter": chosen, see above
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapped,
                (sample,),
                buf,
                dynamo=False,
                opset_version=OPSET,
                input_names=[INPUT_NAME],
                output_names=["scores"],
                dynamic_axes={INPUT_NAME: {0: "batch"}, "scores": {0: "batch"}},
            )
    except Exception as err:  # torch.onnx raises its own errors per unsupported op or construct
        raise ModelError(where, f"torch.onnx cannot export it at opset {OPSET} ({first_line(err)})") from err
    return buf.getvalue()
