"""The ``train { ... }`` section: read its settings into a validated TrainConfig.

:func:`read_train` is a plain function of the section's statement and a reporter; every
setting is checked where it is written -- unknown keys with a did-you-mean, the dataset, the
loss the harness supports, and the keyword arguments each optimizer accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from specc import data_catalog
from specc.diagnostics import Diagnostic, closest, did_you_mean, error, friendly_message
from specc.exprs import resolve
from specc.harness.settings import LOSSES, METRICS
from specc.harness.settings import OPTIMIZERS as OPTIMIZER_OPTIONS
from specc.ir import TrainConfig
from specc.source import Span
from specc.syntax import Arg, Statement

Report = Callable[[Diagnostic], None]

# the settings a train section takes (their spellings) -> the TrainConfig field
TRAIN_KEYS = {
    "data": "data",
    "loss": "loss",
    "optimizer": "optimizer",
    "batch": "batch_size",
    "batch_size": "batch_size",
    "epochs": "epochs",
    "metrics": "metrics",
    "seed": "seed",
    "validation_split": "validation_split",
}


def read_train(stmt: Statement | None, report: Report) -> TrainConfig:
    """The validated settings of a ``train { ... }`` section (the defaults when there is none);
    every mistake is reported at the setting where it is written."""
    if stmt is None:
        return TrainConfig()
    return _Reader(report).section(stmt)


class _Reader:
    """Reads one train section, reporting through ``report``."""

    def __init__(self, report: Report):
        self.report = report

    def section(self, stmt: Statement) -> TrainConfig:
        """The section's settings, validated as a TrainConfig."""
        if stmt.args or len(stmt.clauses) != 1 or stmt.clauses[0].name is not None:
            self.report(
                error("E0401", "`train` needs one { } body", stmt.span, "expected `train { ... }`")
            )
            return TrainConfig(span=stmt.name_span)
        values: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        items: dict[str, Statement] = {}
        for item in stmt.clauses[0].body:
            if not isinstance(item, Statement) or item.clauses:
                self.report(error("E0401", "expected `key value`", item.span, "not a setting"))
                continue
            key = TRAIN_KEYS.get(item.name)
            if key is None:
                close = closest(item.name, TRAIN_KEYS)
                self.report(
                    error(
                        "E0402",
                        f"unknown train setting `{item.name}`",
                        item.name_span,
                        "unknown setting",
                        fixes=did_you_mean(item.name_span, item.name, close),
                        help=f"did you mean `{close}`?"
                        if close
                        else "settings: " + ", ".join(sorted(set(TRAIN_KEYS) - {"batch_size"})),
                    )
                )
                continue
            if key in values:
                self.report(
                    error(
                        "E0403",
                        f"`{item.name}` is set twice",
                        item.name_span,
                        "set again",
                        related=((spans[key], "first set here"),),
                    )
                )
                continue
            spans[key] = item.span
            items[key] = item
            parsed = self.train_value(key, item)
            if parsed is not None:
                values.update(parsed)
        try:
            return TrainConfig(**values, span=stmt.name_span, spans=spans)
        except Exception as exc:  # pydantic.ValidationError
            for err in getattr(exc, "errors", list)():
                field_name = str(err["loc"][0]) if err.get("loc") else ""
                item = items.get(field_name)
                # name the setting as written (`batch`, not `batch_size`), point at its value
                written = item.name if item else field_name
                where = item.args[0].span if item and item.args else stmt.name_span
                message = friendly_message(err)
                self.report(
                    error(
                        "E0404",
                        f"bad value for `{written}`: {message}",
                        where,
                        f"{message}, got {err.get('input')!r}",
                    )
                )
            return TrainConfig(span=stmt.name_span, spans=spans)

    def train_value(self, key: str, item: Statement) -> dict[str, Any] | None:
        positional = [a for a in item.args if a.key is None]
        keyword = [a for a in item.args if a.key is not None]
        if key == "metrics":
            if keyword or not positional:
                self.report(
                    error("E0404", "`metrics` takes names", item.span, "e.g. metrics accuracy")
                )
                return None
            unknown = [a for a in positional if str(a.value.value) not in METRICS]
            for arg in unknown:  # never accepted and silently not reported
                close = closest(str(arg.value.value), METRICS, 0.5)
                self.report(
                    error(
                        "E0412",
                        f"unsupported metric `{arg.value.text}`",
                        arg.span,
                        "the training harness does not report this metric",
                        fixes=did_you_mean(arg.span, arg.value.text, close),
                        help=f"did you mean `{close}`?"
                        if close
                        else "the harness reports " + ", ".join(METRICS) + " (and the loss)",
                    )
                )
            if unknown:
                return None
            return {"metrics": tuple(str(a.value.value) for a in positional)}
        if key == "optimizer":
            if len(positional) != 1:
                self.report(
                    error(
                        "E0404",
                        "`optimizer` takes a name",
                        item.span,
                        "e.g. optimizer adam lr=0.001",
                    )
                )
                return None
            name = str(positional[0].value.value).lower()
            if name not in OPTIMIZER_OPTIONS:
                close = closest(name, OPTIMIZER_OPTIONS)
                self.report(
                    error(
                        "E0405",
                        f"unknown optimizer `{name}`",
                        positional[0].span,
                        "not supported",
                        fixes=did_you_mean(positional[0].span, name, close),
                        help="use adam, adamw, sgd or rmsprop",
                    )
                )
                return None
            options = self.optimizer_options(name, keyword)
            return None if options is None else {"optimizer": name, "optimizer_args": options}
        if len(item.args) != 1 or keyword:
            self.report(
                error("E0404", f"`{item.name}` takes one value", item.span, "expected one value")
            )
            return None
        value = positional[0].value.value
        if key == "loss" and str(value) not in LOSSES:
            close = closest(str(value), LOSSES, 0.5)
            self.report(
                error(
                    "E0410",
                    f"unsupported loss `{value}`",
                    positional[0].span,
                    "the training harness does not implement this loss",
                    fixes=did_you_mean(positional[0].span, str(value), close),
                    help=f"did you mean `{close}`? (labels are integer class indices)"
                    if close
                    else "the harness supports " + ", ".join(LOSSES),
                )
            )
            return None
        if key == "data" and not data_catalog.is_known_source(str(value)):
            close = closest(str(value), data_catalog.CATALOG)
            self.report(
                error(
                    "E0406",
                    f"unknown dataset `{value}`",
                    positional[0].span,
                    "not a known dataset",
                    fixes=did_you_mean(positional[0].span, str(value), close),
                    help=f"did you mean `{close}`?"
                    if close
                    else 'use digits, iris, wine, mnist, cifar10, synthetic, "npz:PATH" or '
                    '"folder:DIR"',
                )
            )
            return None
        return {key: value}

    def optimizer_options(self, name: str, keyword: list[Arg]) -> dict[str, float] | None:
        """The optimizer's keyword arguments as numbers, each one the optimizer accepts."""
        accepted = OPTIMIZER_OPTIONS[name]
        options: dict[str, float] = {}
        ok = True
        for a in keyword:
            if a.key not in accepted:
                close = closest(a.key, accepted)
                self.report(
                    error(
                        "E0411",
                        f"{name} has no argument `{a.key}`",
                        a.span,
                        "unknown optimizer argument",
                        fixes=did_you_mean(a.key_span, a.key, close),
                        help=f"did you mean `{close}`?"
                        if close
                        else f"{name} takes " + ", ".join(f"{k}=" for k in accepted),
                    )
                )
                ok = False
                continue
            bound = resolve(a.value, {}, self.report)
            if bound is None or not isinstance(bound.value, int | float):
                self.report(error("E0404", f"`{a.key}` must be a number", a.span, "not a number"))
                ok = False
                continue
            first = next((b for b in keyword if b.key in ("lr", "learning_rate")), a)
            if a.key in ("lr", "learning_rate") and first is not a:
                self.report(
                    error(
                        "E0403",
                        "the learning rate is set twice",
                        a.span,
                        "set again here",
                        related=((first.span, "first set here"),),
                        help="`lr` and `learning_rate` are the same setting: keep one",
                    )
                )
                ok = False
                continue
            if a.key in ("lr", "learning_rate", "epsilon") and bound.value <= 0:
                self.report(
                    error(
                        "E0404",
                        f"bad value for `{a.key}`: must be greater than 0",
                        a.span,
                        f"must be greater than 0, got {bound.value!r}",
                    )
                )
                ok = False
                continue
            options[a.key] = float(bound.value)
        if options.get("nesterov") and not options.get("momentum"):
            self.report(
                error(
                    "E0404",
                    "`nesterov` needs a momentum",
                    next(a.span for a in keyword if a.key == "nesterov"),
                    "nesterov without momentum",
                    help="add momentum=0.9, or drop nesterov",
                )
            )
            ok = False
        return options if ok else None
