"""Camera-size photos: how today's preprocessing contract and its fast paths compare.

    .venv/bin/python experiments/large_images.py MODEL --images DIR [--count 500] [--sizes 1920x1080,4056x3040]

Each image of DIR (searched recursively) is upscaled (Pillow bicubic) to each camera size and
encoded as a JPEG (quality 90) in memory, as a camera would write it. Then every variant decodes
and resizes it to the model's input, and the model classifies it (1 thread). Per size and variant:
top-1 agreement and max score difference against the v1 contract (full decode + bilinear), and
the median decode + resize time. "v1 at JPEG q95" is the noise floor: the same contract on
the same picture saved at another JPEG quality.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image


def v1(data: bytes, size) -> np.ndarray:
    """The v1 contract: full decode, then Pillow bilinear to the input size."""
    from sportsedge.runtime.preprocess import resize, to_rgb

    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return np.asarray(resize(to_rgb(img), size))


def draft(factor: int):
    def run(data: bytes, size) -> np.ndarray:
        from sportsedge.runtime.preprocess import resize, to_rgb

        with Image.open(io.BytesIO(data)) as img:
            m = max(size)
            img.draft(img.mode, (factor * m, factor * m))
            img.load()
            return np.asarray(resize(to_rgb(img), size))

    run.__name__ = f"draft {factor}x"
    return run


def reducing_gap(data: bytes, size) -> np.ndarray:
    from sportsedge.runtime.preprocess import to_rgb

    with Image.open(io.BytesIO(data)) as img:
        img.load()
        h, w = size
        return np.asarray(to_rgb(img).resize((w, h), Image.BILINEAR, reducing_gap=2.0))


def production(data: bytes, size) -> np.ndarray:
    """load_pixels as shipped (from a file, the way predict reads one)."""
    import tempfile

    from sportsedge.runtime.preprocess import load_pixels

    with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
        f.write(data)
        f.flush()
        return load_pixels(f.name, size)


def v1_q95(data: bytes, size) -> np.ndarray:
    """The noise floor: v1 on the same picture saved at JPEG quality 95 (main() passes those bytes)."""
    return v1(data, size)


VARIANTS = {
    "v1 (full decode)": v1,
    "v1 at JPEG q95": v1_q95,
    "draft 1x": draft(1),
    "draft 2x": draft(2),
    "draft 4x": draft(4),
    "reducing_gap 2": reducing_gap,
    "load_pixels": production,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--sizes", default="1920x1080,4056x3040")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args()

    from sportsedge.core.metrics import predicted
    from sportsedge.runtime import Classifier
    from sportsedge.runtime.imagesets import evenly_spaced, image_files

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = Classifier.load(args.model, threads=1)
    files = list(image_files(args.images).images)
    files = evenly_spaced(files, args.count)
    names = args.variants.split(",")
    print(f"model {args.model.name}, {len(files)} images from {args.images}, 1 thread")
    print("| size | variant | top-1 agreement vs v1 | max score diff | decode+resize ms (median) |")
    print("| --- | --- | ---: | ---: | ---: |")
    for spec in args.sizes.split(","):
        w, h = (int(v) for v in spec.split("x"))
        scores = {n: [] for n in names}
        times = {n: [] for n in names}
        for f in files:
            with Image.open(f) as src:
                big = src.convert("RGB").resize((w, h), Image.BICUBIC)
            buf = io.BytesIO()
            big.save(buf, "JPEG", quality=90)
            data = buf.getvalue()
            q95 = io.BytesIO()
            if "v1 at JPEG q95" in names:
                big.save(q95, "JPEG", quality=95)
            for n in names:
                t = time.perf_counter()
                px = VARIANTS[n](q95.getvalue() if VARIANTS[n] is v1_q95 else data, clf.input_size)
                times[n].append(time.perf_counter() - t)
                scores[n].append(clf.scores(px[None])[0])
        ref = np.array(scores[names[0]])
        for n in names:
            s = np.array(scores[n])
            agree = float(np.mean(predicted(s) == predicted(ref)))
            print(
                f"| {w}x{h} | {n} | {100 * agree:.1f}% | {np.abs(s - ref).max():.3f} | "
                f"{1000 * statistics.median(times[n]):.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
