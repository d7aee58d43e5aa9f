"""The statements of a PyTorch class body: layers, ``if``, ``residual`` and ``branch``.

Each statement adds its submodule to ``__init__`` and its step to ``forward``, for every row
of the class at once; a block call, ``repeat`` or ``sequential`` group becomes one submodule
(:mod:`specc.emit.torch_modules`).  An ``if`` on which the rows differ is an ``if`` in both
``__init__`` and ``forward``.
"""

from __future__ import annotations

from specc.emit.environment import EmitError
from specc.emit.torch_class import ClassScope
from specc.emit.torch_context import TorchContext
from specc.emit.torch_modules import TorchSubmoduleWriter
from specc.emit.torch_parts import (
    FIRST,
    PREFIXES,
    Val,
    activate,
    apply_text,
    call_argument,
    convert,
    identity,
    is_literal,
    layout_of,
    out_layout,
)
from specc.expansion import name_clause_as_arg
from specc.exprs import names_in, to_python
from specc.syntax import Statement


class TorchStatementWriter:
    """Writes statements into a class body, for :class:`specc.emit.torch.TorchEmitter`.

    ``context`` gives the plans, constructors and named values; ``modules`` writes the
    statements that are submodules (block calls, ``repeat`` and ``sequential`` groups).
    """

    def __init__(self, context: TorchContext, modules: TorchSubmoduleWriter):
        self.context = context
        self.modules = modules

    def body(self, stmts: tuple, scope: ClassScope, val: Val, target: str) -> Val:
        """Write a body's statements; each reads ``val`` and writes ``target``."""
        for stmt in stmts:
            val = self.statement(stmt, scope, val, target)
        return val

    def statement(self, stmt, scope: ClassScope, val: Val, target: str) -> Val:
        """Write one statement of a definition, for every row of ``scope``."""
        if isinstance(stmt, Statement) and stmt.name in ("if", "repeat", "branch", "sequential"):
            stmt = name_clause_as_arg(stmt)
        items = [inst.item(stmt.span) for inst in scope.insts]
        if isinstance(stmt, Statement) and stmt.name == "if":
            return self.conditional(stmt, scope, val, target)
        if isinstance(stmt, Statement) and stmt.name == "residual":
            return self.residual(stmt, scope, val, target)
        if isinstance(stmt, Statement) and stmt.name == "branch":
            return self.branch(stmt, scope, val, target)
        if all(item is None for item in items):
            return val  # reported as an error at check time, or an empty repeat
        if any(item is None for item in items):
            raise EmitError(f"{stmt.span}: a statement ran in some instances only")
        if items[0][0] == "node":
            return self.layer([i for _, i in items], scope, val, target)
        return self.modules.child([i for _, i in items], stmt, scope, val, target)

    def layer(self, nodes: list[int], scope: ClassScope, val: Val, target: str) -> Val:
        """A layer: its submodule in ``__init__`` and its step in ``forward``."""
        plans = self.context.plans_of(nodes)
        plan = plans[0]
        node = self.context.model.nodes[nodes[0]]
        rank_out = len(self.context.checked.infos[node.index].shape)
        if node.kind == "input":
            return scope.named.get(node.index, val)
        if plan.fused_into is not None or identity(plan):
            source = self._inputs_of(node, scope, val)[0]
            return self.context.remember(
                scope, node.index, Val(source.var, layout_of(rank_out, source.layout), rank_out)
            )
        attr = node.name.rsplit(".", 1)[-1]
        module = f"self.{attr}"
        if plan.module is not None:
            ctor = self.context.ctor([p.module for p in plans], nodes, scope, attr)
            scope.cls.init.append(f"self.{attr} = {ctor}")
        act = self.context.layer_activation(plans, nodes)
        ins = self._inputs_of(node, scope, val)
        layouts = {v.layout for v in ins}
        have = ins[0].layout if len(layouts) == 1 else FIRST
        want = plan.layout_in if plan.layout_in != "any" else have
        xs = [convert(v.var, v.rank, v.layout, want) for v in ins]
        args = self._apply_arguments(plans, nodes, scope, attr)
        expr = apply_text(plan, module, xs, ins[0].rank, want if want != "any" else have, args)
        self.context.uses |= set(PREFIXES.findall(plan.apply))
        layout = out_layout(plan, rank_out, want if want != "any" else have)
        if plan.unpack:
            scope.cls.forward.append(f"{target}, _ = {expr}")
            expr = target
        for post in plan.post:
            expr = post.format(x=expr)
        if act is not None:
            expr = activate(act, expr, rank_out, layout)
            self.context.uses |= set(PREFIXES.findall(expr))
        if expr != target:
            scope.cls.forward.append(f"{target} = {expr}")
        return self.context.remember(scope, node.index, Val(target, layout, rank_out))

    def _apply_arguments(
        self, plans: list, nodes: list[int], scope: ClassScope, attr: str
    ) -> dict[str, str]:
        """The texts of a plan's ``apply_args`` in ``forward``: a literal where every instance
        has the same value, else an attribute that ``__init__`` sets from the parameters."""
        found = {}
        for key, first in plans[0].apply_args:
            values = [dict(p.apply_args)[key] for p in plans]
            text = self.context.value(values, nodes, scope, f"{attr}_{key}")
            if not is_literal(text):
                scope.cls.init.append(f"self.{attr}_{key} = {text}")
                text = f"self.{attr}_{key}"
            found[key] = call_argument(text, first.value)
        return found

    def _inputs_of(self, node, scope: ClassScope, val: Val) -> list[Val]:
        """Where a node's inputs are: the running value, or the variables of named layers."""
        found = []
        for k, i in enumerate(node.inputs):
            if i in scope.named:
                found.append(scope.named[i])
            elif k == 0:
                found.append(val)
            else:
                raise EmitError(
                    f"{node.name}: its input {self.context.model.nodes[i].name} is gone"
                )
        return found

    def conditional(self, stmt: Statement, scope: ClassScope, val: Val, target: str) -> Val:
        """``if``: when every row decides alike, only that body; else an ``if`` in both
        ``__init__`` and ``forward``."""
        taken = [dict(inst.scope.decisions).get(stmt.span) for inst in scope.insts]
        then = next(c for c in stmt.clauses if c.name is None)
        other = next((c for c in stmt.clauses if c.name == "else"), None)
        if all(t is True for t in taken):
            return self.body(then.body, scope, val, target)
        if all(t is False for t in taken):
            return self.body(other.body, scope, val, target) if other else val
        cond = stmt.args[0].value
        names = {n: n for n in sorted(names_in(cond))}
        text = to_python(cond, names)
        if text is None:
            raise EmitError(f"{stmt.span}: cannot write the condition {cond.text!r}")
        stored = {n: f"self.{n}" for n in names}
        for n in names:
            if n not in scope.cls.stored:
                scope.cls.stored.append(n)
        scope.unifier.use(set(names))
        results = []
        for flag, clause in ((True, then), (False, other)):
            rows = [r for r, t in enumerate(taken) if t is flag]
            init_mark, fwd_mark = len(scope.cls.init), len(scope.cls.forward)
            inner = scope.narrowed(rows)
            result = self.body(clause.body, inner, val, target) if clause else val
            result = self._settle(scope, result, target)
            init_lines = scope.cls.init[init_mark:]
            fwd_lines = scope.cls.forward[fwd_mark:]
            del scope.cls.init[init_mark:], scope.cls.forward[fwd_mark:]
            results.append((init_lines, fwd_lines, result))
        (init_t, fwd_t, res_t), (init_e, fwd_e, res_e) = results
        self._if(scope.cls.init, text, init_t, init_e)
        self._if(scope.cls.forward, to_python(cond, stored), fwd_t, fwd_e)
        return res_t if res_t.var == target else res_e

    def _settle(self, scope: ClassScope, result: Val, target: str) -> Val:
        """End a branch with the value in ``target``, channels-first."""
        expr = convert(result.var, result.rank, result.layout, FIRST)
        if expr != target:
            scope.cls.forward.append(f"{target} = {expr}")
        return Val(target, layout_of(result.rank, FIRST), result.rank)

    @staticmethod
    def _if(out: list[str], cond: str, then: list[str], other: list[str]) -> None:
        if not then and not other:
            return
        if then:
            out.append(f"if {cond}:")
            out += [f"    {line}" for line in then]
            if other:
                out.append("else:")
                out += [f"    {line}" for line in other]
        else:
            out.append(f"if not ({cond}):")
            out += [f"    {line}" for line in other]

    def residual(self, stmt: Statement, scope: ClassScope, val: Val, target: str) -> Val:
        """``residual``: keep the input as ``shortcut``, run the body, add."""
        main = next(c for c in stmt.clauses if c.name is None)
        short = next((c for c in stmt.clauses if c.name == "shortcut"), None)
        var = scope.fresh("shortcut")
        start = convert(val.var, val.rank, val.layout, FIRST)
        scope.cls.forward.append(f"{var} = {start}")
        start_val = Val(var, layout_of(val.rank, FIRST), val.rank)
        out = self.body(main.body, scope, val, target)
        short_val = self.body(short.body, scope, start_val, var) if short else start_val
        result = self.merge(stmt, scope, [out, short_val], target)
        scope.live.discard(var)
        return result

    def branch(self, stmt: Statement, scope: ClassScope, val: Val, target: str) -> Val:
        """``branch``: every path from the same input into its own variable, then merged."""
        outs, made = [], []
        for j, clause in enumerate(stmt.clauses):
            var = scope.fresh(f"branch_{j + 1}")
            made.append(var)
            outs.append(self.body(clause.body, scope, val, var))
        result = self.merge(stmt, scope, outs, target)
        scope.live.difference_update(made)
        return result

    def merge(self, stmt: Statement, scope: ClassScope, outs: list[Val], target: str) -> Val:
        """The ``add`` or ``concat`` node of a residual or branch."""
        items = [inst.item(stmt.name_span) for inst in scope.insts]
        if any(item is None for item in items):
            return outs[0]
        node = self.context.model.nodes[items[0][1]]
        plan = self.context.plans[node.index]
        layouts = {o.layout for o in outs}
        layout = layouts.pop() if len(layouts) == 1 else FIRST
        inputs = [convert(o.var, o.rank, o.layout, layout) for o in outs]
        rank = len(self.context.checked.infos[node.index].shape)
        expr = apply_text(plan, "", inputs, rank, layout)
        self.context.uses |= set(PREFIXES.findall(plan.apply))
        scope.cls.forward.append(f"{target} = {expr}")
        return self.context.remember(scope, node.index, Val(target, layout_of(rank, layout), rank))
