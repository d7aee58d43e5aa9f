"""Names that follow the spec's scopes are real: ``specs/resnet18.spec``,
``specs/resnet50.spec``, ``specs/resnext50.spec``, ``specs/mobilenet_v3_large.spec``,
``specs/efficientnet_b0.spec`` and ``specs/vit_b16.spec`` name their parts as torchvision does
(``conv1``, ``layer2.0.downsample.0``, ``features.4.block.2.fc1``,
``encoder.layers.encoder_layer_3.self_attention.in_proj_weight``, ``fc``), so the emitted
PyTorch modules *are* torchvision's models as far as their weights go: the same state_dict keys
and shapes (so the same parameters and BatchNorm statistics), torchvision's weights load with
``strict=True``, and the two compute the same outputs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from specc.compiler import check_text
from tests import frameworks
from tests.emitted import ROOT, load_emitted

# spec -> (torchvision's constructor, whether torchvision's BatchNorm differs from Keras's)
MODELS = {
    "resnet18": ("resnet18", True),
    "resnet50": ("resnet50", True),
    "resnext50": ("resnext50_32x4d", True),
    "mobilenet_v3_large": ("mobilenet_v3_large", False),
    "efficientnet_b0": ("efficientnet_b0", True),
    "vit_b16": ("vit_b_16", False),
}


@pytest.fixture(scope="module")
def torchvision():
    """torchvision (see tests/frameworks.py)."""
    return frameworks.torchvision()


def _spec(name: str, torchvision_batchnorm: bool) -> str:
    text = (ROOT / "specs" / f"{name}.spec").read_text(encoding="utf-8")
    if torchvision_batchnorm:  # torchvision's BatchNorm: momentum 0.1 (Keras's 0.9), eps 1e-5
        text = re.sub(r"\bbn\b", "bn momentum=0.9 epsilon=0.00001", text)
    return text


def _emitted(name: str, tmp_path: Path, torchvision_batchnorm: bool = False):
    checked = check_text(_spec(name, torchvision_batchnorm), f"specs/{name}.spec")
    assert checked.ok, [d.message for d in checked.diagnostics]
    return load_emitted(checked, "torch", tmp_path).build_model()


@pytest.mark.parametrize("name", MODELS)
def test_state_dict_has_torchvision_keys_and_shapes(name, torchvision, tmp_path):
    ours = _emitted(name, tmp_path).state_dict()
    theirs = getattr(torchvision.models, MODELS[name][0])().state_dict()
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        assert tuple(ours[key].shape) == tuple(value.shape), key


@pytest.mark.parametrize("name", MODELS)
def test_torchvision_weights_load_and_give_the_same_outputs(name, torchvision, tmp_path):
    torch.manual_seed(0)
    constructor, batchnorm = MODELS[name]
    reference = getattr(torchvision.models, constructor)().eval()
    with torch.no_grad():  # BatchNorm statistics that are not the identity
        for module in reference.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    model = _emitted(name, tmp_path, torchvision_batchnorm=batchnorm).eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expected = reference(x)
        got = model(x, logits=True)
        probabilities = model(x)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    if not torch.equal(probabilities, got):  # the spec ends in a softmax (torchvision: logits)
        torch.testing.assert_close(probabilities, torch.softmax(expected, dim=1), atol=1e-6, rtol=0)
