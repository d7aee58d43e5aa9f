"""Core layers: input, dense, flatten, reshape, dropout, activation, zero padding, cropping."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field

from specc.ir import Shape
from specc.layers.base import (
    ACTIVATIONS,
    LEAKY_RELU_SLOPE,
    ActivationName,
    LayerKind,
    NonNegativeInt,
    NonNegativePair,
    Params,
    PositiveInt,
    RankSpec,
    ShapeError,
    fmt_shape,
    prod,
    register,
)
from specc.layers.conv import require_rank
from specc.layers.planning import kw
from specc.plans import (
    NO_DEFAULT,
    Ctor,
    DenseKernel,
    KerasPlan,
    PlanContext,
    Same,
    TorchPlan,
    V,
    WeightEntry,
    channels_in,
    param,
)

ShapeDims = Annotated[
    tuple[PositiveInt, ...],
    BeforeValidator(lambda v: (v,) if isinstance(v, int) and not isinstance(v, bool) else v),
    Field(min_length=1, max_length=3),
]


class InputParams(Params):
    """``input 32x32x3`` (image), ``input 100x16`` (sequence) or ``input 64`` (vector)."""

    shape: ShapeDims
    dtype: Literal["float32", "int"] = "float32"


@register
class Input(LayerKind):
    """The model's input; its shape excludes the batch dimension."""

    name = "input"
    summary = "model input: input HxWxC | LxC | N"
    Params = InputParams
    positional = ("shape",)

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        return tuple(p.shape)

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        dtype = "int32" if ctx.p.dtype == "int" else None
        return KerasPlan(
            Ctor("keras.Input", (), (kw("shape", V(tuple(ctx.p.shape))), kw("dtype", dtype, None)))
        )

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        return TorchPlan(apply="{x}", layout_in="any")


class DenseParams(Params):
    """``dense UNITS [use_bias=] [activation]``."""

    units: PositiveInt
    use_bias: bool = True
    activation: ActivationName | None = None


@register
class Dense(LayerKind):
    """Fully connected layer (Keras ``Dense``, PyTorch ``nn.Linear``) on a vector, or on
    every token of an LxC sequence alike (both frameworks apply it to the last axis)."""

    name = "dense"
    aliases = ("fc",)
    summary = "fully connected, on a vector or each token of a sequence: dense UNITS [activation]"
    Params = DenseParams
    positional = ("units",)
    words: ClassVar[dict[str, tuple[str, Any]]] = {a: ("activation", a) for a in ACTIVATIONS}

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        shape = inputs[0]
        if len(shape) > 2:
            raise ShapeError(
                f"dense expects a vector or a sequence input, got "
                f"{RankSpec.describe(len(shape))} {fmt_shape(shape)}",
                f"input here is {fmt_shape(shape)}",
                code="E0302",
                help="add `flatten` (or `globalavgpool`) before this layer; for a dense "
                "layer at every pixel, use `conv UNITS 1x1`",
            )
        return (*shape[:-1], p.units)

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        return inputs[0][-1] * p.units + (p.units if p.use_bias else 0), 0

    def macs(self, p: Any, inputs: list[Shape], out: Shape) -> int:
        return prod(inputs[0]) * p.units

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        bias = f" + {p.units}" if p.use_bias else ""
        n = inputs[0][-1]
        params = f"params: {n}·{p.units}{bias} = {self.param_count(p, inputs, out)[0]:,}"
        if len(inputs[0]) == 1:
            return [f"N: {p.units} units", params, f"MACs: {n}·{p.units} = {n * p.units:,}"]
        length = inputs[0][0]
        return [
            f"{length} tokens, each {n} -> {p.units} units (the same weights for every token)",
            params,
            f"MACs: {length}·{n}·{p.units} = {self.macs(p, inputs, out):,}",
        ]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        p = ctx.p
        return KerasPlan(
            Ctor(
                "layers.Dense",
                (param(p, "units"),),
                (self.keras_activation(p), kw("use_bias", param(p, "use_bias"), True)),
            )
        )

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        p = ctx.p
        weights = [WeightEntry((0,), ("weight",), DenseKernel(ctx.flattened))]
        if p.use_bias:
            weights.append(WeightEntry((1,), ("bias",), Same()))
        return TorchPlan(
            module=Ctor(
                "nn.Linear",
                (channels_in(ctx), param(p, "units")),
                (kw("bias", param(p, "use_bias"), True),),
            ),
            layout_in="any" if ctx.rank == 1 else "last",
            activation=self.fused(p),
            init="glorot",
            init_class="nn.Linear",
            weights=tuple(weights),
        )


@register
class Flatten(LayerKind):
    """Flatten everything but the batch axis (in H, W, C order, as Keras does)."""

    name = "flatten"
    summary = "flatten to a vector: flatten"

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        return (prod(inputs[0]),)

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        return ["·".join(str(d) for d in inputs[0]) + f" = {out[0]:,}"]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        return KerasPlan(Ctor("layers.Flatten"))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        """Keras flattens in H, W, C order, ``nn.Flatten`` in C, H, W order.  Feeding only
        dense layers, ``nn.Flatten()`` is what a PyTorch user writes: the dense layers' weight
        maps then permute their columns (``chw_flatten``).  Otherwise the tensor is flattened
        channels-last, which is Keras's function."""
        if ctx.rank <= 1:
            return TorchPlan(apply="{x}", layout_in="any")
        if ctx.feeds == ("dense",):
            return TorchPlan(module=Ctor("nn.Flatten"), chw_flatten=ctx.in_shape)
        return TorchPlan(apply="{x}.flatten(1)", layout_in="last")


class ReshapeParams(Params):
    """``reshape 7x7x64``: the target shape, without the batch axis."""

    shape: ShapeDims


@register
class Reshape(LayerKind):
    """Reshape to a target shape with the same number of elements."""

    name = "reshape"
    summary = "reshape to a target shape: reshape HxWxC"
    Params = ReshapeParams
    positional = ("shape",)

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        have, want = prod(inputs[0]), prod(p.shape)
        if have != want:
            raise ShapeError(
                f"cannot reshape {fmt_shape(inputs[0])} ({have:,} values) into "
                f"{fmt_shape(p.shape)} ({want:,} values)",
                f"{want:,} values here, but the input has {have:,}",
                arg="shape",
                help="the target shape must hold exactly as many values as the input",
            )
        return tuple(p.shape)

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        return [f"{fmt_shape(inputs[0])} -> {fmt_shape(out)} ({prod(out):,} values)"]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        return KerasPlan(Ctor("layers.Reshape", (param(ctx.p, "shape", tuple(ctx.p.shape)),)))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        """Keras reshapes channels-last tensors: the input is made channels-last first, and
        the result is channels-last."""
        shape = param(ctx.p, "shape", tuple(ctx.p.shape))
        return TorchPlan(
            apply="{x}.reshape(-1, {shape})", apply_args=(("shape", shape),), layout_in="last"
        )


class DropoutParams(Params):
    """``dropout RATE`` with 0 <= RATE < 1."""

    rate: Annotated[float, Field(ge=0.0, lt=1.0)]


@register
class Dropout(LayerKind):
    """Randomly zero a fraction of activations while training."""

    name = "dropout"
    summary = "dropout: dropout RATE"
    Params = DropoutParams
    positional = ("rate",)

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        return KerasPlan(Ctor("layers.Dropout", (param(ctx.p, "rate"),)))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        return TorchPlan(module=Ctor("nn.Dropout", (param(ctx.p, "rate"),)), layout_in="any")


class ActivationParams(Params):
    """``activation relu`` or just ``relu``."""

    fn: ActivationName
    negative_slope: float = LEAKY_RELU_SLOPE
    alpha: float = 1.0


@register
class Activation(LayerKind):
    """An elementwise activation as its own layer."""

    name = "activation"
    summary = "elementwise activation: activation FN, or FN alone: " + " | ".join(ACTIVATIONS)
    Params = ActivationParams
    positional = ("fn",)
    words: ClassVar[dict[str, tuple[str, Any]]] = {a: ("fn", a) for a in ACTIVATIONS}

    def activation(self, p: Any) -> str | None:
        return p.fn

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        p = ctx.p
        if p.fn == "leaky_relu" and p.negative_slope != LEAKY_RELU_SLOPE:
            return KerasPlan(
                Ctor("layers.LeakyReLU", (), (kw("negative_slope", param(p, "negative_slope")),))
            )
        if p.fn == "elu" and p.alpha != 1.0:
            return KerasPlan(Ctor("layers.ELU", (), (kw("alpha", param(p, "alpha")),)))
        return KerasPlan(Ctor("layers.Activation", (param(p, "fn"),)))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        act = self.fused(ctx.p)
        return TorchPlan(apply="{x}", layout_in="any", activation=act)


class SidesParams(Params):
    """``P`` or ``PHxPW`` pixels on both sides of H and W, each side overridable:
    ``top= bottom= left= right=`` (any non-negative amounts)."""

    top: NonNegativeInt | None = None
    bottom: NonNegativeInt | None = None
    left: NonNegativeInt | None = None
    right: NonNegativeInt | None = None
    amount: ClassVar[str] = "padding"  # the field with the amounts of both sides

    @property
    def both(self) -> tuple[int, int]:
        """The amounts written for both sides of H and W."""
        return getattr(self, self.amount)

    @property
    def pads(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """((top, bottom), (left, right))."""
        ph, pw = self.both

        def side(value: int | None, default: int) -> int:
            return default if value is None else value

        return (
            (side(self.top, ph), side(self.bottom, ph)),
            (side(self.left, pw), side(self.right, pw)),
        )

    @property
    def symmetric(self) -> bool:
        """Whether each axis has the same amount on both sides."""
        (t, b), (left, r) = self.pads
        return t == b and left == r


class ZeroPadParams(SidesParams):
    """``zeropad2d P | PHxPW [top=] [bottom=] [left=] [right=]``: zero padding of H and W."""

    padding: NonNegativePair = (1, 1)


@register
class ZeroPad2D(LayerKind):
    """Pad an image with zeros (Keras ``ZeroPadding2D``, ``nn.ZeroPad2d``): the same amount
    on every side, per axis, or any amount per side (``zeropad 0 bottom=1 right=1``)."""

    name = "zeropad2d"
    aliases = ("zeropad",)
    summary = "zero padding: zeropad P | PHxPW [top=] [bottom=] [left=] [right=]"
    Params = ZeroPadParams
    positional = ("padding",)

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        h, w, c = require_rank(self.name, inputs, 3, "zeropad2d pads images (HxWxC)")
        (t, b), (left, r) = p.pads
        return (h + t + b, w + left + r, c)

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        (h, w, _), ((t, b), (left, r)) = inputs[0], p.pads
        if p.symmetric:
            return [f"H: {h} + 2·{t} = {out[0]}", f"W: {w} + 2·{left} = {out[1]}"]
        return [f"H: {t} + {h} + {b} = {out[0]}", f"W: {left} + {w} + {r} = {out[1]}"]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        (t, b), (left, r) = ctx.p.pads
        if ctx.p.symmetric and (t, left) == ctx.p.padding:
            value = t if t == left else ctx.p.padding
            arg = kw("padding", param(ctx.p, "padding", value), 1)
        elif ctx.p.symmetric:
            arg = kw("padding", V(t if t == left else (t, left)), 1)
        else:
            arg = kw("padding", V(((t, b), (left, r))), 1)
        return KerasPlan(Ctor("layers.ZeroPadding2D", (), (arg,)))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        (t, b), (left, r) = ctx.p.pads
        if t == b == left == r and (t, left) == ctx.p.padding:
            value = V(t, "param:padding")
        else:
            value = V((left, r, t, b))
        return TorchPlan(module=Ctor("nn.ZeroPad2d", (value,)))


class CroppingParams(SidesParams):
    """``cropping2d P | PHxPW [top=] [bottom=] [left=] [right=]``: rows and columns cut off."""

    cropping: NonNegativePair = (0, 0)
    amount: ClassVar[str] = "cropping"


@register
class Cropping2D(LayerKind):
    """Cut rows and columns off an image's edges (Keras ``Cropping2D``; a slice in PyTorch)."""

    name = "cropping2d"
    aliases = ("crop",)
    summary = "crop an image's edges: cropping2d P | PHxPW [top=] [bottom=] [left=] [right=]"
    Params = CroppingParams
    positional = ("cropping",)

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        h, w, c = require_rank(self.name, inputs, 3, "cropping2d crops images (HxWxC)")
        (t, b), (left, r) = p.pads
        out = (h - t - b, w - left - r)
        if min(out) < 1:
            axis = "H" if out[0] < 1 else "W"
            n, cut = (h, t + b) if axis == "H" else (w, left + r)
            sides = ("top", "bottom") if axis == "H" else ("left", "right")
            written = [k for k in sides if getattr(p, k) is not None]
            arg = max(written, key=lambda k: getattr(p, k)) if written else "cropping"
            raise ShapeError(
                f"cropping2d removes {cut} of the {n} pixels along {axis}, leaving nothing",
                f"crops {cut} of {n} pixels",
                arg=arg,
                notes=(f"{axis}: {n} − {cut} = {n - cut}",),
                help=f"crop fewer than {n} pixels along {axis} in all",
            )
        return (*out, c)

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        (h, w, _), ((t, b), (left, r)) = inputs[0], p.pads
        return [f"H: {h} − {t} − {b} = {out[0]}", f"W: {w} − {left} − {r} = {out[1]}"]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        (t, b), (left, r) = ctx.p.pads
        symmetric = t if t == left else (t, left)
        value = V(symmetric if ctx.p.symmetric else ((t, b), (left, r)))
        return KerasPlan(Ctor("layers.Cropping2D", (), (kw("cropping", value, NO_DEFAULT),)))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        """A slice of the channels-first tensor (the form depends on the amounts only)."""
        (t, b), (left, r) = ctx.p.pads

        def cut(before: int, after: int) -> str:
            return f"{before or ''}:{-after if after else ''}"

        return TorchPlan(apply=f"{{x}}[:, :, {cut(t, b)}, {cut(left, r)}]")
