"""``specc import`` of published architectures: keras.applications models from their
``.keras`` files, torchvision models through ``torch.onnx.export``.

Each comes back at its published parameter count (the frameworks' own counts are checked
too), its repeated residual units as blocks called in ``repeat``, and with ``--weights`` the
imported model computes the original's outputs.  A model with a layer no spec can say (a
``Lambda``) is one E0701 error that names every such layer, with its count.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from specc.bridge.graph import ImportFailure
from specc.bridge.importer import import_model
from specc.bridge.weights import attach_keras_weights, write_weights
from specc.formatter import format_source
from tests.emitted import load_emitted
from tests.frameworks import torchvision

TOLERANCE = 1e-4  # relative to the outputs' largest magnitude (logits), at least absolute


def _close(got: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(got - expected)) / max(1.0, float(np.max(np.abs(expected)))))


def _randomize_statistics(model) -> None:
    """BatchNorm statistics and scales away from 1 and 0, so that every BatchNorm counts."""
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if type(layer).__name__ != "BatchNormalization":
            continue
        size = layer.get_weights()[0].shape
        layer.set_weights(
            [
                (1 + 0.1 * rng.normal(size=size)).astype("float32"),
                (0.1 * rng.normal(size=size)).astype("float32"),
                (0.1 * rng.normal(size=size)).astype("float32"),
                (0.5 + rng.random(size=size)).astype("float32"),
            ]
        )


KERAS_MODELS = [
    ("ResNet50", 25_636_712, r"repeat 5 \{\s+res_block_2\(256\)"),
    ("MobileNetV2", 3_538_984, r"repeat 3 \{\s+residual \{\s+block\(384, 1, 1, 1, 64\)"),
    ("DenseNet121", 8_062_504, r"repeat 24 \{\s+concat_block\(\)"),
    # squeeze-and-excitation as `branch multiply`, the input's Rescaling and Normalization
    ("EfficientNetB0", 5_330_571, r"branch multiply \{\}"),
]


@pytest.mark.parametrize(
    ("name", "count", "structure"), KERAS_MODELS, ids=[m[0] for m in KERAS_MODELS]
)
def test_keras_application(name, count, structure, tmp_path):
    import keras

    model = getattr(keras.applications, name)(weights=None, classifier_activation=None)
    assert model.count_params() == count
    _randomize_statistics(model)
    saved = tmp_path / f"{name}.keras"
    model.save(saved)

    imported = import_model(saved, f"{name}.spec")

    assert imported.checked.totals()["params"] == count
    assert format_source(imported.text) == imported.text
    assert re.search(structure, imported.text), imported.text
    attach_keras_weights(imported.graph, str(saved))
    weights = tmp_path / "imported.weights.h5"
    write_weights(imported, str(weights))
    rebuilt = load_emitted(imported.checked, "keras", tmp_path).build_model()
    rebuilt.load_weights(weights)
    x = np.random.default_rng(1).normal(size=(1, 224, 224, 3)).astype("float32")
    expected = np.asarray(model(x, training=False))
    assert _close(np.asarray(rebuilt(x, training=False)), expected) <= TOLERANCE


def test_a_layer_no_spec_can_say_is_named_with_its_count(tmp_path):
    """Lambda layers hold Python code: the import is one error naming every one, and the
    other layer types it cannot express, with their counts."""
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="stem")(inputs)
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(x)
    x = keras.layers.Lambda(lambda t: t + 1.0, name="shift")(x)
    x = keras.layers.GaussianNoise(0.1, name="noise")(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    saved = tmp_path / "lambdas.keras"
    model.save(saved, zipped=True)
    with pytest.raises(ImportFailure) as caught:
        import_model(saved)
    assert caught.value.code == "E0701"
    kinds = {
        note.split(" ×")[0]: int(note.split(" ×")[1].split(":")[0]) for note in caught.value.notes
    }
    assert kinds == {"Lambda": 2, "GaussianNoise": 1}
    assert "double, shift" in caught.value.notes[0]


TORCHVISION_MODELS = [
    ("resnet18", 11_689_512, r"repeat 2 \{\s+res_block\(64\)"),
    ("mobilenet_v2", 3_504_872, r"repeat 3 \{\s+residual \{\s+block\(384, 1, 1, 64\)"),
]


@pytest.mark.parametrize(
    ("name", "count", "structure"), TORCHVISION_MODELS, ids=[m[0] for m in TORCHVISION_MODELS]
)
def test_torchvision_through_onnx(name, count, structure, tmp_path):
    import torch

    torch.manual_seed(0)
    model = getattr(torchvision().models, name)(weights=None).eval()
    assert sum(p.numel() for p in model.parameters()) == count
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.normal_(1, 0.1)
                module.bias.normal_(0, 0.1)
    x = torch.randn(1, 3, 224, 224)
    exported = tmp_path / f"{name}.onnx"
    # optimize=False keeps the BatchNorm layers (the default folds them into the convolutions)
    program = torch.onnx.export(
        model,
        (x,),
        dynamo=True,
        optimize=False,
        dynamic_shapes=({0: torch.export.Dim("batch")},),
        verbose=False,
    )
    program.save(str(exported))

    imported = import_model(exported, f"{name}.spec")

    assert imported.checked.totals()["torch_params"] == count
    assert re.search(structure, imported.text), imported.text
    state = tmp_path / "imported.pt"
    write_weights(imported, str(state))
    rebuilt = load_emitted(imported.checked, "torch", tmp_path).build_model().eval()
    rebuilt.load_state_dict(torch.load(state, weights_only=True))
    with torch.no_grad():
        assert _close(rebuilt(x).numpy(), model(x).numpy()) <= TOLERANCE
