"""The probe scripts under experiments/ that documented numbers come from keep working."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from conftest import LABELS, TINY_SIZE, solid
from model_fixtures import _convert

pytestmark = pytest.mark.tensorflow  # the probe scripts convert with TensorFlow

BENCHMARKS = Path(__file__).resolve().parent.parent / "experiments"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_int8_granularity_rewrites_weights_per_tensor(tmp_path):
    import keras
    from tensorflow.lite.tools import flatbuffer_utils

    probe = _script("int8_granularity")
    # The colour model with a bias (converters drop an all-zero one) and unequal channel ranges.
    inp = keras.Input((*TINY_SIZE, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255.0)(inp))
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(x))
    model.layers[-1].set_weights([np.diag([10.0, 5.0, 2.5]).astype("float32"), np.array([0.5, -0.5, 0.25], "float32")])
    fp32, int8 = _convert(model, tmp_path, int8=False), _convert(model, tmp_path, int8=True)
    fm, qm = (flatbuffer_utils.read_model_from_bytearray(bytearray(b)) for b in (fp32, int8))
    assert [kind for _, kind in probe.weighted_ops(qm)] == ["FULLY_CONNECTED"]
    op, _ = probe.weighted_ops(qm)[0]
    assert len(qm.subgraphs[0].tensors[op.inputs[1]].quantization.scale) == 3  # exported per-channel
    assert 0.0 <= probe.grid_error(qm, fm)[0] <= 0.5 + 1e-6  # round-to-nearest: at most half a step

    body = probe.per_tensor(qm, fm, {0})
    rewritten = flatbuffer_utils.read_model_from_bytearray(bytearray(body))
    op, _ = probe.weighted_ops(rewritten)[0]
    w, b, x = (rewritten.subgraphs[0].tensors[op.inputs[k]] for k in (1, 2, 0))
    assert len(w.quantization.scale) == 1 and list(w.quantization.zeroPoint) == [0]
    assert w.quantization.scale[0] == np.float32(10.0 / 127)  # one step for the widest channel
    # Rows are output channels: 10, 5, 2.5 on one grid of 10/127.
    assert np.array_equal(np.diag(probe.tensor_array(rewritten, w, np.int8)), [127, 64, 32])
    assert b.quantization.scale[0] == np.float32(np.float32(x.quantization.scale[0]) * np.float32(10.0 / 127))
    assert len(body) < len(int8)
    pixels = np.stack([solid(c) for c in LABELS])
    assert list(probe.top1(body, pixels, threads=1)) == list(probe.top1(fp32, pixels, threads=1)) == [0, 1, 2]


def test_int8_error_sources_tables_every_variant(tiny_run, capsys):
    probe = _script("int8_error_sources")
    probe.main(str(tiny_run))
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "%" in line]
    names = [row.split(" | ")[0][2:] for row in rows]
    assert names == [
        "plain (mse ranges)",
        "frozen blocks float",
        "fine-tuned blocks float",
        "float head (float logits out)",
        "int16 activations",
    ]
    # The tiny run's colours are easy: every variant agrees with Keras on nearly all images.
    assert all(float(row.split(" | ")[2].rstrip("%")) >= 80.0 for row in rows)
