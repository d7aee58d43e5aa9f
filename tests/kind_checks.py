"""Helpers for the direct tests of layer kinds against the framework layers."""

from __future__ import annotations

import numpy as np

from specc.compiler import check_text
from specc.port_weights import keras_to_torch
from tests.emitted import load_emitted


def checked_spec(text: str, name: str = "t.spec"):
    """A spec that must check without errors."""
    checked = check_text(text, name)
    assert checked.ok, [d.message for d in checked.diagnostics]
    return checked


def layer_info(input_line: str, layer_line: str):
    """Check ``input ...`` + one layer; return (LayerInfo, params) of that layer."""
    checked = checked_spec(f"{input_line}\n{layer_line}\n")
    return checked.infos[1], checked.params[1]


def dims(shape) -> str:
    """``(4, 5, 3)`` -> ``4x5x3``."""
    return "x".join(str(d) for d in shape)


def keras_counts(keras, shape, layer, call=None):
    """Output shape (without batch) and (trainable, non-trainable) counts of a Keras layer
    built on ``shape`` (``call(layer, x)`` applies it, for layers that take more than x)."""
    x = keras.Input(shape=shape)
    y = call(layer, x) if call else layer(x)
    keras.Model(x, y)
    trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights)
    return tuple(y.shape[1:]), (trainable, frozen)


def both_backends(keras, torch, text: str, x: np.ndarray, tmp_path) -> tuple:
    """Emit the spec for both backends, port random Keras weights into PyTorch, and return
    (Keras output, PyTorch output in Keras's layout) for the batch ``x`` (Keras's layout)."""
    checked = checked_spec(text)
    keras_model = load_emitted(checked, "keras", tmp_path).build_model()
    torch_model = load_emitted(checked, "torch", tmp_path).build_model().eval()
    rng = np.random.default_rng(2)
    for layer in keras_model.layers:
        if layer.weights:
            values = [rng.normal(size=w.shape).astype("float32") for w in layer.weights]
            for w, value in zip(layer.weights, values, strict=True):
                if "variance" in w.path:
                    value[...] = np.abs(value) + 0.5
            layer.set_weights(values)
            if hasattr(layer, "finalize_state"):  # Normalization: use the statistics set
                layer.finalize_state()
    keras_to_torch(checked, keras_model, torch_model)
    expected = np.asarray(keras_model(x, training=False))
    moved = np.moveaxis(x, -1, 1) if x.ndim > 2 else x
    with torch.no_grad():
        got = torch_model(torch.from_numpy(np.ascontiguousarray(moved))).numpy()
    if got.ndim > 2:
        got = np.moveaxis(got, 1, -1)
    keras.backend.clear_session()
    return expected, got
