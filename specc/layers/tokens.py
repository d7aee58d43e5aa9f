"""The pieces of a transformer around its attention: patch embedding, class token, learned
position embedding and token pooling.

Keras has none of them as a layer, so the Keras backend writes small custom layers
(templates/keras/helpers/).  In PyTorch the class token and the position embedding are what
torchvision's ViT has, bare ``nn.Parameter`` attributes of the class (``class_token``,
``pos_embedding``), so a spec in torchvision's names has its state_dict keys; inside an
``nn.Sequential`` group, where every item must be a module, they are small modules instead.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from specc.ir import Shape
from specc.layers.base import (
    LayerKind,
    Pair,
    Params,
    PositiveInt,
    ShapeError,
    fmt_shape,
    prod,
    register,
)
from specc.layers.conv import require_rank
from specc.layers.planning import conv_kernel_perm, kw
from specc.plans import (
    Ctor,
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

SEQUENCE_HINT = "{kind} works on a sequence of tokens (LxC); use patch_embedding or embedding"
# the standard deviation of the position embedding's initial values (ViT's and BERT's)
POSITION_STD = 0.02


def _sequence(kind: str, inputs: list[Shape]) -> Shape:
    return require_rank(kind, inputs, 2, SEQUENCE_HINT.format(kind=kind))


def _parameter(ctx: PlanContext, shape: tuple, init: Ctor | None = None) -> Ctor:
    """``nn.Parameter(...)`` of ``shape`` (its last axis the input's channels): zeros, or
    ``init`` applied to an empty tensor."""
    dims = (*(V(d) for d in shape[:-1]), channels_in(ctx))
    if init is None:
        return Ctor("nn.Parameter", (V(Ctor("torch.zeros", dims)),))
    tensor = Ctor(init.cls, (V(Ctor("torch.empty", dims)), *init.args), init.kwargs)
    return Ctor("nn.Parameter", (V(tensor),))


@register
class PositionEmbedding(LayerKind):
    """Add a learned (L, C) table to a sequence: each position's own vector."""

    name = "position_embedding"
    aliases = ("pos_embedding",)
    summary = "learned position embedding, added to an LxC sequence: position_embedding"

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        return _sequence(self.name, inputs)

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        return prod(inputs[0]), 0

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        length, c = inputs[0]
        return [
            f"adds one learned {c}-vector per position (normal, std {POSITION_STD})",
            f"params: {length}·{c} = {length * c:,}",
        ]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        return KerasPlan(Ctor("PositionEmbedding"), helpers=("PositionEmbedding",))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        length, c = ctx.in_shape
        if ctx.sequential:
            return TorchPlan(
                module=Ctor("PositionEmbedding", (V(length), channels_in(ctx))),
                layout_in="last",
                weights=(WeightEntry((0,), ("weight",), Same()),),
                helpers=("PositionEmbedding",),
            )
        normal = Ctor("nn.init.normal_", (), (kw("std", POSITION_STD),))
        return TorchPlan(
            module=_parameter(ctx, (1, length, c), normal),
            apply="{x} + {m}",
            layout_in="last",
            weights=(WeightEntry((0,), ("",), Same()),),
        )


@register
class ClassToken(LayerKind):
    """Prepend a learned C-vector to a sequence (ViT's class token): LxC -> (L+1)xC."""

    name = "class_token"
    aliases = ("cls_token",)
    summary = "prepend a learned class token to an LxC sequence: class_token"

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        length, c = _sequence(self.name, inputs)
        return (length + 1, c)

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        return inputs[0][-1], 0

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        length, c = inputs[0]
        return [f"L: 1 + {length} = {out[0]} (the token first, zeros at first)", f"params: {c}"]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        return KerasPlan(Ctor("ClassToken"), helpers=("ClassToken",))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        if ctx.sequential:
            return TorchPlan(
                module=Ctor("ClassToken", (channels_in(ctx),)),
                layout_in="last",
                weights=(WeightEntry((0,), ("weight",), Same()),),
                helpers=("ClassToken",),
            )
        return TorchPlan(
            module=_parameter(ctx, (1, 1, ctx.in_shape[-1])),
            apply="torch.cat([{m}.expand({x}.shape[0], -1, -1), {x}], dim=1)",
            layout_in="last",
            weights=(WeightEntry((0,), ("",), Same()),),
        )


class PatchParams(Params):
    """``patch_embedding P DIM [use_bias=]``: PxP patches, each projected to DIM."""

    patch: Pair
    dim: PositiveInt
    use_bias: bool = True


@register
class PatchEmbedding(LayerKind):
    """Cut an image into PxP patches and project each to DIM: a conv with kernel and stride
    P whose output positions become tokens, HxWxC -> (H/P·W/P)xDIM (row by row)."""

    name = "patch_embedding"
    aliases = ("patchify",)
    summary = "image to patch tokens: patch_embedding P DIM (a PxP conv, stride P)"
    Params = PatchParams
    positional = ("patch", "dim")

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        h, w, _ = require_rank(self.name, inputs, 3, "patch_embedding cuts images (HxWxC)")
        if h < p.patch[0] or w < p.patch[1]:
            raise ShapeError(
                f"patch_embedding patch {fmt_shape(p.patch)} is larger than its {h}x{w} input",
                f"a {fmt_shape(p.patch)} patch does not fit in a {h}x{w} input",
                arg="patch",
                help=f"use patches of at most {min(h, p.patch[0])}x{min(w, p.patch[1])}",
            )
        return ((h // p.patch[0]) * (w // p.patch[1]), p.dim)

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        return prod(p.patch) * inputs[0][-1] * p.dim + (p.dim if p.use_bias else 0), 0

    def macs(self, p: Any, inputs: list[Shape], out: Shape) -> int:
        return out[0] * p.dim * prod(p.patch) * inputs[0][-1]

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        (h, w, c), (ph, pw) = inputs[0], p.patch
        bias = f" + {p.dim}" if p.use_bias else ""
        rest = "" if h % ph == 0 and w % pw == 0 else " (the pixels left over are dropped)"
        return [
            f"L: ⌊{h} / {ph}⌋·⌊{w} / {pw}⌋ = {out[0]} patches{rest}",
            f"params: {ph}·{pw}·{c}·{p.dim}{bias} = {self.param_count(p, inputs, out)[0]:,}",
            f"MACs: {out[0]} patches × {ph}·{pw}·{c}·{p.dim} = {self.macs(p, inputs, out):,}",
        ]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        """``PatchEmbedding``: a ``Conv2D`` subclass that flattens its output positions."""
        p = ctx.p
        patch = param(p, "patch", size(p.patch))
        return KerasPlan(
            Ctor(
                "PatchEmbedding",
                (param(p, "dim"), patch),
                (kw("strides", patch), kw("use_bias", param(p, "use_bias"), True)),
            ),
            helpers=("PatchEmbedding",),
        )

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        """``nn.Conv2d`` (torchvision's ``conv_proj``), then ``flatten(2).transpose(1, 2)``."""
        p = ctx.p
        patch = param(p, "patch", size(p.patch))
        module = Ctor(
            "nn.Conv2d",
            (channels_in(ctx), param(p, "dim")),
            (
                kw("kernel_size", patch),
                kw("stride", patch),
                kw("bias", param(p, "use_bias"), True),
            ),
        )
        return TorchPlan(
            module=module,
            apply="{m}({x}).flatten(2).transpose(1, 2)",
            layout_out="last",
            init="glorot_conv",
            init_class="nn.Conv2d",
            weights=kernel_and_bias(Transpose(conv_kernel_perm(3)), p.use_bias),
        )


class TokenPoolParams(Params):
    """``token_pool cls|mean``: the first (class) token, or the mean of all tokens."""

    mode: Literal["cls", "mean"] = "cls"


@register
class TokenPool(LayerKind):
    """A sequence to one vector: its class token (the first) or the mean over its tokens."""

    name = "token_pool"
    summary = "sequence to a vector: token_pool cls | mean"
    Params = TokenPoolParams
    positional = ("mode",)
    words: ClassVar[dict[str, tuple[str, Any]]] = {
        "cls": ("mode", "cls"),
        "mean": ("mode", "mean"),
    }

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        return (_sequence(self.name, inputs)[-1],)

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        length, c = inputs[0]
        if p.mode == "cls":
            return [f"token 0 of {length} (the class token) -> {c}"]
        return [f"mean of {length} tokens -> {c}"]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        if ctx.p.mode == "mean":
            return KerasPlan(Ctor("layers.GlobalAveragePooling1D"))
        return KerasPlan(Ctor("ClassTokenPooling"), helpers=("ClassTokenPooling",))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        if ctx.p.mode == "mean":
            return TorchPlan(apply="{x}.mean(dim=1)", layout_in="last", module_name="TokenMean")
        return TorchPlan(apply="{x}[:, 0]", layout_in="last", module_name="ClassTokenPooling")
