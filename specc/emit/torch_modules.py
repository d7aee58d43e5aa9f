"""The submodules of a PyTorch class: block instances, ``repeat`` and ``sequential`` groups.

A block call is an instance of the block's class, its arguments unified across the rows; a
``repeat`` is ``nn.Sequential(*(ITEM for i in range(COUNT)))`` and a ``sequential`` group an
``nn.Sequential`` of its items, every item channels-first in and out
(:class:`specc.emit.torch_parts.Wrappers`).
"""

from __future__ import annotations

from collections.abc import Callable

from specc.emit.environment import EmitError
from specc.emit.structure import (
    Instance,
    call_hints,
    count_hint,
    default_value,
    identifier,
    repeat_items,
    same,
)
from specc.emit.torch_class import ClassScope, TorchClass, loop_var
from specc.emit.torch_context import TorchContext
from specc.emit.torch_parts import FIRST, Val, activation_module, convert, identity, layout_of
from specc.expansion import name_clause_as_arg
from specc.exprs import names_in, to_python
from specc.syntax import Statement


class TorchSubmoduleWriter:
    """Writes child scopes as submodules, for :class:`specc.emit.torch.TorchEmitter`.

    ``context`` gives the plans, constructors and named values; ``class_for`` is the class of
    a block or iteration, written (by the emitter) the first time it is asked for.
    """

    def __init__(self, context: TorchContext, class_for: Callable[[Instance], TorchClass]):
        self.context = context
        self.class_for = class_for

    def child(self, scopes: list[int], stmt, scope: ClassScope, val: Val, target: str) -> Val:
        """A block call, ``repeat`` or ``sequential`` group: one submodule."""
        first = self.context.insts[scopes[0]]
        attr = identifier(first.scope.local)
        text = self.module_of(scopes, stmt, scope, attr)
        scope.cls.init.append(f"self.{attr} = {text}")
        x = convert(val.var, val.rank, val.layout, FIRST)
        scope.cls.forward.append(f"{target} = self.{attr}({x})")
        last = first.last
        rank = len(self.context.checked.infos[last].shape) if last is not None else val.rank
        return self.context.remember(scope, last, Val(target, layout_of(rank, FIRST), rank))

    def module_of(self, scopes: list[int], stmt, scope: ClassScope, name: str) -> str:
        """The constructor text of a child scope, written once for every row."""
        kind = self.context.insts[scopes[0]].scope.kind
        if kind in ("block", "iteration"):
            return self.instantiate(scopes, stmt, scope, name)
        if kind == "sequential":
            return self.sequential(scopes, scope, name)
        return self.repeat(scopes, stmt, scope, name)

    def instantiate(self, scopes: list[int], stmt, scope: ClassScope, name: str) -> str:
        """``Block(args)``: the child's class, its parameters unified in this class."""
        child = self.class_for(self.context.insts[scopes[0]])
        if any(s not in child.row for s in scopes):
            raise EmitError(
                f"{self.context.insts[scopes[0]].scope.span}: the iterations of a `repeat` "
                "see inputs of different ranks here (a layer before changes its rank), and "
                "the PyTorch backend writes one module for all of them; write the first "
                "iteration before the `repeat`"
            )
        rows = [child.row[s] for s in scopes]
        args, keyword = [], False
        hints = call_hints(self.context.insts[scopes[0]], stmt)
        for pname, default in child.params:
            values = [child.values[pname][r] for r in rows]
            if default is not None and all(same(v, default_value(default)) for v in values):
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

    def sequential(self, scopes: list[int], scope: ClassScope, name: str) -> str:
        """``nn.Sequential(...)`` of a group's items (a repeat inside is spliced in)."""
        self.context.uses.add("nn")
        inst = self.context.insts[scopes[0]]
        items: list[str] = []
        for stmt in inst.scope.definition:
            items += self.group_items(stmt, scopes, scope, name)
        return "nn.Sequential(" + ", ".join(items) + ")"

    def group_items(self, stmt, scopes: list[int], scope: ClassScope, name: str) -> list[str]:
        """The nn.Sequential items a group statement makes."""
        if isinstance(stmt, Statement) and stmt.name in ("if", "repeat", "sequential"):
            stmt = name_clause_as_arg(stmt)
        insts = [self.context.insts[s] for s in scopes]
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
            count = scope.unifier.text(counts, count_hint(stmt), f"{name}_count")
            var = loop_var(inner, " ".join(texts))
            if len(texts) == 1:
                return [f"*({texts[0]} for {var} in range({count}))"]
            group = ", ".join(texts)
            return [f"*(m for {var} in range({count}) for m in ({group}))"]
        if any(not f for f in found):
            return []
        return self.item_texts([f[0] for f in found], scope, name)

    def group_if(self, stmt: Statement, scopes: list[int], scope: ClassScope, name: str) -> list:
        """``if`` inside a group: ``*([items] if COND else [others])`` (or the items of the
        side every row takes)."""
        insts = [self.context.insts[s] for s in scopes]
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

    def item_texts(self, items: list, scope: ClassScope, name: str) -> list[str]:
        """A Sequential item (and its activation, for a layer with a fused one)."""
        if items[0][0] == "scope":
            inst = self.context.insts[items[0][1]]
            return [self.module_of([i for _, i in items], _statement_at(inst), scope, name)]
        nodes = [i for _, i in items]
        plans = self.context.plans_of(nodes)
        plan = plans[0]
        node = self.context.model.nodes[nodes[0]]
        rank_in = len(self.context.checked.infos[node.inputs[0]].shape)
        rank_out = len(self.context.checked.infos[node.index].shape)
        if identity(plan):
            self.context.uses.add("nn")
            return ["nn.Identity()"]
        act = self.context.layer_activation(plans, nodes)
        if plan.module is None and plan.apply == "{x}" and act is not None:
            self.context.uses.add("nn")
            return [activation_module(act)]
        ctor = (
            self.context.ctor([p.module for p in plans], nodes, scope, name) if plan.module else ""
        )
        args = {
            key: self.context.value([dict(p.apply_args)[key] for p in plans], nodes, scope,
                                    f"{name}_{key}")
            for key, _ in plan.apply_args
        }  # fmt: skip
        cls_call, _ = self.context.wrappers.module_form(
            plan, ctor, node.kind, rank_in, rank_out, args
        )
        out = [cls_call]
        if act is not None:
            out.append(activation_module(act))
        self.context.uses.add("nn")
        return out

    def item_text(self, items: list, scope: ClassScope, name: str) -> str:
        """One Sequential item: a layer and its activation wrapped in ``nn.Sequential``."""
        texts = self.item_texts(items, scope, name)
        return texts[0] if len(texts) == 1 else "nn.Sequential(" + ", ".join(texts) + ")"

    def repeat(self, scopes: list[int], stmt, scope: ClassScope, name: str) -> str:
        """``nn.Sequential(*(ITEM for i in range(COUNT)))``, ITEM written once for every
        iteration of every row."""
        self.context.uses.add("nn")
        repeats = [self.context.insts[s] for s in scopes]
        iterations = [
            sorted((it for items in r.items.values() for it in items), key=self._first_node)
            for r in repeats
        ]
        counts = [len(it) for it in iterations]
        count = scope.unifier.text(counts, count_hint(stmt), f"{name}_count")
        if not any(counts):
            return "nn.Sequential()"
        inner = scope.looped(counts)
        item = self.item_text([it for its in iterations for it in its], inner, name)
        return f"nn.Sequential(*({item} for {loop_var(inner, item)} in range({count})))"

    def _first_node(self, item) -> int:
        kind, index = item
        if kind == "node":
            return index
        inst = self.context.insts[index]
        return inst.first if inst.first is not None else -1


def _statement_at(inst: Instance):
    """The call statement that made a block instance (for its arguments' hints)."""
    return inst.scope.stmt
