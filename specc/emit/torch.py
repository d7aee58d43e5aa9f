"""The PyTorch backend: the spec's structure as ``nn.Module`` classes.

The model is one class; every block definition is one class, instantiated per call with its
arguments; a ``repeat`` is an ``nn.Sequential`` of its iterations and a ``sequential`` group an
``nn.Sequential`` of its items; an iteration with several statements is a class of its own.
Classes are written from the spec's definitions, walking their statements with every instance
at once (:mod:`specc.emit.structure`), so an ``if`` inside a block is an ``if`` in the class.
Keras's semantics are written out where PyTorch's defaults differ (see DESIGN.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from specc.compiler import CheckedModel
from specc.emit.environment import Code, EmitError, py
from specc.emit.planning import contexts, plan, plan_model
from specc.emit.structure import (
    Candidate,
    Instance,
    Unifier,
    class_name,
    count_value,
    expression_candidates,
    identifier,
    input_of,
    instances,
    repeat_items,
    same,
)
from specc.emit.torch_parts import (
    FIRST,
    PREFIXES,
    Val,
    Wrappers,
    activate,
    activation_module,
    apply_text,
    convert,
    identity,
    layout_of,
    out_layout,
)
from specc.expansion import name_clause_as_arg
from specc.exprs import names_in, to_python
from specc.layers.activations import torch_call
from specc.plans import NO_DEFAULT, Ctor, TorchPlan, V
from specc.syntax import Call, Statement

# the output activations ``forward(x, logits=True)`` skips, and how the scores are recovered
# when the activation is inside a block's class (Keras's own losses on probabilities)
LOGIT_ACTIVATIONS = {
    "softmax": "torch.log({x}.clamp_min(1e-7))",
    "sigmoid": "torch.logit({x}, eps=1e-7)",
}


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


class _Scope:
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

    def narrowed(self, rows: list[int]) -> _Scope:
        """The same body for some of its rows."""
        inner = _Scope(self.cls, self.unifier.restrict(rows), [self.insts[r] for r in rows])
        inner.live, inner.depth, inner.named = self.live, self.depth, self.named
        return inner

    def looped(self, counts: list[int]) -> _Scope:
        """The iterations of a repeat in every row (``insts`` are not per iteration)."""
        var = LOOP_VARS[self.depth % len(LOOP_VARS)]
        inner = _Scope(self.cls, self.unifier.loop(counts, var), self.insts)
        inner.live, inner.depth, inner.named = self.live, self.depth + 1, self.named
        return inner

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.live:
            k += 1
            name = f"{base}_{k}"
        self.live.add(name)
        return name


LOOP_VARS = ("i", "j", "k", "m")


class TorchEmitter:
    """Writes the classes of one checked spec."""

    def __init__(self, checked: CheckedModel):
        self.checked = checked
        self.model = checked.model
        self.plans: dict[int, TorchPlan] = plan_model(checked, "torch")
        self.contexts = contexts(checked)
        self.insts = instances(checked)
        self.by_key: dict[tuple, list[Instance]] = {}
        for found in self.insts:
            self.by_key.setdefault(found.scope.key, []).append(found)
        self.classes: dict[tuple, TorchClass] = {}
        self.order: list[TorchClass] = []
        self.names: set[str] = set()
        self.wrappers = Wrappers()
        self.helpers: list[str] = []
        self.inits: dict[str, str] = {}  # nn class -> init rule
        self.uses: set[str] = set()
        self.references = set(self.model.references)

    # -- driving ----------------------------------------------------------------------------

    def run(self) -> TorchClass:
        """Write every class; returns the model's."""
        return self.class_for(self.insts[0])

    def plans_of(self, nodes: list[int]) -> list[TorchPlan]:
        """The plans of one statement's nodes in every row, in one form: when the rows need
        different modules (``padding=same`` with a stride that is a block parameter), every
        row gets the form that is right for any input size."""
        plans = [self.plans[n] for n in nodes]
        if any(_form(p) != _form(plans[0]) for p in plans):
            for n in nodes:
                self.plans[n] = plan(replace(self.contexts[n], generic=True), "torch")
            plans = [self.plans[n] for n in nodes]
            if any(_form(p) != _form(plans[0]) for p in plans):
                name = self.model.nodes[nodes[0]].name
                raise EmitError(f"{name}: its instances need different PyTorch modules")
        for p in plans:
            self._register(p)
        return plans

    def _register(self, plan: TorchPlan) -> None:
        for helper in plan.helpers:
            if helper not in self.helpers:
                self.helpers.append(helper)
        if plan.init and plan.init_class:
            known = self.inits.setdefault(plan.init_class, plan.init)
            if known != plan.init:  # isinstance dispatch would skip one of the two
                raise EmitError(f"two init rules for {plan.init_class}")

    def class_for(self, inst: Instance) -> TorchClass:
        """The class of ``inst``'s definition, written once for all its instances."""
        key = inst.scope.key
        if key in self.classes:
            return self.classes[key]
        rows = self.by_key[key]
        root = key == ("model",)
        base = self.model.name if root else self._class_base(inst)
        name, k = class_name(base), 1
        while name in self.names:
            k += 1
            name = f"{class_name(base)}{k}"
        self.names.add(name)
        cls = TorchClass(name, key, self._doc(inst, root), rows, root=root)
        cls.row = {r.scope.index: k for k, r in enumerate(rows)}
        self.classes[key] = cls
        self._write(cls)
        self.order.append(cls)
        return cls

    def _class_base(self, inst: Instance) -> str:
        if inst.scope.kind == "block":
            return inst.scope.key[1]
        parent = self.model.scopes[inst.scope.parent]
        return parent.local if parent.local else "iteration"

    def _doc(self, inst: Instance, root: bool) -> str:
        if root:
            return f"{self.model.name} as a PyTorch module (channels-first, Keras's semantics)."
        if inst.scope.kind == "block":
            return f"The spec's block `{inst.scope.key[1]}`."
        repeat = self.model.scopes[inst.scope.parent]
        return f"One iteration of `{repeat.name}` (the body of its repeat)."

    # -- one class ----------------------------------------------------------------------------

    def _write(self, cls: TorchClass) -> None:
        envs = []
        for inst in cls.rows:
            env = dict(inst.env)
            source = input_of(self.checked, inst)
            if source is not None:
                env["in_channels"] = self.checked.infos[source].shape[-1]
            envs.append(env)
        formals = [f.name for f in cls.rows[0].scope.formals]
        definition = cls.rows[0].scope.definition
        free = sorted({n for v in _arg_values(definition) for n in names_in(v)} & set(envs[0]))
        params = formals or free  # an iteration class takes the block parameters it uses
        unifier = Unifier(envs, taken=set(params) | {"in_channels", "self", "x"})
        if not cls.root:
            unifier.candidates.append(
                Candidate("in_channels", [env.get("in_channels") for env in envs])
            )
        unifier.candidates += expression_candidates(definition, envs)
        scope = _Scope(cls, unifier, list(cls.rows))
        rank = self._rank_in(cls)
        val = Val("x", layout_of(rank, FIRST), rank)
        if cls.root:
            self._inputs(cls, scope)
        result = self.body(definition, scope, val, "x")
        if cls.root:
            self._model_output(cls, scope, result)
        else:
            cls.forward.append(f"return {convert(result.var, result.rank, result.layout, FIRST)}")
        self._signature(cls, unifier, params)

    def _inputs(self, cls: TorchClass, scope: _Scope) -> None:
        """The model's inputs: ``x``, or one argument of ``forward`` per named input."""
        for index in self.model.inputs:
            node = self.model.nodes[index]
            rank = len(self.checked.infos[index].shape)
            # a lone input is `x`, unless a later layer reads it by name: `x` is overwritten
            alone = len(self.model.inputs) == 1 and index not in self.references
            var = "x" if alone else self._variable(scope, node.name)
            scope.named[index] = Val(var, layout_of(rank, FIRST), rank)
            cls.inputs.append(var)

    @staticmethod
    def _variable(scope: _Scope, name: str) -> str:
        base = identifier(name.rsplit(".", 1)[-1])
        return scope.fresh(base if base not in ("self", "logits") else f"{base}_value")

    def remember(self, scope: _Scope, node: int | None, val: Val) -> Val:
        """After a statement: a layer that later ones read by name gets a variable of its own
        (the running variable is overwritten by the next statement)."""
        if node is None or node not in self.references or node in scope.named:
            return val
        var = self._variable(scope, self.model.nodes[node].name)
        scope.cls.forward.append(f"{var} = {val.var}")
        scope.named[node] = Val(var, val.layout, val.rank)
        return val

    def _rank_in(self, cls: TorchClass) -> int:
        inst = cls.rows[0]
        source = 0 if cls.root else input_of(self.checked, inst)
        return len(self.checked.infos[source].shape) if source is not None else 3

    def _signature(self, cls: TorchClass, unifier: Unifier, params) -> None:
        if cls.root:
            return
        used = unifier.used | set(cls.stored)
        if "in_channels" in used:
            cls.params.append(("in_channels", None))
            cls.values["in_channels"] = [e["in_channels"] for e in unifier.envs]
        defaults = {f.name: f.default for f in cls.rows[0].scope.formals}
        for name in params:
            if name not in used:
                continue
            default = defaults.get(name)
            text = to_python(default, {}) if default is not None else None
            cls.params.append((name, text))
            cls.values[name] = [e.get(name) for e in unifier.envs]
        for name, values in unifier.extras:
            cls.params.append((name, None))
            cls.values[name] = values

    def output_activation(self, node: int) -> str | None:
        """``softmax`` or ``sigmoid`` when output ``node`` ends in one (``forward(x,
        logits=True)`` then skips it: the scores the training losses expect), else None."""
        act = self.plans[node].activation
        return act.name if act is not None and act.name in LOGIT_ACTIVATIONS else None

    def logit_activations(self) -> list[str]:
        """The activations that ``logits=True`` skips, over every output, each once."""
        found = (self.output_activation(o) for o in self.model.outputs)
        return list(dict.fromkeys(a for a in found if a is not None))

    def _model_output(self, cls: TorchClass, scope: _Scope, result: Val) -> None:
        """The model class returns probabilities, and logits with ``logits=True``; several
        outputs as a tuple, in the order ``output`` names them."""
        logits, probs = [], []
        for node in self.model.outputs:
            val = scope.named.get(node, result)
            x = convert(val.var, val.rank, val.layout, FIRST)
            act = self.output_activation(node)
            if act is None:
                logits.append(x)
                probs.append(x)
            elif self.model.nodes[node].scope == 0:
                self.uses.add("F" if act == "softmax" else "torch")
                logits.append(x)
                probs.append(torch_call(act, x))
            else:
                # the activation is inside a block's class: the scores recovered from it
                self.uses.add("torch")
                logits.append(LOGIT_ACTIVATIONS[act].format(x=x))
                probs.append(x)
        if logits != probs:
            cls.forward.append("if logits:")
            cls.forward.append(f"    return {', '.join(logits)}")
        cls.forward.append(f"return {', '.join(probs)}")

    # -- statements -----------------------------------------------------------------------------

    def body(self, stmts: tuple, scope: _Scope, val: Val, target: str) -> Val:
        """Write a body's statements; each reads ``val`` and writes ``target``."""
        for stmt in stmts:
            val = self.statement(stmt, scope, val, target)
        return val

    def statement(self, stmt, scope: _Scope, val: Val, target: str) -> Val:
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
        return self.child([i for _, i in items], stmt, scope, val, target)

    def layer(self, nodes: list[int], scope: _Scope, val: Val, target: str) -> Val:
        """A layer: its submodule in ``__init__`` and its step in ``forward``."""
        plans = self.plans_of(nodes)
        plan = plans[0]
        node = self.model.nodes[nodes[0]]
        rank_out = len(self.checked.infos[node.index].shape)
        if node.kind == "input":
            return scope.named.get(node.index, val)
        if plan.fused_into is not None or identity(plan):
            source = self._inputs_of(node, scope, val)[0]
            return self.remember(
                scope, node.index, Val(source.var, layout_of(rank_out, source.layout), rank_out)
            )
        attr = node.name.rsplit(".", 1)[-1]
        module = f"self.{attr}"
        if plan.module is not None:
            ctor = self.ctor([p.module for p in plans], nodes, scope, attr)
            scope.cls.init.append(f"self.{attr} = {ctor}")
        act = self._activation(plans, nodes)
        ins = self._inputs_of(node, scope, val)
        layouts = {v.layout for v in ins}
        have = ins[0].layout if len(layouts) == 1 else FIRST
        want = plan.layout_in if plan.layout_in != "any" else have
        xs = [convert(v.var, v.rank, v.layout, want) for v in ins]
        expr = apply_text(plan, module, xs, ins[0].rank, want if want != "any" else have)
        self.uses |= set(PREFIXES.findall(plan.apply))
        layout = out_layout(plan, rank_out, want if want != "any" else have)
        if plan.unpack:
            scope.cls.forward.append(f"{target}, _ = {expr}")
            expr = target
        for post in plan.post:
            expr = post.format(x=expr)
        if act is not None:
            expr = activate(act, expr, rank_out, layout)
            self.uses |= set(PREFIXES.findall(expr))
        if expr != target:
            scope.cls.forward.append(f"{target} = {expr}")
        return self.remember(scope, node.index, Val(target, layout, rank_out))

    def _inputs_of(self, node, scope: _Scope, val: Val) -> list[Val]:
        """Where a node's inputs are: the running value, or the variables of named layers."""
        found = []
        for k, i in enumerate(node.inputs):
            if i in scope.named:
                found.append(scope.named[i])
            elif k == 0:
                found.append(val)
            else:
                raise EmitError(f"{node.name}: its input {self.model.nodes[i].name} is gone")
        return found

    def _activation(self, plans: list[TorchPlan], nodes: list[int]):
        acts = [p.activation for p in plans]
        if any(a != acts[0] for a in acts):
            names = sorted({a.name if a else "none" for a in acts})
            raise EmitError(
                f"{self.model.nodes[nodes[0]].name}: the block's instances use different "
                f"activations ({', '.join(names)}); the PyTorch backend writes one class per block"
            )
        act = acts[0]
        outputs = [o for o in self.model.outputs if o in nodes]
        if (
            act is not None
            and act.name in LOGIT_ACTIVATIONS
            and outputs
            and self.model.nodes[outputs[0]].scope == 0
        ):
            return None  # forward applies it last, after `if logits: return`
        return act

    def conditional(self, stmt: Statement, scope: _Scope, val: Val, target: str) -> Val:
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

    def _settle(self, scope: _Scope, result: Val, target: str) -> Val:
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

    def residual(self, stmt: Statement, scope: _Scope, val: Val, target: str) -> Val:
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

    def branch(self, stmt: Statement, scope: _Scope, val: Val, target: str) -> Val:
        """``branch``: every path from the same input into its own variable, then merged."""
        outs, made = [], []
        for j, clause in enumerate(stmt.clauses):
            var = scope.fresh(f"branch_{j + 1}")
            made.append(var)
            outs.append(self.body(clause.body, scope, val, var))
        result = self.merge(stmt, scope, outs, target)
        scope.live.difference_update(made)
        return result

    def merge(self, stmt: Statement, scope: _Scope, outs: list[Val], target: str) -> Val:
        """The ``add`` or ``concat`` node of a residual or branch."""
        items = [inst.item(stmt.name_span) for inst in scope.insts]
        if any(item is None for item in items):
            return outs[0]
        node = self.model.nodes[items[0][1]]
        plan = self.plans[node.index]
        layouts = {o.layout for o in outs}
        layout = layouts.pop() if len(layouts) == 1 else FIRST
        inputs = [convert(o.var, o.rank, o.layout, layout) for o in outs]
        rank = len(self.checked.infos[node.index].shape)
        expr = apply_text(plan, "", inputs, rank, layout)
        self.uses |= set(PREFIXES.findall(plan.apply))
        scope.cls.forward.append(f"{target} = {expr}")
        return self.remember(scope, node.index, Val(target, layout_of(rank, layout), rank))

    # -- child scopes: block instances, repeats, groups ------------------------------------------

    def child(self, scopes: list[int], stmt, scope: _Scope, val: Val, target: str) -> Val:
        """A block call, ``repeat`` or ``sequential`` group: one submodule."""
        first = self.insts[scopes[0]]
        attr = identifier(first.scope.local)
        text = self.module_of(scopes, stmt, scope, attr)
        scope.cls.init.append(f"self.{attr} = {text}")
        x = convert(val.var, val.rank, val.layout, FIRST)
        scope.cls.forward.append(f"{target} = self.{attr}({x})")
        last = first.last
        rank = len(self.checked.infos[last].shape) if last is not None else val.rank
        return self.remember(scope, last, Val(target, layout_of(rank, FIRST), rank))

    def module_of(self, scopes: list[int], stmt, scope: _Scope, name: str) -> str:
        """The constructor text of a child scope, written once for every row."""
        kind = self.insts[scopes[0]].scope.kind
        if kind in ("block", "iteration"):
            return self.instantiate(scopes, stmt, scope, name)
        if kind == "sequential":
            return self.sequential(scopes, scope, name)
        return self.repeat(scopes, stmt, scope, name)

    def instantiate(self, scopes: list[int], stmt, scope: _Scope, name: str) -> str:
        """``Block(args)``: the child's class, its parameters unified in this class."""
        child = self.class_for(self.insts[scopes[0]])
        rows = [child.row[s] for s in scopes]
        args, keyword = [], False
        hints = self._call_hints(self.insts[scopes[0]], stmt)
        for pname, default in child.params:
            values = [child.values[pname][r] for r in rows]
            if default is not None and all(same(v, _default(default)) for v in values):
                keyword = True
                continue
            derived = pname == "in_channels" and not scope.cls.root
            text = scope.unifier.text(values, hints.get(pname), f"{name}_{pname}", derived)
            if keyword or default is not None:
                args.append(f"{pname}={text}")
                keyword = True
            else:
                args.append(text)
        return f"{child.name}({', '.join(args)})"

    def _call_hints(self, inst: Instance, stmt) -> dict[str, str]:
        """The spec's arguments of a block call (or an iteration's parameters), as Python
        expressions of the calling body's parameters, by parameter name."""
        if inst.scope.kind == "iteration":
            return {name: name for name in inst.env}
        if stmt is None:
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

    def sequential(self, scopes: list[int], scope: _Scope, name: str) -> str:
        """``nn.Sequential(...)`` of a group's items (a repeat inside is spliced in)."""
        self.uses.add("nn")
        inst = self.insts[scopes[0]]
        items: list[str] = []
        for stmt in inst.scope.definition:
            items += self.group_items(stmt, scopes, scope, name)
        return "nn.Sequential(" + ", ".join(items) + ")"

    def group_items(self, stmt, scopes: list[int], scope: _Scope, name: str) -> list[str]:
        """The nn.Sequential items a group statement makes."""
        if isinstance(stmt, Statement) and stmt.name in ("if", "repeat", "sequential"):
            stmt = name_clause_as_arg(stmt)
        insts = [self.insts[s] for s in scopes]
        found = [
            repeat_items(inst, stmt)
            if isinstance(stmt, Statement) and stmt.name == "repeat"
            else inst.items.get(stmt.span, [])
            for inst in insts
        ]
        if isinstance(stmt, Statement) and stmt.name == "if":
            return self.group_if(stmt, scopes, scope, name)
        if isinstance(stmt, Statement) and stmt.name == "repeat":
            counts = [len(f) for f in found]
            if not any(counts):
                return []
            inner = scope.looped(counts)
            texts = self.item_texts([it for f in found for it in f], inner, name)
            count = scope.unifier.text(counts, _count_hint(stmt), f"{name}_count")
            var = _loop_var(inner, " ".join(texts))
            if len(texts) == 1:
                return [f"*({texts[0]} for {var} in range({count}))"]
            group = ", ".join(texts)
            return [f"*(m for {var} in range({count}) for m in ({group}))"]
        if any(not f for f in found):
            return []
        return self.item_texts([f[0] for f in found], scope, name)

    def group_if(self, stmt: Statement, scopes: list[int], scope: _Scope, name: str) -> list:
        """``if`` inside a group: ``*([items] if COND else [others])`` (or the items of the
        side every row takes)."""
        insts = [self.insts[s] for s in scopes]
        taken = [dict(inst.scope.decisions).get(stmt.span) for inst in insts]
        then = next(c for c in stmt.clauses if c.name is None)
        other = next((c for c in stmt.clauses if c.name == "else"), None)
        sides = []
        for flag, clause in ((True, then), (False, other)):
            rows = [r for r, t in enumerate(taken) if t is flag]
            items: list[str] = []
            if clause is not None and rows:
                inner = scope.narrowed(rows)
                for inner_stmt in clause.body:
                    items += self.group_items(inner_stmt, [scopes[r] for r in rows], inner, name)
            sides.append((rows, items))
        (rows_t, items_t), (rows_e, items_e) = sides
        if not rows_e:
            return items_t
        if not rows_t:
            return items_e
        cond = stmt.args[0].value
        text = to_python(cond, {n: n for n in names_in(cond)})
        scope.unifier.use(names_in(cond))
        return [f"*([{', '.join(items_t)}] if {text} else [{', '.join(items_e)}])"]

    def item_texts(self, items: list, scope: _Scope, name: str) -> list[str]:
        """A Sequential item (and its activation, for a layer with a fused one)."""
        if items[0][0] == "scope":
            inst = self.insts[items[0][1]]
            return [self.module_of([i for _, i in items], _statement_at(inst), scope, name)]
        nodes = [i for _, i in items]
        plans = self.plans_of(nodes)
        plan = plans[0]
        node = self.model.nodes[nodes[0]]
        rank_in = len(self.checked.infos[node.inputs[0]].shape)
        rank_out = len(self.checked.infos[node.index].shape)
        if identity(plan):
            self.uses.add("nn")
            return ["nn.Identity()"]
        act = self._activation(plans, nodes)
        if plan.module is None and plan.apply == "{x}" and act is not None:
            self.uses.add("nn")
            return [activation_module(act)]
        ctor = self.ctor([p.module for p in plans], nodes, scope, name) if plan.module else ""
        cls_call, _ = self.wrappers.module_form(plan, ctor, node.kind, rank_in, rank_out)
        out = [cls_call]
        if act is not None:
            out.append(activation_module(act))
        self.uses.add("nn")
        return out

    def item_text(self, items: list, scope: _Scope, name: str) -> str:
        texts = self.item_texts(items, scope, name)
        return texts[0] if len(texts) == 1 else "nn.Sequential(" + ", ".join(texts) + ")"

    def repeat(self, scopes: list[int], stmt, scope: _Scope, name: str) -> str:
        """``nn.Sequential(*(ITEM for i in range(COUNT)))``, ITEM written once for every
        iteration of every row."""
        self.uses.add("nn")
        repeats = [self.insts[s] for s in scopes]
        iterations = [
            sorted((it for items in r.items.values() for it in items), key=self._first_node)
            for r in repeats
        ]
        counts = [len(it) for it in iterations]
        count = scope.unifier.text(counts, _count_hint(stmt), f"{name}_count")
        if not any(counts):
            return "nn.Sequential()"
        inner = scope.looped(counts)
        item = self.item_text([it for its in iterations for it in its], inner, name)
        return f"nn.Sequential(*({item} for {_loop_var(inner, item)} in range({count})))"

    def _first_node(self, item) -> int:
        kind, index = item
        if kind == "node":
            return index
        inst = self.insts[index]
        return inst.first if inst.first is not None else -1

    # -- constructors -------------------------------------------------------------------------

    def ctor(self, ctors: list[Ctor], nodes: list[int], scope: _Scope, name: str) -> str:
        """A module constructor written once for every row."""
        first = ctors[0]
        if any(c.cls != first.cls or len(c.args) != len(first.args) for c in ctors):
            raise EmitError(f"{self.model.nodes[nodes[0]].name}: instances differ in module")
        self.uses |= set(PREFIXES.findall(first.cls + "."))
        parts = []
        for j in range(len(first.args)):
            parts.append(self.value([c.args[j] for c in ctors], nodes, scope, f"{name}_{j}"))
        for key, _, default in first.kwargs:
            vs = [dict((k, x) for k, x, _ in c.kwargs)[key] for c in ctors]
            if default is not NO_DEFAULT and all(same(x.value, default) for x in vs):
                continue
            parts.append(f"{key}={self.value(vs, nodes, scope, f'{name}_{key}')}")
        return f"{first.cls}({', '.join(parts)})"

    def value(self, vs: list[V], nodes: list[int], scope: _Scope, name: str) -> str:
        """One constructor argument, written once for every row."""
        if isinstance(vs[0].value, Ctor):
            return self.ctor([v.value for v in vs], nodes, scope, name)
        hint = self._hint(vs[0].source, nodes[0], scope)
        derived = vs[0].source == "in" and not scope.cls.root
        return scope.unifier.text([v.value for v in vs], hint, name, derived)

    def _hint(self, source: str | None, node_index: int, scope: _Scope) -> str | None:
        if source is None:
            return None
        if source == "in":
            return None if scope.cls.root else "in_channels"
        if source.startswith("param:"):
            raw = self.checked.bindings.get(node_index, {}).get(source[6:])
            if raw is None or raw.source is None:
                return None
            names = {n: n for n in names_in(raw.source)}
            return to_python(raw.source, names)
        return None


def _count_hint(stmt) -> str | None:
    """A ``repeat``'s count as the spec wrote it, in Python."""
    value = count_value(stmt) if stmt is not None else None
    return to_python(value, {n: n for n in names_in(value)}) if value is not None else None


def _loop_var(scope: _Scope, text: str) -> str:
    """The loop variable of ``scope``, or ``_`` when ``text`` does not use it."""
    var = scope.unifier.loop_var
    return var if re.search(rf"\b{var}\b", text) else "_"


def _form(plan: TorchPlan) -> tuple:
    """What must agree between the rows of one statement: the module and the forward step."""
    module = plan.module.cls if plan.module else None
    return (module, plan.apply, plan.layout_in, plan.unpack, plan.post, plan.helpers)


def _statement_at(inst: Instance):
    """The call statement that made a block instance (for its arguments' hints)."""
    return inst.scope.stmt


def _arg_values(definition: tuple):
    for node in definition:
        for arg in getattr(node, "args", ()):
            yield arg.value
        if isinstance(node, Statement):
            for clause in node.clauses:
                yield from _arg_values(clause.body)


def _default(text: str):
    try:
        return eval(text, {"__builtins__": {}}, {})
    except Exception:
        return object()


__all__ = ["Call", "Code", "TorchEmitter", "py"]
