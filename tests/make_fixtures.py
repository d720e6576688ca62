"""Rebuild the committed test models in tests/fixtures/ (needs the train extra: `make install`).

    .venv/bin/python tests/make_fixtures.py [OUT]    # default: tests/fixtures

tiny/      the colour models, weights set by hand: colour-fp32.tflite, colour-int8.tflite, colour-fp32.onnx
labelled/  the same with labels, input spec and golden check embedded (the runtime's metadata writer)
foreign/   nchw-softmax.onnx: a float NCHW classifier as PyTorch would export it, no metadata of ours
exported/  the "tiny" registered model trained on the colour dataset, exported to every
           post-training format with manifest.json, as `sportsedge export` writes them
hostile/   a colour model built for int8 to break at one known layer (`head`), as .keras and
           float .onnx, with labels.txt: `sportsedge doctor` must name it (tests/test_doctor.py)

tests/test_fixtures.py rebuilds them in the suite and checks the committed files' answers.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from model_fixtures import (
    FIXTURES,
    colour_dataset_at,
    export_tiny_run,
    label_models,
    train_tiny_run,
    write_foreign_models,
    write_hostile_models,
    write_tiny_models,
)


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tiny = write_tiny_models(work / "tiny")
        label_models(tiny, work / "labelled")
        write_foreign_models(work / "foreign")
        write_hostile_models(work / "hostile")
        run = train_tiny_run(colour_dataset_at(work / "colours"), work / "run")
        export_tiny_run(run, work / "exported")
        # The build folder is a temporary one: name it the same on every rebuild, so a rebuild
        # that changes nothing leaves the committed files unchanged.
        for meta in (work / "exported").glob("*.json"):
            meta.write_text(meta.read_text().replace(str(work), "/fixture-build"))
        manifest = json.loads((work / "exported" / "manifest.json").read_text())
        for name in ("tiny", "labelled", "exported", "foreign", "hostile"):
            shutil.rmtree(out / name, ignore_errors=True)
            shutil.copytree(work / name, out / name)
    for path in sorted(out.rglob("*")):
        if path.is_file():
            print(f"{path.stat().st_size:>8,}  {path.relative_to(out)}")
    print(f"{len(manifest['artifacts'])} exported artifacts")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURES)
