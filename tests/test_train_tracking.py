"""``--track mlflow`` and ``--tensorboard``, read back through MLflow's client and
TensorBoard's event reader: the same records from both backends."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from specc import cli
from tests.test_train import env

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "breast_cancer_mlp.spec"
FLAGS = ["--epochs", "3", "--device", "cpu", "--track", "mlflow", "--tensorboard"]


def history(out: Path) -> list[dict]:
    with open(out / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def events(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the event files under ``folder``: tag -> [(step, value)], whether it
    was written as a scalar (PyTorch) or as a tensor (tf.summary, Keras)."""
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    accumulator = event_accumulator.EventAccumulator(
        str(folder), size_guidance={"scalars": 0, "tensors": 0}
    )
    accumulator.Reload()
    found = {}
    tags = accumulator.Tags()
    for tag in tags["scalars"]:
        found[tag] = [(e.step, e.value) for e in accumulator.Scalars(tag)]
    for tag in tags["tensors"]:
        found[tag] = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto)))
                      for e in accumulator.Tensors(tag)]  # fmt: skip
    return found


@pytest.mark.slow
def test_both_backends_record_the_same_run_in_mlflow_and_tensorboard(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    pytest.importorskip("tensorboard")
    from specc.harness.main import main

    monkeypatch.chdir(tmp_path)  # MLflow's default store is sqlite:///mlflow.db, here
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    outs = {}
    for backend in ("torch", "keras"):
        out = tmp_path / backend
        assert cli.main(["emit", str(SPEC), "-b", backend, "--train", "-o", str(out)]) == 0
        assert main(FLAGS, folder=out) == 0
        outs[backend] = out
    assert (tmp_path / "mlflow.db").is_file()
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("breast_cancer_mlp")
    runs = {r.data.params["backend"]: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"torch", "keras"}
    tags = {}
    for backend, run in runs.items():
        out = outs[backend]
        config = json.loads((out / "config.json").read_text())
        params = run.data.params
        assert params["spec_sha256"] == config["spec"]["sha256"]
        assert params["epochs"] == "3" and params["optimizer_args.lr"] == "0.003"
        assert params["task"] == "binary" and params["tensorboard"] == "True"
        assert f"version.{'torch' if backend == 'torch' else 'keras'}" in params
        assert run.info.status == "FINISHED"
        rows = history(out)
        for key in ("loss", "val_accuracy", "val_auc", "lr"):
            logged = client.get_metric_history(run.info.run_id, key)
            assert [m.step for m in logged] == [1, 2, 3]
            assert [m.value for m in logged] == pytest.approx([float(r[key]) for r in rows])
        assert run.data.metrics["test_accuracy"] == pytest.approx(
            json.loads((out / "run.json").read_text())["metrics"]["test_accuracy"]
        )
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        model = "model.pt" if backend == "torch" else "model.keras"
        assert {"breast_cancer_mlp.spec", f"breast_cancer_mlp_{backend}.py", model,
                "config.json", "history.csv", "run.json"} <= artifacts  # fmt: skip
        train = events(out / "tensorboard" / "train")
        validation = events(out / "tensorboard" / "validation")
        tags[backend] = (set(train), set(validation))
        for key in ("loss", "accuracy", "auc"):
            assert [s for s, _ in train[f"epoch_{key}"]] == [0, 1, 2]
            assert [v for _, v in train[f"epoch_{key}"]] == pytest.approx(
                [float(r[key]) for r in rows], rel=1e-5
            )
            assert [v for _, v in validation[f"epoch_{key}"]] == pytest.approx(
                [float(r[f"val_{key}"]) for r in rows], rel=1e-5
            )
            # 410 training samples (after test and validation), batches of 32: 13 updates
            steps, values = zip(*validation[f"evaluation_{key}_vs_iterations"], strict=True)
            assert steps == (13, 26, 39)
            assert values == pytest.approx([v for _, v in validation[f"epoch_{key}"]])
        assert [v for _, v in train["epoch_learning_rate"]] == pytest.approx(
            [float(r["lr"]) for r in rows], rel=1e-6
        )
    names = ("loss", "accuracy", "auc", "precision", "recall", "f1")
    expected = {f"epoch_{k}" for k in names}
    evaluations = {f"evaluation_{k}_vs_iterations" for k in names}
    assert tags["torch"][1] == tags["keras"][1] == expected | evaluations
    assert expected | {"epoch_learning_rate"} <= tags["torch"][0] == tags["keras"][0] - {
        "epoch_steps_per_second"}  # fmt: skip


def test_tracking_is_imported_only_when_asked():
    """Neither specc's commands nor the harness's modules import mlflow or tensorboard."""
    code = (
        "import sys, specc.cli, specc.training, specc.harness.main, specc.harness.epochs, "
        "specc.harness.tracking, specc.harness.settings\n"
        "loaded = {'mlflow', 'tensorboard'} & {m.split('.')[0] for m in sys.modules}\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env())
