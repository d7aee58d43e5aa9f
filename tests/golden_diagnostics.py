"""The diagnostics corpus: bad specs under ``tests/golden/diagnostics`` and what ``specc check``
prints for each.

``NAME.spec`` is a spec with one or more mistakes; ``NAME.txt`` is the exact text ``specc check``
writes to stderr for it, produced by :func:`regenerate` (``make golden``).  Paths in the text are
relative to the repository root, so the files do not depend on where the tests run.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "golden" / "diagnostics"


def corpus_specs() -> list[Path]:
    """Every bad spec of the corpus, sorted by name."""
    return sorted(CORPUS.glob("*.spec"))


def display_path(spec: Path) -> str:
    """The path as a user at the repository root would type it."""
    return spec.relative_to(ROOT).as_posix()


def run_check(argv: list[str]) -> tuple[int, str, str]:
    """Run ``specc`` in-process from the repository root: (exit status, stdout, stderr)."""
    from specc.cli import main

    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
    finally:
        os.chdir(previous)
    return status, out.getvalue(), err.getvalue()


def render(spec: Path) -> str:
    """What ``specc check SPEC`` prints to stderr for one corpus spec."""
    return run_check(["check", display_path(spec)])[2]


def regenerate() -> list[Path]:
    """Rewrite ``NAME.txt`` for every ``NAME.spec`` of the corpus; return the files written."""
    written = []
    for spec in corpus_specs():
        target = spec.with_suffix(".txt")
        target.write_text(render(spec), encoding="utf-8")
        written.append(target)
    return written


if __name__ == "__main__":
    for path in regenerate():
        print(f"wrote {path}")
