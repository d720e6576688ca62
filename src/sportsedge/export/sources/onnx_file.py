"""The ONNX family: a float ONNX classifier (e.g. from PyTorch), wrapped in ONNX to take raw NHWC
pixels (export/onnx_wrap.py). It becomes the ONNX formats only, and doctor diagnoses it without
TensorFlow."""

from __future__ import annotations

from pathlib import Path

from sportsedge.core.formats import Format
from sportsedge.export.source import SourceKind, has_suffix
from sportsedge.export.sources.family import SourceFamily


def no_layers(ctx, logits: bool) -> list[str]:
    """An ONNX source names its layers by its node paths (export/float_layers.onnx_layers)."""
    return []


def float_onnx(ctx) -> bytes:
    """The wrapped model's bytes: already the float ONNX graph."""
    return ctx.loaded.model


def quantized(path: Path) -> str | None:
    """Why doctor refuses an int8 .onnx (it has QuantizeLinear nodes), or None."""
    import onnx

    ops = ("QuantizeLinear", "QLinearConv", "QLinearMatMul")
    if any(n.op_type in ops for n in onnx.load(str(path)).graph.node):
        return "this .onnx is already int8 (it has QuantizeLinear nodes); give doctor the float .onnx"
    return None


def onnx_only(fmt: Format) -> bool:
    return fmt.family == "onnx"


FAMILY = SourceFamily(
    name="onnx",
    kinds=((SourceKind.ONNX, has_suffix(".onnx")),),
    resolve="sportsedge.export.user_model:resolve_onnx",
    run="sportsedge.export.onnx_wrap:run_onnx",
    files=(".onnx",),
    doctor_refusal="sportsedge.export.sources.onnx_file:quantized",
    reference="float ONNX",
    layer_names="sportsedge.export.sources.onnx_file:no_layers",
    formats=onnx_only,
    why_not="an ONNX model exports only to onnx-fp32 and onnx-int8",
    float_onnx="sportsedge.export.sources.onnx_file:float_onnx",
    needs=("onnx", "onnxruntime"),
)
