"""What every converter of one training run needs, computed once and only when asked for."""

from __future__ import annotations

import functools
import hashlib
import tempfile
from pathlib import Path

import numpy as np

from ..imagesets import full_range, label_index, list_stratified, load_images
from ..train.config import RunRecord


class ExportContext:
    def __init__(
        self,
        run_dir: Path,
        calibration: str | Path | None,
        calibration_size: int,
        parity_size: int,
        seed: int = 0,
        qat=None,
        accuracy=None,
        attempts_dir: Path | None = None,
        log_path: Path | None = None,
        min_agreement: float | None = None,
    ):
        self.run_dir = Path(run_dir)
        self.record = RunRecord.load(self.run_dir)
        self.model_name: str = self.record.model
        self.labels: tuple[str, ...] = self.record.classes
        self.input_size: tuple[int, int] = self.record.input_size
        data = Path(self.record.data)
        self.calibration_dir = Path(calibration) if calibration else data / "train"
        self.parity_dir = data / "valid"
        self.calibration_size, self.parity_size, self.seed = calibration_size, parity_size, seed
        self._tmp = tempfile.TemporaryDirectory(prefix="sportsedge-export-")
        self.work = Path(self._tmp.name)
        self.qat, self.accuracy = qat, accuracy  # QatConfig, AccuracyConfig (format options)
        self.attempts_dir, self.log_path = attempts_dir, log_path
        self.min_agreement = min_agreement  # --min-agreement: overrides the table's int8 parity floor
        self._checked: dict = {}  # parity results by (model sha256, format, against Keras?)

    def close(self) -> None:
        self._tmp.cleanup()

    @functools.cached_property
    def model(self):
        import keras

        return keras.models.load_model(self.run_dir / "model.keras", compile=False)

    @functools.cached_property
    def saved_model(self) -> str:
        """The model as a SavedModel: the converter's fastest, quietest input."""
        path = self.work / "saved_model"
        self.model.export(str(path), verbose=False)
        return str(path)

    @functools.cached_property
    def calibration(self) -> np.ndarray:
        """uint8 pixels (N, H, W, 3) of real images, stratified over classes, spanning 0..255."""
        paths = list_stratified(self.calibration_dir, self.calibration_size, self.seed)
        pixels, _ = load_images(paths, self.input_size, "calibration")
        return full_range(pixels)

    @functools.cached_property
    def parity(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pixels, labels, Keras probabilities) for the held-back parity images from valid/."""
        paths = list_stratified(self.parity_dir, self.parity_size, self.seed + 1)
        pixels, kept = load_images(paths, self.input_size, "parity")
        labels = label_index([p.relative_to(self.parity_dir).parts[0] for p in kept], self.labels)
        probs = self.model.predict(pixels.astype(np.float32), batch_size=32, verbose=0)
        return pixels, labels, probs

    def check(self, path: Path, data: bytes, fmt, reference: np.ndarray | None = None) -> dict:
        """The parity check of a model file (``data`` before metadata) against Keras, or against
        ``reference`` probabilities; once per model bytes, so a remedy candidate that is kept is not
        run over the parity set again as the artifact."""
        from .parity import check

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
        from .tflite import calibrated_float

        return calibrated_float(self)

    @functools.cached_property
    def onnx_fp32(self) -> Path:
        """The float32 ONNX graph, shared by the onnx-fp32 and onnx-int8 formats."""
        from .onnx import keras_to_onnx

        path = self.work / "fp32.onnx"
        path.write_bytes(keras_to_onnx(self.model, self.input_size))
        return path
