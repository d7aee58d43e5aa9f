"""Fixed and learned per-channel scaling: Keras's preprocessing layers ``Rescaling`` and
``Normalization``, and LayerScale (a learned per-channel factor, as in ConvNeXt and CaiT).

Per-channel values are written as a quoted list, ``mean="0.485 0.456 0.406"`` (commas or
spaces between the numbers), or as one number for every channel.  Counts follow Keras:
``Rescaling`` has no weights; ``Normalization`` with given statistics has none either (they are
constants), and without them it has Keras's ``mean``, ``variance`` and sample ``count`` (2·C + 1
non-trainable weights, to be set from data: ``keras.applications``' EfficientNet counts them),
which the PyTorch module keeps as buffers.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator

from specc.ir import Shape
from specc.layers.base import LayerKind, Params, ShapeError, register
from specc.layers.planning import kw
from specc.plans import (
    Ctor,
    KerasPlan,
    PlanContext,
    Reshaped,
    Same,
    TorchPlan,
    V,
    WeightEntry,
    channels_in,
)

# Keras's backend.epsilon(): the least standard deviation Normalization divides by
KERAS_EPSILON = 1e-7


def _numbers(value: Any) -> Any:
    """One number, or a quoted list of numbers (``"0.5 0.25"``, ``"0.5, 0.25"``)."""
    if isinstance(value, bool):
        raise ValueError("must be a number or a quoted list of numbers")
    if isinstance(value, int | float):
        return (float(value),)
    if isinstance(value, str):
        parts = [part for part in re.split(r"[\s,]+", value.strip()) if part]
        try:
            numbers = tuple(float(part) for part in parts)
        except ValueError:
            numbers = ()
        if numbers:
            return numbers
    if isinstance(value, tuple) and value and all(isinstance(v, float) for v in value):
        return value
    raise ValueError('must be a number or a quoted list of numbers, e.g. "0.5 0.25 0.125"')


Numbers = Annotated[tuple[float, ...], BeforeValidator(_numbers), Field(min_length=1)]


def per_channel(kind: str, arg: str, values: tuple[float, ...], channels: int) -> None:
    """Per-channel values: one for all channels, or exactly one per channel."""
    if len(values) not in (1, channels):
        raise ShapeError(
            f"{kind} `{arg}` has {len(values)} values for {channels} channels",
            f"{len(values)} values here, the input has {channels} channels",
            arg=arg,
            code="E0304",
            help=f"give one value for every channel, or {channels} values",
        )


def _literal(values: tuple[float, ...]) -> float | list[float]:
    """A per-channel value as Keras takes it: a number, or a list."""
    return values[0] if len(values) == 1 else list(values)


def _torch_constant(values: tuple[float, ...]) -> str:
    """A per-channel constant in ``forward``, on channels-last ``{x}``."""
    if len(values) == 1:
        return repr(values[0])
    return "{x}.new_tensor(" + repr(tuple(values)) + ")"


class RescalingParams(Params):
    """``rescaling SCALE [offset=0]``: x·SCALE + offset, per channel or for all."""

    scale: Numbers
    offset: Numbers = (0.0,)


@register
class Rescaling(LayerKind):
    """Scale and shift the input (Keras ``Rescaling``): x·scale + offset, no weights."""

    name = "rescaling"
    summary = 'x · SCALE + OFFSET: rescaling SCALE [offset=] (or per channel: "s1 s2 s3")'
    Params = RescalingParams
    positional = ("scale",)

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        for arg in ("scale", "offset"):
            per_channel(self.name, arg, getattr(p, arg), inputs[0][-1])
        return inputs[0]

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        scale, offset = _literal(p.scale), _literal(p.offset)
        if offset == 0.0:
            return [f"x · {scale}, elementwise (no weights)"]
        if isinstance(offset, float) and offset < 0:
            return [f"x · {scale} − {-offset}, elementwise (no weights)"]
        return [f"x · {scale} + {offset}, elementwise (no weights)"]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        p = ctx.p
        offset = kw("offset", V(_literal(p.offset)), 0.0)
        return KerasPlan(Ctor("layers.Rescaling", (V(_literal(p.scale)),), (offset,)))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        p = ctx.p
        lists = len(p.scale) > 1 or len(p.offset) > 1
        expr = "{x} * " + _torch_constant(p.scale)
        if len(p.offset) == 1 and p.offset[0] < 0:
            expr += " - " + _torch_constant((-p.offset[0],))
        elif any(p.offset):
            expr += " + " + _torch_constant(p.offset)
        return TorchPlan(
            apply=expr,
            layout_in="last" if lists else "any",
            module_name="Rescaling",
        )


class NormalizationParams(Params):
    """``normalization [mean= variance=]``: (x − mean) / √variance per channel; without the
    statistics they are non-trainable weights (Keras's ``adapt`` sets them from data)."""

    mean: Numbers | None = None
    variance: Numbers | None = None

    @field_validator("variance")
    @classmethod
    def _not_negative(cls, value):
        if value is not None and min(value) < 0:
            raise ValueError("a variance cannot be negative")
        return value


@register
class Normalization(LayerKind):
    """Keras's ``Normalization`` over the channel axis: (x − mean) / max(√variance, 1e-7)."""

    name = "normalization"
    summary = "(x − mean) / √variance per channel: normalization [mean= variance=]"
    Params = NormalizationParams

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        if (p.mean is None) != (p.variance is None):
            given, missing = ("mean", "variance") if p.variance is None else ("variance", "mean")
            raise ShapeError(
                f"normalization needs `{missing}` with `{given}`",
                f"`{given}` without `{missing}`",
                arg=given,
                code="E0207",
                help="give both mean= and variance= (fixed statistics), or neither (statistics "
                "as non-trainable weights, set from data)",
            )
        if p.mean is not None:
            per_channel(self.name, "mean", p.mean, inputs[0][-1])
            per_channel(self.name, "variance", p.variance, inputs[0][-1])
        return inputs[0]

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        return (0, 0) if p.mean is not None else (0, 2 * inputs[0][-1] + 1)

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        c = inputs[0][-1]
        if p.mean is not None:
            return [
                f"(x − {_literal(p.mean)}) / √{_literal(p.variance)} per channel "
                "(constants, no weights)"
            ]
        return [
            "(x − mean) / √variance per channel, statistics set from data (Keras's adapt)",
            f"params: {c} + {c} + 1 non-trainable (mean, variance, Keras's sample count)",
        ]

    @staticmethod
    def statistics(p: Any) -> tuple[Any, Any]:
        """The given mean and variance as Keras takes them: numbers, or lists of one length
        (Keras refuses a list beside a number)."""
        mean, variance = p.mean, p.variance
        if len(mean) != len(variance):
            size = max(len(mean), len(variance))
            mean, variance = (v * size if len(v) == 1 else v for v in (mean, variance))
        return _literal(mean), _literal(variance)

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        p = ctx.p
        if p.mean is None:
            return KerasPlan(Ctor("layers.Normalization"))
        mean, variance = self.statistics(p)
        return KerasPlan(
            Ctor("layers.Normalization", (), (kw("mean", V(mean)), kw("variance", V(variance))))
        )

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        """The ``Normalization`` helper module: buffers ``mean``, ``variance`` and ``count``
        (Keras's weights), or constants."""
        p = ctx.p
        kwargs = ()
        weights: tuple[WeightEntry, ...] = (
            WeightEntry((0,), ("mean",), Same()),
            WeightEntry((1,), ("variance",), Same()),
            WeightEntry((2,), ("count",), Same()),
        )
        if p.mean is not None:
            mean, variance = self.statistics(p)
            kwargs = (kw("mean", V(mean)), kw("variance", V(variance)))
            weights = ()
        return TorchPlan(
            module=Ctor("Normalization", (channels_in(ctx),), kwargs),
            weights=weights,
            helpers=("Normalization",),
        )


class LayerScaleParams(Params):
    """``layer_scale [init=1e-5]``: a learned factor per channel, starting at ``init``."""

    init: float = 1e-5


@register
class LayerScale(LayerKind):
    """Multiply every channel by a learned factor (LayerScale, ConvNeXt's ``layer_scale``)."""

    name = "layer_scale"
    aliases = ("layerscale",)
    summary = "learned per-channel factor: layer_scale [init=1e-5]"
    Params = LayerScaleParams

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        return inputs[0][-1], 0

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        c = inputs[0][-1]
        return [f"x · γ, one factor per channel (starting at {p.init:g})", f"params: {c}"]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        init = kw("init", V(float(ctx.p.init), "param:init"), 1e-5)
        return KerasPlan(Ctor("LayerScale", (), (init,)), helpers=("LayerScale",))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        """A bare ``nn.Parameter`` of the class, ``(C, 1, 1)`` on channels-first images as
        torchvision's ConvNeXt has it; the ``LayerScale`` helper inside ``nn.Sequential``."""
        c = ctx.in_shape[-1]
        init = V(float(ctx.p.init), "param:init")
        if ctx.sequential:
            return TorchPlan(
                module=Ctor("LayerScale", (channels_in(ctx),), (kw("init", init, 1e-5),)),
                layout_in="last" if ctx.rank > 1 else "any",
                weights=(WeightEntry((0,), ("weight",), Same()),),
                helpers=("LayerScale",),
            )
        shape = (c, 1, 1) if ctx.rank == 3 else (c,)
        dims = (channels_in(ctx), *(V(1) for _ in shape[1:]))
        constant = Ctor("nn.init.constant_", (V(Ctor("torch.empty", dims)), init))
        return TorchPlan(
            module=Ctor("nn.Parameter", (V(constant),)),
            apply="{x} * {m}",
            layout_in={3: "first", 2: "last"}.get(ctx.rank, "any"),
            weights=(WeightEntry((0,), ("",), Reshaped((c,), shape)),),
        )
