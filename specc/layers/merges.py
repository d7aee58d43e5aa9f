"""Merges: add, multiply and concat, made by `residual`, `branch` and merge lines naming layers."""

from __future__ import annotations

from typing import Any

from specc.ir import Shape
from specc.layers.base import (
    LayerKind,
    ShapeError,
    fmt_shape,
    register,
)
from specc.plans import (
    Ctor,
    KerasPlan,
    PlanContext,
    TorchPlan,
)


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
class Multiply(LayerKind):
    """Elementwise product of several inputs, broadcasting axes of size 1 (a 1x1xC gate
    times an HxWxC feature map: squeeze-and-excitation)."""

    name = "multiply"
    summary = "elementwise product, size-1 axes broadcast: `multiply gate`, or branch multiply { }"
    merge = True

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        out = list(inputs[0])
        for other in inputs[1:]:
            fits = len(other) == len(out) and all(
                a == b or 1 in (a, b) for a, b in zip(out, other, strict=True)
            )
            if not fits:
                raise ShapeError(
                    "cannot multiply tensors of shapes "
                    + " and ".join(fmt_shape(s) for s in inputs),
                    "these branches end in shapes that do not broadcast",
                    code="E0510",
                    help="every axis must be equal or 1 in one of them (a 1x1xC gate times "
                    "an HxWxC map: `globalavgpool keepdims`)",
                )
            out = [max(a, b) for a, b in zip(out, other, strict=True)]
        return tuple(out)

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        shapes = " × ".join(fmt_shape(s) for s in inputs)
        return [f"{shapes} -> {fmt_shape(out)} (size-1 axes broadcast)"]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        return KerasPlan(Ctor("layers.Multiply"))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        return TorchPlan(apply="{product}", layout_in="any")


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
