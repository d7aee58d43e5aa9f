"""Lower the AST to the IR graph: expand blocks, ``repeat``, ``residual`` and ``branch``.

The result is a flat, topologically ordered tuple of :class:`~specc.ir.Node`.  A plain stack
lowers to a chain; ``residual`` and ``branch`` lower to ``add``/``concat`` merge nodes.  Block
parameters are substituted here (``conv f 3x3`` inside ``block basic(f)``), so every node's
arguments are concrete values, and every node remembers the call sites that produced it.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from specc import data_catalog
from specc.diagnostics import Diagnostic, error
from specc.ir import LOSSES, OPTIMIZER_OPTIONS, Model, Node, RawArg, TrainConfig
from specc.layers import ACTIVATIONS, all_names, canonical, lookup
from specc.passes import friendly_message as _friendly
from specc.source import SourceFile, Span
from specc.syntax import Arg, BlockDef, Call, Clause, Statement, Value

MAX_BLOCK_DEPTH = 32
MAX_NODES = 200_000
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
_TRAIN_KEYS = {
    "data": "data",
    "loss": "loss",
    "optimizer": "optimizer",
    "batch": "batch_size",
    "batch_size": "batch_size",
    "epochs": "epochs",
    "metrics": "metrics",
    "seed": "seed",
    "validation_split": "validation_split",
}
_NAMED = {"true": True, "false": False, "none": None}


@dataclass(frozen=True)
class Bound:
    """A block parameter's value inside one block instance."""

    value: Any
    kind: str
    text: str


@dataclass
class _Scope:
    env: dict[str, Bound] = field(default_factory=dict)
    trace: tuple[Span, ...] = ()
    active: tuple[str, ...] = ()


class _Lowerer:
    def __init__(self, source: SourceFile, diagnostics: list[Diagnostic]):
        self.source = source
        self.diagnostics = diagnostics
        self.nodes: list[Node] = []
        self.blocks: dict[str, BlockDef] = {}
        self.counters: dict[str, int] = {}
        self.names: dict[str, Span] = {}
        self.model_name: str | None = None
        self.model_span: Span | None = None
        self.train = TrainConfig()
        self.reported_no_input = False

    def report(self, diag: Diagnostic) -> None:
        # a mistake inside a block body would otherwise be reported once per instance
        if diag not in self.diagnostics:
            self.diagnostics.append(diag)

    # -- top level --------------------------------------------------------------------------

    def program(self, nodes: tuple) -> Model | None:
        for node in nodes:
            if isinstance(node, BlockDef):
                self.define(node)
        current: int | None = None
        scope = _Scope()
        for node in nodes:
            if isinstance(node, BlockDef):
                continue
            if isinstance(node, Statement) and node.name == "model":
                self.model_decl(node)
            elif isinstance(node, Statement) and node.name == "train":
                self.train_section(node)
            elif isinstance(node, Statement) and node.name == "input":
                current = self.input_decl(node, current)
            else:
                current = self.item(node, current, scope)
            if len(self.nodes) > MAX_NODES:
                self.report(
                    error(
                        "E0505",
                        f"model has more than {MAX_NODES:,} layers",
                        node.span,
                        "this expands to too many layers",
                        help="check the `repeat` counts and the blocks this line uses",
                    )
                )
                return None
        if not self.nodes:
            if self.reported_no_input:  # E0201 already says so
                return None
            last = max(len(self.source.lines), 1)
            self.report(
                error(
                    "E0202",
                    "the spec declares no input",
                    self.source.span(1, 1, last, len(self.source.line(last)) + 1),
                    "a model starts with its input",
                    help="add a line like `input 32x32x3` (image), `input 100x16` (sequence) "
                    "or `input 64` (vector) before the first layer",
                )
            )
            return None
        name = self.model_name or _default_name(self.source.name)
        return Model(
            name=name,
            file=self.source.name,
            nodes=tuple(self.nodes),
            output=current if current is not None else len(self.nodes) - 1,
            train=self.train,
            span=self.model_span,
        )

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

    def model_decl(self, stmt: Statement) -> None:
        if self.model_span is not None:
            self.report(
                error(
                    "E0208",
                    "the model is named twice",
                    stmt.span,
                    "second `model` line",
                    related=((self.model_span, "first named here"),),
                )
            )
            return
        if len(stmt.args) != 1 or stmt.args[0].key or stmt.args[0].value.kind != "name":
            self.report(
                error(
                    "E0209",
                    "`model` takes one name",
                    stmt.span,
                    "expected `model NAME`",
                    help="e.g. `model cifar10_cnn`",
                )
            )
            return
        self.model_name = stmt.args[0].value.value
        self.model_span = stmt.span

    def input_decl(self, stmt: Statement, current: int | None) -> int | None:
        if current is not None or self.nodes:
            self.report(
                error(
                    "E0210",
                    "`input` must come once, before every layer",
                    stmt.name_span,
                    "a second input here",
                    related=((self.nodes[0].span, "the model's input"),) if self.nodes else (),
                    help="a model has one input; branches start from a layer with `branch`",
                )
            )
            return current
        return self.layer(stmt, None, _Scope(), kind="input")

    # -- statements inside the model ------------------------------------------------------------

    def body(self, body: tuple, current: int | None, scope: _Scope) -> int | None:
        for node in body:
            if isinstance(node, BlockDef):
                self.report(
                    error(
                        "E0503",
                        "blocks can only be defined at the top level",
                        node.name_span,
                        "nested block definition",
                        help="move this block definition out to the top of the spec",
                    )
                )
                continue
            if isinstance(node, Statement) and node.name in ("model", "input", "train"):
                self.report(
                    error(
                        "E0211",
                        f"`{node.name}` is only allowed at the top level",
                        node.name_span,
                        "not inside a block",
                    )
                )
                continue
            if len(self.nodes) > MAX_NODES:  # `repeat` counts and nested blocks multiply
                return current
            current = self.item(node, current, scope)
        return current

    def item(self, node: Statement | Call, current: int | None, scope: _Scope) -> int | None:
        if isinstance(node, Call):
            return self.instantiate(node.name, node.args, node.name_span, node.span, current, scope)
        if node.name in ("repeat", "if", "branch"):
            node = _name_clause_as_arg(node)
        if node.name == "repeat":
            return self.repeat(node, current, scope)
        if node.name == "residual":
            return self.residual(node, current, scope)
        if node.name == "branch":
            return self.branch(node, current, scope)
        if node.name == "if":
            return self.conditional(node, current, scope)
        if node.clauses:
            self.report(
                error(
                    "E0212",
                    f"`{node.name}` does not take a {{ }} body",
                    node.clauses[0].span,
                    "unexpected body",
                    help="bodies belong to `repeat`, `residual`, `branch`, `if`, `block` and "
                    "`train`",
                )
            )
        if node.name in self.blocks:
            return self.instantiate(node.name, node.args, node.name_span, node.span, current, scope)
        return self.layer(node, current, scope)

    def repeat(self, stmt: Statement, current: int | None, scope: _Scope) -> int | None:
        count = None
        if len(stmt.args) == 1 and stmt.args[0].key is None:
            bound = self.resolve(stmt.args[0].value, scope)
            count = bound.value if bound else None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            self.report(
                error(
                    "E0213",
                    "`repeat` needs a count",
                    stmt.args[0].span if stmt.args else stmt.name_span,
                    "expected a whole number (0 or more)",
                    help="e.g. `repeat 3 { conv 64 3x3 padding=same relu }`",
                )
            )
            count = 0
        if len(stmt.clauses) != 1 or stmt.clauses[0].name is not None:
            self.report(
                error(
                    "E0213", "`repeat` needs one { } body", stmt.span, "expected `repeat N { ... }`"
                )
            )
            return current
        for _ in range(count):
            if len(self.nodes) > MAX_NODES:  # reported once, at the top level
                break
            current = self.body(stmt.clauses[0].body, current, scope)
        return current

    def residual(self, stmt: Statement, current: int | None, scope: _Scope) -> int | None:
        main = [c for c in stmt.clauses if c.name is None]
        shortcut = [c for c in stmt.clauses if c.name == "shortcut"]
        other = [c for c in stmt.clauses if c.name not in (None, "shortcut")]
        for clause in other:
            self.report(
                error(
                    "E0214",
                    f"unknown clause `{clause.name}` after residual",
                    clause.name_span,
                    "expected `shortcut`",
                )
            )
        if stmt.args or len(main) != 1 or len(shortcut) > 1:
            self.report(
                error(
                    "E0214",
                    "`residual` needs one body and at most one `shortcut`",
                    stmt.span,
                    "expected `residual { ... } shortcut { ... }`",
                )
            )
            return current
        if current is None:
            return self.no_input(stmt.name_span)
        start = current
        main_out = self.body(main[0].body, start, scope)
        short_out = self.body(shortcut[0].body, start, scope) if shortcut else start
        if main_out == start:
            self.report(error("E0214", "the residual body is empty", main[0].span, "no layers"))
            return current
        # a shortcut body that adds no layer (`if` false) is an identity too
        role = "residual_identity" if short_out == start else "residual"
        return self.merge("add", stmt, (main_out, short_out), scope, role)

    def conditional(self, stmt: Statement, current: int | None, scope: _Scope) -> int | None:
        """``if (cond) { ... } [else { ... }]``: lower one body or the other (or none)."""
        then = [c for c in stmt.clauses if c.name is None]
        other = [c for c in stmt.clauses if c.name == "else"]
        for clause in stmt.clauses:
            if clause.name not in (None, "else"):
                self.report(
                    error(
                        "E0218",
                        f"unknown clause `{clause.name}` after if",
                        clause.name_span,
                        "expected `else`",
                    )
                )
                return current
        shape_ok = stmt.clauses and stmt.clauses[0].name is None and len(then) == 1
        if len(stmt.args) != 1 or stmt.args[0].key or not shape_ok or len(other) > 1:
            self.report(
                error(
                    "E0218",
                    "`if` needs one condition and a { } body, optionally followed by `else { }`",
                    stmt.span,
                    "expected `if (COND) { ... } else { ... }`",
                    help="e.g. `if (stride > 1) { conv f 1x1 stride=stride }`",
                )
            )
            return current
        bound = self.resolve(stmt.args[0].value, scope)
        if bound is None:
            return current
        if not isinstance(bound.value, bool):
            self.report(
                error(
                    "E0218",
                    f"the condition `{stmt.args[0].value.text}` is not true or false",
                    stmt.args[0].span,
                    f"this is {bound.value!r}",
                    help="compare block parameters, e.g. `if (stride > 1) { ... }`, or pass "
                    "true/false",
                )
            )
            return current
        if bound.value:
            return self.body(then[0].body, current, scope)
        return self.body(other[0].body, current, scope) if other else current

    def branch(self, stmt: Statement, current: int | None, scope: _Scope) -> int | None:
        mode = stmt.args[0].value.value if len(stmt.args) == 1 else None
        if mode not in ("concat", "add"):
            self.report(
                error(
                    "E0215",
                    "`branch` needs a merge mode: concat or add",
                    stmt.args[0].span if stmt.args else stmt.name_span,
                    "expected `concat` or `add`",
                    help="e.g. `branch concat { conv 32 1x1 } { conv 32 3x3 padding=same }`",
                )
            )
            return current
        if len(stmt.clauses) < 2:
            self.report(
                error(
                    "E0215",
                    "`branch` needs at least two { } paths",
                    stmt.span,
                    "one path is just a stack; write its layers directly",
                )
            )
            return current
        if current is None:
            return self.no_input(stmt.name_span)
        outs = tuple(self.body(c.body, current, scope) for c in stmt.clauses)
        return self.merge(mode, stmt, outs, scope, "branch")

    def merge(self, kind: str, stmt: Statement, inputs: tuple, scope: _Scope, role: str) -> int:
        node = Node(
            index=len(self.nodes),
            name=self.fresh_name(kind),
            kind=kind,
            inputs=tuple(i for i in inputs if i is not None),
            span=stmt.name_span,
            name_span=stmt.name_span,
            trace=scope.trace,
            role=role,
        )
        self.nodes.append(node)
        return node.index

    # -- blocks -------------------------------------------------------------------------------

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
        inner = _Scope(env=env, trace=(span, *scope.trace), active=(*scope.active, name))
        return self.body(block.body, current, inner)

    def bind(self, block: BlockDef, args: tuple[Arg, ...], where: Span, scope: _Scope):
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
                close = difflib.get_close_matches(arg.key, order, n=1)
                self.report(
                    error(
                        "E0506",
                        f"`{block.name}` has no parameter `{arg.key}`",
                        arg.key_span,
                        "unknown parameter",
                        related=((block.name_span, "block defined here"),),
                        help=f"did you mean `{close[0]}`?"
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
                bound = self.resolve(formal.default, _Scope(env=dict(env)))
                if bound is not None:
                    env[formal.name] = bound
        return env if ok else None

    def resolve(self, value: Value, scope: _Scope) -> Bound | None:
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

    def evaluate(self, value: Value, scope: _Scope) -> Any:
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
                        related=_sites(scope),
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
                        related=_sites(scope),
                    )
                )
                return None
            result = _OPS[op](a, b)
            if isinstance(result, float) and result.is_integer() and op == "/":
                result = int(result)
            return result
        self.report(error("E0216", "expected a number", value.span, "not a number"))
        return None

    # -- layers -------------------------------------------------------------------------------

    def layer(
        self, stmt: Statement, current: int | None, scope: _Scope, kind: str = ""
    ) -> int | None:
        args = stmt.args
        name = stmt.name
        if not kind:
            if lookup(name) is None and name in ACTIVATIONS:
                kind = "activation"
                fn = Value("name", name, name, stmt.name_span)
                args = (Arg(None, fn, stmt.name_span), *args)
            elif lookup(name) is None:
                self.unknown_name(name, stmt.name_span, is_call=False)
                return current
            else:
                kind = canonical(name)
        if kind != "input" and current is None:
            return self.no_input(stmt.name_span)
        raw_args: list[RawArg] = []
        explicit: str | None = None
        for arg in args:
            if arg.key == "name":
                explicit = self.explicit_name(arg, scope)
                continue
            bound = self.resolve(arg.value, scope)
            if bound is None:
                # already reported; the validate pass skips this node instead of adding
                # "missing argument" on top
                bound = Bound(None, "error", arg.value.text)
            raw_args.append(
                RawArg(
                    key=arg.key,
                    value=bound.value,
                    text=bound.text,
                    span=arg.span,
                    value_kind=bound.kind,
                )
            )
        node = Node(
            index=len(self.nodes),
            name=explicit or self.fresh_name(kind),
            kind=kind,
            args=tuple(raw_args),
            inputs=() if current is None else (current,),
            span=stmt.span,
            name_span=stmt.name_span,
            trace=scope.trace,
            explicit_name=explicit is not None,
        )
        self.nodes.append(node)
        return node.index

    def explicit_name(self, arg: Arg, scope: _Scope) -> str | None:
        bound = self.resolve(arg.value, scope)
        text = bound.value if bound else None
        if not isinstance(text, str) or not text.isidentifier():
            self.report(
                error("E0217", "a layer name must be an identifier", arg.span, "not a valid name")
            )
            return None
        if text in self.names or scope.trace:
            if scope.trace:
                msg = "named layers inside blocks would repeat their name in every instance"
                self.report(error("E0217", msg, arg.span, "name inside a block"))
            else:
                self.report(
                    error(
                        "E0217",
                        f"two layers are named `{text}`",
                        arg.span,
                        "second use",
                        related=((self.names[text], "first used here"),),
                    )
                )
            return None
        self.names[text] = arg.span
        return text

    def fresh_name(self, kind: str) -> str:
        while True:
            self.counters[kind] = self.counters.get(kind, 0) + 1
            candidate = f"{kind}_{self.counters[kind]}"
            if candidate not in self.names:
                self.names[candidate] = None  # type: ignore[assignment]
                return candidate

    def no_input(self, span: Span) -> None:
        if not self.reported_no_input:
            self.reported_no_input = True
            self.report(
                error(
                    "E0201",
                    "layer before the model's input",
                    span,
                    "no input declared yet",
                    help="start the model with `input 32x32x3` (or `input 64` for vectors)",
                )
            )
        return None

    def unknown_name(self, name: str, span: Span, *, is_call: bool) -> None:
        candidates = all_names() + list(self.blocks)
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        what = "block" if is_call else "layer kind"
        self.report(
            error(
                "E0200",
                f"unknown {what} `{name}`",
                span,
                f"not a known {what}",
                help=f"did you mean `{close[0]}`?"
                if close
                else "run `specc layers` to list every layer kind",
            )
        )

    # -- the train section --------------------------------------------------------------------

    def train_section(self, stmt: Statement) -> None:
        if self.train.span is not None:
            self.report(
                error(
                    "E0401",
                    "the train section appears twice",
                    stmt.name_span,
                    "second train section",
                    related=((self.train.span, "first train section"),),
                    help="merge the two into one `train { ... }`",
                )
            )
            return
        if stmt.args or len(stmt.clauses) != 1 or stmt.clauses[0].name is not None:
            self.report(
                error("E0401", "`train` needs one { } body", stmt.span, "expected `train { ... }`")
            )
            return
        values: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        items: dict[str, Statement] = {}
        for item in stmt.clauses[0].body:
            if not isinstance(item, Statement) or item.clauses:
                self.report(error("E0401", "expected `key value`", item.span, "not a setting"))
                continue
            key = _TRAIN_KEYS.get(item.name)
            if key is None:
                close = difflib.get_close_matches(item.name, list(_TRAIN_KEYS), n=1)
                self.report(
                    error(
                        "E0402",
                        f"unknown train setting `{item.name}`",
                        item.name_span,
                        "unknown setting",
                        help=f"did you mean `{close[0]}`?"
                        if close
                        else "settings: " + ", ".join(sorted(set(_TRAIN_KEYS) - {"batch_size"})),
                    )
                )
                continue
            if key in values:
                self.report(
                    error(
                        "E0403",
                        f"`{item.name}` is set twice",
                        item.name_span,
                        "set again",
                        related=((spans[key], "first set here"),),
                    )
                )
                continue
            spans[key] = item.span
            items[key] = item
            parsed = self.train_value(key, item)
            if parsed is not None:
                values.update(parsed)
        try:
            self.train = TrainConfig(**values, span=stmt.name_span, spans=spans)
        except Exception as exc:  # pydantic.ValidationError
            for err in getattr(exc, "errors", list)():
                field_name = str(err["loc"][0]) if err.get("loc") else ""
                item = items.get(field_name)
                # name the setting as written (`batch`, not `batch_size`), point at its value
                written = item.name if item else field_name
                where = item.args[0].span if item and item.args else stmt.name_span
                message = _friendly(err)
                self.report(
                    error(
                        "E0404",
                        f"bad value for `{written}`: {message}",
                        where,
                        f"{message}, got {err.get('input')!r}",
                    )
                )
            self.train = TrainConfig(span=stmt.name_span, spans=spans)

    def train_value(self, key: str, item: Statement) -> dict[str, Any] | None:
        positional = [a for a in item.args if a.key is None]
        keyword = [a for a in item.args if a.key is not None]
        if key == "metrics":
            if keyword or not positional:
                self.report(
                    error("E0404", "`metrics` takes names", item.span, "e.g. metrics accuracy")
                )
                return None
            return {"metrics": tuple(str(a.value.value) for a in positional)}
        if key == "optimizer":
            if len(positional) != 1:
                self.report(
                    error(
                        "E0404",
                        "`optimizer` takes a name",
                        item.span,
                        "e.g. optimizer adam lr=0.001",
                    )
                )
                return None
            name = str(positional[0].value.value).lower()
            if name not in OPTIMIZER_OPTIONS:
                self.report(
                    error(
                        "E0405",
                        f"unknown optimizer `{name}`",
                        positional[0].span,
                        "not supported",
                        help="use adam, adamw, sgd or rmsprop",
                    )
                )
                return None
            options = self.optimizer_options(name, keyword)
            return None if options is None else {"optimizer": name, "optimizer_args": options}
        if len(item.args) != 1 or keyword:
            self.report(
                error("E0404", f"`{item.name}` takes one value", item.span, "expected one value")
            )
            return None
        value = positional[0].value.value
        if key == "loss" and str(value) not in LOSSES:
            close = difflib.get_close_matches(str(value), LOSSES, n=1, cutoff=0.5)
            self.report(
                error(
                    "E0410",
                    f"unsupported loss `{value}`",
                    positional[0].span,
                    "the training harness does not implement this loss",
                    help=f"did you mean `{close[0]}`? (labels are integer class indices)"
                    if close
                    else "the harness supports " + ", ".join(LOSSES),
                )
            )
            return None
        if key == "data" and not data_catalog.is_known_source(str(value)):
            close = difflib.get_close_matches(str(value), list(data_catalog.CATALOG), n=1)
            self.report(
                error(
                    "E0406",
                    f"unknown dataset `{value}`",
                    positional[0].span,
                    "not a known dataset",
                    help=f"did you mean `{close[0]}`?"
                    if close
                    else 'use digits, iris, wine, mnist, cifar10, synthetic, "npz:PATH" or '
                    '"folder:DIR"',
                )
            )
            return None
        return {key: value}

    def optimizer_options(self, name: str, keyword: list[Arg]) -> dict[str, float] | None:
        """The optimizer's keyword arguments as numbers, each one the optimizer accepts."""
        accepted = OPTIMIZER_OPTIONS[name]
        options: dict[str, float] = {}
        ok = True
        for a in keyword:
            if a.key not in accepted:
                close = difflib.get_close_matches(a.key, accepted, n=1)
                self.report(
                    error(
                        "E0411",
                        f"{name} has no argument `{a.key}`",
                        a.span,
                        "unknown optimizer argument",
                        help=f"did you mean `{close[0]}`?"
                        if close
                        else f"{name} takes " + ", ".join(f"{k}=" for k in accepted),
                    )
                )
                ok = False
                continue
            bound = self.resolve(a.value, _Scope())
            if bound is None or not isinstance(bound.value, int | float):
                self.report(error("E0404", f"`{a.key}` must be a number", a.span, "not a number"))
                ok = False
                continue
            first = next((b for b in keyword if b.key in ("lr", "learning_rate")), a)
            if a.key in ("lr", "learning_rate") and first is not a:
                self.report(
                    error(
                        "E0403",
                        "the learning rate is set twice",
                        a.span,
                        "set again here",
                        related=((first.span, "first set here"),),
                        help="`lr` and `learning_rate` are the same setting: keep one",
                    )
                )
                ok = False
                continue
            if a.key in ("lr", "learning_rate", "epsilon") and bound.value <= 0:
                self.report(
                    error(
                        "E0404",
                        f"bad value for `{a.key}`: must be greater than 0",
                        a.span,
                        f"must be greater than 0, got {bound.value!r}",
                    )
                )
                ok = False
                continue
            options[a.key] = float(bound.value)
        if options.get("nesterov") and not options.get("momentum"):
            self.report(
                error(
                    "E0404",
                    "`nesterov` needs a momentum",
                    next(a.span for a in keyword if a.key == "nesterov"),
                    "nesterov without momentum",
                    help="add momentum=0.9, or drop nesterov",
                )
            )
            ok = False
        return options if ok else None


def _name_clause_as_arg(stmt: Statement) -> Statement:
    """Read ``repeat n { }``, ``if flag { }``, ``branch concat { }`` as argument plus body.

    The generic grammar takes a name right before ``{`` as a clause name (``shortcut { }``);
    for ``repeat``, ``if`` and ``branch`` that name is the count, condition or merge mode.
    """
    if stmt.args or not stmt.clauses or stmt.clauses[0].name is None:
        return stmt
    first = stmt.clauses[0]
    value = Value("name", first.name, first.name, first.name_span)
    body = Clause(None, first.body, first.span)
    return replace(
        stmt, args=(Arg(None, value, first.name_span),), clauses=(body, *stmt.clauses[1:])
    )


def _sites(scope: _Scope) -> tuple[tuple[Span, str], ...]:
    """Secondary labels for the block call sites that led here."""
    return tuple((site, "in this block instance") for site in scope.trace)


def _default_name(file_name: str) -> str:
    stem = file_name.replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0]
    cleaned = "".join(c if c.isalnum() else "_" for c in stem).strip("_") or "model"
    return cleaned if not cleaned[0].isdigit() else f"model_{cleaned}"


def lower(source: SourceFile, program: tuple, diagnostics: list[Diagnostic]) -> Model | None:
    """Lower a parsed spec to the IR graph, appending any diagnostics."""
    return _Lowerer(source, diagnostics).program(program)
