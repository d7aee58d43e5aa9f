"""The PyTorch backend: the spec's structure as ``nn.Module`` classes.

The model is one class; every block definition is one class, instantiated per call with its
arguments; a ``repeat`` is an ``nn.Sequential`` of its iterations and a ``sequential`` group an
``nn.Sequential`` of its items; an iteration with several statements is a class of its own.
Classes are written from the spec's definitions, walking their statements with every instance
at once (:mod:`specc.emit.structure`), so an ``if`` inside a block is an ``if`` in the class.
Keras's semantics are written out where PyTorch's defaults differ (see DESIGN.md).
"""

from __future__ import annotations

from specc.compiler import CheckedModel
from specc.emit.structure import (
    Candidate,
    Instance,
    Unifier,
    class_name,
    expression_candidates,
    input_of,
    input_rank,
)
from specc.emit.torch_class import ClassScope, TorchClass
from specc.emit.torch_context import TorchContext
from specc.emit.torch_modules import TorchSubmoduleWriter
from specc.emit.torch_parts import FIRST, LOGIT_ACTIVATIONS, Val, convert, layout_of
from specc.emit.torch_statements import TorchStatementWriter
from specc.exprs import names_in, to_python
from specc.layers.activations import torch_call
from specc.syntax import Statement


class TorchEmitter:
    """Writes the classes of one checked spec.

    Here: the classes, their signatures, the model's inputs and outputs.  What the writers share
    (plans, constructors, imports) is :attr:`context`'s; a body's statements are written by
    :attr:`statements`, its submodules (block instances, repeats, groups) by :attr:`modules`,
    which asks this emitter for the class of a block or iteration (:meth:`class_for`).
    """

    def __init__(self, checked: CheckedModel):
        self.context = TorchContext(checked)
        self.modules = TorchSubmoduleWriter(self.context, class_for=self.class_for)
        self.statements = TorchStatementWriter(self.context, self.modules)
        self.checked = checked
        self.model = checked.model
        self.by_key: dict[tuple, list[Instance]] = {}
        for found in self.context.insts:
            self.by_key.setdefault(self.class_key(found), []).append(found)
        self.classes: dict[tuple, TorchClass] = {}
        self.order: list[TorchClass] = []
        self.names: set[str] = set()

    # -- driving ----------------------------------------------------------------------------

    def run(self) -> TorchClass:
        """Write every class; returns the model's."""
        return self.class_for(self.context.insts[0])

    def class_key(self, inst: Instance) -> tuple:
        """What the instances of one class share: their definition and the rank of their input
        (a block called on a vector and on an image is two classes)."""
        return (inst.scope.key, input_rank(self.context.checked, inst))

    def class_for(self, inst: Instance) -> TorchClass:
        """The class of ``inst``'s definition, written once for all its instances that see
        the same ranks."""
        key = self.class_key(inst)
        if key in self.classes:
            return self.classes[key]
        rows = self.by_key[key]
        root = inst.scope.key == ("model",)
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
            forms = sum(key[0] == inst.scope.key for key in self.by_key)
            rank = input_rank(self.checked, inst)
            if forms > 1 and rank is not None:  # one class per rank of input
                seen = {1: "vectors", 2: "sequences", 3: "images"}.get(rank, f"rank {rank}")
                return f"The spec's block `{inst.scope.key[1]}`, for its calls on {seen}."
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
        result = self.statements.body(definition, scope, val, "x")
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
            alone = len(self.model.inputs) == 1 and index not in self.context.references
            var = "x" if alone else self.context.variable(scope, node.name)
            scope.named[index] = Val(var, layout_of(rank, FIRST), rank)
            cls.inputs.append(var)

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

    def _model_output(self, cls: TorchClass, scope: ClassScope, result: Val) -> None:
        """The model class returns probabilities, and logits with ``logits=True``; several
        outputs as a tuple, in the order ``output`` names them."""
        logits, probs = [], []
        for node in self.model.outputs:
            val = scope.named.get(node, result)
            x = convert(val.var, val.rank, val.layout, FIRST)
            act = self.context.output_activation(node)
            if act is None:
                logits.append(x)
                probs.append(x)
            elif self.model.nodes[node].scope == 0:
                self.context.uses.add("F" if act == "softmax" else "torch")
                logits.append(x)
                probs.append(torch_call(act, x))
            else:
                # the activation is inside a block's class: the scores recovered from it
                self.context.uses.add("torch")
                logits.append(LOGIT_ACTIVATIONS[act].format(x=x))
                probs.append(x)
        if logits != probs:
            cls.forward.append("if logits:")
            cls.forward.append(f"    return {', '.join(logits)}")
        cls.forward.append(f"return {', '.join(probs)}")


def _arg_values(definition: tuple):
    for node in definition:
        for arg in getattr(node, "args", ()):
            yield arg.value
        if isinstance(node, Statement):
            for clause in node.clauses:
                yield from _arg_values(clause.body)


__all__ = ["TorchEmitter"]
