"""Check and emit time as specs grow: 1,000, 10,000 and 50,000 layers, in one run.

Two generated shapes: a plain stack of same-padded convs with BatchNorm and ReLU, and the same
number of layers in block instances (``basic(f)``: conv, bn, relu, conv, bn in a residual,
called N/6 times), which exercises the class and function writers.  Each size is checked and
emitted for both backends in-process, interleaved round by round; the script reports the
median wall time and the time per layer, whose ratio between sizes shows how the cost grows
(1.0: linear).

    .venv/bin/python benchmarks/scale.py [--runs 3] [--sizes 1000,10000,50000]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from specc.compiler import check_text
from specc.emit import emit_source


def stack(layers: int) -> str:
    """A plain stack of about ``layers`` layers."""
    lines = ["model stack", "input 32x32x8"]
    lines += ["conv 8 3x3 padding=same; bn; relu"] * (layers // 3)
    lines += ["globalavgpool", "dense 10 softmax"]
    return "\n".join(lines) + "\n"


def blocks(layers: int) -> str:
    """About ``layers`` layers in block instances."""
    lines = [
        "model blocks",
        "block basic(f) {",
        "  residual { conv f 3x3 padding=same; bn; relu; conv f 3x3 padding=same; bn }",
        "  relu",
        "}",
        "input 32x32x8",
    ]
    lines += ["basic(8)"] * (layers // 7)
    lines += ["globalavgpool", "dense 10 softmax"]
    return "\n".join(lines) + "\n"


def timed(fn, *args):
    """(seconds, result) of ``fn(*args)``, after a full garbage collection."""
    gc.collect()
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1000,10000,50000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    cases = [(shape.__name__, n, shape(n)) for shape in (stack, blocks) for n in sizes]
    times: dict[tuple[str, int, str], list[float]] = {}
    nodes: dict[tuple[str, int], int] = {}
    for _ in range(args.runs):
        for shape, n, text in cases:
            seconds, checked = timed(check_text, text, f"{shape}.spec")
            times.setdefault((shape, n, "check"), []).append(seconds)
            assert checked.ok, checked.diagnostics[:3]
            nodes[(shape, n)] = len(checked.model.nodes)
            for backend in ("keras", "torch"):
                seconds, _ = timed(emit_source, checked, backend)
                times.setdefault((shape, n, f"emit {backend}"), []).append(seconds)
    print(f"{'spec':<8} {'layers':>7}  {'step':<11} {'median':>8} {'per layer':>10} {'growth':>7}")
    for shape in ("stack", "blocks"):
        for step in ("check", "emit keras", "emit torch"):
            base = None
            for n in sizes:
                median = statistics.median(times[(shape, n, step)])
                per = median / nodes[(shape, n)]
                growth = f"{per / base:.2f}" if base else "1.00"
                base = base or per
                print(
                    f"{shape:<8} {nodes[(shape, n)]:>7}  {step:<11} {median:>7.2f}s "
                    f"{per * 1e6:>8.1f}µs {growth:>7}"
                )


if __name__ == "__main__":
    main()
