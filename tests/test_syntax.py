"""The concrete syntax: AST shapes, spans, values, expressions and syntax-error recovery."""

from __future__ import annotations

import pytest

from specc import limits, syntax
from specc.source import SourceFile, read_source
from specc.syntax import COUNTED_TERMINALS, BlockDef, Call, Statement, _parser, parse


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


# -- limits (specc/limits.py): each is a located error with its own code -----------------------


def first(text: str):
    diagnostics = parse(SourceFile("t.spec", text))[1]
    assert diagnostics, text[:80]
    return diagnostics[0]


@pytest.mark.parametrize(
    ("under", "over"),
    [
        (f"dense {'9' * 40}\n", f"dense {'9' * 41}\n"),
        (f"input {'9' * 40}x3\n", f"input 3x{'9' * 41}\n"),
        (f"dropout 0.{'5' * 39}\n", f"dropout 0.{'5' * 40}\n"),
        (f"x 1.{'0' * 30}e-{'1' * 9}\n", f"x 1.{'0' * 30}e-{'1' * 10}\n"),
        (f"b(({'1' * 40} * f))\n", f"b(({'1' * 41} * f))\n"),
        ("lr 1e308\n", "lr 1e309\n"),
    ],
)
def test_number_digits(under, over):
    assert codes(under) == []
    diag = first(over)
    assert diag.code == limits.E_NUMBER_TOO_LONG
    assert "40" in diag.message or "float" in diag.message


def test_a_huge_number_is_an_error_not_a_crash():
    # more digits than Python converts to an int (4,300): refused before any conversion
    diag = first(f"input 8\ndense {'7' * 100_000}\n")
    assert diag.code == "E0105" and "100,000 digits" in diag.message
    assert (diag.primary_span.line, diag.primary_span.column) == (2, 7)


def test_axes():
    assert codes("input " + "x".join(["2"] * 8) + "\n") == []
    assert [d.code for d in parse(SourceFile("t", "input " + "x".join(["2"] * 9)))[1]] == ["E0110"]
    (diag,) = parse(SourceFile("t", "conv 8 3xx3\n"))[1]
    assert diag.code == "E0100" and "malformed size" in diag.message


@pytest.mark.parametrize(
    "template",
    [
        "{name} 4\n",  # a layer kind
        "dense 4 name={name}\n",  # a value
        "dense 4 {name}=1\n",  # a key
        "{name}(4)\n",  # a block call
        "block {name}(f) {{ dense f }}\n",  # a block definition
        "block b({name}) {{ dense 4 }}\n",  # a block parameter
        "branch {name} {{ relu }} {{ relu }}\n",  # a clause word
    ],
)
def test_name_length(template):
    assert codes(template.format(name="n" * 128)) == []
    diag = first(template.format(name="n" * 129))
    assert diag.code == limits.E_NAME_TOO_LONG and "129 characters" in diag.message


@pytest.mark.parametrize(
    "template",
    [
        "dense 4 {items}\n",  # positional arguments
        "dense 4 {keys}\n",  # keyword arguments
        "branch concat {clauses}\n",  # `{ }` clauses
        "b({commas})\n",  # a block call
        "block b({commas}) {{ relu }}\n",  # a block definition
    ],
)
def test_argument_count(template):
    def fill(n: int) -> str:
        return template.format(
            items=" ".join(["relu"] * n),
            keys=" ".join(f"k{i}=1" for i in range(n)),
            clauses=" ".join(["{ relu }"] * n),
            commas=", ".join(f"a{i}" for i in range(n)),
        )

    limit = limits.MAX_ARGUMENTS - ("dense 4" in template)  # `4` is an argument too
    assert codes(fill(limit)) == []
    diag = first(fill(limit + 1))
    assert diag.code == limits.E_TOO_MANY_ARGUMENTS and "at most 256" in diag.message


def test_string_length():
    assert codes(f'train {{ data "{"a" * 4096}" }}\n') == []
    assert first(f'train {{ data "{"a" * 4097}" }}\n').code == limits.E_STRING_TOO_LONG


@pytest.mark.parametrize("opener", ["repeat 1 {\n", "residual {\n", "("])
def test_nesting_depth(opener):
    def nested(depth: int) -> str:
        if opener == "(":
            return "dense " + "(" * depth + "1" + ")" * depth + "\n"
        return opener * depth + "dense 4\n" + "}\n" * depth

    assert codes(nested(64)) == []
    diag = first(nested(65))
    assert diag.code == limits.E_NESTING_TOO_DEEP and "64" in diag.message
    assert [lb.message for lb in diag.labels] == ["this opens level 65", "level 1 opens here"]
    # far past the limit the scan stops at once: one error, not one per bracket
    assert codes(nested(100_000)) == [limits.E_NESTING_TOO_DEEP]


def test_braces_and_parentheses_count_together():
    text = "repeat 1 {\n" * 60 + "dense " + "(" * 5 + "1" + ")" * 5 + "\n" + "}\n" * 60
    assert codes(text) == [limits.E_NESTING_TOO_DEEP]


def test_expression_operators():
    chain = " + ".join(["f"] * 65)  # 64 operators
    assert codes(f"block b(f) {{ dense ({chain}) }}\n") == []
    diag = first(f"block b(f) {{ dense ({chain} + f) }}\n")
    assert diag.code == limits.E_EXPRESSION_TOO_LONG
    # a block call's arguments are separate expressions, each within the limit
    many = ", ".join(["(f * 2 + 1)"] * 40)
    assert codes(f"b({many})\n") == []
    # a chain far longer than the limit is refused by the scan, before the parser builds it
    assert codes(f"dense ({' + '.join(['1'] * 200_000)})\n") == [limits.E_EXPRESSION_TOO_LONG]


def test_token_limit_stops_the_parse(monkeypatch):
    monkeypatch.setattr(limits, "MAX_TOKENS", 20)
    assert codes("relu\n" * 10) == []  # 20 tokens
    diag = first("relu\n" * 10 + "relu @\n" + "relu\n" * 1000)
    # the parse stopped at token 21: the bad character after it is never read
    assert diag.code == limits.E_TOO_MANY_TOKENS and diag.primary_span.line == 11
    assert codes("relu\n" * 10 + "relu @\n") == [limits.E_TOO_MANY_TOKENS]


def test_every_terminal_is_counted():
    parser = _parser()
    ignored = set(parser.lexer_conf.ignore)
    assert {t.name for t in parser.terminals} - ignored == COUNTED_TERMINALS
    text = (
        "block b(f, s=2) {\n  conv (f * 2 + 1) 3x3 stride=s; relu  # c\n}\n"
        'b(8, s=(1 - 1)); if (f >= 1 and not s or f) { x "s" } else { y -1.5e3 }\n'
        "reshape 1x(f)\n\n"
    )
    lexed = [t for t in parser.lex(text) if t.type not in ignored]
    assert {t.type for t in lexed} == COUNTED_TERMINALS  # the text has every kind of token
    builder = syntax._BUILDER
    builder.start_file(SourceFile("t.spec", text))
    parser.parse(text)
    # Lark turns a NAME into the `block` and `not` keywords before the callback, which then
    # skips them (`and` and `or` are counted): at most one uncounted token per counted one
    assert builder.tokens == len([t for t in lexed if t.type not in ("BLOCK", "NOT")])


def test_file_size_limit(monkeypatch, tmp_path):
    monkeypatch.setattr(limits, "MAX_SOURCE_BYTES", 100)
    assert codes("relu\n" * 20) == []  # 100 bytes
    diag = first("relu\n" * 30)
    assert diag.code == limits.E_SOURCE_TOO_LARGE and "150 bytes" in diag.message
    # the error points where the limit is crossed: byte 101 is the first of line 21
    assert (diag.primary_span.line, diag.primary_span.column) == (21, 1)
    # reading the file stops one byte past the limit; the message has the whole size
    path = tmp_path / "big.spec"
    path.write_text("relu\n" * 10_000)
    source = read_source(str(path))
    assert len(source.text) == 100 and source.byte_size == 50_000
    (diag,) = parse(source)[1]
    assert diag.code == "E0112" and "50,000 bytes" in diag.message


def test_multibyte_text_is_measured_in_bytes(monkeypatch):
    monkeypatch.setattr(limits, "MAX_SOURCE_BYTES", 100)
    assert codes("# " + "é" * 48 + "\n") == []  # 99 bytes, 51 characters
    assert codes("# " + "é" * 50 + "\n") == [limits.E_SOURCE_TOO_LARGE]


def test_recovery_stops_within_its_budget(monkeypatch):
    text = "dense 4 =\n" * 30
    assert len(codes(text)) == limits.MAX_SYNTAX_ERRORS
    monkeypatch.setattr(limits, "MAX_RECOVERY_CHARS", len(text) * 3)
    assert len(codes(text)) == 4  # the first parse and three re-parses


# -- Unicode ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "value", "name"),
    [
        ("１０", "10", "FULLWIDTH DIGIT ONE"),
        ("٣", "3", "ARABIC-INDIC DIGIT THREE"),
        ("४२", "42", "DEVANAGARI DIGIT FOUR"),
        ("৭", "7", "BENGALI DIGIT SEVEN"),
        ("𝟗", "9", "MATHEMATICAL BOLD DIGIT NINE"),  # outside the BMP
        ("1٢", "12", "ARABIC-INDIC DIGIT TWO"),  # an ASCII digit, then another script's
    ],
)
def test_non_ascii_digits_are_not_numbers(digits, value, name):
    diag = first(f"input 8\ndense {digits} relu\n")
    assert diag.code == limits.E_NON_ASCII_DIGIT
    assert name in diag.message and "U+" in diag.message
    assert diag.help == (f"write `{value}`",)
    assert diag.primary_span.line == 2


def test_non_ascii_digits_in_comments_and_strings_are_fine():
    assert codes('input 8  # ٣ layers\ntrain { data "npz:٣.npz" }\n') == []


def test_unexpected_characters_are_named():
    for char, shown in [("\u200b", "U+200B ZERO WIDTH SPACE"), ("\x00", "U+0000"),
                        ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"), ("é", "U+00E9")]:  # fmt: skip
        diag = first(f"dense 4{char}\n")
        assert diag.code == "E0101" and shown in diag.message, diag.message


def test_byte_order_mark_is_accepted_and_columns_stay_right():
    nodes = ast("\ufeffconv 32 3x3\n")
    assert nodes[0].name == "conv" and nodes[0].span.column == 1
    assert nodes[0].args[1].span.column == 9
    diag = first("\ufeffconv 32 3x3 @\n")
    assert (diag.primary_span.line, diag.primary_span.column) == (1, 13)
    # only at the very start: anywhere else it is a character like any other
    assert codes("input 8\n\ufeffdense 4\n") == ["E0101"]


def test_line_numbers_count_newlines_only():
    # a form feed or a line separator inside a comment does not start a line: the parser and
    # the rendered source line agree
    for odd in ("\x0c", "\u2028", "\x85", "\r"):
        source = SourceFile("t.spec", f"# a{odd}b\ninput 8\ndense 4 @\n")
        (diag,) = parse(source)[1]
        assert diag.primary_span.line == 3
        assert source.line(3) == "dense 4 @"
