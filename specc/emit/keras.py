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
from specc.emit.environment import py
from specc.emit.keras_body import FunctionBody, KerasFunction
from specc.emit.keras_context import KerasContext
from specc.emit.keras_statements import KerasStatementWriter
from specc.emit.structure import Instance, Unifier, expression_candidates, identifier
from specc.exprs import to_python
from specc.plans import KERAS_CALL


class KerasEmitter:
    """Writes the Keras source of one checked spec.

    Here: a plain stack's layers, ``build_model()``'s body and the block functions.  What the
    writers share (plans, names, constructors) is :attr:`context`'s; a body's statements are
    written by :attr:`statements` (its groups and loops by the group writer it owns), which asks
    this emitter for the function of a block (:meth:`function_for`).
    """

    def __init__(self, checked: CheckedModel):
        self.context = KerasContext(checked)
        self.statements = KerasStatementWriter(self.context, function_for=self.function_for)
        self.model = checked.model
        self.functions: dict[tuple, KerasFunction] = {}
        self.order: list[KerasFunction] = []

    def sequential(self) -> list[str] | None:
        """The layer constructors of a plain stack (no scopes, no merges), else None."""
        if len(self.model.scopes) > 1 or not self.model.is_sequential:
            return None
        if self.model.output != len(self.model.nodes) - 1:
            return None
        if any(plan.call != KERAS_CALL for plan in self.context.plans.values()):
            return None
        out = []
        for node in self.model.nodes:
            plan = self.context.plans[node.index]
            for suffix, before in plan.before:
                out.append(self.context.literal_ctor(before, f"{node.name}.{suffix}"))
            named = node.kind != "input"
            out.append(self.context.literal_ctor(plan.layer, node.name if named else None))
        return out

    def functional(self) -> list[str]:
        """The body of ``build_model()`` in the functional API."""
        root = self.context.insts[0]
        unifier = Unifier([{}])
        body = FunctionBody(None, unifier, [root], "", [])
        out = self.statements.body(root.scope.definition, body, "inputs", "x")
        inputs = [body.named.get(i, "inputs") for i in self.model.inputs]
        outputs = [body.named.get(o, out) for o in self.model.outputs]
        ins = inputs[0] if len(inputs) == 1 else "[" + ", ".join(inputs) + "]"
        outs = outputs[0] if len(outputs) == 1 else "[" + ", ".join(outputs) + "]"
        body.lines.append(f"return keras.Model({ins}, {outs}, name={py(self.model.name)})")
        return body.lines

    # -- functions ------------------------------------------------------------------------------

    def function_for(self, inst: Instance) -> KerasFunction:
        """The function of a block definition, written once for all its instances."""
        key = inst.scope.key
        if key in self.functions:
            return self.functions[key]
        rows = [i for i in self.context.insts if i.scope.key == key]
        base, k = identifier(key[1]), 1
        name = base
        while name in self.context.names:
            k += 1
            name = f"{base}_{k}"
        self.context.names.add(name)
        fn = KerasFunction(name, key, rows)
        fn.row = {r.scope.index: k for k, r in enumerate(rows)}
        self.functions[key] = fn
        envs = [dict(r.env) for r in rows]
        formals = [f.name for f in inst.scope.formals]
        unifier = Unifier(envs, taken=set(formals) | {"x", "name", "inputs"})
        unifier.candidates += expression_candidates(inst.scope.definition, envs)
        body = FunctionBody(fn, unifier, rows, "{name}", [])
        out = self.statements.body(inst.scope.definition, body, "x", "x")
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
