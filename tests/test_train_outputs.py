"""A model with several outputs trains: one label set per output, matched by name; each output
its own task, loss, weight and metrics; Keras's names in both backends' records; located
errors for what does not fit, before anything trains."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from specc import cli
from specc.compiler import check_file, check_text
from specc.harness import catalog, config, datasets
from specc.harness.errors import DataError
from specc.harness.outputs import Head
from specc.harness.settings import Settings
from specc.run_folder import run_config

ROOT = Path(__file__).resolve().parent.parent
WINE = ROOT / "specs" / "wine_multitask_mlp.spec"
HEADS = (Head("cultivar", "classify", (3,)), Head("alcohol", "regression", (1,)))
TWO = """model two
input 12
dense 16 relu name=trunk
dense 3 softmax name=cultivar
dense 1 from=trunk name=alcohol
output cultivar alcohol
train {
%s
}
"""


def codes(text):
    return [d.code for d in check_text(text).diagnostics]


def inputs(heads=HEADS, shape=(12,)):
    return datasets.Inputs(shape, 3, "float32", None, heads[0].task, heads[0].shape, heads)


def test_wine_multitask_gives_each_output_its_label_set():
    info = catalog.CATALOG["wine_multitask"]
    (x_tr, y_tr), (x_val, y_val), (x_te, y_te) = datasets.load_data(
        "wine_multitask", inputs(), None, 0.1
    )
    assert x_tr.shape[1:] == info.shapes[0] and len(x_tr) + len(x_val) + len(x_te) == 178
    for split, x in ((y_tr, x_tr), (y_val, x_val), (y_te, x_te)):
        assert set(split) == {s.name for s in info.label_sets}
        assert all(len(v) == len(x) for v in split.values())
    cultivar, alcohol = info.label_set("cultivar"), info.label_set("alcohol")
    assert y_tr["cultivar"].dtype == np.int64 and set(y_tr["cultivar"]) == set(
        range(cultivar.classes)
    )
    assert y_tr["alcohol"].shape == (len(x_tr), alcohol.classes)
    # the target is standardised with the training split's statistics, as the features are
    assert (
        abs(float(y_tr["alcohol"].mean())) < 1e-5 and abs(float(y_tr["alcohol"].std()) - 1) < 1e-3
    )
    assert np.allclose(x_tr.mean(axis=0), 0, atol=1e-5)
    from sklearn.datasets import load_wine

    raw = load_wine()
    assert "alcohol" not in np.delete(np.array(raw.feature_names), 0)  # x lacks the target
    assert sorted(raw.data[:, 0])[0] < 12 < 14 < sorted(raw.data[:, 0])[-1]


def write_npz(path, names=("cultivar", "alcohol"), n=40):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.normal(size=(n, 12)).astype("float32"),
              "x_test": rng.normal(size=(n // 4, 12)).astype("float32")}  # fmt: skip
    for split, count in (("train", n), ("test", n // 4)):
        if "cultivar" in names:
            arrays[f"y_{split}_cultivar"] = np.arange(count) % 3
        if "alcohol" in names:
            arrays[f"y_{split}_alcohol"] = rng.normal(size=count).astype("float32")
    np.savez(path, **arrays)
    return arrays


def test_an_npz_archive_holds_a_label_set_per_output(tmp_path):
    path = tmp_path / "two.npz"
    arrays = write_npz(path)
    (_, y_tr), (_, y_val), (x_te, y_te) = datasets.load_data(f"npz:{path}", inputs(), None, 0.25)
    assert set(y_tr) == {"cultivar", "alcohol"} and len(x_te) == 10
    assert np.array_equal(y_te["cultivar"], arrays["y_test_cultivar"])
    assert y_te["alcohol"][:, 0] == pytest.approx(arrays["y_test_alcohol"])
    assert sorted(np.bincount(y_val["cultivar"])) == [3, 3, 4]  # stratified by the classes
    write_npz(path, names=("cultivar",))
    with pytest.raises(DataError) as found:
        datasets.load_data(f"npz:{path}", inputs(), None, 0.1)
    message = str(found.value)
    assert str(path) in message and "y_train_alcohol, y_test_alcohol" in message
    path.write_bytes(b"")  # a damaged archive is still said as such
    with pytest.raises(DataError, match="is empty"):
        datasets.load_data(f"npz:{path}", inputs(), None, 0.1)


def test_sources_with_one_label_set_refuse_several_outputs_and_the_reverse():
    with pytest.raises(DataError, match="one label set, but the model has several outputs"):
        datasets.load_data("iris", inputs(shape=(4,)), None, 0.1)
    with pytest.raises(DataError, match="has no label set for the output"):
        datasets.load_data("wine_multitask", inputs((Head("grape", "classify", (3,)),)), None)
    one = datasets.Inputs((12,), 3, task="classify")
    with pytest.raises(DataError, match="one label set per output"):
        datasets.load_data("wine_multitask", one, None)
    (_, y_tr), _, _ = datasets.load_data("synthetic:20", inputs(), None, 0.1)
    assert set(y_tr) == {"cultivar", "alcohol"} and y_tr["alcohol"].dtype == np.float32


@pytest.mark.parametrize(
    ("train", "model", "expected"),
    [
        ("  data wine_multitask", None, []),
        ("  data digits", "input 8x8x1\nflatten\ndense 4 relu name=t\ndense 10 softmax name=a\n"
                          "dense 1 from=t name=b\noutput a b", ["E0423"]),
        ("  data wine_multitask", "input 12\ndense 3 softmax", ["E0423"]),
        ("  data wine_multitask", TWO.split("train")[0].replace("alcohol", "alc"),
         ["E0423"]),
        ("  data wine_multitask", TWO.split("train")[0].replace("dense 1 from", "dense 2 from"),
         ["E0408"]),
        ("  task classify", None, ["E0420"]),
        ("  loss mse", None, ["E0420"]),
        ("  metrics accuracy", None, ["E0420"]),
        ("  metrics accuracy output=other", None, ["E0420"]),
        ("  metrics mae output=cultivar", None, ["E0415"]),
        ("  loss mse output=cultivar", None, ["E0416"]),  # regression, by its loss
        ("  data wine_multitask\n  loss mse output=cultivar", None, ["E0414"]),  # its labels
        ("  loss mse output=alcohol weight=0.5\n  monitor val_alcohol_loss", None, []),
        ("  metrics r2 output=alcohol\n  monitor val_alcohol_r2", None, []),
        ("  monitor val_cultivar_accuracy", None, []),
        ("  monitor val_accuracy", None, ["E0419"]),
    ],
)  # fmt: skip
def test_each_output_is_checked_against_its_labels_loss_and_metrics(train, model, expected):
    text = TWO % train if model is None else f"{model}\ntrain {{\n{train}\n}}\n"
    assert codes(text) == expected


def test_the_run_configuration_gives_each_output_its_own_training(tmp_path):
    checked = check_file(str(WINE))
    assert checked.ok, [d.message for d in checked.diagnostics]
    run = run_config(checked, "torch")
    document = json.loads(config.config_text(run))
    assert document["format"] == config.FORMAT == 3
    assert [o["name"] for o in document["outputs"]] == ["cultivar", "alcohol"]
    first, second = document["train"]["losses"]
    assert first["task"] == "classify" and first["metrics"] == ["accuracy"]
    assert second == {"output": "alcohol", "loss": "mse", "args": {}, "weight": 1.0,
                      "task": "regression", "metrics": ["mae", "rmse", "r2"],
                      "metric_args": {}}  # fmt: skip
    assert config.parse_config(document) == run
    # an output without a loss or metrics line: its task's defaults, at weight 1
    plain = run_config(check_text(TWO % "  data wine_multitask"), "keras")
    assert [(t["loss"], t["weight"], t["metrics"]) for t in plain.train["losses"]] == [
        ("sparse_categorical_crossentropy", 1.0, ["accuracy"]),
        ("mse", 1.0, ["mae"]),
    ]
    import argparse

    from specc.harness.flags import add_flags

    parser = argparse.ArgumentParser()
    add_flags(parser, defaults=run.train)
    parser.set_defaults(out=str(tmp_path))
    settings = Settings.resolve(run, parser.parse_args([]))
    names = ["loss", "cultivar_loss", "alcohol_loss", "cultivar_accuracy", "alcohol_mae",
             "alcohol_rmse", "alcohol_r2"]  # fmt: skip
    assert list(settings.reported()) == names + [f"val_{n}" for n in names]
    lower = {n: Settings.monitor_lower(_monitoring(settings, n)) for n in names}
    assert lower == {n: n.endswith(("loss", "mae", "rmse")) for n in names}


def _monitoring(settings, name):
    from dataclasses import replace

    return replace(settings, monitor=f"val_{name}")


def test_specc_train_says_which_model_it_cannot_train_before_writing(tmp_path, capsys):
    out = tmp_path / "run"
    status = cli.main(["train", str(ROOT / "specs" / "two_heads.spec"), "-b", "torch",
                       "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert status != 0 and "Traceback" not in err and not out.exists()
    assert "error[E0422]: digits has one array of samples, but the model has several" in err
    spec = tmp_path / "two.spec"
    spec.write_text((TWO % "  epochs 1").replace("input 12", "input 4"))
    status = cli.main(["train", str(spec), "-b", "torch", "--data", "iris", "--out", str(out)])
    err = capsys.readouterr().err
    assert status != 0 and "Traceback" not in err and not out.exists()
    assert "error[E0423]: iris has one label set, but the model has several outputs" in err


def history(out: Path) -> list[dict]:
    with open(out / "history.csv", newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


SLOW_SPEC = (
    TWO
    % """  data wine_multitask
  loss mse output=alcohol weight=0.5
  metrics accuracy output=cultivar
  metrics mae output=alcohol
  early_stopping patience=5
  monitor val_cultivar_loss
  optimizer adam lr=0.01
  batch 16
  epochs 3"""
)


@pytest.mark.slow
def test_several_outputs_train_resume_and_record_alike_in_both_backends(tmp_path, capsys):
    """Both backends: the same history columns (Keras's names), a best model chosen on an
    output's loss, a resumed run equal to an unbroken one, and a missing label set of an
    .npz archive said without a traceback."""
    from specc.harness.main import main

    spec = tmp_path / "two.spec"
    spec.write_text(SLOW_SPEC)
    columns = {}
    for backend in ("torch", "keras"):
        pytest.importorskip(backend)
        runs = {}
        for name in ("whole", "broken", "bad"):
            runs[name] = tmp_path / f"{backend}-{name}"
            assert cli.main(["emit", str(spec), "-b", backend, "--train", "-o",
                             str(runs[name])]) == 0  # fmt: skip
        assert main(["--device", "cpu"], folder=runs["whole"]) == 0
        assert main(["--device", "cpu", "--epochs", "2"], folder=runs["broken"]) == 0
        assert main(["--device", "cpu", "--resume"], folder=runs["broken"]) == 0
        whole = history(runs["whole"])
        broken = history(runs["broken"])
        assert [r["epoch"] for r in broken] == ["1", "2", "3"]
        for a, b in zip(whole, broken, strict=True):
            assert {k: float(v) for k, v in a.items()} == pytest.approx(
                {k: float(v) for k, v in b.items()}, rel=1e-5, abs=1e-6
            )
        columns[backend] = list(whole[0])
        info = json.loads((runs["whole"] / "run.json").read_text())
        assert info["monitor"] == "val_cultivar_loss" and info["best_epoch"] is not None
        assert {"test_loss", "test_cultivar_accuracy", "test_alcohol_mae"} <= set(info["metrics"])
        assert [o["output"] for o in info["outputs"]] == ["cultivar", "alcohol"]
        npz = tmp_path / "one.npz"
        write_npz(npz, names=("cultivar",))
        capsys.readouterr()
        assert main(["--device", "cpu", "--data", f"npz:{npz}"], folder=runs["bad"]) != 0
        err = capsys.readouterr().err
        assert "Traceback" not in err and "lacks the arrays y_train_alcohol, y_test_alcohol" in err
    assert columns["torch"] == columns["keras"]
    assert columns["torch"][:4] == ["epoch", "loss", "cultivar_loss", "alcohol_loss"]


@pytest.mark.slow
def test_several_outputs_are_tracked_alike_in_mlflow_and_tensorboard(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    pytest.importorskip("tensorboard")
    from specc.harness.main import main
    from tests.test_train_tracking import events

    monkeypatch.chdir(tmp_path)  # MLflow's default store is sqlite:///mlflow.db, here
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    flags = ["--epochs", "2", "--device", "cpu", "--track", "mlflow", "--tensorboard"]
    tags = {}
    for backend in ("torch", "keras"):
        pytest.importorskip(backend)
        out = tmp_path / backend
        assert cli.main(["emit", str(WINE), "-b", backend, "--train", "-o", str(out)]) == 0
        assert main(flags, folder=out) == 0
        rows = history(out)
        train, validation = (
            events(out / "tensorboard" / "train"),
            events(out / "tensorboard" / "validation"),
        )
        for key in ("loss", "cultivar_loss", "cultivar_accuracy", "alcohol_mae"):
            assert [v for _, v in train[f"epoch_{key}"]] == pytest.approx(
                [float(r[key]) for r in rows], rel=1e-5
            )
            assert [v for _, v in validation[f"epoch_{key}"]] == pytest.approx(
                [float(r[f"val_{key}"]) for r in rows], rel=1e-5
            )
        tags[backend] = (set(train) - {"epoch_steps_per_second"}, set(validation))
    assert tags["torch"] == tags["keras"]
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("wine_multitask_mlp")
    for run in client.search_runs([experiment.experiment_id]):
        out = tmp_path / run.data.params["backend"]
        rows = history(out)
        assert run.data.params["losses"]  # each output's loss, weight, task and metrics
        for key in ("cultivar_loss", "val_alcohol_r2"):
            logged = client.get_metric_history(run.info.run_id, key)
            assert [m.value for m in logged] == pytest.approx([float(r[key]) for r in rows])
        final = json.loads((out / "run.json").read_text())["metrics"]
        assert run.data.metrics["test_cultivar_accuracy"] == pytest.approx(
            final["test_cultivar_accuracy"]
        )


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_several_outputs_train_on_two_processes_or_replicas(tmp_path, backend):
    """torchrun's processes sum each output's sums; Keras's MirroredStrategy runs the same
    per-output losses and metrics (a validation split whose batches split evenly between the
    two replicas: Keras cannot evaluate a batch that does not, whatever the outputs)."""
    pytest.importorskip(backend)
    from tests.test_train import train

    result = train(backend, tmp_path, "--epochs", "2", "--nproc", "2", "--device", "cpu",
                   "--validation-split", "0.2", spec=WINE)  # fmt: skip
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["world_size"] == 2
    assert info["metrics"]["test_cultivar_accuracy"] > 0.6
    header = list(history(tmp_path)[0])
    assert header[:4] == ["epoch", "loss", "cultivar_loss", "alcohol_loss"]
    assert "val_alcohol_r2" in header and len(history(tmp_path)) == 2
    assert result.stdout.count("test_cultivar_accuracy") == 1, "one report"
