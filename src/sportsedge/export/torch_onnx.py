"""A PyTorch source as float32 ONNX through ``torch.onnx`` (the TorchScript exporter, opset 17):
the same opset as our Keras exports and one file (the dynamo exporter writes opset 18 and external
weight files unless told otherwise; measured on EfficientNet-Lite0, the TorchScript exporter
matches torch to 1.6e-5).

The batch is declared dynamic only where the graph really takes any batch: a program saved with
torch.export at batch 1 may have that 1 (or the input size) baked into its reshapes (``x.view(1, -1)``
before a Linear, a patch embedding by reshape), and a file that declares a dynamic batch it cannot
run fails on the first batch of two. So the dynamic export is run here at batch 2 against one image
at a time; a graph that fails or differs is exported again with a fixed batch of one, said so, and
recorded in the file (its input shape, and ``FIXED_BATCH_KEY`` in its metadata_props), and the
runtime feeds it one image at a time (runtime/backends.py)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from sportsedge.core.errors import ModelError, first_line
from sportsedge.export.onnx_convert import OPSET
from sportsedge.export.onnx_wrap import INPUT_NAME
from sportsedge.util import progress

FIXED_BATCH_KEY = "fixed_batch"  # metadata_props entry of a file exported for one image: why
# Batch 2 against two single runs: the same kernels on the same values, so any difference beyond
# float noise means the batch was mixed into the computation (a reshape that merged images).
_BATCH_RTOL = 1e-4


def float_onnx(ctx) -> bytes:
    """A PyTorch source's float32 ONNX (its family's ``float_onnx``)."""
    return torch_to_onnx(ctx.loaded.model, ctx.input_size, ctx.source.path)


def torch_to_onnx(wrapped, size: tuple[int, int], where: Path, say=None) -> bytes:
    """The wrapped module (raw NHWC pixels in) as ONNX bytes: batch dynamic when the graph takes
    any batch, else fixed at one image (said through ``say``)."""
    data = _export(wrapped, size, where, dynamic=True)
    why = batch_refusal(data, size)
    if why is None:
        return data
    note = f"the program fixed its batch at trace time ({why}): ONNX file made for one image at a time"
    (say or progress.say)(f"{where}: {note}")
    return _with_prop(_export(wrapped, size, where, dynamic=False), FIXED_BATCH_KEY, note)


def _export(wrapped, size: tuple[int, int], where: Path, dynamic: bool) -> bytes:
    from sportsedge.export.torch_model import torch_module

    torch = torch_module()
    buf = io.BytesIO()
    sample = torch.zeros((1, *size, 3), dtype=torch.float32)
    axes = {INPUT_NAME: {0: "batch"}, "scores": {0: "batch"}} if dynamic else None
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
                dynamic_axes=axes,
            )
    except Exception as err:  # torch.onnx raises its own errors per unsupported op or construct
        raise ModelError(where, f"torch.onnx cannot export it at opset {OPSET} ({first_line(err)})") from err
    return buf.getvalue()


def batch_refusal(data: bytes, size: tuple[int, int]) -> str | None:
    """Why the ONNX graph cannot take two images at once (None: it can, with the same scores as one
    at a time). A graph that fails even at batch 1 is left to the parity check, which says so."""
    import onnxruntime as ort

    from sportsedge.runtime.ort_session import session_options

    pixels = np.random.default_rng(0).uniform(0, 255, (2, *size, 3)).astype(np.float32)
    sess = ort.InferenceSession(data, session_options(1), providers=["CPUExecutionProvider"])
    try:
        single = np.concatenate([sess.run(None, {INPUT_NAME: pixels[i : i + 1]})[0] for i in range(2)])
    except Exception:  # onnxruntime's own error types: not a batch question
        return None
    try:
        both = sess.run(None, {INPUT_NAME: pixels})[0]
    except Exception as err:  # onnxruntime names the node that refused the batch
        return f"at batch 2: {first_line(err)[:200]}"
    if both.shape != single.shape:
        return f"batch 2 gives scores of shape {tuple(both.shape)}, not {tuple(single.shape)}"
    if not np.allclose(both, single, rtol=_BATCH_RTOL, atol=_BATCH_RTOL * float(np.abs(single).max())):
        return "batch 2 gives other scores than one image at a time"
    return None


def _with_prop(data: bytes, key: str, value: str) -> bytes:
    """The ONNX bytes with one metadata_props entry added (the exporter writes none)."""
    import onnx

    model = onnx.load_from_string(data)
    onnx.helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props}, key: value})
    return model.SerializeToString()
