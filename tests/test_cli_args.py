"""The command line as users type it: options and paths in any order, numbers checked where they
are parsed, and options that would be ignored refused (exit 2, argparse's one-line error)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sportsedge.cli import build_parser, main

# Per subcommand: the same arguments with the options first and with them last, and what the
# positionals must come out as.
ORDERS = {
    "predict": (
        ["--top-k", "3", "--threads", "1"],
        ["m.tflite", "a.jpg", "b.jpg"],
        {"model": "m.tflite", "paths": ["a.jpg", "b.jpg"]},
    ),
    "verify": (["--threads", "2"], ["a.tflite", "b.onnx"], {"models": ["a.tflite", "b.onnx"]}),
    "bench": (["--data", "d", "--out", "o", "--runs", "5"], ["a.tflite", "x/"], {"models": ["a.tflite", "x/"]}),
    "evaluate": (["--split", "valid", "--limit-per-class", "2"], ["runs/x"], {"run_dir": "runs/x"}),
    "export": (
        ["--out", "o", "--formats", "tflite-fp32", "--parity-size", "5"],
        ["runs/a", "runs/b"],
        {"models": ["runs/a", "runs/b"]},
    ),
    "label": (["--labels", "l.txt", "--force"], ["m.onnx"], {"model": "m.onnx"}),
}


@pytest.mark.parametrize("command", sorted(ORDERS))
def test_options_and_positionals_in_any_order(command):
    options, positionals, expected = ORDERS[command]
    first, last = positionals[:1], positionals[1:]
    orders = (
        [command, *options, *positionals],  # options first
        [command, *positionals, *options],  # options last
        [command, *first, *options, *last],  # options between the model and the paths
    )
    for argv in orders:
        args = build_parser().parse_args(argv)
        assert {k: getattr(args, k) for k in expected} == expected, argv


def test_data_check_and_train_in_any_order():
    args = build_parser().parse_args(["data", "check", "--show-duplicates", "3", "some/dir"])
    assert args.dir == "some/dir" and args.show_duplicates == 3
    args = build_parser().parse_args(["train", "--data", "d", "--model", "cnn", "--out", "o", "--epochs", "2"])
    assert (args.model, args.epochs, args.learning_rate) == ("cnn", 2, None)


def test_predict_options_before_the_photo_classify_it(labelled_models, tmp_path, capsys):
    from PIL import Image

    from conftest import solid

    photo = tmp_path / "photo.png"
    Image.fromarray(solid("green")).save(photo)
    assert main(["predict", str(labelled_models["tflite-int8"]), "--top-k", "2", str(photo)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == str(photo) and out[1].split()[:2] == ["1.", "green"] and len(out) == 3


BAD = [
    (["predict", "m.tflite", "--fps", "0", "x.mp4"], "--fps: must be a positive number"),
    (["predict", "m.tflite", "--fps", "-1", "x.mp4"], "--fps: must be a positive number"),
    (["predict", "m.tflite", "--fps", "nan", "x.mp4"], "--fps: must be a positive number"),
    (["predict", "m.tflite", "--camera", "0", "--seconds", "-3"], "--seconds: must be a positive number"),
    (["predict", "m.tflite", "--camera", "0", "photo.jpg"], "--camera classifies the camera only"),
    (["predict", "m.tflite", "--seconds", "3", "clip.mp4"], "--seconds applies to --camera only"),
    (["predict", "m.tflite", "--camera", "0", "--fps", "2"], "--fps applies to video files"),
    (["predict", "m.tflite", "--smooth", "-1", "clip.mp4"], "--smooth: must be 0 or a positive number"),
    (["predict", "m.tflite", "--every", "2", "--fps", "2", "clip.mp4"], "not allowed with argument"),
    (["bench", "m", "--warmup", "-5"], "--warmup: must be 0 or more"),
    (["bench", "m", "--e2e-runs", "-1"], "--e2e-runs: must be 0 or more"),
    (["bench", "m", "--camera-runs", "-1"], "--camera-runs: must be 0 or more"),
    (["bench", "m", "--threads", "1,0"], "--threads: must be at least 1"),
    (["bench", "m", "--threads", "two"], "--threads: not a whole number"),
    (["train", "--model", "nope", "--data", "d", "--out", "o"], "--model: unknown model 'nope'"),
    (
        ["train", "--model", "cnn", "--data", "d", "--out", "o", "--learning-rate", "0"],
        "--learning-rate: must be a positive",
    ),
    (["train", "--model", "cnn", "--data", "d", "--out", "o", "--learning-rate", "-0.001"], "--learning-rate: must be"),
    (["train", "--model", "cnn", "--data", "d", "--out", "o", "--finetune-learning-rate", "0"], "must be a positive"),
    (["train", "--model", "cnn", "--data", "d", "--out", "o", "--label-smoothing", "1"], "--label-smoothing: must be"),
    (["train", "--model", "cnn", "--data", "d", "--out", "o", "--early-stopping", "-2"], "--early-stopping: must be 0"),
    (["export", "r", "--out", "o", "--max-drop", "-1"], "--max-drop: must be 0 or a positive number"),
    (["export", "r", "--out", "o", "--min-agreement", "1.5"], "--min-agreement: must be a fraction from 0 to 1"),
    (["export", "r", "--out", "o", "--qat-learning-rate", "0"], "--qat-learning-rate: must be a positive"),
    (["pipeline", "--data", "d", "--out", "o", "--models", "cnn,nope"], "--models: unknown model 'nope'"),
    (["pipeline", "--data", "d", "--out", "o", "--cache-features", "-1"], "--cache-features: must be 0 or more"),
    (["evaluate", "r", "--split", "tset"], "--split: invalid choice"),
    (["serve", "m.tflite", "--port", "70000"], "--port: must be a TCP port from 1 to 65535"),
    (["serve", "m.tflite", "--workers", "0"], "--workers: must be at least 1"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_numbers_and_combinations_exit_2_naming_the_option(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]  # after argparse's usage lines
    assert exc.value.code == 2 and len(errors) == 1 and message in errors[0] and err.startswith("usage: ")


def test_video_options_on_images_only_are_refused(labelled_models, tmp_path, capsys):
    from PIL import Image

    from conftest import solid

    photo = tmp_path / "photo.png"
    Image.fromarray(solid("red")).save(photo)
    for option in (["--fps", "2"], ["--smooth", "3"], ["--frames"], ["--every", "2"]):
        assert main(["predict", str(labelled_models["onnx-fp32"]), str(photo), *option]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "applies to video files and cameras; the inputs are images" in err


def test_a_typo_in_the_model_name_is_reported_before_tensorflow_loads():
    code = (
        "import sys\nfrom sportsedge.cli import main\n"
        "try:\n    main(['train', '--model', 'mobilenet_v3', '--data', 'd', '--out', 'o'])\n"
        "except SystemExit as e:\n    print(e.code, 'tensorflow' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["2", "False"] and "unknown model 'mobilenet_v3'" in proc.stderr


def test_train_learning_rate_zero_is_not_the_recipe_default():
    from sportsedge.core.errors import UsageError
    from sportsedge.train.config import TrainConfig

    rec = TrainConfig(model="cnn", data="d", out="o", learning_rate=5e-4, epochs=3).resolved()
    assert rec.learning_rate == 5e-4 and rec.epochs == 3
    with pytest.raises(UsageError, match=r"learning_rate \(--learning-rate\) must be a positive number, got 0.0"):
        TrainConfig(model="cnn", data="d", out="o", learning_rate=0.0)


@pytest.mark.parametrize(
    ("argv", "suggested"),
    [
        (["predict", "m.tflite", "--topk", "3"], "--top-k"),
        (["predict", "m.tflite", "--top_k", "3"], "--top-k"),
        (["predict", "m.tflite", "--jsn"], "--json"),
        (["export", "run", "--out", "o", "--max_drop", "1"], "--max-drop"),
    ],
)
def test_a_mistyped_option_is_suggested_with_the_subcommand_usage(argv, suggested, capsys):
    from sportsedge.cli import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err.startswith(f"usage: sportsedge {argv[0]} ")  # the subcommand's own usage
    assert err.strip().endswith(
        f"unrecognized option {argv[2] if argv[0] == 'predict' else argv[4]} (did you mean {suggested}?)"
    )


def test_format_families_stand_for_their_post_training_formats():
    from sportsedge.core.formats import FORMATS
    from sportsedge.export.run import parse_formats

    assert [f.name for f in parse_formats("onnx")] == ["onnx-fp32", "onnx-int8"]
    tflite = [f.name for f in parse_formats("tflite")]
    assert tflite == [f.name for f in FORMATS.values() if f.family == "tflite" and f.in_all]
    assert [f.name for f in parse_formats("tflite-int8,onnx,tflite-int8")] == ["tflite-int8", "onnx-fp32", "onnx-int8"]
