"""The concrete syntax: AST shapes, spans, values, expressions and syntax-error recovery."""

from __future__ import annotations

import pytest

from specc.source import SourceFile
from specc.syntax import BlockDef, Call, Statement, parse


def ast(text: str):
    nodes, diagnostics = parse(SourceFile("t.spec", text))
    assert not diagnostics, [d.message for d in diagnostics]
    return nodes


def codes(text: str) -> list[str]:
    return [d.code for d in parse(SourceFile("t.spec", text))[1]]


def test_statement_values_and_spans():
    (node,) = ast("conv 32 3x3 stride=2 padding=same relu  # comment\n")
    assert isinstance(node, Statement) and node.name == "conv"
    kinds = [(a.key, a.value.kind, a.value.value) for a in node.args]
    assert kinds == [
        (None, "number", 32),
        (None, "dims", (3, 3)),
        ("stride", "number", 2),
        ("padding", "name", "same"),
        (None, "name", "relu"),
    ]
    assert (node.span.line, node.span.column) == (1, 1)
    assert (node.args[2].span.column, node.args[2].span.end_column) == (13, 21)
    assert (node.name_span.column, node.name_span.end_column) == (1, 5)


def test_numbers_strings_and_semicolons():
    nodes = ast('dropout 0.5; dense -3; x 1e-3 "npz:a b.npz"\n')
    assert [n.name for n in nodes] == ["dropout", "dense", "x"]
    assert nodes[0].args[0].value.value == 0.5
    assert nodes[1].args[0].value.value == -3
    assert [a.value.value for a in nodes[2].args] == [1e-3, "npz:a b.npz"]


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("(f-1)", ("-", "f", 1)),
        ("(f -1)", ("-", "f", 1)),
        ("(2+1)", ("+", 2, 1)),
        ("(f - -1)", ("-", "f", -1)),
        ("(f*4-(2+1))", ("-", ("*", "f", 4), ("+", 2, 1))),
        ("((f+1)*2)", ("*", ("+", "f", 1), 2)),
        ("(a // b / c)", ("/", ("//", "a", "b"), "c")),
        ("(s > 1)", (">", "s", 1)),
    ],
)
def test_expressions(text, tree):
    (node,) = ast(f"conv {text} 1x1\n")

    def plain(value):
        if value.kind == "expr":
            op, left, right = value.value
            return (op, plain(left), plain(right))
        return value.value

    assert plain(node.args[0].value) == tree
    assert node.args[1].value.value == (1, 1)


def test_blocks_calls_and_clauses():
    nodes = ast(
        "block basic(f, stride=1) {\n  residual { conv f 3x3 } shortcut { conv f 1x1 }\n}\n"
        "basic(64, stride=2)\nbranch concat { a } { b }\n"
    )
    block, call, branch = nodes
    assert isinstance(block, BlockDef) and block.name == "basic"
    assert [(f.name, f.default and f.default.value) for f in block.formals] == [
        ("f", None),
        ("stride", 1),
    ]
    assert (block.span.line, block.span.end_line) == (1, 3)
    residual = block.body[0]
    assert [c.name for c in residual.clauses] == [None, "shortcut"]
    assert isinstance(call, Call) and call.name == "basic"
    assert (call.name_span.column, call.name_span.end_column) == (1, 6)
    assert [(a.key, a.value.value) for a in call.args] == [(None, 64), ("stride", 2)]
    # a name right before `{` is read as a clause name; lowering treats it as the mode
    assert [c.name for c in branch.clauses] == ["concat", None]


def test_comments_and_blank_lines_are_ignored():
    assert [n.name for n in ast("# a\n\n  # b\ninput 8 # c\n\n\ndense 4\n# end")] == [
        "input",
        "dense",
    ]
    assert ast("") == () and ast("# only a comment") == ()


def test_crlf_and_tabs():
    assert [n.name for n in ast("input 8\r\n\tdense 4\r\n")] == ["input", "dense"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("conv 32 3x3 @relu\n", ["E0101"]),
        ("conv 32 3x3 = relu\n", ["E0100"]),
        ("repeat 2 {\n dense 4\n", ["E0102"]),
        ("basic(3\n", ["E0102"]),
        ("dense 4\n}\n", ["E0103"]),
        ("dense 4 units=", ["E0104"]),
        ("a = 1\nb ,\nc @\n", ["E0100", "E0100", "E0101"]),
        ('x "# not a comment {" # but this is {\n', []),
    ],
)
def test_syntax_errors_are_located_and_all_reported(text, expected):
    assert codes(text) == expected


def test_error_span_points_at_the_token():
    (diag,) = parse(SourceFile("t.spec", "input 8\ndense 4, relu\n"))[1]
    span = diag.primary_span
    assert (span.line, span.column, span.end_column) == (2, 8, 9)
    assert "commas" in diag.labels[0].message
