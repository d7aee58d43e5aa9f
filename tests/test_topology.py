"""Reuse and topology at check level: blocks, repeat, residual, branch, if, and their errors.

These run the front end only (no framework import); the generic oracle test builds the specs
under ``specs/`` in Keras and PyTorch and compares the same shapes and counts there.
"""

from __future__ import annotations

import textwrap

import pytest

from specc.cli import main
from specc.compiler import check_text
from specc.diagnostics import render_all


def checked(text: str):
    """Check a dedented spec and return the CheckedModel."""
    return check_text(textwrap.dedent(text).strip() + "\n", "t.spec")


def ok(text: str):
    """Check a spec that must be valid; fail with the rendered diagnostics otherwise."""
    result = checked(text)
    assert result.ok, render_all(result.source, result.diagnostics)
    return result


def errors(text: str):
    """The error diagnostics of a spec that must be invalid."""
    result = checked(text)
    assert not result.ok
    return [d for d in result.diagnostics if d.severity == "error"]


def node_by_kind(result, kind: str) -> list:
    """The nodes of one kind, in graph order."""
    return [n for n in result.model.nodes if n.kind == kind]


def shape_of(result, node) -> tuple[int, ...]:
    """The inferred shape of a node."""
    return result.infos[node.index].shape


def labels(diag) -> dict[int, str]:
    """Line number -> label message, for every label of a diagnostic."""
    return {label.span.line: label.message for label in diag.labels}


# -- residual ---------------------------------------------------------------------------------


def test_identity_residual_adds_body_and_input():
    result = ok(
        """
        input 8x8x16
        residual {
          conv 16 3x3 padding=same relu
          conv 16 3x3 padding=same
        }
        relu
        """
    )
    (add,) = node_by_kind(result, "add")
    assert shape_of(result, add) == (8, 8, 16)
    body_end, shortcut = add.inputs
    assert result.model.nodes[body_end].kind == "conv2d"
    assert shortcut == 0  # the input itself
    assert add.role == "residual_identity"
    assert not result.model.is_sequential


def test_residual_with_projection_shortcut():
    result = ok(
        """
        input 8x8x16
        residual { conv 32 3x3 stride=2 padding=same } shortcut { conv 32 1x1 stride=2 }
        """
    )
    (add,) = node_by_kind(result, "add")
    assert shape_of(result, add) == (4, 4, 32)
    assert [result.model.nodes[i].kind for i in add.inputs] == ["conv2d", "conv2d"]
    assert add.role == "residual"


def test_residual_mismatch_names_both_shapes_and_suggests_projection():
    (diag,) = errors(
        """
        input 8x8x16
        residual {
          conv 32 3x3 stride=2 padding=same
        }
        """
    )
    assert "4x4x32" in diag.message and "8x8x16" in diag.message
    assert diag.code == "E0501"
    assert any("shortcut { conv 32 1x1 stride=2 }" in h for h in diag.help)
    lines = labels(diag)
    assert "4x4x32" in lines[3]  # the body's last layer
    assert "8x8x16" in lines[1]  # the shortcut's input


def test_residual_mismatch_in_channels_only_suggests_plain_projection():
    (diag,) = errors("input 8x8x16\nresidual { conv 24 1x1 }\n")
    assert any("`shortcut { conv 24 1x1 }`" in h for h in diag.help)


def test_empty_residual_body_is_an_error():
    (diag,) = errors("input 8x8x16\nresidual { }\n")
    assert "empty" in diag.message


# -- blocks -----------------------------------------------------------------------------------

BLOCK = """
block unit(f, k=3) {
  conv f (k) relu
}
"""


def test_block_parameters_defaults_and_arithmetic():
    result = ok(
        """
        block bottleneck(f, expand=4) {
          conv f 1x1 use_bias=false
          conv f 3x3 padding=same
          conv (f*expand) 1x1
        }
        input 8x8x16
        bottleneck(8)
        bottleneck(4, expand=2)
        """
    )
    convs = node_by_kind(result, "conv2d")
    assert [shape_of(result, c)[-1] for c in convs] == [8, 8, 32, 4, 4, 8]
    assert result.infos[convs[0].index].trainable == 16 * 8  # no bias
    assert all(c.trace for c in convs)  # every node remembers its call site


def test_error_inside_block_points_at_block_line_and_call_site():
    (diag,) = errors(
        """
        block shrink(k) {
          conv 8 (k) relu
        }
        input 8x8x3
        shrink(3)
        shrink(7)
        """
    )
    assert diag.code == "E0301"
    assert diag.primary_span.line == 2  # the conv line inside the block
    lines = labels(diag)
    assert lines[6] == "in this block instance"  # the call that does not fit
    assert 5 not in lines  # the first instance is fine


def test_nested_block_error_names_every_call_site():
    (diag,) = errors(
        """
        block inner(k) { conv 4 (k) }
        block outer(k) { inner(k) }
        input 5x5x1
        outer(9)
        """
    )
    lines = labels(diag)
    assert diag.primary_span.line == 1
    assert lines[2] == "in this block instance" and lines[4] == "in this block instance"


def test_mistake_in_block_body_is_reported_once_per_spec():
    diags = errors(
        """
        block unit(f) { cnov f 3x3 }
        input 8x8x3
        unit(4)
        unit(8)
        unit(16)
        """
    )
    assert len(diags) == 1
    assert "did you mean `conv`" in diags[0].help[0]


@pytest.mark.parametrize(
    ("call", "fragment", "line_text"),
    [
        ("unit(8, 3, 4)", "takes 2 argument(s), got 3", "4"),
        ("unit(8, kk=3)", "has no parameter `kk`", "kk"),
        ("unit(k=3)", "needs a value for `f`", "unit"),
        ("unit(8, f=4)", "`f` is given twice", "f=4"),
        ("unti(8)", "unknown block `unti`", "unti"),
    ],
)
def test_block_argument_errors(call, fragment, line_text):
    result = checked(BLOCK + "input 8x8x3\n" + call + "\n")
    diags = [d for d in result.diagnostics if d.severity == "error"]
    assert len(diags) == 1, [d.message for d in diags]
    diag = diags[0]
    assert fragment in diag.message
    span = diag.primary_span
    assert span.line == 5
    assert line_text in result.source.text_of(span)


def test_unknown_block_parameter_suggests_the_close_one():
    (diag,) = errors(BLOCK + "input 8x8x3\nunit(8, kk=3)\n")
    assert diag.help == ("did you mean `k`?",)


def test_recursive_block_is_an_error():
    (diag,) = errors("block loop(f) { loop(f) }\ninput 4\nloop(2)\n")
    assert "uses itself" in diag.message


def test_expression_on_unknown_name_is_located():
    (diag,) = errors("block b(f) { dense (g*2) }\ninput 4\nb(2)\n")
    assert "`g`" in diag.message
    assert diag.primary_span.line == 1


# -- repeat -----------------------------------------------------------------------------------


def test_repeat_stacks_copies_in_numbered_iterations():
    result = ok("input 16\nrepeat 3 { dense 8 relu\n dropout 0.1 }\ndense 2\n")
    dense = node_by_kind(result, "dense")
    names = ["repeat_1.0.dense_1", "repeat_1.1.dense_1", "repeat_1.2.dense_1", "dense_1"]
    assert [n.name for n in dense] == names
    assert [result.infos[n.index].trainable for n in dense] == [136, 72, 72, 18]
    assert result.model.is_sequential


def test_repeat_count_from_block_parameter_and_expression():
    result = ok(
        """
        block stage(f, n) {
          repeat n { conv f 3x3 padding=same }
          repeat (n - 1) { relu }
        }
        input 8x8x3
        stage(4, 3)
        stage(8, 1)
        """
    )
    assert len(node_by_kind(result, "conv2d")) == 4
    assert len(node_by_kind(result, "activation")) == 2  # (3 - 1) + (1 - 1)


@pytest.mark.parametrize("count", ["-1", "2.5", "abc"])
def test_repeat_needs_a_whole_count(count):
    (diag,) = errors(f"input 4\nrepeat ({count}) {{ dense 2 }}\n")
    assert diag.code == "E0213"


# -- if / else --------------------------------------------------------------------------------

DOWN = """
block down(f, stride=1) {
  residual {
    conv f 3x3 stride=stride padding=same
  } shortcut {
    if (stride > 1) { conv f 1x1 stride=stride } else { }
  }
}
input 8x8x4
"""


def test_if_projects_the_shortcut_only_when_strided():
    result = ok(DOWN + "down(4)\ndown(8, stride=2)\n")
    first, second = node_by_kind(result, "add")
    assert first.role == "residual_identity" and second.role == "residual"
    assert shape_of(result, second) == (4, 4, 8)
    assert len(node_by_kind(result, "conv2d")) == 3


def test_if_false_shortcut_mismatch_is_the_identity_error():
    (diag,) = errors(DOWN + "down(8)\n")
    assert "identity shortcut" in diag.message
    assert any("conv 8 1x1" in h for h in diag.help)


@pytest.mark.parametrize(
    ("cond", "taken"),
    [("(n == 2)", "dense"), ("(n != 2)", "relu"), ("(n >= 3)", "relu"), ("(n < 3)", "dense")],
)
def test_if_else_comparisons(cond, taken):
    result = ok(f"block b(n) {{ if {cond} {{ dense 3 }} else {{ relu }} }}\ninput 4\nb(2)\n")
    assert result.model.nodes[-1].kind == ("dense" if taken == "dense" else "activation")


def test_if_on_boolean_parameter_without_parentheses():
    result = ok("block b(flag) { if flag { dense 3 } }\ninput 4\nb(true)\nb(false)\n")
    assert len(node_by_kind(result, "dense")) == 1


def test_if_condition_must_be_true_or_false():
    (diag,) = errors("block b(n) { if (n + 1) { dense 3 } }\ninput 4\nb(2)\n")
    assert diag.code == "E0218" and "not true or false" in diag.message


def test_if_with_unknown_clause():
    (diag,) = errors("input 4\nif (1 > 0) { dense 3 } otherwise { relu }\n")
    assert "`otherwise`" in diag.message


# -- branch -----------------------------------------------------------------------------------


def test_branch_concat_sums_channels():
    result = ok(
        """
        input 16x16x8
        branch concat {
          conv 16 1x1
        } {
          conv 8 1x1
          conv 24 3x3 padding=same
        } {
          maxpool 3 stride=1 padding=same
        }
        """
    )
    (concat,) = node_by_kind(result, "concat")
    assert shape_of(result, concat) == (16, 16, 48)
    assert len(concat.inputs) == 3


def test_branch_add_mismatch():
    (diag,) = errors("input 8x8x3\nbranch add { conv 4 1x1 } { conv 8 1x1 }\n")
    assert diag.code == "E0501" and "8x8x4" in diag.message and "8x8x8" in diag.message


def test_branch_concat_spatial_mismatch():
    (diag,) = errors("input 8x8x3\nbranch concat { conv 4 3x3 } { conv 8 1x1 }\n")
    assert diag.code == "E0502"


# -- the report -------------------------------------------------------------------------------


def test_check_prints_inputs_column_for_graphs(tmp_path, capsys):
    spec = tmp_path / "g.spec"
    spec.write_text("input 8x8x4\nresidual { conv 4 3x3 padding=same }\nrelu\n")
    assert main(["check", str(spec)]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.strip().startswith("layer "))
    assert header.split()[-1] == "inputs"
    add_row = next(line for line in out.splitlines() if line.strip().startswith("add_1"))
    assert add_row.split()[-2:] == ["conv2d_1,", "input_1"]


def test_check_omits_inputs_column_for_stacks(tmp_path, capsys):
    spec = tmp_path / "s.spec"
    spec.write_text("input 8\ndense 4\n")
    assert main(["check", str(spec)]) == 0
    assert "inputs" not in capsys.readouterr().out.split("\n", 1)[1]


# -- layers read by name, several inputs and outputs -------------------------------------------


def test_named_skips_without_nesting():
    result = ok(
        """
        input 16x16x3
        conv 8 3x3 padding=same name=enc1
        maxpool 2
        conv 16 3x3 padding=same
        upsample 2
        concat enc1
        """
    )
    (concat,) = node_by_kind(result, "concat")
    assert [result.model.nodes[i].name for i in concat.inputs] == ["upsampling2d_1", "enc1"]
    assert shape_of(result, concat) == (16, 16, 24)
    assert result.model.references == (1,)


def test_from_starts_a_path_at_a_named_layer_and_output_names_the_heads():
    result = ok(
        """
        input 8 name=features
        dense 4 relu name=shared
        dense 3 softmax name=label
        dense 1 from=shared name=score
        output label score
        """
    )
    names = [result.model.nodes[i].name for i in result.model.outputs]
    assert names == ["label", "score"]
    score = next(n for n in result.model.nodes if n.name == "score")
    assert result.model.nodes[score.inputs[0]].name == "shared"


def test_several_inputs_meet_in_a_merge():
    result = ok("input 8 name=a\ndense 4 name=x\ninput 4 name=b\nadd x\n")
    assert [result.model.nodes[i].name for i in result.model.inputs] == ["a", "b"]
    (add,) = node_by_kind(result, "add")
    assert [result.model.nodes[i].name for i in add.inputs] == ["b", "x"]


def test_a_second_unnamed_input_is_refused():
    (diag,) = errors("input 8\ndense 4\ninput 4\n")
    assert diag.code == "E0210"


def test_a_block_reads_only_its_own_names():
    (diag,) = errors(
        """
        block head() { dense 2 from=trunk }
        input 8
        dense 4 name=trunk
        head()
        """
    )
    assert diag.code == "E0219" and "`trunk`" in diag.message
    assert diag.primary_span.line == 1


def test_a_layer_nothing_reads_is_a_warning():
    result = checked("input 8\ndense 4 name=a\ndense 3\ndense 2 from=a\n")
    assert result.ok
    (warning,) = result.diagnostics
    assert (warning.code, warning.severity) == ("W0501", "warning")
    assert "dense_1" in warning.message
