"""Issue 17, int8 after fine-tuning: is the drop the fine-tuned weights' int8 rounding?

Copies a mobilenet_v2_ft run, rounds the kernels of the fine-tuned layers (blocks 13-16, Conv_1,
the head) to the per-output-channel symmetric int8 grid TFLite's converter will use (scale =
max|w| / 127 per channel; BatchNorm folding multiplies each channel by a constant, so the grid
survives it), and saves it as a run of its own. Exporting both runs with plain post-training
int8 then tells whether int8 weights or int8 activations cost the points:

    .venv/bin/python experiments/ft_int8_snap.py RUN OUT_RUN
    sportsedge export OUT_RUN --out OUT_EXPORTS --formats tflite-int8 --remedies none --parity-size 500
"""

import shutil
import sys
from pathlib import Path

import keras
import numpy as np

from sportsedge.train.int8aware import REDUCED_AXES, snap

FINE_TUNED = ("block_13_", "block_14_", "block_15_", "block_16_", "Conv_1", "dense")


def main(run: str, out: str) -> None:
    shutil.copytree(run, out)
    model = keras.models.load_model(Path(run) / "model.keras")
    changed = 0
    for layer in model.layers:
        if not layer.name.startswith(FINE_TUNED) or not hasattr(layer, "kernel"):
            continue
        w = layer.get_weights()
        before = w[0].copy()
        w[0] = snap(w[0], REDUCED_AXES[type(layer).__name__])
        layer.set_weights(w)
        changed += 1
        print(f"{layer.name}: max |change| {np.abs(w[0] - before).max():.2e}")
    model.save(Path(out) / "model.keras")
    print(f"{changed} kernels rounded to their int8 grid -> {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
