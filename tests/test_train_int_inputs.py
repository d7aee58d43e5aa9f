"""Training specs whose input is integer token ids (``input L dtype=int`` into an embedding).

The runs are real (both frameworks, one compute thread) but tiny: 64 synthetic or 48 npz
samples, one epoch.  The refusals are checked before anything is written or started.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from specc.compiler import check_file
from specc.run_folder import run_config
from tests.test_train import ROOT, emit_run_folder, history, run_entry, specc, train

GRU_TAGGER = ROOT / "specs" / "gru_tagger.spec"  # input 40 dtype=int, embedding 1000, 3 classes
LSTM_TEXT = ROOT / "specs" / "lstm_text.spec"  # input 200 dtype=int, embedding 20000, 2 classes


def test_the_configuration_declares_the_input_dtype_and_vocabulary(tmp_path):
    spec = tmp_path / "two.spec"
    spec.write_text(
        "model two\ninput 6 dtype=int\n"
        "branch concat {\n embedding 90 4\n} {\n embedding 30 4\n}\nflatten\ndense 2 softmax\n"
    )
    checked = check_file(str(spec))
    assert checked.ok, checked.diagnostics
    for backend in ("torch", "keras"):
        config = run_config(checked, backend)
        assert config.input_dtype == "int64"
        assert config.vocab_size == 30, "the smallest vocabulary bounds the ids"
    plain = run_config(check_file(str(ROOT / "specs" / "iris_mlp.spec")), "torch")
    assert plain.input_dtype == "float32" and plain.vocab_size is None


@pytest.mark.parametrize("data", ["digits", "iris", "mnist"])
def test_named_float_data_is_refused_before_anything_runs(tmp_path, data):
    out = tmp_path / "run"
    result = specc("train", GRU_TAGGER, "-b", "torch", "--data", data, "--out", out)
    assert result.returncode == 1, result.stderr
    assert "error[E0409]:" in result.stderr and "integer token ids" in result.stderr
    assert "--data synthetic" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_the_default_data_is_refused_for_token_ids(tmp_path):
    result = specc("train", LSTM_TEXT, "-b", "keras", "--out", tmp_path / "run")
    assert result.returncode == 1
    assert "digits (the default --data) holds float images" in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_float_npz_is_refused_before_training(tmp_path):
    path = tmp_path / "floats.npz"
    np.savez(path, x_train=np.zeros((8, 40), np.float32), y_train=np.arange(8) % 3,
             x_test=np.zeros((2, 40), np.float32), y_test=np.arange(2))  # fmt: skip
    out = tmp_path / "run"
    result = specc("train", GRU_TAGGER, "-b", "torch", "--data", f"npz:{path}", "--out", out)
    assert result.returncode == 2
    assert "x_train is float32 but the model takes integer token ids" in result.stderr
    assert "Traceback" not in result.stderr and not (out / "model.pt").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "model_file"), [("torch", "model.pt"), ("keras", "model.keras")]
)
def test_specc_train_on_synthetic_token_ids(tmp_path, backend, model_file):
    train(backend, tmp_path, "--data", "synthetic:64", "--epochs", "1", spec=GRU_TAGGER)
    assert (tmp_path / model_file).is_file()
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["data"] == "synthetic:64" and info["spec"] == "gru_tagger"
    assert 0.0 <= info["metrics"]["test_accuracy"] <= 1.0
    assert np.isfinite(info["metrics"]["test_loss"])
    assert [row["epoch"] for row in history(tmp_path)] == ["1"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_the_emitted_script_trains_on_an_npz_of_ids(tmp_path, backend):
    """lstm_text on 48 + 12 samples of int32 ids that span its whole vocabulary."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 20000, (60, 200), dtype=np.int32)
    ids[0, :2] = (0, 19999)
    path = tmp_path / "ids.npz"
    np.savez(path, x_train=ids[:48], y_train=np.arange(48) % 2,
             x_test=ids[48:], y_test=np.arange(12) % 2)  # fmt: skip
    run = emit_run_folder(tmp_path / "run", backend, spec=LSTM_TEXT)
    result = run_entry(run, "--data", f"npz:{path}", "--epochs", "1", "--batch", "16")
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert np.isfinite(info["metrics"]["loss"]) and "test_accuracy" in info["metrics"]
