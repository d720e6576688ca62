"""The one rule that turns a model's output into probabilities (runtime, predict, bench, parity).

Full-int8 exports stop at the logits (docs/export.md): a softmax on a uint8 scale of 1/256 leaves
most classes at exactly 0 and ranks everything after the first places by tie-break. The softmax
then runs here, in float. Files whose graph ends in a softmax (older exports, float formats,
other tools' models) say ``probabilities`` and are only renormalised: a quantized softmax sums to
1 +- a few steps, and a score a user thresholds should be a probability whatever the file.
numpy is imported in the functions: the CLI reads ``OutputKind`` to build `--help`.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class OutputKind(str, Enum):
    """What a model file's output tensor holds, as its metadata records it."""

    PROBABILITIES = "probabilities"  # the graph ends in a softmax (every file before logits exports)
    LOGITS = "logits"  # unnormalised scores: the runtime applies a float softmax

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__  # type: ignore[assignment]  # f"{kind}" prints the value, as str() does


def probabilities(outputs: Any, kind: OutputKind | str) -> Any:
    """Rows of class probabilities (float32, each summing to 1) from a model's raw outputs (N, C)."""
    import numpy as np

    x = np.asarray(outputs, np.float64)
    if OutputKind(kind) is OutputKind.LOGITS:
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
    total = x.sum(axis=-1, keepdims=True)
    # A row of all zeros (possible from a quantized softmax on odd input) has no ranking: uniform.
    safe = np.where(total > 0, total, 1.0)
    out = np.where(total > 0, x / safe, 1.0 / x.shape[-1])
    return out.astype(np.float32)


def looks_like_probabilities(outputs: Any, atol: float = 1e-3) -> bool:
    """True when every row is non-negative and sums to 1: how an unknown model's output is detected."""
    import numpy as np

    x = np.asarray(outputs, np.float64)
    return bool(x.size) and bool((x >= -1e-6).all()) and bool(np.allclose(x.sum(axis=-1), 1.0, atol=atol))
