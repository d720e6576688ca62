"""ONNX formats: tf2onnx (opset 17) float32, and onnxruntime static QDQ int8 on top of it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sportsedge.export.converted import Converted

if TYPE_CHECKING:
    from sportsedge.export.context import ExportContext
    from sportsedge.export.converted import Tell


def convert_fp32(ctx: ExportContext, tell: Tell) -> Converted:
    return Converted(ctx.onnx_fp32.read_bytes())


def calibration_reader(pixels: np.ndarray):
    """onnxruntime's CalibrationDataReader over uint8 pixels (N, H, W, 3), one image per call."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(pixels)

        def get_next(self):
            img = next(self._it, None)
            return None if img is None else {"pixels": img[None].astype(np.float32)}

    return Reader()


def quantize_qdq(ctx: ExportContext, out: Path, exclude: list[str] | tuple[str, ...] = (), tell=None) -> bytes:
    """Static QDQ of the prepared graph: per-channel QInt8 weights, QUInt8 activations (s8
    activations made EfficientNet 3x slower than float here), calibrated on the same images as
    TFLite int8; ``exclude``: node names left float."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    pre, overrides, _ = ctx.onnx_prepared(tell)
    quantize_static(
        str(pre),
        str(out),
        calibration_reader(ctx.calibration),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=list(exclude),
        extra_options={"TensorQuantOverrides": overrides} if overrides else None,
    )
    return out.read_bytes()


def convert_int8(ctx: ExportContext, tell: Tell) -> Converted:
    """onnx-int8 (quantize_qdq), with --float-layers left float, or the searched fallback when
    plain int8 misses --max-drop."""
    pre, _, summary = ctx.onnx_prepared(tell)
    output = ctx.onnx_logits[1]
    acc = ctx.accuracy
    details: dict = {"ranges": summary}
    exclude: list[str] = []
    if acc is not None and acc.float_layers:
        import onnx

        from sportsedge.export.float_layers import onnx_layers, pick

        graph = onnx.load(str(pre)).graph
        exclude = pick(onnx_layers(graph, ctx.layer_names(logits=False)), acc.float_layers, "the ONNX model")
        details |= {"float_layers": list(acc.float_layers), "float_layers_why": "--float-layers"}
    data = quantize_qdq(ctx, ctx.work / "int8.onnx", exclude, tell)
    if not exclude and acc is not None:  # accuracy-aware: the searched fallback when plain int8 misses --max-drop
        from sportsedge.export.remedies import onnx_fallback

        data, more = onnx_fallback(ctx, data, output, tell)
        details |= more
    return Converted(data, details, output=output)
