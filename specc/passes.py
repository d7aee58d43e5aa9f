"""The passes that turn a lowered graph into a checked one, as a visible, ordered tuple.

Each pass is a plain function ``pass_(state) -> None`` that reads and extends a
:class:`State`, appending diagnostics instead of raising.  Later passes skip nodes whose
inputs failed, so one mistake is reported once, not once per downstream layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from specc import data_catalog, limits
from specc.diagnostics import Diagnostic, closest, error, format_count, warning
from specc.ir import Model, Node, Shape
from specc.layers import ShapeError, fmt_shape, lookup
from specc.source import Span

BYTES_PER_VALUE = 4  # float32
INT_DATA_HELP = 'train token ids on "npz:PATH" (integer x arrays) or synthetic'


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
    shapes: dict[int, Shape] = field(default_factory=dict)
    arg_spans: dict[int, dict[str, Span]] = field(default_factory=dict)
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
                state.diagnostics.append(
                    error(
                        "E0205",
                        f"{node.kind} has no parameter `{arg.key}`",
                        arg.span,
                        "unknown parameter",
                        help=f"did you mean `{close}`?"
                        if close
                        else _signature_help(node.kind, kind),
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


def friendly_message(err: dict) -> str:
    """A pydantic validation error as a short phrase: ``must be greater than 0``."""
    ctx = err.get("ctx") or {}
    kind = err["type"]
    if kind == "greater_than":
        return f"must be greater than {ctx.get('gt')}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "less_than":
        return f"must be less than {ctx.get('lt')}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be a whole number"
    if kind in ("tuple_type", "too_long", "too_short"):
        return "has the wrong number of values"
    if kind == "bool_type" or kind == "bool_parsing":
        return "must be true or false"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"].lower()


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
    related += [(site, "in this block instance") for site in node.trace]
    return error(
        exc.code,
        message,
        state.arg_spans.get(node.index, {}).get(exc.arg, node.span),
        label,
        related=tuple(related),
        notes=exc.notes,
        help=help_,
    )


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


def dataset_diagnostics(
    info: data_catalog.DatasetInfo,
    *,
    int_input: bool,
    in_shape: Shape | None,
    out_shape: Shape | None,
    input_span: Span,
    shape_span: Span,
    output_span: Span,
    data_span: Span | None = None,
    origin: str = "",
) -> list[Diagnostic]:
    """Errors for a named dataset that does not fit the model: integer ids on float data
    (E0409), an input its samples do not fit (E0407), an output its classes do not (E0408).

    ``data_span`` points at the train section's ``data`` line; ``origin`` says where the data
    was named otherwise (``"from --data"`` for ``specc train``), and the help then suggests
    another ``--data``.
    """
    where = f" ({origin})" if origin else ""
    other = " or another --data" if origin else ""
    if int_input:
        if data_span is not None:
            primary, label = data_span, f"{info.name}: float {info.kind}"
            related: tuple = ((input_span, "integer ids declared here"),)
        else:
            primary, related = input_span, ()
            label = f"integer ids, but {info.name}{where} holds float {info.kind}"
        message = f"{info.name} holds float {info.kind}, but the model's input is integer token ids"
        help_ = (
            "train token ids with --data npz:PATH (integer x arrays) or --data synthetic"
            if origin
            else INT_DATA_HELP
        )
        return [error("E0409", message, primary, label, related=related, help=help_)]
    found = []
    named = ((data_span, f"data is {info.name}"),) if data_span else ()
    if in_shape is not None and in_shape not in info.shapes:
        fits = " or ".join(fmt_shape(s) for s in info.shapes)
        found.append(
            error(
                "E0407",
                f"input {fmt_shape(in_shape)} does not fit {info.name}, whose samples are {fits}",
                shape_span,
                f"{info.name}{where} needs {fits}",
                related=named,
                help=f"use `input {fmt_shape(info.shapes[0])}`{other}",
            )
        )
    if out_shape is not None and out_shape != (info.classes,):
        classes = ((data_span, f"{info.name}: {info.classes} classes"),) if data_span else ()
        found.append(
            error(
                "E0408",
                f"the last layer outputs {fmt_shape(out_shape)} but {info.name} has "
                f"{info.classes} classes",
                output_span,
                f"outputs {fmt_shape(out_shape)}",
                related=classes,
                help=f"end the model with `dense {info.classes} softmax`{other}",
            )
        )
    return found


def check_data(state: State) -> None:
    """The model's input and output must fit the dataset its train section names."""
    train = state.model.train
    info = data_catalog.lookup(train.data) if train.data else None
    if info is None:
        return
    input_node, out_node = state.model.nodes[0], state.node(state.model.output)
    state.diagnostics += dataset_diagnostics(
        info,
        int_input=getattr(state.params.get(0), "dtype", "float32") == "int",
        in_shape=state.shapes.get(0),
        out_shape=state.shapes.get(out_node.index),
        input_span=input_node.span,
        shape_span=state.arg_spans.get(0, {}).get("shape", input_node.span),
        output_span=out_node.span,
        data_span=train.spans.get("data"),
    )


def check_sizes(state: State) -> None:
    """Warn about implausible sizes: a layer with more than 10^10 parameters (W0301), and the
    first layer on a path whose output has more than 10^10 elements per sample (W0302)."""
    for node in state.model.nodes:
        info = state.infos.get(node.index)
        if info is None:
            continue
        if info.params > limits.WARN_LAYER_PARAMS:
            figure = format_count(info.params)
            state.diagnostics.append(
                warning(
                    limits.W_LAYER_PARAMS,
                    f"{node.kind} `{node.name}` has {figure} parameters",
                    node.span,
                    f"{figure} parameters",
                    notes=("no layer of a real model comes near 10^10 parameters (40 GB)",),
                    help="check the sizes on this line and on the layers before it",
                )
            )
        elements, limit = _elements(info.shape), limits.WARN_ACTIVATION_ELEMENTS
        if elements > limit and all(_elements(state.shapes[i]) <= limit for i in node.inputs):
            figure = format_count(elements)
            state.diagnostics.append(
                warning(
                    limits.W_ACTIVATION_ELEMENTS,
                    f"{node.kind} `{node.name}` outputs {figure} values per sample",
                    node.span,
                    f"{figure} values per sample",
                    notes=("more than 10^10 values (40 GB in float32) for one sample",),
                    help="check the sizes on this line",
                )
            )


def _elements(shape: Shape) -> int:
    total = 1
    for d in shape:
        total *= d
    return total


PASSES = (validate_params, check_dtypes, infer_shapes, count, check_data, check_sizes)
