"""The converter protocol: ``convert(ctx: ExportContext, tell: Tell) -> Converted``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from sportsedge.core.outputs import OutputKind

if TYPE_CHECKING:
    from sportsedge.export.context import ExportContext

Tell = Callable[[str], None]  # a progress line to the user's terminal while converter output is captured


class Converter(Protocol):
    """A format's converter, named in the format table as "module:function"."""

    def __call__(self, ctx: ExportContext, tell: Tell) -> Converted: ...


@dataclass(frozen=True)
class Converted:
    """What a converter returns: ``convert(ctx, tell) -> Converted``."""

    data: bytes  # the model file, before metadata
    details: dict = field(default_factory=dict)  # what the converter did beyond the bytes, for the manifest
    reference: np.ndarray | None = None  # parity reference probabilities when the converter retrained the model
    output: OutputKind | None = None  # what the file outputs; None = what the source model outputs
