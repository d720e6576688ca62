"""A small synthetic scene dataset in the Kaggle layout, for the offline demo and tests.

Four classes of drawn scenes, each with its own shapes, palette and texture, varied by a seeded
RNG (positions, sizes, colours, noise), saved as 224x224 JPEGs like the real dataset. Deterministic:
the same seed writes byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 224


def _jitter(rng, rgb, amount=30):
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in rgb)


def _gradient(rng, top, bottom) -> Image.Image:
    t = np.linspace(0, 1, SIZE)[:, None, None]
    arr = (1 - t) * np.array(_jitter(rng, top)) + t * np.array(_jitter(rng, bottom))
    return Image.fromarray(np.broadcast_to(arr, (SIZE, SIZE, 3)).astype(np.uint8))


def sunset(rng) -> Image.Image:
    img = _gradient(rng, (250, 120, 40), (120, 30, 90))
    d = ImageDraw.Draw(img)
    r = int(rng.integers(25, 50))
    cx, cy = int(rng.integers(50, 174)), int(rng.integers(90, 160))
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=_jitter(rng, (255, 220, 80)))
    d.rectangle([0, int(rng.integers(160, 190)), SIZE, SIZE], fill=_jitter(rng, (40, 20, 40), 15))
    return img


def forest(rng) -> Image.Image:
    img = _gradient(rng, (150, 200, 240), (90, 160, 90))
    d = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(4, 9))):
        x, w, h = int(rng.integers(0, SIZE)), int(rng.integers(20, 50)), int(rng.integers(60, 150))
        base = SIZE - int(rng.integers(0, 30))
        d.polygon([(x - w, base), (x + w, base), (x, base - h)], fill=_jitter(rng, (30, 110, 40)))
        d.rectangle([x - 4, base, x + 4, min(SIZE, base + 15)], fill=_jitter(rng, (90, 60, 30), 15))
    return img


def ocean(rng) -> Image.Image:
    img = _gradient(rng, (170, 210, 250), (20, 60, 140))
    d = ImageDraw.Draw(img)
    horizon = int(rng.integers(70, 120))
    d.rectangle([0, horizon, SIZE, SIZE], fill=_jitter(rng, (20, 80, 160)))
    amp, period = rng.uniform(3, 8), rng.uniform(18, 35)
    for y0 in range(horizon + 8, SIZE, int(rng.integers(10, 18))):
        pts = [(x, y0 + amp * np.sin(x / period * 2 * np.pi + y0)) for x in range(0, SIZE + 8, 8)]
        d.line(pts, fill=_jitter(rng, (200, 230, 255), 20), width=2)
    return img


def city(rng) -> Image.Image:
    img = _gradient(rng, (200, 200, 210), (120, 120, 130))
    d = ImageDraw.Draw(img)
    x = -int(rng.integers(0, 20))
    while x < SIZE:
        w, h = int(rng.integers(20, 45)), int(rng.integers(60, 190))
        grey = int(rng.integers(50, 110))
        d.rectangle([x, SIZE - h, x + w, SIZE], fill=(grey, grey, grey + 10))
        for wy in range(SIZE - h + 8, SIZE - 8, 14):
            for wx in range(x + 5, x + w - 6, 10):
                if rng.random() < 0.6:
                    d.rectangle([wx, wy, wx + 4, wy + 6], fill=_jitter(rng, (250, 230, 120), 20))
        x += w + int(rng.integers(2, 10))
    return img


SCENES = {f.__name__: f for f in (city, forest, ocean, sunset)}


def render(name: str, rng) -> Image.Image:
    img = SCENES[name](rng)
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2)))
    noise = rng.normal(0, rng.uniform(3, 12), (SIZE, SIZE, 3))
    return Image.fromarray(np.clip(np.asarray(img, np.float32) + noise, 0, 255).astype(np.uint8))


def make_dataset(root: str | Path, per_class=(("train", 40), ("valid", 12), ("test", 12)), seed: int = 0) -> Path:
    """Write the dataset (skipped if it is already complete); returns ``root``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for split, n in per_class:
        for name in SCENES:
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                path = folder / f"{i:03d}.jpg"
                img = render(name, rng)  # always drawn, so later files do not depend on what exists
                if not path.exists():
                    tmp = path.with_name(f".{path.name}.tmp")
                    img.save(tmp, "JPEG", quality=90)
                    tmp.replace(path)
    return root
