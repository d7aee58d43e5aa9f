"""Write a scene as SVG text, by hand: no XML library, every string escaped here.

Each element of the scene becomes a ``<g class="KIND">`` with its ``data-*`` attributes (what
tools and tests read back: layer names, kinds, parameter counts, shapes, group labels) and a
``<title>`` (the tooltip a browser shows: the layer's arithmetic).
"""

from __future__ import annotations

from specc.diagram.metrics import FONT_FAMILY
from specc.diagram.scene import WIRE, PathShape, RectShape, Scene, TextShape

ARROW_ID = "specc-arrow"
# what XML needs escaped in text and in double-quoted attributes; the characters XML 1.0 does
# not allow at all (most control characters, lone surrogates) become U+FFFD
_ESCAPES: dict[int, str] = {code: "\ufffd" for code in range(0x20) if chr(code) not in "\t\r"}
_ESCAPES.update({code: "\ufffd" for code in (*range(0xD800, 0xE000), 0xFFFE, 0xFFFF)})
_ESCAPES.update({ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;"})
_ESCAPES[ord("\n")] = "&#10;"


def escape(text: str) -> str:
    """``text`` safe inside XML character data and double-quoted attributes."""
    return text.translate(_ESCAPES)


def number(value: float) -> str:
    """A coordinate: at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def path_data(shape: PathShape) -> str:
    """The ``d`` attribute of a wire: straight and curved steps from its start."""
    x, y = shape.start
    parts = [f"M{number(x)} {number(y)}"]
    for kind, (nx, ny) in shape.steps:
        if abs(nx - x) < 1e-6 and abs(ny - y) < 1e-6:
            continue
        straight = abs(nx - x) < 1e-6 if shape.down else abs(ny - y) < 1e-6
        if kind == "L" or straight:
            parts.append(f"L{number(nx)} {number(ny)}")
        else:
            c1, c2 = curve_controls((x, y), (nx, ny), shape.down)
            parts.append(
                f"C{number(c1[0])} {number(c1[1])} {number(c2[0])} {number(c2[1])} "
                f"{number(nx)} {number(ny)}"
            )
        x, y = nx, ny
    return " ".join(parts)


def curve_controls(a: tuple[float, float], b: tuple[float, float], down: bool):
    """The control points of a curve that leaves ``a`` and reaches ``b`` along the flow."""
    if down:
        mid = (a[1] + b[1]) / 2
        return (a[0], mid), (b[0], mid)
    mid = (a[0] + b[0]) / 2
    return (mid, a[1]), (mid, b[1])


def _attrs(attrs: dict[str, str]) -> str:
    return "".join(f' {key}="{escape(value)}"' for key, value in attrs.items())


def _plain(attrs: dict[str, str]) -> str:
    """Attributes made here of numbers and colour names: nothing to escape."""
    return "".join(f' {key}="{value}"' for key, value in attrs.items())


def _shape(shape) -> str:
    if isinstance(shape, RectShape):
        r = shape.rect
        attrs = {
            "x": number(r.x),
            "y": number(r.y),
            "width": number(r.w),
            "height": number(r.h),
        }
        if shape.radius:
            attrs["rx"] = number(shape.radius)
        attrs["fill"] = shape.fill
        if shape.stroke:
            attrs["stroke"] = shape.stroke
            attrs["stroke-width"] = number(shape.stroke_width)
        return f"<rect{_plain(attrs)}/>"
    if isinstance(shape, TextShape):
        line = shape.line
        attrs = {"x": number(shape.x), "y": number(shape.y), "font-size": number(line.size)}
        if line.bold:
            attrs["font-weight"] = "bold"
        if shape.anchor != "start":
            attrs["text-anchor"] = shape.anchor
        attrs["fill"] = shape.fill
        return f"<text{_plain(attrs)}>{escape(line.text)}</text>"
    if isinstance(shape, PathShape):
        attrs = {
            "d": path_data(shape),
            "fill": "none",
            "stroke": shape.stroke,
            "stroke-width": number(shape.stroke_width),
        }
        if shape.arrow:
            attrs["marker-end"] = f"url(#{ARROW_ID})"
        return f"<path{_plain(attrs)}/>"
    raise TypeError(f"cannot draw {type(shape).__name__}")


def render_svg(scene: Scene) -> str:
    """The SVG document of ``scene``."""
    width, height = number(scene.width), number(scene.height)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{escape(FONT_FAMILY)}" role="img" '
        f'class="specc-graph" data-model="{escape(scene.title)}" '
        f'data-direction="{scene.direction}">',
        f"<title>{escape(scene.title)}</title>",
        "<defs>",
        f'<marker id="{ARROW_ID}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
        f'markerHeight="6" orient="auto"><path d="M0 1L10 5L0 9z" fill="{WIRE}"/></marker>',
        "</defs>",
    ]
    for element in scene.elements:
        out.append(f'<g class="{element.kind}"{_attrs(element.attrs)}>')
        if element.tooltip:
            out.append(f"<title>{escape(element.tooltip)}</title>")
        out.extend(_shape(shape) for shape in element.shapes)
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
