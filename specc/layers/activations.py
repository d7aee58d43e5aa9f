"""The activations, in one table: their names in the spec, in Keras and in PyTorch.

Every list of activation names in specc (the parameter schemas' ``activation``, the bare words
that set it, ``specc layers``, the emitters) comes from :data:`TABLE` and :data:`ALIASES`.
Where the frameworks' definitions differ, the entry writes out Keras's (the IR's) meaning for
PyTorch: ``leaky_relu`` has Keras's slope 0.2, ``gelu`` is the exact one (``approximate="none"``
in both), ``elu`` has alpha 1.0.  ``hard_sigmoid`` is Keras 3's and PyTorch's
``relu6(x + 3) / 6`` (Keras 2 and ``tf.keras`` had ``clip(0.2·x + 0.5, 0, 1)``, which specc
does not mean), and ``hard_silu`` is ``x · hard_sigmoid(x)`` (``F.hardswish``).  An alias is
the same activation under another name: the IR keeps the canonical one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BeforeValidator


@dataclass(frozen=True)
class Activation:
    """One activation: ``torch`` is a format string of the functional form applied to ``{x}``
    (``{dim}``: the channel axis), ``module`` the ``nn`` module that computes the same."""

    name: str
    torch: str
    module: str


# leaky_relu's slope as keras.activations.leaky_relu has it; the torch backend writes it out.
LEAKY_RELU_SLOPE = 0.2

TABLE: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("relu", "F.relu({x})", "nn.ReLU()"),
        Activation("relu6", "F.relu6({x})", "nn.ReLU6()"),
        Activation("sigmoid", "torch.sigmoid({x})", "nn.Sigmoid()"),
        Activation("tanh", "torch.tanh({x})", "nn.Tanh()"),
        Activation("softmax", "F.softmax({x}, dim={dim})", "nn.Softmax(dim={dim})"),
        Activation("gelu", "F.gelu({x})", "nn.GELU()"),
        Activation("silu", "F.silu({x})", "nn.SiLU()"),
        Activation(
            "leaky_relu",
            "F.leaky_relu({x}, {negative_slope})",
            "nn.LeakyReLU({negative_slope})",
        ),
        Activation("elu", "F.elu({x}{alpha})", "nn.ELU({alpha_only})"),
        Activation("hard_sigmoid", "F.hardsigmoid({x})", "nn.Hardsigmoid()"),
        Activation("hard_silu", "F.hardswish({x})", "nn.Hardswish()"),
        Activation("mish", "F.mish({x})", "nn.Mish()"),
        Activation("linear", "{x}", "nn.Identity()"),
    )
}
# other names of the same activations (Keras accepts both; the IR keeps the canonical one)
ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}
ACTIVATIONS = tuple(TABLE) + tuple(ALIASES)
ActivationName = Annotated[
    Literal[tuple(TABLE)],  # type: ignore[valid-type]
    BeforeValidator(lambda value: ALIASES.get(value, value)),
]


def torch_call(
    name: str, x: str, dim: int = 1, negative_slope: float = LEAKY_RELU_SLOPE, alpha: float = 1.0
) -> str:
    """The PyTorch expression applying activation ``name`` to ``x`` (Keras's meaning)."""
    return TABLE[name].torch.format(x=x, dim=dim, **_extras(negative_slope, alpha))


def torch_module(
    name: str, dim: int = 1, negative_slope: float = LEAKY_RELU_SLOPE, alpha: float = 1.0
) -> str:
    """The ``nn`` module computing activation ``name`` (for ``nn.Sequential`` stages)."""
    return TABLE[name].module.format(dim=dim, **_extras(negative_slope, alpha))


def _extras(negative_slope: float, alpha: float) -> dict[str, str]:
    return {
        "negative_slope": repr(float(negative_slope)),
        "alpha": "" if alpha == 1.0 else f", alpha={float(alpha)!r}",
        "alpha_only": "" if alpha == 1.0 else f"alpha={float(alpha)!r}",
    }
