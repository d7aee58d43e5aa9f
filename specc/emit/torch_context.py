"""What every writer of one spec's PyTorch classes shares: the spec, its plans, and what the
classes written so far need from the file (helpers, init rules, imports).

:class:`TorchContext` is handed to :class:`specc.emit.torch.TorchEmitter` and to the writers it
composes (:class:`specc.emit.torch_statements.TorchStatementWriter`,
:class:`specc.emit.torch_modules.TorchSubmoduleWriter`); it also writes what they all write
alike: module constructors, the variable of a layer read by name, a layer's activation.
"""

from __future__ import annotations

from dataclasses import replace

from specc.compiler import CheckedModel
from specc.emit.environment import EmitError
from specc.emit.planning import contexts, plan, plan_model
from specc.emit.structure import identifier, instances, same
from specc.emit.torch_class import ClassScope
from specc.emit.torch_parts import LOGIT_ACTIVATIONS, PREFIXES, Val, Wrappers
from specc.exprs import names_in, to_python
from specc.plans import NO_DEFAULT, Ctor, TorchPlan, V


class TorchContext:
    """The state of one spec's PyTorch source being written, shared by its writers."""

    def __init__(self, checked: CheckedModel):
        self.checked = checked
        self.model = checked.model
        self.plans: dict[int, TorchPlan] = plan_model(checked, "torch")
        self.contexts = contexts(checked)
        self.insts = instances(checked)
        self.references = set(self.model.references)
        self.wrappers = Wrappers()
        self.helpers: list[str] = []
        self.inits: dict[str, str] = {}  # nn class -> init rule
        self.uses: set[str] = set()

    # -- plans --------------------------------------------------------------------------------

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
        ranks = {self._ranks(n) for n in nodes}
        if len(ranks) > 1 and not _rank_free(plans[0]):
            node = self.model.nodes[nodes[0]]
            raise EmitError(
                f"{node.span}: `{node.name}` sees inputs of different ranks in the iterations "
                "of a `repeat` (a layer before changes the rank), and the PyTorch backend "
                "writes one module for all of them; write the first iteration before the "
                "`repeat`"
            )
        for p in plans:
            self._register(p)
        return plans

    def _ranks(self, node: int) -> tuple:
        infos, inputs = self.checked.infos, self.model.nodes[node].inputs
        return tuple(len(infos[i].shape) for i in inputs), len(infos[node].shape)

    def _register(self, plan: TorchPlan) -> None:
        for helper in plan.helpers:
            if helper not in self.helpers:
                self.helpers.append(helper)
        if plan.init and plan.init_class:
            known = self.inits.setdefault(plan.init_class, plan.init)
            if known != plan.init:  # isinstance dispatch would skip one of the two
                raise EmitError(f"two init rules for {plan.init_class}")

    # -- activations --------------------------------------------------------------------------

    def layer_activation(self, plans: list[TorchPlan], nodes: list[int]):
        """The activation the layer applies in its own step, the same in every row (None when
        ``forward`` applies it last, after ``if logits: return``)."""
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

    def output_activation(self, node: int) -> str | None:
        """``softmax`` or ``sigmoid`` when output ``node`` ends in one (``forward(x,
        logits=True)`` then skips it: the scores the training losses expect), else None."""
        act = self.plans[node].activation
        return act.name if act is not None and act.name in LOGIT_ACTIVATIONS else None

    def logit_activations(self) -> list[str]:
        """The activations that ``logits=True`` skips, over every output, each once."""
        found = (self.output_activation(o) for o in self.model.outputs)
        return list(dict.fromkeys(a for a in found if a is not None))

    # -- variables ----------------------------------------------------------------------------

    @staticmethod
    def variable(scope: ClassScope, name: str) -> str:
        """A fresh variable of ``scope`` for the layer or input called ``name``."""
        base = identifier(name.rsplit(".", 1)[-1])
        return scope.fresh(base if base not in ("self", "logits") else f"{base}_value")

    def remember(self, scope: ClassScope, node: int | None, val: Val) -> Val:
        """After a statement: a layer that later ones read by name gets a variable of its own
        (the running variable is overwritten by the next statement)."""
        if node is None or node not in self.references or node in scope.named:
            return val
        var = self.variable(scope, self.model.nodes[node].name)
        scope.cls.forward.append(f"{var} = {val.var}")
        scope.named[node] = Val(var, val.layout, val.rank)
        return val

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


def _rank_free(plan: TorchPlan) -> bool:
    """Whether a plan's code is the same whatever the ranks of its input and output."""
    return (
        plan.layout_in == "any"
        and plan.layout_out is None
        and "{channels}" not in plan.apply
        and "{spatial}" not in plan.apply
    )


def _form(plan: TorchPlan) -> tuple:
    """What must agree between the rows of one statement: the module and the forward step."""
    module = plan.module.cls if plan.module else None
    return (module, plan.apply, plan.layout_in, plan.unpack, plan.post, plan.helpers)
