"""Video files and the live-camera loop, with the tiny colour model (needs the video extra: PyAV)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest

from sportsedge.cli import main

from conftest import LABELS, noisy, solid
from isolation import TIMEOUT_S

pytest.importorskip("av", reason="the video extra (PyAV) is not installed")


@pytest.fixture(scope="session")
def clip(tmp_path_factory):
    """3 s at 10 frames/s: red, green, blue for one second each (noisy, as a camera sees them)."""
    from sportsedge.data.clips import write_clip

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
    code, out, err = _run(capsys, "predict", labelled_models["tflite-int8"], clip, "--json", "--smooth", "0")
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
    # the 1 s window is centred on each frame of a file: the label switches where the colour does
    assert lines[1].split()[:2] == ["00:00.0-00:01.0", "red"]
    assert [line.split()[1] for line in lines[1:]] == list(LABELS)
    code, out, _ = _run(capsys, "predict", labelled_models["onnx-fp32"], clip, "--json", "--frames", "--every", "3")
    rows = [json.loads(line) for line in out.splitlines()]
    frames = [r for r in rows if "t_s" in r]
    assert [r["t_s"] for r in frames] == pytest.approx([0.3 * i for i in range(10)])
    assert set(frames[0]) == {"path", "t_s", "label", "score", "smoothed_label", "smoothed_score"}
    assert len(rows) == 10 + 3 and [r["label"] for r in frames] == ["red"] * 4 + ["green"] * 3 + ["blue"] * 3


def test_fps_option(labelled_models, clip, capsys):
    code, out, _ = _run(capsys, "predict", labelled_models["onnx-fp32"], clip, "--json", "--frames", "--fps", "2")
    times = [r["t_s"] for r in map(json.loads, out.splitlines()) if "t_s" in r]
    assert code == 0 and times == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])


def test_truncated_video_keeps_what_came_before(labelled_models, clip, tmp_path, images, capsys):
    cut = tmp_path / "cut.mp4"
    data = clip.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.75)])
    code, out, err = _run(capsys, "predict", labelled_models["tflite-fp32"], cut, images / "red.png", "--smooth", "0")
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
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 1 and "1. green" in proc.stdout
    assert proc.stderr.count("\n") == 1 and 'pip install "sportsedge[video]"' in proc.stderr


def test_an_unreadable_video(labelled_models, tmp_path, capsys):
    bad = tmp_path / "not.mp4"
    bad.write_bytes(b"\0" * 100)
    code, _, err = _run(capsys, "predict", labelled_models["tflite-int8"], bad)
    assert code == 1 and err.count("\n") == 1 and "not.mp4: not a readable video" in err


class _FakeClock:
    """Time that moves only when told: the camera loop's ``clock``."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _FakeModel:
    """A classifier stand-in: the frame's first pixel value picks the class; each frame advances
    the fake clock by ``cost`` seconds and releases the lockstep source."""

    labels = LABELS

    def __init__(self, clock=None, cost=0.0):
        self.clock, self.cost, self.done = clock, cost, threading.Semaphore(0)

    def preprocess(self, px):
        return px

    def scores(self, x):
        if self.clock is not None:
            self.clock.now += self.cost
        s = np.zeros((1, len(LABELS)), np.float32)
        s[0, int(x[0, 0, 0, 0]) % len(LABELS)] = 1.0
        self.done.release()
        return s


def _frame(cls: int) -> np.ndarray:
    return np.full((2, 2, 3), cls, np.uint8)


def test_the_newest_frame_replaces_older_ones():
    from sportsedge.runtime.camera import _Newest

    slot = _Newest()
    assert [slot.put(i) for i in range(3)] == [False, True, True]  # two replaced: counted as dropped
    assert slot.take(timeout=0) == 2 and slot.take(timeout=0) is None
    slot.close()
    assert slot.finished and slot.take(timeout=0) is None


def test_camera_loop_counts_in_lockstep_and_stops_on_its_clock():
    """A source that waits for each frame to be classified: exact counts, no wall time. The fake
    clock moves 0.25 s per classified frame, so --seconds 1 ends after exactly 4 frames."""
    from sportsedge.runtime.camera import run_camera

    clock = _FakeClock()
    model = _FakeModel(clock, cost=0.25)

    def source():
        for i in range(100):
            yield i / 30, _frame(i // 2)
            model.done.acquire()  # the next frame only once this one was classified

    seen = []
    stats = run_camera(model, source, smooth=0, seconds=1.0, clock=clock, on_frame=lambda lab, s, st: seen.append(lab))
    assert stats.classified == 4 and stats.dropped == 0 and stats.seconds == 1.0
    assert seen == ["red", "red", "green", "green"] and stats.last_t == pytest.approx(3 / 30)
    assert stats.labels == {"red": 2, "green": 2} and stats.latency.n == 4
    assert "4 frames classified in 1.0s" in stats.summary() and stats.to_dict()["frames_classified"] == 4


def test_camera_memory_stays_flat_over_a_simulated_hour():
    """An hour of 30 frames/s (108,000 frames, every one classified: the source waits for the model)
    holds no more memory than six minutes of them: the statistics stream (counters, a fixed
    histogram) and the smoothing window is bounded."""
    import tracemalloc

    from sportsedge.runtime.camera import run_camera

    frames = [_frame(c) for c in range(len(LABELS))]

    def run(n):
        model = _FakeModel()

        def source():
            for i in range(n):
                yield i / 30, frames[(i // 900) % len(frames)]  # a new scene every 30 s
                model.done.acquire()

        tracemalloc.start()
        stats = run_camera(model, source, smooth=2.0)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return stats, peak

    short, short_peak = run(10_800)
    hour, hour_peak = run(108_000)
    assert hour.grabbed == hour.classified == 108_000 and hour.dropped == 0 and hour.latency.n == 108_000
    assert set(hour.labels) == set(LABELS) and hour.last_t == pytest.approx(107_999 / 30)
    assert hour_peak - short_peak < 64 * 1024, (short_peak, hour_peak)


def test_latency_histogram_median():
    from sportsedge.runtime.camera import LatencyHistogram

    h = LatencyHistogram()
    assert h.quantile(0.5) is None
    for ms in [1.0] * 10 + [5.0] * 11 + [100.0] * 10:
        h.add(ms)
    assert h.n == 31 and h.last == 100.0 and h.quantile(0.5) == pytest.approx(5.0, rel=0.01)
    assert h.counts.size == LatencyHistogram.BINS  # the same size after any number of values


def test_cli_camera_on_a_played_back_file(labelled_models, clip, capsys):
    code, out, err = _run(capsys, "predict", labelled_models["tflite-int8"], "--camera", clip, "--seconds", "5")
    assert code == 0 and out.count("\n") == 1 and "frames classified in" in out and "most seen: " in out
    assert all(c in out for c in LABELS)  # the three colours went by
    assert err.count("\n") >= 1 and "frames/s" in err  # live lines (one a second when not a terminal)


def test_file_segments_start_where_the_scenes_change(labelled_models, tmp_path, capsys):
    """20 scenes of 3 s at 10 frames/s, the default --smooth 1: every boundary within one sampled
    frame (0.1 s) of the scene change. The camera's causal window put each 0.4-0.5 s late."""
    from sportsedge.data.clips import write_clip

    scenes = [LABELS[(i + i // 3) % 3] for i in range(20)]  # every scene a change, in no fixed cycle
    clip = write_clip(tmp_path / "scenes.mp4", [(solid(c), 3.0) for c in scenes], (32, 32), fps=10)
    code, out, _ = _run(capsys, "predict", labelled_models["tflite-int8"], clip, "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["label"] for r in rows] == scenes
    for i, r in enumerate(rows):
        assert abs(r["start_s"] - 3 * i) <= 0.1 + 1e-6, (i, r)
        assert abs(r["end_s"] - 3 * (i + 1)) <= 0.1 + 1e-6, (i, r)


def test_the_camera_smooths_causally(labelled_models):
    # A live camera cannot look ahead: its label follows a change about half the window later.
    from sportsedge.runtime import Classifier
    from sportsedge.runtime.video import Smoother

    clf = Classifier.load(labelled_models["tflite-int8"])
    smooth = Smoother(1.0)
    labels = [clf.labels[smooth.classify(clf, i / 10, solid("red" if i < 10 else "green"))[0][0]] for i in range(20)]
    first_green = labels.index("green") / 10
    assert 1.4 <= first_green <= 1.6  # the change is at 1.0 s


@pytest.mark.parametrize("fps", ["2", "1", "0.5"])
def test_smoothing_window_means_the_same_at_any_fps(labelled_models, tmp_path, capsys, fps):
    """8 scenes of 3 s: with the window in seconds every scene is kept at every --fps and each
    boundary is found within one selection interval (a 5-frame window lost scenes at --fps 1)."""
    from sportsedge.data.clips import write_clip

    scenes = [LABELS[i % 3] for i in (0, 1, 2, 0, 2, 1, 0, 1)]
    clip = write_clip(tmp_path / "scenes.mp4", [(solid(c), 3.0) for c in scenes], (32, 32), fps=10)
    code, out, _ = _run(capsys, "predict", labelled_models["tflite-int8"], clip, "--json", "--fps", fps)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["label"] for r in rows] == scenes
    for i, r in enumerate(rows[1:], 1):
        assert 3 * i <= r["start_s"] <= 3 * i + 1 / float(fps) + 1e-6, (i, r)
