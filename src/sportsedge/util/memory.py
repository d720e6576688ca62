"""Give large freed buffers back to the system at once (glibc only; elsewhere a no-op).

A refused upload's body stays alive in the frames of its error's traceback, a reference cycle
that only the garbage collector's rare full pass frees: 20 refused 19 MB uploads left `serve`
310 MB above idle for good. ``trim_soon`` runs a full collection shortly after a large body is
done with, then asks glibc (malloc_trim) to hand the freed heap pages back.

glibc serves a request of 128 KB or more with its own mmap and unmaps it on free, but it raises
that threshold each time such a block is freed (up to 32 MB), after which a decoded image's 16 MB
blocks come from the worker thread's heap and stay resident: `serve` kept 719 MB after two
9400x9400 images at once. A fixed threshold turns that adjustment off.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from typing import Any

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
MMAP_THRESHOLD_BYTES = 1 << 20  # allocations this large or larger are mapped, and unmapped on free


def return_large_allocations() -> bool:
    """Fix glibc's mmap threshold at MMAP_THRESHOLD_BYTES; True if it was set."""
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    return False


TRIM_AFTER_S = 0.5  # a trim runs this long after the last large body, once for a burst of them


class _Pending:
    """The one pending trim: when it runs, and whether a thread waits for it."""

    due = 0.0
    waiting = False


_trim_lock = threading.Lock()


def _libc() -> Any:
    import ctypes
    import ctypes.util

    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def trim_soon() -> None:
    """Return free heap memory to the system TRIM_AFTER_S from now (one trim for a burst of calls)."""
    with _trim_lock:
        _Pending.due = time.monotonic() + TRIM_AFTER_S
        if not _Pending.waiting:
            _Pending.waiting = True
            threading.Thread(target=_trim_when_due, daemon=True, name="sportsedge-trim").start()


def _trim_when_due() -> None:
    while True:
        with _trim_lock:
            wait = _Pending.due - time.monotonic()
            if wait <= 0:
                _Pending.waiting = False
                break
        time.sleep(wait)
    gc.collect()
    with contextlib.suppress(OSError, AttributeError, TypeError):
        _libc().malloc_trim(0)
