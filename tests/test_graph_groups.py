"""Groups: how :func:`specc.diagram.groups.groups` finds block instances, and how the diagram
draws any nesting of :class:`~specc.diagram.groups.Group` records it is given.

The drawing tests here do not go through ``groups()``: they hand the diagram groups the trace
could never give (around residual and branch bodies, groups of kind ``repeat``), as the IR's
scopes will, and random specs with blocks, repeats, residuals and branches nested at random.
"""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from specc.compiler import check_text
from specc.diagram.groups import Group, groups
from specc.diagram.output import render
from specc.report import to_document
from tests.emitted import check_spec, spec_paths
from tests.graph_svg import (
    check_depth,
    check_groups,
    check_layers_and_edges,
    check_readable,
    parse,
)

NESTED = """
model nested
input 8x8x3
block b(f) { conv f 3x3 padding=same; relu }
block s(f, n) {
  repeat n { conv f 1x1 }
  b(f)
}
repeat 3 { b(4) }
s(8, 2)
repeat (1 + 1) { s(2, 2) }
globalavgpool
dense 2 softmax
"""


def checked_text(text: str):
    checked = check_text(text, "nested.spec")
    assert checked.ok, [d.message for d in checked.diagnostics]
    return checked


def names(checked, group: Group) -> list[str]:
    return [checked.model.nodes[i].name for i in group.nodes]


def test_groups_are_the_scopes_of_the_spec():
    checked = checked_text(NESTED)
    found = groups(checked)
    summary = [(g.path, g.kind, g.parent is not None, len(g.nodes)) for g in found]
    assert summary == [
        ("repeat_1", "repeat", False, 6),
        ("repeat_1.0", "block", True, 2),
        ("repeat_1.1", "block", True, 2),
        ("repeat_1.2", "block", True, 2),
        ("s_1", "block", False, 4),
        ("s_1.repeat_1", "repeat", True, 2),
        ("s_1.b_1", "block", True, 2),
        ("repeat_2", "repeat", False, 8),
        ("repeat_2.0", "block", True, 4),
        ("repeat_2.0.repeat_1", "repeat", True, 2),
        ("repeat_2.0.b_1", "block", True, 2),
        ("repeat_2.1", "block", True, 4),
        ("repeat_2.1.repeat_1", "repeat", True, 2),
        ("repeat_2.1.b_1", "block", True, 2),
    ]
    by_id = {g.id: g for g in found}
    for g in found:
        if g.parent:
            assert set(g.nodes) < set(by_id[g.parent].nodes)
            assert g.path.startswith(by_id[g.parent].path + ".")
    assert names(checked, found[1]) == ["repeat_1.0.conv2d_1", "repeat_1.0.activation_1"]
    assert "b(f=4)" in found[1].label


@pytest.mark.parametrize("spec", spec_paths(), ids=[p.stem for p in spec_paths()])
def test_groups_follow_the_scopes_of_every_spec(spec):
    """Every node is in the group of its innermost scope (none at the model's top level);
    groups hold consecutive nodes, nest properly and never share a node with a sibling."""
    checked = check_spec(spec)
    found = groups(checked)
    innermost = {}
    for g in found:
        assert list(g.nodes) == list(range(g.nodes[0], g.nodes[-1] + 1))
        for i in g.nodes:
            innermost[i] = g
    for node in checked.model.nodes:
        if node.scope:
            assert innermost[node.index].path == checked.model.scopes[node.scope].name
            assert node.name.startswith(innermost[node.index].path + ".")
        else:
            assert node.index not in innermost
    siblings: dict = {}
    for g in found:
        siblings.setdefault(g.parent, []).append(set(g.nodes))
    for sets in siblings.values():
        assert sum(len(s) for s in sets) == len(set().union(*sets))


# -- drawing groups the trace cannot express ------------------------------------------------------


def scope_like_groups(checked) -> list[Group]:
    """Groups as the IR's scopes may give them for specs/tiny_inception.spec: around the
    concat branch and each of its paths, around a residual inside the add branch, a repeat."""
    index = {node.name: node.index for node in checked.model.nodes}

    def span(first: str, last: str) -> tuple[int, ...]:
        return tuple(range(index[first], index[last] + 1))

    return [
        Group("g1", None, "branch concat", "branch", "branch_1", span("conv2d_3", "concat_1")),
        Group("g2", "g1", "path 2", "sequential", "branch_1.1", span("conv2d_4", "conv2d_5")),
        Group("g3", "g1", "path 3", "sequential", "branch_1.2", span("maxpool2d_1", "conv2d_6")),
        Group("g4", None, "branch add", "branch", "branch_2", span("conv2d_7", "add_3")),
        Group("g5", "g4", "residual", "residual", "branch_2.0", span("conv2d_7", "add_2")),
        Group("g6", None, "head", "repeat", "head", span("activation_1", "dropout_1")),
    ]


@pytest.mark.parametrize("direction", ["TB", "LR"])
def test_any_nesting_of_groups_is_drawn_and_closed(direction):
    checked = check_spec(next(p for p in spec_paths() if p.stem == "tiny_inception"))
    found = scope_like_groups(checked)
    doc = to_document(checked)
    drawing = parse(render(checked, "svg", direction=direction, found=found))
    check_layers_and_edges(drawing, doc)
    check_groups(drawing, checked, found)
    check_readable(drawing)
    for depth in (0, 1):
        drawing = parse(render(checked, "svg", depth=depth, direction=direction, found=found))
        check_depth(drawing, checked, doc, found, depth)
        check_readable(drawing)


# -- random structures ------------------------------------------------------------------------

RANDOM_BLOCKS = """
block unit(f=8) { conv f 3x3 padding=same; bn; relu }
block res() { residual { unit(8); conv 8 1x1 } }
block pair(n) { repeat n { unit() } }
"""
LAYERS = ("conv 8 3x3 padding=same", "relu", "bn", "conv 8 1x1 use_bias=false", "dropout 0.1")
CALLS = ("unit()", "unit(8)", "res()", "pair(2)", "pair(1)")


@st.composite
def body(draw, depth: int = 0) -> list[str]:
    """A random sequence of statements that keeps an 8-channel image an 8-channel image."""
    items = []
    for _ in range(draw(st.integers(1, 3))):
        choice = draw(st.integers(0, 6 if depth < 2 else 1))
        if choice == 0:
            items.append(draw(st.sampled_from(LAYERS)))
        elif choice == 1:
            items.append(draw(st.sampled_from(CALLS)))
        elif choice == 2:
            items.append("residual { " + "; ".join(draw(body(depth + 1))) + " }")
        elif choice == 3:
            main, short = draw(body(depth + 1)), draw(body(depth + 1))
            items.append(f"residual {{ {'; '.join(main)} }} shortcut {{ {'; '.join(short)} }}")
        elif choice == 4:
            paths = [draw(body(depth + 1)) for _ in range(draw(st.integers(2, 3)))]
            items.append("branch add " + " ".join("{ " + "; ".join(p) + " }" for p in paths))
        elif choice == 5:
            paths = [draw(body(depth + 1)) for _ in range(2)]
            items.append("branch concat " + " ".join("{ " + "; ".join(p) + " }" for p in paths))
            items.append("conv 8 1x1")
        else:
            count = draw(st.integers(1, 2))
            items.append(f"repeat {count} {{ " + "; ".join(draw(body(depth + 1))) + " }")
    return items


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body(), st.sampled_from(["TB", "LR"]), st.sampled_from([None, 0, 1]))
def test_random_structures_are_drawn_readably(statements, direction, depth):
    text = (
        "model random\ninput 8x8x8\n"
        + RANDOM_BLOCKS
        + "\n".join(statements)
        + "\nglobalavgpool\ndense 3 softmax\n"
    )
    checked = checked_text(text)
    found = groups(checked)
    doc = to_document(checked)
    drawing = parse(render(checked, "svg", depth=depth, direction=direction))
    if depth is None:
        check_layers_and_edges(drawing, doc)
        check_groups(drawing, checked, found)
    else:
        check_depth(drawing, checked, doc, found, depth)
    check_readable(drawing)


def test_labels_with_markup_characters_survive_svg_and_dot():
    text = (
        "model markup\ninput 8x8x3\n"
        'block b(f, tag="") { conv f 1x1 }\n'
        'b(4, tag="<a & b>")\nb(4, tag="\\"q\\"")\nflatten\ndense 2\n'
    )
    checked = checked_text(text)
    expected = ["b_1: b(f=4, tag=<a & b>)", 'b_2: b(f=4, tag="q")']
    assert [g.label for g in groups(checked)] == expected
    drawing = parse(render(checked, "svg"))
    assert [g.attrs["data-label"] for g in drawing.of("group")] == expected
    assert [g.texts[0].text.split(" · ")[0] for g in drawing.of("group")] == expected
    closed = parse(render(checked, "svg", depth=0)).nodes()
    assert [b.texts[0].text for b in closed.values() if "data-group" in b.attrs] == expected
    dot = render(checked, "dot")
    assert 'label="b_1: b(f=4, tag=<a & b>) · ' in dot


def test_a_closed_group_named_like_a_layer_keeps_both_apart():
    text = "model clash\ninput 8\nblock b() { dense 4; relu }\ndense 4 name=b_1\nb()\ndense 2\n"
    checked = checked_text(text)
    (group,) = groups(checked)
    assert group.path == "b_2"  # b_1 is taken by the dense layer
    drawing = parse(render(checked, "svg", depth=0))
    nodes = drawing.nodes()
    assert nodes["b_1"].attrs["data-kind"] == "dense" and "data-group" not in nodes["b_1"].attrs
    (closed,) = [n for n in nodes.values() if "data-group" in n.attrs]
    assert closed.attrs["data-label"] == "b_2: b()"
    check_depth(drawing, checked, to_document(checked), [group], 0)
    check_readable(drawing)
