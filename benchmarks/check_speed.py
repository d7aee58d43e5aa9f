"""How fast ``specc check`` and ``specc emit`` are, against ``python -c pass`` and Keras.

Every command runs as a fresh process, the way a user runs it.  The commands are interleaved:
each round runs every command once (the slow ones only in some rounds), so that a slow minute
of this machine -- its speed drifts by a third from one minute to the next -- weighs on all of
them alike.  We report each command's median and minimum wall time, the peak RSS of its
process, and ratios: of medians, and the median of the per-round ratios (Keras and specc timed
in the same round), which is the steadiest figure.  Generated specs of 1,000 and 10,000 layers
show how the front end grows; ``check_text`` alone is also timed in-process for them.

    .venv/bin/python -m compileall -q specc    # as an installed package has its .pyc files
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
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "specs" / "cifar10_cnn.spec"
# published architectures whose check must stay within 20% of the reference spec's
LARGE_SPECS = ("resnet18", "vit_b16", "efficientnet_b0")

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

# What specc's check cannot go below: importing its dependencies, pydantic (with one model
# built) and Lark, with the same start-up as the command line's (no plugin scan, no cyclic GC,
# no interpreter teardown).
FLOOR_SCRIPT = """
import gc, os
gc.disable()
from specc.startup import disable_pydantic_plugins
disable_pydantic_plugins()
from pydantic import BaseModel
class Probe(BaseModel):
    x: int = 0
Probe(x=1)
import lark
os._exit(0)
"""

# Runs one command once in a child and reports the child's wall time and peak RSS.  A helper
# process per run, so that RUSAGE_CHILDREN's peak is this command's own.
MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
print(json.dumps({"wall": wall, "peak_kib": peak, "rc": proc.returncode,
                  "stderr": proc.stderr.decode()[-400:]}))
"""


@dataclass
class Command:
    """One command to time, and how often: every ``every``-th round."""

    name: str
    argv: list[str]
    every: int = 1
    walls: dict[int, float] = field(default_factory=dict)  # round -> seconds
    peak_mib: float = 0.0

    def run_once(self, round_index: int) -> None:
        """Run the command in a fresh process and record its wall time and peak memory."""
        out = subprocess.run(
            [sys.executable, "-c", MEASURE, *self.argv], capture_output=True, text=True, check=True
        ).stdout
        result = json.loads(out)
        if result["rc"] != 0:
            raise SystemExit(f"{' '.join(self.argv)} failed:\n{result['stderr']}")
        self.walls[round_index] = result["wall"]
        self.peak_mib = max(self.peak_mib, result["peak_kib"] / 1024)

    @property
    def median(self) -> float:
        """Median wall time over the rounds this command ran in."""
        return statistics.median(self.walls.values())


def run_rounds(commands: list[Command], rounds: int) -> None:
    """Run every command once per round (a slow one every ``every`` rounds), round after round."""
    for command in commands:  # one untimed run each: caches (compiled templates, Lark) filled
        command.run_once(-1)
        command.walls.clear()
    for r in range(rounds):
        for command in commands:
            if r % command.every == 0:
                command.run_once(r)


def paired_ratio(slow: Command, fast: Command) -> float:
    """Median over the rounds both ran in of slow's time / fast's time."""
    rounds = slow.walls.keys() & fast.walls.keys()
    return statistics.median(slow.walls[r] / fast.walls[r] for r in rounds)


def generated_spec(layers: int) -> str:
    """A valid spec of about ``layers`` layers: same-padded convs, then a small head."""
    body = ["model generated", "input 32x32x8"]
    body += ["conv 8 3x3 padding=same relu"] * (layers - 4)
    body += ["globalavgpool", "dense 10 softmax"]
    return "\n".join(body) + "\n"


def in_process_check(text: str, repeats: int = 3) -> float:
    """Median wall time of check_text alone, without interpreter start-up and imports."""
    from specc.compiler import check_text

    check_text("input 8\ndense 4\n")  # warm the parser cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        checked = check_text(text, "generated.spec")
        times.append(time.perf_counter() - start)
        assert checked.ok, checked.diagnostics[:1]
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, Command]:
    """Run every measurement and print a report; returns the commands with their times."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="rounds (default 11)")
    parser.add_argument("--skip-keras", action="store_true")
    args = parser.parse_args(argv)

    python = sys.executable
    script = Path(python).with_name("specc")  # the console script, as a user runs it
    specc = [str(script)] if script.exists() else [python, "-m", "specc"]
    with tempfile.TemporaryDirectory() as folder:
        generated = {}
        for n in (1_000, 10_000):
            generated[n] = Path(folder) / f"gen{n}.spec"
            generated[n].write_text(generated_spec(n))
        commands = [
            Command("python -c pass", [python, "-c", "pass"]),
            Command("import pydantic + lark (floor)", [python, "-c", FLOOR_SCRIPT]),
            Command("specc check (reference)", [*specc, "check", str(REFERENCE)]),
            *(
                Command(f"specc check {name}", [*specc, "check", str(ROOT / f"specs/{name}.spec")])
                for name in LARGE_SPECS
            ),
            Command(
                "specc emit --backend all",
                [*specc, "emit", str(REFERENCE), "-b", "all", "-o", folder],
            ),
            Command("specc check (1,000 layers)", [*specc, "check", str(generated[1_000])]),
            Command("specc check (10,000 layers)", [*specc, "check", str(generated[10_000])], 2),
        ]
        if not args.skip_keras:
            commands.append(Command("keras build + summary()", [python, "-c", KERAS_SCRIPT], 2))
        run_rounds(commands, args.runs)
        in_process = {n: in_process_check(path.read_text()) for n, path in generated.items()}

    by_name = {c.name: c for c in commands}
    width = max(len(c.name) for c in commands)
    print(f"{args.runs} rounds\n{'command':<{width}}  median wall  min wall  peak RSS  runs")
    for c in commands:
        print(
            f"{c.name:<{width}}  {c.median:9.3f} s  {min(c.walls.values()):6.3f} s"
            f"  {c.peak_mib:5.1f} MiB  {len(c.walls):4d}"
        )
    ref, base = by_name["specc check (reference)"], by_name["python -c pass"]
    floor = by_name["import pydantic + lark (floor)"]
    print(f"\nspecc check / python -c pass: {ref.median / base.median:.1f}x")
    print(
        f"specc check - floor: {(ref.median - floor.median) * 1000:.0f} ms of the median; "
        f"floor / specc check: {paired_ratio(floor, ref):.2f} (per-round)"
    )
    for name in LARGE_SPECS:
        large = by_name[f"specc check {name}"]
        print(
            f"specc check {name} / reference: {large.median / ref.median:.2f}x (ratio of "
            f"medians), {paired_ratio(large, ref):.2f}x (median of per-round ratios)"
        )
    if "keras build + summary()" in by_name:
        keras = by_name["keras build + summary()"]
        print(
            f"keras build + summary() / specc check: {keras.median / ref.median:.1f}x "
            f"(ratio of medians), {paired_ratio(keras, ref):.1f}x (median of per-round ratios)"
        )
    big, small = by_name["specc check (10,000 layers)"], by_name["specc check (1,000 layers)"]
    print(
        f"check_text alone: {in_process[1_000]:.3f} s for 1,000 layers, "
        f"{in_process[10_000]:.3f} s for 10,000 ({in_process[10_000] / in_process[1_000]:.1f}x); "
        f"whole command {paired_ratio(big, small):.1f}x"
    )
    return by_name


if __name__ == "__main__":
    main()
