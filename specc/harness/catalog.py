"""What is known about the named datasets without loading them: sample shapes and classes.

This is the one list of data sources.  ``specc check`` reads it (through
``specc.data_catalog``) to catch a spec whose input or output does not fit its data, the
command-line help lists it, and ``datasets.py`` has one loader per name here.  Pure Python:
importing it costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetInfo:
    """A named dataset: the input shapes a spec may declare for it and its number of classes."""

    name: str
    shapes: tuple[tuple[int, ...], ...]  # without the batch axis, in the spec's HxWxC order
    classes: int
    description: str
    kind: str = "images"  # what the samples are: float "images" or "features"
    normalisation: str = "/ 255"


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
        DatasetInfo("mnist", ((28, 28, 1), (784,)), 10, "MNIST handwritten digits, 28x28"),
        DatasetInfo("cifar10", ((32, 32, 3),), 10, "CIFAR-10 colour images, 32x32"),
    )
}

# Data sources whose shapes are only known at load time: what each is, by how it is written.
OPEN_SOURCES = {
    "synthetic[:N]": "random samples of the model's input shape (token ids for an int input)",
    "npz:PATH": "an .npz archive holding x_train, y_train, x_test and y_test",
    "folder:DIR": "one sub-folder of images per class (a plain folder path works too)",
}
OPEN_NAMES = ("synthetic",)
OPEN_PREFIXES = ("npz:", "folder:", "synthetic:")
# what a spec without a `data` setting trains on: bundled with scikit-learn, works offline
DEFAULT_DATA = "digits"


def lookup(data: str) -> DatasetInfo | None:
    """The catalog entry for a ``data`` value, or None for npz/folder/synthetic sources."""
    return CATALOG.get(data)


def is_known_source(data: str) -> bool:
    """True for catalog names and the open sources (``synthetic``, ``npz:PATH``, ``folder:DIR``)."""
    return data in CATALOG or data in OPEN_NAMES or data.startswith(OPEN_PREFIXES)


def source_names() -> str:
    """Every way to name data, for help texts: ``digits, iris, ..., npz:PATH, folder:DIR``."""
    return ", ".join([*CATALOG, *OPEN_SOURCES])
