"""The passes that turn a lowered graph into a checked one, as a visible, ordered tuple.

Each pass is a plain function ``pass_(state) -> None`` that reads and extends a
:class:`State`, appending diagnostics instead of raising.  Later passes skip nodes whose
inputs failed, so one mistake is reported once, not once per downstream layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from specc.diagnostics import (
    Diagnostic,
    Fix,
    closest,
    did_you_mean,
    error,
    friendly_message,
    insert_at,
)
from specc.exprs import sites_of
from specc.ir import Model, Node, RawArg, Shape
from specc.layers import ShapeError, fmt_shape, lookup
from specc.layers.base import prod
from specc.source import SourceFile, Span
from specc.train_checks import train_diagnostics
from specc.warning_passes import check_backends, check_sizes, check_unused

BYTES_PER_VALUE = 4  # float32


@dataclass(frozen=True)
class LayerInfo:
    """What the passes inferred for one node."""

    shape: Shape
    trainable: int = 0
    non_trainable: int = 0
    macs: int = 0
    # what torch's sum(p.numel()) counts for this layer (see LayerKind.param_count_torch)
    torch_params: int = 0

    @property
    def params(self) -> int:
        """All parameters, trainable or not (Keras's ``count_params``)."""
        return self.trainable + self.non_trainable


@dataclass
class State:
    """The model moving through the passes and what they have found so far."""

    model: Model
    diagnostics: list[Diagnostic]
    params: dict[int, Any] = field(default_factory=dict)
    # the spec's text, when known: quick fixes keep its indentation
    source: SourceFile | None = None
    shapes: dict[int, Shape] = field(default_factory=dict)
    arg_spans: dict[int, dict[str, Span]] = field(default_factory=dict)
    # which written argument gave each parameter: node -> parameter -> RawArg
    bindings: dict[int, dict[str, RawArg]] = field(default_factory=dict)
    infos: dict[int, LayerInfo] = field(default_factory=dict)

    def node(self, index: int) -> Node:
        """The node at ``index``."""
        return self.model.nodes[index]


def validate_params(state: State) -> None:
    """Bind each node's arguments to its kind's parameter schema (positional, words, keys)."""
    for node in state.model.nodes:
        kind = lookup(node.kind)
        if kind is None:  # merges and inputs are registered, so this is a bug guard
            continue
        values, spans, ok = _bind_args(state, node, kind)
        if not ok:
            continue
        state.bindings[node.index] = _written(node, kind, spans)
        try:
            state.params[node.index] = kind.Params(**values)
        except ValidationError as exc:
            _report_validation(state, node, kind, exc, spans)
        except (TypeError, ValueError) as exc:
            state.diagnostics.append(
                error("E0220", f"bad arguments for {node.kind}: {exc}", node.span, str(exc))
            )
        state.arg_spans[node.index] = spans


def _bind_args(state: State, node: Node, kind) -> tuple[dict[str, Any], dict[str, Span], bool]:
    fields = kind.Params.model_fields
    values: dict[str, Any] = {}
    spans: dict[str, Span] = {}
    slots = list(kind.positional)
    ok = True

    def assign(key: str, value: Any, span: Span) -> bool:
        if key in values:
            state.diagnostics.append(
                error(
                    "E0206",
                    f"`{key}` is set twice",
                    span,
                    "set again here",
                    related=((spans[key], "first set here"),),
                )
            )
            return False
        values[key] = value
        spans[key] = span
        return True

    if any(arg.value_kind == "error" for arg in node.args):
        return values, spans, False  # an argument that lowering could not evaluate
    for arg in node.args:
        if arg.key is not None:
            if arg.key not in fields:
                close = closest(arg.key, fields)
                # the key is where `key=value` starts
                key_span = arg.span.replace(
                    end_line=arg.span.line, end_column=arg.span.column + len(arg.key)
                )
                state.diagnostics.append(
                    error(
                        "E0205",
                        f"{node.kind} has no parameter `{arg.key}`",
                        arg.span,
                        "unknown parameter",
                        help=f"did you mean `{close}`?"
                        if close
                        else _signature_help(node.kind, kind),
                        fixes=did_you_mean(key_span, arg.key, close),
                    )
                )
                ok = False
                continue
            ok = assign(arg.key, arg.value, arg.span) and ok
            continue
        if arg.value_kind == "name" and isinstance(arg.value, str) and arg.value in kind.words:
            key, value = kind.words[arg.value]
            ok = assign(key, value, arg.span) and ok
            continue
        while slots and slots[0] in values:
            slots.pop(0)
        close = None
        if arg.value_kind == "name" and isinstance(arg.value, str) and kind.words:
            close = closest(arg.value, kind.words)
        if close:
            state.diagnostics.append(
                error(
                    "E0204",
                    f"unknown word `{arg.text}` for {node.kind}",
                    arg.span,
                    f"did you mean `{close}`?",
                    help=_signature_help(node.kind, kind),
                    fixes=did_you_mean(arg.span, arg.text, close)
                    if _written_as(state, arg.span, arg.text)
                    else None,
                )
            )
            ok = False
            continue
        if not slots:
            state.diagnostics.append(
                error(
                    "E0204",
                    f"unexpected argument `{arg.text}` for {node.kind}",
                    arg.span,
                    "not a parameter of this layer",
                    help=_signature_help(node.kind, kind),
                )
            )
            ok = False
            continue
        ok = assign(slots.pop(0), arg.value, arg.span) and ok
    return values, spans, ok


def _written(node: Node, kind, spans: dict[str, Span]) -> dict[str, RawArg]:
    """Each bound parameter's argument as written (matched by its span)."""
    by_span = {arg.span: arg for arg in node.args}
    return {key: by_span[span] for key, span in spans.items() if span in by_span}


def _signature_help(name: str, kind) -> str:
    fields = list(kind.Params.model_fields)
    ordered = [k for k in kind.positional if k in fields] + [
        k for k in fields if k not in kind.positional
    ]  # positional parameters first, as they are written
    keys = ", ".join(f"{k}=" for k in ordered)
    # a summary reads "what it is: how to write it"; the help only needs the second half
    usage = kind.summary.split(": ", 1)[-1] if kind.summary else name
    return f"usage: {usage}" + (f" (keys: {keys})" if keys else "")


def _report_validation(state: State, node: Node, kind, exc: ValidationError, spans) -> None:
    for err in exc.errors():
        loc = err.get("loc") or ()
        key = str(loc[0]) if loc else None
        if err["type"] == "missing":
            state.diagnostics.append(
                error(
                    "E0207",
                    f"{node.kind} needs `{key}`",
                    node.name_span,
                    f"missing `{key}`",
                    help=_signature_help(node.kind, kind),
                )
            )
            continue
        span = spans.get(key, node.span) if key else node.span
        given = err.get("input")
        shown = fmt_shape(given) if isinstance(given, tuple) else repr(given)
        message = friendly_message(err)
        what = f"`{key}`" if key else node.kind
        state.diagnostics.append(
            error(
                "E0203",
                f"bad value for {what} of {node.kind}: {message}",
                span,
                f"{message}, got {shown}" if key else message,
                help=_signature_help(node.kind, kind),
            )
        )


def check_dtypes(state: State) -> None:
    """Integer ids (``input L dtype=int``) may only feed kinds that take them (embedding)."""
    for node in state.model.nodes:
        kind = lookup(node.kind)
        if kind is None or not node.inputs:
            continue
        for i in node.inputs:
            params = state.params.get(i)
            ints = getattr(params, "dtype", "float32") == "int"
            if ints == kind.int_input:
                continue
            source = state.node(i)
            if ints:
                message = f"{node.kind} cannot take integer ids"
                help_ = "integer inputs go to an `embedding` first"
            else:
                message = f"{node.kind} takes integer ids, but its input is float"
                help_ = "declare the input as `input L dtype=int`"
            state.diagnostics.append(
                error(
                    "E0303",
                    message,
                    node.name_span,
                    "wrong input type",
                    related=((source.span, "this is the input"),),
                    help=help_,
                )
            )


def infer_shapes(state: State) -> None:
    """Run every kind's shape rule in graph order."""
    for node in state.model.nodes:
        if node.index not in state.params:
            continue
        if any(i not in state.shapes for i in node.inputs):
            continue
        kind = lookup(node.kind)
        inputs = [state.shapes[i] for i in node.inputs]
        try:
            state.shapes[node.index] = kind.output_shape(state.params[node.index], inputs)
        except ShapeError as exc:
            state.diagnostics.append(_shape_diagnostic(state, node, exc, inputs))


def _shape_diagnostic(state: State, node: Node, exc: ShapeError, inputs: list[Shape]):
    related: list[tuple[Span, str]] = []
    message, label, help_ = exc.message, exc.label, exc.help
    if node.role == "residual_identity":
        main, short = inputs
        message = (
            f"residual body ends in {fmt_shape(main)} but its identity shortcut is "
            f"{fmt_shape(short)}"
        )
        label = "shapes differ here"
        related.append((state.node(node.inputs[0]).span, f"body ends in {fmt_shape(main)}"))
        related.append((state.node(node.inputs[1]).span, f"shortcut input is {fmt_shape(short)}"))
        proj = f"conv {main[-1]} 1x1"
        if len(main) == 3 and len(short) == 3 and main[0] and short[0] > main[0]:
            proj += f" stride={short[0] // main[0]}"
        help_ = (f"add a projection: `shortcut {{ {proj} }}`",)
    else:
        for i in node.inputs:
            shape = fmt_shape(state.shapes[i])
            related.append((state.node(i).span, f"output of this layer is {shape}"))
        source = state.node(node.inputs[0]) if node.inputs else None
        if exc.code == "E0301" and source is not None and "pool" in source.kind:
            help_ = tuple(
                h + f", or drop the {source.kind} on line {source.span.line}" for h in help_
            )
    related += sites_of(node.trace)
    return error(
        exc.code,
        message,
        state.arg_spans.get(node.index, {}).get(exc.arg, node.span),
        label,
        related=tuple(related),
        notes=exc.notes,
        help=help_,
        fixes=_shape_fixes(state, node, exc, inputs),
    )


def _shape_fixes(state: State, node: Node, exc: ShapeError, inputs: list[Shape]) -> tuple:
    """Edits that make this layer accept its input, each tried on the layer's own shape rule
    first: ``flatten`` before it, or ``padding=same``."""
    if node.role or len(inputs) != 1:
        return ()
    kind, params = lookup(node.kind), state.params[node.index]
    if exc.code == "E0302" and len(inputs[0]) > 1 and _fits(kind, params, [(prod(inputs[0]),)]):
        title = f"insert `flatten` before this {node.kind}"
        return (_insert_before(state, node, "flatten", title),)
    fields = type(params).model_fields
    if exc.code == "E0301" and "padding" in fields and getattr(params, "padding", None) != "same":
        same = params.model_copy(update={"padding": "same"})
        if _fits(kind, same, inputs):
            fix = _padding_same(state, node, exc.arg)
            return (fix,) if fix is not None else ()
    return ()


def _written_as(state: State, span: Span, text: str) -> bool:
    """True when the spec has ``text`` at ``span`` itself, not a block parameter that a call
    set to it (a fix there would change every instance of the block)."""
    if state.source is None:
        return False
    return "".join(state.source.text_of(span).split()) == "".join(text.split())


def _fits(kind, params: Any, inputs: list[Shape]) -> bool:
    try:
        kind.output_shape(params, inputs)
    except ShapeError:
        return False
    return True


def _insert_before(state: State, node: Node, statement: str, title: str) -> Fix:
    """Insert ``statement`` before ``node``'s: on a line of its own, at the same indentation,
    when the node's statement starts its line; otherwise before it, separated by ``;``."""
    span = node.span
    line = state.source.line(span.line) if state.source is not None else ""
    indent = line[: span.column - 1]
    text = f"{statement}\n{indent}" if line and not indent.strip() else f"{statement}; "
    return insert_at(span.line, span.column, span.file, text, title)


def _padding_same(state: State, node: Node, arg: str | None) -> Fix | None:
    """Set ``padding=same``: rewrite the padding the layer has, or add it after ``arg``."""
    title = "use `padding=same`"
    spans = state.arg_spans.get(node.index, {})
    written = next((a for a in node.args if spans.get("padding") == a.span), None)
    if written is not None:
        literal = f"padding={written.text}" if written.key else written.text
        if not _written_as(state, written.span, literal):
            return None  # the padding comes from a block parameter: fix it at the call
        text = "padding=same" if written.key else "same"
        return Fix(title=title, span=written.span, replacement=text)
    after = spans.get(arg) or node.name_span
    return insert_at(after.end_line, after.end_column, after.file, " padding=same", title)


def count(state: State) -> None:
    """Parameter counts and MACs of every node whose shape is known.

    The arithmetic behind them (``--explain``) is rendered on demand by
    :meth:`specc.compiler.CheckedModel.explain`, not for every check.
    """
    for node in state.model.nodes:
        if node.index not in state.shapes:
            continue
        kind = lookup(node.kind)
        p = state.params[node.index]
        inputs = [state.shapes[i] for i in node.inputs]
        out = state.shapes[node.index]
        trainable, frozen = kind.param_count(p, inputs, out)
        state.infos[node.index] = LayerInfo(
            shape=out,
            trainable=trainable,
            non_trainable=frozen,
            macs=kind.macs(p, inputs, out),
            torch_params=kind.param_count_torch(p, inputs, out),
        )


def check_train(state: State) -> None:
    """The train section must fit the model: its dataset, task, loss, metrics and settings
    (``specc/train_checks.py``)."""
    input_node = state.model.nodes[0]
    state.diagnostics += train_diagnostics(
        state.model,
        state.params,
        state.shapes,
        input_span=input_node.span,
        shape_span=state.arg_spans.get(0, {}).get("shape", input_node.span),
    )


PASSES = (
    validate_params,
    check_dtypes,
    infer_shapes,
    count,
    check_train,
    check_backends,
    check_sizes,
    check_unused,
)
