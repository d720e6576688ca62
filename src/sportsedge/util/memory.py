"""Give large freed buffers back to the system at once (glibc only; elsewhere a no-op).

glibc serves a request of 128 KB or more with its own mmap and unmaps it on free, but it raises
that threshold each time such a block is freed (up to 32 MB), after which a decoded image's 16 MB
blocks come from the worker thread's heap and stay resident: `serve` kept 719 MB after two
9400x9400 images at once. A fixed threshold turns that adjustment off.
"""

from __future__ import annotations

import contextlib

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
