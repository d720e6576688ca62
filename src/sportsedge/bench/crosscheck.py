"""`bench --cross-check`: LiteRT's own benchmark CLI (`litert-benchmark`, shipped with ai-edge-litert)
on the same .tflite file with the same thread count, in the same round as our timing, so the two
medians face the same machine state."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TOOL = "litert-benchmark"
TIMEOUT_S = 600


def find_tool() -> str | None:
    """The CLI beside this Python (a venv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / TOOL
    return str(beside) if beside.is_file() else shutil.which(TOOL)


def litert_median_ms(tool: str, model: str, threads: int, runs: int, warmup: int) -> float | None:
    """LiteRT's median latency for one run of its benchmark; None when it fails (the reason is
    not ours to fix mid-bench: the row simply has no cross-check figure for that round)."""
    with tempfile.TemporaryDirectory(prefix="sportsedge-litert-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [tool, "--model", model, "--num_threads", str(threads), "--num_runs", str(runs)]
        cmd += ["--warmup_runs", str(warmup), "--result_json", str(out)]
        try:
            subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S, check=True)
            return float(json.loads(out.read_text())["latency"]["median_ms"])
        except (subprocess.SubprocessError, OSError, ValueError, KeyError):
            return None
