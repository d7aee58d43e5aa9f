"""Computed sizes (``reshape 1x1x(c)``) and ``and``/``or``/``not`` in conditions.

Python is the oracle of the logic: a condition evaluates as the Python expression specc
writes for it (``to_python``), which is also what the emitted PyTorch class runs.
"""

from __future__ import annotations

import itertools

import pytest

from specc.compiler import check_text
from specc.exprs import Bound, evaluate, to_python
from specc.formatter import format_source
from specc.source import SourceFile
from specc.syntax import parse


def _value(expr_text: str):
    """The Value of ``reshape EXPR`` (its first argument)."""
    nodes, problems = parse(SourceFile("t.spec", f"reshape {expr_text}\n"))
    assert not problems, problems
    return nodes[0].args[0].value


def _shapes(text: str) -> dict[str, tuple[int, ...]]:
    checked = check_text(text, "t.spec")
    assert checked.ok, [d.message for d in checked.diagnostics]
    return {n.name: checked.infos[n.index].shape for n in checked.model.nodes}


SE = """input 8x8x{c}
block se(c, rows=1) {{
  branch multiply {{}} {{ gap; reshape (rows)x1x(c); conv (c // 4) 1x1 relu; conv c 1x1 sigmoid }}
}}
se({c})
se(c={c})
"""


@pytest.mark.parametrize("c", [8, 12, 32])
def test_a_computed_size_follows_each_instance(c):
    shapes = _shapes(SE.format(c=c))
    assert shapes["se_1.reshape_1"] == (1, 1, c)
    assert shapes["se_2.reshape_1"] == (1, 1, c)
    assert shapes["se_1.conv2d_1"] == (1, 1, c // 4)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("1x1x(c)", ["number", "number", "name"]),
        ("(h // 2)x(w)x3", ["expr", "name", "number"]),
        ("2x(c)x4x5", ["number", "name", "dims"]),
    ],
)
def test_a_size_with_computed_axes_is_one_argument(text, parts):
    value = _value(text)
    assert value.kind == "shape" and value.text == text
    assert [p.kind for p in value.value] == parts


def test_an_x_between_words_is_still_a_name():
    nodes, problems = parse(SourceFile("t.spec", "dense 10 x1 name=x2\n"))
    assert not problems
    assert [a.value.kind for a in nodes[0].args] == ["number", "name", "name"]


@pytest.mark.parametrize(
    ("axis", "message"),
    [
        ("(c / 3)", "is 2.6666666666666665"),
        ("(c - 9)", "is -1"),
        ("(c > 2)", "is True"),
    ],
)
def test_an_axis_that_is_not_a_count_is_located(axis, message):
    text = f"input 8\nblock b(c) {{ reshape 1x{axis} }}\nb(8)\n"
    checked = check_text(text, "t.spec")
    (diag,) = [d for d in checked.diagnostics if d.code == "E0216"]
    assert message in diag.message
    assert (diag.primary_span.line, diag.primary_span.column) == (2, 24)


def test_a_computed_size_has_at_most_eight_axes():
    checked = check_text("input 8\nblock b(c) { reshape 1x1x1x1x1x1x1x1x(c) }\nb(8)\n", "t.spec")
    assert [d.code for d in checked.diagnostics] == ["E0110"]


@pytest.mark.parametrize(
    "text",
    [
        "(a and b)",
        "(a or b and c)",
        "((a or b) and c)",
        "(not a or b)",
        "(not (a and b))",
        "(n > 1 and not a)",
        "(n // 2 == 1 or n < 0 and b)",
        "(not not a)",
    ],
)
def test_conditions_mean_what_python_means(text):
    value = _value(text)
    python = to_python(value, {"a": "a", "b": "b", "c": "c", "n": "n"})
    for a, b, c, n in itertools.product([True, False], [True, False], [True, False], [-1, 2, 3]):
        env = {k: Bound(v, "number", str(v)) for k, v in dict(a=a, b=b, c=c, n=n).items()}
        got = evaluate(value, env, pytest.fail)
        assert got == eval(python, {}, dict(a=a, b=b, c=c, n=n)), (text, python, a, b, c, n)


@pytest.mark.parametrize(
    ("condition", "bad"),
    [("(flag and 1)", "1"), ("(not f)", "f"), ("((f > 1) + 2)", "f > 1")],
)
def test_logic_on_a_number_is_located(condition, bad):
    text = f"input 8\nblock b(f, flag=true) {{ if {condition} {{ relu }} }}\nb(2)\n"
    checked = check_text(text, "t.spec")
    (diag,) = [d for d in checked.diagnostics if d.code == "E0216"]
    assert f"`{bad}`" in diag.message
    line, span = text.splitlines()[1], diag.primary_span
    assert span.line == 2 and line[span.column - 1 :].startswith(bad.split()[0])


def test_conditions_choose_layers_per_instance():
    text = """input 4
block b(f, skip=false) {
  if (f > 2 and not skip) { dense f relu } else { dense 1 }
  if (skip or f == 1) { dense 3 }
}
b(4)
b(3, skip=true)
b(1)
"""
    assert list(_shapes(text).values()) == [(4,), (4,), (1,), (3,), (1,), (3,)]


def test_fmt_keeps_computed_sizes_and_logic_and_is_idempotent():
    text = (
        "input 8x8x4\nblock b( c,g=true ) {\n  reshape  1x(c//2)x( c )\n"
        "  if (g and not(c<2 or c==3)) { relu }\n}\nb(4)\n"
    )
    once = format_source(text)
    assert "reshape 1x(c // 2)x(c)" in once
    assert "if (g and not (c < 2 or c == 3)) {" in once
    assert format_source(once) == once
