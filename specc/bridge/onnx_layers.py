"""ONNX ops that are spec layers with weights: convolutions, dense layers, normalisation, and
nearest-neighbour upsampling."""

from __future__ import annotations

import numpy as np

from specc.bridge.onnx_common import (
    all_const,
    bias_of,
    data_input,
    floats,
    fold,
    handles,
)
from specc.bridge.onnx_pooling import apply_pads, pending_pads, spatial_pads
from specc.bridge.onnx_reader import Misfit, OnnxReader, Unexpressible
from specc.bridge.onnx_values import (
    BATCH,
    Data,
    Shaped,
    channels_first,
)
from specc.bridge.padding import express
from specc.bridge.spec_text import float32


@handles("Conv")
def conv(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = data_input(ins, "Conv")
    weight = r.const(ins[1], node, "weight")
    bias = bias_of(r, node, 2)
    dims = weight.ndim - 2
    if dims not in (1, 2):
        raise Unexpressible(f"Conv over {dims} spatial axes")
    data = r.image(data, dims + 1)
    before, after, values = pending_pads(data, dims)
    if values - {0.0}:
        raise Unexpressible("Conv after a padding that is not zero")
    own_before, own_after = spatial_pads(attrs, dims)
    before = [a + b for a, b in zip(before, own_before, strict=True)]
    after = [a + b for a, b in zip(after, own_after, strict=True)]
    kernel = tuple(int(k) for k in weight.shape[2:])
    stride = tuple(attrs.get("strides", [1] * dims))
    dilation = tuple(attrs.get("dilations", [1] * dims))
    form = express(data.shape[:dims], kernel, stride, dilation, before, after)
    if form is None:
        raise Unexpressible("Conv with uneven pads", f"pads {before} + {after}")
    zeropad, padding = form
    data = apply_pads(r, node, data, zeropad)
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
    elif channels % group == 0 and weight.shape[1] * group == channels:
        kind = "conv2d" if dims == 2 else "conv1d"
        args = {"filters": int(weight.shape[0]), "kernel": kernel, **window, "groups": group}
    else:
        raise Unexpressible("Conv with groups", f"group={group}: grouped convolution")
    args |= {"use_bias": has_bias, "activation": None}
    index, shape = r.add(node, kind, args, [data], weights)
    return [Data(index, shape, channels_first(dims + 1))]


@handles("ConvTranspose")
def conv_transpose(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = r.image(r.materialize(data_input(ins, "ConvTranspose")), 3)
    weight = r.const(ins[1], node, "weight")
    bias = bias_of(r, node, 2)
    if weight.ndim != 4 or int(attrs.get("group", 1)) != 1:
        raise Unexpressible("ConvTranspose other than a plain 2-D one")
    if any(d != 1 for d in attrs.get("dilations", [1, 1])) or "output_shape" in attrs:
        raise Unexpressible("ConvTranspose with dilations or output_shape")
    before, after = spatial_pads(attrs, 2)
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
                raise Misfit("Slice of a ConvTranspose other than a spatial crop")
            offset, length = geometry[p]
            kept = range(length)[slice(begin, end)]
            geometry[p] = (offset + (kept.start if kept else 0), len(kept))
            shape[p] = len(kept)
        out = data.with_(shape=tuple(shape), extra={**data.extra, "geometry": geometry})
        r.transposes[data.layer] = out
        return [out]
    cropped = _cropping(r, node, data, cuts)
    if cropped is not None:
        return [cropped]
    dims = data.physical_shape
    for a, (b, e, s) in cuts.items():
        if dims[a] is not BATCH:
            dims[a] = len(range(*slice(b, e, s).indices(int(dims[a]))))
    return [Shaped(dims, "Slice")]


def _cropping(r: OnnxReader, node, data: Data, cuts: dict) -> Data | None:
    """A slice of an image's height and width, step 1: ``cropping2d`` (None otherwise)."""
    if len(data.shape) != 3 or data.phys[0] != "N":
        return None
    sides = {0: [0, 0], 1: [0, 0]}
    for a, (begin, end, step) in cuts.items():
        p = data.phys[a]
        if step != 1 or p not in (0, 1):
            return None
        n = data.shape[p]
        kept = range(n)[slice(begin, end)]
        if not kept:
            return None
        sides[p] = [kept.start, n - kept.stop]
    data = r.materialize(data)
    (top, bottom), (left, right) = sides[0], sides[1]
    args = {"cropping": (top, left), "bottom": bottom, "right": right}
    index, shape = r.add(node, "cropping2d", args, [data])
    return Data(index, shape, data.phys, nonneg=data.nonneg)


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
    data = r.materialize(data_input(ins, "Gemm"))
    if attrs.get("transA", 0) or float32(attrs.get("alpha", 1.0)) != 1.0:
        raise Unexpressible("Gemm with transA or alpha")
    weight = r.const(ins[1], node, "weight")
    if not attrs.get("transB", 0):
        weight = weight.T
    bias = bias_of(r, node, 2)
    if bias is not None and float32(attrs.get("beta", 1.0)) != 1.0:
        raise Unexpressible("Gemm with beta")
    return [dense_layer(r, node, data, weight, bias)]


@handles("MatMul")
def matmul(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    if all_const(ins):
        return fold(r, node, ins)
    data = r.materialize(data_input(ins, "MatMul"))
    weight = r.const(ins[1], node, "weight")
    if weight.ndim != 2:
        raise Unexpressible("MatMul other than by a matrix")
    return [dense_layer(r, node, data, np.ascontiguousarray(weight.T), None)]


def dense_layer(r: OnnxReader, node, data: Data, weight: np.ndarray, bias) -> Data:
    """A dense layer, on a vector or on every token of a sequence (its channels the last
    physical axis): ``weight`` is PyTorch's (out, in)."""
    tokens = len(data.shape) == 2 and data.phys[-1] == 1 and "N" in data.phys
    if not tokens and (len(data.shape) != 1 or data.phys != ("N", 0)):
        raise Unexpressible(
            f"{node.op_type} on a tensor other than a vector or a sequence",
            "specc's dense takes vectors and tokens",
        )
    weights = {"weight": weight.astype(np.float32)}
    has_bias = bias is not None
    if has_bias:
        weights["bias"] = np.broadcast_to(bias, (weight.shape[0],)).astype(np.float32)
    args = {"units": int(weight.shape[0]), "use_bias": has_bias, "activation": None}
    index, shape = r.add(node, "dense", args, [data], weights)
    return Data(index, shape, data.phys if tokens else ("N", 0))


@handles("BatchNormalization")
def batchnorm(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = r.materialize(data_input(ins, "BatchNormalization"))
    if attrs.get("training_mode", 0):
        raise Unexpressible("BatchNormalization in training mode")
    if len(data.phys) < 2 or data.phys[1] != len(data.shape) - 1:
        raise Misfit("BatchNormalization over an axis other than the channels")
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
    index, shape = r.add(node, "batchnorm", args, [data], floats(weights))
    return [Data(index, shape, data.phys)]


@handles("LayerNormalization")
def layernorm(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = r.materialize(data_input(ins, "LayerNormalization"))
    axis = attrs.get("axis", -1) % len(data.phys)
    if axis != len(data.phys) - 1 or data.phys[axis] != len(data.shape) - 1:
        raise Misfit("LayerNormalization over axes other than the channels")
    scale = r.const(ins[1], node, "scale")
    bias = r.const(ins[2], node, "bias") if len(ins) > 2 and ins[2] is not None else None
    weights = {"weight": scale}
    if bias is not None:
        weights["bias"] = bias
    args = {"epsilon": float32(attrs.get("epsilon", 1e-5)), "center": bias is not None}
    args["scale"] = True
    index, shape = r.add(node, "layernorm", args, [data], floats(weights))
    return [Data(index, shape, data.phys)]


@handles("Resize", "Upsample")
def resize(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = r.image(r.materialize(data_input(ins, node.op_type)), 3)
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
