"""Source text and spans: where in a spec file a node came from."""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass, field
from typing import NamedTuple

from specc import limits

BOM = "\ufeff"
# a text longer than this looks single lines up instead of splitting itself into lines
_SEARCH_LINES_ABOVE = 1 << 20


class Span(NamedTuple):
    """A region of a spec file; lines and columns are 1-based, ``end_column`` is exclusive.

    A named tuple rather than a pydantic model or a frozen dataclass: a large spec has one per
    token, so creating one must be cheap, and the IR's pydantic models accept it by isinstance.
    """

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):
        """In pydantic models a span is checked with isinstance, never re-validated."""
        from pydantic_core import core_schema

        return core_schema.is_instance_schema(cls)

    def replace(self, **changes: int) -> Span:
        """A copy with some positions changed."""
        return self._replace(**changes)

    def to(self, other: Span) -> Span:
        """The span from the start of this one to the end of ``other``."""
        return Span(
            file=self.file,
            line=self.line,
            column=self.column,
            end_line=other.end_line,
            end_column=other.end_column,
        )


@dataclass(frozen=True)
class SourceFile:
    """The text of one spec together with its display name.

    A UTF-8 byte-order mark at the start of ``text`` is dropped (``bom`` says there was one),
    so that columns count from the first visible character, as editors show them.  ``size`` is
    the size in bytes of the file the text was read from, when it is known and may differ from
    the text's own (:func:`read_source` reads no more of a file than the size limit).
    Lines are split at ``\\n`` only, as the parser counts them (a trailing ``\\r`` is not part of
    a line), and only when first asked for.
    """

    name: str
    text: str
    size: int | None = None
    bom: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.text.startswith(BOM):
            object.__setattr__(self, "text", self.text[1:])
            object.__setattr__(self, "bom", True)

    @property
    def lines(self) -> tuple[str, ...]:
        """The lines of the text, without their line ends."""
        cached = self.__dict__.get("_lines")
        if cached is None:
            parts = self.text.split("\n")
            if parts and not parts[-1]:
                parts.pop()
            if "\r" in self.text:
                parts = [p[:-1] if p.endswith("\r") else p for p in parts]
            cached = tuple(parts)
            object.__setattr__(self, "_lines", cached)
        return cached

    @property
    def byte_size(self) -> int:
        """The size of the spec in bytes: the file's, or its text's in UTF-8."""
        if self.size is not None:
            return self.size
        if self.text.isascii():
            return len(self.text)
        return len(self.text.encode("utf-8", "surrogatepass"))

    @property
    def line_count(self) -> int:
        """How many lines the text has (a last line without a line end counts)."""
        text = self.text
        return text.count("\n") + (1 if text and not text.endswith("\n") else 0)

    def line(self, number: int) -> str:
        """Return line ``number`` (1-based) without its newline, or "" past the end."""
        lines = self.__dict__.get("_lines")
        if lines is None and len(self.text) > _SEARCH_LINES_ABOVE:
            return self._search_line(number)
        lines = self.lines
        if 1 <= number <= len(lines):
            return lines[number - 1]
        return ""

    def _search_line(self, number: int) -> str:
        """One line of a large text, found without splitting the text into lines (which costs
        ~50 bytes a line): a binary search over the count of line ends before an offset."""
        text = self.text
        if number < 1:
            return ""
        lo, hi = 0, len(text)
        while lo < hi:  # the smallest offset with number - 1 line ends before it
            mid = (lo + hi) // 2
            if text.count("\n", 0, mid) < number - 1:
                lo = mid + 1
            else:
                hi = mid
        if lo >= len(text) or (number > 1 and text[lo - 1] != "\n"):
            return ""
        end = text.find("\n", lo)
        line = text[lo : len(text) if end < 0 else end]
        return line[:-1] if line.endswith("\r") else line

    def text_of(self, span: Span) -> str:
        """The text a single-line span covers (the first line of a multi-line span)."""
        text = self.line(span.line)
        end = span.end_column - 1 if span.end_line == span.line else len(text)
        return text[span.column - 1 : end]

    def span(self, line: int, column: int, end_line: int, end_column: int) -> Span:
        """Build a span in this file."""
        return Span(
            file=self.name, line=line, column=column, end_line=end_line, end_column=end_column
        )

    def offset_span(self, start: int, end: int) -> Span:
        """Build a span from 0-based character offsets (end exclusive)."""
        line_start = self.text.rfind("\n", 0, start) + 1
        line = self.text.count("\n", 0, start) + 1
        end_line = self.text.count("\n", 0, end) + 1
        end_line_start = self.text.rfind("\n", 0, end) + 1
        return self.span(line, start - line_start + 1, end_line, end - end_line_start + 1)


class SourceReadError(Exception):
    """A spec file that cannot be read as text: missing, a folder, unreadable, not UTF-8."""


def read_source(path: str) -> SourceFile:
    """Read a spec file as UTF-8 text, reading no more than one byte past the size limit.

    A file larger than :data:`~specc.limits.MAX_SOURCE_BYTES` gives a :class:`SourceFile`
    holding only its start, with ``size`` set to the whole size, so that the parser can say
    where the limit is crossed without the rest being read.  Raises :class:`SourceReadError`
    with a message naming the path (and, for text that is not UTF-8, where the first bad byte
    is).
    """
    limit = limits.MAX_SOURCE_BYTES
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
            stat = os.fstat(handle.fileno())
    except FileNotFoundError:
        raise SourceReadError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise SourceReadError(f"{path} is a directory, not a spec file") from None
    except OSError as exc:
        raise SourceReadError(f"cannot read {path}: {exc.strerror}") from None
    size = max(stat.st_size, len(data))
    # a file past the limit is cut at it; a character split by the cut is left out
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(data[:limit], final=len(data) <= limit)
    except UnicodeDecodeError as exc:
        raise SourceReadError(f"{path} is not UTF-8 text: {_bad_byte(data, exc.start)}") from None
    return SourceFile(path, text, size=size)


def _bad_byte(data: bytes, offset: int) -> str:
    """Where a byte that is not UTF-8 is: ``byte 0xe9 at line 3, column 5``."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return f"byte 0x{data[offset]:02x} at line {line}, column {column}"
