"""Graphs read by name compute the same function in both emitted frameworks.

Each spec reads a layer other than the previous one: the input itself (`from=image`), a gate
multiplied by name, a second input after other layers; or a loop whose first iteration reads
the input, which the others must not (Keras writes the loop once for every iteration). Built
from the emitted code, with the Keras model's random weights ported to PyTorch, both give the
same outputs on the same batch (and the shapes the check inferred: reading the wrong tensor
fails to build or to match).
"""

from __future__ import annotations

import pytest

from specc.compiler import check_text
from tests.emitted import assert_same_function

GRAPHS = {
    "loop_right_after_the_input": """
input 4x4x3
repeat 2 {
  conv 3 3x3 padding=same relu
}
globalavgpool
dense 2
""",
    "loop_after_an_input_read_by_name": """
input 4x4x3 name=image
repeat 3 {
  conv 3 3x3 padding=same relu
}
add image
flatten
dense 2
""",
    "input_read_by_name": """
input 8x8x4 name=image
gap keepdims
conv 4 1x1 sigmoid name=gate
conv 4 3x3 padding=same from=image
multiply gate
flatten
dense 3
""",
    "input_read_after_a_stack": """
input 12 name=features
dense 8 relu
dense 8 relu
concat features
dense 2
""",
    "second_input_read_late": """
input 6x6x2 name=image
conv 3 3x3 relu
flatten name=seen
input 5 name=meta
dense 4 relu from=seen
concat meta
dense 2 name=head
dense 1 from=meta name=side
output head side
""",
}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_keras_and_torch_agree_on_graphs_read_by_name(name, tmp_path):
    checked = check_text(GRAPHS[name], f"{name}.spec")
    assert checked.ok, [d.message for d in checked.diagnostics]
    assert_same_function(checked, tmp_path)
