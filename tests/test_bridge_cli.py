"""``specc export`` and ``specc import`` on the command line: exit statuses, messages, files
written (or not), and the frameworks each command imports (run in fresh processes)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.bridge_models import input_layer, keras_layer, small_onnx, write_keras_config
from tests.emitted import ROOT, check_spec, load_emitted

FRAMEWORKS = ("tensorflow", "keras", "torch", "h5py", "onnx", "onnxruntime", "onnxscript")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "specc", *args], capture_output=True, text=True, cwd=ROOT
    )


def _modules_after(*args: str) -> tuple[int, set[str]]:
    """Run ``specc ARGS`` in a fresh interpreter; its exit status and the frameworks it
    imported."""
    code = (
        "import sys; from specc.cli import main\n"
        f"status = main({list(args)!r})\n"
        f"names = sorted({{m.split('.')[0] for m in sys.modules}} & set({FRAMEWORKS!r}))\n"
        "print('MODULES=' + ','.join(names)); sys.exit(status)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    line = next(x for x in result.stdout.splitlines() if x.startswith("MODULES="))
    found = set(filter(None, line.removeprefix("MODULES=").split(",")))
    return result.returncode, found


def _keras_mlp(path):
    vector = (16,)
    layers = [
        input_layer("features", vector),
        keras_layer("Dense", "hidden", [("features", vector)], units=8, activation="relu"),
        keras_layer("Dropout", "drop", [("hidden", (8,))], rate=0.5),
        keras_layer("Dense", "scores", [("drop", (8,))], units=3, activation="softmax"),
    ]
    return write_keras_config(path, layers, "scores", name="mlp")


def test_import_of_a_keras_config_needs_no_framework(tmp_path):
    spec = tmp_path / "mlp.spec"
    status, modules = _modules_after(
        "import", str(_keras_mlp(tmp_path / "m.keras")), "-o", str(spec)
    )
    assert status == 0
    assert modules == set()
    assert spec.read_text().splitlines()[1:] == [
        "model mlp",
        "input 16",
        "",
        "dense 8 relu name=hidden",
        "dropout 0.5 name=drop",
        "dense 3 softmax name=scores",
    ]
    assert _cli("fmt", "--check", str(spec)).returncode == 0
    assert _cli("check", str(spec)).returncode == 0


def test_import_of_onnx_needs_only_onnx(tmp_path):
    spec = tmp_path / "small.spec"
    status, modules = _modules_after(
        "import", str(small_onnx(tmp_path / "m.onnx")), "-o", str(spec)
    )
    assert status == 0
    assert modules == {"onnx"}
    text = spec.read_text()
    assert "conv 4 3x3 padding=same relu name=stem" in text
    assert "dense 2 name=head" in text


def test_export_needs_no_tensorflow(tmp_path):
    target = tmp_path / "digits.onnx"
    status, modules = _modules_after(
        "export", "specs/digits_cnn.spec", "--format", "onnx", "-o", str(target)
    )
    assert status == 0
    assert "torch" in modules and "onnx" in modules
    assert not {"tensorflow", "keras", "h5py"} & modules
    assert target.stat().st_size > 0


def test_import_to_stdout_and_weights_of_onnx(tmp_path):
    import onnxruntime
    import torch

    model = small_onnx(tmp_path / "m.onnx")
    weights = tmp_path / "w.pt"
    result = _cli("import", str(model), "--weights", str(weights))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Imported by `specc import` from m.onnx")
    spec = tmp_path / "small.spec"
    spec.write_text(result.stdout)
    from specc.compiler import check_file

    checked = check_file(spec)
    rebuilt = load_emitted(checked, "torch", tmp_path).build_model().eval()
    rebuilt.load_state_dict(torch.load(weights, weights_only=True))
    x = np.random.default_rng(0).normal(size=(2, 3, 8, 8)).astype("float32")
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        got = rebuilt(torch.from_numpy(x)).numpy()
    assert np.max(np.abs(got - session.run(None, {"x": x})[0])) <= 1e-4


def test_unsupported_ops_are_one_error_and_no_spec(tmp_path):
    spec = tmp_path / "out.spec"
    result = _cli("import", str(small_onnx(tmp_path / "m.onnx", unsupported=True)), "-o", str(spec))
    assert result.returncode == 1
    assert "error[E0701]: m.onnx uses 2 layer types" in result.stderr
    assert "Softsign ×2: softsign_1, softsign_2" in result.stderr
    assert "Erf ×1: erf_1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not spec.exists()


def test_import_refuses_what_is_not_a_model(tmp_path):
    junk = tmp_path / "notes.onnx"
    junk.write_bytes(b"\x00\x01 not a protobuf \xff" * 10)
    result = _cli("import", str(junk))
    assert result.returncode == 2
    assert "is not an ONNX model" in result.stderr
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert _cli("import", str(text)).returncode == 2
    assert "no such file" in _cli("import", str(tmp_path / "missing.keras")).stderr


def test_import_weights_need_a_known_suffix(tmp_path):
    result = _cli("import", str(_keras_mlp(tmp_path / "m.keras")), "--weights", "w.npz")
    assert result.returncode == 2
    assert "cannot tell the format" in result.stderr


def test_export_reports_what_pytorch_cannot_express_at_the_spec(tmp_path):
    spec = tmp_path / "bn.spec"
    spec.write_text("input 8x8x3\nconv 4 3x3\nbatchnorm center=false\nflatten\ndense 2\n")
    target = tmp_path / "bn.onnx"
    result = _cli("export", str(spec), "-o", str(target))
    assert result.returncode == 1
    assert "error[E0601]: the torch backend cannot express this batchnorm" in result.stderr
    assert f"{spec}:3:11" in result.stderr
    assert not target.exists()


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (("--opset", "12"), 2, "--opset takes 18 to 23"),
        (("--format", "tflite"), 2, "invalid choice"),
        (("--weights", "nothing.pt"), 1, "no such file"),
    ],
)
def test_export_usage(args, status, message, tmp_path):
    target = tmp_path / "x.onnx"
    result = _cli("export", "specs/iris_mlp.spec", "-o", str(target), *args)
    assert result.returncode == status
    assert message in result.stderr
    assert not target.exists()


def test_export_refuses_weights_of_another_spec(tmp_path):
    import torch

    other = load_emitted(check_spec(ROOT / "specs/iris_mlp.spec"), "torch", tmp_path).build_model()
    weights = tmp_path / "iris.pt"
    torch.save(other.state_dict(), weights)
    target = tmp_path / "digits.onnx"
    result = _cli("export", "specs/digits_cnn.spec", "-o", str(target), "--weights", str(weights))
    assert result.returncode == 1
    assert "does not fit the PyTorch model of specs/digits_cnn.spec" in result.stderr
    assert not target.exists()


def test_export_with_keras_weights_computes_the_keras_model(tmp_path):
    import onnxruntime

    from tests.bridge_models import randomize_keras

    checked = check_spec(ROOT / "specs/digits_cnn.spec")
    model = load_emitted(checked, "keras", tmp_path).build_model()
    randomize_keras(model)
    weights = tmp_path / "trained.weights.h5"
    model.save_weights(weights)
    target = tmp_path / "digits.onnx"
    result = _cli("export", "specs/digits_cnn.spec", "-o", str(target), "--weights", str(weights))
    assert result.returncode == 0, result.stderr
    assert "ONNX opset 20" in result.stderr
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 1)).astype("float32")
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": np.ascontiguousarray(np.moveaxis(x, -1, 1))})[0]
    assert np.max(np.abs(got - np.asarray(model(x, training=False)))) <= 1e-4


def test_import_of_a_spec_with_errors_is_not_imported_but_checked(tmp_path):
    """``specc export`` of a spec with errors reports ``check``'s diagnostics (exit 1)."""
    spec = tmp_path / "bad.spec"
    spec.write_text("input 4x4x1\nconv 8 5x5\n")
    result = _cli("export", str(spec), "-o", str(tmp_path / "bad.onnx"))
    assert result.returncode == 1
    assert "E0301" in result.stderr


def test_check_json_of_an_import_round_trip(tmp_path):
    """The README's round trip: export, import, check."""
    target = tmp_path / "tiny.onnx"
    assert _cli("export", "specs/tiny_inception.spec", "-o", str(target)).returncode == 0
    spec = tmp_path / "tiny.spec"
    assert _cli("import", str(target), "-o", str(spec)).returncode == 0
    document = json.loads(_cli("check", "--format", "json", str(spec)).stdout)
    original = json.loads(_cli("check", "--format", "json", "specs/tiny_inception.spec").stdout)
    assert document["totals"]["params"] == original["totals"]["params"] == 7457


def test_what_changes_only_training_is_a_warning(tmp_path):
    vector = (16,)
    layers = [
        input_layer("features", vector),
        keras_layer("Dropout", "drop", [("features", vector)], rate=0.2, noise_shape=[None, 1]),
        keras_layer("Dense", "scores", [("drop", vector)], units=3),
    ]
    model = write_keras_config(tmp_path / "m.keras", layers, "scores")
    spec = tmp_path / "m.spec"
    result = _cli("import", str(model), "-o", str(spec))
    assert result.returncode == 0
    assert "specc: warning: drop (Dropout): its noise_shape [None, 1] is left out" in result.stderr
    assert "dropout 0.2 name=drop" in spec.read_text()
