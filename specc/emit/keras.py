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

from specc.compiler import CheckedModel
from specc.emit.environment import EmitError, py
from specc.emit.keras_body import FunctionBody, KerasFunction
from specc.emit.keras_groups import KerasGroupWriter
from specc.emit.keras_statements import KerasStatementWriter
from specc.emit.planning import contexts, plan_model
from specc.emit.structure import (
    Instance,
    Unifier,
    expression_candidates,
    identifier,
    instances,
    same,
)
from specc.exprs import names_in, to_python
from specc.plans import KERAS_CALL, NO_DEFAULT, Ctor, KerasPlan, V


class KerasEmitter(KerasStatementWriter, KerasGroupWriter):
    """Writes the Keras source of one checked spec.

    Here: a plain stack's layers, ``build_model()``'s body, the block functions and
    constructors; a body's statements are :class:`KerasStatementWriter`'s, its groups and loops
    :class:`KerasGroupWriter`'s.
    """

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
            self.add_helpers(self.plans[index])

    def add_helpers(self, plan: KerasPlan) -> None:
        """Note the custom layer classes ``plan`` needs (once each, in the order of first use)."""
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
        body = FunctionBody(None, unifier, [root], "", [])
        out = self.body(root.scope.definition, body, "inputs", "x")
        inputs = [body.named.get(i, "inputs") for i in self.model.inputs]
        outputs = [body.named.get(o, out) for o in self.model.outputs]
        ins = inputs[0] if len(inputs) == 1 else "[" + ", ".join(inputs) + "]"
        outs = outputs[0] if len(outputs) == 1 else "[" + ", ".join(outputs) + "]"
        body.lines.append(f"return keras.Model({ins}, {outs}, name={py(self.model.name)})")
        return body.lines

    def remember(self, body: FunctionBody, node: int | None, var: str) -> str:
        """After a statement: a layer that later ones read by name keeps a variable of its
        own (the running variable is overwritten)."""
        if node is None or node not in self.references or node in body.named:
            return var
        name = body.fresh(identifier(self.model.nodes[node].name.rsplit(".", 1)[-1]))
        body.lines.append(f"{name} = {var}")
        body.named[node] = name
        return var

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
        body = FunctionBody(fn, unifier, rows, "{name}", [])
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

    # -- values ---------------------------------------------------------------------------------

    def ctor(self, ctors: list[Ctor], nodes: list[int], body: FunctionBody, name: str) -> str:
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

    def value(self, vs: list[V], nodes: list[int], body: FunctionBody, name: str) -> str:
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
