"""Labels for each task, checked and shaped the way both training loops take them.

=============== ================================ ==========================================
task            labels as given                  as the loops take them
=============== ================================ ==========================================
classify        class indices, a vector          int64 (N,), each in [0, classes)
binary          0 or 1, a vector (or a column)   float32 (N, 1)
multilabel      0 or 1 per label, (N, K)         float32 (N, K), K the output's units
regression      numbers, (N,) or (N, K)          float32 (N, K)
segment         class maps, (N, H, W)            int64 (N, H, W), each in [0, classes)
tag, language_  class indices per position,      int64 (N, L), each in [0, classes)
model           (N, L)
=============== ================================ ==========================================

Every problem is a :class:`DataError` naming the source and the array.
"""

from __future__ import annotations

import numpy as np

from .errors import DataError

NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float
KIND_NAMES = {
    "U": "strings",
    "S": "byte strings",
    "O": "Python objects",
    "c": "complex numbers",
    "M": "dates",
    "m": "time spans",
    "V": "records",
}
CLASS_TASKS = ("classify", "segment", "tag", "language_model")


def numeric(y: np.ndarray, where: str, key: str, what: str) -> np.ndarray:
    """``y`` as an array of numbers, all finite; a DataError otherwise."""
    return finite(numbers(y, where, key, what), where, key, "label")


def numbers(x, where: str, key: str, what: str) -> np.ndarray:
    """``x`` as an array of numbers (bool, integers or floats); a DataError naming what it
    holds otherwise (``what`` says what it should hold)."""
    x = np.asarray(x)
    if x.dtype.kind not in NUMERIC_KINDS:
        kind = KIND_NAMES.get(x.dtype.kind, str(x.dtype))
        raise DataError(f"{where}: {key} holds {kind} ({x.dtype}), not {what}")
    return x


def finite(x: np.ndarray, where: str, key: str, item: str) -> np.ndarray:
    """``x`` unchanged when it has no NaN or infinity; a DataError naming the first ``item``
    (sample, label) that has one otherwise."""
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            first = int(np.argmax(bad.reshape(len(x), -1).any(axis=1))) if x.ndim else 0
            raise DataError(
                f"{where}: {key} has {int(bad.sum())} NaN or infinite values "
                f"(the first in {item} {first}); clean or drop them"
            )
    return x


def class_indices(y, where: str, key: str, shape: tuple[int, ...], classes: int) -> np.ndarray:
    """Integer class indices of per-sample ``shape`` (``()`` for one per sample), each below
    ``classes``."""
    y = numeric(y, where, key, "class indices")
    if y.ndim == len(shape) + 2 and y.shape[-1] == 1:
        y = y[..., 0]
    if tuple(y.shape[1:]) != tuple(shape):
        if not shape:
            got = "x".join(map(str, y.shape))
            raise DataError(f"{where}: {key} must be a vector of class indices, not {got}")
        raise DataError(
            f"{where}: {key} has labels of shape {'x'.join(map(str, y.shape[1:])) or 'scalar'} "
            f"but the model outputs {'x'.join(map(str, shape))} positions"
        )
    if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
        raise DataError(f"{where}: {key} must hold integer class indices, not fractions")
    if y.size and y.min() < 0:
        raise DataError(f"{where}: {key} has negative labels (down to {y.min()})")
    if y.size and y.max() >= classes:
        top = int(y.max())
        raise DataError(
            f"{where} has labels up to {top} but the model has {classes} outputs; "
            f"end the model with {top + 1} of them"
        )
    return y.astype("int64")


def zero_one(y, where: str, key: str, units: int) -> np.ndarray:
    """0/1 labels as float32 (N, units)."""
    y = numeric(y, where, key, "0/1 labels")
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] != units:
        got = "x".join(map(str, y.shape))
        raise DataError(f"{where}: {key} must be {units} label(s) of 0 or 1 per sample, not {got}")
    if y.size and not np.all((y == 0) | (y == 1)):
        raise DataError(
            f"{where}: {key} must hold 0 or 1, not values like {y[(y != 0) & (y != 1)][0]}"
        )
    return y.astype("float32")


def targets(y, where: str, key: str, units: int) -> np.ndarray:
    """Regression targets as float32 (N, units)."""
    y = numeric(y, where, key, "numbers")
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] != units:
        got = "x".join(map(str, y.shape))
        raise DataError(f"{where}: {key} must be {units} number(s) per sample, not {got}")
    return y.astype("float32")


def for_task(y, task: str, out_shape: tuple[int, ...], where: str, key: str) -> np.ndarray:
    """The labels ``y`` checked and shaped for ``task`` and a model that outputs
    ``out_shape`` (without the batch axis)."""
    if task in CLASS_TASKS:
        return class_indices(y, where, key, tuple(out_shape[:-1]), out_shape[-1])
    if task in ("binary", "multilabel"):
        return zero_one(y, where, key, out_shape[-1])
    if task == "regression":
        return targets(y, where, key, out_shape[-1])
    raise DataError(f"unknown task {task}")


def stratified(task: str) -> bool:
    """Whether a task's splits keep each class's share (one class label per sample)."""
    return task in ("classify", "binary")


def class_of(y: np.ndarray) -> np.ndarray:
    """The class of each sample, for a stratified split (binary labels are a column)."""
    return y.reshape(len(y)).astype("int64") if y.ndim > 1 else y
