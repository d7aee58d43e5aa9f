"""Pooling layers: windowed max/average pooling and the global poolings."""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from specc.ir import Shape
from specc.layers.base import (
    LayerKind,
    Padding,
    Pair,
    Params,
    RankSpec,
    ShapeError,
    Single,
    check_windows,
    fmt_shape,
    register,
    window_explain,
)
from specc.layers.conv import require_rank
from specc.layers.planning import keras_window_kwargs, kw, window_padding
from specc.plans import Ctor, KerasPlan, PlanContext, TorchPlan, V, param, size

POOL_WORDS: dict[str, tuple[str, Any]] = {
    "valid": ("padding", "valid"),
    "same": ("padding", "same"),
}


class Pool2DParams(Params):
    """``maxpool2d PxP [stride=S] [padding=valid|same]``; the stride defaults to the pool."""

    pool: Pair = (2, 2)
    stride: Pair | None = None
    padding: Padding = "valid"

    @model_validator(mode="after")
    def _default_stride(self):
        if self.stride is None:
            object.__setattr__(self, "stride", self.pool)
        return self


class Pool1DParams(Params):
    """``maxpool1d P [stride=S] [padding=valid|same]``; the stride defaults to the pool."""

    pool: Single = (2,)
    stride: Single | None = None
    padding: Padding = "valid"

    @model_validator(mode="after")
    def _default_stride(self):
        if self.stride is None:
            object.__setattr__(self, "stride", self.pool)
        return self


class _Pool(LayerKind):
    positional = ("pool",)
    words = POOL_WORDS
    spatial_axes: tuple[str, ...] = ()
    rank_hint = ""

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        shape = require_rank(self.name, inputs, len(self.spatial_axes) + 1, self.rank_hint)
        ones = (1,) * len(p.pool)
        dims = check_windows(
            f"{self.name} window", shape[:-1], p.pool, p.stride, p.padding, ones, "pool"
        )
        return (*dims, shape[-1])

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        lines = []
        for axis, n, k, s, o in zip(
            self.spatial_axes, inputs[0], p.pool, p.stride, out, strict=False
        ):
            if p.padding == "valid" and k == s:
                lines.append(f"{axis}: ⌊{n} / {k}⌋ = {o}")
            else:
                lines.append(window_explain(axis, n, k, s, p.padding, 1, o))
        lines.append(f"C: {out[-1]} channels, unchanged")
        return lines

    op = ""  # "Max" or "Avg"

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        p, dims = ctx.p, len(self.spatial_axes)
        name = "MaxPooling" if self.op == "Max" else "AveragePooling"
        return KerasPlan(
            Ctor(
                f"layers.{name}{dims}D",
                (param(p, "pool", size(p.pool)),),
                tuple(keras_window_kwargs(p, "pool")),
            )
        )

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        """``nn.MaxPool{1,2}d`` / ``nn.AvgPool{1,2}d``; TensorFlow's ``same`` as the symmetric
        ``padding=`` (average pooling then counts only real elements, as TensorFlow does) or
        the ``...Same`` helper, which pads max pooling with −inf and divides average pooling
        by the real elements of each window."""
        p, dims = ctx.p, len(self.spatial_axes)
        pads, dynamic = window_padding(p, "pool", ctx.generic)
        cls = f"{self.op}Pool{dims}d" + ("Same" if dynamic else "")
        kwargs = [
            kw("stride", param(p, "stride", size(p.stride)), size(p.pool)),
            kw("padding", V(size(pads) if pads else 0), 0),
        ]
        if self.op == "Avg" and pads and any(pads):
            kwargs.append(kw("count_include_pad", False, True))
        module = Ctor(
            cls if dynamic else f"nn.{cls}", (param(p, "pool", size(p.pool)),), tuple(kwargs)
        )
        return TorchPlan(module=module, helpers=(cls,) if dynamic else ())


@register
class MaxPool2D(_Pool):
    """Max pooling over HxW (Keras ``MaxPooling2D``, PyTorch ``nn.MaxPool2d``)."""

    name = "maxpool2d"
    op = "Max"
    aliases = ("maxpool",)
    summary = "2-D max pooling: maxpool P [stride=S] [padding=valid|same]"
    Params = Pool2DParams
    spatial_axes = ("H", "W")
    rank_hint = "maxpool2d needs HxWxC input; use maxpool1d for sequences"


@register
class AvgPool2D(_Pool):
    """Average pooling over HxW (Keras ``AveragePooling2D``, PyTorch ``nn.AvgPool2d``)."""

    name = "avgpool2d"
    op = "Avg"
    aliases = ("avgpool",)
    summary = "2-D average pooling: avgpool P [stride=S] [padding=valid|same]"
    Params = Pool2DParams
    spatial_axes = ("H", "W")
    rank_hint = "avgpool2d needs HxWxC input; use avgpool1d for sequences"


@register
class MaxPool1D(_Pool):
    """Max pooling over L (Keras ``MaxPooling1D``, PyTorch ``nn.MaxPool1d``)."""

    name = "maxpool1d"
    op = "Max"
    summary = "1-D max pooling: maxpool1d P [stride=S] [padding=valid|same]"
    Params = Pool1DParams
    spatial_axes = ("L",)
    rank_hint = "maxpool1d needs LxC input; use maxpool2d for images"


@register
class AvgPool1D(_Pool):
    """Average pooling over L (Keras ``AveragePooling1D``, PyTorch ``nn.AvgPool1d``)."""

    name = "avgpool1d"
    op = "Avg"
    summary = "1-D average pooling: avgpool1d P [stride=S] [padding=valid|same]"
    Params = Pool1DParams
    spatial_axes = ("L",)
    rank_hint = "avgpool1d needs LxC input; use avgpool2d for images"


class _GlobalPool(LayerKind):
    """Reduce every spatial axis of an image or sequence, keeping the channels."""

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        shape = inputs[0]
        if len(shape) not in (2, 3):
            raise ShapeError(
                f"{self.name} expects {RankSpec.describe(3)} or {RankSpec.describe(2)} input, "
                f"got {fmt_shape(shape)}",
                f"input here is {fmt_shape(shape)}",
                code="E0302",
                help="global pooling reduces spatial axes; a vector has none left",
            )
        return (shape[-1],)

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        spatial = "·".join(str(d) for d in inputs[0][:-1])
        return [f"reduce {spatial} positions per channel -> {out[0]}"]

    op = ""  # "Average" or "Max"
    reduce = ""  # the tensor method: "mean" or "amax"

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        return KerasPlan(Ctor(f"layers.Global{self.op}Pooling{ctx.rank - 1}D"))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        return TorchPlan(apply=f"{{x}}.{self.reduce}(dim={{spatial}})", layout_in="any")


@register
class GlobalAvgPool(_GlobalPool):
    """Global average pooling (Keras ``GlobalAveragePooling1D/2D``; ``mean`` in PyTorch)."""

    name = "globalavgpool"
    op = "Average"
    reduce = "mean"
    aliases = ("gap",)
    summary = "global average pooling over every spatial axis: globalavgpool"


@register
class GlobalMaxPool(_GlobalPool):
    """Global max pooling (Keras ``GlobalMaxPooling1D/2D``; ``amax`` in PyTorch)."""

    name = "globalmaxpool"
    op = "Max"
    reduce = "amax"
    summary = "global max pooling over every spatial axis: globalmaxpool"
