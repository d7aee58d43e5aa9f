"""Does a rewritten spec mean the same model?  ``specc fmt`` asks before it writes a file.

Both texts go through the public front end (:func:`specc.compiler.check_source`); what they
give is compared without positions: the IR (every node's kind, name, arguments, inputs and
role, the model's name, output and train section, whatever fields the IR has), what the passes
inferred (shapes, counts), and the diagnostics' severities, codes and messages when the spec
has errors.  Spans are left out, and so is how an argument was spelled (``text``): the
formatter changes layout, never meaning.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from specc.compiler import CheckedModel, check_source, check_text
from specc.diagnostics import excerpt
from specc.source import SourceFile, Span

# fields that say where or how something was written, not what it means
_LAYOUT_FIELDS = frozenset({"text"})
_POSITION_WORDS = re.compile(r"\b(line|column)s? \d+")


def rewrite_difference(source: SourceFile, rewritten: str) -> str | None:
    """None when ``rewritten`` checks to the same model as ``source``; else what differs."""
    before = fingerprint(check_source(source))
    after = fingerprint(check_text(rewritten, source.name))
    if before == after:
        return None
    return first_difference(before, after, "model")


def fingerprint(checked: CheckedModel) -> tuple:
    """A checked spec as plain comparable data, without positions or spellings."""
    diagnostics = tuple(
        (d.severity, d.code, _POSITION_WORDS.sub(r"\1 N", d.message)) for d in checked.diagnostics
    )
    infos = tuple(sorted((index, _plain(info)) for index, info in checked.infos.items()))
    return _Record(
        (
            _Field(("ir", _plain(checked.model))),
            _Field(("inferred", infos)),
            _Field(("diagnostics", diagnostics)),
        )
    )


class _Field(tuple):
    """A (name, value) pair of a fingerprint: a field of a model, or a section."""


class _Record(tuple):
    """The fields of one object, as ``_Field`` pairs."""


def _plain(value: Any) -> Any:
    """``value`` as nested tuples of fields, spans dropped."""
    if isinstance(value, Span):
        return None
    if isinstance(value, BaseModel):
        names = type(value).model_fields
    elif isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        names = value._fields
    elif hasattr(value, "__dataclass_fields__"):
        names = value.__dataclass_fields__
    elif isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    elif isinstance(value, dict):
        return _Record(_Field((repr(k), _plain(value[k]))) for k in sorted(value, key=repr))
    else:
        return value
    return _Record(_Field((k, _plain(getattr(value, k)))) for k in names if k not in _LAYOUT_FIELDS)


def first_difference(before: Any, after: Any, path: str) -> str:
    """Where two fingerprints first differ: ``model.ir.nodes[3].args[0].value: 4 became 5``."""
    while before != after:
        if isinstance(before, _Field) and isinstance(after, _Field) and before[0] == after[0]:
            path, before, after = f"{path}.{before[0]}", before[1], after[1]
            continue
        if isinstance(before, tuple) and isinstance(after, tuple) and len(before) == len(after):
            index = next(i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b)
            if not isinstance(before, _Record):
                path = f"{path}[{index}]"
            before, after = before[index], after[index]
            continue
        if isinstance(before, tuple) and isinstance(after, tuple):
            return f"{path}: {len(before)} items became {len(after)}"
        break
    return f"{path}: {excerpt(repr(before), 120)} became {excerpt(repr(after), 120)}"
