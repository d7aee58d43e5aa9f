"""Expansion: blocks, ``repeat`` and ``if`` turn the parsed AST into an expanded AST.

The result is a tree of ``X*`` nodes in which every block call is replaced by an
:class:`XScope` holding its body with the call's arguments substituted, every ``repeat`` by an
:class:`XScope` of its iterations, and every ``if`` by the body it chose (the choice is recorded
in the enclosing scope's ``decisions``).  ``residual`` and ``branch`` stay as they are
(:class:`XResidual`, :class:`XBranch`); turning them into graph nodes is the next stage's job
(:mod:`specc.lowering`).

Expansion is a set of plain functions over an explicit environment and context
(:mod:`specc.expansion`: the nodes, :class:`Env`, :class:`Expansion`, one statement's steps).
The work is bounded: every statement and iteration costs one step, so a spec that loops
without producing layers (``repeat 1000000000000 { }``) ends in a located error.
"""

from __future__ import annotations

from collections.abc import Callable

from specc import limits
from specc.diagnostics import Diagnostic, closest, did_you_mean, error
from specc.expansion import (
    TOP_LEVEL_ONLY,
    Env,
    Expansion,
    OutOfBudget,
    Program,
    XBranch,
    XLayer,
    XResidual,
    XScope,
    bind,
    define,
    explicit_name,
    layer,
    name_clause_as_arg,
    one_name,
    output_names,
    show_value,
    unknown_name,
)
from specc.exprs import resolve, sites_of
from specc.source import Span
from specc.syntax import BlockDef, Call, Statement

# how `branch` merges its paths: the merge layer kind of each mode
BRANCH_MODES = ("concat", "add", "multiply")


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
                elif one_name(node):
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
                    outputs, outputs_span = output_names(ctx, node), node.span
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
    except OutOfBudget:
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


# -- bodies and statements ----------------------------------------------------------------------


def body(ctx: Expansion, nodes: tuple, env: Env, decisions: list) -> tuple:
    """Expand the statements of a ``{ }`` body (or a block's body) in order."""
    if env.depth > limits.MAX_DEPTH:
        first = nodes[0].span if nodes else None
        ctx.report(
            error(
                limits.E_EXPANSION_TOO_DEEP,
                f"the spec nests more than {limits.MAX_DEPTH} bodies and block calls deep",
                first,
                "nested too deeply",
                related=sites_of(env.trace),
                help="flatten the structure: define blocks at the top and call them in sequence",
            )
        )
        raise OutOfBudget
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
    name = stmt.args[0].value.value if len(stmt.args) == 1 and one_name(stmt) else None
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
    if name in env.active or len(env.trace) >= limits.MAX_BLOCK_DEPTH:
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
    label = f"{name}(" + ", ".join(f"{k}={show_value(v)}" for k, v in bound_args) + ")"
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
