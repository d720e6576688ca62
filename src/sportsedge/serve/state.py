"""`serve --state-dir DIR`: the last verified model, kept where a bad update cannot reach it.

After every load whose golden check passes (at start, on reload), the served file is copied into
DIR and DIR/state.json records where it came from. On a restart:

- a model reloaded by path is served again (the state names it), not the command line's MODEL;
- if the file to serve cannot be loaded or fails its golden check (a damaged copy over it, a bad
  update), the last verified copy in DIR is served instead, with one warning line naming both.

A kill at any point leaves DIR consistent: the copy is written under a temporary name, hashed as
it is written and renamed to a name carrying its digest (model-<sha256>.tflite); state.json is
replaced (renamed over) only after that, and the copy it named before is removed only after
that. So state.json always names a whole copy whose digest it records, and a start removes
whatever a killed writer left: temporary files and copies state.json does not name.

Without --state-dir a file that cannot be served stops the start (exit 2, one line): a
supervisor's restart loop then shows the same line each time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sportsedge.core.builtin import resolve
from sportsedge.core.errors import ModelError, UsageError, in_words
from sportsedge.util import fileio

STATE = "state.json"
KEPT = ("model-", "last-good.")  # names of kept copies (last-good.*: before copies were named by digest)


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
            copy = Path(data["copy"])
            found = Remembered(Path(data["source"]), self.folder / copy, str(data["sha256"]), str(data["model"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return found if copy.name == data["copy"] and found.copy.is_file() else None

    def tidy(self) -> list[Path]:
        """At start: remove what a killed server left (temporary files, copies state.json does not
        name). Returns what was removed."""
        if not self.folder.is_dir():
            return []
        removed = fileio.remove_stale(self.folder)
        for entry in self.folder.glob(f"{fileio.TMP_PREFIX}{os.getpid()}-*"):  # a dead writer had our pid
            with contextlib.suppress(OSError):
                entry.unlink()
                removed.append(entry)
        known = self.recall()
        return removed + (self._drop_copies(but=known.copy) if known is not None else [])

    def remember(self, served: Any, source: Path, model: str) -> None:
        """Keep a copy of ``served`` (a Served whose golden check passed), loaded from ``source``
        (``served.path`` itself, or the file it stands in for), and record it."""
        suffix = served.path.suffix.lower() if served.path.suffix.lower() in (".tflite", ".onnx") else ".tflite"
        kept = self.folder / f"model-{served.sha256}{suffix}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if served.path.resolve() != kept.resolve():
                _copy_checked(served.path, kept, served.sha256)
            record = {"source": str(source), "copy": kept.name, "sha256": served.sha256, "model": model}
            with fileio.atomic_path(self.folder / STATE) as tmp:  # renamed over the old one: never half
                _write_synced(tmp, (json.dumps(record, indent=2) + "\n").encode())
            _sync_folder(self.folder)
        except OSError as err:
            raise UsageError(f"cannot keep the model in --state-dir {self.folder}: {in_words(err)}") from err
        self._drop_copies(but=kept)

    def _drop_copies(self, but: Path) -> list[Path]:
        removed = []
        for entry in self.folder.iterdir():
            if entry.name.startswith(KEPT) and entry.name != but.name:
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed.append(entry)
        return removed


def _copy_checked(src: Path, kept: Path, sha256: str) -> None:
    """Copy ``src`` to ``kept`` (a temporary name in its folder, renamed when whole and synced),
    hashing what is copied: one read, and a file changed since its load is never kept."""
    digest = hashlib.sha256()
    with fileio.atomic_path(kept) as tmp, open(src, "rb") as f, open(tmp, "wb") as out:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())  # a power cut after the rename keeps a whole file, not an empty one
        if digest.hexdigest() != sha256:
            raise OSError(0, f"{src} changed since it was loaded (sha256 {digest.hexdigest()[:12]}, not {sha256[:12]})")


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _sync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable (a power cut, not only a kill)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def first_served(config: Any, state: StateDir | None, say: Callable[[str], None]) -> tuple[Any, Path]:
    """(the Served to start with, the file it stands for): the command line's MODEL, or the path
    last reloaded (same MODEL, --state-dir), or that file's last verified copy when it no longer
    loads or passes its golden check. ModelError when nothing can be served."""
    from sportsedge.serve.pool import load_served

    if state is not None:
        state.tidy()  # what a killed server left: a restart after every kill starts clean
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
        kept = load_served(known.copy, config)
        if kept.sha256 != known.sha256:  # checked when it was written: damaged on disk since
            raise ModelError(known.copy, f"damaged: sha256 {kept.sha256[:12]}, state.json has {known.sha256[:12]}")
        return kept, source
    if served is None:
        raise error  # type: ignore[misc]  # set whenever served is None
    return served, source  # not ready: the server starts and says so, /readyz answers 503
