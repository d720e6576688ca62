"""What every converter of one source model (a training run or a user's model) needs, computed
once and only when asked for. What differs by source family it asks the family's record
(export/families.py): the context never imports a converter, and no converter needs it but as a type."""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from sportsedge.core.errors import MissingDependencyError
from sportsedge.core.outputs import OutputKind, probabilities
from sportsedge.export.config import AccuracyConfig, RangeFit
from sportsedge.export.families import family_of
from sportsedge.export.source import Source
from sportsedge.export.sources.family import SourceFamily, impl
from sportsedge.runtime.imagesets import full_range, label_index, list_stratified, load_images
from sportsedge.train.config import RunRecord

WORK_PREFIX = "sportsedge-export-"  # + pid + "-": the next export removes a killed one's folder


class ExportContext:
    def __init__(
        self,
        source: Source,
        loaded,
        calibration_size: int,
        parity_size: int,
        seed: int = 0,
        qat=None,
        accuracy=None,
        attempts_dir: Path | None = None,
        log_path: Path | None = None,
        min_agreement: float | None = None,
    ):
        self.source, self._loaded = source, loaded  # loaded: user_model.Loaded, None for a run
        self.family: SourceFamily = family_of(source.kind)  # what the source's family does differently
        self.run_dir = source.path
        self.record = RunRecord.load(source.path) if source.ours else None
        self.model_name: str = source.name
        self.labels: tuple[str, ...] = source.labels
        self.input_size: tuple[int, int] = source.input_size
        self.calibration_dir = source.calibration_dir
        self.parity_dir = source.parity_dir
        self.calibration_size, self.parity_size, self.seed = calibration_size, parity_size, seed
        self._tmp = tempfile.TemporaryDirectory(prefix=f"{WORK_PREFIX}{os.getpid()}-")
        self.work = Path(self._tmp.name)
        self.qat, self.accuracy = qat, accuracy  # QatConfig, AccuracyConfig (format options)
        self.attempts_dir = attempts_dir
        self.log_path: Path = log_path or self.work / "export.log"  # converters' chatter: the caller's log, else ours
        self.min_agreement = min_agreement  # --min-agreement: overrides the table's int8 parity floor
        self._checked: dict = {}  # parity results by (model sha256, format, against Keras?)
        self._fitted: tuple[bytes, dict] | None = None  # fitted_float's result, once computed
        self._onnx_prepared: tuple | None = None  # onnx_prepared's result, once computed

    def close(self) -> None:
        self._tmp.cleanup()

    @property
    def loaded(self):
        """What the family's resolve loaded (user_model.Loaded), or None for a source loaded lazily."""
        return self._loaded

    @functools.cached_property
    def model(self):
        """The source model, wrapped to take raw 0..255 pixels (Keras, the ONNX bytes, the nn.Module),
        the source's output kind out; a run's Keras model loads here, when first needed."""
        if self._loaded is not None:
            return self._loaded.model
        assert self.family.lazy_model is not None  # for the type checker: a family without loaded has one
        return impl(self.family.lazy_model)(self.run_dir)

    @functools.cached_property
    def logits_model(self):
        """The Keras model ending at the logits (what full-int8 formats convert), or None when its
        final softmax cannot be taken off (those files then keep it: output probabilities)."""
        if self.source.output is OutputKind.LOGITS:
            return self.model
        if self._loaded is not None:  # a user model: split before it was wrapped
            return self._loaded.logits
        from sportsedge.export.user_model import split_softmax

        return split_softmax(self.model)

    def int8_output(self) -> OutputKind:
        """What a full-int8 TFLite file of this source outputs."""
        return OutputKind.LOGITS if self.logits_model is not None else OutputKind.PROBABILITIES

    @functools.cached_property
    def saved_model(self) -> str:
        """The model as a SavedModel: the converter's fastest, quietest input."""
        path = self.work / "saved_model"
        self.model.export(str(path), verbose=False)
        return str(path)

    @functools.cached_property
    def logits_saved_model(self) -> str:
        """The logits model (else the model) as a SavedModel: the full-int8 converters' input."""
        if self.logits_model is None or self.logits_model is self.model:
            return self.saved_model
        path = self.work / "saved_model_logits"
        self.logits_model.export(str(path), verbose=False)
        return str(path)

    def reference(self, pixels: np.ndarray) -> np.ndarray:
        """The source model's probabilities (the one output rule) for uint8 pixels: what every
        artifact is checked against."""
        return probabilities(impl(self.family.run)(self.model, pixels), self.source.output)

    @functools.cached_property
    def calibration(self) -> np.ndarray:
        """uint8 pixels (N, H, W, 3) of real images, stratified over classes, spanning 0..255
        (run.resolve_sources refuses calibrated formats for a source without a calibration folder)."""
        assert self.calibration_dir is not None  # for the type checker: resolve_sources refused it
        paths = list_stratified(self.calibration_dir, self.calibration_size, self.seed)
        pixels, _ = load_images(paths, self.input_size, "calibration")
        return full_range(pixels)

    @functools.cached_property
    def parity_paths(self) -> list[Path]:
        """The held-back parity images (a run's valid/), stratified over classes."""
        return list_stratified(self.parity_dir, self.parity_size, self.seed + 1)

    def labels_of(self, paths: list[Path]) -> np.ndarray:
        """The class index of each image under the parity folder (-1 in a flat folder or a class
        folder the model does not know)."""
        root = Path(self.parity_dir)
        names = [p.relative_to(root).parts[0] if p.parent != root else "" for p in paths]
        return label_index(names, self.labels)

    @functools.cached_property
    def parity(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pixels, labels, source probabilities) for the held-back parity images (a run's valid/);
        labels are -1 for images in a flat folder or a class folder the model does not know."""
        pixels, kept = load_images(self.parity_paths, self.input_size, "parity")
        return pixels, self.labels_of(kept), self.reference(pixels)

    def layer_names(self, logits: bool) -> list[str]:
        """Every layer name of the source, as its family names them (a Keras model's, nested ones
        too, with the logits model's when ``logits``: what full-int8 TFLite converts; a PyTorch
        model's submodules; none for an ONNX source, whose layers are its node paths)."""
        return list(impl(self.family.layer_names)(self, logits))

    def tflite_layer(self, tensors) -> str | None:
        """The source's layer that a TFLite op (given its tensors' names) belongs to, or None."""
        return impl(self.family.tflite_layer)(tensors, self.layer_names(logits=True))

    @functools.cached_property
    def tflite_float(self) -> bytes:
        """The float32 .tflite of a family without a SavedModel (PyTorch: litert-torch's): what
        its TFLite formats start from."""
        assert self.family.float_tflite is not None, f"{self.family.name} converts through a SavedModel"
        return impl(self.family.float_tflite)(self)

    @functools.cached_property
    def calibrated_float_file(self) -> Path:
        """``calibrated_float`` on disk, for LiteRT to list its ops (float layers, doctor)."""
        path = self.work / "calibrated-float.tflite"
        path.write_bytes(self.calibrated_float)
        return path

    def check(self, path: Path, data: bytes, fmt, reference: np.ndarray | None = None) -> dict:
        """The parity check of a model file (``data`` before metadata) against Keras, or against
        ``reference`` probabilities; once per model bytes, so a remedy candidate that is kept is not
        run over the parity set again as the artifact."""
        from sportsedge.export.parity import check

        key = (hashlib.sha256(data).hexdigest(), fmt.name, reference is None)
        if key not in self._checked:
            pixels, labels, probs = self.parity
            self._checked[key] = check(
                path, fmt, pixels, labels, probs if reference is None else reference, self.labels, self.min_agreement
            )
        return dict(self._checked[key])

    @functools.cached_property
    def calibrated_float(self) -> bytes:
        """The float TFLite model with calibration statistics recorded, not applied: the
        per-op-set quantizations of the fallback remedy all start from it."""
        return impl(self.family.calibrated_float)(self, None, True)

    @property
    def activation_ranges(self) -> RangeFit:
        """How full-int8 TFLite fits activation ranges (the AccuracyConfig's, else its default)."""
        return (self.accuracy or AccuracyConfig()).activation_ranges

    def fitted_float(self, tell=None) -> tuple[bytes, dict]:
        """``calibrated_float`` with its activation ranges fitted (export/ranges.py), and the
        fit's summary for the manifest; computed once, shared by tflite-int8 and its remedies."""
        if self._fitted is None:
            from sportsedge.export.ranges import fit

            self._fitted = fit(self.calibrated_float, self.calibration, self.activation_ranges, tell)
        return self._fitted

    @functools.cached_property
    def onnx_fp32(self) -> Path:
        """The float32 ONNX graph, shared by the onnx-fp32 and onnx-int8 formats."""
        path = self.work / "fp32.onnx"
        path.write_bytes(impl(self.family.float_onnx)(self))
        return path

    @functools.cached_property
    def onnx_logits(self) -> tuple[Path, OutputKind]:
        """The float ONNX graph onnx-int8 quantizes: without its final softmax when it has one."""
        from sportsedge.export.onnx_wrap import cut_softmax

        cut = cut_softmax(self.onnx_fp32.read_bytes())
        if cut is None:
            return self.onnx_fp32, self.source.output
        path = self.work / "fp32-logits.onnx"
        path.write_bytes(cut)
        return path, OutputKind.LOGITS

    def onnx_prepared(self, tell=None) -> tuple[Path, dict, dict]:
        """(the pre-processed float graph onnx-int8 quantizes, its fitted range overrides, their
        summary), computed once per source and shared by onnx-int8, its fallback and doctor."""
        if self._onnx_prepared is None:
            from onnxruntime.quantization.shape_inference import quant_pre_process

            from sportsedge.export.onnx_ranges import fitted_overrides

            try:
                import sympy  # noqa: F401  (quant_pre_process needs it for symbolic shapes)
            except ImportError as err:
                raise MissingDependencyError("sympy", "train") from err
            pre = self.work / "fp32-pre.onnx"
            quant_pre_process(str(self.onnx_logits[0]), str(pre))  # int8 stops at the logits: softmax in float
            _fold_pads(pre)
            # The activation ranges tflite-int8 gets (least squared int8 error), through the public
            # TensorQuantOverrides option; minmax keeps onnxruntime's own calibration.
            overrides, summary = fitted_overrides(pre, self.calibration, self.activation_ranges, tell)
            self._onnx_prepared = (pre, overrides, summary)
        return self._onnx_prepared


def _fold_pads(path: Path) -> None:
    """Zero Pads folded into the Conv after them (export/onnx_fold.py: onnxruntime's optimizer keeps
    EfficientNet-Lite's, and the int8 graph then runs a Pad pass per stride-2 layer)."""
    import onnx

    from sportsedge.export.onnx_fold import fold_pads

    model = onnx.load(str(path))
    if fold_pads(model):
        onnx.save(model, str(path))
