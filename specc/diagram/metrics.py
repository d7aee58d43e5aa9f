"""Text sizes without a font library: advance widths of DejaVu Sans, per character.

Diagrams name DejaVu Sans first (and Verdana, of about the same widths, after it), so boxes
sized from this table fit their labels wherever one of them is installed; narrower fallbacks
(Arial, Helvetica) only leave more room.  Widths are in thousandths of an em, rounded up, for
the printable ASCII characters; anything else counts as a full em.
"""

from __future__ import annotations

FONT_FAMILY = "DejaVu Sans, Bitstream Vera Sans, Verdana, Geneva, sans-serif"

# U+0020 (space) to U+007E (~), DejaVu Sans Book and Bold (hmtx advance / unitsPerEm)
_REGULAR = (
    318, 401, 460, 838, 637, 951, 780, 275, 391, 391, 500, 838, 318, 361, 318, 337, 637, 637,
    637, 637, 637, 637, 637, 637, 637, 637, 337, 337, 838, 838, 838, 531, 1000, 685, 687, 699,
    771, 632, 576, 775, 752, 295, 295, 656, 558, 863, 749, 788, 604, 788, 695, 635, 611, 732,
    685, 989, 686, 611, 686, 391, 337, 391, 838, 500, 500, 613, 635, 550, 635, 616, 353, 635,
    634, 278, 278, 580, 278, 975, 634, 612, 635, 635, 412, 521, 393, 634, 592, 818, 592, 592,
    525, 637, 337, 637, 838,
)  # fmt: skip
_BOLD = (
    349, 457, 521, 838, 696, 1002, 873, 307, 458, 458, 523, 838, 380, 416, 380, 366, 696, 696,
    696, 696, 696, 696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 581, 1000, 774, 763, 734,
    831, 684, 684, 821, 837, 373, 373, 775, 638, 996, 837, 851, 733, 851, 771, 721, 683, 813,
    774, 1104, 771, 725, 726, 458, 366, 458, 838, 500, 500, 675, 716, 593, 716, 679, 436, 716,
    712, 343, 343, 666, 343, 1042, 712, 688, 716, 716, 494, 596, 479, 712, 652, 924, 646, 652,
    583, 712, 366, 712, 838,
)  # fmt: skip
# A few characters beyond ASCII that labels use.
_EXTRA = {"·": (318, 380), "×": (838, 838), "…": (1000, 1000), "−": (838, 838)}
_FIRST, _EM = 32, 1000
# Renderers differ in hinting and kerning by a little: leave that much room.
SLACK = 1.04


def text_width(text: str, size: float, bold: bool = False) -> float:
    """The width in pixels of ``text`` set in DejaVu Sans at ``size`` pixels (with slack)."""
    table = _BOLD if bold else _REGULAR
    total = 0
    for char in text:
        code = ord(char) - _FIRST
        if 0 <= code < len(table):
            total += table[code]
        else:
            total += _EXTRA.get(char, (_EM, _EM))[bold]
    return total * size / _EM * SLACK


def line_height(size: float) -> float:
    """The distance between baselines of consecutive lines at ``size`` pixels."""
    return round(size * 1.3, 2)


def ascent(size: float) -> float:
    """How far capitals and digits reach above the baseline (DejaVu Sans: 0.73 em)."""
    return size * 0.73
