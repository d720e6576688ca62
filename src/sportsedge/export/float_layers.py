"""Layers kept float in an int8 file, by name (`export --float-layers`, what `sportsedge doctor`
prints): a Keras layer's TFLite ops, an ONNX layer's nodes.

A TFLite op belongs to the Keras layer its tensors name (``model_1/model_1/conv_3/BiasAdd;...``:
the deepest path part that is a layer, Keras' export suffix ``_N`` allowed; an output tensor
named ``StatefulPartitionedCall:0`` says nothing, its weights' names do). An ONNX layer is the
nodes sharing a name path (tf2onnx's ``model/conv_3/BiasAdd`` and ``.../conv_3/Relu``, PyTorch's
``/layer1/conv/Conv``), named by its Keras layer where one matches, else by that path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from sportsedge.core.errors import UsageError

LOGITS_SUFFIX = "_logits"  # the layer split_softmax makes of a final softmax Dense


def keras_layers(model) -> list[str]:
    """Every layer name, nested models' layers included (a logits model wraps the original)."""
    names = []
    for layer in model.layers:
        names.append(layer.name)
        if hasattr(layer, "layers"):
            names += keras_layers(layer)
    return names


def keras_layer_names(ctx, logits: bool) -> list[str]:
    """A Keras source's layer names (ExportContext.layer_names), with its logits model's when ``logits``."""
    extra = keras_layers(ctx.logits_model) if logits and ctx.logits_model is not None else []
    return keras_layers(ctx.model) + extra


def layer_name(tensors: Sequence[str], names: Sequence[str]) -> str | None:
    """The Keras layer of an op, from its tensors' names (see the module docstring)."""
    known = set(names)
    for tensor in tensors:
        for name in tensor.split(";"):
            for part in reversed(name.split("/")[:-1]):
                for candidate in (part, re.sub(r"_\d+$", "", part)):
                    if candidate in known:
                        base = candidate.removesuffix(LOGITS_SUFFIX)
                        return base if base in known else candidate
    return None


def op_tensors(path: Path) -> list[tuple[str, list[str]]]:
    """(output tensor name, names of the op's inputs but the first: its weights) per op, in order."""
    from sportsedge.runtime.graph import tflite_ops

    ops = tflite_ops(path)
    if ops is None:
        raise UsageError("this LiteRT cannot list a model's ops: --float-layers needs ai-edge-litert 2.0 or newer")
    return [(op.outputs[0].name, [t.name for t in op.inputs[1:]]) for op in ops if op.outputs]


def tflite_layers(float_model: Path, layer_of: Callable[[list[str]], str | None]) -> dict[str, list[str]]:
    """Source layer -> the output tensors of its ops in a float .tflite (what the quantizer denylists);
    ``layer_of``: an op's layer from its tensors' names (ExportContext.tflite_layer)."""
    out: dict[str, list[str]] = {}
    for tensor, weights in op_tensors(float_model):
        layer = layer_of([tensor, *weights])
        if layer is not None:
            out.setdefault(layer, []).append(tensor)
    return out


def onnx_group(node_name: str) -> str:
    return node_name.rsplit("/", 1)[0] if "/" in node_name.strip("/") else node_name


def onnx_layers(graph, names: Sequence[str] = ()) -> dict[str, list[str]]:
    """ONNX layer name -> its node names, in graph order."""
    out: dict[str, list[str]] = {}
    for node in graph.node:
        if not node.name:  # nodes_to_exclude names nodes: a nameless one cannot be kept float
            continue
        group = onnx_group(node.name)
        layer = layer_name([group + "/x"], names) or group
        out.setdefault(layer, []).append(node.name)
    return out


def pick(layers: dict[str, list[str]], wanted: Sequence[str], where: str) -> list[str]:
    """The keys of the ``wanted`` layers; UsageError naming an unknown one and what there is."""
    unknown = [w for w in wanted if w not in layers]
    if unknown:
        shown = ", ".join(list(layers)[:12]) + (" ..." if len(layers) > 12 else "")
        raise UsageError(f"--float-layers: no layer {unknown[0]!r} in {where} (its layers: {shown})")
    return [k for w in wanted for k in layers[w]]
