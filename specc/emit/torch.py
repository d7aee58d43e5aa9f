"""The PyTorch backend: the spec's structure as ``nn.Module`` classes.

The model is one class; every block definition is one class, instantiated per call with its
arguments; a ``repeat`` is an ``nn.Sequential`` of its iterations and a ``sequential`` group an
``nn.Sequential`` of its items; an iteration with several statements is a class of its own.
Classes are written from the spec's definitions, walking their statements with every instance
at once (:mod:`specc.emit.structure`), so an ``if`` inside a block is an ``if`` in the class.
Keras's semantics are written out where PyTorch's defaults differ (see DESIGN.md).
"""

from __future__ import annotations

from dataclasses import replace

from specc.compiler import CheckedModel
from specc.emit.environment import Code, EmitError, py
from specc.emit.planning import contexts, plan, plan_model
from specc.emit.structure import (
    Candidate,
    Instance,
    Unifier,
    class_name,
    expression_candidates,
    identifier,
    input_of,
    instances,
    same,
)
from specc.emit.torch_class import ClassScope, TorchClass
from specc.emit.torch_modules import TorchSubmoduleWriter
from specc.emit.torch_parts import (
    FIRST,
    LOGIT_ACTIVATIONS,
    PREFIXES,
    Val,
    Wrappers,
    convert,
    layout_of,
)
from specc.emit.torch_statements import TorchStatementWriter
from specc.exprs import names_in, to_python
from specc.layers.activations import torch_call
from specc.plans import NO_DEFAULT, Ctor, TorchPlan, V
from specc.syntax import Call, Statement


class TorchEmitter(TorchStatementWriter, TorchSubmoduleWriter):
    """Writes the classes of one checked spec.

    Here: the classes, their signatures, the model's inputs and outputs, and constructors; a
    body's statements are :class:`TorchStatementWriter`'s, its submodules (block instances,
    repeats, groups) :class:`TorchSubmoduleWriter`'s.
    """

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
        scope = ClassScope(cls, unifier, list(cls.rows))
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

    def _inputs(self, cls: TorchClass, scope: ClassScope) -> None:
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
    def _variable(scope: ClassScope, name: str) -> str:
        base = identifier(name.rsplit(".", 1)[-1])
        return scope.fresh(base if base not in ("self", "logits") else f"{base}_value")

    def remember(self, scope: ClassScope, node: int | None, val: Val) -> Val:
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

    def _model_output(self, cls: TorchClass, scope: ClassScope, result: Val) -> None:
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

    # -- constructors -------------------------------------------------------------------------

    def ctor(self, ctors: list[Ctor], nodes: list[int], scope: ClassScope, name: str) -> str:
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

    def value(self, vs: list[V], nodes: list[int], scope: ClassScope, name: str) -> str:
        """One constructor argument, written once for every row."""
        if isinstance(vs[0].value, Ctor):
            return self.ctor([v.value for v in vs], nodes, scope, name)
        hint = self._hint(vs[0].source, nodes[0], scope)
        derived = vs[0].source == "in" and not scope.cls.root
        return scope.unifier.text([v.value for v in vs], hint, name, derived)

    def _hint(self, source: str | None, node_index: int, scope: ClassScope) -> str | None:
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


def _form(plan: TorchPlan) -> tuple:
    """What must agree between the rows of one statement: the module and the forward step."""
    module = plan.module.cls if plan.module else None
    return (module, plan.apply, plan.layout_in, plan.unpack, plan.post, plan.helpers)


def _arg_values(definition: tuple):
    for node in definition:
        for arg in getattr(node, "args", ()):
            yield arg.value
        if isinstance(node, Statement):
            for clause in node.clauses:
                yield from _arg_values(clause.body)


__all__ = ["Call", "Code", "TorchEmitter", "py"]
