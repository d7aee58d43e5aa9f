"""The spec language's concrete syntax: parse text with the Lark grammar into a small AST.

The grammar (``grammars/specc.lark``) is generic -- every line is ``NAME args...`` with optional
``{ ... }`` clauses -- so this module knows nothing about layer kinds.  It turns the parse tree
into frozen AST nodes that carry a :class:`~specc.source.Span` each, and it turns Lark's
exceptions into located diagnostics, recovering line by line so that one run reports every
syntax error.
"""

from __future__ import annotations

from functools import cache
from sys import intern
from typing import Any, NamedTuple

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput

from specc import limits
from specc.diagnostics import Diagnostic, error, excerpt
from specc.resources import grammar_path
from specc.source import SourceFile, Span
from specc.syntax_errors import (
    TokenLimit,
    blank_line,
    bracket_diagnostics,
    syntax_diagnostic,
    too_large,
)

MAX_SYNTAX_ERRORS = limits.MAX_SYNTAX_ERRORS


class Value(NamedTuple):
    """A literal or expression argument.

    ``kind`` is one of ``dims`` (value: tuple of ints), ``number`` (int or float), ``name``
    (str), ``string`` (str), ``expr`` (value: ``(op, left, right)`` with Value leaves; ``not``
    has no right operand) or ``shape``, a size with computed axes (value: a tuple of Values,
    ``dims``, ``number`` or ``expr``, whose axes joined make the size).
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
    callbacks = dict.fromkeys(sorted(COUNTED_TERMINALS - {"NAME"}), _BUILDER.count_token)
    # NAME last: Lark chains a callback after its keyword check with a closure over its loop
    # variable, so that that check compares a token's type with the last name given
    callbacks["NAME"] = _BUILDER.count_token
    return Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        maybe_placeholders=False,
        transformer=_BUILDER,
        lexer_callbacks=callbacks,
        cache=True,
    )


# Every terminal the parser sees (the ignored comments and blanks are not counted); a test
# checks the list against the grammar.
COUNTED_TERMINALS = frozenset(
    {"NAME", "CALL_NAME", "DIMS", "SIGNED_NUMBER", "ESCAPED_STRING", "LBRACE", "RBRACE", "LPAR"}
    | {"RPAR", "CMP_OP", "ADD_OP", "MUL_OP", "_NL", "BLOCK", "EQUAL", "COMMA", "SEMICOLON"}
    | {"AXIS_X", "AND", "OR", "NOT"}
)


def parse(source: SourceFile) -> tuple[tuple[Node, ...], list[Diagnostic]]:
    """Parse a spec into top-level AST nodes plus syntax diagnostics.

    Every limit of :mod:`specc.limits` that the text crosses is a located diagnostic, and the
    nodes are then empty: later stages only ever see specs within the limits.  On a syntax
    error the offending line is blanked and parsing starts again, so later errors are still
    reported (up to ``MAX_SYNTAX_ERRORS`` of them, and while re-parsing has read less than
    ``MAX_RECOVERY_CHARS``); the returned nodes are those of the last successful parse (empty
    when any error remains).
    """
    if source.byte_size > limits.MAX_SOURCE_BYTES:
        return (), [too_large(source)]
    diagnostics = bracket_diagnostics(source)
    if diagnostics:
        return (), diagnostics
    text = source.text
    seen: set[tuple[int, int]] = set()
    parser = _parser()
    builder = _BUILDER
    builder.start_file(source)
    budget = limits.MAX_RECOVERY_CHARS
    nodes: tuple[Node, ...] = ()
    while len(diagnostics) < limits.MAX_SYNTAX_ERRORS:
        builder.tokens = 0
        try:
            nodes = parser.parse(text)
        except TokenLimit as exc:
            diagnostics.append(exc.diagnostic)
            break
        except UnexpectedInput as exc:
            where = (exc.line, exc.column)
            if where in seen:
                break
            seen.add(where)
            diagnostics.append(syntax_diagnostic(source, exc))
            budget -= len(text)
            if budget < 0:
                break
            text = blank_line(text, exc)
            continue
        break
    problems = builder.finish_file()
    if diagnostics or problems:
        found = diagnostics + problems
        found.sort(key=lambda d: (d.primary_span.line, d.primary_span.column))
        return (), found
    return nodes, []


class _AstBuilder(Transformer):
    """Build AST nodes while Lark parses (its ``transformer=``): no parse tree is kept.

    Positions come from the tokens themselves (Lark's ``propagate_positions`` would double the
    parse time of a large spec): a rule's span runs from its first to its last token.
    """

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)
        self.source = SourceFile("<spec>", "")
        self.tokens = 0
        self.problems: dict[tuple[str, int, int], Diagnostic] = {}

    def start_file(self, source: SourceFile) -> None:
        """Get ready to parse ``source`` (once or several times, for error recovery)."""
        self.source = source
        self.tokens = 0
        self.problems = {}

    def finish_file(self) -> list[Diagnostic]:
        """The limit diagnostics of the tokens seen while parsing the file, in order."""
        problems = list(self.problems.values())
        self.start_file(SourceFile("<spec>", ""))  # keep no reference to a large text
        return problems

    def _problem(self, code: str, message: str, token: Token, label: str, **extra) -> None:
        """Record a token that crosses a limit; the parse goes on, to find every one."""
        span = self._span(token)
        key = (code, span.line, span.column)
        if key not in self.problems and len(self.problems) < limits.MAX_SYNTAX_ERRORS:
            self.problems[key] = error(code, message, span, label, **extra)

    def count_token(self, token: Token) -> Token:
        """Count one token (Lark's lexer callback); stop the parse at the first one past the
        limit, before the parser holds more of them."""
        self.tokens += 1
        if self.tokens > limits.MAX_TOKENS:
            limit = limits.MAX_TOKENS
            raise TokenLimit(
                error(
                    limits.E_TOO_MANY_TOKENS,
                    f"more than {limit:,} tokens in one spec",
                    self._span(token),
                    f"token {limit + 1:,}",
                    notes=(
                        "tokens are names, numbers, sizes, strings, brackets and separators; "
                        "the limit is specc.limits.MAX_TOKENS",
                    ),
                    help="define repeated parts once as a `block` and use `repeat N { ... }`",
                )
            )
        return token

    def _too_many(self, name: Token, count: int, what: str) -> None:
        self._problem(
            limits.E_TOO_MANY_ARGUMENTS,
            f"{count:,} {what}; at most {limits.MAX_ARGUMENTS} are allowed",
            name,
            f"{count:,} {what}",
            help="split the line, or group the arguments in a `block`",
        )

    def _name(self, token: Token, suffix: int = 0) -> str:
        """The text of a name token (less ``suffix`` characters: the `(` of a call)."""
        if len(token) - suffix > limits.MAX_NAME_LENGTH:
            self._problem(
                limits.E_NAME_TOO_LONG,
                f"name `{excerpt(str(token), 40)}` is {len(token) - suffix:,} characters long; "
                f"names have at most {limits.MAX_NAME_LENGTH}",
                token,
                "name too long",
                help="use a shorter name",
            )
        # names repeat (`conv`, `relu`, `padding`): one shared string each saves ~50 bytes a use
        return intern(str(token)[: len(token) - suffix] if suffix else str(token))

    def _span(self, first, last=None) -> Span:
        last = first if last is None else last
        start = first if isinstance(first, Token) else first.span
        end = last if isinstance(last, Token) else last.span
        return Span(self.source.name, start.line, start.column, end.end_line, end.end_column)

    def start(self, children: list) -> tuple[Node, ...]:
        return tuple(children)

    def statement(self, children: list) -> Statement:
        name, *rest = children
        if len(rest) > limits.MAX_ARGUMENTS:
            clauses = any(isinstance(c, Clause) for c in rest)
            self._too_many(name, len(rest), "arguments and clauses" if clauses else "arguments")
            rest = rest[: limits.MAX_ARGUMENTS]
        args = tuple(self._argument(c) for c in rest if not isinstance(c, Clause))
        clauses = tuple(c for c in rest if isinstance(c, Clause))
        name_span = self._span(name)
        span = self._span(name, rest[-1]) if rest else name_span
        return Statement(self._name(name), args, clauses, span, name_span)

    def clause(self, children: list) -> Clause:
        if len(children) == 2:
            name, body = children
            return Clause(self._name(name), body.nodes, self._span(name, body), self._span(name))
        return Clause(None, children[0].nodes, children[0].span)

    def body(self, children: list) -> _Body:
        lbrace, *nodes, rbrace = children
        return _Body(tuple(nodes), self._span(lbrace, rbrace))

    def call(self, children: list) -> Call:
        name, *args, rparen = children
        if len(args) > limits.MAX_ARGUMENTS:
            self._too_many(name, len(args), "arguments")
            args = args[: limits.MAX_ARGUMENTS]
        span = self._span(name, rparen)
        name_span = self._span(name)
        name_span = name_span.replace(end_column=name_span.end_column - 1)
        return Call(self._name(name, 1), tuple(_as_arg(a) for a in args), span, name_span)

    def block_def(self, children: list) -> BlockDef:
        name, *formals, _, body = children
        if len(formals) > limits.MAX_ARGUMENTS:
            self._too_many(name, len(formals), "parameters")
            formals = formals[: limits.MAX_ARGUMENTS]
        name_span = self._span(name)
        name_span = name_span.replace(end_column=name_span.end_column - 1)
        return BlockDef(
            self._name(name, 1), tuple(formals), body.nodes, self._span(name, body), name_span
        )

    def formal(self, children: list) -> Formal:
        name, *default = children
        span = self._span(name, default[0] if default else None)
        return Formal(self._name(name), default[0] if default else None, span)

    def kwarg(self, children: list) -> Arg:
        key, value = children
        if isinstance(value, Token):
            value = self._literal(value)
        return Arg(self._name(key), value, self._span(key, value), self._span(key))

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
            return Value("name", self._name(token), raw, span)
        if kind == "DIMS":
            return Value("dims", self._dims(token), raw, span)
        if kind == "SIGNED_NUMBER":
            return Value("number", self._number(token), raw, span)
        if len(raw) - 2 > limits.MAX_STRING_LENGTH:
            self._problem(
                limits.E_STRING_TOO_LONG,
                f"string of {len(raw) - 2:,} characters; strings have at most "
                f"{limits.MAX_STRING_LENGTH:,}",
                token,
                "string too long",
            )
        return Value("string", raw[1:-1].replace('\\"', '"'), raw, span)

    def _dims(self, token: Token) -> tuple[int, ...]:
        """The sizes of a ``3x3`` token, within the axis and digit limits (else zeros)."""
        raw = token.value
        axes = raw.count("x") + 1
        if axes > limits.MAX_AXES:
            self._problem(
                limits.E_TOO_MANY_AXES,
                f"size with {axes:,} axes; sizes have at most {limits.MAX_AXES}",
                token,
                f"{axes:,} axes",
                help="images are HxWxC, sequences LxC, vectors N",
            )
            return (0,)
        parts = raw.split("x")
        if not all(parts):
            self._problem(
                "E0100",
                f"malformed size `{excerpt(raw, 40)}`: an axis without a number",
                token,
                "`x` must be between two numbers",
                help="write sizes as `3x3` or `32x32x3`",
            )
            return (0,) * axes
        if max(len(p) for p in parts) > limits.MAX_NUMBER_DIGITS:
            self._number_too_long(token, max(len(p) for p in parts))
            return (0,) * axes
        return tuple(int(p) for p in parts)

    def _number(self, token: Token) -> int | float:
        """The value of a number token, within the digit limit and finite (else 0)."""
        raw = token.value
        if len(raw) > limits.MAX_NUMBER_DIGITS:
            digits = len(raw) - sum(raw.count(c) for c in "+-.eE")
            if digits > limits.MAX_NUMBER_DIGITS:
                self._number_too_long(token, digits)
                return 0
        if not any(c in raw for c in ".eE"):
            return int(raw)
        number = float(raw)
        if number in (float("inf"), float("-inf")):
            self._problem(
                limits.E_NUMBER_TOO_LONG,
                f"number `{excerpt(raw, 40)}` is too large for a float (at most ~1.8e308)",
                token,
                "too large",
            )
            return 0
        return number

    def _number_too_long(self, token: Token, digits: int) -> None:
        self._problem(
            limits.E_NUMBER_TOO_LONG,
            f"number with {digits:,} digits; numbers have at most {limits.MAX_NUMBER_DIGITS}",
            token,
            f"{digits:,} digits",
            help="no size, count or rate needs that many digits; write the number you mean",
        )

    def _text(self, span: Span, token: Token) -> str:
        """The source text of ``span``, which lies on ``token``'s line (an expression or a size
        is on one line): sliced from that line, found through the token's offset."""
        line_start = token.start_pos - token.column + 1
        return self.source.text[line_start + span.column - 1 : line_start + span.end_column - 1]

    def _binary(self, children: list) -> Value:
        left, op, right = children
        span = self._span(left, right)
        return Value("expr", (str(op), left, right), self._text(span, op), span)

    sum = product = cmp = or_op = and_op = _binary

    def not_op(self, children: list) -> Value:
        op, operand = children
        span = self._span(op, operand)
        return Value("expr", ("not", operand, None), self._text(span, op), span)

    def shape(self, children: list) -> Value:
        """``1x1x(c)``: the axes as Values (``x`` tokens dropped), its text as written."""
        parts = tuple(
            self._literal(c) if isinstance(c, Token) else c
            for c in children
            if not (isinstance(c, Token) and c.type == "AXIS_X")
        )
        span = self._span(children[0], children[-1])
        text = self._text(span, children[1])  # children[1] is an `x`: a token
        axes = sum(len(p.value) if p.kind == "dims" else 1 for p in parts)
        if axes > limits.MAX_AXES:
            self._problem(
                limits.E_TOO_MANY_AXES,
                f"size with {axes:,} axes; sizes have at most {limits.MAX_AXES}",
                children[0],
                f"{axes:,} axes",
                help="images are HxWxC, sequences LxC, vectors N",
            )
            return Value("dims", (0,), text, span)
        return Value("shape", parts, text, span)

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
