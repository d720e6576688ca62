"""The record of one source family: everything export, doctor, the CLI and the Python API need to
know about a kind of model they are given, so that none of them branches on the kind.

Functions are named "module:function" (imported when first called, as the format table's
converters are) or given as callables (a family registered at run time, e.g. by a test)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sportsedge.core.formats import Format

Impl = str | Callable[..., Any]  # "module:function", or the function itself


def impl(spec: Impl) -> Callable[..., Any]:
    """The function a family names, imported when first asked for."""
    if callable(spec):
        return spec
    module, _, func = spec.partition(":")
    return getattr(importlib.import_module(module), func)


def every_format(fmt: Format) -> bool:
    return True


@dataclass(frozen=True)
class SourceFamily:
    """One family of export sources: how it is recognised, loaded, checked and converted."""

    name: str  # the registry's key ("keras-run", "onnx", ...)
    kinds: tuple[tuple[str, Callable[[Path], bool]], ...]  # (kind, is this path one?) per kind, tried in order
    resolve: Impl  # (path, kind, UserModel, calibration) -> (Source, loaded model or None)
    run: Impl  # (loaded model, uint8 pixels NHWC) -> raw outputs: the parity reference before probabilities
    folders: tuple[str, ...] = ()  # the folders it takes, as "not a ..." names them
    files: tuple[str, ...] = ()  # the files it takes, as "not a ..." names them (".pt2 (torch.export)")
    refused: tuple[str, ...] = ()  # suffixes of files it knows but cannot take (refused by ``refusal``)
    refusal: Impl | None = None  # (path) -> the one line that refuses such a file (what to save instead)
    doctor_refusal: Impl | None = None  # (path) -> why doctor cannot diagnose this file, or None
    ours: bool = False  # a sportsedge run: carries its labels and size, calibrates on its own train/
    lazy_model: Impl | None = None  # (path) -> the model, for a family resolved without loading it (a run)
    reference: str = "Keras"  # what the parity check compares against, in the progress line
    layer_names: Impl = "sportsedge.export.float_layers:keras_layer_names"  # (ctx, logits) -> layer names
    tflite_layer: Impl = "sportsedge.export.float_layers:layer_name"  # (tensors, names) -> an op's layer or None
    formats: Callable[[Format], bool] = every_format  # True for a format it can become
    why_not: str = ""  # completes "<path>: ..., not <format>" for the formats it cannot become
    converters: Mapping[str, Impl] = field(default_factory=dict)  # format name -> its converter, over FORMATS'
    float_onnx: Impl = "sportsedge.export.onnx_convert:keras_onnx"  # (ctx) -> float32 ONNX bytes
    float_tflite: Impl | None = None  # (ctx) -> float32 .tflite bytes, for a family without a SavedModel
    calibrated_float: Impl = "sportsedge.export.tflite_convert:keras_calibrated_float"  # (ctx, pixels, logits) -> bytes
    minmax_int8: Impl = "sportsedge.export.tflite:keras_minmax_int8"  # (ctx, pixels) -> full int8, min..max ranges
    int16: Impl = "sportsedge.export.tflite_convert:keras_int16"  # (ctx) -> int16 activations, int8 weights
    debug_source: Impl = "sportsedge.export.tflite_convert:keras_debug_source"  # (ctx) -> QuantizationDebugger's model
    needs: tuple[str, ...] = ("tensorflow",)  # modules it needs installed to load and diagnose
    extra: str = "train"  # the pip extra that installs them
