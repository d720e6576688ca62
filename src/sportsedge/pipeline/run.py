"""`sportsedge pipeline`: train -> evaluate -> export -> bench -> report, resumable by stage.

Layout of the output folder: runs/<model>/ (training runs and their eval reports), exports/
(artifacts + manifest.json), bench/ (results.*, pareto.png), report.md, report.html and
pipeline.json (the fingerprint of each finished stage; a stage whose fingerprint is unchanged
is skipped, so a crash or Ctrl-C costs only the stage in flight).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from sportsedge.core.formats import Status
from sportsedge.core.records import Manifest
from sportsedge.pipeline.config import PipelineConfig
from sportsedge.train.config import TrainConfig
from sportsedge.util import fileio


def _fingerprint(obj) -> str:
    return fileio.fingerprint(obj)[:16]


class _State:
    """pipeline.json: stage -> fingerprint of the inputs it finished with."""

    def __init__(self, out: Path):
        self.path = out / "pipeline.json"
        self.stages = json.loads(self.path.read_text()).get("stages", {}) if self.path.is_file() else {}

    def done(self, stage: str, key: str) -> bool:
        return self.stages.get(stage) == key

    def mark(self, stage: str, key: str) -> None:
        self.stages[stage] = key
        fileio.write_json(self.path, {"stages": self.stages})


def variants(models, sizes, say=print) -> list[tuple[str, int | None]]:
    """(model, input side or None for its own) of a sweep: every size for resizable models, their
    own size once for the others. A size only some models take (240 is Lite1's own, not a
    multiple of 32) is skipped for the others with a note; a size no model takes, or a model
    left with no size, fails before any work."""
    from sportsedge.core.errors import UsageError
    from sportsedge.train.models import get_model

    out: list[tuple[str, int | None]] = []
    refused: dict[int | None, list[tuple[str, UsageError]]] = {}  # side -> [(model, why)]
    for model in dict.fromkeys(models):  # a model or size named twice runs once
        entry = get_model(model)
        if sizes and not entry.resizable:
            say(f"note: {model} takes {entry.input_size[0]} px only; the input sizes apply to the others")
        ran = len(out)
        for side in dict.fromkeys(sizes) if sizes and entry.resizable else (None,):
            try:
                entry.size(side)
            except UsageError as err:
                refused.setdefault(side, []).append((model, err))
                last_refusal = err
                continue
            out.append((model, side))
        if len(out) == ran:
            raise UsageError(f"{model} takes none of --input-sizes {','.join(map(str, sizes))}: {last_refusal}")
    taken = {side for _, side in out}
    for side, why in refused.items():
        if side not in taken:
            raise why[0][1]
        say(f"note: {side} px skipped for {', '.join(m for m, _ in why)} ({why[0][1]})")
    return out


@dataclass(frozen=True)
class Plan:
    """One training run of the sweep, as planned before any work."""

    name: str  # the run's name: the model, with its input side if not its own (mobilenet_v2_ft-160)
    run: Path  # its run folder, OUT/runs/<name>
    train: TrainConfig  # its settings
    key: str  # fingerprint of the resolved settings: unchanged = the finished run is kept
    trained: bool  # finished with these settings in an earlier session


def run_pipeline(cfg: PipelineConfig, say=print) -> Path:
    """Train, evaluate, export, benchmark and report; each finished stage is skipped on a re-run.

    Args:
        cfg: the pipeline's settings; ``cfg.train`` applies to every model of the sweep.
        say: where progress lines go.

    Returns:
        The output folder, holding report.md and report.html.

    Raises:
        UsageError: an unknown model, a size no model takes, or weights that cannot be had.
        InputError: a dataset folder without train/ and valid/.
    """
    from sportsedge.export.run import export, parse_formats
    from sportsedge.pipeline.report import write_report
    from sportsedge.train.data import scan_dataset
    from sportsedge.train.models import get_model

    out = Path(cfg.out)
    formats = parse_formats(cfg.formats)
    for m in cfg.models:
        get_model(m)  # unknown names fail before any work
    ds = scan_dataset(cfg.data, require=("train", "valid"))
    state = _State(out)
    plans = _plans(cfg, out, state, say)
    for plan in plans:  # fail now, not after an hour of CNN training, if weights cannot be had
        tc, entry = plan.train, get_model(plan.train.model)
        if not plan.trained and entry.resolve_weights(tc.weights) == "imagenet":
            entry.make(len(ds.classes), "imagenet", entry.size(tc.input_size))
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()
    runs = [_train(plan, state, say) for plan in plans]
    exports = out / "exports"
    say(f"== export {len(runs)} model(s) x {len(formats)} format(s)")
    manifest = export(runs, formats, exports, cfg.export, say=say)
    _bench(cfg, manifest, exports, Path(cfg.data) / ds.eval_split, state, say)
    say("== report")
    write_report(out, [r.name for r in runs], ds.eval_split)
    failed = [n for n, e in manifest["artifacts"].items() if e["status"] == Status.FAILED]
    if failed:
        say(f"warning: parity check FAILED for {', '.join(failed)} (left out of the benchmark)")
    say(f"pipeline finished in {time.monotonic() - t_start:.0f}s: {out / 'report.html'}")
    return out


def _plans(cfg: PipelineConfig, out: Path, state: _State, say) -> list[Plan]:
    from sportsedge.train.models import get_model

    plans = []
    for model, side in variants(cfg.models, cfg.input_sizes, say):
        entry = get_model(model)
        name = entry.variant(entry.size(side))
        run = out / "runs" / name
        tc = cfg.for_run(model, side, run)
        key = _fingerprint({k: v for k, v in tc.resolved().settings().items() if k not in ("out", "resume")})
        plans.append(Plan(name, run, tc, key, state.done(f"train:{name}", key) and (run / "model.keras").is_file()))
    return plans


def _train(plan: Plan, state: _State, say) -> Path:
    """Train one planned run (or resume it, or skip it when finished with the same settings)."""
    from sportsedge.train.loop import train

    name, run, key = plan.name, plan.run, plan.key
    if plan.trained:
        say(f"== train {name}: unchanged, skipped")
        return run
    resume = (run / "state.json").is_file() and state.stages.get(f"train-started:{name}") == key
    if run.exists() and not resume:
        shutil.rmtree(run)  # a stale run of other settings (ours to replace)
    state.mark(f"train-started:{name}", key)
    say(f"== train {name}" + (" (resuming)" if resume else ""))
    train(replace(plan.train, resume=resume), say=say)
    state.mark(f"train:{name}", key)
    return run


def _bench(cfg: PipelineConfig, manifest: Manifest, exports: Path, eval_split: Path, state: _State, say) -> None:
    """Benchmark the exports, unless the same files were benchmarked with the same settings."""
    from sportsedge.bench.run import bench

    benched = [e for e in manifest["artifacts"].values() if e["status"] != Status.FAILED]  # as bench's discover()
    bench_key = _fingerprint(
        {
            "artifacts": sorted(e["sha256"] for e in benched),
            "data": str(eval_split.resolve()),
            "bench": asdict(cfg.bench),  # every setting: rounds, e2e and camera runs too
        }
    )
    bench_dir = Path(cfg.out) / "bench"
    if state.done("bench", bench_key) and (bench_dir / "results.json").is_file():
        say("== bench: unchanged, skipped")
        return
    say(f"== bench on {eval_split}")
    bench([exports], eval_split, bench_dir, cfg.bench, say=say)
    state.mark("bench", bench_key)
