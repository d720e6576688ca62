"""Self-describing artifacts: labels and input spec inside the model file, plus a JSON sidecar.

TFLite: a ZIP of associated files appended to the flatbuffer, the way TFLite metadata packs
``labels.txt`` (interpreters ignore trailing bytes; zip readers find the archive from the end).
We store ``labels.txt`` (one label per line, readable by other TFLite tooling) and
``sportsedge.json`` (the full :class:`ModelMetadata`).
ONNX: ``metadata_props`` entries ``labels`` (newline-separated) and ``sportsedge`` (JSON).
Sidecar: ``<model file>.json`` with the same JSON, used when the file carries nothing.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sportsedge.core.errors import ModelError, first_line
from sportsedge.core.formats import family_of
from sportsedge.core.input_transform import PixelTransform
from sportsedge.core.outputs import OutputKind
from sportsedge.runtime.golden import Golden
from sportsedge.runtime.integrity import onnx_props
from sportsedge.runtime.preprocess import PREPROCESSING_VERSION
from sportsedge.util import fileio

LABELS_FILE = "labels.txt"
META_FILE = "sportsedge.json"
ONNX_LABELS_KEY = "labels"
ONNX_META_KEY = "sportsedge"
# ModelMetadata.extra key of a file that failed its parity check at export (the check's message):
# the runtime refuses to verify, predict or bench it (Classifier.load) wherever it was copied.
FAILED_AT_EXPORT = "failed_at_export"


@dataclass(frozen=True)
class ModelMetadata:
    """What an export embeds in every model file beside its weights (docs: metadata fields)."""

    labels: tuple[str, ...]  # class names in output order
    model_name: str = ""  # registry name, e.g. "mobilenet_v2_ft"; "-160" appended when trained at 160 px
    input_size: tuple[int, int] | None = None  # (height, width) the model expects
    preprocessing: str = PREPROCESSING_VERSION  # version of the preprocessing contract
    format: str = ""  # export format name from sportsedge.core.formats, e.g. "tflite-int8"
    source_run: str = ""  # training run the artifact was exported from
    extra: dict[str, Any] = field(default_factory=dict[str, Any])  # anything else worth carrying (parity, versions)
    golden: Golden | None = None  # fixed inputs' scores for `sportsedge verify` (runtime/golden.py)
    output: OutputKind = OutputKind.PROBABILITIES  # logits: the runtime applies the softmax (outputs.py)
    input_transform: PixelTransform | None = None  # applied by the runtime to raw pixels (`sportsedge label`)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as embedded."""
        d = asdict(self)
        d["labels"] = list(self.labels)
        d["input_size"] = list(self.input_size) if self.input_size else None
        d["golden"] = self.golden.to_dict() if self.golden else None
        d["output"] = str(self.output)
        d["input_transform"] = self.input_transform.to_dict() if self.input_transform else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelMetadata:
        """From embedded JSON (fields this version does not know are ignored)."""
        size = d.get("input_size")
        return cls(
            labels=tuple(str(x) for x in d.get("labels") or ()),
            model_name=str(d.get("model_name") or ""),
            input_size=(int(size[0]), int(size[1])) if size else None,
            preprocessing=str(d.get("preprocessing") or PREPROCESSING_VERSION),
            format=str(d.get("format") or ""),
            source_run=str(d.get("source_run") or ""),
            extra=dict(d.get("extra") or {}),
            golden=Golden.from_dict(d["golden"]) if d.get("golden") else None,
            output=OutputKind(d.get("output") or OutputKind.PROBABILITIES),
            input_transform=PixelTransform.from_dict(d["input_transform"]) if d.get("input_transform") else None,
        )


def sidecar_path(model_path: str | os.PathLike[str]) -> Path:
    """The ``<model file>.json`` beside a model, read when the file carries no metadata."""
    p = Path(model_path)
    return p.with_name(p.name + ".json")


# ---------------------------------------------------------------- TFLite: appended ZIP


def split_tflite(data: bytes) -> tuple[bytes, bytes | None]:
    """Split a .tflite file into (flatbuffer, appended zip or None)."""
    buf = io.BytesIO(data)
    if not zipfile.is_zipfile(buf):
        return data, None
    try:
        with zipfile.ZipFile(buf) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError):  # stray "PK" bytes inside the flatbuffer
        return data, None
    if not infos:
        return data, None
    # zipfile shifts offsets by any prepended data, so the first entry marks the flatbuffer's end.
    start = min(i.header_offset for i in infos)
    return data[:start], data[start:]


# A ZIP local file header (signature, 26 bytes of fields, then the name) of one of our entries.
_OUR_ENTRY = re.compile(rb"PK\x03\x04.{26}(?:labels\.txt|sportsedge\.json)", re.S)


def _tflite_meta_dict(data: bytes) -> dict[str, Any] | None:
    """The metadata JSON appended to a .tflite (or one built from labels.txt of other tooling)."""
    _, archive = split_tflite(data)
    if archive is None:
        if _OUR_ENTRY.search(data):  # the start of our archive is there, its directory is not
            raise zipfile.BadZipFile("the appended metadata archive is truncated or damaged")
        return None
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        names = set(zf.namelist())
        if META_FILE in names:
            result: dict[str, Any] = json.loads(zf.read(META_FILE))  # zipfile checks each entry's CRC-32
            return result
        if LABELS_FILE in names:  # metadata written by other TFLite tooling
            text = zf.read(LABELS_FILE).decode("utf-8")
            return {"labels": [line for line in text.splitlines() if line]}
    return None


def _onnx_meta_dict(data: bytes) -> dict[str, Any] | None:
    props = onnx_props(data)
    if ONNX_META_KEY in props:
        result: dict[str, Any] = json.loads(props[ONNX_META_KEY])
        return result
    if ONNX_LABELS_KEY in props:
        return {"labels": [x for x in props[ONNX_LABELS_KEY].splitlines() if x]}
    return None


_READERS = {"tflite": _tflite_meta_dict, "onnx": _onnx_meta_dict}


def _tflite_body(data: bytes) -> bytes:
    return split_tflite(data)[0]


def _onnx_body(data: bytes) -> bytes:
    return data


# What the model digest covers, by family: the flatbuffer without our appended ZIP, or the whole ONNX file.
_BODIES = {"tflite": _tflite_body, "onnx": _onnx_body}
# Our metadata JSON always holds this key: a file whose bytes contain it but whose metadata cannot
# be found has damaged metadata, not none.
_OUR_MARK = b'"golden"'


def read_metadata(path: str | os.PathLike[str], data: bytes, family: str) -> tuple[ModelMetadata | None, bool]:
    """A model file's metadata (inside it, else its sidecar) and whether its digests were checked.

    Raises ModelError naming the file when the metadata is damaged or the recorded digests do not
    match the bytes (integrity.py); nothing here runs the model.
    """
    from sportsedge.runtime import integrity

    try:
        raw = _READERS[family](data)
    except integrity.MalformedModel as err:
        raise ModelError(path, f"not a valid {family} model ({err})") from err
    except (zipfile.BadZipFile, ValueError, UnicodeDecodeError, OSError, EOFError) as err:
        raise ModelError(path, f"damaged: its metadata cannot be read ({first_line(err)})") from err
    if raw is None:
        raw = read_sidecar_dict(path)
        if raw is None and _OUR_MARK in data:
            raise ModelError(path, "damaged: it held sportsedge metadata that can no longer be found")
    if raw is None:
        return None, False
    if not isinstance(raw, dict):
        raise ModelError(path, "damaged: its metadata is not a JSON object")
    sealed = integrity.check(path, family, _BODIES[family](data), raw)
    try:
        return ModelMetadata.from_dict(raw), sealed
    except (KeyError, ValueError, TypeError, AttributeError) as err:
        raise ModelError(path, f"damaged: unreadable metadata ({first_line(err)})") from err


def read_tflite_metadata(data: bytes) -> ModelMetadata | None:
    """The metadata inside a .tflite's bytes, or None when it carries none."""
    raw = _tflite_meta_dict(data)
    return None if raw is None else ModelMetadata.from_dict(raw)


def pack_tflite(flatbuffer: bytes, meta: ModelMetadata) -> bytes:
    """The flatbuffer with the metadata appended, sealed with its digests."""
    from sportsedge.runtime.integrity import seal

    sealed = seal("tflite", flatbuffer, meta.to_dict())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(LABELS_FILE, "".join(f"{label}\n" for label in meta.labels))
        zf.writestr(META_FILE, json.dumps(sealed, indent=1))
    return flatbuffer + buf.getvalue()


def _attach_tflite(path: Path, meta: ModelMetadata, write: Any) -> dict[str, Any]:
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(path, "not a TFLite flatbuffer (no TFL3 identifier)")
    flatbuffer, _ = split_tflite(data)
    packed = pack_tflite(flatbuffer, meta)
    write(path, packed)
    written = _tflite_meta_dict(packed)
    assert written is not None  # just packed: it reads back
    return written


# ---------------------------------------------------------------- ONNX: metadata_props


def _attach_onnx(path: Path, meta: ModelMetadata, write: Any) -> dict[str, Any]:
    """metadata_props rewritten at the protobuf level (integrity.onnx_with_props): no onnx
    package needed, so `sportsedge label` works on a runtime-only install too."""
    from sportsedge.runtime.integrity import MalformedModel, onnx_with_props, seal

    data = path.read_bytes()
    try:
        existing = onnx_props(data)
        props = {k: v for k, v in existing.items() if k not in (ONNX_META_KEY, ONNX_LABELS_KEY)}
        props[ONNX_LABELS_KEY] = "\n".join(meta.labels)
        # The model digest leaves metadata_props out, so it is the same before and after the seal.
        sealed = seal("onnx", data, meta.to_dict())
        # Ours first: a file cut short loses the labels entry (also inside ours) before the sealed one.
        packed = onnx_with_props(data, {ONNX_META_KEY: json.dumps(sealed), **props})
    except (MalformedModel, UnicodeDecodeError) as err:
        raise ModelError(path, f"not a valid ONNX model ({first_line(err)})") from err
    write(path, packed)
    return sealed


# ---------------------------------------------------------------- public API

_WRITERS = {"tflite": _attach_tflite, "onnx": _attach_onnx}


def attach_metadata(
    path: str | os.PathLike[str], meta: ModelMetadata, sidecar: bool = True, in_place: bool = False
) -> dict[str, Any]:
    """Embed ``meta`` in an existing .tflite/.onnx file (replacing any we wrote before), sealed
    with the digests of the model and of itself (integrity.py); returns the JSON written.

    Writes atomically (a copy beside the file, renamed over it), or over the file itself with
    ``in_place`` (for a caller that is already writing a temporary file: one copy on disk, not
    two); also writes ``<file>.json`` unless ``sidecar`` is False.
    """
    path = Path(path)
    writer = _WRITERS.get(family_of(path) or "")
    if writer is None:
        raise ModelError(path, "unknown model type (expected .tflite or .onnx)")
    sealed = writer(path, meta, Path.write_bytes if in_place else fileio.write_bytes)
    if sidecar:
        fileio.write_json(sidecar_path(path), sealed)
    return sealed


def read_sidecar_dict(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The sidecar JSON of a model file, or None when there is none."""
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        result: dict[str, Any] = json.loads(side.read_text(encoding="utf-8"))
        return result
    except (ValueError, UnicodeDecodeError) as err:
        raise ModelError(side, f"unreadable metadata sidecar ({first_line(err)})") from err
