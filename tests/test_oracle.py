"""The frameworks are the oracle: the emitted models have specc's shapes and parameter counts,
and the PyTorch backend computes Keras's function where the frameworks' defaults differ."""

from __future__ import annotations

import math

import numpy as np
import pytest

from specc.compiler import check_text
from specc.port_weights import keras_to_torch
from tests.emitted import check_spec, load_emitted, sample_inputs, spec_paths

SPECS = spec_paths()
BIG = 20_000_000  # models above this many parameters run a batch of 1


@pytest.fixture(scope="module")
def keras():
    """Keras 3, imported once for the module."""
    import keras

    return keras


@pytest.fixture(scope="module")
def torch():
    """PyTorch, imported once for the module, single-threaded (the machine is shared)."""
    import torch

    torch.set_num_threads(1)
    return torch


def _count(weights) -> int:
    return sum(math.prod(w.shape) for w in weights)


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_keras_shapes_and_counts(spec, keras, tmp_path):
    checked = check_spec(spec)
    model = load_emitted(checked, "keras", tmp_path).build_model()
    try:
        shapes = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
        assert [tuple(s[1:]) for s in shapes] == [
            checked.infos[i].shape for i in checked.model.inputs
        ]
        for node in checked.model.nodes[1:]:
            shape = tuple(model.get_layer(node.name).output.shape[1:])
            assert shape == checked.infos[node.index].shape, f"{node.name} ({node.kind})"
        outs = model.output_shape if isinstance(model.output_shape, list) else [model.output_shape]
        assert [tuple(s[1:]) for s in outs] == [
            checked.infos[o].shape for o in checked.model.outputs
        ]
        totals = checked.totals()
        assert model.count_params() == totals["params"]
        assert _count(model.trainable_weights) == totals["trainable_params"]
        assert _count(model.non_trainable_weights) == totals["non_trainable_params"]
    finally:
        del model
        keras.backend.clear_session()


def _activation_slot(name: str, names: set[str]) -> bool:
    """In nn.Sequential, a layer's fused activation is the next numbered module (``s.1`` after
    ``s.0``), and a separable conv is a Sequential of two convs (``sep.0``, ``sep.1``)."""
    parent, _, last = name.rpartition(".")
    if parent in names:
        return True
    return last.isdigit() and f"{parent}.{int(last) - 1}" in names if parent else False


def _channels_first(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[-1], *shape[:-1]) if len(shape) > 1 else shape


def _post_processed(checked, node) -> bool:
    """Layers whose forward reshapes the submodule's output: conv2d_transpose crops it
    (TensorFlow's "same" drops the odd pixel at the end), patch_embedding flattens its conv's
    output positions into tokens, and a recurrent layer without return_sequences keeps the
    last step; the next layer's input checks what comes out."""
    if node.kind in ("conv2d_transpose", "patch_embedding"):
        return True
    return node.kind in ("lstm", "gru") and not checked.params[node.index].return_sequences


def _channels_last(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (*shape[1:], shape[0]) if len(shape) > 1 else shape


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_torch_shapes_and_counts(spec, torch, tmp_path):
    checked = check_spec(spec)
    model = load_emitted(checked, "torch", tmp_path).build_model().eval()
    totals = checked.totals()
    batch = 1 if totals["params"] > BIG else 2
    seen: dict[str, tuple[int, ...]] = {}
    # every submodule is a layer (named as the IR node) or a scope of the spec (a block
    # instance, a repeat, an iteration or a sequential group)
    names = {node.name for node in checked.model.nodes}
    scopes = {scope.name for scope in checked.model.scopes}
    for name, module in model.named_modules():
        if not name or name in scopes:
            continue
        assert name in names or _activation_slot(name, names), f"{name} is not an IR node"

        def hook(_module, _inputs, output, name=name):
            if isinstance(output, tuple):  # recurrent layers: (output, state)
                output = output[0]
            seen.setdefault(name, tuple(output.shape))

        module.register_forward_hook(hook)
    _, inputs = sample_inputs(checked, batch)
    with torch.no_grad():
        out = model(*(torch.from_numpy(x) for x in inputs))
    outs = out if isinstance(out, tuple) else (out,)
    assert [tuple(o.shape) for o in outs] == [
        (batch, *_channels_first(checked.infos[o].shape)) for o in checked.model.outputs
    ]
    for node in checked.model.nodes:
        if node.name in seen and not _post_processed(checked, node):
            got = seen[node.name]
            assert got[0] == batch, node.name
            # channels-first as PyTorch lays it out, or channels-last for a submodule that
            # works on that layout (layernorm, embedding, recurrent layers)
            want = checked.infos[node.index].shape
            assert want in (_channels_last(got[1:]), got[1:]), f"{node.name}: {got[1:]}"
    # PyTorch's own count: the IR's trainable count, except where torch keeps more (LSTM's
    # second bias), which the registry states as param_count_torch
    assert sum(p.numel() for p in model.parameters()) == totals["torch_params"]
    buffers = sum(b.numel() for n, b in model.named_buffers() if "num_batches_tracked" not in n)
    assert buffers == totals["non_trainable_params"]


# -- semantics: the same function in both backends -------------------------------------------

SEMANTICS = {
    "same_pooling": """
        input 7x6x3
        maxpool 2 padding=same
        avgpool 3 stride=2 padding=same
        avgpool 3 stride=1 padding=same
        maxpool 2 stride=1 padding=same
        """,
    "same_pooling_1d": """
        input 9x4
        avgpool1d 2 padding=same
        maxpool1d 3 stride=2 padding=same
        avgpool1d 2 stride=1 padding=same
        """,
    "same_conv": """
        input 9x8x3
        conv 4 3x3 stride=2 padding=same
        conv 4 2x2 padding=same relu
        conv 5 3x3 dilation=2 padding=same
        conv 3 4x4 stride=2 padding=same use_bias=false
        """,
    "layouts": """
        input 5x4x3
        zeropad 1x2
        conv 2 3x3
        flatten
        reshape 6x10
        conv1d 4 3 stride=2 padding=same
        flatten
        """,
    "activations": """
        input 6x5x4
        leaky_relu
        activation leaky_relu negative_slope=0.1
        elu
        activation elu alpha=0.5
        gelu
        silu
        tanh
        sigmoid
        globalmaxpool
        softmax
        """,
    "merges": """
        input 6x6x4
        branch concat { conv 3 1x1 } { maxpool 3 stride=1 padding=same } {
          avgpool 2 stride=1 padding=same
        }
        residual { conv 11 3x3 padding=same } shortcut { conv 11 1x1 }
        residual { relu }
        globalavgpool
        """,
}


@pytest.mark.parametrize("name", sorted(SEMANTICS))
def test_torch_computes_what_keras_computes(name, keras, torch, tmp_path):
    text = "model " + name + "\n" + "\n".join(line.strip() for line in SEMANTICS[name].splitlines())
    checked = check_text(text, name=f"{name}.spec")
    assert checked.ok, [d.message for d in checked.diagnostics]
    keras_model = load_emitted(checked, "keras", tmp_path).build_model()
    torch_model = load_emitted(checked, "torch", tmp_path).build_model().eval()
    keras.utils.set_random_seed(0)
    for layer in keras_model.layers:  # non-zero biases, so that bias mistakes show
        weights = layer.get_weights()
        if len(weights) == 2:
            layer.set_weights([weights[0], np.random.default_rng(1).normal(size=weights[1].shape)])
    keras_to_torch(checked, keras_model, torch_model)
    x = np.random.default_rng(0).normal(size=(2, *checked.infos[0].shape)).astype("float32")
    expected = np.asarray(keras_model(x))
    rank = len(checked.infos[0].shape)
    order = (0, rank, *range(1, rank))
    with torch.no_grad():
        got = torch_model(torch.from_numpy(np.ascontiguousarray(x.transpose(order)))).numpy()
    out_rank = got.ndim - 1
    if out_rank > 1:
        got = got.transpose(0, *range(2, out_rank + 1), 1)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
    keras.backend.clear_session()
