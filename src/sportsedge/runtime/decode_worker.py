"""One decoder process (runtime/decoder.py starts it): untrusted image bytes are decoded here, under
an address-space cap the kernel enforces, and killed from outside at the deadline.

    python -m sportsedge.runtime.decode_worker MEMORY_MB

Messages both ways are a 4-byte big-endian length, a JSON header, then ``header["bytes"]`` raw
bytes: a request names a path or carries the encoded image; a reply carries HxWx3 uint8 pixels or
an error. A reply's ``recycle`` asks the parent to replace this process (it exits right after):
after a refusal for memory, or when decoding left it holding much more than it started with, so
memory goes back to the system instead of staying in this process' heap.
"""

from __future__ import annotations

import io
import os
import resource
import signal
import sys
import threading
import time
from typing import Any

from sportsedge.runtime.decode_wire import receive, send

# Threads the numeric libraries would start (and the address space they reserve) are not needed
# to decode one image; set before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

RECYCLE_MB = 64  # resident memory above the idle size after which the process is replaced
TRIM_MB = 16  # resident memory above the idle size after which freed heap pages are handed back


def _status(field: str) -> int:
    """A /proc/self/status figure in bytes (0 where /proc is absent)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _malloc_trim() -> None:
    try:
        import ctypes
        import ctypes.util

        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError, TypeError):  # not glibc
        pass


def _die_with_parent() -> None:
    """Exit when the parent is gone, even mid-decode: a watchdog thread (codecs release the GIL).
    Not PR_SET_PDEATHSIG: it fires when the parent *thread* that started us ends, and decoders
    are started from short-lived threads."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _decode(header: dict[str, Any], payload: bytes, budget_mb: int) -> tuple[dict[str, Any], bytes | memoryview]:
    from PIL.Image import UnidentifiedImageError as UnidentifiedImage

    from sportsedge.core.errors import ImageTooLarge, InputError
    from sportsedge.runtime import preprocess

    size = tuple(header["size"]) if header.get("size") else None
    try:
        with preprocess.budget(budget_mb):
            if header.get("path") is not None:
                img = preprocess.open_image_here(header["path"], size)
            else:
                img = preprocess.image_from_bytes_here(payload, size)
        if size is not None:
            img = preprocess.resize(img, size)
        import numpy as np

        pixels = np.ascontiguousarray(np.asarray(img, dtype=np.uint8))
        return {"shape": list(pixels.shape)}, pixels.data  # sent without a copy
    except MemoryError:
        return {"error": "memory"}, b""
    except ImageTooLarge as err:
        return {"error": "too-large", "reason": err.reason}, b""
    except InputError as err:
        cause = err.__cause__
        decoding = isinstance(cause, (OSError, ValueError, SyntaxError)) and not isinstance(cause, UnidentifiedImage)
        decoding = decoding and getattr(cause, "errno", None) is None  # not the file system's error
        decoding = decoding and "truncated" not in str(cause).lower()  # a file cut short says so
        if decoding and _short_of_memory(header, payload, budget_mb):
            return {"error": "memory"}, b""
        return {"error": "input", "reason": err.reason}, b""


def _short_of_memory(header: dict[str, Any], payload: bytes, budget_mb: int) -> bool:
    """Whether a decode that failed did so for want of memory under the cap. Codecs do not say
    (libjpeg's "insufficient memory" reaches Python as "broken data stream", libwebp's as "could
    not create decoder object"), so by the image's declared size: over an eighth of the allowance
    at 4 bytes a pixel, a codec needing a few times that passes the cap. (The process' VmPeak was
    tried too: under qemu-user it reads the emulator's and misjudged small damaged files.)"""
    size = _declared_size(header, payload)
    return size is not None and size[0] * size[1] * 4 > budget_mb * 2**17


def _declared_size(header: dict[str, Any], payload: bytes) -> tuple[int, int] | None:
    """(width, height) the file declares: Pillow's header, or for a WebP whose decoder could not
    even be created (libwebp allocates at open), its RIFF header read here."""
    from PIL import Image

    source = header["path"] if header.get("path") is not None else io.BytesIO(payload)
    try:
        with Image.open(source) as img:
            return img.size
    except MemoryError:
        return (1 << 16, 1 << 16)
    except Exception:  # the open itself fails: only a WebP's size is read by hand
        pass
    if header.get("path") is not None:
        try:
            with open(header["path"], "rb") as f:
                payload = f.read(32)
        except OSError:
            return None
    return webp_size(payload[:32])


def webp_size(head: bytes) -> tuple[int, int] | None:
    """A WebP's canvas (width, height) from its first 30 bytes (RIFF, then VP8X, VP8L or VP8)."""
    if len(head) < 30 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    chunk = head[12:16]
    if chunk == b"VP8X":
        return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
    if chunk == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 ":
        return int.from_bytes(head[26:28], "little") & 0x3FFF, int.from_bytes(head[28:30], "little") & 0x3FFF
    return None


def main(argv: list[str]) -> int:
    memory_mb = int(argv[0])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    _die_with_parent()
    from sportsedge.runtime import preprocess  # noqa: F401 - imported before the cap is measured

    idle_size, idle_rss = _status("VmSize"), _status("VmRSS")
    if idle_size:  # the cap: what this process maps now, plus what one image may take
        cap = idle_size + memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = io.TextIOWrapper(io.BytesIO())  # a stray print must not corrupt the protocol
    send(stdout, {"ready": True, "idle_mb": idle_rss / 2**20})
    while True:
        try:
            header, payload = receive(stdin)
        except EOFError:
            return 0
        try:
            reply, pixels = _decode(header, payload, memory_mb)
        except Exception as err:  # a decoder bug must not end the process mid-protocol: one line for the image
            reply, pixels = {"error": "input", "reason": f"cannot be decoded ({type(err).__name__}: {err})"[:300]}, b""
        del payload
        # VmHWM, not ru_maxrss: after exec, ru_maxrss keeps the parent's (a large caller's) peak
        reply["recycle"] = reply.get("error") == "memory" or _status("VmHWM") - idle_rss > RECYCLE_MB * 2**20
        send(stdout, reply, pixels)
        if reply["recycle"]:
            return 0
        if _status("VmRSS") - idle_rss > TRIM_MB * 2**20:  # a large image's freed pages back to the system
            _malloc_trim()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
