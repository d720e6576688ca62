"""Handler of `sportsedge predict`: images, video files and a live camera."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sportsedge.core.errors import InputError, MissingDependencyError, UsageError
from sportsedge.core.video_options import VideoOptions
from sportsedge.runtime.classifier import Classifier
from sportsedge.runtime.folder import classify_all, default_workers, interpreters
from sportsedge.runtime.imagesets import image_files
from sportsedge.runtime.preprocess import is_image_file
from sportsedge.runtime.video import classify_video, is_video_file, segment_lines

if TYPE_CHECKING:
    from sportsedge.runtime.camera import CameraStats
    from sportsedge.runtime.video import FramePrediction


def score_text(score: float) -> str:
    """Four decimals, or two significant digits below 0.0001: a small probability is not 0."""
    return f"{score:.4f}" if score >= 1e-4 or score == 0 else f"{score:.1e}"


def is_media_file(path: str | os.PathLike[str]) -> bool:
    """An image or a video file, by extension."""
    return is_image_file(path) or is_video_file(path)


def expand_paths(paths: list[str]) -> Iterator[Path | InputError]:
    """Files as given, folders searched recursively for images and videos; problems yielded as errors."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = image_files(path, accept=is_media_file).images
            if not found:
                yield InputError(path, "no image or video files in this folder")
            yield from found
        else:
            yield path  # missing or odd files are reported by the loader, naming them


def _error(err: BaseException, args: argparse.Namespace | None = None, path: str | Path | None = None) -> int:
    """One error line on stderr; with --json also the input's record on stdout, so a reader of
    stdout sees every input, in order, failures included."""
    print(f"error: {err}", file=sys.stderr, flush=True)
    if args is not None and args.json:
        where = path if path is not None else getattr(err, "path", None)
        reason = err.reason if isinstance(err, InputError) and str(where) == str(err.path) else str(err)
        print(json.dumps({"path": None if where is None else str(where), "error": reason}), flush=True)
    return 1


def _image(clf: Classifier, path: Path, scores: np.ndarray | InputError, args: argparse.Namespace) -> int:
    if isinstance(scores, InputError):
        return _error(scores, args, path)
    preds = clf.rank(scores, args.top_k)
    if args.json:
        record: dict[str, Any] = {"path": str(path), "predictions": [p._asdict() for p in preds]}
        if clf.metadata.extra.get("float_layers"):  # a mixed int8 file: which layers answered in float
            record["float_layers"] = clf.metadata.extra["float_layers"]
        print(json.dumps(record), flush=True)
    else:
        width = max(len(p.label) for p in preds)
        lines = [f"  {i}. {p.label:<{width}}  {score_text(p.score)}" for i, p in enumerate(preds, 1)]
        print("\n".join([str(path), *lines]), flush=True)
    return 0


def _video(clf: Classifier, path: Path, args: argparse.Namespace, options: VideoOptions) -> int:
    def frame_line(f: FramePrediction) -> None:
        row = {"path": str(path), "t_s": round(f.t_s, 3), "label": f.own_label, "score": f.own_score}
        print(json.dumps({**row, "smoothed_label": f.label, "smoothed_score": f.score}), flush=True)

    try:
        result = classify_video(clf, path, options, on_frame=frame_line if args.json and args.frames else None)
    except MissingDependencyError as err:  # the runtime-only install: images still run
        return _error(err, args, path)
    if args.json:
        for s in result.segments:
            row = {
                "path": str(path),
                "start_s": round(s.start_s, 3),
                "end_s": round(s.end_s, 3),
                "label": s.label,
                "score": s.score,
            }
            print(json.dumps(row), flush=True)
    else:
        lines = [frame_text(f) for f in result.frames] if args.frames else []
        lines += segment_lines(result.segments)
        print("\n".join([f"{path}  ({len(result.frames)} frames classified)", *lines]), flush=True)
    return _error(result.error, args, path) if result.error else 0


def frame_text(f: FramePrediction) -> str:
    """A classified frame: its own label, then the smoothed one where they differ."""
    text = f"  {f.t_s:7.2f}s  {f.own_label}  {f.own_score:.4f}"
    return text if f.own_label == f.label else f"{text}  (smoothed: {f.label} {f.score:.4f})"


def _camera(clf: Classifier, args: argparse.Namespace) -> int:
    from sportsedge.runtime.camera import playback_source, run_camera, v4l2_source

    live = sys.stderr.isatty()
    last = [0.0]

    def show(label: str, score: float, stats: CameraStats) -> None:
        fps = stats.classified / stats.seconds if stats.seconds else 0.0
        line = f"{label}  {score:.2f}  {fps:5.1f} frames/s  {stats.latency.last:6.1f} ms"
        if live:
            print(f"\r{line:<70}", end="", file=sys.stderr, flush=True)
        elif stats.seconds - last[0] >= 1.0:  # not a terminal: a line a second, not a flood
            last[0] = stats.seconds
            print(line, file=sys.stderr, flush=True)

    # A video file given as the camera plays at its own pace: a camera stand-in for trying a set-up.
    source = (playback_source if Path(args.camera).is_file() else v4l2_source)(args.camera, size=clf.input_size)
    smooth = VideoOptions.smooth if args.smooth is None else args.smooth
    stats = run_camera(clf, source, smooth=smooth, seconds=args.seconds, on_frame=show)
    if live:
        print(file=sys.stderr)
    print(json.dumps({"camera": args.camera, **stats.to_dict()}) if args.json else stats.summary(), flush=True)
    return 0


def video_options(args: argparse.Namespace) -> VideoOptions:
    """The options given, each None one at VideoOptions' default."""
    given = {k: getattr(args, k) for k in ("every", "fps", "smooth") if getattr(args, k) is not None}
    return VideoOptions(**given)


def run(args: argparse.Namespace) -> int:
    """`sportsedge predict`: exit 0 all inputs classified, 1 some failed, 2 bad model or usage."""
    if args.camera is None and not args.paths:
        raise UsageError("give image or video PATHs, or --camera DEVICE")
    items = [] if args.camera is not None else list(expand_paths(args.paths))
    video_only = [f"--{k}" for k in ("every", "fps", "smooth", "frames") if getattr(args, k) not in (None, False)]
    if video_only and items and not any(isinstance(i, Path) and is_video_file(i) for i in items):
        raise UsageError(f"{', '.join(video_only)} applies to video files and cameras; the inputs are images")
    clf = Classifier.load(args.model, threads=args.threads, verify=args.verify)
    if args.camera is not None:
        return _camera(clf, args)
    options = video_options(args)
    images = [i for i in items if isinstance(i, Path) and not is_video_file(i)]
    # Decoder processes work ahead of the loop and --workers interpreters infer at once (runtime/folder.py).
    workers = args.workers or default_workers(args.threads)
    decoded = classify_all(interpreters(clf, workers, args.threads), images) if images else iter(())
    failed = 0
    for item in items:
        if isinstance(item, InputError):
            failed += _error(item, args)
        elif is_video_file(item):
            failed += _video(clf, item, args, options)
        else:
            failed += _image(clf, item, next(decoded), args)
    return 1 if failed else 0
