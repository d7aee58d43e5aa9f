"""The arguments of train settings (``schedule cosine warmup=2``, ``augment flip=horizontal``):
each table maps an argument to its default and the rule its value follows.

``specc check`` reports a value that breaks its rule where it is written; the harness checks
again when a flag or an edited ``config.json`` gives one.  Pure Python.
"""

from __future__ import annotations

import math

FLIPS = ("none", "horizontal", "vertical", "both")
# rule: (test, what the value must be)
RULES = {
    "positive": (lambda v: _number(v) and v > 0, "greater than 0"),
    "non_negative": (lambda v: _number(v) and v >= 0, "at least 0"),
    "fraction": (lambda v: _number(v) and 0 <= v < 1, "in [0, 1)"),
    "open_unit": (lambda v: _number(v) and 0 < v < 1, "in (0, 1)"),
    "count": (lambda v: _whole(v) and v >= 0, "a whole number, at least 0"),
    "count1": (lambda v: _whole(v) and v >= 1, "a whole number, at least 1"),
    "bool": (lambda v: v in (0, 1), "true or false"),
    "degrees": (lambda v: _number(v) and 0 <= v <= 180, "in [0, 180] degrees"),
    "shift": (lambda v: _number(v) and 0 <= v < 0.5, "a fraction of the size in [0, 0.5)"),
    "flip": (lambda v: v in FLIPS, "one of " + ", ".join(FLIPS)),
    "name": (lambda v: isinstance(v, str) and v != "", "a name"),
}
NAME_RULES = ("flip", "name")  # rules whose values are words, not numbers


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value) -> bool:
    return _number(value) and float(value).is_integer()


def problem(rule: str, value) -> str | None:
    """What is wrong with ``value`` for ``rule`` (``must be greater than 0``), or None."""
    test, what = RULES[rule]
    if isinstance(value, bool) and rule != "bool":
        value = int(value)
    return None if test(value) else f"must be {what}"


def normalised(table: dict[str, tuple], args: dict) -> dict:
    """``args`` with whole numbers as ints and switches as bools, for the rules of ``table``."""
    out = {}
    for key, value in args.items():
        rule = table[key][1] if key in table else None
        if rule in ("count", "count1") and _whole(value):
            value = int(value)
        elif rule == "bool":
            value = bool(value)
        out[key] = value
    return out


def with_defaults(table: dict[str, tuple], given: dict) -> dict:
    """``given`` completed with the table's defaults (arguments without one stay absent)."""
    full = {key: spec[0] for key, spec in table.items() if spec[0] is not None}
    full.update(normalised(table, given))
    return full


def check_all(table: dict[str, tuple], args: dict, what: str) -> list[str]:
    """Every problem of ``args`` against ``table``: unknown keys and values that break rules."""
    found = []
    for key, value in args.items():
        if key not in table:
            found.append(f"{what} takes no argument `{key}` (it takes {takes(table)})")
            continue
        wrong = problem(table[key][1], value)
        if wrong:
            found.append(f"{what}: `{key}` {wrong}, not {value!r}")
    return found


def takes(table: dict[str, tuple]) -> str:
    """The arguments of a table as a reader wants them: ``k=, warmup=``, or ``nothing``."""
    return ", ".join(f"{key}=" for key in table) or "nothing"
