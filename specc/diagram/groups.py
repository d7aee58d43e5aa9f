"""Which nodes belong together in a diagram: one group per block instance.

Everything else in :mod:`specc.diagram` sees groups only through :func:`groups` and the
:class:`Group` records it returns.  Today the IR has no explicit scopes, so :func:`groups`
reconstructs block instances from each node's ``trace`` (the call sites of the block instances
that produced it, innermost first).  When the IR gains scopes (each node in a scope instance
with a kind, a label, a dotted path and a parent), :func:`groups` becomes a direct translation
of them, one :class:`Group` per scope instance, and the rest of the package stays as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from specc.source import Span

if TYPE_CHECKING:
    from specc.compiler import CheckedModel


@dataclass(frozen=True)
class Group:
    """One instance of a structural scope, drawn as a labelled (collapsible) rectangle.

    ``id`` is unique within a model (``g1``, ``g2``, ... in graph order); ``parent`` is the id
    of the enclosing group, or None at the top level.  ``label`` is what the diagram shows
    (``basic(f, stride=stride)``), ``kind`` what made the scope (``block`` today; the IR's
    scopes will add ``repeat`` and ``sequential``), ``path`` a dotted name unique within the
    model (``stage_2.basic_1``).  ``nodes`` holds the index of every node inside the group,
    nested groups' nodes included, in graph order.
    """

    id: str
    parent: str | None
    label: str
    kind: str
    path: str
    nodes: tuple[int, ...]


def groups(checked: CheckedModel) -> list[Group]:
    """The groups of a checked model, parents before their children (pre-order).

    Reconstructed from the IR's ``node.trace`` until the IR records scopes; **switch this
    function to the IR's scope instances** when it does (one Group per scope instance: its id,
    its parent's id, its label, kind and dotted path, and the indices of the nodes in it and in
    its sub-scopes).  Nothing else in :mod:`specc.diagram` reads ``trace``.

    From the trace: every run of consecutive nodes that share a call site at the same depth is
    one or more instances of that call; a call written inside ``repeat`` (its count a literal,
    or an expression) gives several instances in a row, with the same call sites, which are
    told apart by their repetition: ``repeat 3 { basic(64) }`` is three equal sequences of
    nodes.  The one case this cannot tell apart is a call inside a ``repeat`` whose count is
    an expression and whose block body is itself one repeated layer sequence; then each
    repetition becomes a group of its own.  The scopes of the IR remove that guess.
    """
    model = checked.model
    if model is None or not any(node.trace for node in model.nodes):
        return []
    sites = _call_sites(checked)
    chains = [tuple(reversed(node.trace)) for node in model.nodes]
    spans = [node.span for node in model.nodes]
    found: list[Group] = []

    def build(indices: Sequence[int], level: int, parent: Group | None) -> None:
        counters: dict[str, int] = {}
        for site, run in _runs(indices, chains, level):
            name, copies = sites.get(site, (_block_name(checked, site), None))
            keys = [(chains[i][level + 1 :], spans[i]) for i in run]
            for instance in _instances(run, keys, copies):
                counters[name] = counters.get(name, 0) + 1
                path = f"{name}_{counters[name]}"
                group = Group(
                    id=f"g{len(found) + 1}",
                    parent=parent.id if parent else None,
                    label=checked.source.text_of(site).strip() or name,
                    kind="block",
                    path=f"{parent.path}.{path}" if parent else path,
                    nodes=tuple(instance),
                )
                found.append(group)
                build(instance, level + 1, group)

    build(range(len(model.nodes)), 0, None)
    return found


def _runs(
    indices: Iterable[int], chains: Sequence[tuple[Span, ...]], level: int
) -> Iterable[tuple[Span, list[int]]]:
    """Maximal runs of consecutive nodes with the same call site at depth ``level``."""
    site: Span | None = None
    run: list[int] = []
    for i in indices:
        here = chains[i][level] if len(chains[i]) > level else None
        if here != site and run:
            if site is not None:
                yield site, run
            run = []
        site = here
        run.append(i)
    if run and site is not None:
        yield site, run


def _instances(run: list[int], keys: list, copies: int | None) -> list[list[int]]:
    """Split a run of nodes from one call site into its instances.

    ``copies`` is how many instances the call site makes per enclosing instance when that is
    known from the text (1 outside ``repeat``, the product of literal ``repeat`` counts inside),
    None when a count is an expression; then the run is cut at its shortest period.
    """
    if copies == 1:
        return [run]
    length = len(run)
    if copies and length % copies == 0 and _periodic(keys, length // copies):
        period = length // copies
    else:
        period = next(p for p in range(1, length + 1) if length % p == 0 and _periodic(keys, p))
    return [run[i : i + period] for i in range(0, length, period)]


def _periodic(keys: list, period: int) -> bool:
    return all(keys[i] == keys[i - period] for i in range(period, len(keys)))


def _call_sites(checked: CheckedModel) -> dict[Span, tuple[str, int | None]]:
    """Every block call in the spec: its span -> (block name, instances per enclosing one)."""
    from specc.syntax import BlockDef, Call, Statement, parse

    program, _ = parse(checked.source)
    blocks = {node.name for node in program if isinstance(node, BlockDef)}
    sites: dict[Span, tuple[str, int | None]] = {}

    def visit(nodes: Iterable, copies: int | None) -> None:
        for node in nodes:
            if isinstance(node, BlockDef):
                visit(node.body, 1)
            elif isinstance(node, Call):
                sites[node.span] = (node.name, copies)
            elif isinstance(node, Statement):
                if node.name in blocks and not node.clauses:
                    sites[node.span] = (node.name, copies)
                inner = copies
                if node.name == "repeat":
                    count = _literal_count(node)
                    inner = copies * count if copies is not None and count is not None else None
                for clause in node.clauses:
                    visit(clause.body, inner)

    visit(program, 1)
    return sites


def _literal_count(stmt) -> int | None:
    """The count of ``repeat N { }`` when N is a number written as such, else None."""
    if len(stmt.args) == 1 and stmt.args[0].key is None:
        value = stmt.args[0].value
        if value.kind == "number" and isinstance(value.value, int):
            return value.value
    return None


def _block_name(checked: CheckedModel, site: Span) -> str:
    text = checked.source.text_of(site)
    return text.split("(", 1)[0].strip() or "block"
