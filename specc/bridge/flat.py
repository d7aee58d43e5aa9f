"""A graph that is not one nesting of residuals and branches, as named layers read by name.

Several inputs, several outputs, or skips that cross each other (a U-Net's encoder read by its
decoder, a second head reading a layer in the middle) are what a spec says with names: every
layer on its own line, in an order where most layers read the line before them; a layer that
reads another one says so (``dense 1 from=joint``), an ``add``/``concat`` names the layers it
merges besides the previous one (``concat enc2``), ``input ... name=`` starts another input,
and ``output a b`` lists the outputs.  A ``multiply`` is a spec merge only as ``branch
multiply``: two paths from one tensor (a squeeze-and-excitation gate times its map) are written
so; a multiply of anything else (two inputs, say) is what a spec cannot say (E0702).
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
    :class:`ImportFailure` (E0702) for a multiply that is not of two paths from one tensor."""
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
    """A multiply of two paths from one tensor (a path: one-input layers, each read only by
    the next; an empty path is the tensor itself): the ``branch multiply`` item, and the
    tensor."""
    layer = graph.layers[index]
    if len(layer.inputs) != 2:
        raise _failure(graph, index, "a spec's multiply has two inputs")
    paths: list[list] = []
    sources = []
    for start in layer.inputs:
        chain: list[int] = []
        current, reader = start, index
        while (
            graph.layers[current].kind != "input"
            and len(graph.layers[current].inputs) == 1
            and users[current] == [reader]
            and len({*layer.inputs}) == 2
        ):
            chain.insert(0, current)
            current, reader = graph.layers[current].inputs[0], current
        paths.append([LayerItem(c) for c in chain])
        sources.append(current)
    if sources[0] != sources[1]:
        raise _failure(graph, index, "it multiplies tensors that are not paths from one tensor")
    return MergeItem(index, paths), sources[0]


def _failure(graph: Graph, index: int, why: str) -> ImportFailure:
    layer = graph.layers[index]
    return ImportFailure(
        "E0702",
        f"the model's graph cannot be written as a spec at layer {layer.name or layer.kind} "
        f"({layer.source or layer.kind}): {why}",
        help="a spec multiplies only inside `branch multiply { } { }`: paths that start from "
        "the same tensor",
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
