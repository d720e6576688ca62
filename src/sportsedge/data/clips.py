"""Writing video clips from still images (for tests, the demo and the video benchmarks): H.264 in
MP4 through PyAV (the `video` extra), each image held for a given time, in a known order."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from sportsedge.runtime.video import require_av


def write_clip(
    path: str | os.PathLike,
    stills: list[tuple[np.ndarray, float]],
    size: tuple[int, int],
    fps: int = 30,
    codec: str = "libx264",
) -> Path:
    """An MP4 of ``stills`` ((HxWx3 uint8, seconds) each, resized to ``size`` = (height, width)),
    written atomically; the index sits at the front (faststart), so a cut-off file still plays."""
    from sportsedge.util import fileio

    av = require_av()
    path = Path(path)
    h, w = size
    with (
        fileio.atomic_path(path) as tmp,
        av.open(str(tmp), "w", format="mp4", options={"movflags": "faststart"}) as out,
    ):
        stream = out.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "18", "preset": "veryfast"}
        for pixels, seconds in stills:
            # Lanczos: a faithful enlargement, as a camera filming the scene would record it.
            frame_px = np.asarray(Image.fromarray(pixels).resize((w, h), Image.Resampling.LANCZOS))
            frame = av.VideoFrame.from_ndarray(frame_px, format="rgb24")
            for _ in range(max(1, round(seconds * fps))):
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
