"""How fast ``specc check`` is, measured against ``python -c pass`` and Keras in one run.

Each command runs as a fresh subprocess several times; we report the median wall time, the
peak RSS of the child (``resource.getrusage(RUSAGE_CHILDREN)`` around each run, so the first
run of the largest command dominates: we take the maximum over a command's own runs by running
each command's repetitions in a dedicated helper process), and ratios between them.  Generated
specs of 1,000 and 10,000 layers show how the front end grows.

    .venv/bin/python benchmarks/check_speed.py [--runs N] [--skip-keras]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "specs" / "cifar10_cnn.spec"

KERAS_SCRIPT = """
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
from keras import layers
model = keras.Sequential([
    keras.Input((32, 32, 3)),
    layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(2),
    layers.Conv2D(64, 3, activation="relu"),
    layers.MaxPooling2D(2),
    layers.Conv2D(64, 3, activation="relu"),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.summary()
"""

# Runs one command once in a child and reports the child's wall time and peak RSS.
MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
print(json.dumps({"wall": wall, "peak_kib": peak, "rc": proc.returncode,
                  "stderr": proc.stderr.decode()[-400:]}))
"""


def measure(cmd: list[str], runs: int) -> dict:
    """Median wall time (s) and peak RSS (MiB) of ``cmd`` over ``runs`` fresh processes."""
    walls, peaks = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True
        ).stdout
        result = json.loads(out)
        if result["rc"] != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{result['stderr']}")
        walls.append(result["wall"])
        peaks.append(result["peak_kib"] / 1024)
    return {"median_s": statistics.median(walls), "min_s": min(walls), "peak_mib": max(peaks)}


def generated_spec(layers: int) -> str:
    """A valid spec of about ``layers`` layers: same-padded convs, then a small head."""
    body = ["model generated", "input 32x32x8"]
    body += ["conv 8 3x3 padding=same relu"] * (layers - 4)
    body += ["globalavgpool", "dense 10 softmax"]
    return "\n".join(body) + "\n"


def in_process_check(text: str) -> float:
    """Wall time of check_text alone, without interpreter start-up and imports."""
    from specc.compiler import check_text

    check_text("input 8\ndense 4\n")  # warm the parser cache
    start = time.perf_counter()
    checked = check_text(text, "generated.spec")
    elapsed = time.perf_counter() - start
    assert checked.ok, checked.diagnostics[:1]
    return elapsed


def main(argv: list[str] | None = None) -> dict:
    """Run every measurement and print a report; returns the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--skip-keras", action="store_true")
    args = parser.parse_args(argv)

    python = sys.executable
    results = {
        "python -c pass": measure([python, "-c", "pass"], args.runs),
        "specc check (reference)": measure(
            [python, "-m", "specc", "check", str(REFERENCE)], args.runs
        ),
        "specc check resnet18": measure(
            [python, "-m", "specc", "check", str(ROOT / "specs" / "resnet18.spec")], args.runs
        ),
    }
    with tempfile.TemporaryDirectory() as folder:
        # both backends in one process; the first run fills the compiled-template cache
        emit_all = [python, "-m", "specc", "emit", str(REFERENCE), "-b", "all", "-o", folder]
        results["specc emit --backend all"] = measure(emit_all, args.runs)
        for n in (1_000, 10_000):
            path = Path(folder) / f"gen{n}.spec"
            path.write_text(generated_spec(n))
            runs = max(3, args.runs // 2)
            results[f"specc check ({n:,} layers)"] = measure(
                [python, "-m", "specc", "check", str(path)], runs
            )
            results[f"specc check ({n:,} layers)"]["in_process_s"] = in_process_check(
                path.read_text()
            )
    if not args.skip_keras:
        results["keras build + summary()"] = measure(
            [python, "-c", KERAS_SCRIPT], max(3, args.runs // 2)
        )

    width = max(len(k) for k in results)
    print(f"{'command':<{width}}  median wall  peak RSS")
    for name, r in results.items():
        extra = f"  (check_text alone: {r['in_process_s']:.3f} s)" if "in_process_s" in r else ""
        print(f"{name:<{width}}  {r['median_s']:9.3f} s  {r['peak_mib']:6.1f} MiB{extra}")
    ref = results["specc check (reference)"]["median_s"]
    base = results["python -c pass"]["median_s"]
    print(f"\nspecc check / python -c pass: {ref / base:.1f}x")
    if "keras build + summary()" in results:
        keras = results["keras build + summary()"]["median_s"]
        print(f"keras build + summary() / specc check: {keras / ref:.1f}x faster")
    big, small = results["specc check (10,000 layers)"], results["specc check (1,000 layers)"]
    print(
        f"10,000 vs 1,000 layers: {big['median_s'] / small['median_s']:.1f}x wall, "
        f"{big['in_process_s'] / small['in_process_s']:.1f}x check_text alone"
    )
    return results


if __name__ == "__main__":
    main()
