"""The source families export takes (a training run, a Keras file or SavedModel, a float ONNX
model, a PyTorch program): one module and one ``SourceFamily`` record each, registered in
``export/families.py``. Light: the records name their functions as "module:function"."""
