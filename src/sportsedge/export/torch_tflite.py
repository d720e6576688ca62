"""TFLite formats of a PyTorch source: litert-torch converts the float model (one image at a time:
only a fixed batch converts); the integer formats start from that flatbuffer.

- full int8: TFLite's calibrator records the float file's ranges, and the converter's own quantizer
  (the one every Keras export ends with) makes it all-int8 with uint8 pixels in, so the fitted
  activation ranges, the remedies and doctor work on it as on a Keras model (docs/pytorch.md
  has the measurement against ai-edge-quantizer's static recipe and PT2E);
- float16 weights and dynamic range: ai-edge-quantizer's recipes, the quantizer litert-torch ships.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sportsedge.core.errors import MissingDependencyError, ModelError, first_line
from sportsedge.export.converted import Converted

if TYPE_CHECKING:
    from sportsedge.export.context import ExportContext
    from sportsedge.export.converted import Tell

# litert-torch marks its flatbuffers so that its constants stay StableHLO constants; TFLite's
# quantizer then leaves every convolution float (measured: DEQUANTIZE/CONV_2D/QUANTIZE). The
# marker is dropped before calibration; the float files keep it.
KEEP_STABLEHLO_CONSTANT = b"keep_stablehlo_constant"
# ai-edge-quantizer's recipes (its documented JSON form): every op's weights cast to float16, and
# dynamic range (int8 weights, float activations quantized on the fly).
FP16_RECIPE = [
    {
        "regex": ".*",
        "operation": "*",
        "algorithm_key": "float_casting",
        "op_config": {
            "weight_tensor_config": {"num_bits": 16, "dtype": "FLOAT", "granularity": "TENSORWISE"},
            "compute_precision": "FLOAT",
            "explicit_dequantize": True,
        },
    }
]
_LOWERING = re.compile(r"Lowering not found: (?:aten\.)?([\w.]+)")


def litert_float(wrapped, size: tuple[int, int], work: Path, where: Path) -> bytes:
    """The wrapped module as a float32 .tflite (batch 1, NHWC float pixels in)."""
    torch = _torch()
    try:
        import litert_torch
    except ImportError as err:
        raise MissingDependencyError("litert-torch", "torch", "needed for TFLite files of PyTorch models") from err
    sample = torch.zeros((1, *size, 3), dtype=torch.float32)
    try:
        with warnings.catch_warnings():  # torch's own deprecations inside the converter's export
            warnings.simplefilter("ignore")
            converted = litert_torch.convert(wrapped, (sample,))
    except Exception as err:  # the converter raises RuntimeError, AssertionError, its own types per failure
        missing = _LOWERING.search(str(err))
        if missing:
            op = missing.group(1).removesuffix(".default")
            why = f"uses {op}, which litert-torch {_version()} cannot convert to TFLite"
            raise ModelError(where, f"{why} (the ONNX formats may still work: --formats onnx)") from err
        raise ModelError(where, f"litert-torch cannot convert it ({first_line(err)})") from err
    path = work / "litert-float.tflite"
    converted.export(str(path))
    return path.read_bytes()


def _torch():
    from sportsedge.export.torch_model import torch_module

    return torch_module()


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("litert-torch")
    except metadata.PackageNotFoundError:
        return "?"


def calibratable(model: bytes) -> bytes:
    """The float file without litert-torch's StableHLO-constant marker (see KEEP_STABLEHLO_CONSTANT)."""
    from sportsedge.export.tf_private import read_model, write_model

    tree = read_model(model)
    tree.metadata = [m for m in (tree.metadata or []) if m.name != KEEP_STABLEHLO_CONSTANT]
    return write_model(tree)


def calibrate(model: bytes, pixels: np.ndarray) -> bytes:
    """The float file with each tensor's range over ``pixels`` recorded (not yet quantized)."""
    from sportsedge.export.representative import representative
    from sportsedge.export.tf_private import calibrator

    return bytes(calibrator(calibratable(model)).calibrate(representative(pixels)))


def int16(model: bytes, pixels: np.ndarray) -> bytes:
    """16-bit activations, int8 weights, float32 pixels in (the int16 remedy)."""
    import tensorflow as tf

    from sportsedge.export.representative import representative
    from sportsedge.export.tf_private import calibrator

    cal = calibrator(calibratable(model))
    return bytes(
        cal.calibrate_and_quantize(
            representative(pixels), tf.float32, tf.float32, False, activations_type=tf.int16, bias_type=tf.int64
        )
    )


def _quantized(model: bytes, recipe) -> bytes:
    """``model`` through ai-edge-quantizer with ``recipe`` (weights only: no calibration)."""
    try:
        from ai_edge_quantizer import quantizer
    except ImportError as err:
        raise MissingDependencyError("ai-edge-quantizer", "torch", "float16 and dynamic-range TFLite") from err
    return bytes(quantizer.Quantizer(bytearray(model), recipe).quantize(enable_progress_report=False).quantized_model)


def float_tflite(ctx: ExportContext) -> bytes:
    """The source's float32 .tflite (its family's ``float_tflite``; ExportContext keeps it)."""
    return litert_float(ctx.loaded.model, ctx.input_size, ctx.work, ctx.source.path)


def calibrated_float(ctx: ExportContext, pixels=None, logits: bool = True) -> bytes:
    """No SavedModel: TFLite's calibrator on litert-torch's float file (as it ends: ``logits`` unused)."""
    return calibrate(ctx.tflite_float, ctx.calibration if pixels is None else pixels)


def minmax_int8(ctx: ExportContext, pixels=None) -> bytes:
    """Full int8 with the calibrator's min..max ranges, as recorded."""
    from sportsedge.export.tflite import quantize

    return quantize(calibrated_float(ctx, pixels))


def int16_file(ctx: ExportContext) -> bytes:
    """The int16 remedy's file, from the float file."""
    return int16(ctx.tflite_float, ctx.calibration)


def debug_source(ctx: ExportContext) -> dict:
    """QuantizationDebugger's model: no converter, a debug model made of the calibrated float file."""
    from sportsedge.export.tf_private import debug_quantized

    return {"quant_debug_model_content": debug_quantized(ctx.calibrated_float)}


def convert_fp32(ctx: ExportContext, tell: Tell) -> Converted:
    return Converted(ctx.tflite_float)


def convert_fp16(ctx: ExportContext, tell: Tell) -> Converted:
    return Converted(_quantized(ctx.tflite_float, FP16_RECIPE))


def convert_dynamic(ctx: ExportContext, tell: Tell) -> Converted:
    from ai_edge_quantizer import recipe

    return Converted(_quantized(ctx.tflite_float, recipe.dynamic_wi8_afp32()))


PIXELS = "pixels"  # the layer name of the pixel wrapper's own ops (the transform before the model)


def layer_of(tensors, names) -> str | None:
    """The submodule ("features.3") of a converted op, from its tensors' names: litert-torch names a
    tensor by its module path, each step "<class>_<attribute>" ("__main__.Pixels/__main__.Net_model/
    torch.nn.modules.conv.Conv2d_conv1;..."), the first step being sportsedge's pixel wrapper."""
    known = set(names)
    for tensor in tensors:
        for name in tensor.split(";"):
            if name.endswith(".Pixels") or name.split(";")[0].endswith(".Pixels"):
                return PIXELS
            path = ""
            for step in name.split("/")[2:]:  # past the wrapper and its "model" attribute
                prefix = f"{path}." if path else ""
                found = [n for n in known if n.startswith(prefix) and step.endswith("_" + n[len(prefix) :])]
                if not found:
                    break
                path = max(found, key=len)
            if path:
                return path
    return None
