"""Padding and pooling: ``Pad`` kept pending until the layer that reads it, windowed and
global pooling, and the padding of convolutions and pools said the spec's way.

A padding (``Pad``, or an op's own ``pads``) becomes ``padding=same``, a ``zeropad`` layer,
or both (:func:`specc.bridge.padding.express`) only where that pads exactly alike: ``MaxPool``
pads with -inf, which a ``zeropad`` equals only on data that is never negative (after a relu).
"""

from __future__ import annotations

import numpy as np

from specc.bridge.onnx_common import (
    data_input,
    handles,
)
from specc.bridge.onnx_reader import Misfit, OnnxReader, Unexpressible
from specc.bridge.onnx_values import (
    Data,
    Filled,
    channels_first,
)
from specc.bridge.padding import express


def spatial_pads(attrs: dict, dims: int) -> tuple[list[int], list[int]]:
    """A Conv's or pool's own ``pads`` as (before, after) per spatial axis."""
    if attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise Unexpressible(f"auto_pad={attrs['auto_pad']}")
    pads = list(attrs.get("pads", [0] * (2 * dims)))
    return pads[:dims], pads[dims:]


def pending_pads(data: Data, dims: int) -> tuple[list[int], list[int], set[float]]:
    """A padding not yet given to a layer: (before, after, values)."""
    if data.pad is None:
        return [0] * dims, [0] * dims, set()
    return [b for b, _, _ in data.pad], [a for _, a, _ in data.pad], {v for *_, v in data.pad}


def apply_pads(r: OnnxReader, node, data: Data, zeropad) -> Data:
    """``data`` with a ``zeropad`` layer in front when the padding needs one."""
    if not zeropad or not any(zeropad):
        return data.with_(pad=None)
    if len(zeropad) != 2:
        raise Unexpressible(f"{node.op_type} with padding a 1-D spec layer cannot say")
    index, shape = r.add(
        None, "zeropad2d", {"padding": tuple(zeropad)}, [data.with_(pad=None)], name=""
    )
    return Data(index, shape, data.phys, nonneg=data.nonneg)


@handles("MaxPool", "AveragePool")
def pool(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    value = ins[0]
    dims = len(attrs["kernel_shape"])
    kernel = tuple(int(k) for k in attrs["kernel_shape"])
    stride = tuple(int(s) for s in attrs.get("strides", [1] * dims))
    if isinstance(value, Filled) and node.op_type == "AveragePool":
        return [Filled(value.value, value.shape, value.pads, (kernel, stride, value.pads))]
    data = r.image(data_input(ins, node.op_type), dims + 1)
    if attrs.get("ceil_mode", 0) or any(d != 1 for d in attrs.get("dilations", [1] * dims)):
        raise Unexpressible(f"{node.op_type} with ceil_mode or dilations")
    if len(node.output) > 1 and node.output[1]:
        raise Unexpressible("MaxPool with indices")
    ones = (1,) * dims
    pend_before, pend_after, values = pending_pads(data, dims)
    own_before, own_after = spatial_pads(attrs, dims)
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
        if implicit_zero and before == after:  # PyTorch's padding=P, its zeros counted
            zeropad, padding = None, tuple(before)
        elif implicit_zero and padding == "same":
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
            extra["needs_division"] = (kernel, stride, onnx_pads(pend_before, pend_after))
        elif padding == "same" and not data.nonneg:
            raise Unexpressible("MaxPool over zero padding of data that may be negative")
    else:
        zeropad, padding = None, "valid"
    data = apply_pads(r, node, data, zeropad)
    op = "maxpool" if node.op_type == "MaxPool" else "avgpool"
    args = {"pool": kernel, "stride": stride, "padding": padding}
    index, shape = r.add(node, f"{op}{dims}d", args, [data])
    return [Data(index, shape, channels_first(dims + 1), nonneg=data.nonneg, extra=extra)]


def onnx_pads(before: list[int], after: list[int]) -> tuple:
    """Pads per spatial axis in ONNX's order: every axis's start, then every axis's end."""
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
    if not any(pads):
        return [value]
    half = len(pads) // 2
    before = {a: pads[i] for i, a in enumerate(axes)}
    after = {a: pads[half + i] for i, a in enumerate(axes)}
    if isinstance(value, Filled):
        full = tuple(before.get(a, 0) for a in range(rank)) + tuple(
            after.get(a, 0) for a in range(rank)
        )
        return [Filled(value.value, value.shape, full[2:rank] + full[rank + 2 :])]
    data = data_input(ins, "Pad")
    if data.pad is not None:
        data = r.materialize(data)
    spatial = len(data.shape) - 1
    image = r.image(data, spatial + 1) if spatial >= 1 else data
    for p, axis in enumerate(image.phys):
        if axis in ("N", spatial) and (before.get(p, 0) or after.get(p, 0)):
            raise Misfit("Pad of the batch or channel axis")
    per_axis = []
    for axis in range(spatial):
        p = image.phys.index(axis)
        per_axis.append((before.get(p, 0), after.get(p, 0), fill_value))
    return [image.with_(pad=tuple(per_axis))]


@handles("GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceMax")
def global_pool(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    data = r.materialize(data_input(ins, node.op_type))
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
        raise Misfit(f"{node.op_type} over axes other than the spatial ones")
    kind = (
        "globalavgpool" if "Mean" in node.op_type or "Average" in node.op_type else "globalmaxpool"
    )
    if keep:  # the pooled axes kept, of size 1: `keepdims`
        index, shape = r.add(node, kind, {"keepdims": True}, [data])
        return [Data(index, shape, data.phys, nonneg=data.nonneg)]
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
