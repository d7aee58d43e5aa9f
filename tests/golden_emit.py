"""Golden files of the emitted code: ``tests/golden/emit/<spec-stem>.<backend>.py``.

``make golden`` (``python -m tests.regenerate_golden``) rewrites them from the current code;
review the diff before committing.
"""

from __future__ import annotations

from pathlib import Path

from specc.emit import EmitError, emit_source
from tests.emitted import BACKENDS, ROOT, check_spec, spec_paths

GOLDEN_DIR = ROOT / "tests" / "golden" / "emit"


def golden_path(spec: Path, backend: str) -> Path:
    """Where the golden output of ``spec`` for ``backend`` lives."""
    return GOLDEN_DIR / f"{spec.stem}.{backend}.py"


def regenerate() -> list[Path]:
    """Rewrite every emitted-code golden file (and drop those of removed specs).

    A spec that cannot be emitted yet (say, a layer kind without a snippet) does not stop the
    others; the failures are raised together at the end.
    """
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    failed: list[str] = []
    for spec in spec_paths():
        checked = check_spec(spec)
        for backend in BACKENDS:
            path = golden_path(spec, backend)
            try:
                code = emit_source(checked, backend)
            except EmitError as exc:
                failed.append(f"{spec.name} ({backend}): {exc}")
                continue
            path.write_text(code, encoding="utf-8", newline="\n")
            written.append(path)
    expected = {golden_path(s, b) for s in spec_paths() for b in BACKENDS}
    for stale in set(GOLDEN_DIR.glob("*.py")) - expected:
        stale.unlink()
    if failed:
        raise EmitError("could not emit:\n  " + "\n  ".join(failed))
    return written
