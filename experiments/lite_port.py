"""Which padding and input scaling the EfficientNet-Lite ImageNet weights need, measured.

    .venv/bin/python experiments/lite_port.py [--variants lite0,lite1,lite2] [--data ../shared/data/sports100-dev/valid]

For each convention (TensorFlow "same" padding vs a symmetric k//2 pad; (x-127)/128 vs ImageNet's
per-channel mean/std), the ported ImageNet classifier is run on:
- scikit-image's sample photos with known ImageNet classes (a cat, an espresso, a rocket), cropped
  as ImageNet evaluation crops (the central 87.5% square at 224 px), then resized;
- the sports images whose sport has an ImageNet class of its own (a basketball, a bobsled, a
  parachute...): the mean log-probability of that class, and how often it is in the top 5.
The convention the weights were trained with gives the real objects higher probability.
Prints markdown (docs/models.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

# sport folder -> ImageNet classes that picture it (index: name)
SPORT_CLASSES = {
    "balance beam": {416: "balance beam"},
    "baseball": {429: "baseball", 981: "ballplayer"},
    "basketball": {430: "basketball"},
    "bmx": {671: "mountain bike"},
    "bobsled": {450: "bobsled"},
    "boxing": {747: "punching bag"},
    "canoe slamon": {472: "canoe", 693: "paddle"},
    "croquet": {522: "croquet ball"},
    "golf": {574: "golf ball"},
    "hockey": {746: "puck"},
    "mushing": {537: "dogsled"},
    "nascar racing": {751: "racer"},
    "parallel bar": {702: "parallel bars"},
    "rugby": {768: "rugby ball"},
    "skydiving": {701: "parachute"},
    "snowmobile racing": {802: "snowmobile"},
    "table tennis": {722: "ping-pong ball"},
    "tennis": {752: "racket", 852: "tennis ball"},
    "volleyball": {890: "volleyball"},
    "weightlifting": {422: "barbell"},
}
# scikit-image sample photo -> its ImageNet classes
PHOTOS = {
    "chelsea": {281: "tabby", 282: "tiger cat", 285: "Egyptian cat"},
    "coffee": {967: "espresso", 968: "cup", 504: "coffee mug"},
    "rocket": {657: "missile", 744: "projectile", 812: "space shuttle"},
}
IMAGENET_MEAN, IMAGENET_STD = np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375])


CROP_PADDING = 32  # EfficientNet's ImageNet evaluation keeps the central size/(size+32) of the short side


def eval_crop(img: np.ndarray, size: int) -> np.ndarray:
    """ImageNet's evaluation view of a photo: the central square of size/(size+32) of its short
    side (87.5% at 224 px), as EfficientNet's own evaluation crops it, before the resize. Squashing
    a 3:2 photo into a square instead distorts it, and is not how the weights were scored."""
    h, w = img.shape[:2]
    side = int(size / (size + CROP_PADDING) * min(h, w))
    top, left = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(img[top : top + side, left : left + side])


def sample_photos(size: int) -> dict[str, np.ndarray]:
    """scikit-image's sample photos, each as ImageNet evaluation sees it, at size x size."""
    import skimage.data

    from sportsedge.runtime.preprocess import load_pixels

    return {name: load_pixels(eval_crop(getattr(skimage.data, name)(), size), (size, size)) for name in PHOTOS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="lite0,lite1,lite2")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/sports100-dev/valid"))
    args = ap.parse_args()
    from sportsedge.runtime.preprocess import load_pixels
    from sportsedge.train import require_tensorflow
    from sportsedge.train.lite_backbone import MEAN, STD, VARIANTS, imagenet_classifier

    require_tensorflow()
    print("| variant | padding | scaling | cat | espresso | rocket | sports: mean log p | vs row 1 | sports: top-5 |")
    print("| --- | --- | --- | --- | --- | --- | ---: | ---: | ---: |")
    for name in args.variants.split(","):
        size = VARIANTS[name].resolution
        photos = sample_photos(size)
        files = [
            (f, classes) for sport, classes in SPORT_CLASSES.items() for f in sorted((args.data / sport).glob("*"))
        ]
        sports = np.stack([load_pixels(f, (size, size)) for f, _ in files]).astype(np.float32)
        first = None
        for symmetric in (False, True):
            model = imagenet_classifier(name, symmetric=symmetric)
            for scaling in ("(x-127)/128", "ImageNet mean/std"):
                # The graph scales by (x-127)/128 itself: feed pixels that come out as the other rule.
                def fed(px, scaling=scaling):
                    if scaling == "(x-127)/128":
                        return px.astype(np.float32)
                    return ((px - IMAGENET_MEAN) / IMAGENET_STD * STD + MEAN).astype(np.float32)

                cells = []
                for photo, classes in PHOTOS.items():
                    p = model.predict(fed(photos[photo])[None], verbose=0)[0]
                    top = int(np.argmax(p))
                    hit = "top-1" if top in classes else ("top-5" if set(np.argsort(-p)[:5]) & set(classes) else "miss")
                    cells.append(f"{hit} ({p[list(classes)].sum():.2f})")
                probs = model.predict(fed(sports), verbose=0, batch_size=32)
                logp = np.array([np.log(probs[i, list(c)].sum() + 1e-12) for i, (_, c) in enumerate(files)])
                first = logp if first is None else first
                diff = logp - first  # paired over the same images: mean and its standard error
                versus = f"{diff.mean():+.3f} ± {diff.std(ddof=1) / np.sqrt(len(diff)):.3f}" if diff.any() else "-"
                top5 = [bool(set(np.argsort(-probs[i])[:5]) & set(c)) for i, (_, c) in enumerate(files)]
                pad = "symmetric k//2" if symmetric else "TF same"
                row = [f"{name} ({size} px)", pad, scaling, *cells, f"{np.mean(logp):.3f}", versus]
                print(f"| {' | '.join(row)} | {sum(top5)}/{len(top5)} |", flush=True)


if __name__ == "__main__":
    main()
