"""How fast ``specc graph`` is, next to ``specc check`` of the same specs, in the same run.

Every command runs as a fresh process through the ``specc`` console script, interleaved round
by round (check_speed.py's way of measuring: a slow minute of this machine weighs on all of
them alike).  Reported: median and minimum wall, peak RSS, and the median of per-round ratios
graph / check for the reference spec and for ResNet-50 (SVG; PNG and DOT of ResNet-50 too).
In-process, the drawing alone (groups, layout, SVG) is timed apart from the check.

    .venv/bin/python -m compileall -q specc    # as an installed package has its .pyc files
    .venv/bin/python benchmarks/graph_speed.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from check_speed import Command, paired_ratio, run_rounds  # noqa: E402

ROOT = HERE.parent
REFERENCE = ROOT / "specs" / "cifar10_cnn.spec"
RESNET50 = ROOT / "specs" / "resnet50.spec"


def in_process(spec: Path, repeats: int = 7) -> tuple[float, float]:
    """Median seconds of the check alone and of drawing the checked model as SVG."""
    from specc.compiler import check_file
    from specc.diagram.output import render

    render(check_file(spec), "svg")  # warm: parser tables, schemas
    checks, draws = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        checked = check_file(spec)
        middle = time.perf_counter()
        render(checked, "svg")
        checks.append(middle - start)
        draws.append(time.perf_counter() - middle)
    return statistics.median(checks), statistics.median(draws)


def main(argv: list[str] | None = None) -> dict[str, Command]:
    """Run every measurement and print a report; returns the commands with their times."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="rounds (default 11)")
    args = parser.parse_args(argv)

    python = sys.executable
    script = Path(python).with_name("specc")
    specc = [str(script)] if script.exists() else [python, "-m", "specc"]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        commands = [
            Command("check cifar10_cnn", [*specc, "check", str(REFERENCE)]),
            Command(
                "graph cifar10_cnn -o .svg",
                [*specc, "graph", str(REFERENCE), "-o", str(out / "a.svg")],
            ),
            Command("check resnet50", [*specc, "check", str(RESNET50)]),
            Command(
                "graph resnet50 -o .svg", [*specc, "graph", str(RESNET50), "-o", str(out / "b.svg")]
            ),
            Command(
                "graph resnet50 --depth 1 -o .svg",
                [*specc, "graph", str(RESNET50), "--depth", "1", "-o", str(out / "c.svg")],
            ),
            Command(
                "graph resnet50 -o .dot", [*specc, "graph", str(RESNET50), "-o", str(out / "d.dot")]
            ),
            Command(
                "graph resnet50 -o .png",
                [*specc, "graph", str(RESNET50), "-o", str(out / "e.png")],
                2,
            ),
        ]
        run_rounds(commands, args.runs)
        sizes = {p.name: p.stat().st_size for p in out.iterdir()}

    by_name = {c.name: c for c in commands}
    width = max(len(c.name) for c in commands)
    print(f"{args.runs} rounds\n{'command':<{width}}  median wall  min wall  peak RSS  runs")
    for c in commands:
        print(
            f"{c.name:<{width}}  {c.median:9.3f} s  {min(c.walls.values()):6.3f} s"
            f"  {c.peak_mib:5.1f} MiB  {len(c.walls):4d}"
        )
    print()
    for spec in ("cifar10_cnn", "resnet50"):
        check = by_name[f"check {spec}"]
        for c in commands:
            if c.name.startswith(f"graph {spec}"):
                print(f"{c.name} / check {spec}: {paired_ratio(c, check):.2f} (per-round median)")
    print(f"\noutput sizes: {', '.join(f'{k} {v:,} B' for k, v in sorted(sizes.items()))}")
    for spec in (REFERENCE, RESNET50):
        check, draw = in_process(spec)
        print(
            f"in-process {spec.stem}: check {check * 1000:.1f} ms, draw (SVG) {draw * 1000:.1f} ms"
            f" ({draw / check:.1f}x the check)"
        )
    return by_name


if __name__ == "__main__":
    main()
