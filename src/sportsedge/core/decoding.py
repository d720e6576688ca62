"""The limits untrusted images are decoded under (runtime/decoder.py enforces them); light, so
that the CLI builds `serve`'s options from them without importing numpy or Pillow."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DecodeLimits:
    """How untrusted images are decoded; `serve` takes each as an option, other commands the defaults.

    The defaults fit a 1 GB board: two decoders at most 2 x (about 40 MB idle + 256 MB) beside the
    server (docs/serve.md, "Limits and guarantees", has the measurements)."""

    processes: int = 2  # decoder processes; each decodes one image at a time
    memory_mb: int = 256  # memory one decode may take beyond the decoder's idle size; more: ImageTooLarge
    timeout_s: float = 5.0  # wall time one image may take to decode; the decoder is killed past it


MAX_WORKERS = (
    4  # interpreters a folder gets at most by default (runtime/folder.py): more than a Pi's cores buys nothing
)
