"""TF-free runtime: classify images with an exported .tflite or .onnx model.

from sportsedge.runtime import Classifier
clf = Classifier.load("mobilenet_v2-tflite-int8.tflite")
clf.predict("photo.jpg", top_k=3)   # [Prediction(label, index, score), ...]
"""

from sportsedge.runtime.classifier import Classifier, MissingLabelsWarning, Prediction, UnverifiedWarning
from sportsedge.runtime.metadata import ModelMetadata, attach_metadata, sidecar_path
from sportsedge.runtime.preprocess import (
    IMAGE_EXTENSIONS,
    PREPROCESSING_VERSION,
    is_image_file,
    load_pixels,
    open_image,
)

__all__ = [
    "Classifier",
    "IMAGE_EXTENSIONS",
    "MissingLabelsWarning",
    "ModelMetadata",
    "PREPROCESSING_VERSION",
    "Prediction",
    "attach_metadata",
    "is_image_file",
    "load_pixels",
    "open_image",
    "sidecar_path",
    "UnverifiedWarning",
]
