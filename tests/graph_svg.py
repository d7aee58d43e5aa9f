"""Reading ``specc graph``'s SVG back, and the geometric checks the graph tests share.

The SVG is parsed with the standard XML parser; what a reader sees is checked from the drawn
geometry: rectangles, text (measured with the real DejaVu Sans through Pillow, not with specc's
own width table) and the wires' paths.
"""

from __future__ import annotations

import bisect
import importlib.util
import itertools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from PIL import ImageFont

NS = "{http://www.w3.org/2000/svg}"
TOLERANCE = 0.5  # pixels: coordinates are written with two decimals


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def overlaps(self, other: Box, margin: float = TOLERANCE) -> bool:
        """True when the two share more than ``margin`` pixels in both directions."""
        return (
            min(self.right, other.right) - max(self.x, other.x) > margin
            and min(self.bottom, other.bottom) - max(self.y, other.y) > margin
        )

    def contains(self, other: Box, margin: float = TOLERANCE) -> bool:
        """True when ``other`` lies inside this rectangle."""
        return (
            other.x >= self.x - margin
            and other.y >= self.y - margin
            and other.right <= self.right + margin
            and other.bottom <= self.bottom + margin
        )


@dataclass(frozen=True)
class Text:
    """A text element: its anchor point, content and font."""

    x: float
    y: float
    text: str
    size: float
    bold: bool
    anchor: str

    def ink(self) -> Box:
        """Where its glyphs go, measured with DejaVu Sans at its size."""
        font = dejavu(self.size, self.bold)
        left, top, right, bottom = font.getbbox(self.text, anchor="ls")
        shift = -font.getlength(self.text) / 2 if self.anchor == "middle" else 0.0
        return Box(self.x + shift + left, self.y + top, right - left, bottom - top)

    def advance(self) -> Box:
        """The text's advance box: its full width and the font's line extent."""
        font = dejavu(self.size, self.bold)
        width = font.getlength(self.text)
        ascent, descent = font.getmetrics()
        shift = -width / 2 if self.anchor == "middle" else 0.0
        return Box(self.x + shift, self.y - ascent, width, ascent + descent)


@dataclass
class Element:
    """A ``<g>`` of the diagram: its class, data attributes, rectangles, texts and paths."""

    kind: str
    attrs: dict[str, str]
    rects: list[Box] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    paths: list[list[tuple[float, float]]] = field(default_factory=list)

    @property
    def rect(self) -> Box:
        """Its main rectangle (the last one drawn: a collapsed box draws a sheet behind)."""
        return self.rects[-1]

    @property
    def bounds(self) -> Box:
        """What all its rectangles cover (a collapsed box's sheet behind included)."""
        x, y = min(r.x for r in self.rects), min(r.y for r in self.rects)
        right, bottom = max(r.right for r in self.rects), max(r.bottom for r in self.rects)
        return Box(x, y, right - x, bottom - y)


@dataclass
class Drawing:
    """A parsed diagram."""

    width: float
    height: float
    direction: str
    model: str
    elements: list[Element]

    def of(self, kind: str) -> list[Element]:
        """Every element of one class: node, group, edge, shape, title."""
        return [e for e in self.elements if e.kind == kind]

    def nodes(self) -> dict[str, Element]:
        """Boxes by id."""
        return {e.attrs["data-id"]: e for e in self.of("node")}


@cache
def dejavu(size: float, bold: bool) -> ImageFont.FreeTypeFont:
    """DejaVu Sans from matplotlib's bundled fonts (or the system's)."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    spec = importlib.util.find_spec("matplotlib")
    places = [Path(p) / "mpl-data" / "fonts" / "ttf" for p in spec.submodule_search_locations]
    places.append(Path("/usr/share/fonts/truetype/dejavu"))
    for place in places:
        if (place / name).is_file():
            return ImageFont.truetype(str(place / name), size)
    raise AssertionError(f"{name} not found: the dev install (matplotlib) bundles it")


def parse(svg: str) -> Drawing:
    """Parse the SVG text of a diagram."""
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    elements = []
    for g in root.iter(f"{NS}g"):
        element = Element(g.get("class", ""), {k: v for k, v in g.attrib.items() if k != "class"})
        for child in g:
            tag = child.tag.removeprefix(NS)
            if tag == "rect":
                element.rects.append(
                    Box(*(float(child.get(k)) for k in ("x", "y", "width", "height")))
                )
            elif tag == "text":
                element.texts.append(
                    Text(
                        float(child.get("x")),
                        float(child.get("y")),
                        child.text or "",
                        float(child.get("font-size")),
                        child.get("font-weight") == "bold",
                        child.get("text-anchor", "start"),
                    )
                )
            elif tag == "path":
                element.paths.append(flatten(child.get("d")))
        elements.append(element)
    return Drawing(
        float(root.get("width")),
        float(root.get("height")),
        root.get("data-direction"),
        root.get("data-model"),
        elements,
    )


def flatten(d: str, steps: int = 16) -> list[tuple[float, float]]:
    """The points of an SVG path made of M, L and C commands (curves sampled)."""
    tokens = re.findall(r"[MLC]|-?\d+(?:\.\d+)?", d)
    points: list[tuple[float, float]] = []
    i = 0
    while i < len(tokens):
        command = tokens[i]
        if command in ("M", "L"):
            points.append((float(tokens[i + 1]), float(tokens[i + 2])))
            i += 3
        elif command == "C":
            x0, y0 = points[-1]
            x1, y1, x2, y2, x3, y3 = (float(t) for t in tokens[i + 1 : i + 7])
            for k in range(1, steps + 1):
                t = k / steps
                u = 1 - t
                points.append(
                    (
                        u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3,
                        u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3,
                    )
                )
            i += 7
        else:
            raise AssertionError(f"unexpected path command {command!r} in {d!r}")
    return points


def segment_hits(a: tuple[float, float], b: tuple[float, float], box: Box) -> bool:
    """Whether the segment a-b passes through the inside of ``box`` (Liang-Barsky)."""
    x0, y0 = a
    dx, dy = b[0] - x0, b[1] - y0
    low, high = 0.0, 1.0
    inner = (box.x + 1.0, box.right - 1.0, box.y + 1.0, box.bottom - 1.0)
    if inner[0] >= inner[1] or inner[2] >= inner[3]:
        return False
    for p, q in (
        (-dx, x0 - inner[0]),
        (dx, inner[1] - x0),
        (-dy, y0 - inner[2]),
        (dy, inner[3] - y0),
    ):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low > high:
            return False
    return True


class Obstacles:
    """Rectangles indexed by their vertical extent, for quick segment tests."""

    def __init__(self, named: list[tuple[str, Box]]):
        self.items = sorted(named, key=lambda item: item[1].y)
        self.tops = [box.y for _, box in self.items]
        self.tallest = max((box.h for _, box in self.items), default=0.0)

    def hit(self, a, b, allowed: set[str]) -> str | None:
        """The name of a rectangle the segment a-b passes through, other than ``allowed``."""
        low, high = min(a[1], b[1]), max(a[1], b[1])
        start = bisect.bisect_left(self.tops, low - self.tallest)
        end = bisect.bisect_right(self.tops, high)
        for name, box in self.items[start:end]:
            if name not in allowed and segment_hits(a, b, box):
                return name
        return None


def check_readable(drawing: Drawing) -> None:
    """Everything a reader needs: nothing overlaps, text fits, wires avoid what is not theirs."""
    nodes = drawing.nodes()
    shapes = drawing.of("shape")
    groups = drawing.of("group")
    boxes = [(name, e.bounds) for name, e in nodes.items()]
    # no two boxes overlap
    by_x = sorted(boxes, key=lambda item: item[1].x)
    for i, (name, box) in enumerate(by_x):
        for other, box2 in by_x[i + 1 :]:
            if box2.x > box.right:
                break
            assert not box.overlaps(box2), f"boxes {name} and {other} overlap"
    # no shape label overlaps a box or another label
    labels = [(s.attrs["data-tensor"], s.rect) for s in shapes]
    for tensor, rect in labels:
        for name, box in boxes:
            assert not rect.overlaps(box), f"the shape label of {tensor} overlaps box {name}"
    for i, (tensor, rect) in enumerate(labels):
        for other, rect2 in labels[i + 1 :]:
            assert not rect.overlaps(rect2), f"shape labels of {tensor} and {other} overlap"
    # text fits in its box, its label and its group
    for element in [*nodes.values(), *shapes, *groups]:
        for text in element.texts:
            assert element.rect.contains(text.ink()), (
                f"{text.text!r} sticks out of its {element.kind} {element.attrs}"
            )
            assert element.rect.contains(text.advance(), margin=1.0), (
                f"{text.text!r} does not fit its {element.kind} {element.attrs}"
            )
    # boxes and groups sit inside the canvas
    canvas = Box(0, 0, drawing.width, drawing.height)
    for name, box in boxes:
        assert canvas.contains(box), f"box {name} is outside the drawing"
    # groups nest or stay apart; a box is inside a group exactly when the group holds it
    for i, g in enumerate(groups):
        for h in groups[i + 1 :]:
            a, b = g.rect, h.rect
            assert a.contains(b) or b.contains(a) or not a.overlaps(b), (
                f"groups {g.attrs['data-path']} and {h.attrs['data-path']} overlap"
            )
        members = set(g.attrs["data-boxes"].split())
        for name, box in boxes:
            if name in members:
                assert g.rect.contains(box), f"{name} is drawn outside its group {g.attrs}"
            else:
                assert not g.rect.overlaps(box), f"{name} is drawn inside group {g.attrs}"
    # wires: from the bottom (right) of their source to the top (left) of their target, through
    # no box, label or group title that is not theirs
    down = drawing.direction == "TB"
    header_boxes = [(f"title of {g.attrs['data-path']}", g.texts[0].ink()) for g in groups]
    obstacles = Obstacles(boxes + [(f"label of {t}", r) for t, r in labels] + header_boxes)
    for edge in drawing.of("edge"):
        source, target = edge.attrs["data-source"], edge.attrs["data-target"]
        (points,) = edge.paths
        start = nodes[source].bounds
        if down:
            assert abs(points[0][1] - start.bottom) < 1 and start.x <= points[0][0] <= start.right
        else:
            assert abs(points[0][0] - start.right) < 1 and start.y <= points[0][1] <= start.bottom
        if target in nodes:
            end = nodes[target].bounds
            if down:
                assert abs(points[-1][1] - end.y) < 1 and end.x <= points[-1][0] <= end.right
            else:
                assert abs(points[-1][0] - end.x) < 1 and end.y <= points[-1][1] <= end.bottom
        allowed = {source, target, f"label of {edge.attrs['data-tensor']}"}
        for a, b in itertools.pairwise(points):
            hit = obstacles.hit(a, b, allowed)
            assert hit is None, f"the wire {source} -> {target} crosses {hit}"


# -- the drawing against `specc check --format json` -------------------------------------------


def shape_text(shape: list[int]) -> str:
    """A JSON output shape as the diagram writes it: ``30x30x32``."""
    return "x".join(str(d) for d in shape)


def group_levels(found) -> dict[str, int]:
    """Each group's depth: 1 at the top level."""
    level = {}
    for g in found:
        level[g.id] = level[g.parent] + 1 if g.parent else 1
    return level


def check_layers_and_edges(drawing: Drawing, doc: dict) -> None:
    """With every group open: each layer a box with its name, kind and parameters; each
    input an edge carrying its source's output shape; each tensor's shape on its wire."""
    assert drawing.model == doc["model"]
    nodes = drawing.nodes()
    layers = {layer["name"]: layer for layer in doc["layers"]}
    assert set(nodes) == set(layers)
    for name, layer in layers.items():
        box = nodes[name]
        assert box.attrs["data-kind"] == layer["kind"]
        assert int(box.attrs["data-params"]) == layer["params"]
        lines = [t.text for t in box.texts]
        assert lines[0] == name
        assert lines[1].split()[0] == layer["kind"]
        if layer["params"]:
            assert f"{layer['params']:,} param" in lines[2]
        else:
            assert not any("param" in line for line in lines)
    edges = {(e.attrs["data-source"], e.attrs["data-target"]): e for e in drawing.of("edge")}
    expected = {(source, name) for name, layer in layers.items() for source in layer["inputs"]}
    assert set(edges) == expected | {(output, "output") for output in doc["outputs"]}
    for (source, _), edge in edges.items():
        assert edge.attrs["data-shape"] == shape_text(layers[source]["output_shape"])
    labels = {s.attrs["data-tensor"]: s for s in drawing.of("shape")}
    assert set(labels) == {source for source, _ in expected} | set(doc["outputs"])
    for tensor, label in labels.items():
        assert [t.text for t in label.texts] == [shape_text(layers[tensor]["output_shape"])]


def check_groups(drawing: Drawing, checked, found) -> None:
    """With every group open: each group a labelled rectangle around exactly its layers."""
    drawn = {g.attrs["data-group"]: g for g in drawing.of("group")}
    assert set(drawn) == {g.id for g in found}
    names = [node.name for node in checked.model.nodes]
    nodes = drawing.nodes()
    for g in found:
        element = drawn[g.id]
        assert element.attrs["data-label"] == g.label
        assert element.texts[0].text.startswith(g.label)
        params = sum(checked.infos[i].params for i in g.nodes)
        assert int(element.attrs["data-params"]) == params
        assert set(element.attrs["data-boxes"].split()) == {names[i] for i in g.nodes}
        for i in g.nodes:
            assert element.rect.contains(nodes[names[i]].bounds)
        if g.parent:
            assert drawn[g.parent].rect.contains(element.rect)


def check_depth(drawing: Drawing, checked, doc: dict, found, depth: int) -> None:
    """Groups deeper than ``depth`` closed: each closed group one box with its label, output
    shape and total parameters; the layers inside it not drawn; edges between boxes."""
    level = group_levels(found)
    layers = {layer["name"]: layer for layer in doc["layers"]}
    names = [node.name for node in checked.model.nodes]
    outputs = set(doc["outputs"])
    open_groups = {g.attrs["data-group"] for g in drawing.of("group")}
    assert open_groups == {g.id for g in found if level[g.id] <= depth}
    closed = {g.id: g for g in found if level[g.id] == depth + 1}
    nodes = drawing.nodes()
    assert set(closed) == {b.attrs["data-group"] for b in nodes.values() if "data-group" in b.attrs}
    box_of = {}
    for box_id, box in nodes.items():
        if "data-group" not in box.attrs:
            box_of[box_id] = box_id
            continue
        group = closed[box.attrs["data-group"]]
        inside = [names[i] for i in group.nodes]
        box_of.update({name: box_id for name in inside})
        assert box.attrs["data-label"] == group.label
        total = sum(layers[n]["params"] for n in inside)
        assert int(box.attrs["data-params"]) == total
        text = [t.text for t in box.texts]
        assert text[0] == group.label
        assert f"{total:,} param" in " ".join(text)
        leaving = [
            shape_text(layers[n]["output_shape"])
            for n in inside
            if n in outputs or any(n in layers[m]["inputs"] for m in layers if m not in inside)
        ]
        assert "output " + ", ".join(leaving) in text
    assert sorted(box_of) == sorted(layers)  # every layer once: drawn, or inside a closed box
    wires = {(e.attrs["data-source"], e.attrs["data-target"]) for e in drawing.of("edge")}
    expected = {
        (box_of[s], box_of[n])
        for n in layers
        for s in layers[n]["inputs"]
        if box_of[s] != box_of[n]
    }
    assert wires == expected | {(box_of[output], "output") for output in doc["outputs"]}
