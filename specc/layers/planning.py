"""What several kinds' plans share: sliding-window padding, constructor keywords, the usual
weight maps and TensorFlow's ``same`` padding in PyTorch.

TensorFlow's ``same`` pads ``max(k − s, 0)``-ish pixels with the odd one at the end, and how many
depends on the input size when the stride is above 1.  PyTorch's ``padding=`` is symmetric and
fixed.  So a window op written with ``padding=same`` becomes, in PyTorch, either the plain module
with ``padding=(k − 1)·d / 2`` (stride 1 and an even total: the same for every input size), or a
``...Same`` subclass (templates/torch/helpers/) that pads as TensorFlow does from the input's
size in ``forward``.  The choice depends only on the layer's parameters, so every instance of a
block makes the same one.
"""

from __future__ import annotations

from typing import Any

from specc.plans import NO_DEFAULT, V, param, size


def kw(key: str, value: V | Any, default: Any = NO_DEFAULT) -> tuple[str, V, Any]:
    """A keyword argument of a constructor: ``key=value`` unless ``value`` is ``default``."""
    return (key, value if isinstance(value, V) else V(value), default)


def static_same(kernel, stride, dilation=None) -> tuple[int, ...] | None:
    """The symmetric padding that equals TensorFlow's ``same`` for every input size, per axis,
    or None when there is none (a stride above 1, or an odd total such as a 2x2 kernel)."""
    dilation = dilation or (1,) * len(kernel)
    pads = []
    for k, s, d in zip(kernel, stride, dilation, strict=True):
        total = (k - 1) * d
        if s != 1 or total % 2:
            return None
        pads.append(total // 2)
    return tuple(pads)


def window_padding(
    p: Any, window: str, generic: bool = False
) -> tuple[tuple[int, ...] | None, bool]:
    """(static padding per axis or None, whether the op needs TensorFlow's dynamic ``same``);
    ``generic`` asks for the dynamic form whenever the padding is ``same``."""
    kernel = getattr(p, window)
    if p.padding != "same":
        return None, False
    if generic:
        return None, True
    pads = static_same(kernel, p.stride, getattr(p, "dilation", None))
    return pads, pads is None


def keras_window_kwargs(p: Any, window: str) -> list[tuple[str, V, Any]]:
    """strides, padding (and dilation_rate) as Keras's window layers take them."""
    out = [
        kw(
            "strides",
            param(p, "stride", size(p.stride)),
            size(getattr(p, window)) if window == "pool" else 1,
        ),
        kw("padding", param(p, "padding"), "valid"),
    ]
    if hasattr(p, "dilation"):
        out.append(kw("dilation_rate", param(p, "dilation", size(p.dilation)), 1))
    return out


def conv_kernel_perm(rank: int) -> tuple[int, ...]:
    """Keras's (k..., in, out) conv kernel to torch's (out, in, k...): the axes permutation."""
    spatial = rank - 1
    return (spatial + 1, spatial, *range(spatial))
