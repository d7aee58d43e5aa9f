"""What specc knows about the named datasets without loading them: shapes and class counts.

``specc check`` uses this to catch a spec whose input or output does not fit its data; the
loaders themselves live in the emitted training scripts.
"""

from __future__ import annotations

from dataclasses import dataclass

from specc.ir import Shape


@dataclass(frozen=True)
class DatasetInfo:
    """A named dataset: the input shapes a spec may declare for it and its number of classes."""

    name: str
    shapes: tuple[Shape, ...]
    classes: int
    description: str
    kind: str = "images"  # what the samples are: float "images" or "features"


CATALOG: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("digits", ((8, 8, 1), (64,)), 10, "scikit-learn's 8x8 handwritten digits"),
        DatasetInfo("iris", ((4,),), 3, "scikit-learn's iris flowers, 4 features", "features"),
        DatasetInfo(
            "wine", ((13,),), 3, "scikit-learn's wine recognition, 13 features", "features"
        ),
        DatasetInfo("mnist", ((28, 28, 1), (784,)), 10, "MNIST handwritten digits, 28x28"),
        DatasetInfo("cifar10", ((32, 32, 3),), 10, "CIFAR-10 colour images, 32x32"),
    )
}

# Data sources whose shapes are only known at load time.
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
