"""Handlers of `sportsedge train` and `sportsedge evaluate`."""

from __future__ import annotations

import logging

from sportsedge.train import require_tensorflow
from sportsedge.util.progress import say


def train_cmd(args) -> int:
    require_tensorflow()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from sportsedge.core.options import from_args
    from sportsedge.train.config import TrainConfig
    from sportsedge.train.loop import train

    config = from_args(TrainConfig, args)
    out = train(config, say=say)
    print(out)
    return 0


def evaluate_cmd(args) -> int:
    require_tensorflow()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from sportsedge.train.evaluate import evaluate

    m = evaluate(args.run_dir, args.data, args.split, args.limit_per_class)
    print(
        f"{args.split}: top-1 {m['top1']:.4f}  top-5 {m['top5']:.4f}  loss {m['loss']:.4f}  "
        f"macro-F1 {m['macro_f1']:.4f}  n {m['n']}"
    )
    return 0
