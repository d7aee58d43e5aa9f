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


def start(out: Path, *flags, extra_env=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(out / "train.py"), *FLAGS, *map(str, flags)],
        env={**env(), **(extra_env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def finish(process: subprocess.Popen) -> None:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-3000:]


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
def test_two_torch_nodes_train_as_one_process(tmp_path):
    torch = pytest.importorskip("torch")
    endpoint = f"127.0.0.1:{free_port()}"
    nodes = [folder(tmp_path, f"node{rank}", "torch") for rank in (0, 1)]
    single = folder(tmp_path, "single", "torch")
    running = [start(nodes[rank], "--nnodes", 2, "--node-rank", rank, "--rdzv-endpoint",
                     endpoint) for rank in (0, 1)]  # fmt: skip
    finish(start(single))
    for process in running:
        finish(process)
    same_history(nodes[0], single)
    assert json.loads((nodes[0] / "run.json").read_text())["world_size"] == 2
    assert not (nodes[1] / "model.pt").exists(), "only the first process writes"
    two = torch.load(nodes[0] / "model.pt", weights_only=True)
    one = torch.load(single / "model.pt", weights_only=True)
    for name, tensor in one.items():
        np.testing.assert_allclose(two[name].numpy(), tensor.numpy(), rtol=1e-5, atol=1e-6)


def test_several_nodes_need_a_meeting_point(tmp_path):
    out = folder(tmp_path, "node", "torch")
    process = start(out, "--nnodes", 2)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 2 and "--nnodes needs --rdzv-endpoint HOST:PORT" in output


@pytest.mark.slow
def test_two_keras_workers_train_as_one_process(tmp_path):
    keras = pytest.importorskip("keras")
    ports = [free_port(), free_port()]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = [folder(tmp_path, f"worker{i}", "keras") for i in (0, 1)]
    single = folder(tmp_path, "single", "keras")
    configs = [{"cluster": cluster, "task": {"type": "worker", "index": i}} for i in (0, 1)]
    running = [start(workers[i], extra_env={"TF_CONFIG": json.dumps(configs[i])}) for i in (0, 1)]
    finish(start(single))
    for process in running:
        finish(process)
    same_history(workers[0], single)
    assert "worker 0 of 2" in json.loads((workers[0] / "run.json").read_text())["device"]
    weights = [keras.saving.load_model(out / "model.keras", compile=False).get_weights()
               for out in (workers[0], single)]  # fmt: skip
    for a, b in zip(*weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
