"""Go to definition, references, highlights, rename and the document outline.

Definitions and uses come from :class:`specc.lsp.symbols.SymbolIndex`; the outline lists the
model, its input, the blocks (with their bodies), the layers with the shapes they output, the
structures (``repeat``, ``residual``, ``branch``, ``if``) and the train section's settings.
"""

from __future__ import annotations

import keyword
import re

from lsprotocol import types as lsp

from specc.layers import all_names
from specc.lsp.analysis import Analysis
from specc.lsp.hints import call_label, statement_label
from specc.lsp.positions import LineIndex
from specc.lsp.symbols import BLOCK, LAYER, PARAMETER, Occurrence, Symbol
from specc.naming import static_names
from specc.source import Span
from specc.syntax import BlockDef, Call, Statement

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# words with a meaning of their own, which a block, parameter or layer cannot be called
RESERVED = frozenset(
    {"model", "input", "train", "block", "repeat", "residual", "shortcut", "branch", "if"}
    | {"sequential"}
    | {"else", "name", "true", "false", "none", "concat", "add", "multiply", "output", "from"}
)


class RenameError(Exception):
    """A rename that would break the spec: the message says why."""


def definition(analysis: Analysis, line: int, column: int) -> Span | None:
    """Where the symbol under the cursor is defined."""
    found = analysis.symbols.at(line, column)
    if found is None:
        return None
    target = analysis.symbols.definition(found.symbol)
    return target.span if target else found.symbol.site  # a generated name: the layer's kind


def references(
    analysis: Analysis, line: int, column: int, include_declaration: bool = True
) -> list[Span]:
    """Every place the symbol under the cursor is written."""
    found = analysis.symbols.at(line, column)
    if found is None:
        return []
    return [
        o.span
        for o in analysis.symbols.uses(found.symbol)
        if include_declaration or not o.definition
    ]


def highlights(analysis: Analysis, line: int, column: int) -> list[tuple[Span, bool]]:
    """Every place the symbol under the cursor is written, each with whether it is the
    definition (written) rather than a use (read)."""
    found = analysis.symbols.at(line, column)
    if found is None:
        return []
    return [(o.span, o.definition) for o in analysis.symbols.uses(found.symbol)]


def renameable(analysis: Analysis, line: int, column: int) -> Occurrence | None:
    """The occurrence a rename at this position would start from."""
    return analysis.symbols.at(line, column)


def rename(analysis: Analysis, line: int, column: int, new_name: str) -> list[Span]:
    """The spans to rewrite as ``new_name``; :class:`RenameError` when it cannot be done."""
    found = analysis.symbols.at(line, column)
    if found is None:
        raise RenameError(
            "nothing to rename here: put the cursor on a block, a block parameter or a layer's name"
        )
    if not analysis.checked.program:  # a line that does not parse could hold a use
        raise RenameError("the spec has syntax errors: fix them before renaming")
    symbol = found.symbol
    if new_name == symbol.name:
        return []
    if not IDENTIFIER.match(new_name) or keyword.iskeyword(new_name):
        raise RenameError(f"`{new_name}` is not a valid name")
    if new_name in RESERVED or new_name in all_names():
        raise RenameError(f"`{new_name}` is already a keyword or a layer kind")
    symbols = analysis.symbols
    taken: set[str] = set()
    if symbol.kind == BLOCK:
        taken = set(symbols.blocks)
    elif symbol.kind == PARAMETER:
        taken = symbols.names(PARAMETER, symbol.scope)
    elif symbol.kind == LAYER:
        taken = _layer_names(analysis, symbol)
    if new_name in taken:
        raise RenameError(f"`{new_name}` is already the name of a {symbol.kind} here")
    return [o.span for o in symbols.uses(symbol)]


def _layer_names(analysis: Analysis, symbol: Symbol) -> set[str]:
    """The names a layer cannot be renamed to: those of the other layers in its naming scope
    (written or generated: a written name also takes a generated one's place) and, in a block,
    the block's parameters (``name=f`` takes the value of the parameter ``f``)."""
    scope = analysis.symbols.scopes.get(symbol.site) if symbol.site else None
    if scope is None:
        raise RenameError(
            f"`{symbol.name}` is a generated name: give the layer a name with `name=` first"
        )
    taken = analysis.symbols.layer_names(scope) | set(static_names(scope.body).values())
    if scope.block is not None:
        taken |= {formal.name for formal in scope.block.formals}
    return taken


# -- outline ----------------------------------------------------------------------------------


def _symbol(lines: LineIndex, name: str, kind, span: Span, selection: Span, detail="", children=()):
    return lsp.DocumentSymbol(
        name=name or "?",
        kind=kind,
        range=lines.range(span),
        selection_range=lines.range(selection),
        detail=detail or None,
        children=list(children) or None,
    )


def outline(analysis: Analysis, lines: LineIndex) -> list[lsp.DocumentSymbol]:
    """The document's symbols, nested as the spec nests them."""
    return [s for node in analysis.program if (s := _outline(analysis, lines, node, False))]


def _outline(analysis: Analysis, lines: LineIndex, node, in_train: bool):
    Kind = lsp.SymbolKind
    if isinstance(node, BlockDef):
        formals = ", ".join(f.name for f in node.formals)
        children = [s for n in node.body if (s := _outline(analysis, lines, n, False))]
        return _symbol(
            lines,
            node.name,
            Kind.Function,
            node.span,
            node.name_span,
            f"block ({formals})",
            children,
        )
    if isinstance(node, Call):
        instances = analysis.instances(node.span)
        detail = call_label(instances) if instances else ""
        return _symbol(lines, written(node), Kind.Object, node.span, node.name_span, detail)
    if not isinstance(node, Statement):
        return None
    text = " ".join(a.value.text for a in node.args)
    if in_train:
        return _symbol(lines, node.name, Kind.Property, node.span, node.name_span, text)
    if node.name == "model":
        return _symbol(lines, text, Kind.Module, node.span, node.name_span, "model")
    if node.name == "train":
        children = [
            s
            for clause in node.clauses
            for n in clause.body
            if (s := _outline(analysis, lines, n, True))
        ]
        return _symbol(lines, "train", Kind.Namespace, node.span, node.name_span, "", children)
    if node.name in analysis.symbols.blocks:
        instances = analysis.instances(node.span)
        detail = call_label(instances) if instances else ""
        return _symbol(lines, written(node), Kind.Object, node.span, node.name_span, detail)
    children = [
        s
        for clause in node.clauses
        for n in clause.body
        if (s := _outline(analysis, lines, n, False))
    ]
    layers = analysis.by_statement.get(node.span) or analysis.by_statement.get(node.name_span)
    name = node.name
    if layers and len(layers) == 1:
        name = layers[0].name
    detail = f"{node.name} {statement_label(layers)}" if layers else text
    kind = Kind.Namespace if node.clauses else Kind.Field
    if node.name == "input":
        kind = Kind.Variable
    return _symbol(lines, name, kind, node.span, node.name_span, detail, children)


def written(call: Call | Statement) -> str:
    """A block call as written: ``basic(128, stride=2)``."""
    args = ", ".join(f"{a.key}={a.value.text}" if a.key else a.value.text for a in call.args)
    return f"{call.name}({args})"
