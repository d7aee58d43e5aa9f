"""The language server's pure parts, without a client: position conversion (against Python's
own encoders), the cursor context completion reads, and the severity of warnings.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types as lsp

from specc.lsp.context import block_signatures, cursor_context
from specc.lsp.diagnostics import to_lsp
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
