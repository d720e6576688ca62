"""Video files and the live-camera loop, with the tiny colour model (needs the video extra: PyAV)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from sportsedge.cli import main

from conftest import LABELS, noisy, solid

pytest.importorskip("av", reason="the video extra (PyAV) is not installed")


@pytest.fixture(scope="session")
def clip(tmp_path_factory):
    """3 s at 10 frames/s: red, green, blue for one second each (noisy, as a camera sees them)."""
    from sportsedge.clips import write_clip

    path = tmp_path_factory.mktemp("video") / "colours.mp4"
    return write_clip(path, [(noisy(c, seed=i, size=(32, 32)), 1.0) for i, c in enumerate(LABELS)], (64, 64), fps=10)


@pytest.fixture
def images(tmp_path):
    from PIL import Image

    folder = tmp_path / "stills"
    folder.mkdir()
    for c in ("red", "green"):
        Image.fromarray(solid(c)).save(folder / f"{c}.png")
    return folder


def _run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def test_segments_and_json_fields(labelled_models, clip, capsys):
    code, out, err = _run(capsys, "predict", labelled_models["tflite-int8"], clip, "--json", "--smooth", "1")
    assert code == 0 and err == ""
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["label"] for r in rows] == list(LABELS)
    for r in rows:
        assert set(r) == {"path", "start_s", "end_s", "label", "score"} and r["path"] == str(clip)
        assert 0.9 < r["score"] <= 1.0
    assert [(r["start_s"], r["end_s"]) for r in rows] == [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]


def test_text_output_frames_and_smoothing(labelled_models, clip, capsys):
    code, out, _ = _run(capsys, "predict", labelled_models["onnx-fp32"], clip)
    lines = out.splitlines()
    assert code == 0 and lines[0] == f"{clip}  (30 frames classified)"
    assert lines[1].split()[:2] == ["00:00.0-00:01.2", "red"]  # the 5-frame mean switches 2 frames late
    assert [line.split()[1] for line in lines[1:]] == list(LABELS)
    code, out, _ = _run(capsys, "predict", labelled_models["onnx-fp32"], clip, "--json", "--frames", "--every", "3")
    rows = [json.loads(line) for line in out.splitlines()]
    frames = [r for r in rows if "t_s" in r]
    assert [r["t_s"] for r in frames] == pytest.approx([0.3 * i for i in range(10)])
    assert set(frames[0]) == {"path", "t_s", "label", "score"} and len(rows) == 10 + 3


def test_fps_option(labelled_models, clip, capsys):
    code, out, _ = _run(capsys, "predict", labelled_models["onnx-fp32"], clip, "--json", "--frames", "--fps", "2")
    times = [r["t_s"] for r in map(json.loads, out.splitlines()) if "t_s" in r]
    assert code == 0 and times == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])


def test_truncated_video_keeps_what_came_before(labelled_models, clip, tmp_path, images, capsys):
    cut = tmp_path / "cut.mp4"
    data = clip.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.75)])
    code, out, err = _run(capsys, "predict", labelled_models["tflite-fp32"], cut, images / "red.png", "--smooth", "1")
    assert code == 1
    assert err.count("\n") == 1 and err.startswith(f"error: {cut}: ") and "truncated" in err
    lines = out.splitlines()
    assert lines[0].startswith(f"{cut}  (") and lines[1].split()[1] == "red"  # segments before the damage
    assert str(images / "red.png") in out  # the image after it in the same call still ran


def test_a_folder_with_images_and_a_video(labelled_models, clip, tmp_path, capsys):
    import shutil

    from PIL import Image

    shutil.copy(clip, tmp_path / "a.mp4")
    Image.fromarray(solid("blue")).save(tmp_path / "b.png")
    code, out, _ = _run(capsys, "predict", labelled_models["tflite-int8"], tmp_path, "--top-k", "1")
    assert code == 0 and "a.mp4  (30 frames classified)" in out and "1. blue" in out


def test_without_the_video_extra_images_still_run(labelled_models, clip, images):
    code = (
        "import sys\nsys.modules['av'] = None\n"
        "from sportsedge.cli import main\n"
        f"sys.exit(main(['predict', {str(labelled_models['tflite-int8'])!r}, {str(clip)!r}, "
        f"{str(images / 'green.png')!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1 and "1. green" in proc.stdout
    assert proc.stderr.count("\n") == 1 and 'pip install "sportsedge[video]"' in proc.stderr


def test_an_unreadable_video(labelled_models, tmp_path, capsys):
    bad = tmp_path / "not.mp4"
    bad.write_bytes(b"\0" * 100)
    code, _, err = _run(capsys, "predict", labelled_models["tflite-int8"], bad)
    assert code == 1 and err.count("\n") == 1 and "not.mp4: not a readable video" in err


class _Slow:
    """A classifier that takes ``delay`` seconds per frame: slower than the camera."""

    def __init__(self, clf, delay):
        self.clf, self.delay, self.labels = clf, delay, clf.labels

    def preprocess(self, px):
        return self.clf.preprocess(px)

    def scores(self, x):
        time.sleep(self.delay)
        return self.clf.scores(x)


def test_camera_loop_drops_stale_frames(labelled_models, tmp_path):
    from sportsedge.clips import write_clip
    from sportsedge.runtime import Classifier
    from sportsedge.runtime.camera import playback_source, run_camera

    fast = write_clip(tmp_path / "fast.mp4", [(solid(c), 0.5) for c in LABELS], (32, 32), fps=60)  # 90 frames
    clf = _Slow(Classifier.load(labelled_models["tflite-int8"]), delay=0.04)
    seen = []
    stats = run_camera(clf, playback_source(fast), smooth=1, on_frame=lambda label, score, s: seen.append(label))
    assert stats.grabbed == 90 and stats.classified + stats.dropped == stats.grabbed
    assert stats.dropped > 30 and 10 <= stats.classified < 60  # about one frame in three gets classified
    # Always the newest: classified frames are spread over the whole clip, never a backlog at the end.
    assert stats.times == sorted(stats.times) and stats.times[-1] > 1.3 and np.diff(stats.times).max() < 0.3
    assert seen[0] == "red" and seen[-1] == "blue" and set(seen) == set(LABELS)
    assert "frames classified" in stats.summary() and "stale frames dropped" in stats.summary()


def test_camera_stops_after_seconds(labelled_models, tmp_path):
    from sportsedge.clips import write_clip
    from sportsedge.runtime import Classifier
    from sportsedge.runtime.camera import playback_source, run_camera

    slow = write_clip(tmp_path / "slow.mp4", [(solid(c), 2.0) for c in LABELS], (32, 32), fps=10)
    t0 = time.monotonic()
    stats = run_camera(Classifier.load(labelled_models["tflite-int8"]), playback_source(slow), seconds=0.5)
    assert time.monotonic() - t0 < 2.0 and 0 < stats.classified <= 7


def test_cli_camera_on_a_played_back_file(labelled_models, clip, capsys):
    code, out, err = _run(capsys, "predict", labelled_models["tflite-int8"], "--camera", clip, "--seconds", "5")
    assert code == 0 and out.count("\n") == 1 and "frames classified in" in out and "most seen: " in out
    assert all(c in out for c in LABELS)  # the three colours went by
    assert err.count("\n") >= 1 and "frames/s" in err  # live lines (one a second when not a terminal)
