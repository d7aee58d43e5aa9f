"""What the ONNX reader knows about each tensor of the graph it walks.

- :class:`Const`: a value known without running the model (an initializer, a ``Constant``, a
  shape computation).  Arrays of dtype ``object`` may hold :data:`BATCH`, the batch size,
  which stays unknown: ``Shape`` of a data tensor gives ``[BATCH, 3, 224, 224]``.
- :class:`Filled`: one value broadcast to a shape that may hold :data:`BATCH` (the zeros a
  PyTorch LSTM starts from: ``Expand(0, [1, BATCH, 16])``).
- :class:`Data`: the output of a spec layer, with its *layout*: ``phys`` says what each
  physical axis of the ONNX tensor is — ``"N"`` the batch, an int the axis of the spec's
  layout-neutral shape (``H, W, C``), None an axis of size 1 that the spec's shape does not
  have.  NCHW images are ``("N", 2, 0, 1)``; a transpose only permutes ``phys``.
- :class:`Poison`: the output of something already reported as unsupported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


class _Batch:
    """The batch size: unknown, never part of arithmetic."""

    def __repr__(self) -> str:
        return "N"


BATCH = _Batch()


@dataclass
class Const:
    """A known tensor."""

    array: np.ndarray


@dataclass
class Filled:
    """A tensor holding one ``value`` everywhere, of a ``shape`` that may hold BATCH.

    ``pads`` and ``pooled`` record what was done to it since: a zero padding (the ONNX
    ``pads`` list), then an average pool (its kernel and strides): the count of real elements
    in each window that a PyTorch "same" average pool divides by.
    """

    value: float
    shape: list
    pads: tuple | None = None
    pooled: tuple | None = None


@dataclass
class Tiled:
    """A constant broadcast over the batch axis (``Expand`` of a learned token to (N, 1, C));
    ``name``: the initializer it came from."""

    array: np.ndarray
    shape: list
    name: str = ""


@dataclass
class Shaped:
    """A tensor of which only the shape is known (a slice of data, used for its shape)."""

    shape: list
    what: str


@dataclass
class Data:
    """A spec layer's output (``layer``: its index in the graph being built).

    ``shape`` is the spec's layout-neutral shape (no batch axis), ``phys`` the physical
    layout (see the module doc).  ``variant`` tells a recurrent layer's whole sequence
    (``"seq"``) from its last step (``"last"``).  ``nonneg`` is true for outputs that are never
    negative (after a relu), where zero padding and ``-inf`` padding pool alike.  ``pad`` is a
    padding not yet given to a layer: ``(before, after, value)`` per spatial axis of the
    spec's shape.  ``divided``: an average pool over zero padding that a ``Div`` must still
    turn into TensorFlow's average over the real elements.
    """

    layer: int
    shape: tuple
    phys: tuple
    variant: str = ""
    nonneg: bool = False
    pad: tuple | None = None
    extra: dict = field(default_factory=dict)

    @property
    def physical_shape(self) -> list:
        """The ONNX tensor's shape (BATCH for the batch axis)."""
        return [BATCH if p == "N" else 1 if p is None else self.shape[p] for p in self.phys]

    def with_(self, **changes: Any) -> Data:
        """A copy with some fields changed."""
        return replace(self, **changes)


@dataclass
class Poison:
    """The output of an op already reported as unsupported.  ``data``: the op's data input,
    which the ops after it read instead, so that what they cannot express is reported too
    (not what follows from the guess)."""

    data: Data | None = None


Value = Const | Filled | Tiled | Shaped | Data | Poison


def channels_first(rank: int) -> tuple:
    """``phys`` of a channels-first tensor of a rank-``rank`` spec shape (NCHW, NCL, NC)."""
    if rank == 1:
        return ("N", 0)
    return ("N", rank - 1, *range(rank - 1))


def channels_last(rank: int) -> tuple:
    """``phys`` of a channels-last tensor (NHWC, NLC, NC): the spec's own order."""
    return ("N", *range(rank))


def in_spec_order(data: Data) -> bool:
    """Whether the tensor's elements, read in physical order, come in the spec's order (the
    axes of size above 1 appear in order): then reshaping it is reshaping the spec's tensor."""
    seen = [p for p in data.phys if p != "N" and p is not None and data.shape[p] != 1]
    return seen == sorted(seen) and data.phys[0] == "N"


def squeeze_map(data: Data, target: list) -> tuple | None:
    """``phys`` for ``target`` (a physical shape with BATCH) when reshaping ``data`` into it
    only adds or drops axes of size 1 that the spec's shape does not have; else None."""
    source = [(p, BATCH if p == "N" else data.shape[p]) for p in data.phys if p is not None]
    out: list = []
    j = 0
    for entry, size in source:
        # unit axes of the target before this one are new axes, unless this one is of size 1
        while j < len(target) and _is_one(target[j]) and not _is_one(size):
            out.append(None)
            j += 1
        if j >= len(target):
            return None
        if size is BATCH:
            if target[j] is not BATCH:
                return None
        elif target[j] is BATCH or int(target[j]) != size:
            return None
        out.append(entry)
        j += 1
    while j < len(target):
        if not _is_one(target[j]):
            return None
        out.append(None)
        j += 1
    return tuple(out)


def _is_one(size: Any) -> bool:
    return size is not BATCH and int(size) == 1


def resolve_shape(target: np.ndarray, source: list, allowzero: bool) -> list | None:
    """ONNX Reshape's target (0: copy the input's size, -1: what is left) made explicit
    against the ``source`` physical shape; None when it cannot be worked out."""
    dims = list(target.tolist())
    for i, d in enumerate(dims):
        if d is not BATCH and int(d) == 0 and not allowzero:
            dims[i] = source[i]
    if sum(1 for d in dims if d is not BATCH and int(d) == -1) > 1:
        return None
    known = 1
    for d in source:
        if d is not BATCH:
            known *= int(d)
    have_batch = any(d is BATCH for d in source)
    rest = 1
    for d in dims:
        if d is not BATCH and int(d) != -1:
            rest *= int(d)
    wants_batch = any(d is BATCH for d in dims)
    for i, d in enumerate(dims):
        if d is not BATCH and int(d) == -1:
            if have_batch and not wants_batch:
                dims[i] = BATCH  # (-1, C): the batch is what is left
                if known != rest:
                    return None
            elif rest == 0 or known % rest:
                return None
            else:
                dims[i] = known // rest
    return [d if d is BATCH else int(d) for d in dims]
