"""Source text and spans: where in a spec file a node came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


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
    """The text of one spec together with its display name."""

    name: str
    text: str
    lines: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.text.splitlines()))

    def line(self, number: int) -> str:
        """Return line ``number`` (1-based) without its newline, or "" past the end."""
        if 1 <= number <= len(self.lines):
            return self.lines[number - 1]
        return ""

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
