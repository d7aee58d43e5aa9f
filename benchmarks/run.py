"""``make bench``: run every benchmark script under ``benchmarks/`` in turn.

.venv/bin/python benchmarks/run.py            # all of them, train_*.py included
.venv/bin/python benchmarks/run.py --front-end  # only the front end's (no training)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def has_cuda() -> bool:
    """Whether PyTorch sees a CUDA device (asked in a child, to keep torch out of this one)."""
    probe = "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def scripts(front_end_only: bool) -> list[Path]:
    """The benchmark scripts to run, in name order (``*_gpu.py`` only where there is a GPU)."""
    found = sorted(p for p in HERE.glob("*.py") if p.name not in ("run.py", "__init__.py"))
    if front_end_only:
        return [p for p in found if not p.name.startswith("train_")]
    gpu = [p for p in found if p.stem.endswith("_gpu")]
    if gpu and not has_cuda():
        print(f"skipping {', '.join(p.name for p in gpu)}: no CUDA device", flush=True)
        found = [p for p in found if p not in gpu]
    return found


def main() -> int:
    """Run each script; the exit status is non-zero if any failed."""
    parser = argparse.ArgumentParser(description="run the benchmarks")
    parser.add_argument("--front-end", action="store_true", help="skip benchmarks/train_*.py")
    args = parser.parse_args()
    failed = []
    for script in scripts(args.front_end):
        print(f"== {script.relative_to(HERE.parent)}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
