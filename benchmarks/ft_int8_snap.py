"""Issue 17, int8 after fine-tuning: is the drop the fine-tuned weights' int8 rounding?

Copies a mobilenet_v2_ft run, rounds the kernels of the fine-tuned layers (blocks 13-16, Conv_1,
the head) to the per-output-channel symmetric int8 grid TFLite's converter will use (scale =
max|w| / 127 per channel; BatchNorm folding multiplies each channel by a constant, so the grid
survives it), and saves it as a run of its own. Exporting both runs with plain post-training
int8 then tells whether int8 weights or int8 activations cost the points:

    .venv/bin/python benchmarks/ft_int8_snap.py RUN OUT_RUN
    sportsedge export OUT_RUN --out OUT_EXPORTS --formats tflite-int8 --remedies none --parity-size 500
"""

import shutil
import sys
from pathlib import Path

import keras
import numpy as np

FINE_TUNED = ("block_13_", "block_14_", "block_15_", "block_16_", "Conv_1", "dense")


def snap(kernel: np.ndarray, channel_axis: int) -> np.ndarray:
    moved = np.moveaxis(kernel, channel_axis, -1)
    scale = np.abs(moved).reshape(-1, moved.shape[-1]).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    return np.moveaxis(np.round(moved / scale) * scale, -1, channel_axis).astype(kernel.dtype)


def main(run: str, out: str) -> None:
    shutil.copytree(run, out)
    model = keras.models.load_model(Path(run) / "model.keras")
    changed = 0
    for layer in model.layers:
        if not layer.name.startswith(FINE_TUNED) or not hasattr(layer, "kernel"):
            continue
        w = layer.get_weights()
        axis = 2 if isinstance(layer, keras.layers.DepthwiseConv2D) else -1  # depthwise: (h, w, channels, 1)
        before = w[0].copy()
        w[0] = snap(w[0], axis)
        layer.set_weights(w)
        changed += 1
        print(f"{layer.name}: max |change| {np.abs(w[0] - before).max():.2e}")
    model.save(Path(out) / "model.keras")
    print(f"{changed} kernels rounded to their int8 grid -> {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
