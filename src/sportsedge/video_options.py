"""Settings of the video path (light: the CLI reads its defaults here without loading the runtime)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VideoOptions:
    every: int = 1  # classify every Nth decoded frame
    fps: float | None = None  # instead of --every: classify at most this many frames per second of video
    smooth: int = 5  # label each classified frame by the mean scores of the last K classified frames
