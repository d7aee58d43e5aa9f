"""Emitted code keeps the spec's structure: a block is one class (PyTorch) and one function
(Keras) however often it is called; ``if`` stays an ``if``; ``repeat`` and ``sequential`` are
stages; names follow the scopes, the same in both frameworks.  And, whatever the structure, the
two emitted models compute the same function: random specs made of blocks, ``if``, ``repeat``,
``sequential``, ``residual`` and ``branch``, and random specs whose blocks and loops see images,
vectors and sequences in turn, are built in both frameworks, Keras's weights are ported into
PyTorch, and the outputs compared.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specc.compiler import check_text
from specc.emit import emit_source
from specc.port_weights import keras_to_torch
from tests.emitted import ROOT, assert_same_function, check_spec, load_emitted


def _source(spec: str, backend: str) -> str:
    return emit_source(check_spec(ROOT / "specs" / spec), backend)


def test_a_block_is_one_class_and_one_function():
    torch_code = _source("resnet18.spec", "torch")
    keras_code = _source("resnet18.spec", "keras")
    assert len(re.findall(r"^class Basic\(nn\.Module\):", torch_code, re.MULTILINE)) == 1
    assert len(re.findall(r"\bBasic\(", torch_code)) == 1 + 8  # the class and eight instances
    assert len(re.findall(r"^def basic\(", keras_code, re.MULTILINE)) == 1
    assert len(re.findall(r"= basic\(", keras_code)) == 8


def test_an_if_in_a_block_is_an_if_in_its_class_and_function():
    torch_code = _source("resnet18.spec", "torch")
    keras_code = _source("resnet18.spec", "keras")
    assert "        if stride > 1:\n            self.downsample = nn.Sequential(" in torch_code
    assert "        if self.stride > 1:\n            shortcut = self.downsample(shortcut)" in (
        torch_code
    )
    assert "    if stride > 1:\n" in keras_code


def test_repeat_and_sequential_are_stages():
    torch_code = _source("mobilenet_v2.spec", "torch")
    assert re.search(r"nn\.Sequential\(\*\(\w+\(.*\) for _ in range\(n - 1\)\)\)", torch_code)
    keras_code = _source("mobilenet_v2.spec", "keras")
    assert "for i in range(n - 1):" in keras_code
    assert 'name=f"{name}.repeat_1.{i}.bottleneck_1"' in keras_code


def test_a_zero_padding_before_a_conv_is_its_padding_in_pytorch():
    torch_code = _source("resnet18.spec", "torch")
    assert "nn.ZeroPad2d" not in torch_code.split("class Resnet18")[0]  # inside Basic
    assert "self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)" in (
        torch_code
    )


def test_layouts_are_not_permuted_back_and_forth():
    torch_code = _source("gru_tagger.spec", "torch")
    forward = torch_code.split("def forward")[1]
    assert "movedim" not in forward and "permute" not in forward


@pytest.mark.parametrize("spec", ["resnet18.spec", "mobilenet_v2.spec", "tiny_inception.spec"])
def test_keras_layers_and_torch_modules_have_the_spec_names(spec, tmp_path):
    import keras

    checked = check_spec(ROOT / "specs" / spec)
    weighted = {n.name for n in checked.model.nodes if checked.infos[n.index].params}
    keras_model = load_emitted(checked, "keras", tmp_path).build_model()
    torch_model = load_emitted(checked, "torch", tmp_path).build_model()
    assert {layer.name for layer in keras_model.layers if layer.weights} == weighted
    owners = {key.rsplit(".", 1)[0] for key in torch_model.state_dict()}
    assert {o for o in owners if o in weighted or not o.rsplit(".", 1)[-1].isdigit()} >= weighted
    keras.backend.clear_session()


# -- random structures: the same function in both frameworks -------------------------------


@st.composite
def structured_specs(draw) -> str:
    """A random, valid spec of blocks with ``if``, ``residual``, ``repeat``, ``sequential``
    and ``branch``, on an 8x8x3 image."""
    lines = ["model random", "block unit(f, s=1, deep=false) {"]
    lines.append("  residual {")
    lines.append("    conv f 3x3 stride=s padding=same" + draw(st.sampled_from(["", " relu"])))
    if draw(st.booleans()):
        lines.append("    bn")
    lines.append(
        "    if deep { conv f 1x1; relu } else { "
        + draw(st.sampled_from(["tanh", "sigmoid", "dropout 0.1"]))
        + " }"
    )
    lines.append("  } shortcut { conv f 1x1 stride=s }")
    lines.append("}")
    lines.append("block pair(f, n) {")
    lines.append("  repeat n { conv f 1x1 relu }")
    lines.append(
        "  branch "
        + draw(st.sampled_from(["concat", "add"]))
        + " { conv f 1x1 } { conv f 3x3 padding=same }"
    )
    lines.append("}")
    lines.append("input 8x8x3")
    for _ in range(draw(st.integers(1, 4))):
        f = draw(st.sampled_from([2, 4, 6]))
        choice = draw(st.integers(0, 3))
        if choice == 0:
            s = draw(st.sampled_from([1, 2]))
            deep = draw(st.booleans())
            lines.append(f"unit({f}, s={s}, deep={'true' if deep else 'false'})")
        elif choice == 1:
            lines.append(f"pair({f}, {draw(st.integers(0, 2))})")
        elif choice == 2:
            count = draw(st.integers(1, 3))
            lines.append(f"repeat {count} {{ unit({f}) }}")
        else:
            lines.append(f"sequential s{len(lines)} {{ unit({f}, s=2); repeat 1 {{ unit({f}) }} }}")
    lines += ["globalavgpool", "dense 3 softmax"]
    return "\n".join(lines) + "\n"


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=structured_specs())
def test_random_structures_compute_the_same_function_in_both_frameworks(text, tmp_path):
    import keras
    import torch

    checked = check_text(text, "random.spec")
    assert checked.ok, [d.message for d in checked.diagnostics]
    keras_model = load_emitted(checked, "keras", tmp_path).build_model()
    torch_model = load_emitted(checked, "torch", tmp_path).build_model().eval()
    totals = checked.totals()
    assert keras_model.count_params() == totals["params"]
    assert sum(p.numel() for p in torch_model.parameters()) == totals["torch_params"]
    rng = np.random.default_rng(0)
    for layer in keras_model.layers:
        layer.set_weights(
            [
                (np.abs(w) + 0.5 if "variance" in v.path else w)
                for w, v in (
                    (rng.normal(scale=0.3, size=v.shape).astype("float32"), v)
                    for v in layer.weights
                )
            ]
        )
    keras_to_torch(checked, keras_model, torch_model)
    x = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    expected = np.asarray(keras_model(x, training=False))
    with torch.no_grad():
        got = torch_model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-4, rtol=1e-4)
    assert math.isclose(float(got.sum()), 2.0, rel_tol=1e-4)  # probabilities per sample
    keras.backend.clear_session()


# -- random rank changes: images, vectors and sequences through blocks, loops and names -------


@st.composite
def rank_changing_specs(draw) -> str:
    """A random, valid spec whose blocks and loops see images, vectors and sequences (PyTorch
    moves channels for some ranks and not others), with the input read by name where it fits
    and layers straight inside loops."""
    lines = [
        "model ranks",
        "block squeeze(c) {",
        "  conv c 1x1 relu",
        "  globalavgpool",
        "  reshape 1x1x(c)",
        "}",
        "block mix(d) {",
        "  dense d relu",
        "}",
        "input 4x4x3 name=image",
    ]
    shape: tuple[int, ...] = (4, 4, 3)
    for _ in range(draw(st.integers(1, 6))):
        c = draw(st.sampled_from([2, 4]))
        if len(shape) == 3:
            choice = draw(st.integers(0, 5))
            if choice == 0:
                lines.append(f"conv {c} 3x3 padding=same relu")
                shape = (*shape[:2], c)
            elif choice == 1:
                lines.append(f"repeat {draw(st.integers(1, 3))} {{ conv {c} 3x3 padding=same }}")
                shape = (*shape[:2], c)
            elif choice == 2:
                lines.append(f"squeeze({c})")
                shape = (1, 1, c)
            elif choice == 3:
                lines.append("flatten")
                shape = (shape[0] * shape[1] * shape[2],)
            elif choice == 4:
                lines.append(f"reshape {shape[0] * shape[1]}x{shape[2]}")
                shape = (shape[0] * shape[1], shape[2])
            elif shape == (4, 4, 3):
                lines.append("add image")
        elif len(shape) == 2:
            choice = draw(st.integers(0, 2))
            if choice == 0:
                lines.append(f"mix({c})")
                shape = (shape[0], c)
            elif choice == 1:
                lines.append(f"conv1d {c} 1")
                shape = (shape[0], c)
            else:
                lines.append("flatten")
                shape = (shape[0] * shape[1],)
        else:
            choice = draw(st.integers(0, 2))
            if choice == 0:
                lines.append(f"mix({4 * c})")
                shape = (4 * c,)
            elif choice == 1 and shape[0] % 4 == 0:
                lines.append(f"reshape 2x2x{shape[0] // 4}")
                shape = (2, 2, shape[0] // 4)
            else:
                lines.append(f"dense {4 * c}")
                shape = (4 * c,)
    if len(shape) > 1:
        lines.append("flatten")
    lines.append("dense 3 softmax")
    return "\n".join(lines) + "\n"


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=rank_changing_specs())
def test_random_rank_changes_compute_the_same_function_in_both_frameworks(text, tmp_path):
    import keras

    checked = check_text(text, "ranks.spec")
    assert checked.ok, [d.message for d in checked.diagnostics]
    assert_same_function(checked, tmp_path, batch=2)
    keras.backend.clear_session()
