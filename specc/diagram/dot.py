"""Write a diagram as Graphviz DOT text, for those who have Graphviz (``dot -Tpdf``).

The same boxes, labels and colours as the SVG; open groups become nested clusters and each
edge carries its tensor's shape as its label.  Graphviz does its own layout.
"""

from __future__ import annotations

from specc.diagram.graph import OUTPUT, Diagram
from specc.diagram.metrics import FONT_FAMILY
from specc.diagram.scene import GROUP_FILLS, GROUP_STROKE, INK, WIRE, box_colors

FONT = FONT_FAMILY.split(",")[0]


def quote(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as ``\\n``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\r", "").replace("\n", "\\n")
    return f'"{escaped}"'


def render_dot(diagram: Diagram, direction: str = "TB") -> str:
    """The DOT text of ``diagram``, laid out by Graphviz in ``direction`` (TB or LR)."""
    total = sum(box.params for box in diagram.boxes.values())
    out = [
        f"digraph {quote(diagram.model)} {{",
        f"  graph [rankdir={direction}, fontname={quote(FONT)}, fontsize=13, labelloc=t, "
        f"labeljust=l, label={quote(f'{diagram.model} · {total:,} params')}];",
        f"  node [shape=box, style={quote('rounded,filled')}, fontname={quote(FONT)}, "
        f"fontsize=11, fontcolor={quote(INK)}];",
        f"  edge [fontname={quote(FONT)}, fontsize=9, color={quote(WIRE)}];",
    ]
    colors = box_colors(diagram)
    inside: dict[str | None, list[str]] = {}
    for box in diagram.boxes.values():
        inside.setdefault(box.container, []).append(box.id)
    children: dict[str | None, list[str]] = {}
    for cid, container in diagram.containers.items():
        children.setdefault(container.parent, []).append(cid)

    def emit(key: str | None, indent: str) -> None:
        for box_id in inside.get(key, []):
            box = diagram.boxes[box_id]
            fill, stroke = colors[box_id]
            label = "\n".join([box.title, *box.lines])
            shape = ", peripheries=2" if box.collapsed is not None else ""
            out.append(
                f"{indent}{quote(box_id)} [label={quote(label)}, fillcolor={quote(fill)}, "
                f"color={quote(stroke)}{shape}];"
            )
        for cid in children.get(key, []):
            container = diagram.containers[cid]
            fill = GROUP_FILLS[(container.depth - 1) % len(GROUP_FILLS)]
            out.append(f"{indent}subgraph {quote('cluster_' + cid)} {{")
            out.append(
                f"{indent}  label={quote(container.header)}; style={quote('rounded,filled')}; "
                f"fillcolor={quote(fill)}; color={quote(GROUP_STROKE)}; fontsize=11;"
            )
            emit(cid, indent + "  ")
            out.append(f"{indent}}}")

    emit(None, "  ")
    for tensor in diagram.tensors:
        for target in tensor.consumers:
            if target == OUTPUT:
                out.append(f"  {quote(OUTPUT)} [shape=point, width=0.05, label={quote('')}];")
            out.append(
                f"  {quote(tensor.source)} -> {quote(target)} [label={quote(tensor.shape)}];"
            )
    out.append("}")
    return "\n".join(out) + "\n"
