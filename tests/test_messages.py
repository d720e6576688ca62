"""Messages that point to the fix, and the small defects a new user found (issue 25, item 9)."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest
from PIL import Image

from sportsedge.cli import main

from conftest import LABELS, solid


def _run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(solid("blue")).save(path)
    return path


def test_predict_on_a_run_folder_or_keras_file_says_export_first(tiny_run, photo, capsys):
    code, _, err = _run(capsys, "predict", tiny_run, photo)
    assert code == 2 and err.count("\n") == 1
    assert "a training run folder, not a model file: export it first: sportsedge export" in err
    code, _, err = _run(capsys, "predict", tiny_run / "model.keras", photo)
    assert code == 2 and "a Keras model, which the runtime does not load: export it first" in err


def test_bench_on_a_folder_without_models_names_it(tmp_path, capsys):
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    code, _, err = _run(capsys, "bench", empty, "--data", tmp_path, "--out", tmp_path / "b")
    assert code == 2 and f"{empty}: no .tflite or .onnx files in this folder" in err


def test_label_scale_names_the_option(labelled_models, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["label", str(labelled_models["onnx-fp32"]), "--labels", str(tmp_path), "--scale", "2,2"])
    assert exc.value.code == 2 and "argument --scale: takes 1 number or 3 (R,G,B), got 2" in capsys.readouterr().err


def test_data_check_on_a_split_folder_says_so(colour_dataset, capsys):
    code, out, err = _run(capsys, "data", "check", colour_dataset / "valid")
    assert code == 1 and "a single split (3 class folders), not a dataset" in err and "0 classes" not in out


def test_a_damaged_onnx_file_prints_one_line_and_nothing_on_stdout(tiny_models, tmp_path, photo, capsys):
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(tiny_models["onnx-fp32"].read_bytes()[:-40])  # no metadata of ours: onnxruntime decides
    code, out, err = _run(capsys, "predict", bad, photo, "--json")
    assert code == 2 and out == "" and err.count("\n") == 1 and "EP Error" not in err and "cut.onnx" in err


def test_compare_keeps_rows_only_the_second_file_has(tmp_path, capsys):
    def results(folder, rows):
        folder.mkdir()
        (folder / "results.json").write_text(json.dumps({"rows": rows}))
        return folder / "results.json"

    row = {"model": "m", "format": "tflite-int8", "threads": 1, "latency_ms_p50": 2.0}
    a = results(tmp_path / "a", [row])
    b = results(tmp_path / "b", [{**row, "latency_ms_p50": 3.0}, {**row, "threads": 2, "latency_ms_p50": 1.5}])
    for first, second in ((a, b), (b, a)):
        code, out, _ = _run(capsys, "bench", "--compare", first, second)
        table = [line for line in out.splitlines() if line.startswith("| m ")]
        assert code == 0 and len(table) == 2, out  # the threads=2 row, whichever file has it


def test_label_force_keeps_what_is_not_given_again(labelled_models, tmp_path, capsys):
    from sportsedge.runtime import Classifier

    path = tmp_path / "m.onnx"
    shutil.copy(labelled_models["onnx-fp32"], path)
    labels = tmp_path / "labels.txt"
    labels.write_text("r\ng\nb\n")
    assert main(["label", str(path), "--labels", str(labels), "--preprocess", "unit", "--force"]) == 0
    labels.write_text("rouge\nvert\nbleu\n")
    assert main(["label", str(path), "--labels", str(labels), "--force"]) == 0  # no --preprocess this time
    meta = Classifier.load(path, verify=False).metadata
    assert meta.labels == ("rouge", "vert", "bleu") and meta.input_transform.name == "unit"
    capsys.readouterr()


def test_out_with_a_trailing_slash_prints_one_slash(tiny_run, tmp_path, capsys):
    out = f"{tmp_path / 'exports'}/"
    code, stdout, _ = _run(capsys, "export", tiny_run, "--out", out, "--formats", "tflite-fp32", "--parity-size", "3")
    assert code == 0 and stdout.strip().endswith("exports/manifest.json") and "//" not in stdout


def test_export_refuses_user_model_options_for_a_run(tiny_run, tmp_path, capsys):
    code, _, err = _run(capsys, "export", tiny_run, "--out", tmp_path, "--labels", tmp_path, "--formats", "tflite-fp32")
    assert code == 2 and "--labels describe your own model; a run folder" in err


def test_camera_json_prints_a_json_summary(labelled_models, tmp_path, capsys):
    pytest.importorskip("av", reason="the video extra (PyAV) plays the clip as a camera")
    from sportsedge.data.clips import write_clip

    clip = write_clip(tmp_path / "c.mp4", [(solid(c), 0.3) for c in LABELS], (32, 32), fps=10)
    code, out, _ = _run(capsys, "predict", labelled_models["tflite-int8"], "--camera", clip, "--json")
    summary = json.loads(out)
    assert code == 0 and summary["camera"] == str(clip) and summary["frames_classified"] >= 1


def test_select_re_anchors_after_a_timestamp_gap():
    from sportsedge.core.video_options import VideoOptions
    from sportsedge.runtime.video import select

    times = [i / 30 for i in range(31)] + [10 + i / 30 for i in range(31)]  # 0..1 s, then 10..11 s
    picked = [t for t, _ in select(((t, None) for t in times), VideoOptions(fps=2))]
    assert picked == pytest.approx([0.0, 0.5, 1.0, 10.0, 10.5, 11.0])  # not 20 frames in a row after the jump


def test_a_video_stopped_early_stops_its_decoder_thread():
    from sportsedge.runtime.video import _prefetched

    closed = threading.Event()

    def frames():
        try:
            for i in range(10_000):
                yield i, np.zeros(1)
        finally:
            closed.set()  # as decode()'s `with container:` would close the file

    before = threading.active_count()
    stream = _prefetched(frames(), depth=2)
    assert [next(stream)[0] for _ in range(3)] == [0, 1, 2]
    stream.close()  # the consumer stops early
    assert closed.wait(5) and threading.active_count() == before


def test_bench_says_what_one_image_is_worth_and_checks_each_file(exported, colour_dataset, tmp_path, capsys):
    from sportsedge.runtime import Classifier, attach_metadata

    out, _, _ = exported
    model = out / "tiny-tflite-fp32.tflite"
    code, _, err = _run(capsys, "bench", model, "--data", colour_dataset / "test", "--out", tmp_path / "b",
                        "--threads", "1", "--runs", "2", "--rounds", "1", "--warmup", "0", "--e2e-runs", "1",
                        "--camera-runs", "0", "--throughput-images", "0")  # fmt: skip
    assert code == 0 and "9 images in" in err and "one image is 11.1 points of top-1" in err
    # A file whose engine computes something else (altered weights, sealed anew): bench stops at load.
    bad = tmp_path / "miscomputed.tflite"
    data = bytearray(model.read_bytes())
    meta = Classifier.load(model).metadata
    data[len(data) // 3] ^= 0x40
    bad.write_bytes(bytes(data))
    attach_metadata(bad, meta, sidecar=False)
    code, _, err = _run(capsys, "bench", bad, "--data", colour_dataset / "test", "--out", tmp_path / "c")
    assert code == 2 and err.strip().splitlines()[-1].startswith(f"error: {bad}: ")


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda d: d / "nothere", "no such file or directory"),
        (lambda d: d, "is a directory"),
        (lambda d: (d / "t").write_bytes(b"\xff\xfe\xfa") and d / "t", "not UTF-8 text"),
    ],
)
def test_token_file_errors_are_words(tmp_path, make, said):
    from sportsedge.core.errors import UsageError
    from sportsedge.serve.commands import read_token

    path = make(tmp_path)
    with pytest.raises(UsageError) as err:
        read_token(str(path))
    assert str(err.value) == f"{path}: cannot read the token file: {said}"


def test_a_broken_video_says_what_is_wrong_in_words(labelled_models, tmp_path, capsys):
    pytest.importorskip("av", reason="the video extra (PyAV)")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    code, _, err = _run(capsys, "predict", labelled_models["tflite-int8"], bad)
    assert code == 1 and err == f"error: {bad}: not a readable video: invalid data found when processing input\n"


def test_predict_json_has_one_record_per_input_in_order(labelled_models, photo, tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    missing = tmp_path / "missing.png"
    code, out, err = _run(capsys, "predict", labelled_models["tflite-int8"], photo, broken, missing, photo, "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and [r["path"] for r in rows] == [str(photo), str(broken), str(missing), str(photo)]
    assert "predictions" in rows[0] and "predictions" in rows[3]
    assert rows[1] == {"path": str(broken), "error": "not an image (unrecognised format)"}
    assert rows[2] == {"path": str(missing), "error": "no such file"}
    assert err.count("\n") == 2  # the error lines stay on stderr
