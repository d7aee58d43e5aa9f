"""The ONNX reader on hand-written graphs: what it refuses, and what it reads as the spec's
layers, checked against ONNX Runtime running the same file."""

from __future__ import annotations

import numpy as np
import pytest

from specc.bridge.graph import ImportFailure
from specc.bridge.importer import import_model
from specc.bridge.weights import write_weights
from tests.emitted import load_emitted

RNG = np.random.default_rng(0)


def _model(path, nodes, input_shape, output_shape, weights):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes,
        "handmade",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *input_shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", *output_shape])],
        [numpy_helper.from_array(v.astype("float32"), k) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _node(op, inputs, outputs, **attrs):
    from onnx import helper

    return helper.make_node(op, inputs, outputs, name=f"{op.lower()}_{outputs[0]}", **attrs)


def _same_outputs(path, tmp_path, x_onnx, x_torch=None):
    """Import with weights; the emitted PyTorch model computes what ONNX Runtime does."""
    import onnxruntime
    import torch

    imported = import_model(path)
    state = tmp_path / "w.pt"
    write_weights(imported, str(state))
    model = load_emitted(imported.checked, "torch", tmp_path).build_model().eval()
    model.load_state_dict(torch.load(state, weights_only=True))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"x": x_onnx})[0]
    with torch.no_grad():
        got = model(torch.from_numpy(x_onnx if x_torch is None else x_torch)).numpy()
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) <= 1e-4
    return imported


def test_a_channels_first_flatten_into_the_output_is_refused(tmp_path):
    nodes = [
        _node("Conv", ["x", "w"], ["c"]),
        _node("Flatten", ["c"], ["y"]),
    ]
    path = _model(
        tmp_path / "m.onnx", nodes, (2, 4, 4), (3 * 2 * 2,), {"w": RNG.normal(size=(3, 2, 3, 3))}
    )
    with pytest.raises(ImportFailure) as caught:
        import_model(path)
    assert caught.value.notes[0].startswith("a channels-first flatten read by other than dense")


def test_a_channels_first_flatten_into_dense_keeps_pytorchs_order(tmp_path):
    nodes = [
        _node("Conv", ["x", "w"], ["c"]),
        _node("Flatten", ["c"], ["f"]),
        _node("Gemm", ["f", "d", "b"], ["y"], transB=1),
    ]
    weights = {
        "w": RNG.normal(size=(3, 2, 3, 3)),
        "d": RNG.normal(size=(5, 12)),
        "b": RNG.normal(size=5),
    }
    path = _model(tmp_path / "m.onnx", nodes, (2, 4, 4), (5,), weights)
    x = RNG.normal(size=(2, 2, 4, 4)).astype("float32")
    imported = _same_outputs(path, tmp_path, x)
    assert "flatten" in imported.text


@pytest.mark.parametrize("after_relu", [False, True])
def test_max_pool_padding_is_a_zeropad_only_on_data_that_is_never_negative(after_relu, tmp_path):
    nodes = [_node("Conv", ["x", "w"], ["c"])]
    last = "c"
    if after_relu:
        nodes.append(_node("Relu", ["c"], ["r"]))
        last = "r"
    nodes += [
        _node("MaxPool", [last], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        _node("GlobalAveragePool", ["p"], ["g"]),
        _node("Flatten", ["g"], ["y"]),
    ]
    # on the conv's 8x8 output TensorFlow's same would pad (0, 1), not (1, 1): a zeropad
    path = _model(
        tmp_path / "m.onnx", nodes, (2, 10, 10), (3,), {"w": RNG.normal(size=(3, 2, 3, 3))}
    )
    if not after_relu:
        with pytest.raises(ImportFailure) as caught:
            import_model(path)
        assert "MaxPool padding data that may be negative" in caught.value.notes[0]
        return
    x = RNG.normal(size=(2, 2, 10, 10)).astype("float32")
    imported = _same_outputs(path, tmp_path, x)
    assert "zeropad 1" in imported.text and "maxpool 3 stride=2" in imported.text


def test_a_channels_last_input_is_read_as_one(tmp_path):
    nodes = [
        _node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
        _node("Conv", ["t", "w", "b"], ["c"], pads=[0, 0, 1, 1], strides=[2, 2]),
        _node("Relu", ["c"], ["r"]),
        _node("Transpose", ["r"], ["y"], perm=[0, 2, 3, 1]),
    ]
    weights = {"w": RNG.normal(size=(4, 3, 3, 3)), "b": RNG.normal(size=4)}
    path = _model(tmp_path / "m.onnx", nodes, (8, 8, 3), (4, 4, 4), weights)
    x = RNG.normal(size=(2, 8, 8, 3)).astype("float32")
    import onnxruntime
    import torch

    imported = import_model(path)
    assert "input 8x8x3" in imported.text
    assert "conv 4 3x3 stride=2 padding=same relu" in imported.text  # TensorFlow's same padding
    state = tmp_path / "w.pt"
    write_weights(imported, str(state))
    model = load_emitted(imported.checked, "torch", tmp_path).build_model().eval()
    model.load_state_dict(torch.load(state, weights_only=True))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        got = model(torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))).numpy()
    assert np.max(np.abs(np.moveaxis(got, 1, -1) - session.run(None, {"x": x})[0])) <= 1e-4


def test_grouped_convolutions_are_convs_with_groups(tmp_path):
    nodes = [
        _node("Conv", ["x", "w"], ["c"], group=2),
        _node("GlobalAveragePool", ["c"], ["g"]),
        _node("Flatten", ["g"], ["y"]),
    ]
    path = _model(tmp_path / "m.onnx", nodes, (4, 5, 5), (4,), {"w": RNG.normal(size=(4, 2, 3, 3))})
    x = RNG.normal(size=(2, 4, 5, 5)).astype("float32")
    imported = _same_outputs(path, tmp_path, x)
    assert "conv 4 3x3 use_bias=false groups=2" in imported.text
    assert imported.checked.totals()["params"] == 4 * 2 * 9


# token sequences from `specc export`: an attention's output is laid out by where its output
# projection puts the channels, also when there are as many tokens as channels (then the
# shapes the file records cannot tell the two axes apart)
SEQUENCES = {
    "position_embedding": "embedding 10 4\nposition_embedding\ndense 4",
    "attention": "embedding 10 4\nposition_embedding\nresidual { layernorm; attention 2 causal }",
    "two_attentions": (
        "embedding 10 4\nposition_embedding\nrepeat 2 {\n"
        "  residual { layernorm; attention 2 causal }\n  residual { dense 8 gelu; dense 4 }\n}"
    ),
}


@pytest.mark.parametrize("length", [4, 6])
@pytest.mark.parametrize("body", list(SEQUENCES), ids=list(SEQUENCES))
def test_exported_token_sequences_import_as_the_same_layers(body, length, tmp_path):
    import onnxruntime
    import torch

    from specc.bridge.export import export_onnx
    from specc.compiler import check_text
    from specc.report import to_document
    from tests.bridge_compare import ONNX_CONSTANTS, ONNX_INVISIBLE, differences, same_graph

    text = f"model seq\ninput {length} dtype=int\n{SEQUENCES[body]}\ndense 10 softmax\n"
    checked = check_text(text, name="seq.spec")
    assert checked.ok, [d.message for d in checked.diagnostics]
    path = tmp_path / "seq.onnx"
    export_onnx(checked, str(path))

    imported = import_model(path)
    original, back = to_document(checked), to_document(imported.checked)
    assert same_graph(original, back, ONNX_INVISIBLE, ONNX_CONSTANTS), differences(
        original, back, ONNX_INVISIBLE
    )
    state = tmp_path / "w.pt"
    write_weights(imported, str(state))
    model = load_emitted(imported.checked, "torch", tmp_path).build_model().eval()
    model.load_state_dict(torch.load(state, weights_only=True))
    x = RNG.integers(0, 10, size=(2, length)).astype("int64")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) <= 1e-4
