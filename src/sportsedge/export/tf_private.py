"""TensorFlow's private entry points, behind one door.

The accurate full-int8 path needs what TensorFlow offers no public API for: the converter's own
quantizer (``convert.mlir_quantize``), its calibrate-only switch, the flatbuffer schema and
utilities (to rewrite activation ranges), and tfmot's default 8-bit quantize registry (QAT). Each
is checked at first use; a TensorFlow that renamed or removed one fails in one line naming it and
the version this was tested with, instead of silently doing something else (setting a renamed
``_experimental_calibrate_only`` would just add an attribute, and the converter would quantize
everything). `--activation-ranges minmax` needs none of them (tflite.int8_bytes).
"""

from __future__ import annotations

import importlib
import inspect

from sportsedge.core.errors import SportsedgeError

TESTED_WITH = "tensorflow 2.21.0, tensorflow-model-optimization 0.8"


class PrivateApiError(SportsedgeError):
    """A private TensorFlow entry point this toolkit relies on is missing or changed."""

    def __init__(self, what: str):
        try:
            import tensorflow as tf

            version = tf.__version__
        except ImportError:  # pragma: no cover - the train extra is what imports this module
            version = "?"
        super().__init__(
            f"TensorFlow {version} has no {what} (sportsedge was tested with {TESTED_WITH}); "
            "use --activation-ranges minmax --remedies none for the public converter alone, or install that version"
        )


def _attr(module: str, name: str):
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise PrivateApiError(f"{module}.{name}") from err


def mlir_quantize(calibrated_model: bytes, input_type, output_type, denylisted: list[str] | None = None) -> bytes:
    """The converter's own quantizer on a calibrated float model (``denylisted`` ops left float)."""
    fn = _attr("tensorflow.lite.python.convert", "mlir_quantize")
    params = inspect.signature(fn).parameters
    for name in ("input_data_type", "output_data_type", "denylisted_nodes"):
        if name not in params:
            raise PrivateApiError(f"parameter {name!r} of tensorflow.lite.python.convert.mlir_quantize")
    return fn(calibrated_model, input_data_type=input_type, output_data_type=output_type, denylisted_nodes=denylisted)


CALIBRATE_ONLY = "_experimental_calibrate_only"


def calibrate_only(conv) -> None:
    """Make a TFLiteConverter stop after calibration: a float model carrying activation ranges."""
    if not hasattr(conv, CALIBRATE_ONLY):
        raise PrivateApiError(f"TFLiteConverter.{CALIBRATE_ONLY}")
    conv.experimental_mlir_quantizer = True
    setattr(conv, CALIBRATE_ONLY, True)


def schema():
    """The TFLite flatbuffer schema's Python classes (TensorType, BuiltinOperator, ...)."""
    module = importlib.import_module("tensorflow.lite.python.schema_py_generated")
    for name in ("TensorType", "BuiltinOperator", "QuantizationParametersT"):
        if not hasattr(module, name):
            raise PrivateApiError(f"tensorflow.lite.python.schema_py_generated.{name}")
    return module


def read_model(data: bytes):
    """A .tflite flatbuffer as the schema's mutable object tree (ModelT)."""
    return _attr("tensorflow.lite.tools.flatbuffer_utils", "read_model_from_bytearray")(bytearray(data))


def write_model(model) -> bytes:
    """The object tree (ModelT) back to flatbuffer bytes."""
    return bytes(_attr("tensorflow.lite.tools.flatbuffer_utils", "convert_object_to_bytearray")(model))


def default_8bit_registry():
    """tfmot's registry of how each Keras layer is quantized (QAT worker only: tf-keras process)."""
    module = "tensorflow_model_optimization.python.core.quantization.keras.default_8bit.default_8bit_quantize_registry"
    return _attr(module, "Default8BitQuantizeRegistry")()


def inbound_layer(layer):
    """The layer feeding ``layer`` (tf_keras, in the QAT worker): ``_inbound_nodes`` has no public
    equivalent for a layer of a functional model."""
    nodes = getattr(layer, "_inbound_nodes", None)
    if not nodes or not hasattr(nodes[0], "inbound_layers"):
        raise PrivateApiError("tf_keras Layer._inbound_nodes[0].inbound_layers")
    return nodes[0].inbound_layers


def calibrator(model: bytes):
    """TFLite's calibrator on a float .tflite flatbuffer (a converted PyTorch model has no
    SavedModel for the converter to calibrate): records each tensor's range over a dataset."""
    cls = _attr("tensorflow.lite.python.optimize.calibrator", "Calibrator")
    for name in ("calibrate", "calibrate_and_quantize"):
        if not hasattr(cls, name):
            raise PrivateApiError(f"tensorflow.lite.python.optimize.calibrator.Calibrator.{name}")
    return cls(model)


def debug_quantized(calibrated_model: bytes) -> bytes:
    """The quantizer's debug model (each quantized op beside a NumericVerify of its float twin), what
    the public QuantizationDebugger takes when it has no converter to build one."""
    fn = _attr("tensorflow.lite.python.convert", "mlir_quantize")
    if "enable_numeric_verify" not in inspect.signature(fn).parameters:
        raise PrivateApiError("parameter 'enable_numeric_verify' of tensorflow.lite.python.convert.mlir_quantize")
    return fn(calibrated_model, enable_numeric_verify=True)
