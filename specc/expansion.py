"""The expanded tree and what expansion works with.

:mod:`specc.expand` turns the parsed AST into a tree of ``X*`` nodes: :class:`XLayer`,
:class:`XResidual`, :class:`XBranch` and :class:`XScope` (a block instance, a ``repeat``, one
iteration, a ``sequential`` group).  This module holds those nodes, the environment of bound
block parameters (:class:`Env`), the context of one expansion (:class:`Expansion`: the block
definitions, the reporter and the work budget), and the steps that concern one statement: a
block call's arguments bound to its parameters (:func:`bind`), a layer's arguments resolved
(:func:`layer`), the names a statement gives and reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from specc import limits
from specc.diagnostics import Diagnostic, closest, did_you_mean, error
from specc.exprs import Bound, resolve
from specc.ir import RawArg
from specc.layers import ACTIVATIONS, all_names, canonical, lookup
from specc.source import Span
from specc.syntax import Arg, BlockDef, Clause, Statement, Value

# statements with { } bodies that structure a model, and those only its top level may hold
STRUCTURAL = ("repeat", "residual", "branch", "if", "sequential")
TOP_LEVEL_ONLY = ("model", "input", "train", "output")


class Reporter:
    """Collects diagnostics, each once: a mistake in a block body would otherwise be reported
    once per instance."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        self._seen: set[Diagnostic] = set(diagnostics)

    def __call__(self, diag: Diagnostic) -> None:
        if diag not in self._seen:
            self._seen.add(diag)
            self.diagnostics.append(diag)


@dataclass(frozen=True)
class Env:
    """The explicit environment of expansion: where we are and what is bound there."""

    params: dict[str, Bound] = field(default_factory=dict)
    trace: tuple[Span, ...] = ()  # block call sites, innermost first
    active: tuple[str, ...] = ()  # blocks being expanded
    depth: int = 0

    def inner(self) -> Env:
        """The environment of a nested body."""
        return Env(self.params, self.trace, self.active, self.depth + 1)


class XLayer(NamedTuple):
    """A layer statement with its arguments bound.

    ``source`` is the layer named by ``from=`` (its input instead of the previous layer's
    output), ``refs`` the layers a merge names (``concat enc1``: more inputs), each with the
    span to report at.
    """

    kind: str
    args: tuple[RawArg, ...]
    name: str | None  # explicit `name=`
    name_span: Span | None
    stmt: Statement
    trace: tuple[Span, ...]
    source: tuple[str, Span] | None = None
    refs: tuple[tuple[str, Span], ...] = ()


class XResidual(NamedTuple):
    """``residual { body } shortcut { ... }``; ``shortcut`` None is the identity."""

    stmt: Statement
    body: tuple
    shortcut: tuple | None
    trace: tuple[Span, ...]


class XBranch(NamedTuple):
    """``branch concat|add { ... } { ... }``."""

    stmt: Statement
    mode: str
    paths: tuple[tuple, ...]
    trace: tuple[Span, ...]


class XScope(NamedTuple):
    """A block instance, a ``repeat`` (its body: one iteration scope each), one iteration, or
    a ``sequential`` group.

    ``key`` is shared by every instance of the same definition (``("block", name)``,
    ``("repeat", span)``, ``("sequential", span)``); ``definition`` is that definition's AST
    body, which the emitters turn into one class or function.
    """

    kind: str
    name: str | None
    label: str
    key: tuple
    stmt: Any  # the Call or Statement that made it
    env: tuple[tuple[str, Any], ...]
    body: tuple
    decisions: tuple[tuple[Span, bool], ...]
    definition: tuple
    trace: tuple[Span, ...]
    collapse: bool = False  # an iteration whose only statement is its single item
    formals: tuple = ()  # a block's parameters (syntax.Formal), defaults included


XNode = XLayer | XResidual | XBranch | XScope


class Program(NamedTuple):
    """The expanded spec: its declarations and the expanded model body."""

    model_name: str | None
    model_span: Span | None
    body: tuple
    decisions: tuple[tuple[Span, bool], ...]
    train: Statement | None
    blocks: dict[str, BlockDef]
    definition: tuple
    outputs: tuple[tuple[str, Span], ...] = ()  # `output a b`: the layers the model returns
    outputs_span: Span | None = None


class OutOfBudget(Exception):
    """Raised once the expansion budget is spent; the error is already reported."""


@dataclass
class Expansion:
    """What expansion needs besides the environment: definitions, reporter, budget."""

    report: Callable[[Diagnostic], None]
    blocks: dict[str, BlockDef] = field(default_factory=dict)
    steps: int = 0
    layers: int = 0
    unknown: set = field(default_factory=set)  # (name, span) already reported as unknown

    def spend(self, span: Span) -> None:
        """Count one step of work; past :data:`specc.limits.MAX_STEPS`, report it and stop
        expanding."""
        self.steps += 1
        if self.steps > limits.MAX_STEPS:
            self.report(
                error(
                    limits.E_TOO_MANY_STEPS,
                    f"the spec expands to more than {limits.MAX_STEPS:,} steps",
                    span,
                    "expanding this went past the limit",
                    help="check the `repeat` counts and the blocks this line uses; every "
                    "repeated statement and iteration counts, even ones that add no layers",
                )
            )
            raise OutOfBudget

    def count_layer(self, stmt: Statement, env: Env) -> None:
        """Count one layer; past :data:`specc.limits.MAX_NODES`, report it at the top-level
        statement that led here and stop expanding."""
        self.layers += 1
        if self.layers > limits.MAX_NODES:
            self.report(
                error(
                    limits.E_TOO_MANY_LAYERS,
                    f"model has more than {limits.MAX_NODES:,} layers",
                    env.trace[-1] if env.trace else stmt.span,
                    "this expands to too many layers",
                    help="check the `repeat` counts and the blocks this line uses",
                )
            )
            raise OutOfBudget


def output_names(ctx: Expansion, stmt: Statement) -> tuple[tuple[str, Span], ...]:
    """``output a b``: the names of the model's outputs."""
    names = []
    for arg in stmt.args:
        if arg.key is not None or arg.value.kind != "name":
            ctx.report(
                error(
                    "E0219",
                    "`output` takes the names of layers",
                    arg.span,
                    "not a layer name",
                    help="e.g. `output head_a head_b`, after `dense 10 name=head_a` ...",
                )
            )
            continue
        names.append((arg.value.value, arg.value.span))
    if not stmt.args:
        ctx.report(error("E0219", "`output` takes the names of layers", stmt.span, "no names here"))
    return tuple(names)


def one_name(stmt: Statement) -> bool:
    """Whether a statement's one argument is a bare name (``sequential stem { }``)."""
    return len(stmt.args) == 1 and stmt.args[0].key is None and stmt.args[0].value.kind == "name"


def define(ctx: Expansion, block: BlockDef) -> None:
    """Record a block definition, reporting duplicates and bad names."""
    if block.name in ctx.blocks:
        first = ctx.blocks[block.name]
        ctx.report(
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
    if lookup(block.name) is not None or block.name in (*TOP_LEVEL_ONLY, *STRUCTURAL):
        ctx.report(
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
        if formal.name == "name":
            ctx.report(
                error(
                    "E0503",
                    "`name` cannot be a block parameter",
                    formal.span,
                    "reserved",
                    help="`name=` names a block instance: `basic(64, name=stage1)`; call the "
                    "parameter something else",
                )
            )
        elif formal.name in seen:
            ctx.report(
                error(
                    "E0503",
                    f"parameter `{formal.name}` appears twice",
                    formal.span,
                    "declared again",
                    help="give each parameter of the block its own name",
                )
            )
        seen.add(formal.name)
    ctx.blocks[block.name] = block


def show_value(value: Any) -> str:
    """A bound value as a spec would write it (a size as ``3x3``)."""
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def bind(ctx: Expansion, block: BlockDef, args, where: Span, env: Env) -> dict | None:
    """Bind a call's arguments to the block's parameters (defaults filled in)."""
    formals = {f.name: f for f in block.formals}
    order = [f.name for f in block.formals]
    params: dict[str, Bound] = {}
    ok = True
    positional = [a for a in args if a.key is None]
    if len(positional) > len(order):
        ctx.report(
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
        bound = resolve(arg.value, env.params, ctx.report, env.trace)
        ok = ok and bound is not None
        if bound is not None:
            params[formal_name] = bound
    for arg in args:
        if arg.key is None:
            continue
        if arg.key not in formals:
            close = closest(arg.key, order)
            ctx.report(
                error(
                    "E0506",
                    f"`{block.name}` has no parameter `{arg.key}`",
                    arg.key_span,
                    "unknown parameter",
                    fixes=did_you_mean(arg.key_span, arg.key, close),
                    related=((block.name_span, "block defined here"),),
                    help=f"did you mean `{close}`?"
                    if close
                    else f"parameters: {', '.join(order) or 'none'}",
                )
            )
            ok = False
        elif arg.key in params:
            ctx.report(error("E0506", f"`{arg.key}` is given twice", arg.span, "given again"))
            ok = False
        else:
            bound = resolve(arg.value, env.params, ctx.report, env.trace)
            ok = ok and bound is not None
            if bound is not None:
                params[arg.key] = bound
    for formal in block.formals:
        if formal.name in params:
            continue
        if formal.default is None:
            ctx.report(
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
            bound = resolve(formal.default, dict(params), ctx.report)
            if bound is not None:
                params[formal.name] = bound
    return params if ok else None


# -- layers ---------------------------------------------------------------------------------------


def layer(ctx: Expansion, stmt: Statement, env: Env, kind: str = "") -> XLayer | None:
    """A layer statement: its kind (an activation name alone is an activation layer) and its
    arguments with block parameters substituted."""
    args = stmt.args
    name = stmt.name
    if not kind:
        if lookup(name) is not None:
            kind = canonical(name)
        elif name in ACTIVATIONS:
            kind = "activation"
            fn = Value("name", name, name, stmt.name_span)
            args = (Arg(None, fn, stmt.name_span), *args)
        else:
            unknown_name(ctx, name, stmt.name_span, is_call=False)
            return None
    ctx.count_layer(stmt, env)
    explicit, args = explicit_name(ctx, args, env)
    name_span = next((a.span for a in stmt.args if a.key == "name"), None)
    source, refs, args = references(ctx, kind, args, env)
    raw: list[RawArg] = []
    for arg in args:
        bound = resolve(arg.value, env.params, ctx.report, env.trace)
        if bound is None:
            # already reported; the validate pass skips this node instead of adding
            # "missing argument" on top
            bound = Bound(None, "error", arg.value.text)
        raw.append(RawArg(arg.key, bound.value, bound.text, arg.span, bound.kind, arg.value))
    return XLayer(kind, tuple(raw), explicit, name_span, stmt, env.trace, source, refs)


def references(ctx: Expansion, kind: str, args: tuple, env: Env):
    """Split off the layers a statement reads by name: ``from=NAME`` (its input), and for a
    merge (``concat enc1``, ``add a b``) the names of its other inputs.  Returns (source,
    refs, the other arguments)."""
    source = None
    refs = []
    rest = []
    merge = getattr(lookup(kind), "merge", False)
    for arg in args:
        if arg.key == "from":
            if arg.value.kind != "name":
                ctx.report(
                    error("E0219", "`from=` takes a layer name", arg.span, "not a layer name")
                )
                continue
            source = (arg.value.value, arg.value.span)
        elif merge and arg.key is None and arg.value.kind == "name":
            refs.append((arg.value.value, arg.value.span))
        else:
            rest.append(arg)
    return source, tuple(refs), tuple(rest)


def explicit_name(ctx: Expansion, args: tuple[Arg, ...], env: Env) -> tuple[str | None, tuple]:
    """Split off a ``name=`` argument: (the name, or None; the other arguments)."""
    rest = tuple(a for a in args if a.key != "name")
    given = [a for a in args if a.key == "name"]
    if not given:
        return None, rest
    arg = given[-1]
    bound = resolve(arg.value, env.params, ctx.report, env.trace)
    text = bound.value if bound else None
    if not isinstance(text, str) or not text.isidentifier():
        ctx.report(
            error("E0217", "a layer name must be an identifier", arg.span, "not a valid name")
        )
        return None, rest
    return text, rest


def unknown_name(ctx: Expansion, name: str, span: Span, *, is_call: bool) -> None:
    """Report an unknown layer kind or block, with the closest known name (once per place: a
    `repeat` would otherwise look for the closest name in every iteration)."""
    if (name, span) in ctx.unknown:
        return
    ctx.unknown.add((name, span))
    candidates = all_names() + list(ctx.blocks)
    close = closest(name, candidates)
    what = "block" if is_call else "layer kind"
    ctx.report(
        error(
            "E0200",
            f"unknown {what} `{name}`",
            span,
            f"not a known {what}",
            fixes=did_you_mean(span, name, close),
            help=f"did you mean `{close}`?"
            if close
            else "run `specc layers` to list every layer kind",
        )
    )


def name_clause_as_arg(stmt: Statement) -> Statement:
    """Read ``repeat n { }``, ``if flag { }``, ``branch concat { }``, ``sequential s { }`` as
    an argument plus a body.

    The generic grammar takes a name right before ``{`` as a clause name (``shortcut { }``);
    for these statements that name is the count, condition, merge mode or group name.
    """
    if stmt.args or not stmt.clauses or stmt.clauses[0].name is None:
        return stmt
    first = stmt.clauses[0]
    value = Value("name", first.name, first.name, first.name_span)
    rest = Clause(None, first.body, first.span)
    return stmt._replace(
        args=(Arg(None, value, first.name_span),), clauses=(rest, *stmt.clauses[1:])
    )
