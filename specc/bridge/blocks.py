"""Repeated structure: blocks with parameters, and ``repeat`` for runs of equal calls.

The top-level sequence is cut into *units*: a residual or branch together with the
activations right after it (``residual { ... } shortcut { ... }; relu``), or a single layer.
Units whose structure is the same up to parameter values (the same kinds, merges and paths,
the same activations and paddings: :func:`signature`) are instances of one block.  For every
parameter value that differs between the instances the block gets a parameter; values that
always agree share one parameter, and a value that is always an integer multiple of another
is written as that expression (``(f * 4)``).  Consecutive calls with equal arguments become
``repeat N { block(args) }``.  ResNet stages come out as one call of the stage's first
(projecting) block and a ``repeat`` of its identity block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from specc.bridge.graph import Graph
from specc.bridge.structure import Item, LayerItem, MergeItem, leaves

# parameters that set a layer's form, not a size: they stay literal in a block
FIXED_TYPES = (str, type(None))


@dataclass
class Slot:
    """A block parameter: its name and its value in each instance."""

    name: str
    values: list[Any]


@dataclass
class BlockDef:
    """A block: its name, parameters, a template instance (its items) and, for each leaf
    position and parameter key, the text the body writes instead of a value."""

    name: str
    params: list[Slot]
    template: list[Item]
    written: dict[tuple[int, str], str] = field(default_factory=dict)


@dataclass
class CallItem:
    """One instance of a block: the call's argument values and the instance's own items;
    ``residual``: the call is the body of ``residual { }`` (``items`` then hold the merge)."""

    block: BlockDef
    args: list[Any]
    items: list[Item]
    residual: bool = False


@dataclass
class RepeatItem:
    """``repeat N { block(args) }``: the N calls, equal but for their layers."""

    calls: list[CallItem]


TopItem = Item | CallItem | RepeatItem


def signature(graph: Graph, items: list[Item]) -> tuple:
    """The structure of ``items`` without sizes: kinds, merges, paths, and the parameters that
    are words (activation, padding)."""
    out = []
    for item in items:
        if isinstance(item, LayerItem):
            layer = graph.layers[item.index]
            fixed = tuple(
                sorted((k, v) for k, v in layer.args.items() if isinstance(v, FIXED_TYPES))
            )
            out.append((layer.kind, fixed, tuple(sorted(layer.args))))
        else:
            kind = graph.layers[item.index].kind
            out.append(("merge", kind, tuple(signature(graph, p) for p in item.paths)))
    return tuple(out)


def units(graph: Graph, items: list[Item]) -> list[list[Item]]:
    """The top-level sequence cut into units: a merge with the activations after it, or one
    layer."""
    out: list[list[Item]] = []
    for item in items:
        following = (
            out
            and isinstance(item, LayerItem)
            and graph.layers[item.index].kind == "activation"
            and isinstance(out[-1][0], MergeItem)
            and all(isinstance(i, LayerItem) for i in out[-1][1:])
        )
        if following:
            out[-1].append(item)
        else:
            out.append([item])
    return out


@dataclass
class _Instance:
    """A candidate instance of a block: the units it spans (``first`` and ``count`` in the
    cut sequence), the items the block's body stands for, and whether the call is wrapped in
    ``residual { }`` (the body of an identity residual)."""

    first: int
    count: int
    body: list[Item]
    residual: bool = False


def find_blocks(graph: Graph, items: list[Item]) -> tuple[list[BlockDef], list[TopItem]]:
    """The blocks of the top-level sequence and the sequence written with them.

    Candidates are merge units (a residual or branch and the activations after it) and the
    bodies of identity residuals, which also match runs of plain layers: MobileNetV2's
    bottleneck is one block, called alone where it changes the shape and in ``residual { }``
    where it keeps it.
    """
    cut = units(graph, items)
    groups: dict[tuple, list[_Instance]] = {}
    for i, unit in enumerate(cut):
        head = unit[0]
        if not isinstance(head, MergeItem):
            continue
        if len(unit) == 1 and head.is_residual(graph) and not head.paths[1]:
            body = head.paths[0]
            groups.setdefault(signature(graph, body), []).append(_Instance(i, 1, body, True))
        else:
            groups.setdefault(signature(graph, unit), []).append(_Instance(i, 1, unit))
    _plain_windows(graph, cut, groups)
    blocks: list[BlockDef] = []
    calls: dict[int, tuple[CallItem, int]] = {}
    names: dict[str, int] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda m: m.first)
        first = members[0]
        name = _block_name(graph, first, names)
        block = _make_block(graph, [m.body for m in members], name)
        blocks.append(block)
        for k, member in enumerate(members):
            unit_items = [
                item for unit in cut[member.first : member.first + member.count] for item in unit
            ]
            args = [slot.values[k] for slot in block.params]
            call = CallItem(block, args, unit_items, member.residual)
            calls[member.first] = (call, member.count)
    sequence: list[TopItem] = []
    i = 0
    while i < len(cut):
        if i in calls:
            call, count = calls[i]
            sequence.append(call)
            i += count
        else:
            sequence += cut[i]
            i += 1
    return blocks, _repeats(sequence)


def _plain_windows(graph: Graph, cut: list[list[Item]], groups: dict) -> None:
    """Runs of plain layers with the structure of an identity residual's body: more
    instances of that body (added to ``groups``)."""
    bodies = [
        sig
        for sig, members in groups.items()
        if any(m.residual for m in members) and all(x[0] != "merge" for x in sig)
    ]
    taken: set[int] = set()
    for sig in sorted(bodies, key=len, reverse=True):
        length = len(sig)
        i = 0
        while i + length <= len(cut):
            window = cut[i : i + length]
            plain = all(len(u) == 1 and isinstance(u[0], LayerItem) for u in window)
            free = not taken & set(range(i, i + length))
            items = [u[0] for u in window]
            if plain and free and signature(graph, items) == sig:
                groups[sig].append(_Instance(i, length, items))
                taken.update(range(i, i + length))
                i += length
            else:
                i += 1


def _block_name(graph: Graph, first: _Instance, taken: dict[str, int]) -> str:
    head = first.body[0] if first.body else None
    if first.residual or not isinstance(head, MergeItem):
        base = "block"
    elif head.is_residual(graph):
        base = "res_block"
    else:
        base = f"{graph.layers[head.index].kind}_block"
    taken[base] = taken.get(base, 0) + 1
    return base if taken[base] == 1 else f"{base}_{taken[base]}"


def _make_block(graph: Graph, instances: list[list[Item]], name: str) -> BlockDef:
    """Parameters for whatever differs between ``instances`` (same signature)."""
    positions = [leaves(unit) for unit in instances]
    slots: list[Slot] = []
    written: dict[tuple[int, str], str] = {}
    used: dict[str, int] = {}
    for j in range(len(positions[0])):
        template = graph.layers[positions[0][j]]
        for key in sorted(template.args, key=_key_order(template.kind)):
            values = [graph.layers[p[j]].args.get(key) for p in positions]
            if isinstance(values[0], FIXED_TYPES) or all(v == values[0] for v in values):
                continue
            values = [_scalar(v) for v in values]
            text = _expression(values, slots)
            if text is None:
                slot = Slot(_fresh(key, used), values)
                slots.append(slot)
                text = slot.name
            written[(j, key)] = text
    return BlockDef(name, slots, instances[0], written)


def _key_order(kind: str):
    """Positional parameters first (as a layer line writes them), then the others."""
    from specc.layers import lookup

    registered = lookup(kind)
    order = list(registered.positional) + [
        k for k in registered.Params.model_fields if k not in registered.positional
    ]
    return lambda key: order.index(key) if key in order else len(order)


def _scalar(value: Any) -> Any:
    """A size with every axis equal as one number (the spec's sizes accept that)."""
    if isinstance(value, tuple | list) and value and all(v == value[0] for v in value):
        return value[0]
    return value


def _expression(values: list[Any], slots: list[Slot]) -> str | None:
    """An existing parameter equal to ``values``, or an integer multiple of one."""
    for slot in slots:
        if slot.values == values:
            return slot.name
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    for slot in slots:
        base = slot.values
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in base):
            continue
        if all(v % b == 0 for v, b in zip(values, base, strict=True)):
            factors = {v // b for v, b in zip(values, base, strict=True)}
            if len(factors) == 1 and (factor := factors.pop()) > 1:
                return f"({slot.name} * {factor})"
    return None


def _fresh(key: str, used: dict[str, int]) -> str:
    used[key] = used.get(key, 0) + 1
    return key if used[key] == 1 else f"{key}_{used[key]}"


def _repeats(sequence: list[TopItem]) -> list[TopItem]:
    """Runs of two or more equal calls (same block, same arguments) as one ``repeat``."""
    out: list[TopItem] = []
    for item in sequence:
        previous = out[-1] if out else None
        if isinstance(item, CallItem):
            if isinstance(previous, RepeatItem) and _same_call(previous.calls[0], item):
                previous.calls.append(item)
                continue
            if isinstance(previous, CallItem) and _same_call(previous, item):
                out[-1] = RepeatItem([previous, item])
                continue
        out.append(item)
    return out


def _same_call(a: CallItem, b: CallItem) -> bool:
    return a.block is b.block and a.args == b.args and a.residual == b.residual


def top_leaves(sequence: list[TopItem]) -> list[int]:
    """The layer indices of a written sequence in the order the spec's nodes are created."""
    out: list[int] = []
    for item in sequence:
        if isinstance(item, CallItem):
            out += leaves(item.items)
        elif isinstance(item, RepeatItem):
            for call in item.calls:
                out += leaves(call.items)
        else:
            out += leaves([item])
    return out
