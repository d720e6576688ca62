"""TensorFlow's private entry points live in one module, which fails in one line when one is gone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.tensorflow  # trains or exports: needs the train extra

ROOT = Path(__file__).resolve().parents[1]
PRIVATE = re.compile(  # the private modules and attributes themselves, not our wrappers' names
    r"lite\.python(\.| import )convert|_experimental_calibrate_only|schema_py_generated|flatbuffer_utils"
    r"|default_8bit_quantize_registry"
)


def test_private_names_appear_in_one_module_only():
    hits = sorted(
        str(p.relative_to(ROOT))
        for folder in ("src", "experiments")
        for p in (ROOT / folder).rglob("*.py")
        if PRIVATE.search(re.sub(r"(?m)^\s*#.*$", "", p.read_text()))
    )
    assert hits == ["src/sportsedge/export/tf_private.py"], hits


def test_a_missing_switch_fails_in_one_line_instead_of_being_set():
    pytest.importorskip("tensorflow")
    from sportsedge.core.errors import SportsedgeError
    from sportsedge.export import tf_private

    class RenamedConverter:  # a TensorFlow whose converter lost the attribute
        pass

    conv = RenamedConverter()
    with pytest.raises(SportsedgeError) as err:
        tf_private.calibrate_only(conv)
    text = str(err.value)
    assert "TFLiteConverter._experimental_calibrate_only" in text and "tested with tensorflow 2.21.0" in text
    assert "\n" not in text and not hasattr(conv, "_experimental_calibrate_only")  # nothing silently set


def test_a_missing_function_fails_in_one_line(monkeypatch):
    pytest.importorskip("tensorflow")
    from tensorflow.lite.python import convert

    from sportsedge.core.errors import SportsedgeError
    from sportsedge.export import tf_private

    monkeypatch.delattr(convert, "mlir_quantize")
    with pytest.raises(SportsedgeError, match=r"has no tensorflow\.lite\.python\.convert\.mlir_quantize"):
        tf_private.mlir_quantize(b"", None, None)


def test_minmax_needs_no_private_entry_point(tiny_run, tmp_path, monkeypatch):
    from sportsedge.export import tf_private
    from sportsedge.export.config import AccuracyConfig, ExportConfig, RangeFit
    from sportsedge.export.run import export, parse_formats

    def refuse(*args, **kwargs):
        raise AssertionError("a private entry point was used")

    for name in ("mlir_quantize", "calibrate_only", "schema", "read_model", "write_model"):
        monkeypatch.setattr(tf_private, name, refuse)
    accuracy = AccuracyConfig(activation_ranges=RangeFit.MINMAX, remedies=())
    config = ExportConfig(calibration_size=10, parity_size=6, accuracy=accuracy)
    manifest = export([tiny_run], parse_formats("tflite-int8"), tmp_path, config, say=lambda m: None)
    entry = manifest["artifacts"]["tiny-tflite-int8.tflite"]
    assert entry["status"] != "FAILED" and entry["ranges"]["activation_ranges"] == "minmax"
