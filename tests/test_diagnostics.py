"""The diagnostics corpus: every bad spec renders exactly as its golden file, exits 1 (never
the internal-error status 3), and has the same diagnostics, located, in ``--format json``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.golden_diagnostics import (
    CORPUS,
    ROOT,
    corpus_specs,
    display_path,
    render,
    run_check,
)

SPECS = corpus_specs()
IDS = [spec.stem for spec in SPECS]

# Codes the front end can emit that the corpus deliberately leaves out, and why.
NOT_IN_CORPUS = {
    "E0220": "guard for a TypeError/ValueError raised by a schema outside pydantic validation",
    "E0505": "more than 200,000 layers: too slow for a golden file",
    "E0601": "raised by `specc emit`/`train` for one backend (check warns, W0601): test_emit.py",
    "E0112": "a spec over 8 MiB: tested in test_syntax.py with the limit lowered",
    "E0113": "more than 1,000,000 tokens: tested in test_syntax.py with the limit lowered",
    "E0701": "raised by `specc import` about a model file: test_error_codes.py, test_bridge_*.py",
    "E0702": "raised by `specc import` about a model file: test_error_codes.py",
}


def test_corpus_is_large_enough():
    assert len(SPECS) >= 25


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_rendering_matches_golden(spec: Path):
    golden = spec.with_suffix(".txt")
    assert golden.exists(), f"{golden.name} is missing: run `make golden` and review the diff"
    actual = render(spec)
    assert actual == golden.read_text(encoding="utf-8"), (
        f"the diagnostics of {spec.name} changed; if that is intended, run `make golden` and "
        "review the diff of the .txt file"
    )


def test_no_orphan_golden_files():
    specs = {p.stem for p in CORPUS.glob("*.spec")}
    texts = {p.stem for p in CORPUS.glob("*.txt")}
    assert texts == specs


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_bad_spec_exits_1_with_errors_on_stderr(spec: Path):
    status, out, err = run_check(["check", display_path(spec)])
    assert status == 1, err
    assert out == ""
    assert "internal error" not in err
    assert "Traceback" not in err
    assert re.search(r"^error\[E\d{4}\]: ", err, re.MULTILINE)
    assert re.search(rf"^{re.escape(display_path(spec))}: \d+ errors?$", err, re.MULTILINE)
    assert err.rstrip().splitlines()[-1].startswith("For more information about")


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_json_has_located_diagnostics(spec: Path):
    path = display_path(spec)
    status, out, _ = run_check(["check", "--format", "json", path])
    assert status == 1
    lines = out.splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["ok"] is False
    assert doc["file"] == path
    assert "totals" not in doc
    diagnostics = doc["diagnostics"]
    assert diagnostics
    text = render(spec)
    # The text and JSON forms report the same errors at the same places, in the same order.
    located = re.findall(r"^error\[(E\d{4})\]: .*\n\s*--> (.+):(\d+):(\d+)$", text, re.MULTILINE)
    assert [(d["code"], d["file"], str(d["line"]), str(d["column"])) for d in diagnostics] == [
        (code, file, line, col) for code, file, line, col in located
    ]
    source_lines = spec.read_text(encoding="utf-8").splitlines() or [""]
    for diag in diagnostics:
        assert diag["severity"] == "error"
        assert re.fullmatch(r"E\d{4}", diag["code"])
        assert diag["message"]
        assert 1 <= diag["line"] <= len(source_lines)
        assert diag["column"] >= 1
        assert any(label["primary"] for label in diag["labels"])
        for label in diag["labels"]:
            assert label["file"] == path
            assert (label["line"], label["column"]) <= (label["end_line"], label["end_column"])


def test_corpus_covers_every_error_code():
    emitted = set()
    for spec in SPECS:
        emitted |= set(re.findall(r"^error\[(E\d{4})\]", render(spec), re.MULTILINE))
    in_source = set()
    for module in (ROOT / "specc").rglob("*.py"):
        in_source |= set(re.findall(r'"(E\d{4})"', module.read_text(encoding="utf-8")))
    missing = in_source - emitted - set(NOT_IN_CORPUS)
    assert not missing, f"add a bad spec to {CORPUS.relative_to(ROOT)} for {sorted(missing)}"


def test_several_errors_are_all_reported():
    text = render(CORPUS / "many_errors.spec")
    assert text.count("error[") == 5
    lines = [int(n) for n in re.findall(r"--> [^:]+:(\d+):", text)]
    assert lines == sorted(lines)


def test_error_in_block_points_at_block_line_and_call_site():
    text = render(CORPUS / "block_error_inside.spec")
    spec_lines = (CORPUS / "block_error_inside.spec").read_text().splitlines()
    block_line = spec_lines.index("  conv f 3x3 relu") + 1
    call_line = spec_lines.index("down(64)") + 1
    assert f"block_error_inside.spec:{block_line}:" in text
    assert re.search(rf"^{call_line} \| down\(64\)\n.*in this block instance", text, re.MULTILINE)


def test_residual_mismatch_names_both_shapes_and_suggests_projection():
    text = render(CORPUS / "residual_mismatch.spec")
    assert "16x16x32" in text and "32x32x16" in text
    assert "shortcut { conv 32 1x1 stride=2 }" in text


def test_unknown_names_suggest_the_closest():
    assert "did you mean `maxpool`?" in render(CORPUS / "unknown_kind.spec")
    assert "did you mean `stride`?" in render(CORPUS / "unknown_parameter.spec")
    assert "did you mean `basic`?" in render(CORPUS / "block_unknown.spec")


def test_whole_corpus_in_one_subprocess_exits_1_without_internal_error():
    paths = [display_path(spec) for spec in SPECS]
    result = subprocess.run(
        [sys.executable, "-m", "specc", "check", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "internal error" not in result.stderr
    for path in paths:
        assert re.search(rf"^{re.escape(path)}: \d+ errors?$", result.stderr, re.MULTILINE), path
