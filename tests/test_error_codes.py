"""The error-code catalogue (``explanations/CODE.md``, read by ``specc explain``).

Every code that specc's source raises has an explanation, every explanation is of a code the
source raises, and every erroneous example really raises its code (and nothing else), checked
by the compiler itself; every corrected example checks clean.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from pydantic import model_validator

from specc import error_codes
from specc.compiler import check_text
from specc.error_codes import RANGES, CatalogueError, codes, lookup, normalize, parse_entry
from specc.layers import lookup as lookup_kind
from tests.golden_diagnostics import ROOT

# A diagnostic code as written in specc's source: error("E0301", ...), code="E0302".
CODE_LITERAL = re.compile(r"""["']([EW]\d{4})["']""")
FORMAT = "explanations/README.md"
# Codes whose entry says no spec alone raises them, and the test below that raises them.
OTHERWISE_TESTED = {
    "E0220": "test_e0220_reports_a_schema_that_fails_outside_validation",
    "E0601": "test_e0601_is_what_emit_reports_for_the_backend_that_cannot",
    "E0112": "test_e0112_and_e0113_are_raised_with_the_limits_lowered",
    "E0113": "test_e0112_and_e0113_are_raised_with_the_limits_lowered",
    "E0701": "test_e0701_names_every_layer_a_spec_cannot_express",
    "E0702": "test_e0702_is_a_multiply_a_spec_cannot_write",
}


def codes_in_source() -> dict[str, list[str]]:
    """Every code literal under ``specc/``, with the places (``file:line``) it appears."""
    found: dict[str, list[str]] = defaultdict(list)
    for module in sorted((ROOT / "specc").rglob("*.py")):
        lines = module.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            for code in CODE_LITERAL.findall(line):
                found[code].append(f"{module.relative_to(ROOT).as_posix()}:{number}")
    return dict(found)


def _codes_whose_entry_has(field: str) -> list[str]:
    """Codes whose entry has ``field`` (or cannot be read: the test then fails on it)."""
    chosen = []
    for code in codes():
        try:
            entry = lookup(code)
        except CatalogueError:
            chosen.append(code)
            continue
        if getattr(entry, field) is not None:
            chosen.append(code)
    return chosen


def test_the_source_scan_finds_the_codes_it_must():
    used = codes_in_source()
    # one code raised through ShapeError's default, one per range: the scan itself works
    assert {"E0100", "E0200", "E0301", "E0401", "E0501"} <= set(used)
    assert any(place.startswith("specc/layers/base.py") for place in used["E0301"])


def test_every_code_the_source_raises_has_an_explanation():
    missing = {code: places for code, places in codes_in_source().items() if code not in codes()}
    assert not missing, "\n".join(
        f"{code} is raised at {', '.join(places)} but has no explanation: add "
        f"explanations/{code}.md (title, explanation, a ```spec,error example; see {FORMAT})"
        for code, places in sorted(missing.items())
    )


def test_every_explanation_is_of_a_code_the_source_raises():
    dead = sorted(set(codes()) - set(codes_in_source()))
    assert not dead, "\n".join(
        f"explanations/{code}.md explains {code}, which nothing under specc/ raises: delete it "
        "(or rename it, if the code was renamed)"
        for code in dead
    )


@pytest.mark.parametrize("code", codes())
def test_explanation_follows_the_format(code):
    entry = lookup(code)  # CatalogueError says what is wrong
    assert entry.code == code
    assert code[:3] in RANGES, (
        f"{code} is in a range specc/error_codes.py does not name: add {code[:3]!r} to RANGES "
        "(and to the README's list of ranges)"
    )
    assert entry.title and not entry.title.endswith("."), f"{code}: a short title, no period"
    prose = re.sub(r"```.*?```", "", entry.text, flags=re.DOTALL)
    assert len(prose.split()) >= 40, f"{code}: explain what it means, why, and how to fix it"


@pytest.mark.parametrize("code", _codes_whose_entry_has("example"))
def test_erroneous_example_raises_its_code_and_no_other_error(code):
    entry = lookup(code)
    checked = check_text(entry.example, error_codes.EXAMPLE_FILE)
    raised = [d.code for d in checked.diagnostics]
    assert code in raised, f"explanations/{code}.md: its ```spec,error example raises {raised}"
    others = [
        (d.code, d.message) for d in checked.diagnostics if d.code != code and d.severity == "error"
    ]
    assert not others, f"explanations/{code}.md: the example also raises {others}"


@pytest.mark.parametrize("code", _codes_whose_entry_has("corrected"))
def test_corrected_example_checks_without_errors(code):
    checked = check_text(lookup(code).corrected, error_codes.EXAMPLE_FILE)
    problems = [(d.code, d.message) for d in checked.diagnostics if d.severity == "error"]
    assert checked.ok and not problems, f"explanations/{code}.md: corrected example {problems}"
    assert code not in {d.code for d in checked.diagnostics}


def test_codes_no_spec_raises_are_marked_and_tested_another_way():
    marked = set(_codes_whose_entry_has("not_from_a_spec"))
    assert marked == set(OTHERWISE_TESTED), (
        "a code whose entry says `No spec alone raises this code` needs a test here that "
        "raises it another way, named in OTHERWISE_TESTED"
    )
    for name in OTHERWISE_TESTED.values():
        assert callable(globals().get(name)), f"{name} is not a test in this module"


def test_e0220_reports_a_schema_that_fails_outside_validation(monkeypatch):
    dense = lookup_kind("dense")

    class Broken(dense.Params):
        @model_validator(mode="before")
        @classmethod
        def _fail(cls, values):
            raise TypeError("unhashable type: 'list'")

    monkeypatch.setattr(dense, "Params", Broken)
    checked = check_text("input 8\ndense 4 relu\n", error_codes.EXAMPLE_FILE)
    assert [(d.code, d.primary_span.line) for d in checked.diagnostics] == [("E0220", 2)]
    assert "unhashable type" in checked.diagnostics[0].message


@pytest.mark.parametrize(
    ("written", "code"),
    [("E0301", "E0301"), ("e0301", "E0301"), ("0301", "E0301"), ("301", "E0301"),
     (" E0104 ", "E0104"), ("w0001", "W0001")],
)  # fmt: skip
def test_normalize_accepts_the_usual_spellings(written, code):
    assert normalize(written) == code


@pytest.mark.parametrize("written", ["", "E", "foo", "E03011", "EE0301", "E03.01"])
def test_normalize_refuses_what_is_not_a_code(written):
    assert normalize(written) is None


@pytest.mark.parametrize(
    ("markdown", "complaint"),
    [
        ("E0301: no title line\n", "must start with"),
        ("# E0302: another code's file\n\n```spec,error\ninput 4\n```\n", "must start with"),
        ("# E0301: no example\n\nText only.\n", "needs either"),
        ("# E0301: open\n\n```spec,error\ninput 4\n", "never closed"),
        (
            "# E0301: two\n\n```spec,error\ninput 4\n```\n\n```spec,error\ninput 5\n```\n",
            "more than one",
        ),
        (
            "# E0301: both\n\nNo spec alone raises this code: why.\n\n"
            "```spec,error\ninput 4\n```\n",
            "not both",
        ),
    ],
    ids=["title", "wrong-code", "no-example", "unclosed", "two-examples", "both"],
)
def test_a_malformed_file_is_refused_with_the_reason(markdown, complaint):
    with pytest.raises(CatalogueError, match=complaint):
        parse_entry("E0301", markdown)


def test_parse_entry_reads_examples_without_their_final_newline():
    entry = parse_entry(
        "E0104",
        "# E0104: title\n\nText.\n\n```spec,error\ninput 64\ndense 1 a=\n```\n\n"
        "```console\n$ specc check x.spec\n```\n\n```spec\ninput 64\n```\n",
    )
    assert entry.example == "input 64\ndense 1 a="
    assert entry.corrected == "input 64"
    assert entry.not_from_a_spec is None
    assert entry.title == "title"


def test_the_readme_names_every_range():
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    for group, meaning in RANGES.items():
        assert f"`{group}xx` {meaning}" in readme, f"the README's Diagnostics omit {group}xx"


def test_e0601_is_what_emit_reports_for_the_backend_that_cannot():
    from specc.emit import backend_diagnostics

    checked = check_text(lookup("W0601").example, error_codes.EXAMPLE_FILE)
    assert [d.code for d in backend_diagnostics(checked, "torch")] == ["E0601"]
    assert backend_diagnostics(checked, "keras") == []


def test_e0112_and_e0113_are_raised_with_the_limits_lowered(monkeypatch):
    from specc import limits

    monkeypatch.setattr(limits, "MAX_SOURCE_BYTES", 1000)
    codes = [d.code for d in check_text("relu\n" * 300, error_codes.EXAMPLE_FILE).diagnostics]
    assert codes == ["E0112"]
    monkeypatch.setattr(limits, "MAX_TOKENS", 100)
    codes = [d.code for d in check_text("relu\n" * 100, error_codes.EXAMPLE_FILE).diagnostics]
    assert codes == ["E0113"]


def test_e0701_names_every_layer_a_spec_cannot_express(tmp_path):
    from specc.bridge.graph import ImportFailure
    from specc.bridge.importer import import_model
    from tests.bridge_models import input_layer, keras_layer, write_keras_config

    layers = [
        input_layer("x", (16,)),
        keras_layer("Dense", "hidden", [("x", (16,))], units=8),
        keras_layer("Lambda", "mystery", [("hidden", (8,))]),
        keras_layer("Dense", "out", [("mystery", (8,))], units=2),
    ]
    with pytest.raises(ImportFailure) as caught:
        import_model(write_keras_config(tmp_path / "m.keras", layers, "out"))
    assert caught.value.code == "E0701"
    assert caught.value.notes == ("Lambda ×1: mystery",)


def test_e0702_is_a_multiply_a_spec_cannot_write(tmp_path):
    """A spec multiplies only paths from one tensor (`branch multiply`): a product of two
    inputs' features is no spec."""
    from specc.bridge.graph import ImportFailure
    from specc.bridge.importer import import_model
    from tests.bridge_models import input_layer, keras_layer, write_keras_config

    vector = (8,)
    layers = [
        input_layer("x", vector),
        input_layer("y", vector),
        keras_layer("Dense", "a", [("x", vector)], units=8),
        keras_layer("Dense", "b", [("y", vector)], units=8),
        keras_layer("Multiply", "ab", [("a", vector), ("b", vector)]),
    ]
    path = write_keras_config(tmp_path / "m.keras", layers, "ab", inputs=["x", "y"])
    with pytest.raises(ImportFailure) as caught:
        import_model(path)
    assert caught.value.code == "E0702"
    assert "ab (Multiply)" in caught.value.message
