"""``specc graph``'s work: pick the format, draw the diagram, write it atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from specc.diagram.png import PngUnavailable

if TYPE_CHECKING:
    from specc.compiler import CheckedModel
    from specc.diagram.groups import Group

FORMATS = ("svg", "png", "dot")
SUFFIXES = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot"}

__all__ = ["FORMATS", "PngUnavailable", "choose_format", "render", "write_output"]


def choose_format(path: str | None, explicit: str | None = None) -> str:
    """The output format: ``explicit`` if given, else the file's suffix; SVG on stdout."""
    if explicit:
        if explicit not in FORMATS:
            raise ValueError(f"unknown format {explicit!r}: use {', '.join(FORMATS)}")
        return explicit
    if path in (None, "-"):
        return "svg"
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(
            f"cannot tell the format of {path}: name it .svg, .png or .dot, or give --format"
        )
    return SUFFIXES[suffix]


def render(
    checked: CheckedModel,
    fmt: str,
    *,
    depth: int | None = None,
    direction: str = "TB",
    found: list[Group] | None = None,
) -> str | bytes:
    """The diagram of a valid checked model: SVG or DOT text, or the bytes of a PNG.

    ``found`` are the groups to draw (default: :func:`specc.diagram.groups.groups`).
    """
    from specc.diagram.graph import build_diagram
    from specc.diagram.groups import groups

    if found is None:
        found = groups(checked)
    diagram = build_diagram(checked, found, depth)
    if fmt == "dot":
        from specc.diagram.dot import render_dot

        return render_dot(diagram, direction)
    from specc.diagram.layout import layout_diagram
    from specc.diagram.scene import build_scene

    scene = build_scene(diagram, layout_diagram(diagram, direction))
    if fmt == "png":
        from specc.diagram.png import render_png

        return render_png(scene)
    from specc.diagram.svg import render_svg

    return render_svg(scene)


def write_output(path: str | Path, data: str | bytes) -> None:
    """Write a rendered diagram to ``path`` atomically: never a half-written file."""
    if isinstance(data, str):
        from specc.fsutil import atomic_write

        atomic_write(path, data)
    else:
        write_bytes_atomically(path, data)


def write_bytes_atomically(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The bytes counterpart of :func:`specc.fsutil.atomic_write`: missing folders are created,
    a failure raises :class:`OSError` naming ``path`` and leaves it as it was.  The file gets
    the permissions a plain ``open()`` would give it (the old file's, when it replaces one).
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        mode = 0o666 & ~mask
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
