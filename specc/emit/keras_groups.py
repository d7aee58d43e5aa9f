"""``sequential`` groups and ``repeat`` loops in a Keras function body.

A group is a run of layers on one variable, named ``group.0``, ``group.1``, ... as PyTorch's
``nn.Sequential`` numbers its items (a layer with a fused activation takes two numbers there),
so that both frameworks name every layer alike; a ``repeat`` is a ``for`` loop whose items are
named ``prefix.{i}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from specc.emit.keras_body import LOOP_VARS, FunctionBody
from specc.emit.keras_context import KerasContext
from specc.emit.structure import Instance, count_hint, repeat_items
from specc.expansion import name_clause_as_arg
from specc.exprs import names_in, to_python
from specc.plans import KerasPlan
from specc.syntax import Statement

if TYPE_CHECKING:  # the statement writer owns this one: its module imports this one
    from specc.emit.keras_statements import KerasStatementWriter


class KerasGroupWriter:
    """Writes groups and loops in place on one variable, for the statement writer that owns it.

    ``context`` gives the plans and instances; ``statements`` writes the items: layers
    (``apply``), block calls (``call``) and an iteration's body (``body``).
    """

    def __init__(self, context: KerasContext, statements: KerasStatementWriter):
        self.context = context
        self.statements = statements

    def group(self, insts: list[Instance], body: FunctionBody, var: str) -> None:
        """A ``sequential`` group, in place on ``var``: its items in order, numbered."""
        self._group_items(insts[0].scope.definition, insts, body, var, [])

    def _group_items(
        self, stmts: tuple, insts: list[Instance], body: FunctionBody, var: str, terms: list[str]
    ) -> list[str]:
        """Write a group's statements; ``terms`` add up to the position of the next item (an
        int, a repeat's count, an ``if``'s); returns the terms after them."""
        terms = list(terms)
        for stmt in stmts:
            if isinstance(stmt, Statement) and stmt.name in ("repeat", "if"):
                stmt = name_clause_as_arg(stmt)
            if isinstance(stmt, Statement) and stmt.name == "if":
                terms = self._group_if(stmt, insts, body, var, terms)
                continue
            found = [
                repeat_items(inst, stmt)
                if isinstance(stmt, Statement) and stmt.name == "repeat"
                else inst.items.get(stmt.span, [])
                for inst in insts
            ]
            if not any(found):
                continue
            where = _sum(terms)
            if isinstance(stmt, Statement) and stmt.name == "repeat":
                counts = [len(f) for f in found]
                self._loop(stmt, found, body, var, where)
                terms.append(body.unifier.text(counts, count_hint(stmt), "count"))
                continue
            local = where if where.isdigit() else f"{{{where}}}"
            items = [f[0] for f in found]
            self._one(stmt, items, body.prefixed(insts, body.prefix), var, local)
            fused = items[0][0] == "node" and _fused(self.context.plans[items[0][1]])
            terms.append("2" if fused else "1")
        return terms

    def _group_if(
        self, stmt: Statement, insts: list[Instance], body: FunctionBody, var: str, terms: list[str]
    ) -> list[str]:
        """``if`` inside a group: each side numbers on from the same position."""
        taken = [dict(inst.scope.decisions).get(stmt.span) for inst in insts]
        then = next(c for c in stmt.clauses if c.name is None)
        other = next((c for c in stmt.clauses if c.name == "else"), None)
        sides = []
        for flag, clause in ((True, then), (False, other)):
            rows = [r for r, t in enumerate(taken) if t is flag]
            mark = len(body.lines)
            after = terms
            if clause is not None and rows:
                inner = body.narrowed(rows)
                after = self._group_items(clause.body, inner.insts, inner, var, terms)
            sides.append((rows, body.lines[mark:], _sum(after[len(terms) :]) or "0"))
            del body.lines[mark:]
        (rows_t, lines_t, added_t), (rows_e, lines_e, added_e) = sides
        if not rows_e or not rows_t:
            lines, added = (lines_t, added_t) if rows_t else (lines_e, added_e)
            body.lines += lines
            return [*terms, added]
        cond = stmt.args[0].value
        text = to_python(cond, {n: n for n in names_in(cond)})
        body.unifier.use(names_in(cond))
        if lines_t:
            body.lines.append(f"if {text}:")
            body.lines += [f"    {line}" for line in lines_t]
            if lines_e:
                body.lines.append("else:")
                body.lines += [f"    {line}" for line in lines_e]
        elif lines_e:
            body.lines.append(f"if not ({text}):")
            body.lines += [f"    {line}" for line in lines_e]
        return [*terms, f"({added_t} if {text} else {added_e})"]

    def _one(self, stmt, items: list, body: FunctionBody, var: str, local: str) -> None:
        """One numbered item, in place on ``var``: a layer, a block call or a nested group,
        named ``prefix.local``."""
        name = body.name_of(local)
        if items[0][0] == "node":
            plans = [self.context.plans[i] for _, i in items]
            self.statements.apply(plans, [i for _, i in items], body, [var], var, local, "value")
            return
        insts = [self.context.insts[i] for _, i in items]
        kind = insts[0].scope.kind
        if kind == "block":
            self.statements.call(insts, insts[0].scope.stmt, body, var, var, name)
            return
        prefix = f"{body.prefix}.{local}" if body.prefix else local
        if kind == "sequential":
            self.group(insts, body.prefixed(insts, prefix), var)
        else:
            self.repeat(insts, insts[0].scope.stmt, body.prefixed(body.insts, ""), var, prefix)

    def repeat(self, insts: list[Instance], stmt, body: FunctionBody, var: str, local: str) -> None:
        """``for i in range(count):`` over the iterations, in place on ``var``."""
        iterations = [
            sorted((it for items in r.items.values() for it in items), key=self._first)
            for r in insts
        ]
        prefix = f"{body.prefix}.{local}" if body.prefix else local
        self._loop(stmt, iterations, body.prefixed(body.insts, prefix), var, "0")

    def _loop(self, stmt, iterations: list[list], body: FunctionBody, var: str, start: str) -> None:
        """``for i in range(count):`` with each iteration's items named ``prefix.{start + i}``:
        a layer or block call per iteration, or an iteration's whole body."""
        counts = [len(it) for it in iterations]
        count = body.unifier.text(counts, count_hint(stmt), "count")
        if not any(counts):
            return
        loop = LOOP_VARS[body.loop % len(LOOP_VARS)]
        index = loop if start == "0" else f"{start} + {loop}"
        items = [it for its in iterations for it in its]
        inner = FunctionBody(body.fn, body.unifier.loop(counts, loop), body.insts, "", body.lines)
        inner.live, inner.loop, inner.named = body.live, body.loop + 1, body.named
        mark = len(body.lines)
        first = self.context.insts[items[0][1]] if items[0][0] == "scope" else None
        if first is not None and first.scope.kind == "iteration":
            inner.insts = [self.context.insts[i] for _, i in items]
            inner.prefix = f"{body.prefix}.{{{index}}}"
            result = self.statements.body(first.scope.definition, inner, var, var)
            if result != var:
                body.lines.append(f"{var} = {result}")
        else:
            inner.prefix = body.prefix
            statement = stmt.clauses[0].body[0] if stmt is not None else None
            self._one(statement, items, inner, var, f"{{{index}}}")
        lines = body.lines[mark:]
        del body.lines[mark:]
        body.lines.append(f"for {loop} in range({count}):")
        body.lines += [f"    {line}" for line in lines]

    def _first(self, item) -> int:
        kind, index = item
        if kind == "node":
            return index
        first = self.context.insts[index].first
        return first if first is not None else -1


def _fused(plan: KerasPlan) -> bool:
    """Whether the layer has a fused activation (its own item in PyTorch's numbering)."""
    kwargs = {k: v.value for k, v, _ in plan.layer.kwargs}
    return kwargs.get("activation") not in (None, "linear")


def _sum(terms: list[str]) -> str:
    """``terms`` added up: the numbers folded into one, the expressions kept."""
    number = sum(int(t) for t in terms if t.isdigit())
    rest = [t for t in terms if not t.isdigit()]
    return " + ".join(([str(number)] if number or not rest else []) + rest)
