"""port-weights: Keras weights ported into the emitted PyTorch model (and back) compute the
same outputs, for every spec; the command converts files and refuses ones that don't fit."""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest
import torch

from specc.port_weights import keras_to_torch, torch_to_keras
from tests.emitted import (
    ROOT,
    check_spec,
    keras_outputs,
    load_emitted,
    randomize_keras,
    sample_inputs,
    spec_paths,
    torch_outputs,
)

SPECS = spec_paths()
TOLERANCE = 1e-4
BIG = 20_000_000
# torch -> keras on the small specs; the 138M-parameter VGG16 is ported keras -> torch only
SMALL_SPECS = [p for p in SPECS if check_spec(p).totals()["params"] <= BIG]


def _randomize_torch(model) -> None:
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            value = torch.randn(tensor.shape, generator=generator) * 0.2
            if "running_var" in name or name.endswith("variance"):
                value = value.abs() + 0.5
            tensor.copy_(value)


def _outputs(checked, keras_model, torch_model, batch):
    """Both models' outputs on the same batch, every output one after the other."""
    x_keras, x_torch = sample_inputs(checked, batch)
    expected = keras_outputs(keras_model, x_keras)
    got = torch_outputs(torch_model, x_torch)
    assert [g.shape for g in got] == [e.shape for e in expected]
    return np.concatenate([e.ravel() for e in expected]), np.concatenate([g.ravel() for g in got])


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_keras_to_torch_same_outputs(spec, tmp_path):
    checked = check_spec(spec)
    batch = 1 if checked.totals()["params"] > BIG else 3
    keras_model = load_emitted(checked, "keras", tmp_path).build_model()
    torch_model = load_emitted(checked, "torch", tmp_path).build_model()
    randomize_keras(keras_model)
    keras_to_torch(checked, keras_model, torch_model)
    expected, got = _outputs(checked, keras_model, torch_model, batch)
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) <= TOLERANCE


@pytest.mark.parametrize("spec", SMALL_SPECS, ids=[p.stem for p in SMALL_SPECS])
def test_torch_to_keras_same_outputs(spec, tmp_path):
    checked = check_spec(spec)
    keras_model = load_emitted(checked, "keras", tmp_path).build_model()
    torch_model = load_emitted(checked, "torch", tmp_path).build_model()
    _randomize_torch(torch_model)
    torch_to_keras(checked, torch_model, keras_model)
    expected, got = _outputs(checked, keras_model, torch_model, 3)
    assert np.max(np.abs(got - expected)) <= TOLERANCE


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "specc", *args], capture_output=True, text=True, cwd=ROOT
    )


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_port_weights_files_both_ways(suffix, tmp_path):
    spec = ROOT / "specs" / "digits_cnn.spec"
    checked = check_spec(spec)
    keras_model = load_emitted(checked, "keras", tmp_path).build_model()
    randomize_keras(keras_model)
    keras_file = tmp_path / f"trained{suffix}"
    if suffix == ".keras":
        keras_model.save(keras_file)
    else:
        keras_model.save_weights(keras_file)

    torch_file = tmp_path / "ported.pt"
    result = _cli("port-weights", str(spec), "--from", str(keras_file), "--to", str(torch_file))
    assert result.returncode == 0, result.stderr
    torch_model = load_emitted(checked, "torch", tmp_path).build_model()
    torch_model.load_state_dict(torch.load(torch_file, weights_only=True))
    expected, got = _outputs(checked, keras_model, torch_model, 4)
    assert np.max(np.abs(got - expected)) <= TOLERANCE

    back = tmp_path / f"back{suffix}"
    result = _cli("port-weights", str(spec), "--from", str(torch_file), "--to", str(back))
    assert result.returncode == 0, result.stderr
    if suffix == ".keras":
        again = keras.models.load_model(back, compile=False)
    else:
        again = load_emitted(checked, "keras", tmp_path).build_model()
        again.load_weights(back)
    for a, b in zip(keras_model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_refuses_weights_of_another_spec(tmp_path):
    other = check_spec(ROOT / "specs" / "iris_mlp.spec")
    model = load_emitted(other, "torch", tmp_path).build_model()
    wrong = tmp_path / "iris.pt"
    torch.save(model.state_dict(), wrong)
    target = tmp_path / "out.weights.h5"
    result = _cli(
        "port-weights", "specs/digits_cnn.spec", "--from", str(wrong), "--to", str(target)
    )
    assert result.returncode == 1
    assert "does not fit the PyTorch model of specs/digits_cnn.spec" in result.stderr
    assert "Traceback" not in result.stderr
    assert not target.exists()


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("w.txt", "w.pt", "cannot tell the framework"),
        ("w.pt", "v.pt", "are both torch files"),
        ("missing.pt", "w.weights.h5", "no such file"),
    ],
)
def test_port_weights_usage_errors(source, target, message, tmp_path):
    result = _cli(
        "port-weights",
        "specs/digits_cnn.spec",
        "--from",
        str(tmp_path / source),
        "--to",
        str(tmp_path / target),
    )
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
