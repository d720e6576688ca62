"""Untrusted images are decoded in a small pool of processes the kernel caps, killed at a deadline.

Estimating each format's decoding cost from its header cannot be complete (a 3 KB lossless WebP
of 9400x9400 took 1.4 GB; a 28 KB progressive JPEG of repeated scans 30 s of CPU), so every path
and byte string that `predict`, `bench`, `evaluate`, export's calibration and parity sets, `serve`
and the Python API read is decoded in a decoder process (runtime/decode_worker.py):

- its address space is capped (``RLIMIT_AS``: its idle size plus ``memory_mb``): an image that
  needs more fails there, is answered ImageTooLarge, and the process is replaced;
- a decode that takes longer than ``timeout_s`` is SIGKILLed, answered DecodeTimeout, replaced;
- a decoder that dies (a crash in a codec) is answered DecoderCrashed, replaced.

The header checks (pixel count, the per-mode budget) still run first, in the decoder: the cheap
filter. Decoders run beside the caller, so decoding the next images overlaps inference
(:meth:`DecoderPool.imap`). Training reads its own dataset in process (preprocess.load_pixels_here).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from sportsedge.core.decoding import DecodeLimits
from sportsedge.core.errors import ImageTooLarge, InputError
from sportsedge.runtime.decode_wire import HEADER, send

PIPE_BYTES = 1 << 20  # pipe buffer asked for: a 224x224 image's pixels (150 KB) pass in one write
START_TIMEOUT_S = 120.0  # a decoder's start (imports): generous, an emulated ARM board is slow
__all__ = ["DecodeLimits", "DecodeTimeout", "DecoderCrashed", "DecoderPool", "configure", "shared_pool"]


class DecodeTimeout(InputError):
    """An image whose decoding took longer than the deadline (its decoder was killed; serve: 504)."""


class DecoderCrashed(InputError):
    """An image whose decoding killed its decoder process (a codec crash; serve: 422)."""


class _Decoder:
    """One decoder process, started on first use and again after it was killed or recycled."""

    def __init__(self, limits: DecodeLimits) -> None:
        self.limits = limits
        self.proc: subprocess.Popen[bytes] | None = None
        self.idle_mb = 0.0  # the process' resident size when it started (what recycling returns to)

    def _start(self) -> None:
        cmd = [sys.executable, "-m", "sportsedge.runtime.decode_worker", str(self.limits.memory_mb)]
        debug = bool(os.environ.get("SPORTSEDGE_DEBUG"))
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None if debug else subprocess.DEVNULL
        )
        for stream in (self.proc.stdin, self.proc.stdout):  # one image's pixels in one pipe write
            with contextlib.suppress(OSError, AttributeError):
                fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)  # type: ignore[union-attr]
        header, _ = self._reply(START_TIMEOUT_S, "<decoder start>")
        self.idle_mb = float(header.get("idle_mb", 0.0))

    def kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()

    def decode(self, source: Path | bytes, size: tuple[int, int] | None, name: str) -> np.ndarray:
        if self.proc is None or self.proc.poll() is not None:
            self.kill()
            try:
                self._start()
            except (InputError, OSError) as err:  # the interpreter cannot start, or not in START_TIMEOUT_S
                self.kill()
                reason = err.reason if isinstance(err, InputError) else str(err)
                raise DecoderCrashed(name, f"no image decoder process could start ({reason})") from err
        assert self.proc is not None and self.proc.stdin is not None
        path = os.fspath(source) if isinstance(source, Path) else None
        request = {"path": path, "size": list(size) if size else None}
        payload = source if isinstance(source, bytes) else b""
        try:
            send(self.proc.stdin, request, payload)
            header, pixels = self._reply(self.limits.timeout_s, name)
        except (BrokenPipeError, OSError) as err:
            self.kill()
            raise DecoderCrashed(name, f"the image decoder failed ({err.__class__.__name__})") from err
        if header.get("recycle"):
            self.kill()  # it exits by itself; reaped here so the next call starts a fresh one
        error = header.get("error")
        if error == "memory":
            raise ImageTooLarge(
                name, f"image too large to decode within the decoder's {self.limits.memory_mb} MB (or damaged)"
            )
        if error == "too-large":
            raise ImageTooLarge(name, header["reason"])
        if error is not None:
            raise InputError(name, header["reason"])
        return np.frombuffer(pixels, np.uint8).reshape(header["shape"])

    def _reply(self, timeout: float, name: str) -> tuple[dict[str, Any], bytearray]:
        """The process' next message (header, payload), within ``timeout`` s; else the process is
        killed and DecodeTimeout (no answer in time) or DecoderCrashed (it died) raised."""
        deadline = time.monotonic() + timeout
        (size,) = HEADER.unpack(self._read(HEADER.size, deadline, timeout, name))
        header = json.loads(self._read(size, deadline, timeout, name))
        return header, self._read(header["bytes"], deadline, timeout, name)

    def _read(self, n: int, deadline: float, timeout: float, name: str) -> bytearray:
        """``n`` bytes read straight into one buffer (the pixels are not copied again)."""
        assert self.proc is not None and self.proc.stdout is not None
        raw, buf = self.proc.stdout.raw, bytearray(n)  # type: ignore[attr-defined]
        view, pos = memoryview(buf), 0
        while pos < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([raw], [], [], left)[0]:
                self.kill()
                raise DecodeTimeout(name, f"took longer than {timeout:g} s to decode (the decoder was stopped)")
            got = raw.readinto(view[pos:])
            if not got:
                code = self.proc.wait()
                self.kill()
                how = f"signal {-code}" if code < 0 else f"exit status {code}"
                raise DecoderCrashed(name, f"crashed the image decoder ({how})")
            pos += got
        return buf


class DecoderPool:
    """``limits.processes`` decoders; :meth:`decode` takes a free one (waiting for it if none is)."""

    def __init__(self, limits: DecodeLimits | None = None) -> None:
        self.limits = limits or DecodeLimits()
        self._idle: queue.Queue[_Decoder] = queue.Queue()
        self._all = [_Decoder(self.limits) for _ in range(self.limits.processes)]
        for d in self._all:
            self._idle.put(d)

    def decode(self, source: Path | bytes, size: tuple[int, int] | None, name: str) -> np.ndarray:
        """HxWx3 uint8 pixels of one image (resized to ``size`` if given), decoded in a decoder process."""
        decoder = self._idle.get()
        try:
            return decoder.decode(source, size, name)
        finally:
            self._idle.put(decoder)

    def imap(self, sources: Iterable[Path | bytes], size: tuple[int, int] | None) -> Iterator[np.ndarray | InputError]:
        """Pixels (or the InputError) of each source in order, decoding up to two per decoder
        ahead of the consumer: decoding the next images runs while the caller infers this one."""
        items = list(sources)
        ahead = 2 * self.limits.processes

        def one(src: Path | bytes) -> np.ndarray | InputError:
            try:
                return self.decode(src, size, os.fspath(src) if isinstance(src, Path) else "<image bytes>")
            except InputError as err:
                return err

        with ThreadPoolExecutor(self.limits.processes, thread_name_prefix="sportsedge-decode") as ex:
            pending = [ex.submit(one, s) for s in items[:ahead]]
            nxt = len(pending)
            for i in range(len(items)):
                result = pending[i].result()
                pending[i] = None  # type: ignore[call-overload]
                if nxt < len(items):
                    pending.append(ex.submit(one, items[nxt]))
                    nxt += 1
                yield result

    def close(self) -> None:
        """Stop every decoder process."""
        for d in self._all:
            d.kill()


_shared: tuple[int, DecoderPool] | None = None
_shared_lock = threading.Lock()


def shared_pool() -> DecoderPool:
    """The process' decoder pool (default limits unless :func:`configure` set others); a forked
    child gets its own, never its parent's pipes."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared[0] != os.getpid():
            _shared = (os.getpid(), DecoderPool())
        return _shared[1]


def configure(limits: DecodeLimits) -> DecoderPool:
    """Replace the process' decoder pool with one of ``limits`` (serve's options)."""
    global _shared
    with _shared_lock:
        if _shared is not None and _shared[0] == os.getpid():
            _shared[1].close()
        _shared = (os.getpid(), DecoderPool(limits))
        return _shared[1]


@atexit.register
def _close_shared() -> None:
    if _shared is not None and _shared[0] == os.getpid():
        _shared[1].close()
