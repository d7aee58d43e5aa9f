"""``specc fmt``: print a spec in its canonical layout, keeping its comments.

The canonical layout is one statement per line, two spaces of indentation per ``{ }`` level,
one space between arguments, ``key=value`` without spaces, ``name(a, b, key=v)`` for block
calls and block definitions, expressions as ``(a * (b + 1))``, at most one blank line between
statements (where the source had at least one) and none at the start of a body.  Every body is
written over several lines: ``branch concat { conv 8 1x1 } { conv 8 3x3 }`` becomes five lines.

The lexer drops comments, so they are found again in the source text and re-attached by line
number: a full-line comment is written before the first statement (or closing brace) that
follows it, at that statement's indentation; a trailing comment goes at the end of the last
output line that came from its source line.  Formatting never changes the lowered IR, and it is
idempotent: ``format_source(format_source(x)) == format_source(x)``.
"""

from __future__ import annotations

import re
from collections import deque
from typing import NamedTuple

from specc.diagnostics import SpecError
from specc.source import BOM, SourceFile
from specc.syntax import Arg, BlockDef, Call, Clause, Node, Statement, Value, parse
from specc.syntax_errors import STRING

INDENT = "  "
MAX_WIDTH = 100
_COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")


class Comment(NamedTuple):
    """A ``# ...`` comment found in the source: its line and whether code precedes it."""

    line: int
    text: str
    trailing: bool


# Comments as the lexer reads them; strings are matched only so that a `#` in one is skipped.
_COMMENTS_AND_STRINGS = re.compile(rf"{STRING}|#[^\n]*")


def find_comments(text: str) -> list[Comment]:
    """Every comment in ``text``, in order; ``#`` inside a string literal is not a comment."""
    comments: list[Comment] = []
    line, counted = 1, 0
    for match in _COMMENTS_AND_STRINGS.finditer(text):
        start = match.start()
        if text[start] != "#":
            continue
        line += text.count("\n", counted, start)
        counted = start
        code = text[text.rfind("\n", 0, start) + 1 : start].replace(";", "").strip()
        comments.append(Comment(line, match.group().rstrip(), trailing=bool(code)))
    return comments


def format_source(text: str, name: str = "<spec>") -> str:
    """Return ``text`` in canonical layout; raise :class:`SpecError` if it has syntax errors.

    Only syntax is checked: a spec with shape or name errors is still formatted, as black
    formats code that would fail at run time.
    """
    return format_file(SourceFile(name, text))


def format_file(source: SourceFile) -> str:
    """The text of ``source`` in canonical layout (keeping a byte-order mark it started with);
    raise :class:`SpecError` if it has syntax errors or crosses a limit."""
    nodes, diagnostics = parse(source)
    if diagnostics:
        raise SpecError(source, diagnostics)
    return (BOM if source.bom else "") + print_program(nodes, find_comments(source.text))


def print_program(nodes: tuple[Node, ...] | list[Node], comments: list[Comment] = ()) -> str:
    """Print parsed (or generated) AST nodes as spec text, with ``comments`` re-attached."""
    printer = _Printer(list(comments))
    printer.body(tuple(nodes), depth=0, end_line=None)
    return printer.finish()


def format_value(value: Value) -> str:
    """One argument value in canonical form (expressions fully parenthesised at the top)."""
    if value.kind == "dims":
        return "x".join(str(d) for d in value.value)
    if value.kind == "expr":
        return f"({_expr(value)})"
    if value.kind == "shape":  # a computed axis keeps its brackets: `1x1x(c)`
        return "x".join(
            format_value(p) if p.kind in ("dims", "number") else f"({_expr(p)})"
            for p in value.value
        )
    if value.kind in ("number", "string", "name"):
        return value.text
    raise ValueError(f"unknown value kind {value.kind!r}")


# binding strength, weakest first, as the grammar (and Python) parse them
_LEVELS = {"or": 0, "and": 1, "not": 2, **dict.fromkeys(_COMPARISONS, 3), "+": 4, "-": 4}


def _level(value: Value) -> int:
    return _LEVELS.get(value.value[0], 5) if value.kind == "expr" else 6


def _expr(value: Value) -> str:
    if value.kind != "expr":
        return format_value(value)
    op, left, right = value.value
    level = _level(value)
    left_text = _expr(left)
    if op == "not":  # `not (r > c)`: brackets around any operator, for the reader
        bare = left.kind != "expr" or left.value[0] == "not"
        return f"not {left_text}" if bare else f"not ({left_text})"
    right_text = _expr(right)
    # Left-associative: a left operand that binds less tightly, and a right operand that
    # binds no more tightly, take parentheses (comparisons do not chain: both sides).
    if _level(left) < level or (op in _COMPARISONS and _level(left) == level):
        left_text = f"({left_text})"
    if _level(right) <= level:
        right_text = f"({right_text})"
    return f"{left_text} {op} {right_text}"


def format_arg(arg: Arg) -> str:
    """``value`` or ``key=value``."""
    text = format_value(arg.value)
    return text if arg.key is None else f"{arg.key}={text}"


def _head(stmt: Statement) -> str:
    return " ".join([stmt.name, *(format_arg(a) for a in stmt.args)])


def _call(call: Call) -> str:
    return f"{call.name}({', '.join(format_arg(a) for a in call.args)})"


def _block_head(block: BlockDef) -> str:
    formals = ", ".join(
        f.name if f.default is None else f"{f.name}={format_value(f.default)}"
        for f in block.formals
    )
    return f"block {block.name}({formals})"


def _parts(node: Node) -> tuple[str, tuple[Clause, ...]]:
    """A node as a head and its ``{ }`` clauses (a block definition has one)."""
    if isinstance(node, Call):
        return _call(node), ()
    if isinstance(node, BlockDef):
        return _block_head(node), (Clause(None, node.body, node.span),)
    return _head(node), node.clauses


def _inline(node: Node) -> str | None:
    """The node on one line, if it was written on one line; None otherwise."""
    if node.span.end_line != node.span.line:
        return None
    head, clauses = _parts(node)
    text = head
    for clause in clauses:
        opener = f"{clause.name} {{" if clause.name else "{"
        inner = [_inline(child) for child in clause.body]
        if any(part is None for part in inner):
            return None
        text += f" {opener} {'; '.join(inner)} }}" if inner else f" {opener}}}"
    return text


def _groups(nodes: tuple[Node, ...]) -> list[list[Node]]:
    """Runs of nodes written on one source line (``bn; relu``), in order."""
    groups: list[list[Node]] = []
    for node in nodes:
        if groups and groups[-1][-1].span.end_line == node.span.line:
            groups[-1].append(node)
        else:
            groups.append([node])
    return groups


class _Printer:
    """Emit output lines, each remembering the source line it came from.

    Statements written on one line (``bn; relu``, ``repeat 2 { basic(64) }``) stay on one line
    while they fit in :data:`MAX_WIDTH` columns; everything else is one statement per line.
    """

    def __init__(self, comments: list[Comment]):
        self.lines: list[tuple[int, str, int | None]] = []  # (depth, text, source line)
        self.pending = deque(c for c in comments if not c.trailing)
        self.trailing = [c for c in comments if c.trailing]
        self.prev_end: int | None = None
        self.at_start = True

    def emit(self, depth: int, text: str, line: int | None) -> None:
        self.lines.append((depth, text, line))

    def fits(self, depth: int, text: str | None) -> bool:
        return text is not None and len(INDENT) * depth + len(text) <= MAX_WIDTH

    def gap(self, start: int) -> None:
        """A blank line before a thing starting on ``start`` if the source had one."""
        if not self.at_start and self.prev_end is not None and start > self.prev_end + 1:
            self.emit(0, "", None)
        self.at_start = False

    def comments_before(self, line: int | None, depth: int) -> None:
        """Write the full-line comments that come before source line ``line`` (None: all)."""
        while self.pending and (line is None or self.pending[0].line < line):
            comment = self.pending.popleft()
            self.gap(comment.line)
            self.emit(depth, comment.text, comment.line)
            self.prev_end = comment.line

    def has_comments_before(self, line: int) -> bool:
        return bool(self.pending) and self.pending[0].line < line

    def body(self, nodes: tuple[Node, ...], depth: int, end_line: int | None) -> None:
        for group in _groups(nodes):
            self.comments_before(group[0].span.line, depth)
            self.gap(group[0].span.line)
            texts = [_inline(node) for node in group]
            joined = "; ".join(t for t in texts if t is not None)
            if len(group) > 1 and None not in texts and self.fits(depth, joined):
                self.emit(depth, joined, group[0].span.line)
                self.prev_end = group[-1].span.end_line
                continue
            for node, text in zip(group, texts, strict=True):
                if self.fits(depth, text):
                    self.emit(depth, text, node.span.line)
                    self.prev_end = node.span.end_line
                else:
                    head, clauses = _parts(node)
                    self.clauses(head, node.span.line, clauses, depth)
        self.comments_before(end_line, depth)

    def clauses(self, head: str, line: int, clauses: tuple[Clause, ...], depth: int) -> None:
        text = head
        for clause in clauses:
            opener = f"{clause.name} {{" if clause.name else "{"
            text = f"{text} {opener}"
            close = clause.span.end_line
            if not clause.body and not self.has_comments_before(close):
                text += "}"
                line = close
                continue
            self.emit(depth, text, line)
            self.prev_end, self.at_start = clause.span.line, True
            self.body(clause.body, depth + 1, close)
            self.at_start = False
            text, line = "}", close
        self.emit(depth, text, line)
        self.prev_end = line

    def finish(self) -> str:
        self.comments_before(None, 0)
        rows = [[depth, text, line] for depth, text, line in self.lines]
        last_code_row: dict[int, list] = {}  # source line -> the last output row of its code
        for row in rows:
            if row[2] is not None and not row[1].startswith("#"):
                last_code_row[row[2]] = row
        for comment in self.trailing:
            target = last_code_row.get(comment.line)
            if target is None:
                rows.append([0, comment.text, comment.line])
            else:
                target[1] = f"{target[1]}  {comment.text}"
        out = [INDENT * depth + text if text else "" for depth, text, _ in rows]
        return "\n".join(out) + "\n" if out else ""
