"""The Keras checkpoint, ``RUN/checkpoint/``: everything that makes a resumed run the same run
as an unbroken one.

After every epoch the loop writes, each atomically and in this order:

- ``epoch-NNNN.npz``: the value of every model variable (weights, BatchNorm statistics and the
  dropout layers' seed-generator states, which Keras's own formats do not keep) and of every
  optimizer variable (iteration count, learning rate, moments), by position;
- ``state.json``: the epoch count, the history so far, the spec's sha256, the file above with
  its variables' shapes, Python's and numpy's random states, and the loop's state (the
  monitor of early stopping and reduce-on-plateau);

then removes the previous epoch's ``.npz``.  A run killed at any moment so leaves a consistent
checkpoint.  (The shuffle order is a function of the seed and the epoch.)  Everything is read
and checked before any training: a damaged ``state.json`` or ``.npz``, another spec's
checkpoint, or one that does not fit the model is a :class:`RunError` naming the file.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import keras
import numpy as np

from .config import CHECKPOINTS
from .errors import RunError
from .runfiles import replace_atomically, write_text

CHECKPOINT_DIR, STATE_NAME = CHECKPOINTS["keras"].split("/")
FORMAT = 1
WEIGHTS_NAME = re.compile(r"epoch-\d{4,}\.npz")


def _values(variables) -> list[np.ndarray]:
    return [np.asarray(keras.ops.convert_to_numpy(v)) for v in variables]


def save(folder: Path, config, model, epoch: int, rows: list[dict], loop: dict) -> None:
    """Write the checkpoint after ``epoch`` epochs into ``folder``; ``loop`` is the loop's own
    state (the monitor of early stopping and reduce-on-plateau)."""
    model_values = _values(model.variables)
    optimizer_values = _values(model.optimizer.variables)
    arrays = {f"model_{i:05d}": v for i, v in enumerate(model_values)}
    arrays.update({f"optimizer_{i:05d}": v for i, v in enumerate(optimizer_values)})
    name = f"epoch-{epoch:04d}.npz"
    replace_atomically(folder / name, lambda tmp: np.savez(tmp, **arrays))
    version, keys, gauss = random.getstate()
    numpy_state = np.random.get_state()
    state = {
        "format": FORMAT,
        "spec_sha256": config.spec_sha256,
        "epoch": epoch,
        "history": rows,
        "weights": name,
        "model_variables": [
            [v.path, list(a.shape)] for v, a in zip(model.variables, model_values, strict=True)
        ],
        "optimizer_variables": [list(a.shape) for a in optimizer_values],
        "python_random": [version, list(keys), gauss],
        "numpy_random": [numpy_state[0], numpy_state[1].tolist(), *map(float, numpy_state[2:])],
        "loop": loop,
    }
    write_text(folder / STATE_NAME, json.dumps(state) + "\n")
    for old in folder.glob("epoch-*.npz"):
        if old.name != name:
            old.unlink()


def read(folder: Path, config) -> dict:
    """Load and check the checkpoint in ``folder``: its state and its arrays."""
    path = folder / STATE_NAME
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"cannot read the checkpoint {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise RunError(
            f"the checkpoint {path} is damaged: not JSON (line {exc.lineno}: {exc.msg}); "
            f"remove {folder} to start again"
        ) from None
    _check_state(state, path, config)
    weights = folder / state["weights"]
    try:
        with np.load(weights, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise RunError(f"the checkpoint {path} names {weights.name}, which is missing") from None
    except Exception as exc:  # numpy and zipfile raise many kinds for a damaged archive
        raise RunError(
            f"the checkpoint {weights} is damaged or truncated ({type(exc).__name__}: {exc}); "
            f"remove {folder} to start again"
        ) from None
    model_count, optimizer_count = len(state["model_variables"]), len(state["optimizer_variables"])
    expected = {f"model_{i:05d}" for i in range(model_count)}
    expected |= {f"optimizer_{i:05d}" for i in range(optimizer_count)}
    if set(arrays) != expected:
        raise RunError(f"the checkpoint {weights} does not match {path}; it is damaged")
    state["model_arrays"] = [arrays[f"model_{i:05d}"] for i in range(model_count)]
    state["optimizer_arrays"] = [arrays[f"optimizer_{i:05d}"] for i in range(optimizer_count)]
    state["weights_path"] = str(weights)
    return state


def _check_state(state, path: Path, config) -> None:
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise RunError(f"{path} is not a checkpoint this harness writes; remove it to start again")
    types = {
        "spec_sha256": str,
        "epoch": int,
        "history": list,
        "weights": str,
        "model_variables": list,
        "optimizer_variables": list,
        "python_random": list,
        "numpy_random": list,
        "loop": dict,
    }
    for key, kind in types.items():
        if not isinstance(state.get(key), kind):
            raise RunError(
                f"the checkpoint {path} is damaged: {key} is missing or not a {kind.__name__}"
            )
    if state["spec_sha256"] != config.spec_sha256:
        raise RunError(
            f"{path} was written for another version of the spec; remove it to start again "
            "or use another --out"
        )
    if state["epoch"] < 0 or len(state["history"]) != state["epoch"]:
        raise RunError(
            f"the checkpoint {path} is inconsistent (epoch {state['epoch']}); it is damaged"
        )
    if not WEIGHTS_NAME.fullmatch(state["weights"]):
        raise RunError(f"the checkpoint {path} names an unexpected file {state['weights']!r}")


def restore(model, state: dict) -> tuple[int, list[dict]]:
    """Load a checked ``state`` into the compiled ``model`` and its optimizer, and restore the
    random states; returns (epochs done, history rows)."""
    model.optimizer.build(model.trainable_variables)
    where = state["weights_path"]
    for what, variables, arrays in (
        ("model", model.variables, state["model_arrays"]),
        ("optimizer", model.optimizer.variables, state["optimizer_arrays"]),
    ):
        if len(variables) != len(arrays):
            raise RunError(
                f"the checkpoint {where} does not fit this model: {len(arrays)} {what} "
                f"variables saved, {len(variables)} here"
            )
        for variable, array in zip(variables, arrays, strict=True):
            if tuple(variable.shape) != array.shape:
                raise RunError(
                    f"the checkpoint {where} does not fit this model: {variable.path} is "
                    f"{tuple(variable.shape)} here but {array.shape} in the checkpoint"
                )
            variable.assign(array)
    try:
        version, keys, gauss = state["python_random"]
        random.setstate((version, tuple(keys), gauss))
        name, keys, position, has_gauss, cached = state["numpy_random"]
        np.random.set_state(
            (name, np.asarray(keys, dtype=np.uint32), int(position), int(has_gauss), cached)
        )
    except (TypeError, ValueError) as exc:
        raise RunError(f"the checkpoint's random states are damaged: {exc}") from None
    return state["epoch"], state["history"]
