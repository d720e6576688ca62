"""The one parity checker: an exported file, run through the runtime, against the Keras model.

Tolerances come from the format table (sportsedge.core.formats): float formats must match Keras
closely (max |p_keras - p_export|, within an absolute bound plus a share of the logits' scale,
which float rounding grows with) and agree on every top-1; quantized formats are judged by
top-1 agreement (a warning below ``warn_agreement``, a failure below ``min_agreement``).
"""

from __future__ import annotations

import warnings

import numpy as np

from sportsedge.core import metrics
from sportsedge.core.errors import ModelError, first_line
from sportsedge.core.formats import Format, Status
from sportsedge.core.records import Parity
from sportsedge.runtime import Classifier


def check(
    path,
    fmt: Format,
    pixels: np.ndarray,
    labels: np.ndarray,
    keras_probs: np.ndarray,
    expected_labels: tuple[str, ...],
    min_agreement: float | None = None,
) -> Parity:
    """Parity figures and a status for one artifact; ``min_agreement`` overrides the table's floor.
    A file the runtime cannot load or run here (a quantizer's output XNNPACK refuses to prepare)
    fails its check with the engine's reason, never falls back silently."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = Classifier.load(path, verify=False)  # the golden check is written after parity
            probs = clf.scores(pixels)
    except (ModelError, RuntimeError) as err:
        reason = first_line(err).removeprefix(f"{path}: ")
        return {"n": int(len(pixels)), "agreement": 0.0, "max_abs_diff": None, "top1_keras": None,
                "top1_export": None, "status": Status.FAILED, "loads": False,
                "message": f"this machine's runtime cannot run it ({reason})"}  # fmt: skip
    # A NaN compares false with every bound: counted first, so that it can never pass as "within".
    bad_source, bad_file = _non_finite(keras_probs), _non_finite(probs)
    max_abs_diff = float(np.abs(keras_probs - probs).max())
    result: Parity = {
        "n": int(len(pixels)),
        "agreement": metrics.agreement(probs, keras_probs),
        # Ranking beyond the first place: int8 files that ended in a uint8 softmax lost it (outputs.py).
        "top5_overlap": metrics.topk_overlap(probs, keras_probs, 5),
        "top5_order": metrics.topk_order_match(probs, keras_probs, 5),
        "max_abs_diff": max_abs_diff,
        "top1_keras": metrics.top1_known(keras_probs, labels),
        "top1_export": metrics.top1_known(probs, labels),
        "input_dtype": str(clf.input_dtype),
        "output": str(clf.output),
    }
    floor = min_agreement if min_agreement is not None and fmt.quantized else fmt.min_agreement
    problems = []
    if bad_source:
        problems.append(f"the source model's outputs are NaN or Inf on {bad_source} of {len(pixels)} parity images")
    if bad_file:
        problems.append(f"the file's outputs are NaN or Inf on {bad_file} of {len(pixels)} parity images")
    if tuple(clf.labels) != tuple(expected_labels):
        problems.append("labels inside the file differ from the source model's")
    if result["agreement"] < floor:
        problems.append(f"top-1 agreement {result['agreement']:.3f} < {floor:.3f}")
    scale = logit_scale(keras_probs)
    bound = fmt.parity_bound(scale)
    if bound is not None and not max_abs_diff <= bound and not (bad_source or bad_file):
        problems.append(
            f"max |diff| {max_abs_diff:.2e} > {bound:.2e}"
            f" ({fmt.max_abs_diff:g} + {fmt.rel_diff:g} x logit scale {scale:.1f})"
        )
    if problems:
        result["status"], result["message"] = Status.FAILED, "; ".join(problems)
    elif result["agreement"] < fmt.warn_agreement:
        result["status"] = Status.WARNING
        result["message"] = f"top-1 agreement {result['agreement']:.3f} < {fmt.warn_agreement:.3f}"
    else:
        result["status"], result["message"] = Status.PASSED, ""
    return result


def logit_scale(probs: np.ndarray) -> float:
    """The spread of the source's logits (max - min over a row, largest over the rows), recovered from
    its probabilities (log p is the logits less a constant per row): what float rounding scales with.
    A probability that underflowed counts as float32's smallest, so the scale stops near 104."""
    finite = probs[np.isfinite(probs).all(axis=-1)].astype(np.float64)
    if not finite.size:
        return 0.0
    logp = np.log(np.clip(finite, _TINY, None))
    return float((logp.max(axis=-1) - logp.min(axis=-1)).max())


_TINY = float(np.finfo(np.float32).smallest_subnormal)


def _non_finite(probs: np.ndarray) -> int:
    """Images whose scores hold a NaN or an infinity."""
    return int(np.sum(~np.isfinite(probs).all(axis=-1)))
