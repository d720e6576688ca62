"""Selective int8, for TFLite and ONNX alike: the per-layer record, the one ranking rule and the
search that `export --max-drop` (its fallback remedy) and `sportsedge doctor` both run.

The ranking rule, for TFLite and ONNX alike: shortlist the layers with the largest quantization
error (TFLite: the debugger's RMSE of each op's int8 output in quantization steps, each op fed
the same int8 input, so the error is the op's own; ONNX: the SQNR the layer loses between its
input and its output in onnxruntime's activation matching, which accumulates, so the drop across
a node is its own share), then order the shortlist by the measured gain of keeping each layer
alone in float: the mean KL divergence of its answers from the float model's on the search images,
smallest first (top-1 agreement breaks ties). KL is continuous where agreement counts images: on
a few hundred search images most layers alone change no answer or one, and a one-image
difference is noise that used to decide the order. The search then keeps the shortest prefix of
that order that meets the budget (bisection over the prefix length, every candidate measured
through the runtime). A candidate meets it when it loses at most the budget's top-1 points *and*
agrees with float at least as often as export's parity check demands of the format
(``FORMATS[fmt].min_agreement``): a weak float model (11% top-1, measured) can keep its top-1
while int8 changes half its answers, and a top-1 budget alone cannot see that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from sportsedge.core.formats import FORMATS

RULE = (
    "shortlist by quantization error (TFLite: RMSE of each op's own int8 output in quantization steps; "
    "ONNX: SQNR lost across the node), then order by the measured closeness to float when that layer "
    "alone is kept float (mean KL divergence from float's answers, smallest first; agreement breaks "
    "ties); the search keeps the shortest prefix that meets the budget: at most that many top-1 points "
    "lost and at least export's agreement floor for the format"
)


@dataclass(frozen=True)
class Layer:
    """One quantized layer of the float model, in graph order."""

    name: str  # the Keras layer (TFLite) or ONNX node name: what `export --float-layers` takes
    op: str  # its op type (CONV_2D, Conv, ...)
    keys: tuple[str, ...]  # what the quantizer leaves float for it: TFLite tensor names, the ONNX node name
    error: float  # the shortlist's error, larger = worse (see RULE)
    snr_db: float | None  # signal-to-quantization-noise ratio of its int8 output, dB
    rmse_steps: float | None  # RMSE of its int8 output in quantization steps (TFLite)
    macs: int  # multiply-accumulates per image
    latency_share: float | None = None  # share of the int8 model's measured kernel time (ONNX profiler)


@dataclass(frozen=True)
class Scored:
    """A model's answers on a set of images, against the float model's and the labels."""

    top1: float  # against the labels
    top5: float  # against the labels
    agreement: float  # top-1 agreement with the float model
    drop: float  # top-1 points lost against the float model (its top-1 minus this one's)
    kl: float = 0.0  # mean KL divergence of the float model's probabilities from these, nats


# Probabilities are clipped here before the KL's logarithm: int8 softmax outputs are exactly 0 in
# most classes (uint8 steps of 1/256), where the divergence would otherwise be infinite.
KL_FLOOR = 1e-6


def kl_divergence(reference: np.ndarray, probs: np.ndarray) -> float:
    """Mean KL(reference || probs) over the rows, in nats."""
    p = np.clip(reference.astype(np.float64), KL_FLOOR, None)
    q = np.clip(probs.astype(np.float64), KL_FLOOR, None)
    p, q = p / p.sum(axis=1, keepdims=True), q / q.sum(axis=1, keepdims=True)
    return float(np.mean(np.sum(p * np.log(p / q), axis=1)))


def score(probs: np.ndarray, reference: np.ndarray, labels: np.ndarray) -> Scored:
    """Scored of ``probs`` (N, classes) against the float model's ``reference`` and ``labels``."""
    top = np.argsort(-probs, axis=1)
    ref_top1 = float(np.mean(np.argmax(reference, axis=1) == labels))
    top1 = float(np.mean(top[:, 0] == labels))
    top5 = float(np.mean([label in row[:5] for row, label in zip(top, labels, strict=True)]))
    agreement = float(np.mean(top[:, 0] == np.argmax(reference, axis=1)))
    kl = kl_divergence(reference, probs)
    return Scored(top1, top5, agreement, round(100 * (ref_top1 - top1), 3), round(kl, 6))


def rank(layers: Sequence[Layer], shortlist: int, alone: Callable[[Layer], Scored]) -> list[tuple[Layer, Scored]]:
    """The shortlist, each with its measured gain alone in float, most helpful first (see RULE)."""
    short = sorted(layers, key=lambda layer: -layer.error)[:shortlist]
    measured = [(layer, alone(layer)) for layer in short]
    return sorted(measured, key=lambda t: (t[1].kl, -t[1].agreement, t[1].drop, -t[0].error))


def meets(scored: Scored, max_drop: float, min_agreement: float) -> bool:
    """The budget (see RULE): at most ``max_drop`` top-1 points lost and the agreement floor kept."""
    return scored.drop <= max_drop and scored.agreement >= min_agreement


def shortest_prefix(count: int, good: Callable[[int], bool]) -> tuple[int, bool]:
    """(k, met): the smallest k in 0..count with good(k), by bisection (the gain of a longer
    prefix is assumed not to shrink); (count, False) when even the whole shortlist misses."""
    if good(0):
        return 0, True
    if not good(count):
        return count, False
    low, high = 0, count  # good(high), not good(low)
    while high - low > 1:
        mid = (low + high) // 2
        if good(mid):
            high = mid
        else:
            low = mid
    return high, True


# family -> "module:class" measuring its layers and building its selective files (imported lazily:
# the ONNX one needs no TensorFlow)
FAMILIES = {
    "tflite": "sportsedge.export.tflite_layers:TfliteLayers",
    "onnx": "sportsedge.export.onnx_layers:OnnxLayers",
}


def layers_of(family: str, ctx, tell):
    """The FAMILIES entry of ``family`` for one source (an ExportContext)."""
    import importlib

    module, _, name = FAMILIES[family].partition(":")
    return getattr(importlib.import_module(module), name)(ctx, tell)


@dataclass(frozen=True)
class Searched:
    """What the search found on its images."""

    ranked: list[tuple[Layer, Scored]]  # the shortlist, each with its gain alone in float, best first
    chosen: list[Layer]  # the shortest prefix meeting the budget (all of the shortlist when none does)
    met: bool  # the budget was met on the search images
    plain: Scored  # plain int8 on the search images
    candidates: int  # files built and measured


def search(
    family,
    pixels: np.ndarray,
    labels: np.ndarray | None,
    reference: np.ndarray,
    max_drop: float,
    shortlist: int,
    work: Path,
    tell,
    always_rank: bool = False,
    min_agreement: float | None = None,
) -> Searched:
    """Rank ``family``'s layers and keep the shortest prefix whose file loses at most ``max_drop``
    top-1 points against the float model on ``pixels`` (disagreement points where ``labels`` is
    None) and keeps the format's agreement floor, every candidate built and run through the
    runtime. Plain int8 that meets the budget ends the search unless ``always_rank`` (doctor
    reports the culprits either way). ``min_agreement`` overrides the format's floor, as export's
    ``--min-agreement`` does for its parity check."""
    from sportsedge.runtime import Classifier

    ext = FORMATS[family.format].ext
    truth = np.argmax(reference, axis=1) if labels is None else labels
    built: dict[tuple[str, ...], Scored] = {}

    def measure(layers: list[Layer]) -> Scored:
        key = tuple(la.name for la in layers)
        if key not in built:
            path = family.build(layers, work / f"selective-candidate{ext}")
            got = score(Classifier.load(path, verify=False).scores(pixels), reference, truth)
            built[key] = got if labels is not None else replace(got, drop=round(100 * (1 - got.agreement), 3))
        return built[key]

    floor = FORMATS[family.format].min_agreement if min_agreement is None else min_agreement

    def ok(layers: list[Layer]) -> bool:
        return meets(measure(layers), max_drop, floor)

    plain = measure([])
    if ok([]) and not always_rank:
        return Searched([], [], True, plain, len(built))
    ranked = rank(family.layers(), shortlist, lambda la: measure([la]))
    tell(
        "  culprits: "
        + ", ".join(f"{la.name} (KL {s.kl:.4f}, agreement {s.agreement:.3f} alone)" for la, s in ranked[:5])
    )
    order = [la for la, _ in ranked]
    k, met = shortest_prefix(len(order), lambda n: ok(order[:n]))
    tell(
        f"  search: {k} layer(s) float {'meet' if met else 'do not meet'} the budget ({max_drop:g} points, "
        f"agreement >= {floor:.2f}; {len(built)} candidates measured)"
    )
    return Searched(ranked, order[:k], met, plain, len(built))


def labelled(ctx, path: Path, data: bytes, fmt: str, output, float_layers: list[str]) -> Path:
    """``data`` written to ``path`` with what every export carries (labels, spec, digests, a golden
    check), and which layers are float and why."""
    from dataclasses import replace

    from sportsedge.core.formats import FORMATS
    from sportsedge.runtime import Classifier, ModelMetadata, attach_metadata
    from sportsedge.runtime.golden import make_golden
    from sportsedge.util import fileio

    fileio.write_bytes(path, data)
    meta = ModelMetadata(
        labels=ctx.labels,
        model_name=ctx.model_name,
        input_size=ctx.input_size,
        format=fmt,
        output=output,
        extra={"float_layers": float_layers, "float_layers_why": "sportsedge doctor: kept float to meet the budget"},
    )
    attach_metadata(path, meta, sidecar=False)
    golden = make_golden(Classifier.load(path, verify=False), *FORMATS[fmt].verify_bound(bool(float_layers)))
    attach_metadata(path, replace(meta, golden=golden), sidecar=False)
    return path
