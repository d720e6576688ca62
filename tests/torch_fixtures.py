"""PyTorch models for the tests, built with weights set by hand (no training), saved as a user
would: the colour classifier as a torch.export program, and the files export must refuse.

    .venv/bin/python tests/torch_fixtures.py OUT     # writes every file below into OUT

colour.pt2         the colour classifier (NCHW, ImageNet mean/std, logits), batch 1
colour-dynamic.pt2 the same with a dynamic batch (Dim "batch")
state.pth          its state dict;  scripted.pt: TorchScript;  whole.pt: the pickled module
erfinv.pt2         a classifier using aten.erfinv, which litert-torch cannot lower
two-inputs.pt2     a model taking an image and a second tensor
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model_fixtures import LABELS, TINY_SIZE

try:  # the classes live at module level so that torch.save can pickle a whole module
    import torch
    from torch import nn
except ImportError:  # the tests that import this module skip without torch
    torch = nn = None

TORCH_LAYERS = ("features.0", "features.1", "features.2", "pool", "head")  # the colour model's submodules

if nn is not None:

    class Colour(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.head = nn.Linear(8, len(LABELS))

        def forward(self, x):
            return self.head(torch.flatten(self.pool(self.features(x)), 1))

    class Erfinv(nn.Module):
        def forward(self, x):
            return torch.special.erfinv(torch.tanh(x.mean((2, 3))))

    class TwoInputs(nn.Module):
        def forward(self, x, y):
            return x.mean((2, 3)) + y


def colour_module():
    """Conv (the three colour channels passed through, five dead ones), BatchNorm, ReLU, average
    pool, then a linear ``head`` with 10*I: the logits of the dominant colour of a solid image under
    torchvision's ImageNet normalisation (a present channel is ~+2.2, an absent one negative: 0)."""
    model = Colour()
    with torch.no_grad():
        conv = model.features[0]
        conv.weight.zero_()
        conv.bias.zero_()
        for c in range(3):
            conv.weight[c, c, 1, 1] = 1.0
        model.head.weight.zero_()
        model.head.bias.zero_()
        model.head.weight[:, :3] = 10 * torch.eye(3)
    return model.eval()


def _sample(batch: int = 1):
    return (torch.zeros(batch, 3, *TINY_SIZE),)


def save_program(model, path: Path, dynamic: bool = False, args=None) -> Path:
    shapes = ({0: torch.export.Dim("batch")},) if dynamic else None
    program = torch.export.export(model, args or _sample(2 if dynamic else 1), dynamic_shapes=shapes)
    torch.export.save(program, str(path))
    return path


def write_torch_models(out: Path) -> dict[str, Path]:
    """Every file of the module docstring, in ``out``; name -> path."""
    out.mkdir(parents=True, exist_ok=True)
    model = colour_module()
    files = {
        "colour": save_program(model, out / "colour.pt2"),
        "dynamic": save_program(model, out / "colour-dynamic.pt2", dynamic=True),
        "state": out / "state.pth",
        "scripted": out / "scripted.pt",
        "whole": out / "whole.pt",
    }
    torch.save(model.state_dict(), files["state"])
    with warnings.catch_warnings():  # "torch.jit.script is deprecated": users still have such files
        warnings.simplefilter("ignore")
        torch.jit.script(model).save(str(files["scripted"]))
    torch.save(model, files["whole"])
    files["erfinv"] = save_program(Erfinv().eval(), out / "erfinv.pt2")
    files["two-inputs"] = save_program(TwoInputs().eval(), out / "two-inputs.pt2", args=(*_sample(), torch.zeros(1, 3)))
    return files


if __name__ == "__main__":
    for name, path in write_torch_models(Path(sys.argv[1])).items():
        print(f"{path.stat().st_size:>8,}  {name}: {path}")
