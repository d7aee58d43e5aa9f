"""Regenerate every golden file: ``make golden`` (or ``python -m tests.regenerate_golden``).

Review the diff before committing: a golden file changes only when the output is meant to.
"""

from __future__ import annotations

import importlib


def main() -> None:
    """Rewrite the emitted-code, diagnostics and diagram golden files from the current code."""
    for name in ("tests.golden_emit", "tests.golden_diagnostics", "tests.golden_graph"):
        module = importlib.import_module(name)
        for path in module.regenerate():
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
