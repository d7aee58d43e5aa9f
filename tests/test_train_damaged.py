"""Damaged checkpoints and data files fail clearly before any training, in both backends; a
run whose loss diverges still writes strict JSON.

Each damaged checkpoint is a copy of a real one-epoch run, broken one way, then resumed with
the folder's own ``train.py``: exit 2, a message naming the file and what is wrong, no
traceback, nothing trained or written.
"""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from tests.test_train import ROOT, files, run_entry, specc, train

IRIS = ROOT / "specs" / "iris_mlp.spec"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``folder(backend)``: a run folder trained for one epoch (made once per backend)."""
    made = {}

    def folder(backend):
        if backend not in made:
            made[backend] = tmp_path_factory.mktemp(f"trained-{backend}") / "run"
            train(backend, made[backend], "--epochs", "1")
        return made[backend]

    return folder


def other_spec(run):
    config = json.loads((run / "config.json").read_text())
    config["spec"]["sha256"] = "0" * 64
    (run / "config.json").write_text(json.dumps(config))


def torch_wrong_shape(run):
    import torch

    state = torch.load(run / "checkpoint.pt", weights_only=True)
    name = next(iter(state["model"]))
    state["model"][name] = torch.zeros(3)
    torch.save(state, run / "checkpoint.pt")


def keras_npz(run):
    return next((run / "checkpoint").glob("epoch-*.npz"))


def keras_wrong_shape(run):
    path = keras_npz(run)
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["model_00000"] = np.zeros(3, np.float32)
    np.savez(path, **arrays)


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def edit_state(run, change):
    path = run / "checkpoint" / "state.json"
    state = json.loads(path.read_text())
    change(state)
    path.write_text(json.dumps(state))


DAMAGE = {
    "torch": [
        ("truncated", lambda r: truncate(r / "checkpoint.pt"),
         "checkpoint.pt is damaged or truncated"),
        ("empty", lambda r: (r / "checkpoint.pt").write_bytes(b""), "checkpoint.pt is empty"),
        ("garbage", lambda r: (r / "checkpoint.pt").write_bytes(b"\x80\x02not a checkpoint" * 9),
         "checkpoint.pt is damaged or truncated"),
        ("another spec", other_spec, "checkpoint.pt was written for another version of the spec"),
        ("wrong shape", torch_wrong_shape, "checkpoint.pt does not fit this model"),
    ],
    "keras": [
        ("truncated", lambda r: truncate(keras_npz(r)), "epoch-0001.npz is damaged or truncated"),
        ("not json", lambda r: (r / "checkpoint" / "state.json").write_text('{"epoch": 1,'),
         r"state.json is damaged: not JSON \(line 1"),
        ("no epoch", lambda r: edit_state(r, lambda s: s.pop("epoch")),
         "state.json is damaged: epoch is missing"),
        ("missing weights", lambda r: keras_npz(r).unlink(),
         "names epoch-0001.npz, which is missing"),
        ("another spec", other_spec, "state.json was written for another version of the spec"),
        ("wrong shape", keras_wrong_shape, "epoch-0001.npz does not fit this model"),
    ],
}  # fmt: skip
CASES = [(backend, *case) for backend, cases in DAMAGE.items() for case in cases]


@pytest.mark.parametrize(("backend", "how", "damage", "message"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])  # fmt: skip
def test_a_damaged_checkpoint_is_refused_before_training(tmp_path, trained, backend, how, damage,
                                                         message):  # fmt: skip
    run = tmp_path / "run"
    shutil.copytree(trained(backend), run)
    damage(run)
    for result_file in ("history.csv", "run.json", "curves.png"):
        (run / result_file).unlink()
    before = files(run)
    result = run_entry(run, "--epochs", "2", "--resume")
    assert result.returncode == 2, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]  # TensorFlow logs its start-up before
    assert last.startswith("error: ") and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert re.search(message, last), last
    assert "Epoch" not in result.stdout and "epoch 2/2" not in result.stderr, "nothing trained"
    assert files(run) == before, "nothing was written"


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_damaged_data_is_refused_before_training(tmp_path, backend):
    path = tmp_path / "data.npz"
    x = np.zeros((20, 8, 8), np.float32)
    x[7, 1, 1] = np.nan
    np.savez(path, x_train=x, y_train=np.arange(20) % 10, x_test=x[:4], y_test=np.arange(4))
    result = specc("train", "specs/digits_cnn.spec", "-b", backend, "--data", f"npz:{path}",
                   "--out", tmp_path / "run")  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert f"error: npz:{path}: x_train has 1 NaN or infinite values (the first in sample 7)" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr and not (tmp_path / "run" / "history.csv").exists()
    truncated = tmp_path / "cut.npz"
    truncated.write_bytes(path.read_bytes()[:200])
    result = specc("train", "specs/digits_cnn.spec", "-b", backend, "--data", f"npz:{truncated}",
                   "--out", tmp_path / "run")  # fmt: skip
    assert result.returncode == 2 and f"error: {truncated} is not a readable .npz" in result.stderr


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_a_diverged_run_writes_strict_json(tmp_path, backend):
    """Finite features so large that the loss overflows: run.json has null and a note."""
    path = tmp_path / "huge.npz"
    x = np.full((40, 4), 3e38, np.float32) * np.where(np.arange(4) % 2, 1, -1)
    np.savez(path, x_train=x, y_train=np.arange(40) % 3, x_test=x[:9], y_test=np.arange(9) % 3)
    train(backend, tmp_path / "run", "--data", f"npz:{path}", "--epochs", "1", spec=IRIS)

    def refuse(constant):
        raise ValueError(f"run.json is not strict JSON: {constant}")

    info = json.loads((tmp_path / "run" / "run.json").read_text(), parse_constant=refuse)
    assert info["metrics"]["loss"] is None
    assert any(
        re.fullmatch(r"metrics\.loss was (nan|inf) \(written as null\)", n) for n in info["notes"]
    )
