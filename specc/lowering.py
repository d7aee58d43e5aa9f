"""Lower the AST to the IR graph: expand blocks, ``repeat``, ``residual`` and ``branch``.

The result is a flat, topologically ordered tuple of :class:`~specc.ir.Node`.  A plain stack
lowers to a chain; ``residual`` and ``branch`` lower to ``add``/``concat`` merge nodes.  Block
parameters are substituted here (``conv f 3x3`` inside ``block basic(f)``), so every node's
arguments are concrete values, and every node remembers the call sites that produced it.
"""

from __future__ import annotations

from specc.blocks import BlockExpander, Bound, Scope
from specc.diagnostics import Diagnostic, closest, error
from specc.ir import Model, Node, RawArg, TrainConfig
from specc.layers import ACTIVATIONS, all_names, canonical, lookup
from specc.source import SourceFile, Span
from specc.syntax import Arg, BlockDef, Call, Clause, Statement, Value
from specc.train_section import TrainSectionReader

MAX_NODES = 200_000


class _Lowerer(BlockExpander, TrainSectionReader):
    """One spec's lowering: walks the AST once, appending nodes in topological order."""

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
        scope = Scope()
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
        return self.layer(stmt, None, Scope(), kind="input")

    # -- statements inside the model ------------------------------------------------------------

    def body(self, body: tuple, current: int | None, scope: Scope) -> int | None:
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

    def item(self, node: Statement | Call, current: int | None, scope: Scope) -> int | None:
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

    def repeat(self, stmt: Statement, current: int | None, scope: Scope) -> int | None:
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

    def residual(self, stmt: Statement, current: int | None, scope: Scope) -> int | None:
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

    def conditional(self, stmt: Statement, current: int | None, scope: Scope) -> int | None:
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

    def branch(self, stmt: Statement, current: int | None, scope: Scope) -> int | None:
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

    def merge(self, kind: str, stmt: Statement, inputs: tuple, scope: Scope, role: str) -> int:
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

    # -- layers -------------------------------------------------------------------------------

    def layer(
        self, stmt: Statement, current: int | None, scope: Scope, kind: str = ""
    ) -> int | None:
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
                self.unknown_name(name, stmt.name_span, is_call=False)
                return current
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

    def explicit_name(self, arg: Arg, scope: Scope) -> str | None:
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
        close = closest(name, candidates)
        what = "block" if is_call else "layer kind"
        self.report(
            error(
                "E0200",
                f"unknown {what} `{name}`",
                span,
                f"not a known {what}",
                help=f"did you mean `{close}`?"
                if close
                else "run `specc layers` to list every layer kind",
            )
        )


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
    return stmt._replace(
        args=(Arg(None, value, first.name_span),), clauses=(body, *stmt.clauses[1:])
    )


def _default_name(file_name: str) -> str:
    stem = file_name.replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0]
    cleaned = "".join(c if c.isalnum() else "_" for c in stem).strip("_") or "model"
    return cleaned if not cleaned[0].isdigit() else f"model_{cleaned}"


def lower(source: SourceFile, program: tuple, diagnostics: list[Diagnostic]) -> Model | None:
    """Lower a parsed spec to the IR graph, appending any diagnostics."""
    return _Lowerer(source, diagnostics).program(program)
