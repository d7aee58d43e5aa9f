"""Place a whole diagram: each open group laid out on its own, inside out, then put together.

Every open group (and the top level) is one layered layout (:mod:`specc.diagram.layered`) of
what it holds directly: its boxes, the shape labels of the tensors they produce, and its open
sub-groups as single items of the size their own layout came to.  A tensor that crosses a
group's border does so through a port: one per tensor and direction, on the group's first rank
(entering) or last rank (leaving), so a wire enters a group once and forks inside it.  The
parent attaches its wires to the ports' positions, so the pieces meet; each wire is then the
chain of its pieces, from the producing box through its shape label to the reading box.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from specc.diagram.graph import OUTPUT, Diagram, Tensor
from specc.diagram.layered import Item, Link, Placed, Point, Spacing, layout
from specc.diagram.sizes import (
    GROUP_PAD,
    HEADER_GAP,
    MARGIN,
    STACK,
    TextLine,
    baseline,
    box_lines,
    box_size,
    header_height,
    header_line,
    shape_size,
)

DIRECTIONS = ("TB", "LR")
Steps = tuple[tuple[str, Point], ...]


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle in diagram pixels."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        """Its right edge."""
        return self.x + self.w

    @property
    def bottom(self) -> float:
        """Its bottom edge."""
        return self.y + self.h


@dataclass(frozen=True)
class Header:
    """A group's label (or the model's title) and where its baseline starts."""

    line: TextLine
    x: float
    y: float


@dataclass(frozen=True)
class Wire:
    """The drawn path of one edge: from a producing box to one box that reads its output."""

    tensor: Tensor
    target: str  # a box id, or OUTPUT for the model's output
    start: Point
    steps: Steps


@dataclass
class DiagramLayout:
    """Where everything goes, in pixels from the top-left corner."""

    width: float
    height: float
    direction: str
    boxes: dict[str, Rect]
    groups: dict[str, Rect]
    headers: dict[str | None, Header]  # None: the model's title
    shapes: dict[int, Rect]  # a tensor's producing node -> its shape label
    wires: list[Wire]


@dataclass
class _Level:
    """One open group (or the top level) while it is being laid out."""

    key: str | None
    items: list[Item] = field(default_factory=list)
    links: dict[tuple, int] = field(default_factory=dict)  # (source end, target end) -> index
    weights: list[float] = field(default_factory=list)
    ports: dict[tuple[str, int], float] = field(default_factory=dict)  # offset from the centre
    placed: Placed | None = None
    width: float = 0.0
    height: float = 0.0
    content: Point = (0.0, 0.0)
    header: Header | None = None

    def link(self, source: tuple, target: tuple, weight: float = 1.0) -> tuple[str | None, int]:
        """This level's key and the index of its link from ``source`` to ``target``."""
        index = self.links.setdefault((source, target), len(self.links))
        if index == len(self.weights):
            self.weights.append(weight)
        else:
            self.weights[index] = max(self.weights[index], weight)
        return self.key, index

    def port(self, side: str, node: int) -> None:
        """Make sure the group has a port for tensor ``node`` (``in`` or ``out``)."""
        if (side, node) not in self.ports:
            self.ports[(side, node)] = 0.0
            self.items.append(Item((side, node), 0.0, 0.0, side))


def layout_diagram(diagram: Diagram, direction: str = "TB") -> DiagramLayout:
    """Lay out ``diagram`` running top to bottom (``TB``) or left to right (``LR``)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}")
    down = direction == "TB"
    levels: dict[str | None, _Level] = {None: _Level(None)}
    for cid in diagram.containers:
        levels[cid] = _Level(cid)
    for box_id, box in diagram.boxes.items():
        w, h = box_size(box_lines(box.title, box.lines))
        extra = STACK if box.collapsed is not None else 0.0
        along, across = (w + extra, h + extra) if down else (h + extra, w + extra)
        levels[box.container].items.append(Item(("box", box_id), along, across))
    for cid, container in diagram.containers.items():
        levels[container.parent].items.append(Item(("group", cid), 0.0, 0.0, "group"))
    levels[None].items.append(Item(("end",), 0.0, 0.0, "out"))
    wires: list[tuple[Tensor, str, list[tuple[str | None, int]]]] = []
    for tensor in diagram.tensors:
        home = diagram.boxes[tensor.source].container
        w, h = shape_size(tensor.shape)
        along, across = (w, h) if down else (h, w)
        levels[home].items.append(Item(("shape", tensor.node), along, across, "label"))
        first = levels[home].link(("box", tensor.source), ("shape", tensor.node))
        for target in tensor.consumers:
            weight = 6.0 if target in tensor.main_path else 1.0
            pieces = _pieces(diagram, levels, tensor.node, target, home, weight)
            wires.append((tensor, target, [first, *pieces]))
    for key in [*reversed(diagram.containers), None]:
        _lay_out_level(diagram, levels, key, down)
    return _assemble(diagram, levels, wires, down, direction)


def _chain(diagram: Diagram, cid: str | None) -> list[str | None]:
    """``cid`` and the open groups around it, innermost first, ending with None (the top)."""
    out: list[str | None] = []
    while cid is not None:
        out.append(cid)
        cid = diagram.containers[cid].parent
    out.append(None)
    return out


def _pieces(
    diagram: Diagram,
    levels: dict[str | None, _Level],
    node: int,
    target: str,
    home: str | None,
    weight: float,
) -> list[tuple[str | None, int]]:
    """The links, level by level, that carry tensor ``node`` from its label to ``target``."""
    ups = _chain(diagram, home)
    downs = _chain(diagram, diagram.container_of(target))
    common = next(c for c in ups if c in downs)
    pieces = []
    source: tuple = ("shape", node)
    for cid in ups[: ups.index(common)]:
        levels[cid].port("out", node)
        pieces.append(levels[cid].link(source, ("out", node)))
        source = ("group", cid, "out", node)
    end: tuple = ("end",) if target == OUTPUT else ("box", target)
    inner = []
    for cid in downs[: downs.index(common)]:
        levels[cid].port("in", node)
        inner.append((cid, ("in", node), end))
        end = ("group", cid, "in", node)
    pieces.append(levels[common].link(source, end, weight))
    for cid, start, stop in reversed(inner):
        pieces.append(levels[cid].link(start, stop, weight))
    return pieces


def _end_item(end: tuple, levels: dict[str | None, _Level]) -> tuple[Hashable, float]:
    """The item a link end belongs to, and how far off its centre the link attaches."""
    if end[0] == "group":
        _, cid, side, node = end
        return ("group", cid), levels[cid].ports[(side, node)]
    return end, 0.0


def _lay_out_level(
    diagram: Diagram, levels: dict[str | None, _Level], key: str | None, down: bool
) -> None:
    """Lay out one level; its sub-groups are laid out already."""
    level = levels[key]
    items = [Item(item.key, *_extent(item, levels, down), item.role) for item in level.items]
    links = []
    for (source, target), index in level.links.items():
        a, off_a = _end_item(source, levels)
        b, off_b = _end_item(target, levels)
        links.append(Link(a, b, level.weights[index], off_a, off_b))
    placed = layout(items, links, Spacing())
    level.placed = placed
    if key is None:
        total = sum(box.params for box in diagram.boxes.values())
        line = header_line(f"{diagram.model} · {total:,} params", model=True)
        pad = MARGIN
    else:
        line = header_line(diagram.containers[key].header)
        pad = GROUP_PAD
    band = header_height(line)
    along, across = placed.size
    entering = [placed.o[k] for k in placed.o if isinstance(k, tuple) and k[0] == "in"]
    if down:
        left = pad
        if entering:  # wires that enter from above pass to the right of the label
            left = max(pad, pad + line.width + HEADER_GAP - min(entering))
        width = max(left + along + pad, line.width + 2 * pad)
        if not entering:
            left = max(left, (width - along) / 2)
        level.width, level.height = width, band + pad + across + pad
        level.content = (left, band + pad)
    else:
        width = max(across + 2 * pad, line.width + 2 * pad)
        level.width, level.height = width, band + pad + along + pad
        level.content = ((width - across) / 2, band + pad)
    level.header = Header(line, pad, baseline(2.0, line))
    for side, node in level.ports:
        o = placed.o[(side, node)]
        if down:
            level.ports[(side, node)] = level.content[0] + o - level.width / 2
        else:
            level.ports[(side, node)] = level.content[1] + o - level.height / 2


def _assemble(
    diagram: Diagram,
    levels: dict[str | None, _Level],
    wires: list[tuple[Tensor, str, list[tuple[str | None, int]]]],
    down: bool,
    direction: str,
) -> DiagramLayout:
    """Absolute positions: each level's items offset by where its group was placed."""
    origin: dict[str | None, Point] = {None: (0.0, 0.0)}
    boxes: dict[str, Rect] = {}
    groups: dict[str, Rect] = {}
    shapes: dict[int, Rect] = {}
    headers: dict[str | None, Header] = {}

    def point(key: str | None, o: float, r: float) -> Point:
        level = levels[key]
        ox, oy = origin[key]
        dx, dy = level.content
        return (ox + dx + o, oy + dy + r) if down else (ox + dx + r, oy + dy + o)

    for key in [None, *diagram.containers]:
        level = levels[key]
        placed = level.placed
        ox, oy = origin[key]
        headers[key] = Header(level.header.line, ox + level.header.x, oy + level.header.y)
        for item in level.items:
            k = item.key
            along = _extent(item, levels, down)
            x, y = point(key, placed.o[k] - along[0] / 2, placed.r[k])
            w, h = (along[0], along[1]) if down else (along[1], along[0])
            if k[0] == "box":
                box = diagram.boxes[k[1]]
                extra = STACK if box.collapsed is not None else 0.0
                boxes[k[1]] = Rect(x, y, w - extra, h - extra)
            elif k[0] == "group":
                groups[k[1]] = Rect(x, y, w, h)
                origin[k[1]] = (x, y)
            elif k[0] == "shape":
                shapes[k[1]] = Rect(x, y, w, h)
    drawn = []
    for tensor, target, pieces in wires:
        start: Point | None = None
        steps: list[tuple[str, Point]] = []
        for key, index in pieces:
            route_start, route_steps = levels[key].placed.routes[index]
            first = point(key, *route_start)
            if start is None:
                start = first
            else:
                steps.append(("L", first))
            steps.extend((kind, point(key, *p)) for kind, p in route_steps)
        drawn.append(Wire(tensor, target, start, tuple(steps)))
    root = levels[None]
    return DiagramLayout(root.width, root.height, direction, boxes, groups, headers, shapes, drawn)


def _extent(item: Item, levels: dict[str | None, _Level], down: bool) -> tuple[float, float]:
    """(along, across) of an item; a group's come from its own layout, done already."""
    if item.role == "group":
        child = levels[item.key[1]]
        return (child.width, child.height) if down else (child.height, child.width)
    return item.along, item.across
