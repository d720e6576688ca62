"""PyAV against OpenCV (headless) for the video extra: decode speed of a 1080p H.264 clip to RGB arrays.

    .venv/bin/python experiments/video_decoders.py [--frames 300] [--repeat 3]
    (OpenCV is not a dependency: PYTHONPATH=DIR with `pip install --target DIR opencv-python-headless`)

Writes a 1920x1080 H.264 clip (PyAV, crf 18) of moving noise, then decodes it fully to HxWx3 uint8
RGB with each library, best of --repeat, single process, the libraries' default threading.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np


def write(path: Path, frames: int) -> None:
    import av

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (1080 + frames, 1920, 3), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=Fraction(30))
        s.width, s.height, s.pix_fmt, s.options = 1920, 1080, "yuv420p", {"crf": "18", "preset": "veryfast"}
        for i in range(frames):
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(base[i : i + 1080]), format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)


def pyav(path: Path) -> int:
    import av

    n = 0
    with av.open(str(path)) as c:
        c.streams.video[0].thread_type = "AUTO"
        for frame in c.decode(video=0):
            frame.to_ndarray(format="rgb24")
            n += 1
    return n


def opencv(path: Path) -> int:
    import cv2

    cap, n = cv2.VideoCapture(str(path)), 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        n += 1
    cap.release()
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        write(clip, args.frames)
        print(f"| decoder | frames/s (1080p H.264 -> RGB arrays, best of {args.repeat}) |")
        print("| --- | ---: |")
        for name, fn in (("PyAV", pyav), ("OpenCV headless", opencv)):
            try:
                best = min(_time(fn, clip) for _ in range(args.repeat))
            except ImportError as err:
                print(f"| {name} | not installed ({err.name}) |")
                continue
            print(f"| {name} | {args.frames / best:.0f} |")


def _time(fn, clip) -> float:
    t = time.perf_counter()
    fn(clip)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
