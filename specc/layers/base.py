"""The layer registry: one entry per layer kind, each declaring its own rules.

Like a Keras 3 layer, a :class:`LayerKind` owns everything specc knows about it: its parameter
schema (a pydantic model), its shape, parameter-count and MAC rules, an ``explain`` that shows
the arithmetic behind its output size, what each backend cannot express (``limits``), and its
backend plans (``keras_plan``, ``torch_plan``: the constructor, layout, padding,
initialisation and weight map, see :mod:`specc.plans`).  Adding a kind means writing one
subclass and decorating it with :func:`register`; the grammar never changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from specc.ir import NoParams, Shape
from specc.layers.activations import ACTIVATIONS, LEAKY_RELU_SLOPE, ActivationName  # noqa: F401
from specc.plans import Act, KerasPlan, Limit, PlanContext, TorchPlan, V

Padding = Literal["valid", "same"]


class ShapeError(Exception):
    """A layer cannot accept its input: raised by shape rules, reported at ``arg``'s span."""

    def __init__(
        self,
        message: str,
        label: str = "",
        *,
        arg: str | None = None,
        code: str = "E0301",
        notes: Sequence[str] = (),
        help: Sequence[str] | str = (),
    ):
        super().__init__(message)
        self.message = message
        self.label = label or message
        self.arg = arg
        self.code = code
        self.notes = tuple(notes)
        self.help = (help,) if isinstance(help, str) else tuple(help)


def _tuple_of(n: int):
    def convert(value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return (value,) * n
        if isinstance(value, tuple | list) and len(value) == 1 and n > 1:
            return (value[0],) * n
        return value

    return convert


PositiveInt = Annotated[int, Field(gt=0, strict=True)]
NonNegativeInt = Annotated[int, Field(ge=0, strict=True)]
Pair = Annotated[tuple[PositiveInt, PositiveInt], BeforeValidator(_tuple_of(2))]
Single = Annotated[tuple[PositiveInt], BeforeValidator(_tuple_of(1))]
NonNegativePair = Annotated[tuple[NonNegativeInt, NonNegativeInt], BeforeValidator(_tuple_of(2))]

PADDING_WORDS = ("valid", "same")


def _window_padding(n: int):
    """``valid``, ``same``, or explicit zero padding: P pixels on both sides of every axis
    (``padding=1``) or per axis (``padding=1x2``), as PyTorch's ``padding=`` means it."""

    def convert(value: Any) -> Any:
        if isinstance(value, str) and value in PADDING_WORDS:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            value = (value,) * n
        if isinstance(value, tuple | list) and len(value) == 1:
            value = tuple(value) * n
        if (
            isinstance(value, tuple | list)
            and len(value) == n
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
        ):
            return tuple(value)
        size = "P" if n == 1 else "P or PHxPW"
        raise ValueError(f"must be 'valid', 'same' or a number of pixels ({size})")

    return convert


# ``padding=`` of the window layers: TensorFlow's valid/same, or symmetric explicit pixels
WindowPadding2D = Annotated[
    Literal["valid", "same"] | tuple[int, int], BeforeValidator(_window_padding(2))
]
WindowPadding1D = Annotated[
    Literal["valid", "same"] | tuple[int], BeforeValidator(_window_padding(1))
]


def explicit(padding: Any) -> tuple[int, ...] | None:
    """The explicit pixels of a ``padding=`` (None for ``valid`` and ``same``)."""
    return padding if isinstance(padding, tuple) else None


class Params(BaseModel):
    """Base class of every layer's parameter schema: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class LayerKind:
    """One layer kind.  Subclasses set the class attributes and override the rules they need."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = NoParams
    positional: ClassVar[tuple[str, ...]] = ()
    # bare words accepted in any position, e.g. {"same": ("padding", "same")}
    words: ClassVar[dict[str, tuple[str, Any]]] = {}
    # True for kinds that take integer ids (embedding); every other kind takes floats
    int_input: ClassVar[bool] = False
    # a merge of several tensors: written `add a b` / `concat enc1`, it reads the previous
    # layer's output and the named layers' (residual and branch make them too)
    merge: ClassVar[bool] = False

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        """The output shape for these inputs; raise :class:`ShapeError` if they don't fit."""
        return inputs[0]

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        """(trainable, non-trainable) parameter counts, as Keras counts them."""
        return 0, 0

    def param_count_torch(self, p: Any, inputs: list[Shape], out: Shape) -> int:
        """What PyTorch's ``sum(p.numel() for p in module.parameters())`` counts.

        The same as the trainable count unless the frameworks differ (``nn.LSTM`` has two bias
        vectors where Keras has one); buffers such as BatchNorm statistics are not parameters.
        """
        return self.param_count(p, inputs, out)[0]

    def macs(self, p: Any, inputs: list[Shape], out: Shape) -> int:
        """Multiply-accumulate operations per sample (0 for layers without weights)."""
        return 0

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        """The arithmetic behind the output shape and counts, one line per fact."""
        return []

    def activation(self, p: Any) -> str | None:
        """The activation fused into this layer, if it has one."""
        return getattr(p, "activation", None)

    def fused(self, p: Any) -> Act | None:
        """The fused activation as the plans apply it (None for none or ``linear``)."""
        name = self.activation(p)
        if name in (None, "linear"):
            return None
        return Act(
            name,
            getattr(p, "negative_slope", LEAKY_RELU_SLOPE),
            getattr(p, "alpha", 1.0),
        )

    def keras_activation(self, p: Any) -> tuple[str, V, Any]:
        """The ``activation=`` keyword of a Keras layer with a fused activation."""
        act = self.fused(p)
        return ("activation", V(act.name if act else None, "param:activation"), None)

    def limits(self, p: Any, inputs: list[Shape]) -> list[Limit]:
        """What the backends cannot express of this layer (none by default)."""
        return []

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        """The Keras layer this kind becomes."""
        raise NotImplementedError(f"{self.name} has no Keras plan")

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        """The PyTorch module and forward step this kind becomes."""
        raise NotImplementedError(f"{self.name} has no PyTorch plan")


REGISTRY: dict[str, LayerKind] = {}
ALIASES: dict[str, str] = {}


def register(cls: type[LayerKind]) -> type[LayerKind]:
    """Class decorator: add a layer kind (and its aliases) to the registry."""
    kind = cls()
    REGISTRY[cls.name] = kind
    for alias in cls.aliases:
        ALIASES[alias] = cls.name
    return cls


def lookup(name: str) -> LayerKind | None:
    """The layer kind called ``name`` (or one of its aliases), if there is one."""
    return REGISTRY.get(ALIASES.get(name, name))


def canonical(name: str) -> str:
    """The registry name for a kind name or alias."""
    return ALIASES.get(name, name)


def all_names() -> list[str]:
    """Every name a layer line may start with: kinds, aliases and activation shorthands."""
    return sorted(set(REGISTRY) | set(ALIASES) | set(ACTIVATIONS))


# -- helpers shared by the rules -----------------------------------------------------------


def fmt_shape(shape: Shape) -> str:
    """``(30, 30, 32)`` -> ``30x30x32``."""
    return "x".join(str(d) for d in shape)


def window_out(n: int, k: int, s: int, padding: str | int, d: int = 1) -> int:
    """Output length of a sliding window, with the frameworks' arithmetic.

    ``valid``: floor((n - d·(k - 1) - 1) / s) + 1.  ``same`` (TensorFlow's rule): ceil(n / s).
    An explicit padding of p pixels on both sides: ``valid`` on n + 2p.
    """
    if padding == "same":
        return -(-n // s)
    if isinstance(padding, int):
        n += 2 * padding
    return (n - d * (k - 1) - 1) // s + 1


def per_axis(padding: Any, axis: int) -> str | int:
    """One axis's padding: ``valid``, ``same`` or its explicit pixels."""
    return padding[axis] if isinstance(padding, tuple) else padding


def same_padding(n: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """TensorFlow's ``same`` padding (before, after): the extra pixel goes after."""
    total = max((k - 1) * d + 1 - (s if n % s == 0 else n % s), 0)
    return total // 2, total - total // 2


def window_explain(axis: str, n: int, k: int, s: int, padding: Any, d: int, out: int) -> str:
    """One line of arithmetic for a sliding window along ``axis`` (``padding``: this axis's)."""
    if padding == "same":
        return f"{axis}: padding=same, out = ⌈{n} / {s}⌉ = {out}"
    eff = f"{d}·({k} − 1) + 1" if d > 1 else f"{k}"
    if isinstance(padding, int) and padding:
        return f"{axis}: ⌊({n} + 2·{padding} − {eff}) / {s}⌋ + 1 = {out}"
    if s == 1 and d == 1:
        return f"{axis}: ({n} − {k}) / 1 + 1 = {out}"
    return f"{axis}: ⌊({n} − {eff}) / {s}⌋ + 1 = {out}"


def check_windows(
    what: str,
    spatial: Sequence[int],
    window: Sequence[int],
    stride: Sequence[int],
    padding: str,
    dilation: Sequence[int],
    arg: str,
) -> tuple[int, ...]:
    """Output sizes of a sliding window along every spatial axis, or a located error.

    ``what`` names the window in messages ("conv2d kernel", "maxpool2d window").
    """
    outs = tuple(
        window_out(n, k, s, per_axis(padding, i), d)
        for i, (n, k, s, d) in enumerate(zip(spatial, window, stride, dilation, strict=True))
    )
    if min(outs) >= 1:
        return outs
    pads = explicit(padding) or (0,) * len(spatial)
    effective = tuple(d * (k - 1) + 1 for k, d in zip(window, dilation, strict=True))
    padded = tuple(n + 2 * p for n, p in zip(spatial, pads, strict=True))
    size, have = fmt_shape(effective), fmt_shape(padded)
    axis = next(i for i, o in enumerate(outs) if o < 1)
    n, k, s = padded[axis], effective[axis], stride[axis]
    fits = "x".join(str(min(n, e)) for n, e in zip(padded, effective, strict=True))
    dilated = " (after dilation)" if max(dilation) > 1 else ""
    written = "x".join(map(str, pads)) if explicit(padding) else padding
    where = " padded" if explicit(padding) and any(pads) else ""
    raise ShapeError(
        f"{what} {size}{dilated} is larger than its{where} {have} input",
        f"a {size} {what.split()[-1]} does not fit in a{where} {have} input",
        arg=arg,
        notes=(f"with padding={written}, out = ({n} - {k}) // {s} + 1 = {outs[axis]}",),
        help=f"use {arg}={fits} or smaller, or padding=same",
    )


def prod(values: Sequence[int]) -> int:
    """Product of a sequence of ints (1 for an empty one)."""
    return math.prod(values)


@dataclass(frozen=True)
class RankSpec:
    """Human names of input ranks, used in error messages."""

    names: ClassVar[dict[int, str]] = {
        1: "a vector (N)",
        2: "a sequence (LxC)",
        3: "an image (HxWxC)",
    }

    @classmethod
    def describe(cls, rank: int) -> str:
        """Name of a rank, e.g. ``an image (HxWxC)``."""
        return cls.names.get(rank, f"a rank-{rank} tensor")
