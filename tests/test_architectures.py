"""The new layer kinds and the classic architectures, against real Keras and real PyTorch.

Each new kind's shape and parameter rules are compared with the framework layers built
directly (Keras for the IR's counts, torch for ``param_count_torch``), and the classic specs
with ``keras.applications``.  The generic oracle test (``tests/test_oracle.py``) also builds
every spec under ``specs/`` from emitted code; this file checks the registry rules on their
own, including the awkward cases (transposed-conv sizes, LSTM biases) that the specs exercise
only once.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import torch

from specc.compiler import check_file, check_text
from specc.layers.base import same_padding
from specc.layers.conv_extra import transpose_geometry

nn = torch.nn
F = torch.nn.functional

SPECS = Path(__file__).resolve().parent.parent / "specs"


def layer_info(input_line: str, layer_line: str):
    """Check ``input ...`` + one layer; return (LayerInfo, params) of that layer."""
    result = check_text(f"{input_line}\n{layer_line}\n", "t.spec")
    assert result.ok, [d.message for d in result.diagnostics]
    return result.infos[1], result.params[1]


def keras_counts(shape, layer, dtype="float32"):
    """Output shape (without batch) and (trainable, non-trainable) counts of a Keras layer."""
    model = keras.Sequential([keras.Input(shape=shape, dtype=dtype), layer])
    trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights)
    return tuple(model.output_shape[1:]), (trainable, frozen)


def torch_run(module, fn, shape, dtype=torch.float32, high=10):
    """Apply ``fn(module, x)`` to a batch of 2 in the IR's layout; (out shape, parameters)."""
    x = torch.randint(0, high, (2, *shape)) if dtype == torch.long else torch.randn(2, *shape)
    with torch.no_grad():
        y = fn(module, x)
    return tuple(y.shape[1:]), sum(p.numel() for p in module.parameters())


def nhwc(fn):
    """Wrap an NCHW forward so that it takes and returns the IR's channels-last layout."""
    return lambda m, x: fn(m, x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def tf_same_pad(x, kernel, stride, dilation=(1, 1)):
    """TensorFlow's ``same`` padding on an NCHW tensor (the extra pixel at bottom/right)."""
    (t, b), (left, r) = (
        same_padding(x.shape[2], kernel[0], stride[0], dilation[0]),
        same_padding(x.shape[3], kernel[1], stride[1], dilation[1]),
    )
    return F.pad(x, (left, r, t, b))


# -- depthwise and separable convolutions -----------------------------------------------------

DEPTHWISE = [
    ((9, 9, 3), "depthwise_conv2d 3x3 depth_multiplier=2 stride=2 padding=same relu6"),
    ((10, 7, 4), "depthwise_conv2d 3x2 dilation=2 use_bias=false"),
    ((6, 6, 5), "dwconv 1x1"),
]


@pytest.mark.parametrize(("shape", "line"), DEPTHWISE)
def test_depthwise_conv2d(shape, line):
    info, p = layer_info("input " + "x".join(map(str, shape)), line)
    layer = keras.layers.DepthwiseConv2D(
        p.kernel,
        strides=p.stride,
        padding=p.padding,
        depth_multiplier=p.depth_multiplier,
        dilation_rate=p.dilation,
        use_bias=p.use_bias,
    )
    out, counts = keras_counts(shape, layer)
    assert info.shape == out
    assert (info.trainable, info.non_trainable) == counts

    c = shape[-1]
    conv = nn.Conv2d(
        c,
        c * p.depth_multiplier,
        p.kernel,
        stride=p.stride,
        dilation=p.dilation,
        groups=c,
        bias=p.use_bias,
    )

    def forward(m, x):
        if p.padding == "same":
            x = tf_same_pad(x, p.kernel, p.stride, p.dilation)
        return m(x)

    out, n = torch_run(conv, nhwc(forward), shape)
    assert info.shape == out
    assert info.torch_params == n == info.trainable


SEPARABLE = [
    ((9, 9, 3), "separable_conv2d 8 3x3 depth_multiplier=2 stride=2 padding=same"),
    ((8, 8, 5), "sepconv 4 5x5 use_bias=false relu"),
    ((12, 10, 2), "separable_conv2d 3 3x3 dilation=2 padding=same"),
]


@pytest.mark.parametrize(("shape", "line"), SEPARABLE)
def test_separable_conv2d(shape, line):
    info, p = layer_info("input " + "x".join(map(str, shape)), line)
    layer = keras.layers.SeparableConv2D(
        p.filters,
        p.kernel,
        strides=p.stride,
        padding=p.padding,
        depth_multiplier=p.depth_multiplier,
        dilation_rate=p.dilation,
        use_bias=p.use_bias,
    )
    out, counts = keras_counts(shape, layer)
    assert info.shape == out
    assert (info.trainable, info.non_trainable) == counts

    c, mid = shape[-1], shape[-1] * p.depth_multiplier
    module = nn.Sequential(
        nn.Conv2d(c, mid, p.kernel, stride=p.stride, dilation=p.dilation, groups=c, bias=False),
        nn.Conv2d(mid, p.filters, 1, bias=p.use_bias),
    )

    def forward(m, x):
        if p.padding == "same":
            x = tf_same_pad(x, p.kernel, p.stride, p.dilation)
        return m(x)

    out, n = torch_run(module, nhwc(forward), shape)
    assert info.shape == out
    assert info.torch_params == n


# -- transposed convolution -------------------------------------------------------------------

TRANSPOSE = [
    ((5, 5, 3), "conv2d_transpose 4 3x3 stride=2 padding=same"),
    ((5, 5, 3), "conv2d_transpose 4 3x3 stride=2"),
    ((5, 4, 3), "conv2d_transpose 4 4x4 stride=2 padding=same"),
    ((5, 4, 2), "conv2d_transpose 2 2x2 stride=3"),
    ((5, 4, 2), "conv2d_transpose 2 1x1 stride=2 padding=same"),
    ((6, 3, 2), "deconv 3 5x5 padding=same use_bias=false"),
    ((7, 6, 2), "conv2d_transpose 3 3x4 stride=2x3 padding=same"),
    ((7, 6, 2), "conv2d_transpose 3 5x2 stride=2x3"),
]


def _torch_transpose(p, shape):
    c = shape[-1]
    geometry = [
        transpose_geometry(n, k, s, p.padding)
        for n, k, s in zip(shape[:2], p.kernel, p.stride, strict=True)
    ]
    module = nn.ConvTranspose2d(
        c,
        p.filters,
        p.kernel,
        stride=p.stride,
        output_padding=tuple(g[0] for g in geometry),
        bias=p.use_bias,
    )

    def forward(m, x):
        y = m(x)
        (_, h0, hn), (_, w0, wn) = geometry
        return y[:, :, h0 : h0 + hn, w0 : w0 + wn]

    return module, forward


@pytest.mark.parametrize(("shape", "line"), TRANSPOSE)
def test_conv2d_transpose_sizes(shape, line):
    info, p = layer_info("input " + "x".join(map(str, shape)), line)
    layer = keras.layers.Conv2DTranspose(
        p.filters, p.kernel, strides=p.stride, padding=p.padding, use_bias=p.use_bias
    )
    out, counts = keras_counts(shape, layer)
    assert info.shape == out
    assert (info.trainable, info.non_trainable) == counts
    module, forward = _torch_transpose(p, shape)
    out, n = torch_run(module, nhwc(forward), shape)
    assert info.shape == out
    assert info.torch_params == n


@pytest.mark.parametrize(("shape", "line"), [TRANSPOSE[0], TRANSPOSE[2], TRANSPOSE[3]])
def test_conv2d_transpose_crop_is_the_same_function(shape, line):
    """With Keras's kernel ported, torch plus the crop computes what Keras computes."""
    _, p = layer_info("input " + "x".join(map(str, shape)), line)
    layer = keras.layers.Conv2DTranspose(
        p.filters, p.kernel, strides=p.stride, padding=p.padding, bias_initializer="uniform"
    )
    x = np.random.default_rng(0).standard_normal((2, *shape)).astype("float32")
    expected = np.asarray(layer(x))
    kernel, bias = (np.asarray(w) for w in layer.weights)  # (kh, kw, out, in), (out,)
    module, forward = _torch_transpose(p, shape)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))
        module.bias.copy_(torch.from_numpy(bias))
        got = nhwc(forward)(module, torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


# -- upsampling, layer norm, embedding --------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "line"), [((3, 4, 2), "upsampling2d 2"), ((2, 5, 1), "upsample 3x2 nearest")]
)
def test_upsampling2d(shape, line):
    info, p = layer_info("input " + "x".join(map(str, shape)), line)
    out, counts = keras_counts(shape, keras.layers.UpSampling2D(p.size, interpolation="nearest"))
    assert info.shape == out and (info.trainable, info.non_trainable) == counts == (0, 0)
    module = nn.Upsample(scale_factor=p.size, mode="nearest")
    assert torch_run(module, nhwc(lambda m, x: m(x)), shape) == (info.shape, 0)


@pytest.mark.parametrize(
    ("shape", "line"),
    [
        ((4, 5, 6), "layernorm"),
        ((7, 3), "layernorm epsilon=0.00001 center=false"),
        ((10,), "ln scale=false"),
    ],
)
def test_layernorm(shape, line):
    info, p = layer_info("input " + "x".join(map(str, shape)), line)
    layer = keras.layers.LayerNormalization(epsilon=p.epsilon, center=p.center, scale=p.scale)
    out, counts = keras_counts(shape, layer)
    assert layer.epsilon == p.epsilon
    assert info.shape == out and (info.trainable, info.non_trainable) == counts
    # torch's LayerNorm has one switch for both γ and β: count them as separate parameters
    c = shape[-1]
    module = nn.ParameterList(
        [nn.Parameter(torch.ones(c))] * p.scale + [nn.Parameter(torch.zeros(c))] * p.center
    )

    def forward(m, x):
        weight = m[0] if p.scale else None
        bias = m[len(m) - 1] if p.center else None
        return F.layer_norm(x, (c,), weight, bias, eps=p.epsilon)

    assert torch_run(module, forward, shape) == (info.shape, info.torch_params)


def test_layernorm_default_epsilon_is_keras():
    _, p = layer_info("input 4", "layernorm")
    assert p.epsilon == keras.layers.LayerNormalization().epsilon == 1e-3


def test_embedding():
    info, _p = layer_info("input 12 dtype=int", "embedding 50 8")
    out, counts = keras_counts((12,), keras.layers.Embedding(50, 8), dtype="int32")
    assert info.shape == out and (info.trainable, info.non_trainable) == counts
    module = nn.Embedding(50, 8)
    assert torch_run(module, lambda m, x: m(x), (12,), torch.long, 50) == (
        info.shape,
        info.torch_params,
    )


# -- recurrent layers -------------------------------------------------------------------------

RECURRENT = [
    ("lstm 16", (7, 5)),
    ("lstm 4 return_sequences", (3, 9)),
    ("gru 6", (7, 5)),
    ("gru 6 return_sequences=true", (4, 2)),
]


@pytest.mark.parametrize(("line", "shape"), RECURRENT)
def test_recurrent_counts_and_shapes(line, shape):
    info, p = layer_info("input " + "x".join(map(str, shape)), line)
    cls = keras.layers.LSTM if line.startswith("lstm") else keras.layers.GRU
    out, counts = keras_counts(shape, cls(p.units, return_sequences=p.return_sequences))
    assert info.shape == out and (info.trainable, info.non_trainable) == counts

    module = (nn.LSTM if cls is keras.layers.LSTM else nn.GRU)(shape[-1], p.units, batch_first=True)

    def forward(m, x):
        seq, _ = m(x)
        return seq if p.return_sequences else seq[:, -1]

    out, n = torch_run(module, forward, shape)
    assert info.shape == out
    assert info.torch_params == n
    if cls is keras.layers.LSTM:  # torch has bias_ih and bias_hh; Keras one bias
        assert n - info.trainable == 4 * p.units
    else:
        assert n == info.trainable


def _port_recurrent(layer, module, gate_order):
    kernel, recurrent, bias = (np.asarray(w) for w in layer.weights)
    units = recurrent.shape[0]

    def reorder(a):  # gate blocks along the last axis, Keras order -> torch order
        blocks = np.split(a, len(gate_order), axis=-1)
        return np.concatenate([blocks[i] for i in gate_order], axis=-1)

    biases = bias if bias.ndim == 2 else np.stack([bias, np.zeros_like(bias)])
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.from_numpy(reorder(kernel).T.copy()))
        module.weight_hh_l0.copy_(torch.from_numpy(reorder(recurrent).T.copy()))
        module.bias_ih_l0.copy_(torch.from_numpy(reorder(biases[0])))
        module.bias_hh_l0.copy_(torch.from_numpy(reorder(biases[1])))
    return units


@pytest.mark.parametrize(
    ("kind", "gate_order"),
    [("lstm", (0, 1, 2, 3)), ("gru", (1, 0, 2))],  # LSTM i,f,c,o = i,f,g,o; GRU z,r,h -> r,z,n
)
def test_recurrent_same_function_after_porting(kind, gate_order):
    """Keras's LSTM/GRU defaults are torch's function, given the documented weight mapping."""
    x = np.random.default_rng(1).standard_normal((2, 6, 3)).astype("float32")
    cls = keras.layers.LSTM if kind == "lstm" else keras.layers.GRU
    layer = cls(5, return_sequences=True, bias_initializer="uniform")
    expected = np.asarray(layer(x))
    module = (nn.LSTM if kind == "lstm" else nn.GRU)(3, 5, batch_first=True)
    _port_recurrent(layer, module, gate_order)
    with torch.no_grad():
        got = module(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_relu6_is_keras_and_torch_relu6():
    x = np.linspace(-3, 9, 25, dtype="float32")
    expected = np.asarray(keras.activations.get("relu6")(x))
    np.testing.assert_allclose(F.relu6(torch.from_numpy(x)).numpy(), expected)
    info, p = layer_info("input 4", "relu6")
    assert p.fn == "relu6" and info.shape == (4,)


# -- the classic architectures ----------------------------------------------------------------

# Published counts (DESIGN.md's table): documentation of intent; the oracles are below and in
# the generic oracle test.
PUBLISHED = {
    "vgg16": (138_357_544, 0),
    "resnet18": (11_689_512, None),  # torchvision: trainable only
    "resnet50": (25_557_032, None),  # torchvision: trainable only
    "mobilenet_v2": (3_504_872, 3_538_984 - 3_504_872),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_counts(name):
    result = check_file(SPECS / f"{name}.spec")
    assert result.ok
    totals = result.totals()
    trainable, frozen = PUBLISHED[name]
    assert totals["trainable_params"] == trainable
    if frozen is not None:
        assert totals["non_trainable_params"] == frozen
    torch_total = sum(info.torch_params for info in result.infos.values())
    assert torch_total == trainable  # BatchNorm statistics are buffers in torch


WEIGHTED = {
    "conv2d": "Conv2D",
    "depthwise_conv2d": "DepthwiseConv2D",
    "dense": "Dense",
    "maxpool2d": "MaxPooling2D",
    "globalavgpool": "GlobalAveragePooling2D",
}


def _spec_layers(result):
    return [
        (WEIGHTED[node.kind], result.infos[node.index].shape, result.infos[node.index].params)
        for node in result.model.nodes
        if node.kind in WEIGHTED
    ]


def _keras_layers(model):
    return [
        (type(layer).__name__, tuple(layer.output.shape[1:]), layer.count_params())
        for layer in model.layers
        if type(layer).__name__ in WEIGHTED.values()
    ]


@pytest.mark.parametrize(("name", "factory"), [("vgg16", "VGG16"), ("mobilenet_v2", "MobileNetV2")])
def test_matches_keras_applications(name, factory):
    """Layer by layer, the spec is keras.applications' model: kinds, shapes and counts."""
    result = check_file(SPECS / f"{name}.spec")
    model = getattr(keras.applications, factory)(weights=None)
    assert _spec_layers(result) == _keras_layers(model)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    totals = result.totals()
    assert (totals["params"], totals["trainable_params"]) == (model.count_params(), trainable)
    keras.backend.clear_session()
