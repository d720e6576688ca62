"""Which way should video frames reach the model? Agreement with `predict` on the still images.

    .venv/bin/python experiments/video_paths.py MODEL --images DIR [--count 100] [--threads 2]

For each clip variant (how the stills are enlarged to 1080p, H.264 crf, chroma format), each
still is held for 2 frames; each frame is classified three ways: the full RGB frame through the
image contract, FFmpeg's scaler to 2x the input then the contract, and the scaler straight to the
input. Prints the share of frames whose label equals `predict` on the still image file, and
frames/s (another job on the machine changes the latter: compare within one run).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import av

    from sportsedge.core.metrics import predicted
    from sportsedge.runtime import Classifier
    from sportsedge.runtime.imagesets import evenly_spaced, image_files
    from sportsedge.runtime.preprocess import load_pixels

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = Classifier.load(args.model, threads=args.threads)
    files = list(image_files(args.images).images)
    files = evenly_spaced(files, args.count)
    still = np.array([int(predicted(clf.scores(clf.preprocess(f)[None])[0])) for f in files])
    h, w = clf.input_size

    def make(path, up, crf, pix):
        with av.open(str(path), "w") as out:
            s = out.add_stream("libx264", rate=Fraction(30))
            s.width, s.height, s.pix_fmt, s.options = 1920, 1080, pix, {"crf": str(crf), "preset": "veryfast"}
            for f in files:
                px = np.asarray(Image.fromarray(load_pixels(f)).resize((1920, 1080), up))
                frame = av.VideoFrame.from_ndarray(px, format="rgb24")
                for _ in range(2):
                    for p in s.encode(frame):
                        out.mux(p)
            for p in s.encode():
                out.mux(p)

    def run(path, k):
        labels, t0 = [], time.perf_counter()
        with av.open(str(path)) as c:
            c.streams.video[0].thread_type = "AUTO"
            for fr in c.decode(video=0):
                if k is None:
                    px = clf.preprocess(fr.to_ndarray(format="rgb24"))
                else:
                    small = fr.reformat(width=w * k, height=h * k, format="rgb24", interpolation="AREA")
                    px = clf.preprocess(small.to_ndarray())
                labels.append(int(predicted(clf.scores(px[None])[0])))
        return float(np.mean(np.array(labels[::2]) == still)), len(labels) / (time.perf_counter() - t0)

    print(f"{len(files)} images, model {args.model.name}, {args.threads} threads")
    print("| enlarged with | crf | chroma | frame to model | agreement with the still | frames/s |")
    print("| --- | ---: | --- | --- | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for up, crf, pix in (
            ("bilinear", 18, "yuv420p"),
            ("lanczos", 18, "yuv420p"),
            ("lanczos", 10, "yuv420p"),
            ("lanczos", 18, "yuv444p"),
        ):
            clip = Path(tmp) / f"{up}-{crf}-{pix}.mp4"
            make(clip, {"bilinear": Image.BILINEAR, "lanczos": Image.LANCZOS}[up], crf, pix)
            for name, k in (("full RGB + contract", None), ("scaler to 2x + contract", 2), ("scaler to input", 1)):
                agree, fps = run(clip, k)
                print(f"| {up} | {crf} | {pix} | {name} | {100 * agree:.0f}% | {fps:.0f} |", flush=True)


if __name__ == "__main__":
    main()
