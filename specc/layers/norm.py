"""Normalisation layers."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from specc.ir import Shape
from specc.layers.base import LayerKind, Params, register
from specc.layers.planning import kw
from specc.plans import (
    Ctor,
    KerasPlan,
    Limit,
    PlanContext,
    Same,
    TorchPlan,
    V,
    WeightEntry,
    channels_in,
    param,
)


def norm_weights(p: Any, chw=None, statistics: bool = True) -> tuple[WeightEntry, ...]:
    """Keras's [gamma?, beta?, moving_mean?, moving_variance?] as torch's weight, bias,
    running_mean, running_var (the affine ones as ``scale``/``center`` say)."""
    names = [t for flag, t in ((p.scale, "weight"), (p.center, "bias")) if flag]
    if statistics:
        names += ["running_mean", "running_var"]
    return tuple(WeightEntry((i,), (n,), Same(chw)) for i, n in enumerate(names))


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

    def limits(self, p: Any, inputs: list[Shape]) -> list[Limit]:
        if p.center != p.scale:
            return [
                Limit(
                    "torch",
                    f"batchnorm with center={str(p.center).lower()} and "
                    f"scale={str(p.scale).lower()} has no PyTorch equivalent: nn.BatchNorm's "
                    "affine parameters are both there or both absent",
                    arg="center" if not p.center else "scale",
                    help="use center and scale alike (both true or both false)",
                )
            ]
        return []

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        p = ctx.p
        return KerasPlan(
            Ctor(
                "layers.BatchNormalization",
                (),
                (
                    kw("momentum", param(p, "momentum"), 0.99),
                    kw("epsilon", param(p, "epsilon"), 0.001),
                    kw("center", param(p, "center"), True),
                    kw("scale", param(p, "scale"), True),
                ),
            )
        )

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        """Keras's momentum m is PyTorch's 1 − m; Keras's epsilon defaults to 1e-3 (PyTorch
        1e-5).  PyTorch starts BatchNorm as Keras does (ones, zeros; mean 0, variance 1)."""
        p = ctx.p
        cls = "nn.BatchNorm2d" if ctx.rank == 3 else "nn.BatchNorm1d"
        module = Ctor(
            cls,
            (channels_in(ctx),),
            (
                kw("eps", param(p, "epsilon"), 1e-5),
                kw("momentum", V(round(1 - p.momentum, 10)), 0.1),
                kw("affine", param(p, "center"), True),
            ),
        )
        return TorchPlan(module=module, weights=norm_weights(p, ctx.flattened))
