"""What is known about the named datasets without loading them: sample shapes, classes, tasks.

This is the one list of data sources.  ``specc check`` reads it (through
``specc.data_catalog``) to catch a spec whose input or output does not fit its data, the
command-line help lists it, and ``datasets.py`` has one loader per name here.  Pure Python:
importing it costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelSet:
    """One of a dataset's label sets, for the model output of the same name: its task and its
    number of classes (or targets)."""

    name: str
    task: str
    classes: int
    description: str = ""


@dataclass(frozen=True)
class DatasetInfo:
    """A named dataset: the input shapes a spec may declare for it, its number of classes
    (labels, targets or tokens) and the tasks its labels are for (the first is the default).

    A dataset generated at the model's size has no fixed ``shapes``: ``rank`` says what input
    it fits (3: any HxWx1 or HxWx3 image; 1: a sequence of any length of token ids).
    """

    name: str
    shapes: tuple[tuple[int, ...], ...]  # without the batch axis, in the spec's HxWxC order
    classes: int
    description: str
    kind: str = "images"  # what the samples are: float "images" or "features", or "ids"
    normalisation: str = "/ 255"
    tasks: tuple[str, ...] = ("classify",)
    rank: int = 0  # for a dataset made at the model's size: the rank of its input, else 0
    vocab: int | None = None  # token ids are in [0, vocab)
    # several label sets, one per model output of the same name (empty: one set, ``classes``)
    label_sets: tuple[LabelSet, ...] = ()

    def label_set(self, name: str) -> LabelSet | None:
        """The label set called ``name``, or None."""
        return next((s for s in self.label_sets if s.name == name), None)


CATALOG: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "digits",
            ((8, 8, 1), (64,)),
            10,
            "scikit-learn's 8x8 handwritten digits",
            normalisation="/ 16",
        ),
        DatasetInfo(
            "iris",
            ((4,),),
            3,
            "scikit-learn's iris flowers, 4 features",
            "features",
            "standardised with the training split's mean and std",
        ),
        DatasetInfo(
            "wine",
            ((13,),),
            3,
            "scikit-learn's wine recognition, 13 features",
            "features",
            "standardised with the training split's mean and std",
        ),
        DatasetInfo(
            "wine_multitask",
            ((12,),),
            3,
            "scikit-learn's wine recognition as two tasks: from the 12 features other than "
            "alcohol, the cultivar (3 classes) and the alcohol content (one target)",
            "features",
            "standardised with the training split's mean and std; the alcohol target too",
            tasks=("classify", "regression"),
            label_sets=(
                LabelSet("cultivar", "classify", 3, "the grape's cultivar, 0 to 2"),
                LabelSet(
                    "alcohol",
                    "regression",
                    1,
                    "alcohol (% vol), standardised with the training split's mean and std",
                ),
            ),
        ),
        DatasetInfo(
            "breast_cancer",
            ((30,),),
            2,
            "scikit-learn's breast cancer diagnosis, 30 features, malignant (0) or benign (1)",
            "features",
            "standardised with the training split's mean and std",
            tasks=("binary", "classify"),
        ),
        DatasetInfo(
            "diabetes",
            ((10,),),
            1,
            "scikit-learn's diabetes progression, 10 features, one target (25 to 346)",
            "features",
            "standardised with the training split's mean and std; targets as they are",
            tasks=("regression",),
        ),
        DatasetInfo(
            "multilabel",
            ((20,),),
            5,
            "scikit-learn's seeded multi-label generator: 20 count features, 5 labels",
            "features",
            "standardised with the training split's mean and std",
            tasks=("multilabel",),
        ),
        DatasetInfo("mnist", ((28, 28, 1), (784,)), 10, "MNIST handwritten digits, 28x28"),
        DatasetInfo("cifar10", ((32, 32, 3),), 10, "CIFAR-10 colour images, 32x32"),
        DatasetInfo(
            "shapes",
            (),
            3,
            "generated images of discs and squares on a noisy background, with their masks "
            "(0 background, 1 disc, 2 square), at the model's input size",
            normalisation="in [0, 1]",
            tasks=("segment",),
            rank=3,
        ),
        DatasetInfo(
            "chunks",
            (),
            3,
            "generated token sequences tagged O (0), B (1) or I (2): a token of 10..19 begins "
            "or continues a chunk, one of 0..9 is outside",
            "ids",
            "token ids in [0, 20)",
            tasks=("tag",),
            rank=1,
            vocab=20,
        ),
        DatasetInfo(
            "corpus",
            (),
            30,
            "a generated English-like text (a small grammar), character by character",
            "ids",
            "character ids in [0, 30)",
            tasks=("language_model",),
            rank=1,
            vocab=30,
        ),
    )
}

# Data sources whose shapes are only known at load time: what each is, by how it is written.
OPEN_SOURCES = {
    "synthetic[:N]": "random samples of the model's input shape (token ids for an int input)",
    "npz:PATH": "an .npz archive holding x_train, y_train, x_test and y_test (several outputs: "
    "y_train_NAME and y_test_NAME per output NAME)",
    "folder:DIR": "one sub-folder of images per class (a plain folder path works too)",
    "text:PATH": "any text file, character by character, for a language model",
}
OPEN_NAMES = ("synthetic",)
OPEN_PREFIXES = ("npz:", "folder:", "synthetic:", "text:", "shapes:", "chunks:", "corpus:")
# what a spec without a `data` setting trains on: bundled with scikit-learn, works offline
DEFAULT_DATA = "digits"
# sources whose labels are of one task whatever they hold
PREFIX_TASKS = {"text:": ("language_model",)}


def lookup(data: str) -> DatasetInfo | None:
    """The catalog entry for a ``data`` value (``shapes:500`` is ``shapes``), or None for
    npz/folder/synthetic/text sources."""
    name, _, count = data.partition(":")
    if count and (name not in CATALOG or CATALOG[name].rank == 0):
        return None
    return CATALOG.get(name)


def data_tasks(data: str | None) -> tuple[str, ...]:
    """The tasks the labels of ``data`` are for (empty when any may be)."""
    if not data:
        return ()
    info = lookup(data)
    if info is not None:
        return info.tasks
    return next((tasks for prefix, tasks in PREFIX_TASKS.items() if data.startswith(prefix)), ())


def is_known_source(data: str) -> bool:
    """True for catalog names and the open sources (``synthetic``, ``npz:PATH``, ...)."""
    return data in CATALOG or data in OPEN_NAMES or data.startswith(OPEN_PREFIXES)


def source_names() -> str:
    """Every way to name data, for help texts: ``digits, iris, ..., npz:PATH, folder:DIR``."""
    return ", ".join([*CATALOG, *OPEN_SOURCES])
