"""`sportsedge` subcommand parsers of the training side: train, evaluate, export, pipeline, demo."""

from __future__ import annotations

from .cli_models import model_options
from .cli_runtime import bench_options
from .cli_types import (
    below_one,
    comma_list,
    fraction,
    int_range,
    non_negative_float,
    non_negative_int,
    one_of,
    positive_float,
    positive_int,
)
from .export.config import REMEDIES, AccuracyConfig, ExportConfig, QatConfig, RangeFit
from .formats import FORMATS
from .pipeline.config import PipelineConfig
from .train.config import STRATEGIES, TrainConfig
from .train.mobilenet import FT_STAGE2
from .train.models import MAX_SIDE, MIN_SIDE, MODELS

RESIZABLE = "mobilenet_v2* and efficientnet_lite*"
input_side = int_range(MIN_SIDE, MAX_SIDE, "input_side")


def add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model on a dataset folder (needs the train extra)",
        description="Train a registered model on a dataset in the Kaggle layout "
        "(train/, valid/, optional test/) and write a run folder.",
    )
    p.add_argument(
        "--model", required=True, type=one_of(MODELS, "model"), metavar="NAME", help=f"one of: {', '.join(MODELS)}"
    )
    p.add_argument("--data", required=True, help="dataset folder with train/ and valid/ (and test/)")
    p.add_argument("--out", required=True, help="run folder to create")
    p.add_argument(
        "--weights",
        default=None,
        help="imagenet, none, auto (imagenet if already on disk) or a "
        "weights file (default: imagenet for transfer models, none for the CNNs)",
    )
    p.add_argument("--epochs", type=positive_int, default=None, help="default: the recipe's (30)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="default: the recipe's")
    p.add_argument("--learning-rate", type=positive_float, default=None, help="default: the recipe's (1e-3)")
    p.add_argument("--no-augment", dest="augment", action="store_false", help="train without augmentation")
    p.add_argument(
        "--cache-features",
        type=non_negative_int,
        default=None,
        metavar="VIEWS",
        help="cache the frozen backbone's outputs for VIEWS views of the train set (view 1 clean, "
        "the rest augmented); 0 = off (default: the recipe's; 1 for mobilenet_v2)",
    )
    p.add_argument(
        "--early-stopping",
        type=non_negative_int,
        default=None,
        metavar="PATIENCE",
        help="patience on val_loss; 0 = off (default: the recipe's)",
    )
    p.add_argument(
        "--label-smoothing",
        type=below_one,
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
    p.add_argument("--limit-per-class", type=positive_int, default=None, help="use at most N images per class")
    ft = FT_STAGE2
    p.add_argument(
        "--finetune-epochs",
        type=non_negative_int,
        default=None,
        metavar="N",
        help=f"two-stage models: epochs of stage 2 (the top blocks); 0 = head only (default {ft.epochs})",
    )
    p.add_argument(
        "--finetune-learning-rate",
        type=positive_float,
        default=None,
        metavar="LR",
        help=f"two-stage models: stage 2's peak learning rate, after warm-up (default {ft.learning_rate:g})",
    )
    p.add_argument(
        "--finetune-blocks",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"two-stage models: top blocks stage 2 unfreezes (default: the recipe's, {ft.blocks})",
    )
    p.add_argument(
        "--finetune-views",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"two-stage models: most train views cached at the block boundary: 1 clean, 2 mirrored, 3+ augmented; "
        f"fewer when views x train images exceeds {ft.view_images:,} (default {ft.views})",
    )
    p.add_argument(
        "--finetune-int8-epochs",
        type=non_negative_int,
        default=None,
        metavar="N",
        help="two-stage models: the last N of the --finetune-epochs train the top blocks with their kernels "
        "rounded as full int8 will round them (activations too if the recipe says so), so int8 exports "
        f"lose less; 0 = none (default {ft.int8_epochs})",
    )
    p.add_argument(
        "--input-size",
        type=input_side,
        default=None,
        metavar="PX",
        help=f"square input side for {RESIZABLE}: the same network and ImageNet weights at "
        f"another size, a multiple of 32 from {MIN_SIDE} to {MAX_SIDE} (default: the model's own)",
    )
    p.set_defaults(handler="sportsedge.train.commands:train_cmd")


def add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluation reports of a trained run on one split",
        description="Write RUN_DIR/eval-SPLIT/: metrics.json, report.txt/.json, "
        "confusion_matrix.png and misclassified.png.",
    )
    p.add_argument("run_dir", help="a run folder written by `sportsedge train`")
    p.add_argument("--data", default=None, help="dataset folder (default: the one the run was trained on)")
    p.add_argument(
        "--split", default="test", choices=("test", "valid", "train"), help="the split to report on (default test)"
    )
    p.add_argument("--limit-per-class", type=positive_int, default=None, help="use at most N images per class")
    p.set_defaults(handler="sportsedge.train.commands:evaluate_cmd")


def export_options(p) -> None:
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
        type=positive_int,
        default=e.calibration_size,
        help=f"calibration images (default {e.calibration_size})",
    )
    p.add_argument(
        "--parity-size",
        type=positive_int,
        default=e.parity_size,
        help=f"valid/ images for the parity check (default {e.parity_size})",
    )
    g = p.add_argument_group("accuracy-aware int8 (tflite-int8)")
    g.add_argument(
        "--max-drop",
        type=non_negative_float,
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
    g.add_argument(
        "--activation-ranges",
        type=RangeFit,
        choices=list(RangeFit),
        default=a.activation_ranges,
        help="how each int8 activation's range is fitted to the calibration images: mse (least squared "
        "int8 error, rare outliers clipped) or minmax (the converter's own min..max) "
        f"(default {a.activation_ranges})",
    )


def add_export(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export trained runs or your own model to TFLite/ONNX, float and int8, parity-checked",
        description="Export runs (or a .keras, .h5, SavedModel or float .onnx classifier of your own) to "
        "DIR/<model>-<format>.<ext> with labels inside, check each against the source model on held-back "
        "images, and record DIR/manifest.json. Exit status 1 if any parity check failed.",
    )
    p.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help="run folders written by `sportsedge train`, or a .keras/.h5 file, a SavedModel folder or an .onnx file",
    )
    p.add_argument("--out", required=True, help="folder for the artifacts and manifest.json")
    export_options(p)
    p.add_argument(
        "--calibration",
        default=None,
        help="folder of real images for int8 calibration (class subfolders or flat; default: the run's train/ "
        "split; required for int8 formats of your own model)",
    )
    p.add_argument(
        "--min-agreement",
        type=fraction,
        default=ExportConfig.min_agreement,
        help="fail quantized formats whose top-1 agreement with Keras is below this (default: the table's)",
    )
    p.add_argument("--force", action="store_true", help="redo artifacts even when nothing changed")
    model_options(p, "your own model (not a sportsedge run)")
    p.add_argument(
        "--parity-data",
        default=None,
        metavar="DIR",
        help="images to check your model's exports on: class subfolders named as the labels (accuracy and "
        "agreement) or a flat folder (agreement only); default: the --calibration folder",
    )
    q = p.add_argument_group("quantization-aware training (needs the qat extra)")
    q.add_argument(
        "--qat",
        action="store_true",
        help="also export tflite-int8-qat: fine-tune with fake "
        "quantization (tensorflow-model-optimization, in a separate process), then full int8",
    )
    q.add_argument(
        "--qat-epochs",
        type=positive_int,
        default=QatConfig.epochs,
        help=f"QAT fine-tuning epochs (default {QatConfig.epochs})",
    )
    q.add_argument(
        "--qat-learning-rate",
        type=positive_float,
        default=QatConfig.learning_rate,
        help=f"QAT Adam learning rate (default {QatConfig.learning_rate:g})",
    )
    q.add_argument(
        "--qat-train-size",
        type=positive_int,
        default=QatConfig.train_size,
        help="train/ images used for QAT, stratified (default: all)",
    )
    p.set_defaults(handler="sportsedge.export.commands:export_cmd")


def add_pipeline(sub) -> None:
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
    p.add_argument(
        "--models",
        type=comma_list(one_of(MODELS, "model"), "models"),
        default=PipelineConfig.models,
        help=f"comma list of: {', '.join(MODELS)} (default {models})",
    )
    p.add_argument(
        "--input-sizes",
        type=comma_list(input_side, "input sizes"),
        default=PipelineConfig.input_sizes,
        metavar="PX,...",
        help="train each resizable model of --models at each of these square sizes, each its own row "
        "(e.g. 224,160,128); other models at their own size; a size only some models take is "
        "skipped for the rest, with a note (default: each model's own)",
    )
    export_options(p)
    bench_options(p)
    p.add_argument(
        "--weights",
        default=None,
        help="imagenet, none, auto (imagenet if on disk) or a file, for every model (default: each model's)",
    )
    p.add_argument("--epochs", type=positive_int, default=None, help="default: each recipe's")
    p.add_argument("--batch-size", type=positive_int, default=None, help="default: each recipe's")
    p.add_argument(
        "--cache-features", type=non_negative_int, default=None, metavar="VIEWS", help="default: each recipe's"
    )
    p.add_argument("--limit-per-class", type=positive_int, default=None, help="train on at most N images per class")
    p.add_argument(
        "--seed", type=int, default=PipelineConfig.seed, help=f"training seed (default {PipelineConfig.seed})"
    )
    p.set_defaults(handler="sportsedge.pipeline.commands:pipeline_cmd")


def add_demo(sub) -> None:
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
