"""What a reload may load, checked from the file's stat and first 8 bytes before any more is read.

A client names the file (POST /v1/models/reload {"path": ...}): a 3 GB file was read whole into
memory before it was refused, and opening a device can act on it (opening a board's
/dev/watchdog arms it), so the path is stat'ed before it is opened, and opened without blocking.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sportsedge.core.builtin import resolve
from sportsedge.core.errors import ModelError, in_words
from sportsedge.serve.http import printable

MAX_MODEL_MB = 512  # the largest model a reload loads: a 4 GB board holds workers x this in interpreters
MAX_MODEL_BYTES = MAX_MODEL_MB * 2**20
SHOWN_CHARS = 160  # of a path in an error line: a 5,000-character path is named, not echoed


def check_model_file(path: str | os.PathLike[str]) -> Path:
    """``path`` resolved (a built-in name too) once it may be loaded: a regular file of 1 byte to
    MAX_MODEL_MB, a .tflite or .onnx by its first bytes. ModelError naming it otherwise."""
    try:
        found = resolve(path)
        info = os.stat(found)
    except FileNotFoundError as err:
        raise ModelError(_shown(path), "no such model file") from err
    except (OSError, ValueError) as err:  # too long, a NUL (ValueError), a lone surrogate (UnicodeEncodeError)
        raise ModelError(_shown(path), f"cannot open it ({in_words(err)})") from err
    if stat.S_ISDIR(info.st_mode):
        raise ModelError(_shown(found), "a folder, not a model file (give a .tflite or .onnx file)")
    head = _head(found, info)
    suffix = found.suffix.lower()
    if suffix == ".onnx" and not _protobuf_start(head):
        raise ModelError(_shown(found), "not an ONNX model (its first bytes are no protobuf field)")
    if suffix != ".onnx" and head[4:8] != b"TFL3":  # other names are sniffed as TFLite, as Classifier.load does
        kind = "not a TFLite model (no TFL3 identifier)" if suffix == ".tflite" else "unknown model type"
        raise ModelError(_shown(found), f"{kind}: give a .tflite or .onnx file")
    return found


def _head(found: Path, info: os.stat_result) -> bytes:
    """The first 8 bytes of a regular file within the size cap, checked from its stat and again
    on the open file (the name may have been replaced since the stat)."""
    _within(found, info)
    try:  # O_NONBLOCK: a FIFO put there since the stat does not hold the thread
        fd = os.open(found, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise ModelError(_shown(found), f"cannot open it ({in_words(err)})") from err
    try:
        _within(found, os.fstat(fd))
        return os.read(fd, 8)
    finally:
        os.close(fd)


def _within(found: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise ModelError(_shown(found), "not a regular file (give a .tflite or .onnx file)")
    if info.st_size == 0:
        raise ModelError(_shown(found), "empty model file")
    if info.st_size > MAX_MODEL_BYTES:
        size = f"{info.st_size / 2**20:,.0f} MB"
        raise ModelError(_shown(found), f"{size} is over the {MAX_MODEL_MB} MB a reloaded model may have")


def _protobuf_start(head: bytes) -> bool:
    """True when the first byte is a one-byte key of a ModelProto field (number 1-15; a varint or
    a length-delimited value): writers put ir_version (field 1) first. Zeros, text and images fail."""
    return bool(head) and head[0] < 0x80 and 1 <= head[0] >> 3 <= 15 and head[0] & 7 in (0, 2)


def _shown(path: str | os.PathLike[str]) -> str:
    """``path`` for an error line and the log: one line (a client's path may hold line breaks), shortened."""
    text = os.fspath(path)
    text = printable(text if isinstance(text, str) else os.fsdecode(text))
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}... ({len(text):,} characters)"
