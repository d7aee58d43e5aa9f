"""Positions across the flow for a layered layout: straight columns that never overlap.

As in Brandes and Köpf's method, items are first aligned into blocks, vertical runs that will
share one position: a long link's points, a chain of items with one way in and one way out, the
main path into a residual merge, the middle branch of a fork.  The blocks are then packed from
the left and moved, one at a time, towards the weighted mean of the blocks they link to, within
the room their neighbours in each rank leave (coordinate descent on a convex objective, every
step feasible).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from specc.diagram.layered import Edge, Node, Spacing

POINT_ROLES = ("point", "in", "out")


def separation(a: Node, b: Node, spacing: Spacing) -> float:
    points = (a.role in POINT_ROLES) + (b.role in POINT_ROLES)
    gap = (spacing.items, spacing.point, spacing.points)[points]
    return (a.along + b.along) / 2 + gap


def place_across(
    nodes: list[Node], edges: list[Edge], layers: list[list[int]], spacing: Spacing
) -> tuple[list[float], list[int]]:
    """Each item's centre across the flow, and the block it belongs to."""
    root, rel = _align(nodes, edges, layers)
    x = _place_blocks(nodes, edges, layers, root, rel, spacing)
    if x is None:  # cannot happen for non-crossing blocks; single items always place
        root, rel = list(range(len(nodes))), [0.0] * len(nodes)
        x = _place_blocks(nodes, edges, layers, root, rel, spacing)
    return [x[root[v]] + rel[v] for v in range(len(nodes))], root


def _align(nodes: list[Node], edges: list[Edge], layers: list[list[int]]):
    """Blocks: each item joined to at most one item above, alignments never crossing."""
    n = len(nodes)
    position = [0] * n
    for layer in layers:
        for i, v in enumerate(layer):
            position[v] = i
    outdegree, indegree = [0] * n, [0] * n
    succ_pos: list[list[int]] = [[] for _ in range(n)]
    pred_pos: list[list[int]] = [[] for _ in range(n)]
    for e in edges:
        outdegree[e.a] += 1
        indegree[e.b] += 1
        succ_pos[e.a].append(position[e.b])
        pred_pos[e.b].append(position[e.a])
    for lists in (succ_pos, pred_pos):
        for values in lists:
            values.sort()

    def priority(e: Edge) -> tuple:
        points = (nodes[e.a].role == "point") + (nodes[e.b].role == "point")
        chain = outdegree[e.a] == 1 and indegree[e.b] == 1
        if points == 2:
            first = 1000.0
        elif chain:
            first = 100.0 + e.weight
        else:
            first = e.weight - 0.5 * points
        # between equals, the middle one of a fork or of a merge
        succs, preds = succ_pos[e.a], pred_pos[e.b]
        middle = abs(succs.index(position[e.b]) - (len(succs) - 1) / 2) + abs(
            preds.index(position[e.a]) - (len(preds) - 1) / 2
        )
        return (-first, middle, position[e.b])

    by_rank: dict[int, list[Edge]] = {}
    for e in edges:
        by_rank.setdefault(nodes[e.a].rank, []).append(e)
    root = list(range(n))
    rel = [0.0] * n
    joined_below = [False] * n
    joined_above = [False] * n
    for candidates in by_rank.values():
        candidates.sort(key=priority)
        tops: list[int] = []  # positions above of the accepted alignments, sorted
        bottoms: list[int] = []  # their positions below, in the same order
        for e in candidates:
            if joined_below[e.a] or joined_above[e.b]:
                continue
            top, bottom = position[e.a], position[e.b]
            i = bisect.bisect_left(tops, top)
            if (i and bottoms[i - 1] >= bottom) or (i < len(tops) and bottoms[i] <= bottom):
                continue  # it would cross an alignment already made
            tops.insert(i, top)
            bottoms.insert(i, bottom)
            joined_below[e.a] = joined_above[e.b] = True
            root[e.b] = root[e.a]
            rel[e.b] = rel[e.a] + e.off_a - e.off_b
    return root, rel


def _place_blocks(
    nodes: list[Node],
    edges: list[Edge],
    layers: list[list[int]],
    root: list[int],
    rel: list[float],
    spacing: Spacing,
) -> dict[int, float] | None:
    """Each block's position, or None if the blocks' left-to-right order is contradictory."""
    blocks = sorted(set(root))
    gap: dict[tuple[int, int], float] = {}  # (left block, right block) -> least distance
    for layer in layers:
        for a, b in itertools.pairwise(layer):
            need = separation(nodes[a], nodes[b], spacing) + rel[a] - rel[b]
            key = (root[a], root[b])
            gap[key] = max(gap.get(key, -math.inf), need)
    right_of: dict[int, list[tuple[int, float]]] = {b: [] for b in blocks}
    left_of: dict[int, list[tuple[int, float]]] = {b: [] for b in blocks}
    for (a, b), need in gap.items():
        right_of[a].append((b, need))
        left_of[b].append((a, need))
    order = _topological(blocks, right_of)
    if order is None:
        return None
    x = {}
    for b in order:  # packed from the left
        x[b] = max((x[a] + need for a, need in left_of[b]), default=0.0)
    pulls: dict[int, list[tuple[int, float, float]]] = {b: [] for b in blocks}
    for e in edges:
        a, b = root[e.a], root[e.b]
        if a == b:
            continue
        straight = (nodes[e.a].role == "point") + (nodes[e.b].role == "point")
        w = e.weight * (1.0, 2.0, 8.0)[straight]
        # x[b] + rel[e.b] + off_b should meet x[a] + rel[e.a] + off_a
        shift = rel[e.a] + e.off_a - rel[e.b] - e.off_b
        pulls[b].append((a, w, shift))
        pulls[a].append((b, w, -shift))
    sweeps = (order, order[::-1])
    for sweep in range(60):
        moved = 0.0
        for b in sweeps[sweep % 2]:
            if not pulls[b]:
                continue
            total = sum(w for _, w, _ in pulls[b])
            want = sum(w * (x[a] + shift) for a, w, shift in pulls[b]) / total
            low = max((x[a] + need for a, need in left_of[b]), default=-math.inf)
            high = min((x[c] - need for c, need in right_of[b]), default=math.inf)
            new = min(max(want, low), high) if low <= high else x[b]
            moved = max(moved, abs(new - x[b]))
            x[b] = new
        if moved < 0.01:
            break
    return x


def _topological(blocks: list[int], right_of: dict[int, list[tuple[int, float]]]):
    indegree = {b: 0 for b in blocks}
    for b in blocks:
        for c, _ in right_of[b]:
            indegree[c] += 1
    ready = [b for b in blocks if indegree[b] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        b = heapq.heappop(ready)
        order.append(b)
        for c, _ in right_of[b]:
            indegree[c] -= 1
            if indegree[c] == 0:
                heapq.heappush(ready, c)
    return order if len(order) == len(blocks) else None
