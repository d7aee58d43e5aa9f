"""The train section of a model with several outputs: what each output trains with, checked.

Each output is matched by its name to a label set of the data (``y_train_NAME`` in an .npz
archive, a catalogue dataset's ``label_sets``).  Its task follows from that label set's task,
its loss line (``loss mse output=NAME weight=W``) and its last layer, as a one-output model's
does; an output without a loss line trains with its task's default loss at weight 1; its
metrics are its ``metrics ... output=NAME`` line, else its task's default metrics.

The errors, each located: a ``task`` line, or a ``loss``/``metrics`` line that names no output
(E0420); an output the data has no label set for (E0423); a label set whose task or size the
output does not fit (E0421, E0408); a loss, metric or last layer that does not fit the
output's task (E0414, E0415, E0416).  Nothing here imports a framework.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from specc import data_catalog
from specc.diagnostics import Diagnostic, error
from specc.harness.tasks import LOSSES, METRICS, TASKS, infer_task, metric_column, output_problem
from specc.ir import Model, Shape
from specc.layers import lookup
from specc.source import Span

SEVERAL_DATA = "npz:PATH (y_train_NAME and y_test_NAME per output) or wine_multitask"


@dataclass(frozen=True)
class OutputPlan:
    """What one output of a model with several trains with."""

    name: str
    index: int  # the output's node
    shape: Shape
    activation: str | None
    task: str
    loss: str
    loss_args: dict[str, Any]
    weight: float
    metrics: tuple[str, ...]
    metric_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    inferred: bool = True  # the task was inferred (a several-output model has no `task` line)

    def entry(self) -> dict[str, Any]:
        """Its entry in ``config.json``'s ``train.losses``."""
        return {"output": self.name, "loss": self.loss, "args": dict(self.loss_args),
                "weight": self.weight, "task": self.task, "metrics": list(self.metrics),
                "metric_args": dict(self.metric_args)}  # fmt: skip

    def columns(self) -> list[str]:
        """What it reports, Keras's names: ``NAME_loss``, ``NAME_accuracy``, ..."""
        metrics = [metric_column(m, self.metric_args.get(m)) for m in self.metrics]
        return [f"{self.name}_loss", *(f"{self.name}_{m}" for m in metrics)]


def several(model: Model) -> bool:
    """Whether the model has several outputs."""
    return len(model.outputs) > 1


def activation_of(model: Model, params: dict[int, Any], index: int) -> str | None:
    """An output layer's activation (``softmax``, ...), or None for none or linear."""
    node = model.nodes[index]
    kind, p = lookup(node.kind), params.get(node.index)
    act = kind.activation(p) if kind is not None and p is not None else None
    return None if act in (None, "linear") else act


def label_tasks(data: str | None, name: str) -> tuple[str, ...]:
    """The tasks the data's label set for output ``name`` is for (empty when any may be)."""
    info = data_catalog.lookup(data) if data else None
    if info is not None and info.label_sets:
        found = info.label_set(name)
        return (found.task,) if found is not None else ()
    return data_catalog.data_tasks(data)


def output_plans(model: Model, params: dict[int, Any], shapes: dict[int, Shape],
                 data: str | None = None) -> list[OutputPlan]:  # fmt: skip
    """Each output's plan, in the model's order (outputs whose shape failed are left out);
    ``data`` overrides the train section's (``specc train --data``)."""
    train = model.train
    data = data if data is not None else train.data
    losses = {o: (n, a, w) for o, n, a, w in train.losses}
    metrics = {o: (m, a) for o, m, a in train.output_metrics}
    plans = []
    for index in model.outputs:
        if index not in shapes:
            continue
        name = model.nodes[index].name
        shape = tuple(shapes[index])
        activation = activation_of(model, params, index)
        written, args, weight = losses.get(name, (None, {}, 1.0))
        task = infer_task(activation, shape, written, label_tasks(data, name))
        loss = written or TASKS[task].losses[0]
        chosen, chosen_args = metrics.get(name, (TASKS[task].default_metrics, {}))
        plans.append(OutputPlan(name, index, shape, activation, task, loss,
                                dict(args) if written else {}, float(weight), tuple(chosen),
                                dict(chosen_args)))  # fmt: skip
    return plans


def reported(plans: list[OutputPlan], validation_split: float) -> list[str]:
    """What a run of a several-output model reports every epoch: ``loss`` (the weighted
    total), each output's loss, each output's metrics, and their ``val_`` values."""
    names = ["loss", *(p.columns()[0] for p in plans), *(c for p in plans for c in p.columns()[1:])]
    return names + ([f"val_{n}" for n in names] if validation_split > 0 else [])


def section_diagnostics(model: Model, output_names: tuple[str, ...]) -> list[Diagnostic]:
    """What the train section of a several-output model writes that no output can take: a
    ``task`` line, a ``loss`` or ``metrics`` line without ``output=``, a line for an output the
    model does not have, two lines for one output."""
    train = model.train
    spans = train.spans
    listed = ", ".join(f"`{n}`" for n in output_names)
    found = []
    if "task" in spans:
        found.append(error(
            "E0420", "a model with several outputs takes no `task` line", spans["task"],
            "each output's task follows from its labels, its loss and its last layer",
            help=f"drop `task`; give an output another task with its loss line, e.g. "
                 f"`loss mse output={output_names[-1]}`"))  # fmt: skip
    if "loss" in spans and not train.losses:
        found.append(error(
            "E0420", "which output is this loss for?", spans["loss"],
            f"the model has several outputs: {listed}",
            help=f"write one line per output: `loss {train.loss} output={output_names[0]} "
                 "weight=1`"))  # fmt: skip
    if "metrics" in spans and not train.output_metrics:
        found.append(error(
            "E0420", "which output are these metrics for?", spans["metrics"],
            f"the model has several outputs: {listed}",
            help=f"write one line per output: `metrics {' '.join(train.metrics)} "
                 f"output={output_names[0]}`"))  # fmt: skip
    lines = [("metrics", o) for o, *_ in train.output_metrics]
    for key, output in lines:
        if output not in output_names:
            where = spans.get(f"{key}@{output}.output", spans.get(key))
            found.append(error(
                "E0420", f"the model has no output `{output}`", where,
                f"its outputs: {listed}", help=f"write output={output_names[0]}"))  # fmt: skip
    named = [o for o, *_ in train.output_metrics]
    if len(named) != len(set(named)):
        found.append(error("E0420", "two metrics lines for one output", spans.get("metrics"),
                           "each output takes one metrics line"))  # fmt: skip
    return found


def output_diagnostics(model: Model, plans: list[OutputPlan]) -> list[Diagnostic]:
    """Each output's loss, metrics and last layer against its task (E0414, E0415, E0416)."""
    train = model.train
    spans = train.spans
    found = []
    for plan in plans:
        node = model.nodes[plan.index]
        spec = TASKS[plan.task]
        if plan.task not in LOSSES[plan.loss].tasks:
            found.append(error(
                "E0414", f"the loss {plan.loss} does not fit the task {plan.task} of `{plan.name}`",
                spans.get(f"loss@{plan.name}", spans.get("loss")),
                f"{plan.task} (inferred from `{plan.name}`'s labels and last layer) trains with "
                + " or ".join(spec.losses),
                related=((node.span, f"`{plan.name}`"),),
                help=f"use `loss {spec.losses[0]} output={plan.name}`, or end `{plan.name}` "
                     f"for {', '.join(LOSSES[plan.loss].tasks)}"))  # fmt: skip
        for metric in plan.metrics:
            if plan.task in METRICS[metric].tasks:
                continue
            found.append(error(
                "E0415", f"the metric {metric} does not fit the task {plan.task} of `{plan.name}`",
                spans.get(f"metrics@{plan.name}.{metric}", spans.get("metrics")),
                f"not a {plan.task} metric", related=((node.span, f"`{plan.name}`"),),
                help=f"{plan.task} reports " + ", ".join(spec.metrics)))  # fmt: skip
        problem = output_problem(spec, plan.activation, tuple(plan.shape))
        if problem is not None and plan.task in LOSSES[plan.loss].tasks:
            found.append(
                error(
                    "E0416",
                    f"the output `{plan.name}` does not fit the task {plan.task}",
                    node.span,
                    problem,
                    help="choose its task with its loss line, or change its last layer",
                )
            )
    return found


def data_diagnostics(
    info: data_catalog.DatasetInfo,
    model: Model,
    plans: list[OutputPlan],
    *,
    int_input: bool,
    in_shape: Shape | None,
    input_span: Span,
    shape_span: Span,
    data_span: Span | None = None,
    origin: str = "",
) -> list[Diagnostic]:
    """A named dataset against a several-output model: its samples against the input (as for
    one output), then each output against the label set of its name (E0423, E0421, E0408)."""
    from specc.train_checks import dataset_diagnostics

    samples = dataclasses.replace(info, label_sets=())  # the input's checks only
    found = dataset_diagnostics(samples, int_input=int_input, in_shape=in_shape, out_shape=None,
                                input_span=input_span, shape_span=shape_span,
                                output_span=input_span, data_span=data_span, origin=origin,
                                task=info.tasks[0])  # fmt: skip
    if found:
        return found
    where = f" ({origin})" if origin else ""
    named = ((data_span, f"data is {info.name}"),) if data_span else ()
    if not info.label_sets:
        second = model.nodes[model.outputs[1]]
        return [
            error(
                "E0423",
                f"{info.name} has one label set, but the model has several outputs",
                second.name_span,
                f"no labels in {info.name}{where} for a second output",
                related=named,
                help=f"train a model with several outputs on {SEVERAL_DATA}",
            )
        ]
    sets = ", ".join(s.name for s in info.label_sets)
    for plan in plans:
        node = model.nodes[plan.index]
        label_set = info.label_set(plan.name)
        if label_set is None:
            found.append(
                error(
                    "E0423",
                    f"{info.name} has no label set `{plan.name}`",
                    node.name_span,
                    f"no labels in {info.name}{where} for this output",
                    related=named,
                    help=f"name each output after one of {info.name}'s label sets: {sets}",
                )
            )
            continue
        view = dataclasses.replace(info, name=f"{info.name}'s {plan.name}",
                                   classes=label_set.classes, tasks=(label_set.task,),
                                   label_sets=())  # fmt: skip
        found += dataset_diagnostics(view, int_input=info.kind == "ids", in_shape=None,
                                     out_shape=plan.shape, input_span=input_span,
                                     shape_span=shape_span, output_span=node.span,
                                     origin=origin, task=plan.task)  # fmt: skip
    return found
