"""A .tflite file's ops with their tensors, and their multiply-accumulates, from LiteRT's
interpreter: its one private call (``_get_ops_details``) lives here, checked to exist; an
interpreter without it (an old tflite-runtime) lists nothing, and the callers leave their
columns empty. MACs count CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (bench/macs.py says why)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Tensor:
    """One tensor of an op."""

    name: str  # the converter's name: it carries the Keras layer path (``model_1/conv_3/BiasAdd``)
    shape: tuple[int, ...]  # as the interpreter allocates it


@dataclass(frozen=True)
class Op:
    """One op of the graph, in execution order."""

    name: str  # the builtin op, e.g. CONV_2D
    inputs: tuple[Tensor, ...]  # data first, then weights and bias
    outputs: tuple[Tensor, ...]  # usually one


def tflite_ops(path: str | Path) -> list[Op] | None:
    """The ops of a .tflite file, or None where this interpreter cannot list them."""
    from sportsedge.runtime.backends import litert_interpreter_class

    interpreter = litert_interpreter_class()(model_path=str(path))
    ops_details = getattr(interpreter, "_get_ops_details", None)
    if ops_details is None:
        return None
    tensors = {
        t["index"]: Tensor(t["name"], tuple(int(v) for v in t["shape"])) for t in interpreter.get_tensor_details()
    }

    def of(indices: Any) -> tuple[Tensor, ...]:
        return tuple(tensors[int(i)] for i in indices if int(i) in tensors)

    return [Op(op["op_name"], of(op["inputs"]), of(op["outputs"])) for op in ops_details()]


# op -> MACs from (output shape, weight shape): the weight is the op's second input
_PER_OP: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], int]] = {
    "CONV_2D": lambda out, w: int(np.prod(out)) * int(np.prod(w[1:])),  # w: (out c, kh, kw, in c)
    "DEPTHWISE_CONV_2D": lambda out, w: int(np.prod(out)) * int(w[1] * w[2]),  # w: (1, kh, kw, c)
    "FULLY_CONNECTED": lambda out, w: int(np.prod(out)) * int(w[-1]),  # w: (units, inputs)
}


def _count(op: Op) -> int | None:
    count = _PER_OP.get(op.name)
    if count is None or len(op.inputs) < 2 or not op.outputs or not op.outputs[0].shape:
        return None
    return count((1, *op.outputs[0].shape[1:]), op.inputs[1].shape)


def per_op_macs(path: str | Path) -> dict[str, int]:
    """MACs of each counted op, by the name of its output tensor (empty where the interpreter
    cannot list its ops)."""
    return {op.outputs[0].name: n for op in tflite_ops(path) or () if (n := _count(op)) is not None}


def tflite_macs(path: str | Path) -> int | None:
    """MACs of one inference (batch 1), or None where the interpreter cannot list its ops."""
    ops = tflite_ops(path)
    return None if ops is None else sum(n for op in ops if (n := _count(op)) is not None)
