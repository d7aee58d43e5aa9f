"""Export to ONNX and back, for every spec under ``specs/``.

``specc export`` (through :func:`specc.bridge.export.export_onnx`) writes a file that passes
``onnx.checker``, takes any batch size, names its nodes after the spec's layers, and that ONNX
Runtime runs to the outputs of the Keras model and of the PyTorch model with the same (ported)
weights.  ``specc import`` of that file gives the same graph as the spec — up to what an ONNX
inference graph does not keep (dropout, activations as separate nodes or fused, a zero padding
folded into the conv after it; see ``tests/bridge_compare.py``) and names — and, with
``--weights``, a model that computes what ONNX Runtime computes.
"""

from __future__ import annotations

import numpy as np
import pytest

from specc.bridge.export import export_onnx
from specc.bridge.importer import import_model
from specc.bridge.weights import write_weights
from specc.emit.planning import plan_model
from specc.formatter import format_source
from specc.port_weights import keras_to_torch
from specc.report import to_document
from tests.bridge_compare import ONNX_CONSTANTS, ONNX_INVISIBLE, differences, same_graph
from tests.bridge_models import (
    keras_input,
    randomize_keras,
    randomize_torch,
    to_keras_layout,
    to_torch_layout,
    vocab,
)
from tests.emitted import (
    check_spec,
    keras_outputs,
    load_emitted,
    sample_inputs,
    spec_paths,
    torch_outputs,
)

SPECS = spec_paths()
TOLERANCE = 1e-4
BIG = 20_000_000  # one batch size, and no weights carried back (VGG16: 138M parameters)


@pytest.fixture(scope="module")
def torch():
    import torch

    torch.set_num_threads(1)
    return torch


def _run(path, x):
    """ONNX Runtime's first output on one input ``x`` (PyTorch's layout)."""
    return _run_all(path, [x])[0]


def _run_all(path, inputs: list) -> list:
    """ONNX Runtime's outputs on ``inputs`` (PyTorch's layout), in the graph's order."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, inputs, strict=True)))


def _close(got: list, expected: list) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert np.max(np.abs(a - b)) <= TOLERANCE


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_export_and_import(spec, tmp_path, torch):
    import onnx

    checked = check_spec(spec)
    keras_model = load_emitted(checked, "keras", tmp_path).build_model()
    randomize_keras(keras_model)
    torch_model = load_emitted(checked, "torch", tmp_path).build_model().eval()
    keras_to_torch(checked, keras_model, torch_model)
    weights = tmp_path / "weights.pt"
    torch.save(torch_model.state_dict(), weights)
    exported = tmp_path / f"{checked.model.name}.onnx"

    done = export_onnx(checked, str(exported), weights=str(weights))

    model = onnx.load(exported)
    onnx.checker.check_model(model, full_check=True)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [done.opset]
    for graph_input in model.graph.input:
        batch_axis = graph_input.type.tensor_type.shape.dim[0]
        assert batch_axis.dim_param and not batch_axis.HasField("dim_value")
    assert len(model.graph.input) == len(checked.model.inputs)
    assert len(model.graph.output) == len(checked.model.outputs)
    # every layer that is a module of the PyTorch model names its ONNX nodes (dropout is
    # not in an inference graph; the exporter folds a zeropad into the conv after it)
    names = {node.name.split("/")[0] for node in model.graph.node}
    plans = plan_model(checked, "torch")
    layers = {
        n.name
        for n in checked.model.nodes
        if plans[n.index].module and n.kind not in ("dropout", "zeropad2d")
    }
    assert layers <= names, layers - names

    big = checked.totals()["params"] > BIG
    for batch in (1,) if big else (1, 3):  # the batch axis is dynamic
        keras_in, torch_in = sample_inputs(checked, batch)
        got = [to_keras_layout(y) for y in _run_all(exported, torch_in)]
        _close(got, keras_outputs(keras_model, keras_in))
        _close(got, torch_outputs(torch_model, torch_in))

    imported = import_model(exported, "imported.spec")
    assert format_source(imported.text) == imported.text
    original, back = to_document(checked), to_document(imported.checked)
    assert same_graph(original, back, ONNX_INVISIBLE, ONNX_CONSTANTS), differences(
        original, back, ONNX_INVISIBLE
    )
    if big:
        return

    state = tmp_path / "imported.pt"
    write_weights(imported, str(state))
    rebuilt = load_emitted(imported.checked, "torch", tmp_path).build_model().eval()
    rebuilt.load_state_dict(torch.load(state, weights_only=True))
    _, torch_in = sample_inputs(checked, 2)
    again = torch_outputs(rebuilt, torch_in)
    _close(again, [to_keras_layout(y) for y in _run_all(exported, torch_in)])


@pytest.mark.parametrize(
    "spec",
    [
        "cifar10_cnn",
        "features_tour",
        "gru_tagger",
        "separable_digits",
        "gating_tour",
        "text_transformer",
        "two_heads",
    ],
)
def test_onnx_import_weights_for_keras(spec, tmp_path, torch):
    """``--weights x.weights.h5`` of an ONNX import: PyTorch's tensors ported to Keras's
    layout (a channels-first flatten's dense rows, recurrent gates, depthwise kernels)."""
    checked = check_spec(next(p for p in SPECS if p.stem == spec))
    torch_model = load_emitted(checked, "torch", tmp_path).build_model().eval()
    randomize_torch(torch_model)
    weights = tmp_path / "weights.pt"
    torch.save(torch_model.state_dict(), weights)
    exported = tmp_path / "model.onnx"
    export_onnx(checked, str(exported), weights=str(weights), verify=False)
    imported = import_model(exported, "imported.spec")
    keras_weights = tmp_path / "imported.weights.h5"
    write_weights(imported, str(keras_weights))
    rebuilt = load_emitted(imported.checked, "keras", tmp_path).build_model()
    rebuilt.load_weights(keras_weights)
    keras_in, torch_in = sample_inputs(checked, 3)
    expected = [to_keras_layout(y) for y in _run_all(exported, torch_in)]
    _close(keras_outputs(rebuilt, keras_in), expected)


@pytest.mark.parametrize("spec", ["features_tour", "lstm_text", "separable_digits"])
def test_import_of_pytorchs_own_export(spec, tmp_path, torch):
    """``torch.onnx.export(..., optimize=False)`` as a user runs it: PyTorch's raw graph (zero
    biases computed with Expand, elu as elu(x * 1) * 1, TensorFlow's `same` average as a
    division by the padded ones) reads back to the same graph and outputs."""
    checked = check_spec(next(p for p in SPECS if p.stem == spec))
    model = load_emitted(checked, "torch", tmp_path).build_model().eval()
    randomize_torch(model)
    x = torch.from_numpy(to_torch_layout(keras_input(checked.infos[0].shape, 2, vocab(checked))))
    exported = tmp_path / "raw.onnx"
    program = torch.onnx.export(
        model,
        (x,),
        dynamo=True,
        optimize=False,
        dynamic_shapes=({0: torch.export.Dim("batch")},),
        verbose=False,
    )
    program.save(str(exported))
    imported = import_model(exported, "imported.spec")
    original, back = to_document(checked), to_document(imported.checked)
    assert same_graph(original, back, ONNX_INVISIBLE, ONNX_CONSTANTS), differences(
        original, back, ONNX_INVISIBLE
    )
    state = tmp_path / "imported.pt"
    write_weights(imported, str(state))
    rebuilt = load_emitted(imported.checked, "torch", tmp_path).build_model().eval()
    rebuilt.load_state_dict(torch.load(state, weights_only=True))
    with torch.no_grad():
        assert np.max(np.abs(rebuilt(x).numpy() - model(x).numpy())) <= TOLERANCE
