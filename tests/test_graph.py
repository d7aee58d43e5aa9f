"""``specc graph``'s drawings, read back: every spec under ``specs/``, as ``specc check`` sees it.

The oracle is ``specc check --format json`` (``specc.report.to_document``): every layer is
drawn with its name, kind and parameter count, every edge with the output shape of its source,
merges take their inputs side by side, block instances are labelled groups around their
layers, ``--depth`` closes the groups below it; and the drawing is readable (nothing overlaps,
text fits, wires go around what is not theirs), ResNet-50 included.
"""

from __future__ import annotations

import io
import itertools
import re

import pytest
from PIL import Image

from specc.diagram.graph import build_diagram
from specc.diagram.groups import groups
from specc.diagram.output import render
from specc.report import to_document
from tests.emitted import check_spec, spec_paths
from tests.graph_svg import (
    check_depth,
    check_groups,
    check_layers_and_edges,
    check_readable,
    group_levels,
    parse,
    shape_text,
)

SPECS = spec_paths()
IDS = [p.stem for p in SPECS]


@pytest.fixture(scope="module", params=SPECS, ids=IDS)
def spec(request):
    checked = check_spec(request.param)
    return checked, to_document(checked), groups(checked)


@pytest.mark.parametrize("direction", ["TB", "LR"])
def test_every_layer_and_edge_is_drawn_as_check_reports_it(spec, direction):
    checked, doc, _ = spec
    drawing = parse(render(checked, "svg", direction=direction))
    assert drawing.direction == direction
    check_layers_and_edges(drawing, doc)


def test_merges_take_their_inputs_side_by_side(spec):
    checked, doc, _ = spec
    drawing = parse(render(checked, "svg"))
    nodes = drawing.nodes()
    ends: dict[str, list[tuple[float, float]]] = {}
    for edge in drawing.of("edge"):
        ends.setdefault(edge.attrs["data-target"], []).append(edge.paths[0][-1])
    for layer in doc["layers"]:
        if len(set(layer["inputs"])) < 2:
            continue
        name = layer["name"]
        assert nodes[name].attrs["data-style"] == "merge"
        arrivals = ends[name]
        assert len(arrivals) == len(set(layer["inputs"]))
        xs = sorted(x for x, _ in arrivals)
        assert all(b - a > 5 for a, b in itertools.pairwise(xs)), (
            f"the inputs of {name} arrive on top of each other: {arrivals}"
        )


def test_groups_are_labelled_and_hold_their_layers(spec):
    checked, _, found = spec
    check_groups(parse(render(checked, "svg")), checked, found)


def test_depth_closes_deeper_groups_into_boxes(spec):
    checked, doc, found = spec
    if not found:  # nothing to close: every depth draws the whole model
        assert render(checked, "svg", depth=0) == render(checked, "svg")
        return
    for depth in range(max(group_levels(found).values()) + 1):
        drawing = parse(render(checked, "svg", depth=depth))
        check_depth(drawing, checked, doc, found, depth)
        check_readable(drawing)


@pytest.mark.parametrize("direction", ["TB", "LR"])
def test_the_drawing_is_readable(spec, direction):
    checked, _, _ = spec
    check_readable(parse(render(checked, "svg", direction=direction)))


def test_png_decodes_at_the_drawings_size(spec):
    checked, _, _ = spec
    drawing = parse(render(checked, "svg", depth=1))
    png = render(checked, "png", depth=1)
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG"
    across, along = image.width / drawing.width, image.height / drawing.height
    assert 0.5 <= across <= 2.01 and abs(across - along) < 0.01  # the drawing, scaled evenly
    assert len(image.convert("L").getcolors(1 << 16)) > 8  # more than a blank page


def _dot_statements(text: str) -> list[str]:
    """DOT text split into statements, strings kept whole; braces and brackets balanced."""
    depth = {"{": 0, "[": 0}
    closing = {"}": "{", "]": "["}
    tokens, end = [], 0
    for match in re.finditer(r'"(?:[^"\\]|\\.)*"|->|[{}\[\];,=]|[^\s{}\[\];,="]+', text):
        assert not text[end : match.start()].strip(), f"cannot read {text[end : match.start()]!r}"
        tokens.append(match.group())
        end = match.end()
    assert not text[end:].strip()
    for token in tokens:
        if token in depth:
            depth[token] += 1
        elif token in closing:
            depth[closing[token]] -= 1
            assert depth[closing[token]] >= 0, "unbalanced DOT"
    assert depth == {"{": 0, "[": 0}, "unbalanced DOT"
    return tokens


def test_dot_names_every_box_and_edge(spec):
    checked, doc, found = spec
    text = render(checked, "dot")
    tokens = _dot_statements(text)
    assert tokens[:3] == ["digraph", f'"{doc["model"]}"', "{"]
    declared = {tokens[i] for i in range(1, len(tokens)) if tokens[i + 1 : i + 3] == ["[", "label"]}
    assert {f'"{layer["name"]}"' for layer in doc["layers"]} <= declared
    edges = set()
    for i, token in enumerate(tokens):
        if token == "->":
            assert tokens[i + 2 : i + 5] == ["[", "label", "="]
            edges.add(
                (tokens[i - 1].strip('"'), tokens[i + 1].strip('"'), tokens[i + 5].strip('"'))
            )
    layers = {layer["name"]: layer for layer in doc["layers"]}
    expected = {
        (s, n, shape_text(layers[s]["output_shape"])) for n in layers for s in layers[n]["inputs"]
    }
    assert edges == expected | {
        (output, "output", shape_text(layers[output]["output_shape"])) for output in doc["outputs"]
    }
    clusters = [tokens[i + 1] for i, t in enumerate(tokens) if t == "subgraph"]
    assert clusters == [f'"cluster_{g.id}"' for g in _dot_order(found)]


def _dot_order(found):
    """Groups in the order DOT writes them: depth first, children after their parent."""
    children = {}
    for g in found:
        children.setdefault(g.parent, []).append(g)
    out = []

    def visit(parent):
        for g in children.get(parent, []):
            out.append(g)
            visit(g.id)

    visit(None)
    return out


def test_resnet50_is_a_readable_picture_at_every_depth():
    """The ResNet-50-sized model of the issue: 16 bottlenecks in 4 stages, no overlaps."""
    checked = check_spec(next(p for p in SPECS if p.stem == "resnet50"))
    found = groups(checked)
    assert [g.path for g in found if g.parent is None] == ["layer1", "layer2", "layer3", "layer4"]
    assert len([g for g in found if g.kind == "block"]) == 3 + 4 + 6 + 3
    for depth in (None, 0, 1):
        for direction in ("TB", "LR"):
            drawing = parse(render(checked, "svg", depth=depth, direction=direction))
            check_readable(drawing)
    diagram = build_diagram(checked, found, None)
    assert len(diagram.boxes) == len(checked.model.nodes)
