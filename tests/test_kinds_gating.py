"""Grouped convolutions, the multiply merge, the new activations, Rescaling, Normalization
and LayerScale against Keras's and PyTorch's own layers and functions, and the emitted
PyTorch initialisation against Keras's Glorot fans."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from keras.src.initializers.random_initializers import compute_fans

from specc.compiler import check_text
from specc.layers import ShapeError, lookup
from specc.layers.activations import ALIASES, TABLE, torch_call
from tests.emitted import load_emitted
from tests.kind_checks import both_backends, checked_spec, dims, keras_counts, layer_info

nn = torch.nn
F = torch.nn.functional

GROUPED = [
    ((9, 9, 8), "conv 12 3x3 groups=4 padding=same", "Conv2D"),
    ((9, 9, 6), "conv 6 3x3 groups=6 stride=2 use_bias=false", "Conv2D"),
    ((11, 8), "conv1d 4 3 groups=2", "Conv1D"),
]


@pytest.mark.parametrize(("shape", "line", "cls"), GROUPED)
def test_grouped_convolutions(shape, line, cls):
    info, p = layer_info(f"input {dims(shape)}", line)
    layer = getattr(keras.layers, cls)(
        p.filters,
        p.kernel,
        strides=p.stride,
        padding=p.padding,
        groups=p.groups,
        use_bias=p.use_bias,
    )
    out, counts = keras_counts(keras, shape, layer)
    assert info.shape == out
    assert (info.trainable, info.non_trainable) == counts
    module = getattr(nn, f"Conv{len(shape) - 1}d")(
        shape[-1], p.filters, p.kernel, stride=p.stride, groups=p.groups, bias=p.use_bias
    )
    assert info.torch_params == sum(t.numel() for t in module.parameters())


def test_groups_must_divide_channels_and_filters():
    for line in ("conv 8 3x3 groups=3", "conv 9 3x3 groups=2"):
        checked = check_text(f"input 8x8x6\n{line}\n", "t.spec")
        assert [d.code for d in checked.diagnostics] == ["E0304"], line
        with pytest.raises(ValueError):  # Keras refuses them too
            keras.layers.Conv2D(int(line.split()[1]), 3, groups=int(line[-1])).build(
                (None, 8, 8, 6)
            )


def _init_bounds(checked, tmp_path) -> dict[tuple, float]:
    """The uniform bounds the emitted PyTorch model's initialisation draws each weight
    from, by the weight's shape (the last draw for a tensor wins, as it does in the model)."""
    module = load_emitted(checked, "torch", tmp_path)
    bounds: dict[int, tuple[tuple, float]] = {}
    original = nn.init.uniform_

    def spy(tensor, a=0.0, b=1.0, generator=None):
        bounds[id(tensor)] = (tuple(tensor.shape), b)
        return original(tensor, a, b)

    nn.init.uniform_ = spy
    try:
        model = module.build_model()
    finally:
        nn.init.uniform_ = original
    names = {id(t): n for n, t in model.named_parameters()}
    return {names[i]: bound for i, (_, bound) in bounds.items() if i in names}


def _glorot(shape) -> float:
    fan_in, fan_out = compute_fans(shape)
    return float(np.sqrt(6 / (fan_in + fan_out)))


def test_initialisation_uses_keras_glorot_fans(tmp_path):
    """Every conv kernel and attention projection starts uniform within Keras's Glorot bound
    for the Keras kernel of the same layer: grouped and depthwise convs, and attention's
    per-head kernels (whose fans Keras computes from their 3-D shapes)."""
    text = """
    input 8x8x8
    conv 12 3x3 groups=4 name=grouped
    dwconv 3x3 depth_multiplier=2 name=depthwise
    conv 6 1x1 name=pointwise
    reshape 16x6
    attention 2 name=packed
    attention 3 5 value_dim=4 name=heads
    """
    checked = checked_spec(text)
    bounds = _init_bounds(checked, tmp_path)
    keras_model = load_emitted(checked, "keras", tmp_path).build_model()
    expected = {}
    for layer in ("grouped", "depthwise", "pointwise"):
        kernel = keras_model.get_layer(layer).weights[0]
        expected[f"{layer}.weight"] = _glorot(kernel.shape)
    packed = keras_model.get_layer("packed").weights
    expected["packed.in_proj_weight"] = _glorot(packed[0].shape)
    expected["packed.out_proj.weight"] = _glorot(packed[6].shape)
    heads = keras_model.get_layer("heads").weights
    for j, name in enumerate(("query", "key", "value", "output")):
        expected[f"heads.{name}.weight"] = _glorot(heads[2 * j].shape)
    for name, bound in expected.items():
        assert bounds[name] == pytest.approx(bound), name
    keras.backend.clear_session()


# -- activations ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(set(TABLE) - {"softmax"}))
def test_activation_is_keras_activation(name):
    x = np.linspace(-5, 5, 41, dtype="float32")
    expected = np.asarray(keras.activations.get(name)(x))
    got = eval(torch_call(name, "xt"), {"torch": torch, "F": F, "xt": torch.from_numpy(x)})
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize(("alias", "name"), sorted(ALIASES.items()))
def test_activation_aliases(alias, name):
    assert keras.activations.get(alias) is keras.activations.get(name)
    checked = check_text(f"input 4\n{alias}\ndense 3 {alias}\n", "t.spec")
    assert checked.ok
    assert checked.params[1].fn == name and checked.params[2].activation == name


def test_hard_sigmoid_is_relu6_of_x_plus_3_over_6():
    """Keras 3 and PyTorch agree; Keras 2's 0.2·x + 0.5 would differ at x = 2 (0.9 vs 5/6)."""
    x = np.array([-4.0, -3.0, 0.0, 2.0, 3.0, 4.0], dtype="float32")
    expected = np.clip(x + 3, 0, 6) / 6
    np.testing.assert_allclose(np.asarray(keras.activations.hard_sigmoid(x)), expected, 1e-6)
    np.testing.assert_allclose(F.hardsigmoid(torch.from_numpy(x)).numpy(), expected, 1e-6)


# -- multiply ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"), [((6, 5, 4), (1, 1, 4)), ((1, 5, 1), (6, 5, 4)), ((7, 3), (7, 3))]
)
def test_multiply_broadcasts_as_keras(a, b):
    out = lookup("multiply").output_shape(None, [a, b])
    y = keras.layers.Multiply()([keras.Input(shape=a), keras.Input(shape=b)])
    assert out == tuple(y.shape[1:])
    assert out == tuple((torch.zeros(2, *a) * torch.zeros(2, *b)).shape[1:])


def test_multiply_refuses_what_keras_refuses():
    with pytest.raises(ShapeError):
        lookup("multiply").output_shape(None, [(6, 5, 4), (1, 1, 3)])
    with pytest.raises(ValueError):
        keras.layers.Multiply()([keras.Input(shape=(6, 5, 4)), keras.Input(shape=(1, 1, 3))])


def test_squeeze_and_excitation_in_both_backends(tmp_path):
    text = """
    input 5x6x8
    branch multiply {} {
      globalavgpool keepdims
      conv 2 1x1 relu
      conv 8 1x1 hard_sigmoid
    }
    hard_swish
    mish
    """
    x = np.random.default_rng(1).normal(size=(2, 5, 6, 8)).astype("float32")
    expected, got = both_backends(keras, torch, text, x, tmp_path)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


# -- rescaling, normalization, layer scale ----------------------------------------------------


@pytest.mark.parametrize(
    ("line", "layer"),
    [
        ("rescaling 0.5 offset=-1", keras.layers.Rescaling(0.5, offset=-1)),
        ('rescaling "1 2 3"', keras.layers.Rescaling([1.0, 2.0, 3.0])),
        ("normalization", keras.layers.Normalization()),
        (
            'normalization mean="1 2 3" variance="4 4 1"',
            keras.layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 4.0, 1.0]),
        ),
    ],
)
def test_preprocessing_counts_as_keras(line, layer):
    info, _ = layer_info("input 4x5x3", line)
    out, counts = keras_counts(keras, (4, 5, 3), layer)
    assert info.shape == out
    assert (info.trainable, info.non_trainable) == counts


def test_preprocessing_and_layer_scale_in_both_backends(tmp_path):
    text = """
    input 4x5x3
    rescaling "0.5 2 -1" offset="0 1 2"
    normalization mean="0.5 0.25 0" variance="4 1 0.25"
    normalization mean=0.5 variance="4 1 0.25"
    normalization
    layer_scale init=0.3
    reshape 20x3
    layer_scale
    rescaling 3 offset=-0.5
    """
    x = np.random.default_rng(5).normal(size=(2, 4, 5, 3)).astype("float32")
    expected, got = both_backends(keras, torch, text, x, tmp_path)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


def test_per_channel_values_must_fit_the_channels():
    checked = check_text('input 4x4x3\nrescaling "1 2"\n', "t.spec")
    assert [d.code for d in checked.diagnostics] == ["E0304"]
    bad = check_text('input 4x4x3\nrescaling "1 x"\n', "t.spec")
    assert [d.code for d in bad.diagnostics] == ["E0203"]
