"""Video files: decoded frames go to the model as arrays (no JPEG round trip), scores are smoothed
over a window of video time, and runs of one label become segments ("what is on screen,
when"). Decoding is PyAV's (FFmpeg), from the optional `video` extra; TF-free like all the runtime.

A corrupt or truncated file ends in an error that names it, and keeps everything classified
before the damage.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sportsedge.core.errors import InputError, MissingDependencyError, in_words
from sportsedge.core.metrics import predicted
from sportsedge.core.video_options import VideoOptions

if TYPE_CHECKING:
    from sportsedge.runtime.classifier import Classifier

# Files `predict` treats as videos, by extension.
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ts"})


def is_video_file(path: str | os.PathLike[str]) -> bool:
    """A video file by extension (VIDEO_EXTENSIONS)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def require_av() -> Any:
    """PyAV, or a one-line error naming the extra."""
    try:
        import av
    except ImportError as err:
        raise MissingDependencyError("av", "video", "needed for video files and cameras") from err
    return av


@dataclass(frozen=True)
class FramePrediction:
    """One classified frame of a video."""

    t_s: float  # presentation time of the frame, seconds from the start
    index: int  # class index of the smoothed scores' top-1 (what segments are made of)
    label: str  # its name
    score: float  # its smoothed score
    own_label: str = ""  # the frame's own top-1, before smoothing
    own_score: float = 0.0  # its score


@dataclass(frozen=True)
class Segment:
    """A run of frames whose smoothed label is the same."""

    start_s: float  # time of the segment's first classified frame
    end_s: float  # time of the next segment's first frame, or the end of what was decoded
    index: int  # class index
    label: str  # class name
    score: float  # mean smoothed score of the label over the segment's frames


@dataclass(frozen=True)
class VideoResult:
    """A video file's classified frames and segments; ``error`` says where a damaged file stopped."""

    path: str  # the video file
    frames: tuple[FramePrediction, ...]  # every classified frame, in time order
    segments: tuple[Segment, ...]  # runs of one label
    error: InputError | None = None  # decoding stopped here; frames and segments are what came before


def frame_pixels(frame: Any, size: tuple[int, int] | None = None) -> np.ndarray:
    """A decoded frame as HxWx3 uint8 RGB; with ``size`` (height, width), FFmpeg's scaler converts
    and shrinks it in one pass (area filter)."""
    if size is not None:
        frame = frame.reformat(width=size[1], height=size[0], format="rgb24", interpolation="AREA")
    result: np.ndarray = frame.to_ndarray(format="rgb24")
    return result


def decode(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """(time in seconds, HxWx3 uint8 RGB) for every frame of the first video stream; with ``size``
    (height, width), FFmpeg's scaler converts and shrinks each frame in one pass (area filter).

    Measured in docs/video.md: on a 1080p clip of valid/ images, going straight to the model's
    input this way matches `predict` on the still images more often (94-95% of frames against
    85-89% for a full-size RGB frame resized by the image contract) and is the fastest path.

    Raises InputError naming the file when it cannot be opened or decoding fails part-way.
    """
    av = require_av()
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file" if not path.exists() else "not a file")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise InputError(path, f"not a readable video: {in_words(err)}") from err
    with container:
        if not container.streams.video:
            raise InputError(path, "no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # FFmpeg's frame and slice threads: decoding releases the GIL
        rate = float(stream.average_rate or 25)
        n = 0
        try:
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else n / rate
                n += 1
                yield t, frame_pixels(frame, size)
        except (av.error.FFmpegError, EOFError) as err:
            raise InputError(path, f"corrupt or truncated video after {n} frames: {in_words(err)}") from err
        expected = stream.frames  # from the container's index, when it has one (0 = unknown)
        if expected and n < expected:
            raise InputError(path, f"truncated video: {n} of {expected} frames decodable")


def select(frames: Iterator[tuple[float, np.ndarray]], options: VideoOptions) -> Iterator[tuple[float, np.ndarray]]:
    """The frames to classify: every Nth, or at most ``fps`` per second of video time.

    With ``fps`` the schedule is a grid of 1/fps steps. When a frame comes a whole step or more
    after its slot (a cut in a recording, a camera that stalled), the grid starts afresh at that
    frame instead of taking one frame per missed slot to catch up; so does a jump backwards.
    """
    next_t: float | None = None
    last: float | None = None
    for i, (t, px) in enumerate(frames):
        if options.fps:
            step = 1.0 / options.fps
            fresh = next_t is None or last is None or t < last
            if fresh or next_t is None or t >= next_t - 1e-6:
                next_t = t + step if fresh or next_t is None or next_t + step <= t else next_t + step
                last = t
                yield t, px
        elif i % options.every == 0:
            yield t, px


class Smoother:
    """Mean of the score vectors classified in the last ``seconds`` of video time, the newest
    included: the label of a frame is what that stretch of video agrees on. Bounded twice: by
    time, and by ``max_frames`` whatever the timestamps say."""

    def __init__(self, seconds: float, max_frames: int = 1000):
        self.seconds = float(seconds)
        self.window: deque[Any] = deque(maxlen=max_frames)  # (t, scores)

    def __call__(self, t: float, scores: np.ndarray) -> np.ndarray:
        """The mean scores of the last ``window`` seconds, this frame's included."""
        if self.window and t < self.window[-1][0]:  # time went backwards: a new stream
            self.window.clear()
        self.window.append((t, scores))
        while len(self.window) > 1 and self.window[0][0] <= t - self.seconds + 1e-9:
            self.window.popleft()
        result: np.ndarray = np.mean([s for _, s in self.window], axis=0)
        return result

    def classify(self, clf: Classifier, t: float, pixels: np.ndarray) -> tuple[tuple[int, float], tuple[int, float]]:
        """Add one frame's scores: (smoothed top-1, the frame's own top-1), each (class index, score)."""
        own = clf.scores(clf.preprocess(pixels)[None])[0]
        s = self(t, own)
        i, j = int(predicted(s)), int(predicted(own))
        return (i, float(s[i])), (j, float(own[j]))


class CentredSmoother:
    """For video files, which can look ahead: a frame's label is the mean of the scores within
    ``seconds`` of video centred on it (half before, half after), so a segment starts where the
    scene changes instead of half a window late, as a live camera's causal window must
    (Smoother). Frames come out once their look-ahead has arrived (``push``), the rest at the
    end (``flush``); bounded by ``max_frames`` like Smoother."""

    def __init__(self, seconds: float, max_frames: int = 1000):
        self.half = float(seconds) / 2
        self.window: deque[tuple[float, np.ndarray]] = deque(maxlen=max_frames)  # (t, scores) within reach
        self.pending: deque[tuple[float, Any]] = deque(maxlen=max_frames)  # (t, item) awaiting look-ahead

    def push(self, t: float, scores: np.ndarray, item: Any) -> list[tuple[Any, np.ndarray]]:
        """Add one frame; returns (item, smoothed scores) of every frame whose window is complete."""
        self.window.append((t, scores))
        self.pending.append((t, item))
        return self._ready(t)

    def flush(self) -> list[tuple[Any, np.ndarray]]:
        """The frames still waiting (the end of the video is their look-ahead)."""
        return self._ready(float("inf"))

    def _ready(self, now: float) -> list[tuple[Any, np.ndarray]]:
        out = []
        while self.pending and self.pending[0][0] + self.half <= now + 1e-9:
            centre, item = self.pending.popleft()
            while self.window and self.window[0][0] < centre - self.half - 1e-9:
                self.window.popleft()
            near = [s for t, s in self.window if t <= centre + self.half + 1e-9]
            out.append((item, np.mean(near, axis=0)))
        return out


def segments_of(frames: list[FramePrediction], end_s: float) -> tuple[Segment, ...]:
    """Consecutive frames of the same smoothed label, as segments ending at ``end_s``."""
    out: list[Segment] = []
    start = 0
    for i in range(1, len(frames) + 1):
        if i == len(frames) or frames[i].index != frames[start].index:
            run = frames[start:i]
            stop = frames[i].t_s if i < len(frames) else max(end_s, run[-1].t_s)
            score = float(np.mean([f.score for f in run]))
            out.append(Segment(run[0].t_s, stop, run[0].index, run[0].label, score))
            start = i
    return tuple(out)


def segment_lines(segments: Sequence[Segment]) -> list[str]:
    """`predict`'s text for segments: "  00:00.0-00:12.4  basketball  0.93", labels aligned."""
    width = max((len(s.label) for s in segments), default=0)
    return [f"  {clock(s.start_s)}-{clock(s.end_s)}  {s.label:<{width}}  {s.score:.2f}" for s in segments]


def _prefetched(frames: Iterator[Any], depth: int = 4) -> Generator[Any, None, None]:
    """Decode in a background thread (FFmpeg releases the GIL) while the caller classifies.

    When the caller stops early (closes this generator, or an exception leaves its loop), the
    thread is told to stop, closes ``frames`` (and with it the container) and is joined.
    """
    slots: deque[Any] = deque()
    ready, done, stop = threading.Condition(), object(), threading.Event()
    error: list[BaseException] = []

    def worker() -> None:
        try:
            for item in frames:
                with ready:
                    ready.wait_for(lambda: len(slots) < depth or stop.is_set())
                    if stop.is_set():
                        break
                    slots.append(item)
                    ready.notify_all()
        except BaseException as err:  # handed to the consumer, raised there
            error.append(err)
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()  # a generator's close runs its `with container:` exit
            with ready:
                slots.append(done)
                ready.notify_all()

    thread = threading.Thread(target=worker, daemon=True, name="sportsedge-decode")
    thread.start()
    try:
        while True:
            with ready:
                ready.wait_for(lambda: slots)
                item = slots.popleft()
                ready.notify_all()
            if item is done:
                if error:
                    raise error[0]
                return
            yield item
    finally:
        stop.set()
        with ready:
            ready.notify_all()
        thread.join(timeout=10)


def classify_video(
    clf: Classifier,
    path: str | os.PathLike[str],
    options: VideoOptions | None = None,
    on_frame: Callable[[FramePrediction], None] | None = None,
) -> VideoResult:
    """Classify a video file's selected frames; never raises for a damaged file (see ``error``).

    Each frame is labelled by the scores of ``options.smooth`` seconds centred on it
    (CentredSmoother): a file can look ahead, so segments start where the scenes change.
    """
    options = options or VideoOptions()
    smooth, error = CentredSmoother(options.smooth), None
    frames: list[FramePrediction] = []

    def emit(ready: list[tuple[Any, np.ndarray]]) -> None:
        for (t, j, own), scores in ready:
            i = int(predicted(scores))
            frames.append(FramePrediction(t, i, clf.labels[i], float(scores[i]), clf.labels[j], own))
            if on_frame is not None:
                on_frame(frames[-1])

    try:
        with closing(_prefetched(select(decode(path, clf.input_size), options))) as stream:
            for t, px in stream:
                own = clf.scores(clf.preprocess(px)[None])[0]
                j = int(predicted(own))
                emit(smooth.push(t, own, (t, j, float(own[j]))))
    except InputError as err:
        error = err
    emit(smooth.flush())  # a damaged file keeps the frames it had
    # The last segment runs one frame interval past its last classified frame.
    step = frames[-1].t_s - frames[-2].t_s if len(frames) > 1 else 0.0
    end = frames[-1].t_s + step if frames else 0.0
    return VideoResult(str(path), tuple(frames), segments_of(frames, end), error)


def clock(t: float) -> str:
    """00:12.4, or 1:02:03.5 past an hour."""
    t = max(0.0, t)
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h)}:{int(m):02d}:{s:04.1f}" if h >= 1 else f"{int(m):02d}:{s:04.1f}"
