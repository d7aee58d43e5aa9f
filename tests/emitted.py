"""Helpers for tests that need emitted code: the specs, checking them, importing the output."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from specc.compiler import CheckedModel, check_text
from specc.emit import emit_source

ROOT = Path(__file__).resolve().parent.parent
SPECS_DIR = ROOT / "specs"
BACKENDS = ("keras", "torch")


def spec_paths() -> list[Path]:
    """Every spec under ``specs/``, sorted (tests parametrize over this)."""
    return sorted(SPECS_DIR.glob("*.spec"))


def check_spec(path: Path) -> CheckedModel:
    """Check a spec, naming it by its path relative to the repository (``specs/x.spec``),
    so that the emitted header does not depend on the working directory."""
    name = path.resolve().relative_to(ROOT).as_posix()
    checked = check_text(path.read_text(encoding="utf-8"), name=name)
    assert checked.ok, f"{name} has errors: {[d.message for d in checked.diagnostics]}"
    return checked


def write_emitted(checked: CheckedModel, backend: str, folder: Path) -> Path:
    """Emit ``checked`` for ``backend`` into ``folder/<model>_<backend>.py``."""
    assert checked.model is not None
    path = Path(folder) / f"{checked.model.name}_{backend}.py"
    path.write_text(emit_source(checked, backend), encoding="utf-8")
    return path


def load_emitted(checked: CheckedModel, backend: str, tmp_path: Path) -> ModuleType:
    """Emit ``checked`` for ``backend`` into ``tmp_path`` and import it as a fresh module."""
    path = write_emitted(checked, backend, tmp_path)
    name = f"emitted_{path.stem}_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def sample_inputs(checked: CheckedModel, batch: int, seed: int = 7) -> tuple[list, list]:
    """A random batch for every input of the model: (in Keras's layout, in PyTorch's), as
    numpy arrays (token ids below the smallest embedding's vocabulary)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    keras_inputs, torch_inputs = [], []
    model = checked.model
    for index in model.inputs:
        shape = checked.infos[index].shape
        if getattr(checked.params.get(index), "dtype", "float32") == "int":
            vocab = min(checked.params[n.index].vocab for n in model.nodes if n.kind == "embedding")
            x = rng.integers(0, vocab, size=(batch, *shape)).astype("int64")
            keras_inputs.append(x)
            torch_inputs.append(x)
            continue
        x = rng.normal(size=(batch, *shape)).astype("float32")
        keras_inputs.append(x)
        torch_inputs.append(np.ascontiguousarray(np.moveaxis(x, -1, 1)) if x.ndim > 2 else x)
    return keras_inputs, torch_inputs


def keras_outputs(keras_model, inputs: list) -> list:
    """Every output of a Keras model, as numpy arrays."""
    import numpy as np

    out = keras_model(inputs[0] if len(inputs) == 1 else inputs, training=False)
    return [np.asarray(o) for o in (out if isinstance(out, list | tuple) else [out])]


def torch_outputs(torch_model, inputs: list, **kwargs) -> list:
    """Every output of a PyTorch model (eval mode), in Keras's layout, as numpy arrays."""
    import numpy as np
    import torch

    with torch.no_grad():
        out = torch_model.eval()(*(torch.from_numpy(x) for x in inputs), **kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    return [np.moveaxis(o.numpy(), 1, -1) if o.ndim > 2 else o.numpy() for o in outs]


def randomize_keras(model) -> None:
    """Random weights everywhere, including biases and BatchNorm statistics (variances > 0)."""
    import numpy as np

    rng = np.random.default_rng(3)
    for layer in model.layers:
        new = []
        for weight in layer.weights:
            value = rng.normal(scale=0.2, size=weight.shape).astype("float32")
            if "variance" in weight.path:
                value = np.abs(value) + 0.5
            new.append(value)
        if new:
            layer.set_weights(new)
            if hasattr(layer, "finalize_state"):  # Normalization: use the statistics just set
                layer.finalize_state()


def assert_same_function(checked: CheckedModel, tmp_path: Path, batch: int = 3) -> None:
    """Both emitted models compute the same function: built from the emitted code, the Keras
    model's random weights ported into the PyTorch one, the same outputs (and shapes) on the
    same batch, within 1e-4."""
    import numpy as np

    from specc.port_weights import keras_to_torch

    keras_model = load_emitted(checked, "keras", tmp_path).build_model()
    torch_model = load_emitted(checked, "torch", tmp_path).build_model().eval()
    randomize_keras(keras_model)
    keras_to_torch(checked, keras_model, torch_model)
    x_keras, x_torch = sample_inputs(checked, batch)
    expected = keras_outputs(keras_model, x_keras)
    got = torch_outputs(torch_model, x_torch)
    assert [g.shape for g in got] == [e.shape for e in expected]
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, atol=1e-4, rtol=1e-4)
