"""Expansion: blocks, ``repeat`` and ``if`` turn the parsed AST into an expanded AST.

The result is a tree of ``X*`` nodes in which every block call is replaced by an
:class:`XScope` holding its body with the call's arguments substituted, every ``repeat`` by an
:class:`XScope` of its iterations, and every ``if`` by the body it chose (the choice is recorded
in the enclosing scope's ``decisions``).  ``residual`` and ``branch`` stay as they are
(:class:`XResidual`, :class:`XBranch`); turning them into graph nodes is the next stage's job
(:mod:`specc.lowering`).

Expansion is a set of plain functions over an explicit environment (:class:`Env`: the bound
block parameters, the call sites above, the nesting depth) and a context (:class:`Expansion`:
the block definitions, the reporter and the work budget).  The work is bounded: every
statement expanded and every iteration costs one step, so a spec that loops without producing
layers (``repeat 1000000000000 { }``) ends in a located error instead of running for hours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from specc.diagnostics import Diagnostic, closest, did_you_mean, error
from specc.exprs import Bound, resolve, sites_of
from specc.ir import RawArg
from specc.layers import ACTIVATIONS, all_names, canonical, lookup
from specc.source import Span
from specc.syntax import Arg, BlockDef, Call, Clause, Statement, Value

# How deep block calls may nest (a guard against mutual recursion, reported as recursion).
MAX_BLOCK_DEPTH = 32
# How deep bodies may nest, counting { } bodies and block calls together.
MAX_DEPTH = 96
# Expansion steps (statements expanded, iterations, calls) before giving up.
MAX_STEPS = 1_000_000
# Layers in a model.
MAX_NODES = 200_000
STRUCTURAL = ("repeat", "residual", "branch", "if", "sequential")
# how `branch` merges its paths: the merge layer kind of each mode
BRANCH_MODES = ("concat", "add", "multiply")
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


class _OutOfBudget(Exception):
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
        """Count one step of work; past :data:`MAX_STEPS`, report it and stop expanding."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            self.report(
                error(
                    "E0509",
                    f"the spec expands to more than {MAX_STEPS:,} steps",
                    span,
                    "expanding this went past the limit",
                    help="check the `repeat` counts and the blocks this line uses; every "
                    "repeated statement and iteration counts, even ones that add no layers",
                )
            )
            raise _OutOfBudget

    def count_layer(self, stmt: Statement, env: Env) -> None:
        """Count one layer; past :data:`MAX_NODES`, report it at the top-level statement that
        led here and stop expanding."""
        self.layers += 1
        if self.layers > MAX_NODES:
            self.report(
                error(
                    "E0505",
                    f"model has more than {MAX_NODES:,} layers",
                    env.trace[-1] if env.trace else stmt.span,
                    "this expands to too many layers",
                    help="check the `repeat` counts and the blocks this line uses",
                )
            )
            raise _OutOfBudget


def expand_program(program: tuple, report: Callable[[Diagnostic], None]) -> Program | None:
    """Expand a parsed spec; None when expansion stopped early (the reason is reported)."""
    ctx = Expansion(report)
    for node in program:
        if isinstance(node, BlockDef):
            define(ctx, node)
    model_name: str | None = None
    model_span: Span | None = None
    train: Statement | None = None
    outputs: tuple[tuple[str, Span], ...] = ()
    outputs_span: Span | None = None
    items: list = []
    decisions: list = []
    definition = tuple(n for n in program if not isinstance(n, BlockDef))
    try:
        for node in definition:
            if isinstance(node, Statement) and node.name == "model":
                if model_span is not None:
                    report(
                        error(
                            "E0208",
                            "the model is named twice",
                            node.span,
                            "second `model` line",
                            related=((model_span, "first named here"),),
                        )
                    )
                elif _one_name(node):
                    model_name, model_span = node.args[0].value.value, node.span
                else:
                    report(
                        error(
                            "E0209",
                            "`model` takes one name",
                            node.span,
                            "expected `model NAME`",
                            help="e.g. `model cifar10_cnn`",
                        )
                    )
            elif isinstance(node, Statement) and node.name == "train":
                if train is not None:
                    report(
                        error(
                            "E0401",
                            "the train section appears twice",
                            node.name_span,
                            "second train section",
                            related=((train.name_span, "first train section"),),
                            help="merge the two into one `train { ... }`",
                        )
                    )
                else:
                    train = node
            elif isinstance(node, Statement) and node.name == "output":
                if outputs_span is not None:
                    report(
                        error(
                            "E0219",
                            "the outputs are named twice",
                            node.name_span,
                            "second `output` line",
                            related=((outputs_span, "first named here"),),
                            help="name every output on one line: `output head_a head_b`",
                        )
                    )
                else:
                    outputs, outputs_span = _output_names(ctx, node), node.span
            elif isinstance(node, Statement) and node.name == "input":
                named = any(a.key == "name" for a in node.args)
                if items and not named:
                    first = items[0].stmt if isinstance(items[0], XLayer) else None
                    is_input = first is not None and items[0].kind == "input"
                    report(
                        error(
                            "E0210",
                            "a second `input` needs a name",
                            node.name_span,
                            "another input here",
                            related=((first.span, "the model's first input"),) if is_input else (),
                            help="name it, e.g. `input 10 name=meta`, and use it with "
                            "`from=meta` or in a merge: `concat meta`",
                        )
                    )
                else:
                    items.append(layer(ctx, node, Env(), kind="input"))
            else:
                items.extend(statement(ctx, node, Env(), decisions))
    except _OutOfBudget:
        return None
    return Program(
        model_name,
        model_span,
        tuple(items),
        tuple(decisions),
        train,
        ctx.blocks,
        definition,
        outputs,
        outputs_span,
    )


def _output_names(ctx: Expansion, stmt: Statement) -> tuple[tuple[str, Span], ...]:
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


def _one_name(stmt: Statement) -> bool:
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


# -- bodies and statements ----------------------------------------------------------------------


def body(ctx: Expansion, nodes: tuple, env: Env, decisions: list) -> tuple:
    """Expand the statements of a ``{ }`` body (or a block's body) in order."""
    if env.depth > MAX_DEPTH:
        first = nodes[0].span if nodes else None
        ctx.report(
            error(
                "E0507",
                f"the spec nests more than {MAX_DEPTH} bodies and block calls deep",
                first,
                "nested too deeply",
                related=sites_of(env.trace),
                help="flatten the structure: define blocks at the top and call them in sequence",
            )
        )
        raise _OutOfBudget
    items: list = []
    for node in nodes:
        if isinstance(node, BlockDef):
            ctx.report(
                error(
                    "E0503",
                    "blocks can only be defined at the top level",
                    node.name_span,
                    "nested block definition",
                    help="move this block definition out to the top of the spec",
                )
            )
            continue
        if isinstance(node, Statement) and node.name in TOP_LEVEL_ONLY:
            ctx.report(
                error(
                    "E0211",
                    f"`{node.name}` is only allowed at the top level",
                    node.name_span,
                    "not inside a block",
                )
            )
            continue
        items.extend(statement(ctx, node, env, decisions))
    return tuple(items)


def statement(ctx: Expansion, node: Statement | Call, env: Env, decisions: list) -> tuple:
    """Expand one statement into zero or more expanded nodes."""
    ctx.spend(node.span)
    if isinstance(node, Call):
        scope = instantiate(ctx, node.name, node.args, node.name_span, node, env)
        return () if scope is None else (scope,)
    # X nodes keep the statement as written (`origin`): later stages key names by its identity
    origin = node
    if node.name in ("repeat", "if", "branch", "sequential"):
        node = name_clause_as_arg(node)
    if node.name == "repeat":
        return repeat(ctx, node, env, origin)
    if node.name == "residual":
        return residual(ctx, node, env, decisions)
    if node.name == "branch":
        return branch(ctx, node, env, decisions, origin)
    if node.name == "if":
        return conditional(ctx, node, env, decisions)
    if node.name == "sequential":
        return sequential(ctx, node, env, origin)
    if node.clauses:
        ctx.report(
            error(
                "E0212",
                f"`{node.name}` does not take a {{ }} body",
                node.clauses[0].span,
                "unexpected body",
                help="bodies belong to `repeat`, `residual`, `branch`, `if`, `sequential`, "
                "`block` and `train`",
            )
        )
    if node.name in ctx.blocks:
        scope = instantiate(ctx, node.name, node.args, node.name_span, node, env)
        return () if scope is None else (scope,)
    found = layer(ctx, node, env)
    return () if found is None else (found,)


def repeat(ctx: Expansion, stmt: Statement, env: Env, origin: Statement) -> tuple:
    """``repeat N [name=NAME] { body }``: a scope holding N iterations of the body."""
    name, args = explicit_name(ctx, stmt.args, env)
    count = None
    if len(args) == 1 and args[0].key is None:
        bound = resolve(args[0].value, env.params, ctx.report, env.trace)
        count = bound.value if bound else None
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        ctx.report(
            error(
                "E0213",
                "`repeat` needs a count",
                args[0].span if args else stmt.name_span,
                "expected a whole number (0 or more)",
                help="e.g. `repeat 3 { conv 64 3x3 padding=same relu }`",
            )
        )
        count = 0
    if len(stmt.clauses) != 1 or stmt.clauses[0].name is not None:
        ctx.report(
            error("E0213", "`repeat` needs one { } body", stmt.span, "expected `repeat N { ... }`")
        )
        return ()
    definition = stmt.clauses[0].body
    key = ("repeat", origin.span)
    iteration_key = ("iteration", origin.span)
    collapse = len(definition) == 1 and _single_item(ctx, definition[0])
    inner = env.inner()
    iterations = []
    for i in range(count):
        ctx.spend(stmt.span)
        decisions: list = []
        items = body(ctx, definition, inner, decisions)
        iterations.append(
            XScope(
                "iteration",
                None,
                f"iteration {i}",
                iteration_key,
                origin,
                (),
                items,
                tuple(decisions),
                definition,
                env.trace,
                collapse,
            )
        )
    label = f"repeat {count}"
    return (
        XScope(
            "repeat", name, label, key, origin, (), tuple(iterations), (), definition, env.trace
        ),
    )


def _single_item(ctx: Expansion, node) -> bool:
    """A statement that expands to exactly one nameable item: a layer, a block call, a
    ``repeat`` or a ``sequential`` group (not ``residual``, ``branch`` or ``if``)."""
    if isinstance(node, Call):
        return True
    return isinstance(node, Statement) and node.name not in ("residual", "branch", "if")


def sequential(ctx: Expansion, stmt: Statement, env: Env, origin: Statement) -> tuple:
    """``sequential NAME { ... }``: a named group whose items are numbered 0, 1, 2, ..."""
    name = stmt.args[0].value.value if len(stmt.args) == 1 and _one_name(stmt) else None
    if name is None or len(stmt.clauses) != 1 or stmt.clauses[0].name is not None:
        ctx.report(
            error(
                "E0508",
                "`sequential` needs a name and one { } body",
                stmt.span,
                "expected `sequential NAME { ... }`",
                help="e.g. `sequential layer1 { basic(64); basic(64) }`",
            )
        )
        return ()
    definition = stmt.clauses[0].body
    for node in definition:
        if isinstance(node, Statement) and node.name in ("residual", "branch"):
            ctx.report(
                error(
                    "E0508",
                    f"`{node.name}` cannot stand directly in a `sequential` group",
                    node.name_span,
                    "not a single layer",
                    help="a sequential group holds layers, block calls, `repeat` and other "
                    f"groups, applied in order; put the `{node.name}` in a block and call it",
                )
            )
            return ()
    decisions: list = []
    items = body(ctx, definition, env.inner(), decisions)
    key = ("sequential", origin.span)
    return (
        XScope(
            "sequential",
            name,
            f"sequential {name}",
            key,
            origin,
            (),
            items,
            tuple(decisions),
            definition,
            env.trace,
        ),
    )


def residual(ctx: Expansion, stmt: Statement, env: Env, decisions: list) -> tuple:
    """``residual { body } [shortcut { ... }]``."""
    main = [c for c in stmt.clauses if c.name is None]
    shortcut = [c for c in stmt.clauses if c.name == "shortcut"]
    for clause in stmt.clauses:
        if clause.name not in (None, "shortcut"):
            ctx.report(
                error(
                    "E0214",
                    f"unknown clause `{clause.name}` after residual",
                    clause.name_span,
                    "expected `shortcut`",
                )
            )
    if stmt.args or len(main) != 1 or len(shortcut) > 1:
        ctx.report(
            error(
                "E0214",
                "`residual` needs one body and at most one `shortcut`",
                stmt.span,
                "expected `residual { ... } shortcut { ... }`",
            )
        )
        return ()
    inner = env.inner()
    main_items = body(ctx, main[0].body, inner, decisions)
    short_items = body(ctx, shortcut[0].body, inner, decisions) if shortcut else None
    if short_items is not None and not short_items:
        short_items = None  # a shortcut that adds no layer (`if` false) is the identity
    return (XResidual(stmt, main_items, short_items, env.trace),)


def branch(ctx: Expansion, stmt: Statement, env: Env, decisions: list, origin: Statement) -> tuple:
    """``branch concat|add|multiply { ... } { ... } ...``."""
    mode = stmt.args[0].value.value if len(stmt.args) == 1 else None
    if mode not in BRANCH_MODES:
        where = stmt.args[0].span if stmt.args else stmt.name_span
        written = str(mode) if stmt.args else ""
        ctx.report(
            error(
                "E0215",
                "`branch` needs a merge mode: concat, add or multiply",
                where,
                "expected `concat`, `add` or `multiply`",
                fixes=did_you_mean(where, written, closest(written, BRANCH_MODES))
                if written
                else None,
                help="e.g. `branch concat { conv 32 1x1 } { conv 32 3x3 padding=same }`",
            )
        )
        return ()
    if len(stmt.clauses) < 2:
        ctx.report(
            error(
                "E0215",
                "`branch` needs at least two { } paths",
                stmt.span,
                "one path is just a stack; write its layers directly",
            )
        )
        return ()
    inner = env.inner()
    paths = tuple(body(ctx, c.body, inner, decisions) for c in stmt.clauses)
    return (XBranch(origin, mode, paths, env.trace),)


def conditional(ctx: Expansion, stmt: Statement, env: Env, decisions: list) -> tuple:
    """``if (cond) { ... } [else { ... }]``: expand one body or the other (or none)."""
    then = [c for c in stmt.clauses if c.name is None]
    other = [c for c in stmt.clauses if c.name == "else"]
    for clause in stmt.clauses:
        if clause.name not in (None, "else"):
            ctx.report(
                error(
                    "E0218",
                    f"unknown clause `{clause.name}` after if",
                    clause.name_span,
                    "expected `else`",
                )
            )
            return ()
    shape_ok = stmt.clauses and stmt.clauses[0].name is None and len(then) == 1
    if len(stmt.args) != 1 or stmt.args[0].key or not shape_ok or len(other) > 1:
        ctx.report(
            error(
                "E0218",
                "`if` needs one condition and a { } body, optionally followed by `else { }`",
                stmt.span,
                "expected `if (COND) { ... } else { ... }`",
                help="e.g. `if (stride > 1) { conv f 1x1 stride=stride }`",
            )
        )
        return ()
    bound = resolve(stmt.args[0].value, env.params, ctx.report, env.trace)
    if bound is None:
        return ()
    if not isinstance(bound.value, bool):
        ctx.report(
            error(
                "E0218",
                f"the condition `{stmt.args[0].value.text}` is not true or false",
                stmt.args[0].span,
                f"this is {bound.value!r}",
                help="compare block parameters, e.g. `if (stride > 1) { ... }`, or pass true/false",
            )
        )
        return ()
    decisions.append((stmt.span, bound.value))
    if bound.value:
        return body(ctx, then[0].body, env.inner(), decisions)
    return body(ctx, other[0].body, env.inner(), decisions) if other else ()


# -- block instances ----------------------------------------------------------------------------


def instantiate(ctx: Expansion, name: str, args, name_span: Span, node, env: Env) -> XScope | None:
    """A block call: bind its arguments and expand the block's body in the new environment."""
    block = ctx.blocks.get(name)
    if block is None:
        unknown_name(ctx, name, name_span, is_call=True)
        return None
    if name in env.active or len(env.trace) >= MAX_BLOCK_DEPTH:
        ctx.report(
            error(
                "E0504",
                f"block `{name}` uses itself",
                name_span,
                "recursive block instance",
                help="blocks cannot be recursive; use `repeat` to stack copies",
            )
        )
        return None
    instance_name, args = explicit_name(ctx, args, env)
    params = bind(ctx, block, args, name_span, env)
    if params is None:
        return None
    inner = Env(params, (node.span, *env.trace), (*env.active, name), env.depth + 1)
    decisions: list = []
    items = body(ctx, block.body, inner, decisions)
    bound_args = tuple((formal.name, params[formal.name].value) for formal in block.formals)
    label = f"{name}(" + ", ".join(f"{k}={_show(v)}" for k, v in bound_args) + ")"
    return XScope(
        "block",
        instance_name,
        label,
        ("block", name),
        node,
        bound_args,
        items,
        tuple(decisions),
        block.body,
        env.trace,
        formals=block.formals,
    )


def _show(value: Any) -> str:
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
