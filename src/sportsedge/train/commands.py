"""Handlers of `sportsedge train` and `sportsedge evaluate`."""

from __future__ import annotations

import logging

from ..progress import say
from . import require_tensorflow


def train_cmd(args) -> int:
    require_tensorflow()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from .config import TrainConfig
    from .loop import train

    fields = TrainConfig.__dataclass_fields__
    config = TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})
    out = train(config, say=say)
    print(out)
    return 0


def evaluate_cmd(args) -> int:
    require_tensorflow()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from .evaluate import evaluate

    m = evaluate(args.run_dir, args.data, args.split, args.limit_per_class)
    print(
        f"{args.split}: top-1 {m['top1']:.4f}  top-5 {m['top5']:.4f}  loss {m['loss']:.4f}  "
        f"macro-F1 {m['macro_f1']:.4f}  n {m['n']}"
    )
    return 0
