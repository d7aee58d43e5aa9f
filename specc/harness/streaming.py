"""Image folders read from disk batch by batch, decoded in parallel: for folders larger than
memory (or ``--stream``).

A streamed folder is split as the in-memory one is (the same stratified test and validation
shares, fixed seed), its images decoded and resized with the same Pillow code
(``formats.read_image``), and its batches come in the same order, augmented with the same
per-sample parameters: a run gives the same numbers streamed or not.  The decoding runs in
PyTorch ``DataLoader`` worker processes (``--workers N``) or in a ``tf.data`` pipeline's
parallel map (``--workers N`` threads; 0 lets tf.data choose).

A folder is streamed when ``--stream`` says so, or when its decoded training images would
take more than a quarter of this machine's memory.
"""

from __future__ import annotations

import os

import numpy as np

from . import formats
from .datasets import TEST_FRACTION, stratified_split

MEMORY_SHARE = 0.25  # decoded images beyond this share of the memory are streamed


class FolderStream:
    """The files and labels of an image folder's train, validation and test splits."""

    def __init__(self, root: str, shape: tuple[int, ...], classes: int, validation_split: float):
        paths, labels = formats.image_files(root, classes)
        paths = np.asarray(paths)
        train, test = stratified_split(labels, TEST_FRACTION)
        keep, val = stratified_split(labels[train], validation_split)
        self.files = {
            "train": (paths[train][keep], labels[train][keep]),
            "val": (paths[train][val], labels[train][val]),
            "test": (paths[test], labels[test]),
        }
        self.mode, self.image_shape = formats.image_mode(shape)
        self.shape = tuple(shape)

    def count(self, split: str) -> int:
        """How many images ``split`` has."""
        return len(self.files[split][1])

    def labels(self, split: str) -> np.ndarray:
        """The labels of ``split``, in index order."""
        return self.files[split][1]

    def decode(self, split: str, index: int) -> np.ndarray:
        """Image ``index`` of ``split`` as the model takes it (HxWxC float32)."""
        image = formats.read_image(str(self.files[split][0][index]), self.mode,
                                   self.image_shape)  # fmt: skip
        return image.reshape(self.shape)


def folder_root(name: str) -> str | None:
    """The folder of a ``folder:DIR`` (or plain folder) data source, else None."""
    if name.startswith("folder:"):
        return name.removeprefix("folder:")
    if os.path.isdir(name):
        return name
    return None


def memory_bytes() -> int:
    """This machine's physical memory (a large number where it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def open_stream(settings, inputs) -> FolderStream | None:
    """The run's data as a stream, when it is an image folder that should be streamed."""
    root = folder_root(settings.data)
    if root is None or len(inputs.shape) != 3:
        return None
    if inputs.heads or inputs.feeds:  # one label set and one array: datasets.py says so
        return None
    stream = FolderStream(root, inputs.shape, inputs.classes, settings.validation_split)
    decoded = stream.count("train") * int(np.prod(inputs.shape)) * 4
    if settings.stream or decoded > MEMORY_SHARE * memory_bytes():
        return stream
    return None
