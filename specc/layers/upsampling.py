"""Upsampling: repeat each pixel of an image (nearest neighbour, integer factors)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from specc.ir import Shape
from specc.layers.base import LayerKind, Pair, Params, register
from specc.layers.conv import require_rank
from specc.layers.planning import kw
from specc.plans import Ctor, KerasPlan, PlanContext, TorchPlan, param, size


class UpSamplingParams(Params):
    """``upsampling2d S`` or ``upsampling2d SHxSW``: integer factors, nearest neighbour."""

    size: Pair = (2, 2)
    interpolation: Literal["nearest"] = "nearest"


@register
class UpSampling2D(LayerKind):
    """Nearest-neighbour upsampling (Keras ``UpSampling2D``, ``nn.Upsample(mode='nearest')``)."""

    name = "upsampling2d"
    aliases = ("upsample",)
    summary = "nearest-neighbour upsampling: upsampling2d S | SHxSW"
    Params = UpSamplingParams
    positional = ("size",)
    words: ClassVar[dict[str, tuple[str, Any]]] = {"nearest": ("interpolation", "nearest")}

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        h, w, c = require_rank(
            self.name, inputs, 3, "upsampling2d enlarges images (HxWxC); reshape first"
        )
        return (h * p.size[0], w * p.size[1], c)

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        (h, w, _), (sh, sw) = inputs[0], p.size
        return [f"H: {h}·{sh} = {out[0]}", f"W: {w}·{sw} = {out[1]}", "nearest neighbour"]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        value = param(ctx.p, "size", size(ctx.p.size))
        return KerasPlan(Ctor("layers.UpSampling2D", (), (kw("size", value, 2),)))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        """Integer factors, nearest neighbour: ``nn.Upsample`` repeats pixels as Keras does."""
        value = param(ctx.p, "size", size(ctx.p.size))
        module = Ctor("nn.Upsample", (), (kw("scale_factor", value), kw("mode", "nearest")))
        return TorchPlan(module=module)
