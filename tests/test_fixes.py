"""Fixes: the concrete edits a diagnostic carries (``Diagnostic.fixes``, ``"fixes"`` in
``specc check --format json``).  Every fix the front end offers for the diagnostics corpus and
for mistakes made on purpose in the real specs is applied and the spec checked again: the
diagnostic it was for must be gone, and no new error may appear.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from specc.compiler import check_text
from specc.diagnostics import Diagnostic, Fix, did_you_mean, error, to_json
from specc.source import SourceFile, Span
from tests.golden_diagnostics import corpus_specs

ROOT = Path(__file__).resolve().parent.parent


def apply(text: str, fix: Fix) -> str:
    """``text`` with one fix applied."""
    source = SourceFile("<spec>", text)
    lines = text.split("\n")

    def offset(line: int, column: int) -> int:
        return sum(len(t) + 1 for t in lines[: line - 1]) + column - 1

    span = fix.span
    start, end = offset(span.line, span.column), offset(span.end_line, span.end_column)
    assert source.text == text
    return text[:start] + fix.replacement + text[end:]


def key(diag: Diagnostic) -> tuple:
    return (diag.code, diag.message)


def fixable(text: str) -> list[tuple[Diagnostic, Fix]]:
    return [(d, f) for d in check_text(text).diagnostics for f in d.fixes]


def assert_fix_resolves(text: str, diag: Diagnostic, fix: Fix) -> None:
    before = check_text(text).diagnostics
    after = check_text(apply(text, fix)).diagnostics
    assert key(diag) not in {key(d) for d in after}, fix.title
    assert len(after) < len(before), fix.title  # nothing new in its place


CASES = [(p, i) for p in corpus_specs() for i in range(len(fixable(p.read_text("utf-8"))))]


def test_the_corpus_has_fixes_of_every_kind():
    codes = {d.code for p in corpus_specs() for d, _ in fixable(p.read_text("utf-8"))}
    assert {"E0204", "E0205", "E0301", "E0302", "E0407"} <= codes


@pytest.mark.parametrize("path,index", CASES, ids=[f"{p.stem}-{i}" for p, i in CASES])
def test_every_fix_of_the_corpus_resolves_its_diagnostic(path: Path, index: int):
    text = path.read_text(encoding="utf-8")
    diag, fix = fixable(text)[index]
    assert_fix_resolves(text, diag, fix)


# mistakes made on purpose in the real specs: (spec, text to replace, replacement, code)
MISTAKES = [
    ("cifar10_cnn", "flatten\n", "", "E0302"),  # dense on an image: insert flatten
    ("resnet18", "conv 64 7x7 stride=2", "conv 64 300x300 stride=2", "E0301"),
    ("mobilenet_v2", "padding=same", "paddin=same", "E0205"),
    ("vgg16", "relu", "rleu", "E0204"),
    ("tiny_inception", "padding=same relu\n}\nconv", "padding=same rellu\n}\nconv", "E0204"),
    ("digits_cnn", "maxpool 2", "maxpool 9", "E0301"),
]


@pytest.mark.parametrize("name,old,new,code", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_fixes_of_mistakes_in_the_real_specs(name: str, old: str, new: str, code: str):
    text = (ROOT / "specs" / f"{name}.spec").read_text(encoding="utf-8")
    assert old in text
    broken = text.replace(old, new, 1)
    found = [(d, f) for d, f in fixable(broken) if d.code == code]
    assert found, f"no fix offered for {code}"
    diag, fix = found[0]
    assert_fix_resolves(broken, diag, fix)


def test_flatten_keeps_the_indentation_of_the_line():
    text = "input 8x8x1\nblock head(n) {\n    conv 4 3x3\n    dense n\n}\nhead(10)\n"
    (_, fix), *_ = fixable(text)
    assert apply(text, fix) == text.replace("    dense n", "    flatten\n    dense n")
    assert check_text(apply(text, fix)).ok
    inline = "input 8x8x1; conv 4 3x3; dense 10\n"
    (_, fix), *_ = fixable(inline)
    assert apply(inline, fix) == "input 8x8x1; conv 4 3x3; flatten; dense 10\n"


def test_no_fix_where_no_edit_would_help():
    # a conv on a vector: neither flatten nor padding makes it fit
    assert check_text("input 64\nconv 8 3x3\n").diagnostics
    assert fixable("input 64\nconv 8 3x3\n") == []


def test_padding_same_replaces_the_padding_written():
    # a dilated kernel larger than its input: dilation cannot go with padding=same and a stride
    text = "input 4x4x1\nconv 8 3x3 dilation=3 padding=valid\n"
    (diag,) = check_text(text).diagnostics
    assert diag.code == "E0301"
    (fix,) = diag.fixes
    assert apply(text, fix) == text.replace("padding=valid", "padding=same")
    assert check_text(apply(text, fix)).ok


def test_fixes_in_json():
    span = Span("a.spec", 2, 1, 2, 5)
    diag = error("E0200", "unknown", span, fixes=(did_you_mean(span, "dens", "dense"), None))
    (fix,) = to_json(diag)["fixes"]
    assert fix == {
        "title": "change `dens` to `dense`",
        "file": "a.spec",
        "line": 2,
        "column": 1,
        "end_line": 2,
        "end_column": 5,
        "replacement": "dense",
    }
    assert did_you_mean(span, "xyz", None) is None
    assert error("E0200", "unknown", span).fixes == ()


def test_no_fix_inside_a_block_for_a_value_its_call_gave():
    # `act` and `p` are the block's parameters: editing the body would change every instance
    block = "input 4x4x1\nblock b(act, p) {\n  conv 4 5x5 act padding=p\n}\n"
    (word,) = check_text(block + "b(rellu, same)\n").diagnostics
    (kernel,) = check_text(block + "b(relu, valid)\n").diagnostics
    assert (word.code, kernel.code) == ("E0204", "E0301")
    assert word.fixes == kernel.fixes == ()
    # written in the body itself, the same mistakes are fixed there
    (word,) = check_text(block.replace("act padding=p", "rellu") + "b(relu, 1)\n").diagnostics
    assert word.fixes[0].replacement == "relu"
