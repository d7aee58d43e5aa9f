"""Which nodes belong together in a diagram: one group per scope of the spec.

Everything else in :mod:`specc.diagram` sees groups only through :func:`groups` and the
:class:`Group` records it returns: a direct translation of the IR's scopes (block instances,
``repeat`` stages and their iterations, ``sequential`` groups; :class:`specc.ir.Scope`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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
    """The groups of a checked model, parents before their children: one per scope instance
    that holds nodes (the model itself is not a group).  A scope's ``nodes`` include those of
    its sub-scopes."""
    model = checked.model
    if model is None:
        return []
    members: dict[int, list[int]] = {}
    for node in model.nodes:
        scope = node.scope
        while scope > 0:
            members.setdefault(scope, []).append(node.index)
            scope = model.scopes[scope].parent
    return [
        Group(
            id=f"g{scope.index}",
            parent=f"g{scope.parent}" if scope.parent > 0 else None,
            label=_label(scope),
            kind=scope.kind,
            path=scope.name,
            nodes=tuple(members[scope.index]),
        )
        for scope in model.scopes[1:]
        if scope.index in members
    ]


def _label(scope) -> str:
    """What a group's title says: the call as bound (``basic(f=64, stride=2)``), the repeat
    or group, or the iteration's path."""
    if scope.kind == "iteration":
        return f"{scope.name} (iteration)"
    if scope.kind == "block":
        return f"{scope.name}: {scope.label}"
    return f"{scope.name}: {scope.label}" if scope.kind == "repeat" else scope.label
