"""Print an imported model as spec text: header, blocks, then the top-level sequence.

The text is put into the canonical layout by the formatter (:func:`specc.formatter.
format_source`), so ``specc fmt`` leaves an imported spec unchanged.
"""

from __future__ import annotations

from specc.bridge.blocks import BlockDef, CallItem, RepeatItem, TopItem
from specc.bridge.flat import Unit
from specc.bridge.graph import Graph
from specc.bridge.spec_text import layer_line, value_text
from specc.bridge.structure import Item, LayerItem, MergeItem
from specc.formatter import format_source

INDENT = "  "


class _Printer:
    def __init__(self, graph: Graph, single: bool):
        self.graph = graph
        self.single = single  # float32 parameters (ONNX): their shortest float32 form
        self.lines: list[str] = []

    def emit(self, depth: int, text: str) -> None:
        self.lines.append(INDENT * depth + text)

    def items(
        self,
        items: list[Item],
        depth: int,
        names: dict[int, str],
        written: dict[tuple[int, str], str] | None = None,
        counter: list[int] | None = None,
    ) -> None:
        """Print ``items``; ``written`` (in a block) replaces parameter values by the block's
        parameters, by leaf position (``counter`` counts the leaves printed)."""
        counter = counter if counter is not None else [0]
        for item in items:
            if isinstance(item, LayerItem):
                layer = self.graph.layers[item.index]
                position = counter[0]
                counter[0] += 1
                here = {k: t for (j, k), t in (written or {}).items() if j == position}
                line = layer_line(
                    layer.kind,
                    layer.args,
                    written=here,
                    single=self.single,
                    name=names.get(item.index),
                )
                self.emit(depth, line)
            else:
                self.merge(item, depth, names, written, counter)

    def merge(self, item: MergeItem, depth, names, written, counter) -> None:
        kind = self.graph.layers[item.index].kind
        if item.is_residual(self.graph):
            self.emit(depth, "residual {")
            self.items(item.paths[0], depth + 1, names, written, counter)
            if item.paths[1]:
                self.emit(depth, "} shortcut {")
                self.items(item.paths[1], depth + 1, names, written, counter)
            self.emit(depth, "}")
        else:
            self.emit(depth, f"branch {kind} {{")
            for i, path in enumerate(item.paths):
                if i:
                    self.emit(depth, "} {")
                self.items(path, depth + 1, names, written, counter)
            self.emit(depth, "}")
        counter[0] += 1  # the merge node itself

    def block(self, block: BlockDef) -> None:
        params = ", ".join(slot.name for slot in block.params)
        self.emit(0, f"block {block.name}({params}) {{")
        self.items(block.template, 1, {}, block.written)
        self.emit(0, "}")
        self.emit(0, "")

    def call(self, call: CallItem, depth: int) -> None:
        args = ", ".join(
            value_text(slot.name, value, self.single)
            for slot, value in zip(call.block.params, call.args, strict=True)
        )
        if call.residual:
            self.emit(depth, "residual {")
            self.emit(depth + 1, f"{call.block.name}({args})")
            self.emit(depth, "}")
        else:
            self.emit(depth, f"{call.block.name}({args})")

    def sequence(self, sequence: list[TopItem], names: dict[int, str]) -> None:
        for item in sequence:
            if isinstance(item, CallItem):
                self.call(item, 0)
            elif isinstance(item, RepeatItem):
                self.emit(0, f"repeat {len(item.calls)} {{")
                self.call(item.calls[0], 1)
                self.emit(0, "}")
            else:
                self.items([item], 0, names)


def _input_line(graph: Graph, index: int, name: str | None, single: bool) -> str:
    return layer_line("input", graph.layers[index].args, single=single, name=name)


def flat_spec_text(
    graph: Graph,
    units: list[Unit],
    *,
    names: dict[int, str],
    header: list[str],
    single: bool = False,
) -> str:
    """A graph that is not one nesting, as named layers read by name (see
    :mod:`specc.bridge.flat`); ``names`` must name every layer read by name and every output."""
    printer = _Printer(graph, single)
    for line in header:
        printer.emit(0, f"# {line}" if line else "#")
    printer.emit(0, f"model {graph.name}")
    for k, unit in enumerate(units):
        index = unit.item.index
        if isinstance(unit.item, MergeItem):
            printer.merge(unit.item, 0, names, None, [0])
            continue
        layer = graph.layers[index]
        if layer.kind == "input":
            if k:
                printer.emit(0, "")
            printer.emit(0, _input_line(graph, index, names.get(index), single))
            continue
        line = layer_line(layer.kind, layer.args, single=single)
        words = line.split(" ")
        words[1:1] = [names[r] for r in unit.refs]
        if unit.source is not None:
            words.append(f"from={names[unit.source]}")
        if index in names:
            words.append(f"name={names[index]}")
        printer.emit(0, " ".join(words))
    last = units[-1].item.index
    if graph.outputs != [last]:
        printer.emit(0, "output " + " ".join(names[i] for i in graph.outputs))
    return format_source("\n".join(printer.lines) + "\n")


def spec_text(
    graph: Graph,
    blocks: list[BlockDef],
    sequence: list[TopItem],
    *,
    names: dict[int, str],
    header: list[str],
    single: bool = False,
) -> str:
    """The whole spec, formatted canonically.  ``names`` are the ``name=`` of top-level
    layers (by layer index), ``header`` the comment lines at the top."""
    printer = _Printer(graph, single)
    for line in header:
        printer.emit(0, f"# {line}" if line else "#")
    printer.emit(0, f"model {graph.name}")
    printer.emit(0, _input_line(graph, 0, None, single))
    printer.emit(0, "")
    for block in blocks:
        printer.block(block)
    printer.sequence(sequence, names)
    return format_source("\n".join(printer.lines) + "\n")
