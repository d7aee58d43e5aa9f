"""Layer normalisation over the channel (last) axis, as Keras's ``LayerNormalization``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from specc.ir import Shape
from specc.layers.base import LayerKind, Params, register
from specc.layers.norm import norm_weights
from specc.layers.planning import kw
from specc.plans import Ctor, KerasPlan, Limit, PlanContext, TorchPlan, channels_in, param


class LayerNormParams(Params):
    """``layernorm [epsilon=0.001] [center=] [scale=]``: Keras's defaults (torch's eps is 1e-5)."""

    epsilon: Annotated[float, Field(gt=0.0)] = 1e-3
    center: bool = True
    scale: bool = True


@register
class LayerNorm(LayerKind):
    """Normalise each position over its channels; γ and β per channel, no running statistics.

    Keras ``LayerNormalization(axis=-1, epsilon=1e-3)``; PyTorch ``nn.LayerNorm(C, eps=1e-3)``
    applied with the channels last.
    """

    name = "layernorm"
    aliases = ("ln",)
    summary = "layer normalisation over channels: layernorm [epsilon=0.001]"
    Params = LayerNormParams

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        return inputs[0][-1] * (int(p.center) + int(p.scale)), 0

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        c = inputs[0][-1]
        n = int(p.center) + int(p.scale)
        return [
            f"normalise over the last axis ({c} channels), epsilon={p.epsilon:g}",
            f"params: {n}·{c} (γ, β) = {n * c:,}",
        ]

    def limits(self, p: Any, inputs: list[Shape]) -> list[Limit]:
        if p.center and not p.scale:
            return [
                Limit(
                    "torch",
                    "layernorm with center=true and scale=false has no PyTorch equivalent: "
                    "nn.LayerNorm has a bias only with a weight",
                    arg="scale",
                    help="use scale=true, or center=false too",
                )
            ]
        return []

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        p = ctx.p
        return KerasPlan(
            Ctor(
                "layers.LayerNormalization",
                (),
                (
                    kw("epsilon", param(p, "epsilon"), 0.001),
                    kw("center", param(p, "center"), True),
                    kw("scale", param(p, "scale"), True),
                ),
            )
        )

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        """``nn.LayerNorm`` over the last axis: the channels are moved last around it."""
        p = ctx.p
        module = Ctor(
            "nn.LayerNorm",
            (channels_in(ctx),),
            (
                kw("eps", param(p, "epsilon"), 1e-5),
                kw("elementwise_affine", param(p, "scale"), True),
                kw("bias", param(p, "center") if p.scale else True, True),
            ),
        )
        layout = "last" if ctx.rank > 1 else "any"
        return TorchPlan(module=module, layout_in=layout, weights=norm_weights(p, statistics=False))
