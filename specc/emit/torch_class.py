"""One PyTorch class being written: the class itself, and the state of its body.

:class:`TorchClass` is what the emitter hands to the ``torch/class.py.j2`` template: the
signature, the ``__init__`` and ``forward`` lines.  :class:`ClassScope` is the state while its
body is written: the rows (instances of the definition) that take part, their unifier
(:class:`specc.emit.structure.Unifier`) and the live variables of ``forward``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from specc.emit.structure import Instance, Unifier, fresh_name
from specc.emit.torch_parts import Val


@dataclass
class TorchClass:
    """One generated class: its signature, its ``__init__`` and ``forward`` bodies."""

    name: str
    key: tuple
    doc: str
    rows: list[Instance]
    row: dict[int, int] = field(default_factory=dict)  # scope index -> its row
    params: list[tuple[str, str | None]] = field(default_factory=list)  # (name, default text)
    values: dict[str, list] = field(default_factory=dict)  # per parameter: value per row
    init: list[str] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)  # parameters kept for forward's `if`s
    doc_lines: list[str] = field(default_factory=list)  # forward's docstring (the model's)
    root: bool = False
    inputs: list[str] = field(default_factory=list)  # forward's arguments (the model's)


class ClassScope:
    """The state of one class body being written: the rows taking part (instances; an ``if``
    narrows them), their unifier, and the live variables of ``forward``."""

    def __init__(self, cls: TorchClass, unifier: Unifier, insts: list[Instance]):
        self.cls = cls
        self.unifier = unifier
        self.insts = insts
        self.live: set[str] = {"x"}
        self.depth = 0  # loops around the current item (for loop variable names)
        # layers read by name later (`from=`, merges, outputs): their variables, by the node
        # of the first row
        self.named: dict[int, Val] = {}

    def narrowed(self, rows: list[int]) -> ClassScope:
        """The same body for some of its rows."""
        inner = ClassScope(self.cls, self.unifier.restrict(rows), [self.insts[r] for r in rows])
        inner.live, inner.depth, inner.named = self.live, self.depth, self.named
        return inner

    def looped(self, counts: list[int]) -> ClassScope:
        """The iterations of a repeat in every row (``insts`` are not per iteration)."""
        var = LOOP_VARS[self.depth % len(LOOP_VARS)]
        inner = ClassScope(self.cls, self.unifier.loop(counts, var), self.insts)
        inner.live, inner.depth, inner.named = self.live, self.depth + 1, self.named
        return inner

    def fresh(self, base: str) -> str:
        """A variable named ``base`` (or ``base_2``, ...) not live yet, now live."""
        return fresh_name(self.live, base)


LOOP_VARS = ("i", "j", "k", "m")


def loop_var(scope: ClassScope, text: str) -> str:
    """The loop variable of ``scope``, or ``_`` when ``text`` does not use it."""
    var = scope.unifier.loop_var
    return var if re.search(rf"\b{var}\b", text) else "_"
