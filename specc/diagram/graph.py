"""The diagram's graph: boxes, the tensors that flow between them, and the groups around them.

Built from a checked model and its :class:`~specc.diagram.groups.Group` records.  A layer is a
box showing its name, its kind with the arguments as written (block parameters substituted)
and its parameter count.  A group deeper than ``depth`` is not opened: it becomes one box with
its label, output shape and total parameters, and the layers inside it are not drawn.  Every
tensor (a node's output that something reads, and the model's output) is drawn once, as a
label with its shape on the wire that leaves its producer; the wire then forks to each reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from specc.diagram.groups import Group
from specc.layers import fmt_shape

if TYPE_CHECKING:
    from specc.compiler import CheckedModel

OUTPUT = "output"  # the id of the model output's end point


@dataclass
class Box:
    """One drawn box: a layer, or a group that is not opened (``collapsed``)."""

    id: str  # the layer's name, or the collapsed group's path
    title: str
    lines: tuple[str, ...]
    kind: str  # the layer kind, or the group's kind
    style: str  # input | merge | weighted | plain | collapsed
    container: str | None  # the id of the open group it is drawn in, None at the top level
    nodes: tuple[int, ...]  # the model nodes it stands for
    params: int
    trainable: int
    tooltip: str = ""
    collapsed: Group | None = None


@dataclass
class Container:
    """An open group: drawn as a labelled rectangle around its boxes and sub-groups."""

    group: Group
    depth: int  # 1 for a top-level group
    params: int

    @property
    def id(self) -> str:
        """The group's id."""
        return self.group.id

    @property
    def parent(self) -> str | None:
        """The id of the enclosing open group, None at the top level."""
        return self.group.parent

    @property
    def header(self) -> str:
        """The text at the top of the rectangle: the group's label and its parameters."""
        return f"{self.group.label} · {_count(self.params)}"


@dataclass
class Tensor:
    """A node's output as drawn: one shape label on the wire leaving ``source``."""

    node: int  # the model node whose output this is
    name: str  # that node's name
    source: str  # the box that produces it
    shape: str
    consumers: list[str] = field(default_factory=list)  # box ids, or OUTPUT
    # per consumer: the model nodes it feeds there (several when the box is a collapsed group)
    readers: dict[str, list[str]] = field(default_factory=dict)
    main_path: set[str] = field(default_factory=set)  # consumers for which this is input 0


@dataclass
class Diagram:
    """Everything a layout needs: boxes, open groups (parents first) and tensors."""

    model: str
    boxes: dict[str, Box]
    containers: dict[str, Container]
    tensors: list[Tensor]
    depth: int | None

    def container_of(self, box_or_group: str) -> str | None:
        """The open group directly around a box or an open group (None: the top level)."""
        if box_or_group in self.containers:
            return self.containers[box_or_group].parent
        if box_or_group == OUTPUT:
            return None
        return self.boxes[box_or_group].container


def build_diagram(checked: CheckedModel, found: list[Group], depth: int | None = None) -> Diagram:
    """The diagram of a valid checked model with groups ``found``, opened to ``depth``.

    ``depth=None`` opens every group; ``depth=0`` opens none (each top-level group is a box).
    """
    model = checked.model
    assert model is not None and checked.ok
    by_id = {g.id: g for g in found}
    level: dict[str, int] = {}
    for g in found:  # parents come first
        level[g.id] = level[g.parent] + 1 if g.parent else 1
    opened = {g.id for g in found if depth is None or level[g.id] <= depth}
    innermost: dict[int, str] = {}
    for g in found:
        for i in g.nodes:
            innermost[i] = g.id

    def chain(gid: str | None) -> list[str]:
        out = []
        while gid is not None:
            out.append(gid)
            gid = by_id[gid].parent
        return out[::-1]  # outermost first

    infos = checked.infos
    containers = {
        g.id: Container(g, level[g.id], sum(infos[i].params for i in g.nodes))
        for g in found
        if g.id in opened and (g.parent is None or g.parent in opened)
    }
    boxes: dict[str, Box] = {}
    box_of: dict[int, str] = {}
    layer_names = {node.name for node in model.nodes}
    for node in model.nodes:
        groups_above = chain(innermost.get(node.index))
        closed = next((gid for gid in groups_above if gid not in opened), None)
        if closed is not None:
            group = by_id[closed]
            # a closed group's box is named by its path, unless a layer has that name
            box_id = group.path if group.path not in layer_names else f"{group.path}/{group.id}"
            box_of[node.index] = box_id
            if box_id not in boxes:
                parent = group.parent if group.parent in containers else None
                boxes[box_id] = _group_box(checked, group, parent, box_id)
            continue
        container = groups_above[-1] if groups_above else None
        boxes[node.name] = _layer_box(checked, node, container)
        box_of[node.index] = node.name

    tensors: dict[int, Tensor] = {}

    def tensor(i: int) -> Tensor:
        if i not in tensors:
            shape = fmt_shape(infos[i].shape)
            tensors[i] = Tensor(i, model.nodes[i].name, box_of[i], shape)
        return tensors[i]

    for node in model.nodes:
        target = box_of[node.index]
        for position, i in enumerate(node.inputs):
            if box_of[i] == target:
                continue
            t = tensor(i)
            if target not in t.readers:
                t.consumers.append(target)
                t.readers[target] = []
            t.readers[target].append(node.name)
            if position == 0 and node.role.startswith("residual"):
                t.main_path.add(target)
    for index in model.outputs:
        out = tensor(index)
        out.consumers.append(OUTPUT)
        out.readers[OUTPUT] = []
    for box in boxes.values():
        if box.collapsed is not None:
            leaving = [
                t.shape
                for t in sorted(tensors.values(), key=lambda t: t.node)
                if t.source == box.id
            ]
            box.lines = (box.lines[0], f"output {', '.join(leaving)}", *box.lines[1:])
    return Diagram(
        model.name, boxes, containers, sorted(tensors.values(), key=lambda t: t.node), depth
    )


def _count(params: int) -> str:
    return f"{params:,} param" + ("" if params == 1 else "s")


def _params_line(total: int, trainable: int) -> str:
    frozen = total - trainable
    return _count(total) + (f" ({frozen:,} non-trainable)" if frozen else "")


def _layer_box(checked: CheckedModel, node, container: str | None) -> Box:
    info = checked.infos[node.index]
    words = [node.kind, *(_arg_text(arg) for arg in node.args if arg.key != "name")]
    if node.role:
        words.append(f"({node.role.replace('_', ' ')})")
    lines = [" ".join(words)]
    if info.params:
        lines.append(_params_line(info.params, info.trainable))
    if node.kind == "input" or not node.inputs:
        style = "input"
    elif len(node.inputs) > 1:
        style = "merge"
    else:
        style = "weighted" if info.params else "plain"
    explain = checked.explain(node.index)
    tooltip = "\n".join(
        [
            f"{node.name}: {node.kind}, output {fmt_shape(info.shape)}",
            *explain,
            f"line {node.span.line}",
        ]
    )
    return Box(
        id=node.name,
        title=node.name,
        lines=tuple(lines),
        kind=node.kind,
        style=style,
        container=container,
        nodes=(node.index,),
        params=info.params,
        trainable=info.trainable,
        tooltip=tooltip,
    )


def _group_box(checked: CheckedModel, group: Group, container: str | None, box_id: str) -> Box:
    infos = checked.infos
    total = sum(infos[i].params for i in group.nodes)
    trainable = sum(infos[i].trainable for i in group.nodes)
    layers = len(group.nodes)
    lines = [f"{group.kind} · {layers} layer" + ("" if layers == 1 else "s")]
    lines.append(_params_line(total, trainable))
    names = checked.model.nodes
    tooltip = f"{group.path}: {group.label}\n" + ", ".join(names[i].name for i in group.nodes)
    return Box(
        id=box_id,
        title=group.label,
        lines=tuple(lines),
        kind=group.kind,
        style="collapsed",
        container=container,
        nodes=group.nodes,
        params=total,
        trainable=trainable,
        tooltip=tooltip,
        collapsed=group,
    )


def _arg_text(arg) -> str:
    """An argument as written, with block parameters replaced by their values."""
    value = arg.value
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, tuple):
        text = "x".join(_number(v) for v in value)
    elif isinstance(value, int | float):
        text = arg.text if _same_number(arg.text, value) else _number(value)
    elif value is None:
        text = arg.text
    else:
        text = str(value)
    return f"{arg.key}={text}" if arg.key else text


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _same_number(text: str, value: float) -> bool:
    try:
        return float(text) == value
    except ValueError:
        return False
