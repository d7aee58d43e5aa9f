"""Where a train section's settings are written: the spans the checks against the model point
at (``specc/train_checks.py``, ``specc/output_checks.py``), keyed by what they locate.
"""

from __future__ import annotations

from specc.source import Span
from specc.syntax import Statement

# settings written once per output (`loss mse output=alcohol`): the TrainConfig field they add to
PER_OUTPUT = {"loss": "losses", "metrics": "output_metrics"}


def detail_spans(key: str, item: Statement) -> dict[str, Span]:
    """Where the parts of a setting are written, for the checks against the model:
    ``loss.value`` (the loss's name), ``monitor.value``, ``metrics.NAME`` (each metric)."""
    found = {}
    positional = [a for a in item.args if a.key is None]
    if positional:
        found[f"{key}.value"] = positional[0].span
    if key == "metrics":
        for arg in item.args:
            name = arg.key if arg.key is not None else str(arg.value.value)
            found.setdefault(f"metrics.{name}", arg.span)
    return found


def output_spans(key: str, item: Statement) -> dict[str, Span]:
    """Where a per-output line is written: ``loss@NAME``, ``metrics@NAME`` (its line) and
    ``metrics@NAME.METRIC`` (each metric), for the checks against the model's outputs."""
    output = next((a for a in item.args if a.key == "output"), None)
    if key not in PER_OUTPUT or output is None:
        return {}
    name = str(output.value.value)
    found = {f"{key}@{name}": item.span, f"{key}@{name}.output": output.span}
    if key == "metrics":
        for arg in item.args:
            if arg.key != "output":
                word = arg.key if arg.key is not None else str(arg.value.value)
                found.setdefault(f"metrics@{name}.{word}", arg.span)
    return found
