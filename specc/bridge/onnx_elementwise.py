"""ONNX activations and dropout: ``activation`` layers (fused into the layer before them
later, by :func:`specc.bridge.simplify.fuse_activations`)."""

from __future__ import annotations

import numpy as np

from specc.bridge.onnx_common import (
    data_input,
    handles,
)
from specc.bridge.onnx_reader import Misfit, OnnxReader, Unexpressible
from specc.bridge.onnx_values import (
    Data,
)
from specc.bridge.spec_text import float32


def _activation(
    r: OnnxReader, node, data: Data, fn: str, nonneg: bool = False, **extra: float
) -> list:
    data = r.materialize(data)
    index, shape = r.add(node, "activation", {"fn": fn, **extra}, [data])
    return [Data(index, shape, data.phys, nonneg=nonneg)]


@handles("Relu", "Sigmoid", "Tanh")
def simple_activation(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    fn = node.op_type.lower()
    return _activation(r, node, data_input(ins, node.op_type), fn, nonneg=fn != "tanh")


@handles("Clip")
def clip(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    low = ins[1] if len(ins) > 1 else None
    high = ins[2] if len(ins) > 2 else None
    low = float(r.const(low, node, "min")) if low is not None else attrs.get("min", -np.inf)
    high = float(r.const(high, node, "max")) if high is not None else attrs.get("max", np.inf)
    if low == 0 and high == 6:
        return _activation(r, node, data_input(ins, "Clip"), "relu6", nonneg=True)
    if low == 0 and np.isinf(high):
        return _activation(r, node, data_input(ins, "Clip"), "relu", nonneg=True)
    raise Unexpressible("Clip", f"between {low} and {high}: only relu and relu6")


@handles("Softmax")
def softmax(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = data_input(ins, "Softmax")
    axis = attrs.get("axis", -1) % len(data.phys)
    if data.phys[axis] != len(data.shape) - 1:
        raise Misfit("Softmax over an axis other than the channels")
    return _activation(r, node, data, "softmax", nonneg=True)


@handles("LeakyRelu")
def leaky_relu(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    slope = float32(attrs.get("alpha", 0.01))
    return _activation(r, node, data_input(ins, "LeakyRelu"), "leaky_relu", negative_slope=slope)


@handles("Elu")
def elu(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    return _activation(
        r, node, data_input(ins, "Elu"), "elu", alpha=float32(attrs.get("alpha", 1.0))
    )


@handles("Gelu")
def gelu(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    if attrs.get("approximate", "none") != "none":
        raise Unexpressible("Gelu with the tanh approximation")
    return _activation(r, node, data_input(ins, "Gelu"), "gelu")


@handles("HardSigmoid")
def hard_sigmoid(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    alpha, beta = float32(attrs.get("alpha", 0.2)), float32(attrs.get("beta", 0.5))
    if abs(alpha - 1 / 6) > 1e-6 or abs(beta - 0.5) > 1e-6:
        raise Unexpressible("HardSigmoid", f"alpha={alpha}, beta={beta}: only x / 6 + 0.5")
    return _activation(r, node, data_input(ins, "HardSigmoid"), "hard_sigmoid", nonneg=True)


@handles("HardSwish")
def hard_swish(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    return _activation(r, node, data_input(ins, "HardSwish"), "hard_silu")


@handles("Mish")
def mish(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    return _activation(r, node, data_input(ins, "Mish"), "mish")


@handles("Dropout")
def dropout(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = r.materialize(data_input(ins, "Dropout"))
    ratio = ins[1] if len(ins) > 1 else None
    rate = float(r.const(ratio, node, "ratio")) if ratio is not None else attrs.get("ratio", 0.5)
    index, shape = r.add(node, "dropout", {"rate": float32(rate)}, [data])
    return [Data(index, shape, data.phys, nonneg=data.nonneg)]
