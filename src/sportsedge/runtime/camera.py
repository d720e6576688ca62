"""A live camera: always classify the newest frame.

A grabber thread reads frames as fast as the source delivers them into a one-frame slot; the
classifier takes whatever is newest when it is ready, so stale frames are dropped, nothing queues
and memory stays flat however long it runs. The frame source is a function returning an iterator
of (time in seconds, HxWx3 uint8 RGB): a V4L2 device through PyAV in use, a video file played
back at real-time pace in tests.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, first_line
from .video import Smoother, decode, frame_pixels, require_av

FrameSource = Callable[[], Iterator[tuple[float, np.ndarray]]]


def v4l2_source(device: str, size: tuple[int, int] | None = None) -> FrameSource:
    """Frames of a V4L2 camera ("0" means /dev/video0) through PyAV; shrunk by FFmpeg's scaler to
    ``size`` (height, width) when given, as the video-file path does."""

    def frames():
        av = require_av()
        name = f"/dev/video{device}" if device.isdigit() else device
        try:
            container = av.open(name, format="v4l2")
        except (av.error.FFmpegError, OSError) as err:
            raise InputError(name, f"cannot open the camera ({first_line(err)})") from None
        with container:
            stream = container.streams.video[0]
            t0 = None
            for frame in container.decode(stream):
                t = time.monotonic()
                t0 = t if t0 is None else t0
                yield t - t0, frame_pixels(frame, size)

    return frames


def playback_source(path, size: tuple[int, int] | None = None, speed: float = 1.0) -> FrameSource:
    """A video file delivered at its own pace (``speed`` times real time), like a camera would."""

    def frames():
        start = time.monotonic()
        for t, px in decode(path, size):
            delay = start + t / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            yield t, px

    return frames


@dataclass
class CameraStats:
    grabbed: int = 0  # frames the source delivered
    classified: int = 0  # frames the model saw
    dropped: int = 0  # frames replaced by a newer one before the model got to them
    latency_ms: list = field(default_factory=list)  # preprocess + inference per classified frame
    labels: Counter = field(default_factory=Counter)  # smoothed top-1 label -> classified frames
    seconds: float = 0.0  # wall time of the run
    times: list = field(default_factory=list)  # source time of each classified frame (for tests)

    def summary(self) -> str:
        fps = self.classified / self.seconds if self.seconds else 0.0
        lat = f"{np.median(self.latency_ms):.1f}" if self.latency_ms else "-"
        top = ", ".join(f"{label} {n}" for label, n in self.labels.most_common(3))
        return (
            f"{self.classified} frames classified in {self.seconds:.1f}s ({fps:.1f} frames/s), "
            f"{self.dropped} stale frames dropped of {self.grabbed}; median latency {lat} ms; most seen: {top}"
        )


class _Newest:
    """A one-frame slot: put() replaces, take() waits for a frame it has not returned before."""

    def __init__(self):
        self._cond = threading.Condition()
        self._item = None
        self.finished = False
        self.error: BaseException | None = None

    def put(self, item) -> bool:
        with self._cond:
            replaced = self._item is not None
            self._item = item
            self._cond.notify()
            return replaced

    def close(self, error: BaseException | None = None) -> None:
        with self._cond:
            self.finished, self.error = True, error
            self._cond.notify()

    def take(self, timeout: float = 0.5):
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self.finished, timeout)
            item, self._item = self._item, None
            return item


def run_camera(
    clf,
    source: FrameSource,
    smooth: int = 5,
    seconds: float | None = None,
    on_frame: Callable[[str, float, CameraStats], None] | None = None,
    stop: threading.Event | None = None,
) -> CameraStats:
    """Classify the newest frame until the source ends, ``seconds`` pass, ``stop`` is set or Ctrl-C."""
    slot, stats, smoother = _Newest(), CameraStats(), Smoother(smooth)
    stop = stop or threading.Event()

    def grab():
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
    t0 = time.monotonic()
    grabber.start()
    try:
        _loop(clf, slot, stats, smoother, stop, t0, seconds, on_frame)
    except KeyboardInterrupt:  # Ctrl-C is how a live run ends: the caller prints the summary
        pass
    finally:
        stop.set()
        stats.seconds = time.monotonic() - t0
    if slot.error is not None:
        raise slot.error
    return stats


def _loop(clf, slot: _Newest, stats: CameraStats, smoother, stop, t0: float, seconds, on_frame) -> None:
    while not stop.is_set() and (seconds is None or time.monotonic() - t0 < seconds):
        item = slot.take()
        if item is None:
            if slot.finished:
                return
            continue
        t, px = item
        t1 = time.perf_counter()
        i, score = smoother.classify(clf, px)
        stats.latency_ms.append(1000 * (time.perf_counter() - t1))
        stats.classified += 1
        stats.labels[clf.labels[i]] += 1
        stats.times.append(t)
        stats.seconds = time.monotonic() - t0
        if on_frame is not None:
            on_frame(clf.labels[i], score, stats)
