"""A corpus of hostile images, generated here (nothing downloaded): small files whose decoding
costs far more than their size says, odd modes, damaged and deceptive files. The tests, the arm
suite and experiments/hostile_corpus.py (the table in docs/serve.md) use it; so can a user who
wants to try a deployment the same way.

    python -m sportsedge.data.hostile OUT_DIR [--side 9400]

``side`` sizes the expensive ones: 9400 is the issue's (a 3.4 KB WebP that took 1.4 GB); the
tests use a few hundred pixels against a decoder capped at a few tens of MB, the same mechanism.
"""

from __future__ import annotations

import argparse
import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def webp_lossless(side: int) -> bytes:
    """A flat lossless WebP: a few KB that libwebp decodes into about 15 bytes per pixel."""
    return _save(Image.new("RGB", (side, side), (40, 90, 160)), "WEBP", lossless=True, quality=0, method=0)


def jpeg_progressive_444(side: int) -> bytes:
    """A progressive 4:4:4 JPEG: libjpeg keeps every coefficient of the full size, whatever draft asks."""
    return _save(Image.new("RGB", (side, side), (200, 30, 30)), "JPEG", progressive=True, subsampling=0, quality=95)


def jpeg_repeated_scans(side: int, repeats: int = 4000) -> bytes:
    """A progressive JPEG whose first scan header is repeated ``repeats`` times before its scan:
    each empty scan costs libjpeg a pass over the whole image, so a file of a few tens of KB
    takes seconds of CPU (about 2.3 ms a header at 4000x4000 here)."""
    data = jpeg_progressive_444(min(side, 4000))  # sized to decode within a decoder's memory: a CPU attack
    sos = data.index(b"\xff\xda")
    header = data[sos : sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")]
    return data[:sos] + header * repeats + data[sos:]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_large_iccp(side: int, mb: int = 19) -> bytes:
    """A small PNG with an ``mb`` MB iCCP chunk of incompressible bytes (the profile Pillow keeps)."""
    plain = _save(Image.new("RGB", (64, 64), (10, 200, 10)), "PNG")
    profile = b"icc\x00\x00" + zlib.compress(bytes(range(256)) * (mb * 4096), 0)
    return plain[:33] + _png_chunk(b"iCCP", profile) + plain[33:]


def png_16bit(side: int) -> bytes:
    """A 16-bit RGB PNG (the header budget's case: 3 bytes a pixel at the peak)."""
    rows = zlib.compress((b"\x00" + b"\x12\x34" * 3 * side) * side, 9)
    head = struct.pack(">IIBBBBB", side, side, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", head) + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b"")


def png_pixel_bomb(side: int) -> bytes:
    """A PNG header that declares 100,000 x 100,000 pixels (the pixel limit's case)."""
    head = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", head) + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))


def gif_many_frames(side: int, frames: int = 500) -> bytes:
    """An animated GIF of many frames: only the first is ever decoded."""
    imgs = [Image.new("P", (64, 64), i % 256) for i in range(frames)]
    return _save(imgs[0], "GIF", save_all=True, append_images=imgs[1:])


def tiff_modes(side: int) -> bytes:
    """A CMYK TIFF (converted to RGB like any mode)."""
    return _save(Image.new("CMYK", (64, 64), (0, 100, 200, 10)), "TIFF")


def truncated_jpeg(side: int) -> bytes:
    return _save(Image.new("RGB", (256, 256), (1, 2, 3)), "JPEG")[:400]


def not_an_image(side: int) -> bytes:
    return b"GIF89a" + bytes(range(256)) * 4


# name -> (maker, the content type a client would send)
CORPUS: dict[str, tuple[Callable[[int], bytes], str]] = {
    "webp-lossless": (webp_lossless, "image/webp"),
    "jpeg-progressive-444": (jpeg_progressive_444, "image/jpeg"),
    "jpeg-repeated-scans": (jpeg_repeated_scans, "image/jpeg"),
    "png-large-iccp": (png_large_iccp, "image/png"),
    "png-16bit": (png_16bit, "image/png"),
    "png-pixel-bomb": (png_pixel_bomb, "image/png"),
    "gif-many-frames": (gif_many_frames, "image/gif"),
    "tiff-cmyk": (tiff_modes, "image/tiff"),
    "jpeg-truncated": (truncated_jpeg, "image/jpeg"),
    "not-an-image": (not_an_image, "image/gif"),
}
SUFFIX = {"image/webp": ".webp", "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/tiff": ".tif"}


def write_corpus(out: Path, side: int = 9400, names: list[str] | None = None) -> dict[str, Path]:
    """Each case (or those named) as a file in ``out``; name -> path."""
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in names or list(CORPUS):
        make, kind = CORPUS[name]
        files[name] = out / f"{name}{SUFFIX[kind]}"
        files[name].write_bytes(make(side))
    return files


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--side", type=int, default=9400)
    args = parser.parse_args()
    for name, path in write_corpus(args.out, args.side).items():
        print(f"{path.stat().st_size:>12,}  {name}: {path}")
