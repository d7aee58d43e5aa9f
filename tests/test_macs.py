"""MACs: what specc counts for every spec is what PyTorch's own FLOP counter counts.

``torch.utils.flop_counter.FlopCounterMode`` counts 2 FLOPs per multiply-accumulate of the
matrix products (convolutions, ``mm``/``addmm``, ``bmm``, attention's products) and nothing for
bias adds, normalisation, pooling, activations or merges: the convention specc's MACs follow
(fvcore's and thop's).  The emitted PyTorch model runs on the ``meta`` device (shapes only, no
arithmetic), in training mode with the reference attention kernel, so that every product is
an operation the counter sees.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from tests.emitted import check_spec, load_emitted, spec_paths

SPECS = spec_paths()


def counted_macs(checked, tmp_path) -> int:
    """Half the FLOPs PyTorch counts for one sample through the emitted model."""
    module = load_emitted(checked, "torch", tmp_path)
    with torch.device("meta"):
        model = module.build_model().train()
        inputs = []
        for index in checked.model.inputs:
            shape = checked.infos[index].shape
            if checked.params[index].dtype == "int":
                inputs.append(torch.zeros((1, *shape), dtype=torch.long))
            elif len(shape) > 1:
                inputs.append(torch.randn(1, shape[-1], *shape[:-1]))
            else:
                inputs.append(torch.randn(1, *shape))
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
            model(*inputs)
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_macs_are_what_pytorch_counts(spec, tmp_path):
    checked = check_spec(spec)
    assert checked.totals()["macs"] == counted_macs(checked, tmp_path)
