"""The video path measured on a 1080p clip made from real images: does each segment's label match
what `predict` says for the still image on screen, and how many frames per second end to end?

    .venv/bin/python experiments/video_clip.py MODEL --images DIR [--count 40] [--seconds-each 3]
        [--fps 30] [--threads 2] [--smooth 0,0.5,1]

The clip holds `--count` images of DIR (spread over its classes), each for `--seconds-each`
seconds, H.264 at 1920x1080 (crf 18), in a known order. For each smoothing window it prints the
share of the clip's duration whose segment label equals the model's prediction for the source
image file itself (this measures the video path, not the model), and the end-to-end throughput
(decode + resize + inference of every frame) at `--threads`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--seconds-each", type=float, default=3.0)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--smooth", default="0,0.5,1", help="smoothing windows in seconds (0 = off)")
    args = ap.parse_args()

    from sportsedge.core.video_options import VideoOptions
    from sportsedge.data.clips import write_clip
    from sportsedge.runtime import Classifier
    from sportsedge.runtime.imagesets import evenly_spaced, image_files
    from sportsedge.runtime.preprocess import load_pixels
    from sportsedge.runtime.video import classify_video

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = Classifier.load(args.model, threads=args.threads)
    files = list(image_files(args.images).images)
    files = evenly_spaced(files, args.count)
    still = [clf.predict(f, top_k=1)[0].label for f in files]  # what predict says for each image file
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        clip = write_clip(
            Path(tmp) / "clip.mp4", [(load_pixels(f), args.seconds_each) for f in files], (1080, 1920), fps=args.fps
        )
        print(
            f"clip: {len(files)} images x {args.seconds_each:g} s, 1920x1080 H.264 at {args.fps} fps, "
            f"{clip.stat().st_size / 1e6:.1f} MB, written in {time.perf_counter() - t:.0f} s; "
            f"model {args.model.name}, {args.threads} threads"
        )
        print("| smooth | frames | duration with the still image's label | end-to-end frames/s |")
        print("| ---: | ---: | ---: | ---: |")
        total = len(files) * args.seconds_each
        for k in (float(v) for v in args.smooth.split(",")):
            t = time.perf_counter()
            result = classify_video(clf, clip, VideoOptions(smooth=k))
            fps = len(result.frames) / (time.perf_counter() - t)
            right = 0.0
            for s in result.segments:  # overlap of each segment with the images that carry its label
                for i, label in enumerate(still):
                    if label == s.label:
                        lo, hi = i * args.seconds_each, (i + 1) * args.seconds_each
                        right += max(0.0, min(hi, s.end_s) - max(lo, s.start_s))
            print(f"| {k} | {len(result.frames)} | {100 * right / total:.1f}% | {fps:.1f} |", flush=True)


if __name__ == "__main__":
    main()
