"""The pipeline's settings (light: the CLI builds its options from them)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from sportsedge.bench.config import BenchConfig
from sportsedge.export.config import ExportConfig
from sportsedge.train.config import TrainConfig


@dataclass(frozen=True)
class PipelineConfig:
    data: str  # dataset folder with train/, valid/ and optionally test/
    out: str  # output folder (created; re-running on it resumes)
    models: tuple[str, ...] = ("cnn", "efficientnet_b0", "mobilenet_v2")  # registry names to train
    input_sizes: tuple[int, ...] = ()  # each resizable model at each of these sides (px); () = their own
    formats: str = "all"  # export formats: "all" or a comma list
    train: TrainConfig = field(default_factory=TrainConfig)  # training settings for every model (as `train`);
    # its model, data, out and input_size are set per run by ``for_run``
    export: ExportConfig = field(default_factory=ExportConfig)  # export settings (as `sportsedge export`)
    bench: BenchConfig = field(default_factory=BenchConfig)  # benchmark settings (as `sportsedge bench`)

    def for_run(self, model: str, side: int | None, run: Path) -> TrainConfig:
        """The TrainConfig of one run of the sweep: the shared settings, this model and size."""
        return replace(self.train, model=model, data=str(Path(self.data).resolve()), out=str(run), input_size=side)
