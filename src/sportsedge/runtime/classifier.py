"""Classifier: load an exported .tflite/.onnx file and classify images with it.

Thread safety: a Classifier may be shared by many threads. Preprocessing runs in the calling
thread, in parallel; inference on a LiteRT interpreter (not thread-safe) is serialised by a
per-Classifier lock, while ONNX Runtime sessions run concurrently. For parallel LiteRT
throughput, give each thread its own Classifier (``Classifier.load`` the same file again).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from sportsedge.core.builtin import resolve
from sportsedge.core.errors import ModelError, UsageError, first_line
from sportsedge.core.formats import family_of
from sportsedge.core.metrics import ranked
from sportsedge.core.outputs import probabilities
from sportsedge.runtime.backends import BACKENDS, Backend, sniff_family
from sportsedge.runtime.golden import GoldenResult, check_golden
from sportsedge.runtime.metadata import FAILED_AT_EXPORT, ModelMetadata, read_metadata, sidecar_path
from sportsedge.runtime.preprocess import COMPATIBLE_VERSIONS, PREPROCESSING_VERSION, ImageSource, load_pixels


class Prediction(NamedTuple):
    """One class of a ranked answer."""

    label: str  # class name (from the model's metadata, or "class_<index>" without it)
    index: int  # type: ignore[assignment]  # position in the model's output (shadows tuple.index, as the API has it)
    score: float  # the class's probability (outputs.probabilities: the one rule, whatever the file's output)


class MissingLabelsWarning(UserWarning):
    """The model carries no labels; predictions are named by index."""


class UnverifiedWarning(UserWarning):
    """The model carries no golden check: this machine's engine could not be verified on it."""


# What a user may hand `predict` before exporting: a training run, a Keras file, a SavedModel.
_NOT_EXPORTED = {".keras": "a Keras model", ".h5": "a Keras HDF5 model", ".pb": "a TensorFlow graph"}
_EXPORT_HINT = "export it first: sportsedge export {path} --out exports/ (then use exports/*.tflite or *.onnx)"


def _not_a_model_file(path: Path) -> str:
    """Why ``path`` is not a model file the runtime loads, and how to get one."""
    if not path.exists():
        return "no such model file"
    hint = _EXPORT_HINT.format(path=path)
    if path.is_dir():
        if (path / "model.keras").is_file() and (path / "config.json").is_file():
            return f"a training run folder, not a model file: {hint}"
        if (path / "saved_model.pb").is_file():
            return f"a TensorFlow SavedModel folder, not a model file: {hint}"
        return "a folder, not a model file (give a .tflite or .onnx file)"
    if path.suffix.lower() not in _NOT_EXPORTED:  # a device, a FIFO, a socket
        return "not a regular file (give a .tflite or .onnx file)"
    return f"{_NOT_EXPORTED[path.suffix.lower()]}, which the runtime does not load: {hint}"


class Classifier:
    """An exported .tflite/.onnx classifier, checked at load, that takes raw RGB images.

    Load one with :meth:`Classifier.load`; then :meth:`predict` (one image: a path, a PIL image
    or an HxWx3 uint8 array) or :meth:`predict_batch`. Preprocessing is the one training used
    (Pillow decode, bilinear resize to the model's size, the model's pixel transform)."""

    def __init__(
        self, backend: Backend, path: Path, metadata: ModelMetadata, labels: Sequence[str], sealed: bool = False
    ):
        self._backend = backend
        self.sealed = sealed  # the file's recorded digests were checked at load (runtime/integrity.py)
        self._lock = None if backend.thread_safe else threading.Lock()
        self.thread_safe = backend.thread_safe  # inference runs concurrently from many threads (ONNX Runtime)
        self.path = path
        self.metadata = metadata
        self.labels = tuple(labels)
        _, h, w, _ = backend.input_shape
        self.input_size = (h, w)  # (height, width) images are resized to
        self.input_dtype = backend.input_dtype
        scale, zero = backend.input_quant
        self._quant = (float(scale), int(zero)) if scale and (scale, zero) != (1.0, 0) else None
        self.output = metadata.output  # what the file's output holds; scores() turns it into probabilities
        transform = metadata.input_transform
        self._transform = transform if transform is not None and not transform.identity else None

    @classmethod
    def load(cls, path: str | os.PathLike[str], threads: int | None = None, verify: bool = True) -> Classifier:
        """Load a model file; the backend is chosen from its extension (or its first bytes).

        The digests the file records (runtime/integrity.py) are always checked first, before any
        engine sees the bytes: a damaged copy raises ModelError naming the file. ``verify`` (the
        default) also runs the file's golden check (two inferences, see :meth:`verify`) and raises
        ModelError if it fails; a file that carries no golden check loads with a warning.

        Args:
            path: a .tflite or .onnx file (exported by sportsedge, or labelled with `sportsedge label`),
                or a built-in model's name (``"sports100"``, core/builtin.py) where no such file exists.
            threads: engine threads; None = the engine's default.
            verify: run the golden check now (the digests are checked either way).

        Returns:
            The classifier, warmed up by one inference.

        Raises:
            ModelError: the file is missing, empty, damaged, of an unknown type, or fails its golden check.
            UsageError: ``threads`` below 1.
            MissingDependencyError: the file's engine (ai-edge-litert or onnxruntime) is not installed.
        """
        path = resolve(path)
        if not path.is_file() or path.suffix.lower() in _NOT_EXPORTED:
            raise ModelError(path, _not_a_model_file(path))
        if path.stat().st_size == 0:
            raise ModelError(path, "empty model file")
        if threads is not None and threads < 1:
            raise UsageError(f"threads must be at least 1, got {threads}")
        family = family_of(path) or sniff_family(path)
        if family not in BACKENDS:
            raise ModelError(path, "unknown model type (expected a .tflite or .onnx file)")
        meta, sealed = read_metadata(path, path.read_bytes(), family)
        refuse_failed_at_export(path, meta, verify)
        backend = BACKENDS[family](path, threads)
        try:  # one dry run: learns the class count and warms the engine up
            n_classes = backend.run(np.zeros(backend.input_shape, backend.input_dtype)).shape[-1]
        except (RuntimeError, ValueError) as err:
            raise ModelError(path, f"model failed a test inference ({first_line(err)})") from err
        unverified = verify and (meta is None or meta.golden is None)
        if meta is None or not meta.labels:
            warnings.warn(  # one line for a file that carries nothing of ours
                f"{path}: no labels inside the model or in {sidecar_path(path).name}: classes named by index and "
                f"raw RGB 0..255 pixels assumed as its input"
                + ("; no golden check either (not verified)" if unverified else "")
                + f". To name them: sportsedge label {path} --labels labels.txt --preprocess ...",
                MissingLabelsWarning,
                stacklevel=2,
            )
            unverified = False
            labels = [f"class_{i}" for i in range(n_classes)]
            meta = meta or ModelMetadata(labels=())
        elif len(meta.labels) != n_classes:
            raise ModelError(path, f"metadata has {len(meta.labels)} labels but the model outputs {n_classes} scores")
        else:
            labels = list(meta.labels)
        if meta.preprocessing not in COMPATIBLE_VERSIONS:
            warnings.warn(
                f"{path}: exported for preprocessing {meta.preprocessing!r}, "
                f"this runtime implements {PREPROCESSING_VERSION!r}",
                stacklevel=2,
            )
        clf = cls(backend, path, meta, labels, sealed)
        if unverified:
            warnings.warn(f"{path}: carries no golden check; not verified on this machine", UnverifiedWarning, 2)
        elif verify and meta.golden is not None:
            result = clf.verify()
            if not result.ok:
                raise ModelError(path, f"golden check FAILED: {result.describe()}")
        return clf

    def with_metadata(self, metadata: ModelMetadata) -> Classifier:
        """The same loaded engine read through other metadata (labels, input transform, output kind)."""
        labels = metadata.labels or self.labels
        return Classifier(self._backend, self.path, metadata, labels, self.sealed)

    def verify(self) -> GoldenResult:
        """Recompute the golden inputs' scores stored at export and compare them with this engine's:
        catches broken kernels, corrupted copies and incompatible engines on the device."""
        if self.metadata.golden is None:
            raise ModelError(
                self.path,
                "carries no golden check: re-export it, or for a model converted elsewhere give it one with "
                f"`sportsedge label {self.path} --labels labels.txt --preprocess ...`",
            )
        return check_golden(self, self.metadata.golden)

    # ------------------------------------------------------------ inputs

    def preprocess(self, source: ImageSource) -> np.ndarray:
        """Pixels (H, W, 3) uint8 for one image, per the shared preprocessing contract."""
        return load_pixels(source, self.input_size)

    def to_input(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels (N, H, W, 3) -> the model's input: through the metadata's input transform
        (files labelled with `sportsedge label`; ours bake it into the graph), then the model's dtype
        (quantized if it is integer)."""
        values = pixels if self._transform is None else self._transform.apply(pixels)
        if self._quant is None:
            return values if values.dtype == self.input_dtype else values.astype(self.input_dtype)
        scale, zero = self._quant
        info = np.iinfo(self.input_dtype)
        q = np.round(values.astype(np.float32) / scale + zero)
        result: np.ndarray = np.clip(q, info.min, info.max).astype(self.input_dtype)
        return result

    # ------------------------------------------------------------ inference

    def scores(self, pixels: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) float32 for preprocessed pixels (N, H, W, 3) uint8."""
        result: np.ndarray = probabilities(self.outputs(pixels), self.output)
        return result

    def outputs(self, pixels: np.ndarray) -> np.ndarray:
        """The file's raw outputs (N, classes), dequantized to float32: logits or probabilities as
        ``self.output`` says; what the golden check compares, bit for bit."""
        return self.infer(self.to_input(pixels))

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Model outputs for input already in the model's dtype (see to_input): inference only."""
        if self._lock is None:
            return self._backend.run(x)
        with self._lock:
            return self._backend.run(x)

    def predict(self, image: ImageSource, top_k: int = 5) -> list[Prediction]:
        """Ranked top-k predictions for one image.

        Args:
            image: a path, a PIL image or an HxWx3 uint8 array (any size and mode: it is decoded,
                converted to RGB and resized as in training).
            top_k: how many classes to return, best first (at most the model's class count).

        Returns:
            ``Prediction(label, index, score)`` tuples, scores as probabilities.

        Raises:
            InputError: an image that cannot be read, naming it.
        """
        return self.rank(self.scores(self.preprocess(image)[None])[0], top_k)

    def predict_batch(self, images: Sequence[ImageSource], top_k: int = 5) -> list[list[Prediction]]:
        """predict() for many images; raises InputError on the first unreadable one."""
        if not len(images):
            return []
        batch = np.stack([self.preprocess(img) for img in images])
        return [self.rank(row, top_k) for row in self.scores(batch)]

    def rank(self, row: np.ndarray, top_k: int) -> list[Prediction]:
        """The top-k Predictions of one row of probabilities (the ranking rule: metrics.ranked)."""
        top = ranked(row, max(1, min(int(top_k), row.shape[0])))
        return [Prediction(self.labels[i], int(i), float(row[i])) for i in top]

    def __repr__(self) -> str:
        return (
            f"Classifier({str(self.path)!r}, backend={self._backend.family}, "
            f"input={self.input_size} {self.input_dtype}, classes={len(self.labels)})"
        )


def refuse_failed_at_export(path: Path, meta: ModelMetadata | None, verify: bool) -> None:
    """A file that failed its parity check at export is not verified, run or benched (one line);
    ``verify=False`` (export's own checks, a caller who insists) loads it."""
    if verify and meta is not None and FAILED_AT_EXPORT in meta.extra:
        raise ModelError(
            path,
            f"failed its parity check at export ({meta.extra[FAILED_AT_EXPORT]}): not for use; "
            "export's manifest.json has its figures",
        )
