"""Where the cursor is, read from the text alone (the line being typed rarely parses).

The text before the cursor is scanned once with a small tokenizer: ``{ }`` bodies and the
statement that opened each (``train``, ``block basic(...)``, ``repeat``), the words of the
statement being typed, the word under the cursor, and the block call whose parentheses are open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"""
    (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"?)
  | (?P<newline>\n)
  | (?P<call>[A-Za-z_][A-Za-z0-9_]*\()
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<number>[-+]?[0-9][0-9.eEx+-]*)
  | (?P<punct>[{}();,=])
  | (?P<space>[ \t\r]+)
  | (?P<other>.)
    """,
    re.VERBOSE,
)
_CLOSED = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_WORD_AT_END = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
# block definitions, found by text so that they are known while the spec does not parse
# bodies whose layer names stay visible after them (`} {`: a branch's next path)
_TRANSPARENT = ("residual", "shortcut", "branch", "if", "else", "")
BLOCK_DEFINITION = re.compile(r"(?m)^[ \t]*block[ \t]+([A-Za-z_][A-Za-z0-9_]*)\(([^)\n]*)\)")


@dataclass
class Call:
    """A block call whose ``(`` is open before the cursor."""

    name: str
    index: int = 0  # which argument the cursor is in, 0-based
    keys: list[str] = field(default_factory=list)  # keyword arguments already written
    key: str | None = None  # the keyword of the argument the cursor is in (`stride=`)


@dataclass
class CursorContext:
    """What surrounds the cursor."""

    frames: list[tuple[str, str | None]]  # enclosing bodies: (opening word, block name)
    words: list[str]  # the statement's tokens before the word at the cursor
    prefix: str  # the part of the word at the cursor before it
    call: Call | None  # the innermost open block call
    in_expression: bool  # inside `( ... )` that is not a call
    closed: str | None  # the opening word of the body a `}` just closed on this line
    in_string: bool = False  # inside a string literal that is not closed yet
    names: list[str] = field(default_factory=list)  # the layer names visible at the cursor

    @property
    def section(self) -> str | None:
        """The word that opened the innermost body (``train``, ``residual``, ...), if any."""
        return self.frames[-1][0] if self.frames else None

    @property
    def block(self) -> str | None:
        """The block whose definition the cursor is in, if any."""
        return next((name for word, name in self.frames if word == "block"), None)


def cursor_context(text: str, offset: int) -> CursorContext:
    """The context of the cursor at character ``offset`` of ``text``."""
    before = text[:offset]
    tokens = list(_TOKEN.finditer(before[before.rfind("\n") + 1 :]))
    if tokens and tokens[-1].lastgroup == "string" and not _CLOSED.fullmatch(tokens[-1].group()):
        return CursorContext([], [], "", None, False, None, in_string=True)
    match = _WORD_AT_END.search(before)
    prefix = match.group(0) if match else ""
    if prefix and match.start() > 0 and before[match.start() - 1].isdigit():
        prefix = ""  # the `x3` of `3x3`
    scan = before[: len(before) - len(prefix)]
    frames: list[tuple[str, str | None]] = []
    words: list[str] = []
    parens: list[Call | None] = []
    closed: str | None = None
    names = _Names()
    for token in _TOKEN.finditer(scan):
        kind, value = token.lastgroup, token.group()
        if kind in ("space", "comment"):
            continue
        if kind == "newline" or value == ";":
            names.end(words)
            words, parens, closed = [], [], None
        elif value == "{":
            block = None
            if words[:1] == ["block"] and len(words) > 1:
                block = words[1].rstrip("(")
            frames.append((words[0].rstrip("(") if words else "", block))
            names.open(words)
            words, parens, closed = [], [], None
        elif value == "}":
            names.end(words)
            closed = frames.pop()[0] if frames else None
            names.close(closed)
            words, parens = [], []
        elif kind == "call":
            words.append(value)
            parens.append(Call(value[:-1]))
        elif value == "(":
            parens.append(None)
        elif value == ")":
            if parens:
                parens.pop()
        elif value == "," and parens and parens[-1] is not None:
            parens[-1].index += 1
            parens[-1].key = None
        elif value == "=":
            words.append("=")
            call = parens[-1] if parens else None
            if call is not None and len(words) >= 2:
                call.key = words[-2]
                call.keys.append(words[-2])
        else:
            words.append(value)
    call = next((c for c in reversed(parens) if c is not None), None)
    in_expression = bool(parens) and parens[-1] is None
    visible = list(dict.fromkeys(names.stack[-1]))
    return CursorContext(frames, words, prefix, call, in_expression, closed, names=visible)


class _Names:
    """The layer names written before the cursor, by naming scope: ``name=X`` (on a layer, an
    ``input``, a block call, a ``repeat``) and ``sequential X { }``.  A block, ``repeat`` or
    ``sequential`` body is a scope of its own; ``residual``, ``branch`` and ``if`` bodies are
    not (their names stay visible after them), as the compiler names layers."""

    def __init__(self) -> None:
        self.stack: list[list[str]] = [[]]

    def end(self, words: list[str]) -> None:
        """A statement ends: the names it gives become visible."""
        given = zip(words, words[1:], words[2:], strict=False)
        self.stack[-1] += [name for key, eq, name in given if key == "name" and eq == "="]

    def open(self, words: list[str]) -> None:
        """A ``{`` after ``words``: the statement's names, then the body's scope."""
        self.end(words)
        if words[:1] == ["sequential"] and len(words) > 1:
            self.stack[-1].append(words[1])
        self.stack.append([])

    def close(self, opened: str | None) -> None:
        """A ``}`` closes the body that ``opened`` (the word before its ``{``) began."""
        if len(self.stack) > 1:
            inner = self.stack.pop()
            if opened in _TRANSPARENT:
                self.stack[-1] += inner


def block_signatures(text: str) -> dict[str, list[tuple[str, str | None]]]:
    """Every block defined in ``text``: its parameters, each with its default text or None."""
    blocks: dict[str, list[tuple[str, str | None]]] = {}
    for match in BLOCK_DEFINITION.finditer(text):
        formals = []
        for part in match.group(2).split(","):
            name, _, default = part.partition("=")
            if name.strip():
                formals.append((name.strip(), default.strip() or None))
        blocks.setdefault(match.group(1), formals)
    return blocks
