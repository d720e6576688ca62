"""`sportsedge` command line: parses arguments and calls library functions in-process.

Only argparse and the light settings modules (dataclasses and name tables, no numpy) are imported
here; each subcommand's handler is named as "module:function" and imported when that subcommand
runs, so `sportsedge --help` stays instant and `predict` never pulls in TensorFlow. Defaults and
choices are read from the settings dataclasses and tables, never typed here.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from . import __version__
from .benchmarks.config import BenchConfig
from .export.config import REMEDIES, AccuracyConfig, ExportConfig, QatConfig
from .formats import FORMATS
from .pipeline.config import PipelineConfig
from .train.config import STRATEGIES, TrainConfig
from .train.models import MODELS
from .video_options import VideoOptions

# Exit statuses (README, "Commands"): 130 is Ctrl-C.
EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_predict(sub) -> None:
    v = VideoOptions
    p = sub.add_parser(
        "predict",
        help="classify images, video files or a camera with an exported .tflite or .onnx model (no TensorFlow)",
        description="Classify images, video files (by extension: .mp4 .mov .mkv .avi .webm ...; the video "
        "extra) or a live camera with an exported .tflite or .onnx model. Folders are searched recursively. "
        "A video prints segments (start-end, label, smoothed score). Exit status: 0 all inputs classified, "
        "1 some failed, 2 bad model or usage.",
    )
    p.add_argument("model", help="a .tflite or .onnx file exported by sportsedge (or any 1-input image classifier)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="image or video files, or folders")
    p.add_argument("--top-k", type=_positive_int, default=5, help="predictions to show per image (default 5)")
    p.add_argument("--threads", type=_positive_int, default=None, help="inference threads (default: the engine's)")
    p.add_argument("--json", action="store_true", help="print one JSON object per image or video segment")
    g = p.add_argument_group("video files and cameras (needs the video extra)")
    every = g.add_mutually_exclusive_group()
    every.add_argument(
        "--every", type=_positive_int, default=v.every, help=f"classify every Nth frame (default {v.every})"
    )
    every.add_argument("--fps", type=float, default=v.fps, help="classify at most F frames per second of video")
    g.add_argument(
        "--smooth",
        type=_positive_int,
        default=v.smooth,
        help=f"label frames by the mean scores of the last K classified frames (default {v.smooth})",
    )
    g.add_argument("--frames", action="store_true", help="also print every classified frame (t_s, label, score)")
    g.add_argument(
        "--camera",
        metavar="DEVICE",
        default=None,
        help="classify a live V4L2 camera (0 = /dev/video0) until Ctrl-C, then print a summary; a video "
        "file here plays at its own pace, as a camera stand-in",
    )
    g.add_argument("--seconds", type=float, default=None, help="with --camera: stop after this many seconds")
    p.set_defaults(handler="sportsedge.runtime.predict_cli:run")


def _add_verify(sub) -> None:
    p = sub.add_parser(
        "verify",
        help="check that this machine runs exported models correctly (golden check; no TensorFlow)",
        description="Recompute the scores of two fixed inputs that every export stores in its metadata, "
        "and compare them with this machine's engine: catches broken kernels, corrupted copies and "
        "incompatible libraries on a device. Exit status: 0 all OK, 1 a check failed or a model has none.",
    )
    p.add_argument("models", nargs="+", metavar="MODEL", help=".tflite or .onnx files exported by sportsedge")
    p.add_argument("--threads", type=_positive_int, default=None, help="inference threads (default: the engine's)")
    p.set_defaults(handler="sportsedge.runtime.verify_cli:run")


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model on a dataset folder (needs the train extra)",
        description="Train a registered model on a dataset in the Kaggle layout "
        "(train/, valid/, optional test/) and write a run folder.",
    )
    p.add_argument("--model", required=True, metavar="NAME", help=f"one of: {', '.join(MODELS)}")
    p.add_argument("--data", required=True, help="dataset folder with train/ and valid/ (and test/)")
    p.add_argument("--out", required=True, help="run folder to create")
    p.add_argument(
        "--weights",
        default=None,
        help="imagenet, none, auto (imagenet if already on disk) or a "
        "weights file (default: imagenet for transfer models, none for the CNNs)",
    )
    p.add_argument("--epochs", type=_positive_int, default=None, help="default: the recipe's (30)")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="default: the recipe's")
    p.add_argument("--learning-rate", type=float, default=None, help="default: the recipe's (1e-3)")
    p.add_argument("--no-augment", dest="augment", action="store_false", help="train without augmentation")
    p.add_argument(
        "--cache-features",
        type=int,
        default=None,
        metavar="VIEWS",
        help="cache the frozen backbone's outputs for VIEWS views of the train set (view 1 clean, "
        "the rest augmented); 0 = off (default: the recipe's; 1 for mobilenet_v2)",
    )
    p.add_argument(
        "--early-stopping",
        type=int,
        default=None,
        metavar="PATIENCE",
        help="patience on val_loss; 0 = off (default: the recipe's)",
    )
    p.add_argument(
        "--label-smoothing",
        type=float,
        default=TrainConfig.label_smoothing,
        help=f"label smoothing of the loss (default {TrainConfig.label_smoothing:g}, the seed's); 0.1 "
        "measured +0.9 points for mobilenet_v2",
    )
    p.add_argument(
        "--strategy",
        default=TrainConfig.strategy,
        choices=tuple(STRATEGIES),
        help="tf.distribute strategy: " + "; ".join(f"{k} = {h}" for k, (_, h) in STRATEGIES.items()),
    )
    p.add_argument("--seed", type=int, default=TrainConfig.seed, help=f"random seed (default {TrainConfig.seed})")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--jit-compile", action="store_true", help="XLA-compile training steps (slower on CPU here)")
    p.add_argument("--limit-per-class", type=_positive_int, default=None, help="use at most N images per class")
    p.set_defaults(handler="sportsedge.train.commands:train_cmd")


def _add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluation reports of a trained run on one split",
        description="Write RUN_DIR/eval-SPLIT/: metrics.json, report.txt/.json, "
        "confusion_matrix.png and misclassified.png.",
    )
    p.add_argument("run_dir", help="a run folder written by `sportsedge train`")
    p.add_argument("--data", default=None, help="dataset folder (default: the one the run was trained on)")
    p.add_argument("--split", default="test", help="test, valid or train (default test)")
    p.add_argument("--limit-per-class", type=_positive_int, default=None, help="use at most N images per class")
    p.set_defaults(handler="sportsedge.train.commands:evaluate_cmd")


def _export_options(p) -> None:
    e, a = ExportConfig, AccuracyConfig
    post = ", ".join(f.name for f in FORMATS.values() if f.in_all)
    opt_in = ", ".join(f.name for f in FORMATS.values() if not f.in_all)
    p.add_argument(
        "--formats",
        default=PipelineConfig.formats,
        help=f"all, or a comma list of: {post}, {opt_in} "
        f"(default {PipelineConfig.formats}: every post-training format, i.e. all but {opt_in})",
    )
    p.add_argument(
        "--calibration-size",
        type=_positive_int,
        default=e.calibration_size,
        help=f"calibration images (default {e.calibration_size})",
    )
    p.add_argument(
        "--parity-size",
        type=_positive_int,
        default=e.parity_size,
        help=f"valid/ images for the parity check (default {e.parity_size})",
    )
    g = p.add_argument_group("accuracy-aware int8 (tflite-int8)")
    g.add_argument(
        "--max-drop",
        type=float,
        default=a.max_drop,
        help="top-1 points int8 may lose against Keras on "
        f"the parity set before remedies are tried (default {a.max_drop:g})",
    )
    g.add_argument(
        "--remedies",
        default=",".join(a.remedies),
        help="remedies to try, in order: "
        + "; ".join(f"{r.name} ({r.help})" for r in REMEDIES.values())
        + f"; or none (default {','.join(a.remedies)}; calibration_factor {a.calibration_factor})",
    )


def _bench_options(p) -> None:
    b = BenchConfig
    threads = ",".join(map(str, b.threads))
    p.add_argument("--threads", default=threads, help=f"comma list of thread counts to sweep (default {threads})")
    p.add_argument(
        "--runs",
        type=_positive_int,
        default=b.runs,
        help=f"timed inferences per artifact and thread count (default {b.runs})",
    )
    p.add_argument("--warmup", type=int, default=b.warmup, help=f"untimed inferences first (default {b.warmup})")
    p.add_argument(
        "--e2e-runs",
        type=int,
        default=b.e2e_runs,
        help=f"end-to-end timings from an image file per artifact and thread count (default {b.e2e_runs})",
    )
    p.add_argument(
        "--camera-runs",
        type=int,
        default=b.camera_runs,
        help="end-to-end timings from a 4056x3040 JPEG made from the data, plus a 1080p video's frames/s "
        f"(video extra); 0 = skip both (default {b.camera_runs})",
    )


def _add_export(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export trained runs to TFLite/ONNX, float and int8, parity-checked",
        description="Export runs to DIR/<model>-<format>.<ext> with labels inside, check each "
        "against the Keras model on held-back valid/ images, and record DIR/manifest.json. "
        "Exit status 1 if any parity check failed.",
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders written by `sportsedge train`")
    p.add_argument("--out", required=True, help="folder for the artifacts and manifest.json")
    _export_options(p)
    p.add_argument(
        "--calibration",
        default=None,
        help="folder of real images for int8 calibration (class subfolders or flat; default: the run's train/ split)",
    )
    p.add_argument(
        "--min-agreement",
        type=float,
        default=ExportConfig.min_agreement,
        help="fail quantized formats whose top-1 agreement with Keras is below this (default: the table's)",
    )
    p.add_argument("--force", action="store_true", help="redo artifacts even when nothing changed")
    q = p.add_argument_group("quantization-aware training (needs the qat extra)")
    q.add_argument(
        "--qat",
        action="store_true",
        help="also export tflite-int8-qat: fine-tune with fake "
        "quantization (tensorflow-model-optimization, in a separate process), then full int8",
    )
    q.add_argument(
        "--qat-epochs",
        type=_positive_int,
        default=QatConfig.epochs,
        help=f"QAT fine-tuning epochs (default {QatConfig.epochs})",
    )
    q.add_argument(
        "--qat-learning-rate",
        type=float,
        default=QatConfig.learning_rate,
        help=f"QAT Adam learning rate (default {QatConfig.learning_rate:g})",
    )
    q.add_argument(
        "--qat-train-size",
        type=_positive_int,
        default=QatConfig.train_size,
        help="train/ images used for QAT, stratified (default: all)",
    )
    p.set_defaults(handler="sportsedge.export.commands:export_cmd")


def _add_bench(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark latency, size, memory and accuracy of exported models (TF-free)",
        description="Benchmark .tflite/.onnx files (or export folders) on a split folder "
        "(one folder per class): writes results.json, results.csv, results.md and pareto.png.",
    )
    p.add_argument("models", nargs="+", metavar="MODEL_FILE|EXPORT_DIR")
    p.add_argument("--data", required=True, help="split folder with one folder per class, normally test/")
    p.add_argument("--out", required=True, help="folder for the results")
    _bench_options(p)
    p.add_argument(
        "--keras",
        action="append",
        metavar="RUN_DIR",
        help="add the run's Keras model as an unoptimized baseline row (needs the train extra; repeatable)",
    )
    p.set_defaults(handler="sportsedge.benchmarks.commands:bench_cmd")


def _add_data(sub) -> None:
    p = sub.add_parser("data", help="dataset tools: check a dataset folder, download the 100 Sports dataset")
    dsub = p.add_subparsers(title="data commands", metavar="ACTION")
    c = dsub.add_parser(
        "check",
        help="validate a dataset folder (splits, classes, unreadable files, duplicates)",
        description="Validate a dataset in the Kaggle layout. Exit status 1 on errors.",
    )
    c.add_argument("dir", help="folder holding train/, valid/ and optionally test/")
    c.add_argument("--show-duplicates", type=int, default=5, help="cross-split duplicates to list (default 5)")
    c.set_defaults(handler="sportsedge.datatools:check_cmd")
    d = dsub.add_parser("download", help="fetch gpiosenka/sports-classification with kagglehub (the data extra)")
    d.add_argument("--out", default="data/sports100", help="folder to create (default data/sports100)")
    d.set_defaults(handler="sportsedge.datatools:download_cmd")


def _add_pipeline(sub) -> None:
    p = sub.add_parser(
        "pipeline",
        help="train, evaluate, export, benchmark and report, in one resumable command",
        description="For each model: train and evaluate; then export every format, benchmark "
        "everything on test/ (valid/ without it) and write OUT/report.md and OUT/report.html. "
        "Re-running on the same OUT skips finished stages.",
    )
    p.add_argument("--data", required=True, help="dataset folder with train/, valid/ and optionally test/")
    p.add_argument("--out", required=True, help="output folder")
    models = ",".join(PipelineConfig.models)
    p.add_argument("--models", default=models, help=f"comma list of: {', '.join(MODELS)} (default {models})")
    _export_options(p)
    _bench_options(p)
    p.add_argument(
        "--weights",
        default=None,
        help="imagenet, none, auto (imagenet if on disk) or a file, for every model (default: each model's)",
    )
    p.add_argument("--epochs", type=_positive_int, default=None, help="default: each recipe's")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="default: each recipe's")
    p.add_argument("--cache-features", type=int, default=None, metavar="VIEWS", help="default: each recipe's")
    p.add_argument("--limit-per-class", type=_positive_int, default=None, help="train on at most N images per class")
    p.add_argument(
        "--seed", type=int, default=PipelineConfig.seed, help=f"training seed (default {PipelineConfig.seed})"
    )
    p.set_defaults(handler="sportsedge.pipeline.commands:pipeline_cmd")


def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole pipeline offline on a generated dataset, in minutes",
        description="Draw a small synthetic scene dataset, then train all three models, export "
        "every format, benchmark and report, offline. Transfer models use ImageNet weights "
        "if Keras has them on disk ($KERAS_HOME/models), random weights otherwise.",
    )
    p.add_argument("--out", default="demo-out", help="output folder (default demo-out; re-running resumes)")
    p.set_defaults(handler="sportsedge.pipeline.commands:demo_cmd")


# One row per subcommand: each adds its parser; handlers are imported lazily.
COMMANDS = (
    _add_predict,
    _add_verify,
    _add_train,
    _add_evaluate,
    _add_export,
    _add_bench,
    _add_data,
    _add_pipeline,
    _add_demo,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sportsedge",
        description="Train image classifiers, export them to TFLite/ONNX, run and benchmark them on the edge.",
    )
    parser.add_argument("--version", action="version", version=f"sportsedge {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def _resolve(spec: str):
    module, _, func = spec.partition(":")
    return getattr(importlib.import_module(module), func)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from .errors import SportsedgeError

    saved_showwarning, warnings.showwarning = warnings.showwarning, _one_line_warning
    try:
        return _resolve(args.handler)(args)
    except SportsedgeError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `sportsedge predict ... | head`
        sys.stderr.close()
        return EXIT_OK
    except Exception as err:  # a bug: keep it to one line unless asked for the traceback
        if os.environ.get("SPORTSEDGE_DEBUG"):
            raise
        print(f"internal error: {type(err).__name__}: {err} (set SPORTSEDGE_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        warnings.showwarning = saved_showwarning


if __name__ == "__main__":
    sys.exit(main())
