"""The long form of the hostile-spec fuzz target, run outside CI.

    .venv/bin/python tests/fuzz_long.py --seconds 1800 --count 100000
    .venv/bin/python tests/fuzz_long.py --expansion   # also blocks and repeat that expand a lot
    .venv/bin/python tests/fuzz_long.py --replay 7-1234   # one input again, by its seed

Each input comes from ``tests/fuzz_hostile.py`` with a seed of its own (``SEED-INDEX``), so a
failure is reproduced with ``--replay``; it goes through ``check``, ``check --format json``,
``fmt``, ``fmt --check`` and ``emit -o``, each in a forked child with time and memory limits.
Failing inputs are saved under ``--save`` (default ``fuzz-failures/``).  The summary prints the
inputs tried, the runs, the failures by generator, and the slowest run and the largest memory
growth seen.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import fuzz_hostile
from tests.fuzz_hostile import Bounds, Outcome, generate, prepare

COMMANDS = ("check", "json", "fmt", "fmt-check", "emit")


def main() -> int:
    """Run the fuzz loop until the count or the time budget is spent; exit 1 on a failure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="inputs to try at most")
    parser.add_argument("--seconds", type=float, default=600, help="time budget")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--scale", type=int, default=2_000_000, help="largest sizes drawn")
    parser.add_argument("--max-seconds", type=float, default=60, help="per command and input")
    parser.add_argument("--max-memory-mib", type=int, default=1024, help="per command and input")
    parser.add_argument("--expansion", action="store_true", help="also expansion bombs")
    parser.add_argument("--replay", help="run one input again: SEED-INDEX")
    parser.add_argument("--save", default="fuzz-failures", help="folder for failing inputs")
    args = parser.parse_args()

    if args.expansion and fuzz_hostile.expansion_bomb not in fuzz_hostile.GENERATORS:
        fuzz_hostile.GENERATORS.append(fuzz_hostile.expansion_bomb)
    bounds = Bounds(seconds=args.max_seconds, memory=args.max_memory_mib << 20)
    prepare()
    slowest = (0.0, "")
    largest = (0, "")
    tried = runs = 0
    failures: dict[str, int] = collections.Counter()
    by_generator: dict[str, int] = collections.Counter()
    save = Path(args.save)
    start = time.monotonic()
    seeds = [args.replay] if args.replay else (f"{args.seed}-{i}" for i in range(args.count))

    original = fuzz_hostile.run_isolated

    def timed(argv, timeout_s, memory_limit) -> Outcome:  # record the figures of every run
        nonlocal runs, slowest, largest
        outcome = original(argv, timeout_s, memory_limit)
        runs += 1
        slowest = max(slowest, (outcome.seconds, f"{seed} {argv[0]}"))
        largest = max(largest, (outcome.memory_growth, f"{seed} {argv[0]}"))
        return outcome

    fuzz_hostile.run_isolated = timed
    for seed in seeds:
        if time.monotonic() - start > args.seconds:
            break
        name, data = generate(random.Random(seed), args.scale)
        by_generator[name] += 1
        tried += 1
        with tempfile.TemporaryDirectory() as folder:
            found = fuzz_hostile.check_input(data, Path(folder), bounds, COMMANDS)
        if found:
            failures[name] += 1
            save.mkdir(parents=True, exist_ok=True)
            (save / f"{seed}.spec").write_bytes(data)
            print(f"FAIL {seed} ({name}, {len(data):,} bytes): {found}", flush=True)
        if tried % 100 == 0:
            print(f"{tried} inputs, {runs} runs, {sum(failures.values())} failing, "
                  f"{time.monotonic() - start:.0f} s", flush=True)  # fmt: skip
    elapsed = time.monotonic() - start
    print(f"\ninputs tried: {tried}, runs: {runs}, failing inputs: {sum(failures.values())}, "
          f"in {elapsed:.0f} s (seed {args.seed}, scale {args.scale:,})")  # fmt: skip
    for name in sorted(by_generator):
        print(f"  {name:16} {by_generator[name]:6} inputs, {failures[name]} failing")
    print(f"slowest run: {slowest[0]:.2f} s ({slowest[1]}); "
          f"largest memory growth: {largest[0] >> 20} MiB ({largest[1]})")  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
