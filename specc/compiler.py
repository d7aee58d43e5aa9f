"""The front end as one call: text -> parse -> lower -> passes -> checked model."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specc.diagnostics import Diagnostic, SpecError
from specc.ir import Model
from specc.layers import lookup
from specc.lowering import lower
from specc.passes import PASSES, LayerInfo, State
from specc.source import SourceFile
from specc.syntax import parse

# What "MACs" counts, wherever specc shows them (the table, --explain, the JSON)
MACS_CONVENTION = (
    "multiply-accumulates of weight products per sample: conv, dense, recurrent and attention "
    "layers (its projections and its score and value products); bias adds, normalisation, "
    "pooling, activations and merges count 0 (fvcore's and thop's convention)"
)


@dataclass
class CheckedModel:
    """A spec after every pass: the IR, what was inferred, and every diagnostic."""

    source: SourceFile
    model: Model | None
    infos: dict[int, LayerInfo] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    params: dict[int, Any] = field(default_factory=dict)
    # which written argument gave each parameter (node -> parameter -> RawArg): the emitters
    # write a block's arguments as the spec wrote them
    bindings: dict[int, dict] = field(default_factory=dict)
    # the parsed spec (top-level AST nodes); empty when it has syntax errors
    program: tuple = ()

    @property
    def ok(self) -> bool:
        """True when the spec has no errors."""
        return self.model is not None and not any(d.severity == "error" for d in self.diagnostics)

    def explain(self, index: int) -> tuple[str, ...]:
        """The arithmetic behind node ``index``'s shape and counts, one line per fact; a
        layer without MACs says why it counts none (:data:`MACS_CONVENTION`)."""
        node = self.model.nodes[index]
        inputs = [self.infos[i].shape for i in node.inputs]
        kind = lookup(node.kind)
        info = self.infos[index]
        lines = list(kind.explain(self.params[index], inputs, info.shape))
        if info.macs == 0 and node.kind != "input":
            if info.params:
                lines.append("MACs: 0 (norms, embeddings and scales have no weight products)")
            else:
                lines.append("MACs: 0 (no weight products)")
        return tuple(lines)

    def totals(self) -> dict[str, int]:
        """Model-wide counts: parameters (all, trainable, non-trainable, and what PyTorch's
        ``sum(p.numel() for p in model.parameters())`` counts), MACs, memory."""
        infos = self.infos.values()
        trainable = sum(i.trainable for i in infos)
        frozen = sum(i.non_trainable for i in infos)
        return {
            "params": trainable + frozen,
            "trainable_params": trainable,
            "non_trainable_params": frozen,
            "torch_params": sum(i.torch_params for i in infos),
            "macs": sum(i.macs for i in infos),
            "weight_bytes": 4 * (trainable + frozen),
            "activation_bytes": 4 * sum(_size(i.shape) for i in infos),
        }


def _size(shape: tuple[int, ...]) -> int:
    total = 1
    for d in shape:
        total *= d
    return total


def check_source(source: SourceFile) -> CheckedModel:
    """Run the whole front end on one spec, collecting every diagnostic."""
    # The front end allocates many small objects and frees none of them until the end: the
    # cyclic collector's repeated full passes make large specs superlinear (~30% at 10k layers).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _check_source(source)
    finally:
        if enabled:
            gc.enable()


def _check_source(source: SourceFile) -> CheckedModel:
    program, diagnostics = parse(source)
    if diagnostics:
        return CheckedModel(source, None, diagnostics=diagnostics)
    model = lower(source, program, diagnostics)
    if model is None:
        return CheckedModel(source, None, diagnostics=diagnostics, program=program)
    state = State(model, diagnostics, source=source)
    for run_pass in PASSES:
        run_pass(state)
    diagnostics.sort(key=_position)
    return CheckedModel(
        source, model, state.infos, diagnostics, state.params, state.bindings, program
    )


def _position(diag: Diagnostic) -> tuple[int, int]:
    span = diag.primary_span
    return (span.line, span.column) if span else (0, 0)


def check_text(text: str, name: str = "<spec>") -> CheckedModel:
    """Check a spec given as a string."""
    return check_source(SourceFile(name, text))


def check_file(path: str | Path) -> CheckedModel:
    """Check a spec file; the displayed name is the path as given."""
    path = Path(path)
    return check_source(SourceFile(str(path), path.read_text(encoding="utf-8")))


def load(path: str | Path) -> CheckedModel:
    """Check a spec file and raise :class:`SpecError` if it has errors."""
    checked = check_file(path)
    if not checked.ok:
        raise SpecError(checked.source, checked.diagnostics)
    return checked
