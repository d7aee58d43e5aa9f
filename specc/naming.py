"""The default names of a definition's layers, known before any instance is lowered.

A layer without ``name=`` is called after its kind and its rank among the layers of that kind
in its scope (``conv2d_2``, ``add_1``); the numbering is a property of the written body, the
same for every instance of a block, so that emitted classes and weight files name alike.
"""

from __future__ import annotations

from specc.expand import BRANCH_MODES
from specc.expansion import name_clause_as_arg
from specc.layers import ACTIVATIONS, canonical, lookup
from specc.syntax import BlockDef, Call, Statement


def static_names(definition: tuple) -> dict[int, str]:
    """The default local name of every statement of a definition's body, keyed by the
    identity of the statement (the AST is alive while it is lowered).

    Layers are numbered per kind in written order, walking into ``residual``, ``branch`` and
    both sides of every ``if`` (so that every instance names alike), but not into block calls,
    ``repeat`` or ``sequential`` bodies, which are scopes of their own.  A merge is numbered
    after the layers of its paths, as it comes after them.  Explicit literal ``name=`` values
    are skipped by the numbering.
    """
    taken = _explicit_names(definition)
    counters: dict[str, int] = {}
    names: dict[int, str] = {}

    def fresh(kind: str) -> str:
        while True:
            counters[kind] = counters.get(kind, 0) + 1
            candidate = f"{kind}_{counters[kind]}"
            if candidate not in taken:
                return candidate

    def walk(nodes: tuple) -> None:
        for node in nodes:
            if _numbered(node) and _literal_name(node) is not None:
                continue  # a layer or block instance named explicitly takes no number
            if isinstance(node, Call):
                names[id(node)] = fresh(node.name)
            elif isinstance(node, Statement):
                stmt = node
                if stmt.name in ("repeat", "if", "branch", "sequential"):
                    stmt = name_clause_as_arg(stmt)
                if stmt.name in ("residual", "branch"):
                    for clause in stmt.clauses:
                        walk(clause.body)
                    mode = _branch_mode(stmt)
                    mode = mode if mode in BRANCH_MODES else "add"
                    names[id(node)] = fresh(mode)
                elif stmt.name == "if":
                    for clause in stmt.clauses:
                        walk(clause.body)
                elif stmt.name == "repeat":
                    names[id(node)] = fresh("repeat")
                elif stmt.name not in ("sequential", "model", "train"):
                    kind = canonical(stmt.name) if lookup(stmt.name) else stmt.name
                    if stmt.name in ACTIVATIONS and lookup(stmt.name) is None:
                        kind = "activation"
                    names[id(node)] = fresh(kind)

    walk(definition)
    return names


def _numbered(node) -> bool:
    """A layer statement or block call (structural statements are numbered otherwise)."""
    return isinstance(node, Call) or (
        isinstance(node, Statement)
        and node.name not in ("residual", "branch", "if", "repeat", "sequential")
    )


def _literal_name(node) -> str | None:
    """The ``name=`` a statement gives itself as a literal, if any."""
    for arg in getattr(node, "args", ()):
        if arg.key == "name" and arg.value.kind == "name":
            return arg.value.value
    return None


def _branch_mode(stmt: Statement) -> str | None:
    if stmt.name != "branch" or len(stmt.args) != 1:
        return None
    return stmt.args[0].value.value


def _explicit_names(nodes: tuple) -> set[str]:
    """Literal ``name=`` values written in a body (outside nested scopes)."""
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, BlockDef):
            continue
        for arg in node.args:
            if arg.key == "name" and arg.value.kind == "name":
                found.add(arg.value.value)
        if isinstance(node, Statement) and node.name in ("residual", "branch", "if"):
            for clause in node.clauses:
                found |= _explicit_names(clause.body)
    return found
