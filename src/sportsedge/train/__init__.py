"""Training (needs the `train` extra). Importing this package does not import TensorFlow."""

from __future__ import annotations

import os

from sportsedge.train import lite, mobilenet  # noqa: F401  (register the MobileNetV2 and EfficientNet-Lite models; no TensorFlow)


def require_tensorflow():
    """Import TensorFlow quietly, or raise an error naming the extra to install."""
    from sportsedge.core.errors import MissingDependencyError

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++ INFO/WARNING spam
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    from sportsedge.util.quiet import native_stderr_to

    try:
        with native_stderr_to(None):  # absl's start-up lines (oneDNN, CUDA probing) on import
            import tensorflow as tf
    except ImportError as err:
        raise MissingDependencyError("tensorflow", "train") from err
    tf.get_logger().setLevel("ERROR")
    return tf
