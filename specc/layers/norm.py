"""Normalisation layers."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from specc.ir import Shape
from specc.layers.base import LayerKind, Params, register


class BatchNormParams(Params):
    """``batchnorm [momentum=0.99] [epsilon=0.001] [center=] [scale=]``, as Keras means them."""

    momentum: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.99
    epsilon: Annotated[float, Field(gt=0.0)] = 1e-3
    center: bool = True
    scale: bool = True


@register
class BatchNorm(LayerKind):
    """Batch normalisation over the channel (last) axis.

    Keras counts the moving mean and variance as non-trainable parameters; PyTorch keeps them
    as buffers.  specc reports them as non-trainable, and says so.
    """

    name = "batchnorm"
    aliases = ("bn", "batchnorm2d")
    summary = "batch normalisation over channels: batchnorm [momentum=0.99] [epsilon=0.001]"
    Params = BatchNormParams

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        c = inputs[0][-1]
        return c * (int(p.center) + int(p.scale)), 2 * c

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        c = inputs[0][-1]
        trainable = int(p.center) + int(p.scale)
        return [
            f"params: {trainable}·{c} trainable (γ, β) + 2·{c} non-trainable "
            "(moving mean and variance)"
        ]
