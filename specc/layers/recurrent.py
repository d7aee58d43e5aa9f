"""Recurrent layers on LxC sequences: ``lstm`` and ``gru``.

Keras and PyTorch agree on the activations (tanh, with sigmoid gates) but not on the biases:
a Keras LSTM has one bias of 4·units, ``nn.LSTM`` two (``bias_ih`` and ``bias_hh``), so torch
counts 4·units more.  The IR counts as Keras does; :meth:`LayerKind.param_count_torch` states
torch's number.  Keras's GRU (``reset_after=True``, its default) has two 3·units biases, as
``nn.GRU`` does.  Gate order differs too (Keras i,f,c,o vs torch i,f,g,o for LSTM; z,r,h vs
r,z,n for GRU), which matters when porting weights.
"""

from __future__ import annotations

from typing import Any, ClassVar

from specc.ir import Shape
from specc.layers.base import LayerKind, Params, PositiveInt, register
from specc.layers.conv import require_rank
from specc.layers.planning import kw
from specc.plans import (
    Ctor,
    GateKernel,
    KerasPlan,
    PlanContext,
    StackedBias,
    SumBias,
    TorchPlan,
    WeightEntry,
    channels_in,
    param,
)


class RecurrentParams(Params):
    """``lstm UNITS [return_sequences=false]`` (or the bare word ``return_sequences``)."""

    units: PositiveInt
    return_sequences: bool = False


class _Recurrent(LayerKind):
    positional = ("units",)
    Params = RecurrentParams
    words: ClassVar[dict[str, tuple[str, Any]]] = {
        "return_sequences": ("return_sequences", True),
        "sequences": ("return_sequences", True),
    }
    gates: ClassVar[int] = 1
    # bias vectors of size gates·units: (Keras, torch)
    biases: ClassVar[tuple[int, int]] = (1, 1)

    def output_shape(self, p: Any, inputs: list[Shape]) -> Shape:
        length, _ = require_rank(
            self.name, inputs, 2, f"{self.name} needs an LxC sequence; reshape or embed first"
        )
        return (length, p.units) if p.return_sequences else (p.units,)

    def _weights(self, p: Any, inputs: list[Shape]) -> int:
        c, u = inputs[0][-1], p.units
        return self.gates * u * (c + u)

    def param_count(self, p: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
        return self._weights(p, inputs) + self.biases[0] * self.gates * p.units, 0

    def param_count_torch(self, p: Any, inputs: list[Shape], out: Shape) -> int:
        return self._weights(p, inputs) + self.biases[1] * self.gates * p.units

    def macs(self, p: Any, inputs: list[Shape], out: Shape) -> int:
        return inputs[0][0] * self._weights(p, inputs)

    def explain(self, p: Any, inputs: list[Shape], out: Shape) -> list[str]:
        (length, c), u, g = inputs[0], p.units, self.gates
        kb, tb = self.biases
        trainable = self.param_count(p, inputs, out)[0]
        torch_count = self.param_count_torch(p, inputs, out)
        kept = f"{length}x{u}, every step" if p.return_sequences else f"{u}, the last step"
        lines = [
            f"output: {kept}",
            f"params: {g}·{u}·({c} + {u}) + {kb}·{g}·{u} = {trainable:,} (Keras)",
        ]
        if torch_count != trainable:
            lines.append(f"torch: {tb}·{g}·{u} biases, {torch_count:,} parameters")
        lines.append(f"MACs: {length} steps × {g}·{u}·({c} + {u}) = {self.macs(p, inputs, out):,}")
        return lines

    keras_class: ClassVar[str] = ""
    torch_class: ClassVar[str] = ""
    # torch gate block i is Keras gate block order[i]: LSTM i,f,c,o = i,f,g,o; GRU z,r,h -> r,z,n
    order: ClassVar[tuple[int, ...]] = ()

    def keras_plan(self, ctx: PlanContext) -> KerasPlan:
        p = ctx.p
        return KerasPlan(
            Ctor(
                f"layers.{self.keras_class}",
                (param(p, "units"),),
                (kw("return_sequences", param(p, "return_sequences"), False),),
            )
        )

    def torch_plan(self, ctx: PlanContext) -> TorchPlan:
        """``nn.LSTM``/``nn.GRU`` reading (N, L, C) with ``batch_first=True``: the sequence goes
        in channels-last; without ``return_sequences`` the last step is kept."""
        p = ctx.p
        bias = SumBias(self.order) if self.biases[0] == 1 else StackedBias(self.order)
        return TorchPlan(
            module=Ctor(
                f"nn.{self.torch_class}",
                (channels_in(ctx), param(p, "units")),
                (kw("batch_first", True),),
            ),
            layout_in="last",
            unpack=True,
            post=() if p.return_sequences else ("{x}[:, -1]",),
            init=self.name,
            init_class=f"nn.{self.torch_class}",
            weights=(
                WeightEntry((0,), ("weight_ih_l0",), GateKernel(self.order)),
                WeightEntry((1,), ("weight_hh_l0",), GateKernel(self.order)),
                WeightEntry((2,), ("bias_ih_l0", "bias_hh_l0"), bias),
            ),
        )


@register
class LSTM(_Recurrent):
    """Long short-term memory (Keras ``LSTM``, PyTorch ``nn.LSTM(batch_first=True)``)."""

    name = "lstm"
    summary = "LSTM over a sequence: lstm UNITS [return_sequences]"
    gates = 4
    biases = (1, 2)
    keras_class = "LSTM"
    torch_class = "LSTM"
    order = (0, 1, 2, 3)


@register
class GRU(_Recurrent):
    """Gated recurrent unit (Keras ``GRU`` with ``reset_after=True``, PyTorch ``nn.GRU``)."""

    name = "gru"
    summary = "GRU over a sequence: gru UNITS [return_sequences]"
    gates = 3
    biases = (2, 2)
    keras_class = "GRU"
    torch_class = "GRU"
    order = (1, 0, 2)
