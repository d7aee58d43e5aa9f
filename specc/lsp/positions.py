"""Between specc's spans and LSP positions.

specc's spans are 1-based lines and columns counted in characters (code points), with an
exclusive end column, and lines split at ``\\n`` as the parser splits them.  LSP positions are
0-based, and their ``character`` counts code units of the negotiated encoding: UTF-16 unless the
client offers another (a character outside the Basic Multilingual Plane, such as an emoji in a
comment, is two UTF-16 units and four UTF-8 bytes).
"""

from __future__ import annotations

from lsprotocol import types as lsp

from specc.source import Span

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


def _units(text: str, encoding: str) -> int:
    """The length of ``text`` in code units of ``encoding``."""
    if text.isascii() or encoding == UTF32:
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8"))
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


class LineIndex:
    """One document's lines, to convert positions in both directions."""

    def __init__(self, text: str, encoding: str = UTF16):
        self.lines = text.split("\n")
        self.encoding = str(encoding)

    def position(self, line: int, column: int) -> lsp.Position:
        """The LSP position of 1-based ``line`` and ``column`` (clamped to the document)."""
        if line > len(self.lines):
            return self.end()
        row = max(line, 1) - 1
        text = self.lines[row]
        return lsp.Position(line=row, character=_units(text[: max(column, 1) - 1], self.encoding))

    def range(self, span: Span) -> lsp.Range:
        """The LSP range of a span."""
        return lsp.Range(
            start=self.position(span.line, span.column),
            end=self.position(span.end_line, span.end_column),
        )

    def end(self) -> lsp.Position:
        """The position just after the last character of the document."""
        last = len(self.lines) - 1
        return lsp.Position(line=last, character=_units(self.lines[last], self.encoding))

    def whole(self) -> lsp.Range:
        """The range of the whole document."""
        return lsp.Range(start=lsp.Position(line=0, character=0), end=self.end())

    def location(self, position: lsp.Position) -> tuple[int, int]:
        """The 1-based (line, column) of an LSP position; a position inside a character's
        code units (between the halves of a surrogate pair) moves to the next character."""
        row = min(max(position.line, 0), len(self.lines) - 1)
        text = self.lines[row]
        if text.isascii() or self.encoding == UTF32:
            return row + 1, min(position.character, len(text)) + 1
        units = 0
        for i, ch in enumerate(text):
            if units >= position.character:
                return row + 1, i + 1
            units += _units(ch, self.encoding)
        return row + 1, len(text) + 1
