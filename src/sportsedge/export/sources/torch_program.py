"""The PyTorch family: a ``torch.export`` program (.pt2) or an nn.Module in memory
(export/torch_model.py). litert-torch makes its float .tflite (export/torch_tflite.py), which its
integer TFLite formats start from; torch.onnx its ONNX (export/torch_onnx.py). Every post-training
format, no QAT (QAT fine-tunes a Keras model with tfmot)."""

from __future__ import annotations

from sportsedge.core.formats import Format
from sportsedge.export.source import SourceKind, has_suffix
from sportsedge.export.sources.family import SourceFamily

KIND = SourceKind.TORCH
TFLITE = "sportsedge.export.torch_tflite"


def submodules(ctx, logits: bool) -> list[str]:
    """Its submodule names ("features.3"): the same in every converted file."""
    return list(ctx.loaded.names)


def post_training(fmt: Format) -> bool:
    return "qat" not in fmt.options


FAMILY = SourceFamily(
    name="torch",
    kinds=((KIND, has_suffix(".pt2")),),
    resolve="sportsedge.export.torch_model:resolve_program",
    run="sportsedge.export.torch_model:run_torch",
    files=(".pt2 (torch.export)",),
    # A state dict, TorchScript or a pickled module: refused in one line that says what to save
    # instead, before torch is imported.
    refused=(".pt", ".pth", ".ts", ".jit", ".bin"),
    refusal="sportsedge.export.torch_files:refusal",
    reference="PyTorch",
    layer_names="sportsedge.export.sources.torch_program:submodules",
    tflite_layer=f"{TFLITE}:layer_of",
    formats=post_training,
    why_not="a PyTorch model has no QAT format here",
    converters={
        "tflite-fp32": f"{TFLITE}:convert_fp32",
        "tflite-fp16": f"{TFLITE}:convert_fp16",
        "tflite-dynamic": f"{TFLITE}:convert_dynamic",
    },
    float_onnx="sportsedge.export.torch_onnx:float_onnx",
    float_tflite=f"{TFLITE}:float_tflite",
    calibrated_float=f"{TFLITE}:calibrated_float",
    minmax_int8=f"{TFLITE}:minmax_int8",
    int16=f"{TFLITE}:int16_file",
    debug_source=f"{TFLITE}:debug_source",
    needs=("torch", "litert_torch", "tensorflow"),
    extra="torch",
)
