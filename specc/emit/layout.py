"""Fit one emitted statement into the line length, breaking it the way ``ruff format`` does.

Snippets render each statement on one line; this module breaks the rare line that is too long
(long explicit layer names, wide argument lists) exactly as ``ruff format`` would, so that the
emitted file is format-stable without running a formatter at emit time.  It understands the
small expression language the templates produce: names, literals, calls, subscripts, lists,
tuples and keyword arguments.  The rules are black's "right-hand split":

- split at the last bracket pair whose opening line fits (trailers after it stay on the
  closing line, as in ``layers.Conv2D(...)(x)``);
- the bracket's contents go on one indented line when they fit, except list and tuple
  displays, which are exploded one element per line with a trailing comma;
- otherwise one element per line, each element fitted recursively.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LINE_LENGTH = 100
_CLOSE = {"(": ")", "[": "]", "{": "}"}


@dataclass
class Group:
    """A bracketed part: its opening bracket, comma-separated items and whether it is a call."""

    open: str
    items: list[list[Piece]] = field(default_factory=list)
    is_call: bool = False
    trailing_comma: bool = False

    @property
    def close(self) -> str:
        """The matching closing bracket."""
        return _CLOSE[self.open]

    def flat(self) -> str:
        """The group on one line."""
        inner = ", ".join(flat(item) for item in self.items)
        if self.trailing_comma:
            inner += ","
        return f"{self.open}{inner}{self.close}"


Piece = str | Group


def flat(pieces: list[Piece]) -> str:
    """A piece sequence on one line."""
    return "".join(p if isinstance(p, str) else p.flat() for p in pieces)


def parse(text: str) -> list[Piece]:
    """Split an expression into text and bracket groups (strings are kept whole)."""
    pieces, end = _parse_seq(text, 0, "")
    if end != len(text):
        raise ValueError(f"unbalanced brackets in emitted expression: {text!r}")
    return pieces


def _parse_seq(text: str, i: int, closer: str) -> tuple[list[Piece], int]:
    pieces: list[Piece] = []
    buf = ""
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            j = i + 1
            while text[j] != ch:
                j += 2 if text[j] == "\\" else 1
            buf += text[i : j + 1]
            i = j + 1
        elif ch in _CLOSE:
            is_call = bool(buf.rstrip()) and (buf[-1].isalnum() or buf[-1] in "_)]")
            if not buf and pieces and isinstance(pieces[-1], Group):
                is_call = True
            if buf:
                pieces.append(buf)
                buf = ""
            group, i = _parse_group(text, i + 1, ch)
            group.is_call = is_call
            pieces.append(group)
        elif ch in ")]}" or (ch == "," and closer):
            break
        else:
            buf += ch
            i += 1
    if buf:
        pieces.append(buf)
    return pieces, i


def _parse_group(text: str, i: int, opener: str) -> tuple[Group, int]:
    group = Group(opener)
    closer = _CLOSE[opener]
    while True:
        while text[i] == " ":
            i += 1
        if text[i] == closer:
            return group, i + 1
        item, i = _parse_seq(text, i, closer)
        group.items.append(item)
        if text[i] == ",":
            i += 1
            while text[i] == " ":
                i += 1
            if text[i] == closer:
                group.trailing_comma = True
        elif text[i] != closer:
            raise ValueError(f"unbalanced brackets in emitted expression: {text!r}")


def fit(indent: str, prefix: str, expr: str, suffix: str = "") -> list[str]:
    """Lay out ``indent + prefix + expr + suffix`` within the line length, as ruff would."""
    return _fit(indent, prefix, parse(expr), suffix)


def _fit(indent: str, prefix: str, pieces: list[Piece], suffix: str) -> list[str]:
    line = indent + prefix + flat(pieces) + suffix
    groups = [i for i, p in enumerate(pieces) if isinstance(p, Group)]
    if (len(line) <= LINE_LENGTH and not _magic(pieces)) or not groups:
        return [line]
    chosen = groups[-1]
    for index in reversed(groups):
        head = indent + prefix + flat(pieces[:index]) + pieces[index].open
        tail = indent + pieces[index].close + flat(pieces[index + 1 :]) + suffix
        if len(head) <= LINE_LENGTH and len(tail) <= LINE_LENGTH:
            chosen = index
            break
    group = pieces[chosen]
    assert isinstance(group, Group)
    head = indent + prefix + flat(pieces[:chosen]) + group.open
    tail = indent + group.close + flat(pieces[chosen + 1 :]) + suffix
    inner = indent + "    "
    body = _body(inner, group)
    return [head, *body, tail]


_KEYWORDS = (" for ", " if ", " else ")


def _clauses(pieces: list[Piece]) -> list[list[Piece]]:
    """``a if b else c`` / ``x for y in z`` cut before each top-level keyword."""
    out: list[list[Piece]] = [[]]
    for piece in pieces:
        if isinstance(piece, Group):
            out[-1].append(piece)
            continue
        text = piece
        while True:
            cuts = [text.find(k) for k in _KEYWORDS if text.find(k) >= 0]
            if not cuts:
                break
            at = min(cuts)
            if text[:at]:
                out[-1].append(text[:at])
            out.append([])
            text = text[at + 1 :]
        if text:
            out[-1].append(text)
    return [clause for clause in out if clause]


def _magic(pieces: list[Piece]) -> bool:
    """True when a group carries a magic trailing comma (ruff then always explodes it)."""
    for piece in pieces:
        if isinstance(piece, Group):
            if piece.trailing_comma and not (piece.open == "(" and len(piece.items) == 1):
                return True
            if any(_magic(item) for item in piece.items):
                return True
    return False


def _body(inner: str, group: Group) -> list[str]:
    items = group.items
    if not items:
        return []
    one_line = inner + ", ".join(flat(item) for item in items)
    explode = group.trailing_comma or (len(items) > 1 and not group.is_call)
    if len(items) == 1 and not group.trailing_comma:
        clauses = _clauses(items[0])
        if len(clauses) > 1 and len(inner + flat(items[0])) > LINE_LENGTH:
            # a conditional expression or a generator split at its keywords, as ruff does
            return [line for clause in clauses for line in _fit(inner, "", clause, "")]
        return _fit(inner, "", items[0], "")
    if not explode and len(one_line) <= LINE_LENGTH and not any(_magic(i) for i in items):
        return [one_line]
    lines: list[str] = []
    for item in items:
        lines.extend(_fit(inner, "", item, ","))
    return lines
