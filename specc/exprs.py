"""Argument values and the small expression language of blocks.

``conv (f * 4) 1x1`` and ``if (stride > 1) { ... }`` use arithmetic and comparisons on block
parameters.  This module evaluates such values in an environment of bound parameters
(:func:`resolve`), reporting mistakes through a callback, and writes them as Python source
(:func:`to_python`), which the emitters use when a block becomes a class or a function.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from specc.diagnostics import Diagnostic, error
from specc.source import Span
from specc.syntax import Value

Report = Callable[[Diagnostic], None]

# Results of block arithmetic beyond this are refused: they can only come from a runaway
# expression, and Python's big integers would otherwise grow without bound.
MAX_MAGNITUDE = 10**18

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_NAMED = {"true": True, "false": False, "none": None}
_LOGIC = ("and", "or", "not")
# Python's precedence, which the grammar's follows: or < and < not < comparisons < + - < * / //
_PRECEDENCE = {"or": -3, "and": -2, "not": -1, "==": 0, "!=": 0, ">=": 0, "<=": 0, ">": 0}
_PRECEDENCE |= {"<": 0, "+": 1, "-": 1}


class Bound(NamedTuple):
    """A value as bound in an environment: the value, its kind (as in ``syntax.Value``) and
    the text it was written as."""

    value: Any
    kind: str
    text: str


def resolve(value: Value, env: Mapping[str, Bound], report: Report, sites=()) -> Bound | None:
    """The concrete value of an argument in ``env`` (block parameters substituted), or None
    after reporting why it has none."""
    if value.kind == "name":
        if value.value in env:
            return env[value.value]
        lowered = value.value.lower()
        if lowered in _NAMED:
            return Bound(_NAMED[lowered], "name", value.text)
        return Bound(value.value, "name", value.text)
    if value.kind == "expr":
        result = evaluate(value, env, report, sites)
        return None if result is None else Bound(result, "number", value.text)
    if value.kind == "shape":
        return _shape(value, env, report, sites)
    return Bound(value.value, value.kind, value.text)


def _shape(value: Value, env: Mapping[str, Bound], report: Report, sites) -> Bound | None:
    """A size with computed axes (``1x1x(c)``) as the ``dims`` it evaluates to."""
    axes: list[int] = []
    for part in value.value:
        if part.kind == "dims":
            axes.extend(part.value)
            continue
        result = evaluate(part, env, report, sites)
        if result is None:
            return None
        if isinstance(result, float) and result.is_integer():
            result = int(result)
        if isinstance(result, bool) or not isinstance(result, int) or result < 0:
            report(
                error(
                    "E0216",
                    f"the axis `{part.text}` of `{value.text}` is {result!r}",
                    part.span,
                    "not a whole number of 0 or more",
                    related=sites_of(sites),
                    help="an axis of a size is a count: use `//` for a whole quotient",
                )
            )
            return None
        axes.append(result)
    return Bound(tuple(axes), "dims", value.text)


def evaluate(value: Value, env: Mapping[str, Bound], report: Report, sites=()) -> Any:
    """Evaluate an expression value; None (after a report) when it cannot be evaluated."""
    if value.kind == "number":
        return value.value
    if value.kind == "name":
        bound = env.get(value.value)
        if (
            bound is None
            or isinstance(bound.value, bool)
            or not isinstance(bound.value, int | float)
        ):
            report(
                error(
                    "E0216",
                    f"`{value.value}` is not a numeric block parameter here",
                    value.span,
                    "unknown in this expression",
                    related=sites_of(sites),
                    help="expressions may use numbers and the parameters of the enclosing block",
                )
            )
            return None
        return bound.value
    if value.kind != "expr":
        report(error("E0216", "expected a number", value.span, "not a number"))
        return None
    op, left, right = value.value
    if op in _LOGIC:
        return _logic(value, env, report, sites)
    a = evaluate(left, env, report, sites)
    b = evaluate(right, env, report, sites)
    if a is None or b is None:
        return None
    if op not in ("==", "!=") and (isinstance(a, bool) or isinstance(b, bool)):
        side = left if isinstance(a, bool) else right
        report(
            error(
                "E0216",
                f"`{side.text}` is true or false, not a number",
                side.span,
                f"`{op}` needs numbers",
                related=sites_of(sites),
            )
        )
        return None
    if op in ("/", "//") and b == 0:
        report(
            error(
                "E0216",
                "division by zero",
                value.span,
                "divides by zero",
                related=sites_of(sites),
            )
        )
        return None
    result = _OPS[op](a, b)
    if isinstance(result, float) and result.is_integer() and op == "/":
        result = int(result)
    if not isinstance(result, bool) and abs(result) > MAX_MAGNITUDE:
        report(
            error(
                "E0216",
                f"`{value.text}` is too large",
                value.span,
                f"more than {MAX_MAGNITUDE:.0e} in magnitude",
                related=sites_of(sites),
                help="block arithmetic computes sizes and counts; check the expression",
            )
        )
        return None
    return result


def _logic(value: Value, env: Mapping[str, Bound], report: Report, sites) -> bool | None:
    """``a and b``, ``a or b``, ``not a``: each operand true or false (a comparison, a
    true/false block parameter or ``true``/``false``); both sides are checked."""
    op, left, right = value.value
    operands = [_truth(left, env, report, sites)]
    if right is not None:
        operands.append(_truth(right, env, report, sites))
    if any(o is None for o in operands):
        return None
    if op == "not":
        return not operands[0]
    return all(operands) if op == "and" else any(operands)


def _truth(value: Value, env: Mapping[str, Bound], report: Report, sites) -> bool | None:
    if value.kind == "name" and value.value not in env:
        named = _NAMED.get(value.value.lower())
        result = named if isinstance(named, bool) else None
    elif value.kind == "name":
        result = env[value.value].value
    else:
        result = evaluate(value, env, report, sites)
        if result is None:
            return None
    if not isinstance(result, bool):
        report(
            error(
                "E0216",
                f"`{value.text}` is not true or false",
                value.span,
                "`and`, `or` and `not` take conditions",
                related=sites_of(sites),
                help="compare it (`stride > 1`), or pass a true/false block parameter",
            )
        )
        return None
    return result


def names_in(value: Value) -> set[str]:
    """The parameter names an expression, shape or name value refers to."""
    if value.kind == "name":
        return {value.value}
    if value.kind == "expr":
        _, left, right = value.value
        return names_in(left) | (names_in(right) if right is not None else set())
    if value.kind == "shape":
        return set().union(*(names_in(part) for part in value.value))
    return set()


def to_python(value: Value, names: Mapping[str, str]) -> str | None:
    """``value`` as a Python expression, each block parameter replaced by ``names[param]``.

    specc's ``/`` gives an int when the quotient is whole, so it is written ``//`` (the
    emitters check the result against every instance).  None when the value refers to a name
    that ``names`` does not map, or is not arithmetic.
    """
    if value.kind == "number":
        return value.text if not value.text.startswith("+") else value.text[1:]
    if value.kind == "name":
        if value.value in names:
            return names[value.value]
        lowered = value.value.lower()
        return {"true": "True", "false": "False"}.get(lowered)
    if value.kind == "shape":  # a tuple in the spec's order (emitters check it per instance)
        axes = []
        for part in value.value:
            text = ", ".join(map(str, part.value)) if part.kind == "dims" else _expr(part, names)
            if text is None:
                return None
            axes.append(text)
        return f"({', '.join(axes)})"
    if value.kind != "expr":
        return None
    return _expr(value, names)


def _expr(value: Value, names: Mapping[str, str]) -> str | None:
    if value.kind != "expr":
        text = to_python(value, names)
        if text is not None and value.kind == "number" and text.startswith("-"):
            return f"({text})"
        return text
    op, left, right = value.value
    level = _PRECEDENCE.get(op, 2)
    if op == "not":
        a = _expr(left, names)
        if a is None:
            return None
        bare = left.kind != "expr" or left.value[0] == "not"
        return f"not {a}" if bare else f"not ({a})"
    a, b = _expr(left, names), _expr(right, names)
    if a is None or b is None:
        return None
    if _level(left) < level:
        a = f"({a})"
    if _level(right) <= level and right.kind == "expr":
        b = f"({b})"
    return f"{a} {'//' if op == '/' else op} {b}"


def _level(value: Value) -> int:
    return _PRECEDENCE.get(value.value[0], 2) if value.kind == "expr" else 3


# Call sites shown under a diagnostic from inside nested blocks (the innermost ones).
MAX_SITES = 4


def sites_of(trace: tuple[Span, ...]) -> tuple[tuple[Span, str], ...]:
    """Secondary labels for the block call sites that led here (the innermost few)."""
    shown = tuple((site, "in this block instance") for site in trace[:MAX_SITES])
    if len(trace) > MAX_SITES:
        outer = trace[-1]
        shown += ((outer, f"... {len(trace) - MAX_SITES} more block instances, from here"),)
    return shown
