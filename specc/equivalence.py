"""Does a rewritten spec mean the same model?  ``specc fmt`` asks before it writes a file.

Both texts go through the public front end (:func:`specc.compiler.check_source`); what they
give is compared without positions: the IR (every node's kind, name, arguments, inputs and
role, the model's name, output and train section, whatever fields the IR has), what the passes
inferred (shapes, counts), and the diagnostics' severities, codes and messages when the spec
has errors.  Spans are left out, and so is how an argument was spelled (``text``): the
formatter changes layout, never meaning.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, NamedTuple

from pydantic import BaseModel

from specc.compiler import CheckedModel, check_source, check_text
from specc.diagnostics import excerpt
from specc.source import SourceFile, Span

# fields that say where or how something was written, not what it means
_LAYOUT_FIELDS = frozenset({"text"})
_POSITION_WORDS = re.compile(r"\b(line|column)s? \d+")


def rewrite_difference(source: SourceFile, rewritten: str) -> str | None:
    """None when ``rewritten`` checks to the same model as ``source``; else what differs.

    The two checked models are not held at once: the first is reduced to a digest of what
    :func:`first_difference` compares, and only when the digests differ are both compared in
    full, to say where (so a rewrite costs the memory of one check, not two).
    """
    before = digest(_comparable(check_source(source)))
    after = _comparable(check_text(rewritten, source.name))
    if digest(after) == before:
        return None
    return first_difference(_comparable(check_source(source)), after)


class _Comparable(NamedTuple):
    """What a rewrite must not change."""

    ir: Any
    inferred: dict
    diagnostics: list


def _comparable(checked: CheckedModel) -> _Comparable:
    diagnostics = [
        (d.severity, d.code, _POSITION_WORDS.sub(r"\1 N", d.message)) for d in checked.diagnostics
    ]
    return _Comparable(checked.model, checked.infos, diagnostics)


def first_difference(before: Any, after: Any) -> str | None:
    """Where two objects first differ, as ``model.ir.nodes[3].args[0].value: 4 became 5``
    (None when they do not), comparing field by field without positions or spellings.

    The walk keeps its own stack (an IR holds syntax trees as deep as the spec nests, and an
    expression as deep as it is long), and an object met again in both (a block's body, shared
    by its instances) is compared once.
    """
    stack: list[tuple[Any, Any, tuple]] = [(before, after, ("model",))]
    seen: set[tuple[int, int]] = set()
    while stack:
        a, b, path = stack.pop()
        if a is b or (isinstance(a, Span) and isinstance(b, Span)):
            continue
        fields_a, fields_b = _fields(a), _fields(b)
        if fields_a is None or fields_b is None:
            same = fields_a is None and fields_b is None and type(a) is type(b)
            if same and (a == b or (a != a and b != b)):  # NaN is the same NaN
                continue
            return f"{_path(path)}: {_shown(a)} became {_shown(b)}"
        if (id(a), id(b)) in seen:
            continue
        seen.add((id(a), id(b)))
        keys_a, keys_b = [k for k, _ in fields_a], [k for k, _ in fields_b]
        if type(a) is not type(b) or keys_a != keys_b:
            if len(keys_a) != len(keys_b) and isinstance(a, (tuple, list)):
                return f"{_path(path)}: {len(keys_a)} items became {len(keys_b)}"
            return f"{_path(path)}: {_shown(a)} became {_shown(b)}"
        for (key, value_a), (_, value_b) in reversed(list(zip(fields_a, fields_b, strict=True))):
            stack.append((value_a, value_b, (path, key)))
    return None


def digest(value: Any) -> bytes:
    """A digest of what :func:`first_difference` compares: equal for values it finds equal
    (up to how shared parts are shared; a difference there only costs the full comparison)."""
    state = hashlib.blake2b(digest_size=32)
    update = state.update
    stack = [value]
    seen: dict[int, int] = {}
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            update(b"s%d:" % len(item))
            update(item.encode("utf-8", "surrogatepass"))
        elif kind is int:  # hex(): no limit on the digits, unlike str()
            update(b"i%s;" % hex(item).encode())
        elif kind is float:
            update(b"f%s;" % (b"nan" if item != item else item.hex().encode()))
        elif item is None or kind is bool:
            update(b"c%d;" % (2 if item is None else int(item)))
        elif isinstance(item, Span):
            update(b"S;")
        else:
            fields = _fields(item)
            if fields is None:
                update(repr((kind.__name__, item)).encode("utf-8", "surrogatepass") + b";")
            elif id(item) in seen:  # a part met before (a block's body): once is enough
                update(b"R%d;" % seen[id(item)])
            else:
                seen[id(item)] = len(seen)
                keys = [k for k, _ in fields] if isinstance(item, dict) else len(fields)
                update(repr((kind.__name__, keys)).encode())
                stack.extend(part for _, part in reversed(fields))
    return state.digest()


def _fields(value: Any) -> list[tuple[Any, Any]] | None:
    """The parts of a compound value as (key, part) pairs; None for a plain value."""
    if isinstance(value, BaseModel):
        names = type(value).model_fields
    elif isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        names = value._fields
    elif hasattr(value, "__dataclass_fields__"):
        names = value.__dataclass_fields__
    elif isinstance(value, (tuple, list)):
        return [(i, v) for i, v in enumerate(value)]
    elif isinstance(value, dict):
        keys = sorted(value, key=repr)
        return [(k if isinstance(k, (int, str)) else repr(k), value[k]) for k in keys]
    else:
        return None
    return [(k, getattr(value, k)) for k in names if k not in _LAYOUT_FIELDS]


def _path(path: tuple) -> str:
    parts = []
    while len(path) == 2:
        path, key = path
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    return path[0] + "".join(reversed(parts))


def _shown(value: Any) -> str:
    try:
        return excerpt(repr(value), 120)
    except ValueError:  # an integer past Python's 4,300 digits for str()
        return f"an integer of {value.bit_length():,} bits"
