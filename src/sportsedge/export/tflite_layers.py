"""The TFLite half: TensorFlow's public QuantizationDebugger measures each op's own int8 error
(each op fed the same int8 input), grouped by the Keras layer the op belongs to; files that keep
layers float come from the converter's own quantizer with those ops denylisted
(export/tf_private.py, the one door to TensorFlow's private API)."""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sportsedge.export.float_layers import op_tensors
from sportsedge.export.selective import Layer, labelled

DEBUG_IMAGES = 32  # images the debugger runs (the calibration set's first)


def _signal_power(float_tensors, quant_tensors, scale, zero_point) -> float:
    """Mean square of an op's float output on one image (the debugger averages it over images)."""
    return float(np.mean([np.mean(np.square(np.asarray(f, np.float64))) for f in float_tensors]))


def snr_db(signal_power: float, noise_power: float) -> float:
    """Signal-to-quantization-noise ratio in dB from powers averaged over the images: +inf where
    int8 is exact, -inf where the float output is all zeros but int8's is not.

    The ratio of the averages, not an average of per-image ratios: one image with a near-zero
    output (a dead ReLU) or an exact one gave -80 dB or +inf, and the mean of those dB figures said
    nothing about the layer (measured on EfficientNetB0)."""
    if noise_power <= 0:
        return float("inf")
    if signal_power <= 0:
        return float("-inf")
    return 10 * float(np.log10(signal_power / noise_power))


class TfliteLayers:
    """Per-layer errors and selective int8 files of one source (an ExportContext)."""

    format = "tflite-int8"
    family = "tflite"

    def __init__(self, ctx, tell):
        self.ctx, self.tell = ctx, tell
        self.output = ctx.int8_output()

    def layers(self) -> list[Layer]:
        """Every quantized layer with its int8 error, in graph order (measured once)."""
        if getattr(self, "_layers", None) is None:
            self._layers = self._measure()
        return self._layers

    def _measure(self) -> list[Layer]:
        """Every quantized op's error, grouped by Keras layer, in graph order."""
        import tensorflow as tf

        from sportsedge.export.representative import representative
        from sportsedge.export.sources.family import impl
        from sportsedge.runtime.graph import per_op_macs

        self.tell("  per-op int8 error: TensorFlow's QuantizationDebugger ...")
        compare = {"signal_power": _signal_power}  # beside the debugger's own mean_squared_error
        options = tf.lite.experimental.QuantizationDebugOptions(layer_direct_compare_metrics=compare)
        # a converter (Keras), or a debug model made of the calibrated float file (PyTorch)
        source: dict = impl(self.ctx.family.debug_source)(self.ctx)
        with warnings.catch_warnings():  # the debugger runs TF's own (deprecated) interpreter
            warnings.simplefilter("ignore")
            debugger = tf.lite.experimental.QuantizationDebugger(
                debug_dataset=representative(self.ctx.calibration[:DEBUG_IMAGES]), debug_options=options, **source
            )
            debugger.run()
        buf = io.StringIO()
        debugger.layer_statistics_dump(buf)
        buf.seek(0)
        float_path = self.ctx.calibrated_float_file
        macs, weights = per_op_macs(float_path), dict(op_tensors(float_path))
        grouped: dict[str, dict] = {}
        for r in csv.DictReader(buf):
            tensors = [r["tensor_name"], *weights.get(r["tensor_name"], ())]
            name = self.ctx.tflite_layer(tensors) or r["tensor_name"].split(";")[0]
            scale = float(r["scale"]) or 1.0
            mse = float(r["mean_squared_error"])  # of the op's int8 output against its float output
            rmse = float(np.sqrt(mse)) / scale
            g = grouped.setdefault(name, {"op": r["op_name"], "keys": [], "rmse": 0.0, "snr": float("inf"), "macs": 0})
            g["keys"].append(r["tensor_name"])
            g["rmse"] = max(g["rmse"], rmse)
            g["snr"] = min(g["snr"], snr_db(float(r["signal_power"]), mse))
            g["macs"] += macs.get(r["tensor_name"], 0)
        return [
            Layer(name, g["op"], tuple(g["keys"]), g["rmse"], g["snr"], g["rmse"], g["macs"])
            for name, g in grouped.items()
        ]

    def plain_path(self) -> Path:
        """The plain int8 file (no layer float), built once."""
        path = self.ctx.work / "doctor-plain.tflite"
        if not path.is_file():
            self.build((), path)
        return path

    def build(self, float_layers: Sequence[Layer], path: Path) -> Path:
        """Full int8 with ``float_layers`` left float, labelled like every export."""
        from sportsedge.export.tflite import quantize

        data = quantize(self.ctx.fitted_float(self.tell)[0], [k for layer in float_layers for k in layer.keys])
        return labelled(self.ctx, path, data, self.format, self.output, [layer.name for layer in float_layers])
