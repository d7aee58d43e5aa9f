"""The language server's pure parts, without a client: position conversion (against Python's
own encoders), the cursor context completion reads, the severity of warnings, and navigation
through layers read by name (``from=``, merges, ``output``) through the Analysis API.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types as lsp

from specc.compiler import check_text
from specc.layers import fmt_shape
from specc.lsp import navigation
from specc.lsp.analysis import Analysis
from specc.lsp.completion import complete
from specc.lsp.context import block_signatures, cursor_context
from specc.lsp.diagnostics import to_lsp
from specc.lsp.hover import hover_text
from specc.lsp.positions import LineIndex
from tests.lsp_session import units

TEXT = st.text(alphabet=st.sampled_from(list("ab é→数😀\n\t#")), max_size=60)


@given(TEXT, st.data(), st.sampled_from(["utf-16", "utf-8", "utf-32"]))
def test_positions_round_trip_in_every_encoding(text: str, data, encoding: str):
    offset = data.draw(st.integers(0, len(text)))
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    column = offset - start + 1
    index = LineIndex(text, encoding)
    position = index.position(line, column)
    assert position == lsp.Position(line=line - 1, character=units(text[start:offset], encoding))
    assert index.location(position) == (line, column)


def test_a_position_past_the_end_is_clamped():
    index = LineIndex("conv 8 3x3\nrelu", "utf-16")
    assert index.position(9, 1) == index.end() == lsp.Position(line=1, character=4)
    assert index.location(lsp.Position(line=0, character=99)) == (1, 11)


def context_at(text: str):
    at = text.index("@")
    return cursor_context(text.replace("@", "", 1), at)


def test_cursor_context():
    ctx = context_at("input 8\ntrain {\n  optimizer sgd mo@\n}\n")
    assert ctx.section == "train" and ctx.words == ["optimizer", "sgd"] and ctx.prefix == "mo"
    ctx = context_at("block b(f, s=1) {\n  conv f 3x3 # a comment (\n  dense (f * @")
    assert ctx.block == "b" and ctx.in_expression and ctx.call is None
    ctx = context_at("basic(64, stride=@")
    assert ctx.call.name == "basic" and ctx.call.index == 1 and ctx.call.key == "stride"
    ctx = context_at("residual {\n  conv 8 1x1\n} @")
    assert ctx.closed == "residual" and ctx.words == []
    ctx = context_at("conv 8 3x@")
    assert ctx.prefix == ""  # inside a size, not a word
    assert context_at('data "npz:a b@').in_string
    assert not context_at('data "npz:a b" @').in_string


def test_block_signatures_are_read_from_the_text():
    text = "block basic(f, stride=1) {\n}\n  block  head(n) { dense n }\nnot a block x(y)\n"
    assert block_signatures(text) == {
        "basic": [("f", None), ("stride", "1")],
        "head": [("n", None)],
    }


def test_warnings_are_lsp_warnings():
    diag = {
        "severity": "warning",
        "code": "W0001",
        "message": "a warning",
        "labels": [],
        "notes": [],
        "help": [],
        "fixes": [],
    }
    converted = to_lsp(diag, LineIndex(""), "file:///a.spec")
    assert converted.severity == lsp.DiagnosticSeverity.Warning
    assert converted.range == lsp.Range(
        start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0)
    )


# -- layers read by name: navigation through the Analysis API ----------------------------------

# `skip` is written in the block and at the top level: two symbols, each read in its own scope;
# a repeat's iteration is a scope of its own; `spare` is never called (its names are resolved
# from the text); `from=conv2d_1` reads a generated name
REFS = """\
block down(f) {
  conv f 3x3 padding=same relu name=skip
  maxpool 2
  upsample 2
  concat skip
}
block spare(f) {
  dense f name=a
  add a
}
input 8x8x3 name=image
conv 4 1x1
conv 4 3x3 padding=same name=skip
down(8)
down(8)
concat skip
repeat 2 {
  conv 4 1x1 name=inner
  add inner
}
conv 2 1x1 from=conv2d_1 name=head
output head
"""


def at(text: str, needle: str, nth: int = 0, after: int = 0) -> tuple[int, int]:
    """The 1-based (line, column) of the ``nth`` occurrence of ``needle`` (plus ``after``)."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    offset += after
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def span_of(text: str, needle: str, nth: int = 0, after: int = 0, length: int | None = None):
    """(line, column, end_line, end_column) of a name: ``needle[after:after+length]``."""
    line, column = at(text, needle, nth, after)
    size = len(needle) - after if length is None else length
    return (line, column, line, column + size)


def spans(found) -> list[tuple[int, int, int, int]]:
    return [(s.line, s.column, s.end_line, s.end_column) for s in found]


def analysis(text: str = REFS):
    return Analysis(text, "refs.spec")


def test_references_resolve_as_the_compiler_does():
    found = analysis()
    assert [d.code for d in found.checked.diagnostics if d.severity == "error"] == []
    block_skip = span_of(REFS, "name=skip", 0, after=5)
    top_skip = span_of(REFS, "name=skip", 1, after=5)
    # F12 on `concat skip` in the block body: the block's own `skip`, not the top level's
    definition = navigation.definition(found, *at(REFS, "concat skip", 0, after=8))
    assert spans([definition]) == [block_skip]
    definition = navigation.definition(found, *at(REFS, "concat skip", 1, after=8))
    assert spans([definition]) == [top_skip]
    # from the definition: itself and every use, in document order, and vice versa
    uses = spans(navigation.references(found, *block_skip[:2]))
    assert uses == [block_skip, span_of(REFS, "concat skip", 0, after=7)]
    uses = spans(navigation.references(found, *at(REFS, "concat skip", 1, after=7), False))
    assert uses == [span_of(REFS, "concat skip", 1, after=7)]
    # an iteration of a repeat, a block nobody calls, `output`
    definition = navigation.definition(found, *at(REFS, "add inner", after=4))
    assert spans([definition]) == [span_of(REFS, "name=inner", after=5)]
    definition = navigation.definition(found, *at(REFS, "add a", after=4))
    assert spans([definition]) == [span_of(REFS, "name=a", after=5)]
    definition = navigation.definition(found, *at(REFS, "output head", after=7))
    assert spans([definition]) == [span_of(REFS, "name=head", after=5)]
    # a generated name: its layer's kind, and no rename
    definition = navigation.definition(found, *at(REFS, "from=conv2d_1", after=5))
    assert spans([definition]) == [span_of(REFS, "conv 4 1x1", 0, length=4)]
    with pytest.raises(navigation.RenameError, match="generated name"):
        navigation.rename(found, *at(REFS, "from=conv2d_1", after=5), "first")


def test_an_unknown_name_is_no_symbol():
    text = REFS.replace("concat skip\nrepeat", "concat skp\nrepeat")
    found = analysis(text)
    assert [d.code for d in found.checked.diagnostics if d.severity == "error"] == ["E0219"]
    assert navigation.definition(found, *at(text, "concat skp", after=8)) is None
    top_skip = span_of(text, "name=skip", 1, after=5)
    assert spans(navigation.references(found, *top_skip[:2])) == [top_skip]


def test_rename_a_layer_and_its_uses():
    found = analysis()
    edits = navigation.rename(found, *at(REFS, "concat skip", 0, after=7), "bypass")
    assert spans(edits) == [
        span_of(REFS, "name=skip", 0, after=5),
        span_of(REFS, "concat skip", 0, after=7),
    ]
    # the same name in another scope is no collision
    assert navigation.rename(found, *at(REFS, "name=skip", 1, after=5), "a")
    for new, reason in [
        ("9lives", "not a valid name"),
        ("output", "keyword"),
        ("concat", "keyword"),
        ("maxpool2d_1", "already the name of a layer"),  # a generated name in the block
        ("f", "already the name of a layer"),  # the block's parameter: name=f would read it
        ("image", "already the name of a layer"),
    ]:
        line, column = at(REFS, "name=skip", 1 if new == "image" else 0, after=5)
        with pytest.raises(navigation.RenameError, match=reason):
            navigation.rename(found, line, column, new)


def test_renamed_spec_checks_alike():
    from specc.compiler import check_text

    found = analysis()
    edits = navigation.rename(found, *at(REFS, "name=skip", 1, after=5), "trunk")
    lines = REFS.split("\n")
    for span in sorted(edits, reverse=True):
        text = lines[span.line - 1]
        lines[span.line - 1] = text[: span.column - 1] + "trunk" + text[span.end_column - 1 :]
    renamed = "\n".join(lines)
    assert renamed.count("trunk") == 2 and renamed.count("skip") == 2
    assert check_text(renamed).totals() == check_text(REFS).totals()


def test_highlights_mark_the_definition_written():
    found = analysis()
    marks = navigation.highlights(found, *at(REFS, "output head", after=7))
    assert [(spans([s])[0], written) for s, written in marks] == [
        (span_of(REFS, "name=head", after=5), True),
        (span_of(REFS, "output head", after=7), False),
    ]


def test_hover_on_a_reference_shows_the_layer_it_reads():
    found = analysis()
    shapes = {lay.name: fmt_shape(lay.shape) for lay in found.layers}
    text = hover_text(found, *at(REFS, "concat skip", 1, after=8))
    assert text.startswith(f"**skip** · `conv2d` → `{shapes['skip']}`")
    text = hover_text(found, *at(REFS, "concat skip", 0, after=8))  # one per instance
    assert f"**down_1.skip** · `conv2d` → `{shapes['down_1.skip']}`" in text
    assert f"**down_2.skip** · `conv2d` → `{shapes['down_2.skip']}`" in text


def test_model_links_name_where_each_reference_resolved():
    model = check_text(REFS, "refs.spec").model
    links = {
        ((use.line, use.column), (site.line, site.column), model.nodes[node].name)
        for use, site, node in model.links
    }
    assert (at(REFS, "concat skip", 0, 7), at(REFS, "name=skip", 0, 5), "down_2.skip") in links
    assert (at(REFS, "output head", 0, 7), at(REFS, "name=head", 0, 5), "head") in links
    assert (at(REFS, "conv2d_1"), at(REFS, "conv 4 1x1"), "conv2d_1") in links


def test_completion_offers_the_layers_visible_at_the_cursor():
    def labels(text: str) -> list[str]:
        ctx = context_at(text)
        return [item.label for item in complete(ctx, text.replace("@", "", 1))]

    top = REFS[: REFS.index("repeat 2")]
    assert labels(top + "dense 3 from=@")[:2] == ["image", "skip"]
    assert labels(top + "add @")[:2] == ["image", "skip"]
    assert labels(top + "add image @")[0] == "skip"  # not the one already given
    assert labels(REFS + "output head @") == ["image", "skip"]  # `inner` is the repeat's own
    assert labels("block b(f) {\n  dense f name=x\n  residual { dense f name=y }\n  add @")[:3] == [
        "x",
        "y",
        "f",
    ]
    assert context_at("input 8 name=a\nblock b() {\n  dense 4 from=@").names == []
    assert context_at("sequential s { relu }\ninput 8 name=a\nconcat @").names == ["s", "a"]


def test_a_parameter_in_a_computed_size_and_a_negation_is_a_use():
    text = (
        "input 8x8x4\nblock se(c, hard=true) {\n  gap\n  reshape 1x1x(c)\n"
        "  if (not hard) { relu }\n}\nse(4)\n"
    )
    found = Analysis(text, "se.spec")
    uses = navigation.references(found, *at(text, "se(c", after=3), include_declaration=False)
    assert spans(uses) == [span_of(text, "(c)", after=1, length=1)]
    uses = navigation.references(found, *at(text, "hard=", 0), include_declaration=False)
    assert spans(uses) == [span_of(text, "not hard", after=4)]
