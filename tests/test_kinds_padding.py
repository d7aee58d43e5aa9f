"""Explicit (PyTorch's) padding on convolutions and pooling, asymmetric zero padding,
cropping and adaptive pooling, against Keras's and PyTorch's own layers."""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest
import torch

from specc.compiler import check_text
from tests.emitted import ROOT
from tests.kind_checks import both_backends, dims, keras_counts, layer_info

nn = torch.nn

EXPLICIT = [
    ((15, 15, 3), "conv 4 3x3 stride=2 padding=1", lambda p, c: nn.Conv2d(c, 4, 3, 2, 1)),
    ((9, 12, 3), "conv 4 5x3 padding=2x1", lambda p, c: nn.Conv2d(c, 4, (5, 3), 1, (2, 1))),
    ((9, 12, 2), "conv 4 3x3 padding=0", lambda p, c: nn.Conv2d(c, 4, 3, 1, 0)),
    ((13, 5), "conv1d 6 4 stride=3 padding=2", lambda p, c: nn.Conv1d(c, 6, 4, 3, 2)),
    ((10, 10, 4), "dwconv 3x3 stride=2 padding=1", lambda p, c: nn.Conv2d(c, c, 3, 2, 1, groups=c)),
    ((11, 11, 2), "maxpool 3 stride=2 padding=1", lambda p, c: nn.MaxPool2d(3, 2, 1)),
    ((10, 7, 2), "avgpool 3x2 stride=2 padding=1", lambda p, c: nn.AvgPool2d((3, 2), 2, 1)),
    ((9, 3), "maxpool1d 2 padding=1", lambda p, c: nn.MaxPool1d(2, 2, 1)),
]


@pytest.mark.parametrize(("shape", "line", "module"), EXPLICIT, ids=[e[1] for e in EXPLICIT])
def test_explicit_padding_sizes_are_pytorch_sizes(shape, line, module):
    info, p = layer_info(f"input {dims(shape)}", line)
    m = module(p, shape[-1])
    y = m(torch.zeros(2, shape[-1], *shape[:-1]))
    assert info.shape == (*y.shape[2:], y.shape[1])


@pytest.mark.parametrize(("kernel", "padding"), [(3, 1), (3, 2), (2, 1), (4, 2), (4, 3), (5, 2)])
def test_pooling_padding_limit_is_where_pytorch_refuses(kernel, padding):
    checked = check_text(f"input 12x12x2\nmaxpool {kernel} padding={padding}\n", "t.spec")
    assert checked.ok
    limited = [d.code for d in checked.diagnostics] == ["W0601"]
    try:
        nn.MaxPool2d(kernel, padding=padding)(torch.zeros(1, 2, 12, 12))
        refused = False
    except RuntimeError:
        refused = True
    assert limited == refused


def test_explicit_padding_in_both_backends(tmp_path):
    """Max pooling's padding is never the maximum (the input is negative), average pooling
    counts its zeros, convolutions pad zeros: the same in Keras (padding layers before a valid
    window, or ``same`` where it is the same) and in PyTorch (``padding=``)."""
    text = """
    input 9x8x3
    conv 4 3x3 stride=2 padding=1
    conv 4 3x3 padding=1
    dwconv 3x3 stride=2 padding=1x0
    sepconv 5 3x3 padding=1
    maxpool 3 stride=1 padding=1
    maxpool 2 stride=2 padding=1
    avgpool 3 stride=1 padding=1
    """
    x = -np.abs(np.random.default_rng(3).normal(size=(2, 9, 8, 3))).astype("float32")
    expected, got = both_backends(keras, torch, text, x, tmp_path)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
    pooled = "input 5x6x2\nmaxpool 3 stride=2 padding=1\navgpool 2 stride=1 padding=1"
    x = -1 - np.abs(np.random.default_rng(4).normal(size=(2, 5, 6, 2))).astype("float32")
    expected, got = both_backends(keras, torch, pooled, x, tmp_path)
    assert expected.max() < 0  # the -inf padding was never taken, zeros were averaged in
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


SIDES = [
    ("zeropad 0x1", ((0, 0), (1, 1))),
    ("zeropad 1 top=0 right=3", ((0, 1), (1, 3))),
    ("zeropad 0 bottom=2", ((0, 2), (0, 0))),
]


@pytest.mark.parametrize(("line", "pads"), SIDES)
def test_zero_padding_any_amounts(line, pads):
    info, p = layer_info("input 5x6x2", line)
    assert p.pads == pads
    out, _ = keras_counts(keras, (5, 6, 2), keras.layers.ZeroPadding2D(pads))
    assert info.shape == out
    (t, b), (left, r) = pads
    y = nn.ZeroPad2d((left, r, t, b))(torch.zeros(1, 2, 5, 6))
    assert info.shape == (*y.shape[2:], 2)


@pytest.mark.parametrize(
    ("line", "crops"),
    [("cropping2d 1", ((1, 1), (1, 1))), ("cropping2d 0x2 top=3", ((3, 0), (2, 2)))],
)
def test_cropping(line, crops):
    info, p = layer_info("input 7x8x2", line)
    assert p.pads == crops
    out, _ = keras_counts(keras, (7, 8, 2), keras.layers.Cropping2D(crops))
    assert info.shape == out


def test_asymmetric_padding_and_cropping_in_both_backends(tmp_path):
    text = "input 5x6x2\nzeropad 1 top=0 right=2\ncropping2d 0 left=1 bottom=2\nconv 3 2x2"
    x = np.random.default_rng(6).normal(size=(2, 5, 6, 2)).astype("float32")
    expected, got = both_backends(keras, torch, text, x, tmp_path)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


# -- adaptive pooling --------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["avg", "max"])
@pytest.mark.parametrize(("shape", "size"), [((14, 14, 3), (7, 7)), ((12, 9, 2), (4, 1))])
def test_adaptive_pooling_where_sizes_divide(op, shape, size):
    """Keras's plain pooling with window n/o is PyTorch's adaptive pooling, value for value."""
    info, _ = layer_info(f"input {dims(shape)}", f"adaptive_{op}pool {dims(size)}")
    assert info.shape == (*size, shape[-1])
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype("float32")
    window = (shape[0] // size[0], shape[1] // size[1])
    layer = (keras.layers.AveragePooling2D if op == "avg" else keras.layers.MaxPooling2D)(window)
    expected = np.asarray(layer(x))
    module = nn.AdaptiveAvgPool2d(size) if op == "avg" else nn.AdaptiveMaxPool2d(size)
    got = module(torch.from_numpy(np.moveaxis(x, -1, 1))).numpy()
    np.testing.assert_allclose(np.moveaxis(got, 1, -1), expected, atol=1e-6)


def test_adaptive_pooling_elsewhere_is_pytorch_only(tmp_path):
    checked = check_text("input 10x9x2\nadaptive_avgpool 4x4\n", "t.spec")
    assert checked.ok and checked.infos[1].shape == (4, 4, 2)
    y = nn.AdaptiveAvgPool2d((4, 4))(torch.zeros(1, 2, 10, 9))
    assert tuple(y.shape[2:]) == (4, 4)
    assert [(d.code, d.primary_span.column) for d in checked.diagnostics] == [("W0601", 18)]
    spec = tmp_path / "adaptive.spec"
    spec.write_text("input 10x9x2\nadaptive_avgpool 4x4\n", encoding="utf-8")
    keras_run, torch_run = _emit(spec, "keras"), _emit(spec, "torch")
    assert keras_run.returncode == 1 and "E0601" in keras_run.stderr
    assert "Traceback" not in keras_run.stderr and not keras_run.stdout
    assert torch_run.returncode == 0 and "nn.AdaptiveAvgPool2d(4)" in torch_run.stdout


def _emit(spec, backend):
    return subprocess.run(
        [sys.executable, "-m", "specc", "emit", str(spec), "--backend", backend],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
