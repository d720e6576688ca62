"""The runtime runs with TensorFlow impossible to import (as on a device with `pip install sportsedge`)."""

from __future__ import annotations

from isolation import run_python as run_blocked


def test_blocking_really_blocks():
    proc = run_blocked("import tensorflow\n")
    assert proc.returncode != 0 and "import of tensorflow halted" in proc.stderr


def test_runtime_predicts_tflite_and_onnx_without_tensorflow(labelled_models):
    body = (
        "import numpy as np\n"
        "from sportsedge.runtime import Classifier\n"
        f"paths = {[str(p) for p in labelled_models.values()]!r}\n"
        "for p in paths:\n"
        "    clf = Classifier.load(p)\n"
        "    for i, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):\n"
        "        img = np.full((32, 32, 3), colour, np.uint8)\n"
        "        top = clf.predict(img, top_k=1)[0]\n"
        "        assert top.index == i and top.label == ('red', 'green', 'blue')[i], (p, top)\n"
        "assert sys.modules['tensorflow'] is None and sys.modules['torch'] is None\n"
        "print('ok', len(paths))\n"
    )
    proc = run_blocked(body)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok 3"
