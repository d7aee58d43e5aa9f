"""Pieces of the PyTorch printer: layouts, activations, and modules that stand alone.

A layer's plan (:class:`specc.plans.TorchPlan`) says in which layout its input must be and how
``forward`` applies it.  Inside a generated class the printer follows the layout of every value
and moves the channel axis only where a layer needs it (``movedim``), so that no permute is
immediately undone.  Inside ``nn.Sequential`` every item must take and return channels-first
tensors: a layer that does not is written as a small subclass of its module whose ``forward``
does the layout work (:meth:`Wrappers.module_form`), so that its parameters keep their names.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from specc.layers.activations import torch_call, torch_module
from specc.plans import Act, TorchPlan

FIRST, LAST = "first", "last"
# the output activations ``forward(x, logits=True)`` skips, and how the scores are recovered
# when the activation is inside a block's class (Keras's own losses on probabilities)
LOGIT_ACTIVATIONS = {
    "softmax": "torch.log({x}.clamp_min(1e-7))",
    "sigmoid": "torch.logit({x}, eps=1e-7)",
}


@dataclass
class Val:
    """A tensor in ``forward``: the variable holding it, its layout and its rank (without the
    batch axis, as the IR counts: 3 image, 2 sequence, 1 vector)."""

    var: str
    layout: str | None
    rank: int


def layout_of(rank: int, layout: str | None) -> str | None:
    """Layouts only matter for tensors with a channel axis and other axes."""
    return layout if rank > 1 else None


def convert(expr: str, rank: int, have: str | None, want: str) -> str:
    """``expr`` moved to layout ``want`` ("first"/"last"/"any")."""
    if want == "any" or rank <= 1 or have in (None, want):
        return expr
    return f"{expr}.movedim(1, -1)" if want == LAST else f"{expr}.movedim(-1, 1)"


def channel_axis(rank: int, layout: str | None) -> int:
    """The channel axis of a batch in ``layout``."""
    return -1 if layout == LAST and rank > 1 else 1


def spatial_axes(rank: int, layout: str | None) -> str:
    """The spatial axes of a batch in ``layout``, as ``dim=`` takes them."""
    axes = tuple(range(1, rank)) if layout == LAST else tuple(range(2, rank + 1))
    return str(axes[0]) if len(axes) == 1 else str(axes)


def activate(act: Act | None, expr: str, rank: int, layout: str | None) -> str:
    """``expr`` with the activation applied (its channel axis for softmax)."""
    if act is None:
        return expr
    dim = channel_axis(rank, layout)
    return torch_call(act.name, expr, dim, act.negative_slope, act.alpha)


def activation_module(act: Act) -> str:
    """The ``nn`` module of an activation, on channels-first tensors."""
    return torch_module(act.name, 1, act.negative_slope, act.alpha)


def apply_text(
    plan: TorchPlan,
    module: str,
    inputs: list[str],
    rank: int,
    layout: str | None,
    args: dict[str, str] | None = None,
) -> str:
    """The expression of ``plan.apply`` (before unpacking, post-processing and activation);
    ``args`` are the texts of its ``apply_args``, as :func:`call_argument` writes them."""
    return plan.apply.format(
        **(args or {}),
        m=module,
        x=inputs[0] if inputs else "x",
        sum=" + ".join(inputs),
        product=" * ".join(inputs),
        list=", ".join(inputs),
        channels=channel_axis(rank, layout),
        spatial=spatial_axes(rank, layout),
    )


def call_argument(text: str, value: object) -> str:
    """An ``apply`` argument as it goes into a call: a tuple literal's items (``(1, 1, c)`` ->
    ``1, 1, c``), another tuple-valued text spread (``*shape``), anything else as it is."""
    if not isinstance(value, tuple):
        return text
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        tree = None
    if isinstance(tree, ast.Tuple) and tree.elts:
        return ", ".join(ast.get_source_segment(text, item) or "" for item in tree.elts)
    return f"*{text}"


def is_literal(text: str) -> bool:
    """Whether ``text`` is a Python literal (a number, a tuple of numbers), not an expression
    of a class's parameters."""
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def out_layout(plan: TorchPlan, rank_out: int, layout_in: str | None) -> str | None:
    """The layout of a layer's output."""
    if plan.layout_out is not None:
        layout = plan.layout_out
    elif plan.layout_in in (FIRST, LAST):
        layout = plan.layout_in
    else:
        layout = layout_in or FIRST
    return layout_of(rank_out, layout)


def plain_module(plan: TorchPlan) -> bool:
    """Whether the plan's module, called on a channels-first tensor, is the whole layer."""
    return (
        plan.module is not None
        and plan.apply == "{m}({x})"
        and plan.layout_in in (FIRST, "any")
        and plan.layout_out in (None, FIRST)
        and not plan.unpack
        and not plan.post
    )


def identity(plan: TorchPlan) -> bool:
    """Whether the plan does nothing (a fused zero padding, a flatten of a vector)."""
    return plan.module is None and plan.apply == "{x}" and plan.activation is None


PREFIXES = re.compile(r"(?<![\w.])(nn|F|torch|np|math)\.")


@dataclass
class Wrappers:
    """The small classes that let a layer stand alone in ``nn.Sequential`` (channels-first in
    and out), deduplicated by their text."""

    texts: dict[str, str] = field(default_factory=dict)  # class text -> class name
    names: set[str] = field(default_factory=set)

    def module_form(
        self,
        plan: TorchPlan,
        ctor: str,
        kind: str,
        rank_in: int,
        rank_out: int,
        args: dict[str, str] | None = None,
    ) -> tuple[str, str]:
        """(the class to instantiate, its definition or "") for a layer in nn.Sequential;
        ``args`` are the texts of the plan's ``apply_args``, which the class takes as its
        constructor's arguments."""
        if plain_module(plan):
            return ctor, ""
        lines = []
        x = convert("x", rank_in, FIRST, plan.layout_in)
        keys = [key for key, _ in plan.apply_args]
        fields = {key: call_argument(f"self.{key}", v.value) for key, v in plan.apply_args}
        if plan.module is not None:
            base = plan.module.cls
            call = apply_text(plan, "super().forward", [x], rank_in, plan.layout_in, fields)
            doc = f"{base.split('.')[-1]} on channels-first tensors, as Keras computes it."
        else:
            base = "nn.Module"
            call = apply_text(plan, "", [x], rank_in, plan.layout_in, fields)
            doc = f"The {kind} layer as a module, on channels-first tensors."
        if plan.unpack:
            lines.append(f"x, _ = {call}")
            call = "x"
        for post in plan.post:
            call = post.format(x=call)
        layout = out_layout(plan, rank_out, plan.layout_in or FIRST)
        lines.append(f"return {convert(call, rank_out, layout, FIRST)}")
        short = plan.module_name or (
            base.split(".")[-1] + "ChannelsFirst" if plan.module is not None else _camel(kind)
        )
        body = "\n".join(f"        {line}" for line in lines)
        init = ""
        if keys and plan.module is None:
            stored = "".join(f"        self.{key} = {key}\n" for key in keys)
            init = (f"    def __init__(self, {', '.join(keys)}):\n"
                    f"        super().__init__()\n{stored}\n")  # fmt: skip
        text = (f'class {{name}}({base}):\n    """{doc}"""\n\n{init}'
                f"    def forward(self, x):\n{body}\n")  # fmt: skip
        if text not in self.texts:
            name, k = short, 1
            while name in self.names:
                k += 1
                name = f"{short}{k}"
            self.texts[text] = name
            self.names.add(name)
        name = self.texts[text]
        given = ", ".join((args or {}).get(key, "") for key in keys)
        cls_call = ctor.replace(plan.module.cls, name, 1) if plan.module else f"{name}({given})"
        return cls_call, text

    def definitions(self) -> list[str]:
        """Every wrapper class, as source text."""
        return [text.replace("{name}", name, 1).rstrip("\n") for text, name in self.texts.items()]


def _camel(kind: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in kind.split("_")) or "Layer"
