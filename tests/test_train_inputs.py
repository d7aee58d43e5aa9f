"""A model with several inputs trains: one array of samples per input, matched by name
(``x_train_NAME`` in an .npz archive, or synthetic), in both backends; a source with one array
of samples is a located error before anything trains."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from specc import cli
from specc.compiler import check_file, check_text
from specc.harness import config, datasets
from specc.harness.errors import DataError
from specc.harness.feeds import Feed
from specc.harness.outputs import Head
from specc.run_folder import run_config

ROOT = Path(__file__).resolve().parent.parent
TWO_HEADS = ROOT / "specs" / "two_heads.spec"
FEEDS = (Feed("image", (8, 8, 1)), Feed("meta", (5,)))
HEADS = (Head("label", "classify", (3,)), Head("value", "regression", (1,)))


def inputs(feeds=FEEDS, heads=HEADS):
    return datasets.Inputs((8, 8, 1), 3, "float32", None, heads[0].task, heads[0].shape, heads,
                           feeds)  # fmt: skip


def write_npz(path, n=40, drop=()):
    """An archive for two_heads: an array per input, a label set per output."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, count in (("train", n), ("test", n // 4)):
        arrays[f"x_{split}_image"] = rng.integers(0, 256, size=(count, 8, 8), dtype=np.uint8)
        arrays[f"x_{split}_meta"] = rng.normal(size=(count, 5)).astype("float32")
        arrays[f"y_{split}_label"] = np.arange(count) % 3
        arrays[f"y_{split}_value"] = rng.normal(size=count).astype("float32")
    np.savez(path, **{k: v for k, v in arrays.items() if k not in drop})
    return arrays


def test_an_npz_archive_holds_an_array_per_input(tmp_path):
    path = tmp_path / "two.npz"
    arrays = write_npz(path)
    (x_tr, y_tr), (x_val, _), (x_te, _) = datasets.load_data(f"npz:{path}", inputs(), None,
                                                                0.25)  # fmt: skip
    assert set(x_tr) == {"image", "meta"} and set(y_tr) == {"label", "value"}
    assert x_tr["image"].shape[1:] == (8, 8, 1) and x_tr["meta"].shape[1:] == (5,)
    assert len(x_tr["image"]) == len(x_tr["meta"]) == len(y_tr["label"]) == 30
    assert len(x_val["meta"]) == 10 and len(x_te["image"]) == 10
    assert x_te["image"][..., 0] == pytest.approx(arrays["x_test_image"] / 255.0)
    assert x_te["meta"] == pytest.approx(arrays["x_test_meta"])
    write_npz(path, drop=("x_test_meta",))
    with pytest.raises(DataError) as found:
        datasets.load_data(f"npz:{path}", inputs(), None, 0.1)
    assert str(path) in str(found.value) and "lacks the arrays x_test_meta" in str(found.value)
    with pytest.raises(DataError, match="one array of samples, but the model has several"):
        datasets.load_data("digits", inputs(), None, 0.1)
    (x_syn, _), _, _ = datasets.load_data("synthetic:20", inputs(), None, 0.1)
    assert x_syn["image"].shape[1:] == (8, 8, 1) and x_syn["meta"].dtype == np.float32


def test_the_run_configuration_lists_the_inputs():
    checked = check_file(str(TWO_HEADS))
    run = run_config(checked, "keras")
    assert [(i.name, i.shape, i.dtype) for i in run.inputs] == [
        ("image", (8, 8, 1), "float32"),
        ("meta", (5,), "float32"),
    ]
    assert config.parse_config(json.loads(config.config_text(run))) == run
    one = run_config(check_file(str(ROOT / "specs" / "iris_mlp.spec")), "torch")
    assert one.inputs == () and json.loads(config.config_text(one))["inputs"] == []


@pytest.mark.parametrize(
    ("train", "expected"),
    [("  data digits", ["E0422"]), ("  data synthetic", []),
     ('  data "npz:two.npz"', []), ("  data synthetic\n  normalize mean=0.5 std=0.25", ["E0418"])],
)  # fmt: skip
def test_a_source_with_one_array_of_samples_is_a_located_error(train, expected):
    model = TWO_HEADS.read_text()
    assert [d.code for d in check_text(f"{model}train {{\n{train}\n}}\n").diagnostics] == expected


def test_specc_train_refuses_one_array_of_samples_before_writing(tmp_path, capsys):
    out = tmp_path / "run"
    status = cli.main(["train", str(TWO_HEADS), "-b", "torch", "--out", str(out)])
    err = capsys.readouterr().err
    assert status != 0 and "Traceback" not in err and not out.exists()
    assert "error[E0422]: digits has one array of samples, but the model has several inputs" in err
    assert "x_train_NAME and x_test_NAME per input" in err


def history(out: Path) -> list[dict]:
    with open(out / "history.csv", newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_two_inputs_and_two_outputs_train_and_resume(tmp_path, backend):
    pytest.importorskip(backend)
    from specc.harness.main import main

    npz = tmp_path / "two.npz"
    write_npz(npz, n=80)
    runs = {}
    for name in ("whole", "broken"):
        runs[name] = tmp_path / name
        assert cli.main(["emit", str(TWO_HEADS), "-b", backend, "--train", "-o",
                         str(runs[name])]) == 0  # fmt: skip
    flags = ["--device", "cpu", "--data", f"npz:{npz}", "--batch", "16"]
    assert main([*flags, "--epochs", "3"], folder=runs["whole"]) == 0
    assert main([*flags, "--epochs", "2"], folder=runs["broken"]) == 0
    assert main([*flags, "--epochs", "3", "--resume"], folder=runs["broken"]) == 0
    whole, broken = history(runs["whole"]), history(runs["broken"])
    assert len(whole) == 3 and list(whole[0])[:4] == ["epoch", "loss", "label_loss", "value_loss"]
    for a, b in zip(whole, broken, strict=True):
        assert {k: float(v) for k, v in a.items()} == pytest.approx(
            {k: float(v) for k, v in b.items()}, rel=1e-5, abs=1e-6
        )
    info = json.loads((runs["whole"] / "run.json").read_text())
    assert {"test_label_accuracy", "test_value_mae"} <= set(info["metrics"])
