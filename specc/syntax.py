"""The spec language's concrete syntax: parse text with the Lark grammar into a small AST.

The grammar (``grammars/specc.lark``) is generic -- every line is ``NAME args...`` with optional
``{ ... }`` clauses -- so this module knows nothing about layer kinds.  It turns the parse tree
into frozen AST nodes that carry a :class:`~specc.source.Span` each, and it turns Lark's
exceptions into located diagnostics, recovering line by line so that one run reports every
syntax error.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, NamedTuple

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from specc.diagnostics import Diagnostic, error
from specc.resources import grammar_path
from specc.source import SourceFile, Span

MAX_SYNTAX_ERRORS = 20


class Value(NamedTuple):
    """A literal or expression argument.

    ``kind`` is one of ``dims`` (value: tuple of ints), ``number`` (int or float), ``name``
    (str), ``string`` (str) or ``expr`` (value: ``(op, left, right)`` with Value leaves).
    """

    kind: str
    value: Any
    text: str
    span: Span


class Arg(NamedTuple):
    """One argument of a statement or call: positional when ``key`` is None."""

    key: str | None
    value: Value
    span: Span
    key_span: Span | None = None


class Clause(NamedTuple):
    """A ``{ ... }`` body after a statement, optionally introduced by a word (``shortcut``)."""

    name: str | None
    body: tuple[Node, ...]
    span: Span
    name_span: Span | None = None


class Statement(NamedTuple):
    """``NAME args... [clauses]``: a layer, a declaration, or a structural form."""

    name: str
    args: tuple[Arg, ...]
    clauses: tuple[Clause, ...]
    span: Span
    name_span: Span


class Call(NamedTuple):
    """``name(args...)``: an instance of a named block."""

    name: str
    args: tuple[Arg, ...]
    span: Span
    name_span: Span


class Formal(NamedTuple):
    """A block parameter, with its default value if it has one."""

    name: str
    default: Value | None
    span: Span


class BlockDef(NamedTuple):
    """``block name(formals) { body }``."""

    name: str
    formals: tuple[Formal, ...]
    body: tuple[Node, ...]
    span: Span
    name_span: Span


Node = Statement | Call | BlockDef


_BUILDER: _AstBuilder | None = None


@cache
def _parser() -> Lark:
    global _BUILDER
    _BUILDER = _AstBuilder()
    return Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        maybe_placeholders=False,
        transformer=_BUILDER,
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
    parser = _parser()
    _BUILDER.source = source
    while len(diagnostics) < MAX_SYNTAX_ERRORS:
        try:
            nodes = parser.parse(text)
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
        return nodes, []
    return (), diagnostics


def _blank_line(text: str, line: int) -> str:
    lines = text.split("\n")
    if 1 <= line <= len(lines):
        lines[line - 1] = " " * len(lines[line - 1])
    return "\n".join(lines)


_OPENERS = {"{": "}", "(": ")"}
_CLOSERS = {"}": "{", ")": "("}


_BRACKET_EVENTS = re.compile(r'[#"{}()\n]')


def _bracket_diagnostics(source: SourceFile) -> list[Diagnostic]:
    """Find unbalanced braces and parentheses, which Lark reports poorly (at end of file)."""
    stack: list[tuple[str, int]] = []
    problems: list[Diagnostic] = []
    text = source.text
    skip_to = 0
    for match in _BRACKET_EVENTS.finditer(text):
        i = match.start()
        if i < skip_to:
            continue
        ch = text[i]
        if ch == "#":
            nl = text.find("\n", i)
            skip_to = len(text) if nl < 0 else nl
        elif ch == '"':
            end = text.find('"', i + 1)
            nl = text.find("\n", i + 1)
            closed = end >= 0 and not (0 <= nl < end)
            skip_to = end + 1 if closed else (len(text) if nl < 0 else nl)
        elif ch in _OPENERS:
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


class _AstBuilder(Transformer):
    """Build AST nodes while Lark parses (its ``transformer=``): no parse tree is kept.

    Positions come from the tokens themselves (Lark's ``propagate_positions`` would double the
    parse time of a large spec): a rule's span runs from its first to its last token.
    """

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)
        self.source = SourceFile("<spec>", "")

    def _span(self, first, last=None) -> Span:
        last = first if last is None else last
        start = first if isinstance(first, Token) else first.span
        end = last if isinstance(last, Token) else last.span
        return Span(self.source.name, start.line, start.column, end.end_line, end.end_column)

    def start(self, children: list) -> tuple[Node, ...]:
        return tuple(children)

    def statement(self, children: list) -> Statement:
        name, *rest = children
        args = tuple(self._argument(c) for c in rest if not isinstance(c, Clause))
        clauses = tuple(c for c in rest if isinstance(c, Clause))
        span = self._span(name, rest[-1] if rest else None)
        return Statement(str(name), args, clauses, span, self._span(name))

    def clause(self, children: list) -> Clause:
        if len(children) == 2:
            name, body = children
            return Clause(str(name), body.nodes, self._span(name, body), self._span(name))
        return Clause(None, children[0].nodes, children[0].span)

    def body(self, children: list) -> _Body:
        lbrace, *nodes, rbrace = children
        return _Body(tuple(nodes), self._span(lbrace, rbrace))

    def call(self, children: list) -> Call:
        name, *args, rparen = children
        span = self._span(name, rparen)
        name_span = self._span(name)
        name_span = name_span.replace(end_column=name_span.end_column - 1)
        return Call(str(name)[:-1], tuple(_as_arg(a) for a in args), span, name_span)

    def block_def(self, children: list) -> BlockDef:
        name, *formals, _, body = children
        name_span = self._span(name)
        name_span = name_span.replace(end_column=name_span.end_column - 1)
        return BlockDef(
            str(name)[:-1], tuple(formals), body.nodes, self._span(name, body), name_span
        )

    def formal(self, children: list) -> Formal:
        name, *default = children
        span = self._span(name, default[0] if default else None)
        return Formal(str(name), default[0] if default else None, span)

    def kwarg(self, children: list) -> Arg:
        key, value = children
        if isinstance(value, Token):
            value = self._literal(value)
        return Arg(str(key), value, self._span(key, value), self._span(key))

    def _argument(self, item: Token | Value | Arg) -> Arg:
        """A statement's argument: the grammar hands literals over as bare tokens."""
        if isinstance(item, Token):
            item = self._literal(item)
        return item if isinstance(item, Arg) else Arg(None, item, item.span)

    def _literal(self, token: Token) -> Value:
        """The Value of a DIMS, SIGNED_NUMBER, NAME or ESCAPED_STRING token."""
        raw = token.value
        span = Span(self.source.name, token.line, token.column, token.end_line, token.end_column)
        kind = token.type
        if kind == "NAME":
            return Value("name", raw, raw, span)
        if kind == "DIMS":
            return Value("dims", tuple(int(p) for p in raw.split("x")), raw, span)
        if kind == "SIGNED_NUMBER":
            number = float(raw) if any(c in raw for c in ".eE") else int(raw)
            return Value("number", number, raw, span)
        return Value("string", raw[1:-1].replace('\\"', '"'), raw, span)

    def _binary(self, children: list) -> Value:
        left, op, right = children
        span = self._span(left, right)
        return Value("expr", (str(op), left, right), self.source.text_of(span), span)

    sum = product = cmp = _binary

    def expr(self, children: list) -> Value:
        lpar, inner, rpar = children
        return Value(inner.kind, inner.value, inner.text, self._span(lpar, rpar))

    def _literal_rule(self, children: list) -> Value:
        return self._literal(children[0])

    dims = number = string = name = _literal_rule


class _Body(NamedTuple):
    nodes: tuple[Node, ...]
    span: Span


def _as_arg(item: Value | Arg) -> Arg:
    return item if isinstance(item, Arg) else Arg(None, item, item.span)
