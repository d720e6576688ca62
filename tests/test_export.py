"""Export: every format from a tiny trained run, self-describing, parity-checked, resumable."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sportsedge.core.errors import InputError, UsageError
from sportsedge.core.formats import FORMATS

from conftest import LABELS
from isolation import run_python

pytestmark = pytest.mark.tensorflow  # trains or exports: needs the train extra


def test_every_format_exported_and_passes_parity(fresh_export):
    out, manifest, _ = fresh_export
    arts = manifest["artifacts"]
    assert sorted(arts) == sorted(f"tiny-{f.name}{f.ext}" for f in FORMATS.values() if f.in_all)
    for name, entry in arts.items():
        # The tiny model's colours are never near-tied: every format agrees with Keras on all images.
        assert entry["status"] == "passed" and entry["parity"]["agreement"] == 1.0, (name, entry["parity"])
        assert (out / name).stat().st_size == entry["size_bytes"]
        assert (out / (name + ".json")).is_file()
        assert len(entry["sha256"]) == 64 and entry["seconds"] >= 0
        fmt = FORMATS[entry["format"]]
        p = entry["parity"]
        if fmt.max_abs_diff is not None:
            assert p["max_abs_diff"] <= fmt.max_abs_diff
        assert p["agreement"] >= fmt.min_agreement and p["n"] == 9


def test_int8_tflite_takes_raw_uint8_pixels(fresh_export):
    from ai_edge_litert.interpreter import Interpreter

    out, _, _ = fresh_export
    interp = Interpreter(model_path=str(out / "tiny-tflite-int8.tflite"))
    d = interp.get_input_details()[0]
    assert d["dtype"] == np.uint8 and d["quantization"] == (1.0, 0)
    assert interp.get_output_details()[0]["dtype"] == np.uint8


def test_artifacts_load_without_tensorflow_and_carry_labels(fresh_export):
    out, manifest, _ = fresh_export
    paths = [str(out / n) for n in manifest["artifacts"]]
    code = (
        "import numpy as np\nfrom sportsedge.runtime import Classifier\n"
        f"for p in {paths!r}:\n"
        "    clf = Classifier.load(p)\n"
        f"    assert clf.labels == {tuple(sorted(LABELS))!r}, (p, clf.labels)\n"
        "    assert clf.metadata.model_name == 'tiny' and clf.metadata.input_size == (32, 32)\n"
        "    top = clf.predict(np.full((32, 32, 3), (0, 0, 230), np.uint8), top_k=1)[0]\n"
        "    assert top.label == 'blue', (p, top)\n"
        "print('ok')\n"
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_rerun_skips_unchanged_and_force_redoes(fresh_export, tiny_run):
    from sportsedge.export.config import ExportConfig
    from sportsedge.export.run import export, parse_formats

    out, manifest, _ = fresh_export
    messages = []
    again = export(
        [tiny_run], parse_formats("tflite-fp32,onnx-fp32"), out, ExportConfig(calibration_size=30), say=messages.append
    )
    assert all("unchanged, skipped" in m for m in messages) and len(messages) == 2
    assert again["artifacts"] == manifest["artifacts"]
    messages.clear()
    export(
        [tiny_run],
        parse_formats("tflite-fp32"),
        out,
        ExportConfig(calibration_size=30, force=True),
        say=messages.append,
    )
    assert any("converting" in m for m in messages)


def test_progress_is_ours_not_converter_spam(fresh_export):
    out, _, said = fresh_export
    # a killed export elsewhere on the machine (its temporary files in the shared temp dir) is
    # cleaned up by this one, which says so in one line of its own
    messages = [m for m in said if not m.startswith("removed ")]
    assert len(messages) == 2 * sum(f.in_all for f in FORMATS.values())
    assert all(m.startswith("[") for m in messages)
    assert (out / "export.log").stat().st_size > 0  # the converters' chatter went here


def test_unknown_format_one_line():
    from sportsedge.export.run import parse_formats

    with pytest.raises(UsageError, match="unknown format 'tflite-int4'; choose from all, tflite, onnx, tflite-fp32"):
        parse_formats("tflite-fp32,tflite-int4")


def test_corrupt_calibration_folder(tmp_path, tiny_run):
    from sportsedge.export.config import ExportConfig
    from sportsedge.export.run import export, parse_formats

    bad = tmp_path / "calib"
    (bad / "red").mkdir(parents=True)
    for i in range(3):
        (bad / "red" / f"{i}.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(InputError, match="none of the 3 calibration images could be read"):
        export(
            [tiny_run],
            parse_formats("tflite-int8"),
            tmp_path / "out",
            ExportConfig(calibration=bad),
            say=lambda m: None,
        )
    with pytest.raises(InputError, match="calibration folder not found"):
        export(
            [tiny_run],
            parse_formats("onnx-int8"),
            tmp_path / "out",
            ExportConfig(calibration=tmp_path / "nope"),
            say=lambda m: None,
        )


def test_failed_parity_is_recorded_and_exits_nonzero(tmp_path, tiny_run, capsys, monkeypatch):
    from dataclasses import replace

    from sportsedge.cli import main
    from sportsedge.core.formats import FORMATS

    # A floor no export can reach (--min-agreement itself is a fraction, at most 1).
    monkeypatch.setitem(FORMATS, "tflite-int8", replace(FORMATS["tflite-int8"], min_agreement=1.01))
    out = tmp_path / "strict"
    argv = ["export", str(tiny_run), "--out", str(out), "--formats", "tflite-int8", "--calibration-size", "20"]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 1
    entry = json.loads((out / "manifest.json").read_text())["artifacts"]["tiny-tflite-int8.tflite"]
    # kept in attempts/, not under its final name beside the passing files
    assert entry["status"] == "FAILED" and entry["path"] == "attempts/tiny-tflite-int8.tflite"
    assert (out / "attempts/tiny-tflite-int8.tflite").is_file() and not (out / "tiny-tflite-int8.tflite").exists()
    assert "parity check FAILED" in err and "Traceback" not in err
    # the same inputs fail the same way: skipped on a re-run, still reported, still exit 1
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 1 and "unchanged, skipped (parity FAILED)" in err and "parity check FAILED" in err


def test_cli_unknown_format_exits_2(tiny_run, tmp_path, capsys):
    from sportsedge.cli import main

    assert main(["export", str(tiny_run), "--out", str(tmp_path), "--formats", "tflite-bogus"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_exit_status_counts_only_the_formats_asked_for(tmp_path, tiny_run, capsys, monkeypatch):
    from dataclasses import replace

    from sportsedge.cli import main
    from sportsedge.core.formats import FORMATS

    monkeypatch.setitem(FORMATS, "tflite-int8", replace(FORMATS["tflite-int8"], min_agreement=1.01))

    out = tmp_path / "out"
    assert (
        main(
            [
                "export",
                str(tiny_run),
                "--out",
                str(out),
                "--formats",
                "tflite-int8",
                "--calibration-size",
                "8",
                "--remedies",
                "none",
            ]
        )
        == 1
    )
    capsys.readouterr()
    # The FAILED int8 entry stays in the manifest, but this command only asked for float32.
    assert main(["export", str(tiny_run), "--out", str(out), "--formats", "tflite-fp32"]) == 0
    assert "FAILED" not in capsys.readouterr().err
