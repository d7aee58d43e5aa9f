"""Round trips through Keras: spec -> emitted Keras model -> ``model.save`` -> ``specc import``.

For every spec under ``specs/`` the imported spec checks, is in ``specc fmt``'s layout, and is
the same graph as the original (kinds, shapes, parameter counts, MACs, which layer reads which;
not the names, which specc gives itself inside the blocks it finds); with ``--weights`` the
imported model computes what the saved one computes, in Keras and in PyTorch.
"""

from __future__ import annotations

import numpy as np
import pytest

from specc.bridge.importer import import_model
from specc.bridge.weights import attach_keras_weights, write_weights
from specc.formatter import format_source
from specc.report import to_document
from tests.bridge_compare import differences, same_graph
from tests.bridge_models import (
    keras_input,
    randomize_keras,
    save_config_only,
    to_keras_layout,
    to_torch_layout,
    vocab,
)
from tests.emitted import check_spec, keras_outputs, load_emitted, sample_inputs, spec_paths

SPECS = spec_paths()
BIG = 20_000_000  # saved as a config only, and no weights compared
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_keras_round_trip(spec, tmp_path, keras):
    checked = check_spec(spec)
    model = load_emitted(checked, "keras", tmp_path).build_model()
    small = checked.totals()["params"] <= BIG
    saved = tmp_path / f"{checked.model.name}.keras"
    if small:
        randomize_keras(model)
        model.save(saved)
    else:
        save_config_only(model, saved)

    imported = import_model(saved, "imported.spec")

    assert imported.checked.ok
    assert format_source(imported.text) == imported.text
    original, back = to_document(checked), to_document(imported.checked)
    assert same_graph(original, back), differences(original, back)
    if not small:
        return
    attach_keras_weights(imported.graph, str(saved), imported.checked)
    weights = tmp_path / "imported.weights.h5"
    write_weights(imported, str(weights))
    rebuilt = load_emitted(imported.checked, "keras", tmp_path).build_model()
    rebuilt.load_weights(weights)
    inputs, _ = sample_inputs(checked, 3)
    expected, got = keras_outputs(model, inputs), keras_outputs(rebuilt, inputs)
    assert len(got) == len(expected) == len(checked.model.outputs)
    for a, b in zip(got, expected, strict=True):
        assert np.max(np.abs(a - b)) <= TOLERANCE


@pytest.mark.parametrize(
    "spec", ["cifar_resnet", "separable_digits", "gru_tagger", "tiny_vit", "gating_tour"]
)
def test_keras_import_weights_as_a_state_dict(spec, tmp_path, keras):
    """``--weights model.pt``: the Keras model's weights, ported for the emitted PyTorch
    model of the imported spec."""
    import torch

    checked = check_spec(next(p for p in SPECS if p.stem == spec))
    model = load_emitted(checked, "keras", tmp_path).build_model()
    randomize_keras(model)
    saved = tmp_path / "model.keras"
    model.save(saved)
    imported = import_model(saved, "imported.spec")
    attach_keras_weights(imported.graph, str(saved), imported.checked)
    weights = tmp_path / "imported.pt"
    write_weights(imported, str(weights))
    rebuilt = load_emitted(imported.checked, "torch", tmp_path).build_model().eval()
    rebuilt.load_state_dict(torch.load(weights, weights_only=True))
    x = keras_input(checked.infos[0].shape, 3, vocab(checked))
    expected = np.asarray(model(x, training=False))
    with torch.no_grad():
        got = to_keras_layout(rebuilt(torch.from_numpy(to_torch_layout(x))).numpy())
    assert np.max(np.abs(got - expected)) <= TOLERANCE


def test_a_block_writes_what_its_instances_share(tmp_path, keras):
    """Two residual units that differ in their pool size but share a stride of 2: the block
    takes the pool size as a parameter and writes the stride, which would otherwise default
    to each instance's own pool size (the first instance's stride is its pool size)."""
    from specc.compiler import check_text

    text = (
        "input 16x16x8\n"
        "residual { maxpool 2 stride=2 padding=same } shortcut { avgpool 2 }\nrelu\n"
        "residual { maxpool 3 stride=2 padding=same } shortcut { avgpool 2 }\nrelu\n"
        "globalavgpool\ndense 2\n"
    )
    checked = check_text(text, "pools.spec")
    saved = tmp_path / "pools.keras"
    save_config_only(load_emitted(checked, "keras", tmp_path).build_model(), saved)
    imported = import_model(saved, "imported.spec")
    assert "maxpool pool stride=2 padding=same" in imported.text
    assert same_graph(to_document(checked), to_document(imported.checked))


def test_a_graph_that_is_no_nesting_is_written_with_names(tmp_path):
    """Skips that cross (``a`` read by two merges) and a second output: the spec names the
    layers it reads again (``add a``, ``from=``) and lists its outputs."""
    from tests.bridge_models import input_layer, keras_layer, write_keras_config

    vector = (8,)
    layers = [
        input_layer("x", vector),
        keras_layer("Dense", "a", [("x", vector)], units=8),
        keras_layer("Dense", "b", [("x", vector)], units=8),
        keras_layer("Add", "ab", [("a", vector), ("b", vector)]),
        keras_layer("Add", "aba", [("ab", vector), ("a", vector)]),
        keras_layer("Dense", "head", [("b", vector)], units=2),
    ]
    path = write_keras_config(tmp_path / "m.keras", layers, ["aba", "head"])
    imported = import_model(path, "imported.spec")
    assert imported.checked.ok
    model = imported.checked.model
    assert [model.nodes[i].name for i in model.outputs] == ["aba", "head"]
    assert "output aba head" in imported.text and "from=" in imported.text
    first, second = (n for n in model.nodes if n.kind == "add")
    assert {model.nodes[i].name for i in first.inputs} == {"a", "b"}
    assert {model.nodes[i].name for i in second.inputs} == {first.name, "a"}
