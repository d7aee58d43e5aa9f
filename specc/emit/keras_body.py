"""One Keras function being written: the function itself, and the state of its body.

:class:`KerasFunction` is what the ``keras/function.py.j2`` template prints;
:class:`FunctionBody` is the state while a body is written: the rows (instances of the
definition) that take part, their unifier (:class:`specc.emit.structure.Unifier`), the
prefix of its layers' names and the live variables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specc.emit.environment import py
from specc.emit.structure import Instance, Unifier, fresh_name


@dataclass
class KerasFunction:
    """One generated block function."""

    name: str
    key: tuple
    rows: list[Instance]
    row: dict[int, int] = field(default_factory=dict)  # scope index -> its row
    params: list[tuple[str, str | None]] = field(default_factory=list)
    values: dict[str, list] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


@dataclass
class FunctionBody:
    """One function body being written: its rows, unifier, names and live variables."""

    fn: KerasFunction | None
    unifier: Unifier
    insts: list[Instance]
    prefix: str  # the f-string text of the enclosing name ("{name}", "{name}.repeat_1.{i}")
    lines: list[str]
    live: set[str] = field(default_factory=lambda: {"x", "inputs"})
    loop: int = 0  # loop nesting, for loop variable names
    # layers read by name later (`from=`, merges, outputs): their variables, by the node of
    # the first row
    named: dict[int, str] = field(default_factory=dict)

    def fresh(self, base: str) -> str:
        """A variable named ``base`` (or ``base_2``, ...) not live yet, now live."""
        return fresh_name(self.live, base)

    def name_of(self, local: str) -> str:
        """The ``name=`` text of a layer called ``local`` here."""
        full = f"{self.prefix}.{local}" if self.prefix else local
        return f'f"{full}"' if "{" in full else py(full)

    def narrowed(self, rows: list[int]) -> FunctionBody:
        """The same body for some of its rows (one side of an ``if``)."""
        insts = [self.insts[r] for r in rows]
        inner = FunctionBody(self.fn, self.unifier.restrict(rows), insts, self.prefix, self.lines)
        inner.live, inner.loop, inner.named = self.live, self.loop, self.named
        return inner

    def prefixed(self, insts: list[Instance], prefix: str) -> FunctionBody:
        """The same body for ``insts``, its layers named under ``prefix``."""
        inner = FunctionBody(self.fn, self.unifier, insts, prefix, self.lines)
        inner.live, inner.loop, inner.named = self.live, self.loop, self.named
        return inner


LOOP_VARS = ("i", "j", "k", "m")


def named_layer(ctor: str, name: str) -> str:
    """A layer constructor with ``name=`` added."""
    return ctor[:-1] + (", " if not ctor.endswith("()") else "") + f"name={name})"
