"""The data a run trains on: one loader per source, the normalisation, the splits, the checks.

The same numpy code for both backends, so that both see identical samples:

- sources: the catalog's names (``digits``, ``iris``, ``wine``: scikit-learn; ``mnist``: idx
  files; ``cifar10``: python batches), ``npz:PATH`` (x_train, y_train, x_test, y_test),
  ``folder:DIR`` or a folder path (one sub-folder of images per class), ``synthetic[:N]``;
- normalisation: digits / 16; mnist, cifar10, image folders and uint8 npz arrays / 255; iris
  and wine standardised with the training split's mean and std; other npz arrays as stored;
- splits: mnist, cifar10 and npz keep their test set, the others hold out a stratified 20%;
  validation is a stratified fraction of the training part; the seed of every split is fixed
  (0), independent of the training seed;
- checks, before any training: numbers only (no strings or objects), finite values, as many
  labels as samples, integer labels in [0, classes), samples that fit the model's input.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import catalog, formats
from .errors import DataError

SPLIT_SEED = 0  # fixed: every seed and both frameworks see the same splits
TEST_FRACTION = 0.2  # for datasets without their own test set
SYNTHETIC_SAMPLES = 2048
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


@dataclass(frozen=True)
class Inputs:
    """What the model takes and predicts: the samples' shape and dtype, the classes."""

    shape: tuple[int, ...]
    classes: int
    dtype: str = "float32"  # "int64" for token ids
    vocab: int | None = None  # token ids are in [0, vocab)

    @property
    def ids(self) -> bool:
        """True when the model takes integer token ids."""
        return self.dtype != "float32"


def load_data(name: str, inputs: Inputs, data_dir: str | None = None, validation_split=0.1):
    """``(x_train, y_train), (x_val, y_val), (x_test, y_test)`` for the model ``inputs``
    describes: NHWC float32 samples (int64 token ids) and int64 labels, checked.

    Raises :class:`DataError` naming the source (and the file) when the data cannot be read
    or does not fit the model.
    """
    name = str(name)
    x_train, y_train, x_test, y_test = load_source(name, inputs, data_dir)
    for key, x, y in (("x_train", x_train, y_train), ("x_test", x_test, y_test)):
        check_samples(x, name, key)
        if len(x) != len(y):
            what = key.replace("x_", "y_")
            raise DataError(f"{name}: {key} has {len(x)} samples but {what} has {len(y)} labels")
    x_train, x_test = fit_shape(x_train, inputs.shape, name), fit_shape(x_test, inputs.shape, name)
    y_train, y_test = labels(y_train, name, "y_train"), labels(y_test, name, "y_test")
    if len(y_train) == 0:
        raise DataError(f"{name}: no training samples")
    top = int(max(y_train.max(initial=0), y_test.max(initial=0)))
    if top >= inputs.classes:
        raise DataError(
            f"{name} has labels up to {top} but the model has {inputs.classes} outputs; "
            f"end the model with `dense {top + 1} softmax`"
        )
    train, val = stratified_split(y_train, validation_split)
    x_train, y_train, x_val, y_val = x_train[train], y_train[train], x_train[val], y_train[val]
    if len(x_train) == 0:
        raise DataError(f"{name}: no training samples are left after the validation split")
    if name in STANDARDISED:
        mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-7
        x_train, x_val, x_test = ((x - mean) / std for x in (x_train, x_val, x_test))
    dtype = inputs.dtype
    return (
        (x_train.astype(dtype), y_train),
        (x_val.astype(dtype), y_val),
        (x_test.astype(dtype), y_test),
    )


def load_source(name: str, inputs: Inputs, data_dir: str | None):
    """The four arrays of a source, normalised but not yet checked or split."""
    if name == "synthetic" or name.startswith("synthetic:"):
        return synthetic(name, inputs)
    if name.startswith("npz:") or (name.endswith(".npz") and os.path.isfile(name)):
        return load_npz(name.removeprefix("npz:"), inputs)
    is_folder = name.startswith("folder:") or os.path.isdir(name)
    if inputs.ids and (name in catalog.CATALOG or is_folder):
        info = catalog.lookup(name)
        what = info.kind if info else "images"
        raise DataError(
            f"{name} holds float {what} but the model takes integer token ids "
            "(`input L dtype=int`): use npz:PATH with integer x arrays, or synthetic"
        )
    if name in LOADERS:
        return LOADERS[name](name, data_dir)
    if is_folder:
        root = name.removeprefix("folder:")
        x, y = formats.read_image_folder(root, inputs.shape, inputs.classes)
        train, test = stratified_split(y, TEST_FRACTION)
        return x[train], y[train], x[test], y[test]
    raise DataError(
        f"unknown data {name!r}: use {catalog.source_names()} "
        "(or a folder with one sub-folder of images per class)"
    )


def load_sklearn(name: str, data_dir: str | None = None):
    """digits (images / 16), iris or wine from scikit-learn, a stratified 20% held out."""
    try:
        from sklearn import datasets
    except ImportError:
        raise DataError(f"{name} needs scikit-learn: pip install scikit-learn") from None
    bunch = getattr(datasets, f"load_{name}")()
    x = bunch.images / 16.0 if name == "digits" else bunch.data
    x, y = x.astype("float32"), bunch.target.astype("int64")
    train, test = stratified_split(y, TEST_FRACTION)
    return x[train], y[train], x[test], y[test]


def load_mnist(name: str, data_dir: str | None):
    """MNIST's idx files, images / 255."""
    found = formats.mnist_files(data_dir)
    arrays = {stem: formats.read_idx(path) for stem, path in found.items()}
    return (
        arrays["train-images-idx3-ubyte"].astype("float32") / 255.0,
        arrays["train-labels-idx1-ubyte"],
        arrays["t10k-images-idx3-ubyte"].astype("float32") / 255.0,
        arrays["t10k-labels-idx1-ubyte"],
    )


def load_cifar10(name: str, data_dir: str | None):
    """CIFAR-10's python batches, NHWC images / 255."""
    folder = formats.cifar10_folder(data_dir)
    parts = [formats.read_cifar_batch(os.path.join(folder, f)) for f in formats.CIFAR10_FILES]
    x_train = np.concatenate([x for x, _ in parts[:-1]]).astype("float32") / 255.0
    y_train = np.concatenate([y for _, y in parts[:-1]])
    return x_train, y_train, parts[-1][0].astype("float32") / 255.0, parts[-1][1]


# one loader per catalog name (the tests check that the two lists agree)
LOADERS = {
    "digits": load_sklearn,
    "iris": load_sklearn,
    "wine": load_sklearn,
    "mnist": load_mnist,
    "cifar10": load_cifar10,
}
STANDARDISED = ("iris", "wine")  # features scaled with the training split's statistics


def synthetic(name: str, inputs: Inputs):
    """Random labels and standard-normal samples, or token ids in [0, vocab)."""
    count = name.partition(":")[2] or str(SYNTHETIC_SAMPLES)
    if not count.isdigit() or int(count) < 2:
        raise DataError(f"{name}: write synthetic or synthetic:N with N >= 2 training samples")
    rng = np.random.default_rng(SPLIT_SEED)
    n_train, n_test = int(count), max(1, int(count) // 4)
    shape = (n_train + n_test, *inputs.shape)
    if inputs.ids:
        x = rng.integers(0, inputs.vocab or 1, size=shape, dtype="int64")
    else:
        x = rng.standard_normal(shape, dtype="float32")
    y = rng.integers(0, inputs.classes, size=n_train + n_test).astype("int64")
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def load_npz(path: str, inputs: Inputs):
    """An npz archive: uint8 samples / 255, other numbers as stored; token ids kept int64."""
    arrays = formats.read_npz(path)
    where = f"npz:{path}"
    for key in ("x_train", "x_test"):
        check_samples(arrays[key], where, key)
    if inputs.ids:
        return ids_from_npz(path, arrays, inputs.vocab)
    x_train, x_test = (scale(arrays[k]) for k in ("x_train", "x_test"))
    return x_train, arrays["y_train"], x_test, arrays["y_test"]


def ids_from_npz(path: str, arrays: dict, vocab: int | None):
    """The x arrays of an archive of token ids, each id in [0, vocab), as int64."""
    for key in ("x_train", "x_test"):
        x = arrays[key]
        if not np.issubdtype(x.dtype, np.integer):
            raise DataError(
                f"{path}: {key} is {x.dtype} but the model takes integer token ids "
                "(`input L dtype=int`); store the ids as an integer array"
            )
        if x.size and vocab is not None and (x.min() < 0 or x.max() >= vocab):
            raise DataError(
                f"{path}: {key} has token ids from {x.min()} to {x.max()} but the model's "
                f"vocabulary is [0, {vocab}) (the smallest `embedding`'s); map the ids into it"
            )
    return (
        arrays["x_train"].astype("int64"),
        arrays["y_train"],
        arrays["x_test"].astype("int64"),
        arrays["y_test"],
    )


def scale(x: np.ndarray) -> np.ndarray:
    """uint8 images / 255; other numbers as float32, as stored."""
    return x.astype("float32") / 255.0 if x.dtype == np.uint8 else x.astype("float32")


def check_samples(x: np.ndarray, where: str, key: str) -> None:
    """Refuse samples that are not numbers, not finite, or not an array of samples."""
    x = np.asarray(x)
    if x.dtype.kind not in NUMERIC_KINDS:
        what = KIND_NAMES.get(x.dtype.kind, str(x.dtype))
        raise DataError(f"{where}: {key} holds {what} ({x.dtype}), not numbers")
    if x.ndim == 0:
        raise DataError(f"{where}: {key} is a single number, not an array of samples")
    _check_finite(x, where, key, "samples")


def _check_finite(x: np.ndarray, where: str, key: str, what: str) -> None:
    if x.dtype.kind != "f":
        return
    bad = ~np.isfinite(x)
    if bad.any():
        first = int(np.argmax(bad.reshape(len(x), -1).any(axis=1))) if x.ndim else 0
        raise DataError(
            f"{where}: {key} has {int(bad.sum())} NaN or infinite values "
            f"(the first in {what[:-1]} {first}); clean or drop them"
        )


def labels(y: np.ndarray, where: str, key: str = "y") -> np.ndarray:
    """Labels as int64 class indices: a vector (or one column) of non-negative integers."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.dtype.kind not in NUMERIC_KINDS:
        what = KIND_NAMES.get(y.dtype.kind, str(y.dtype))
        raise DataError(f"{where}: {key} holds {what} ({y.dtype}), not class indices")
    if y.ndim != 1:
        shape = "x".join(map(str, y.shape))
        raise DataError(f"{where}: {key} must be a vector of class indices, not {shape}")
    _check_finite(y, where, key, "labels")
    if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
        raise DataError(f"{where}: {key} must hold integer class indices, not fractions")
    if y.size and y.min() < 0:
        raise DataError(f"{where}: {key} has negative labels (down to {y.min()})")
    return y.astype("int64")


def fit_shape(x: np.ndarray, shape: tuple[int, ...], name: str) -> np.ndarray:
    """Give samples the model's input shape: flatten for vectors, add a 1-channel axis."""
    sample, want = tuple(x.shape[1:]), tuple(shape)
    if sample == want:
        return x
    if int(np.prod(sample)) == int(np.prod(want)) and (len(want) == 1 or want == (*sample, 1)):
        return x.reshape(len(x), *want)
    raise DataError(
        f"{name} has samples of shape {'x'.join(map(str, sample)) or 'scalar'} but the "
        f"model's input is {'x'.join(map(str, want))}; change the spec's `input` line"
    )


def stratified_split(y: np.ndarray, fraction: float):
    """Indices (keep, held_out): ``fraction`` of each class held out, with a fixed seed."""
    rng = np.random.default_rng(SPLIT_SEED)
    keep, held = [], []
    for cls in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == cls))
        cut = round(len(members) * fraction)
        held.append(members[:cut])
        keep.append(members[cut:])
    keep_idx = np.sort(np.concatenate(keep)) if keep else np.zeros(0, "int64")
    held_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, "int64")
    return keep_idx, held_idx
