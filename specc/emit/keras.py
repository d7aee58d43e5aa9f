"""The Keras 3 backend: a ``keras.Sequential`` stack, or the functional API for graphs."""

from __future__ import annotations

from typing import Any

from specc.compiler import CheckedModel
from specc.emit.context import node_view, render_expr, snippet
from specc.emit.environment import py
from specc.emit.graph import Wiring, assign_streams
from specc.emit.layout import fit

INPUTS = "inputs"


def model_context(checked: CheckedModel) -> dict[str, Any]:
    """``sequential`` and the fitted lines of ``build_model()``'s body, for keras/model.py.j2."""
    model = checked.model
    assert model is not None
    if model.is_sequential and model.output == len(model.nodes) - 1:
        elements: list[str] = []
        for node in model.nodes:
            layer = render_expr(snippet("keras", node.kind).layer(node_view(checked, node)))
            elements.extend(fit(" " * 12, "", layer, ","))
        return {"sequential": True, "layer_lines": elements, "statements": []}
    return {"sequential": False, "layer_lines": [], "statements": _functional(checked)}


def _functional(checked: CheckedModel) -> list[str]:
    model = checked.model
    assert model is not None
    indent = " " * 4
    streams = assign_streams(model, "x", reserved=(INPUTS,))
    wiring = Wiring(model, streams)
    lines: list[str] = []
    for node in model.nodes:
        if not node.inputs:
            out = INPUTS
            view = node_view(checked, node, out=out)
            lines += fit(indent, f"{out} = ", render_expr(snippet("keras", node.kind).layer(view)))
        else:
            sources = tuple(wiring.source(i, node.index) for i in node.inputs)
            out = streams.var[node.index]
            view = node_view(checked, node, x=sources[0], xs=sources, out=out)
            layer = render_expr(snippet("keras", node.kind).layer(view))
            arg = sources[0] if len(sources) == 1 else "[" + ", ".join(sources) + "]"
            lines += fit(indent, f"{out} = ", f"{layer}({arg})")
        wiring.write(node.index, out)
        for target, source in wiring.copies(node.index):
            lines.append(f"{indent}{target} = {source}")
    result = wiring.avail[model.output][0]
    lines += fit(indent, "return ", f"keras.Model({INPUTS}, {result}, name={py(model.name)})")
    return lines
