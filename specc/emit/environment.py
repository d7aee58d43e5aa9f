"""The jinja2 environment of the emitters, and :func:`py`, which writes a value as a Python
literal.  Templates (``templates/<backend>/``) lay out files, classes and helper definitions;
what goes in them is decided in Python (the layer plans, :mod:`specc.plans`)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import jinja2

from specc.resources import templates_dir


class EmitError(ValueError):
    """A checked spec that a backend cannot express; the message says why."""


class Code(str):
    """Text that :func:`py` writes as it is (a name or an expression, not a string literal)."""

    __slots__ = ()


def py(value: Any) -> str:
    """Write ``value`` as a Python literal in ruff's style (double quotes, ``(1,)``)."""
    if isinstance(value, Code):
        return str(value)
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return f'float("{value}")'
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, tuple):
        if len(value) == 1:
            return f"({py(value[0])},)"
        return "(" + ", ".join(py(v) for v in value) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(py(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py(k)}: {py(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as a Python literal")


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates cached across runs (``$SPECC_CACHE_DIR/jinja`` or
    ``~/.cache/specc/jinja``): compiling them costs more than emitting.  Jinja keys entries by
    template source checksum, so an edited template is recompiled.  None when the folder cannot
    be created: emitting still works, only slower."""
    root = os.environ.get("SPECC_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "specc"
    )
    folder = os.path.join(root, "jinja")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    return jinja2.FileSystemBytecodeCache(folder)


@cache
def environment() -> jinja2.Environment:
    """The shared jinja2 environment, rooted at the shipped templates folder."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        bytecode_cache=_bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(py=py)
    return env
