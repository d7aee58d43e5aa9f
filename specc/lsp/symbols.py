"""What a spec names and where: blocks, block parameters and named layers.

A walk over the parsed spec finds each symbol's definition and every use:

- a block: ``block basic(...)`` defines it; ``basic(64)`` (or ``basic 64``) uses it;
- a block parameter: ``f`` in ``block basic(f)`` defines it; ``conv f 3x3`` in the block's body
  and ``basic(f=64)`` at a call site use it;
- a named layer: ``name=stem`` defines it (nothing in the language refers to a layer by name).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specc.source import Span
from specc.syntax import Arg, BlockDef, Call, Statement, Value

BLOCK, PARAMETER, LAYER = "block", "parameter", "layer"
# statements whose first clause name is an argument: `repeat n { }`, `if flag { }`
_NAME_CLAUSE_STATEMENTS = ("repeat", "if", "branch")


@dataclass(frozen=True)
class Symbol:
    """A named thing: ``kind`` is block, parameter or layer; ``scope`` is the block a
    parameter belongs to (empty otherwise)."""

    kind: str
    name: str
    scope: str = ""


@dataclass
class Occurrence:
    """One place a symbol is written."""

    symbol: Symbol
    span: Span
    definition: bool


@dataclass
class SymbolIndex:
    """Every occurrence of every symbol in a parsed spec."""

    program: tuple
    blocks: dict[str, BlockDef] = field(default_factory=dict)
    occurrences: list[Occurrence] = field(default_factory=list)

    def __post_init__(self) -> None:
        for node in self.program:
            if isinstance(node, BlockDef) and node.name not in self.blocks:
                self.blocks[node.name] = node
        for node in self.program:
            self._node(node, None)

    # -- queries ----------------------------------------------------------------------------

    def at(self, line: int, column: int) -> Occurrence | None:
        """The occurrence under a 1-based position (its end counts: the cursor after a name)."""
        for occurrence in self.occurrences:
            span = occurrence.span
            if span.line == line and span.column <= column <= span.end_column:
                return occurrence
        return None

    def definition(self, symbol: Symbol) -> Occurrence | None:
        """Where ``symbol`` is defined."""
        return next((o for o in self.occurrences if o.symbol == symbol and o.definition), None)

    def uses(self, symbol: Symbol) -> list[Occurrence]:
        """Every occurrence of ``symbol``, its definition included, in document order."""
        found = [o for o in self.occurrences if o.symbol == symbol]
        return sorted(found, key=lambda o: (o.span.line, o.span.column))

    def names(self, kind: str, scope: str = "") -> set[str]:
        """The names defined for a kind of symbol (in ``scope`` for block parameters)."""
        return {
            o.symbol.name
            for o in self.occurrences
            if o.definition and o.symbol.kind == kind and o.symbol.scope == scope
        }

    # -- the walk ---------------------------------------------------------------------------

    def _add(self, kind: str, name: str, span: Span, definition: bool, scope: str = "") -> None:
        self.occurrences.append(Occurrence(Symbol(kind, name, scope), span, definition))

    def _node(self, node, block: BlockDef | None) -> None:
        if isinstance(node, BlockDef):
            self._block_def(node)
        elif isinstance(node, Call):
            self._call(node.name, node.name_span, node.args, block)
        elif isinstance(node, Statement):
            self._statement(node, block)

    def _block_def(self, block: BlockDef) -> None:
        if self.blocks.get(block.name) is block:
            self._add(BLOCK, block.name, block.name_span, True)
        for formal in block.formals:
            start = formal.span
            span = start.replace(end_line=start.line, end_column=start.column + len(formal.name))
            self._add(PARAMETER, formal.name, span, True, block.name)
            if formal.default is not None:
                self._value(formal.default, block)
        for item in block.body:
            self._node(item, block)

    def _call(self, name: str, name_span: Span, args: tuple[Arg, ...], block) -> None:
        called = self.blocks.get(name)
        if called is not None:
            self._add(BLOCK, name, name_span, False)
        for arg in args:
            formals = {f.name for f in called.formals} if called else set()
            if arg.key is not None and arg.key in formals and arg.key_span is not None:
                self._add(PARAMETER, arg.key, arg.key_span, False, name)
            self._value(arg.value, block)

    def _statement(self, stmt: Statement, block: BlockDef | None) -> None:
        if stmt.name in self.blocks:
            self._call(stmt.name, stmt.name_span, stmt.args, block)
        else:
            for arg in stmt.args:
                if arg.key == "name" and arg.value.kind == "name":
                    self._add(LAYER, arg.value.value, arg.value.span, True)
                else:
                    self._value(arg.value, block)
        for i, clause in enumerate(stmt.clauses):
            named = clause.name is not None and clause.name_span is not None
            if named and i == 0 and stmt.name in _NAME_CLAUSE_STATEMENTS:
                self._parameter_use(clause.name, clause.name_span, block)
            for item in clause.body:
                self._node(item, block)

    def _value(self, value: Value, block: BlockDef | None) -> None:
        if value.kind == "name":
            self._parameter_use(value.value, value.span, block)
        elif value.kind == "expr":
            _, left, right = value.value
            self._value(left, block)
            self._value(right, block)

    def _parameter_use(self, name: str, span: Span, block: BlockDef | None) -> None:
        if block is not None and any(f.name == name for f in block.formals):
            self._add(PARAMETER, name, span, False, block.name)


def contains(span: Span, line: int, column: int) -> bool:
    """True when the 1-based position is inside ``span`` or right after its end."""
    return (span.line, span.column) <= (line, column) <= (span.end_line, span.end_column)


def enclosing(program: tuple, line: int, column: int) -> list:
    """The AST nodes around a position, outermost first: block definitions, statements (and
    their clauses' statements), calls."""
    path: list = []
    items = program
    while True:
        inner = next((n for n in items if contains(n.span, line, column)), None)
        if inner is None:
            return path
        path.append(inner)
        if isinstance(inner, BlockDef):
            items = inner.body
        elif isinstance(inner, Statement):
            items = tuple(n for clause in inner.clauses for n in clause.body)
        else:
            return path
