"""Explicit zero padding before a window op, said the spec's way, exactly.

Frameworks pad with explicit sizes per side (``ZeroPadding2D(((0, 1), (0, 1)))`` before a valid
conv, an ONNX ``Conv`` with ``pads=[0, 0, 1, 1]``).  A spec has two ways to say it: TensorFlow's
``padding=same`` (which pads from the input size, the odd pixel at the end) and a symmetric
``zeropad P`` before a ``padding=valid`` layer.  :func:`express` finds which one (or both: a
``zeropad`` then ``same``) computes exactly the same padding for the size at hand, or says
there is none.
"""

from __future__ import annotations

from collections.abc import Sequence

from specc.layers.base import same_padding


def express(
    sizes: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    before: Sequence[int],
    after: Sequence[int],
) -> tuple[tuple[int, ...] | None, str] | None:
    """How to write zero padding ``before``/``after`` (per spatial axis) in front of a window
    op over inputs of ``sizes``: ``(zeropad per axis or None, "same" | "valid")``, or None when
    neither form pads exactly that way.

    Preference: ``same`` alone, then a symmetric ``zeropad`` with ``valid``, then a
    ``zeropad`` followed by ``same``.
    """
    axes = list(zip(sizes, kernel, stride, dilation, before, after, strict=True))
    if all(b == 0 and a == 0 for *_, b, a in axes):
        return None, "valid"
    if all(same_padding(n, k, s, d) == (b, a) for n, k, s, d, b, a in axes):
        return None, "same"
    if all(b == a for *_, b, a in axes):
        return tuple(b for *_, b, _a in axes), "valid"
    # a symmetric zeropad z per axis, then TensorFlow's same on the padded size
    zs = []
    for n, k, s, d, b, a in axes:
        fits = [
            z for z in range(min(b, a) + 1) if same_padding(n + 2 * z, k, s, d) == (b - z, a - z)
        ]
        if not fits:
            return None
        zs.append(fits[0])
    return tuple(zs), "same"


def zeropad_args(pads: tuple[int, ...]) -> dict:
    """The ``zeropad2d`` parameters for a symmetric padding of (H, W)."""
    return {"padding": tuple(pads)}
