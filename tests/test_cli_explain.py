"""``specc explain`` end to end, and the closing line of ``specc check`` that points at it.

The command prints a code's explanation with its example and what ``specc check`` reports
for that example; an unknown code is a usage error (exit 2) with a did-you-mean; without a
code it lists every code.  ``specc check`` never loads the catalogue.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from specc.error_codes import RANGES, codes, lookup
from specc.exit_codes import ExitCode
from tests.golden_diagnostics import CORPUS, ROOT, corpus_specs, display_path, run_check

HINT = re.compile(r"try `specc explain (E\d{4})`\.$")


def _indented(text: str) -> str:
    return "\n".join(f"    {line}".rstrip() for line in text.split("\n"))


def test_explain_prints_the_explanation_the_example_and_what_check_reports():
    status, out, err = run_check(["explain", "E0301"])
    entry = lookup("E0301")
    assert (status, err) == (ExitCode.OK, "")
    assert out.startswith(f"E0301: {entry.title}\n")
    assert _indented(entry.example) in out
    assert _indented(entry.corrected) in out
    report = out.split("specc check reports:", 1)[1]
    assert report.lstrip("\n").startswith("    error[E0301]: ")
    assert "--> example.spec:" in report
    assert "```" not in out  # fences are rendered as indented blocks


@pytest.mark.parametrize("written", ["e0301", "0301", "301"])
def test_explain_accepts_other_spellings(written):
    assert run_check(["explain", written]) == run_check(["explain", "E0301"])


def test_an_unknown_code_is_a_usage_error_with_a_suggestion():
    status, out, err = run_check(["explain", "E0499"])
    assert status == ExitCode.USAGE
    assert out == ""
    suggestion = re.fullmatch(r"specc: error: no error code E0499: did you mean (E\d{4})\?\n", err)
    assert suggestion, err
    assert suggestion.group(1) in codes()


def test_a_word_that_is_no_code_is_a_usage_error():
    status, out, err = run_check(["explain", "relu"])
    assert (status, out) == (ExitCode.USAGE, "")
    assert "`relu` is not an error code" in err


def test_explain_without_a_code_lists_every_code_with_its_title():
    status, out, err = run_check(["explain"])
    assert (status, err) == (ExitCode.OK, "")
    listed = re.findall(r"^  ([A-Z]\d{4})  (.+)$", out, re.MULTILINE)
    assert [code for code, _ in listed] == list(codes())
    assert all(title == lookup(code).title for code, title in listed)
    for group, meaning in RANGES.items():
        assert f"{group}xx  {meaning}\n" in out


def test_explain_of_a_code_no_spec_raises_shows_no_report():
    status, out, _ = run_check(["explain", "E0220"])
    assert status == ExitCode.OK
    assert "No spec alone raises this code" in out
    assert "specc check reports:" not in out


def test_explain_through_the_console_script():
    result = subprocess.run(
        [sys.executable, "-m", "specc", "explain", "e0501"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("E0501: ")
    assert "error[E0501]" in result.stdout


def test_check_ends_with_one_hint_naming_the_codes_of_every_failing_spec():
    specs = [CORPUS / "kernel_too_large.spec", CORPUS / "many_errors.spec"]
    status, out, err = run_check(["check", "specs/cifar10_cnn.spec", *map(display_path, specs)])
    assert status == ExitCode.ERRORS
    assert "cifar10_cnn" in out and "specc explain" not in out
    raised = sorted(set(re.findall(r"^error\[(E\d{4})\]", err, re.MULTILINE)))
    assert len(raised) >= 3
    assert err.count("specc explain") == 1
    assert err.endswith(
        f"\n\nSome errors have detailed explanations: {', '.join(raised)}.\n"
        f"For more information about an error, try `specc explain {raised[0]}`.\n"
    )


@pytest.mark.parametrize("spec", corpus_specs(), ids=[s.stem for s in corpus_specs()])
def test_the_code_a_hint_names_is_explained(spec):
    _, _, err = run_check(["check", display_path(spec)])
    named = HINT.search(err.rstrip())
    assert named, err[-300:]
    status, out, _ = run_check(["explain", named.group(1)])
    assert status == ExitCode.OK and out.startswith(named.group(1))


def test_the_json_form_has_no_hint():
    status, out, err = run_check(["check", "--format", "json", display_path(corpus_specs()[0])])
    assert status == ExitCode.ERRORS
    assert err == ""
    assert "specc explain" not in out
    assert json.loads(out)["ok"] is False


def test_check_does_not_load_the_catalogue():
    probe = (
        "import sys\n"
        "from specc.cli import main\n"
        "assert main(['check', 'specs/cifar10_cnn.spec']) == 0\n"
        "assert main(['check', 'tests/golden/diagnostics/many_errors.spec']) == 1\n"
        "print('specc.error_codes' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_exit_codes_keep_their_meaning():
    # scripts and CI rely on these numbers (README, "Exit status")
    assert [(c.name, int(c)) for c in ExitCode] == [
        ("OK", 0), ("ERRORS", 1), ("USAGE", 2), ("INTERNAL", 3), ("INTERRUPTED", 130)
    ]  # fmt: skip
