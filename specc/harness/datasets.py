"""The data a run trains on: one loader per source, the normalisation, the splits, the checks.

The same numpy code for both backends, so that both see identical samples:

- sources: the catalog's names (``digits``, ``iris``, ``wine``, ``breast_cancer``,
  ``diabetes``, ``multilabel``: scikit-learn; ``mnist``: idx files; ``cifar10``: python
  batches; ``shapes``, ``chunks``, ``corpus``: generated, ``generated.py``), ``npz:PATH``
  (x_train, y_train, x_test, y_test; several outputs: ``outputs.py``), ``folder:DIR`` or a
  folder path (one sub-folder of images per class), ``text:PATH`` (characters), ``synthetic[:N]``;
- normalisation: digits / 16; mnist, cifar10, image folders and uint8 npz arrays / 255; the
  tabular sets standardised with the training split's mean and std; other npz arrays as
  stored;
- labels: as each task takes them (``labels.py``); a model with several outputs gets a dict
  of label sets by output name (``outputs.py``), one with several inputs a dict of samples by
  input name (``feeds.py``);
- splits: mnist, cifar10, npz and the generated sets keep their test set, the others hold out
  20% (stratified for class labels); validation is a fraction of the training part
  (stratified for class labels); the seed of every split is fixed (0), independent of the
  training seed;
- checks, before any training: numbers only (no strings or objects), finite values, as many
  labels as samples, labels that fit the task and the model, samples that fit its input.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import catalog, feeds, formats, generated, outputs
from . import labels as labels_module
from .errors import DataError
from .feeds import Feed
from .outputs import Head

SPLIT_SEED = 0  # fixed: every seed and both frameworks see the same splits
TEST_FRACTION = 0.2  # for datasets without their own test set
SYNTHETIC_SAMPLES = 2048


@dataclass(frozen=True)
class Inputs:
    """What the model takes and predicts: the samples' shape and dtype, the classes, the task
    and the output's shape."""

    shape: tuple[int, ...]
    classes: int
    dtype: str = "float32"  # "int64" for token ids
    vocab: int | None = None  # token ids are in [0, vocab)
    task: str = "classify"
    output_shape: tuple[int, ...] | None = None  # None: (classes,)
    heads: tuple[Head, ...] = ()  # a model with several outputs: each, with its task
    feeds: tuple[Feed, ...] = ()  # a model with several inputs: each

    @property
    def ids(self) -> bool:
        """True when the model takes integer token ids."""
        return self.dtype != "float32"

    @property
    def out(self) -> tuple[int, ...]:
        """The model's output shape (without the batch axis)."""
        return tuple(self.output_shape) if self.output_shape else (self.classes,)


def inputs_of(config) -> Inputs:
    """The :class:`Inputs` of a run's configuration."""
    return Inputs(
        tuple(config.input_shape),
        config.num_classes or 1,
        config.input_dtype,
        config.vocab_size,
        config.train.get("task", "classify"),
        tuple(config.output_shape) or None,
        outputs.heads_of(config),
        feeds.feeds_of(config),
    )


@dataclass(frozen=True)
class Dataset:
    """The splits of a source, and what the source says about itself (``vocabulary``: the
    characters of a text source, by id)."""

    train: tuple
    val: tuple
    test: tuple
    vocabulary: str | None = None

    @property
    def splits(self):
        """``(train, val, test)``, each ``(x, y)``."""
        return self.train, self.val, self.test


def load_data(name: str, inputs: Inputs, data_dir: str | None = None, validation_split=0.1):
    """``(x_train, y_train), (x_val, y_val), (x_test, y_test)`` for the model ``inputs``
    describes: NHWC float32 samples (int64 token ids) and labels as its task takes them
    (``labels.py``), checked.

    Raises :class:`DataError` naming the source (and the file) when the data cannot be read
    or does not fit the model.
    """
    return load_dataset(name, inputs, data_dir, validation_split).splits


def load_dataset(name: str, inputs: Inputs, data_dir: str | None = None, validation_split=0.1):
    """:func:`load_data`'s splits as a :class:`Dataset`, with what the source says."""
    name = str(name)
    loaded = load_source(name, inputs, data_dir)
    vocabulary = None
    if len(loaded) == 2:  # a text source: the arrays and its characters
        loaded, vocabulary = loaded
    x_train, y_train, x_test, y_test = loaded
    shapes = {f.name: f.shape for f in inputs.feeds}
    for key, x, y in (("x_train", x_train, y_train), ("x_test", x_test, y_test)):
        feeds.each(x, lambda v, n, key=key: check_samples(v, name, f"{key}_{n}" if n else key))
        feeds.check_lengths(x, name, key)
        if feeds.count(x) != outputs.count(y):
            what = key.replace("x_", "y_")
            raise DataError(
                f"{name}: {key} has {feeds.count(x)} samples but {what} has "
                f"{outputs.count(y)} labels"
            )
    x_train, x_test = (feeds.each(x, lambda v, n: fit_shape(v, shapes.get(n, inputs.shape), name))
                       for x in (x_train, x_test))  # fmt: skip
    y_train, y_test = labelled(y_train, inputs, name, "y_train"), labelled(y_test, inputs, name,
                                                                          "y_test")  # fmt: skip
    if outputs.count(y_train) == 0:
        raise DataError(f"{name}: no training samples")
    if inputs.heads:
        by, task = outputs.stratify_by(y_train, inputs.heads)
        every = np.zeros(outputs.count(y_train))
        train, val = split(by if by is not None else every, validation_split, task)
    else:
        train, val = split(y_train, validation_split, inputs.task)
    x_train, x_val = outputs.take(x_train, train), outputs.take(x_train, val)
    y_train, y_val = outputs.take(y_train, train), outputs.take(y_train, val)
    if feeds.count(x_train) == 0:
        raise DataError(f"{name}: no training samples are left after the validation split")
    if name in STANDARDISED:
        mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-7
        x_train, x_val, x_test = ((x - mean) / std for x in (x_train, x_val, x_test))
    if name in STANDARDISED_TARGETS:
        outputs.standardise(y_train, (y_val, y_test), STANDARDISED_TARGETS[name])
    dtypes = {f.name: f.dtype for f in inputs.feeds}

    def typed(x):
        return feeds.each(x, lambda v, n: v.astype(dtypes.get(n, inputs.dtype)))

    return Dataset(
        (typed(x_train), y_train), (typed(x_val), y_val), (typed(x_test), y_test), vocabulary
    )


def labelled(y, inputs: Inputs, where: str, key: str):
    """The labels ``y`` checked and shaped for the model: one array for one output, a dict by
    output name for several (a dataset with several label sets needs several outputs)."""
    if inputs.heads:
        return outputs.for_heads(y, inputs.heads, where, key)
    if isinstance(y, dict):
        raise DataError(
            f"{where} has one label set per output ({', '.join(y)}), but the model has one "
            f"output: give it one output per label set, named after it (`output {' '.join(y)}`)"
        )
    return labels_module.for_task(y, inputs.task, inputs.out, where, key)


def split(y: np.ndarray, fraction: float, task: str):
    """Indices (keep, held_out) with ``fraction`` held out: stratified for class labels,
    a seeded random choice otherwise."""
    if labels_module.stratified(task):
        return stratified_split(labels_module.class_of(y), fraction)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(y))
    cut = round(len(y) * fraction)
    return np.sort(order[cut:]), np.sort(order[:cut])


def load_source(name: str, inputs: Inputs, data_dir: str | None):
    """The four arrays of a source, normalised but not yet checked or split (and the
    vocabulary, for a text source)."""
    if name == "synthetic" or name.startswith("synthetic:"):
        return synthetic(name, inputs)
    if name.startswith("npz:") or (name.endswith(".npz") and os.path.isfile(name)):
        return load_npz(name.removeprefix("npz:"), inputs)
    if inputs.feeds:
        raise feeds.one_array(name, inputs.feeds)
    base = name.partition(":")[0]
    info = catalog.lookup(name)
    is_folder = name.startswith("folder:") or (info is None and os.path.isdir(name))
    text = name.startswith("text:")
    holds_ids = text or (info is not None and info.kind == "ids")
    if inputs.ids != holds_ids and (info is not None or is_folder or text):
        what = "token ids" if holds_ids else f"float {info.kind if info else 'images'}"
        want = "integer token ids (`input L dtype=int`)" if inputs.ids else "floats"
        hint = (
            "use npz:PATH with integer x arrays, or synthetic"
            if inputs.ids
            else "declare `input L dtype=int` and an `embedding` after it"
        )
        raise DataError(f"{name} holds {what} but the model takes {want}: {hint}")
    if text:
        return generated.text_file(
            name.removeprefix("text:"), inputs.shape[0], inputs.vocab, TEST_FRACTION / 2
        )
    if inputs.heads and (base in GENERATED or text or is_folder):
        raise DataError(
            f"{name} has one label set, but the model has several outputs "
            f"({', '.join(h.name for h in inputs.heads)}): train it on npz:PATH with "
            "y_train_NAME and y_test_NAME per output, or on wine_multitask"
        )
    if base in GENERATED:
        return GENERATED[base](name, inputs)
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


def _shapes(name: str, inputs: Inputs):
    return generated.shapes(name, inputs.shape)


def _chunks(name: str, inputs: Inputs):
    return generated.chunks(name, inputs.shape[0])


def _corpus(name: str, inputs: Inputs):
    if inputs.vocab is not None and inputs.vocab < len(generated.CORPUS_ALPHABET):
        raise DataError(
            f"{name} has {len(generated.CORPUS_ALPHABET)} characters but the model's "
            f"vocabulary is {inputs.vocab}: make its `embedding` at least "
            f"{len(generated.CORPUS_ALPHABET)}"
        )
    return generated.corpus(name, inputs.shape[0])


# the generated sets, made at the model's size
GENERATED = {"shapes": _shapes, "chunks": _chunks, "corpus": _corpus}


def load_sklearn(name: str, data_dir: str | None = None):
    """A scikit-learn dataset, 20% held out (stratified for classes): digits (images / 16),
    iris, wine, breast_cancer (classes), diabetes (one target), multilabel (the seeded
    generator: 20 count features, 5 labels)."""
    try:
        from sklearn import datasets
    except ImportError:
        raise DataError(f"{name} needs scikit-learn: pip install scikit-learn") from None
    if name == "wine_multitask":
        return wine_multitask(datasets.load_wine())
    if name == "multilabel":
        x, y = datasets.make_multilabel_classification(
            n_samples=2000, n_features=20, n_classes=5, n_labels=2, random_state=SPLIT_SEED
        )
        x, y = x.astype("float32"), y.astype("int64")
        train, test = split(y, TEST_FRACTION, "multilabel")
        return x[train], y[train], x[test], y[test]
    bunch = getattr(datasets, f"load_{name}")()
    x = bunch.images / 16.0 if name == "digits" else bunch.data
    if name == "diabetes":
        x, y = x.astype("float32"), bunch.target.astype("float32")
        train, test = split(y, TEST_FRACTION, "regression")
        return x[train], y[train], x[test], y[test]
    x, y = x.astype("float32"), bunch.target.astype("int64")
    train, test = stratified_split(y, TEST_FRACTION)
    return x[train], y[train], x[test], y[test]


def wine_multitask(bunch):
    """scikit-learn's wine as two label sets: the 12 features other than alcohol; the
    cultivar (class indices) and the alcohol (one target); 20% held out, stratified by
    cultivar."""
    alcohol = bunch.feature_names.index("alcohol")
    x = np.delete(bunch.data, alcohol, axis=1).astype("float32")
    y = {"cultivar": bunch.target.astype("int64"),
         "alcohol": bunch.data[:, alcohol].astype("float32")}  # fmt: skip
    train, test = stratified_split(y["cultivar"], TEST_FRACTION)
    return x[train], outputs.take(y, train), x[test], outputs.take(y, test)


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
    "breast_cancer": load_sklearn,
    "diabetes": load_sklearn,
    "multilabel": load_sklearn,
    "wine_multitask": load_sklearn,
    "mnist": load_mnist,
    "cifar10": load_cifar10,
}
# features scaled with the training split's statistics
STANDARDISED = ("iris", "wine", "breast_cancer", "diabetes", "multilabel", "wine_multitask")
# label sets scaled with the training split's statistics (after the validation split)
STANDARDISED_TARGETS = {"wine_multitask": ("alcohol",)}


def synthetic(name: str, inputs: Inputs):
    """Random samples (standard-normal, or token ids in [0, vocab)) and random labels of the
    task's kind."""
    count = name.partition(":")[2] or str(SYNTHETIC_SAMPLES)
    if not count.isdigit() or int(count) < 2:
        raise DataError(f"{name}: write synthetic or synthetic:N with N >= 2 training samples")
    rng = np.random.default_rng(SPLIT_SEED)
    n_train, n_test = int(count), max(1, int(count) // 4)
    total = n_train + n_test
    shape = (total, *inputs.shape)
    if inputs.feeds:
        x = feeds.synthetic(inputs.feeds, total, rng)
    elif inputs.ids:
        x = rng.integers(0, inputs.vocab or 1, size=shape, dtype="int64")
    else:
        x = rng.standard_normal(shape, dtype="float32")
    if inputs.heads:
        train_y, test_y = outputs.split_dict(outputs.synthetic(inputs.heads, total, rng), n_train)
        return first(x, n_train), train_y, rest(x, n_train), test_y
    out = inputs.out
    if inputs.task == "regression":
        y = rng.standard_normal((total, out[-1])).astype("float32")
    elif inputs.task in ("binary", "multilabel"):
        y = rng.integers(0, 2, size=(total, out[-1])).astype("int64")
    else:
        y = rng.integers(0, out[-1], size=(total, *out[:-1])).astype("int64")
    return first(x, n_train), y[:n_train], rest(x, n_train), y[n_train:]


def first(x, n: int):
    """The first ``n`` samples of ``x`` (an array, or a dict of them by input)."""
    return feeds.each(x, lambda v, _: v[:n])


def rest(x, n: int):
    """The samples of ``x`` after the first ``n``."""
    return feeds.each(x, lambda v, _: v[n:])


def load_npz(path: str, inputs: Inputs):
    """An npz archive: uint8 samples / 255, other numbers as stored; token ids kept int64."""
    if inputs.heads or inputs.feeds:  # an array per input, a label set per output, by name
        x_keys = feeds.npz_keys(inputs.feeds) if inputs.feeds else ("x_train", "x_test")
        y_keys = outputs.npz_keys(inputs.heads) if inputs.heads else ("y_train", "y_test")
        arrays = formats.read_npz(path, (*x_keys, *y_keys), lambda names: outputs.missing_npz(
            path, names, inputs.heads, inputs.feeds))  # fmt: skip
        if inputs.heads:
            arrays["y_train"] = outputs.npz_labels(arrays, inputs.heads, "train")
            arrays["y_test"] = outputs.npz_labels(arrays, inputs.heads, "test")
        if inputs.feeds:
            for key in x_keys:
                check_samples(arrays[key], f"npz:{path}", key)
            train, test = (
                feeds.npz_samples(arrays, inputs.feeds, s, path) for s in ("train", "test")
            )
            return train, arrays["y_train"], test, arrays["y_test"]
    else:
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
    x = labels_module.numbers(x, where, key, "numbers")
    if x.ndim == 0:
        raise DataError(f"{where}: {key} is a single number, not an array of samples")
    labels_module.finite(x, where, key, "sample")


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
