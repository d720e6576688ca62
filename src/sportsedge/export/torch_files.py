"""What a PyTorch file holds, read without PyTorch (and without running its pickle): a program
saved with ``torch.export.save`` (``.pt2``, what export takes), or a state dict, a TorchScript
file or a pickled whole module, each refused in one line that says what to save instead.

A ``torch.save`` file is a ZIP archive holding ``data.pkl`` (or, before PyTorch 1.6, a bare
pickle); a TorchScript file is the same archive with ``code/`` and ``constants.pkl`` beside it.
A state dict's pickle names only tensor-rebuilding functions and ordered dicts; anything else it
names (``mymodels.Net``, ``torch.nn.modules.conv.Conv2d``) makes it a pickled module.
"""

from __future__ import annotations

import pickletools
import zipfile
from enum import Enum
from pathlib import Path

from sportsedge.core.errors import ModelError, first_line

# What a user should run instead: the two lines that save a program export takes.
SAVE_PROGRAM = "ep = torch.export.export(model.eval(), (torch.zeros(1, 3, H, W),)); torch.export.save(ep, 'model.pt2')"
# Modules a state dict's pickle may name: tensors and storages (torch, torch._utils), ordered dicts
# (its metadata), numbers and strings; a module's pickle names torch.nn or the user's own classes.
_STATE_DICT_MODULES = (
    "torch._utils",
    "torch.serialization",
    "collections",
    "builtins",
    "__builtin__",
    "_codecs",
    "numpy",
)


class TorchFile(str, Enum):
    """What a .pt/.pth/.pt2 file turned out to hold."""

    PROGRAM = "a torch.export program"  # export's input
    STATE_DICT = "a state dict (weights only, no network)"
    TORCHSCRIPT = "a TorchScript file"
    PICKLED_MODULE = "a pickled whole module (needs its Python classes to load)"
    UNKNOWN = "not a PyTorch file"

    def __str__(self) -> str:
        return self.value


def sniff(path: Path) -> TorchFile:
    """What ``path`` holds, from its archive listing and its pickle's opcodes (never executed)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                if any(n.endswith("serialized_exported_program.json") or "/models/" in n for n in names):
                    return TorchFile.PROGRAM
                if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
                    return TorchFile.TORCHSCRIPT
                pickled = next((n for n in names if n.endswith("data.pkl")), None)
                if pickled is None:
                    return TorchFile.UNKNOWN
                return from_pickle(archive.read(pickled))
        with open(path, "rb") as f:  # the legacy format: pickles one after another
            head = f.read(1 << 20)
        return from_pickle(head) if head[:1] == b"\x80" else TorchFile.UNKNOWN
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise ModelError(path, f"not a readable PyTorch file ({first_line(err)})") from err


def from_pickle(data: bytes) -> TorchFile:
    """A state dict or a pickled module, by the globals its pickle names."""
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name == "GLOBAL" and isinstance(arg, str):
                module, _, name = arg.partition(" ")
                if not _state_dict_global(module, name):
                    return TorchFile.PICKLED_MODULE
            elif op.name == "STACK_GLOBAL":
                return TorchFile.PICKLED_MODULE  # names built on the stack: not how torch.save writes a dict
    except (ValueError, EOFError):  # the legacy format's first pickle ends early: judged by what was read
        pass
    return TorchFile.STATE_DICT


def _state_dict_global(module: str, name: str) -> bool:
    return (module == "torch" or module.startswith(_STATE_DICT_MODULES)) and "Module" not in name


def refusal(path: Path) -> str:
    """The one line for a PyTorch file export cannot take, with what to save instead."""
    held = sniff(path)
    if held is TorchFile.PROGRAM:
        return f"is a torch.export program: name it {path.stem}.pt2"
    if held is TorchFile.UNKNOWN:
        return f"not a PyTorch file sportsedge can read; save your model as a torch.export program: {SAVE_PROGRAM}"
    return f"is {held}; export takes a torch.export program (.pt2): {SAVE_PROGRAM}"
