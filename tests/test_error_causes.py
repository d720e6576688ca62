"""Errors keep their causes: one line for the user, the whole chain under SPORTSEDGE_DEBUG=1."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from sportsedge.cli import main

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture
def damaged(tmp_path):
    model = tmp_path / "damaged.onnx"
    model.write_bytes(b"\x08\x07\x72\xff\xff\x03" + bytes(range(200)))  # a protobuf field running past the end
    photo = tmp_path / "photo.png"
    Image.new("RGB", (32, 32)).save(photo)
    return model, photo


def test_a_runtime_error_is_one_line_without_debug(damaged, capsys, monkeypatch):
    monkeypatch.delenv("SPORTSEDGE_DEBUG", raising=False)
    assert main(["predict", *map(str, damaged)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {damaged[0]}: not a valid onnx model")


def test_debug_prints_the_cause_then_the_same_line(damaged, capsys, monkeypatch):
    monkeypatch.delenv("SPORTSEDGE_DEBUG", raising=False)
    main(["predict", *map(str, damaged)])
    line = capsys.readouterr().err
    monkeypatch.setenv("SPORTSEDGE_DEBUG", "1")
    assert main(["predict", *map(str, damaged)]) == 2
    err = capsys.readouterr().err
    assert "MalformedModel" in err  # the runtime's parser error underneath
    assert "The above exception was the direct cause of the following exception" in err
    assert err.endswith(line)  # and the user's one line, unchanged, last


def test_from_none_is_rare_and_explained():
    dropped = []
    for path in SRC.rglob("*.py"):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.rstrip().endswith("from None") and not line.lstrip().startswith("#"):
                why = any("# from None:" in before for before in lines[max(0, i - 4) : i])
                dropped.append((f"{path.relative_to(SRC)}:{i + 1}", why))
    assert 0 < len(dropped) <= 5, f"{len(dropped)} raises drop their cause: {dropped}"
    assert all(why for _, why in dropped), f"a `from None` without a comment saying why: {dropped}"
