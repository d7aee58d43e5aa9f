"""The spec's structure as the emitters see it: scope instances and their items, and how to
write a value that differs from one instance of a definition to the next.

A block definition becomes one class (PyTorch) or function (Keras) however many times it is
called, so every constructor argument in its body must be written once for all instances: as a
literal when it is the same everywhere, as the spec wrote it (``f``, ``cin * t``) when that
evaluates to the right value in every instance, as the block's input channels, as another
parameter or expression of the block that happens to give the right values, or, when nothing
does, as an extra constructor parameter that each call passes (:class:`Unifier`).  Every
choice is checked against every instance, so the emitted code computes what the spec says.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from specc.compiler import CheckedModel
from specc.emit.environment import py
from specc.exprs import names_in, to_python
from specc.ir import Model, Scope
from specc.source import Span
from specc.syntax import Call, Statement, Value

Item = tuple[str, int]  # ("node", index) or ("scope", index)


@dataclass
class Instance:
    """One scope instance: its parameters, its items by statement, its input and output."""

    scope: Scope
    env: dict[str, Any]
    items: dict[Span, list[Item]] = field(default_factory=dict)
    first: int | None = None  # first node of its subtree
    last: int | None = None  # last node of its subtree (its result)

    def item(self, span: Span, k: int = 0) -> Item | None:
        """The k-th item a statement made here (None if it made none)."""
        found = self.items.get(span)
        return found[k] if found and k < len(found) else None


def instances(checked: CheckedModel) -> list[Instance]:
    """Every scope instance of the model, indexed like ``model.scopes``."""
    model = checked.model
    assert model is not None
    found = [Instance(scope, _env(model, scope)) for scope in model.scopes]
    for node in model.nodes:
        found[node.scope].items.setdefault(node.span, []).append(("node", node.index))
        scope = node.scope
        while scope >= 0:
            inst = found[scope]
            if inst.first is None:
                inst.first = node.index
            inst.last = node.index
            scope = model.scopes[scope].parent
    for scope in model.scopes[1:]:
        found[scope.parent].items.setdefault(scope.span, []).append(("scope", scope.index))
    return found


def input_rank(checked: CheckedModel, inst: Instance) -> int | None:
    """The rank of what enters an instance (None for the model or an empty scope).

    PyTorch's channels-first layout makes a layer's code depend on the ranks it sees (a reshape
    of an image moves its channels last first; one of a vector does not), so one class serves
    only the instances of a block that take inputs of one rank.
    """
    source = input_of(checked, inst)
    return None if source is None else len(checked.infos[source].shape)


def _env(model: Model, scope: Scope) -> dict[str, Any]:
    """The parameters a scope's body sees: its own (a block) or its enclosing block's."""
    while scope.kind != "block" and scope.parent >= 0:
        scope = model.scopes[scope.parent]
    return dict(scope.env)


def input_of(checked: CheckedModel, inst: Instance) -> int | None:
    """The node whose output enters the scope (None for the model or an empty scope)."""
    if inst.first is None or inst.scope.parent < 0:
        return None
    node = checked.model.nodes[inst.first]
    return node.inputs[0] if node.inputs else None


def same(a: Any, b: Any) -> bool:
    """Equal values of the same type (``True`` is not ``1``, ``64`` is not ``64.0``)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def evaluate(text: str, env: dict[str, Any]) -> Any:
    """Evaluate an expression the emitters wrote from the spec, in one instance's terms."""
    try:
        return eval(text, {"__builtins__": {}}, dict(env))
    except Exception:
        return _NO_VALUE


_NO_VALUE = object()


@dataclass
class Candidate:
    """A name or expression available in a class or function body, with its value per row."""

    text: str
    values: list[Any]


@dataclass
class Unifier:
    """Writes values that may differ across the rows (instances) of one definition.

    A unifier made by :meth:`restrict` covers some rows of its parent (the instances that take
    one side of an ``if``); one made by :meth:`loop` covers the iterations of a ``repeat`` in
    every parent row, with the loop variable bound.  A new parameter they need is made in the
    outermost unifier, with a placeholder (None) for rows that do not take part, or a tuple of
    every iteration's value indexed by the loop variable.
    """

    envs: list[dict[str, Any]]  # per row: the parameters in scope
    candidates: list[Candidate] = field(default_factory=list)
    extras: list[tuple[str, list[Any]]] = field(default_factory=list)
    used: set[str] = field(default_factory=set)  # candidate names used (signature needs them)
    taken: set[str] = field(default_factory=set)  # names not free for extras
    parent: Unifier | None = None
    parent_rows: list[int] = field(default_factory=list)  # per row: its parent's row
    loop_var: str | None = None
    first: list[bool] = field(default_factory=list)  # per row: the loop's first iteration

    def text(
        self,
        values: list[Any],
        hint: str | None = None,
        name: str = "value",
        derived: bool = False,
    ) -> str:
        """The Python text giving ``values[row]`` in every row.

        ``derived`` values (a channel count) are written as a name or expression of the body
        when one fits, even where they happen to be the same in every row (in one row, a
        constant proves nothing); other values as a literal when they can be, so that a
        kernel size never becomes a parameter that happens to be equal to it.
        """
        if hint is not None and all(
            same(evaluate(hint, env), v) for env, v in zip(self.envs, values, strict=True)
        ):
            self.use(_names(hint))
            return hint
        constant = all(same(v, values[0]) for v in values)
        if constant and not derived:
            return py(values[0])
        for cand in self.candidates:
            if all(same(c, v) for c, v in zip(cand.values, values, strict=True)):
                self.use(_names(cand.text))
                return cand.text
        if constant:
            return py(values[0])
        if self.loop_var and any(self.first) and not all(self.first):
            split = self._split(values, hint, name, derived)
            if split is not None:
                return split
        return self.extra(name, values)

    def _split(self, values: list[Any], hint: str | None, name: str, derived: bool) -> str | None:
        """``(A if i == 0 else B)``: the first iteration's value and the others'."""
        firsts = [r for r, f in enumerate(self.first) if f]
        rests = [r for r, f in enumerate(self.first) if not f]
        texts = []
        for rows in (firsts, rests):
            sub = self.restrict(rows)
            sub.parent = None  # no new parameters for half of the rows
            text = sub.text([values[r] for r in rows], hint, name, derived)
            if sub.extras:
                return None
            self.use(sub.used)
            texts.append(text)
        return f"{texts[0]} if {self.loop_var} == 0 else {texts[1]}"

    def use(self, names: set[str]) -> None:
        """Record names the written code uses (up to the outermost unifier)."""
        names = names - {self.loop_var}
        self.used |= names
        if self.parent is not None:
            self.parent.use(names)

    def extra(self, name: str, values: list[Any]) -> str:
        """A new parameter carrying ``values``, made in the outermost unifier."""
        if self.parent is not None:
            if self.loop_var is None:
                full: list[Any] = [None] * len(self.parent.envs)
                for row, value in zip(self.parent_rows, values, strict=True):
                    full[row] = value
                return self.parent.extra(name, full)
            per_row: list[list[Any]] = [[] for _ in self.parent.envs]
            for row, value in zip(self.parent_rows, values, strict=True):
                per_row[row].append(value)
            text = self.parent.extra(name, [tuple(v) for v in per_row])
            return f"{text}[{self.loop_var}]"
        for existing, known in self.extras:
            if all(same(a, b) for a, b in zip(known, values, strict=True)):
                return existing
        base = identifier(name)
        text, k = base, 1
        while text in self.taken or any(text == e for e, _ in self.extras):
            k += 1
            text = f"{base}_{k}"
        self.extras.append((text, values))
        return text

    def restrict(self, rows: list[int]) -> Unifier:
        """A unifier over some of these rows."""
        sub = Unifier(
            [self.envs[r] for r in rows],
            [Candidate(c.text, [c.values[r] for r in rows]) for c in self.candidates],
            taken=self.taken,
            parent=self,
            parent_rows=list(rows),
        )
        if self.loop_var is not None:
            sub.loop_var = self.loop_var
            sub.first = [self.first[r] for r in rows]
        return sub

    def loop(self, counts: list[int], var: str) -> Unifier:
        """A unifier over the iterations of a ``repeat``: ``counts[row]`` of each row."""
        rows = [(r, k) for r, n in enumerate(counts) for k in range(n)]
        sub = Unifier(
            [{**self.envs[r], var: k} for r, k in rows],
            [Candidate(c.text, [c.values[r] for r, _ in rows]) for c in self.candidates],
            taken=self.taken | {var},
            parent=self,
            parent_rows=[r for r, _ in rows],
            loop_var=var,
            first=[k == 0 for _, k in rows],
        )
        return sub


def _names(text: str) -> set[str]:
    return {t for t in re.findall(r"[A-Za-z_]\w*", text) if not keyword.iskeyword(t)}


def identifier(text: str) -> str:
    """``text`` as a Python identifier (dots and other signs as underscores)."""
    name = re.sub(r"\W", "_", text)
    if not name or name[0].isdigit():
        name = f"_{name}"
    return name + "_" if keyword.iskeyword(name) else name


def class_name(text: str) -> str:
    """``cifar10_cnn`` -> ``Cifar10Cnn``, ``basic`` -> ``Basic`` (a valid class name)."""
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", text) if p]
    name = "".join(p[0].upper() + p[1:] for p in parts) or "Model"
    return f"Model{name}" if name[0].isdigit() else name


def expression_candidates(definition: tuple, envs: list[dict[str, Any]]) -> list[Candidate]:
    """The block parameters and the arithmetic written in a definition's body, as candidates
    (each with its value in every row)."""
    texts: list[str] = []
    for value in _values(definition):
        names = {n: n for n in names_in(value)}
        text = to_python(value, names)
        if text is not None and text not in texts and value.kind == "expr":
            texts.append(text)
    params = list(envs[0]) if envs else []
    out = [Candidate(p, [env.get(p, _NO_VALUE) for env in envs]) for p in params]
    out += [Candidate(t, [evaluate(t, env) for env in envs]) for t in texts]
    return out


def _values(nodes: tuple):
    """Every argument value written in a body, recursively through ``{ }`` clauses."""
    for node in nodes:
        args = getattr(node, "args", ())
        for arg in args:
            yield arg.value
        if isinstance(node, Statement):
            for clause in node.clauses:
                yield from _values(clause.body)


def statement_kind(node) -> str:
    """What a body statement is, for the emitters: "call", "repeat", "sequential",
    "residual", "branch", "if" or "layer"."""
    if isinstance(node, Call):
        return "call"
    if node.name in ("repeat", "sequential", "residual", "branch", "if"):
        return node.name
    return "layer"


def count_value(stmt: Statement) -> Value | None:
    """The count of a ``repeat`` as written (``3``, ``(n - 1)``)."""
    from specc.expansion import name_clause_as_arg

    stmt = name_clause_as_arg(stmt)
    positional = [a for a in stmt.args if a.key is None]
    return positional[0].value if positional else None


def call_hints(inst: Instance, stmt) -> dict[str, str]:
    """The spec's arguments of a block call, as Python expressions of the calling body's
    parameters, by parameter name (an iteration's parameters are its own names)."""
    if inst.scope.kind == "iteration":
        return {name: name for name in inst.env}
    if stmt is None or not hasattr(stmt, "args"):
        return {}
    formals = [f.name for f in inst.scope.formals]
    args = [a for a in stmt.args if a.key != "name"]
    hints: dict[str, str] = {}
    for formal, arg in zip(formals, [a for a in args if a.key is None], strict=False):
        hints[formal] = to_python(arg.value, {n: n for n in names_in(arg.value)})
    for arg in args:
        if arg.key is not None:
            hints[arg.key] = to_python(arg.value, {n: n for n in names_in(arg.value)})
    return {k: v for k, v in hints.items() if v is not None}


def default_value(text: str) -> Any:
    """A block parameter's default as written in Python (``1``, ``False``, ``(3, 3)``); one
    that is not a literal gives a value equal to nothing."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return object()


def fresh_name(live: set[str], base: str) -> str:
    """A variable named ``base`` (or ``base_2``, ...) not in ``live``, now added to it."""
    name, k = base, 1
    while name in live:
        k += 1
        name = f"{base}_{k}"
    live.add(name)
    return name


def count_hint(stmt) -> str | None:
    """A ``repeat``'s count as the spec wrote it, in Python (None without a statement)."""
    value = count_value(stmt) if stmt is not None else None
    return to_python(value, {n: n for n in names_in(value)}) if value is not None else None


def repeat_items(inst: Instance, stmt: Statement) -> list[Item]:
    """The items a ``repeat`` statement made directly in ``inst`` (spliced into a
    ``sequential`` group): its iterations' single items, or the iteration scopes, in order."""
    keys = [stmt.span]
    body = stmt.clauses[0].body if stmt.clauses else ()
    if len(body) == 1:
        keys.append(body[0].span)
    found = [item for key in keys for item in inst.items.get(key, [])]
    return sorted(found, key=lambda item: item[1])  # nodes and scopes are in creation order
