"""``specs/resnet50.spec`` is torchvision's ResNet-50, layer for layer and parameter for parameter.

torchvision is the oracle: its ``resnet50(weights=None)`` built on the CPU torch.  Its compiled
operators do not load on the CPU build of torch, so the two op schemas its Python code
registers against are defined first (the models themselves need none of its C++ code).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.emitted import ROOT, check_spec


@pytest.fixture(scope="module")
def torchvision_resnet50() -> nn.Module:
    try:
        library = torch.library.Library("torchvision", "DEF")
        library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        library.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")
    except RuntimeError:  # defined already in this process
        pass
    from torchvision.models import resnet50

    return resnet50(weights=None)


def test_resnet50_has_torchvisions_parameters_and_statistics(torchvision_resnet50):
    checked = check_spec(ROOT / "specs/resnet50.spec")
    totals = checked.totals()
    model = torchvision_resnet50
    assert totals["trainable_params"] == sum(p.numel() for p in model.parameters())
    assert totals["torch_params"] == sum(p.numel() for p in model.parameters())
    statistics = sum(
        b.numel()
        for name, b in model.named_buffers()
        if name.endswith(("running_mean", "running_var"))
    )
    assert totals["non_trainable_params"] == statistics


def test_resnet50_has_torchvisions_layers_in_order(torchvision_resnet50):
    checked = check_spec(ROOT / "specs/resnet50.spec")
    nodes = checked.model.nodes
    spec_convs = []
    for node in nodes:
        if node.kind != "conv2d":
            continue
        p = checked.params[node.index]
        before = nodes[node.inputs[0]]
        pad = checked.params[before.index].padding if before.kind == "zeropad2d" else (0, 0)
        spec_convs.append((p.filters, p.kernel, p.stride, tuple(pad), p.use_bias))
    torch_convs = [
        (m.out_channels, m.kernel_size, m.stride, m.padding, m.bias is not None)
        for m in torchvision_resnet50.modules()
        if isinstance(m, nn.Conv2d)
    ]
    assert spec_convs == torch_convs
    norms = [n for n in nodes if n.kind == "batchnorm"]
    assert len(norms) == sum(isinstance(m, nn.BatchNorm2d) for m in torchvision_resnet50.modules())
    dense = [checked.params[n.index].units for n in nodes if n.kind == "dense"]
    assert dense == [torchvision_resnet50.fc.out_features]
