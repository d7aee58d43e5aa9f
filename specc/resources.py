"""Locate the files that ship beside the code: the grammar, the backend templates and the
error-code explanations.

In a wheel they live inside the package (``specc/grammars``, ``specc/templates``,
``specc/explanations``); in a source checkout or an editable install they are top-level
folders next to ``specc/``.  This is the one place that knows both layouts.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """Return the directory holding the shipped folder ``name`` ("grammars", "templates", ...)."""
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"specc installation is missing its {name!r} folder")


def grammar_path() -> Path:
    """Path of the Lark grammar of the spec language."""
    return data_dir("grammars") / "specc.lark"


def templates_dir() -> Path:
    """Root of the jinja2 templates, one sub-folder per backend."""
    return data_dir("templates")
