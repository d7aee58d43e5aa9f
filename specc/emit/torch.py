"""The PyTorch backend: an ``nn.Module`` subclass with Keras's semantics written out."""

from __future__ import annotations

from typing import Any

from specc.compiler import CheckedModel
from specc.emit.context import node_view, output_activation, render_expr, render_lines, snippet
from specc.emit.environment import EmitError
from specc.emit.graph import Wiring, assign_streams
from specc.emit.layout import fit

FORWARD_INDENT = " " * 8
RESERVED = ("self", "logits", "module", "torch", "nn", "F", "np")


def model_context(checked: CheckedModel) -> dict[str, Any]:
    """The fitted lines of ``__init__``, ``_init_weights`` and ``forward``, for
    torch/model.py.j2, plus ``softmax_output``: whether forward splits off the softmax."""
    model = checked.model
    assert model is not None
    softmax_output = output_activation(checked) == "softmax"
    streams = assign_streams(model, "x", reserved=RESERVED)
    wiring = Wiring(model, streams)
    modules: list[str] = []
    inits: dict[str, list[str]] = {}  # init body -> module classes
    forward: list[str] = []
    for node in model.nodes:
        code = snippet("torch", node.kind)
        if not node.inputs:
            wiring.write(node.index, "x")
            forward += _copies(wiring, node.index)
            continue
        sources = tuple(wiring.source(i, node.index) for i in node.inputs)
        wires: dict[str, Any] = {"x": sources[0], "xs": sources, "out": streams.var[node.index]}
        if softmax_output and node.index == model.output:
            wires["act"] = None  # forward applies it last, after `if logits: return`
        view = node_view(checked, node, **wires)
        constructor = render_expr(code.module(view))
        if constructor:
            modules += fit(FORWARD_INDENT, f"{view.self} = ", constructor)
            if hasattr(code, "init"):
                body = "\n".join(render_lines(code.init()))
                cls = constructor.split("(", 1)[0]
                claimed = [b for b, c in inits.items() if cls in c and b != body]
                if claimed:  # isinstance dispatch would silently skip one of the two
                    raise EmitError(f"two different init rules for {cls} ({node.kind})")
                classes = inits.setdefault(body, [])
                if cls not in classes:
                    classes.append(cls)
        statements = render_lines(code.forward(view))
        if statements:
            forward += _fit_statements(statements)
            wiring.write(node.index, view.out)
        else:
            wiring.alias(node.index, node.inputs[0])
        forward += _copies(wiring, node.index)
    return {
        "module_lines": modules,
        "init_groups": [
            (fit(" " * 12, "elif " if k else "if ", f"isinstance(module, {_classes(c)})", ":"), b)
            for k, (b, c) in enumerate(inits.items())
        ],
        "input_doc": _describe(checked.infos[0].shape, "in"),
        "output_doc": _describe(checked.infos[model.output].shape, "out", softmax_output),
        "forward_lines": forward,
        "result": wiring.avail[model.output][0],
        "softmax_output": softmax_output,
    }


def _copies(wiring: Wiring, index: int) -> list[str]:
    return [f"{FORWARD_INDENT}{target} = {source}" for target, source in wiring.copies(index)]


def _describe(shape: tuple[int, ...], side: str, softmax: bool = False) -> str:
    if softmax:
        return "class probabilities, Nx" + str(shape[-1])
    dims = "x".join(str(d) for d in (shape[-1], *shape[:-1]))
    what = {3: "images", 2: "sequences", 1: "vectors"}.get(len(shape), "tensors")
    layout = {3: " (NCHW)", 2: " (NCL)"}.get(len(shape), "")
    return f"{what}, Nx{dims}{layout}" if side == "in" else f"outputs, Nx{dims}{layout}"


def _classes(classes: list[str]) -> str:
    return classes[0] if len(classes) == 1 else "(" + ", ".join(classes) + ")"


def _fit_statements(statements: list[str]) -> list[str]:
    out: list[str] = []
    for line in statements:
        target, sep, expr = line.partition(" = ")
        if sep and not line.startswith((" ", "#")) and target.replace(".", "_").isidentifier():
            out += fit(FORWARD_INDENT, f"{target} = ", expr)
        else:
            out.append(FORWARD_INDENT + line)
    return out
