"""The passes that only warn about a model that checks: what a backend cannot express (W0601;
the same rules are ``emit``'s E0601 errors for the backend it writes), layers whose output
nothing reads (W0501) and implausible sizes (W0301, W0302).  They run last in
:data:`specc.passes.PASSES`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from specc import limits
from specc.diagnostics import Diagnostic, error, format_count, warning
from specc.exprs import sites_of
from specc.ir import Model, RawArg, Shape
from specc.layers import lookup

if TYPE_CHECKING:
    from specc.passes import State


def limit_diagnostics(
    model: Model,
    params: dict[int, Any],
    shapes: dict[int, Shape],
    bindings: dict[int, dict[str, RawArg]],
    backend: str | None = None,
) -> list[Diagnostic]:
    """What a backend cannot express of this model (each kind's ``limits``), located at the
    parameter concerned: warnings for every backend (``backend`` None: what ``specc check``
    says, W0601), errors for the one being emitted (E0601)."""
    found = []
    for node in model.nodes:
        kind = lookup(node.kind)
        p = params.get(node.index)
        if kind is None or p is None or node.index not in shapes:
            continue
        inputs = [shapes[i] for i in node.inputs]
        for limit in kind.limits(p, inputs):
            if backend is not None and limit.backend != backend:
                continue
            written = bindings.get(node.index, {}).get(limit.arg)
            diag = error(
                "E0601" if backend else "W0601",
                f"the {limit.backend} backend cannot express this {node.kind}",
                written.span if written is not None else node.name_span,
                limit.message,
                related=sites_of(node.trace),
                help=limit.help or (),
            )
            if backend is None:
                diag = diag.model_copy(update={"severity": "warning"})
            found.append(diag)
    return found


def check_backends(state: State) -> None:
    """Warn, located and naming the backend, where a backend cannot express the spec."""
    state.diagnostics += limit_diagnostics(state.model, state.params, state.shapes, state.bindings)


def check_unused(state: State) -> None:
    """Warn about a layer whose output nothing reads and that is not an output (a named branch
    left behind by ``from=``): its work is lost."""
    model = state.model
    users = model.consumers()
    outputs = set(model.outputs)
    for node in model.nodes:
        if users[node.index] or node.index in outputs:
            continue
        state.diagnostics.append(
            error(
                "W0501",
                f"the output of `{node.name}` is never used",
                node.name_span,
                "nothing reads this layer",
                help="read it by name (`from=`, a merge, `output`), or remove it",
            ).model_copy(update={"severity": "warning"})
        )


def check_sizes(state: State) -> None:
    """Warn about implausible sizes: a layer with more than 10^10 parameters (W0301), and the
    first layer on a path whose output has more than 10^10 elements per sample (W0302)."""
    for node in state.model.nodes:
        info = state.infos.get(node.index)
        if info is None:
            continue
        if info.params > limits.WARN_LAYER_PARAMS:
            figure = format_count(info.params)
            state.diagnostics.append(
                warning(
                    limits.W_LAYER_PARAMS,
                    f"{node.kind} `{node.name}` has {figure} parameters",
                    node.span,
                    f"{figure} parameters",
                    notes=("no layer of a real model comes near 10^10 parameters (40 GB)",),
                    help="check the sizes on this line and on the layers before it",
                )
            )
        elements, limit = _elements(info.shape), limits.WARN_ACTIVATION_ELEMENTS
        if elements > limit and all(_elements(state.shapes[i]) <= limit for i in node.inputs):
            figure = format_count(elements)
            state.diagnostics.append(
                warning(
                    limits.W_ACTIVATION_ELEMENTS,
                    f"{node.kind} `{node.name}` outputs {figure} values per sample",
                    node.span,
                    f"{figure} values per sample",
                    notes=("more than 10^10 values (40 GB in float32) for one sample",),
                    help="check the sizes on this line",
                )
            )


def _elements(shape: Shape) -> int:
    total = 1
    for d in shape:
        total *= d
    return total
