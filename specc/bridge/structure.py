"""Recover a spec's nesting from a graph: sequences, residuals and branches.

A spec can say a graph that is *series-parallel* from its input: a sequence of layers, where a
tensor read by several layers splits into paths that meet again at one merge (``add`` or
``concat``), each path being such a sequence itself.  :func:`decompose` finds that nesting:
walking from the input, a tensor with several readers (a fork) is followed to its immediate
post-dominator, the first layer every path from it passes through; that layer must be a merge
whose inputs end the paths, and the layers between the fork and the merge must fall into
disjoint paths, one per merge input (an input that is the fork itself is an identity path).
Each path is decomposed the same way, within its own layers.  A graph that is not such a
nesting (a path that reads from outside its branch, two merges sharing a path) raises
:class:`ImportFailure`; the importer then writes it with named layers instead
(:mod:`specc.bridge.flat`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specc.bridge.graph import Graph, ImportFailure

MERGES = ("add", "concat", "multiply")


@dataclass
class LayerItem:
    """One layer of a sequence (``index`` into the graph's layers)."""

    index: int


@dataclass
class MergeItem:
    """Paths from the same tensor, merged by the layer ``index`` (an ``add`` or ``concat``);
    ``paths[i]`` computes the merge's i-th input (an empty path: the tensor itself)."""

    index: int
    paths: list[list] = field(default_factory=list)

    def is_residual(self, graph: Graph) -> bool:
        """An ``add`` of two paths, the first (the body) not empty: ``residual { } shortcut
        { }``; every other merge is a ``branch``."""
        return (
            graph.layers[self.index].kind == "add" and len(self.paths) == 2 and bool(self.paths[0])
        )


Item = LayerItem | MergeItem


def decompose(graph: Graph) -> list[Item]:
    """The graph (input excluded) as nested sequences; raises :class:`ImportFailure` (E0702)
    when it is not a nesting of sequences, residuals and branches."""
    users = graph.consumers()
    region = set(range(1, len(graph.layers)))
    return _Decomposer(graph, users).sequence(0, graph.output, region)


class _Decomposer:
    def __init__(self, graph: Graph, users: dict[int, list[int]]):
        self.graph = graph
        self.users = users

    def name(self, index: int) -> str:
        layer = self.graph.layers[index]
        return f"{layer.name or layer.kind} ({layer.source or layer.kind})"

    def sequence(self, start: int, end: int, region: set[int]) -> list[Item]:
        """The items computing ``end`` from the output of ``start``, within ``region``."""
        pdom: dict[int, int] | None = None
        items: list[Item] = []
        current = start
        while current != end:
            readers = [u for u in self.users[current] if u in region]
            if not readers:
                raise self.failure(current, "its output leads nowhere the model's output needs")
            if len(readers) == 1:
                layer = self.graph.layers[readers[0]]
                if layer.inputs == [current]:
                    current = readers[0]
                    items.append(LayerItem(current))
                    continue
                if readers[0] != end or layer.kind not in MERGES:
                    raise self.failure(
                        readers[0], "it reads a tensor from outside the branch it belongs to"
                    )
            if pdom is None:
                pdom = self.postdominators(start, end, region)
            merge = pdom.get(current)
            if merge is None or self.graph.layers[merge].kind not in MERGES:
                raise self.failure(
                    current, "its output splits into paths that do not meet again at one merge"
                )
            items.append(self.merge(current, merge, region))
            current = merge
        return items

    def merge(self, fork: int, merge: int, region: set[int]) -> MergeItem:
        """The paths from ``fork`` to each input of ``merge``."""
        ahead = self.reachable(fork, region)
        paths: list[list[Item]] = []
        claimed: set[int] = set()
        for source in self.graph.layers[merge].inputs:
            if source == fork:
                paths.append([])
                continue
            path = ahead & self.leading_to(source, region)
            if source not in path:
                raise self.failure(merge, "one of its inputs comes from outside the branch")
            if path & claimed:
                shared = min(path & claimed)
                raise self.failure(shared, "it belongs to two paths of the same merge")
            claimed |= path
            paths.append(self.sequence(fork, source, path))
        between = ahead & self.leading_to(merge, region)
        between.discard(merge)
        stray = between - claimed
        if stray:
            raise self.failure(min(stray), "it leaves its branch before the merge")
        # a residual: the longer path is the body, the other the shortcut (a sum does not
        # depend on the order of its terms)
        residual = self.graph.layers[merge].kind == "add" and len(paths) == 2
        if residual and len(leaves(paths[1])) > len(leaves(paths[0])):
            paths.reverse()
        return MergeItem(merge, paths)

    def reachable(self, start: int, region: set[int]) -> set[int]:
        """Layers of ``region`` reachable from ``start`` (``start`` excluded)."""
        seen: set[int] = set()
        stack = [start]
        while stack:
            for u in self.users[stack.pop()]:
                if u in region and u not in seen:
                    seen.add(u)
                    stack.append(u)
        return seen

    def leading_to(self, end: int, region: set[int]) -> set[int]:
        """Layers of ``region`` from which ``end`` is reachable (``end`` included)."""
        seen = {end}
        stack = [end]
        while stack:
            for i in self.graph.layers[stack.pop()].inputs:
                if i in region and i not in seen:
                    seen.add(i)
                    stack.append(i)
        return seen

    def postdominators(self, start: int, end: int, region: set[int]) -> dict[int, int]:
        """The immediate post-dominator of each layer of ``region`` (and of ``start``) with
        ``end`` as the exit; layers are in topological order, so readers come later."""
        nodes = sorted((region | {start}) & (self.reachable(start, region) | {start}))
        ipdom: dict[int, int] = {}
        depth = {end: 0}
        for v in reversed(nodes):
            if v == end:
                continue
            succ = [u for u in self.users[v] if u in region and u in depth]
            if not succ:
                continue
            a = succ[0]
            for b in succ[1:]:
                a = self.common(a, b, ipdom, depth)
            ipdom[v] = a
            depth[v] = depth[a] + 1
        return ipdom

    @staticmethod
    def common(a: int, b: int, ipdom: dict[int, int], depth: dict[int, int]) -> int:
        """The nearest common post-dominator of ``a`` and ``b``."""
        while a != b:
            if depth[a] > depth[b]:
                a = ipdom[a]
            elif depth[b] > depth[a]:
                b = ipdom[b]
            else:
                a, b = ipdom[a], ipdom[b]
        return a

    def failure(self, index: int, why: str) -> ImportFailure:
        return ImportFailure(
            "E0702",
            f"the model's graph is not a nesting of residuals and branches at layer "
            f"{self.name(index)}: {why}",
            help="a spec expresses sequences, `residual { } shortcut { }` and `branch add|concat "
            "{ } { }`: every split must end at one add or concatenate",
        )


def leaves(items: list[Item]) -> list[int]:
    """The layer indices of ``items`` in the order ``specc.lowering`` creates their nodes:
    a merge's paths first, in order, then the merge itself."""
    out: list[int] = []
    for item in items:
        if isinstance(item, LayerItem):
            out.append(item.index)
        else:
            for path in item.paths:
                out += leaves(path)
            out.append(item.index)
    return out
