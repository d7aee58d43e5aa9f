"""Multi-head attention on LxC sequences (Keras ``MultiHeadAttention``; PyTorch
``nn.MultiheadAttention`` or a small module of the same computation).

The IR's attention is Keras's: per-head projections of the query (C -> heads·key_dim), key
and value (Ckv -> heads·key_dim, heads·value_dim), scores scaled by 1/√key_dim, a softmax over
the keys (after the causal mask, with ``causal``), dropout on those weights while training,
and an output projection back to C.  PyTorch's ``nn.MultiheadAttention`` computes the same
function when heads·key_dim = C and value_dim = key_dim, with the three input projections
packed into one ``in_proj_weight``; otherwise the emitted file defines a small
``MultiHeadAttention`` module with four ``nn.Linear`` projections and
``F.scaled_dot_product_attention``.  The weight maps reshape Keras's per-head kernels
(``(C, heads, key_dim)``, ``(heads, value_dim, C)``) into those.

A second input, the key/value source, makes it cross-attention: ``output_shape`` and the
counts take it from ``inputs[1]`` already, for when the language can pass several inputs.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field

from specc.ir import Shape
from specc.layers.base import LayerKind, Params, PositiveInt, ShapeError, fmt_shape, register
from specc.layers.conv import require_rank
from specc.layers.planning import kw
from specc.plans import (
    Ctor,
    HeadsKernel,
    HeadsOutputKernel,
    KerasPlan,
    PackedProjections,
    PlanContext,
    Reshaped,
    Same,
    TorchPlan,
    V,
    WeightEntry,
    channels_in,
    param,
)


class AttentionParams(Params):
    """``attention HEADS [KEY_DIM] [value_dim=] [dropout=0] [causal] [use_bias=true]``;
    the key size defaults to C / HEADS, the value size to the key size."""

    heads: PositiveInt
    key_dim: PositiveInt | None = None
    value_dim: PositiveInt | None = None
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    causal: bool = False
    use_bias: bool = True


class Sizes:
    """The sizes of one attention layer: query channels C and length L, key/value source
    channels and length (the query itself for self-attention), heads, key and value sizes."""

    def __init__(self, p: Any, inputs: list[Shape]):
        (self.length, self.channels) = inputs[0]
        (self.source_length, self.source_channels) = inputs[1] if len(inputs) > 1 else inputs[0]
        self.heads = p.heads
        self.key = p.key_dim or self.channels // p.heads
        self.value = p.value_dim or self.key

    @property
    def packed(self) -> bool:
        """Whether ``nn.MultiheadAttention`` computes it (heads·key_dim = C, values alike)."""
        return (
            self.heads * self.key == self.channels
            and self.value == self.key
            and self.source_channels == self.channels
        )


@register
class Attention(LayerKind):
    """Multi-head (self-)attention over an LxC sequence; the output is LxC again."""

    name = "attention"
    aliases = ("mha", "multi_head_attention")
    summary = (
        "multi-head self-attention: attention HEADS [KEY_DIM] [value_dim=] [dropout=] "
        "[causal] [use_bias=]"
    )
    Params = AttentionParams
    positional = ("heads", "key_dim")
    words: ClassVar[dict[str, tuple[str, Any]]] = {"causal": ("causal", True)}

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        hint = "attention takes a sequence of tokens (LxC); embed, or reshape, first"
        require_rank(self.name, inputs, 2, hint)
        if len(inputs) > 1:
            require_rank(self.name, inputs[1:], 2, hint)
        channels = inputs[0][-1]
        if p.key_dim is None and channels % p.heads:
            raise ShapeError(
                f"attention with {p.heads} heads needs key_dim= when its {channels} channels "
                f"do not split into {p.heads} heads",
                f"{channels} channels do not split into {p.heads} heads",
                arg="heads",
                code="E0304",
                help=f"give the key size, e.g. `attention {p.heads} {max(1, channels // p.heads)}`"
                ", or a number of heads that divides the channels",
            )
        return inputs[0]

    def _projections(self, s: Sizes) -> list[tuple[str, int, int, int]]:
        """(name, inputs, outputs, positions) of the four projections."""
        return [
            ("query", s.channels, s.heads * s.key, s.length),
            ("key", s.source_channels, s.heads * s.key, s.source_length),
            ("value", s.source_channels, s.heads * s.value, s.source_length),
            ("output", s.heads * s.value, s.channels, s.length),
        ]

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        s = Sizes(p, inputs)
        bias = int(p.use_bias)
        return sum(i * o + bias * o for _, i, o, _ in self._projections(s)), 0

    def macs(self, p: Any, inputs: list[Shape], out: Shape) -> int:
        s = Sizes(p, inputs)
        projections = sum(n * i * o for _, i, o, n in self._projections(s))
        scores = s.heads * s.length * s.source_length * s.key
        values = s.heads * s.length * s.source_length * s.value
        return projections + scores + values

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        s = Sizes(p, inputs)
        h, k, v, c, n = s.heads, s.key, s.value, s.channels, s.length
        m = s.source_length
        bias = " + biases" if p.use_bias else ""
        mask = ", causal (token i sees tokens ≤ i)" if p.causal else ""
        lines = [
            f"{h} heads, key size {k}, value size {v}{mask}; output {fmt_shape(out)}",
            f"params: q, k {c}·{h}·{k} each, v {s.source_channels}·{h}·{v}, "
            f"out {h}·{v}·{c}{bias} = {self.param_count(p, inputs, out)[0]:,}",
        ]
        projections = sum(t * i * o for _, i, o, t in self._projections(s))
        lines.append(
            f"MACs: projections {projections:,} + scores {h}·{n}·{m}·{k} + values "
            f"{h}·{n}·{m}·{v} = {self.macs(p, inputs, out):,}"
        )
        return lines

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        p = ctx.p
        s = Sizes(p, list(ctx.in_shapes))
        source = "{inputs[1]}" if len(ctx.in_shapes) > 1 else "{x}"
        mask = ", use_causal_mask=True" if p.causal else ""
        return KerasPlan(
            Ctor(
                "layers.MultiHeadAttention",
                (),
                (
                    kw("num_heads", param(p, "heads")),
                    kw("key_dim", param(p, "key_dim", s.key)),
                    kw("value_dim", param(p, "value_dim") if p.value_dim else V(None), None),
                    kw("dropout", param(p, "dropout"), 0.0),
                    kw("use_bias", param(p, "use_bias"), True),
                ),
            ),
            call="{layer}({x}, " + source + mask + ")",
        )

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        """``nn.MultiheadAttention`` (batch first) where it computes Keras's function, else
        (and for a block whose instances need one form) the ``MultiHeadAttention`` helper;
        the sequence goes in and out channels-last."""
        p = ctx.p
        s = Sizes(p, list(ctx.in_shapes))
        if s.packed and not ctx.generic:
            return self._packed(ctx, s)
        module = Ctor(
            "MultiHeadAttention",
            (channels_in(ctx), param(p, "heads"), V(s.key, "param:key_dim" if p.key_dim else None)),
            (
                kw("value_dim", param(p, "value_dim") if p.value_dim else V(None), None),
                kw("dropout", param(p, "dropout"), 0.0),
                kw("bias", param(p, "use_bias"), True),
                kw("causal", param(p, "causal"), False),
            ),
        )
        weights = []
        for j, (name, _, _, _) in enumerate(self._projections(s)[:3]):
            size = s.value if name == "value" else s.key
            shape = (s.channels if name == "query" else s.source_channels, s.heads, size)
            step = 2 if p.use_bias else 1
            weights.append(WeightEntry((step * j,), (f"{name}.weight",), HeadsKernel(shape)))
            if p.use_bias:
                bias = Reshaped((s.heads, size), (s.heads * size,))
                weights.append(WeightEntry((2 * j + 1,), (f"{name}.bias",), bias))
        out = 6 if p.use_bias else 3
        kernel = HeadsOutputKernel((s.heads, s.value, s.channels))
        weights.append(WeightEntry((out,), ("output.weight",), kernel))
        if p.use_bias:
            weights.append(WeightEntry((out + 1,), ("output.bias",), Same()))
        return TorchPlan(
            module=module,
            apply="{m}({x})",
            layout_in="last",
            init="attention_heads",
            init_class="MultiHeadAttention",
            weights=tuple(weights),
            helpers=("MultiHeadAttention",),
        )

    def _packed(self, ctx: PlanContext, s: Sizes) -> TorchPlan:
        p = ctx.p
        module = Ctor(
            "nn.MultiheadAttention",
            (channels_in(ctx), param(p, "heads")),
            (
                kw("dropout", param(p, "dropout"), 0.0),
                kw("bias", param(p, "use_bias"), True),
                kw("batch_first", V(True)),
            ),
        )
        mask = ", attn_mask=causal_mask({x})" if p.causal else ""
        inputs = (0, 1, 2, 3, 4, 5) if p.use_bias else (0, 1, 2)
        names = ("in_proj_weight", "in_proj_bias") if p.use_bias else ("in_proj_weight",)
        out = len(inputs)
        packed = PackedProjections((s.channels, s.heads, s.key), p.use_bias)
        kernel = HeadsOutputKernel((s.heads, s.key, s.channels))
        weights = [
            WeightEntry(inputs, names, packed),
            WeightEntry((out,), ("out_proj.weight",), kernel),
        ]
        if p.use_bias:
            weights.append(WeightEntry((out + 1,), ("out_proj.bias",), Same()))
        return TorchPlan(
            module=module,
            apply="{m}({x}, {x}, {x}, need_weights=False" + mask + ")",
            layout_in="last",
            unpack=True,
            init="attention",
            init_class="nn.MultiheadAttention",
            weights=tuple(weights),
            helpers=("causal_mask",) if p.causal else (),
        )
