"""The spec language's concrete syntax: parse text with the Lark grammar into a small AST.

The grammar (``grammars/specc.lark``) is generic -- every line is ``NAME args...`` with optional
``{ ... }`` clauses -- so this module knows nothing about layer kinds.  It turns the parse tree
into frozen AST nodes that carry a :class:`~specc.source.Span` each, and it turns Lark's
exceptions into located diagnostics, recovering line by line so that one run reports every
syntax error.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from specc.diagnostics import Diagnostic, error
from specc.resources import grammar_path
from specc.source import SourceFile, Span

MAX_SYNTAX_ERRORS = 20


@dataclass(frozen=True, slots=True)
class Value:
    """A literal or expression argument.

    ``kind`` is one of ``dims`` (value: tuple of ints), ``number`` (int or float), ``name``
    (str), ``string`` (str) or ``expr`` (value: ``(op, left, right)`` with Value leaves).
    """

    kind: str
    value: Any
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of a statement or call: positional when ``key`` is None."""

    key: str | None
    value: Value
    span: Span
    key_span: Span | None = None


@dataclass(frozen=True, slots=True)
class Clause:
    """A ``{ ... }`` body after a statement, optionally introduced by a word (``shortcut``)."""

    name: str | None
    body: tuple[Node, ...]
    span: Span
    name_span: Span | None = None


@dataclass(frozen=True, slots=True)
class Statement:
    """``NAME args... [clauses]``: a layer, a declaration, or a structural form."""

    name: str
    args: tuple[Arg, ...]
    clauses: tuple[Clause, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Call:
    """``name(args...)``: an instance of a named block."""

    name: str
    args: tuple[Arg, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Formal:
    """A block parameter, with its default value if it has one."""

    name: str
    default: Value | None
    span: Span


@dataclass(frozen=True, slots=True)
class BlockDef:
    """``block name(formals) { body }``."""

    name: str
    formals: tuple[Formal, ...]
    body: tuple[Node, ...]
    span: Span
    name_span: Span


Node = Statement | Call | BlockDef


@cache
def _parser() -> Lark:
    return Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
        cache=True,
    )


def parse(source: SourceFile) -> tuple[tuple[Node, ...], list[Diagnostic]]:
    """Parse a spec into top-level AST nodes plus syntax diagnostics.

    On a syntax error the offending line is blanked and parsing starts again, so later errors
    are still reported; the returned nodes are those of the last successful parse (empty when
    any error remains).
    """
    diagnostics = _bracket_diagnostics(source)
    if diagnostics:
        return (), diagnostics
    text = source.text
    seen: set[tuple[int, int]] = set()
    while len(diagnostics) < MAX_SYNTAX_ERRORS:
        try:
            tree = _parser().parse(text)
        except UnexpectedInput as exc:
            where = (exc.line, exc.column)
            if where in seen:
                break
            seen.add(where)
            diagnostics.append(_syntax_diagnostic(source, exc))
            text = _blank_line(text, exc.line)
            continue
        if diagnostics:
            return (), diagnostics
        return tuple(_AstBuilder(source).nodes(tree.children)), []
    return (), diagnostics


def _blank_line(text: str, line: int) -> str:
    lines = text.split("\n")
    if 1 <= line <= len(lines):
        lines[line - 1] = " " * len(lines[line - 1])
    return "\n".join(lines)


_OPENERS = {"{": "}", "(": ")"}
_CLOSERS = {"}": "{", ")": "("}


def _bracket_diagnostics(source: SourceFile) -> list[Diagnostic]:
    """Find unbalanced braces and parentheses, which Lark reports poorly (at end of file)."""
    stack: list[tuple[str, int]] = []
    problems: list[Diagnostic] = []
    text = source.text
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "#":
            nl = text.find("\n", i)
            i = len(text) if nl < 0 else nl
            continue
        if ch == '"':
            end = text.find('"', i + 1)
            nl = text.find("\n", i + 1)
            i = (len(text) if nl < 0 else nl) if end < 0 or (0 <= nl < end) else end + 1
            continue
        if ch in _OPENERS:
            stack.append((ch, i))
        elif ch in _CLOSERS:
            if stack and stack[-1][0] == _CLOSERS[ch]:
                stack.pop()
            else:
                problems.append(
                    error(
                        "E0103",
                        f"unmatched '{ch}'",
                        source.offset_span(i, i + 1),
                        "this has no opening '" + _CLOSERS[ch] + "'",
                        help="remove it, or add the missing opening bracket",
                    )
                )
        elif ch == "\n" and stack and stack[-1][0] == "(":
            _, start = stack.pop()
            problems.append(_unclosed(source, "(", start))
        i += 1
    problems += [_unclosed(source, ch, start) for ch, start in stack]
    return problems


def _unclosed(source: SourceFile, ch: str, start: int) -> Diagnostic:
    return error(
        "E0102",
        f"unclosed '{ch}'",
        source.offset_span(start, start + 1),
        f"this '{ch}' is never closed",
        help=f"add '{_OPENERS[ch]}'" + (" at the end of the block" if ch == "{" else ""),
    )


_TERMINAL_NAMES = {
    "NAME": "a name",
    "CALL_NAME": "a block call like name(...)",
    "DIMS": "a size like 3x3",
    "SIGNED_NUMBER": "a number",
    "ESCAPED_STRING": "a string",
    "_NL": "end of line",
    "$END": "end of file",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LPAR": "'('",
    "RPAR": "')'",
    "EQUAL": "'='",
    "COMMA": "','",
    "SEMICOLON": "';'",
    "BLOCK": "'block'",
    "ADD_OP": "'+' or '-'",
    "MUL_OP": "'*' or '/'",
    "CMP_OP": "a comparison",
}


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type == "_NL":
        return "end of line"
    return f"'{token.value}'"


def _syntax_diagnostic(source: SourceFile, exc: UnexpectedInput) -> Diagnostic:
    line, column = max(exc.line, 1), max(exc.column, 1)
    if isinstance(exc, UnexpectedCharacters):
        char = source.line(line)[column - 1 : column] or "?"
        span = source.span(line, column, line, column + 1)
        return error(
            "E0101",
            f"unexpected character {char!r}",
            span,
            "not part of the spec language",
            help="a line is `kind args...`, e.g. `conv 32 3x3 relu`; comments start with #",
        )
    token = exc.token if isinstance(exc, UnexpectedToken) else None
    expected = sorted(
        {_TERMINAL_NAMES.get(t, t) for t in getattr(exc, "expected", ()) if t != "$END"}
    )
    if token is None or token.type == "$END":
        last = max(len(source.lines), 1)
        span = source.span(last, 1, last, len(source.line(last)) + 1)
        return error("E0104", "unexpected end of file", span, "the spec ends here")
    end_col = column + max(len(str(token.value).split("\n")[0]), 1)
    span = source.span(line, column, line, end_col)
    what = _describe_token(token)
    hint = "expected " + ", ".join(expected[:6]) if expected else ""
    label, help_ = _TOKEN_ADVICE.get(
        token.type,
        (hint or "not expected here", "one statement per line: `kind positional... key=value...`"),
    )
    return error("E0100", f"unexpected {what}", span, label, help=help_)


# The LALR "expected" sets are confusing for these tokens; say what they are for instead.
_TOKEN_ADVICE = {
    "EQUAL": (
        "`=` must follow a parameter name",
        "write keyword arguments as `key=value`, e.g. `conv 32 3x3 stride=2`",
    ),
    "COMMA": (
        "commas only separate the arguments of a block call",
        "separate layer arguments with spaces, e.g. `conv 32 3x3 relu`",
    ),
    "LBRACE": (
        "a { } body must follow its statement on the same line",
        "write `repeat 2 {`, `residual {` or `} shortcut {` on one line",
    ),
    "RPAR": (
        "no argument list is open here",
        "block calls are written `name(args)`, with no space before `(`",
    ),
}


class _AstBuilder:
    """Turn Lark's tree into AST nodes with spans."""

    def __init__(self, source: SourceFile):
        self.source = source

    def span(self, item: Tree | Token) -> Span:
        meta = item.meta if isinstance(item, Tree) else item
        return self.source.span(meta.line, meta.column, meta.end_line, meta.end_column)

    def nodes(self, children: list) -> list[Node]:
        return [self.node(child) for child in children if isinstance(child, Tree)]

    def node(self, tree: Tree) -> Node:
        return getattr(self, tree.data)(tree)

    def statement(self, tree: Tree) -> Statement:
        name, *rest = tree.children
        args = tuple(self.arg(c) for c in rest if c.data != "clause")
        clauses = tuple(self.clause(c) for c in rest if c.data == "clause")
        return Statement(str(name), args, clauses, self.span(tree), self.span(name))

    def clause(self, tree: Tree) -> Clause:
        if len(tree.children) == 2:
            name, body = tree.children
            return Clause(str(name), self.body(body), self.span(tree), self.span(name))
        return Clause(None, self.body(tree.children[0]), self.span(tree))

    def body(self, tree: Tree) -> tuple[Node, ...]:
        return tuple(self.nodes(tree.children))

    def call(self, tree: Tree) -> Call:
        name, *args = tree.children
        name_span = self.span(name)
        name_span = name_span.model_copy(update={"end_column": name_span.end_column - 1})
        return Call(str(name)[:-1], tuple(self.arg(a) for a in args), self.span(tree), name_span)

    def block_def(self, tree: Tree) -> BlockDef:
        name, *formals, body = tree.children
        name_span = self.span(name)
        name_span = name_span.model_copy(update={"end_column": name_span.end_column - 1})
        return BlockDef(
            str(name)[:-1],
            tuple(self.formal(f) for f in formals),
            self.body(body),
            self.span(tree),
            name_span,
        )

    def formal(self, tree: Tree) -> Formal:
        name, *default = tree.children
        return Formal(str(name), self.value(default[0]) if default else None, self.span(tree))

    def arg(self, tree: Tree) -> Arg:
        if tree.data == "kwarg":
            key, value = tree.children
            return Arg(str(key), self.value(value), self.span(tree), self.span(key))
        return Arg(None, self.value(tree), self.span(tree))

    def value(self, tree: Tree) -> Value:
        kind = tree.data
        span = self.span(tree)
        text = self.source.text_of(span)
        if kind in ("sum", "product", "cmp"):
            left, op, right = tree.children
            return Value("expr", (str(op), self.value(left), self.value(right)), text, span)
        if kind == "expr":
            inner = self.value(tree.children[0])
            return Value(inner.kind, inner.value, inner.text, span)
        token = tree.children[0]
        raw = str(token)
        if kind == "dims":
            return Value("dims", tuple(int(p) for p in raw.split("x")), raw, span)
        if kind == "number":
            number = float(raw) if any(c in raw for c in ".eE") else int(raw)
            return Value("number", number, raw, span)
        if kind == "string":
            return Value("string", raw[1:-1].replace('\\"', '"'), raw, span)
        return Value("name", raw, raw, span)
