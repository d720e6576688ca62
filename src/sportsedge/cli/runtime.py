"""`sportsedge` subcommand parsers that need no TensorFlow: predict, verify, bench, data.

Defaults and choices come from the settings dataclasses and name tables; nothing heavy is imported.
"""

from __future__ import annotations

import argparse

from sportsedge.bench.config import TIMING, BenchConfig
from sportsedge.cli.argtypes import non_negative_float, non_negative_int, positive_float, positive_int
from sportsedge.core.builtin import names_help
from sportsedge.core.decoding import MAX_WORKERS
from sportsedge.core.options import add_options
from sportsedge.core.video_options import VideoOptions

VIDEO_ONLY = ("every", "fps", "smooth", "frames")  # options that shape video files and cameras


def usage_error(p: argparse.ArgumentParser, message: str):
    """argparse's own usage line and exit 2, for a rule that spans several options."""
    p.error(message)


def check_predict(p: argparse.ArgumentParser, args) -> None:
    """Combinations argparse cannot express: each one is an option that would be ignored."""
    if args.camera is not None:
        if args.paths:
            usage_error(p, f"--camera classifies the camera only; drop the PATHs ({' '.join(args.paths)}) or --camera")
        for name in ("every", "fps", "frames"):
            if getattr(args, name) not in (None, False):
                usage_error(p, f"--{name} applies to video files, not to --camera (it always takes the newest frame)")
    elif args.seconds is not None:
        usage_error(p, "--seconds applies to --camera only")


def add_predict(sub) -> None:
    v = VideoOptions
    p = sub.add_parser(
        "predict",
        help="classify images, video files or a camera with an exported .tflite or .onnx model (no TensorFlow)",
        description="Classify images, video files (by extension: .mp4 .mov .mkv .avi .webm ...; the video "
        "extra) or a live camera with an exported .tflite or .onnx model. Folders are searched recursively. "
        "A video prints segments (start-end, label, smoothed score). The model file is checked first (its "
        "digest and golden check; --no-verify skips the golden check). Exit status: 0 all inputs classified, "
        "1 some failed, 2 bad model or usage.",
    )
    p.add_argument(
        "model",
        help="a .tflite or .onnx file exported by sportsedge (or any 1-input image classifier)" + names_help(),
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="image or video files, or folders")
    p.add_argument("--top-k", type=positive_int, default=5, help="predictions to show per image (default 5)")
    p.add_argument("--threads", type=positive_int, default=None, help="inference threads (default: the engine's)")
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="interpreters classifying images at once, each at --threads threads (default: the cores divided "
        f"by --threads, at most {MAX_WORKERS}; 1 without --threads); images are decoded ahead by separate processes",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per image, video segment or camera run")
    verify_option(p)
    g = p.add_argument_group("video files and cameras (needs the video extra)")
    every = g.add_mutually_exclusive_group()
    every.add_argument(
        "--every", type=positive_int, default=None, help=f"classify every Nth frame of a video file (default {v.every})"
    )
    every.add_argument(
        "--fps", type=positive_float, default=None, help="classify at most F frames per second of a video file"
    )
    g.add_argument(
        "--smooth",
        type=non_negative_float,
        default=None,
        metavar="SECONDS",
        help="label each classified frame by the mean scores of SECONDS of video: centred on the frame for a "
        "file (segments start where the scenes change), the last SECONDS for a camera; a window in time, "
        f"whatever --fps or --every pick; 0 = each frame on its own (default {v.smooth:g})",
    )
    g.add_argument(
        "--frames", action="store_true", help="also print every classified frame (t_s, its own label, the smoothed one)"
    )
    g.add_argument(
        "--camera",
        metavar="DEVICE",
        default=None,
        help="classify a live V4L2 camera (0 = /dev/video0) until Ctrl-C, then print a summary; a video "
        "file here plays at its own pace, as a camera stand-in",
    )
    g.add_argument("--seconds", type=positive_float, default=None, help="with --camera: stop after this many seconds")
    p.set_defaults(handler="sportsedge.runtime.predict_cli:run", check=lambda args: check_predict(p, args))


def verify_option(p) -> None:
    p.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="skip the golden check at load (two inferences); the file's digest is checked all the same",
    )


def add_verify(sub) -> None:
    p = sub.add_parser(
        "verify",
        help="check that this machine runs exported models correctly (golden check; no TensorFlow)",
        description="Recompute the scores of two fixed inputs that every export stores in its metadata, "
        "and compare them with this machine's engine: catches broken kernels, corrupted copies and "
        "incompatible libraries on a device. Exit status: 0 all OK, 1 a check failed or a model has none.",
    )
    p.add_argument(
        "models", nargs="+", metavar="MODEL", help=".tflite or .onnx files or folders of them" + names_help()
    )
    p.add_argument("--threads", type=positive_int, default=None, help="inference threads (default: the engine's)")
    p.set_defaults(handler="sportsedge.runtime.verify_cli:run")


def bench_options(p) -> None:
    add_options(p, BenchConfig, TIMING)
    p.add_argument(
        "--wide", action="store_true", help="print every column of the table (the files always have them all)"
    )


def add_bench(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark latency, size, memory and accuracy of exported models (TF-free)",
        description="Benchmark .tflite/.onnx files (or export folders) on a split folder "
        "(one folder per class): writes results.json, results.csv, results.md and pareto.png.",
    )
    p.add_argument("models", nargs="*", metavar="MODEL_FILE|EXPORT_DIR", help="models to time" + names_help())
    verify_option(p)
    p.add_argument("--data", help="split folder with one folder per class, normally test/")
    p.add_argument("--out", help="folder for the results (with --compare: for compare.md and compare.csv)")
    bench_options(p)
    add_options(p, BenchConfig, ("cross_check",))
    p.add_argument(
        "--compare",
        nargs="+",
        metavar="RESULTS_JSON",
        help="compare earlier results (rows matched by model, format, threads) instead of benchmarking",
    )
    p.add_argument(
        "--keras",
        action="append",
        metavar="RUN_DIR",
        help="add the run's Keras model as an unoptimized baseline row (needs the train extra; repeatable)",
    )
    p.set_defaults(handler="sportsedge.bench.commands:bench_cmd")


def add_data(sub) -> None:
    p = sub.add_parser("data", help="dataset tools: check a dataset folder, download the 100 Sports dataset")
    dsub = p.add_subparsers(title="data commands", metavar="ACTION")
    c = dsub.add_parser(
        "check",
        help="validate a dataset folder (splits, classes, unreadable files, duplicates)",
        description="Validate a dataset in the Kaggle layout. Exit status 1 on errors.",
    )
    c.add_argument("dir", help="folder holding train/, valid/ and optionally test/")
    c.add_argument(
        "--show-duplicates", type=non_negative_int, default=5, help="cross-split duplicates to list (default 5)"
    )
    c.set_defaults(handler="sportsedge.data.datasets:check_cmd")
    d = dsub.add_parser("download", help="fetch gpiosenka/sports-classification with kagglehub (the data extra)")
    d.add_argument("--out", default="data/sports100", help="folder to create (default data/sports100)")
    d.set_defaults(handler="sportsedge.data.datasets:download_cmd")
