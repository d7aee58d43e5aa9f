"""Hover: what the thing under the cursor is and what it computes.

- a layer line: its name, kind, output shape, parameters, MACs and the ``--explain``
  arithmetic (one entry per instance for a line in a block body or a ``repeat``);
- a kind name: its usage, as ``specc layers`` prints it;
- a block call: the layers it expands to, with their shapes and totals;
- a block definition or parameter, a named layer, the ``model`` line, a train setting;
- a layer name a line reads (``from=enc1``, ``concat enc1``, ``output head``): the layer it
  reads, as on that layer's own line.
"""

from __future__ import annotations

from specc import data_catalog
from specc.harness.settings import OPTIMIZERS as OPTIMIZER_OPTIONS
from specc.layers import ACTIVATIONS, REGISTRY, canonical, fmt_shape, lookup
from specc.layers.base import ALIASES
from specc.lsp.analysis import Analysis, Layer
from specc.lsp.navigation import written
from specc.lsp.symbols import BLOCK, LAYER, PARAMETER, Symbol, contains, enclosing
from specc.source import Span
from specc.syntax import BlockDef, Call, Statement

MAX_INSTANCES = 8
MAX_ROWS = 60


def usage(name: str) -> str | None:
    """The usage of a kind name (or alias, or activation shorthand), as ``specc layers``."""
    kind = lookup(name)
    if kind is None and name in ACTIVATIONS:
        kind = REGISTRY["activation"]
        return f"`{name}`: activation layer ({kind.summary})"
    if kind is None:
        return None
    aliases = sorted(a for a, k in ALIASES.items() if k == kind.name)
    also = f" (also: {', '.join(f'`{a}`' for a in aliases)})" if aliases else ""
    return f"`{kind.name}`{also}: {kind.summary}"


def layer_text(analysis: Analysis, layer: Layer, explain: bool = True) -> str:
    """One layer: name, kind, shape, counts, and the arithmetic behind them."""
    fact = layer.fact
    head = f"**{layer.name}** · `{layer.kind}` → `{fmt_shape(layer.shape)}`"
    counts = f"params {fact['params']:,}"
    if fact["non_trainable_params"]:
        counts += (
            f" ({fact['trainable_params']:,} trainable + {fact['non_trainable_params']:,} "
            "non-trainable)"
        )
    counts += f" · MACs {fact['macs']:,}"
    parts = [head, counts]
    if explain:
        lines = analysis.facts.explain(layer.index)
        if lines:
            parts.append("```text\n" + "\n".join(lines) + "\n```")
    return "\n\n".join(parts)


def _table(layers: list[Layer]) -> str:
    rows = [(lay.name, lay.kind, fmt_shape(lay.shape), f"{lay.fact['params']:,}") for lay in layers]
    shown = rows[:MAX_ROWS]
    widths = [max(len(r[i]) for r in shown) for i in range(4)]
    text = [
        f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d:>{widths[3]}}"
        for a, b, c, d in shown
    ]
    if len(rows) > MAX_ROWS:
        text.append(f"… and {len(rows) - MAX_ROWS} more")
    return "```text\n" + "\n".join(text) + "\n```"


def expansion_text(analysis: Analysis, site: Span, written: str) -> str:
    """What a block call expands to: its layers with shapes, and the totals."""
    instances = analysis.instances(site)
    if not instances:
        return f"`{written}`: no layers (the spec has errors before this call, or none)"
    layers = [layer for run in instances for layer in run]
    outputs = ", ".join(dict.fromkeys(fmt_shape(run[-1].shape) for run in instances))
    many = f" ×{len(instances)} instances" if len(instances) > 1 else ""
    head = f"**{written}**{many} → `{outputs}`: {len(layers)} layers"
    params = sum(layer.fact["params"] for layer in layers)
    macs = sum(layer.fact["macs"] for layer in layers)
    return "\n\n".join([head, _table(layers), f"params {params:,} · MACs {macs:,}"])


def _statement_text(analysis: Analysis, stmt: Statement, line: int, column: int) -> str | None:
    on_name = contains(stmt.name_span, line, column)
    layers = analysis.by_statement.get(stmt.span) or analysis.by_statement.get(stmt.name_span)
    parts = []
    if on_name and (text := usage(stmt.name)):
        parts.append(text)
    if layers and len(layers) == 1:
        parts.append(layer_text(analysis, layers[0]))
    elif layers:
        parts.append(f"{len(layers)} instances of this line:")
        parts += [layer_text(analysis, lay, explain=False) for lay in layers[:MAX_INSTANCES]]
        if len(layers) > MAX_INSTANCES:
            parts.append(f"… and {len(layers) - MAX_INSTANCES} more")
    return "\n\n".join(parts) or None


def _train_text(stmt: Statement) -> str | None:
    if stmt.name == "data" and stmt.args:
        info = data_catalog.lookup(str(stmt.args[0].value.value))
        if info is not None:
            shapes = " or ".join(f"`{fmt_shape(s)}`" for s in info.shapes) or "of any size"
            return f"**{info.name}**: {info.description}; input {shapes}, {info.classes} classes"
    if stmt.name == "optimizer" and stmt.args:
        name = str(stmt.args[0].value.value).lower()
        if name in OPTIMIZER_OPTIONS:
            keys = ", ".join(f"`{k}=`" for k in OPTIMIZER_OPTIONS[name])
            return f"**{name}** takes {keys}"
    return None


def _block_text(analysis: Analysis, block: BlockDef) -> str:
    formals = ", ".join(
        f.name + (f"={f.default.text}" if f.default is not None else "") for f in block.formals
    )
    calls = [o for o in analysis.symbols.uses(Symbol(BLOCK, block.name)) if not o.definition]
    return f"**block {block.name}({formals})**: called {len(calls)} time(s) in this spec"


def _reference_text(analysis: Analysis, nodes: list[int]) -> str | None:
    """The layer a name reads (``concat enc1``), one per instance of its line."""
    by_index = {layer.index: layer for layer in analysis.layers}
    layers = [by_index[i] for i in dict.fromkeys(nodes) if i in by_index]
    if len(layers) == 1:
        return layer_text(analysis, layers[0])
    if not layers:
        return None
    parts = [f"reads {len(layers)} layers, one per instance of this line:"]
    parts += [layer_text(analysis, lay, explain=False) for lay in layers[:MAX_INSTANCES]]
    if len(layers) > MAX_INSTANCES:
        parts.append(f"… and {len(layers) - MAX_INSTANCES} more")
    return "\n\n".join(parts)


def hover_text(analysis: Analysis, line: int, column: int) -> str | None:
    """Markdown for the hover at a 1-based position, or None when there is nothing to say."""
    symbols = analysis.symbols
    occurrence = symbols.at(line, column)
    path = enclosing(analysis.program, line, column)
    if occurrence is not None:
        symbol = occurrence.symbol
        if symbol.kind == BLOCK and occurrence.definition:
            return _block_text(analysis, symbols.blocks[symbol.name])
        if symbol.kind == PARAMETER:
            block = symbols.blocks.get(symbol.scope)
            formals = block.formals if block else ()
            formal = next((f for f in formals if f.name == symbol.name), None)
            default = f" (default `{formal.default.text}`)" if formal and formal.default else ""
            return f"parameter `{symbol.name}` of block `{symbol.scope}`{default}"
        if symbol.kind == LAYER and not occurrence.definition:
            text = _reference_text(analysis, symbols.targets.get(occurrence.span, []))
            if text:
                return text
        if symbol.kind == LAYER:
            layer = next((lay for lay in analysis.layers if lay.name == symbol.name), None)
            if layer is not None:
                return layer_text(analysis, layer)
    for node in reversed(path):
        if isinstance(node, Call):
            return expansion_text(analysis, node.span, written(node))
        if isinstance(node, Statement) and node.name in symbols.blocks:
            return expansion_text(analysis, node.span, written(node))
        if isinstance(node, Statement):
            if len(path) >= 2 and isinstance(path[-2], Statement) and path[-2].name == "train":
                return _train_text(node)
            facts = analysis.facts_document
            if node.name == "model" and facts.get("totals"):
                totals = facts["totals"]
                return (
                    f"**{facts['model']}**: {len(analysis.layers)} layers · params "
                    f"{totals['params']:,} ({totals['trainable_params']:,} trainable) · MACs "
                    f"{totals['macs']:,} per sample"
                )
            text = _statement_text(analysis, node, line, column)
            if text or canonical(node.name) in REGISTRY:
                return text
        if isinstance(node, BlockDef) and contains(node.name_span, line, column):
            return _block_text(analysis, node)
    return None
