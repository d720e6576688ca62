"""The one preprocessing contract, shared by training and the runtime, to the pixel.

decode with Pillow -> apply EXIF orientation -> convert any mode to 8-bit RGB (transparency
composited over white, 16-bit scaled to 8-bit) -> stretch to the model's input size with
Pillow's bilinear filter -> raw 0..255 pixels. Models carry their own scaling in the graph.

The training pipeline calls :func:`load_pixels` itself (through ``tf.numpy_function``) rather
than re-implementing it with TensorFlow ops: TF's default JPEG decoder and its bilinear resize
both differ from Pillow's by visible amounts, and a model must score an image the same in Keras
and on the device.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sportsedge.core.errors import ImageTooLarge, InputError, first_line

# Bump when any step below changes the pixels a model sees; stored in every exported artifact.
# v2 = v1 + JPEG draft decoding for images at least DRAFT_FROM times the model input: identical
# pixels for every image smaller than that (all training images), so v1 models run unchanged.
PREPROCESSING_VERSION = "pil-rgb-bilinear-v2"
COMPATIBLE_VERSIONS = frozenset({"pil-rgb-bilinear-v1", PREPROCESSING_VERSION})  # no warning at load

# A JPEG at least DRAFT_FROM times the model input on both sides is decoded at a reduced DCT scale
# (libjpeg's 1/2, 1/4, 1/8), to no less than DRAFT_TO times the input, then resized as always.
# Measured in docs/large-images.md: a 4056x3040 JPEG end to end from ~124 to ~18 ms; top-1 changes
# on 3% of upscaled valid/ images, the same share as re-encoding them at JPEG quality 95.
DRAFT_FROM, DRAFT_TO = 2, 1

# Refuse images larger than this many pixels before decoding them (Pillow's own warning
# threshold: about 9500x9500). Guards against decompression bombs on small devices.
MAX_PIXELS = 89_478_485

# Memory one image may take while it is decoded and converted, estimated from its header (after
# any JPEG draft reduction) before a byte of pixels is decoded: width x height x PEAK_BYTES[mode],
# plus one more copy when EXIF asks for a rotation. Bounds serve's RSS per request and per worker
# (docs/serve.md, "Limits and guarantees"); predict and bench share it.
DECODE_BUDGET_MB = 400
_budget_mb = DECODE_BUDGET_MB  # the one in force (a decoder process sets its cap's, see budget())
# Pillow mode as opened -> bytes per pixel at the peak of decode + conversion to what resize takes:
# the decoded image (Pillow stores 3 and 2 bands in 4 bytes) plus the converted copy; grayscale
# stays one band until after the resize (identical pixels: the filter is per band), and 16-bit
# and alpha images are converted in strips of STRIP_PIXELS, never as whole-image temporaries.
PEAK_BYTES = {
    "1": 2,
    "L": 1,
    "P": 5,  # 8 with transparency, as RGBA
    "RGB": 4,
    "RGBA": 8,
    "RGBa": 8,
    "LA": 8,
    "La": 8,
    "PA": 8,
    "I;16": 3,
    "I;16B": 3,
    "I;16L": 3,
    "I;16N": 3,
    "I": 5,
    "F": 5,
    "CMYK": 8,
    "YCbCr": 8,
    "LAB": 8,
    "HSV": 8,
}
UNKNOWN_MODE_BYTES = 8
STRIP_PIXELS = 1 << 20

# Files that `predict` and dataset scans treat as images, by extension.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

ImageSource = str | os.PathLike[str] | Image.Image | np.ndarray | bytes  # bytes: an encoded image (an HTTP body)


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """An image file by extension (names starting with '.' never are)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def open_image(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> Image.Image:
    """Decode an image file to an 8-bit RGB PIL image, or raise InputError naming the file.

    ``size`` (height, width): the size wanted; the image comes back resized to it (a JPEG much
    larger than that is decoded at a reduced scale, see DRAFT_FROM). Decoded in a contained
    process (runtime/decoder.py): past its memory cap ImageTooLarge, past its deadline DecodeTimeout.
    """
    return Image.fromarray(_contained(Path(path), os.fspath(path), size), "RGB")


def image_from_bytes(data: bytes, size: tuple[int, int] | None = None, name: str = "<image bytes>") -> Image.Image:
    """open_image for an encoded image held in memory (an HTTP body): the same decoder, limits and
    errors, naming ``name``."""
    return Image.fromarray(_contained(bytes(data), name, size), "RGB")


def _contained(source: Path | bytes, name: str, size: tuple[int, int] | None) -> np.ndarray:
    from sportsedge.runtime.decoder import shared_pool

    return shared_pool().decode(source, size, name)


def open_image_here(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> Image.Image:
    """open_image in this process, with only the header checks between the file and the decoders:
    for the decoder process itself, and for training on a dataset of one's own (where a process per
    image would cost more than the decode)."""
    path = Path(path)
    try:
        nbytes = path.stat().st_size
    except FileNotFoundError as err:
        raise InputError(path, "no such file") from err
    except OSError as err:
        raise InputError(path, f"cannot read ({err.strerror or err})") from err
    if path.is_dir():
        raise InputError(path, "is a folder, not an image")
    if not path.is_file():
        raise InputError(path, "not a regular file")
    if nbytes == 0:
        raise InputError(path, "empty file")
    return _decode(path, path, size)


def image_from_bytes_here(data: bytes, size: tuple[int, int] | None = None, name: str = "<image bytes>") -> Image.Image:
    """open_image_here for bytes in memory."""
    if not data:
        raise InputError(name, "empty image")
    return _decode(io.BytesIO(data), name, size)


@contextlib.contextmanager
def budget(mb: int) -> Iterator[None]:
    """The header check's budget (DECODE_BUDGET_MB) set to ``mb`` inside: a decoder process checks
    against the cap the kernel holds it to."""
    global _budget_mb
    before, _budget_mb = _budget_mb, mb
    try:
        yield
    finally:
        _budget_mb = before


def _decode(source: Any, name: Any, size: tuple[int, int] | None) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # We apply our own pixel limit below, before decoding.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(source)
        with img:
            _check_size(name, img.size)
            if size is not None:
                _draft(img, size)
            rotated = _check_budget(name, img)
            img.load()
            if size is None:
                rgb = _to_rgb_or_gray(img, name, rotated)  # to_rgb, with the EXIF read once
                return rgb if rgb.mode == "RGB" else rgb.convert("RGB")
            small = resize(_to_rgb_or_gray(img, name, rotated), size)  # gray resized as one band: a third of the memory
            return small if small.mode == "RGB" else small.convert("RGB")
    except InputError:
        raise
    except UnidentifiedImageError as err:
        raise InputError(name, "not an image (unrecognised format)") from err
    except Image.DecompressionBombError as err:
        raise ImageTooLarge(name, f"image too large (over {MAX_PIXELS:,} pixels)") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise InputError(name, f"corrupt or truncated image ({first_line(err)})") from err


def _draft(img: Image.Image, size: tuple[int, int]) -> None:
    """Ask the JPEG decoder for a reduced scale when the image is DRAFT_FROM times the target or
    more (on both sides, whatever the EXIF orientation): the DCT-domain downscale skips most of
    the decoding work, and what is left is at least DRAFT_TO times the target for resize()."""
    if img.format == "JPEG" and min(img.size) >= DRAFT_FROM * max(size):
        side = DRAFT_TO * max(size)
        img.draft(img.mode, (side, side))


def _check_budget(name: Any, img: Image.Image) -> bool | None:
    """ImageTooLarge when decoding ``img`` would take more than DECODE_BUDGET_MB; else whether its
    EXIF asks for a rotation (for _upright), None when not looked at here or unreadable."""
    w, h = img.size
    per_pixel = PEAK_BYTES.get(img.mode, UNKNOWN_MODE_BYTES)
    rotated = None
    # The rotation makes one more copy. Only where EXIF is in the header: a PNG's getexif() would
    # decode the whole image to look for a trailing eXIf chunk.
    if img.format == "JPEG" or "exif" in img.info:
        with contextlib.suppress(Exception):  # unreadable EXIF: _upright skips it too
            rotated = _rotated(img)
            per_pixel += 4 if rotated else 0
    need = w * h * per_pixel
    if need > _budget_mb * 2**20:
        raise ImageTooLarge(
            name,
            f"image too large to decode: {w}x{h} {img.mode} needs about {need / 2**20:,.0f} MB, "
            f"over the budget of {_budget_mb} MB per image (send a smaller image)",
        )
    return rotated


def _check_size(path: Any, size: tuple[int, int]) -> None:
    w, h = size
    if w * h > MAX_PIXELS:
        raise ImageTooLarge(path, f"image too large ({w}x{h} pixels, limit {MAX_PIXELS:,})")
    if w < 1 or h < 1:
        raise InputError(path, f"image has no pixels ({w}x{h})")


def to_rgb(img: Image.Image, path: Any = None) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB, applying EXIF orientation first."""
    img = _to_rgb_or_gray(img, path)
    return img if img.mode == "RGB" else img.convert("RGB")


def _to_rgb_or_gray(img: Image.Image, path: Any = None, rotated: bool | None = None) -> Image.Image:
    """to_rgb, but a grayscale image stays one 8-bit band ("L"): a third of the memory, and
    resize-then-RGB gives the very pixels RGB-then-resize does. ``rotated``: see _upright."""
    img = _upright(img, rotated)
    mode = img.mode
    if mode in ("RGB", "L"):
        return img
    if mode.startswith("I") or mode == "F":
        return _high_depth_to_gray(img)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info):
        return _over_white(img)
    if mode == "1":
        return img.convert("L")
    try:
        return img.convert("RGB")
    except (ValueError, OSError) as err:
        raise InputError(path, f"unsupported image mode {mode!r} ({first_line(err)})") from err


def _upright(img: Image.Image, rotated: bool | None = None) -> Image.Image:
    """The image turned as its EXIF orientation says; the image itself when it says nothing
    (exif_transpose would return a full copy). ``rotated``: _rotated(img) when the caller has
    read it already (_check_budget), None to read it here."""
    with contextlib.suppress(Exception):  # a broken EXIF block should not make a readable image unusable
        if _rotated(img) if rotated is None else rotated:
            return ImageOps.exif_transpose(img)
    return img


def _rotated(img: Image.Image) -> bool:
    return bool(img.getexif().get(0x0112, 1) not in (0, 1))


def _strips(img: Image.Image) -> Iterator[tuple[int, int]]:
    """(top, bottom) row ranges of about STRIP_PIXELS pixels each."""
    rows = max(1, STRIP_PIXELS // max(1, img.width))
    for top in range(0, img.height, rows):
        yield top, min(top + rows, img.height)


def _over_white(img: Image.Image) -> Image.Image:
    """Transparency composited over white, strip by strip (one RGB image, never a full RGBA copy
    beside the white background and the composite)."""
    out = Image.new("RGB", img.size)
    for top, bottom in _strips(img):
        rgba = img.crop((0, top, img.width, bottom)).convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        out.paste(Image.alpha_composite(background, rgba).convert("RGB"), (0, top))
    return out


def _high_depth_to_gray(img: Image.Image) -> Image.Image:
    # 16-bit (I;16*, and "I" as older Pillow opens 16-bit PNGs) maps 0..65535 onto 0..255;
    # Pillow's own convert() would clip everything above 255 to white. Float images are
    # taken as already 0..255. Strip by strip: the int64 arithmetic on a whole 9400x9400 image
    # took 1.9 GB.
    out = np.empty((img.height, img.width), dtype=np.uint8)
    for top, bottom in _strips(img):
        arr = np.asarray(img.crop((0, top, img.width, bottom)))
        if img.mode == "F":
            out[top:bottom] = np.clip(np.round(arr), 0, 255).astype(np.uint8)
        else:
            out[top:bottom] = ((np.clip(arr.astype(np.int64), 0, 65535) * 255 + 32767) // 65535).astype(np.uint8)
    return Image.fromarray(out, "L")


def resize(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Stretch to ``size`` = (height, width) with Pillow's bilinear filter (no-op if equal)."""
    h, w = size
    if img.size == (w, h):
        return img
    return img.resize((w, h), Image.Resampling.BILINEAR)


def load_pixels(source: ImageSource, size: tuple[int, int] | None = None) -> np.ndarray:
    """Apply the contract to a path, encoded bytes, PIL image or HxWx3 uint8 array: HxWx3 uint8
    RGB pixels. Paths and bytes are decoded in a contained process (runtime/decoder.py).

    ``size`` is (height, width); None keeps the image's own size.
    """
    if isinstance(source, (str, os.PathLike)):
        return _contained(Path(source), os.fspath(source), size)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not source:
            raise InputError("<image bytes>", "empty image")
        return _contained(bytes(source), "<image bytes>", size)
    return load_pixels_here(source, size)


def load_pixels_here(source: ImageSource, size: tuple[int, int] | None = None) -> np.ndarray:
    """load_pixels in this process (open_image_here's trust: a dataset of one's own, in training)."""
    if isinstance(source, np.ndarray):
        arr = _check_array(source)
        if size is None or arr.shape[:2] == tuple(size):
            return arr
        img = Image.fromarray(arr, "RGB")
    elif isinstance(source, Image.Image):
        _check_size("<PIL image>", source.size)
        img = to_rgb(source)
    elif isinstance(source, (str, os.PathLike)):
        img = open_image_here(source, size)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        img = image_from_bytes_here(bytes(source), size)
    else:
        raise InputError(None, f"cannot read an image from a {type(source).__name__}")
    if size is not None:
        img = resize(img, size)
    return np.asarray(img, dtype=np.uint8)


def _check_array(arr: np.ndarray) -> np.ndarray:
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(None, f"array input must be HxWx3 RGB, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise InputError(None, f"array input must be uint8 pixels 0..255, got {arr.dtype}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(None, f"array input has no pixels (shape {arr.shape})")
    return arr
