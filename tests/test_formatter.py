"""``specc fmt``: canonical layout, comments kept, idempotent, the IR unchanged."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specc import equivalence, formatter
from specc.compiler import check_text
from specc.diagnostics import SpecError
from specc.equivalence import digest, first_difference, rewrite_difference
from specc.formatter import find_comments, format_source, print_program
from specc.source import SourceFile
from tests.golden_diagnostics import run_check
from tests.test_fuzz import programs, relined

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.spec"))
IDS = [s.stem for s in SPECS]

MESSY = """\
# header comment


model   messy   # the name
input 32x32x3 ;conv 8 3x3   relu # two on a line
block basic(f,stride=1){
  # inside the block
  residual { conv f 3x3 stride=stride padding=same
\tbn ; relu
     conv (f*4-(2+1)) 1x1 # trailing
     # end of the body

  } shortcut {  # shortcut comment
    conv f 1x1 stride = stride
  }
}
repeat 2 { basic(8) }  # two
branch concat { conv 4 1x1 } { conv 4 3x3 padding=same }
flatten
dense 10 softmax
train { data cifar10
  optimizer adam lr=1e-3 }
# final
"""


def graph(text: str):
    model = check_text(text).model
    assert model is not None
    return [
        (n.kind, n.name, [(a.key, a.value, a.value_kind) for a in n.args], n.inputs, n.role)
        for n in model.nodes
    ], model.train.model_dump(exclude={"span", "spans"})


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_specs_are_in_canonical_form(spec: Path):
    text = spec.read_text(encoding="utf-8")
    assert format_source(text, str(spec)) == text, f"run `specc fmt {spec.relative_to(ROOT)}`"


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_formatting_is_idempotent_and_keeps_the_ir(spec: Path):
    text = spec.read_text(encoding="utf-8")
    once = format_source(text)
    assert format_source(once) == once
    assert graph(once) == graph(text)


def test_messy_spec_layout():
    formatted = format_source(MESSY)
    assert formatted == format_source(formatted)
    assert graph(formatted) == graph(MESSY)
    lines = formatted.splitlines()
    assert lines[:4] == ["# header comment", "", "model messy  # the name",
                         "input 32x32x3; conv 8 3x3 relu  # two on a line"]  # fmt: skip
    assert "  # inside the block" in lines
    assert "    conv (f * 4 - (2 + 1)) 1x1  # trailing" in lines
    assert "    # end of the body" in lines
    assert "  } shortcut {  # shortcut comment" in lines
    assert "    conv f 1x1 stride=stride" in lines
    assert "repeat 2 { basic(8) }  # two" in lines
    assert lines[-1] == "# final"
    assert "\t" not in formatted and "  \n" not in formatted
    assert [c.text for c in find_comments(MESSY)] == [c.text for c in find_comments(formatted)]


def test_every_comment_survives():
    text = "input 8  # in\n# between\ndense 4  # out\n# end\n"
    assert format_source(text) == text
    assert format_source('input 8\ntrain { data "folder:#x" }  # real\n').count("#") == 2


def test_long_lines_are_split():
    layers = "; ".join(["dense 1024 relu use_bias=false"] * 5)
    formatted = format_source(f"input 8\n{layers}\n")
    assert all(len(line) <= 100 for line in formatted.splitlines())
    assert formatted.count("\n") == 6
    assert format_source(formatted) == formatted


def test_syntax_errors_are_refused_with_diagnostics():
    with pytest.raises(SpecError) as info:
        format_source("input 8\ndense 4 {\n", "bad.spec")
    assert [d.code for d in info.value.diagnostics] == ["E0102"]


def test_empty_and_comment_only_specs():
    assert format_source("") == ""
    assert format_source("\n\n") == ""
    assert format_source("# only\n\n\n# comments") == "# only\n\n# comments\n"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.booleans())
def test_generated_programs_format_idempotently(program, compact):
    text = print_program(relined(program, compact))
    # a layout the formatter would never produce: one more space everywhere it can go
    messy = text.replace(" ", "  ").replace("{", "{ ").replace("\n", " \n")
    once = format_source(messy)
    assert format_source(once) == once
    assert once == text
    assert graph_or_none(once) == graph_or_none(text)


def graph_or_none(text: str):
    model = check_text(text).model
    return None if model is None else graph(text)


def test_fmt_cli_check_and_rewrite(tmp_path: Path):
    good = tmp_path / "good.spec"
    good.write_text("input 8\ndense 4\n")
    messy = tmp_path / "messy.spec"
    messy.write_text(MESSY)
    bad = tmp_path / "bad.spec"
    bad.write_text("input 8\ndense 4 {\n")

    assert run_check(["fmt", "--check", str(good)])[0] == 0
    status, _, err = run_check(["fmt", "--check", str(good), str(messy)])
    assert status == 1 and f"would reformat {messy}" in err
    assert messy.read_text() == MESSY  # --check changes nothing

    status, _, err = run_check(["fmt", str(messy)])
    assert status == 0 and f"reformatted {messy}" in err
    assert messy.read_text() == format_source(MESSY)
    assert run_check(["fmt", "--check", str(messy)])[0] == 0
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write leaves no temporary file

    status, _, err = run_check(["fmt", str(bad)])
    assert status == 1 and "error[E0102]" in err
    assert bad.read_text() == "input 8\ndense 4 {\n"

    assert run_check(["fmt", str(tmp_path / "missing.spec")])[0] == 2
    assert run_check(["fmt", str(tmp_path)])[0] == 2


# -- fmt proves each rewrite before writing it -------------------------------------------------


def test_a_rewrite_that_would_change_the_model_is_not_written(tmp_path: Path, monkeypatch):
    path = tmp_path / "messy.spec"
    path.write_text(MESSY)
    before = path.stat()

    def drop_last_argument(stmt):  # a broken printer: loses the last argument of every line
        return " ".join([stmt.name, *(formatter.format_arg(a) for a in stmt.args[:-1])])

    monkeypatch.setattr(formatter, "_head", drop_last_argument)
    status, _, err = run_check(["fmt", str(path)])
    assert status == 3
    assert f"internal error: formatting {path} would change its model" in err
    assert "(model.ir." in err and "the file is left unchanged" in err
    assert "Traceback" not in err
    assert path.read_text() == MESSY and path.stat().st_mtime_ns == before.st_mtime_ns
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_proof_compares_errors_too(tmp_path: Path):
    # a spec with a shape error is still formatted: its errors (codes, messages) are the same
    text = "input   8x8x3\nconv 8 9x9   relu\n\n\n\nflatten ; dense 10\n"
    path = tmp_path / "bad_shape.spec"
    path.write_text(text)
    assert not check_text(text).ok
    status, _, err = run_check(["fmt", str(path)])
    assert status == 0 and "reformatted" in err
    assert path.read_text() == "input 8x8x3\nconv 8 9x9 relu\n\nflatten; dense 10\n"
    before, after = check_text(text), check_text(path.read_text())
    assert [(d.code, d.message) for d in before.diagnostics] == [
        (d.code, d.message) for d in after.diagnostics
    ]


def test_rewrite_difference_names_what_differs():
    source = SourceFile("x.spec", "input 8\ndense 4 relu\n")
    assert rewrite_difference(source, "input 8\n\n\ndense   4   relu\n") is None
    what = rewrite_difference(source, "input 8\ndense 5 relu\n")
    assert what == "model.ir.nodes[1].args[0].value: 4 became 5", what
    what = rewrite_difference(source, "input 8\ndense 4 relu\nrelu\n")
    assert "nodes: 2 items became 3" in what
    what = rewrite_difference(source, "input 8\ndense 4 relu @\n")
    assert what.startswith("model.ir: ") or "diagnostics" in what


def test_fmt_check_reports_without_writing_or_proving(tmp_path: Path, monkeypatch):
    path = tmp_path / "messy.spec"
    path.write_text(MESSY)
    monkeypatch.setattr(equivalence, "rewrite_difference", lambda *a: pytest.fail("proved"))
    assert run_check(["fmt", "--check", str(path)])[0] == 1
    assert path.read_text() == MESSY


# -- what fmt keeps and refuses ----------------------------------------------------------------


def test_byte_order_mark_is_kept(tmp_path: Path):
    path = tmp_path / "bom.spec"
    path.write_bytes("\ufeffinput   8\ndense 4\n".encode())
    assert run_check(["fmt", str(path)])[0] == 0
    assert path.read_bytes() == "\ufeffinput 8\ndense 4\n".encode()
    assert run_check(["fmt", "--check", str(path)])[0] == 0


@pytest.mark.parametrize("digit", ["１", "٣", "𝟗"])
def test_non_ascii_digits_are_refused_and_the_file_kept(tmp_path: Path, digit):
    path = tmp_path / "digits.spec"
    text = f"input 8\ndense   {digit}\n"
    path.write_text(text)
    status, _, err = run_check(["fmt", str(path)])
    assert status == 1 and "error[E0106]" in err and "not formatted" in err
    assert path.read_text() == text


def test_limit_errors_are_refused_and_the_file_kept(tmp_path: Path):
    path = tmp_path / "deep.spec"
    text = "input 8\n" + "repeat 1 {\n" * 500 + "dense 4\n" + "}\n" * 500
    path.write_text(text)
    status, _, err = run_check(["fmt", str(path)])
    assert status == 1 and "error[E0107]" in err and "Traceback" not in err
    assert path.read_text() == text


@pytest.mark.parametrize("mode", [0o644, 0o755, 0o600, 0o640])
def test_fmt_keeps_the_file_mode(tmp_path: Path, mode):
    path = tmp_path / "messy.spec"
    path.write_text(MESSY)
    path.chmod(mode)
    assert run_check(["fmt", str(path)])[0] == 0
    assert path.read_text() == format_source(MESSY)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_fmt_rewrites_the_target_of_a_symlink_and_keeps_the_link(tmp_path: Path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "model.spec"
    target.write_text(MESSY)
    link = tmp_path / "model.spec"
    link.symlink_to(Path("real") / "model.spec")  # relative, as links usually are
    status, _, err = run_check(["fmt", str(link)])
    assert status == 0 and f"reformatted {link}" in err
    assert link.is_symlink() and os.readlink(link) == str(Path("real") / "model.spec")
    assert target.read_text() == format_source(MESSY)
    assert run_check(["fmt", "--check", str(link)])[0] == 0


def test_fmt_leaves_a_missing_link_target_alone(tmp_path: Path):
    link = tmp_path / "dangling.spec"
    link.symlink_to(tmp_path / "nowhere.spec")
    status, _, err = run_check(["fmt", str(link)])
    assert status == 2 and "no such file" in err
    assert link.is_symlink() and not (tmp_path / "nowhere.spec").exists()


def test_the_comparison_walks_deep_structures_without_recursion():
    deep_a = deep_b = ()
    for _ in range(50_000):  # far deeper than Python's recursion limit
        deep_a, deep_b = (deep_a, 1), (deep_b, 1)
    assert first_difference(deep_a, deep_b) is None
    assert first_difference((deep_a, 2), (deep_b, 3)) == "model[1]: 2 became 3"
    assert first_difference([1.0, float("nan")], [1.0, float("nan")]) is None
    assert first_difference([1], [1.0]) == "model[0]: 1 became 1.0"


def test_digest_agrees_with_the_comparison():
    source = "block b(f) {\n  dense (f * 2)\n}\ninput 8\nb(4); b(4)\ntrain { data iris }\n"
    same = check_text(source.replace("(f * 2)", "(f*2)"))
    other = check_text(source.replace("(f * 2)", "(f * 3)"))
    base = check_text(source)
    assert digest(equivalence._comparable(base)) == digest(equivalence._comparable(same))
    assert digest(equivalence._comparable(base)) != digest(equivalence._comparable(other))
    assert digest([float("nan"), 10**5000]) == digest([float("nan"), 10**5000])
    assert digest([1]) != digest([1.0]) != digest(["1"]) != digest([True])
    huge = first_difference([10**5000], [10**5000 + 1])
    assert huge == "model[0]: an integer of 16,610 bits became an integer of 16,610 bits"
