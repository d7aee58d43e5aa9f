"""Commands that need a framework, in a Python where it is not installed.

The environment is real: a fresh virtual environment (without the system's or the shared
site-packages) whose only packages are specc's required ones (lark, pydantic, jinja2 and what
they need), linked from the test's own environment, plus this checkout of specc.  numpy,
PyTorch and TensorFlow cannot be imported there, as after `pip install specc`.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_train import DIGITS, ROOT

# specc's required packages and theirs (what `pip install specc` brings)
CORE = ("annotated_types", "jinja2", "lark", "markupsafe", "pydantic", "pydantic_core",
        "typing_extensions.py", "typing_inspection")  # fmt: skip


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """``run(*args)``: a command in the bare environment; returns the CompletedProcess."""
    root = tmp_path_factory.mktemp("bare")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(importlib.util.find_spec("pydantic").origin).parent.parent
    deps = root / "deps"
    deps.mkdir()
    for name in CORE:
        (deps / name).symlink_to(site / name)
    (deps / "specc").symlink_to(ROOT / "specc")
    (venv_site,) = (venv / "lib").glob("python3*/site-packages")
    (venv_site / "specc_core.pth").write_text(f"{deps}\n")
    python = venv / "bin" / "python"

    def run(*args, cwd=root):
        return subprocess.run(
            [str(python), *map(str, args)],
            cwd=cwd, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    return run


def written_files(folder):
    """The files in ``folder``, Python's bytecode cache left out."""
    return sorted(p for p in folder.rglob("*") if "__pycache__" not in p.parts)


def test_the_bare_environment_has_specc_but_no_framework(bare):
    for module in ("numpy", "torch", "tensorflow", "keras"):
        result = bare("-c", f"import {module}")
        assert result.returncode == 1 and "ModuleNotFoundError" in result.stderr, module
    assert bare("-m", "specc", "check", DIGITS).returncode == 0


@pytest.mark.parametrize(
    ("backend", "missing", "extra"),
    [("torch", "torch, numpy are", "torch"), ("keras", "keras, numpy, tensorflow are", "keras")],
)
def test_specc_train_says_what_to_install_before_writing_anything(bare, tmp_path, backend,
                                                                  missing, extra):  # fmt: skip
    out = tmp_path / "run"
    result = bare("-m", "specc", "train", DIGITS, "-b", backend, "--out", out)
    assert result.returncode == 2, result.stderr
    assert f"specc train --backend {backend}: this needs" in result.stderr
    assert f"{missing} not installed" in result.stderr
    assert f"pip install 'specc[{extra}]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists(), "nothing is written"


def test_port_weights_says_what_to_install_before_reading_anything(bare, tmp_path):
    target = tmp_path / "w.pt"
    result = bare("-m", "specc", "port-weights", DIGITS, "--from", tmp_path / "missing.keras",
                  "--to", target)  # fmt: skip
    assert result.returncode == 2
    assert "specc port-weights: this needs Keras 3 and PyTorch" in result.stderr
    assert "pip install 'specc[all]'" in result.stderr and "Traceback" not in result.stderr
    assert not target.exists()


def test_a_run_folder_says_what_to_install(bare, tmp_path):
    """``specc emit --train`` needs no framework; the folder's train.py then names the plain
    packages (it runs without specc)."""
    run = tmp_path / "run"
    written = bare("-m", "specc", "emit", DIGITS, "-b", "torch", "--train", "-o", run)
    assert written.returncode == 0, written.stderr
    before = written_files(run)
    result = bare(run / "train.py", "--epochs", "1")
    assert result.returncode == 2
    assert result.stderr.startswith("error: this needs PyTorch, but torch, numpy are not")
    assert result.stderr.rstrip().endswith("pip install torch numpy")
    assert written_files(run) == before, "nothing is written"
