"""A PyTorch class serves every call of a block only where its code is right for each call.

PyTorch sequences and images are channels-first, so the code of some layers depends on the rank
of what they see (a reshape of an image moves its channels last first; one of a vector does
not) and on values that differ between calls (a reshape to ``1x1x(c)``). Built from the
emitted code, with the Keras model's random weights ported to PyTorch, both frameworks give
the same outputs; where one module cannot serve every iteration of a ``repeat``, emit says so
at the line, and Keras (whose loop has no such limit) still emits.
"""

from __future__ import annotations

import pytest

from specc.compiler import check_text
from specc.emit import EmitError, emit_source
from tests.emitted import assert_same_function

SPECS = {
    "computed_size_per_call": """
input 8x8x3
block se(c) {
  conv c 3x3 padding=same relu
  globalavgpool
  reshape 1x1x(c)
  conv c 1x1 sigmoid
}
se(4)
se(6)
flatten
dense 3
""",
    "block_on_a_vector_then_an_image": """
input 32
block r() {
  reshape 4x4x2
  relu
}
r()
r()
conv 3 3x3
flatten
dense 3
""",
    "computed_size_in_a_repeat": """
input 4x4x6
block r(a) {
  repeat 2 {
    reshape (a)x(a)x6
  }
}
r(4)
reshape 2x8x6
r(4)
flatten
dense 3
""",
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_keras_and_torch_agree_when_calls_differ(name, tmp_path):
    checked = check_text(SPECS[name], f"{name}.spec")
    assert checked.ok, [d.message for d in checked.diagnostics]
    assert_same_function(checked, tmp_path)


def test_a_block_called_on_two_ranks_is_two_classes():
    checked = check_text(SPECS["block_on_a_vector_then_an_image"], "ranks.spec")
    source = emit_source(checked, "torch")
    assert "for its calls on vectors" in source and "for its calls on images" in source


def test_a_reshape_to_a_computed_size_is_written_with_the_parameter():
    source = emit_source(check_text(SPECS["computed_size_per_call"], "se.spec"), "torch")
    assert "(1, 1, c)" in source, source


def test_a_repeat_whose_first_iteration_changes_the_rank_is_refused_at_its_line():
    text = "input 32\nrepeat 2 {\n  reshape 4x4x2\n}\nconv 3 3x3\nflatten\ndense 3\n"
    checked = check_text(text, "first.spec")
    assert checked.ok
    with pytest.raises(EmitError, match=r"first\.spec:3:3: .*different ranks.*before the `repeat`"):
        emit_source(checked, "torch")
    assert "layers.Reshape((4, 4, 2)" in emit_source(checked, "keras")
