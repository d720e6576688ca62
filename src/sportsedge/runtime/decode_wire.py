"""The messages between the decoder pool (runtime/decoder.py) and a decoder process
(runtime/decode_worker.py): a 4-byte big-endian length, a JSON header, then ``header["bytes"]``
raw bytes (an encoded image one way, pixels the other)."""

from __future__ import annotations

import json
import os
import struct
from typing import Any

HEADER = struct.Struct(">I")


def _read(stream: Any, n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise EOFError
    return bytes(data)


def send(stream: Any, header: dict[str, Any], payload: bytes | memoryview = b"") -> None:
    """One message: its header (``bytes`` set to the payload's length), then the payload, in one
    writev where it fits the pipe (the reader wakes once, not once for each part)."""
    body = memoryview(payload).cast("B")
    head = json.dumps({**header, "bytes": body.nbytes}).encode()
    parts = [memoryview(HEADER.pack(len(head)) + head), body]
    stream.flush()
    fd = stream.fileno()
    while parts:
        sent = os.writev(fd, parts)
        while parts and sent >= parts[0].nbytes:
            sent -= parts.pop(0).nbytes
        if parts:
            parts[0] = parts[0][sent:]


def receive(stream: Any) -> tuple[dict[str, Any], bytes]:
    """One message from ``stream``; EOFError when it ends."""
    (size,) = HEADER.unpack(_read(stream, HEADER.size))
    header = json.loads(_read(stream, size))
    return header, _read(stream, header["bytes"]) if header["bytes"] else b""
