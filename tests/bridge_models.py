"""Models for the bridge's tests: random weights that make every layer count, and inputs."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np


def randomize_keras(model, seed: int = 3) -> None:
    """Random weights everywhere, biases and BatchNorm statistics included (variances > 0),
    scaled so that deep models stay finite."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        new = []
        for weight in layer.weights:
            shape = tuple(weight.shape)
            fan_in = max(int(np.prod(shape[:-1])), 1) if len(shape) > 1 else 1
            value = rng.normal(scale=1.0 / np.sqrt(fan_in), size=shape).astype("float32")
            if "variance" in weight.path:
                value = np.abs(value) + 0.5
            elif "gamma" in weight.path:
                value = 1 + 0.1 * value
            new.append(value)
        if new:
            layer.set_weights(new)
            if hasattr(layer, "finalize_state"):  # Normalization: use the statistics just set
                layer.finalize_state()


def randomize_torch(model, seed: int = 5) -> None:
    """Random values in every floating tensor of a PyTorch model's state_dict."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            fan_in = max(int(np.prod(tensor.shape[1:])), 1) if tensor.dim() > 1 else 1
            value = torch.randn(tensor.shape, generator=generator) / fan_in**0.5
            if "running_var" in name or name.endswith(".variance"):  # BatchNorm, Normalization
                value = value.abs() + 0.5
            tensor.copy_(value)


def keras_input(shape: tuple, batch: int, integer_vocab: int | None = None, seed: int = 7):
    """A batch in Keras's layout (or token ids below ``integer_vocab``)."""
    rng = np.random.default_rng(seed)
    if integer_vocab:
        return rng.integers(0, integer_vocab, size=(batch, *shape)).astype("int64")
    return rng.normal(size=(batch, *shape)).astype("float32")


def to_torch_layout(x: np.ndarray) -> np.ndarray:
    """NHWC / NLC -> NCHW / NCL (vectors and ids unchanged)."""
    if x.ndim > 2 and x.dtype != np.int64:
        return np.ascontiguousarray(np.moveaxis(x, -1, 1))
    return x


def to_keras_layout(y: np.ndarray) -> np.ndarray:
    """An output of a PyTorch model in Keras's layout."""
    return np.moveaxis(y, 1, -1) if y.ndim > 2 else y


def vocab(checked) -> int | None:
    """The smallest embedding vocabulary of an integer-input spec (None for float inputs)."""
    if getattr(checked.params[0], "dtype", "float32") != "int":
        return None
    return min(checked.params[n.index].vocab for n in checked.model.nodes if n.kind == "embedding")


def save_config_only(model, path: Path) -> None:
    """A ``.keras`` archive with the model's config and no weights: what ``specc import``
    reads without ``--weights``, for models too big to save whole in a test."""
    import keras

    config = keras.saving.serialize_keras_object(model)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": keras.__version__}))


def keras_layer(cls: str, name: str, sources: list[tuple[str, tuple]], **config) -> dict:
    """One layer of a functional model's config, called on ``sources`` (layer name, shape of
    its output without the batch axis): what a ``.keras`` file's config.json holds."""
    tensors = [
        {
            "class_name": "__keras_tensor__",
            "config": {"shape": [None, *shape], "dtype": "float32", "keras_history": [s, 0, 0]},
        }
        for s, shape in sources
    ]
    args = tensors if len(tensors) == 1 else [tensors]
    return {
        "module": "keras.layers",
        "class_name": cls,
        "name": name,
        "config": {"name": name, **config},
        "inbound_nodes": [{"args": args, "kwargs": {}}] if sources else [],
    }


def write_keras_config(
    path: Path,
    layers: list[dict],
    output: str | list[str],
    name: str = "handmade",
    inputs: list[str] | None = None,
) -> Path:
    """A ``.keras`` archive holding only the config of a functional model of ``layers``
    (the first an InputLayer, or the ``inputs`` named), whose output is layer ``output`` (or
    the outputs are the layers listed)."""
    outputs = [output] if isinstance(output, str) else output
    config = {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {
            "name": name,
            "layers": layers,
            "input_layers": [[name_, 0, 0] for name_ in inputs or [layers[0]["name"]]],
            "output_layers": [[o, 0, 0] for o in outputs],
        },
    }
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
    return path


def input_layer(name: str, shape: tuple) -> dict:
    """An InputLayer of the given shape (no batch axis)."""
    layer = keras_layer("InputLayer", name, [], batch_shape=[None, *shape], dtype="float32")
    return layer


def small_onnx(path: Path, unsupported: bool = False) -> Path:
    """A small ONNX image classifier written with ``onnx.helper`` (no PyTorch): Conv (same
    padding) -> Relu -> MaxPool -> GlobalAveragePool -> Flatten -> Gemm; with
    ``unsupported``, a Softsign, an Erf and a Softsign on the way (ops no spec layer is)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = {
        "stem.weight": rng.normal(size=(4, 3, 3, 3)).astype("float32"),
        "stem.bias": rng.normal(size=(4,)).astype("float32"),
        "head.weight": rng.normal(size=(2, 4)).astype("float32"),
        "head.bias": rng.normal(size=(2,)).astype("float32"),
    }
    nodes = [
        helper.make_node("Conv", ["x", "stem.weight", "stem.bias"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
    ]
    last = "p"
    if unsupported:
        nodes += [
            helper.make_node("Softsign", ["p"], ["h"], name="softsign_1"),
            helper.make_node("Erf", ["h"], ["e"], name="erf_1"),
            helper.make_node("Softsign", ["e"], ["h2"], name="softsign_2"),
        ]
        last = "h2"
    nodes += [
        helper.make_node("GlobalAveragePool", [last], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "head.weight", "head.bias"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
