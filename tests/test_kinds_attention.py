"""Attention and the transformer pieces (per-token dense, patch embedding, class token,
position embedding, token pooling) against Keras's and PyTorch's own layers.

The generic tests build every spec under ``specs/`` from emitted code; these check each
kind's rules on their own: shapes and counts against ``keras.layers.MultiHeadAttention`` and
``nn.MultiheadAttention`` built directly, the weight maps and the causal mask against Keras's
computation, and cross-attention's counts (a second input) for when the language passes one.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch

from specc.compiler import check_text
from specc.emit.planning import plan_model
from specc.layers import lookup
from specc.layers.attention import Sizes
from specc.plans import PackedProjections
from tests.kind_checks import both_backends, dims, keras_counts, layer_info

nn = torch.nn
F = torch.nn.functional

ATTENTION = [
    ((7, 12), "attention 3"),
    ((7, 12), "attention 3 causal dropout=0.2"),
    ((7, 12), "attention 2 5 value_dim=3"),
    ((5, 8), "attention 2 4 use_bias=false causal"),
    ((6, 10), "mha 4 3 use_bias=false"),
]


def _keras_attention(p, channels):
    return keras.layers.MultiHeadAttention(
        num_heads=p.heads,
        key_dim=p.key_dim or channels // p.heads,
        value_dim=p.value_dim,
        dropout=p.dropout,
        use_bias=p.use_bias,
    )


@pytest.mark.parametrize(("shape", "line"), ATTENTION)
def test_attention_shapes_and_counts(shape, line):
    info, p = layer_info(f"input {dims(shape)}", line)
    layer = _keras_attention(p, shape[-1])
    out, counts = keras_counts(keras, shape, layer, lambda m, x: m(x, x))
    assert info.shape == out == shape
    assert (info.trainable, info.non_trainable) == counts
    sizes = Sizes(p, [shape])
    if sizes.packed:
        module = nn.MultiheadAttention(shape[-1], p.heads, bias=p.use_bias, batch_first=True)
        assert info.torch_params == sum(t.numel() for t in module.parameters())
    assert info.torch_params == info.trainable


def _random_weights(layer, rng):
    layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.weights])


@pytest.mark.parametrize(("shape", "line"), ATTENTION)
def test_attention_computes_what_keras_computes(shape, line):
    """Keras's weights, moved by the kind's weight map, give Keras's outputs: through
    ``nn.MultiheadAttention`` itself where the plan uses it, else through the per-head
    projections and ``F.scaled_dot_product_attention`` written out here."""
    _, p = layer_info(f"input {dims(shape)}", line)
    rng = np.random.default_rng(0)
    layer = _keras_attention(p, shape[-1])
    x = rng.normal(size=(2, *shape)).astype("float32")
    layer(x, x)
    _random_weights(layer, rng)
    expected = np.asarray(layer(x, x, use_causal_mask=p.causal))
    weights = [np.asarray(w) for w in layer.weights]
    sizes = Sizes(p, [shape])
    xt = torch.from_numpy(x)
    length = shape[0]
    mask = torch.ones(length, length, dtype=torch.bool).triu(1) if p.causal else None
    if sizes.packed:
        module = nn.MultiheadAttention(shape[-1], p.heads, bias=p.use_bias, batch_first=True)
        count = 6 if p.use_bias else 3
        packed = PackedProjections((shape[-1], p.heads, sizes.key), p.use_bias)
        names = ("in_proj_weight", "in_proj_bias")[: 2 if p.use_bias else 1]
        state = dict(zip(names, packed.to_torch(weights[:count]), strict=True))
        state["out_proj.weight"] = weights[count].reshape(-1, shape[-1]).T
        if p.use_bias:
            state["out_proj.bias"] = weights[count + 1]
        tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
        module.load_state_dict(tensors)
        with torch.no_grad():
            got, _ = module.eval()(xt, xt, xt, need_weights=False, attn_mask=mask)
    else:
        step = 2 if p.use_bias else 1

        def project(j, size):
            kernel = torch.from_numpy(weights[step * j].reshape(shape[-1], -1))
            y = xt @ kernel
            if p.use_bias:
                y = y + torch.from_numpy(weights[2 * j + 1].reshape(-1))
            return y.unflatten(-1, (p.heads, size)).transpose(1, 2)

        q, k, v = project(0, sizes.key), project(1, sizes.key), project(2, sizes.value)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=p.causal)
        out = torch.from_numpy(weights[3 * step].reshape(-1, shape[-1]))
        got = y.transpose(1, 2).flatten(2) @ out
        if p.use_bias:
            got = got + torch.from_numpy(weights[3 * step + 1])
    np.testing.assert_allclose(got.detach().numpy(), expected, atol=1e-4, rtol=1e-4)


def test_the_torch_plan_is_nn_multiheadattention_exactly_where_it_can_be():
    for shape, line in ATTENTION:
        checked = check_text(f"input {dims(shape)}\n{line}\n", "t.spec")
        plan = plan_model(checked, "torch")[1]
        packed = Sizes(checked.params[1], [shape]).packed
        assert (plan.module.cls == "nn.MultiheadAttention") == packed, line


@pytest.mark.parametrize(
    ("query", "source", "line"),
    [((7, 12), (9, 20), "attention 3"), ((4, 8), (6, 5), "attention 2 3 value_dim=7")],
)
def test_cross_attention_counts(query, source, line):
    """A second input (the key/value source) is already taken into account by the rules."""
    _, p = layer_info(f"input {dims(query)}", line)
    kind = lookup("attention")
    inputs = [query, source]
    out = kind.output_shape(p, inputs)
    layer = _keras_attention(p, query[-1])
    q, kv = keras.Input(shape=query), keras.Input(shape=source)
    y = layer(q, kv)
    assert out == tuple(y.shape[1:]) == query
    assert kind.param_count(p, inputs, out) == (layer.count_params(), 0)
    sizes = Sizes(p, inputs)
    heads, key, value = sizes.heads, sizes.key, sizes.value
    projections = (
        query[0] * query[1] * heads * key
        + source[0] * source[1] * heads * (key + value)
        + query[0] * heads * value * query[1]
    )
    products = heads * query[0] * source[0] * (key + value)
    assert kind.macs(p, inputs, out) == projections + products


def test_attention_rejects_heads_that_do_not_split_the_channels():
    checked = check_text("input 7x12\nattention 5\n", "t.spec")
    assert [d.code for d in checked.diagnostics] == ["E0304"]
    assert checked.diagnostics[0].primary_span.column == 11
    fixed = check_text("input 7x12\nattention 5 4\n", "t.spec")
    assert fixed.ok
    image = check_text("input 7x7x3\nattention 3\n", "t.spec")
    assert [d.code for d in image.diagnostics] == ["E0302"]


# -- per-token dense, tokens ----------------------------------------------------------------


@pytest.mark.parametrize(("shape", "line"), [((7, 12), "dense 5 relu"), ((3, 4), "fc 6")])
def test_dense_on_every_token(shape, line):
    info, p = layer_info(f"input {dims(shape)}", line)
    out, counts = keras_counts(keras, shape, keras.layers.Dense(p.units))
    assert info.shape == out and (info.trainable, info.non_trainable) == counts
    module = nn.Linear(shape[-1], p.units)
    assert module(torch.zeros(2, *shape)).shape[1:] == info.shape
    assert info.torch_params == sum(t.numel() for t in module.parameters())
    assert info.macs == shape[0] * shape[1] * p.units


@pytest.mark.parametrize(
    ("shape", "line"),
    [((32, 32, 3), "patch_embedding 8 16"), ((10, 9, 2), "patch_embedding 3x2 4 use_bias=false")],
)
def test_patch_embedding(shape, line):
    info, p = layer_info(f"input {dims(shape)}", line)
    conv = keras.layers.Conv2D(p.dim, p.patch, strides=p.patch, use_bias=p.use_bias)
    grid, counts = keras_counts(keras, shape, conv)
    assert info.shape == (grid[0] * grid[1], p.dim)
    assert (info.trainable, info.non_trainable) == counts
    module = nn.Conv2d(shape[-1], p.dim, p.patch, stride=p.patch, bias=p.use_bias)
    tokens = module(torch.zeros(2, shape[-1], *shape[:2])).flatten(2).transpose(1, 2)
    assert tuple(tokens.shape[1:]) == info.shape
    assert info.torch_params == sum(t.numel() for t in module.parameters())


def test_token_kinds_counts_and_shapes():
    checked = check_text("input 5x6\nclass_token\nposition_embedding\ntoken_pool cls\n", "t.spec")
    assert checked.ok
    infos = [checked.infos[i] for i in range(1, 4)]
    assert [i.shape for i in infos] == [(6, 6), (6, 6), (6,)]
    assert [i.trainable for i in infos] == [6, 36, 0]
    mean = check_text("input 5x6\ntoken_pool mean\n", "t.spec")
    assert mean.infos[1].shape == (6,)


def test_transformer_pieces_compute_the_same_in_both_backends(tmp_path):
    """Class token, position embedding, causal attention with the emitted module, LayerScale
    on tokens and both token poolings: ported Keras weights give Keras's outputs."""
    text = """
    input 6x8
    dense 8 gelu
    class_token
    position_embedding
    attention 2 3 causal
    layer_scale
    branch concat { token_pool cls } { token_pool mean }
    """
    x = np.random.default_rng(4).normal(size=(3, 6, 8)).astype("float32")
    expected, got = both_backends(keras, torch, text, x, tmp_path)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
