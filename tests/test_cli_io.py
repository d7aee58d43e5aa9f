"""The command line's output contract: unwritable files, full disks, closed pipes.

Every test runs ``python -m specc`` as a real process, the way the console script runs it, so
that the quick exit of ``check``/``emit``/``fmt`` (no interpreter teardown) is what is tested.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from specc.emit import emit_source
from tests.emitted import ROOT, check_spec, spec_paths

SPECS = [str(path.relative_to(ROOT)) for path in spec_paths()]
DEV_FULL = Path("/dev/full")


def _specc(*args: str, **options) -> subprocess.CompletedProcess:
    settings = {"cwd": ROOT, "capture_output": True, "text": True, "check": False, "timeout": 120}
    settings.update(options)
    return subprocess.run([sys.executable, "-m", "specc", *args], **settings)


def test_emit_into_a_path_that_cannot_exist_is_a_usage_error(tmp_path):
    blocker = tmp_path / "model.py"
    blocker.write_text("not a folder\n")
    target = blocker / "nested.py"
    result = _specc("emit", "specs/iris_mlp.spec", "-b", "torch", "-o", str(target))
    assert result.returncode == 2
    assert result.stderr.startswith(f"specc: error: {target}: ")
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert blocker.read_text() == "not a folder\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.py"]


def test_emit_replaces_an_existing_file_whole(tmp_path):
    target = tmp_path / "model.py"
    target.write_text("x" * 100_000)
    result = _specc("emit", "specs/iris_mlp.spec", "-b", "keras", "-o", str(target))
    assert result.returncode == 0, result.stderr
    expected = emit_source(check_spec(ROOT / "specs/iris_mlp.spec"), "keras")
    assert target.read_text() == expected
    assert [p.name for p in tmp_path.iterdir()] == ["model.py"]  # no temporary file left


@pytest.mark.skipif(not DEV_FULL.exists(), reason="/dev/full is a Linux device")
@pytest.mark.parametrize(
    "argv",
    [["check", *SPECS], ["emit", "specs/resnet18.spec", "-b", "torch"], ["layers"]],
    ids=["check", "emit", "layers"],
)
def test_output_to_a_full_disk_is_an_error_not_a_success(argv):
    with DEV_FULL.open("w") as full:
        result = _specc(*argv, stdout=full, stderr=subprocess.PIPE, capture_output=False)
    assert result.returncode == 2
    assert "No space left on device" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_a_reader_that_stops_early_is_not_an_error():
    # Three times every spec is well over a pipe's buffer, so the writer meets the closed pipe.
    with subprocess.Popen(
        [sys.executable, "-m", "specc", "check", *SPECS * 3],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        first = process.stdout.readline()
        process.stdout.close()
        status = process.wait(timeout=120)
        errors = process.stderr.read()
    assert f"({SPECS[0]})" in first
    assert status == 0
    assert errors == ""


def test_quick_commands_deliver_all_of_a_large_output():
    result = _specc("check", *SPECS * 3)
    assert result.returncode == 0, result.stderr
    single = _specc("check", *SPECS)
    assert result.stdout == "\n\n".join([single.stdout.rstrip("\n")] * 3) + "\n"
