"""The fuzz target: hostile specs at ``check``, ``fmt`` and ``emit`` (issue 10).

Deep nesting, huge numbers, long names, long expressions and lines, many axes, odd Unicode
(digits of other scripts, byte-order marks, zero-width and bidirectional characters, NUL,
surrogates), text that is not UTF-8, and real spec lines mixed with all of these
(``tests/fuzz_hostile.py``).  Every command must exit 0 or 1 (2 for text that is not UTF-8),
print no traceback, stay within a time and a memory bound, echo a bounded amount, and write
nothing when the spec has errors.

This is the fast form (a few hundred runs); ``tests/fuzz_long.py`` is the long form, run outside
CI with a count and a time budget.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import fuzz_hostile
from tests.fuzz_hostile import Bounds, check_input, generate, prepare

# Generous bounds: they catch hangs and blow-ups, not slowness (timing belongs in benchmarks/).
BOUNDS = Bounds(seconds=60.0, memory=1 << 30, output=256 * 1024)
SCALE = 200_000  # the largest sizes the fast form draws (characters, digits, brackets, ...)
COMMANDS = ("check", "json", "fmt", "fmt-check", "emit")


@pytest.fixture(scope="module", autouse=True)
def warm():
    prepare()


@settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.randoms(use_true_random=False))
def test_hostile_specs_at_every_command(rng: random.Random):
    name, spec = generate(rng, SCALE)
    # every input through check and fmt; emit and the JSON form on some of them
    extra = [c for c in ("json", "emit", "fmt-check") if rng.random() < 0.3]
    commands = ("check", "fmt", *extra)
    with tempfile.TemporaryDirectory() as folder:
        found = check_input(spec, Path(folder), BOUNDS, commands)
    assert not found, f"{name} input {spec[:300]!r}...: {found}"


@pytest.mark.parametrize("generator", fuzz_hostile.GENERATORS, ids=lambda g: g.__name__)
def test_every_generator_through_every_command(generator, tmp_path):
    """Every generator once, through every command, so that none is left out by chance."""
    rng = random.Random(generator.__name__)
    spec = generator(rng, SCALE)
    spec = spec.encode("utf-8", "surrogatepass") if isinstance(spec, str) else spec
    assert not check_input(spec, tmp_path, BOUNDS, COMMANDS)


SUBPROCESS_INPUTS = {
    "nesting": "input 8\n" + "repeat 1 {\n" * 3000 + "dense 4\n" + "}\n" * 3000,
    "number": "input 8\ndense " + "9" * 100_000 + "\n",
    "name": "input 8\n" + "n" * 5_000_000 + " 4\n",
    "unicode": "\ufeffinput 8\ndense \uff11\uff10\u200b relu\u202e\x00\n",
    "expression": "block b(f) { dense (" + " + ".join(["f"] * 100_000) + ") }\ninput 8\nb(1)\n",
}


@pytest.mark.parametrize("name", sorted(SUBPROCESS_INPUTS))
def test_hostile_specs_through_real_processes(name, tmp_path):
    """As users run it: ``python -m specc`` in a fresh process, under memory and time limits."""
    spec = tmp_path / "hostile.spec"
    spec.write_text(SUBPROCESS_INPUTS[name], encoding="utf-8")
    target = tmp_path / "model.py"
    env = {**os.environ, "PYTHONPATH": str(fuzz_hostile.ROOT)}
    for argv in (["check", str(spec)], ["fmt", str(spec)], ["emit", str(spec), "-b", "torch",
                 "-o", str(target)]):  # fmt: skip
        result = subprocess.run(
            [sys.executable, "-m", "specc", *argv],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            preexec_fn=_limit_memory,
        )
        assert result.returncode == 1, (argv, result.stderr[-2000:])
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
        assert len(result.stderr) < 20_000
    assert spec.read_text(encoding="utf-8") == SUBPROCESS_INPUTS[name]
    assert not target.exists()


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
