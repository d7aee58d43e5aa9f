"""Labels for a model with several outputs: one label set per output, matched by name.

A source gives a model with several outputs a dict of label arrays by output name:

- ``npz:PATH``: ``y_train_NAME`` and ``y_test_NAME`` for each output NAME (next to
  ``x_train`` and ``x_test``);
- a catalogue dataset with ``label_sets`` (``wine_multitask``): its sets by name;
- ``synthetic``: random labels of each output's task.

Each set is checked and shaped for its output's task as ``labels.py`` does for one output;
the splits stratify by the first output whose labels are classes (else a seeded random
choice), and every set is split with the same indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import labels as labels_module
from .errors import DataError


@dataclass(frozen=True)
class Head:
    """One output of the model: its name, task and shape (without the batch axis)."""

    name: str
    task: str
    shape: tuple[int, ...]


def heads_of(config) -> tuple[Head, ...]:
    """The outputs of a run's configuration with their tasks (empty for one output)."""
    tasks = {t["output"]: t.get("task") for t in config.train.get("losses", ())}
    return tuple(
        Head(o.name, tasks.get(o.name) or config.train.get("task", "classify"), tuple(o.shape))
        for o in config.outputs
    )


def npz_keys(heads: tuple[Head, ...]) -> tuple[str, ...]:
    """The label arrays an .npz archive needs for these outputs."""
    return tuple(f"y_{s}_{h.name}" for h in heads for s in ("train", "test"))


def npz_labels(arrays: dict, heads: tuple[Head, ...], split: str) -> dict[str, np.ndarray]:
    """The label sets of one split (``train`` or ``test``) of an archive, by output name."""
    return {h.name: arrays[f"y_{split}_{h.name}"] for h in heads}


def missing_npz(path: str, names: list[str], heads: tuple[Head, ...], feeds=()) -> str:
    """The message for an archive that lacks some of the arrays several outputs (or inputs,
    ``feeds``) need."""
    wanted = [f"x_train_{f.name}/x_test_{f.name}" for f in feeds]
    wanted += [f"y_train_{h.name}/y_test_{h.name}" for h in heads]
    what = " and ".join(
        w for w, several in (("one array per input", feeds), ("one label set per output", heads))
        if several
    )  # fmt: skip
    return (
        f"{path} lacks the arrays {', '.join(names)}: this model trains on {what}, by name "
        f"({', '.join(wanted)})"
    )


def count(y) -> int:
    """How many samples the labels ``y`` (an array, or a dict of them) label."""
    if isinstance(y, dict):
        return len(next(iter(y.values()))) if y else 0
    return len(y)


def take(y, index):
    """The labels ``y`` (an array, or a dict of them) at ``index``."""
    if isinstance(y, dict):
        return {name: np.take(v, index, axis=0) for name, v in y.items()}
    return np.take(y, index, axis=0)


def for_heads(y, heads: tuple[Head, ...], where: str, key: str) -> dict[str, np.ndarray]:
    """Each output's label set, checked and shaped for its task (``labels.for_task``)."""
    if not isinstance(y, dict):
        raise DataError(
            f"{where} has one label set, but the model has several outputs "
            f"({', '.join(h.name for h in heads)}): train on npz:PATH with y_train_NAME and "
            "y_test_NAME per output, or on a dataset with a label set per output"
        )
    missing = [h.name for h in heads if h.name not in y]
    if missing:
        raise DataError(
            f"{where} has no label set for the output(s) {', '.join(missing)}; its label sets: "
            f"{', '.join(y)}: name the model's outputs after them"
        )
    found = {}
    for head in heads:
        found[head.name] = labels_module.for_task(
            y[head.name], head.task, head.shape, where, f"{key}_{head.name}"
        )
        if len(found[head.name]) != count(found):
            raise DataError(
                f"{where}: {key}_{head.name} has {len(found[head.name])} labels but "
                f"{key}_{heads[0].name} has {count(found)}"
            )
    return found


def stratify_by(y: dict, heads: tuple[Head, ...]) -> tuple[np.ndarray | None, str]:
    """The labels a split of several sets keeps the shares of, and their task (the first
    output whose task is stratified), or (None, "regression") for a random split."""
    for head in heads:
        if labels_module.stratified(head.task):
            return y[head.name], head.task
    return None, "regression"


def standardise(y_train: dict, others: tuple[dict, ...], names: tuple[str, ...]):
    """Scale the sets ``names`` by the training split's mean and std (in place)."""
    for name in names:
        mean, std = y_train[name].mean(axis=0), y_train[name].std(axis=0) + 1e-7
        for part in (y_train, *others):
            part[name] = ((part[name] - mean) / std).astype("float32")


def synthetic(heads: tuple[Head, ...], total: int, rng) -> dict[str, np.ndarray]:
    """Random labels of each output's task, by output name."""
    found = {}
    for head in heads:
        out = head.shape
        if head.task == "regression":
            found[head.name] = rng.standard_normal((total, out[-1])).astype("float32")
        elif head.task in ("binary", "multilabel"):
            found[head.name] = rng.integers(0, 2, size=(total, out[-1])).astype("int64")
        else:
            found[head.name] = rng.integers(0, out[-1], size=(total, *out[:-1])).astype("int64")
    return found


def split_dict(y: dict, first: int) -> tuple[dict, dict]:
    """The labels of the first ``first`` samples, and of the rest."""
    return {k: v[:first] for k, v in y.items()}, {k: v[first:] for k, v in y.items()}
