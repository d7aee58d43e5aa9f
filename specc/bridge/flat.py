"""A graph that is not one nesting of residuals and branches, as named layers read by name.

Several inputs, several outputs, or skips that cross each other (a U-Net's encoder read by its
decoder, a second head reading a layer in the middle) are what a spec says with names: every
layer on its own line, in an order where most layers read the line before them; a layer that
reads another one says so (``dense 1 from=joint``), an ``add``/``concat`` names the layers it
merges besides the previous one (``concat enc2``), ``input ... name=`` starts another input,
and ``output a b`` lists the outputs.  A ``multiply`` is a spec merge only as ``branch
multiply``: a tensor times a path from it (a squeeze-and-excitation gate) is written so; any
other multiply is the one graph a spec cannot say (E0702).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specc.bridge.graph import Graph, ImportFailure
from specc.bridge.structure import LayerItem, MergeItem

NAMED_MERGES = ("add", "concat")


@dataclass
class Unit:
    """One written statement: a layer, or a ``branch multiply`` (``item``); ``source`` the
    layer it reads when that is not the line before (``from=``), ``refs`` the other layers a
    merge names."""

    item: LayerItem | MergeItem
    source: int | None = None
    refs: list[int] = field(default_factory=list)


def flat_units(graph: Graph) -> list[Unit]:
    """The graph as statements in writing order (see the module doc); raises
    :class:`ImportFailure` (E0702) for a multiply that is not a tensor times a path from it."""
    users = graph.consumers()
    owned: set[int] = set()  # layers written inside a branch multiply
    pending: dict[int, tuple[MergeItem, int]] = {}  # head layer -> (item, the tensor it reads)
    for i, layer in enumerate(graph.layers):
        if layer.kind == "multiply":
            item, source = _gate(graph, users, i)
            pending[i] = (item, source)
            owned.update(p.index for path in item.paths for p in path)

    def reads(i: int) -> list[int]:
        return [pending[i][1]] if i in pending else graph.layers[i].inputs

    heads = [i for i in range(len(graph.layers)) if i not in owned]
    written: set[int] = set()
    order: list[int] = []
    last: int | None = None
    while len(order) < len(heads):
        ready = [i for i in heads if i not in written and all(j in written for j in reads(i))]
        follows = [i for i in ready if reads(i) and reads(i)[0] == last]
        follows = follows or [i for i in ready if last in reads(i)]
        chosen = min(follows or ready)
        order.append(chosen)
        written.add(chosen)
        last = chosen

    units: list[Unit] = []
    last = None
    for i in order:
        layer = graph.layers[i]
        if i in pending:
            item, source = pending[i]
            if source != last:
                raise _failure(graph, i, "its input is not the layer written before it")
            units.append(Unit(item))
        elif layer.kind == "input":
            units.append(Unit(LayerItem(i)))
        elif layer.kind in NAMED_MERGES:
            inputs = list(layer.inputs)
            if last in inputs and (layer.kind == "add" or inputs[0] == last):
                inputs.remove(last)
                units.append(Unit(LayerItem(i), None, inputs))
            else:
                units.append(Unit(LayerItem(i), inputs[0], inputs[1:]))
        else:
            source = layer.inputs[0]
            units.append(Unit(LayerItem(i), None if source == last else source))
        last = i
    return units


def _gate(graph: Graph, users: dict[int, list[int]], index: int) -> tuple[MergeItem, int]:
    """A multiply of a tensor and a path of one-input layers from it (each read only by the
    next): the ``branch multiply`` item, and the tensor."""
    layer = graph.layers[index]
    if len(layer.inputs) != 2:
        raise _failure(graph, index, "a spec's multiply has two inputs")
    for k in (1, 0):
        source, chain = layer.inputs[1 - k], []
        current = layer.inputs[k]
        while current != source and graph.layers[current].kind != "input":
            node = graph.layers[current]
            if len(node.inputs) != 1 or users[current] != ([index] if not chain else [chain[0]]):
                break
            chain.insert(0, current)
            current = node.inputs[0]
        if current == source and chain:
            paths: list[list] = [[], [LayerItem(c) for c in chain]]
            return MergeItem(index, paths if k == 1 else paths[::-1]), source
    raise _failure(graph, index, "it does not multiply a tensor by a path computed from it")


def _failure(graph: Graph, index: int, why: str) -> ImportFailure:
    layer = graph.layers[index]
    return ImportFailure(
        "E0702",
        f"the model's graph cannot be written as a spec at layer {layer.name or layer.kind} "
        f"({layer.source or layer.kind}): {why}",
        help="a spec multiplies only inside `branch multiply { } { }`: a tensor times a path "
        "that starts from it",
    )


def leaves_of(units: list[Unit]) -> list[int]:
    """The layer indices in the order the spec's nodes are created."""
    out: list[int] = []
    for unit in units:
        if isinstance(unit.item, MergeItem):
            for path in unit.item.paths:
                out += [p.index for p in path]
        out.append(unit.item.index)
    return out
