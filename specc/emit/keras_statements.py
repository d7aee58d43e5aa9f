"""The statements of a Keras function body: layers, ``if``, ``residual``, ``branch`` and block
calls.

Each statement is a line ``target = layers.X(..., name=...)(source)`` written once for every
row of the function; a block call is a call of the block's function, its arguments unified
across the rows.  An ``if`` on which the rows differ is Python's ``if`` on the block's
parameters.  Groups and loops are :mod:`specc.emit.keras_groups`'s.
"""

from __future__ import annotations

from collections.abc import Callable

from specc.emit.environment import EmitError
from specc.emit.keras_body import FunctionBody, KerasFunction, named_layer
from specc.emit.keras_context import KerasContext
from specc.emit.keras_groups import KerasGroupWriter
from specc.emit.structure import Instance, call_hints, default_value, identifier, same
from specc.expansion import name_clause_as_arg
from specc.exprs import names_in, to_python
from specc.plans import KerasPlan
from specc.syntax import Statement


class KerasStatementWriter:
    """Writes statements into a function body, for :class:`specc.emit.keras.KerasEmitter`.

    ``context`` gives the plans, constructors and named values; ``function_for`` is the
    function of a block, written (by the emitter) the first time it is asked for.  Groups and
    loops are written by :attr:`groups`, which writes their items back through this writer.
    """

    def __init__(self, context: KerasContext, function_for: Callable[[Instance], KerasFunction]):
        self.context = context
        self.function_for = function_for
        self.groups = KerasGroupWriter(context, statements=self)

    def body(self, stmts: tuple, body: FunctionBody, source: str, target: str) -> str:
        """Write statements: the first reads ``source``, each writes ``target``; returns the
        variable holding the result (``source`` when nothing was written)."""
        var = source
        for stmt in stmts:
            var = self.statement(stmt, body, var, target)
        return var

    def statement(self, stmt, body: FunctionBody, source: str, target: str) -> str:
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

    def layer(self, nodes: list[int], body: FunctionBody, source: str, target: str) -> str:
        """``target = layers.X(..., name=...)(source)`` (``inputs = keras.Input(...)``)."""
        node = self.context.model.nodes[nodes[0]]
        plans = [self.context.plans[n] for n in nodes]
        local = node.name.rsplit(".", 1)[-1]
        if node.kind == "input":
            if len(self.context.model.inputs) == 1:
                body.lines.append(f"inputs = {self.context.literal_ctor(plans[0].layer, None)}")
                body.named[node.index] = "inputs"  # read by name later: `from=image`
                return "inputs"
            var = body.fresh(identifier(local))
            body.lines.append(f"{var} = {self.context.literal_ctor(plans[0].layer, node.name)}")
            body.named[node.index] = var
            return var
        sources = self._sources(nodes, body, source)
        self.apply(plans, nodes, body, sources, target, local, identifier(local))
        return self.context.remember(body, nodes, target)

    def _sources(self, nodes: list[int], body: FunctionBody, source: str) -> list[str]:
        """Where a statement's inputs are: a named layer's variable where every row reads
        that variable, else (the first input) the running value: the first iteration of a
        loop may read the model's input where the others read the previous iteration."""
        node = self.context.model.nodes[nodes[0]]
        rows = [self.context.model.nodes[n].inputs for n in nodes]
        found = []
        for k, i in enumerate(node.inputs):
            texts = {body.named.get(inputs[k]) if k < len(inputs) else None for inputs in rows}
            if len(texts) == 1 and i in body.named:
                found.append(body.named[i])
            elif k == 0:
                found.append(source)
            else:
                raise EmitError(
                    f"{node.name}: its input {self.context.model.nodes[i].name} is gone"
                )
        return found

    def apply(
        self,
        plans: list[KerasPlan],
        nodes: list[int],
        body: FunctionBody,
        sources: list[str],
        target: str,
        local: str,
        hint: str,
    ) -> None:
        """``target = ...(sources)``: the layers a plan asks for before its own (named
        ``local.suffix``), then the layer itself, called as the plan says."""
        plans = self.context.in_one_form(plans, nodes)
        source = sources[0] if len(sources) == 1 else "[" + ", ".join(sources) + "]"
        for j, (suffix, _) in enumerate(plans[0].before):
            ctor = self.context.ctor(
                [p.before[j][1] for p in plans], nodes, body, f"{hint}_{suffix}"
            )
            name = body.name_of(f"{local}.{suffix}")
            body.lines.append(f"{target} = {named_layer(ctor, name)}({source})")
            source = target
        ctor = self.context.ctor([p.layer for p in plans], nodes, body, hint)
        layer = named_layer(ctor, body.name_of(local))
        call = plans[0].call.format(layer=layer, x=source, inputs=sources)
        body.lines.append(f"{target} = {call}")

    def merge_statement(self, stmt: Statement, body: FunctionBody, source: str, target: str) -> str:
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
        node = self.context.model.nodes[items[0][1]]
        local = node.name.rsplit(".", 1)[-1]
        ctor = self.context.literal_ctor(self.context.plans[node.index].layer, None)
        body.lines.append(
            f"{target} = {named_layer(ctor, body.name_of(local))}([{', '.join(outs)}])"
        )
        return self.context.remember(body, [it[1] for it in items], target)

    def conditional(self, stmt: Statement, body: FunctionBody, source: str, target: str) -> str:
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
            inner = body.narrowed([r for r, t in enumerate(taken) if t is flag])
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

    def child(self, scopes: list[int], stmt, body: FunctionBody, source: str, target: str) -> str:
        """A block call, ``repeat`` or ``sequential`` group."""
        insts = [self.context.insts[s] for s in scopes]
        kind = insts[0].scope.kind
        local = insts[0].scope.local
        if kind == "block":
            result = self.call(insts, stmt, body, source, target, body.name_of(local))
            return self.context.remember(body, [inst.last for inst in insts], result)
        if source != target:  # groups and loops update one variable in place
            body.lines.append(f"{target} = {source}")
        if kind == "sequential":
            prefix = f"{body.prefix}.{local}" if body.prefix else local
            self.groups.group(insts, body.prefixed(insts, prefix), target)
        else:
            self.groups.repeat(insts, stmt, body, target, local)
        return self.context.remember(body, [inst.last for inst in insts], target)

    def call(
        self, insts: list[Instance], stmt, body: FunctionBody, source: str, target: str, name: str
    ) -> str:
        """``target = block(source, args..., name=...)``."""
        fn = self.function_for(insts[0])
        rows = [fn.row[inst.scope.index] for inst in insts]
        hints = call_hints(insts[0], stmt)
        args, keyword = [source], False
        for pname, default in fn.params:
            values = [fn.values[pname][r] for r in rows]
            if default is not None and all(same(v, default_value(default)) for v in values):
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
