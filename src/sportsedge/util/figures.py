"""Figures as PNG files: matplotlib on its file-only backend, saved atomically (TF-free)."""

from __future__ import annotations

from pathlib import Path

from sportsedge.core.errors import MissingDependencyError
from sportsedge.util import fileio


def pyplot(needed_for: str = "figures"):
    """matplotlib.pyplot on the Agg backend (no display needed); a one-line error without it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise MissingDependencyError("matplotlib", None, f"needed for {needed_for}") from err
    return plt


def save_png(fig, path: Path, dpi: int = 100) -> None:
    """Write ``fig`` to ``path`` atomically, then free it."""
    with fileio.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
