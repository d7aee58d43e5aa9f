"""Layer normalisation over the channel (last) axis, as Keras's ``LayerNormalization``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from specc.ir import Shape
from specc.layers.base import LayerKind, Params, register


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
