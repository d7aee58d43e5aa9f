"""What a run does: the spec's train section with the command line's overrides, and the table
of optimizers and their arguments.

The tasks, losses and metrics are ``tasks.py``'s tables; the schedules, early stopping and
clipping ``schedules.py``'s; augmentation ``augment.py``'s.  Each backend's loop has its own
table from these names to the framework's objects.  A new loss or metric is a row in each.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import Any

from . import arguments
from .augment import AUGMENT
from .config import RunConfig
from .errors import RunError
from .flags import SEED_LIMIT
from .schedules import CLIP, EARLY_STOPPING, SCHEDULES
from .tasks import LOSSES, METRICS, TASKS, lower_is_better, metric_column

__all__ = ["LOSSES", "METRICS", "OPTIMIZERS", "Settings"]

# Each optimizer's arguments by their Keras names; `lr` and `learning_rate` are the same.
# weight_decay is decoupled (Keras's meaning): every weight shrinks by lr * weight_decay per
# update, apart from the gradient.
OPTIMIZERS: dict[str, tuple[str, ...]] = {
    "adam": ("lr", "learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad", "weight_decay"),
    "adamw": ("lr", "learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad", "weight_decay"),
    "sgd": ("lr", "learning_rate", "momentum", "nesterov", "weight_decay"),
    "rmsprop": ("lr", "learning_rate", "rho", "momentum", "epsilon", "centered", "weight_decay"),
}
BOOLEAN_ARGUMENTS = ("amsgrad", "nesterov", "centered")  # written 0/1 or true/false in a spec


@dataclass(frozen=True)
class LossTerm:
    """One output's loss: its name, arguments and weight in the total; in a model with several
    outputs also the output's task and metrics (a model with one output has the run's)."""

    output: str | None  # None: the model's only output
    loss: str
    args: dict[str, Any]
    weight: float = 1.0
    task: str | None = None  # None: the run's task
    metrics: tuple[str, ...] = ()
    metric_args: dict[str, dict[str, Any]] = field(default_factory=dict)

    def metric_columns(self) -> tuple[str, ...]:
        """This output's metrics as reported: ``cultivar_accuracy`` (Keras's naming)."""
        return tuple(
            f"{self.output}_{metric_column(m, self.metric_args.get(m))}" for m in self.metrics
        )


@dataclass(frozen=True)
class Settings:
    """Everything a training loop needs to know, resolved once."""

    data: str
    data_dir: str | None
    epochs: int
    batch: int
    seed: int
    lr: float
    validation_split: float
    out: str
    device: str
    nproc: int
    resume: bool
    compile: bool
    mixed_precision: bool
    loss: str
    metrics: tuple[str, ...]
    optimizer: str
    optimizer_args: dict[str, Any]
    task: str = "classify"
    loss_args: dict[str, Any] = field(default_factory=dict)
    losses: tuple[LossTerm, ...] = ()
    metric_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedule: str = "constant"
    schedule_args: dict[str, Any] = field(default_factory=dict)
    clip: dict[str, float] = field(default_factory=dict)
    accumulate: int = 1
    early_stopping: dict[str, Any] | None = None
    monitor: str = "val_loss"
    augment: dict[str, Any] = field(default_factory=dict)
    normalize: dict[str, Any] = field(default_factory=dict)
    track: str | None = None
    track_uri: str | None = None
    tensorboard: bool = False
    workers: int = 0
    stream: bool = False
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str | None = None
    outputs: tuple[str, ...] = ()  # a model with several outputs: their names, in order

    @classmethod
    def resolve(cls, config: RunConfig, args: argparse.Namespace) -> Settings:
        """The config's train section overridden by the parsed flags ``args``; a
        :class:`RunError` for a combination no loop can train."""
        train = config.train
        validation = float(args.validation_split)
        monitor = train.get("monitor") or ("val_loss" if validation > 0 else "loss")
        terms = tuple(_term(t) for t in train.get("losses", ())) or (
            LossTerm(None, train["loss"], dict(train.get("loss_args", {}))),
        )
        settings = cls(
            data=str(args.data),
            data_dir=args.data_dir,
            epochs=args.epochs,
            batch=args.batch,
            seed=args.seed,
            lr=float(args.lr),
            validation_split=validation,
            out=os.path.abspath(args.out),
            device=args.device,
            nproc=args.nproc,
            resume=args.resume,
            compile=args.compile,
            mixed_precision=args.mixed_precision,
            loss=train["loss"],
            metrics=tuple(train["metrics"]),
            optimizer=train["optimizer"],
            optimizer_args=dict(train["optimizer_args"]),
            task=train.get("task", "classify"),
            loss_args=dict(train.get("loss_args", {})),
            losses=terms,
            metric_args={k: dict(v) for k, v in train.get("metric_args", {}).items()},
            schedule=train.get("schedule") or "constant",
            schedule_args=dict(train.get("schedule_args", {})),
            clip=dict(train.get("clip", {})),
            accumulate=int(train.get("accumulate", 1)),
            early_stopping=train.get("early_stopping"),
            monitor=monitor,
            augment=dict(train.get("augment", {})),
            normalize=dict(train.get("normalize", {})),
            track=getattr(args, "track", None),
            track_uri=getattr(args, "track_uri", None),
            tensorboard=bool(getattr(args, "tensorboard", False)),
            workers=int(getattr(args, "workers", 0) or 0),
            stream=bool(getattr(args, "stream", False)),
            nnodes=int(getattr(args, "nnodes", 1) or 1),
            node_rank=int(getattr(args, "node_rank", 0) or 0),
            rdzv_endpoint=getattr(args, "rdzv_endpoint", None),
            outputs=tuple(o.name for o in config.outputs),
        )
        settings.check(config)
        return settings

    def check(self, config: RunConfig) -> None:
        """Refuse what the tables do not hold, or what the model cannot be trained for."""
        if self.task not in TASKS:
            raise RunError(f"task {self.task} is not supported: use {', '.join(TASKS)}")
        if self.outputs and [t.output for t in self.losses] != list(self.outputs):
            raise RunError(
                f"train.losses must have one entry per output ({', '.join(self.outputs)}), "
                "in order: write the run folder again with this specc"
            )
        for term in self.losses:
            task = term.task or self.task
            if task not in TASKS:
                raise RunError(f"task {task} is not supported: use {', '.join(TASKS)}")
            if term.loss not in LOSSES:
                raise RunError(f"loss {term.loss} is not supported: use {', '.join(LOSSES)}")
            if task not in LOSSES[term.loss].tasks:
                raise RunError(f"loss {term.loss} does not fit the task {task}")
            self._check_args(LOSSES[term.loss].args, term.args, f"loss {term.loss}")
        pairs = [(m, self.task, self.metric_args) for m in self.metrics]
        if self.outputs:
            pairs = [(m, t.task, t.metric_args) for t in self.losses for m in t.metrics]
        for metric, task, args in pairs:
            if metric not in METRICS:
                raise RunError(f"metric {metric} is not supported: use {', '.join(METRICS)}")
            if task not in METRICS[metric].tasks:
                raise RunError(f"metric {metric} does not fit the task {task}")
            self._check_args(METRICS[metric].args, args.get(metric, {}), metric)
        if self.optimizer not in OPTIMIZERS:
            raise RunError(f"optimizer {self.optimizer} is not supported: {', '.join(OPTIMIZERS)}")
        extra = [k for k in self.optimizer_args if k not in OPTIMIZERS[self.optimizer]]
        if extra:
            raise RunError(f"optimizer {self.optimizer} does not take {', '.join(extra)}")
        if self.schedule not in SCHEDULES:
            raise RunError(f"schedule {self.schedule} is not supported: {', '.join(SCHEDULES)}")
        self._check_args(SCHEDULES[self.schedule], self.schedule_args, f"schedule {self.schedule}")
        self._check_args(CLIP, self.clip, "clip")
        self._check_args(AUGMENT, self.augment, "augment")
        if self.early_stopping is not None:
            self._check_args(EARLY_STOPPING, self.early_stopping, "early_stopping")
        if config.inputs and (self.normalize or self.augment):
            raise RunError("augment and normalize transform one image input; this model has "
                           f"{len(config.inputs)} inputs")  # fmt: skip
        if self.accumulate < 1:
            raise RunError(f"accumulate must be at least 1, not {self.accumulate}")
        if self.monitor not in self.reported():
            raise RunError(
                f"monitor {self.monitor} is not reported; this run reports "
                f"{', '.join(self.reported())}"
            )
        if not 0 <= self.seed < SEED_LIMIT:
            raise RunError(f"the seed must be in [0, {SEED_LIMIT}), not {self.seed}")
        if self.task == "classify" and not config.num_classes and not self.outputs:
            shape = "x".join(map(str, config.input_shape))
            raise RunError(
                f"{self.loss} needs a model that outputs a vector of class scores; "
                f"{config.spec_name} (input {shape}) does not"
            )

    @staticmethod
    def _check_args(table: dict[str, tuple], given: dict, what: str) -> None:
        found = arguments.check_all(table, given, what)
        if found:
            raise RunError(found[0])

    def optimizer_options(self) -> dict[str, Any]:
        """The optimizer's arguments other than the learning rate, booleans as booleans."""
        options = {k: v for k, v in self.optimizer_args.items() if k not in ("lr", "learning_rate")}
        for flag in BOOLEAN_ARGUMENTS:
            if flag in options:
                options[flag] = bool(options[flag])
        return options

    def metric_columns(self) -> tuple[str, ...]:
        """What is reported besides the total loss: the metrics' names (``top_5_accuracy``
        for ``top_k``); with several outputs, Keras's names: each output's loss
        (``cultivar_loss``, unweighted), then each output's metrics (``cultivar_accuracy``)."""
        if self.outputs:
            losses = tuple(f"{t.output}_loss" for t in self.losses)
            return (*losses, *(c for t in self.losses for c in t.metric_columns()))
        return tuple(metric_column(m, self.metric_args.get(m)) for m in self.metrics)

    def reported(self) -> tuple[str, ...]:
        """What every epoch reports: the loss and the metrics, then their validation values
        (when there is validation data)."""
        names = ("loss", *self.metric_columns())
        validation = tuple(f"val_{n}" for n in names) if self.validation_split > 0 else ()
        return (*names, *validation)

    def monitor_lower(self) -> bool:
        """Whether the monitored value improves downwards (losses, errors, perplexity)."""
        name = self.monitor.removeprefix("val_")
        for output in self.outputs:
            if name.startswith(f"{output}_"):
                return lower_is_better(name.removeprefix(f"{output}_"))
        return lower_is_better(self.monitor)

    def history_columns(self) -> tuple[str, ...]:
        """history.csv's columns: epoch, loss, the metrics, their validation values, the
        learning rate at the epoch's end, seconds."""
        names = ("loss", *self.metric_columns())
        return ("epoch", *names, *(f"val_{n}" for n in names), "lr", "seconds")


def _term(entry: dict) -> LossTerm:
    """A :class:`LossTerm` from an entry of ``config.json``'s ``train.losses``."""
    try:
        return LossTerm(
            entry["output"],
            entry["loss"],
            dict(entry["args"]),
            float(entry["weight"]),
            entry.get("task"),
            tuple(entry.get("metrics", ())),
            {k: dict(v) for k, v in entry.get("metric_args", {}).items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RunError(f"config.json: a train.losses entry is malformed ({exc!r})") from None
