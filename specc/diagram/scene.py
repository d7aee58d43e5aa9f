"""What to draw, as plain shapes: the one input of the SVG and PNG writers.

A scene is a list of elements in drawing order (background, groups, wires, shape labels,
boxes); each element is one thing of the model (a layer, a group, an edge...) with the
attributes the SVG keeps for tools and tests (``data-*``), a tooltip, and its shapes:
rectangles, text lines and paths made of straight and curved steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specc.diagram.graph import OUTPUT, Box, Diagram
from specc.diagram.layered import Point
from specc.diagram.layout import DiagramLayout, Rect
from specc.diagram.sizes import (
    BOX_PAD_Y,
    STACK,
    TextLine,
    baseline,
    box_lines,
    shape_line,
)

INK = "#1f2933"
SOFT_INK = "#52606d"
WIRE = "#66717f"
BACKGROUND = "#ffffff"
# (fill, stroke) of boxes by what they are; layers with weights take a colour by their kind
STYLES = {
    "input": ("#e8f5e9", "#43a047"),
    "merge": ("#fff4d6", "#c98a00"),
    "plain": ("#f7f8fa", "#9aa5b1"),
    "collapsed": ("#e9eef6", "#4a5d7a"),
}
PALETTE = (
    ("#e3efff", "#3b78c4"),
    ("#e3f4f1", "#2a9d8f"),
    ("#f3e8fd", "#8e44ad"),
    ("#fdecea", "#c0392b"),
    ("#eaf4e4", "#5b8c2a"),
    ("#fff0e0", "#d35400"),
    ("#e8eaf6", "#3f51b5"),
    ("#fce4ec", "#ad1457"),
)
GROUP_FILLS = ("#f4f6f9", "#eceff4", "#e4e8ef", "#dce2ea")
GROUP_STROKE = "#b3bfcd"
SHAPE_FILL, SHAPE_STROKE = "#ffffff", "#c9d1da"


@dataclass(frozen=True)
class RectShape:
    """A rectangle, optionally with rounded corners and a dashed outline."""

    rect: Rect
    fill: str
    stroke: str | None = None
    stroke_width: float = 1.0
    radius: float = 0.0


@dataclass(frozen=True)
class TextShape:
    """One line of text; ``x`` is its left end (``start``) or centre (``middle``)."""

    x: float
    y: float  # the baseline
    line: TextLine
    fill: str = INK
    anchor: str = "start"


@dataclass(frozen=True)
class PathShape:
    """A wire: straight (``L``) and curved (``C``) steps; curves leave and arrive along the
    flow (vertically when the diagram runs top to bottom)."""

    start: Point
    steps: tuple[tuple[str, Point], ...]
    stroke: str
    stroke_width: float
    arrow: bool
    down: bool


@dataclass
class Element:
    """One thing of the model as drawn."""

    kind: str  # background | group | edge | shape | node | title
    attrs: dict[str, str] = field(default_factory=dict)
    tooltip: str = ""
    shapes: list = field(default_factory=list)


@dataclass
class Scene:
    """Everything to draw, in order, on a canvas of ``width`` x ``height`` pixels."""

    width: float
    height: float
    title: str
    direction: str
    elements: list[Element]


def box_colors(diagram: Diagram) -> dict[str, tuple[str, str]]:
    """(fill, stroke) of every box: by what it is, or for a layer with weights by its kind
    (the palette's colours in the order the kinds first appear)."""
    kinds: dict[str, tuple[str, str]] = {}
    colors = {}
    for box in diagram.boxes.values():
        if box.style in STYLES:
            colors[box.id] = STYLES[box.style]
        else:
            if box.kind not in kinds:
                kinds[box.kind] = PALETTE[len(kinds) % len(PALETTE)]
            colors[box.id] = kinds[box.kind]
    return colors


def build_scene(diagram: Diagram, placed: DiagramLayout) -> Scene:
    """The shapes of a laid-out diagram."""
    down = placed.direction == "TB"
    canvas = Rect(0.0, 0.0, placed.width, placed.height)
    elements = [Element("background", shapes=[RectShape(canvas, BACKGROUND)])]
    title = placed.headers[None]
    elements.append(
        Element(
            "title",
            {"data-model": diagram.model},
            shapes=[TextShape(title.x, title.y, title.line)],
        )
    )
    inside = _boxes_inside(diagram)
    for cid, container in diagram.containers.items():
        rect = placed.groups[cid]
        header = placed.headers[cid]
        group = container.group
        fill = GROUP_FILLS[(container.depth - 1) % len(GROUP_FILLS)]
        elements.append(
            Element(
                "group",
                {
                    "id": f"group-{group.id}",
                    "data-group": group.id,
                    "data-label": group.label,
                    "data-path": group.path,
                    "data-kind": group.kind,
                    "data-depth": str(container.depth),
                    "data-params": str(container.params),
                    "data-boxes": " ".join(inside.get(cid, [])),
                },
                tooltip=f"{group.path}: {group.label}",
                shapes=[
                    RectShape(rect, fill, GROUP_STROKE, 1.0, 8.0),
                    TextShape(header.x, header.y, header.line, SOFT_INK),
                ],
            )
        )
    for wire in placed.wires:
        tensor = wire.tensor
        attrs = {
            "data-source": tensor.source,
            "data-target": wire.target,
            "data-tensor": tensor.name,
            "data-shape": tensor.shape,
        }
        if wire.target != OUTPUT:
            attrs["data-readers"] = " ".join(tensor.readers[wire.target])
        elements.append(
            Element(
                "edge",
                attrs,
                shapes=[PathShape(wire.start, wire.steps, WIRE, 1.3, True, down)],
            )
        )
    for tensor in diagram.tensors:
        rect = placed.shapes[tensor.node]
        line = shape_line(tensor.shape)
        elements.append(
            Element(
                "shape",
                {
                    "data-tensor": tensor.name,
                    "data-source": tensor.source,
                    "data-shape": tensor.shape,
                },
                tooltip=f"{tensor.name}: {tensor.shape}",
                shapes=[
                    RectShape(rect, SHAPE_FILL, SHAPE_STROKE, 0.8, rect.h / 2),
                    TextShape(
                        rect.x + rect.w / 2,
                        baseline(rect.y + (rect.h - line.height) / 2, line),
                        line,
                        SOFT_INK,
                        "middle",
                    ),
                ],
            )
        )
    colors = box_colors(diagram)
    for box in diagram.boxes.values():
        elements.append(_box_element(box, placed.boxes[box.id], colors[box.id]))
    return Scene(placed.width, placed.height, diagram.model, placed.direction, elements)


def _boxes_inside(diagram: Diagram) -> dict[str, list[str]]:
    """For each open group, the boxes drawn inside it (in sub-groups too), in graph order."""
    inside: dict[str, list[str]] = {}
    for box in diagram.boxes.values():
        container = box.container
        while container is not None:
            inside.setdefault(container, []).append(box.id)
            container = diagram.containers[container].parent
    return inside


def _box_element(box: Box, rect: Rect, colors: tuple[str, str]) -> Element:
    fill, stroke = colors
    shapes: list = []
    radius = 12.0 if box.style == "merge" else 5.0
    if box.collapsed is not None:  # a second sheet behind: there is more inside
        behind = Rect(rect.x + STACK, rect.y + STACK, rect.w, rect.h)
        shapes.append(RectShape(behind, fill, stroke, 1.0, radius))
    shapes.append(RectShape(rect, fill, stroke, 1.5 if box.collapsed else 1.0, radius))
    top = rect.y + BOX_PAD_Y
    for i, line in enumerate(box_lines(box.title, box.lines)):
        color = INK if i == 0 else SOFT_INK
        shapes.append(TextShape(rect.x + rect.w / 2, baseline(top, line), line, color, "middle"))
        top += line.height
    attrs = {
        "id": f"box-{box.id}",
        "data-id": box.id,
        "data-kind": box.kind,
        "data-params": str(box.params),
        "data-trainable": str(box.trainable),
        "data-style": box.style,
    }
    if box.collapsed is not None:
        attrs["data-group"] = box.collapsed.id
        attrs["data-label"] = box.collapsed.label
    return Element("node", attrs, box.tooltip, shapes)
