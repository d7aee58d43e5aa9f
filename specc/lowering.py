"""Lowering: the expanded AST becomes the IR graph.

Three stages, each importing only from the earlier ones: :mod:`specc.expand` expands blocks,
``repeat`` and ``if`` (AST -> expanded AST), :func:`specc.train_section.read_train` reads the
train section, and this module turns the expanded AST into the IR: a flat, topologically
ordered tuple of :class:`~specc.ir.Node` (``residual`` and ``branch`` become ``add``/``concat``
merge nodes) plus the tree of :class:`~specc.ir.Scope` the nodes came from.

Names follow the scopes.  In the model, a block, or one iteration of a ``repeat``, a layer is
named after its kind, numbered in the order the definition is written (``conv2d_1``,
``conv2d_2``; every instance of a block names its layers alike, whichever ``if`` branches it
takes), or by its ``name=``; block instances are ``<block>_<n>`` and repeats ``repeat_<n>``
unless named.  A ``repeat``'s iterations and a ``sequential`` group's items are numbered
``0, 1, 2, ...`` as ``nn.Sequential`` numbers its children.  A node's full name is its scope's
dotted path plus its own: ``layer2.0.conv1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specc.diagnostics import Diagnostic, closest, did_you_mean, error
from specc.expand import expand_program
from specc.expansion import Reporter, XBranch, XLayer, XResidual, XScope
from specc.ir import Model, Node, Scope
from specc.layers import lookup
from specc.naming import static_names
from specc.source import SourceFile, Span
from specc.train_section import read_train


def lower(source: SourceFile, program: tuple, diagnostics: list[Diagnostic]) -> Model | None:
    """Lower a parsed spec to the IR graph, appending any diagnostics."""
    report = Reporter(diagnostics)
    expanded = expand_program(program, report)
    if expanded is None:
        return None
    train = read_train(expanded.train, report)
    builder = _GraphBuilder(source, report)
    root = Scope(
        index=0,
        parent=-1,
        kind="model",
        name="",
        local="",
        label=expanded.model_name or "model",
        key=("model",),
        span=expanded.model_span,
        decisions=expanded.decisions,
        definition=expanded.definition,
    )
    builder.scopes.append(root)
    top = builder.context(root)
    current = builder.items(expanded.body, None, top)
    outputs = builder.outputs(expanded, top, current)
    if not builder.nodes:
        if not builder.reported_no_input:  # E0201 already says so otherwise
            last = max(len(source.lines), 1)
            report(
                error(
                    "E0202",
                    "the spec declares no input",
                    source.span(1, 1, last, len(source.line(last)) + 1),
                    "a model starts with its input",
                    help="add a line like `input 32x32x3` (image), `input 100x16` (sequence) "
                    "or `input 64` (vector) before the first layer",
                )
            )
        return None
    return Model(
        name=expanded.model_name or _default_name(source.name),
        file=source.name,
        nodes=tuple(builder.nodes),
        output=outputs[0],
        outputs=outputs,
        inputs=tuple(n.index for n in builder.nodes if n.kind == "input"),
        train=train,
        span=expanded.model_span,
        scopes=tuple(builder.scopes),
        references=tuple(sorted(builder.referenced)),
        links=tuple(sorted(builder.links)),
    )


# what sees only its own names, and where it ends: for an unknown name named outside
_SCOPE_WORDS = {
    "block": ("a block's body", "after the call (the body reads what enters the call)"),
    "iteration": ("each `repeat` iteration", "after the `repeat` ends"),
    "sequential": ("a `sequential` group", "after the group ends"),
}


@dataclass
class _Context:
    """Naming inside one scope instance: by definition order, or by position."""

    scope: Scope
    names: dict[int, str] | None  # static names of the definition; None: numbered items
    used: dict[str, Span | None] = field(default_factory=dict)
    position: int = 0
    values: dict[str, int] = field(default_factory=dict)  # local name -> the node it holds
    sites: dict[str, Span] = field(default_factory=dict)  # local name -> where it is written
    outer: _Context | None = None  # the enclosing scope's (only to explain an unknown name)

    @classmethod
    def of(cls, scope: Scope, names: dict[int, str] | None, outer: _Context | None) -> _Context:
        """The naming context of a new scope instance (``names``: its static names)."""
        return cls(scope, None if scope.kind == "sequential" else names, outer=outer)

    def enclosing(self, name: str) -> Scope | None:
        """The nearest enclosing scope that names ``name`` (which this one cannot read)."""
        outer = self.outer
        while outer is not None and name not in outer.values:
            outer = outer.outer
        return outer.scope if outer is not None else None

    def prefix(self, local: str) -> str:
        """The full name of ``local`` in this scope."""
        return f"{self.scope.name}.{local}" if self.scope.name else local


class _GraphBuilder:
    """Appends nodes in topological order and scopes in the order they open."""

    def __init__(self, source: SourceFile, report: Reporter):
        self.source = source
        self.report = report
        self.nodes: list[Node] = []
        self.scopes: list[Scope] = []
        self.reported_no_input = False
        self._names: dict[int, dict[int, str]] = {}  # static names, by id of the definition
        self.referenced: set[int] = set()
        self.links: set[tuple[Span, Span, int]] = set()  # see Model.links

    def outputs(self, expanded, ctx: _Context, current: int | None) -> tuple[int, ...]:
        """The model's outputs: the layers ``output`` names, else the last one."""
        found = [self.resolve(ctx, name, span) for name, span in expanded.outputs]
        found = [i for i in found if i is not None]
        if found:
            return tuple(dict.fromkeys(found))
        return (current if current is not None else len(self.nodes) - 1,)

    def resolve(self, ctx: _Context, name: str, span: Span) -> int | None:
        """The node a name refers to in this scope (reported when there is none)."""
        if name in ctx.values:
            self.referenced.add(ctx.values[name])
            site = ctx.sites.get(name)
            if site is not None:
                self.links.add((span, site, ctx.values[name]))
            return ctx.values[name]
        close = closest(name, ctx.values)
        where = "this block instance" if ctx.scope.kind == "block" else "this scope"
        notes = (f"a layer can read only layers named earlier in {where}",)
        help = f"did you mean `{close}`?" if close else "name a layer with `name=...`"
        outside = ctx.enclosing(name)
        if outside is not None and not close:
            inside, where = _SCOPE_WORDS.get(ctx.scope.kind, ("this scope", "outside it"))
            notes = (f"`{name}` is named outside: {inside} sees only the names in its own body",)
            help = f"read `{name}` {where}, or read a layer named inside"
        self.report(
            error(
                "E0219",
                f"no layer named `{name}` before this line",
                span,
                "unknown layer",
                notes=notes if ctx.scope.parent >= 0 else (),
                help=help,
                fixes=did_you_mean(span, name, close),
            )
        )
        return None

    def context(self, scope: Scope, outer: _Context | None = None) -> _Context:
        """The naming context of a new scope instance (inside ``outer``'s)."""
        key = id(scope.definition)
        if key not in self._names:
            self._names[key] = static_names(scope.definition)
        return _Context.of(scope, self._names[key], outer)

    def items(self, xs: tuple, current: int | None, ctx: _Context) -> int | None:
        """Lower a sequence of expanded nodes; returns the node holding the result."""
        for x in xs:
            current = self.item(x, current, ctx)
        return current

    def item(self, x, current: int | None, ctx: _Context, local: str | None = None) -> int | None:
        """Lower one expanded node (``local`` overrides its name: a collapsed iteration)."""
        if isinstance(x, XLayer):
            return self.layer(x, current, ctx, local)
        if isinstance(x, XScope):
            return self.scope(x, current, ctx, local)
        if isinstance(x, XResidual):
            return self.residual(x, current, ctx)
        return self.branch(x, current, ctx)

    # -- naming -------------------------------------------------------------------------------

    def local_name(
        self, ctx: _Context, key: int, explicit: str | None, where: Span, fused: bool = False
    ) -> str:
        """The name of an item in its scope, checked for uniqueness there."""
        if ctx.names is None:
            if explicit is not None:
                self.report(
                    error(
                        "E0217",
                        "layers inside a `sequential` group are named by their position",
                        where,
                        "no `name=` here",
                        help="drop `name=`: the items of a group are numbered 0, 1, 2, ...",
                    )
                )
            local = str(ctx.position)
            ctx.position += 2 if fused else 1  # a fused activation is its own PyTorch module
            return local
        local = explicit or ctx.names.get(key) or f"layer_{len(ctx.used) + 1}"
        if explicit is not None and explicit in ctx.used:
            first = ctx.used[explicit]
            self.report(
                error(
                    "E0217",
                    f"two layers are named `{explicit}`",
                    where,
                    "second use",
                    related=((first, "first used here"),) if first else (),
                )
            )
            local = ctx.names.get(key) or f"layer_{len(ctx.used) + 1}"
        ctx.used.setdefault(local, where if explicit else None)
        return local

    # -- nodes ----------------------------------------------------------------------------------

    def add(self, node: Node) -> int:
        """Append a node (expansion has already bounded how many there are)."""
        self.nodes.append(node)
        return node.index

    def layer(self, x: XLayer, current: int | None, ctx: _Context, local: str | None) -> int | None:
        """A layer node reading ``current`` (or the layer ``from=`` names), and for a merge the
        layers it names."""
        if x.source is not None:
            source = self.resolve(ctx, *x.source)
            if source is None:
                return current  # reported; the layers after it still read the chain
            current = source
        if x.kind != "input" and current is None:
            return self.no_input(x.stmt.name_span)
        extra = [self.resolve(ctx, name, span) for name, span in x.refs]
        if any(i is None for i in extra):
            return current
        if getattr(lookup(x.kind), "merge", False) and not extra:
            self.report(
                error(
                    "E0219",
                    f"`{x.kind}` needs the names of the layers it merges",
                    x.stmt.name_span,
                    "nothing to merge with",
                    help=f"e.g. `{x.kind} skip` merges the previous output with the layer "
                    "named skip",
                )
            )
            return current
        if local is None:
            where = x.name_span or x.stmt.name_span
            local = self.local_name(ctx, id(x.stmt), x.name, where, _fuses_activation(x))
            ctx.sites[local] = _site(x.stmt, local == x.name)
        inputs = () if x.kind == "input" else (current, *extra)
        index = self.add(
            Node(
                index=len(self.nodes),
                name=ctx.prefix(local),
                kind=x.kind,
                args=x.args,
                inputs=inputs,
                span=x.stmt.span,
                name_span=x.stmt.name_span,
                trace=x.trace,
                explicit_name=x.name is not None,
                role="merge" if extra else "",
                scope=ctx.scope.index,
            )
        )
        ctx.values[local] = index
        return index

    def merge(self, kind: str, x, inputs: tuple, ctx: _Context, role: str) -> int:
        """An ``add`` or ``concat`` node joining ``inputs`` (``x``: the residual or branch)."""
        stmt = x.stmt
        local = self.local_name(ctx, id(stmt), None, stmt.name_span)
        ctx.sites[local] = stmt.name_span
        index = self.add(
            Node(
                index=len(self.nodes),
                name=ctx.prefix(local),
                kind=kind,
                inputs=tuple(i for i in inputs if i is not None),
                span=stmt.name_span,
                name_span=stmt.name_span,
                trace=x.trace,
                role=role,
                scope=ctx.scope.index,
            )
        )
        ctx.values[local] = index
        return index

    def residual(self, x: XResidual, current: int | None, ctx: _Context) -> int | None:
        """``residual``: the body's output plus the shortcut's (or the input's)."""
        if current is None:
            return self.no_input(x.stmt.name_span)
        start = current
        main_out = self.items(x.body, start, ctx)
        short_out = self.items(x.shortcut, start, ctx) if x.shortcut else start
        if main_out == start:
            main = next(c for c in x.stmt.clauses if c.name is None)
            self.report(error("E0214", "the residual body is empty", main.span, "no layers"))
            return current
        role = "residual_identity" if short_out == start else "residual"
        return self.merge("add", x, (main_out, short_out), ctx, role)

    def branch(self, x: XBranch, current: int | None, ctx: _Context) -> int | None:
        """``branch``: every path from the same input, merged by ``concat`` or ``add``."""
        if current is None:
            return self.no_input(x.stmt.name_span)
        outs = tuple(self.items(path, current, ctx) for path in x.paths)
        return self.merge(x.mode, x, outs, ctx, "branch")

    def scope(self, x: XScope, current: int | None, ctx: _Context, local: str | None) -> int | None:
        """A block instance, repeat, iteration or sequential group: a new scope."""
        if current is None:
            return self.no_input(x.stmt.name_span)
        if x.kind == "repeat" and ctx.names is None and local is None:
            # inside a sequential group, iterations are items of the group itself
            return self.iterations(x, current, ctx, spliced=True)
        if local is None:
            explicit = x.name if ctx.names is not None and x.kind != "sequential" else None
            key = id(x.stmt)
            if x.kind == "sequential" and ctx.names is not None:
                local = x.name or "sequential"
                self._claim(ctx, local, x.stmt.name_span)
            else:
                local = self.local_name(ctx, key, explicit, x.stmt.name_span)
            ctx.sites[local] = _site(x.stmt, local == x.name)
        scope = Scope(
            index=len(self.scopes),
            parent=ctx.scope.index,
            kind=x.kind,
            name=ctx.prefix(local),
            local=local,
            label=x.label,
            key=x.key,
            span=x.stmt.span,
            env=x.env,
            decisions=x.decisions,
            definition=x.definition,
            collapse=x.collapse,
            formals=x.formals,
            stmt=x.stmt,
        )
        self.scopes.append(scope)
        inner = self.context(scope, ctx)
        if x.kind != "repeat":
            result = self.items(x.body, current, inner)
        else:
            inner.names = None  # a repeat's iterations are numbered
            result = self.iterations(x, current, inner, spliced=False)
        if result is not None:
            ctx.values[local] = result
        return result

    def iterations(self, x: XScope, current: int | None, ctx: _Context, spliced: bool):
        """The iterations of a repeat, numbered in ``ctx``.

        An iteration whose only statement is one item (a layer, a block call, a group) is that
        item; others are scopes of their own.  In a repeat's own scope every iteration is one
        child, so a layer with a fused activation (two PyTorch modules) is a scope there;
        spliced into a ``sequential`` group, the group numbers the activation too.
        """
        for iteration in x.body:
            single = iteration.collapse and len(iteration.body) == 1
            if single and spliced:
                current = self.item(iteration.body[0], current, ctx)
            elif single and not _fused(iteration.body[0]):
                current = self.item(iteration.body[0], current, ctx, local=self._next(ctx))
            else:
                current = self.scope(iteration, current, ctx, local=self._next(ctx))
        return current

    @staticmethod
    def _next(ctx: _Context) -> str:
        local = str(ctx.position)
        ctx.position += 1
        return local

    def _claim(self, ctx: _Context, local: str, where: Span) -> None:
        if local in ctx.used:
            first = ctx.used[local]
            self.report(
                error(
                    "E0217",
                    f"two layers are named `{local}`",
                    where,
                    "second use",
                    related=((first, "first used here"),) if first else (),
                )
            )
        ctx.used.setdefault(local, where)

    def no_input(self, span: Span) -> None:
        """Report, once, a layer that comes before the model's input."""
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


def _site(stmt, named: bool) -> Span:
    """Where an item's name is written: its ``name=`` value or a ``sequential`` group's name
    when it goes by that name, else (a generated name) its kind or block name."""
    if named:
        given = [a for a in stmt.args if a.key == "name"]
        if given:
            return given[-1].value.span
        if getattr(stmt, "clauses", None) and stmt.clauses[0].name_span is not None:
            return stmt.clauses[0].name_span  # `sequential NAME { }`
        if stmt.args:
            return stmt.args[0].value.span
    return stmt.name_span


def _fused(x) -> bool:
    return isinstance(x, XLayer) and _fuses_activation(x)


def _fuses_activation(x: XLayer) -> bool:
    """Whether a layer applies a (non-linear) activation of its own: ``conv 8 3x3 relu``."""
    if x.kind == "activation":
        return False
    kind = lookup(x.kind)
    words = kind.words if kind is not None else {}
    for arg in x.args:
        if arg.key == "activation":
            return arg.value not in (None, "linear")
        if arg.key is None and isinstance(arg.value, str) and arg.value in words:
            key, value = words[arg.value]
            if key == "activation":
                return value != "linear"
    return False


def _default_name(file_name: str) -> str:
    stem = file_name.replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0]
    cleaned = "".join(c if c.isalnum() else "_" for c in stem).strip("_") or "model"
    return cleaned if not cleaned[0].isdigit() else f"model_{cleaned}"
