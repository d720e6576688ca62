"""Atomic writes: a crash or Ctrl-C never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask_by_setting() -> int:
    mask = os.umask(0o022)  # the only portable way to read it is to set it: never while threads run
    os.umask(mask)
    return mask


_IMPORT_UMASK = _umask_by_setting()  # at import: one thread; used where /proc is not there


def current_umask() -> int:
    """The process umask, read without changing it (Linux: /proc/self/status), so it is thread-safe."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return _IMPORT_UMASK


TMP_PREFIX = ".tmp-"  # + the writer's pid + "-": a later run removes the files of a dead writer


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed over ``path``. A full
    disk is DiskFull naming ``path``; the temporary file is removed on any error."""
    from sportsedge.core.errors import DiskFull

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temp name ends with the target's name: savers that insist on a suffix
    # (".keras", ".weights.h5") accept it.
    fd, name = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=f"-{path.name}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    # mkstemp makes 0600 files; outputs should get the permissions a plain open() would.
    os.chmod(tmp, 0o666 & ~current_umask())
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(path) from err
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def remove_stale(folder: str | os.PathLike, prefix: str = TMP_PREFIX) -> list[Path]:
    """Remove what writers that are no longer running left in ``folder`` (killed: no cleanup ran):
    entries named ``prefix`` + a dead pid + "-". Returns what was removed."""
    removed = []
    for entry in Path(folder).glob(f"{prefix}*"):
        pid = entry.name[len(prefix) :].split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def fingerprint(settings, parts=()) -> str:
    """Hex sha256 of ``settings`` as canonical JSON followed by each string of ``parts``: the key
    deciding whether finished work (an export, a pipeline stage, a feature cache) can be reused."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for part in parts:
        h.update(part.encode())
    return h.hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
