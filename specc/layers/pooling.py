"""Pooling layers: windowed max/average pooling and the global poolings."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import model_validator

from specc.ir import Shape
from specc.layers.base import (
    LayerKind,
    Pair,
    Params,
    RankSpec,
    ShapeError,
    Single,
    WindowPadding1D,
    WindowPadding2D,
    check_windows,
    explicit,
    fmt_shape,
    per_axis,
    register,
    window_explain,
)
from specc.layers.conv import require_rank
from specc.layers.planning import (
    keras_explicit_padding,
    keras_window_kwargs,
    kw,
    window_padding,
)
from specc.plans import Ctor, KerasPlan, Limit, PlanContext, TorchPlan, V, param, size

POOL_WORDS: dict[str, tuple[str, Any]] = {
    "valid": ("padding", "valid"),
    "same": ("padding", "same"),
}


class Pool2DParams(Params):
    """``maxpool2d PxP [stride=S] [padding=valid|same|P|PHxPW]``; the stride defaults to the
    pool.  Explicit padding is PyTorch's: max pooling never takes it (−inf), average pooling
    counts it as zeros (``count_include_pad=True``)."""

    pool: Pair = (2, 2)
    stride: Pair | None = None
    padding: WindowPadding2D = "valid"

    @model_validator(mode="after")
    def _default_stride(self):
        if self.stride is None:
            object.__setattr__(self, "stride", self.pool)
        return self


class Pool1DParams(Params):
    """``maxpool1d P [stride=S] [padding=valid|same|P]``; the stride defaults to the pool."""

    pool: Single = (2,)
    stride: Single | None = None
    padding: WindowPadding1D = "valid"

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
        for i, (axis, n, k, s, o) in enumerate(
            zip(self.spatial_axes, inputs[0], p.pool, p.stride, out, strict=False)
        ):
            padding = per_axis(p.padding, i)
            if padding in ("valid", 0) and k == s:
                lines.append(f"{axis}: ⌊{n} / {k}⌋ = {o}")
            else:
                lines.append(window_explain(axis, n, k, s, padding, 1, o))
        if explicit(p.padding) and any(p.padding):
            lines.append(
                "padding: never the maximum (−inf)"
                if self.op == "Max"
                else "padding: zeros, counted in each mean (PyTorch's count_include_pad)"
            )
        lines.append(f"C: {out[-1]} channels, unchanged")
        return lines

    op = ""  # "Max" or "Avg"

    def limits(self, p: Any, inputs: list[Shape]) -> list[Limit]:
        pads = explicit(p.padding)
        if pads and any(2 * q > k for q, k in zip(pads, p.pool, strict=True)):
            return [
                Limit(
                    "torch",
                    f"padding={'x'.join(map(str, pads))} is more than half the "
                    f"{'x'.join(map(str, p.pool))} window: PyTorch's pooling refuses it",
                    arg="padding",
                    help="pad at most half the window, or add a `zeropad` before the pooling",
                )
            ]
        return []

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        p, dims = ctx.p, len(self.spatial_axes)
        name = "MaxPooling" if self.op == "Max" else "AveragePooling"
        fill = float("-inf") if self.op == "Max" else 0.0
        zeros, generic = self.op == "Avg", ctx.generic
        before = keras_explicit_padding(p, "pool", fill, zeros, generic)
        return KerasPlan(
            Ctor(
                f"layers.{name}{dims}D",
                (param(p, "pool", size(p.pool)),),
                tuple(keras_window_kwargs(p, "pool", zeros, generic)),
            ),
            before=before,
            helpers=("ConstantPadding",) if self.op == "Max" and before else (),
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
        if self.op == "Avg" and pads and any(pads) and not explicit(p.padding):
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
    summary = "2-D max pooling: maxpool P [stride=S] [padding=valid|same|P|PHxPW]"
    Params = Pool2DParams
    spatial_axes = ("H", "W")
    rank_hint = "maxpool2d needs HxWxC input; use maxpool1d for sequences"


@register
class AvgPool2D(_Pool):
    """Average pooling over HxW (Keras ``AveragePooling2D``, PyTorch ``nn.AvgPool2d``)."""

    name = "avgpool2d"
    op = "Avg"
    aliases = ("avgpool",)
    summary = "2-D average pooling: avgpool P [stride=S] [padding=valid|same|P|PHxPW]"
    Params = Pool2DParams
    spatial_axes = ("H", "W")
    rank_hint = "avgpool2d needs HxWxC input; use avgpool1d for sequences"


@register
class MaxPool1D(_Pool):
    """Max pooling over L (Keras ``MaxPooling1D``, PyTorch ``nn.MaxPool1d``)."""

    name = "maxpool1d"
    op = "Max"
    summary = "1-D max pooling: maxpool1d P [stride=S] [padding=valid|same|P]"
    Params = Pool1DParams
    spatial_axes = ("L",)
    rank_hint = "maxpool1d needs LxC input; use maxpool2d for images"


@register
class AvgPool1D(_Pool):
    """Average pooling over L (Keras ``AveragePooling1D``, PyTorch ``nn.AvgPool1d``)."""

    name = "avgpool1d"
    op = "Avg"
    summary = "1-D average pooling: avgpool1d P [stride=S] [padding=valid|same|P]"
    Params = Pool1DParams
    spatial_axes = ("L",)
    rank_hint = "avgpool1d needs LxC input; use avgpool2d for images"


class GlobalPoolParams(Params):
    """``globalavgpool [keepdims]``: ``keepdims`` keeps the pooled axes as size 1 (1x1xC)."""

    keepdims: bool = False


class _GlobalPool(LayerKind):
    """Reduce every spatial axis of an image or sequence, keeping the channels."""

    Params = GlobalPoolParams
    words: ClassVar[dict[str, tuple[str, Any]]] = {"keepdims": ("keepdims", True)}

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
        if p.keepdims:
            return (*(1 for _ in shape[:-1]), shape[-1])
        return (shape[-1],)

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        spatial = "·".join(str(d) for d in inputs[0][:-1])
        return [f"reduce {spatial} positions per channel -> {fmt_shape(out)}"]

    op = ""  # "Average" or "Max"
    reduce = ""  # the tensor method: "mean" or "amax"

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        keepdims = kw("keepdims", param(ctx.p, "keepdims"), False)
        return KerasPlan(Ctor(f"layers.Global{self.op}Pooling{ctx.rank - 1}D", (), (keepdims,)))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        keep = ", keepdim=True" if ctx.p.keepdims else ""
        return TorchPlan(apply=f"{{x}}.{self.reduce}(dim={{spatial}}{keep})", layout_in="any")


@register
class GlobalAvgPool(_GlobalPool):
    """Global average pooling (Keras ``GlobalAveragePooling1D/2D``; ``mean`` in PyTorch)."""

    name = "globalavgpool"
    op = "Average"
    reduce = "mean"
    aliases = ("gap",)
    summary = "global average pooling over every spatial axis: globalavgpool [keepdims]"


@register
class GlobalMaxPool(_GlobalPool):
    """Global max pooling (Keras ``GlobalMaxPooling1D/2D``; ``amax`` in PyTorch)."""

    name = "globalmaxpool"
    op = "Max"
    reduce = "amax"
    summary = "global max pooling over every spatial axis: globalmaxpool [keepdims]"


class AdaptivePoolParams(Params):
    """``adaptive_avgpool2d HoxWo``: pool an image to this output size."""

    size: Pair


class _AdaptivePool(LayerKind):
    """PyTorch's adaptive pooling to a fixed output size (``nn.AdaptiveAvgPool2d``).

    Output cell i along an axis of n inputs pools inputs ⌊i·n/o⌋ to ⌈(i+1)·n/o⌉.  Keras has
    no adaptive pooling; where o divides n those windows are the blocks of a plain pooling
    with a window and stride of n/o, which is what the Keras backend writes.  Elsewhere the
    windows overlap or differ in size, and the Keras backend refuses the layer (a located
    limit) rather than compute something else.
    """

    Params = AdaptivePoolParams
    positional = ("size",)
    op = ""  # "Avg" or "Max"

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        shape = require_rank(
            self.name, inputs, 3, f"{self.name} pools images (HxWxC); reshape first"
        )
        return (*p.size, shape[-1])

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        lines = []
        for axis, n, o in zip("HW", inputs[0], p.size, strict=False):
            if n % o == 0:
                lines.append(f"{axis}: {n} -> {o}, windows of {n} / {o} = {n // o}")
            else:
                lines.append(f"{axis}: {n} -> {o}, window i spans ⌊i·{n}/{o}⌋ to ⌈(i+1)·{n}/{o}⌉")
        lines.append(f"C: {out[-1]} channels, unchanged")
        return lines

    def limits(self, p: Any, inputs: list[Shape]) -> list[Limit]:
        (h, w, _), (oh, ow) = inputs[0], p.size
        if h % oh == 0 and w % ow == 0:
            return []
        bad = next((n, o) for n, o in ((h, oh), (w, ow)) if n % o)
        return [
            Limit(
                "keras",
                f"Keras has no adaptive pooling: the output {oh}x{ow} is written as a plain "
                f"pooling of the {h}x{w} input, which needs sizes that divide ({bad[0]} is "
                f"not a multiple of {bad[1]})",
                arg="size",
                help="pool to a size that divides the input's (1x1 always does)",
            )
        ]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        (h, w, _), (oh, ow) = ctx.in_shape, ctx.p.size
        name = "MaxPooling2D" if self.op == "Max" else "AveragePooling2D"
        return KerasPlan(Ctor(f"layers.{name}", (V(size((h // oh, w // ow))),)))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        value = param(ctx.p, "size", size(ctx.p.size))
        return TorchPlan(module=Ctor(f"nn.Adaptive{self.op}Pool2d", (value,)))


@register
class AdaptiveAvgPool2D(_AdaptivePool):
    """Adaptive average pooling to a size (``nn.AdaptiveAvgPool2d``; Keras: divisible sizes)."""

    name = "adaptive_avgpool2d"
    aliases = ("adaptive_avgpool",)
    op = "Avg"
    summary = "average pooling to an output size: adaptive_avgpool HoxWo"


@register
class AdaptiveMaxPool2D(_AdaptivePool):
    """Adaptive max pooling to a size (``nn.AdaptiveMaxPool2d``; Keras: divisible sizes)."""

    name = "adaptive_maxpool2d"
    aliases = ("adaptive_maxpool",)
    op = "Max"
    summary = "max pooling to an output size: adaptive_maxpool HoxWo"
