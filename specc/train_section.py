"""The ``train { ... }`` section: read its settings into a validated TrainConfig.

:func:`read_train` is a plain function of the section's statement and a reporter; every
setting is checked where it is written -- unknown keys with a did-you-mean, the dataset, the
task, the loss, the metrics, the optimizer, the schedule and every argument of theirs against
the harness's tables (``specc/harness/tasks.py``, ``schedules.py``, ``augment.py``).  What
depends on the model (the pairing of task, last layer, loss and metrics) is checked after
shape inference, in ``specc/train_checks.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from specc import data_catalog
from specc.diagnostics import Diagnostic, closest, did_you_mean, error, friendly_message
from specc.exprs import resolve
from specc.harness import arguments
from specc.harness.augment import AUGMENT, NORMALIZE
from specc.harness.schedules import CLIP, EARLY_STOPPING, SCHEDULES
from specc.harness.settings import OPTIMIZERS as OPTIMIZER_OPTIONS
from specc.harness.tasks import LOSS_ALIASES, LOSSES, METRICS, OUTPUT_ARGS, TASKS
from specc.ir import TrainConfig
from specc.source import Span
from specc.syntax import Arg, Statement
from specc.train_spans import PER_OUTPUT, detail_spans, output_spans

Report = Callable[[Diagnostic], None]

# the settings a train section takes (their spellings) -> the TrainConfig field
TRAIN_KEYS = {
    "data": "data",
    "task": "task",
    "loss": "loss",
    "optimizer": "optimizer",
    "schedule": "schedule",
    "batch": "batch_size",
    "batch_size": "batch_size",
    "epochs": "epochs",
    "metrics": "metrics",
    "monitor": "monitor",
    "early_stopping": "early_stopping",
    "clip": "clip",
    "accumulate": "accumulate",
    "augment": "augment",
    "normalize": "normalize",
    "seed": "seed",
    "validation_split": "validation_split",
}
# settings written as `key NAME args...`: (table of names, code for an unknown name)
_NAMED_WITH_ARGS = ("optimizer", "schedule", "loss")
# settings written as `key arg=value ...` (may be bare): their argument tables
_ARGUMENTS_ONLY = {"early_stopping": EARLY_STOPPING, "clip": CLIP, "augment": AUGMENT}


def read_train(stmt: Statement | None, report: Report) -> TrainConfig:
    """The validated settings of a ``train { ... }`` section (the defaults when there is none);
    every mistake is reported at the setting where it is written."""
    if stmt is None:
        return TrainConfig()
    return _Reader(report).section(stmt)


def _labels_of(loss: str) -> str:
    """What a loss's labels are, in words."""
    return LOSSES[LOSS_ALIASES.get(loss, loss)].labels


class _Reader:
    """Reads one train section, reporting through ``report``."""

    def __init__(self, report: Report):
        self.report = report
        self.loss_lines: list[Statement] = []

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
                self.unknown_setting(item)
                continue
            if key in PER_OUTPUT and key in items and self.another_output(item, items[key]):
                parsed = self.train_value(key, item)
                spans.update(output_spans(key, item))
                if parsed is not None:
                    field = PER_OUTPUT[key]
                    values[field] = (*values.get(field, ()), *parsed[field])
                continue
            if key in values or key in items:
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
            spans.update(detail_spans(key, item))
            spans.update(output_spans(key, item))
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

    def unknown_setting(self, item: Statement) -> None:
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

    def another_output(self, item: Statement, first: Statement) -> bool:
        """Whether a second ``loss`` line is one more output's loss (both name an output)."""
        return all(any(a.key == "output" for a in s.args) for s in (first, item))

    def train_value(self, key: str, item: Statement) -> dict[str, Any] | None:
        positional = [a for a in item.args if a.key is None]
        keyword = [a for a in item.args if a.key is not None]
        if key == "metrics":
            return self.metrics(item, positional, keyword)
        if key in _NAMED_WITH_ARGS:
            return self.named_with_args(key, item, positional, keyword)
        if key in _ARGUMENTS_ONLY:
            return self.arguments_only(key, item, positional, keyword)
        if key == "normalize":
            return self.normalize(item, positional, keyword)
        if len(item.args) != 1 or keyword:
            self.report(
                error("E0404", f"`{item.name}` takes one value", item.span, "expected one value")
            )
            return None
        value = positional[0].value.value
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
                    else f"use {data_catalog.source_names()}",
                )
            )
            return None
        if key == "task" and str(value) not in TASKS:
            close = closest(str(value), TASKS)
            self.report(
                error(
                    "E0413",
                    f"unknown task `{value}`",
                    positional[0].span,
                    "not a task the harness trains",
                    fixes=did_you_mean(positional[0].span, str(value), close),
                    help=f"did you mean `{close}`?" if close else "tasks: " + ", ".join(TASKS),
                )
            )
            return None
        return {key: value}

    # -- settings with a name and arguments -----------------------------------------------

    def named_with_args(self, key: str, item: Statement, positional, keyword):
        """``optimizer NAME args``, ``schedule NAME args``, ``loss NAME args``."""
        if len(positional) != 1:
            example = {
                "optimizer": "e.g. optimizer adam lr=0.001",
                "schedule": "e.g. schedule cosine warmup=1",
                "loss": "e.g. loss binary_crossentropy",
            }[key]
            self.report(error("E0404", f"`{key}` takes a name", item.span, example))
            return None
        written = str(positional[0].value.value)
        span = positional[0].span
        if key == "optimizer":
            name = written.lower()
            if name not in OPTIMIZER_OPTIONS:
                close = closest(name, OPTIMIZER_OPTIONS)
                self.report(
                    error("E0405", f"unknown optimizer `{name}`", span, "not supported",
                          fixes=did_you_mean(span, name, close),
                          help="use adam, adamw, sgd or rmsprop")
                )  # fmt: skip
                return None
            options = self.optimizer_options(name, keyword)
            return None if options is None else {"optimizer": name, "optimizer_args": options}
        if key == "schedule":
            if written not in SCHEDULES:
                close = closest(written, SCHEDULES)
                self.report(
                    error("E0417", f"unknown learning-rate schedule `{written}`", span,
                          "not a schedule the harness has",
                          fixes=did_you_mean(span, written, close),
                          help=f"did you mean `{close}`?" if close
                          else "schedules: " + ", ".join(SCHEDULES))
                )  # fmt: skip
                return None
            args = self.table_args(f"schedule {written}", SCHEDULES[written], keyword)
            return None if args is None else {"schedule": written, "schedule_args": args}
        name = LOSS_ALIASES.get(written, written)
        if name not in LOSSES:
            close = closest(written, [*LOSSES, *LOSS_ALIASES], 0.5)
            self.report(
                error(
                    "E0410",
                    f"unsupported loss `{written}`",
                    span,
                    "the training harness does not implement this loss",
                    fixes=did_you_mean(span, written, close),
                    help=f"did you mean `{close}`? (labels are {_labels_of(close)})"
                    if close
                    else "the harness supports " + ", ".join(LOSSES),
                )
            )
            return None
        args = self.table_args(f"loss {name}", {**LOSSES[name].args, **OUTPUT_ARGS}, keyword)
        if args is None:
            return None
        output, weight = args.pop("output", None), float(args.pop("weight", 1.0))
        if output is None and "weight" in {a.key for a in keyword}:
            self.report(
                error("E0404", "`weight` weighs one output's loss", item.span,
                      "a weight without an output", help="add output=NAME, or drop weight=")
            )  # fmt: skip
            return None
        losses = ((output, name, args, weight),) if output is not None else ()
        return {"loss": name, "loss_args": args, "losses": losses}

    def arguments_only(self, key: str, item: Statement, positional, keyword):
        """``early_stopping patience=5``, ``clip norm=1``, ``augment crop=4 flip=horizontal``."""
        if positional:
            self.report(
                error("E0404", f"`{key}` takes key=value arguments", positional[0].span,
                      "not a key=value argument",
                      help=f"`{key}` takes {arguments.takes(_ARGUMENTS_ONLY[key])}")
            )  # fmt: skip
            return None
        args = self.table_args(key, _ARGUMENTS_ONLY[key], keyword)
        if args is None:
            return None
        if key == "clip" and len(args) != 1:
            self.report(
                error("E0404", "`clip` takes one of norm= or value=", item.span,
                      "clip by the gradients' global norm, or each value",
                      help="e.g. clip norm=1.0")
            )  # fmt: skip
            return None
        if key == "augment" and "flip" in args and args["flip"] == "none":
            args.pop("flip")
        return {key: args}

    def normalize(self, item: Statement, positional, keyword):
        """``normalize mean=0.5 std=0.25`` or ``mean="0.49,0.48,0.45"`` per channel."""
        given = {a.key: a for a in keyword}
        if positional or set(given) != set(NORMALIZE):
            self.report(
                error("E0404", "`normalize` takes mean= and std=", item.span,
                      "expected mean=M std=S",
                      help='one number for every channel, or "m1,m2,m3" per channel')
            )  # fmt: skip
            return None
        stats: dict[str, tuple[float, ...]] = {}
        for key in NORMALIZE:
            arg = given[key]
            raw = arg.value.value
            try:
                numbers = (
                    tuple(float(p) for p in str(raw).replace(",", " ").split())
                    if arg.value.kind == "string"
                    else (float(raw),)
                )
            except ValueError:
                numbers = ()
            if not numbers or (key == "std" and min(numbers) <= 0):
                need = "positive numbers" if key == "std" else "numbers"
                self.report(
                    error("E0404", f"bad value for `{key}`: must be {need}", arg.span,
                          f"expected {need}, one or one per channel")
                )  # fmt: skip
                return None
            stats[key] = numbers
        return {"normalize": stats}

    def metrics(self, item: Statement, positional, keyword):
        """``metrics accuracy auc top_k=3``: names; a metric's argument as ``name=value``;
        ``output=NAME``: the metrics of one output of a model with several."""
        output = [a for a in item.args if a.key == "output"]
        args = [a for a in item.args if a.key != "output"]
        if not args:
            self.report(error("E0404", "`metrics` takes names", item.span, "e.g. metrics accuracy"))
            return None
        if output:
            parsed = self.table_args("metrics", {"output": OUTPUT_ARGS["output"]}, output)
            if parsed is None:
                return None
        names: list[str] = []
        metric_args: dict[str, dict[str, float]] = {}
        ok = True
        for arg in args:
            name = arg.key if arg.key is not None else str(arg.value.value)
            where = arg.key_span if arg.key is not None else arg.span
            if name not in METRICS:
                close = closest(name, METRICS, 0.5)
                self.report(
                    error(
                        "E0412",
                        f"unsupported metric `{name}`",
                        where,
                        "the training harness does not report this metric",
                        fixes=did_you_mean(where, name, close),
                        help=f"did you mean `{close}`?"
                        if close
                        else "the harness reports " + ", ".join(METRICS) + " (and the loss)",
                    )
                )
                ok = False
                continue
            if arg.key is not None:
                table = METRICS[name].args
                if not table:
                    self.report(
                        error("E0411", f"metric {name} takes no argument", arg.span,
                              "no argument to give", help=f"write `{name}` alone")
                    )  # fmt: skip
                    ok = False
                    continue
                (only,) = table
                parsed = self.table_args(f"metric {name}", table,
                                         [arg._replace(key=only)])  # fmt: skip
                if parsed is None:
                    ok = False
                    continue
                metric_args[name] = parsed
            names.append(name)
        if not ok:
            return None
        found: dict[str, Any] = {"metrics": tuple(names), "metric_args": metric_args}
        if output:
            found["output_metrics"] = ((parsed["output"], tuple(names), metric_args),)
        return found

    # -- arguments -------------------------------------------------------------------------

    def table_args(self, what: str, table: dict[str, tuple], keyword: list[Arg]):
        """The keyword arguments against ``table`` (arguments.py's rules), each reported
        where it is written; None when any is wrong."""
        found: dict[str, Any] = {}
        ok = True
        for a in keyword:
            if a.key not in table:
                close = closest(a.key, table)
                self.report(
                    error("E0411", f"{what} has no argument `{a.key}`", a.span,
                          "unknown argument", fixes=did_you_mean(a.key_span, a.key, close),
                          help=f"did you mean `{close}`?" if close
                          else f"{what} takes {arguments.takes(table)}")
                )  # fmt: skip
                ok = False
                continue
            if a.key in found:
                self.report(error("E0403", f"`{a.key}` is given twice", a.span, "given again"))
                ok = False
                continue
            rule = table[a.key][1]
            if rule in arguments.NAME_RULES:  # a word as written (`none` is not None here)
                value = a.value.value if a.value.kind in ("name", "string") else None
                wrong = arguments.problem(rule, value)
            else:
                bound = resolve(a.value, {}, self.report)
                value = None if bound is None else bound.value
                wrong = "must be a value" if bound is None else arguments.problem(rule, value)
            if wrong:
                self.report(
                    error("E0404", f"bad value for `{a.key}`: {wrong}", a.span,
                          f"{wrong}, got {a.value.text}")
                )  # fmt: skip
                ok = False
                continue
            found[a.key] = value
        return arguments.normalised(table, found) if ok else None

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
