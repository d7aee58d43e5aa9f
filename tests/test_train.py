"""``specc train`` and the run folder's ``train.py``, run for real on small data.

Every run is a subprocess with one compute thread (the CI machine has 2 cores shared by two
test workers), which also makes CPU runs bit-for-bit repeatable.  The runs use
``specs/digits_cnn.spec`` on scikit-learn's digits: a few epochs take seconds.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "specs" / "digits_cnn.spec"
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "CUDA_VISIBLE_DEVICES": "-1",
    "PYTHONPATH": str(ROOT),
}
RUN_FILES = {"history.csv", "curves.png", "run.json"}
# what specc writes into a run folder before training (besides the model file)
HARNESS_FILES = {"config.json", "train.py", "specc_harness/main.py", "specc_harness/datasets.py"}


def env():
    return {**os.environ, **ONE_THREAD}


def specc(*args, cwd=None, timeout=600):
    """Run ``python -m specc ARGS``; returns the CompletedProcess (text output)."""
    return subprocess.run(
        [sys.executable, "-m", "specc", *map(str, args)],
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def train(backend, out, *flags, spec=DIGITS):
    result = specc("train", spec, "--backend", backend, "--out", out, *flags)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def history(out):
    """history.csv without the wall-clock column."""
    with open(Path(out) / "history.csv", newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


def files(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())


def test_named_data_that_does_not_fit_is_refused_before_anything_runs(tmp_path):
    result = specc(
        "train", DIGITS, "--backend", "torch", "--data", "mnist", "--out", tmp_path / "r"
    )
    assert result.returncode == 1
    assert "error[E0407]: input 8x8x1 does not fit mnist" in result.stderr
    assert "digits_cnn.spec:5" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()


def test_check_and_emit_paths_import_no_framework():
    code = (
        "import sys, specc.training, specc.cli, specc.data_catalog, specc.run_folder\n"
        "heavy = {'torch', 'tensorflow', 'keras', 'numpy'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env())


def emit_run_folder(folder, backend, spec=DIGITS):
    """``specc emit SPEC --backend B --train -o FOLDER``: the run folder, not started."""
    result = specc("emit", spec, "-b", backend, "--train", "-o", folder)
    assert result.returncode == 0, result.stderr
    return folder


def run_entry(folder, *flags, cwd=None, timeout=600):
    """``python FOLDER/train.py FLAGS`` (from ``cwd``); returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, str(Path(folder) / "train.py"), *map(str, flags)],
        cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.mark.slow
def test_npz_that_does_not_fit_fails_clearly_at_run_time(tmp_path):
    path = tmp_path / "wrong.npz"
    np.savez(path, x_train=np.zeros((8, 5, 5)), y_train=np.zeros(8, int),
             x_test=np.zeros((2, 5, 5)), y_test=np.zeros(2, int))  # fmt: skip
    result = specc("train", DIGITS, "-b", "torch", "--data", f"npz:{path}", "--out", tmp_path / "r")
    assert result.returncode == 2
    assert "error: npz:" in result.stderr and "5x5 but the model's input is 8x8x1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r" / "model.pt").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "model_file"), [("torch", "model.pt"), ("keras", "model.keras")]
)
def test_run_folder_and_seed_reproducibility(tmp_path, backend, model_file):
    a, b, c = (tmp_path / n for n in "abc")
    train(backend, a, "--epochs", "2", "--seed", "3")
    train(backend, b, "--epochs", "2", "--seed", "3")
    train(backend, c, "--epochs", "2", "--seed", "4")
    best = "best.pt" if backend == "torch" else "best.keras"
    assert RUN_FILES | HARNESS_FILES | {model_file, best, f"digits_cnn_{backend}.py"} <= set(
        files(a)
    )
    assert (a / "curves.png").read_bytes().startswith(b"\x89PNG")
    rows = history(a)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert rows == history(b), "same seed, different run"
    assert rows != history(c), "a different seed changed nothing"
    info = json.loads((a / "run.json").read_text())
    assert info["spec"] == "digits_cnn" and info["seed"] == 3 and info["backend"] == backend
    assert len(info["spec_sha256"]) == 64 and info["wall_time_s"] > 0
    assert info["device"] and info["versions"]["numpy"] == np.__version__
    assert 0.5 < info["metrics"]["test_accuracy"] <= 1.0
    assert info["metrics"]["val_accuracy"] == pytest.approx(float(rows[-1]["val_accuracy"]))


@pytest.mark.slow
def test_the_run_folder_runs_on_its_own_from_any_directory(tmp_path):
    run = emit_run_folder(tmp_path / "run", "torch")
    assert HARNESS_FILES | {"digits_cnn_torch.py"} <= set(files(run))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_entry(run, "--epochs", "1", "--lr", "0.001", cwd=elsewhere)
    assert result.returncode == 0, result.stderr[-3000:]
    assert RUN_FILES | {"model.pt", "checkpoint.pt"} <= set(files(run))
    assert json.loads((run / "run.json").read_text())["learning_rate"] == 0.001
    assert not list(elsewhere.iterdir()), "nothing is written where it was started"


DRIVER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from specc_harness.main import main
scores = []
for seed in (0, 1, 2):
    out = f"{sys.argv[1]}/seed{seed}"
    assert main(["--seed", str(seed), "--epochs", sys.argv[2], "--out", out], sys.argv[1]) == 0
    scores.append(json.load(open(f"{out}/run.json"))["metrics"]["test_accuracy"])
print(json.dumps(scores))
"""


@pytest.mark.slow
def test_both_frameworks_learn_digits_equally_well(tmp_path):
    """digits_cnn, 10 epochs, seeds 0-2: each run >= 97% and the means within 1.5 points."""
    scores = {}
    for backend in ("torch", "keras"):
        run = emit_run_folder(tmp_path / backend, backend)
        result = subprocess.run(
            [sys.executable, "-c", DRIVER, str(run), "10"],
            env=env(), capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        scores[backend] = json.loads(result.stdout.strip().splitlines()[-1])
    for backend, accs in scores.items():
        assert min(accs) >= 0.97, (backend, accs)
    gap = abs(np.mean(scores["torch"]) - np.mean(scores["keras"]))
    assert gap <= 0.015, scores


def kill_after_first_checkpoint(command, marker, timeout=300):
    """Start ``command``, SIGKILL it once ``marker`` exists (during epoch 2 or later)."""
    proc = subprocess.Popen(
        command, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + timeout
    try:
        while not marker.exists():
            assert proc.poll() is None, "the run ended before its first checkpoint"
            assert time.time() < deadline, "no checkpoint was written"
            time.sleep(0.05)
        time.sleep(0.3)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "marker"), [("torch", "checkpoint.pt"), ("keras", "checkpoint/state.json")]
)
def test_resume_after_sigkill_is_the_same_run(tmp_path, backend, marker):
    """``specc train`` killed with SIGKILL during epoch 2 or later, then ``--resume``: the
    same files and, in both frameworks, the same history as an unbroken run (model,
    optimizer, dropout and shuffle state are all restored)."""
    epochs = "6"
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    train(backend, whole, "--epochs", epochs)
    command = [sys.executable, "-m", "specc", "train", str(DIGITS), "-b", backend,
               "--epochs", epochs, "--out", str(broken)]  # fmt: skip
    kill_after_first_checkpoint(command, broken / marker)
    assert not (broken / "history.csv").exists()
    result = train(backend, broken, "--epochs", epochs, "--resume")
    assert "resuming after epoch" in result.stdout
    assert files(broken) == files(whole)
    rows = history(broken)
    assert [r["epoch"] for r in rows] == [str(e) for e in range(1, int(epochs) + 1)]
    assert rows == history(whole)


@pytest.mark.slow
def test_torch_ddp_with_two_processes(tmp_path):
    result = train("torch", tmp_path, "--epochs", "2", "--nproc", "2", "--batch", "32")
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["world_size"] == 2 and info["device"] == "cpu"
    assert info["metrics"]["test_accuracy"] > 0.8
    assert len(history(tmp_path)) == 2
    assert result.stdout.count("test_accuracy") == 1, "only rank 0 reports"


@pytest.mark.slow
def test_keras_replicas_evaluate_a_split_that_does_not_halve(tmp_path):
    """15 validation samples between two replicas: Keras 3 fails on a first batch it cannot
    halve (its evaluate averages that batch over the replicas); the harness batches 14 + 1."""
    spec = ROOT / "specs" / "iris_mlp.spec"
    train("keras", tmp_path, "--epochs", "1", "--nproc", "2", "--validation-split", "0.125",
          spec=spec)  # fmt: skip
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["world_size"] == 2 and "val_accuracy" in history(tmp_path)[0]


@pytest.mark.slow
def test_keras_mirrored_strategy_on_two_logical_cpus(tmp_path):
    train("keras", tmp_path, "--epochs", "2", "--nproc", "2")
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["world_size"] == 2 and info["device"] == "/cpu:0, /cpu:1"
    assert info["metrics"]["test_accuracy"] > 0.8
