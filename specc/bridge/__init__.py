"""The bridge between specs and existing models: ``specc export`` and ``specc import``.

Export (:mod:`specc.bridge.export`) turns a spec into an ONNX file through the emitted PyTorch
model and ``torch.onnx.export``, names the ONNX nodes after the spec's layers, and checks the
file with ``onnx.checker`` and ONNX Runtime before writing it.

Import reads a model into an :class:`~specc.bridge.graph.Graph` of specc layer kinds, then
writes it as a spec:

```
.keras (config.json)  -- keras_reader --+
                                        +--> Graph --simplify--> structure (residual, branch)
.onnx (onnx protobuf) -- onnx_reader ---+         --> blocks (repeated structure) --> spec text
```

``specc check`` then proves the spec valid, and :mod:`specc.bridge.weights` writes the original
weights for the emitted model of the new spec.  Nothing here imports TensorFlow, PyTorch or
onnx at import time: each command imports what it needs when it runs.
"""
