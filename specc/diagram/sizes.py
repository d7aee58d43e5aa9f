"""How big each drawn thing is and where its text goes: one place for layout and drawing."""

from __future__ import annotations

from dataclasses import dataclass

from specc.diagram.metrics import line_height, text_width

TITLE_SIZE = 12.0  # a box's first line (bold): the layer's name or the group's label
BODY_SIZE = 11.0  # the other lines of a box
SHAPE_SIZE = 10.0  # the shape on a wire
HEADER_SIZE = 11.0  # an open group's label (bold)
MODEL_SIZE = 13.0  # the model's name at the top (bold)

BOX_PAD_X, BOX_PAD_Y = 10.0, 6.0
MIN_BOX_WIDTH = 96.0
STACK = 4.0  # how far the second sheet of a collapsed group's box shows
SHAPE_PAD_X, SHAPE_PAD_Y = 5.0, 1.5
GROUP_PAD = 10.0  # between a group's rectangle and what it holds
HEADER_GAP = 10.0  # between a group's label and the wires that enter beside it
MARGIN = 16.0  # around the whole diagram


@dataclass(frozen=True)
class TextLine:
    """One line of text: its content, size in pixels and weight."""

    text: str
    size: float
    bold: bool = False

    @property
    def width(self) -> float:
        """Its estimated width in pixels."""
        return text_width(self.text, self.size, self.bold)

    @property
    def height(self) -> float:
        """The height of its line."""
        return line_height(self.size)


def baseline(line_top: float, line: TextLine) -> float:
    """Where a line's baseline goes, its glyphs centred in its line height."""
    return round(line_top + line.height / 2 + 0.36 * line.size, 2)


def box_lines(title: str, lines: tuple[str, ...]) -> list[TextLine]:
    """The text lines of a box: a bold title, then the others."""
    return [TextLine(title, TITLE_SIZE, True), *(TextLine(text, BODY_SIZE) for text in lines)]


def box_size(lines: list[TextLine]) -> tuple[float, float]:
    """(width, height) of a box holding ``lines``."""
    width = max(MIN_BOX_WIDTH, max(line.width for line in lines) + 2 * BOX_PAD_X)
    height = sum(line.height for line in lines) + 2 * BOX_PAD_Y
    return round(width, 1), round(height, 1)


def shape_line(text: str) -> TextLine:
    """The text of a shape label on a wire."""
    return TextLine(text, SHAPE_SIZE)


def shape_size(text: str) -> tuple[float, float]:
    """(width, height) of a shape label on a wire."""
    line = shape_line(text)
    return round(line.width + 2 * SHAPE_PAD_X, 1), round(line.height + 2 * SHAPE_PAD_Y, 1)


def header_line(text: str, model: bool = False) -> TextLine:
    """A group's label (or, with ``model``, the model's title)."""
    return TextLine(text, MODEL_SIZE if model else HEADER_SIZE, True)


def header_height(line: TextLine) -> float:
    """The band at the top of a group that holds its label."""
    return round(line.height + 4.0, 1)
