"""The train section against the model: the pairing of data, task, last layer, loss, metrics
and the other settings, checked after shape inference with located errors.

:func:`resolve_training` says what a run will do (the task, named or inferred, its loss and
metrics, what the monitor watches); :func:`train_diagnostics` reports what does not fit;
:func:`dataset_diagnostics` checks a named dataset against the model (also for
``specc train --data``).  Nothing here imports a framework.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from specc import data_catalog, input_checks, output_checks
from specc.diagnostics import Diagnostic, closest, did_you_mean, error
from specc.harness.augment import active
from specc.harness.tasks import (
    LOSSES,
    METRICS,
    TASKS,
    infer_task,
    metric_column,
    output_problem,
)
from specc.ir import Model, Shape, TrainConfig
from specc.layers import fmt_shape
from specc.source import Span

INT_DATA_HELP = 'train token ids on "npz:PATH" (integer x arrays) or synthetic'
# what to end a model with for a task, given its classes (or units)
ENDINGS = {
    "classify": "dense {n} softmax",
    "binary": "dense 1 sigmoid",
    "multilabel": "dense {n} sigmoid",
    "regression": "dense {n}",
    "segment": "conv {n} 1x1 softmax",
    "tag": "conv1d {n} 1 softmax",
    "language_model": "conv1d {n} 1 softmax",
}


@dataclass(frozen=True)
class Training:
    """What a run of a checked spec does, the train section's gaps filled in."""

    task: str
    loss: str
    loss_args: dict[str, Any]
    metrics: tuple[str, ...]
    metric_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    inferred: bool = False  # the task was not written


def output_activation(model: Model, params: dict[int, Any]) -> str | None:
    """The output layer's activation (``softmax``, ...), or None for none or linear."""
    return output_checks.activation_of(model, params, model.output)


def resolve_training(train: TrainConfig, activation: str | None, out_shape: Shape) -> Training:
    """The task (as written, else inferred from the data, the loss and the last layer), and
    the loss and metrics (as written, else the task's defaults)."""
    written_loss = train.loss if "loss" in train.spans else None
    task = train.task or infer_task(
        activation, tuple(out_shape), written_loss, data_catalog.data_tasks(train.data)
    )
    spec = TASKS[task]
    loss = written_loss or spec.losses[0]
    metrics = train.metrics if "metrics" in train.spans else spec.default_metrics
    return Training(
        task=task,
        loss=loss,
        loss_args=dict(train.loss_args) if written_loss else {},
        metrics=tuple(metrics),
        metric_args=dict(train.metric_args),
        inferred=train.task is None,
    )


def train_diagnostics(
    model: Model,
    params: dict[int, Any],
    shapes: dict[int, Shape],
    input_span: Span,
    shape_span: Span,
) -> list[Diagnostic]:
    """What does not fit between the train section and the model (every check needs the
    output's shape: nothing is reported when it failed)."""
    out_node = model.nodes[model.output]
    train = model.train
    if model.output not in shapes or 0 not in shapes or train.span is None:
        return []  # a model without a train section is not checked for training
    if input_checks.several(model):
        info = data_catalog.lookup(train.data) if train.data else None
        inputs_found = input_checks.setting_diagnostics(model)
        if info is not None:  # one array of samples: nothing else of it is checked
            return inputs_found + input_checks.data_diagnostics(
                info, model, data_span=train.spans.get("data")
            )
    else:
        inputs_found = []
    if output_checks.several(model):
        found = _several_diagnostics(model, params, shapes, input_span, shape_span)
        return inputs_found + [d for d in found if not (inputs_found and d.code == "E0418")]
    out_shape = shapes[model.output]
    activation = output_activation(model, params)
    int_input = getattr(params.get(0), "dtype", "float32") == "int"
    plan = resolve_training(train, activation, out_shape)
    found: list[Diagnostic] = []
    info = data_catalog.lookup(train.data) if train.data else None
    if info is not None:
        found += dataset_diagnostics(
            info,
            int_input=int_input,
            in_shape=shapes[0],
            out_shape=out_shape,
            input_span=input_span,
            shape_span=shape_span,
            output_span=out_node.span,
            data_span=train.spans.get("data"),
            task=plan.task,
        )
    task_found = _task_diagnostics(train, plan, activation, out_shape, out_node, int_input,
                                   input_span)  # fmt: skip
    if any(d.code == "E0416" for d in task_found):  # the task's error says more than the data's
        found = [d for d in found if d.code != "E0408"]
    if any(d.code == "E0409" for d in found):  # the input's type is said once
        task_found = [d for d in task_found if "token ids" not in d.message]
    found += task_found
    names = tuple(model.nodes[o].name for o in (model.outputs or (model.output,)))
    reported = ["loss", *(metric_column(m, plan.metric_args.get(m)) for m in plan.metrics)]
    if train.validation_split > 0:
        reported += [f"val_{name}" for name in reported]
    found += _setting_diagnostics(train, plan, shapes[0], reported, names)
    return inputs_found + [d for d in found if not (inputs_found and d.code == "E0418")]


def _several_diagnostics(model, params, shapes, input_span, shape_span) -> list[Diagnostic]:
    """:func:`train_diagnostics` for a model with several outputs (``output_checks.py``)."""
    train = model.train
    names = tuple(model.nodes[o].name for o in model.outputs)
    plans = output_checks.output_plans(model, params, shapes)
    found = output_checks.section_diagnostics(model, names)
    info = data_catalog.lookup(train.data) if train.data else None
    if info is not None:
        found += output_checks.data_diagnostics(
            info, model, plans, int_input=getattr(params.get(0), "dtype", "float32") == "int",
            in_shape=shapes[0], input_span=input_span, shape_span=shape_span,
            data_span=train.spans.get("data"))  # fmt: skip
    # an output without fitting labels has no task to check its loss and metrics against
    unlabelled = {d.primary_span for d in found if d.code in ("E0421", "E0423")}
    labelled = [p for p in plans if model.nodes[p.index].span not in unlabelled
                and model.nodes[p.index].name_span not in unlabelled]  # fmt: skip
    found += output_checks.output_diagnostics(model, labelled)
    if not plans:
        return found
    first = plans[0]
    plan = Training(first.task, first.loss, first.loss_args, first.metrics, first.metric_args)
    reported = output_checks.reported(plans, train.validation_split)
    return found + _setting_diagnostics(train, plan, shapes[0], reported, names)


def _origin(train: TrainConfig, plan: Training) -> tuple[tuple[Span, str], ...]:
    """Where the task comes from, as a secondary label."""
    if "task" in train.spans:
        return ((train.spans["task"], f"task {plan.task}"),)
    if "data" in train.spans and data_catalog.data_tasks(train.data):
        return ((train.spans["data"], f"{train.data}: task {plan.task}"),)
    return ()


def _task_diagnostics(train, plan, activation, out_shape, out_node, int_input, input_span):
    spec = TASKS[plan.task]
    origin = _origin(train, plan)
    inferred = " (inferred: write `task NAME` to choose another)" if plan.inferred else ""
    found = []
    if plan.task not in LOSSES[plan.loss].tasks:
        where = train.spans.get("loss")
        found.append(
            error(
                "E0414",
                f"the loss {plan.loss} does not fit the task {plan.task}",
                _value_span(train, "loss", where),
                f"{plan.task}{inferred} trains with {' or '.join(spec.losses)}",
                related=origin,
                help=f"use `loss {spec.losses[0]}`, or another task: {plan.loss} is for "
                + ", ".join(LOSSES[plan.loss].tasks),
            )
        )
    for name in plan.metrics:
        if plan.task in METRICS[name].tasks:
            continue
        found.append(
            error(
                "E0415",
                f"the metric {name} does not fit the task {plan.task}",
                _word_span(train, "metrics", name),
                f"not a {plan.task} metric",
                related=origin,
                help=f"{plan.task} reports " + ", ".join(spec.metrics),
            )
        )
    problem = output_problem(spec, activation, tuple(out_shape))
    if problem is not None:
        classes = out_shape[-1] if out_shape and out_shape[-1] > 1 else 2
        found.append(
            error(
                "E0416",
                f"the last layer does not fit the task {plan.task}",
                out_node.span,
                problem,
                related=origin,
                help=f"end the model with `{ENDINGS[plan.task].format(n=classes)}`{inferred}",
            )
        )
    if plan.task == "language_model" and not int_input:
        found.append(
            error(
                "E0416",
                "a language model reads token ids",
                input_span,
                "the input is not integer token ids",
                related=origin,
                help="write `input L dtype=int` and an `embedding` after it",
            )
        )
    k = plan.metric_args.get("top_k", {}).get("k")
    if "top_k" in plan.metrics and k is not None and out_shape and k >= out_shape[-1]:
        found.append(
            error(
                "E0404",
                f"top_k={k} is not below the {out_shape[-1]} classes",
                _word_span(train, "metrics", "top_k"),
                "every label is among the top k",
                help=f"use a k below {out_shape[-1]}",
            )
        )
    return found


def _setting_diagnostics(train, plan, in_shape, reported, output_names):
    found = []
    if train.monitor is not None and train.monitor not in reported:
        close = closest(train.monitor, reported)
        where = _value_span(train, "monitor", train.spans.get("monitor"))
        found.append(
            error(
                "E0419",
                f"`{train.monitor}` is not reported by this run",
                where,
                "not a reported value",
                fixes=did_you_mean(where, train.monitor, close),
                help=("this run reports " + ", ".join(reported))
                + ("" if train.validation_split > 0 else " (validation_split is 0)"),
            )
        )
    image = len(in_shape) == 3
    for key in ("augment", "normalize"):
        if key not in train.spans:
            continue
        if key == "augment" and not active(train.augment):
            continue
        if key == "augment" and plan.task == "segment":
            found.append(
                error(
                    "E0418",
                    "`augment` transforms the images but not their masks",
                    train.spans[key],
                    "a segmentation's masks would no longer fit its images",
                    help="drop `augment` (augmenting masks with their images is not there yet)",
                )
            )
            continue
        if not image:
            found.append(
                error(
                    "E0418",
                    f"`{key}` transforms images, but the input is {fmt_shape(in_shape)}",
                    train.spans[key],
                    "needs an image input (HxWxC)",
                    help=f"drop `{key}`, or give the model an image input",
                )
            )
            continue
        if key == "normalize":
            channels = in_shape[-1]
            for stat, values in train.normalize.items():
                if len(values) not in (1, channels):
                    found.append(
                        error(
                            "E0418",
                            f"`{stat}` has {len(values)} values for {channels} channels",
                            train.spans[key],
                            f"needs 1 or {channels} values",
                            help=f'write one number, or "{",".join(["0.5"] * channels)}"',
                        )
                    )
    listed = ", ".join(f"`{n}`" for n in output_names)
    for output, *_ in train.losses:
        if output not in output_names:
            found.append(
                error(
                    "E0420",
                    f"the model has no output `{output}`",
                    train.spans.get("loss"),
                    f"its outputs: {listed}" if len(output_names) > 1 else
                    f"its one output is {listed}",
                    help=f"write output={output_names[0]}, or drop output=",
                )
            )  # fmt: skip
    named = [o for o, *_ in train.losses]
    if len(named) != len(set(named)):
        found.append(
            error("E0420", "two losses for one output", train.spans.get("loss"),
                  "each output takes one loss line")
        )  # fmt: skip
    return found


def _value_span(train: TrainConfig, key: str, fallback: Span | None) -> Span | None:
    """The span of a setting's first value (its line when unknown)."""
    spans = train.spans
    return train.spans.get(f"{key}.value", fallback) if spans else fallback


def _word_span(train: TrainConfig, key: str, word: str) -> Span | None:
    """The span of ``word`` in setting ``key``'s line (the line when not found)."""
    return train.spans.get(f"{key}.{word}", train.spans.get(key))


def expected_output(info, task: str, in_shape: Shape | None) -> tuple[Shape | None, str]:
    """The output a model needs for a dataset's labels under ``task``, and the ending that
    gives it; None for the shape where any fits (the task's check reports the rest)."""
    n = info.classes
    if task == "binary":
        return (1,), ENDINGS["binary"]
    if task == "segment" and in_shape is not None and len(in_shape) == 3:
        return (in_shape[0], in_shape[1], n), ENDINGS["segment"].format(n=n)
    if task in ("tag", "language_model") and in_shape is not None and len(in_shape) == 1:
        return (in_shape[0], n), ENDINGS[task].format(n=n)
    if task in ("classify", "multilabel", "regression"):
        return (n,), ENDINGS[task].format(n=n)
    return None, ""


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
    task: str | None = None,
) -> list[Diagnostic]:
    """Errors for a named dataset that does not fit the model: the type of its samples
    (E0409), their shape (E0407), its labels against the last layer (E0408) and against the
    task (E0421).

    ``data_span`` points at the train section's ``data`` line; ``origin`` says where the data
    was named otherwise (``"from --data"`` for ``specc train``), and the help then suggests
    another ``--data``.
    """
    where = f" ({origin})" if origin else ""
    other = " or another --data" if origin else ""
    ids = info.kind == "ids"
    if int_input != ids:
        declared = "integer ids declared here" if int_input else "the input is declared here"
        if data_span is not None:
            primary, label = data_span, f"{info.name}: {_holds(info)}"
            related: tuple = ((input_span, declared),)
        elif ids:
            primary, related = input_span, ()
            label = f"floats, but {info.name}{where} holds token ids"
        else:
            primary, related = input_span, ()
            label = f"integer ids, but {info.name}{where} holds float {info.kind}"
        if ids:
            message = f"{info.name} holds token ids, but the model's input is not integer ids"
            help_ = f"declare `input L dtype=int` and an `embedding {info.vocab} DIM` after it"
        else:
            message = (
                f"{info.name} holds float {info.kind}, but the model's input is integer token ids"
            )
            help_ = (
                "train token ids with --data npz:PATH (integer x arrays) or --data synthetic"
                if origin
                else INT_DATA_HELP
            )
        return [error("E0409", message, primary, label, related=related, help=help_)]
    found = []
    named = ((data_span, f"data is {info.name}"),) if data_span else ()
    fits_input = _fits_input(info, in_shape)
    if in_shape is not None and not fits_input:
        fits = _input_text(info)
        example = info.shapes[0] if info.shapes else (32, 32, 1) if info.rank == 3 else (64,)
        found.append(
            error(
                "E0407",
                f"input {fmt_shape(in_shape)} does not fit {info.name}, whose samples are {fits}",
                shape_span,
                f"{info.name}{where} needs {fits}",
                related=named,
                help=f"use `input {fmt_shape(example)}`{other}",
                # only the spec's own input line can be edited (specc train passes the statement)
                fixes=None
                if origin or not info.shapes
                else did_you_mean(shape_span, fmt_shape(in_shape), fmt_shape(info.shapes[0])),
            )
        )
    if info.label_sets:
        sets = " ".join(s.name for s in info.label_sets)
        found.append(
            error(
                "E0423",
                f"{info.name} has one label set per output ({sets.replace(' ', ', ')}), but "
                "the model has one output",
                data_span or output_span,
                f"{info.name}{where}: several label sets",
                related=((output_span, "the model's one output"),) if data_span else (),
                help=f"give the model one output per label set, named after it: `output {sets}`",
            )
        )
        return found
    task = task if task is not None else info.tasks[0]
    if task not in info.tasks:
        found.append(
            error(
                "E0421",
                f"{info.name}'s labels are not for the task {task}",
                data_span or output_span,
                f"{info.name}{where}: " + " or ".join(info.tasks),
                help=f"write `task {info.tasks[0]}`, or train {task} on other data",
            )
        )
        return found
    want, ending = expected_output(info, task, in_shape)
    if out_shape is None or want is None or not fits_input:
        return found
    vocabulary = task == "language_model"
    if out_shape == want or (
        vocabulary and out_shape[:-1] == want[:-1] and out_shape[-1] >= want[-1]
    ):
        return found
    what = {
        "binary": "two classes, one sigmoid unit",
        "regression": f"{info.classes} target(s)",
        "multilabel": f"{info.classes} labels",
        "language_model": f"a vocabulary of {info.classes}",
    }.get(task, f"{info.classes} classes")
    classes = ((data_span, f"{info.name}: {what}"),) if data_span else ()
    found.append(
        error(
            "E0408",
            f"the last layer outputs {fmt_shape(out_shape)} but {info.name} has {what}",
            output_span,
            f"outputs {fmt_shape(out_shape)}",
            related=classes,
            help=f"end the model with `{ending}`{other}",
        )
    )
    return found


def _holds(info) -> str:
    return "token ids" if info.kind == "ids" else f"float {info.kind}"


def _fits_input(info, in_shape: Shape | None) -> bool:
    if in_shape is None:
        return True
    if info.shapes:
        return tuple(in_shape) in info.shapes
    if info.rank == 3:
        return len(in_shape) == 3 and in_shape[2] in (1, 3) and min(in_shape[:2]) >= 8
    return len(in_shape) == info.rank


def _input_text(info) -> str:
    if info.shapes:
        return " or ".join(fmt_shape(s) for s in info.shapes)
    if info.rank == 3:
        return "images of any size from 8x8, with 1 or 3 channels (HxWx1 or HxWx3)"
    return "sequences of token ids of any length (L)"
