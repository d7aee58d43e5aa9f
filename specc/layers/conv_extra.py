"""More convolutions: depthwise, depthwise-separable and transposed, on HxWxC images.

Counts follow Keras (``DepthwiseConv2D``, ``SeparableConv2D``, ``Conv2DTranspose``); the
PyTorch equivalents are ``nn.Conv2d(groups=C)``, a depthwise plus a pointwise ``nn.Conv2d``,
and ``nn.ConvTranspose2d`` with the output cropped or padded to Keras's size (see
:func:`transpose_geometry`).
"""

from __future__ import annotations

from typing import Any

from specc.ir import Shape
from specc.layers.base import (
    ActivationName,
    LayerKind,
    Padding,
    Pair,
    Params,
    PositiveInt,
    ShapeError,
    check_windows,
    fmt_shape,
    per_axis,
    prod,
    register,
    window_explain,
)
from specc.layers.conv import CONV_WORDS, Window2DParams, require_rank
from specc.layers.planning import (
    conv_kernel_perm,
    keras_explicit_padding,
    keras_window_kwargs,
    kw,
    window_padding,
)
from specc.plans import (
    Ctor,
    Depthwise,
    KerasPlan,
    PlanContext,
    Same,
    TorchPlan,
    Transpose,
    V,
    WeightEntry,
    channels_in,
    kernel_and_bias,
    param,
    size,
)

IMAGE_HINT = "{kind} needs HxWxC input; reshape first"


class DepthwiseParams(Window2DParams):
    """``depthwise_conv2d KxK [depth_multiplier=M] [stride=] [padding=] [use_bias=] [act]``."""

    kernel: Pair
    depth_multiplier: PositiveInt = 1


class SeparableParams(Window2DParams):
    """``separable_conv2d FILTERS KxK [depth_multiplier=M] [stride=] [padding=] [act]``."""

    filters: PositiveInt
    kernel: Pair
    depth_multiplier: PositiveInt = 1


class TransposeParams(Params):
    """``conv2d_transpose FILTERS KxK [stride=] [padding=valid|same] [use_bias=] [act]``."""

    filters: PositiveInt
    kernel: Pair
    stride: Pair = (1, 1)
    padding: Padding = "valid"
    use_bias: bool = True
    activation: ActivationName | None = None


def _windows(kind: str, p: Any, inputs: list[Shape]) -> tuple[Shape, tuple[int, ...]]:
    shape = require_rank(kind, inputs, 3, IMAGE_HINT.format(kind=kind))
    dims = check_windows(
        f"{kind} kernel", shape[:-1], p.kernel, p.stride, p.padding, p.dilation, "kernel"
    )
    return shape, dims


def _window_lines(shape: Shape, p: Any, out: Shape) -> list[str]:
    return [
        window_explain(axis, n, k, s, per_axis(p.padding, i), d, o)
        for i, (axis, n, k, s, d, o) in enumerate(
            zip("HW", shape, p.kernel, p.stride, p.dilation, out, strict=False)
        )
    ]


@register
class DepthwiseConv2D(LayerKind):
    """One KxK filter per input channel (Keras ``DepthwiseConv2D``, ``nn.Conv2d(groups=C)``)."""

    name = "depthwise_conv2d"
    aliases = ("dwconv",)
    summary = (
        "depthwise convolution: depthwise_conv2d KxK [depth_multiplier=M] [stride=S] "
        "[padding=valid|same|P|PHxPW]"
    )
    Params = DepthwiseParams
    positional = ("kernel",)
    words = CONV_WORDS

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        shape, dims = _windows(self.name, p, inputs)
        return (*dims, shape[-1] * p.depth_multiplier)

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        c_out = inputs[0][-1] * p.depth_multiplier
        return prod(p.kernel) * c_out + (c_out if p.use_bias else 0), 0

    def macs(self, p: Any, inputs: list[Shape], out: Shape) -> int:
        return prod(out) * prod(p.kernel)

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        c, m = inputs[0][-1], p.depth_multiplier
        kernel = "·".join(str(k) for k in p.kernel)
        bias = f" + {out[-1]}" if p.use_bias else ""
        return [
            *_window_lines(inputs[0], p, out),
            f"C: {c} channels × depth_multiplier {m} = {out[-1]}",
            f"params: {kernel}·{c}·{m}{bias} = {self.param_count(p, inputs, out)[0]:,}",
            f"MACs: {fmt_shape(out)} outputs × {kernel} = {self.macs(p, inputs, out):,}",
        ]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        p = ctx.p
        return KerasPlan(
            Ctor(
                "layers.DepthwiseConv2D",
                (param(p, "kernel", size(p.kernel)),),
                (
                    *keras_window_kwargs(p, "kernel", generic=ctx.generic)[:2],
                    kw("depth_multiplier", param(p, "depth_multiplier"), 1),
                    keras_window_kwargs(p, "kernel", generic=ctx.generic)[2],
                    self.keras_activation(p),
                    kw("use_bias", param(p, "use_bias"), True),
                ),
            ),
            before=keras_explicit_padding(p, "kernel", generic=ctx.generic),
        )

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        p, c = ctx.p, ctx.in_shape[-1]
        module, helpers = depthwise_module(ctx, V(c * p.depth_multiplier))
        return TorchPlan(
            module=module,
            activation=self.fused(p),
            init="glorot_conv",
            init_class="nn.Conv2d",
            weights=(
                WeightEntry((0,), ("weight",), Depthwise(c)),
                *((WeightEntry((1,), ("bias",), Same()),) if p.use_bias else ()),
            ),
            helpers=helpers,
        )


@register
class SeparableConv2D(LayerKind):
    """A depthwise conv followed by a 1x1 pointwise conv (Keras ``SeparableConv2D``).

    The depthwise step has no bias; ``use_bias`` is the pointwise conv's, as in Keras.
    """

    name = "separable_conv2d"
    aliases = ("sepconv",)
    summary = "depthwise-separable convolution: separable_conv2d FILTERS KxK [depth_multiplier=M]"
    Params = SeparableParams
    positional = ("filters", "kernel")
    words = CONV_WORDS

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        _, dims = _windows(self.name, p, inputs)
        return (*dims, p.filters)

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        mid = inputs[0][-1] * p.depth_multiplier
        bias = p.filters if p.use_bias else 0
        return prod(p.kernel) * mid + mid * p.filters + bias, 0

    def macs(self, p: Any, inputs: list[Shape], out: Shape) -> int:
        mid = inputs[0][-1] * p.depth_multiplier
        positions = prod(out[:-1])
        return positions * mid * prod(p.kernel) + positions * mid * p.filters

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        c, m = inputs[0][-1], p.depth_multiplier
        kernel = "·".join(str(k) for k in p.kernel)
        bias = f" + {p.filters}" if p.use_bias else ""
        return [
            *_window_lines(inputs[0], p, out),
            f"C: depthwise {c}·{m} = {c * m}, then pointwise to {p.filters}",
            f"params: {kernel}·{c}·{m} + {c * m}·{p.filters}{bias} = "
            f"{self.param_count(p, inputs, out)[0]:,}",
            f"MACs: {self.macs(p, inputs, out):,}",
        ]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        p = ctx.p
        window = keras_window_kwargs(p, "kernel", generic=ctx.generic)
        return KerasPlan(
            Ctor(
                "layers.SeparableConv2D",
                (param(p, "filters"), param(p, "kernel", size(p.kernel))),
                (
                    *window[:2],
                    kw("depth_multiplier", param(p, "depth_multiplier"), 1),
                    window[2],
                    self.keras_activation(p),
                    kw("use_bias", param(p, "use_bias"), True),
                ),
            ),
            before=keras_explicit_padding(p, "kernel", generic=ctx.generic),
        )

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        p, c = ctx.p, ctx.in_shape[-1]
        mid = c * p.depth_multiplier
        depthwise, helpers = depthwise_module(ctx, V(mid), bias=False)
        pointwise = Ctor(
            "nn.Conv2d",
            (V(mid), param(p, "filters")),
            (kw("kernel_size", 1), kw("bias", param(p, "use_bias"), True)),
        )
        weights = [
            WeightEntry((0,), ("0.weight",), Depthwise(c)),
            WeightEntry((1,), ("1.weight",), Transpose(conv_kernel_perm(3))),
        ]
        if p.use_bias:
            weights.append(WeightEntry((2,), ("1.bias",), Same()))
        return TorchPlan(
            module=Ctor("nn.Sequential", (V(depthwise), V(pointwise))),
            activation=self.fused(p),
            init="glorot_conv",
            init_class="nn.Conv2d",
            weights=tuple(weights),
            helpers=helpers,
        )


def depthwise_module(ctx: PlanContext, out: V, bias: bool | None = None) -> tuple[Ctor, tuple]:
    """A grouped ``nn.Conv2d`` (one group per input channel): Keras's depthwise conv, with
    TensorFlow's ``same`` padding as :mod:`specc.layers.planning` describes."""
    p = ctx.p
    pads, dynamic = window_padding(p, "kernel", ctx.generic)
    cls = "Conv2dSame" if dynamic else "nn.Conv2d"
    use_bias = param(p, "use_bias") if bias is None else V(bias)
    source = "param:padding" if isinstance(p.padding, tuple) else None
    module = Ctor(
        cls,
        (channels_in(ctx), out),
        (
            kw("kernel_size", param(p, "kernel", size(p.kernel))),
            kw("stride", param(p, "stride", size(p.stride)), 1),
            kw("padding", V(size(pads) if pads else 0, source), 0),
            kw("dilation", param(p, "dilation", size(p.dilation)), 1),
            kw("groups", channels_in(ctx)),
            kw("bias", use_bias, True),
        ),
    )
    return module, ((cls,) if dynamic else ())


def transpose_length(n: int, k: int, s: int, padding: str) -> int:
    """Output length of a transposed conv along one axis, as Keras computes it.

    ``valid``: n·s + max(k − s, 0); ``same``: n·s.
    """
    if padding == "same":
        return n * s
    return n * s + max(k - s, 0)


def transpose_geometry(n: int, k: int, s: int, padding: str) -> tuple[int, int, int]:
    """How torch's ``ConvTranspose2d(padding=0)`` reaches Keras's size along one axis.

    Returns ``(output_padding, crop_before, length)``: build the module with this
    ``output_padding``, then keep ``[crop_before : crop_before + length]`` of its output.
    torch's own ``padding`` crops both sides equally, while TensorFlow's ``same`` crops the
    odd pixel at the end, so the crop is explicit.
    """
    length = transpose_length(n, k, s, padding)
    output_padding = max(s - k, 0)
    crop_before = max(k - s, 0) // 2 if padding == "same" else 0
    return output_padding, crop_before, length


@register
class Conv2DTranspose(LayerKind):
    """Transposed ("de-") convolution (Keras ``Conv2DTranspose``, ``nn.ConvTranspose2d``)."""

    name = "conv2d_transpose"
    aliases = ("deconv",)
    summary = "transposed convolution: conv2d_transpose FILTERS KxK [stride=S] [padding=]"
    Params = TransposeParams
    positional = ("filters", "kernel")
    words = CONV_WORDS

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        shape = require_rank(self.name, inputs, 3, IMAGE_HINT.format(kind=self.name))
        dims = tuple(
            transpose_length(n, k, s, p.padding)
            for n, k, s in zip(shape[:-1], p.kernel, p.stride, strict=True)
        )
        if min(dims) < 1:  # cannot happen with positive sizes; kept as a guard
            raise ShapeError(f"{self.name} output would be empty", arg="kernel")
        return (*dims, p.filters)

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        bias = p.filters if p.use_bias else 0
        return prod(p.kernel) * inputs[0][-1] * p.filters + bias, 0

    def macs(self, p: Any, inputs: list[Shape], out: Shape) -> int:
        # every input position scatters a KxK·F patch
        return prod(inputs[0]) * prod(p.kernel) * p.filters

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        lines = []
        for axis, n, k, s, o in zip("HW", inputs[0], p.kernel, p.stride, out, strict=False):
            if p.padding == "same":
                lines.append(f"{axis}: padding=same, out = {n}·{s} = {o}")
            else:
                lines.append(f"{axis}: {n}·{s} + max({k} − {s}, 0) = {o}")
        kernel = "·".join(str(k) for k in p.kernel)
        bias = f" + {p.filters}" if p.use_bias else ""
        lines.append(
            f"params: {kernel}·{inputs[0][-1]}·{p.filters}{bias} = "
            f"{self.param_count(p, inputs, out)[0]:,}"
        )
        lines.append(f"MACs: {self.macs(p, inputs, out):,}")
        return lines

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        p = ctx.p
        return KerasPlan(
            Ctor(
                "layers.Conv2DTranspose",
                (param(p, "filters"), param(p, "kernel", size(p.kernel))),
                (
                    *keras_window_kwargs(p, "kernel", generic=ctx.generic),
                    self.keras_activation(p),
                    kw("use_bias", param(p, "use_bias"), True),
                ),
            )
        )

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        """``nn.ConvTranspose2d`` with ``output_padding`` making up a kernel smaller than its
        stride; for ``same``, the surplus ``k − s`` is cropped with the odd pixel at the end,
        as TensorFlow does: torch's ``padding=`` when it is even, else the
        ``ConvTranspose2dSame`` helper (see :func:`transpose_geometry`)."""
        p = ctx.p
        output_padding = tuple(max(s - k, 0) for k, s in zip(p.kernel, p.stride, strict=True))
        crop = tuple(
            max(k - s, 0) if p.padding == "same" else 0
            for k, s in zip(p.kernel, p.stride, strict=True)
        )
        odd = any(c % 2 for c in crop) or (ctx.generic and any(crop))
        cls = "ConvTranspose2dSame" if odd else "nn.ConvTranspose2d"
        module = Ctor(
            cls,
            (channels_in(ctx), param(p, "filters")),
            (
                kw("kernel_size", param(p, "kernel", size(p.kernel))),
                kw("stride", param(p, "stride", size(p.stride)), 1),
                kw("padding", V(0 if odd else size(tuple(c // 2 for c in crop))), 0),
                kw("output_padding", V(size(output_padding)), 0),
                kw("bias", param(p, "use_bias"), True),
            ),
        )
        return TorchPlan(
            module=module,
            activation=self.fused(p),
            init="glorot",
            init_class="nn.ConvTranspose2d",
            weights=kernel_and_bias(Transpose((3, 2, 0, 1)), p.use_bias),
            helpers=(cls,) if odd else (),
        )
