"""The padding an import writes pads exactly as the model's own padding did."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from specc.bridge.padding import express
from specc.layers.base import same_padding, window_out

axis = st.tuples(
    st.integers(1, 40),  # size
    st.integers(1, 7),  # kernel
    st.integers(1, 4),  # stride
    st.integers(1, 3),  # dilation
    st.integers(0, 6),  # padding before
    st.integers(0, 6),  # padding after
)


@given(st.lists(axis, min_size=1, max_size=2))
def test_the_written_padding_is_the_given_padding(axes):
    sizes, kernel, stride, dilation, before, after = (list(v) for v in zip(*axes, strict=True))
    form = express(sizes, kernel, stride, dilation, before, after)
    if form is None:
        # not even a zeropad: some axis pads unevenly, and not as TensorFlow's same would
        assert any(b != a for b, a in zip(before, after, strict=True))
        return
    zeropad, padding = form
    zs = zeropad or (0,) * len(sizes)
    for n, k, s, d, b, a, z in zip(sizes, kernel, stride, dilation, before, after, zs, strict=True):
        extra = same_padding(n + 2 * z, k, s, d) if padding == "same" else (0, 0)
        assert (z + extra[0], z + extra[1]) == (b, a)
        padded = n + b + a
        if padded >= (k - 1) * d + 1:  # and so the output size is the same too
            assert window_out(n + 2 * z, k, s, padding, d) == window_out(padded, k, s, "valid", d)


def test_tensorflow_same_padding_is_said_as_same():
    # MobileNetV2's stride-2 depthwise conv on 112x112: Keras pads ((0, 1), (0, 1))
    assert express([112, 112], [3, 3], [2, 2], [1, 1], [0, 0], [1, 1]) == (None, "same")
    # torchvision's symmetric padding=1 of a stride-2 3x3 conv is not TensorFlow's
    assert express([56, 56], [3, 3], [2, 2], [1, 1], [1, 1], [1, 1]) == ((1, 1), "valid")
