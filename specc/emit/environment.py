"""The jinja2 environment of the emitters and the helpers every snippet may use.

Snippets (``templates/<backend>/layers/<kind>.py.j2``) render Python text; the helpers here
turn values into Python literals and do the arithmetic that several kinds share (TensorFlow's
``same`` padding, layout permutations).  They know nothing about any particular layer kind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2

from specc.layers.base import same_padding
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


def call(callee: str, *args: Any, **kwargs: Any) -> str:
    """``callee(arg, ..., key=value, ...)`` with literals written by :func:`py`.

    Keyword arguments whose value is ``None`` are left out: snippets pass ``None`` (usually via
    the ``unless`` filter) for a framework default that need not be written.
    """
    parts = [py(a) for a in args]
    parts += [f"{key}={py(value)}" for key, value in kwargs.items() if value is not None]
    return f"{callee}({', '.join(parts)})"


def unless(value: Any, default: Any) -> Any:
    """``None`` when ``value`` equals the framework's ``default`` (so :func:`call` drops it)."""
    return None if value == default else value


def size(value: Any) -> Any:
    """A per-axis tuple as the frameworks accept it: ``(3, 3)`` -> ``3``, ``(3, 5)`` stays."""
    if isinstance(value, tuple | list) and value and all(v == value[0] for v in value):
        return value[0]
    return tuple(value) if isinstance(value, list) else value


@dataclass(frozen=True)
class Padding:
    """TensorFlow's padding of one sliding window, per spatial axis, as (before, after)."""

    pads: tuple[tuple[int, int], ...]

    @property
    def zero(self) -> bool:
        """No padding at all (``valid``, or ``same`` that happens to need none)."""
        return not any(b or a for b, a in self.pads)

    @property
    def symmetric(self) -> bool:
        """Every axis pads as much before as after (a constructor's ``padding=`` can say it)."""
        return all(b == a for b, a in self.pads)

    @property
    def asymmetric(self) -> bool:
        """Some axis pads more after than before: needs an explicit ``F.pad``."""
        return not self.symmetric

    @property
    def arg(self) -> Any:
        """The constructor's ``padding=`` value when symmetric and non-zero, else ``None``."""
        if self.zero or not self.symmetric:
            return None
        return size(tuple(b for b, _ in self.pads))

    @property
    def torch(self) -> tuple[int, ...]:
        """``F.pad``'s argument: (before, after) pairs starting from the last axis."""
        return tuple(v for pair in reversed(self.pads) for v in pair)


def tf_padding(
    padding: str, in_shape: tuple[int, ...], window: Any, stride: Any, dilation: Any = None
) -> Padding:
    """TensorFlow's padding for a window over the spatial axes of ``in_shape`` (H, W, C)."""
    spatial = in_shape[:-1]
    window = _per_axis(window, len(spatial))
    stride = _per_axis(stride, len(spatial))
    dilation = _per_axis(dilation or 1, len(spatial))
    if padding != "same":
        return Padding(tuple((0, 0) for _ in spatial))
    return Padding(
        tuple(
            same_padding(n, k, s, d)
            for n, k, s, d in zip(spatial, window, stride, dilation, strict=True)
        )
    )


def _per_axis(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    value = tuple(value)
    return value * n if len(value) == 1 else value


def channels_last(expr: str, rank: int) -> str:
    """``expr`` (channels-first, with batch) permuted to channels-last, for an IR rank."""
    if rank <= 1:
        return expr
    order = ", ".join(str(i) for i in (0, *range(2, rank + 1), 1))
    return f"{expr}.permute({order})"


def channels_first(expr: str, rank: int) -> str:
    """``expr`` (channels-last, with batch) permuted back to channels-first, for an IR rank."""
    if rank <= 1:
        return expr
    order = ", ".join(str(i) for i in (0, rank, *range(1, rank)))
    return f"{expr}.permute({order})"


def fail(message: str) -> None:
    """Stop emitting: the spec uses something this backend cannot express."""
    raise EmitError(message)


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
    env.filters.update(py=py, size=size, unless=unless)
    env.globals.update(
        call=call,
        code=Code,
        tf_padding=tf_padding,
        channels_last=channels_last,
        channels_first=channels_first,
        fail=fail,
    )
    return env
