"""What the ONNX op handlers share: their registry, and reading their inputs.

Each handler (:mod:`onnx_tensors`, :mod:`onnx_layers`, :mod:`onnx_pooling`,
:mod:`onnx_elementwise`, :mod:`onnx_recurrent`) takes the reader, the node, its input values
and attributes, and returns the values of its outputs (:mod:`specc.bridge.onnx_values`).  Layer
handlers check the layout of their data and add spec layers with the weights in PyTorch's
layout, under the names the kind's PyTorch plan gives them (``weight``, ``bias``,
``running_mean``...); what they cannot express raises
:class:`~specc.bridge.onnx_reader.Unexpressible`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from specc.bridge.onnx_reader import Misfit, OnnxReader, Unexpressible
from specc.bridge.onnx_values import (
    BATCH,
    Const,
    Data,
    Filled,
    Value,
)

Handler = Callable[[OnnxReader, Any, list, dict], list]
HANDLERS: dict[str, Handler] = {}


def handles(*ops: str):
    """Register a handler for the ONNX ops ``ops``."""

    def register(fn: Handler) -> Handler:
        for op in ops:
            HANDLERS[op] = fn
        return fn

    return register


def data_input(ins: list, what: str) -> Data:
    value = ins[0]
    if not isinstance(value, Data):
        raise Misfit(what, "its input is not computed from the model's input")
    return value


def fold(r: OnnxReader, node, ins: list) -> list[Value]:
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


def all_const(ins: list) -> bool:
    return all(v is None or isinstance(v, Const) for v in ins)


def known(array: np.ndarray) -> np.ndarray:
    """A shape computation's array as ints once the batch size is no longer in it."""
    if array.dtype == object and not any(v is BATCH for v in array.ravel()):
        return array.astype(np.int64)
    return array


def bias_of(r: OnnxReader, node, index: int) -> np.ndarray | None:
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
    if is_zero(value):
        return None
    raise Unexpressible(f"{node.op_type} with a bias computed from the data")


def equals(value: Value | None, number: float | None) -> bool:
    """Whether ``value`` is a constant that is ``number`` everywhere (a scalar, say)."""
    return (
        number is not None
        and isinstance(value, Const)
        and value.array.dtype != object
        and value.array.size <= 1
        and bool(np.all(value.array == number))
    )


def is_zero(value: Value) -> bool:
    if isinstance(value, Filled):
        return value.value == 0 and value.pads is None and value.pooled is None
    return isinstance(value, Const) and value.array.dtype != object and not value.array.any()


def floats(arrays: dict) -> dict:
    return {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}
