"""``specc import``: a Keras or ONNX model file as a spec, checked by specc itself.

:func:`import_model` reads the file (:mod:`keras_reader` or :mod:`onnx_reader`), simplifies the
graph, recovers its nesting and repeated blocks, writes the spec, and checks it: the result
holds the spec text, the checked model and, for every node of the checked model, the layer of
the original it came from (so that :mod:`specc.bridge.weights` can carry the weights over).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

from specc.bridge.blocks import CallItem, RepeatItem, find_blocks, top_leaves
from specc.bridge.flat import flat_units, leaves_of
from specc.bridge.graph import Graph, ImportFailure, NotAModel, Unsupported
from specc.bridge.simplify import fold_uneven_padding, fold_window_padding
from specc.bridge.spec_text import usable_name
from specc.bridge.structure import MergeItem, decompose, leaves
from specc.bridge.writer import flat_spec_text, spec_text
from specc.compiler import CheckedModel, check_text
from specc.layers import canonical

FORMATS = {".keras": "keras", ".onnx": "onnx"}
# a name specc would give a node by default: kind_3, add_1, repeat_2, res_block_4
DEFAULT_NAME = re.compile(r"^[a-z][a-z0-9_]*_\d+$")


class SpecDoesNotCheck(Exception):
    """The spec written from a model fails ``specc check``: a bug in the importer."""


@dataclass
class Imported:
    """A model read into a spec.  ``origin[i]`` is the index, in ``graph``, of the layer that
    the checked model's node ``i`` came from."""

    graph: Graph
    text: str
    checked: CheckedModel
    origin: list[int]
    framework: str


def file_format(path: str | Path) -> str:
    """``"keras"`` or ``"onnx"``, from the file's suffix (or its first bytes)."""
    suffix = Path(path).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise NotAModel(f"cannot read {path}: {exc.strerror}") from None
    if head.startswith(b"PK"):
        return "keras"
    raise NotAModel(f"cannot tell the format of {path}: name it .keras or .onnx")


def read_graph(path: str | Path) -> tuple[Graph, str]:
    """The model file as a graph of specc layers, and its framework."""
    if not Path(path).is_file():
        raise NotAModel(f"no such file: {path}")
    framework = file_format(path)
    if framework == "keras":
        from specc.bridge.keras_reader import read_keras

        graph = read_keras(path)
    else:
        from specc.bridge.onnx_reader import read_onnx

        graph = read_onnx(path)
    unsupported = Unsupported(Path(path).name)
    fold_window_padding(graph, unsupported)
    fold_uneven_padding(graph, unsupported)
    unsupported.raise_if_any()
    return graph, framework


def import_model(path: str | Path, spec_name: str = "<imported>") -> Imported:
    """Read ``path`` (``.keras`` or ``.onnx``) and write it as a checked spec.

    Raises :class:`NotAModel` for a file that is no model, :class:`ImportFailure` for a
    model a spec cannot say (E0701: layers, E0702: a multiply a spec cannot say).
    """
    graph, framework = read_graph(path)
    what = {"keras": "a Keras model", "onnx": "an ONNX model"}[framework]
    header = [f"Imported by `specc import` from {Path(path).name} ({what})."]
    single = framework == "onnx"
    nested = None
    if len(graph.inputs) == 1 and len(graph.outputs) == 1:
        with contextlib.suppress(ImportFailure):  # not one nesting: named layers instead
            nested = decompose(graph)
    if nested is None:
        return _import_flat(graph, spec_name, header, single, framework)
    blocks, sequence = find_blocks(graph, nested)
    origin = [0, *top_leaves(sequence)]
    draft = spec_text(graph, blocks, sequence, names={}, header=header, single=single)
    checked = _check(draft, spec_name, graph, origin)
    names = _names(graph, checked, origin, sequence)
    text = draft
    if names:
        named = spec_text(graph, blocks, sequence, names=names, header=header, single=single)
        # a name the spec refuses leaves specc's own names
        with contextlib.suppress(SpecDoesNotCheck):
            checked, text = _check(named, spec_name, graph, origin), named
    return Imported(graph, text, checked, origin, framework)


def _import_flat(
    graph: Graph, spec_name: str, header: list[str], single: bool, framework: str
) -> Imported:
    """A graph that is not one nesting, written with names (:mod:`specc.bridge.flat`)."""
    units = flat_units(graph)
    origin = leaves_of(units)
    needed = set(graph.outputs) if len(graph.outputs) > 1 else set()
    if graph.outputs != [units[-1].item.index]:
        needed |= set(graph.outputs)
    for unit in units:
        needed |= set(unit.refs) | ({unit.source} if unit.source is not None else set())
    if len(graph.inputs) > 1:
        needed |= set(graph.inputs)
    inner = {
        p.index
        for u in units
        if isinstance(u.item, MergeItem)
        for path in u.item.paths
        for p in path
    }
    names: dict[int, str] = {}
    taken: set[str] = set()
    for i, layer in enumerate(graph.layers):
        if i in inner or (layer.kind in ("add", "concat", "multiply") and i not in needed):
            continue
        name = layer.name
        if (
            name
            and usable_name(name)
            and name not in taken
            and (i in needed or not DEFAULT_NAME.match(name))
        ):
            names[i] = name
            taken.add(name)
    counter = 0
    for i in sorted(needed - set(names)):
        while True:
            counter += 1
            name = f"{graph.layers[i].kind}_{counter}"
            if name not in taken:
                break
        names[i] = name
        taken.add(name)
    text = flat_spec_text(graph, units, names=names, header=header, single=single)
    checked = _check(text, spec_name, graph, origin)
    return Imported(graph, text, checked, origin, framework)


def _check(text: str, spec_name: str, graph: Graph, origin: list[int]) -> CheckedModel:
    checked = check_text(text, spec_name)
    errors = [d for d in checked.diagnostics if d.severity == "error"]
    if errors or checked.model is None:
        first = "; ".join(f"{d.code} {d.message}" for d in errors[:3])
        raise SpecDoesNotCheck(f"the spec written from the model does not check: {first}")
    kinds = [canonical(n.kind) for n in checked.model.nodes]
    expected = [graph.layers[i].kind for i in origin]
    if kinds != expected:
        raise SpecDoesNotCheck(
            "the spec written from the model has other layers than the model "
            f"({len(kinds)} nodes for {len(expected)} layers)"
        )
    return checked


def _names(graph: Graph, checked: CheckedModel, origin: list[int], sequence) -> dict[int, str]:
    """``name=`` for the top-level layers whose framework name says more than specc's
    default (``conv1_conv``, not ``conv2d_3``), where it is usable and unique."""
    in_blocks: set[int] = set()
    for item in sequence:
        calls = item.calls if isinstance(item, RepeatItem) else [item]
        for call in calls:
            if isinstance(call, CallItem):
                in_blocks.update(leaves(call.items))
    taken = {n.name.split(".")[0] for n in checked.model.nodes}
    chosen: dict[int, str] = {}
    for node_index, layer_index in enumerate(origin):
        layer = graph.layers[layer_index]
        if node_index == 0 or layer_index in in_blocks or layer.kind in ("add", "concat"):
            continue
        name = layer.name
        current = checked.model.nodes[node_index].name
        if (
            not name
            or name == current
            or not usable_name(name)
            or DEFAULT_NAME.match(name)
            or name in taken
            or name in chosen.values()
        ):
            continue
        chosen[layer_index] = name
    return chosen
