"""Syntax errors as diagnostics: Lark's exceptions, unbalanced brackets and the parser's limits.

:func:`specc.syntax.parse` reports what the grammar refuses through these functions: an
unexpected token or character becomes a located error with advice for the usual mistakes
(:func:`syntax_diagnostic`), brackets are checked by a scan of their own before the parse
(:func:`bracket_diagnostics`: an unclosed ``{`` is reported where it opens, not at the end of
the file), and a spec past the size and token limits stops with one error.
"""

from __future__ import annotations

import re

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from specc import limits
from specc.diagnostics import Diagnostic, error, excerpt
from specc.source import SourceFile


class TokenLimit(Exception):
    """Raised from inside the parse to stop it at the first token past the limit."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def too_large(source: SourceFile) -> Diagnostic:
    """The error for a spec file larger than the limit (only its first part was read)."""
    limit = limits.MAX_SOURCE_BYTES
    text = source.text
    if text.isascii():
        cut = limit
    else:  # the characters in the first `limit` bytes
        cut = len(text.encode("utf-8", "surrogatepass")[:limit].decode("utf-8", "ignore"))
    cut = min(cut, len(text))
    shown = f"{limit / (1 << 20):g} MiB" if limit >= 1 << 20 else f"{limit:,} bytes"
    return error(
        limits.E_SOURCE_TOO_LARGE,
        f"the spec is {source.byte_size:,} bytes long; specs have at most {limit:,} bytes",
        source.offset_span(cut, min(cut + 1, len(text))),
        f"the spec reaches {shown} here",
        notes=("the limit is specc.limits.MAX_SOURCE_BYTES",),
        help="split the model into smaller specs, or define repeated parts once as a `block`",
    )


def blank_line(text: str, exc: UnexpectedInput) -> str:
    """``text`` with the line of a syntax error replaced by spaces (columns stay right)."""
    token = getattr(exc, "token", None)
    offset = getattr(exc, "pos_in_stream", None)
    if offset is None and token is not None and token.type != "$END":
        offset = token.start_pos
    if offset is None:  # no position: find the line by its number
        lines = text.split("\n")
        if 1 <= exc.line <= len(lines):
            lines[exc.line - 1] = " " * len(lines[exc.line - 1])
        return "\n".join(lines)
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    end = len(text) if end < 0 else end
    return text[:start] + " " * (end - start) + text[end:]


_OPENERS = {"{": "}", "(": ")"}


_CLOSERS = {"}": "{", ")": "("}


# A string literal as the lexer reads it (Lark's ESCAPED_STRING: up to a quote after an even
# number of backslashes, on one line), or an unclosed one to the end of its line.  Written with
# single-character repetitions only, so that matching a long string costs no memory.
STRING = r'".*?(?<!\\)(?:\\\\)*?"|"[^\n]*'


# What the bracket scan looks at: comments and strings (skipped whole), brackets, line ends,
# and operators, characters and the words `and`, `or`, `not` (counted inside expressions).
_LOGIC_WORDS = ("and", "or", "not")
_BRACKET_EVENTS = re.compile(
    rf"#[^\n]*|{STRING}|[{{}}()\n+\-*/<>!]|(?<![A-Za-z0-9_.])(?:and|or|not)(?![A-Za-z0-9_.])"
)


_NAME_CHAR = re.compile(r"[A-Za-z0-9_]")


def bracket_diagnostics(source: SourceFile) -> list[Diagnostic]:
    """Find unbalanced braces and parentheses, which Lark reports poorly (at end of file), and
    brackets nested deeper or expressions longer than the limits (E0107, E0108).

    A ``(`` right after a name (``basic(``, ``block b(``) opens an argument list; any other
    opens an expression, whose operators are counted together with those of the expressions
    inside it.
    """
    stack: list[tuple[str, int, bool]] = []  # (bracket, offset, opens an expression)
    problems: list[Diagnostic] = []
    text = source.text
    operators = 0
    for match in _BRACKET_EVENTS.finditer(text):
        ch = match.group()
        if ch in _LOGIC_WORDS:
            ch = "!"  # an operator like the others
        elif len(ch) != 1 or ch in '#"':
            continue  # a comment or a string
        i = match.start()
        if ch in _OPENERS:
            if len(stack) >= limits.MAX_NESTING_DEPTH:
                return [*problems, _too_deep(source, stack, i)]
            expression = ch == "(" and not (i and _NAME_CHAR.match(text, i - 1))
            if expression and not (stack and stack[-1][2]):
                operators = 0
            stack.append((ch, i, expression))
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
        elif ch == "\n":
            if stack and stack[-1][0] == "(":
                _, start, _ = stack.pop()
                problems.append(_unclosed(source, "(", start))
        elif stack and stack[-1][2]:
            operators += 1
            if operators > limits.MAX_EXPRESSION_OPERATORS:
                root = next(start for _, start, expr in stack if expr)
                return [*problems, _too_long_expression(source, root, i)]
    problems += [_unclosed(source, ch, start) for ch, start, _ in stack]
    return problems


def _too_deep(source: SourceFile, stack: list, offset: int) -> Diagnostic:
    limit = limits.MAX_NESTING_DEPTH
    outer = stack[0][1]
    return error(
        limits.E_NESTING_TOO_DEEP,
        f"brackets nested more than {limit} deep",
        source.offset_span(offset, offset + 1),
        f"this opens level {len(stack) + 1}",
        related=((source.offset_span(outer, outer + 1), "level 1 opens here"),),
        notes=(f"at most {limit} `{{ }}` and `( )` may be open at once",),
        help="define the repeated part once as a `block`, or use `repeat N { ... }`",
    )


def _too_long_expression(source: SourceFile, root: int, offset: int) -> Diagnostic:
    limit = limits.MAX_EXPRESSION_OPERATORS
    return error(
        limits.E_EXPRESSION_TOO_LONG,
        f"expression with more than {limit} operators",
        source.offset_span(root, offset + 1),
        f"{limit + 1} operators by here",
        help="split the arithmetic over block parameters, e.g. `block b(f, g=(f * 4))`",
    )


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
    "AXIS_X": "'x' between two axes",
    "AND": "'and'",
    "OR": "'or'",
    "NOT": "'not'",
}


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type == "_NL":
        return "end of line"
    return f"'{excerpt(str(token.value), 40)}'"


def describe_char(char: str) -> str:
    """A character as a message shows it: ``'@'``, or with its code point and Unicode name when
    it is not printable ASCII: ``'１' (U+FF11 FULLWIDTH DIGIT ONE)``, ``'\\x00' (U+0000)``."""
    if char.isascii() and char.isprintable():
        return repr(char)
    import unicodedata  # only when a spec has such a character

    name = unicodedata.name(char, "")
    return f"{char!r} (U+{ord(char):04X}{' ' + name if name else ''})"


def syntax_diagnostic(source: SourceFile, exc: UnexpectedInput) -> Diagnostic:
    """Lark's exception as a located error, with advice for the usual mistakes."""
    line, column = max(exc.line, 1), max(exc.column, 1)
    if isinstance(exc, UnexpectedCharacters):
        text = source.line(line)
        char = text[column - 1 : column] or "?"
        if char.isdecimal() and not char.isascii():  # a digit, but not 0-9
            return _non_ascii_digit(source, line, column, text)
        span = source.span(line, column, line, column + 1)
        return error(
            "E0101",
            f"unexpected character {describe_char(char)}",
            span,
            "not part of the spec language",
            help="a line is `kind args...`, e.g. `conv 32 3x3 relu`; comments start with #",
        )
    token = exc.token if isinstance(exc, UnexpectedToken) else None
    expected = sorted(
        {_TERMINAL_NAMES.get(t, t) for t in getattr(exc, "expected", ()) if t != "$END"}
    )
    if token is None or token.type == "$END":
        last = max(source.line_count, 1)
        span = source.span(last, 1, last, len(source.line(last)) + 1)
        return error("E0104", "unexpected end of file", span, "the spec ends here")
    if token.end_line == token.line and token.end_column is not None:
        end_col = max(token.end_column, column + 1)
    else:
        end_col = len(source.line(line)) + 1
    span = source.span(line, column, line, end_col)
    what = _describe_token(token)
    hint = "expected " + ", ".join(expected[:6]) if expected else ""
    label, help_ = _TOKEN_ADVICE.get(
        token.type,
        (hint or "not expected here", "one statement per line: `kind positional... key=value...`"),
    )
    return error("E0100", f"unexpected {what}", span, label, help=help_)


def _non_ascii_digit(source: SourceFile, line: int, column: int, text: str) -> Diagnostic:
    """E0106: a Unicode decimal digit that is not 0-9, with the number written in ASCII."""
    import unicodedata

    start = column - 1
    while start and text[start - 1].isdecimal():
        start -= 1
    end = column - 1
    while end < len(text) and text[end].isdecimal() and end - start < limits.MAX_NUMBER_DIGITS:
        end += 1
    char = text[column - 1]
    ascii_ = "".join(str(unicodedata.decimal(c)) for c in text[start:end])
    return error(
        limits.E_NON_ASCII_DIGIT,
        f"{describe_char(char)} is not an ASCII digit",
        source.span(line, column, line, end + 1),
        f"digit {unicodedata.decimal(char)} in another script",
        notes=("numbers in a spec are written with the ASCII digits 0-9 only",),
        help=f"write `{ascii_}`",
    )


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
