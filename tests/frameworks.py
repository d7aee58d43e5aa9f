"""Importing the frameworks' extras in tests: torchvision on the CPU build of torch."""

from __future__ import annotations

from functools import cache


@cache
def torchvision():
    """torchvision, importable on the CPU build of torch.

    The wheel's C++ ops do not load on this torch; the model code needs none of them, but
    importing torchvision registers Python kernels for two of them, whose schemas must exist
    first.  Done once per process (a second definition would be refused).
    """
    import torch

    library = torch.library.Library("torchvision", "DEF")
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    import torchvision as module

    module._specc_test_schemas = library  # keep the definitions alive
    return module
