"""The command line's start-up: pydantic's plugin loader answered without its machinery."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pydantic

from specc.startup import LOADER_NAMES, PYDANTIC_LOADER, no_plugins
from tests.emitted import ROOT

PLUGIN_PACKAGE = Path(pydantic.__file__).parent / "plugin"


def _imported_modules(*argv: str, env: dict[str, str]) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "specc", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}


def test_the_stand_in_offers_every_name_pydantic_takes_from_its_loader():
    used = set()
    for path in PLUGIN_PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for names in re.findall(r"from \._loader import ([\w, ]+)", text):
            used |= {name.strip() for name in names.split(",")}
        used |= set(re.findall(r"\b_loader\.(\w+)", text))
    assert used, f"pydantic no longer uses {PYDANTIC_LOADER}: drop specc/startup.py's stand-in"
    assert used <= set(LOADER_NAMES), f"pydantic now also takes {sorted(used - set(LOADER_NAMES))}"


def test_the_stand_in_answers_as_pydantic_does_with_plugins_off():
    probe = (
        "import os; os.environ['PYDANTIC_DISABLE_PLUGINS'] = '1'\n"
        f"from {PYDANTIC_LOADER} import get_plugins\n"
        "print(list(get_plugins()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == str(list(no_plugins()))


def test_the_command_line_validates_without_importlib_metadata():
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    imported = _imported_modules("check", "specs/cifar10_cnn.spec", env=env)
    assert "pydantic._internal._model_construction" in imported
    assert "importlib.metadata" not in imported


def test_a_users_own_plugin_setting_keeps_pydantics_loader():
    env = {**os.environ, "PYDANTIC_DISABLE_PLUGINS": "some_plugin"}
    imported = _imported_modules("check", "specs/cifar10_cnn.spec", env=env)
    assert "importlib.metadata" in imported
