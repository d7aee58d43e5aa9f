"""What ``specc check`` prints: a per-layer table, totals, the arithmetic, or JSON."""

from __future__ import annotations

from collections.abc import Iterable

from specc.compiler import MACS_CONVENTION, CheckedModel
from specc.diagnostics import format_count, render_all, to_json
from specc.layers import fmt_shape
from specc.limits import MAX_REPORTED_DIAGNOSTICS

# what each kind's non-trainable parameters are, for the note under the totals
NON_TRAINABLE = {
    "batchnorm": "BatchNorm moving mean and variance",
    "normalization": "Normalization mean, variance and sample count",
}


def _kib(n_bytes: int) -> str:
    if n_bytes >= 1 << 80:  # past what a float divides exactly enough to show
        return f"{format_count(n_bytes)} bytes"
    if n_bytes >= 1 << 20:
        return f"{n_bytes / (1 << 20):,.1f} MiB"
    return f"{n_bytes / 1024:,.1f} KiB"


def render_table(checked: CheckedModel, *, explain: bool = False) -> str:
    """The human report of a valid spec: one row per layer, then the totals."""
    model = checked.model
    assert model is not None
    show_inputs = not model.is_sequential
    header = ["layer", "kind", "output", "params", "MACs"] + (["inputs"] if show_inputs else [])
    rows = []
    for node in model.nodes:
        info = checked.infos[node.index]
        row = [
            node.name,
            node.kind,
            fmt_shape(info.shape),
            format_count(info.params),
            format_count(info.macs),
        ]
        if show_inputs:
            row.append(", ".join(model.nodes[i].name for i in node.inputs))
        rows.append((row, checked.explain(node.index) if explain else ()))
    widths = [
        max(len(r[i]) for r in [header] + [row for row, _ in rows]) for i in range(len(header))
    ]
    right = {3, 4}

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=False))
        ]
        return "  " + "  ".join(parts).rstrip()

    out = [f"{model.name}  ({checked.source.name})", "", line(header)]
    out.append("  " + "  ".join("-" * w for w in widths))
    for row, lines in rows:
        out.append(line(row))
        if explain:
            out += [f"      {text}" for text in lines]
    totals = checked.totals()
    out.append("")
    if len(model.inputs) > 1 or len(model.outputs) > 1 or model.outputs[0] != model.nodes[-1].index:
        names = ", ".join(model.nodes[i].name for i in model.inputs)
        out.append(
            f"  inputs: {names};  outputs: " + ", ".join(model.nodes[o].name for o in model.outputs)
        )
    out.append(
        f"  params: {format_count(totals['params'])} total = "
        f"{format_count(totals['trainable_params'])} trainable"
        f" + {format_count(totals['non_trainable_params'])} non-trainable"
    )
    if totals["non_trainable_params"]:
        kinds = {n.kind for n in model.nodes if checked.infos[n.index].non_trainable}
        what = [text for kind, text in NON_TRAINABLE.items() if kind in kinds]
        out.append(
            f"          non-trainable = {', '.join(what) or 'statistics'}, counted as Keras "
            "counts them (PyTorch keeps them as buffers)"
        )
    if totals["torch_params"] != totals["trainable_params"]:
        differ = sorted(
            {
                n.kind
                for n in model.nodes
                if checked.infos[n.index].torch_params != checked.infos[n.index].trainable
            }
        )
        out.append(
            f"          PyTorch counts {format_count(totals['torch_params'])} parameters: its "
            f"{', '.join(differ)} layers keep more (e.g. two LSTM biases where Keras has one), "
            "computing the same function"
        )
    out.append(
        f"  MACs:   {format_count(totals['macs'])} per sample "
        "(weight products of conv, dense, recurrent and attention layers)"
    )
    out.append(
        f"  memory: weights {_kib(totals['weight_bytes'])}, activations "
        f"{_kib(totals['activation_bytes'])} per sample (float32)"
    )
    return "\n".join(out)


def to_document(checked: CheckedModel) -> dict:
    """The ``--format json`` document of one spec (valid or not).

    The language server reads its diagnostics and layer facts from this same document.
    """
    model = checked.model
    doc = {
        "model": model.name if model else None,
        "file": checked.source.name,
        "ok": checked.ok,
        "layers": layer_facts(checked),
        "inputs": [model.nodes[i].name for i in model.inputs] if model else [],
        "outputs": [model.nodes[o].name for o in model.outputs] if model else [],
        "diagnostics": [to_json(d) for d in checked.diagnostics[:MAX_REPORTED_DIAGNOSTICS]],
        "macs_convention": MACS_CONVENTION,
    }
    omitted = len(checked.diagnostics) - MAX_REPORTED_DIAGNOSTICS
    if omitted > 0:
        doc["diagnostics_not_shown"] = omitted
    if checked.ok:
        doc["totals"] = checked.totals()
    return doc


def layer_facts(checked: CheckedModel) -> list[dict]:
    """One entry per layer whose shape is known, in graph order: name, kind, output shape,
    counts, inputs, and where it is written -- its statement (``line``, ``column``,
    ``end_line``, ``end_column``) and, for a layer made by a block, the call sites that made it
    (``call_sites``, innermost first)."""
    model = checked.model
    if model is None:
        return []
    layers = []
    for node in model.nodes:
        info = checked.infos.get(node.index)
        if info is None:
            continue
        span = node.span
        layers.append(
            {
                "name": node.name,
                "kind": node.kind,
                "output_shape": list(info.shape),
                "params": info.params,
                "trainable_params": info.trainable,
                "non_trainable_params": info.non_trainable,
                "macs": info.macs,
                "inputs": [model.nodes[i].name for i in node.inputs],
                "line": span.line,
                "column": span.column,
                "end_line": span.end_line,
                "end_column": span.end_column,
                "call_sites": [_position(site) for site in node.trace],
            }
        )
    return layers


def _position(span) -> dict:
    return {
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
    }


def render_diagnostics(checked: CheckedModel, diagnostics=None, *, hint: bool = True) -> str:
    """Every diagnostic of a spec (or the ``diagnostics`` given), rendered, followed by a
    one-line count and (unless ``hint`` is false: ``specc check`` of several specs gives it
    once, at the end) the :func:`explain_hint`."""
    diagnostics = checked.diagnostics if diagnostics is None else diagnostics
    errors = sum(1 for d in diagnostics if d.severity == "error")
    warnings = len(diagnostics) - errors
    text = render_all(checked.source, diagnostics, MAX_REPORTED_DIAGNOSTICS)
    count = f"{errors:,} error{'s' if errors != 1 else ''}"
    if warnings:
        count += f", {warnings:,} warning{'s' if warnings != 1 else ''}"
    text = f"{text}\n\n{checked.source.name}: {count}"
    closing = explain_hint(d.code for d in diagnostics if d.severity == "error") if hint else ""
    return f"{text}\n\n{closing}" if closing else text


def render_warnings(checked: CheckedModel) -> str:
    """The warnings of a valid spec, rendered, followed by a one-line count ("" if none)."""
    warnings = [d for d in checked.diagnostics if d.severity == "warning"]
    if not warnings:
        return ""
    plural = "s" if len(warnings) != 1 else ""
    text = render_all(checked.source, warnings, MAX_REPORTED_DIAGNOSTICS)
    return f"{text}\n\n{checked.source.name}: {len(warnings)} warning{plural}"


def explain_hint(codes: Iterable[str]) -> str:
    """rustc's closing lines: which codes ``specc explain`` explains ("" for none).

    Every code raised has an explanation (``tests/test_error_codes.py`` sees to it), so the
    catalogue itself is not read here: rendering errors stays as fast as it was.
    """
    unique = sorted(set(codes))
    if not unique:
        return ""
    if len(unique) == 1:
        return f"For more information about this error, try `specc explain {unique[0]}`."
    return (
        f"Some errors have detailed explanations: {', '.join(unique)}.\n"
        f"For more information about an error, try `specc explain {unique[0]}`."
    )
