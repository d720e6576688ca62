"""Child Pythons for the tests: the one way to run code with modules made impossible to import
(as on a device with `pip install sportsedge`), always with a timeout."""

from __future__ import annotations

import subprocess
import sys

# Never on a device: the TensorFlow side and the PyTorch side (export of PyTorch models only).
TENSORFLOW_SIDE = ("tensorflow", "keras", "tf_keras", "tf2onnx", "torch", "litert_torch", "jax")
TIMEOUT_S = 300  # any child the tests start ends by then, or the test fails


def blocking(modules: tuple[str, ...] = TENSORFLOW_SIDE) -> str:
    """Code that makes ``modules`` fail to import ("import of X halted; None in sys.modules")."""
    return f"import sys\nfor _m in {tuple(modules)!r}:\n    sys.modules[_m] = None\n"


def run_python(body: str, blocked: tuple[str, ...] = TENSORFLOW_SIDE, timeout: float = TIMEOUT_S, **kw):
    """``python -c body`` with ``blocked`` unimportable; stdout and stderr captured as text."""
    return subprocess.run(
        [sys.executable, "-c", blocking(blocked) + body], capture_output=True, text=True, timeout=timeout, **kw
    )
