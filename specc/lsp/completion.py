"""Completion and signature help, from the text before the cursor.

At the start of a statement: layer kinds (with their usage), their aliases, activation names,
the blocks the spec defines (with their parameters) and the keywords that fit where the cursor
is.  After a kind: its parameter keys (type and default, from the kind's pydantic schema) and
its bare words; after ``key=``: that parameter's values; after ``from=``, in a merge's
arguments (``concat``, ``add``, ``multiply``) and after ``output``: the layers named so far in
the cursor's naming scope.  In the train section: its settings,
then the datasets, losses, optimizers (and each optimizer's arguments) and metrics.  Inside a
block call: the block's parameters, and signature help.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt
from lsprotocol import types as lsp
from pydantic_core import PydanticUndefined

from specc import data_catalog
from specc.harness.settings import LOSSES, METRICS
from specc.harness.settings import OPTIMIZERS as OPTIMIZER_OPTIONS
from specc.layers import ACTIVATIONS, REGISTRY, lookup
from specc.layers.base import ALIASES
from specc.lsp.context import Call, CursorContext, block_signatures

Kind = lsp.CompletionItemKind
# kinds that only the structure makes (residual/branch merges) or that open the model
NOT_WRITTEN = ("add", "concat", "input")
TOP_LEVEL_KEYWORDS = ("model", "input", "block", "train")
BODY_KEYWORDS = ("repeat", "residual", "branch", "if", "sequential")
CLAUSE_KEYWORDS = {"residual": "shortcut", "if": "else", "shortcut": None, "else": None}
OPEN_SOURCES = {
    "synthetic": "random data of the model's shapes",
    '"npz:PATH"': "arrays x_train, y_train (x_test, y_test) in a .npz file",
    '"folder:DIR"': "images in one sub-folder per class",
}


def train_settings() -> dict[str, str]:
    """The settings a train section accepts, as written, with what each one sets."""
    from specc.train_section import TRAIN_KEYS  # the list the train section is read with

    return dict(TRAIN_KEYS)


# -- parameter schemas ----------------------------------------------------------------------


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the annotation without ``Annotated`` and ``| None``, whether None is allowed)."""
    optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            annotation = args[0] if len(args) == 1 else annotation
            if len(args) != 1:
                return annotation, optional
        else:
            return annotation, optional


def _bounds(metadata: list) -> str:
    parts = []
    for item in metadata:
        if isinstance(item, Gt):
            parts.append(f"> {item.gt}")
        elif isinstance(item, Ge):
            parts.append(f">= {item.ge}")
        elif isinstance(item, Lt):
            parts.append(f"< {item.lt}")
        elif isinstance(item, Le):
            parts.append(f"<= {item.le}")
    return " and ".join(parts)


def describe_type(field) -> str:
    """A parameter's type as a spec writes it: ``valid | same``, ``NxN``, ``int > 0``."""
    annotation, _ = _unwrap(field.annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):  # e.g. `valid | same`, or explicit sizes
        parts = [_Field(a) for a in typing.get_args(annotation) if a is not type(None)]
        return " | ".join(describe_type(part) for part in parts)
    if origin is Literal:
        return " | ".join(str(v) for v in typing.get_args(annotation))
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return "size (N, LxC or HxWxC)"
        return "size (" + ("N" if len(args) == 1 else "N or " + "x".join("N" * len(args))) + ")"
    if annotation is bool:
        return "true | false"
    name = {int: "int", float: "number", str: "name"}.get(annotation, str(annotation))
    bounds = _bounds(field.metadata)
    return f"{name} {bounds}" if bounds else name


def format_default(value: Any) -> str:
    """A default value as a spec writes it."""
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


class _Field:
    """A member of a union annotation, seen as a field of its own."""

    def __init__(self, annotation: Any):
        self.annotation = annotation
        self.metadata: list = []


def values_of(field) -> list[str]:
    """The values a parameter can take, when they are a closed set (the words among them)."""
    annotation, _ = _unwrap(field.annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        found = []
        for member in typing.get_args(annotation):
            found += [v for v in values_of(_Field(member)) if v not in found]
        return found
    if typing.get_origin(annotation) is Literal:
        return [str(v) for v in typing.get_args(annotation)]
    if annotation is bool:
        return ["true", "false"]
    return []


# -- items ----------------------------------------------------------------------------------


def _item(label: str, kind, detail: str = "", doc: str = "", insert: str | None = None, **kw):
    return lsp.CompletionItem(
        label=label,
        kind=kind,
        detail=detail or None,
        documentation=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=doc) if doc else None,
        insert_text=insert,
        **kw,
    )


def _kind_items() -> list[lsp.CompletionItem]:
    items = []
    for name, kind in sorted(REGISTRY.items()):
        if name in NOT_WRITTEN:
            continue
        items.append(_item(name, Kind.Class, kind.summary, _params_doc(kind)))
    for alias, name in sorted(ALIASES.items()):
        kind = REGISTRY[name]
        items.append(_item(alias, Kind.Class, f"{name}: {kind.summary}", _params_doc(kind)))
    for fn in ACTIVATIONS:
        items.append(_item(fn, Kind.Function, f"activation layer: {fn}"))
    return items


def _params_doc(kind) -> str:
    rows = [
        f"- `{key}`: {describe_type(field)} (default {format_default(field.default)})"
        for key, field in kind.Params.model_fields.items()
    ]
    return "\n".join(rows)


def _block_items(blocks: dict, snippets: bool) -> list[lsp.CompletionItem]:
    items = []
    for name, formals in blocks.items():
        signature = f"{name}({', '.join(_formal(f) for f in formals)})"
        required = [f for f, default in formals if default is None]
        if snippets:
            inner = ", ".join(f"${{{i}:{f}}}" for i, f in enumerate(required, 1))
            insert, fmt = f"{name}({inner})$0", lsp.InsertTextFormat.Snippet
        else:
            insert, fmt = f"{name}()", lsp.InsertTextFormat.PlainText
        items.append(
            _item(name, Kind.Module, f"block {signature}", insert=insert, insert_text_format=fmt)
        )
    return items


def _formal(formal: tuple[str, str | None]) -> str:
    name, default = formal
    return name if default is None else f"{name}={default}"


def _keyword_items(ctx: CursorContext) -> list[lsp.CompletionItem]:
    words: list[str] = []
    clause = CLAUSE_KEYWORDS.get(ctx.closed or "")
    if clause:
        words.append(clause)
    if not ctx.frames:
        words += TOP_LEVEL_KEYWORDS
    words += BODY_KEYWORDS
    return [_item(w, Kind.Keyword) for w in dict.fromkeys(words)]


def _parameter_items(kind, given: set[str], extra: list[str]) -> list[lsp.CompletionItem]:
    items = []
    for key, field in kind.Params.model_fields.items():
        if key in given:
            continue
        detail = f"{describe_type(field)} (default {format_default(field.default)})"
        items.append(_item(f"{key}=", Kind.Property, detail, kind.summary, insert=f"{key}="))
    for word, (key, value) in kind.words.items():
        if key not in given:
            items.append(_item(word, Kind.EnumMember, f"sets {key}={format_default(value)}"))
    items += [_item(name, Kind.Variable, "block parameter") for name in extra]
    items.append(_item("name=", Kind.Property, "the layer's name", insert="name="))
    if kind.name != "input":
        items.append(_item("from=", Kind.Property, "read a named layer", insert="from="))
    return items


def _given_keys(kind, words: list[str]) -> set[str]:
    given = {words[i - 1] for i, w in enumerate(words) if w == "=" and i > 0}
    given |= {kind.words[w][0] for w in words if w in kind.words}
    return given


def _values(options, kind, detail: str = "") -> list[lsp.CompletionItem]:
    if isinstance(options, dict):
        return [_item(name, kind, text or detail) for name, text in options.items()]
    return [_item(name, kind, detail) for name in options]


def _train_items(ctx: CursorContext) -> list[lsp.CompletionItem]:
    words = [w for w in ctx.words if w != "="]
    settings = train_settings()
    if not ctx.words:
        return [_item(k, Kind.Property, f"sets {v}") for k, v in settings.items()]
    setting = settings.get(ctx.words[0])
    if ctx.words[-1] == "=":
        return []
    if setting == "data" and len(words) == 1:
        known = {name: info.description for name, info in data_catalog.CATALOG.items()}
        return _values({**known, **OPEN_SOURCES}, Kind.Value)
    if setting == "loss" and len(words) == 1:
        return _values({n: f"loss on {loss.labels}" for n, loss in LOSSES.items()}, Kind.Value)
    if setting == "metrics":
        metrics = {n: m.description for n, m in METRICS.items() if n not in words}
        return _values(metrics, Kind.Value)
    if setting == "optimizer" and len(words) == 1:
        return _values(list(OPTIMIZER_OPTIONS), Kind.Value, "optimizer")
    if setting == "optimizer":
        accepted = OPTIMIZER_OPTIONS.get(words[1].lower(), ())
        given = {ctx.words[i - 1] for i, w in enumerate(ctx.words) if w == "="}
        return [
            _item(f"{k}=", Kind.Property, f"{words[1]} argument", insert=f"{k}=")
            for k in accepted
            if k not in given
        ]
    return []


def complete(ctx: CursorContext, text: str, snippets: bool = False) -> list[lsp.CompletionItem]:
    """The completion items for a cursor context in ``text``."""
    if ctx.in_string:
        return []
    blocks = block_signatures(text)
    if ctx.call is not None:
        return _call_items(ctx.call, blocks)
    if ctx.in_expression:
        formals = blocks.get(ctx.block or "", [])
        return [_item(name, Kind.Variable, "block parameter") for name, _ in formals]
    if ctx.section == "train":
        return _train_items(ctx)
    if not ctx.words:
        items = _keyword_items(ctx) + _kind_items() + _block_items(blocks, snippets)
        return items
    first = ctx.words[0]
    formals = [name for name, _ in blocks.get(ctx.block or "", [])]
    if first in ("model", "block", "input") and len(ctx.words) == 1:
        return []
    if first == "branch" and len(ctx.words) == 1:
        return _values({"concat": "join on channels", "add": "sum"}, Kind.EnumMember)
    if first in ("repeat", "if"):
        return [_item(name, Kind.Variable, "block parameter") for name in formals]
    if first == "output":
        return _layer_items(ctx, ctx.words)
    kind = lookup(first) or (REGISTRY["activation"] if first in ACTIVATIONS else None)
    if kind is None:
        return []
    if ctx.words[-1] == "=" and ctx.words[-2:-1] == ["from"]:
        return _layer_items(ctx, [])
    if ctx.words[-1] == "=" and len(ctx.words) >= 2:
        field = kind.Params.model_fields.get(ctx.words[-2])
        options = values_of(field) if field is not None else []
        return _values(options, Kind.EnumMember, ctx.words[-2]) + [
            _item(name, Kind.Variable, "block parameter") for name in formals
        ]
    items = _parameter_items(kind, _given_keys(kind, ctx.words), formals)
    if getattr(kind, "merge", False):  # `concat enc1`, `add a b`: the layers it merges
        items = _layer_items(ctx, ctx.words) + items
    return items


def _layer_items(ctx: CursorContext, given: list[str]) -> list[lsp.CompletionItem]:
    """The named layers visible at the cursor, less those already written."""
    return [_item(name, Kind.Reference, "layer") for name in ctx.names if name not in given]


def _call_items(call: Call, blocks: dict) -> list[lsp.CompletionItem]:
    formals = blocks.get(call.name)
    if formals is None or call.key is not None:
        return []
    return [
        _item(
            f"{name}=",
            Kind.Property,
            f"default {default}" if default else "required",
            insert=f"{name}=",
        )
        for name, default in formals
        if name not in call.keys
    ]


def signature_help(ctx: CursorContext, text: str) -> lsp.SignatureHelp | None:
    """The signature of the block whose call the cursor is in."""
    if ctx.call is None:
        return None
    formals = block_signatures(text).get(ctx.call.name)
    if formals is None:
        return None
    parts = [_formal(f) for f in formals]
    label = f"{ctx.call.name}("
    parameters = []
    for i, part in enumerate(parts):
        start = len(label)
        label += part
        parameters.append(lsp.ParameterInformation(label=(start, len(label))))
        if i < len(parts) - 1:
            label += ", "
    label += ")"
    names = [name for name, _ in formals]
    active = names.index(ctx.call.key) if ctx.call.key in names else ctx.call.index
    return lsp.SignatureHelp(
        signatures=[lsp.SignatureInformation(label=label, parameters=parameters)],
        active_signature=0,
        active_parameter=min(active, max(len(parts) - 1, 0)),
    )
