"""Core layers: input, dense, flatten, reshape, dropout, activation, zero padding, merges."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field

from specc.ir import Shape
from specc.layers.base import (
    ACTIVATIONS,
    LEAKY_RELU_SLOPE,
    ActivationName,
    LayerKind,
    Pair,
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
    """Fully connected layer on a vector (Keras ``Dense``, PyTorch ``nn.Linear``)."""

    name = "dense"
    aliases = ("fc",)
    summary = "fully connected: dense UNITS [activation]"
    Params = DenseParams
    positional = ("units",)
    words: ClassVar[dict[str, tuple[str, Any]]] = {a: ("activation", a) for a in ACTIVATIONS}

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        shape = inputs[0]
        if len(shape) != 1:
            raise ShapeError(
                f"dense expects a vector input, got {RankSpec.describe(len(shape))} "
                f"{fmt_shape(shape)}",
                f"input here is {fmt_shape(shape)}",
                code="E0302",
                help="add `flatten` (or `globalavgpool`) before this layer",
            )
        return (p.units,)

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        return inputs[0][0] * p.units + (p.units if p.use_bias else 0), 0

    def macs(self, p: Any, inputs: list[Shape], out: Shape) -> int:
        return inputs[0][0] * p.units

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        bias = f" + {p.units}" if p.use_bias else ""
        n = inputs[0][0]
        return [
            f"N: {p.units} units",
            f"params: {n}·{p.units}{bias} = {self.param_count(p, inputs, out)[0]:,}",
            f"MACs: {n}·{p.units} = {n * p.units:,}",
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
            layout_in="any",
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
        target = ", ".join(str(d) for d in ctx.p.shape)
        return TorchPlan(apply=f"{{x}}.reshape(-1, {target})", layout_in="last")


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
    summary = "elementwise activation: relu | sigmoid | tanh | softmax | gelu | silu | ..."
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


class ZeroPadParams(Params):
    """``zeropad2d P`` or ``zeropad2d PHxPW``: symmetric zero padding of H and W."""

    padding: Pair = (1, 1)


@register
class ZeroPad2D(LayerKind):
    """Pad an image with zeros on every side (Keras ``ZeroPadding2D``, ``nn.ZeroPad2d``)."""

    name = "zeropad2d"
    aliases = ("zeropad",)
    summary = "zero padding: zeropad P | PHxPW"
    Params = ZeroPadParams
    positional = ("padding",)

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        h, w, c = require_rank(self.name, inputs, 3, "zeropad2d pads images (HxWxC)")
        return (h + 2 * p.padding[0], w + 2 * p.padding[1], c)

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        (h, w, _), (ph, pw) = inputs[0], p.padding
        return [f"H: {h} + 2·{ph} = {out[0]}", f"W: {w} + 2·{pw} = {out[1]}"]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        p = ctx.p
        value = p.padding[0] if p.padding[0] == p.padding[1] else p.padding
        return KerasPlan(
            Ctor("layers.ZeroPadding2D", (), (kw("padding", param(p, "padding", value), 1),))
        )

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        ph, pw = ctx.p.padding
        value = V(ph, "param:padding") if ph == pw else V((pw, pw, ph, ph))
        return TorchPlan(module=Ctor("nn.ZeroPad2d", (value,)))


@register
class Add(LayerKind):
    """Elementwise sum of several inputs of the same shape (residual connections)."""

    name = "add"
    merge = True
    summary = "elementwise sum: add NAME... (the previous output and named layers), residual { }"

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        first = inputs[0]
        for other in inputs[1:]:
            if other != first:
                raise ShapeError(
                    "cannot add tensors of shapes " + " and ".join(fmt_shape(s) for s in inputs),
                    "these branches end in different shapes",
                    code="E0501",
                    help="make every branch end in the same shape, e.g. with a 1x1 conv "
                    "projection (conv F 1x1 stride=S) in the shortcut",
                )
        return first

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        return KerasPlan(Ctor("layers.Add"))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        return TorchPlan(apply="{sum}", layout_in="any")


@register
class Concat(LayerKind):
    """Concatenate several inputs along the channel (last) axis."""

    name = "concat"
    merge = True
    summary = "concatenate on the channel axis: concat NAME... (with named layers), branch concat"

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        first = inputs[0]
        for other in inputs[1:]:
            if len(other) != len(first) or other[:-1] != first[:-1]:
                raise ShapeError(
                    "cannot concatenate tensors of shapes "
                    + " and ".join(fmt_shape(s) for s in inputs),
                    "these branches differ in more than their channels",
                    code="E0502",
                    help="every branch must keep the same spatial size; use padding=same",
                )
        return (*first[:-1], sum(s[-1] for s in inputs))

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        return ["C: " + " + ".join(str(s[-1]) for s in inputs) + f" = {out[-1]}"]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        return KerasPlan(Ctor("layers.Concatenate"))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        return TorchPlan(apply="torch.cat([{list}], dim={channels})", layout_in="any")
