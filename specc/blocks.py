"""Named blocks and their expressions: binding arguments, substituting parameters, arithmetic.

``block basic(f, stride=1) { ... }`` defines a block; ``basic(64)`` instantiates it.  The lowering
pass mixes :class:`BlockExpander` in: it records definitions, binds each call's arguments to the
block's parameters (with defaults), and resolves every argument value inside an instance,
evaluating ``(f * 4)`` and ``(stride > 1)``.  Errors inside an instance carry the call sites.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from specc.diagnostics import closest, error
from specc.layers import lookup
from specc.source import Span
from specc.syntax import Arg, BlockDef, Value

MAX_BLOCK_DEPTH = 32
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


@dataclass(frozen=True)
class Bound:
    """A block parameter's value inside one block instance."""

    value: Any
    kind: str
    text: str


@dataclass
class Scope:
    """Where lowering is: the enclosing instance's parameters and the call sites above."""

    env: dict[str, Bound] = field(default_factory=dict)
    trace: tuple[Span, ...] = ()
    active: tuple[str, ...] = ()


def sites(scope: Scope) -> tuple[tuple[Span, str], ...]:
    """Secondary labels for the block call sites that led here."""
    return tuple((site, "in this block instance") for site in scope.trace)


class BlockExpander:
    """Mixin for the lowering pass: block definitions, instances and argument values.

    Expects ``report``, ``blocks`` (name -> BlockDef), ``body`` and ``unknown_name`` on the
    class it is mixed into.
    """

    def define(self, block: BlockDef) -> None:
        if block.name in self.blocks:
            first = self.blocks[block.name]
            self.report(
                error(
                    "E0503",
                    f"block `{block.name}` is defined twice",
                    block.name_span,
                    "second definition",
                    related=((first.name_span, "first defined here"),),
                    help="rename one of them",
                )
            )
            return
        if lookup(block.name) is not None or block.name in ("model", "input", "train"):
            self.report(
                error(
                    "E0503",
                    f"block name `{block.name}` is already a layer kind",
                    block.name_span,
                    "choose another name",
                )
            )
            return
        seen: set[str] = set()
        for formal in block.formals:
            if formal.name in seen:
                self.report(
                    error(
                        "E0503",
                        f"parameter `{formal.name}` appears twice",
                        formal.span,
                        "declared again",
                        help="give each parameter of the block its own name",
                    )
                )
            seen.add(formal.name)
        self.blocks[block.name] = block

    def instantiate(self, name, args, name_span, span, current, scope) -> int | None:
        block = self.blocks.get(name)
        if block is None:
            self.unknown_name(name, name_span, is_call=True)
            return current
        if name in scope.active or len(scope.trace) >= MAX_BLOCK_DEPTH:
            self.report(
                error(
                    "E0504",
                    f"block `{name}` uses itself",
                    name_span,
                    "recursive block instance",
                    help="blocks cannot be recursive; use `repeat` to stack copies",
                )
            )
            return current
        env = self.bind(block, args, name_span, scope)
        if env is None:
            return current
        inner = Scope(env=env, trace=(span, *scope.trace), active=(*scope.active, name))
        return self.body(block.body, current, inner)

    def bind(self, block: BlockDef, args: tuple[Arg, ...], where: Span, scope: Scope):
        formals = {f.name: f for f in block.formals}
        order = [f.name for f in block.formals]
        env: dict[str, Bound] = {}
        ok = True
        positional = [a for a in args if a.key is None]
        if len(positional) > len(order):
            self.report(
                error(
                    "E0506",
                    f"`{block.name}` takes {len(order)} argument(s), got {len(positional)}",
                    positional[len(order)].span,
                    "too many arguments",
                    related=((block.name_span, "block defined here"),),
                )
            )
            ok = False
        for formal_name, arg in zip(order, positional, strict=False):
            bound = self.resolve(arg.value, scope)
            ok = ok and bound is not None
            if bound is not None:
                env[formal_name] = bound
        for arg in args:
            if arg.key is None:
                continue
            if arg.key not in formals:
                close = closest(arg.key, order)
                self.report(
                    error(
                        "E0506",
                        f"`{block.name}` has no parameter `{arg.key}`",
                        arg.key_span,
                        "unknown parameter",
                        related=((block.name_span, "block defined here"),),
                        help=f"did you mean `{close}`?"
                        if close
                        else f"parameters: {', '.join(order) or 'none'}",
                    )
                )
                ok = False
            elif arg.key in env:
                self.report(error("E0506", f"`{arg.key}` is given twice", arg.span, "given again"))
                ok = False
            else:
                bound = self.resolve(arg.value, scope)
                ok = ok and bound is not None
                if bound is not None:
                    env[arg.key] = bound
        for formal in block.formals:
            if formal.name in env:
                continue
            if formal.default is None:
                self.report(
                    error(
                        "E0506",
                        f"`{block.name}` needs a value for `{formal.name}`",
                        where,
                        f"missing `{formal.name}`",
                        related=((formal.span, "parameter declared here"),),
                    )
                )
                ok = False
            else:
                bound = self.resolve(formal.default, Scope(env=dict(env)))
                if bound is not None:
                    env[formal.name] = bound
        return env if ok else None

    def resolve(self, value: Value, scope: Scope) -> Bound | None:
        """The concrete value of an argument, substituting block parameters."""
        if value.kind == "name":
            if value.value in scope.env:
                return scope.env[value.value]
            lowered = value.value.lower()
            if lowered in _NAMED:
                return Bound(_NAMED[lowered], "name", value.text)
            return Bound(value.value, "name", value.text)
        if value.kind == "expr":
            result = self.evaluate(value, scope)
            if result is None:
                return None
            return Bound(result, "number", value.text)
        return Bound(value.value, value.kind, value.text)

    def evaluate(self, value: Value, scope: Scope) -> Any:
        if value.kind == "number":
            return value.value
        if value.kind == "name":
            bound = scope.env.get(value.value)
            if bound is None or not isinstance(bound.value, int | float):
                self.report(
                    error(
                        "E0216",
                        f"`{value.value}` is not a numeric block parameter here",
                        value.span,
                        "unknown in this expression",
                        related=sites(scope),
                        help="expressions may use numbers and the parameters of the enclosing "
                        "block",
                    )
                )
                return None
            return bound.value
        if value.kind == "expr":
            op, left, right = value.value
            a, b = self.evaluate(left, scope), self.evaluate(right, scope)
            if a is None or b is None:
                return None
            if op in ("/", "//") and b == 0:
                self.report(
                    error(
                        "E0216",
                        "division by zero",
                        value.span,
                        "divides by zero",
                        related=sites(scope),
                    )
                )
                return None
            result = _OPS[op](a, b)
            if isinstance(result, float) and result.is_integer() and op == "/":
                result = int(result)
            return result
        self.report(error("E0216", "expected a number", value.span, "not a number"))
        return None
