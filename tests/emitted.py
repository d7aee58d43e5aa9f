"""Helpers for tests that need emitted code: the specs, checking them, importing the output."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from specc.compiler import CheckedModel, check_text
from specc.emit import emit_source

ROOT = Path(__file__).resolve().parent.parent
SPECS_DIR = ROOT / "specs"
BACKENDS = ("keras", "torch")


def spec_paths() -> list[Path]:
    """Every spec under ``specs/``, sorted (tests parametrize over this)."""
    return sorted(SPECS_DIR.glob("*.spec"))


def check_spec(path: Path) -> CheckedModel:
    """Check a spec, naming it by its path relative to the repository (``specs/x.spec``),
    so that the emitted header does not depend on the working directory."""
    name = path.resolve().relative_to(ROOT).as_posix()
    checked = check_text(path.read_text(encoding="utf-8"), name=name)
    assert checked.ok, f"{name} has errors: {[d.message for d in checked.diagnostics]}"
    return checked


def write_emitted(checked: CheckedModel, backend: str, folder: Path) -> Path:
    """Emit ``checked`` for ``backend`` into ``folder/<model>_<backend>.py``."""
    assert checked.model is not None
    path = Path(folder) / f"{checked.model.name}_{backend}.py"
    path.write_text(emit_source(checked, backend), encoding="utf-8")
    return path


def load_emitted(checked: CheckedModel, backend: str, tmp_path: Path) -> ModuleType:
    """Emit ``checked`` for ``backend`` into ``tmp_path`` and import it as a fresh module."""
    path = write_emitted(checked, backend, tmp_path)
    name = f"emitted_{path.stem}_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module
