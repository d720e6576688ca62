"""`tflite-int8-qat`: quantization-aware fine-tuning (tensorflow-model-optimization), then full int8.

tfmot works only with tf-keras and sets TF_USE_LEGACY_KERAS=1 for its whole process on import,
so the fine-tuning runs in a spawned worker process (``qat_worker``): this process hands over
the trained weights, reference outputs and calibration pixels by file and gets a .tflite back.
Its Keras, environment and modules are never touched.
"""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import queue
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sportsedge.core import metrics
from sportsedge.core.errors import MissingDependencyError, ModelError, UsageError
from sportsedge.core.outputs import OutputKind
from sportsedge.export.config import QatConfig
from sportsedge.export.converted import Converted
from sportsedge.export.qat_worker import Message, MessageKind
from sportsedge.train.models import get_model, leaf_layers

if TYPE_CHECKING:
    from sportsedge.export.context import ExportContext
    from sportsedge.export.converted import Tell


QAT_MODULES = ("tensorflow_model_optimization", "tf_keras")
REFERENCE_IMAGES = 16  # parity images the worker's rebuild and fake-quant model are checked on


def require_qat() -> None:
    for module in QAT_MODULES:
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError(module, "qat")


def write_weights(model, path: Path) -> list[dict]:
    """The weights of every layer that has some, in graph order, as one .npz (nested models inlined)."""
    layers: list[dict[str, Any]] = []
    arrays: dict[str, Any] = {}  # Any: numpy's savez stub would read a key as allow_pickle
    for layer in leaf_layers(model):
        ws = [np.asarray(w) for w in layer.get_weights()]
        if not ws:
            continue
        layers.append({"name": layer.name, "class": type(layer).__name__, "shapes": [list(w.shape) for w in ws]})
        for j, w in enumerate(ws):
            arrays[f"{len(layers) - 1:04d}_{j}"] = w
    np.savez(path, **arrays)
    return layers


def convert_qat(ctx: ExportContext, tell: Tell) -> Converted:
    require_qat()
    if not ctx.source.ours:
        raise UsageError(
            f"{ctx.source.path}: tflite-int8-qat rebuilds the model from the sportsedge registry: runs only"
        )
    cfg: QatConfig = ctx.qat
    job = ctx.work / "qat"
    job.mkdir(exist_ok=True)
    layers = write_weights(ctx.model, job / "weights.npz")
    pixels, labels, probs = ctx.parity
    np.save(job / "parity.npy", pixels)
    np.save(job / "reference_probs.npy", probs[:REFERENCE_IMAGES])  # Keras' outputs on the first ones
    np.save(job / "calibration.npy", ctx.calibration)
    record = ctx.record
    assert record is not None  # for the type checker: a run (source.ours) has its record
    entry = get_model(record.model)  # the registry name: model_name has "-160" for a 160-px run
    spec = {
        "model": record.model,
        "registry_module": entry.build.__module__,
        "num_classes": len(ctx.labels),
        # ImageNet-built backbones can differ in structure (EfficientNet adds a Rescaling), so the
        # worker builds the same way; "imagenet" resolves from KERAS_HOME like training did.
        "build_weights": "imagenet" if record.weights == "imagenet" else "none",
        "labels": list(ctx.labels),
        "input_size": list(ctx.input_size),
        "train_dir": str(ctx.calibration_dir),
        "seed": ctx.seed,
        "layers": layers,
        "job": str(job),
        "log": str(ctx.log_path),
        **asdict(cfg),
    }
    (job / "spec.json").write_text(json.dumps(spec))
    result = _run_worker(spec, tell)
    # QAT retrains: the int8 file is checked against the fine-tuned model (fake-quantized, as
    # trained), and its agreement with the model before fine-tuning is recorded beside.
    reference = np.load(job / "parity_probs.npy")
    result["top1_fine_tuned"] = metrics.top1_known(reference, labels)
    result["top1_before"] = metrics.top1_known(probs, labels)
    result["agreement_fine_tuned_vs_before"] = metrics.agreement(reference, probs)
    output = OutputKind(result.pop("output"))
    return Converted((job / "model.tflite").read_bytes(), {"qat": result}, reference, output)


def _run_worker(spec: dict, tell) -> dict:
    from sportsedge.export import qat_worker

    mp = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing of this process's TF/Keras
    messages = mp.Queue()
    proc = mp.Process(target=qat_worker.main, args=(spec, messages), name="sportsedge-qat")
    proc.start()
    try:
        while True:
            try:
                msg: Message = messages.get(timeout=1.0)
            except queue.Empty:
                if not proc.is_alive():
                    # from None: the Empty is our own poll timing out; why the worker died is in its log
                    raise ModelError(
                        None, f"QAT worker exited with code {proc.exitcode} (details in {spec['log']})"
                    ) from None
                continue
            if msg.kind is MessageKind.SAY:
                tell(msg.text)
            elif msg.kind is MessageKind.ERROR:
                raise ModelError(None, f"QAT fine-tuning failed: {msg.text} (details in {spec['log']})")
            else:
                return msg.result
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
            proc.join()
        messages.close()
