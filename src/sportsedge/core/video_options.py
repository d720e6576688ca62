"""Settings of the video path (light: the CLI reads its defaults here without loading the runtime)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VideoOptions:
    every: int = 1  # classify every Nth decoded frame
    fps: float | None = None  # instead of --every: classify at most this many frames per second of video
    # A frame's label is the mean of the scores classified in `smooth` seconds of video time: for a
    # file centred on the frame (it can look ahead, so segments start at the scene change), for a
    # camera the last `smooth` seconds (it cannot). A window in seconds means the same whatever
    # --fps or --every pick (one in frames was 2.5 s at --fps 2 and 10 s at --fps 0.5). 0 = off.
    smooth: float = 1.0

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"every must be at least 1, got {self.every}")
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if not self.smooth >= 0:
            raise ValueError(f"smooth must be 0 or more seconds, got {self.smooth}")
