"""The pipeline's settings (light: the CLI builds its options from them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..benchmarks.config import BenchConfig
from ..export.config import ExportConfig


@dataclass(frozen=True)
class PipelineConfig:
    data: str  # dataset folder with train/, valid/ and optionally test/
    out: str  # output folder (created; re-running on it resumes)
    models: tuple[str, ...] = ("cnn", "efficientnet_b0", "mobilenet_v2")  # registry names to train
    input_sizes: tuple[int, ...] = ()  # each resizable model at each of these sides (px); () = their own
    formats: str = "all"  # export formats: "all" or a comma list
    weights: str | None = None  # for every model: imagenet, none or a file; None = each model's default
    epochs: int | None = None  # None = each recipe's
    batch_size: int | None = None  # None = each recipe's
    cache_features: int | None = None  # None = each recipe's
    limit_per_class: int | None = None  # at most N images per class and split in training (quick runs)
    seed: int = 0  # training seed
    export: ExportConfig = field(default_factory=ExportConfig)  # export settings (as `sportsedge export`)
    bench: BenchConfig = field(default_factory=BenchConfig)  # benchmark settings (as `sportsedge bench`)
