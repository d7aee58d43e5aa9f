"""Embedding: integer token ids to dense vectors, the first layer of a text model."""

from __future__ import annotations

from typing import Any

from specc.ir import Shape
from specc.layers.base import LayerKind, Params, PositiveInt, ShapeError, fmt_shape, register
from specc.plans import Ctor, KerasPlan, PlanContext, Same, TorchPlan, WeightEntry, param


class EmbeddingParams(Params):
    """``embedding VOCAB DIM``: ids in [0, VOCAB) become DIM-vectors."""

    vocab: PositiveInt
    dim: PositiveInt


@register
class Embedding(LayerKind):
    """A lookup table of ``vocab`` vectors (Keras ``Embedding``, PyTorch ``nn.Embedding``).

    Its input is a sequence of integer ids, declared as ``input L dtype=int``; the output is an
    LxDIM sequence.
    """

    name = "embedding"
    aliases = ("embed",)
    summary = "token embedding: embedding VOCAB DIM (after `input L dtype=int`)"
    Params = EmbeddingParams
    positional = ("vocab", "dim")
    int_input = True

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        shape = inputs[0]
        if len(shape) != 1:
            raise ShapeError(
                f"embedding expects a sequence of token ids (L), got {fmt_shape(shape)}",
                f"input here is {fmt_shape(shape)}",
                code="E0302",
                help="declare the ids as `input L dtype=int`",
            )
        return (shape[0], p.dim)

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        return p.vocab * p.dim, 0

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        return [
            f"L: {inputs[0][0]} ids -> {inputs[0][0]}x{p.dim}",
            f"params: {p.vocab:,}·{p.dim} = {p.vocab * p.dim:,}",
        ]

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        return KerasPlan(Ctor("layers.Embedding", (param(ctx.p, "vocab"), param(ctx.p, "dim"))))

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        """Integer ids (N, L) -> (N, L, D): the sequence comes out channels-last.  Keras's
        Embedding starts uniform in [-0.05, 0.05] (torch: standard normal)."""
        return TorchPlan(
            module=Ctor("nn.Embedding", (param(ctx.p, "vocab"), param(ctx.p, "dim"))),
            layout_in="any",
            layout_out="last",
            init="embedding",
            init_class="nn.Embedding",
            weights=(WeightEntry((0,), ("weight",), Same()),),
        )
