"""Readers of the on-disk formats: MNIST idx files, CIFAR-10 python batches, .npz archives and
folders of images.  Each returns numpy arrays as stored and names the file in every error.
"""

from __future__ import annotations

import gzip
import os
import pickle
import tarfile
import zipfile

import numpy as np

from . import download
from .errors import DataError

MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST_FILES = {  # stem: md5 of the .gz file
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff")


def read_idx(path: str) -> np.ndarray:
    """An idx file of unsigned bytes (raw or gzipped) as an array of its dimensions."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an idx file of unsigned bytes")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path} is truncated: its header is cut short")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    size = int(np.prod(dims))
    if len(raw) != 4 + 4 * ndim + size:
        raise DataError(f"{path} is truncated or corrupt: dims {dims}, {len(raw)} bytes")
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist_files(data_dir: str | None) -> dict[str, str]:
    """The four MNIST files (raw or .gz) by stem, found or downloaded."""
    dirs = download.search_dirs(data_dir, ("mnist", "MNIST/raw"))
    found = {stem: download.find(dirs, (stem, stem + ".gz")) for stem in MNIST_FILES}
    missing = [stem for stem, path in found.items() if path is None]
    if missing:
        target = download.download_dir(data_dir)
        try:
            for stem in missing:
                url, path = MNIST_URL + stem + ".gz", os.path.join(target, stem + ".gz")
                found[stem] = download.download(url, path, MNIST_FILES[stem])
        except DataError as exc:
            raise DataError(
                f"{exc}\nmnist needs {', '.join(missing)} (raw or .gz) from {MNIST_URL}"
            ) from None
    return found  # type: ignore[return-value]


def read_cifar_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch: NHWC uint8 images and their labels."""
    try:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
        data, labels = batch[b"data"], batch[b"labels"]
        x = np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        y = np.asarray(labels)
    except (
        OSError,
        EOFError,
        KeyError,
        IndexError,
        ValueError,
        TypeError,
        AttributeError,
        pickle.UnpicklingError,
    ) as exc:
        raise DataError(f"{path} is not a CIFAR-10 python batch: {exc}") from None
    if len(y) != len(x):
        raise DataError(f"{path} has {len(x)} images but {len(y)} labels")
    return x, y


def cifar10_folder(data_dir: str | None) -> str:
    """The ``cifar-10-batches-py`` folder: found, extracted from the archive, or downloaded."""
    dirs = download.search_dirs(data_dir, ())
    for base in dirs:
        folder = os.path.join(base, "cifar-10-batches-py")
        if all(os.path.isfile(os.path.join(folder, f)) for f in CIFAR10_FILES):
            return folder
    archive = download.find(dirs, ("cifar-10-python.tar.gz",))
    if archive is None:
        archive = os.path.join(download.download_dir(data_dir), "cifar-10-python.tar.gz")
        download.download(CIFAR10_URL, archive, CIFAR10_MD5)
    return extract_cifar10(archive)


def extract_cifar10(archive: str) -> str:
    """Unpack the CIFAR-10 archive next to itself; returns the batches' folder."""
    target = os.path.dirname(archive)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(target, filter="data")
            else:
                tar.extractall(target)  # a checksummed archive, on an older Python
    except (OSError, EOFError, tarfile.TarError) as exc:
        raise DataError(f"cannot extract {archive}: {exc}") from None
    folder = os.path.join(target, "cifar-10-batches-py")
    if not all(os.path.isfile(os.path.join(folder, f)) for f in CIFAR10_FILES):
        raise DataError(f"{archive} does not hold cifar-10-batches-py/{', '.join(CIFAR10_FILES)}")
    return folder


def read_npz(path: str, keys: tuple[str, ...] = NPZ_KEYS, lacking=None) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of an .npz archive, as stored, each checked to be readable.

    Refuses a missing, empty, truncated or damaged file, one that is not an .npz archive, a
    missing array (``lacking(names)`` says it, when given) and an array of Python objects
    (never unpickled), naming the file.
    """
    if not os.path.exists(path):
        raise DataError(f"no such file: {path}")
    if os.path.isdir(path):
        raise DataError(f"{path} is a folder, not an .npz archive")
    if os.path.getsize(path) == 0:
        raise DataError(f"{path} is empty (0 bytes), not an .npz archive")
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises many kinds for a file that is not an archive
        raise DataError(f"{path} is not a readable .npz archive ({_reason(exc)})") from None
    if not hasattr(archive, "files"):
        raise DataError(f"{path} holds one .npy array, not an .npz archive of {', '.join(keys)}")
    with archive:
        missing = [k for k in keys if k not in archive.files]
        if missing:
            if lacking is not None:
                raise DataError(lacking(missing))
            raise DataError(f"{path} lacks the arrays {', '.join(missing)}")
        arrays = {}
        for key in keys:
            try:
                arrays[key] = archive[key]
            except ValueError as exc:
                if "allow_pickle" in str(exc):
                    raise DataError(
                        f"{path}: {key} is an array of Python objects; store numbers"
                    ) from None
                raise DataError(f"{path}: cannot read {key} ({_reason(exc)})") from None
            except Exception as exc:  # a truncated member: zlib, EOF, bad CRC, ...
                raise DataError(
                    f"{path}: cannot read {key}; the archive is truncated or damaged "
                    f"({_reason(exc)})"
                ) from None
    return arrays


def _reason(exc: BaseException) -> str:
    if isinstance(exc, zipfile.BadZipFile):
        return f"truncated or damaged: {exc}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def image_files(root: str, classes: int) -> tuple[list[str], np.ndarray]:
    """The image files under ``root/<class>/`` (classes in sorted order, files in name order)
    and their labels; a :class:`DataError` when the folder does not fit ``classes``."""
    if not os.path.isdir(root):
        raise DataError(f"no such folder: {root}")
    names = sorted(d.name for d in os.scandir(root) if d.is_dir())
    if len(names) != classes:
        raise DataError(
            f"{root} has {len(names)} class folders ({', '.join(names) or 'none'}) "
            f"but the model has {classes} outputs"
        )
    paths, labels = [], []
    for label, name in enumerate(names):
        folder = os.path.join(root, name)
        for file in sorted(os.listdir(folder)):
            if file.lower().endswith(IMAGE_SUFFIXES):
                paths.append(os.path.join(folder, file))
                labels.append(label)
    if len(paths) < 2:
        raise DataError(f"{root} holds fewer than 2 images ({', '.join(IMAGE_SUFFIXES)})")
    return paths, np.asarray(labels, dtype="int64")


def image_mode(input_shape: tuple[int, ...]) -> tuple[str, tuple[int, ...] | None]:
    """PIL's mode for a model's input, and the HxWxC image it takes (None: any size)."""
    image_shape = tuple(input_shape) if len(input_shape) == 3 else None
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(image_shape[2] if image_shape else 3)
    if mode is None:
        raise DataError(f"image folders give 1, 3 or 4 channels, not {image_shape[2]}")
    return mode, image_shape


def read_image(path: str, mode: str, image_shape: tuple[int, ...] | None) -> np.ndarray:
    """One image as HxWxC float32 in [0, 1], resized (bilinear) to ``image_shape``."""
    try:
        from PIL import Image
    except ImportError:
        raise DataError("image folders need Pillow: pip install pillow") from None
    try:
        with Image.open(path) as img:
            img = img.convert(mode)
            if image_shape and img.size != (image_shape[1], image_shape[0]):
                img = img.resize((image_shape[1], image_shape[0]), Image.BILINEAR)
            pixels = np.asarray(img, dtype="float32") / 255.0
    except (OSError, ValueError, SyntaxError) as exc:  # PIL raises all three
        raise DataError(f"cannot read image {path}: {exc}") from None
    return pixels.reshape(pixels.shape[0], pixels.shape[1], -1)


def read_image_folder(root: str, input_shape: tuple[int, ...], classes: int):
    """Images under ``root/<class>/`` (classes in sorted order) as NHWC float32 in [0, 1]
    and int64 labels; resized to the model's input when it is an image."""
    paths, labels = image_files(root, classes)
    mode, image_shape = image_mode(input_shape)
    images = [read_image(path, mode, image_shape) for path in paths]
    if len({im.shape for im in images}) > 1:
        raise DataError(f"the images in {root} differ in size; give the model an image input")
    return np.stack(images), labels
