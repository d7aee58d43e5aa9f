"""The ``specc check`` contract: exit statuses, the JSON schema, ``--explain``, no heavy imports.

Whether the shapes and counts are *right* is tested against real Keras and PyTorch elsewhere;
here the JSON and the text table must agree with each other and with the checked model.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from specc.compiler import check_file
from specc.layers import fmt_shape
from tests.golden_diagnostics import ROOT, corpus_specs, run_check

SPECS = sorted((ROOT / "specs").glob("*.spec"))
REFERENCE = ROOT / "specs" / "cifar10_cnn.spec"
IDS = [s.stem for s in SPECS]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_exit_0_when_every_spec_is_valid():
    status, out, err = run_check(["check", *(rel(s) for s in SPECS)])
    assert status == 0, err
    assert err == ""
    for spec in SPECS:
        assert f"({rel(spec)})" in out


def test_exit_1_when_any_spec_has_errors():
    bad = corpus_specs()[0]
    status, out, err = run_check(["check", rel(REFERENCE), rel(bad)])
    assert status == 1
    assert "cifar10_cnn" in out  # the valid one is still reported
    assert "error[" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "specs/no_such_file.spec"],
        ["check", "specs"],
        ["check", "--no-such-flag", "specs/cifar10_cnn.spec"],
        ["check", "--format", "yaml", "specs/cifar10_cnn.spec"],
        ["check"],
        ["frobnicate"],
        [],
    ],
    ids=["missing", "directory", "bad-flag", "bad-format", "no-spec", "bad-command", "nothing"],
)
def test_exit_2_for_usage_errors(argv):
    try:
        status, _, err = run_check(argv)
    except SystemExit as exc:  # argparse exits by itself for flag errors
        status, err = exc.code, ""
    assert status == 2
    assert "Traceback" not in err


def test_usage_errors_through_a_real_process():
    for argv in (["check", "specs/no_such_file.spec"], ["check", "--bogus", "x.spec"]):
        result = subprocess.run(
            [sys.executable, "-m", "specc", *argv], cwd=ROOT, capture_output=True, text=True
        )
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.strip()


def test_non_utf8_file_is_a_usage_error(tmp_path):
    path = tmp_path / "latin1.spec"
    path.write_bytes(b"input 8\ndense 4 # caf\xe9\n")
    status, _, err = run_check(["check", str(path)])
    assert status == 2 and "UTF-8" in err


def json_documents(paths: list[str]) -> list[dict]:
    status, out, err = run_check(["check", "--format", "json", *paths])
    assert status in (0, 1), err
    lines = out.splitlines()
    assert len(lines) == len(paths)  # one document per spec per line
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_json_schema_and_agreement(spec: Path):
    (doc,) = json_documents([rel(spec)])
    checked = check_file(spec)
    assert doc["model"] == checked.model.name
    assert doc["ok"] is True and doc["diagnostics"] == []
    assert isinstance(doc["layers"], list) and doc["layers"]
    for layer, node in zip(doc["layers"], checked.model.nodes, strict=True):
        assert {"name", "kind", "output_shape", "params", "macs"} <= set(layer)
        assert isinstance(layer["name"], str) and isinstance(layer["kind"], str)
        assert all(isinstance(d, int) and d > 0 for d in layer["output_shape"])
        assert isinstance(layer["params"], int) and isinstance(layer["macs"], int)
        info = checked.infos[node.index]
        assert (layer["name"], layer["kind"]) == (node.name, node.kind)
        assert tuple(layer["output_shape"]) == info.shape
        assert layer["params"] == info.params
        assert layer["macs"] == info.macs
    totals = doc["totals"]
    assert {"params", "trainable_params", "non_trainable_params", "macs"} <= set(totals)
    assert totals["params"] == totals["trainable_params"] + totals["non_trainable_params"]
    assert totals["params"] == sum(layer["params"] for layer in doc["layers"])
    assert totals["macs"] == sum(layer["macs"] for layer in doc["layers"])
    assert totals == {k: v for k, v in checked.totals().items() if k in totals}


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_json_agrees_with_the_text_table(spec: Path):
    (doc,) = json_documents([rel(spec)])
    _, text, _ = run_check(["check", rel(spec)])
    rows = {}
    for line in text.splitlines():
        cells = line.split()
        if len(cells) >= 5 and re.fullmatch(r"[\d,]+", cells[3]) and cells[0] != "layer":
            rows[cells[0]] = cells
    for layer in doc["layers"]:
        _, kind, shape, params, macs = rows[layer["name"]][:5]
        assert kind == layer["kind"]
        assert shape == fmt_shape(tuple(layer["output_shape"]))
        assert params == f"{layer['params']:,}"
        assert macs == f"{layer['macs']:,}"
    totals = doc["totals"]
    assert (
        f"params: {totals['params']:,} total = {totals['trainable_params']:,} trainable"
        f" + {totals['non_trainable_params']:,} non-trainable"
    ) in text
    assert f"MACs:   {totals['macs']:,} per sample" in text


def test_json_several_specs_one_line_each():
    bad = corpus_specs()[0]
    docs = json_documents([rel(REFERENCE), rel(bad)])
    assert [d["ok"] for d in docs] == [True, False]
    assert docs[1]["diagnostics"][0]["file"] == rel(bad)


def test_explain_shows_the_arithmetic():
    status, out, _ = run_check(["check", "--explain", rel(REFERENCE)])
    assert status == 0
    checked = check_file(REFERENCE)
    for node in checked.model.nodes:
        for line in checked.explain(node.index):
            assert f"      {line}" in out
    # the walk-through's three sizes, as the reference spec yields them
    assert "H: (32 − 3) / 1 + 1 = 30" in out
    assert "H: ⌊30 / 2⌋ = 15" in out
    assert "4·4·64 = 1,024" in out
    plain = run_check(["check", rel(REFERENCE)])[1]
    assert "⌊" not in plain


def test_internal_error_guard_exits_3(monkeypatch):
    import specc.compiler

    def boom(source):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(specc.compiler, "check_source", boom)
    monkeypatch.delenv("SPECC_DEBUG", raising=False)
    status, _, err = run_check(["check", rel(REFERENCE)])
    assert status == 3
    assert "internal error" in err and "SPECC_DEBUG" in err


def test_no_corpus_spec_reaches_the_internal_error_guard():
    paths = [rel(p) for p in corpus_specs()] + [rel(p) for p in SPECS]
    for fmt in ("text", "json"):
        status, _, err = run_check(["check", "--format", fmt, *paths])
        assert status == 1
        assert "internal error" not in err


@pytest.mark.parametrize("command", ["check", "fmt --check"])
def test_check_and_fmt_import_no_framework(command):
    code = (
        "import sys\n"
        "from specc.cli import main\n"
        f"status = main({command.split()!r} + {[rel(s) for s in SPECS]!r})\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'torch', 'jax', 'numpy'))\n"
        "print(status, heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip().splitlines()[-1] == "0 []", result.stdout + result.stderr


def test_check_import_time_has_no_framework():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "specc", "check", rel(REFERENCE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "specc.compiler" in imported
    assert not {m for m in imported if m.split(".")[0] in ("tensorflow", "keras", "torch")}
