"""A layered (Sugiyama-style) drawing of one directed acyclic graph.

The classic steps: assign every item a rank (longest path from the sources), replace each link
that spans several ranks by a chain of points, order every rank to reduce crossings (barycenter
sweeps, keeping the best order seen), place items across the flow in straight columns that
never overlap (:mod:`specc.diagram.placement`), stack the ranks along the flow, and route each
link through its points.

Coordinates are abstract: ``o`` runs across the flow (x when the diagram runs top to bottom),
``r`` along it.  An item's ``along`` is its size in ``o``, ``across`` its size in ``r``.  Items
with role ``in`` sit on the first rank and ``out`` on the last (the ports of a group).
A route is a start point and a list of ``("L" | "C", point)``: straight segments run within a
rank's band (where no other item can be), curves cross the empty gap between two bands.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from specc.diagram.placement import place_across

Point = tuple[float, float]
Route = tuple[Point, tuple[tuple[str, Point], ...]]


@dataclass(frozen=True)
class Item:
    """Something to place: a box, a label, a group (laid out already) or a port."""

    key: Hashable
    along: float
    across: float
    role: str = "box"  # box | label | group | in | out


@dataclass(frozen=True)
class Link:
    """A link to draw from ``source`` to ``target``; offsets move its ends across the flow."""

    source: Hashable
    target: Hashable
    weight: float = 1.0
    source_offset: float = 0.0
    target_offset: float = 0.0


@dataclass(frozen=True)
class Spacing:
    """Distances between things, in pixels."""

    items: float = 24.0  # across the flow, between two real items
    point: float = 12.0  # between a real item and a link passing by
    points: float = 10.0  # between two links passing by
    ranks: float = 16.0  # the least gap along the flow between two ranks
    ranks_max: float = 44.0  # the gap grows with the links' slant up to this


@dataclass
class Placed:
    """The result: each item's centre across the flow and start along it, and the routes."""

    o: dict[Hashable, float]
    r: dict[Hashable, float]
    rank: dict[Hashable, int]
    size: tuple[float, float]  # (extent across the flow, extent along it)
    routes: list[Route] = field(default_factory=list)  # one per link, in order
    crossings: int = 0


@dataclass
class Node:
    """An item, or a point where a long link crosses a rank, in the ranked graph."""

    along: float
    across: float
    role: str
    rank: int = 0


@dataclass
class Edge:
    """A link, or a piece of one, between two adjacent ranks; offsets as :class:`Link`'s."""

    a: int
    b: int
    weight: float
    off_a: float
    off_b: float


def layout(items: Sequence[Item], links: Sequence[Link], spacing: Spacing = Spacing()) -> Placed:
    """Place ``items`` and route ``links`` (which must form a DAG over the items)."""
    index = {item.key: i for i, item in enumerate(items)}
    nodes = [Node(item.along, item.across, item.role) for item in items]
    _assign_ranks(nodes, [(index[link.source], index[link.target]) for link in links])
    edges, chains = _split_long_links(nodes, links, index)
    layers = _initial_order(nodes, edges)
    crossings = _reduce_crossings(nodes, edges, layers)
    o, root = place_across(nodes, edges, layers, spacing)
    band_start, band_end, extent = _stack_ranks(nodes, edges, layers, o, spacing)
    left = min((o[v] - nodes[v].along / 2 for v in range(len(nodes))), default=0.0)
    o = [x - left for x in o]
    width = max((o[v] + nodes[v].along / 2 for v in range(len(nodes))), default=0.0)
    r_of = [
        band_start[n.rank] + (band_end[n.rank] - band_start[n.rank] - n.across) / 2 for n in nodes
    ]
    offsets = _spread_ends(nodes, edges, o, root)
    routes = []
    for chain in chains:
        routes.append(_route(nodes, edges, chain, o, r_of, band_start, band_end, offsets))
    return Placed(
        o={item.key: o[i] for i, item in enumerate(items)},
        r={item.key: r_of[i] for i, item in enumerate(items)},
        rank={item.key: nodes[i].rank for i, item in enumerate(items)},
        size=(width, extent),
        routes=routes,
        crossings=crossings,
    )


# -- ranks ------------------------------------------------------------------------------------


def _assign_ranks(nodes: list[Node], pairs: list[tuple[int, int]]) -> None:
    """Longest path from the sources; ports in on rank 0 and ports out on the last rank."""
    n = len(nodes)
    succ: list[list[int]] = [[] for _ in range(n)]
    indegree = [0] * n
    for a, b in pairs:
        succ[a].append(b)
        indegree[b] += 1
    has_ports = any(node.role == "in" for node in nodes)
    for node in nodes:
        node.rank = 1 if has_ports and node.role != "in" else 0
    ready = [v for v in range(n) if indegree[v] == 0]
    heapq.heapify(ready)
    seen = 0
    while ready:
        v = heapq.heappop(ready)
        seen += 1
        for w in succ[v]:
            nodes[w].rank = max(nodes[w].rank, nodes[v].rank + 1)
            indegree[w] -= 1
            if indegree[w] == 0:
                heapq.heappush(ready, w)
    if seen != n:
        raise ValueError("the links of a layered layout must not form a cycle")
    last = max((node.rank for node in nodes if node.role != "out"), default=0)
    for node in nodes:
        if node.role == "out":
            node.rank = last + 1


def _split_long_links(
    nodes: list[Node], links: Sequence[Link], index: dict
) -> tuple[list[Edge], list[list[int]]]:
    """One edge per pair of adjacent ranks: a point on every rank a link passes."""
    edges: list[Edge] = []
    chains: list[list[int]] = []
    for link in links:
        a, b = index[link.source], index[link.target]
        chain = []
        previous, off = a, link.source_offset
        for rank in range(nodes[a].rank + 1, nodes[b].rank):
            nodes.append(Node(0.0, 0.0, "point", rank))
            point = len(nodes) - 1
            edges.append(Edge(previous, point, link.weight, off, 0.0))
            chain.append(len(edges) - 1)
            previous, off = point, 0.0
        edges.append(Edge(previous, b, link.weight, off, link.target_offset))
        chain.append(len(edges) - 1)
        chains.append(chain)
    return edges, chains


# -- order within ranks -----------------------------------------------------------------------


def _initial_order(nodes: list[Node], edges: list[Edge]) -> list[list[int]]:
    """Ranks filled in depth-first order from the sources: chains stay in one column."""
    succ: list[list[int]] = [[] for _ in nodes]
    has_pred = [False] * len(nodes)
    for e in edges:
        succ[e.a].append(e.b)
        has_pred[e.b] = True
    layers: list[list[int]] = [[] for _ in range(max((n.rank for n in nodes), default=0) + 1)]
    seen = [False] * len(nodes)
    for root in [v for v in range(len(nodes)) if not has_pred[v]]:
        stack = [root]
        while stack:
            v = stack.pop()
            if seen[v]:
                continue
            seen[v] = True
            layers[nodes[v].rank].append(v)
            stack.extend(reversed(succ[v]))
    return layers


def _reduce_crossings(nodes: list[Node], edges: list[Edge], layers: list[list[int]]) -> int:
    """Barycenter sweeps down and up; keeps the order with the fewest crossings seen."""
    preds: list[list[tuple[int, float]]] = [[] for _ in nodes]
    succs: list[list[tuple[int, float]]] = [[] for _ in nodes]
    for e in edges:
        succs[e.a].append((e.b, _fraction(nodes[e.b], e.off_b)))
        preds[e.b].append((e.a, _fraction(nodes[e.a], e.off_a)))
    position = [0] * len(nodes)
    for layer in layers:
        for i, v in enumerate(layer):
            position[v] = i
    best = [list(layer) for layer in layers]
    best_count = _count_crossings(nodes, edges, layers, position)
    stall = 0
    for sweep in range(24):
        if best_count == 0 or stall >= 4:
            break
        down = sweep % 2 == 0
        order = range(1, len(layers)) if down else range(len(layers) - 2, -1, -1)
        for r in order:
            neighbours = preds if down else succs
            layer = layers[r]
            keys = {}
            for v in layer:
                around = neighbours[v]
                if around:
                    keys[v] = sum(position[u] + f for u, f in around) / len(around)
                else:
                    keys[v] = float(position[v])
            layer.sort(key=lambda v: keys[v])
            for i, v in enumerate(layer):
                position[v] = i
        count = _count_crossings(nodes, edges, layers, position)
        if count < best_count:
            best, best_count, stall = [list(layer) for layer in layers], count, 0
        else:
            stall += 1
    layers[:] = best
    return best_count


def _fraction(node: Node, offset: float) -> float:
    """Where on an item a link ends, as a fraction of a position (ports of groups)."""
    if not offset or node.along <= 0:
        return 0.0
    return max(-0.45, min(0.45, offset / node.along))


def _count_crossings(
    nodes: list[Node], edges: list[Edge], layers: list[list[int]], position: list[int]
) -> int:
    by_rank: dict[int, list[tuple[float, float]]] = {}
    for e in edges:
        a = position[e.a] + _fraction(nodes[e.a], e.off_a)
        b = position[e.b] + _fraction(nodes[e.b], e.off_b)
        by_rank.setdefault(nodes[e.a].rank, []).append((a, b))
    total = 0
    for pairs in by_rank.values():
        pairs.sort()
        total += _inversions([b for _, b in pairs])
    return total


def _inversions(values: list[float]) -> int:
    """Pairs i < j with values[i] > values[j] (merge sort)."""
    if len(values) < 2:
        return 0
    mid = len(values) // 2
    left, right = values[:mid], values[mid:]
    count = _inversions(left) + _inversions(right)
    left.sort()
    right.sort()
    i = 0
    for value in right:
        while i < len(left) and left[i] <= value:
            i += 1
        count += len(left) - i
    return count


# -- coordinates ------------------------------------------------------------------------------


def _stack_ranks(
    nodes: list[Node],
    edges: list[Edge],
    layers: list[list[int]],
    o: list[float],
    spacing: Spacing,
) -> tuple[list[float], list[float], float]:
    """Each rank's band along the flow; the gap after a rank grows with its links' slant."""
    thickness = [max((nodes[v].across for v in layer), default=0.0) for layer in layers]
    slant = [0.0] * len(layers)
    for e in edges:
        dx = abs((o[e.a] + e.off_a) - (o[e.b] + e.off_b))
        rank = nodes[e.a].rank
        slant[rank] = max(slant[rank], dx)
    start, end = [], []
    r = 0.0
    for rank, thick in enumerate(thickness):
        start.append(r)
        end.append(r + thick)
        r += thick
        if rank < len(layers) - 1:
            r += min(max(spacing.ranks, 0.3 * slant[rank]), spacing.ranks_max)
    return start, end, r


# -- routes -----------------------------------------------------------------------------------


def _spread_ends(
    nodes: list[Node], edges: list[Edge], o: list[float], root: list[int]
) -> list[list[float]]:
    """Final end offsets: several links into (or out of) one box meet it side by side.

    A link that belongs to the box's column keeps meeting it straight; the others arrive on
    the side they come from, spread over that side.
    """
    offsets = [[e.off_a, e.off_b] for e in edges]
    ends: dict[tuple[int, int], list[int]] = {}  # (box, side) -> edges; side 1: into the box
    for i, e in enumerate(edges):
        if nodes[e.b].role == "box":
            ends.setdefault((e.b, 1), []).append(i)
        if nodes[e.a].role == "box":
            ends.setdefault((e.a, 0), []).append(i)
    for (v, side), ids in ends.items():
        if len(ids) < 2:
            continue
        far = [edges[i].a if side else edges[i].b for i in ids]
        loose = [(o[u], i) for u, i in zip(far, ids, strict=True) if root[u] != root[v]]
        half = nodes[v].along / 2
        if len(loose) == len(ids):  # nothing straight: spread them all
            loose.sort()
            usable = half * 1.2
            for k, (_, i) in enumerate(loose):
                offsets[i][side] = -usable / 2 + usable * k / (len(loose) - 1)
            continue
        left = sorted(item for item in loose if item[0] < o[v])
        right = sorted(item for item in loose if item[0] >= o[v])
        for group, sign in ((left, -1.0), (right, 1.0)):
            for k, (_, i) in enumerate(group if sign > 0 else group[::-1]):
                step = (k + 1) / (len(group) + 1)
                offsets[i][side] = sign * half * (0.2 + 0.6 * step)
    return offsets


def _route(
    nodes: list[Node],
    edges: list[Edge],
    chain: list[int],
    o: list[float],
    r_of: list[float],
    band_start: list[float],
    band_end: list[float],
    offsets: list[list[float]],
) -> Route:
    first = edges[chain[0]]
    x = o[first.a] + offsets[chain[0]][0]
    start = (x, r_of[first.a] + nodes[first.a].across)
    steps: list[tuple[str, Point]] = [("L", (x, band_end[nodes[first.a].rank]))]
    for k, i in enumerate(chain):
        e = edges[i]
        x = o[e.b] + offsets[i][1]
        rank = nodes[e.b].rank
        steps.append(("C", (x, band_start[rank])))
        last = k == len(chain) - 1
        steps.append(("L", (x, r_of[e.b] if last else band_end[rank])))
    return start, tuple(steps)
