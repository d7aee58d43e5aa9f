"""What every writer of one spec's Keras source shares: the spec, its plans, the names taken
in the file, and the custom layer classes the plans need.

:class:`KerasContext` is handed to :class:`specc.emit.keras.KerasEmitter` and to the writers it
composes (:class:`specc.emit.keras_statements.KerasStatementWriter`,
:class:`specc.emit.keras_groups.KerasGroupWriter`); it also writes what they all write alike:
layer constructors and the variable of a layer read by name.
"""

from __future__ import annotations

from dataclasses import replace

from specc.compiler import CheckedModel
from specc.emit.environment import EmitError, py
from specc.emit.keras_body import FunctionBody
from specc.emit.planning import contexts, plan, plan_model
from specc.emit.structure import identifier, instances, same
from specc.exprs import names_in, to_python
from specc.plans import NO_DEFAULT, Ctor, KerasPlan, V


class KerasContext:
    """The state of one spec's Keras source being written, shared by its writers."""

    def __init__(self, checked: CheckedModel):
        self.checked = checked
        self.model = checked.model
        self.plans: dict[int, KerasPlan] = plan_model(checked, "keras")
        self.insts = instances(checked)
        self.references = set(self.model.references)
        self.contexts = contexts(checked)
        # the file's top-level names: functions, helper classes and the imports
        self.names: set[str] = {"build_model", "keras", "layers", "ops"}
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

    def in_one_form(self, plans: list[KerasPlan], nodes: list[int]) -> list[KerasPlan]:
        """``plans``, the plans of one statement's ``nodes`` in every row, in one form: when
        they differ, the form that is right for every instance."""
        if len({_form(p) for p in plans}) == 1:
            return plans
        # e.g. explicit padding that is `same` at stride 1 only, in a block whose instances
        # have different strides
        for n in nodes:
            self.plans[n] = plan(replace(self.contexts[n], generic=True), "keras")
            self.add_helpers(self.plans[n])
        plans = [self.plans[n] for n in nodes]
        if len({_form(p) for p in plans}) != 1:
            raise EmitError(f"{self.model.nodes[nodes[0]].name}: instances differ in layers")
        return plans

    def remember(self, body: FunctionBody, nodes: list[int | None], var: str) -> str:
        """After a statement (``nodes``: its result in every row): a layer that later ones
        read by name keeps a variable of its own (the running variable is overwritten), the
        same for every row."""
        rows = [n for n in nodes if n is not None]
        if not any(n in self.references for n in rows) or any(n in body.named for n in rows):
            return var
        name = body.fresh(identifier(self.model.nodes[rows[0]].name.rsplit(".", 1)[-1]))
        body.lines.append(f"{name} = {var}")
        for n in rows:
            body.named[n] = name
        return var

    # -- constructors ---------------------------------------------------------------------------

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


def _form(plan: KerasPlan) -> tuple:
    """What must agree between the instances of one statement: the layers and the call."""
    return (plan.layer.cls, tuple(c.cls for _, c in plan.before), plan.call)
