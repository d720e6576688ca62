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


_X86 = frozenset({"x86_64", "amd64", "i386", "i686", "x86"})
_VNNI = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})  # /proc/cpuinfo flags: 32-bit int8 dot sums


def cpu_flags() -> frozenset[str] | None:
    """The CPU's feature flags from /proc/cpuinfo, or None where it cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("flags", "features")):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def int8_dot(machine: str | None = None, flags: frozenset[str] | None = None) -> str:
    """How this CPU sums uint8 x int8 products: "vnni" (32-bit sums), "saturating" (x86 without
    VNNI: PMADDUBSW clamps each pair sum to 16 bits, 255*127*2 > 32767) or "not x86". An x86
    whose flags cannot be read counts as saturating: exact is slower, never wrong."""
    if (machine or platform.machine()).lower() not in _X86:
        return "not x86"
    flags = cpu_flags() if flags is None else flags
    return "vnni" if flags is not None and flags & _VNNI else "saturating"


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
        "int8_dot": int8_dot(),  # "saturating": onnxruntime runs int8 through its exact u8u8 kernels
        "versions": versions,
        "git_commit": git_commit(),
    }
