"""Variable names for graph models: which Python variable holds each layer's output.

A plain stack threads one variable, ``x``.  ``residual`` and ``branch`` (lowered to ``add`` /
``concat`` merge nodes) get named intermediates, as a person would write them::

    shortcut = x                       # residual: save the input of the block
    x = ...main path...
    shortcut = ...projection...        # (when the shortcut has layers)
    x = x + shortcut

    branch_1 = ...path 1 on x...       # branch: each path in its own variable
    branch_2 = ...path 2 on x...
    x = torch.cat([branch_1, branch_2], dim=1)

Every path of a merge is a *stream* with a variable; a residual's main path continues the
enclosing stream, every other path gets a fresh one.  Streams that are alive at the same time
get distinct names (``shortcut``, ``shortcut_2``).  :class:`Wiring` then follows the emitted
statements in order, so a layer reads its input from wherever that value still lives and a copy
(``shortcut = x``) is written only where a later layer would overwrite it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specc.ir import Model

# layers that act elementwise on a vector: a flatten feeding dense through them still feeds dense
PASS_THROUGH = frozenset({"dropout", "activation", "batchnorm"})


def feeds(model: Model, index: int) -> tuple[str, ...]:
    """Kinds of the layers that consume node ``index``'s output, looking through
    elementwise layers (dropout, activation, batchnorm); sorted, without duplicates.

    The torch backend writes ``nn.Flatten()`` (channels-first order) only when a flatten
    feeds nothing but ``dense`` layers, whose columns port-weights then permutes.
    """
    users = model.consumers()
    kinds: set[str] = set()
    stack = list(users[index])
    while stack:
        node = model.nodes[stack.pop()]
        if node.kind in PASS_THROUGH:
            stack.extend(users[node.index])
        else:
            kinds.add(node.kind)
    return tuple(sorted(kinds))


@dataclass
class _Stream:
    base: str
    start: int
    end: int
    name: str = ""


def _ancestors(model: Model, index: int) -> set[int]:
    seen = {index}
    stack = [index]
    while stack:
        for i in model.nodes[stack.pop()].inputs:
            if i not in seen:
                seen.add(i)
                stack.append(i)
    return seen


@dataclass
class Streams:
    """The variable each node writes, and each merge path's variable."""

    var: dict[int, str]
    path_var: dict[tuple[int, int], str]


def assign_streams(model: Model, main: str = "x", reserved: tuple[str, ...] = ()) -> Streams:
    """Give every node the variable of its stream (see the module docstring)."""
    streams = [_Stream(main, 0, len(model.nodes), main)]
    stream_of = dict.fromkeys(range(len(model.nodes)), 0)
    path_stream: dict[tuple[int, int], int] = {}
    merges = [n for n in model.nodes if len(n.inputs) > 1]
    for merge in sorted(merges, key=lambda n: -n.index):
        ancestry = [_ancestors(model, i) for i in merge.inputs]
        fork = max(set.intersection(*ancestry))
        before = _ancestors(model, fork)
        for j, nodes in enumerate(ancestry):
            if j == 0 and merge.role.startswith("residual"):
                sid = stream_of[merge.index]
            else:
                base = "shortcut" if merge.role.startswith("residual") else f"branch_{j + 1}"
                streams.append(_Stream(base, fork, merge.index))
                sid = len(streams) - 1
            path_stream[(merge.index, j)] = sid
            for n in nodes - before:
                stream_of[n] = sid
    taken = {main, *reserved}
    for sid, stream in enumerate(streams[1:], start=1):
        busy = {
            s.name
            for s in streams[:sid]
            if s.name and s.start < stream.end and stream.start < s.end
        } | taken
        name, k = stream.base, 1
        while name in busy:
            k += 1
            name = f"{stream.base}_{k}"
        stream.name = name
    return Streams(
        var={i: streams[s].name for i, s in stream_of.items()},
        path_var={key: streams[s].name for key, s in path_stream.items()},
    )


@dataclass
class Wiring:
    """Follows the emitted statements: where each value lives, and which copies are needed."""

    model: Model
    streams: Streams
    avail: dict[int, list[str]] = field(default_factory=dict)
    holders: dict[str, set[int]] = field(default_factory=dict)

    def reader_var(self, value: int, reader: int) -> str:
        """The variable ``reader`` expects ``value`` in: its path's, when it is a merge
        reading a path with no layers, else its own stream's."""
        node = self.model.nodes[reader]
        for j, i in enumerate(node.inputs):
            if i == value and (reader, j) in self.streams.path_var and len(node.inputs) > 1:
                return self.streams.path_var[(reader, j)]
        return self.streams.var[reader]

    def source(self, value: int, reader: int) -> str:
        """The expression ``reader`` uses for ``value``'s output."""
        places = self.avail[value]
        if not places:  # pragma: no cover - a bug in the stream assignment
            raise AssertionError(f"value of node {value} was overwritten before node {reader}")
        preferred = self.reader_var(value, reader)
        return preferred if preferred in places else places[0]

    def write(self, index: int, var: str) -> None:
        """Record that node ``index``'s output was just assigned to ``var``."""
        for other in self.holders.get(var, ()):
            if var in self.avail.get(other, []):
                self.avail[other].remove(var)
        self.holders[var] = {index}
        self.avail[index] = [var]

    def alias(self, index: int, of: int) -> None:
        """Node ``index`` emitted nothing: its output is ``of``'s, wherever that lives."""
        self.avail[index] = list(self.avail[of])
        for var in self.avail[index]:
            self.holders.setdefault(var, set()).add(index)

    def copies(self, index: int) -> list[tuple[str, str]]:
        """(target, source) copies to write after node ``index``, so that every consumer still
        finds the value after the statements in between have overwritten its variable."""
        users = self.model.consumers()[index]
        out: list[tuple[str, str]] = []
        for user in users:
            target = self.reader_var(index, user)
            places = self.avail[index]
            if target in places:
                continue
            writers = {self.streams.var[w] for w in range(index + 1, user)}
            clobbered = all(place in writers for place in places)
            if clobbered:
                out.append((target, places[0]))
                self.avail[index].append(target)
                for other in self.holders.get(target, ()):
                    if other != index and target in self.avail.get(other, []):
                        self.avail[other].remove(target)
                self.holders[target] = {index}
        return out
