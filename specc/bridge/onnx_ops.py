"""The ONNX ops the reader understands: constants, layout changes, and spec layers.

Each handler takes the reader, the node, its input values and attributes, and returns the
values of its outputs (:mod:`specc.bridge.onnx_values`).  Layer handlers check the layout of
their data and add spec layers with the weights in PyTorch's layout, under the names the
kind's PyTorch plan gives them (``weight``, ``bias``, ``running_mean``...); what they cannot
express raises :class:`~specc.bridge.onnx_reader.Unexpressible`.  Ops on constants only
(shape arithmetic, folded weights) are evaluated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from specc.bridge.onnx_reader import OnnxReader, Unexpressible
from specc.bridge.onnx_values import (
    BATCH,
    Const,
    Data,
    Filled,
    Shaped,
    Value,
    channels_first,
    channels_last,
    in_spec_order,
    resolve_shape,
    squeeze_map,
)
from specc.bridge.padding import express
from specc.bridge.spec_text import float32

Handler = Callable[[OnnxReader, Any, list, dict], list]
HANDLERS: dict[str, Handler] = {}
RECURRENT_ORDER = {"LSTM": (0, 2, 3, 1), "GRU": (1, 0, 2)}  # torch gate block i = ONNX block


def handles(*ops: str):
    """Register a handler for the ONNX ops ``ops``."""

    def register(fn: Handler) -> Handler:
        for op in ops:
            HANDLERS[op] = fn
        return fn

    return register


def _data(ins: list, what: str) -> Data:
    value = ins[0]
    if not isinstance(value, Data):
        raise Unexpressible(what, "its input is not computed from the model's input")
    return value


def _fold(r: OnnxReader, node, ins: list) -> list[Value]:
    """Evaluate a node whose inputs are all known, with ONNX's reference implementation."""
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    arrays = []
    for value in ins:
        if value is None:
            arrays.append(None)
        elif isinstance(value, Const) and value.array.dtype != object:
            arrays.append(value.array)
        else:
            raise Unexpressible(node.op_type, "on data or on the batch size")
    names = [f"i{k}" if a is not None else "" for k, a in enumerate(arrays)]
    outs = [f"o{k}" for k in range(len(node.output))]
    copy = helper.make_node(node.op_type, names, outs, domain=node.domain)
    copy.attribute.extend(node.attribute)
    graph = helper.make_graph(
        [copy],
        "fold",
        [helper.make_tensor_value_info(n, 0, None) for n in names if n],
        [helper.make_tensor_value_info(o, 0, None) for o in outs],
    )
    opsets = [helper.make_opsetid(o.domain, o.version) for o in r.model.opset_import]
    model = helper.make_model(graph, opset_imports=opsets)
    feeds = {n: a for n, a in zip(names, arrays, strict=True) if n}
    results = ReferenceEvaluator(model).run(None, feeds)
    return [Const(np.asarray(v)) for v in results]


def _all_const(ins: list) -> bool:
    return all(v is None or isinstance(v, Const) for v in ins)


def _known(array: np.ndarray) -> np.ndarray:
    """A shape computation's array as ints once the batch size is no longer in it."""
    if array.dtype == object and not any(v is BATCH for v in array.ravel()):
        return array.astype(np.int64)
    return array


def _bias(r: OnnxReader, node, index: int) -> np.ndarray | None:
    """A conv's or dense layer's bias: an array, or None when it has none.  A bias that the
    graph computes as zeros (PyTorch's exporter writes ``Expand(0, ...)`` for ``bias=False``)
    is none; a weight stored in the file is one, even when it is zero."""
    if len(node.input) <= index or not node.input[index]:
        return None
    value = r.values.get(node.input[index])
    stored = node.input[index] in r.stored
    if isinstance(value, Const) and value.array.dtype != object:
        if stored or value.array.any():
            return value.array.astype(np.float32)
        return None
    if _zero(value):
        return None
    raise Unexpressible(f"{node.op_type} with a bias computed from the data")


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
        return [Const(_known(np.take(data.array, indices.array.astype(np.int64), axis=axis)))]
    if isinstance(data, Const) and isinstance(indices, Data):
        return embedding(r, node, data.array, indices)
    if isinstance(data, Data) and isinstance(indices, Const):
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
        return [Const(_known(value.array[index]))]
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
    if not all(isinstance(v, Data) for v in ins):
        raise Unexpressible("Concat of data and constants")
    parts = [r.materialize(v) for v in ins]
    first = parts[0]
    if any(p.phys != first.phys for p in parts):
        raise Unexpressible("Concat of tensors in different layouts")
    if first.phys[axis % len(first.phys)] != len(first.shape) - 1:
        raise Unexpressible("Concat on an axis other than the channels")
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
        raise Unexpressible(f"{node.op_type} mixing the batch with other axes")
    same = squeeze_map(data, target)
    if same is not None:
        return data.with_(phys=same)
    if target.count(BATCH) != 1 or target[0] is not BATCH:
        raise Unexpressible(f"{node.op_type} moving the batch axis")
    shape = tuple(int(d) for d in target[1:])
    if len(shape) == 1 and len(data.shape) > 1:
        if not in_spec_order(data):
            if data.phys != channels_first(len(data.shape)):
                raise Unexpressible(f"{node.op_type} of a tensor held in another layout")
            index, out = r.add(node, "flatten", {}, [data])
            r.after.append(lambda i=index: _check_chw_flatten(r, i))
            return Data(index, out, channels_last(1), nonneg=data.nonneg)
        index, out = r.add(node, "flatten", {}, [data])
        return Data(index, out, channels_last(1), nonneg=data.nonneg)
    if not in_spec_order(data):
        raise Unexpressible(f"{node.op_type} of a tensor held in another layout")
    if all(d == 1 for d in shape[:-1]) and len(shape) > 1:
        # (N, C, 1, 1): read as an image of 1x1 pixels, channels first as PyTorch has it
        shape = (*shape[1:], shape[0]) if len(shape) > 1 else shape
        index, out = r.add(node, "reshape", {"shape": shape}, [data])
        return Data(index, out, channels_first(len(shape)), nonneg=data.nonneg)
    index, out = r.add(node, "reshape", {"shape": shape}, [data])
    return Data(index, out, channels_last(len(shape)), nonneg=data.nonneg)


def _check_chw_flatten(r: OnnxReader, index: int) -> None:
    """A channels-first flatten must feed dense layers only (through elementwise layers), as
    the spec's PyTorch code then flattens the same way."""
    from specc.bridge.graph import ELEMENTWISE

    users = r.graph.consumers()
    stack, seen = list(users[index]), set()
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        kind = r.graph.layers[i].kind
        if kind in ELEMENTWISE:
            stack += users[i]
        elif kind != "dense":
            r.unsupported.add(
                "a channels-first flatten read by other than dense layers",
                r.graph.layers[index].name or "flatten",
                "specc's flatten orders features H, W, C",
            )
            return


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
    if isinstance(value, Const):
        return _fold(r, node, ins)
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
    if _all_const(ins):
        return _fold(r, node, ins)
    if all(isinstance(v, Data) for v in ins):
        parts = [r.materialize(v) for v in ins]
        if any(p.phys != parts[0].phys or p.shape != parts[0].shape for p in parts):
            raise Unexpressible("Add of tensors of different shapes or layouts")
        index, shape = r.add(node, "add", {}, parts)
        return [Data(index, shape, parts[0].phys)]
    data = next((v for v in ins if isinstance(v, Data)), None)
    bias = next((v for v in ins if isinstance(v, Const)), None)
    if data is not None and len(ins) == 2 and _equals(bias, 0.0):
        return [data]
    if data is not None and bias is not None and len(ins) == 2:
        return [_dense_bias(r, node, data, bias.array)]
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
    if _all_const(ins):
        try:
            return _fold(r, node, ins)
        except Unexpressible:
            raise
        except Exception as exc:
            raise Unexpressible(f"{node.op_type} of shape values", str(exc)) from None
    neutral = {"Mul": 1.0, "Div": 1.0, "Sub": 0.0}.get(node.op_type)
    if len(ins) == 2 and isinstance(ins[1 if node.op_type != "Mul" else 0], Data | Const):
        for data, other in ((ins[0], ins[1]), (ins[1], ins[0])):
            if node.op_type != "Mul" and data is ins[1]:
                continue  # x / 1 and x - 0, not 1 / x
            if isinstance(data, Data) and _equals(other, neutral):
                return [data]  # PyTorch writes elu(x) as elu(x * 1) * 1
    if node.op_type == "Mul" and len(ins) == 2 and all(isinstance(v, Data) for v in ins):
        return [_silu(r, node, ins[0], ins[1])]
    if node.op_type == "Div" and isinstance(ins[0], Data) and isinstance(ins[1], Filled):
        return [_average_over_real(r, node, ins[0], ins[1])]
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
    raise Unexpressible("Mul", "multiplying two tensors (a multiply merge)")


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


# -- layers ----------------------------------------------------------------------------------------


def _spatial_pads(attrs: dict, dims: int) -> tuple[list[int], list[int]]:
    if attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise Unexpressible(f"auto_pad={attrs['auto_pad']}")
    pads = list(attrs.get("pads", [0] * (2 * dims)))
    return pads[:dims], pads[dims:]


def _pending(data: Data, dims: int) -> tuple[list[int], list[int], set[float]]:
    """A padding not yet given to a layer: (before, after, values)."""
    if data.pad is None:
        return [0] * dims, [0] * dims, set()
    return [b for b, _, _ in data.pad], [a for _, a, _ in data.pad], {v for *_, v in data.pad}


def _apply_pads(r: OnnxReader, node, data: Data, zeropad) -> Data:
    """``data`` with a ``zeropad`` layer in front when the padding needs one."""
    if not zeropad or not any(zeropad):
        return data.with_(pad=None)
    if len(zeropad) != 2:
        raise Unexpressible(f"{node.op_type} with padding a 1-D spec layer cannot say")
    index, shape = r.add(
        None, "zeropad2d", {"padding": tuple(zeropad)}, [data.with_(pad=None)], name=""
    )
    return Data(index, shape, data.phys, nonneg=data.nonneg)


@handles("Conv")
def conv(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = _data(ins, "Conv")
    weight = r.const(ins[1], node, "weight")
    bias = _bias(r, node, 2)
    dims = weight.ndim - 2
    if dims not in (1, 2):
        raise Unexpressible(f"Conv over {dims} spatial axes")
    data = r.image(data, dims + 1)
    before, after, values = _pending(data, dims)
    if values - {0.0}:
        raise Unexpressible("Conv after a padding that is not zero")
    own_before, own_after = _spatial_pads(attrs, dims)
    before = [a + b for a, b in zip(before, own_before, strict=True)]
    after = [a + b for a, b in zip(after, own_after, strict=True)]
    kernel = tuple(int(k) for k in weight.shape[2:])
    stride = tuple(attrs.get("strides", [1] * dims))
    dilation = tuple(attrs.get("dilations", [1] * dims))
    form = express(data.shape[:dims], kernel, stride, dilation, before, after)
    if form is None:
        raise Unexpressible("Conv with uneven pads", f"pads {before} + {after}")
    zeropad, padding = form
    data = _apply_pads(r, node, data, zeropad)
    channels = data.shape[-1]
    group = int(attrs.get("group", 1))
    has_bias = bias is not None
    weights = {"weight": weight.astype(np.float32)}
    if has_bias:
        weights["bias"] = bias
    window = {"stride": stride, "padding": padding, "dilation": dilation}
    if group == 1:
        kind = "conv2d" if dims == 2 else "conv1d"
        args = {"filters": int(weight.shape[0]), "kernel": kernel, **window}
    elif group == channels and weight.shape[1] == 1 and dims == 2:
        kind = "depthwise_conv2d"
        args = {"kernel": kernel, "depth_multiplier": int(weight.shape[0]) // channels, **window}
    else:
        raise Unexpressible("Conv with groups", f"group={group}: grouped convolution")
    args |= {"use_bias": has_bias, "activation": None}
    index, shape = r.add(node, kind, args, [data], weights)
    return [Data(index, shape, channels_first(dims + 1))]


def _equals(value: Value | None, number: float | None) -> bool:
    """Whether ``value`` is a constant that is ``number`` everywhere (a scalar, say)."""
    return (
        number is not None
        and isinstance(value, Const)
        and value.array.dtype != object
        and value.array.size <= 1
        and bool(np.all(value.array == number))
    )


def _zero(value: Value) -> bool:
    if isinstance(value, Filled):
        return value.value == 0 and value.pads is None and value.pooled is None
    return isinstance(value, Const) and value.array.dtype != object and not value.array.any()


@handles("ConvTranspose")
def conv_transpose(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = r.image(r.materialize(_data(ins, "ConvTranspose")), 3)
    weight = r.const(ins[1], node, "weight")
    bias = _bias(r, node, 2)
    if weight.ndim != 4 or int(attrs.get("group", 1)) != 1:
        raise Unexpressible("ConvTranspose other than a plain 2-D one")
    if any(d != 1 for d in attrs.get("dilations", [1, 1])) or "output_shape" in attrs:
        raise Unexpressible("ConvTranspose with dilations or output_shape")
    before, after = _spatial_pads(attrs, 2)
    kernel = tuple(int(k) for k in weight.shape[2:])
    stride = tuple(int(s) for s in attrs.get("strides", [1, 1]))
    extra = list(attrs.get("output_padding", [0, 0]))
    # the output, as an offset into and a length of the full transposed output per axis
    geometry = []
    for n, k, s, b, a, e in zip(data.shape[:2], kernel, stride, before, after, extra, strict=True):
        geometry.append((b, (n - 1) * s + k - b - a + e))
    has_bias = bias is not None
    weights = {"weight": weight.astype(np.float32)}
    if has_bias:
        weights["bias"] = bias
    args = {
        "filters": int(weight.shape[1]),
        "kernel": kernel,
        "stride": stride,
        "padding": "valid",
        "use_bias": has_bias,
        "activation": None,
    }
    index, _ = r.add(node, "conv2d_transpose", args, [data], weights)
    shape = (geometry[0][1], geometry[1][1], args["filters"])
    out = Data(index, shape, channels_first(3), extra={"geometry": geometry, "input": data.shape})
    r.after.append(lambda: _settle_transpose(r, index))
    r.transposes[index] = out
    return [out]


def crop(r: OnnxReader, node, data: Data, cuts: dict) -> list:
    """A slice of data: a conv transpose's crop (TensorFlow's ``same`` output), or only its
    shape is used."""
    physical = data.physical_shape
    whole = all(
        (
            physical[a] is not BATCH
            and step == 1
            and range(int(physical[a]))[slice(b, e)] == range(int(physical[a]))
        )
        or (physical[a] is BATCH and (b, e, step) in ((0, 2**63 - 1, 1), (0, -1 + 2**63, 1)))
        for a, (b, e, step) in cuts.items()
    )
    if whole:  # x[:, :]: a copy
        return [data]
    geometry = data.extra.get("geometry")
    single = r.readers.get(node.input[0], 0) == 1
    if geometry is not None and single:
        geometry = list(geometry)
        shape = list(data.shape)
        for axis, (begin, end, step) in cuts.items():
            p = data.phys[axis]
            if p == "N" or p is None or p >= 2 or step != 1:
                raise Unexpressible("Slice of a ConvTranspose other than a spatial crop")
            offset, length = geometry[p]
            kept = range(length)[slice(begin, end)]
            geometry[p] = (offset + (kept.start if kept else 0), len(kept))
            shape[p] = len(kept)
        out = data.with_(shape=tuple(shape), extra={**data.extra, "geometry": geometry})
        r.transposes[data.layer] = out
        return [out]
    dims = data.physical_shape
    for a, (b, e, s) in cuts.items():
        if dims[a] is not BATCH:
            dims[a] = len(range(*slice(b, e, s).indices(int(dims[a]))))
    return [Shaped(dims, "Slice")]


def _settle_transpose(r: OnnxReader, index: int) -> None:
    """Keras's padding for a conv transpose from the part of its output that is used."""
    data = r.transposes[index]
    layer = r.graph.layers[index]
    geometry = data.extra["geometry"]
    n_in = data.extra["input"]
    for padding in ("valid", "same"):
        fits = True
        for (offset, length), n, k, s in zip(
            geometry, n_in[:2], layer.args["kernel"], layer.args["stride"], strict=True
        ):
            valid = (0, n * s + max(k - s, 0))
            want = valid if padding == "valid" else (max(k - s, 0) // 2, n * s)
            fits = fits and (offset, length) == want
        if fits:
            layer.args["padding"] = padding
            return
    r.unsupported.add(
        "ConvTranspose with an output size Keras's padding cannot give",
        layer.name or "convtranspose",
    )


@handles("Gemm")
def gemm(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = r.materialize(_data(ins, "Gemm"))
    if attrs.get("transA", 0) or float32(attrs.get("alpha", 1.0)) != 1.0:
        raise Unexpressible("Gemm with transA or alpha")
    weight = r.const(ins[1], node, "weight")
    if not attrs.get("transB", 0):
        weight = weight.T
    bias = _bias(r, node, 2)
    if bias is not None and float32(attrs.get("beta", 1.0)) != 1.0:
        raise Unexpressible("Gemm with beta")
    return [_dense(r, node, data, weight, bias)]


@handles("MatMul")
def matmul(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    if _all_const(ins):
        return _fold(r, node, ins)
    data = r.materialize(_data(ins, "MatMul"))
    weight = r.const(ins[1], node, "weight")
    if weight.ndim != 2:
        raise Unexpressible("MatMul other than by a matrix")
    return [_dense(r, node, data, np.ascontiguousarray(weight.T), None)]


def _dense(r: OnnxReader, node, data: Data, weight: np.ndarray, bias) -> Data:
    """A dense layer: ``weight`` is PyTorch's (out, in)."""
    if len(data.shape) != 1 or data.phys != ("N", 0):
        raise Unexpressible(
            f"{node.op_type} on a tensor of rank > 2", "specc's dense takes vectors"
        )
    weights = {"weight": weight.astype(np.float32)}
    has_bias = bias is not None
    if has_bias:
        weights["bias"] = np.broadcast_to(bias, (weight.shape[0],)).astype(np.float32)
    args = {"units": int(weight.shape[0]), "use_bias": has_bias, "activation": None}
    index, shape = r.add(node, "dense", args, [data], weights)
    return Data(index, shape, ("N", 0))


@handles("BatchNormalization")
def batchnorm(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = r.materialize(_data(ins, "BatchNormalization"))
    if attrs.get("training_mode", 0):
        raise Unexpressible("BatchNormalization in training mode")
    if len(data.phys) < 2 or data.phys[1] != len(data.shape) - 1:
        raise Unexpressible("BatchNormalization over an axis other than the channels")
    scale, offset, mean, var = (r.const(v, node, "statistic") for v in ins[1:5])
    weights = {
        "weight": scale,
        "bias": offset,
        "running_mean": mean,
        "running_var": var,
    }
    args = {
        "momentum": float32(attrs.get("momentum", 0.9)),
        "epsilon": float32(attrs.get("epsilon", 1e-5)),
        "center": True,
        "scale": True,
    }
    index, shape = r.add(node, "batchnorm", args, [data], _floats(weights))
    return [Data(index, shape, data.phys)]


def _floats(arrays: dict) -> dict:
    return {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}


@handles("LayerNormalization")
def layernorm(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = r.materialize(_data(ins, "LayerNormalization"))
    axis = attrs.get("axis", -1) % len(data.phys)
    if axis != len(data.phys) - 1 or data.phys[axis] != len(data.shape) - 1:
        raise Unexpressible("LayerNormalization over axes other than the channels")
    scale = r.const(ins[1], node, "scale")
    bias = r.const(ins[2], node, "bias") if len(ins) > 2 and ins[2] is not None else None
    weights = {"weight": scale}
    if bias is not None:
        weights["bias"] = bias
    args = {"epsilon": float32(attrs.get("epsilon", 1e-5)), "center": bias is not None}
    args["scale"] = True
    index, shape = r.add(node, "layernorm", args, [data], _floats(weights))
    return [Data(index, shape, data.phys)]


@handles("MaxPool", "AveragePool")
def pool(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    value = ins[0]
    dims = len(attrs["kernel_shape"])
    kernel = tuple(int(k) for k in attrs["kernel_shape"])
    stride = tuple(int(s) for s in attrs.get("strides", [1] * dims))
    if isinstance(value, Filled) and node.op_type == "AveragePool":
        return [Filled(value.value, value.shape, value.pads, (kernel, stride, value.pads))]
    data = r.image(_data(ins, node.op_type), dims + 1)
    if attrs.get("ceil_mode", 0) or any(d != 1 for d in attrs.get("dilations", [1] * dims)):
        raise Unexpressible(f"{node.op_type} with ceil_mode or dilations")
    if len(node.output) > 1 and node.output[1]:
        raise Unexpressible("MaxPool with indices")
    ones = (1,) * dims
    pend_before, pend_after, values = _pending(data, dims)
    own_before, own_after = _spatial_pads(attrs, dims)
    sizes = data.shape[:dims]
    averaging = node.op_type == "AveragePool"
    counted = averaging and attrs.get("count_include_pad", 0)
    zeros = values == {0.0} and any(pend_before + pend_after)
    infs = values == {float("-inf")} and any(pend_before + pend_after)
    own = any(own_before + own_after)
    extra: dict = {}
    if own and (zeros or infs):
        raise Unexpressible(f"{node.op_type} after a Pad, with pads of its own")
    if own or infs:
        before, after = (own_before, own_after) if own else (pend_before, pend_after)
        form = express(sizes, kernel, stride, ones, before, after)
        implicit_zero = averaging and counted  # AveragePool's own pads, counted, are zeros
        if form is None:
            raise Unexpressible(f"{node.op_type} with uneven pads")
        zeropad, padding = form
        if implicit_zero and padding == "same":
            raise Unexpressible("AveragePool counting its padding")
        if not implicit_zero and zeropad is not None and not data.nonneg:
            raise Unexpressible(f"{node.op_type} padding data that may be negative")
        if averaging and not counted and zeropad is not None:
            raise Unexpressible("AveragePool with even pads it does not count")
    elif zeros:
        form = express(sizes, kernel, stride, ones, pend_before, pend_after)
        if form is None:
            raise Unexpressible(f"{node.op_type} after an uneven Pad")
        zeropad, padding = form
        if padding == "same" and zeropad is not None and (averaging or not data.nonneg):
            raise Unexpressible(f"{node.op_type} after a Pad it cannot say")
        if padding == "same" and averaging:
            # an average over zero padding: TensorFlow's `same` once divided by the coverage
            extra["needs_division"] = (kernel, stride, _onnx_pads(pend_before, pend_after))
        elif padding == "same" and not data.nonneg:
            raise Unexpressible("MaxPool over zero padding of data that may be negative")
    else:
        zeropad, padding = None, "valid"
    data = _apply_pads(r, node, data, zeropad)
    op = "maxpool" if node.op_type == "MaxPool" else "avgpool"
    args = {"pool": kernel, "stride": stride, "padding": padding}
    index, shape = r.add(node, f"{op}{dims}d", args, [data])
    return [Data(index, shape, channels_first(dims + 1), nonneg=data.nonneg, extra=extra)]


def _onnx_pads(before: list[int], after: list[int]) -> tuple:
    return tuple(before) + tuple(after)


@handles("Pad")
def pad(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    value = ins[0]
    if attrs.get("mode", "constant") != "constant":
        raise Unexpressible(f"Pad in {attrs['mode']} mode")
    pads = [int(p) for p in r.const(ins[1], node, "pads")]
    fill = ins[2] if len(ins) > 2 else None
    fill_value = 0.0 if fill is None else float(np.asarray(r.const(fill, node, "value")).ravel()[0])
    axes_value = ins[3] if len(ins) > 3 else None
    rank = (
        len(value.physical_shape) if isinstance(value, Data) else len(getattr(value, "shape", []))
    )
    axes = (
        list(range(rank))
        if axes_value is None
        else [int(a) % rank for a in r.const(axes_value, node, "axes")]
    )
    half = len(pads) // 2
    before = {a: pads[i] for i, a in enumerate(axes)}
    after = {a: pads[half + i] for i, a in enumerate(axes)}
    if isinstance(value, Filled):
        full = tuple(before.get(a, 0) for a in range(rank)) + tuple(
            after.get(a, 0) for a in range(rank)
        )
        return [Filled(value.value, value.shape, full[2:rank] + full[rank + 2 :])]
    data = _data(ins, "Pad")
    if data.pad is not None:
        data = r.materialize(data)
    spatial = len(data.shape) - 1
    image = r.image(data, spatial + 1) if spatial >= 1 else data
    per_axis = []
    for p, axis_phys in enumerate(image.phys):
        b, a = before.get(p, 0), after.get(p, 0)
        if axis_phys == "N" or axis_phys == spatial:
            if b or a:
                raise Unexpressible("Pad of the batch or channel axis")
            continue
    for s in range(spatial):
        p = image.phys.index(s)
        per_axis.append((before.get(p, 0), after.get(p, 0), fill_value))
    return [image.with_(pad=tuple(per_axis))]


@handles("GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceMax")
def global_pool(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = r.materialize(_data(ins, node.op_type))
    rank = len(data.shape)
    if node.op_type.startswith("Global"):
        data = r.image(data, rank)
        axes, keep = set(range(2, len(data.phys))), True
    else:
        axes_value = attrs.get("axes")
        if axes_value is None and len(ins) > 1 and ins[1] is not None:
            axes_value = r.const(ins[1], node, "axes").tolist()
        if axes_value is None:
            raise Unexpressible(f"{node.op_type} over every axis")
        axes = {int(a) % len(data.phys) for a in axes_value}
        keep = bool(attrs.get("keepdims", 1))
    spatial = {data.phys.index(a) for a in range(rank - 1) if a in data.phys}
    if rank < 2 or axes != spatial or len(spatial) != rank - 1:
        raise Unexpressible(f"{node.op_type} over axes other than the spatial ones")
    kind = (
        "globalavgpool" if "Mean" in node.op_type or "Average" in node.op_type else "globalmaxpool"
    )
    index, shape = r.add(node, kind, {}, [data])
    channel = data.phys.index(rank - 1)
    phys = []
    for p, entry in enumerate(data.phys):
        if p in axes:
            if keep:
                phys.append(None)
        elif p == channel:
            phys.append(0)
        else:
            phys.append(entry)
    return [Data(index, shape, tuple(phys), nonneg=data.nonneg)]


def _activation(
    r: OnnxReader, node, data: Data, fn: str, nonneg: bool = False, **extra: float
) -> list:
    data = r.materialize(data)
    index, shape = r.add(node, "activation", {"fn": fn, **extra}, [data])
    return [Data(index, shape, data.phys, nonneg=nonneg)]


@handles("Relu", "Sigmoid", "Tanh")
def simple_activation(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    fn = node.op_type.lower()
    return _activation(r, node, _data(ins, node.op_type), fn, nonneg=fn != "tanh")


@handles("Clip")
def clip(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    low = ins[1] if len(ins) > 1 else None
    high = ins[2] if len(ins) > 2 else None
    low = float(r.const(low, node, "min")) if low is not None else attrs.get("min", -np.inf)
    high = float(r.const(high, node, "max")) if high is not None else attrs.get("max", np.inf)
    if low == 0 and high == 6:
        return _activation(r, node, _data(ins, "Clip"), "relu6", nonneg=True)
    if low == 0 and np.isinf(high):
        return _activation(r, node, _data(ins, "Clip"), "relu", nonneg=True)
    raise Unexpressible("Clip", f"between {low} and {high}: only relu and relu6")


@handles("Softmax")
def softmax(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = _data(ins, "Softmax")
    axis = attrs.get("axis", -1) % len(data.phys)
    if data.phys[axis] != len(data.shape) - 1:
        raise Unexpressible("Softmax over an axis other than the channels")
    return _activation(r, node, data, "softmax", nonneg=True)


@handles("LeakyRelu")
def leaky_relu(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    slope = float32(attrs.get("alpha", 0.01))
    return _activation(r, node, _data(ins, "LeakyRelu"), "leaky_relu", negative_slope=slope)


@handles("Elu")
def elu(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    return _activation(r, node, _data(ins, "Elu"), "elu", alpha=float32(attrs.get("alpha", 1.0)))


@handles("Gelu")
def gelu(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    if attrs.get("approximate", "none") != "none":
        raise Unexpressible("Gelu with the tanh approximation")
    return _activation(r, node, _data(ins, "Gelu"), "gelu")


@handles("Dropout")
def dropout(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = r.materialize(_data(ins, "Dropout"))
    ratio = ins[1] if len(ins) > 1 else None
    rate = float(r.const(ratio, node, "ratio")) if ratio is not None else attrs.get("ratio", 0.5)
    index, shape = r.add(node, "dropout", {"rate": float32(rate)}, [data])
    return [Data(index, shape, data.phys, nonneg=data.nonneg)]


@handles("Resize", "Upsample")
def resize(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = r.image(r.materialize(_data(ins, node.op_type)), 3)
    if attrs.get("mode", "nearest") != "nearest":
        raise Unexpressible(f"{node.op_type} in {attrs['mode']} mode")
    if attrs.get("coordinate_transformation_mode", "half_pixel") not in ("asymmetric",):
        raise Unexpressible(f"{node.op_type} with {attrs['coordinate_transformation_mode']}")
    if attrs.get("nearest_mode", "round_prefer_floor") != "floor":
        raise Unexpressible(f"{node.op_type} with nearest_mode={attrs.get('nearest_mode')}")
    if node.op_type == "Upsample":
        scales, sizes = ins[1], None
    else:
        scales = ins[2] if len(ins) > 2 else None
        sizes = ins[3] if len(ins) > 3 else None
    if scales is not None and r.const(scales, node, "scales").size:
        factor = [float(s) for s in r.const(scales, node, "scales")[2:]]
    elif sizes is not None:
        wanted = r.const(sizes, node, "sizes")[2:]
        factor = [float(w) / n for w, n in zip(wanted, data.shape[:2], strict=True)]
    else:
        raise Unexpressible(f"{node.op_type} without scales")
    if any(f != int(f) or f < 1 for f in factor):
        raise Unexpressible(f"{node.op_type} by a factor that is not a whole number")
    args = {"size": tuple(int(f) for f in factor), "interpolation": "nearest"}
    index, shape = r.add(node, "upsampling2d", args, [data])
    return [Data(index, shape, data.phys, nonneg=data.nonneg)]


def embedding(r: OnnxReader, node, table: np.ndarray, ids: Data) -> list:
    """``Gather(table, ids)``: an embedding of integer ids."""
    if table.ndim != 2 or len(ids.shape) != 1:
        raise Unexpressible("Gather of a table by more than a sequence of ids")
    args = {"vocab": int(table.shape[0]), "dim": int(table.shape[1])}
    index, shape = r.add(node, "embedding", args, [ids], {"weight": table.astype(np.float32)})
    return [Data(index, shape, (*ids.phys, 1))]


def last_step(r: OnnxReader, node, data: Data, index: np.ndarray, axis: int) -> list:
    """``Gather`` of the last step of a recurrent layer's sequence: its final state."""
    if data.variant != "seq" or index.size != 1:
        raise Unexpressible("Gather", "only a recurrent layer's last step")
    axis %= len(data.phys)
    length = data.shape[0]
    if data.phys[axis] != 0 or int(index.reshape(())) not in (-1, length - 1):
        raise Unexpressible("Gather", "only a recurrent layer's last step")
    phys = tuple(0 if p == 1 else p for i, p in enumerate(data.phys) if i != axis)
    return [Data(data.layer, (data.shape[1],), phys, variant="last")]


@handles("LSTM", "GRU")
def recurrent(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    op = node.op_type
    data = r.materialize(_data(ins, op))
    if attrs.get("direction", "forward") != "forward" or attrs.get("layout", 0) != 0:
        raise Unexpressible(f"{op} other than forward, sequence-first")
    if "clip" in attrs or attrs.get("input_forget", 0):
        raise Unexpressible(f"{op} with clip or input_forget")
    defaults = ["Sigmoid", "Tanh", "Tanh"] if op == "LSTM" else ["Sigmoid", "Tanh"]
    if [a.capitalize() for a in attrs.get("activations", defaults)] != defaults:
        raise Unexpressible(f"{op} with other activations")
    if op == "GRU" and not attrs.get("linear_before_reset", 0):
        raise Unexpressible("GRU with linear_before_reset=0", "Keras's GRU resets after")
    if len(data.shape) != 2 or data.phys != (0, "N", 1):
        raise Unexpressible(f"{op} on a tensor in another layout")
    for k in (4, 5, 6, 7):
        if len(ins) > k and ins[k] is not None and not (k in (5, 6) and _zero(ins[k])):
            raise Unexpressible(f"{op} with sequence lengths, initial states or peepholes")
    w, rec = (r.const(v, node, "weight")[0] for v in ins[1:3])
    units = int(attrs["hidden_size"])
    gates = w.shape[0] // units
    bias = ins[3] if len(ins) > 3 and ins[3] is not None else None
    b = r.const(bias, node, "bias")[0] if bias is not None else np.zeros(2 * gates * units)
    order = RECURRENT_ORDER[op]

    def torch_order(a: np.ndarray) -> np.ndarray:
        blocks = np.split(a, gates, axis=0)
        return np.concatenate([blocks[i] for i in order], axis=0).astype(np.float32)

    weights = {
        "weight_ih_l0": torch_order(w),
        "weight_hh_l0": torch_order(rec),
        "bias_ih_l0": torch_order(b[: gates * units]),
        "bias_hh_l0": torch_order(b[gates * units :]),
    }
    args = {"units": units, "return_sequences": True}
    index, shape = r.add(node, op.lower(), args, [data], weights)
    r.after.append(lambda: _settle_recurrent(r, index))
    sequence = Data(index, shape, (0, None, "N", 1), variant="seq")
    last = Data(index, (units,), (None, "N", 0), variant="last")
    outputs: list[Value] = [sequence, last]
    if op == "LSTM":  # the cell state: nothing a spec layer gives
        outputs.append(Shaped([1, BATCH, units], "LSTM's cell state"))
    return outputs[: len(node.output)]


def _settle_recurrent(r: OnnxReader, index: int) -> None:
    used = r.uses.get(index, set())
    layer = r.graph.layers[index]
    if used == {"last"}:
        layer.args["return_sequences"] = False
    elif len(used) > 1:
        r.unsupported.add(
            f"{layer.source} read both as a sequence and as its last state", layer.name or "rnn"
        )
