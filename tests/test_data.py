"""The harness's data loaders (``specc/harness/datasets.py``, ``formats.py``), numpy only.

The loaders are imported directly (no framework import), and fed small files
written here in the real on-disk formats: MNIST idx (raw and gzipped), CIFAR-10 python pickle
batches (a folder and a tar.gz), npz archives and image folders.  Downloads go through
``file://`` URLs, so the checksum and progress path runs without a network.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from specc.harness import catalog, datasets, formats
from specc.harness.errors import DataError


def loader(input_shape=(8, 8, 1), num_classes=10, vocab=None):
    """``load_data`` for a model with this input and output (integer token ids in
    [0, vocab) when ``vocab`` is given)."""
    dtype = "float32" if vocab is None else "int64"
    inputs = datasets.Inputs(tuple(input_shape), num_classes, dtype, vocab)

    def load(name, data_dir=None, validation_split=0.1):
        return datasets.load_data(name, inputs, data_dir, validation_split)

    return load


def sizes(splits):
    return [len(x) for x, _ in splits]


def test_digits_images_normalised_and_split():
    load = loader()
    splits = load("digits", validation_split=0.1)
    (x_tr, y_tr), (x_val, _y_val), (x_te, y_te) = splits
    assert x_tr.shape[1:] == (8, 8, 1) and x_tr.dtype == np.float32 and y_tr.dtype == np.int64
    assert sum(sizes(splits)) == 1797
    assert abs(len(x_te) - 0.2 * 1797) < 10 and abs(len(x_val) - 0.1 * 0.8 * 1797) < 10
    assert x_tr.min() >= 0.0 and x_tr.max() == 1.0  # digits / 16
    assert set(np.unique(y_te)) == set(range(10))  # stratified
    again = load("digits", validation_split=0.1)
    assert np.array_equal(again[2][0], x_te) and np.array_equal(again[0][1], y_tr)


def test_digits_vector_input_is_flattened():
    load = loader(input_shape=(64,))
    (x_tr, _), _, (x_te, _) = load("digits")
    assert x_tr.shape[1:] == (64,) and x_te.shape[1:] == (64,)


@pytest.mark.parametrize(("name", "features", "classes"), [("iris", 4, 3), ("wine", 13, 3)])
def test_tabular_standardised_with_train_statistics(name, features, classes):
    load = loader(input_shape=(features,), num_classes=classes)
    (x_tr, _), (x_val, _), (x_te, _) = load(name, validation_split=0.1)
    np.testing.assert_allclose(x_tr.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(x_tr.std(axis=0), 1.0, atol=1e-3)
    assert len(x_val) > 0 and abs(x_te.mean()) < 0.5


def test_no_validation_split():
    load = loader()
    _, (x_val, y_val), _ = load("digits", validation_split=0.0)
    assert len(x_val) == 0 and len(y_val) == 0


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def mnist_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 20, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 6, dtype=np.uint8),
    }


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_mnist_idx_files(tmp_path, suffix):
    arrays = mnist_arrays()
    for stem, array in arrays.items():
        write_idx(tmp_path / (stem + suffix), array)
    load = loader(input_shape=(28, 28, 1))
    (x_tr, y_tr), (x_val, _y_val), (x_te, y_te) = load(
        "mnist", data_dir=str(tmp_path), validation_split=0.0
    )
    assert x_tr.shape == (20, 28, 28, 1) and x_te.shape == (6, 28, 28, 1)
    np.testing.assert_allclose(x_te[..., 0], arrays["t10k-images-idx3-ubyte"] / 255.0, rtol=1e-6)
    assert np.array_equal(y_te, arrays["t10k-labels-idx1-ubyte"])
    assert np.array_equal(y_tr, arrays["train-labels-idx1-ubyte"])  # no validation: same order
    assert len(x_val) == 0


def test_mnist_flattened_for_vector_input(tmp_path):
    for stem, array in mnist_arrays().items():
        write_idx(tmp_path / stem, array)
    load = loader(input_shape=(784,))
    (x_tr, _), _, _ = load("mnist", data_dir=str(tmp_path))
    assert x_tr.shape[1:] == (784,)


def test_mnist_truncated_file_is_a_clear_error(tmp_path):
    for stem, array in mnist_arrays().items():
        write_idx(tmp_path / stem, array)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    load = loader(input_shape=(28, 28, 1))
    with pytest.raises(DataError, match="truncated"):
        load("mnist", data_dir=str(tmp_path))


def test_missing_files_name_the_files_and_urls(tmp_path, monkeypatch):
    monkeypatch.setenv("SPECC_NO_DOWNLOAD", "1")
    monkeypatch.setenv("SPECC_CACHE_DIR", str(tmp_path / "cache"))
    load = loader(input_shape=(28, 28, 1))
    with pytest.raises(DataError) as info:
        load("mnist", data_dir=str(tmp_path))
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message and "https://" in message
    load = loader(input_shape=(32, 32, 3))
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz.*https://"):
        load("cifar10", data_dir=str(tmp_path))


def test_download_checks_the_checksum(tmp_path, monkeypatch):
    """A file:// mirror: the files are fetched, verified and found; a bad md5 is refused."""
    monkeypatch.delenv("SPECC_NO_DOWNLOAD", raising=False)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    arrays = mnist_arrays()
    md5 = {}
    for stem, array in arrays.items():
        write_idx(mirror / (stem + ".gz"), array)
        md5[stem] = hashlib.md5((mirror / (stem + ".gz")).read_bytes()).hexdigest()
    load = loader(input_shape=(28, 28, 1))
    monkeypatch.setattr(formats, "MNIST_URL", mirror.as_uri() + "/")
    monkeypatch.setattr(formats, "MNIST_FILES", md5)
    target = tmp_path / "data"
    (_, _y_tr), _, (x_te, _) = load("mnist", data_dir=str(target))
    assert len(x_te) == 6 and sorted(p.name for p in target.iterdir()) == sorted(
        s + ".gz" for s in arrays
    )
    monkeypatch.setattr(formats, "MNIST_FILES", {stem: "0" * 32 for stem in arrays})
    with pytest.raises(DataError, match="checksum"):
        load("mnist", data_dir=str(tmp_path / "other"))
    assert not list((tmp_path / "other").glob("*"))  # nothing half-downloaded is left


def cifar_batch(n, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, n).tolist()
    # the on-disk layout: one row per image, the red plane, then green, then blue (CHW)
    data = images.transpose(0, 3, 1, 2).reshape(n, 3072)
    return images, labels, {b"batch_label": b"x", b"data": data, b"labels": labels}


def write_cifar(folder: Path):
    folder.mkdir(parents=True)
    parts = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):
        images, labels, batch = cifar_batch(4, i)
        parts[name] = (images, labels)
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    return parts


def test_cifar10_pickle_batches_are_nhwc(tmp_path):
    parts = write_cifar(tmp_path / "cifar-10-batches-py")
    load = loader(input_shape=(32, 32, 3))
    (x_tr, _y_tr), _, (x_te, y_te) = load("cifar10", data_dir=str(tmp_path), validation_split=0.0)
    assert x_tr.shape == (20, 32, 32, 3) and x_te.shape == (4, 32, 32, 3)
    np.testing.assert_allclose(x_te, parts["test_batch"][0] / 255.0, rtol=1e-6)
    assert y_te.tolist() == parts["test_batch"][1]


def test_cifar10_archive_is_extracted(tmp_path):
    source = tmp_path / "src"
    parts = write_cifar(source / "cifar-10-batches-py")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with tarfile.open(data_dir / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(source / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    load = loader(input_shape=(32, 32, 3))
    _, _, (x_te, _) = load("cifar10", data_dir=str(data_dir))
    np.testing.assert_allclose(x_te, parts["test_batch"][0] / 255.0, rtol=1e-6)
    assert (data_dir / "cifar-10-batches-py" / "test_batch").is_file()


def test_npz_uint8_scaled_and_channel_axis_added(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (30, 8, 8), dtype=np.uint8),
        y_train=np.arange(30) % 10,
        x_test=rng.integers(0, 256, (10, 8, 8), dtype=np.uint8),
        y_test=np.arange(10),
    )
    load = loader()
    for name in (f"npz:{path}", str(path)):
        (x_tr, _), (x_val, _), (_x_te, y_te) = load(name, validation_split=0.2)
        assert x_tr.shape[1:] == (8, 8, 1) and x_tr.max() <= 1.0
        assert len(x_tr) + len(x_val) == 30 and y_te.tolist() == list(range(10))


def test_npz_errors_are_clear(tmp_path):
    load = loader()
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((4, 8, 8, 1)), y_train=np.zeros(4))
    with pytest.raises(DataError, match="lacks the arrays x_test, y_test"):
        load(f"npz:{path}")
    np.savez(
        path, x_train=np.zeros((4, 9, 9)), y_train=np.zeros(4), x_test=np.zeros((2, 9, 9)),
        y_test=np.zeros(2),
    )  # fmt: skip
    with pytest.raises(DataError, match=r"shape 9x9 but the model's input is 8x8x1"):
        load(f"npz:{path}")
    np.savez(
        path, x_train=np.zeros((4, 8, 8)), y_train=np.array([0, 1, 2, 12]),
        x_test=np.zeros((2, 8, 8)), y_test=np.zeros(2),
    )  # fmt: skip
    with pytest.raises(DataError, match="labels up to 12 but the model has 10 outputs"):
        load(f"npz:{path}")
    with pytest.raises(DataError, match=r"no such file: .*missing\.npz"):
        load(f"npz:{tmp_path / 'missing.npz'}")
    with pytest.raises(DataError, match="unknown data"):
        load("imagenet")


def write_folder(root: Path, classes, per_class=5, size=(10, 12)):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in classes:
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i}.png")
    (root / classes[0] / "notes.txt").write_text("not an image")


def test_image_folder(tmp_path):
    write_folder(tmp_path / "imgs", ["cat", "dog", "eel"])
    load = loader(input_shape=(8, 8, 3), num_classes=3)
    for name in (f"folder:{tmp_path / 'imgs'}", str(tmp_path / "imgs")):
        splits = load(name, validation_split=0.0)
        assert sum(sizes(splits)) == 15
        (x_tr, y_tr), _, (_x_te, y_te) = splits
        assert x_tr.shape[1:] == (8, 8, 3) and x_tr.min() >= 0.0 and x_tr.max() <= 1.0
        assert sorted(set(y_tr.tolist()) | set(y_te.tolist())) == [0, 1, 2]
    grey = loader(input_shape=(10, 12, 1), num_classes=3)
    (x_tr, _), _, _ = grey(f"folder:{tmp_path / 'imgs'}")
    assert x_tr.shape[1:] == (10, 12, 1)


def test_image_folder_class_count_must_match(tmp_path):
    write_folder(tmp_path / "imgs", ["a", "b"])
    load = loader(input_shape=(8, 8, 3), num_classes=10)
    with pytest.raises(DataError, match=r"2 class folders \(a, b\) but the model has 10"):
        load(f"folder:{tmp_path / 'imgs'}")


def test_synthetic(tmp_path):
    load = loader(input_shape=(32, 32, 3))
    (x_tr, y_tr), _, (x_te, _) = load("synthetic:100", validation_split=0.0)
    assert x_tr.shape == (100, 32, 32, 3) and len(x_te) == 25 and y_tr.max() < 10
    with pytest.raises(DataError, match="synthetic:N"):
        load("synthetic:lots")


def test_pickle_helper_round_trip():
    """The CIFAR writer above produces what the real files hold (bytes keys, CHW rows)."""
    images, labels, batch = cifar_batch(2, 0)
    loaded = pickle.load(io.BytesIO(pickle.dumps(batch, protocol=2)), encoding="bytes")
    red = loaded[b"data"][0, :1024].reshape(32, 32)
    assert np.array_equal(red, images[0, :, :, 0]) and loaded[b"labels"] == labels


def write_ids_npz(path, x_train, x_test, classes=3):
    np.savez(
        path, x_train=x_train, y_train=np.arange(len(x_train)) % classes,
        x_test=x_test, y_test=np.arange(len(x_test)) % classes,
    )  # fmt: skip


def test_synthetic_token_ids_are_integers_below_the_vocabulary():
    load = loader(input_shape=(40,), num_classes=3, vocab=7)
    (x_tr, y_tr), (x_val, _), (x_te, _) = load("synthetic:200")
    for x in (x_tr, x_val, x_te):
        assert x.dtype == np.int64 and x.shape[1:] == (40,)
        assert x.min() >= 0 and x.max() < 7
    assert set(np.unique(x_tr).tolist()) == set(range(7)) and y_tr.max() < 3


def test_npz_token_ids_stay_integers(tmp_path):
    path = tmp_path / "ids.npz"
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 50, (30, 12), dtype=np.int32)
    write_ids_npz(path, x_train, rng.integers(0, 50, (6, 12), dtype=np.uint16))
    load = loader(input_shape=(12,), num_classes=3, vocab=50)
    (x_tr, _), (x_val, _), (x_te, _) = load(f"npz:{path}", validation_split=0.0)
    assert x_tr.dtype == x_te.dtype == np.int64 and len(x_val) == 0
    assert np.array_equal(np.sort(x_tr, axis=0), np.sort(x_train, axis=0).astype(np.int64))
    assert x_te.max() < 50  # uint16 ids are not scaled like uint8 images


def test_token_ids_refuse_float_data(tmp_path):
    load = loader(input_shape=(12,), num_classes=3, vocab=50)
    path = tmp_path / "floats.npz"
    write_ids_npz(path, np.zeros((6, 12), np.float32), np.zeros((3, 12), np.float32))
    with pytest.raises(DataError, match="x_train is float32 but the model takes integer"):
        load(f"npz:{path}")
    write_ids_npz(path, np.full((6, 12), 50), np.zeros((3, 12), np.int64))
    with pytest.raises(DataError, match=r"ids from 50 to 50 .* vocabulary is \[0, 50\)"):
        load(f"npz:{path}")
    write_ids_npz(path, np.zeros((6, 12), np.int64), np.full((3, 12), -1))
    with pytest.raises(DataError, match="x_test has token ids from -1"):
        load(f"npz:{path}")
    for name, what in (("digits", "images"), ("iris", "features"), (str(tmp_path), "images")):
        with pytest.raises(DataError, match=f"holds float {what} but the model takes"):
            load(name)


def test_every_catalog_name_has_a_loader_whose_data_fits_the_catalog():
    """The catalogue ``specc check`` uses and the loaders agree: names, shapes, classes."""
    assert set(datasets.LOADERS) | set(datasets.GENERATED) == set(catalog.CATALOG)
    assert not set(datasets.LOADERS) & set(datasets.GENERATED)
    for name in ("digits", "iris", "wine", "breast_cancer"):  # mnist/cifar10 above
        info = catalog.CATALOG[name]
        for shape in info.shapes:
            load = loader(input_shape=shape, num_classes=info.classes)
            (x_tr, y_tr), _, (x_te, y_te) = load(name)
            assert x_tr.shape[1:] == shape and x_te.shape[1:] == shape
            assert sorted(set(y_tr.tolist()) | set(y_te.tolist())) == list(range(info.classes))


def good_arrays():
    return {
        "x_train": np.zeros((6, 8, 8), np.float32),
        "y_train": np.arange(6) % 3,
        "x_test": np.zeros((3, 8, 8), np.float32),
        "y_test": np.arange(3),
    }


def damaged(path: Path, how: str) -> None:
    """Write ``path`` as an npz archive damaged in the way ``how`` names."""
    arrays = good_arrays()
    if how == "empty":
        path.write_bytes(b"")
        return
    if how == "text":
        path.write_text("x_train,y_train\n1,2\n")
        return
    if how == "npy":
        with open(path, "wb") as handle:
            np.save(handle, arrays["x_train"])
        return
    if how == "object":
        arrays["x_train"] = np.array([{"a": 1}] * 6, dtype=object)
    elif how == "strings":
        arrays["x_train"] = np.array([["a"] * 64] * 6).reshape(6, 8, 8)
    elif how == "string labels":
        arrays["y_train"] = np.array(["cat", "dog"] * 3)
    elif how == "complex":
        arrays["x_test"] = np.zeros((3, 8, 8), np.complex64)
    elif how == "nan":
        arrays["x_train"][4, 2, 3] = np.nan
    elif how == "inf":
        arrays["x_test"][1, 0, 0] = -np.inf
    elif how == "nan label":
        arrays["y_train"] = np.array([0, 1, np.nan, 0, 1, 2])
    elif how == "fraction label":
        arrays["y_test"] = np.array([0.5, 1.0, 2.0])
    elif how == "lengths":
        arrays["y_train"] = np.arange(5) % 3
    elif how == "matrix labels":
        arrays["y_test"] = np.zeros((3, 2), np.int64)
    np.savez(path, **arrays)
    if how == "truncated":
        path.write_bytes(path.read_bytes()[:300])


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("empty", r"is empty \(0 bytes\)"),
        ("truncated", "not a readable .npz archive|truncated or damaged"),
        ("text", "not a readable .npz archive"),
        ("npy", "one .npy array, not an .npz archive"),
        ("object", "x_train is an array of Python objects"),
        ("strings", r"x_train holds strings \(<U1\), not numbers"),
        ("string labels", "y_train holds strings"),
        ("complex", "x_test holds complex numbers"),
        ("nan", r"x_train has 1 NaN or infinite values \(the first in sample 4\)"),
        ("inf", r"x_test has 1 NaN or infinite values \(the first in sample 1\)"),
        ("nan label", "y_train has 1 NaN or infinite values"),
        ("fraction label", "y_test must hold integer class indices"),
        ("lengths", "x_train has 6 samples but y_train has 5 labels"),
        ("matrix labels", "y_test must be a vector of class indices, not 3x2"),
    ],
)
def test_a_damaged_or_inconsistent_npz_is_a_clear_error(tmp_path, how, message):
    path = tmp_path / "data.npz"
    damaged(path, how)
    with pytest.raises(DataError, match=message) as info:
        loader(num_classes=3)(f"npz:{path}")
    assert "data.npz" in str(info.value), "the error names the file"


def test_a_truncated_member_of_an_npz_is_a_clear_error(tmp_path):
    """The zip directory survives but an array's bytes do not (cut in the middle)."""
    path = tmp_path / "data.npz"
    arrays = good_arrays()
    arrays["x_train"] = np.random.default_rng(0).standard_normal((600, 8, 8)).astype("float32")
    arrays["y_train"] = np.arange(600) % 3
    np.savez(path, **arrays)
    raw = bytearray(path.read_bytes())
    raw[1000:1400] = bytes(400)  # zeroes inside x_train's data: its CRC no longer matches
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"data\.npz: cannot read x_train; .*truncated or damaged"):
        loader(num_classes=3)(f"npz:{path}")
