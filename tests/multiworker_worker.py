"""One training process of the two-worker test (tests/test_multiworker.py): TF_CONFIG must be set
before TensorFlow starts, so each worker is its own interpreter.

    python multiworker_worker.py DATA OUT STRATEGY [TF_CONFIG_JSON]
"""

from __future__ import annotations

import os
import sys

if len(sys.argv) > 4:
    os.environ["TF_CONFIG"] = sys.argv[4]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = ""
sys.path.insert(0, os.path.dirname(__file__))

from sportsedge.train.config import TrainConfig
from sportsedge.train.loop import train

import tiny_registry  # noqa: F401  (registers "tiny")

data, out, strategy = sys.argv[1:4]
# The tiny model trained end to end from images (no feature cache), no augmentation, no early
# stopping: what differs between the runs is only how the global batch is split over workers.
config = TrainConfig(
    model="tiny",
    data=data,
    out=out,
    epochs=2,
    batch_size=6,
    learning_rate=0.05,
    augment=False,
    cache_features=0,
    early_stopping=0,
    strategy=strategy,
    seed=0,
)
train(config, say=lambda m: print(m, flush=True))
