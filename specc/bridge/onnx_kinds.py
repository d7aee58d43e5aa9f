"""ONNX patterns of the newer spec kinds: gating, scaling, and the tokens of a transformer.

The arithmetic handlers of :mod:`specc.bridge.onnx_tensors` pass data to these when it is not
one of their own patterns:

- ``Mul`` of two data tensors (one may broadcast over size-1 axes): ``multiply``, the merge of
  ``branch multiply`` (a squeeze-and-excitation gate times its map);
- ``Mul`` of data by a stored per-channel tensor: ``layer_scale`` (a learned factor; the
  tensor is its weight); by a number, or numbers that are not stored weights: ``rescaling``,
  and a ``Sub``/``Add`` of a constant after it its offset;
- ``Sub`` of a per-channel constant, then ``Div`` by one: ``normalization`` with those
  statistics (mean, and variance as the square of the divisor: an inference graph holds
  Keras's adapted statistics as constants too);
- ``Add`` of a stored (L, C) table to a sequence: ``position_embedding``;
- ``Concat`` of a stored 1xC token, expanded over the batch, before a sequence:
  ``class_token``; ``Gather`` of token 0: ``token_pool cls``;
- a patch conv (kernel = stride) reshaped into tokens: ``patch_embedding``.
"""

from __future__ import annotations

import re

import numpy as np

from specc.bridge.onnx_reader import Misfit, OnnxReader, Unexpressible
from specc.bridge.onnx_values import BATCH, Data, Tiled, channels_first

# names that ONNX exporters give computed constants (not a model's weights)
COMPUTED = re.compile(r"^(val_\d+|_?v_?\d+|onnx::.*|/.*|.*_output_\d+|view(_\d+)?|clamp_min.*)$")


def _per_channel(data: Data, array: np.ndarray) -> np.ndarray | None:
    """``array`` as one value per channel of ``data`` (broadcast along its physical layout),
    or None when it is not."""
    channels = data.shape[-1]
    rank = len(data.phys)
    if array.ndim > rank or array.size not in (1, channels) or not np.isfinite(array).all():
        return None
    if array.size == 1:
        return array.reshape(1).astype(np.float32)
    dims = [1] * (rank - array.ndim) + list(array.shape)
    axis = data.phys.index(len(data.shape) - 1)
    if dims[axis] != channels or any(d != 1 for i, d in enumerate(dims) if i != axis):
        return None
    return array.reshape(-1).astype(np.float32)


def _stored(r: OnnxReader, node, index: int) -> bool:
    """Whether input ``index`` of ``node`` is a weight of the model (a named initializer)."""
    name = node.input[index] if len(node.input) > index else ""
    return name in r.stored and not COMPUTED.match(name)


def _only_reader(r: OnnxReader, node, data: Data) -> bool:
    name = next((n for n in node.input if r.values.get(n) is data), "")
    return r.readers.get(name, 0) == 1


def multiply(r: OnnxReader, node, a: Data, b: Data) -> Data:
    """``Mul`` of two tensors: a ``multiply`` merge (size-1 axes broadcast)."""
    a, b = r.materialize(a), r.materialize(b)
    if len(a.phys) != len(b.phys):
        raise Misfit("Mul of tensors of different ranks")
    index, shape = r.add(node, "multiply", {}, [a, b])
    wide = a if len(a.shape) >= len(b.shape) and a.shape == shape else b
    return Data(index, shape, wide.phys)


def scale(r: OnnxReader, node, data: Data, value, position: int) -> Data:
    """``Mul`` of data by a constant: ``layer_scale`` (a stored per-channel weight) or
    ``rescaling``."""
    array = r.const(value, node, "factor")
    data = r.materialize(data)
    factors = _per_channel(data, np.asarray(array))
    if factors is None:
        raise Unexpressible("Mul by a constant that is not one value per channel")
    if factors.size > 1 and _stored(r, node, position):
        args = {"init": 1e-5}
        index, shape = r.add(node, "layer_scale", args, [data], {"": factors})
        r.graph.layers[index].name = r.graph.layers[index].name or node.input[position]
        return Data(index, shape, data.phys)
    args = {"scale": tuple(float(f) for f in factors), "offset": (0.0,)}
    index, shape = r.add(node, "rescaling", args, [data])
    return Data(index, shape, data.phys)


def shift(r: OnnxReader, node, data: Data, value, sign: float, position: int) -> Data:
    """``Add``/``Sub`` of a constant: a rescaling's offset, a position embedding, or the
    start of a normalization (``x - mean``)."""
    array = np.asarray(r.const(value, node, "term"))
    layer = r.graph.layers[data.layer]
    if sign > 0 and len(data.shape) == 2 and _stored(r, node, position):
        table = array.reshape(-1, *array.shape[-2:]) if array.ndim >= 2 else None
        length, channels = data.shape
        if table is not None and table.shape[-2:] in ((length, channels), (channels, length)):
            return _position(r, node, data, array)
    terms = _per_channel(data, array)
    if terms is None:
        raise Unexpressible(f"{node.op_type} of a constant that is not one value per channel")
    scalar = terms.size == 1
    if (
        scalar
        and layer.kind == "rescaling"
        and not any(layer.args["offset"])
        and _only_reader(r, node, data)
    ):
        layer.args["offset"] = tuple(float(sign * t) for t in terms)
        return data
    if sign < 0 and not scalar and terms.size == data.shape[-1]:
        data = r.materialize(data)
        args = {"mean": tuple(float(t) for t in terms), "variance": (1.0,) * terms.size}
        index, shape = r.add(node, "normalization", args, [data])
        return Data(index, shape, data.phys, extra={"normalization": True})
    args = {"scale": (1.0,), "offset": tuple(float(sign * t) for t in terms)}
    data = r.materialize(data)
    index, shape = r.add(node, "rescaling", args, [data])
    return Data(index, shape, data.phys)


def divide(r: OnnxReader, node, data: Data, value) -> Data:
    """``Div`` by a per-channel constant: a normalization's standard deviation (right after
    its ``Sub``), or a rescaling by the inverse."""
    array = np.asarray(r.const(value, node, "divisor"))
    terms = _per_channel(data, array)
    if terms is None or not terms.all():
        raise Unexpressible("Div by a constant that is not one value per channel")
    layer = r.graph.layers[data.layer]
    if data.extra.get("normalization") and _only_reader(r, node, data):
        layer.args["variance"] = tuple(
            float(t) ** 2 for t in np.broadcast_to(terms, data.shape[-1:])
        )
        return data.with_(extra={})
    args = {"scale": tuple(float(1.0 / t) for t in terms), "offset": (0.0,)}
    index, shape = r.add(node, "rescaling", args, [r.materialize(data)])
    return Data(index, shape, data.phys)


def _position(r: OnnxReader, node, data: Data, table: np.ndarray) -> Data:
    """A learned table added to a sequence: ``position_embedding`` (PyTorch's (1, L, C)
    parameter, or (1, C, L) when the sequence is held channels first)."""
    length, channels = data.shape
    if data.phys[1:] == (1, 0):
        table = np.swapaxes(table.reshape(channels, length), 0, 1)
    weights = {"": table.reshape(1, length, channels).astype(np.float32)}
    index, shape = r.add(node, "position_embedding", {}, [data], weights)
    return Data(index, shape, data.phys)


def class_token(r: OnnxReader, node, ins: list, axis: int) -> list:
    """``Concat`` of a learned token (broadcast over the batch) and a sequence, the token
    first: ``class_token``."""
    token, data = ins if len(ins) == 2 else (None, None)
    if not isinstance(token, Tiled) or not isinstance(data, Data) or len(data.shape) != 2:
        raise Unexpressible("Concat of a constant and data", "only a class token")
    data = r.materialize(data)
    axis %= len(data.phys)
    if data.phys[axis] != 0 or token.array.size != data.shape[1]:
        raise Unexpressible("Concat of a constant and data", "only a class token")
    weights = {"": token.array.reshape(1, 1, -1).astype(np.float32)}
    index, shape = r.add(node, "class_token", {}, [data], weights)
    layer = r.graph.layers[index]
    layer.name = layer.name or token.name
    return [Data(index, shape, data.phys)]


def first_token(r: OnnxReader, node, data: Data, indices: np.ndarray, axis: int) -> list:
    """``Gather`` of token 0 of a sequence: ``token_pool cls``."""
    axis %= len(data.phys)
    if len(data.shape) != 2 or data.phys[axis] != 0 or indices.size != 1 or indices.ndim:
        raise Unexpressible("Gather", "only the first token of a sequence")
    if int(indices.reshape(())) != 0:
        raise Unexpressible("Gather", "only the first token of a sequence")
    data = r.materialize(data)
    index, shape = r.add(node, "token_pool", {"mode": "cls"}, [data])
    phys = tuple(0 if p == 1 else p for i, p in enumerate(data.phys) if i != axis)
    return [Data(index, shape, phys)]


def patch_tokens(r: OnnxReader, node, data: Data, target: list) -> Data | None:
    """A patch conv (kernel = stride, no padding) reshaped from (N, C, H, W) into (N, C,
    H·W): ``patch_embedding``, whose tokens are the patches row by row; None when it is not
    one."""
    layer = r.graph.layers[data.layer]
    if layer.kind != "conv2d" or data.phys != channels_first(3) or len(target) != 3:
        return None
    a = layer.args
    h, w, c = data.shape
    if (
        (target[0] is not BATCH and target[0] != BATCH)
        or int(target[1]) != c
        or int(target[2]) != h * w
        or a["kernel"] != a["stride"]
        or a["padding"] != "valid"
        or a["dilation"] != (1, 1)
        or a.get("groups", 1) != 1
        or a["activation"] is not None
        or not _only_reader(r, node, data)
    ):
        return None
    layer.kind = "patch_embedding"
    layer.args = {"patch": a["kernel"], "dim": a["filters"], "use_bias": a["use_bias"]}
    return Data(data.layer, (h * w, c), ("N", 1, 0))
