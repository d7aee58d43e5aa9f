"""Inlay hints: what each line of a spec makes, written at its end.

A layer line shows its output shape and parameters (``→ 30x30x32 · 896 params``), so the
reference model's 30x30x32 → 15x15x32 → 13x13x64 → ... → 10 walk reads down the spec while it
is typed.  A line inside a block body or a ``repeat`` makes one layer per instance and shows
each distinct shape; a block call shows what its instance outputs and the parameters it adds;
the ``model`` line shows the totals.
"""

from __future__ import annotations

from lsprotocol import types as lsp

from specc.layers import fmt_shape
from specc.lsp.analysis import Analysis, Layer
from specc.lsp.positions import LineIndex
from specc.source import Span

MAX_SHAPES = 4
MERGES = ("add", "concat")


def _params(total: int) -> str:
    return f" · {total:,} params" if total else ""


def _shapes(shapes: list[tuple[int, ...]]) -> str:
    distinct = list(dict.fromkeys(shapes))
    shown = " | ".join(fmt_shape(s) for s in distinct[:MAX_SHAPES])
    return shown + (" | …" if len(distinct) > MAX_SHAPES else "")


def statement_label(layers: list[Layer]) -> str:
    """The hint of a statement that made ``layers`` (one per instance)."""
    merge = f"{layers[0].kind} " if layers[0].kind in MERGES else ""
    count = f" ×{len(layers)}" if len(layers) > 1 else ""
    total = sum(layer.fact["params"] for layer in layers)
    return f"{merge}→ {_shapes([layer.shape for layer in layers])}{count}{_params(total)}"


def call_label(instances: list[list[Layer]]) -> str:
    """The hint of a block call that made ``instances`` (lists of layers, one per instance)."""
    count = f" ×{len(instances)}" if len(instances) > 1 else ""
    total = sum(layer.fact["params"] for run in instances for layer in run)
    return f"→ {_shapes([run[-1].shape for run in instances])}{count}{_params(total)}"


def _tooltip(layers: list[Layer]) -> str:
    rows = [
        f"{layer.name}: {layer.kind} → {fmt_shape(layer.shape)}, {layer.fact['params']:,} "
        f"params, {layer.fact['macs']:,} MACs"
        for layer in layers[:12]
    ]
    if len(layers) > 12:
        rows.append(f"… and {len(layers) - 12} more")
    return "\n".join(rows)


def hints(analysis: Analysis) -> list[tuple[Span, str, str]]:
    """Every hint of the document: (the span it follows, label, tooltip), in text order."""
    found: list[tuple[Span, str, str]] = []
    for span, layers in analysis.by_statement.items():
        if layers[0].kind != "input":
            found.append((span, statement_label(layers), _tooltip(layers)))
    for site in analysis.by_call_site:
        instances = analysis.instances(site)
        found.append((site, call_label(instances), _tooltip([r[-1] for r in instances])))
    model = analysis.facts.model
    totals = analysis.facts_document.get("totals")
    if model is not None and model.span is not None and totals:
        label = f"{totals['params']:,} params · {totals['macs']:,} MACs"
        found.append((model.span, label, "the model's totals (MACs per sample)"))
    found.sort(key=lambda item: (item[0].end_line, item[0].end_column))
    return found


def inlay_hints(analysis: Analysis, lines: LineIndex, wanted: lsp.Range) -> list[lsp.InlayHint]:
    """The hints whose position falls inside ``wanted``."""
    result = []
    for span, label, tooltip in hints(analysis):
        position = lines.position(span.end_line, span.end_column)
        if not wanted.start.line <= position.line <= wanted.end.line:
            continue
        result.append(
            lsp.InlayHint(
                position=position,
                label=label,
                kind=lsp.InlayHintKind.Type,
                padding_left=True,
                tooltip=tooltip,
            )
        )
    return result
