"""The Keras 3 backend: a ``keras.Sequential`` stack, or the functional API with one function
per block definition.

A block becomes ``def block(x, params..., *, name)``, called once per instance with its
arguments; its layers are named ``f"{name}.<layer>"`` so that every layer keeps the spec's
dotted name (``layer2.0.conv1``), the same as the PyTorch submodule's.  A ``repeat`` is a
``for`` loop and a ``sequential`` group a run of layers named ``group.0``, ``group.1``, ...
Like the PyTorch backend, functions are written from the spec's definitions with every instance
at once (:mod:`specc.emit.structure`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from specc.compiler import CheckedModel
from specc.emit.environment import EmitError, py
from specc.emit.planning import contexts, plan, plan_model
from specc.emit.structure import (
    Instance,
    Unifier,
    count_value,
    expression_candidates,
    identifier,
    instances,
    repeat_items,
    same,
)
from specc.expansion import name_clause_as_arg
from specc.exprs import names_in, to_python
from specc.plans import KERAS_CALL, NO_DEFAULT, Ctor, KerasPlan, V
from specc.syntax import Statement


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
class _Body:
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
        name, k = base, 1
        while name in self.live:
            k += 1
            name = f"{base}_{k}"
        self.live.add(name)
        return name

    def name_of(self, local: str) -> str:
        """The ``name=`` text of a layer called ``local`` here."""
        full = f"{self.prefix}.{local}" if self.prefix else local
        return f'f"{full}"' if "{" in full else py(full)


LOOP_VARS = ("i", "j", "k", "m")


class KerasEmitter:
    """Writes the Keras source of one checked spec."""

    def __init__(self, checked: CheckedModel):
        self.checked = checked
        self.model = checked.model
        self.plans: dict[int, KerasPlan] = plan_model(checked, "keras")
        self.insts = instances(checked)
        self.functions: dict[tuple, KerasFunction] = {}
        self.order: list[KerasFunction] = []
        self.names: set[str] = {"build_model", "keras", "layers", "ops"}
        self.references = set(self.model.references)
        self.contexts = contexts(checked)
        # custom layer classes the plans need, in the order of first use
        self.helpers: list[str] = []
        for index in sorted(self.plans):
            self._helpers(self.plans[index])

    def _helpers(self, plan: KerasPlan) -> None:
        for helper in plan.helpers:
            if helper not in self.helpers:
                self.helpers.append(helper)
                self.names.add(helper)

    def sequential(self) -> list[str] | None:
        """The layer constructors of a plain stack (no scopes, no merges), else None."""
        if len(self.model.scopes) > 1 or not self.model.is_sequential:
            return None
        if self.model.output != len(self.model.nodes) - 1:
            return None
        if any(plan.call != KERAS_CALL for plan in self.plans.values()):
            return None
        out = []
        for node in self.model.nodes:
            plan = self.plans[node.index]
            for suffix, before in plan.before:
                out.append(self.literal_ctor(before, f"{node.name}.{suffix}"))
            named = node.kind != "input"
            out.append(self.literal_ctor(plan.layer, node.name if named else None))
        return out

    def functional(self) -> list[str]:
        """The body of ``build_model()`` in the functional API."""
        root = self.insts[0]
        unifier = Unifier([{}])
        body = _Body(None, unifier, [root], "", [])
        out = self.body(root.scope.definition, body, "inputs", "x")
        inputs = [body.named.get(i, "inputs") for i in self.model.inputs]
        outputs = [body.named.get(o, out) for o in self.model.outputs]
        ins = inputs[0] if len(inputs) == 1 else "[" + ", ".join(inputs) + "]"
        outs = outputs[0] if len(outputs) == 1 else "[" + ", ".join(outputs) + "]"
        body.lines.append(f"return keras.Model({ins}, {outs}, name={py(self.model.name)})")
        return body.lines

    def remember(self, body: _Body, node: int | None, var: str) -> str:
        """After a statement: a layer that later ones read by name keeps a variable of its
        own (the running variable is overwritten)."""
        if node is None or node not in self.references or node in body.named:
            return var
        name = body.fresh(identifier(self.model.nodes[node].name.rsplit(".", 1)[-1]))
        body.lines.append(f"{name} = {var}")
        body.named[node] = name
        return var

    def _sources(self, node, body: _Body, source: str) -> list[str]:
        """Where a node's inputs are: the running value, or named layers' variables."""
        found = []
        for k, i in enumerate(node.inputs):
            if i in body.named:
                found.append(body.named[i])
            elif k == 0:
                found.append(source)
            else:
                raise EmitError(f"{node.name}: its input {self.model.nodes[i].name} is gone")
        return found

    # -- functions ------------------------------------------------------------------------------

    def function_for(self, inst: Instance) -> KerasFunction:
        """The function of a block definition, written once for all its instances."""
        key = inst.scope.key
        if key in self.functions:
            return self.functions[key]
        rows = [i for i in self.insts if i.scope.key == key]
        base, k = identifier(key[1]), 1
        name = base
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        fn = KerasFunction(name, key, rows)
        fn.row = {r.scope.index: k for k, r in enumerate(rows)}
        self.functions[key] = fn
        envs = [dict(r.env) for r in rows]
        formals = [f.name for f in inst.scope.formals]
        unifier = Unifier(envs, taken=set(formals) | {"x", "name", "inputs"})
        unifier.candidates += expression_candidates(inst.scope.definition, envs)
        body = _Body(fn, unifier, rows, "{name}", [])
        out = self.body(inst.scope.definition, body, "x", "x")
        body.lines.append(f"return {out}")
        fn.lines = body.lines
        defaults = {f.name: f.default for f in inst.scope.formals}
        used = unifier.used
        for formal in formals:
            if formal in used:
                default = defaults.get(formal)
                text = to_python(default, {}) if default is not None else None
                fn.params.append((formal, text))
                fn.values[formal] = [e.get(formal) for e in envs]
        for extra, values in unifier.extras:
            fn.params.append((extra, None))
            fn.values[extra] = values
        self.order.append(fn)
        return fn

    # -- statements -----------------------------------------------------------------------------

    def body(self, stmts: tuple, body: _Body, source: str, target: str) -> str:
        """Write statements: the first reads ``source``, each writes ``target``; returns the
        variable holding the result (``source`` when nothing was written)."""
        var = source
        for stmt in stmts:
            var = self.statement(stmt, body, var, target)
        return var

    def statement(self, stmt, body: _Body, source: str, target: str) -> str:
        """One statement of a definition, for every row of ``body``."""
        if isinstance(stmt, Statement) and stmt.name in ("if", "repeat", "branch", "sequential"):
            stmt = name_clause_as_arg(stmt)
        if isinstance(stmt, Statement) and stmt.name == "if":
            return self.conditional(stmt, body, source, target)
        if isinstance(stmt, Statement) and stmt.name in ("residual", "branch"):
            return self.merge_statement(stmt, body, source, target)
        items = [inst.item(stmt.span) for inst in body.insts]
        if all(item is None for item in items):
            return source
        if any(item is None for item in items):
            raise EmitError(f"{stmt.span}: a statement ran in some instances only")
        if items[0][0] == "node":
            return self.layer([i for _, i in items], body, source, target)
        return self.child([i for _, i in items], stmt, body, source, target)

    def layer(self, nodes: list[int], body: _Body, source: str, target: str) -> str:
        """``target = layers.X(..., name=...)(source)`` (``inputs = keras.Input(...)``)."""
        node = self.model.nodes[nodes[0]]
        plans = [self.plans[n] for n in nodes]
        local = node.name.rsplit(".", 1)[-1]
        if node.kind == "input":
            if len(self.model.inputs) == 1:
                body.lines.append(f"inputs = {self.literal_ctor(plans[0].layer, None)}")
                body.named[node.index] = "inputs"  # read by name later: `from=image`
                return "inputs"
            var = body.fresh(identifier(local))
            body.lines.append(f"{var} = {self.literal_ctor(plans[0].layer, node.name)}")
            body.named[node.index] = var
            return var
        sources = self._sources(node, body, source)
        self.apply(plans, nodes, body, sources, target, local, identifier(local))
        return self.remember(body, node.index, target)

    def apply(
        self,
        plans: list[KerasPlan],
        nodes: list[int],
        body: _Body,
        sources: list[str],
        target: str,
        local: str,
        hint: str,
    ) -> None:
        """``target = ...(sources)``: the layers a plan asks for before its own (named
        ``local.suffix``), then the layer itself, called as the plan says."""
        if len({_form(p) for p in plans}) != 1:
            # e.g. explicit padding that is `same` at stride 1 only, in a block whose
            # instances have different strides: the form that is right for every instance
            for n in nodes:
                self.plans[n] = plan(replace(self.contexts[n], generic=True), "keras")
                self._helpers(self.plans[n])
            plans = [self.plans[n] for n in nodes]
            if len({_form(p) for p in plans}) != 1:
                raise EmitError(f"{self.model.nodes[nodes[0]].name}: instances differ in layers")
        source = sources[0] if len(sources) == 1 else "[" + ", ".join(sources) + "]"
        for j, (suffix, _) in enumerate(plans[0].before):
            ctor = self.ctor([p.before[j][1] for p in plans], nodes, body, f"{hint}_{suffix}")
            name = body.name_of(f"{local}.{suffix}")
            body.lines.append(f"{target} = {_named(ctor, name)}({source})")
            source = target
        ctor = self.ctor([p.layer for p in plans], nodes, body, hint)
        layer = _named(ctor, body.name_of(local))
        call = plans[0].call.format(layer=layer, x=source, inputs=sources)
        body.lines.append(f"{target} = {call}")

    def merge_statement(self, stmt: Statement, body: _Body, source: str, target: str) -> str:
        """``residual`` or ``branch``: the paths into variables, then the merge layer."""
        if stmt.name == "residual":
            main = next(c for c in stmt.clauses if c.name is None)
            short = next((c for c in stmt.clauses if c.name == "shortcut"), None)
            keep = body.fresh("shortcut")
            body.lines.append(f"{keep} = {source}")
            outs = [self.body(main.body, body, source, target)]
            outs.append(self.body(short.body, body, keep, keep) if short else keep)
            made = [keep]
        else:
            outs, made = [], []
            for j, clause in enumerate(stmt.clauses):
                path = body.fresh(f"branch_{j + 1}")
                made.append(path)
                outs.append(self.body(clause.body, body, source, path))
        items = [inst.item(stmt.name_span) for inst in body.insts]
        body.live.difference_update(made)
        if any(item is None for item in items):
            return outs[0]
        node = self.model.nodes[items[0][1]]
        local = node.name.rsplit(".", 1)[-1]
        ctor = self.literal_ctor(self.plans[node.index].layer, None)
        body.lines.append(f"{target} = {_named(ctor, body.name_of(local))}([{', '.join(outs)}])")
        return self.remember(body, node.index, target)

    def conditional(self, stmt: Statement, body: _Body, source: str, target: str) -> str:
        """``if``: Python's ``if`` on the block's parameters (or the taken body alone)."""
        taken = [dict(inst.scope.decisions).get(stmt.span) for inst in body.insts]
        then = next(c for c in stmt.clauses if c.name is None)
        other = next((c for c in stmt.clauses if c.name == "else"), None)
        if all(t is True for t in taken):
            return self.body(then.body, body, source, target)
        if all(t is False for t in taken):
            return self.body(other.body, body, source, target) if other else source
        cond = stmt.args[0].value
        text = to_python(cond, {n: n for n in names_in(cond)})
        body.unifier.use(names_in(cond))
        blocks = []
        for flag, clause in ((True, then), (False, other)):
            mark = len(body.lines)
            inner = self._narrow(body, [r for r, t in enumerate(taken) if t is flag])
            result = self.body(clause.body, inner, source, target) if clause else source
            if result != target:
                body.lines.append(f"{target} = {result}")
            blocks.append(body.lines[mark:])
            del body.lines[mark:]
        then_lines, else_lines = blocks
        if then_lines:
            body.lines.append(f"if {text}:")
            body.lines += [f"    {line}" for line in then_lines]
            if else_lines:
                body.lines.append("else:")
                body.lines += [f"    {line}" for line in else_lines]
        elif else_lines:
            body.lines.append(f"if not ({text}):")
            body.lines += [f"    {line}" for line in else_lines]
        return target

    def _narrow(self, body: _Body, rows: list[int]) -> _Body:
        insts = [body.insts[r] for r in rows]
        inner = _Body(body.fn, body.unifier.restrict(rows), insts, body.prefix, body.lines)
        inner.live, inner.loop, inner.named = body.live, body.loop, body.named
        return inner

    def child(self, scopes: list[int], stmt, body: _Body, source: str, target: str) -> str:
        """A block call, ``repeat`` or ``sequential`` group."""
        insts = [self.insts[s] for s in scopes]
        kind = insts[0].scope.kind
        local = insts[0].scope.local
        if kind == "block":
            result = self.call(insts, stmt, body, source, target, body.name_of(local))
            return self.remember(body, insts[0].last, result)
        if source != target:  # groups and loops update one variable in place
            body.lines.append(f"{target} = {source}")
        if kind == "sequential":
            prefix = f"{body.prefix}.{local}" if body.prefix else local
            self.group(insts, self._prefixed(body, insts, prefix), target)
        else:
            self.repeat(insts, stmt, body, target, local)
        return self.remember(body, insts[0].last, target)

    def _prefixed(self, body: _Body, insts: list[Instance], prefix: str) -> _Body:
        inner = _Body(body.fn, body.unifier, insts, prefix, body.lines)
        inner.live, inner.loop, inner.named = body.live, body.loop, body.named
        return inner

    def call(
        self, insts: list[Instance], stmt, body: _Body, source: str, target: str, name: str
    ) -> str:
        """``target = block(source, args..., name=...)``."""
        fn = self.function_for(insts[0])
        rows = [fn.row[inst.scope.index] for inst in insts]
        hints = _call_hints(insts[0], stmt)
        args, keyword = [source], False
        for pname, default in fn.params:
            values = [fn.values[pname][r] for r in rows]
            if default is not None and all(same(v, _literal(default)) for v in values):
                keyword = True
                continue
            text = body.unifier.text(values, hints.get(pname), f"{insts[0].scope.local}_{pname}")
            if keyword or default is not None:
                args.append(f"{pname}={text}")
                keyword = True
            else:
                args.append(text)
        args.append(f"name={name}")
        body.lines.append(f"{target} = {fn.name}({', '.join(args)})")
        return target

    def group(self, insts: list[Instance], body: _Body, var: str) -> None:
        """A ``sequential`` group, in place on ``var``: its items in order, numbered."""
        self._group_items(insts[0].scope.definition, insts, body, var, [])

    def _group_items(
        self, stmts: tuple, insts: list[Instance], body: _Body, var: str, terms: list[str]
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
                terms.append(body.unifier.text(counts, _count_hint(stmt), "count"))
                continue
            local = where if where.isdigit() else f"{{{where}}}"
            items = [f[0] for f in found]
            self._one(stmt, items, self._prefixed(body, insts, body.prefix), var, local)
            fused = items[0][0] == "node" and _fused(self.plans[items[0][1]])
            terms.append("2" if fused else "1")
        return terms

    def _group_if(
        self, stmt: Statement, insts: list[Instance], body: _Body, var: str, terms: list[str]
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
                inner = self._narrow(body, rows)
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

    def _one(self, stmt, items: list, body: _Body, var: str, local: str) -> None:
        """One numbered item, in place on ``var``: a layer, a block call or a nested group,
        named ``prefix.local``."""
        name = body.name_of(local)
        if items[0][0] == "node":
            plans = [self.plans[i] for _, i in items]
            self.apply(plans, [i for _, i in items], body, [var], var, local, "value")
            return
        insts = [self.insts[i] for _, i in items]
        kind = insts[0].scope.kind
        if kind == "block":
            self.call(insts, insts[0].scope.stmt, body, var, var, name)
            return
        prefix = f"{body.prefix}.{local}" if body.prefix else local
        if kind == "sequential":
            self.group(insts, self._prefixed(body, insts, prefix), var)
        else:
            self.repeat(
                insts, insts[0].scope.stmt, self._prefixed(body, body.insts, ""), var, prefix
            )

    def repeat(self, insts: list[Instance], stmt, body: _Body, var: str, local: str) -> None:
        """``for i in range(count):`` over the iterations, in place on ``var``."""
        iterations = [
            sorted((it for items in r.items.values() for it in items), key=self._first)
            for r in insts
        ]
        prefix = f"{body.prefix}.{local}" if body.prefix else local
        self._loop(stmt, iterations, self._prefixed(body, body.insts, prefix), var, "0")

    def _loop(self, stmt, iterations: list[list], body: _Body, var: str, start: str) -> None:
        """``for i in range(count):`` with each iteration's items named ``prefix.{start + i}``:
        a layer or block call per iteration, or an iteration's whole body."""
        counts = [len(it) for it in iterations]
        count = body.unifier.text(counts, _count_hint(stmt), "count")
        if not any(counts):
            return
        loop = LOOP_VARS[body.loop % len(LOOP_VARS)]
        index = loop if start == "0" else f"{start} + {loop}"
        items = [it for its in iterations for it in its]
        inner = _Body(body.fn, body.unifier.loop(counts, loop), body.insts, "", body.lines)
        inner.live, inner.loop, inner.named = body.live, body.loop + 1, body.named
        mark = len(body.lines)
        first = self.insts[items[0][1]] if items[0][0] == "scope" else None
        if first is not None and first.scope.kind == "iteration":
            inner.insts = [self.insts[i] for _, i in items]
            inner.prefix = f"{body.prefix}.{{{index}}}"
            result = self.body(first.scope.definition, inner, var, var)
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
        first = self.insts[index].first
        return first if first is not None else -1

    # -- values ---------------------------------------------------------------------------------

    def ctor(self, ctors: list[Ctor], nodes: list[int], body: _Body, name: str) -> str:
        """A layer constructor written once for every row."""
        first = ctors[0]
        if any(c.cls != first.cls for c in ctors):
            raise EmitError(f"{self.model.nodes[nodes[0]].name}: instances differ in layer")
        parts = []
        for j, _ in enumerate(first.args):
            parts.append(self.value([c.args[j] for c in ctors], nodes, body, f"{name}_{j}"))
        for key, _, default in first.kwargs:
            vs = [dict((k, x) for k, x, _ in c.kwargs)[key] for c in ctors]
            if default is not NO_DEFAULT and all(same(x.value, default) for x in vs):
                continue
            parts.append(f"{key}={self.value(vs, nodes, body, f'{name}_{key}')}")
        return f"{first.cls}({', '.join(parts)})"

    def value(self, vs: list[V], nodes: list[int], body: _Body, name: str) -> str:
        """One constructor argument."""
        hint = None
        source = vs[0].source
        if source and source.startswith("param:"):
            raw = self.checked.bindings.get(nodes[0], {}).get(source[6:])
            if raw is not None and raw.source is not None:
                hint = to_python(raw.source, {n: n for n in names_in(raw.source)})
        return body.unifier.text([v.value for v in vs], hint, name)

    @staticmethod
    def literal_ctor(ctor: Ctor, name: str | None) -> str:
        """A constructor with literal arguments (the model's own layers)."""
        parts = [py(v.value) for v in ctor.args]
        for key, v, default in ctor.kwargs:
            if default is NO_DEFAULT or not same(v.value, default):
                parts.append(f"{key}={py(v.value)}")
        if name is not None:
            parts.append(f"name={py(name)}")
        return f"{ctor.cls}({', '.join(parts)})"


def _form(plan: KerasPlan) -> tuple:
    """What must agree between the instances of one statement: the layers and the call."""
    return (plan.layer.cls, tuple(c.cls for _, c in plan.before), plan.call)


def _named(ctor: str, name: str) -> str:
    """A layer constructor with ``name=`` added."""
    return ctor[:-1] + (", " if not ctor.endswith("()") else "") + f"name={name})"


def _fused(plan: KerasPlan) -> bool:
    kwargs = {k: v.value for k, v, _ in plan.layer.kwargs}
    return kwargs.get("activation") not in (None, "linear")


def _sum(terms: list[str]) -> str:
    """``terms`` added up: the numbers folded into one, the expressions kept."""
    number = sum(int(t) for t in terms if t.isdigit())
    rest = [t for t in terms if not t.isdigit()]
    return " + ".join(([str(number)] if number or not rest else []) + rest)


def _fstring(prefix: str) -> str:
    return f'f"{prefix}"' if "{" in prefix else py(prefix)


def _count_hint(stmt) -> str | None:
    value = count_value(stmt) if stmt is not None else None
    return to_python(value, {n: n for n in names_in(value)}) if value is not None else None


def _call_hints(inst: Instance, stmt) -> dict[str, str]:
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


def _literal(text: str):
    try:
        return eval(text, {"__builtins__": {}}, {})
    except Exception:
        return object()
