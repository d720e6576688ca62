"""Inference backends, one per model family; no TensorFlow anywhere.

A backend takes a batch of pixels already in its input dtype (N, H, W, 3) and returns float32
scores (N, classes). Backends whose engine is not thread-safe say so and the Classifier
serialises calls to them.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sportsedge.core.errors import MissingDependencyError, ModelError, first_line
from sportsedge.runtime.ort_session import session_options
from sportsedge.util.quiet import native_stderr_to


def litert_interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:  # 32-bit ARM boards: ai-edge-litert has no wheels there
            from tflite_runtime.interpreter import Interpreter
        except ImportError as err:
            raise MissingDependencyError(
                "ai-edge-litert", None, "or tflite-runtime on 32-bit ARM; needed for .tflite models"
            ) from err
    return Interpreter


class Backend(Protocol):
    """What a Classifier runs on: one loaded model file of one family (the format table's
    ``family``), a new engine a class of this shape in this module."""

    family: str  # "tflite" or "onnx"
    thread_safe: bool  # may one instance run from two threads at once
    input_shape: tuple[int, ...]  # the model's input tensor shape, batch first
    input_dtype: np.dtype  # float32 pixels or uint8 (full int8)
    input_quant: tuple[float, int]  # (scale, zero point) of an int8 input; scale 0 = float

    def run(self, x: np.ndarray) -> np.ndarray:
        """Raw outputs (N, classes) of a batch already in the input's dtype and shape."""
        ...


class LiteRTBackend:
    """A .tflite file on ai-edge-litert's Interpreter (tflite_runtime's where that is all there is)."""

    family: str = "tflite"
    thread_safe: bool = False  # one Interpreter must not be invoked from two threads at once

    def __init__(self, path: Path, threads: int | None = None):
        with open(path, "rb") as f:  # the header only: Classifier.load read and checked the whole file
            head = f.read(8)
        if len(head) < 8 or head[4:8] != b"TFL3":
            raise ModelError(path, "not a TFLite model (no TFL3 identifier; truncated or wrong file?)")
        Interpreter = litert_interpreter_class()
        try:
            with native_stderr_to(None):  # LiteRT logs "Created XNNPACK delegate" at load
                self._interp = Interpreter(model_path=str(path), num_threads=threads)
                self._interp.allocate_tensors()
            # Damaged tensor names fail here (UnicodeDecodeError is a ValueError).
            inputs, outputs = self._interp.get_input_details(), self._interp.get_output_details()
        except (ValueError, RuntimeError) as err:
            raise ModelError(path, f"not a loadable TFLite model ({first_line(err)})") from err
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(path, f"expected 1 input and 1 output, found {len(inputs)} and {len(outputs)}")
        inp, out = inputs[0], outputs[0]
        self._in_index, self._out_index = inp["index"], out["index"]
        self.input_shape: tuple[int, ...] = tuple(int(v) for v in inp["shape"])
        self.input_dtype: np.dtype = np.dtype(inp["dtype"])
        scale, zero = inp["quantization"]  # scale 0 = float
        self.input_quant: tuple[float, int] = (float(scale), int(zero))
        out_scale, out_zero = out["quantization"]
        self._out_quant = (out_scale, out_zero) if out_scale else None

    def run(self, x: np.ndarray) -> np.ndarray:
        """Raw outputs (N, classes) of a batch, one invoke per image (exported with batch 1)."""
        interp, results = self._interp, []
        for i in range(x.shape[0]):  # exported with batch 1: invoke per image
            interp.set_tensor(self._in_index, x[i : i + 1])
            interp.invoke()
            results.append(interp.get_tensor(self._out_index)[0])
        scores = np.stack(results) if len(results) > 1 else results[0][None]
        if self._out_quant is not None:
            scale, zero = self._out_quant
            result: np.ndarray = (scores.astype(np.float32) - zero) * np.float32(scale)
            return result
        return scores.astype(np.float32, copy=False)


_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}


class OnnxBackend:
    """An .onnx file on onnxruntime's CPU execution provider."""

    family: str = "onnx"
    thread_safe: bool = True  # InferenceSession.run is documented as thread-safe

    def __init__(self, path: Path, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise MissingDependencyError("onnxruntime", None, "needed for .onnx models") from err
        opts = session_options(threads)
        try:
            # A damaged file makes onnxruntime print a 4-line "EP Error" banner (Python print, to
            # stdout) and native logs (fd 2) before raising: the user gets our one line instead.
            with native_stderr_to(None), contextlib.redirect_stdout(io.StringIO()):
                self._sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types per failure
            raise ModelError(path, f"not a loadable ONNX model ({first_line(err)})") from err
        inputs, outputs = self._sess.get_inputs(), self._sess.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(path, f"expected 1 input and 1 output, found {len(inputs)} and {len(outputs)}")
        inp = inputs[0]
        if inp.type not in _ORT_DTYPES or len(inp.shape) != 4:
            raise ModelError(path, f"unsupported input {inp.name}: {inp.type} {inp.shape}")
        shape = [d if isinstance(d, int) else -1 for d in inp.shape]
        # Models exported from PyTorch are NCHW; ours (tf2onnx) are NHWC.
        self._nchw = shape[1] == 3 and shape[3] != 3
        h, w = (shape[2], shape[3]) if self._nchw else (shape[1], shape[2])
        if h <= 0 or w <= 0:
            raise ModelError(path, f"input {inp.name} has no fixed height and width: {inp.shape}")
        self._fixed_batch = shape[0] if shape[0] > 0 else None
        self._in_name, self._out_name = inp.name, outputs[0].name
        self.input_shape: tuple[int, ...] = (1, h, w, 3)
        self.input_dtype: np.dtype = np.dtype(_ORT_DTYPES[inp.type])
        self.input_quant: tuple[float, int] = (0.0, 0)

    def run(self, x: np.ndarray) -> np.ndarray:
        """Raw outputs (N, classes) of a batch (NCHW models get it transposed)."""
        if self._nchw:
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        if self._fixed_batch == 1 and x.shape[0] > 1:
            parts = [self._sess.run([self._out_name], {self._in_name: x[i : i + 1]})[0] for i in range(len(x))]
            return np.concatenate(parts).astype(np.float32, copy=False)
        result: np.ndarray = self._sess.run([self._out_name], {self._in_name: x})[0].astype(np.float32, copy=False)
        return result


BACKENDS = {b.family: b for b in (LiteRTBackend, OnnxBackend)}


def sniff_family(path: Path) -> str | None:
    """Backend family from the file's first bytes, for files with an unusual extension."""
    with open(path, "rb") as f:
        head = f.read(8)
    return "tflite" if head[4:8] == b"TFL3" else None


__all__ = ["BACKENDS", "LiteRTBackend", "OnnxBackend", "sniff_family"]
