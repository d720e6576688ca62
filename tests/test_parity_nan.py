"""A parity check cannot pass on NaN or Inf: a source whose outputs are not finite, or a file whose
outputs are not, fails in one line naming which (a max |diff| of NaN compares false with any
bound and used to pass)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sportsedge.core.formats import FORMATS, Status
from sportsedge.export import parity

from conftest import LABELS, solid, torch_export_argv


def test_a_source_with_nan_outputs_fails_every_format(labelled_models):
    pixels = np.stack([solid(c) for c in LABELS])
    labels = np.arange(len(LABELS))
    for fmt, path in labelled_models.items():
        source = np.full((len(pixels), len(LABELS)), np.nan, np.float32)
        result = parity.check(path, FORMATS[fmt], pixels, labels, source, tuple(LABELS))
        assert result["status"] is Status.FAILED, fmt
        assert f"the source model's outputs are NaN or Inf on {len(pixels)} of {len(pixels)}" in result["message"]


@pytest.mark.torch
@pytest.mark.tensorflow
def test_a_pytorch_model_with_nan_weights_fails_its_checks(torch_files, colour_dataset, tmp_path, capsys):
    """The issue's case: every file used to pass with max|diff| nan."""
    import torch

    from sportsedge import cli
    from torch_fixtures import colour_module, save_program

    model = colour_module()
    with torch.no_grad():
        model.head.weight[0, 0] = float("nan")
    program = save_program(model, tmp_path / "nan.pt2")
    out = tmp_path / "out"
    argv = torch_export_argv(program, out, colour_dataset, torch_files["labels"], "--formats", "tflite-fp32,onnx-fp32")
    assert cli.main(argv) == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert {a["status"] for a in manifest["artifacts"].values()} == {Status.FAILED}
    assert "NaN or Inf" in capsys.readouterr().err
