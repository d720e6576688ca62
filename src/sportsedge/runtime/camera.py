"""A live camera: always classify the newest frame.

A grabber thread reads frames as fast as the source delivers them into a one-frame slot; the
classifier takes whatever is newest when it is ready, so stale frames are dropped, nothing queues
and memory stays flat however long it runs. The frame source is a function returning an iterator
of (time in seconds, HxWx3 uint8 RGB): a V4L2 device through PyAV in use, a video file played
back at real-time pace in tests.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sportsedge.core.errors import InputError, first_line
from sportsedge.core.video_options import VideoOptions
from sportsedge.runtime.video import Smoother, decode, frame_pixels, require_av

if TYPE_CHECKING:
    from sportsedge.runtime.classifier import Classifier

FrameSource = Callable[[], Iterator[tuple[float, np.ndarray]]]


def v4l2_source(device: str, size: tuple[int, int] | None = None) -> FrameSource:
    """Frames of a V4L2 camera ("0" means /dev/video0) through PyAV; shrunk by FFmpeg's scaler to
    ``size`` (height, width) when given, as the video-file path does."""

    def frames() -> Iterator[tuple[float, np.ndarray]]:
        av = require_av()
        name = f"/dev/video{device}" if device.isdigit() else device
        try:
            container = av.open(name, format="v4l2")
        except (av.error.FFmpegError, OSError) as err:
            raise InputError(name, f"cannot open the camera ({first_line(err)})") from err
        with container:
            stream = container.streams.video[0]
            t0 = None
            for frame in container.decode(stream):
                t = time.monotonic()
                t0 = t if t0 is None else t0
                yield t - t0, frame_pixels(frame, size)

    return frames


def playback_source(
    path: str | os.PathLike[str], size: tuple[int, int] | None = None, speed: float = 1.0
) -> FrameSource:
    """A video file delivered at its own pace (``speed`` times real time), like a camera would."""

    def frames() -> Iterator[tuple[float, np.ndarray]]:
        start = time.monotonic()
        for t, px in decode(path, size):
            delay = start + t / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            yield t, px

    return frames


class LatencyHistogram:
    """Streaming latency statistics in constant memory: a count, the last value, and log-spaced
    bins 1% wide from 10 us to 100 s, so the median is known to 1% however long the camera runs."""

    LOW_MS, RATIO, BINS = 0.01, 1.01, 1621  # 0.01 * 1.01**1620 ~ 1e5 ms

    def __init__(self) -> None:
        self.counts = np.zeros(self.BINS, np.int64)
        self.n = 0
        self.last = 0.0

    def add(self, ms: float) -> None:
        """Count one classified frame that took ``ms`` end to end."""
        b = int(np.log(max(ms, self.LOW_MS) / self.LOW_MS) / np.log(self.RATIO))
        self.counts[min(b, self.BINS - 1)] += 1
        self.n += 1
        self.last = ms

    def quantile(self, q: float) -> float | None:
        """The bin's geometric centre holding the q-quantile (None before any value)."""
        if not self.n:
            return None
        b = int(np.searchsorted(np.cumsum(self.counts), q * self.n, side="left"))
        result: float | None = self.LOW_MS * self.RATIO ** (b + 0.5)
        return result


@dataclass
class CameraStats:
    """Counters of a camera run; constant memory however long it runs."""

    grabbed: int = 0  # frames the source delivered
    classified: int = 0  # frames the model saw
    dropped: int = 0  # frames replaced by a newer one before the model got to them
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)  # preprocess + inference per frame
    labels: Counter[str] = field(default_factory=Counter)  # smoothed top-1 label -> classified frames
    seconds: float = 0.0  # wall time of the run
    last_t: float | None = None  # source time of the newest classified frame

    def to_dict(self) -> dict[str, Any]:
        """The summary as `predict --camera --json` prints it."""
        median = self.latency.quantile(0.5)
        return {
            "frames_classified": self.classified,
            "seconds": round(self.seconds, 3),
            "frames_per_s": round(self.classified / self.seconds, 2) if self.seconds else 0.0,
            "stale_dropped": self.dropped,
            "grabbed": self.grabbed,
            "latency_ms_p50": None if median is None else round(median, 2),
            "most_seen": [{"label": label, "frames": n} for label, n in self.labels.most_common(3)],
        }

    def summary(self) -> str:
        """The summary as one line for the terminal."""
        fps = self.classified / self.seconds if self.seconds else 0.0
        median = self.latency.quantile(0.5)
        lat = "-" if median is None else f"{median:.1f}"
        top = ", ".join(f"{label} {n}" for label, n in self.labels.most_common(3)) or "nothing (no frame classified)"
        return (
            f"{self.classified} frames classified in {self.seconds:.1f}s ({fps:.1f} frames/s), "
            f"{self.dropped} stale frames dropped of {self.grabbed}; median latency {lat} ms; most seen: {top}"
        )


class _Newest:
    """A one-frame slot: put() replaces, take() waits for a frame it has not returned before."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item = None
        self.finished = False
        self.error: BaseException | None = None

    def put(self, item: Any) -> bool:
        with self._cond:
            replaced = self._item is not None
            self._item = item
            self._cond.notify()
            return replaced

    def close(self, error: BaseException | None = None) -> None:
        with self._cond:
            self.finished, self.error = True, error
            self._cond.notify()

    def take(self, timeout: float = 0.5) -> Any:
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self.finished, timeout)
            item, self._item = self._item, None
            return item


def run_camera(
    clf: Classifier,
    source: FrameSource,
    smooth: float = VideoOptions.smooth,
    seconds: float | None = None,
    on_frame: Callable[[str, float, CameraStats], None] | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> CameraStats:
    """Classify the newest frame until the source ends, ``seconds`` pass on ``clock``, ``stop`` is
    set or Ctrl-C. ``smooth``: seconds of source time the label is averaged over (VideoOptions)."""
    slot, stats, smoother = _Newest(), CameraStats(), Smoother(smooth)
    stop = stop or threading.Event()

    def grab() -> None:
        try:
            for item in source():
                if stop.is_set():
                    break
                stats.grabbed += 1
                stats.dropped += slot.put(item)
        except BaseException as err:  # reported by the consumer
            slot.close(err)
            return
        slot.close()

    grabber = threading.Thread(target=grab, daemon=True, name="sportsedge-camera")
    t0 = clock()
    grabber.start()
    try:
        _loop(clf, slot, stats, smoother, stop, lambda: clock() - t0, seconds, on_frame)
    except KeyboardInterrupt:  # Ctrl-C is how a live run ends: the caller prints the summary
        pass
    finally:
        stop.set()
        stats.seconds = clock() - t0
    if slot.error is not None:
        raise slot.error
    return stats


def _loop(
    clf: Classifier,
    slot: _Newest,
    stats: CameraStats,
    smoother: Smoother,
    stop: threading.Event,
    elapsed: Callable[[], float],
    seconds: float | None,
    on_frame: Callable[[str, float, CameraStats], None] | None,
) -> None:
    while not stop.is_set() and (seconds is None or elapsed() < seconds):
        item = slot.take()
        if item is None:
            if slot.finished:
                return
            continue
        t, px = item
        t1 = time.perf_counter()
        (i, score), _ = smoother.classify(clf, t, px)
        stats.latency.add(1000 * (time.perf_counter() - t1))
        stats.classified += 1
        stats.labels[clf.labels[i]] += 1
        stats.last_t = t
        stats.seconds = elapsed()
        if on_frame is not None:
            on_frame(clf.labels[i], score, stats)
