"""The front end's limits through the command line: bounded output, warnings, reading files.

Each limit's own error is tested in ``test_syntax.py``; here every command meets them: nothing
ends in a traceback or an internal error, nothing echoes more than an excerpt of a huge input,
and implausible sizes are warnings that do not fail a check.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from specc import limits
from specc.diagnostics import format_count
from tests.golden_diagnostics import run_check


def write(tmp_path: Path, text: str, name: str = "t.spec") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def assert_clean(err: str) -> None:
    assert "Traceback" not in err and "internal error" not in err, err[-2000:]


# -- what a diagnostic echoes is bounded --------------------------------------------------------

HUGE = 2_000_000  # characters: far past every token limit, well inside the file size limit


@pytest.mark.parametrize(
    "text",
    [
        f"input 8\n{'a' * HUGE}\n",  # a name
        f"input 8\ndense {'9' * HUGE}\n",  # a number
        f'input 8\ntrain {{ data "{"x" * HUGE}" }}\n',  # a string
        f"input {'x'.join(['3'] * (HUGE // 2))}\n",  # a size
        f"input 8\ndense 4 {'@' * HUGE}\n",  # a syntax error on a long line
        f"input 8\ndense ({' + '.join(['1'] * (HUGE // 4))})\n",  # an expression
    ],
    ids=["name", "number", "string", "axes", "characters", "expression"],
)
def test_every_command_echoes_a_bounded_excerpt(tmp_path, text):
    path = write(tmp_path, text)
    for argv in (["check", path], ["fmt", path], ["fmt", "--check", path]):
        status, out, err = run_check(argv)
        assert status == 1 and len(out) + len(err) < 4000, (argv, len(err))
        assert_clean(err)
    status, out, _ = run_check(["check", "--format", "json", path])
    assert status == 1 and len(out) < 4000
    for diag in json.loads(out)["diagnostics"]:
        for text in (diag["message"], *(lb["message"] for lb in diag["labels"])):
            assert len(text) <= limits.MAX_MESSAGE_CHARS
            assert all(len(word) <= limits.MAX_ECHO_CHARS for word in text.split())
    output = tmp_path / "out.py"
    assert run_check(["emit", path, "-b", "torch", "-o", str(output)])[0] == 1
    assert not output.exists()


def test_a_later_stage_quotes_an_excerpt_too(tmp_path):
    # a string within its limit, echoed by the train-section check: the message is bounded
    name = "n" * 4000
    status, _, err = run_check(["check", write(tmp_path, f"input 8\ntrain {{ data {name} }}\n")])
    assert status == 1 and name not in err and "…" in err
    assert all(len(line) < 400 for line in err.splitlines())


def test_a_long_line_is_shown_around_its_error(tmp_path):
    line = "dense 4 " + "relu " * 2000 + "@"
    status, _, err = run_check(["check", write(tmp_path, f"input 8\n{line}\n")])
    assert status == 1
    shown = [row for row in err.splitlines() if row.startswith("2 | ")]
    assert len(shown) == 1 and len(shown[0]) <= limits.MAX_SHOWN_COLUMNS + 10
    assert shown[0].endswith("relu relu @") and shown[0].startswith("2 | …")
    caret = next(row for row in err.splitlines() if "^" in row)
    assert caret.index("^") == shown[0].index("@")


# -- implausible sizes are warnings --------------------------------------------------------------


def test_huge_layer_is_a_warning_with_the_figure(tmp_path):
    path = write(tmp_path, "input 64\ndense 1000000000000000000000000000000\n")
    status, out, err = run_check(["check", path])
    assert status == 0 and "dense_1" in out  # the table, as for any valid spec
    assert "warning[W0301]: dense `dense_1` has 6.50e31 parameters" in err
    assert "warning[W0302]: dense `dense_1` outputs 1.00e30 values per sample" in err
    assert err.rstrip().endswith(": 2 warnings") and "error" not in err
    status, out, _ = run_check(["check", "--format", "json", path])
    doc = json.loads(out)
    assert status == 0 and doc["ok"] and doc["totals"]["params"] == 65 * 10**30
    assert [(d["severity"], d["code"], d["line"]) for d in doc["diagnostics"]] == [
        ("warning", "W0301", 2),
        ("warning", "W0302", 2),
    ]
    output = tmp_path / "model.py"
    status, _, err = run_check(["emit", path, "-b", "torch", "-o", str(output)])
    assert status == 0 and "warning[W0301]" in err and output.exists()


def test_a_huge_activation_is_reported_where_it_starts(tmp_path):
    path = write(tmp_path, "input 100000x100000x100\nconv 8 3x3 padding=same\nflatten\ndense 4\n")
    status, _, err = run_check(["check", path])
    assert status == 0
    assert re.findall(r"warning\[(W\d+)\]: (\w+) `(\w+)`", err) == [
        ("W0302", "input", "input_1"),  # 10^12 values; the layers after it are not repeated
        ("W0301", "dense", "dense_1"),  # 8 * 10^10 * 4 weights
    ]


def test_warnings_and_errors_are_counted_apart(tmp_path):
    path = write(tmp_path, "input 64\ndense 1000000000\ndense 0\n")  # 6.5 * 10^10 weights
    status, _, err = run_check(["check", path])
    assert status == 1 and "warning[W0301]" in err and "error[E0203]" in err
    assert ": 1 error, 1 warning\n" in err


def test_plausible_sizes_have_no_warning(tmp_path):
    status, _, err = run_check(["check", "specs/vgg16.spec", "specs/resnet18.spec"])
    assert status == 0 and err == ""


@pytest.mark.parametrize("digits", [1, 5, 21, 22, 40, 300, 4300, 5000, 20000])
def test_counts_print_without_converting_huge_integers(digits):
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        for n in (10 ** (digits - 1), 10**digits - 1, 65 * 10 ** (digits - 1) // 10 + 7):
            expected = str(n)  # the oracle, computed with Python's limit lifted
            shown = format_count(n) if len(expected) <= 4300 else None
            if len(expected) <= 21:
                assert shown == f"{n:,}"
            elif shown is not None:
                assert shown == f"{expected[0]}.{expected[1:3]}e{len(expected) - 1}"
    finally:
        sys.set_int_max_str_digits(old)
    # and beyond Python's own limit, where str() would raise
    n = 10**digits * 3
    assert format_count(n) == (f"{n:,}" if digits < 21 else f"3.00e{digits}")


# -- reading files -------------------------------------------------------------------------------


def test_text_that_is_not_utf8_says_where(tmp_path):
    path = tmp_path / "latin1.spec"
    path.write_bytes(b"input 8\ndense 4 # caf\xe9\n")
    status, _, err = run_check(["check", str(path)])
    assert status == 2
    assert f"{path} is not UTF-8 text: byte 0xe9 at line 2, column 14" in err


def test_a_stream_that_never_ends_is_read_up_to_the_limit(monkeypatch):
    monkeypatch.setattr(limits, "MAX_SOURCE_BYTES", 4096)
    status, _, err = run_check(["check", "/dev/zero"])
    assert status == 1 and "error[E0112]" in err and "4,097 bytes" in err


# -- no command reaches a recursion limit at the limits -------------------------------------------


def test_every_command_runs_at_the_nesting_and_expression_limits(tmp_path):
    depth = limits.MAX_NESTING_DEPTH - 2  # the block body and the expression's own brackets
    chain = " + ".join(["1"] * limits.MAX_EXPRESSION_OPERATORS) + " + f"
    text = (
        "block b(f) {\n"
        + "repeat 1 {\n" * depth
        + f"dense ({chain})\n"
        + "}\n" * depth
        + "}\ninput 8\nb(1)\ndense 4\n"
    )
    path = write(tmp_path, text)
    for argv in (
        ["check", path],
        ["check", "--explain", path],
        ["check", "--format", "json", path],
        ["fmt", "--check", path],
        ["fmt", path],
        ["emit", path, "-b", "torch"],
        ["emit", path, "-b", "keras"],
    ):
        status, _, err = run_check(argv)
        assert status in (0, 1), (argv, err[-3000:])
        assert_clean(err)


def test_logic_words_count_toward_the_expression_limit(tmp_path):
    """`not not ... g` and long `and`/`or` chains are operator chains like `+`: at the limit
    every command runs; past it, E0108 (a 5,000-deep `not` once exhausted the recursion)."""
    at_limit = "not " * limits.MAX_EXPRESSION_OPERATORS + "g"
    past = " and ".join(["g"] * (limits.MAX_EXPRESSION_OPERATORS + 2))
    for condition, expected in ((at_limit, 0), (past, 1), ("not " * 5000 + "g", 1)):
        text = f"block b(g=true) {{\n  if ({condition}) {{ relu }}\n}}\ninput 8\nb()\n"
        path = write(tmp_path, text)
        for argv in (["check", path], ["fmt", "--check", path], ["emit", path, "-b", "torch"]):
            status, _, err = run_check(argv)
            assert_clean(err)
            if argv[0] == "check":
                assert status == expected, (condition[:30], err[-2000:])
                assert ("error[E0108]" in err) == (expected == 1)
