"""Files that check themselves: a digest of the model's bytes and one of its metadata, recorded in
the metadata and checked at load before any engine sees the file.

Tolerances cannot tell corruption from an engine's legitimate rounding (a copy of an ONNX int8
file with 4 bytes flipped passed the golden check's bound); a digest can, in milliseconds, and a
damaged flatbuffer never reaches the interpreter, where it could crash the process.

What each digest covers:
- ``model``: the model without the metadata that carries the digest. TFLite: the flatbuffer (the
  bytes before the appended ZIP). ONNX: every top-level field of the ModelProto but
  ``metadata_props`` (field 14), in file order, read with a minimal protobuf wire-format reader
  (the runtime has no ``onnx`` package).
- ``metadata``: the metadata JSON itself, canonical (sorted keys), without the ``integrity`` entry.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

from sportsedge.core.errors import ModelError

INTEGRITY_KEY = "integrity"  # in the metadata JSON: {"algorithm", "model", "metadata"}
ALGORITHM = "sha256"
ONNX_METADATA_FIELD = 14  # ModelProto.metadata_props
_WIRE_VARINT, _WIRE_I64, _WIRE_LEN, _WIRE_I32 = 0, 1, 2, 5


class MalformedModel(ValueError):
    """The bytes are not a protobuf message (a truncated or damaged ONNX file)."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise MalformedModel("truncated or malformed varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def protobuf_fields(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(field number, start of the field, start of its payload, end) of each top-level field;
    MalformedModel where the bytes are not a protobuf message."""
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise MalformedModel(f"field number 0 at byte {start}")
        if wire == _WIRE_VARINT:
            _, end = _varint(data, pos)
        elif wire == _WIRE_I64:
            end = pos + 8
        elif wire == _WIRE_I32:
            end = pos + 4
        elif wire == _WIRE_LEN:
            length, pos = _varint(data, pos)
            end = pos + length
        else:
            raise MalformedModel(f"unsupported wire type {wire} at byte {start}")
        if end > len(data):
            raise MalformedModel(f"field {number} runs past the end of the file (truncated?)")
        yield number, start, pos, end
        pos = end


def onnx_props(data: bytes) -> dict[str, str]:
    """An ONNX file's ``metadata_props`` (key -> value), read without onnx or onnxruntime."""
    props = {}
    for number, _, payload, end in protobuf_fields(data):
        if number != ONNX_METADATA_FIELD:
            continue
        message = data[payload:end]
        entry = {n: message[p:e] for n, _, p, e in protobuf_fields(message)}
        props[entry.get(1, b"").decode("utf-8")] = entry.get(2, b"").decode("utf-8")
    return props


ONNX_GRAPH_FIELD = 7  # ModelProto.graph: a file without one is no model


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | _WIRE_LEN) + _encode_varint(len(payload)) + payload


def onnx_with_props(data: bytes, props: dict[str, str]) -> bytes:
    """The ONNX file with its ``metadata_props`` replaced by ``props`` (in that order), written
    without onnx: every other field kept byte for byte (so the model digest is unchanged), the
    props appended (protobuf allows a field anywhere; onnx reads them back the same)."""
    fields = list(protobuf_fields(data))
    if not any(number == ONNX_GRAPH_FIELD for number, *_ in fields):
        raise MalformedModel("no graph: not an ONNX model")
    kept = b"".join(data[start:end] for number, start, _, end in fields if number != ONNX_METADATA_FIELD)
    entries = (_len_field(1, k.encode("utf-8")) + _len_field(2, v.encode("utf-8")) for k, v in props.items())
    return kept + b"".join(_len_field(ONNX_METADATA_FIELD, entry) for entry in entries)


def model_digest(family: str, body: bytes) -> str:
    """The digest of a model's bytes without its metadata: ``body`` is the flatbuffer (TFLite) or
    the whole serialized ONNX file."""
    h = hashlib.new(ALGORITHM)
    if family == "onnx":
        for number, start, _, end in protobuf_fields(body):
            if number != ONNX_METADATA_FIELD:
                h.update(body[start:end])
    else:
        h.update(body)
    return h.hexdigest()


def metadata_digest(meta: dict[str, Any]) -> str:
    """The digest of a metadata dict without its own integrity record."""
    rest = {k: v for k, v in meta.items() if k != INTEGRITY_KEY}
    return hashlib.new(ALGORITHM, json.dumps(rest, sort_keys=True).encode("utf-8")).hexdigest()


def seal(family: str, body: bytes, meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` (a JSON-ready dict) with the digests of ``body`` and of itself."""
    plain = json.loads(json.dumps({k: v for k, v in meta.items() if k != INTEGRITY_KEY}))
    record = {"algorithm": ALGORITHM, "model": model_digest(family, body), "metadata": metadata_digest(plain)}
    return {**plain, INTEGRITY_KEY: record}


def check(path: str | os.PathLike[str], family: str, body: bytes, meta: dict[str, Any]) -> bool:
    """Raise ModelError naming the file when its recorded digests do not match; False when it
    records none (exported by an older sportsedge or another tool), True when both match."""
    record = meta.get(INTEGRITY_KEY)
    if not record:
        return False
    if not isinstance(record, dict) or record.get("algorithm") != ALGORITHM:
        raise ModelError(path, f"damaged: unreadable integrity record {record!r}")
    if metadata_digest(meta) != record.get("metadata"):
        raise ModelError(path, "damaged: its metadata does not match the digest recorded at export (corrupted copy?)")
    try:
        digest = model_digest(family, body)
    except MalformedModel as err:
        raise ModelError(path, f"damaged: not a valid {family} model ({err})") from err
    if digest != record.get("model"):
        raise ModelError(path, "damaged: its bytes do not match the digest recorded at export (corrupted copy?)")
    return True
