"""ONNX ops on constants, shapes and layouts: evaluated, or turned into layout changes.

Shape computations are evaluated with the batch size kept symbolic; ``Transpose`` and the
reshapes that only add or drop axes of size 1 change a tensor's layout and add no layer; other
reshapes are ``flatten``/``reshape`` layers.  The arithmetic ops here are evaluated on
constants, and on data only in the patterns a spec layer computes (a dense layer's bias, silu,
TensorFlow's ``same`` average pooling).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from specc.bridge import onnx_elementwise, onnx_kinds, onnx_pooling  # noqa: F401
from specc.bridge.onnx_common import (
    all_const,
    equals,
    fold,
    handles,
    known,
)
from specc.bridge.onnx_layers import crop
from specc.bridge.onnx_reader import Misfit, OnnxReader, Unexpressible
from specc.bridge.onnx_recurrent import embedding, last_step
from specc.bridge.onnx_values import (
    BATCH,
    Const,
    Data,
    Filled,
    Shaped,
    Tiled,
    channels_first,
    channels_last,
    in_spec_order,
    resolve_shape,
    squeeze_map,
)

# -- constants and shapes ----------------------------------------------------------------------


@handles("Constant")
def constant(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    from onnx import numpy_helper

    for key, value in attrs.items():
        if key == "value":
            return [Const(numpy_helper.to_array(value))]
        if key.startswith("value_"):
            return [Const(np.asarray(value))]
    raise Unexpressible("Constant without a value")


@handles("Identity", "Cast", "CastLike")
def identity(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    value = ins[0]
    if node.op_type == "Cast" and isinstance(value, Const) and value.array.dtype != object:
        from onnx import helper

        return [Const(value.array.astype(helper.tensor_dtype_to_np_dtype(attrs["to"])))]
    like = ins[1] if len(ins) > 1 else None
    known = isinstance(value, Const) and value.array.dtype != object
    if node.op_type == "CastLike" and known and isinstance(like, Const):
        return [Const(value.array.astype(like.array.dtype))]
    return [value]


@handles("Shape")
def shape(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    value = ins[0]
    if isinstance(value, Data):
        dims = value.physical_shape
    elif isinstance(value, Const):
        dims = list(value.array.shape)
    elif isinstance(value, Filled | Shaped):
        dims = list(value.shape)
    else:
        raise Unexpressible("Shape")
    start, end = attrs.get("start", 0), attrs.get("end", len(dims))
    dims = dims[start:end]
    dtype = object if any(d is BATCH for d in dims) else np.int64
    return [Const(np.array(dims, dtype=dtype))]


@handles("Gather")
def gather(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data, indices = ins
    axis = attrs.get("axis", 0)
    if isinstance(data, Const) and isinstance(indices, Const):
        return [Const(known(np.take(data.array, indices.array.astype(np.int64), axis=axis)))]
    if isinstance(data, Const) and isinstance(indices, Data):
        return embedding(r, node, data.array, indices)
    if isinstance(data, Data) and isinstance(indices, Const):
        if not data.variant and r.graph.layers[data.layer].kind not in ("lstm", "gru"):
            return onnx_kinds.first_token(r, node, data, indices.array, axis)
        return last_step(r, node, data, indices.array, axis)
    raise Unexpressible("Gather")


@handles("Slice")
def slice_(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    value = ins[0]
    starts, ends = (r.const(v, node, "bound") for v in ins[1:3])
    rank = len(value.physical_shape) if isinstance(value, Data) else None
    if rank is None:
        rank = value.array.ndim if isinstance(value, Const) else len(value.shape)
    axes = r.const(ins[3], node, "axis") if len(ins) > 3 and ins[3] is not None else None
    steps = r.const(ins[4], node, "step") if len(ins) > 4 and ins[4] is not None else None
    axes = list(range(len(starts))) if axes is None else [int(a) % rank for a in axes]
    steps = [1] * len(axes) if steps is None else [int(s) for s in steps]
    cuts = {a: (int(b), int(e), s) for a, b, e, s in zip(axes, starts, ends, steps, strict=True)}
    if isinstance(value, Const):
        index = tuple(
            slice(*cuts[a]) if a in cuts else slice(None) for a in range(value.array.ndim)
        )
        return [Const(known(value.array[index]))]
    if isinstance(value, Data):
        return crop(r, node, value, cuts)
    if isinstance(value, Filled | Shaped):
        dims = list(value.shape)
        for a, (b, e, s) in cuts.items():
            if dims[a] is BATCH:
                continue
            dims[a] = len(range(*slice(b, e, s).indices(int(dims[a]))))
        if isinstance(value, Filled) and value.pads is None and value.pooled is None:
            return [Filled(value.value, dims)]
        return [Shaped(dims, "Slice")]
    raise Unexpressible("Slice")


@handles("Concat")
def concat(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    axis = attrs["axis"]
    if all(isinstance(v, Const) for v in ins):
        return [Const(np.concatenate([np.atleast_1d(v.array) for v in ins], axis=axis))]
    if any(isinstance(v, Tiled) for v in ins):
        return onnx_kinds.class_token(r, node, ins, axis)
    if not all(isinstance(v, Data) for v in ins):
        raise Unexpressible("Concat of data and constants")
    parts = [r.materialize(v) for v in ins]
    first = parts[0]
    if any(p.phys != first.phys for p in parts):
        raise Misfit("Concat of tensors in different layouts")
    if first.phys[axis % len(first.phys)] != len(first.shape) - 1:
        raise Misfit("Concat on an axis other than the channels")
    index, shape = r.add(node, "concat", {}, parts)
    return [Data(index, shape, first.phys, nonneg=all(p.nonneg for p in parts))]


@handles("Unsqueeze", "Squeeze", "Reshape", "Flatten")
def reshape(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    value = ins[0]
    source = (
        value.physical_shape
        if isinstance(value, Data)
        else list(value.array.shape)
        if isinstance(value, Const)
        else list(value.shape)
        if isinstance(value, Filled | Shaped)
        else None
    )
    if source is None:
        raise Unexpressible(node.op_type)
    target = _target(r, node, ins, attrs, source)
    if isinstance(value, Const):
        if value.array.dtype == object and node.op_type != "Reshape":
            return [Const(np.asarray(value.array.reshape(target)))]
        return [Const(value.array.reshape([int(d) for d in target]))]
    if isinstance(value, Filled):
        return [Filled(value.value, target)]
    if isinstance(value, Shaped):
        return [Shaped(target, value.what)]
    return [reshape_data(r, node, r.materialize(value), target)]


def _target(r: OnnxReader, node, ins: list, attrs: dict, source: list) -> list:
    """The physical shape a Reshape/Flatten/Squeeze/Unsqueeze makes of ``source``."""
    op = node.op_type
    if op == "Flatten":
        axis = attrs.get("axis", 1) % max(len(source), 1)
        head, tail = source[:axis], source[axis:]
        return [_product(head), _product(tail)]
    if op == "Reshape":
        target = r.const(ins[1], node, "shape")
        resolved = resolve_shape(np.asarray(target), source, bool(attrs.get("allowzero", 0)))
        if resolved is None:
            raise Unexpressible("Reshape to a shape it cannot work out")
        return resolved
    axes = attrs.get("axes")
    if axes is None and len(ins) > 1 and ins[1] is not None:
        axes = r.const(ins[1], node, "axes").tolist()
    if op == "Squeeze":
        if axes is None:
            return [d for d in source if d is BATCH or int(d) != 1]
        drop = {int(a) % len(source) for a in axes}
        return [d for i, d in enumerate(source) if i not in drop]
    out = list(source)
    rank = len(source) + len(axes)
    for a in sorted(int(a) % rank for a in axes):
        out.insert(a, 1)
    return out


def _product(dims: list) -> Any:
    if any(d is BATCH for d in dims):
        return BATCH if all(d is BATCH or int(d) == 1 for d in dims) else None
    total = 1
    for d in dims:
        total *= int(d)
    return total


def reshape_data(r: OnnxReader, node, data: Data, target: list) -> Data:
    """A reshape of data: a change of layout when it only adds or drops axes of size 1; else
    a spec ``flatten`` or ``reshape``, which read the tensor in the spec's (channels-last)
    order: either the data is held in that order, or it is a channels-first flatten that only
    dense layers read (``nn.Flatten`` before ``nn.Linear``, which the spec's PyTorch code
    writes the same way)."""
    if None in target:
        raise Misfit(f"{node.op_type} mixing the batch with other axes")
    same = squeeze_map(data, target)
    if same is not None:
        return data.with_(phys=same)
    if target.count(BATCH) != 1 or target[0] is not BATCH:
        raise Misfit(f"{node.op_type} moving the batch axis")
    shape = tuple(int(d) for d in target[1:])
    if len(shape) == 1 and len(data.shape) > 1:
        if not in_spec_order(data):
            if data.phys != channels_first(len(data.shape)):
                raise Misfit(f"{node.op_type} of a tensor held in another layout")
            index, out = r.add(node, "flatten", {}, [data])
            r.after.append(lambda i=index: _check_chw_flatten(r, i))
            return Data(index, out, channels_last(1), nonneg=data.nonneg)
        index, out = r.add(node, "flatten", {}, [data])
        return Data(index, out, channels_last(1), nonneg=data.nonneg)
    tokens = onnx_kinds.patch_tokens(r, node, data, target)
    if tokens is not None:
        return tokens
    if not in_spec_order(data):
        raise Misfit(f"{node.op_type} of a tensor held in another layout")
    if all(d == 1 for d in shape[:-1]) and len(shape) > 1:
        # (N, C, 1, 1): read as an image of 1x1 pixels, channels first as PyTorch has it
        shape = (*shape[1:], shape[0]) if len(shape) > 1 else shape
        index, out = r.add(node, "reshape", {"shape": shape}, [data])
        return Data(index, out, channels_first(len(shape)), nonneg=data.nonneg)
    index, out = r.add(node, "reshape", {"shape": shape}, [data])
    return Data(index, out, channels_last(len(shape)), nonneg=data.nonneg)


def _check_chw_flatten(r: OnnxReader, index: int) -> None:
    """A channels-first flatten must feed dense layers and only them (through elementwise
    layers): the spec's PyTorch code then flattens the same way (``nn.Flatten``, see
    :func:`specc.emit.planning.feeds`)."""
    from specc.bridge.graph import ELEMENTWISE

    users = r.graph.consumers()
    kinds: set[str] = set()
    stack = list(users[index])
    while stack:
        i = stack.pop()
        if r.graph.layers[i].kind in ELEMENTWISE:
            stack += users[i]
        else:
            kinds.add(r.graph.layers[i].kind)
    if kinds != {"dense"}:
        r.unsupported.add(
            "a channels-first flatten read by other than dense layers",
            r.graph.layers[index].name or "flatten",
            "specc's flatten orders features H, W, C",
        )


@handles("Transpose")
def transpose(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    value = ins[0]
    perm = attrs.get("perm")
    if isinstance(value, Const):
        return [Const(np.transpose(value.array, perm))]
    if not isinstance(value, Data):
        raise Unexpressible("Transpose")
    value = r.materialize(value)
    perm = perm or list(range(len(value.phys)))[::-1]
    return [value.with_(phys=tuple(value.phys[p] for p in perm))]


@handles("Expand")
def expand(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    value, shape_value = ins
    target = r.const(shape_value, node, "shape") if isinstance(shape_value, Const) else None
    if target is None:
        raise Unexpressible("Expand")
    if isinstance(value, Const) and value.array.size == 1:
        dims = list(target.tolist())
        if any(d is BATCH for d in dims):
            return [Filled(float(value.array.reshape(())), dims)]
        return [Const(np.broadcast_to(value.array, [int(d) for d in dims]).copy())]
    if isinstance(value, Const) and any(d is BATCH for d in target.tolist()):
        return [Tiled(value.array, list(target.tolist()), node.input[0])]
    if isinstance(value, Const):
        return fold(r, node, ins)
    raise Unexpressible("Expand of data")


@handles("ConstantOfShape")
def constant_of_shape(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    from onnx import numpy_helper

    dims = list(r.const(ins[0], node, "shape").tolist())
    value = float(numpy_helper.to_array(attrs["value"]).reshape(())) if "value" in attrs else 0.0
    if any(d is BATCH for d in dims):
        return [Filled(value, dims)]
    return [Const(np.full([int(d) for d in dims], value, dtype=np.float32))]


# -- arithmetic: constants, or the few patterns of data that are spec layers ----------------------


@handles("Add", "Sum")
def add(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    if all_const(ins):
        return fold(r, node, ins)
    if all(isinstance(v, Data) for v in ins):
        parts = [r.materialize(v) for v in ins]
        if any(p.phys != parts[0].phys or p.shape != parts[0].shape for p in parts):
            raise Misfit("Add of tensors of different shapes or layouts")
        index, shape = r.add(node, "add", {}, parts)
        return [Data(index, shape, parts[0].phys)]
    data = next((v for v in ins if isinstance(v, Data)), None)
    bias = next((v for v in ins if isinstance(v, Const)), None)
    if data is not None and len(ins) == 2 and equals(bias, 0.0):
        return [data]
    if data is not None and bias is not None and len(ins) == 2:
        layer = r.graph.layers[data.layer]
        if layer.kind == "dense" and not layer.args["use_bias"]:
            return [_dense_bias(r, node, data, bias.array)]
        return [
            onnx_kinds.shift(
                r, node, data, bias, 1.0, next(k for k, v in enumerate(ins) if v is bias)
            )
        ]
    raise Unexpressible(f"{node.op_type} of data and a constant")


def _dense_bias(r: OnnxReader, node, data: Data, bias: np.ndarray) -> Data:
    """``MatMul`` then ``Add`` of a vector: a dense layer's bias."""
    layer = r.graph.layers[data.layer]
    if (
        layer.kind == "dense"
        and not layer.args["use_bias"]
        and layer.weights is not None
        and r.readers.get(node.input[0], 0) <= 1
        and bias.shape in ((layer.args["units"],), (1, layer.args["units"]))
    ):
        layer.args["use_bias"] = True
        layer.weights.arrays["bias"] = bias.reshape(-1).astype(np.float32)
        return data
    raise Unexpressible("Add of data and a constant", "only a dense layer's bias")


@handles("Sub", "Div", "Mul", "Pow", "Sqrt", "Neg", "Equal", "Where", "Range", "Floor")
def arithmetic(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    if all_const(ins):
        try:
            return fold(r, node, ins)
        except Unexpressible:
            raise
        except Exception as exc:
            raise Unexpressible(f"{node.op_type} of shape values", str(exc)) from None
    # x * 1, 1 * x, x / 1, x - 0: PyTorch writes elu(x) as elu(x * 1) * 1
    neutral = {"Mul": 1.0, "Div": 1.0, "Sub": 0.0}.get(node.op_type)
    pairs = [(0, 1), (1, 0)] if node.op_type == "Mul" else [(0, 1)]
    for i, j in pairs if len(ins) == 2 else []:
        if isinstance(ins[i], Data) and equals(ins[j], neutral):
            return [ins[i]]
    if node.op_type == "Mul" and len(ins) == 2 and all(isinstance(v, Data) for v in ins):
        return [_silu(r, node, ins[0], ins[1])]
    if node.op_type == "Div" and isinstance(ins[0], Data) and isinstance(ins[1], Filled):
        return [_average_over_real(r, node, ins[0], ins[1])]
    if len(ins) == 2 and isinstance(ins[0], Data) and isinstance(ins[1], Const):
        if node.op_type == "Mul":
            return [onnx_kinds.scale(r, node, ins[0], ins[1], 1)]
        if node.op_type == "Sub":
            return [onnx_kinds.shift(r, node, ins[0], ins[1], -1.0, 1)]
        if node.op_type == "Div":
            return [onnx_kinds.divide(r, node, ins[0], ins[1])]
    constant_first = len(ins) == 2 and isinstance(ins[0], Const) and isinstance(ins[1], Data)
    if node.op_type == "Mul" and constant_first:
        return [onnx_kinds.scale(r, node, ins[1], ins[0], 0)]
    raise Unexpressible(node.op_type, "on data")


def _silu(r: OnnxReader, node, a: Data, b: Data) -> Data:
    """``x * sigmoid(x)``: silu, written as the sigmoid layer turned into silu."""
    for x, s in ((a, b), (b, a)):
        layer = r.graph.layers[s.layer]
        if (
            layer.kind == "activation"
            and layer.args.get("fn") == "sigmoid"
            and layer.inputs == [x.layer]
            and s.phys == x.phys
            and r.readers.get(_name_of(r, node, s), 0) == 1
        ):
            layer.args["fn"] = "silu"
            return s.with_(nonneg=False)
    return onnx_kinds.multiply(r, node, a, b)


def _name_of(r: OnnxReader, node, value: Data) -> str:
    for name in node.input:
        if r.values.get(name) is value:
            return name
    return ""


def _average_over_real(r: OnnxReader, node, data: Data, coverage: Filled) -> Data:
    """``avg_pool(pad(x)) / avg_pool(pad(ones))``: TensorFlow's ``same`` average, which
    divides by the real elements of each window."""
    need = data.extra.get("needs_division")
    if coverage.value == 1 and coverage.pooled and not any(coverage.pads or ()):
        return data  # no padding: every window is whole, the division is by 1
    if need is None or coverage.pooled != need:
        raise Unexpressible("Div", "on data")
    return data.with_(extra={})
