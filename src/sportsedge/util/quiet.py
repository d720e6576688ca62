"""Keep native libraries' log lines (TensorFlow, LiteRT, converters) off the user's terminal."""

from __future__ import annotations

import contextlib
import logging
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


@contextlib.contextmanager
def captured(log_path: str | os.PathLike):
    """Converter chatter (C++ on fd 2, Python's stdout and the converters' loggers) goes to
    ``log_path`` for the duration, not the terminal. Yields a text stream to the terminal."""
    with open(log_path, "a") as f, contextlib.redirect_stdout(f), native_stderr_to(log_path) as terminal:
        handler = logging.FileHandler(log_path)
        noisy = [logging.getLogger(n) for n in ("tf2onnx", "tensorflow", "absl", "onnxruntime", "root")]
        saved = [(lg, lg.handlers[:], lg.propagate) for lg in noisy]
        for lg in noisy:
            lg.handlers, lg.propagate = [handler], False
        try:
            yield terminal
        finally:
            for lg, handlers, propagate in saved:
                lg.handlers, lg.propagate = handlers, propagate
            handler.close()
