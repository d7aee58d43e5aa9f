"""Samples for a model with several inputs: one array per input, matched by name.

An ``npz:PATH`` archive holds ``x_train_NAME`` and ``x_test_NAME`` for each input NAME (next
to its labels); ``synthetic`` makes random samples for each input.  The named datasets, image
folders, text files and generated sets have one array of samples, and refuse such a model.
Every array is checked as one input's are (numbers, finite, token ids within the vocabulary)
and given its input's shape; all are split with the same indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DataError


@dataclass(frozen=True)
class Feed:
    """One input of the model: its name, shape (without the batch axis), dtype and
    vocabulary (token ids are in [0, vocab))."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    vocab: int | None = None

    @property
    def ids(self) -> bool:
        """True when the input takes integer token ids."""
        return self.dtype != "float32"


def feeds_of(config) -> tuple[Feed, ...]:
    """The inputs of a run's configuration (empty for one input)."""
    return tuple(Feed(i.name, tuple(i.shape), i.dtype, i.vocab_size) for i in config.inputs)


def npz_keys(feeds: tuple[Feed, ...]) -> tuple[str, ...]:
    """The sample arrays an .npz archive needs for these inputs."""
    return tuple(f"x_{split}_{f.name}" for f in feeds for split in ("train", "test"))


def npz_samples(arrays: dict, feeds: tuple[Feed, ...], split: str, path: str) -> dict:
    """One split's samples by input name: uint8 arrays / 255, token ids as int64 (each id
    within its input's vocabulary), other numbers as float32."""
    found = {}
    for feed in feeds:
        key = f"x_{split}_{feed.name}"
        x = arrays[key]
        if feed.ids:
            if not np.issubdtype(x.dtype, np.integer):
                raise DataError(
                    f"{path}: {key} is {x.dtype} but the input {feed.name} takes integer "
                    "token ids; store the ids as an integer array"
                )
            if x.size and feed.vocab is not None and (x.min() < 0 or x.max() >= feed.vocab):
                raise DataError(
                    f"{path}: {key} has token ids from {x.min()} to {x.max()} but the input "
                    f"{feed.name}'s vocabulary is [0, {feed.vocab})"
                )
            found[feed.name] = x.astype("int64")
        else:
            found[feed.name] = x.astype("float32") / 255.0 if x.dtype == np.uint8 else x
    return found


def synthetic(feeds: tuple[Feed, ...], total: int, rng) -> dict[str, np.ndarray]:
    """Random samples for each input: standard-normal, or token ids in [0, vocab)."""
    found = {}
    for feed in feeds:
        shape = (total, *feed.shape)
        if feed.ids:
            found[feed.name] = rng.integers(0, feed.vocab or 1, size=shape, dtype="int64")
        else:
            found[feed.name] = rng.standard_normal(shape, dtype="float32")
    return found


def one_array(name: str, feeds: tuple[Feed, ...]) -> DataError:
    """The error for a source with one array of samples and a model with several inputs."""
    return DataError(
        f"{name} has one array of samples, but the model has several inputs "
        f"({', '.join(f.name for f in feeds)}): train it on npz:PATH with x_train_NAME and "
        "x_test_NAME per input, or on synthetic"
    )


def count(x) -> int:
    """How many samples ``x`` (an array, or a dict of them by input) holds."""
    if isinstance(x, dict):
        return len(next(iter(x.values()))) if x else 0
    return len(x)


def each(x, function):
    """``function(array, name)`` applied to ``x``'s one array (name None) or to each input's."""
    if isinstance(x, dict):
        return {name: function(v, name) for name, v in x.items()}
    return function(x, None)


def check_lengths(x, where: str, key: str) -> None:
    """Every input's array has as many samples as the first's."""
    if not isinstance(x, dict):
        return
    lengths = {name: len(v) for name, v in x.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{key}_{n} {length}" for n, length in lengths.items())
        raise DataError(f"{where}: the inputs' arrays differ in length ({shown})")
