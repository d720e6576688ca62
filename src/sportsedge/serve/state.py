"""`serve --state-dir DIR`: the last verified model, kept where a bad update cannot reach it.

After every load whose golden check passes (at start, on reload), the served file is copied into
DIR (atomically) and DIR/state.json records where it came from. On a restart:

- a model reloaded by path is served again (the state names it), not the command line's MODEL;
- if the file to serve cannot be loaded or fails its golden check (a damaged copy over it, a bad
  update), the last verified copy in DIR is served instead, with one warning line naming both.

Without --state-dir a file that cannot be served stops the start (exit 2, one line): a
supervisor's restart loop then shows the same line each time.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sportsedge.core.builtin import resolve
from sportsedge.core.errors import ModelError, UsageError, in_words
from sportsedge.util import fileio

STATE = "state.json"


@dataclass(frozen=True)
class Remembered:
    """What DIR/state.json says."""

    source: Path  # the file that was served (as given at start or to reload)
    copy: Path  # its verified copy inside the state dir
    sha256: str  # of both
    model: str  # the command line's MODEL then: a new one on the command line wins over the state


class StateDir:
    """The state folder of one server."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def recall(self) -> Remembered | None:
        """The last verified model, or None (no state yet, or a state whose copy is gone)."""
        try:
            data = json.loads((self.folder / STATE).read_text())
            found = Remembered(
                Path(data["source"]), self.folder / data["copy"], str(data["sha256"]), str(data["model"])
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return found if found.copy.is_file() else None

    def remember(self, served: Any, source: Path, model: str) -> None:
        """Keep a copy of ``served`` (a Served whose golden check passed), loaded from ``source``
        (``served.path`` itself, or the file it stands in for), and record it."""
        name = f"last-good{served.path.suffix}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if served.path.resolve() != (self.folder / name).resolve():
                with fileio.atomic_path(self.folder / name) as tmp:
                    shutil.copyfile(served.path, tmp)
            record = {"source": str(source), "copy": name, "sha256": served.sha256, "model": model}
            fileio.write_json(self.folder / STATE, record)
        except OSError as err:
            raise UsageError(f"cannot keep the model in --state-dir {self.folder}: {in_words(err)}") from err


def first_served(config: Any, state: StateDir | None, say: Callable[[str], None]) -> tuple[Any, Path]:
    """(the Served to start with, the file it stands for): the command line's MODEL, or the path
    last reloaded (same MODEL, --state-dir), or that file's last verified copy when it no longer
    loads or passes its golden check. ModelError when nothing can be served."""
    from sportsedge.serve.pool import load_served

    known = state.recall() if state is not None else None
    source = resolve(config.model)
    if known is not None and known.model == config.model and known.source != source:
        say(f"serving {known.source}, reloaded before the restart (--state-dir), not {source}")
        source = known.source
    served, error = None, None
    try:
        served = load_served(source, config)
    except ModelError as err:
        error = err
    problem = str(error) if served is None else served.reason
    if problem and known is not None and (served is None or served.sha256 != known.sha256):
        say(f"warning: {problem}; serving the last verified copy {known.copy} (sha256 {known.sha256[:12]})")
        return load_served(known.copy, config), source
    if served is None:
        raise error  # type: ignore[misc]  # set whenever served is None
    return served, source  # not ready: the server starts and says so, /readyz answers 503
