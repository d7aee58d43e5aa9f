"""Beyond one machine, on one: two PyTorch nodes (torchrun's static rendezvous) and two Keras
workers (``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``), each on 127.0.0.1, train as one
process does with the same global batch: the same history and the same weights.

The spec has no dropout or BatchNorm (whose randomness and statistics are per process), and
the data splits evenly, so every global batch is the same samples.
"""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.test_train import env, specc

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "iris_mlp.spec"
FLAGS = ["--epochs", "3", "--batch", "16", "--device", "cpu"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def folder(tmp_path: Path, name: str, backend: str) -> Path:
    out = tmp_path / name
    result = specc("emit", SPEC, "-b", backend, "--train", "-o", out)
    assert result.returncode == 0, result.stderr
    return out


class Run:
    """One started ``train.py``: its process and the file its output goes to (a file, not a
    pipe, so that a process nobody is reading yet never blocks on a full pipe)."""

    def __init__(self, out: Path, *flags, extra_env=None):
        self.log = out.parent / f"{out.name}.log"
        with open(self.log, "w") as handle:
            self.process = subprocess.Popen(
                [sys.executable, str(out / "train.py"), *FLAGS, *map(str, flags)],
                env={**env(), **(extra_env or {})}, stdout=handle, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def finish(*runs: Run, timeout: float = 300) -> None:
    """Wait for every run, under one deadline; on a failure or a hang, stop them all and show
    what each one printed (a hung peer's output is what tells why)."""
    deadline = time.monotonic() + timeout
    try:
        for run in runs:
            run.process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        for run in runs:
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait()
    report = "\n".join(f"--- {run.log.name} (exit {run.process.returncode}):\n"
                       f"{run.output()[-3000:]}" for run in runs)  # fmt: skip
    assert all(run.process.returncode == 0 for run in runs), report


def history(out: Path) -> list[dict]:
    with open(out / "history.csv", newline="") as handle:
        return [{k: float(v) for k, v in row.items() if k != "seconds"}
                for row in csv.DictReader(handle)]  # fmt: skip


def same_history(a: Path, b: Path) -> None:
    rows_a, rows_b = history(a), history(b)
    assert len(rows_a) == len(rows_b) == 3
    for row_a, row_b in zip(rows_a, rows_b, strict=True):
        assert row_a.keys() == row_b.keys()
        for key in row_a:
            assert row_a[key] == pytest.approx(row_b[key], rel=1e-5, abs=1e-6), key


@pytest.mark.slow
@pytest.mark.xdist_group("several_processes")
def test_two_torch_nodes_train_as_one_process(tmp_path):
    torch = pytest.importorskip("torch")
    nodes = [folder(tmp_path, f"node{rank}", "torch") for rank in (0, 1)]
    single = folder(tmp_path, "single", "torch")
    endpoint = f"127.0.0.1:{free_port()}"  # taken late: the less time for another to take it
    finish(Run(single), *(Run(nodes[rank], "--nnodes", 2, "--node-rank", rank, "--rdzv-endpoint",
                              endpoint) for rank in (0, 1)))  # fmt: skip
    same_history(nodes[0], single)
    assert json.loads((nodes[0] / "run.json").read_text())["world_size"] == 2
    assert not (nodes[1] / "model.pt").exists(), "only the first process writes"
    two = torch.load(nodes[0] / "model.pt", weights_only=True)
    one = torch.load(single / "model.pt", weights_only=True)
    for name, tensor in one.items():
        np.testing.assert_allclose(two[name].numpy(), tensor.numpy(), rtol=1e-5, atol=1e-6)


def test_several_nodes_need_a_meeting_point(tmp_path):
    out = folder(tmp_path, "node", "torch")
    run = Run(out, "--nnodes", 2)
    assert run.process.wait(timeout=120) == 2
    assert "--nnodes needs --rdzv-endpoint HOST:PORT" in run.output()


@pytest.mark.slow
@pytest.mark.xdist_group("several_processes")
def test_two_keras_workers_train_as_one_process(tmp_path):
    keras = pytest.importorskip("keras")
    workers = [folder(tmp_path, f"worker{i}", "keras") for i in (0, 1)]
    single = folder(tmp_path, "single", "keras")
    ports = [free_port(), free_port()]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    configs = [{"cluster": cluster, "task": {"type": "worker", "index": i}} for i in (0, 1)]
    finish(Run(single), *(Run(workers[i], extra_env={"TF_CONFIG": json.dumps(configs[i])})
                          for i in (0, 1)))  # fmt: skip
    same_history(workers[0], single)
    assert "worker 0 of 2" in json.loads((workers[0] / "run.json").read_text())["device"]
    weights = [keras.saving.load_model(out / "model.keras", compile=False).get_weights()
               for out in (workers[0], single)]  # fmt: skip
    for a, b in zip(*weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
