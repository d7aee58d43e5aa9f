"""Convolution layers: ``conv2d`` on images and ``conv1d`` on sequences."""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from specc.ir import Shape
from specc.layers.base import (
    ACTIVATIONS,
    ActivationName,
    LayerKind,
    Pair,
    Params,
    PositiveInt,
    RankSpec,
    ShapeError,
    Single,
    WindowPadding1D,
    WindowPadding2D,
    check_windows,
    fmt_shape,
    per_axis,
    prod,
    register,
    window_explain,
)
from specc.layers.planning import (
    conv_kernel_perm,
    keras_explicit_padding,
    keras_window_kwargs,
    kw,
    window_padding,
)
from specc.plans import (
    Ctor,
    KerasPlan,
    PlanContext,
    TorchPlan,
    Transpose,
    V,
    channels_in,
    kernel_and_bias,
    param,
    size,
)

CONV_WORDS: dict[str, tuple[str, Any]] = {
    "valid": ("padding", "valid"),
    "same": ("padding", "same"),
    **{a: ("activation", a) for a in ACTIVATIONS},
}


class Window2DParams(Params):
    """What every 2-D convolution shares: stride, padding, dilation, bias and activation.

    ``padding`` is ``valid``, ``same`` (TensorFlow's) or explicit zero pixels on both sides
    (``padding=1``, ``padding=1x2``: PyTorch's ``padding=``)."""

    stride: Pair = (1, 1)
    padding: WindowPadding2D = "valid"
    dilation: Pair = (1, 1)
    use_bias: bool = True
    activation: ActivationName | None = None

    @model_validator(mode="after")
    def _stride_or_dilation(self):
        if max(self.stride) > 1 and max(self.dilation) > 1:
            raise ValueError("stride and dilation cannot both be greater than 1")
        return self


class Conv2DParams(Window2DParams):
    """``conv2d FILTERS KxK [stride=] [padding=] [dilation=] [groups=] [use_bias=] [act]``."""

    filters: PositiveInt
    kernel: Pair
    groups: PositiveInt = 1


class Conv1DParams(Params):
    """``conv1d FILTERS K [stride=] [padding=] [dilation=] [groups=] [use_bias=] [act]``."""

    filters: PositiveInt
    kernel: Single
    stride: Single = (1,)
    padding: WindowPadding1D = "valid"
    dilation: Single = (1,)
    groups: PositiveInt = 1
    use_bias: bool = True
    activation: ActivationName | None = None

    @model_validator(mode="after")
    def _stride_or_dilation(self):
        if self.stride[0] > 1 and self.dilation[0] > 1:
            raise ValueError("stride and dilation cannot both be greater than 1")
        return self


def require_rank(kind: str, inputs: list[Shape], rank: int, hint: str) -> Shape:
    """Return the single input shape, or raise when its rank is not ``rank``."""
    shape = inputs[0]
    if len(shape) != rank:
        raise ShapeError(
            f"{kind} expects {RankSpec.describe(rank)} input, got {fmt_shape(shape)}",
            f"input here is {fmt_shape(shape)}",
            code="E0302",
            help=hint,
        )
    return shape


class _Conv(LayerKind):
    """Shared rules of the N-d convolutions; subclasses fix the number of spatial axes."""

    positional = ("filters", "kernel")
    words = CONV_WORDS
    spatial_axes: tuple[str, ...] = ()
    rank_hint = ""

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        shape = require_rank(self.name, inputs, len(self.spatial_axes) + 1, self.rank_hint)
        check_groups(self.name, shape[-1], p.filters, p.groups)
        dims = check_windows(
            f"{self.name} kernel", shape[:-1], p.kernel, p.stride, p.padding, p.dilation, "kernel"
        )
        return (*dims, p.filters)

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        per_filter = prod(p.kernel) * (inputs[0][-1] // p.groups)
        return per_filter * p.filters + (p.filters if p.use_bias else 0), 0

    def macs(self, p: Any, inputs: list[Shape], out: Shape) -> int:
        return prod(out) * prod(p.kernel) * (inputs[0][-1] // p.groups)

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        shape = inputs[0]
        lines = [
            window_explain(axis, n, k, s, per_axis(p.padding, i), d, o)
            for i, (axis, n, k, s, d, o) in enumerate(
                zip(self.spatial_axes, shape, p.kernel, p.stride, p.dilation, out, strict=False)
            )
        ]
        kernel = "·".join(str(k) for k in p.kernel)
        bias = f" + {p.filters}" if p.use_bias else ""
        trainable, _ = self.param_count(p, inputs, out)
        c = f"{shape[-1]}" if p.groups == 1 else f"({shape[-1]} / {p.groups} groups)"
        lines.append(f"C: {p.filters} filters")
        lines.append(f"params: {kernel}·{c}·{p.filters}{bias} = {trainable:,}")
        spatial = "·".join(str(d) for d in out[:-1])
        lines.append(
            f"MACs: {spatial}·{p.filters} outputs × {kernel}·{c} = {self.macs(p, inputs, out):,}"
        )
        return lines

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        p, dims = ctx.p, len(self.spatial_axes)
        return KerasPlan(
            Ctor(
                f"layers.Conv{dims}D",
                (param(p, "filters"), param(p, "kernel", size(p.kernel))),
                (
                    *keras_window_kwargs(p, "kernel", generic=ctx.generic),
                    kw("groups", param(p, "groups"), 1),
                    self.keras_activation(p),
                    kw("use_bias", param(p, "use_bias"), True),
                ),
            ),
            before=keras_explicit_padding(p, "kernel", generic=ctx.generic),
        )

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        p, dims = ctx.p, len(self.spatial_axes)
        pads, dynamic = window_padding(p, "kernel", ctx.generic)
        cls = f"Conv{dims}dSame" if dynamic else f"nn.Conv{dims}d"
        source = "param:padding" if isinstance(p.padding, tuple) else None
        module = Ctor(
            cls,
            (channels_in(ctx), param(p, "filters")),
            (
                kw("kernel_size", param(p, "kernel", size(p.kernel))),
                kw("stride", param(p, "stride", size(p.stride)), 1),
                kw("padding", V(size(pads) if pads else 0, source), 0),
                kw("dilation", param(p, "dilation", size(p.dilation)), 1),
                kw("groups", param(p, "groups"), 1),
                kw("bias", param(p, "use_bias"), True),
            ),
        )
        return TorchPlan(
            module=module,
            activation=self.fused(p),
            init="glorot_conv",
            init_class=f"nn.Conv{dims}d",
            weights=kernel_and_bias(Transpose(conv_kernel_perm(dims + 1)), p.use_bias),
            helpers=(cls,) if dynamic else (),
        )


def check_groups(kind: str, channels: int, filters: int, groups: int) -> None:
    """A grouped convolution splits its input channels and its filters into ``groups``
    equal groups: both must divide."""
    for what, n in (("input channels", channels), ("filters", filters)):
        if n % groups:
            raise ShapeError(
                f"{kind} with groups={groups} needs {what} divisible by {groups}, got {n}",
                f"{n} {what} do not split into {groups} groups",
                arg="groups",
                code="E0304",
                help=f"use a number of groups that divides both {channels} and {filters}",
            )


@register
class Conv2D(_Conv):
    """2-D convolution over an HxWxC image (Keras ``Conv2D``, PyTorch ``nn.Conv2d``)."""

    name = "conv2d"
    aliases = ("conv",)
    summary = (
        "2-D convolution: conv FILTERS KxK [stride=S] [padding=valid|same|P|PHxPW] "
        "[dilation=D] [groups=G] [activation]"
    )
    Params = Conv2DParams
    spatial_axes = ("H", "W")
    rank_hint = "conv2d needs HxWxC input; use conv1d for sequences, or reshape first"


@register
class Conv1D(_Conv):
    """1-D convolution over an LxC sequence (Keras ``Conv1D``, PyTorch ``nn.Conv1d``)."""

    name = "conv1d"
    summary = (
        "1-D convolution: conv1d FILTERS K [stride=S] [padding=valid|same|P] [groups=G] "
        "[activation]"
    )
    Params = Conv1DParams
    spatial_axes = ("L",)
    rank_hint = "conv1d needs LxC input; use conv2d for images"
