"""The plans of a whole checked model, for one backend: each node's kind computes its own
(:mod:`specc.plans`), from a context this module builds (consumers, flatten order, output);
then the peepholes a person would apply by hand run over them.
"""

from __future__ import annotations

from dataclasses import replace

from specc.compiler import CheckedModel
from specc.ir import Model
from specc.layers import lookup
from specc.plans import PlanContext, TorchPlan, V

# layers that act elementwise: a flatten feeding dense through them still feeds dense, and the
# flattened feature order passes through them
ELEMENTWISE = frozenset({"dropout", "activation", "batchnorm"})
# kinds whose PyTorch module can take a symmetric zero padding as its own ``padding=``
PADDING_ABSORBERS = frozenset({"conv2d", "depthwise_conv2d"})
# scopes whose layers are attributes of a class (not numbered items of nn.Sequential)
CLASS_SCOPES = frozenset({"model", "block", "iteration"})


def feeds(model: Model, index: int) -> tuple[str, ...]:
    """Kinds of the layers that consume node ``index``'s output, looking through elementwise
    layers; sorted, without duplicates."""
    users = model.consumers()
    kinds: set[str] = set()
    stack = list(users[index])
    while stack:
        node = model.nodes[stack.pop()]
        if node.kind in ELEMENTWISE:
            stack.extend(users[node.index])
        else:
            kinds.add(node.kind)
    return tuple(sorted(kinds))


def contexts(checked: CheckedModel) -> dict[int, PlanContext]:
    """Every node's plan context, in graph order."""
    model = checked.model
    assert model is not None
    out: dict[int, PlanContext] = {}
    flattened: dict[int, tuple] = {}  # node -> (H, W, C) of a channels-first flatten upstream
    for node in model.nodes:
        info = checked.infos[node.index]
        p = checked.params.get(node.index)
        in_shapes = tuple(checked.infos[i].shape for i in node.inputs)
        upstream = flattened.get(node.inputs[0]) if node.inputs else None
        ctx = PlanContext(
            name=node.name,
            kind=node.kind,
            p=p,
            in_shapes=in_shapes,
            out_shape=info.shape,
            is_output=node.index == model.output,
            feeds=feeds(model, node.index) if node.kind == "flatten" else (),
            flattened=upstream,
            sequential=model.scopes[node.scope].kind not in CLASS_SCOPES,
        )
        out[node.index] = ctx
        if node.kind == "flatten" and len(in_shapes[0]) > 1 and ctx.feeds == ("dense",):
            flattened[node.index] = in_shapes[0]
        elif node.kind in ELEMENTWISE and upstream is not None:
            flattened[node.index] = upstream
    return out


def plan_model(checked: CheckedModel, backend: str) -> dict[int, object]:
    """Every node's plan for ``backend`` ("keras" or "torch"), peepholes applied."""
    model = checked.model
    assert model is not None
    plans = {}
    for index, ctx in contexts(checked).items():
        plans[index] = plan(ctx, backend)
    if backend == "torch":
        fuse_zero_padding(checked, plans)
    return plans


def plan(ctx: PlanContext, backend: str):
    """One node's plan for ``backend``."""
    kind = lookup(ctx.kind)
    return kind.keras_plan(ctx) if backend == "keras" else kind.torch_plan(ctx)


def fuse_zero_padding(checked: CheckedModel, plans: dict) -> None:
    """A symmetric ``zeropad`` read only by a valid convolution becomes that convolution's
    ``padding=`` (what a PyTorch user writes: ``nn.Conv2d(..., padding=1)``)."""
    model = checked.model
    users = model.consumers()
    for node in model.nodes:
        if node.kind != "zeropad2d" or len(users[node.index]) != 1:
            continue
        # in a sequential group every item is a numbered module: nothing may disappear
        if model.scopes[node.scope].kind not in CLASS_SCOPES:
            continue
        (top, bottom), (left, right) = checked.params[node.index].pads
        if top != bottom or left != right:
            continue
        ph, pw = top, left
        target = model.nodes[users[node.index][0]]
        plan = plans[target.index]
        if target.scope != node.scope:
            continue
        if target.kind not in PADDING_ABSORBERS or plan.module is None or plan.helpers:
            continue
        kwargs = dict((k, (v, d)) for k, v, d in plan.module.kwargs)
        if kwargs.get("padding", (V(0), 0))[0].value != 0:
            continue
        kwargs["padding"] = (V(ph if ph == pw else (ph, pw)), 0)
        module = replace(plan.module, kwargs=tuple((k, v, d) for k, (v, d) in kwargs.items()))
        plans[target.index] = replace(plan, module=module)
        plans[node.index] = TorchPlan(apply="{x}", layout_in="any", fused_into=target.index)
