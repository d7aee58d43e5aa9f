"""Backend plans: what a checked layer becomes in Keras and in PyTorch, decided in Python.

Every layer kind computes its plans from a :class:`PlanContext` (its validated parameters, the
shapes around it, what consumes it): a :class:`KerasPlan` (the layer's constructor) and a
:class:`TorchPlan` (the module's constructor, how ``forward`` applies it and in which layout,
how it is initialised, and a declarative weight map, :class:`WeightEntry`, that ``specc
port-weights`` follows).  The emitters only print plans, and port-weights only reads them: each
decision is made once, here or in the kind's module.

What a backend cannot express is a :class:`Limit`, reported by ``specc check`` as a located
warning and by ``specc emit``/``specc train`` for that backend as an error.

Nothing here imports numpy or a framework at import time: weight transforms import numpy when
they run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from specc.harness.backends import NAMES as BACKENDS  # noqa: F401 (one list of backends)
from specc.ir import Shape

NO_DEFAULT: Any = object()  # a keyword argument that is always written
KERAS_CALL = "{layer}({x})"  # how a Keras layer is applied, unless its plan says otherwise


class V(NamedTuple):
    """A constructor argument: its value and where it comes from.

    ``source`` lets the emitters write the argument as an expression when the layer sits in a
    block that becomes a class or function: ``"param:filters"`` is the layer's ``filters`` as
    written in the spec (``f``, ``(f * 4)``), ``"in"`` the channels of the layer's input; None
    is a value computed from several facts.
    """

    value: Any
    source: str | None = None


@dataclass(frozen=True)
class Ctor:
    """A constructor call: ``cls(*args, key=value, ...)``; a keyword whose value equals its
    framework default (the third item) is left out."""

    cls: str
    args: tuple[V, ...] = ()
    kwargs: tuple[tuple[str, V, Any], ...] = ()


@dataclass(frozen=True)
class Limit:
    """Something a backend cannot express: the backend, why, and the parameter to point at."""

    backend: str
    message: str
    arg: str | None = None
    help: str = ""


@dataclass(frozen=True)
class KerasPlan:
    """The Keras layer (``name=`` is added by the emitter).

    ``before`` are layers applied first, each ``(suffix, constructor)`` and named
    ``<name>.<suffix>`` (a ``ZeroPadding2D`` before a valid conv: ``conv1.pad``); the layer
    itself keeps the node's name, its weights and its output.  ``call`` is how the layer is
    applied: ``{layer}`` the layer, ``{x}`` its (first) input, ``{inputs[i]}`` each input (self-
    attention calls ``{layer}({x}, {x})``); a layer with another call than ``{layer}({x})``
    needs the functional API.  ``helpers`` are custom layer classes the file must define
    (templates/keras/helpers/<name>.py.j2).
    """

    layer: Ctor
    before: tuple[tuple[str, Ctor], ...] = ()
    call: str = KERAS_CALL
    helpers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Act:
    """An activation applied after the layer (Keras's meaning; see layers/activations.py)."""

    name: str
    negative_slope: float = 0.2
    alpha: float = 1.0


@dataclass(frozen=True)
class TorchPlan:
    """What a layer is in PyTorch.

    ``module`` is the submodule's constructor (None for layers that are plain tensor
    operations).  ``apply`` is the expression ``forward`` evaluates: ``{m}`` is the submodule,
    ``{x}`` the input (``{sum}``, ``{product}``, ``{list}``: all inputs, for merges),
    ``{channels}`` and ``{spatial}`` the channel and spatial axes in the current layout.
    ``layout_in`` is the layout the input must be in ("first": channels first, PyTorch's
    convention; "last"; "any"), ``layout_out`` the output's (None: as the input).
    ``unpack`` takes the first element of a tuple result, ``post`` applies expressions of
    ``{x}`` after.  ``init`` names an initialisation rule
    (templates/torch/init/<rule>.py.j2) applied to every ``init_class`` module.  ``helpers``
    are definitions the module or expression needs (templates/torch/helpers/<name>.py.j2).
    """

    module: Ctor | None = None
    apply: str = "{m}({x})"
    apply_args: tuple[tuple[str, V], ...] = ()
    layout_in: str = "first"
    layout_out: str | None = None
    unpack: bool = False
    post: tuple[str, ...] = ()
    activation: Act | None = None
    init: str | None = None
    init_class: str | None = None
    weights: tuple[WeightEntry, ...] = ()
    helpers: tuple[str, ...] = ()
    # a flatten written as nn.Flatten() on channels-first input: the (H, W, C) shape it
    # flattens, so that the dense layers it feeds permute their columns when porting weights
    chw_flatten: Shape | None = None
    # a layer folded into the one at this index (a zero padding become a conv's padding=)
    fused_into: int | None = None
    # the class name of this layer's own module when it has to stand alone in nn.Sequential
    # (plain tensor operations: global pooling, reshape)
    module_name: str | None = None


@dataclass(frozen=True)
class PlanContext:
    """What a kind's plan may depend on: the checked node and its neighbourhood."""

    name: str
    kind: str
    p: Any  # the validated Params
    in_shapes: tuple[Shape, ...]
    out_shape: Shape
    is_output: bool = False
    # kinds of the consumers, looking through elementwise layers (dropout, activation, bn)
    feeds: tuple[str, ...] = ()
    # (H, W, C) of a channels-first flatten feeding this node through elementwise layers
    flattened: Shape | None = None
    # write the form that is right for every input size (PyTorch: TensorFlow's ``same``
    # padding computed in ``forward``), when the instances of a block need one class
    generic: bool = False
    # the layer is an item of an ``nn.Sequential`` (a ``repeat`` or ``sequential`` group),
    # not an attribute of a class: it must be a module (no bare ``nn.Parameter``)
    sequential: bool = False

    @property
    def in_shape(self) -> Shape:
        """The first input's shape (the output's for the input layer)."""
        return self.in_shapes[0] if self.in_shapes else self.out_shape

    @property
    def rank(self) -> int:
        """Rank of the input without batch: 3 image, 2 sequence, 1 vector."""
        return len(self.in_shape)


def param(p: Any, name: str, value: Any = None) -> V:
    """The layer parameter ``name`` (optionally as transformed to ``value``)."""
    return V(getattr(p, name) if value is None else value, f"param:{name}")


def channels_in(ctx: PlanContext) -> V:
    """The input's channel count (last axis of the layout-neutral shape)."""
    return V(ctx.in_shape[-1], "in")


def size(value: Any) -> Any:
    """A per-axis tuple as the frameworks accept it: ``(3, 3)`` -> ``3``, ``(3, 5)`` stays."""
    if isinstance(value, tuple | list) and value and all(v == value[0] for v in value):
        return value[0]
    return tuple(value) if isinstance(value, list) else value


# -- weight maps ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightEntry:
    """Some of a Keras layer's weights (by index in ``get_weights()``) and the PyTorch tensors
    they become (state_dict keys below the submodule), through ``transform``."""

    keras: tuple[int, ...]
    torch: tuple[str, ...]
    transform: Transform


class Transform:
    """Arrays of one framework to the other's.  Subclasses define both directions."""

    def to_torch(self, arrays: list) -> list:
        """Keras arrays -> PyTorch arrays."""
        raise NotImplementedError

    def to_keras(self, arrays: list) -> list:
        """PyTorch arrays -> Keras arrays."""
        raise NotImplementedError


@dataclass(frozen=True)
class Same(Transform):
    """The same values (biases, BatchNorm vectors), optionally reordered along the features
    of a channels-first flatten (``chw``: the flattened (H, W, C) shape)."""

    chw: Shape | None = None

    def to_torch(self, arrays: list) -> list:
        return [a[chw_order(self.chw)] if self.chw else a for a in arrays]

    def to_keras(self, arrays: list) -> list:
        import numpy as np

        return [a[np.argsort(chw_order(self.chw))] if self.chw else a for a in arrays]


@dataclass(frozen=True)
class Transpose(Transform):
    """A kernel whose axes are permuted: torch = keras.transpose(perm)."""

    perm: tuple[int, ...]

    def to_torch(self, arrays: list) -> list:
        return [arrays[0].transpose(self.perm)]

    def to_keras(self, arrays: list) -> list:
        import numpy as np

        return [arrays[0].transpose(tuple(int(i) for i in np.argsort(self.perm)))]


@dataclass(frozen=True)
class DenseKernel(Transform):
    """Keras's (in, out) kernel is torch's (out, in) weight; after a channels-first flatten
    (``chw``) the input rows come in C, H, W order."""

    chw: Shape | None = None

    def to_torch(self, arrays: list) -> list:
        kernel = arrays[0]
        if self.chw:
            kernel = kernel[chw_order(self.chw), :]
        return [kernel.T]

    def to_keras(self, arrays: list) -> list:
        import numpy as np

        kernel = arrays[0].T
        if self.chw:
            kernel = kernel[np.argsort(chw_order(self.chw)), :]
        return [kernel]


@dataclass(frozen=True)
class DepthwiseKernel(Transform):
    """Keras's (kh, kw, C, M) depthwise kernel is torch's grouped (C·M, 1, kh, kw) weight,
    channel c's M filters next to each other."""

    def to_torch(self, arrays: list) -> list:
        kh, kw, c, m = arrays[0].shape
        return [arrays[0].transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)]

    def to_keras(self, arrays: list) -> list:
        raise NotImplementedError("needs the channel count: use Depthwise(channels)")


@dataclass(frozen=True)
class Depthwise(DepthwiseKernel):
    """:class:`DepthwiseKernel` knowing the input channels, so it can go back."""

    channels: int = 1

    def to_keras(self, arrays: list) -> list:
        cm, _, kh, kw = arrays[0].shape
        c = self.channels
        return [arrays[0].reshape(c, cm // c, kh, kw).transpose(2, 3, 0, 1)]


@dataclass(frozen=True)
class GateKernel(Transform):
    """A recurrent (in, gates·units) Keras kernel as torch's (gates·units, in) weight, the
    gate blocks reordered (``order[i]``: the Keras block of torch block i)."""

    order: tuple[int, ...]

    def to_torch(self, arrays: list) -> list:
        return [reorder(arrays[0], self.order).T]

    def to_keras(self, arrays: list) -> list:
        return [reorder(arrays[0].T, inverse(self.order))]


@dataclass(frozen=True)
class SumBias(Transform):
    """Keras's single recurrent bias is torch's ``bias_ih`` (``bias_hh`` zero); back, their
    sum computes the same function."""

    order: tuple[int, ...]

    def to_torch(self, arrays: list) -> list:
        import numpy as np

        bias = reorder(arrays[0], self.order)
        return [bias, np.zeros_like(bias)]

    def to_keras(self, arrays: list) -> list:
        return [reorder(arrays[0] + arrays[1], inverse(self.order))]


@dataclass(frozen=True)
class StackedBias(Transform):
    """Keras's (2, gates·units) input and recurrent biases are torch's two bias vectors."""

    order: tuple[int, ...]

    def to_torch(self, arrays: list) -> list:
        return [reorder(arrays[0][0], self.order), reorder(arrays[0][1], self.order)]

    def to_keras(self, arrays: list) -> list:
        import numpy as np

        back = inverse(self.order)
        return [np.stack([reorder(arrays[0], back), reorder(arrays[1], back)])]


def reorder(a, order: tuple[int, ...]):
    """Reorder equal blocks along the last axis: block i of the result is ``order[i]``."""
    import numpy as np

    blocks = np.split(a, len(order), axis=-1)
    return np.concatenate([blocks[i] for i in order], axis=-1)


def inverse(order: tuple[int, ...]) -> tuple[int, ...]:
    """The permutation undoing ``order``."""
    back = [0] * len(order)
    for i, o in enumerate(order):
        back[o] = i
    return tuple(back)


def chw_order(shape: Shape):
    """For a flattened (H, W, C) tensor: the Keras (H, W, C) feature index at each position of
    the channels-first (C, H, W) flattening."""
    import numpy as np

    hwc = np.arange(int(np.prod(shape))).reshape(shape)
    return np.moveaxis(hwc, -1, 0).reshape(-1)


def kernel_and_bias(kernel: Transform, use_bias: bool, prefix: str = "") -> tuple[WeightEntry, ...]:
    """The usual map: Keras [kernel, bias] -> torch weight, bias (below ``prefix``)."""
    entries = [WeightEntry((0,), (f"{prefix}weight",), kernel)]
    if use_bias:
        entries.append(WeightEntry((1,), (f"{prefix}bias",), Same()))
    return tuple(entries)


@dataclass(frozen=True)
class Reshaped(Transform):
    """The same values in another shape (a Keras ``(C,)`` scale as torch's ``(C, 1, 1)``)."""

    keras_shape: Shape
    torch_shape: Shape

    def to_torch(self, arrays: list) -> list:
        return [a.reshape(self.torch_shape) for a in arrays]

    def to_keras(self, arrays: list) -> list:
        return [a.reshape(self.keras_shape) for a in arrays]


@dataclass(frozen=True)
class HeadsKernel(Transform):
    """An attention projection: Keras's per-head ``(C, heads, size)`` kernel is the
    ``(heads·size, C)`` weight of an ``nn.Linear`` (head h's rows ``h·size ... h·size + size``,
    the order in which PyTorch splits heads)."""

    shape: Shape  # Keras's (C, heads, size)

    def to_torch(self, arrays: list) -> list:
        return [arrays[0].reshape(self.shape[0], -1).T]

    def to_keras(self, arrays: list) -> list:
        return [arrays[0].T.reshape(self.shape)]


@dataclass(frozen=True)
class HeadsOutputKernel(Transform):
    """Keras's ``(heads, size, C)`` attention output kernel is the ``(C, heads·size)`` weight
    of the output ``nn.Linear``."""

    shape: Shape  # Keras's (heads, size, C)

    def to_torch(self, arrays: list) -> list:
        return [arrays[0].reshape(-1, self.shape[-1]).T]

    def to_keras(self, arrays: list) -> list:
        return [arrays[0].T.reshape(self.shape)]


@dataclass(frozen=True)
class PackedProjections(Transform):
    """Keras's query, key and value kernels (and biases, with ``bias``), each ``(C, heads,
    key_dim)`` / ``(heads, key_dim)``, are ``nn.MultiheadAttention``'s packed ``in_proj_weight``
    ``(3·C, C)`` (and ``in_proj_bias``): the three projections stacked, in q, k, v order."""

    shape: Shape  # Keras's (C, heads, key_dim) of each kernel
    bias: bool = True

    def to_torch(self, arrays: list) -> list:
        import numpy as np

        step = 2 if self.bias else 1
        kernels = [a.reshape(self.shape[0], -1).T for a in arrays[::step]]
        out = [np.concatenate(kernels, axis=0)]
        if self.bias:
            out.append(np.concatenate([b.reshape(-1) for b in arrays[1::2]]))
        return out

    def to_keras(self, arrays: list) -> list:
        import numpy as np

        kernels = [w.T.reshape(self.shape) for w in np.split(arrays[0], 3, axis=0)]
        if not self.bias:
            return kernels
        biases = [b.reshape(self.shape[1:]) for b in np.split(arrays[1], 3)]
        return [a for pair in zip(kernels, biases, strict=True) for a in pair]
