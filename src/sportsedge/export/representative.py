"""The converters' representative dataset: what every TFLite calibration reads (the Keras route in
tflite_convert, the PyTorch route in torch_tflite, the debugger in tflite_layers)."""

from __future__ import annotations


def representative(pixels):
    """Real images one at a time, as float32 0..255, in the form TFLite's calibrators take."""

    def gen():
        for img in pixels:
            yield [img[None].astype("float32")]

    return gen
