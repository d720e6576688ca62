"""Export trained runs to every format in sportsedge.core.formats (needs the `train` extra)."""


def __getattr__(name: str):
    """``sportsedge.export.export_torch``, imported when first asked for (the package stays light)."""
    if name == "export_torch":
        from sportsedge.export.torch_api import export_torch

        return export_torch
    raise AttributeError(f"module 'sportsedge.export' has no attribute {name!r}")
