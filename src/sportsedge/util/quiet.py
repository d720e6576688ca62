"""Keep native libraries' log lines (TensorFlow, LiteRT, converters) off the user's terminal."""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def native_stderr_to(path: str | os.PathLike | None = None):
    """Send fd 2 (where C++ code logs) to ``path`` (default: nowhere) for the duration.

    Yields a text stream to the original stderr, for progress lines the user should still see.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2 (embedded interpreters)
        yield sys.stderr
        return
    try:
        with open(path or os.devnull, "ab") as sink, os.fdopen(os.dup(saved), "w") as terminal:
            os.dup2(sink.fileno(), 2)
            yield terminal
    finally:
        os.dup2(saved, 2)
        os.close(saved)
