"""What a spec names and where: blocks, block parameters and named layers.

A walk over the parsed spec finds each symbol's definition and every use:

- a block: ``block basic(...)`` defines it; ``basic(64)`` (or ``basic 64``) uses it;
- a block parameter: ``f`` in ``block basic(f)`` defines it; ``conv f 3x3`` in the block's body
  and ``basic(f=64)`` at a call site use it;
- a named layer: ``name=stem`` (on a layer, an ``input`` or a block call) or ``sequential stem
  { }`` defines it; ``from=stem``, a merge's names (``concat stem``, ``add a b``) and ``output
  stem`` use it.

A layer name is resolved as the compiler resolved it: :attr:`specc.ir.Model.links` says, for
each name a lowered layer reads, where the name it found is written (one entry per instance of
a block or ``repeat`` body).  A use the compiler never lowered (a block that no one calls, or no
model at all) is resolved here by the same rule: a layer named earlier in the same naming scope
-- the model, a block body, an iteration of a ``repeat`` -- looking through ``residual``,
``branch`` and ``if`` bodies, which are not scopes.  A name the compiler resolved to a generated
name (``from=conv2d_1``) is a symbol with no written definition: its :attr:`Symbol.site` is the
layer's kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specc.layers import lookup
from specc.source import Span
from specc.syntax import Arg, BlockDef, Call, Statement, Value

BLOCK, PARAMETER, LAYER = "block", "parameter", "layer"
# statements whose first clause name is an argument: `repeat n { }`, `if flag { }`
_NAME_CLAUSE_STATEMENTS = ("repeat", "if", "branch")
# statements whose bodies are naming scopes of their own (a block body is one too)
_SCOPES = ("repeat", "sequential")


@dataclass(frozen=True)
class Symbol:
    """A named thing: ``kind`` is block, parameter or layer; ``scope`` is the block a
    parameter belongs to (empty otherwise); ``site`` is where a layer's name is written (layers
    of the same name in different scopes are different symbols)."""

    kind: str
    name: str
    scope: str = ""
    site: Span | None = None


@dataclass(frozen=True)
class NamingScope:
    """Where layer names are unique and visible: the model (``key`` None), a block body, a
    ``repeat`` or ``sequential`` body (``key``: the span of what opened it)."""

    key: Span | None
    body: tuple
    block: BlockDef | None = None


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
    model: object = None  # the checked model (specc.ir.Model), whose links resolve layer names
    blocks: dict[str, BlockDef] = field(default_factory=dict)
    occurrences: list[Occurrence] = field(default_factory=list)
    scopes: dict[Span, NamingScope] = field(default_factory=dict)  # layer site -> its scope
    targets: dict[Span, list[int]] = field(default_factory=dict)  # use -> the nodes it read
    text: str = ""  # the source, to find a name written in brackets: `(c)`

    def __post_init__(self) -> None:
        for node in self.program:
            if isinstance(node, BlockDef) and node.name not in self.blocks:
                self.blocks[node.name] = node
        self._uses: list[tuple[str, Span, Span, NamingScope]] = []
        self._lines: list[str] | None = None  # the text's lines, split on first need
        top = NamingScope(None, tuple(n for n in self.program if not isinstance(n, BlockDef)))
        self._scope = top
        for node in self.program:
            self._node(node, None)
        self._resolve()
        del self._uses

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

    def layer_names(self, scope: NamingScope) -> set[str]:
        """The layer names written in a naming scope."""
        return {
            o.symbol.name
            for o in self.occurrences
            if o.definition and o.symbol.kind == LAYER and self.scopes.get(o.span) is scope
        }

    # -- the walk ---------------------------------------------------------------------------

    def _add(
        self, kind: str, name: str, span: Span, definition: bool, scope: str = "", site=None
    ) -> None:
        self.occurrences.append(Occurrence(Symbol(kind, name, scope, site), span, definition))

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
        outer, self._scope = self._scope, NamingScope(block.span, block.body, block)
        for item in block.body:
            self._node(item, block)
        self._scope = outer

    def _call(self, name: str, name_span: Span, args: tuple[Arg, ...], block) -> None:
        called = self.blocks.get(name)
        if called is not None:
            self._add(BLOCK, name, name_span, False)
        for arg in args:
            formals = {f.name for f in called.formals} if called else set()
            if arg.key is not None and arg.key in formals and arg.key_span is not None:
                self._add(PARAMETER, arg.key, arg.key_span, False, name)
            if arg.key == "name" and arg.value.kind == "name":
                self._layer_definition(arg.value.value, arg.value.span)
            else:
                self._value(arg.value, block)

    def _statement(self, stmt: Statement, block: BlockDef | None) -> None:
        if stmt.name in self.blocks:
            self._call(stmt.name, stmt.name_span, stmt.args, block)
        else:
            merge = getattr(lookup(stmt.name), "merge", False) or stmt.name == "output"
            for arg in stmt.args:
                if arg.value.kind == "name" and arg.key == "name":
                    self._layer_definition(arg.value.value, arg.value.span)
                elif arg.value.kind == "name" and (arg.key == "from" or (merge and not arg.key)):
                    where = None if stmt.name == "output" else stmt.span
                    self._uses.append((arg.value.value, arg.value.span, where, self._scope))
                else:
                    self._value(arg.value, block)
        outer = self._scope
        for i, clause in enumerate(stmt.clauses):
            named = clause.name is not None and clause.name_span is not None
            if named and i == 0 and stmt.name in _NAME_CLAUSE_STATEMENTS:
                self._parameter_use(clause.name, clause.name_span, block)
            if named and i == 0 and stmt.name == "sequential":
                self._layer_definition(clause.name, clause.name_span)
            if stmt.name in _SCOPES:
                self._scope = NamingScope(stmt.span, clause.body, block)
            for item in clause.body:
                self._node(item, block)
        self._scope = outer

    def _layer_definition(self, name: str, span: Span) -> None:
        self._add(LAYER, name, span, True, site=span)
        self.scopes[span] = self._scope

    def _resolve(self) -> None:
        """Each layer name used: the symbols the compiler resolved it to, else (not lowered)
        the layer named earlier in its scope."""
        links: dict[Span, list[Span]] = {}
        for use, site, node in getattr(self.model, "links", ()):
            found = links.setdefault(use, [])
            if site not in found:
                found.append(site)
            self.targets.setdefault(use, []).append(node)
        lowered = {node.span for node in getattr(self.model, "nodes", ())}
        for name, span, stmt_span, scope in self._uses:
            sites = links.get(span, [])
            # the compiler's word is final where it read the line (`output`: with a model)
            read = stmt_span in lowered if stmt_span else self.model is not None
            if not sites and not read:
                sites = [
                    o.span
                    for o in self.occurrences
                    if o.definition
                    and o.symbol.kind == LAYER
                    and o.symbol.name == name
                    and self.scopes.get(o.span) is scope
                    and (o.span.line, o.span.column) < (span.line, span.column)
                ][:1]
            for site in sites:
                self._add(LAYER, name, span, False, site=site)

    def _value(self, value: Value, block: BlockDef | None) -> None:
        if value.kind == "name":
            self._parameter_use(value.value, self._name_span(value), block)
        elif value.kind == "expr":
            for operand in value.value[1:]:  # `not` has no right operand
                if operand is not None:
                    self._value(operand, block)
        elif value.kind == "shape":  # `reshape 1x1x(c)`: its computed axes
            for part in value.value:
                self._value(part, block)

    def _name_span(self, value: Value) -> Span:
        """Where a name value's name itself is: ``(c)``'s value spans its brackets."""
        span = value.span
        width = span.end_column - span.column
        if width == len(value.value) or span.line != span.end_line or not self.text:
            return span
        if self._lines is None:
            self._lines = self.text.split("\n")
        line = self._lines[span.line - 1]
        at = line.find(value.value, span.column - 1, span.end_column - 1)
        return span if at < 0 else span.replace(column=at + 1, end_column=at + 1 + len(value.value))

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
