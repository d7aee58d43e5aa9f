"""What a run does: the spec's train section with the command line's overrides, and the tables
of what the harness can train (losses, metrics, optimizers and their arguments).

The tables are the harness's one list of what it supports; each backend's loop has its own
table from these names to the framework's objects.  A new loss or metric is a row in each.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any

from .config import RunConfig
from .errors import RunError
from .flags import SEED_LIMIT


@dataclass(frozen=True)
class Loss:
    """A training loss: what its labels are and what the model must output."""

    name: str
    labels: str  # what y holds
    needs_classes: bool = True  # the output is a vector of class scores


@dataclass(frozen=True)
class Metric:
    """A metric reported every epoch besides the loss (higher is better unless said)."""

    name: str
    description: str


LOSSES = {
    loss.name: loss for loss in (Loss("sparse_categorical_crossentropy", "integer class indices"),)
}
METRICS = {
    metric.name: metric
    for metric in (Metric("accuracy", "the fraction of samples whose top class is the label"),)
}
# Each optimizer's arguments by their Keras names; `lr` and `learning_rate` are the same.
OPTIMIZERS: dict[str, tuple[str, ...]] = {
    "adam": ("lr", "learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad", "weight_decay"),
    "adamw": ("lr", "learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad", "weight_decay"),
    "sgd": ("lr", "learning_rate", "momentum", "nesterov"),
    "rmsprop": ("lr", "learning_rate", "rho", "momentum", "epsilon", "centered"),
}
BOOLEAN_ARGUMENTS = ("amsgrad", "nesterov", "centered")  # written 0/1 or true/false in a spec


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

    @classmethod
    def resolve(cls, config: RunConfig, args: argparse.Namespace) -> Settings:
        """The config's train section overridden by the parsed flags ``args``; a
        :class:`RunError` for a combination no loop can train."""
        train = config.train
        settings = cls(
            data=str(args.data),
            data_dir=args.data_dir,
            epochs=args.epochs,
            batch=args.batch,
            seed=args.seed,
            lr=float(args.lr),
            validation_split=float(args.validation_split),
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
        )
        settings.check(config)
        return settings

    def check(self, config: RunConfig) -> None:
        """Refuse what the tables do not hold, or what the model cannot be trained for."""
        if self.loss not in LOSSES:
            raise RunError(f"loss {self.loss} is not supported: use {', '.join(LOSSES)}")
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown:
            raise RunError(f"metric {unknown[0]} is not supported: use {', '.join(METRICS)}")
        if self.optimizer not in OPTIMIZERS:
            raise RunError(f"optimizer {self.optimizer} is not supported: {', '.join(OPTIMIZERS)}")
        extra = [k for k in self.optimizer_args if k not in OPTIMIZERS[self.optimizer]]
        if extra:
            raise RunError(f"optimizer {self.optimizer} does not take {', '.join(extra)}")
        if not 0 <= self.seed < SEED_LIMIT:
            raise RunError(f"the seed must be in [0, {SEED_LIMIT}), not {self.seed}")
        if LOSSES[self.loss].needs_classes and not config.num_classes:
            shape = "x".join(map(str, config.input_shape))
            raise RunError(
                f"{self.loss} needs a model that outputs a vector of class scores; "
                f"{config.spec_name} (input {shape}) does not"
            )

    def optimizer_options(self) -> dict[str, Any]:
        """The optimizer's arguments other than the learning rate, booleans as booleans."""
        options = {k: v for k, v in self.optimizer_args.items() if k not in ("lr", "learning_rate")}
        for flag in BOOLEAN_ARGUMENTS:
            if flag in options:
                options[flag] = bool(options[flag])
        return options

    def history_columns(self) -> tuple[str, ...]:
        """history.csv's columns: epoch, loss, the metrics, their validation values, seconds."""
        names = ("loss", *self.metrics)
        return ("epoch", *names, *(f"val_{n}" for n in names), "seconds")
