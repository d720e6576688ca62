"""The training-run family: a folder `sportsedge train` wrote (config.json + model.keras). It
carries its own labels, input size and preprocessing; the Keras model loads when first needed."""

from __future__ import annotations

from pathlib import Path

from sportsedge.export.source import SourceKind
from sportsedge.export.sources.family import SourceFamily


def is_run(p: Path) -> bool:
    return p.is_dir() and (p / "config.json").is_file() and (p / "model.keras").is_file()


def resolve(path: Path, kind: str, user, calibration: str | None):
    """(Source, None): a run folder's model loads lazily (``load``)."""
    from sportsedge.core.outputs import OutputKind
    from sportsedge.export.source import Source, model_sha256
    from sportsedge.train.config import RunRecord
    from sportsedge.train.models import MODELS

    record = RunRecord.load(path)
    data = Path(record.data)
    source = Source(
        path=path,
        kind=kind,
        name=MODELS[record.model].variant(record.input_size) if record.model in MODELS else record.model,
        labels=record.classes,
        input_size=record.input_size,
        transform=None,
        output=OutputKind.PROBABILITIES,
        calibration_dir=Path(calibration) if calibration else data / "train",
        parity_dir=data / "valid",
        sha256=model_sha256(path / "model.keras"),
        ours=True,
    )
    return source, None


def load(path: Path):
    """The run's Keras model (safe mode: no Lambda layer's bytecode runs)."""
    import keras

    return keras.models.load_model(path / "model.keras", compile=False, safe_mode=True)


FAMILY = SourceFamily(
    name="keras-run",
    kinds=((SourceKind.RUN, is_run),),
    resolve="sportsedge.export.sources.keras_run:resolve",
    run="sportsedge.export.user_model:run_keras",
    folders=("sportsedge run folder (config.json + model.keras)",),
    ours=True,
    lazy_model="sportsedge.export.sources.keras_run:load",
)
