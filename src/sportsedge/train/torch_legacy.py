"""Read a PyTorch state dict saved in the legacy (non-zip) format, without PyTorch.

The legacy file is a sequence of pickles followed by raw storage bytes:

1. the magic number 0x1950a86a20f9469cfc6c, 2. the protocol version 1001, 3. a dict of system
info (byte order, type sizes), 4. the state dict itself, whose tensors are
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`` with each
storage a persistent id ``("storage", torch.FloatStorage, key, location, numel, view)``,
5. the list of storage keys in file order, then for each key an int64 element count and the
elements, little-endian.

The unpickler answers exactly the globals that format uses (``collections.OrderedDict``,
``torch._utils._rebuild_tensor_v2`` and the storage types below) and refuses any other: a
pickle can name any callable, so reading an untrusted file with ``pickle.load`` would run code.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from pathlib import Path

import numpy as np

from sportsedge.core.errors import UsageError

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001
# torch storage type -> numpy dtype (little-endian, as the sys-info pickle must say)
STORAGES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class _Storage:
    def __init__(self, dtype: np.dtype, numel: int):
        self.dtype, self.numel = dtype, numel
        self.data: np.ndarray | None = None  # filled once the pickle's storages are read


class _Tensor:
    """A tensor waiting for its storage's bytes (they come after the pickle)."""

    def __init__(self, storage: _Storage, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def array(self) -> np.ndarray:
        data = self.storage.data
        assert data is not None  # for the type checker: read_state_dict refuses a missing storage, by name, first
        item = self.storage.dtype.itemsize
        if not self.size:
            return data[self.offset].copy()
        strides = tuple(s * item for s in self.stride)
        need = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) + 1
        if need > self.storage.numel:
            raise ValueError(f"a tensor of shape {self.size} reaches past its storage of {self.storage.numel}")
        base = data[self.offset :]
        return np.lib.stride_tricks.as_strided(base, self.size, strides).copy()


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *_):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("_rebuild_tensor_v2 without a storage")
    return _Tensor(storage, int(storage_offset), size, stride)


class _Storages:
    """Stand-ins for torch.FloatStorage etc.: only compared by identity in persistent ids."""

    def __init__(self, name: str):
        self.name = name


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    **{("torch", name): _Storages(name) for name in STORAGES},
}


class _Restricted(pickle.Unpickler):
    def __init__(self, file, storages: dict):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refused: the file names {module}.{name}, not part of a state dict")
        return _ALLOWED[(module, name)]

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unknown persistent id {str(pid)[:60]}")
        _, kind, key, _location, numel, view = pid
        if not isinstance(kind, _Storages) or view is not None:
            raise pickle.UnpicklingError("a storage of an unknown type, or a storage view")
        if key not in self.storages:
            self.storages[key] = _Storage(STORAGES[kind.name], int(numel))
        return self.storages[key]


def _header(f) -> None:
    def load():
        return _Restricted(f, {}).load()

    if load() != MAGIC:
        raise ValueError("not a PyTorch legacy file (magic number)")
    if load() != PROTOCOL:
        raise ValueError("unknown protocol version")
    info = load()
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise ValueError("not little-endian")


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """{name: array} of a legacy-format state dict; UsageError naming the file for anything else."""
    path = Path(path)
    try:
        data = path.read_bytes()
        if data[:2] == b"PK":
            raise ValueError("a zip-format file (torch >= 1.6); only the legacy format is read here")
        f = io.BytesIO(data)
        _header(f)
        storages: dict = {}
        state = _Restricted(f, storages).load()
        keys = _Restricted(f, storages).load()
        if not isinstance(state, dict) or not isinstance(keys, list):
            raise ValueError("not a state dict")
        for key in keys:
            storage = storages[key]
            (numel,) = struct.unpack("<q", f.read(8))
            if numel != storage.numel:
                raise ValueError(f"storage {key}: {numel} elements on disk, {storage.numel} declared")
            raw = f.read(numel * storage.dtype.itemsize)
            if len(raw) != numel * storage.dtype.itemsize:
                raise ValueError("the file ends inside a storage")
            storage.data = np.frombuffer(raw, storage.dtype)
        out: dict[str, np.ndarray] = {}
        for name, value in state.items():
            if not isinstance(value, _Tensor):
                raise ValueError(f"{name} is not a tensor")
            if value.storage.data is None:
                raise ValueError(f"{name}: its storage is missing from the file")
            out[str(name)] = value.array()
        return out
    except (OSError, ValueError, KeyError, EOFError, struct.error, pickle.UnpicklingError) as err:
        raise UsageError(f"{path}: cannot read it as a PyTorch state dict ({err})") from err
