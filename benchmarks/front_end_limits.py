"""Time and memory of the front end on large and hostile specs: ``check`` against ``fmt``.

Every command runs as a fresh process (``python -m specc``), as a user runs it, and its wall
time and peak RSS (``wait4``) are measured.  The inputs: generated specs of 1,000, 10,000 and
50,000 layers (the 10,000 and 50,000 with a comment on every fifth line, as a hand-kept file
has), and inputs at or past every limit of ``specc/limits.py``: a file of 50 MB, one of 8 MiB
of ``relu`` lines (past the token limit), one 8 MB name, a number of a million digits, brackets
nested 100,000 deep, an expression of 100,000 operators.  For each we report the median over
the rounds of ``check``, ``fmt --check`` and ``fmt`` (a rewrite, proved before it is written,
on a copy of a file that needs one), their peak RSS, and the ratio of each to ``check``.  The
commands are interleaved round by round, so that this shared machine's drift weighs on all.

    .venv/bin/python benchmarks/front_end_limits.py [--rounds 3] [--baseline /work/main]

``--baseline DIR`` also runs the same commands with another checkout's ``specc`` (for a
before/after comparison; the slow inputs of an unbounded front end take minutes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000


def layers_spec(count: int, comments: bool) -> str:
    """A spec of ``count`` same-padded conv layers, in canonical layout but for a few lines."""
    lines = ["model big", "input 32x32x8"]
    for i in range(count):
        if comments and i % 5 == 0:
            lines.append(f"# stage {i // 5}")
        lines.append("conv 8 3x3 padding=same relu")
    lines += ["flatten", "dense 10 softmax"]
    return "\n".join(lines) + "\n"


# Name -> a function writing the spec text; each name says what the input is.  Written to files
# one at a time, so that this process stays small: a child's peak RSS as ``wait4`` reports it
# includes what it shared with this process before it started Python.
INPUTS = {
    "1,000 layers": lambda: layers_spec(1_000, False),
    "10,000 layers + comments": lambda: layers_spec(10_000, True),
    "50,000 layers + comments": lambda: layers_spec(50_000, True),
    "50 MB of relu lines (E0112)": lambda: "input 8\n" + "relu\n" * (50 * MB // 5),
    "8 MiB of relu lines (E0113)": lambda: "input 8\n" + "relu\n" * (8 * 1024 * 1024 // 5 - 2),
    "8 MB name (E0109)": lambda: "input 8\n" + "n" * (8 * MB - 100) + "\n",
    "1,000,000-digit number (E0105)": lambda: "input 8\ndense " + "9" * MB + "\n",
    "nesting 100,000 deep (E0107)": lambda: "input 8\n" + "repeat 1 {\n" * 100_000,
    "100,000-operator expression (E0108)": lambda: "input 8\ndense (" + "1+" * 100_000 + "1)\n",
}


# Runs one command and prints its wall time and peak RSS.  It is a small process of its own:
# a child's peak RSS as ``wait4`` reports it includes what the child shared with its parent
# before it started Python, and this script's own process holds the large inputs.
SPAWN = """
import os, sys, time
start = time.perf_counter()
pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "specc", *sys.argv[1:]], os.environ)
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status))
"""


def run(argv: list[str], pythonpath: Path) -> tuple[float, int, int]:
    """Run ``python -m specc ARGV``: (wall seconds, peak RSS in bytes, exit status)."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    result = subprocess.run(
        [sys.executable, "-c", SPAWN, *argv],
        cwd=pythonpath,  # `python -m` looks in the current folder first
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall, peak, status = result.stdout.split()[-3:]
    return float(wall), int(peak), int(status)


def main() -> int:
    """Measure and print one table per checkout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--only", help="run only the inputs whose name contains this")
    args = parser.parse_args()
    checkouts = [("this checkout", ROOT)]
    if args.baseline:
        checkouts.append((f"baseline {args.baseline}", args.baseline.resolve()))
    chosen = {k: v for k, v in INPUTS.items() if not args.only or args.only in k}
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for i, (name, make) in enumerate(chosen.items()):
            paths[name] = Path(folder) / f"input{i}.spec"
            paths[name].write_text(make(), encoding="utf-8")
            # and a copy that fmt must rewrite (one extra blank line at the top)
            paths[name].with_suffix(".messy").write_text("\n" + make(), encoding="utf-8")
        for label, checkout in checkouts:
            print(f"\n{label} ({args.rounds} rounds, medians)\n")
            print(f"{'input':38} {'size':>9} {'check':>14} {'fmt --check':>22} {'fmt':>22}")
            for name, path in paths.items():
                times: dict[str, list[float]] = {"check": [], "fmt --check": [], "fmt": []}
                rss: dict[str, int] = dict.fromkeys(times, 0)
                for _ in range(args.rounds):
                    copy = Path(folder) / "copy.spec"
                    shutil.copyfile(path.with_suffix(".messy"), copy)
                    for command, argv in (
                        ("check", ["check", str(path)]),
                        ("fmt --check", ["fmt", "--check", str(path)]),
                        ("fmt", ["fmt", str(copy)]),
                    ):
                        wall, peak, _ = run(argv, checkout)
                        times[command].append(wall)
                        rss[command] = max(rss[command], peak)
                med = {c: statistics.median(t) for c, t in times.items()}
                cells = [f"{med['check']:6.2f} s {rss['check'] >> 20:4} MiB"]
                for command in ("fmt --check", "fmt"):
                    ratio = med[command] / med["check"]
                    cells.append(f"{med[command]:6.2f} s {rss[command] >> 20:4} MiB {ratio:4.2f}x")
                size = path.stat().st_size / MB
                print(f"{name:38} {size:6.1f} MB {cells[0]:>14} {cells[1]:>22} {cells[2]:>22}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
