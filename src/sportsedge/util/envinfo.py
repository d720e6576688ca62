"""What machine and software produced a number: stored with every run and benchmark."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parent
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    """Library versions, machine and commit: stored with every run and benchmark."""
    import importlib.metadata as md

    versions = {}
    for pkg in (
        "sportsedge",
        "tensorflow",
        "keras",
        "numpy",
        "pillow",
        "ai-edge-litert",
        "onnxruntime",
        "tf2onnx",
        "onnx",
    ):
        with contextlib.suppress(md.PackageNotFoundError):
            versions[pkg] = md.version(pkg)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "versions": versions,
        "git_commit": git_commit(),
    }
