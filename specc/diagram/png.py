"""Draw a scene into a PNG with Pillow (imported here only, when a PNG is asked for).

Text is set in DejaVu Sans, the font the boxes were sized for: matplotlib's bundled copy when
matplotlib is installed (found without importing it), else the system's; failing both,
Pillow's own scalable default font.  A line that would still come out wider than its estimate
is set a little smaller, so text always fits its box.
"""

from __future__ import annotations

import importlib.util
import io
import math
from functools import cache
from pathlib import Path

from specc.diagram.scene import PathShape, RectShape, Scene, TextShape
from specc.diagram.svg import curve_controls

MAX_PIXELS = 20_000_000  # a larger drawing is drawn at a smaller scale, to this many pixels
ARROW_LENGTH, ARROW_HALF_WIDTH = 7.8, 3.1  # as the SVG's marker at a 1.3 px wire


class PngUnavailable(RuntimeError):
    """Pillow is not installed."""


def render_png(scene: Scene, scale: float = 2.0) -> bytes:
    """The PNG image of ``scene``, ``scale`` pixels per diagram pixel (less for huge ones)."""
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        raise PngUnavailable(
            "PNG output needs Pillow: pip install 'specc[graph]' (or pillow)"
        ) from None
    area = scene.width * scene.height
    scale = min(scale, math.sqrt(MAX_PIXELS / area)) if area else scale
    size = (max(1, math.ceil(scene.width * scale)), max(1, math.ceil(scene.height * scale)))
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for element in scene.elements:
        for shape in element.shapes:
            if isinstance(shape, RectShape):
                _rect(draw, shape, scale)
            elif isinstance(shape, TextShape):
                _text(draw, shape, scale)
            elif isinstance(shape, PathShape):
                _path(draw, shape, scale)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _rect(draw, shape: RectShape, scale: float) -> None:
    r = shape.rect
    box = [r.x * scale, r.y * scale, r.right * scale, r.bottom * scale]
    width = max(1, round(shape.stroke_width * scale)) if shape.stroke else 0
    draw.rounded_rectangle(
        box,
        radius=shape.radius * scale,
        fill=shape.fill,
        outline=shape.stroke,
        width=width,
    )


def _text(draw, shape: TextShape, scale: float) -> None:
    line = shape.line
    font = _font(round(line.size * scale * 4) / 4, line.bold)
    room = line.width * scale
    actual = font.getlength(line.text)
    if actual > room:  # another font than the estimate's: set it smaller rather than overflow
        font = _font(round(line.size * scale * room / actual * 4) / 4 - 0.25, line.bold)
    anchor = "ms" if shape.anchor == "middle" else "ls"
    draw.text(
        (shape.x * scale, shape.y * scale), line.text, font=font, fill=shape.fill, anchor=anchor
    )


def _path(draw, shape: PathShape, scale: float) -> None:
    points = [shape.start]
    heading = None  # where the wire points at its end, as the SVG marker takes it
    for kind, point in shape.steps:
        last = points[-1]
        if math.dist(last, point) < 1e-6:
            continue
        if kind == "C":
            points.extend(_curve(last, point, shape.down))
            _, c2 = curve_controls(last, point, shape.down)
            heading = (point[0] - c2[0], point[1] - c2[1])
            if math.hypot(*heading) < 1e-6:
                heading = (point[0] - last[0], point[1] - last[1])
        else:
            points.append(point)
            heading = (point[0] - last[0], point[1] - last[1])
    scaled = [(x * scale, y * scale) for x, y in points]
    width = max(1, round(shape.stroke_width * scale))
    draw.line(scaled, fill=shape.stroke, width=width, joint="curve")
    if shape.arrow and heading is not None:
        _arrow(draw, scaled[-1], heading, shape.stroke, shape.stroke_width / 1.3 * scale)


def _curve(a, b, down: bool, steps: int = 12):
    c1, c2 = curve_controls(a, b, down)
    out = []
    for i in range(1, steps + 1):
        t = i / steps
        u = 1 - t
        x = u**3 * a[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t**3 * b[0]
        y = u**3 * a[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t**3 * b[1]
        out.append((x, y))
    return out


def _arrow(draw, tip, heading, color: str, scale: float) -> None:
    length = math.hypot(*heading)
    ux, uy = heading[0] / length, heading[1] / length
    back = (tip[0] - ux * ARROW_LENGTH * scale, tip[1] - uy * ARROW_LENGTH * scale)
    side = (-uy * ARROW_HALF_WIDTH * scale, ux * ARROW_HALF_WIDTH * scale)
    draw.polygon(
        [tip, (back[0] + side[0], back[1] + side[1]), (back[0] - side[0], back[1] - side[1])],
        fill=color,
    )


@cache
def _font(size: float, bold: bool):
    from PIL import ImageFont

    size = max(size, 1.0)
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for candidate in (_bundled_font(name), name):
        if candidate is None:
            continue
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def _bundled_font(name: str) -> str | None:
    """matplotlib's copy of a DejaVu font, found without importing matplotlib."""
    try:
        spec = importlib.util.find_spec("matplotlib")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "mpl-data" / "fonts" / "ttf" / name
        if path.is_file():
            return str(path)
    return None
