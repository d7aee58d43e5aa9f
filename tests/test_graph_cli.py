"""``specc graph`` on the command line: formats, exit codes, errors, atomic writes, imports.

Each test runs ``python -m specc`` as a real process, as the console script runs it.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from specc import cli
from tests.emitted import ROOT
from tests.graph_svg import parse

DEV_FULL = Path("/dev/full")
HEAVY = ("tensorflow", "torch", "keras", "jax", "numpy", "matplotlib")


def _specc(*args: str, **options) -> subprocess.CompletedProcess:
    settings = {"cwd": ROOT, "capture_output": True, "check": False, "timeout": 120}
    settings.update(options)
    return subprocess.run([sys.executable, "-m", "specc", *args], **settings)


def _clean(stderr: bytes) -> str:
    text = stderr.decode()
    assert "Traceback" not in text and "internal error" not in text
    return text


@pytest.mark.parametrize(
    ("name", "argv", "fmt"),
    [
        ("model.svg", [], "svg"),
        ("model.png", [], "png"),
        ("model.dot", [], "dot"),
        ("model.gv", [], "dot"),
        ("model.txt", ["--format", "dot"], "dot"),
        ("model.SVG", ["--depth", "0", "--direction", "lr"], "svg"),
    ],
)
def test_the_file_name_or_format_picks_the_format(tmp_path, name, argv, fmt):
    target = tmp_path / name
    result = _specc("graph", "specs/cifar_resnet.spec", "-o", str(target), *argv)
    assert result.returncode == 0, result.stderr
    assert _clean(result.stderr) == f"wrote {target} ({fmt})\n"
    data = target.read_bytes()
    if fmt == "svg":
        drawing = parse(data.decode())
        assert drawing.model == "cifar_resnet"
        assert drawing.direction == ("LR" if "lr" in argv else "TB")
    elif fmt == "png":
        image = Image.open(io.BytesIO(data))
        image.load()
        assert image.format == "PNG" and image.width > 100 and image.height > 100
    else:
        assert data.decode().startswith('digraph "cifar_resnet" {')
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


def test_without_a_file_the_svg_goes_to_stdout():
    result = _specc("graph", "specs/cifar10_cnn.spec")
    assert result.returncode == 0 and result.stderr == b""
    assert parse(result.stdout.decode()).model == "cifar10_cnn"
    dot = _specc("graph", "specs/cifar10_cnn.spec", "--format", "dot", "-o", "-")
    assert dot.returncode == 0 and dot.stdout.startswith(b'digraph "cifar10_cnn"')


def test_a_png_goes_down_a_pipe():
    result = _specc("graph", "specs/cifar10_cnn.spec", "--format", "png")
    assert result.returncode == 0 and result.stderr == b""
    image = Image.open(io.BytesIO(result.stdout))
    image.load()
    assert image.format == "PNG"


def test_a_spec_with_errors_prints_checks_diagnostics_and_writes_nothing(tmp_path):
    spec = tmp_path / "bad.spec"
    spec.write_text("input 8x8x3\nconv 16 9x9\ndense 10\nmaxpol 2\n")
    target = tmp_path / "out.svg"
    result = _specc("graph", str(spec), "-o", str(target))
    check = _specc("check", str(spec))
    assert result.returncode == check.returncode == 1
    assert _clean(result.stderr) == check.stderr.decode()
    assert "error[" in result.stderr.decode() and result.stdout == b""
    assert not target.exists()
    target.write_text("kept")
    assert _specc("graph", str(spec), "-o", str(target)).returncode == 1
    assert target.read_text() == "kept"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-o", "{tmp}/model.txt"], "cannot tell the format of"),
        (["-o", "{tmp}/model.svg", "--depth", "-1"], "--depth takes a whole number"),
        (["-o", "{tmp}/blocker/model.svg"], "{tmp}/blocker/model.svg: "),
        (["-o", "{tmp}/model.svg", "--direction", "up"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_and_write_nothing(tmp_path, argv, message):
    (tmp_path / "blocker").write_text("a file, not a folder\n")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    result = _specc("graph", "specs/cifar10_cnn.spec", *argv)
    assert result.returncode == 2
    assert message.replace("{tmp}", str(tmp_path)) in _clean(result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]
    assert (tmp_path / "blocker").read_text() == "a file, not a folder\n"


def test_a_missing_spec_is_a_usage_error(tmp_path):
    result = _specc("graph", str(tmp_path / "nope.spec"), "-o", str(tmp_path / "x.svg"))
    assert result.returncode == 2
    assert "no such file" in _clean(result.stderr)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not DEV_FULL.exists(), reason="/dev/full is a Linux device")
def test_stdout_on_a_full_disk_is_an_error():
    with DEV_FULL.open("wb") as full:
        result = _specc(
            "graph",
            "specs/resnet18.spec",
            stdout=full,
            stderr=subprocess.PIPE,
            capture_output=False,
        )
    assert result.returncode == 2
    assert "No space left on device" in _clean(result.stderr)


@pytest.mark.parametrize("name", ["model.svg", "model.png"])
def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch, capsys, name):
    target = tmp_path / name
    target.write_bytes(b"the old diagram")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    status = cli.main(["graph", str(ROOT / "specs/cifar10_cnn.spec"), "-o", str(target)])
    assert status == 2
    assert f"{target}: No space left on device" in capsys.readouterr().err
    assert target.read_bytes() == b"the old diagram"
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_a_new_png_gets_the_usual_permissions(tmp_path):
    target = tmp_path / "model.png"
    mask = os.umask(0o022)
    try:
        assert cli.main(["graph", str(ROOT / "specs/cifar10_cnn.spec"), "-o", str(target)]) == 0
    finally:
        os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o644


def _imports_of(*argv: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "specc", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}


@pytest.mark.parametrize("fmt", ["svg", "dot", "png"])
def test_graph_imports_no_framework(tmp_path, fmt):
    target = tmp_path / f"resnet50.{fmt}"
    imported = _imports_of("graph", "specs/resnet50.spec", "-o", str(target))
    roots = {name.split(".")[0] for name in imported}
    assert "specc.diagram.layout" in imported or fmt == "dot"
    assert not roots & set(HEAVY), sorted(roots & set(HEAVY))
    assert ("PIL" in roots) == (fmt == "png")  # Pillow only for a PNG
    assert target.exists()
