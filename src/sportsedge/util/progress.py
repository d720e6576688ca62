"""Progress lines with rate and ETA for long steps (stderr, throttled; no terminal tricks)."""

from __future__ import annotations

import sys
import time


def fmt_seconds(s: float) -> str:
    s = int(round(max(0.0, s)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def say(msg: str) -> None:
    """A progress line for the user: stderr, flushed, so stdout stays the command's result."""
    print(msg, file=sys.stderr, flush=True)


class Progress:
    def __init__(self, label: str, total: int, unit: str = "", every: float = 5.0, stream=None):
        self.label, self.total, self.unit, self.every = label, max(0, int(total)), unit, every
        self.stream = stream or sys.stderr
        self.done = 0
        self.start = self._last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.every and self.done < self.total:
            self._last = now
            self._print(now)

    def _print(self, now: float, final: bool = False) -> None:
        elapsed = now - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        unit = f" {self.unit}" if self.unit else ""
        if final:
            msg = f"{self.label}: {self.done}{unit} in {fmt_seconds(elapsed)} ({rate:.1f}{unit}/s)"
        else:
            pct = 100.0 * self.done / self.total if self.total else 0.0
            eta = (self.total - self.done) / rate if rate > 0 else float("nan")
            eta_s = fmt_seconds(eta) if eta == eta else "?"
            msg = f"{self.label}: {self.done}/{self.total}{unit} ({pct:.0f}%) {rate:.1f}{unit}/s, ETA {eta_s}"
        print(msg, file=self.stream, flush=True)

    def close(self) -> None:
        self._print(time.monotonic(), final=True)
