"""The ONNX half, without TensorFlow: onnxruntime's public activation matching (qdq_loss_debug:
the SQNR of every saved activation, float model against int8 model, accumulated along the graph)
and its profiler (each node's share of the int8 model's kernel time); files that keep layers
float come from quantize_static's ``nodes_to_exclude``, with the activation ranges export fits.

A layer is the nodes that share a name path (tf2onnx: ``model/model/conv_3/BiasAdd`` and
``.../conv_3/Relu``; PyTorch: ``/layer1/conv/Conv``), named by its Keras layer where one matches.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sportsedge.export.float_layers import onnx_layers
from sportsedge.export.selective import Layer, labelled
from sportsedge.runtime.ort_session import session_options

DEBUG_IMAGES = 32  # images the activation matching runs
PROFILE_RUNS = 30  # inferences the profiler times
SQNR_CAP = 100.0  # dB: an exact tensor (inf) counts as this


class OnnxLayers:
    """Per-layer errors, latency shares and selective int8 files of one source (an ExportContext)."""

    format = "onnx-int8"
    family = "onnx"

    def __init__(self, ctx, tell):
        self.ctx, self.tell = ctx, tell
        # a Keras source's layers name the ONNX layers tf2onnx made of them; an ONNX source has its node paths
        self.keras_names = ctx.layer_names(logits=False)
        self.output = ctx.onnx_logits[1]
        self.pre = ctx.onnx_prepared(tell)[0]

    def _quantized(self, exclude: Sequence[str], path: Path) -> Path:
        from sportsedge.export.onnx import quantize_qdq

        quantize_qdq(self.ctx, path, list(exclude), self.tell)
        return path

    def quantized_bytes(self, float_layers: Sequence[Layer]) -> bytes:
        """The int8 file's bytes (no metadata) with ``float_layers`` left float."""
        keys = [k for layer in float_layers for k in layer.keys]
        return self._quantized(keys, self.ctx.work / "selective-q.onnx").read_bytes()

    def build(self, float_layers: Sequence[Layer], path: Path) -> Path:
        raw = self._quantized([k for layer in float_layers for k in layer.keys], self.ctx.work / "doctor-q.onnx")
        return labelled(self.ctx, path, raw.read_bytes(), self.format, self.output, [la.name for la in float_layers])

    def layers(self) -> list[Layer]:
        """Every quantized layer with its int8 error, in graph order (measured once)."""
        if getattr(self, "_layers", None) is None:
            self._layers = self._measure()
        return self._layers

    def _measure(self) -> list[Layer]:
        import onnx
        from onnxruntime.quantization import qdq_loss_debug as debug

        from sportsedge.export.onnx import calibration_reader

        self.tell("  per-layer int8 error: onnxruntime's activation matching ...")
        plain = self._quantized((), self.ctx.work / "doctor-plain.onnx")
        pixels = self.ctx.calibration[:DEBUG_IMAGES]
        acts = {}
        for which, model in (("float", self.pre), ("int8", plain)):
            augmented = self.ctx.work / f"doctor-augmented-{which}.onnx"
            debug.modify_model_output_intermediate_tensors(str(model), str(augmented))
            # onnxruntime runs these with graph optimisation off: QDQ as float, no int8 kernels.
            acts[which] = debug.collect_activations(str(augmented), calibration_reader(pixels))
        matching = debug.create_activation_matching(acts["int8"], acts["float"])
        sqnr = {t: min(SQNR_CAP, e["xmodel_err"]) for t, e in debug.compute_activation_error(matching).items()}
        graph = onnx.load(str(self.pre)).graph
        macs = _macs(graph)
        shares = _latency_shares(plain)
        nodes_by_name = {n.name: n for n in graph.node}
        out = []
        for name, members in onnx_layers(graph, self.keras_names).items():
            nodes = [nodes_by_name[m] for m in members]
            made = {o for n in nodes for o in n.output}
            inside = [sqnr[i] for n in nodes for i in n.input if i not in made and i in sqnr]
            after = [sqnr[o] for o in made if o in sqnr]
            if not after:
                continue  # nothing of it is quantized
            before = min(inside) if inside else SQNR_CAP
            share = sum(v for k, v in shares.items() if any(k.startswith(m) for m in members)) if shares else None
            out.append(
                Layer(
                    name=name,
                    op=next((n.op_type for n in nodes if n.name in macs), nodes[0].op_type),
                    keys=tuple(members),
                    error=max(0.0, before - min(after)),
                    snr_db=min(after),
                    rmse_steps=None,
                    macs=sum(macs.get(n.name, 0) for n in nodes),
                    latency_share=share,
                )
            )
        return out


def _macs(graph) -> dict[str, int]:
    """Node name -> multiply-accumulates (Conv, MatMul, Gemm), from the shapes quant_pre_process inferred."""
    shapes = {}
    for v in [*graph.value_info, *graph.output, *graph.input]:
        dims = v.type.tensor_type.shape.dim
        shapes[v.name] = [d.dim_value or 1 for d in dims]
    weights = {w.name: list(w.dims) for w in graph.initializer}
    out = {}
    for n in graph.node:
        w = weights.get(n.input[1]) if len(n.input) > 1 else None
        y = shapes.get(n.output[0])
        if not w or not y:
            continue
        if n.op_type == "Conv":
            out[n.name] = math.prod(y[1:]) * math.prod(w[1:])
        elif n.op_type in ("MatMul", "Gemm"):
            out[n.name] = math.prod(y[1:]) * w[0]
    return out


def _latency_shares(path: Path) -> dict[str, float]:
    """Node name -> its share of the kernel time, from onnxruntime's profiler (1 thread)."""
    import tempfile

    import onnxruntime as ort

    # The profiler writes a JSON trace; it goes to a scratch folder so that
    # neither the model's folder nor the working directory keeps it.
    with tempfile.TemporaryDirectory(prefix="sportsedge-profile-") as scratch:
        options = session_options(threads=1)
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(scratch) / "profile")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        shape = [d if isinstance(d, int) else 1 for d in session.get_inputs()[0].shape]
        x = np.zeros(shape, np.float32)
        for _ in range(PROFILE_RUNS):
            session.run(None, {name: x})
        events = json.loads(Path(session.end_profiling()).read_text())
    times: dict[str, float] = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            key = e["name"].removesuffix("_kernel_time")
            times[key] = times.get(key, 0.0) + float(e["dur"])
    total = sum(times.values()) or 1.0
    return {k: v / total for k, v in times.items()}
