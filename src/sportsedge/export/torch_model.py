"""A PyTorch classifier as an export source: a ``torch.export`` program (``.pt2``) or an
``nn.Module`` in memory, checked to be one image in and one score per class out, and wrapped so
that it takes raw 0..255 RGB pixels, NHWC, like every sportsedge model (the pixel transform and the
NCHW permute run inside the graph, where the converters fold them).

The torch extra (torch, litert-torch); torch is imported inside the functions that need it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sportsedge.core.errors import MissingDependencyError, ModelError, UsageError, first_line
from sportsedge.core.input_transform import PixelTransform
from sportsedge.export import torch_archive
from sportsedge.export.config import UserModel
from sportsedge.export.source import Source, fixed_size, image_layout, model_sha256
from sportsedge.export.sources.torch_program import KIND
from sportsedge.util import progress

BATCH = 32  # images per forward pass when the source is run on the parity and detection images


def torch_module() -> Any:
    """The torch module, or one line naming the extra."""
    try:
        import torch
    except ImportError as err:
        raise MissingDependencyError("torch", "torch", "needed to export PyTorch models") from err
    return torch


def pixel_wrapper(model, transform: PixelTransform, channels_first: bool, batch: int | None = None):
    """An nn.Module: raw NHWC pixels 0..255 -> (BGR) -> *scale + offset -> (NCHW) -> ``model``;
    ``batch``: the only batch size ``model`` takes (a program saved with a fixed batch), else None."""
    torch = torch_module()
    module: Any = torch.nn.Module  # torch ships no stubs mypy reads here: its classes are Any

    class Pixels(module):
        """The user's model behind sportsedge's input: what every converter and the parity check run."""

        def __init__(self):
            super().__init__()
            self.model = model
            # One value for all three channels becomes a scalar: a (1, 1, 1, 3) constant made
            # onnxruntime's int8 Mul and Add broadcast element by element (3.9 + 2.8 ms of 17 in
            # EfficientNet-Lite0's onnx-int8, against 0.1 + 0.3 for the Keras route's scalars).
            shape = () if len(set(transform.scale)) == len(set(transform.offset)) == 1 else (1, 1, 1, 3)
            scale, offset = (
                (transform.scale[:1], transform.offset[:1]) if not shape else (transform.scale, transform.offset)
            )
            self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32).view(shape))
            self.register_buffer("offset", torch.tensor(offset, dtype=torch.float32).view(shape))
            self.bgr, self.channels_first = transform.bgr, channels_first
            self.batch = batch

        def train(self, mode: bool = True):
            # An unflattened torch.export program refuses train()/eval(); the user's module was
            # put in eval mode before wrapping (resolve_module), and this wrapper has no state.
            self.training = mode
            return self

        def forward(self, x):
            x = x.float()
            if self.bgr:
                x = x.flip(-1)
            x = x * self.scale + self.offset
            # contiguous: a permuted tensor keeps NHWC strides, which convolutions pass on, and a
            # model's own x.view(1, -1) refuses them ("view size is not compatible")
            return self.model(x.permute(0, 3, 1, 2).contiguous() if self.channels_first else x)

    return Pixels()


@contextlib.contextmanager
def quiet_torch_log() -> Iterator[None]:
    """torch's loggers say nothing (they print a traceback for a damaged file before raising),
    unless SPORTSEDGE_DEBUG=1: the one-line error says what happened."""
    if os.environ.get("SPORTSEDGE_DEBUG"):
        yield
        return
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def load_program(path: Path) -> tuple[Any, tuple, bool, bool]:
    """(the program as a module, its input shape, channels first?, dynamic batch?) of a .pt2 file."""
    torch = torch_module()
    torch_archive.check(path)  # before torch reads it: nothing in the file may run
    try:
        with warnings.catch_warnings(), torch_archive.weights_only(), quiet_torch_log():
            warnings.simplefilter("ignore")  # torch's own deprecations inside its loader
            program = torch.export.load(str(path))
    except Exception as err:  # torch raises RuntimeError, KeyError, zipfile errors per damage
        raise ModelError(path, f"not a loadable torch.export program ({first_line(err)})") from err
    sig = program.graph_signature
    inputs = [n for n in program.graph.nodes if n.op == "placeholder" and n.name in sig.user_inputs]
    if len(inputs) != 1 or len(sig.user_outputs) != 1:
        raise ModelError(
            path,
            f"has {len(inputs)} inputs and {len(sig.user_outputs)} outputs: only one image in, one score vector out",
        )
    val = inputs[0].meta.get("val")
    shape = tuple(d if isinstance(d, int) else None for d in getattr(val, "shape", ()))
    channels_first, _ = image_layout(shape, path)
    if getattr(val, "dtype", torch.float32) != torch.float32:
        raise ModelError(path, f"input is {val.dtype}, not float32: save the float model (sportsedge quantizes it)")
    dynamic = shape[0] is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamic:  # LiteRT converts a fixed batch only, and ONNX tracing takes no symbolic sizes: batch 1
            program = _at_batch_one(torch, program, shape, path)
        # unflatten keeps the module hierarchy, so converted ops and ONNX nodes carry layer names.
        return torch.export.unflatten(program), (1, *shape[1:]), channels_first, dynamic


def _at_batch_one(torch, program, shape: tuple, path: Path):
    """The program re-exported for one image (its layers keep their names)."""
    sample = torch.zeros((1, *(d or 1 for d in shape[1:])), dtype=torch.float32)
    try:
        return torch.export.export(program.module(), (sample,))
    except Exception as err:  # a batch range that excludes 1, or a graph that cannot specialise
        raise ModelError(
            path, f"has a dynamic batch that cannot be fixed at one image ({first_line(err)}): save it with batch 1"
        ) from err


def module_shape(model, size: tuple[int, int] | None, channels_first: bool | None) -> tuple:
    """(shape, channels first?) of an in-memory module's input: NCHW unless told otherwise."""
    if size is None:
        raise UsageError("a PyTorch module needs input_size (its height and width)")
    first = True if channels_first is None else channels_first
    return ((None, 3, *size) if first else (None, *size, 3)), first


def run_torch(wrapped, pixels: np.ndarray) -> np.ndarray:
    """The wrapped module's raw outputs for uint8 pixels (N, H, W, 3), in batches (of its fixed
    batch, for a program saved with one)."""
    torch = torch_module()
    outs = []
    step = wrapped.batch or BATCH
    with torch.no_grad(), warnings.catch_warnings():  # torch's deprecations inside an unflattened program
        warnings.simplefilter("ignore")
        for i in range(0, len(pixels), step):
            outs.append(wrapped(torch.from_numpy(np.ascontiguousarray(pixels[i : i + step], np.float32))).numpy())
    return np.concatenate(outs).astype(np.float32, copy=False)


def classes_of(wrapped, size: tuple[int, int], where: Path) -> int:
    """Scores per image of the wrapped model, tried on one black image."""
    try:
        out = run_torch(wrapped, np.zeros((1, *size, 3), np.uint8))
    except Exception as err:  # whatever the user's forward raises
        raise ModelError(where, f"fails on one {size[0]}x{size[1]} image ({first_line(err)})") from err
    if out.ndim != 2:
        raise ModelError(where, f"output is not one score per class: shape {tuple(out.shape)}")
    return int(out.shape[1])


def module_names(model) -> list[str]:
    """Every submodule's dotted name ("features.3", "classifier.1"): what layers are called here."""
    return [name for name, _ in model.named_modules() if name and not name.startswith("_")]  # not _guards_fn


def module_sha256(model) -> str:
    """Of an in-memory module: its structure and every tensor of its state dict."""
    h = hashlib.sha256(repr(model).encode())
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def resolve_program(path: Path, kind: str, opts: UserModel, calibration: str | None):
    """(Source, Loaded) for a .pt2 MODEL argument (the PyTorch family's resolve)."""
    return resolve_torch(path, opts, calibration)


def resolve_torch(model, opts: UserModel, calibration: str | None, say=None):
    """(Source, Loaded) for a .pt2 path or an nn.Module, checked against the options."""
    from sportsedge.export.user_model import Loaded, check_user_options, output_kind

    labels, calibration_dir, parity_dir = check_user_options(model, opts, calibration)
    if isinstance(model, (str, Path)):
        path = Path(model)
        inner, native, channels_first, dynamic = load_program(path)
        sha = model_sha256(path)
        if dynamic:
            note = "dynamic batch: converted for one image at a time (LiteRT takes a fixed batch); ONNX files take any"
            (say or progress.say)(f"{path}: {note}")
    else:
        inner = model.eval()
        name = opts.name or type(model).__name__
        path = Path(name)
        native, channels_first = module_shape(model, opts.input_size, None)
        sha = module_sha256(model)
    size = fixed_size(native[2:] if channels_first else native[1:3], opts.input_size, path)
    assert opts.transform is not None  # for the type checker: check_user_options refused None
    wrapped = pixel_wrapper(inner, opts.transform, channels_first, native[0])
    classes = classes_of(wrapped, size, path)
    if classes != len(labels):
        raise UsageError(
            f"{path}: the model outputs {classes} scores but --labels {opts.labels} names {len(labels)} classes"
        )
    loaded = Loaded(wrapped, names=tuple(module_names(inner)))
    source = Source(
        path=path,
        kind=KIND,
        name=opts.name or path.stem,
        labels=labels,
        input_size=size,
        transform=opts.transform,
        output=output_kind(loaded, KIND, opts, parity_dir, size),
        calibration_dir=calibration_dir,
        parity_dir=parity_dir,
        sha256=sha,
    )
    return source, loaded
