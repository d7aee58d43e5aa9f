"""The tasks without a framework: what ``specc check`` infers and refuses, what ``config.json``
says, the data each task trains on, and the augmentation (numpy only)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from specc.compiler import check_file, check_text
from specc.harness import augment, generated
from specc.harness.datasets import Inputs, load_dataset
from specc.harness.errors import DataError
from specc.harness.tasks import TASKS, infer_task
from specc.run_folder import run_config

ROOT = Path(__file__).resolve().parent.parent
TASK_SPECS = {
    "classify": "digits_augmented",
    "binary": "breast_cancer_mlp",
    "multilabel": "multilabel_mlp",
    "regression": "diabetes_mlp",
    "segment": "shapes_segmenter",
    "tag": "chunk_tagger",
    "language_model": "char_lm",
}


def codes(text):
    return [d.code for d in check_text(text).diagnostics]


def test_every_task_has_a_spec_that_checks_clean_and_resolves_to_it():
    assert set(TASK_SPECS) == set(TASKS)
    for task, name in TASK_SPECS.items():
        checked = check_file(str(ROOT / "specs" / f"{name}.spec"))
        assert checked.ok, [d.message for d in checked.diagnostics]
        assert run_config(checked, "torch").train["task"] == task


@pytest.mark.parametrize(
    ("activation", "shape", "loss", "data_tasks", "task"),
    [
        ("softmax", (10,), None, (), "classify"),
        (None, (10,), None, (), "classify"),  # scores of a linear layer: logits
        ("sigmoid", (1,), None, (), "binary"),
        ("sigmoid", (5,), None, (), "multilabel"),
        (None, (1,), None, (), "regression"),
        (None, (3,), "mse", (), "regression"),
        ("softmax", (32, 32, 3), None, (), "segment"),
        ("softmax", (40, 5), None, (), "tag"),
        ("softmax", (40, 5), None, ("language_model",), "language_model"),
        ("softmax", (2,), None, ("binary", "classify"), "classify"),  # breast_cancer, 2 classes
        ("sigmoid", (1,), None, ("binary", "classify"), "binary"),
        ("softmax", (3,), None, ("regression",), "regression"),  # nothing fits: the data's
    ],
)
def test_the_task_is_inferred_from_data_loss_and_last_layer(activation, shape, loss, data_tasks,
                                                             task):  # fmt: skip
    assert infer_task(activation, shape, loss, data_tasks) == task


def test_config_json_holds_the_resolved_task_loss_and_metrics():
    checked = check_text(
        "input 30\ndense 1 sigmoid\ntrain {\n  data breast_cancer\n"
        "  schedule cosine warmup=2\n  early_stopping patience=3\n  clip norm=1\n"
        "  accumulate 2\n}\n"
    )
    train = json.loads(json.dumps(run_config(checked, "keras").train))
    assert train["task"] == "binary" and train["loss"] == "binary_crossentropy"
    assert train["metrics"] == ["accuracy"] and train["monitor"] is None
    assert train["schedule"] == "cosine" and train["schedule_args"] == {"warmup": 2}
    assert train["early_stopping"] == {"patience": 3} and train["clip"] == {"norm": 1.0}
    assert train["accumulate"] == 2


LINEAR = "input 8\ndense 4 relu\ndense 3"
SIGMOID = "input 30\ndense 1 sigmoid"
LABELS_3 = "input 10\ndense 3 softmax"


@pytest.mark.parametrize(
    ("train", "code", "model"),
    [
        ("task regression\n  loss binary_crossentropy", "E0414", LINEAR),
        ("task regression\n  metrics accuracy", "E0415", LINEAR),
        ("task binary", "E0416", None),
        ("data breast_cancer\n  metrics mean_iou", "E0415", SIGMOID),
        ("data diabetes\n  task classify", "E0421", LABELS_3),
        ("metrics accuracy\n  monitor val_f1", "E0419", None),
        ("validation_split 0\n  monitor val_loss", "E0419", None),
        ("metrics top_k=10", "E0404", None),
        ("loss huber delta=0", "E0404", None),
        ("loss sparse_categorical_crossentropy sharpness=2", "E0411", None),
        ("schedule step every=0", "E0404", None),
        ("schedule plateau factor=2", "E0404", None),
        ("early_stopping patience=2 wait=3", "E0411", None),
        ("augment rotate=10", "E0418", None),
        ("augment flip=horizontal", "E0418", "input 8x8x1\nconv 2 1x1 softmax"),
        ("accumulate 0", "E0404", None),
    ],
)
def test_what_does_not_fit_is_a_located_error(train, code, model):
    model = model or "input 8\ndense 4 relu\ndense 3 softmax"
    assert codes(f"{model}\ntrain {{\n  {train}\n}}\n") == [code]


def test_a_model_without_a_train_section_is_not_checked_for_training():
    assert codes("input 32x32x3\nconv 8 3x3 relu\n") == []
    assert codes("input 32x32x3\nconv 8 3x3 relu\ntrain {\n  epochs 2\n}\n") == ["E0416"]


def test_each_loss_line_of_a_named_output():
    base = "input 8\ndense 3 softmax name=head\ntrain {\n  %s\n}\n"
    ok = "loss sparse_categorical_crossentropy output=head weight=0.5"
    assert codes(base % ok) == []
    checked = check_text(base % ok)
    (term,) = run_config(checked, "torch").train["losses"]
    assert term == {"output": "head", "loss": "sparse_categorical_crossentropy", "args": {},
                    "weight": 0.5}  # fmt: skip
    two = ok + "\n  loss sparse_categorical_crossentropy output=other weight=2"
    assert codes(base % two) == ["E0420"]
    assert codes(base % "loss sparse_categorical_crossentropy\n  loss mse") == ["E0403"]


def load(name, shape, classes, task, out, dtype="float32", vocab=None, split=0.1):
    inputs = Inputs(shape, classes, dtype, vocab, task, out)
    return load_dataset(name, inputs, None, split)


def test_scikit_learn_sets_for_binary_regression_and_multilabel():
    data = load("breast_cancer", (30,), 1, "binary", (1,))
    (x, y), _, (_, y_test) = data.splits
    assert y.shape[1:] == (1,) and y.dtype == np.float32 and set(np.unique(y)) == {0.0, 1.0}
    assert abs(x.mean()) < 0.05 and len(y) + len(data.val[1]) + len(y_test) == 569
    # stratified: the test set keeps the classes' shares
    assert abs(y_test.mean() - 357 / 569) < 0.02
    (x, y), _, _ = load("diabetes", (10,), 1, "regression", (1,)).splits
    assert y.shape[1:] == (1,) and y.min() >= 25 and y.max() <= 346
    (x, y), _, _ = load("multilabel", (20,), 5, "multilabel", (5,)).splits
    assert y.shape[1:] == (5,) and set(np.unique(y)) == {0.0, 1.0}


def test_shapes_are_images_with_their_masks_at_the_model_size():
    (x, y), _, (x_test, _) = load("shapes:40", (24, 20, 3), 3, "segment", (24, 20, 3)).splits
    assert x.shape[1:] == (24, 20, 3) and y.shape[1:] == (24, 20) and y.dtype == np.int64
    assert len(x) + 4 == 40 and len(x_test) == 10
    assert set(np.unique(y)) == {0, 1, 2}
    # the masks say where the shapes are: brighter than the background there
    assert x[y > 0].mean() > x[y == 0].mean() + 0.3
    again = load("shapes:40", (24, 20, 3), 3, "segment", (24, 20, 3))
    assert np.array_equal(again.train[0], x), "deterministic"


def test_chunks_follow_their_tagging_rule():
    (x, y), _, _ = load("chunks:50", (16,), 3, "tag", (16, 3), "int64", 20).splits
    assert x.dtype == np.int64 and x.max() < 20 and y.shape == x.shape
    for row, tags in zip(x, y, strict=True):
        previous_in_chunk = False
        for token, tag in zip(row, tags, strict=True):
            inside = token >= 10
            assert tag == (0 if not inside else 2 if previous_in_chunk else 1)
            previous_in_chunk = inside


def test_the_corpus_and_a_text_file_are_next_character_windows(tmp_path):
    data = load("corpus:20", (32,), 30, "language_model", (32, 30), "int64", 30)
    (x, y), _, _ = data.splits
    assert np.array_equal(x[:, 1:], y[:, :-1]), "the labels are the inputs shifted by one"
    assert data.vocabulary == generated.CORPUS_ALPHABET and x.max() < 30
    text = tmp_path / "poem.txt"
    text.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    data = load(f"text:{text}", (16,), 12, "language_model", (16, 12), "int64", 12)
    (x, y), _, (x_test, _) = data.splits
    assert data.vocabulary == "".join(sorted(set("the cat sat on the mat. ")))
    decoded = "".join(data.vocabulary[i] for i in x[0])
    assert decoded == "the cat sat on t" and len(x_test) >= 1
    with pytest.raises(DataError, match="has 11 different characters but the model's vocab"):
        load(f"text:{text}", (16,), 5, "language_model", (16, 5), "int64", 5)
    with pytest.raises(DataError, match="no such file"):
        load(f"text:{tmp_path / 'none.txt'}", (16,), 12, "language_model", (16, 12), "int64", 12)
    with pytest.raises(DataError, match="holds token ids but the model takes floats"):
        load(f"text:{text}", (16,), 12, "language_model", (16, 12))


def test_labels_that_do_not_fit_the_task_are_refused(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.zeros((6, 4), "float32"), y_train=np.array([0, 1, 2, 0, 1, 0]),
             x_test=np.zeros((2, 4), "float32"), y_test=np.array([0, 1]))  # fmt: skip
    with pytest.raises(DataError, match="must hold 0 or 1"):
        load(f"npz:{path}", (4,), 1, "binary", (1,))
    with pytest.raises(DataError, match="must be 2 number"):
        load(f"npz:{path}", (4,), 2, "regression", (2,))
    assert load(f"npz:{path}", (4,), 1, "regression", (1,)).train[1].dtype == np.float32


def test_augmentation_is_drawn_per_sample_from_seed_and_epoch():
    rng = np.random.default_rng(0)
    x = rng.random((12, 8, 8, 3)).astype("float32")
    settings = {"crop": 2, "flip": "both", "shift": 0.1, "rotate": 15}
    a = augment.augment_epoch(x, settings, seed=3, epoch=1)
    assert a.shape == x.shape and a.dtype == np.float32
    assert np.array_equal(a, augment.augment_epoch(x, settings, seed=3, epoch=1))
    assert not np.array_equal(a, augment.augment_epoch(x, settings, seed=3, epoch=2))
    # a sample's transform does not depend on the batch it is in: the same in any order
    params = augment.draw(settings, len(x), 3, 1)
    order = rng.permutation(len(x))
    batch = augment.apply(x[order[:5]], params, order[:5], crop=2)
    np.testing.assert_allclose(batch, a[order[:5]], atol=1e-6)


def test_each_transform_does_what_it_says():
    x = np.arange(2 * 6 * 6, dtype="float32").reshape(2, 6, 6, 1)
    flips = augment.apply(x, {"flip_x": np.array([True, False])}, [0, 1])
    assert np.array_equal(flips[0], x[0, :, ::-1]) and np.array_equal(flips[1], x[1])
    crops = augment.apply(x, {"crop": np.array([[0, 2], [2, 2]])}, [0, 1], crop=2)
    assert np.array_equal(crops[1], x[1]), "offset (pad, pad) is the image itself"
    assert np.array_equal(crops[0][2:, :], x[0][:4, :]) and not crops[0][:2].any()
    shifted = augment.apply(x, {"shift": np.array([[1 / 6, 0.0], [0.0, 0.0]])}, [0, 1])
    np.testing.assert_allclose(shifted[0][1:], x[0][:-1], atol=1e-4)
    assert not shifted[0][0].any(), "pixels from outside are 0"
    turned = augment.apply(x, {"angle": np.array([90.0, 0.0])}, [0, 1])
    np.testing.assert_allclose(turned[0, :, :, 0], np.rot90(x[0, :, :, 0], k=1), atol=1e-3)
    np.testing.assert_allclose(turned[1], x[1], atol=1e-5)
    stats = augment.statistics({"mean": (0.5,), "std": (0.25,)}, 3)
    np.testing.assert_allclose(augment.normalise(np.full((1, 2, 2, 3), 1.0), stats), 2.0)
