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

from specc.plans import NO_DEFAULT, Ctor, V, param, size


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
    ``generic`` asks for the dynamic form whenever the padding is ``same``.  Explicit
    padding (``padding=1``) is PyTorch's own."""
    kernel = getattr(p, window)
    if isinstance(p.padding, tuple):
        return (p.padding if any(p.padding) else None), False
    if p.padding != "same":
        return None, False
    if generic:
        return None, True
    pads = static_same(kernel, p.stride, getattr(p, "dilation", None))
    return pads, pads is None


def keras_window_kwargs(
    p: Any, window: str, zeros_count: bool = False, generic: bool = False
) -> list[tuple[str, V, Any]]:
    """strides, padding (and dilation_rate) as Keras's window layers take them; explicit
    padding is ``same`` or ``valid`` after the layers of :func:`keras_explicit_padding`."""
    if isinstance(p.padding, tuple):
        same = keras_same(p, window, zeros_count, generic)
        padding = V("same" if same else "valid")
    else:
        padding = param(p, "padding")
    out = [
        kw(
            "strides",
            param(p, "stride", size(p.stride)),
            size(getattr(p, window)) if window == "pool" else 1,
        ),
        kw("padding", padding, "valid"),
    ]
    if hasattr(p, "dilation"):
        out.append(kw("dilation_rate", param(p, "dilation", size(p.dilation)), 1))
    return out


def conv_kernel_perm(rank: int) -> tuple[int, ...]:
    """Keras's (k..., in, out) conv kernel to torch's (out, in, k...): the axes permutation."""
    spatial = rank - 1
    return (spatial + 1, spatial, *range(spatial))


def keras_same(p: Any, window: str, zeros_count: bool = False, generic: bool = False) -> bool:
    """Whether explicit padding is TensorFlow's ``same`` for every input size (stride 1,
    ``(k − 1)·d / 2`` pixels a side).  Not for average pooling, whose padding (zeros)
    counts in PyTorch's mean (``zeros_count``) where ``same`` leaves it out, nor in the
    ``generic`` form, one for the instances of a block whose strides differ."""
    pads = p.padding
    if not isinstance(pads, tuple) or zeros_count or generic or not any(pads):
        return False
    return static_same(getattr(p, window), p.stride, getattr(p, "dilation", None)) == pads


def keras_explicit_padding(
    p: Any, window: str, value: float = 0.0, zeros_count: bool = False, generic: bool = False
) -> tuple[tuple[str, Ctor], ...]:
    """The layer Keras needs before a window layer with explicit padding (``pad``): a
    ``ZeroPaddingND``, or the ``ConstantPadding`` helper with −inf before max pooling (where
    PyTorch's padding never wins the max); none when ``same`` is the same padding."""
    pads = p.padding
    if not isinstance(pads, tuple) or not any(pads) or keras_same(p, window, zeros_count, generic):
        return ()
    if value == 0.0:
        amount = pads[0] if len(set(pads)) == 1 else pads
        return (("pad", Ctor(f"layers.ZeroPadding{len(pads)}D", (V(amount, "param:padding"),))),)
    both = tuple((q, q) for q in pads)
    return (("pad", Ctor("ConstantPadding", (V(both),), (kw("value", V(value)),))),)
