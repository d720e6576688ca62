"""Errors the toolkit reports to users as one line (the CLI never shows a traceback for them)."""

from __future__ import annotations

import os


class SportsedgeError(Exception):
    """Base class: ``str(err)`` is a complete one-line message for the user."""


class UsageError(SportsedgeError):
    """Bad arguments or settings."""


class InputError(SportsedgeError):
    """An input file (image, dataset entry) that cannot be used; names the file."""

    def __init__(self, path: str | os.PathLike[str] | None, reason: str):
        self.path = None if path is None else os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


class DiskFull(SportsedgeError):
    """No space left (or a quota reached) while writing ``path``; finished files are kept (exit 1)."""

    exit_code = 1

    def __init__(self, path: str | os.PathLike[str] | None, detail: str = ""):
        where = f" for {os.fspath(path)}" if path is not None else ""
        super().__init__(f"no space left on the device{where}{detail}; files already finished are kept")


class ImageTooLarge(InputError):
    """An image over the pixel limit or the decode budget, refused from its header (serve: 413)."""


class ModelError(InputError):
    """A model file that cannot be loaded or is not what the caller expects."""


class MissingDependencyError(SportsedgeError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str | None = None, hint: str = ""):
        # Until the first upload to PyPI, the extra installs from a clone: pip install ".[extra]"
        where = (
            f'pip install "sportsedge[{extra}]" (from a clone: pip install ".[{extra}]")'
            if extra
            else f"pip install {module}"
        )
        msg = f"{module} is not installed: {where}"
        super().__init__(f"{msg} ({hint})" if hint else msg)


def in_words(err: BaseException) -> str:
    """An OS or FFmpeg error as a person would say it: its strerror without the errno and the
    path the caller names anyway ("Invalid data found when processing input", "No such file or
    directory"); other errors as first_line."""
    text = getattr(err, "strerror", None)
    if isinstance(text, str) and text:
        return text[0].lower() + text[1:]
    return first_line(err)


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (library errors can span many lines)."""
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


class PrivateApiError(SportsedgeError):
    """A dependency's private entry point we rely on is missing or changed: one line naming it,
    the installed version and the version it was tested with (each door module raises it)."""

    def __init__(self, what: str, installed: str, tested_with: str, hint: str = ""):
        msg = f"{installed} has no {what} (sportsedge was tested with {tested_with})"
        super().__init__(f"{msg}; {hint}" if hint else msg)


def version_of(distribution: str) -> str:
    """'name version' of an installed distribution, for PrivateApiError ('name ?' if unknown)."""
    from importlib import metadata

    try:
        return f"{distribution} {metadata.version(distribution)}"
    except metadata.PackageNotFoundError:
        return f"{distribution} ?"
