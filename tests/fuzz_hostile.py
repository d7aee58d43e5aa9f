"""Hostile specs and a sandboxed runner: the fuzz target of ``test_fuzz_hostile.py`` and of the
long-form runner ``tests/fuzz_long.py``.

Each generator is a plain function of a :class:`random.Random` and a ``scale`` (how large its
inputs may get), returning the bytes of a spec file, so that hypothesis (through
``st.randoms()``) and the long runner (through seeds that reproduce an input) share them.

:func:`run_isolated` runs ``specc`` in a forked child of this process, where the modules are
already imported (a few milliseconds instead of a fresh interpreter's start), under a time
limit (``SIGALRM``) and an address-space limit, and reports the exit status, the output, the
time and the child's own memory growth.  :func:`check_input` runs ``check``, ``fmt`` and
``emit -o`` on one input and returns what went wrong, if anything.

Inputs whose cost is in the expansion of blocks and ``repeat`` (huge repeat counts, blocks that
call each other) are generated while :data:`EXPANSION_BOMBS` is on, as it is unless
``SPECC_FUZZ_EXPANSION=0``: expansion counts its work (E0509), depth (E0507) and layers
(E0505).
"""

from __future__ import annotations

import os
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.spec"))
SPEC_LINES = [line for spec in SPECS for line in spec.read_text(encoding="utf-8").splitlines()]

# Switch on once lowering bounds the work of expanding blocks and `repeat` (see the docstring).
EXPANSION_BOMBS = os.environ.get("SPECC_FUZZ_EXPANSION", "1") == "1"

BASE = "model fuzz\ninput 32x32x3\nconv 8 3x3 relu\nmaxpool 2\nflatten\ndense 10 softmax\n"
VALID_LINES = [
    "conv 8 3x3 padding=same relu",
    "batchnorm",
    "relu",
    "maxpool 2",
    "dropout 0.25",
    "residual { conv 3 3x3 padding=same } shortcut { }",
    "branch concat { conv 4 1x1 } { conv 4 3x3 padding=same }",
    "repeat 2 { conv 3 3x3 padding=same; relu }",
    "gap",
    "flatten",
    "dense 10 softmax",
    "train { data cifar10\n epochs 2 }",
    "# a comment",
    "",
]
ODD_CHARACTERS = [
    "\ufeff",  # byte-order mark (anywhere but the start)
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u061c",  # Arabic letter mark
    "\x00",
    "\x07",
    "\x0b",
    "\x0c",
    "\r",
    "\x85",
    "\u2028",
    "\u2029",
    "\u0301",  # combining acute accent
    "\U0001f600",
    "\uff11",  # fullwidth digit one
    "\u0663",  # Arabic-Indic digit three
    "\u096a",  # Devanagari digit four
    "\U0001d7d7",  # mathematical bold digit nine
    "\u00b2",  # superscript two (a digit, not a decimal digit)
    "\u2167",  # Roman numeral eight
    "é",
    "\t",
    ";",
    "{",
    "}",
    "(",
    ")",
    '"',
    "#",
    "\\",
    "=",
    ",",
]
UNICODE_DIGITS = ["\uff10", "\u0660", "\u0966", "\u09e6", "\u0e50", "\U0001d7ce", "\u1040"]


def pick_size(rng: random.Random, scale: int, exact: tuple[int, ...] = ()) -> int:
    """A size: one of the interesting ``exact`` values (limits and their neighbours), or any
    up to ``scale``, often small."""
    if exact and rng.random() < 0.5:
        return rng.choice(exact)
    return int(scale ** rng.random())


def valid_body(rng: random.Random, lines: int) -> str:
    return "\n".join(rng.choice(VALID_LINES) for _ in range(lines)) + "\n"


def deep_nesting(rng: random.Random, scale: int) -> str:
    depth = pick_size(rng, scale // 10, (62, 63, 64, 65, 66, 500, 5000))
    openers = ["repeat 1 {\n", "residual {\n", "branch add {\n", "if (1 > 0) {\n", "{", "("]
    mix = rng.sample(openers, rng.randint(1, len(openers)))
    opened = [rng.choice(mix) for _ in range(depth)]
    closers = "".join("}\n" if o.endswith("{\n") or o == "{" else ")" for o in reversed(opened))
    if rng.random() < 0.3:  # unbalanced: drop or add some closers
        closers = closers[: rng.randint(0, len(closers))] + rng.choice(["", "}", ")", "}}}"])
    inner = rng.choice(["dense 4\n", "conv 8 3x3 padding=same\n", "relu\n", "1"])
    prefix = "input 8\n" if rng.random() < 0.8 else ""
    if rng.random() < 0.3:  # inside a block, called once
        return f"{prefix}block b(f) {{\n{''.join(opened)}{inner}{closers}}}\nb(2)\n"
    return prefix + "".join(opened) + inner + closers


def huge_number(rng: random.Random, scale: int) -> str:
    digits = pick_size(rng, scale, (39, 40, 41, 4300, 4301))
    number = rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(40))
    number = (number * (digits // len(number) + 1))[:digits]
    forms = [
        number,
        "-" + number,
        number[:1] + "." + number[1:],
        "1e" + number[:7],
        "-1e-" + number[:7],
        "1e309",
        "0." + "0" * digits + "1",
        "x".join([number] * rng.randint(2, 4)),
    ]
    value = rng.choice(forms)
    places = [
        f"input {value}\ndense 4\n",
        f"input 8\ndense {value}\n",
        f"input 32x32x3\nconv {value} 3x3\n",
        f"input 32x32x3\nconv 8 3x3 stride={value}\n",
        f"input 8\ndropout {value}\n",
        f"input 8\ndense 4\ntrain {{ epochs {value}\n batch {value} }}\n",
        f"block b(f={value}) {{ dense f }}\ninput 8\nb()\n",
        f"input {value}x{value}x3\nflatten\ndense 4\n",
    ]
    return rng.choice(places)


def long_name(rng: random.Random, scale: int) -> str:
    name = "n" * pick_size(rng, scale, (127, 128, 129, 10_000))
    places = [
        f"input 8\n{name} 4\n",
        f"model {name}\ninput 8\ndense 4\n",
        f"input 8\ndense 4 name={name}\n",
        f"input 8\ndense 4 {name}=1\n",
        f"block {name}(f) {{ dense f }}\ninput 8\n{name}(4)\n",
        f"block b({name}) {{ dense {name} }}\ninput 8\nb(4)\n",
        f'input 8\ntrain {{ data "{name}" }}\n',
        f"input 8\ntrain {{ data {name} }}\n",
        f"input 8\nbranch {name} {{ relu }} {{ relu }}\n",
    ]
    return rng.choice(places)


def odd_unicode(rng: random.Random, scale: int) -> str:
    text = rng.choice([BASE, valid_body(rng, 8), rng.choice(SPECS).read_text(encoding="utf-8")])
    chars = list(text)
    for _ in range(pick_size(rng, 40, (1, 2, 3))):
        i = rng.randint(0, len(chars))
        chars.insert(i, rng.choice(ODD_CHARACTERS) * rng.choice([1, 1, 1, 3, 100]))
    text = "".join(chars)
    if rng.random() < 0.3:  # digits in another script where numbers go
        digit = rng.choice(UNICODE_DIGITS)
        text = "".join(
            chr(ord(digit) + int(c)) if c in "0123456789" and rng.random() < 0.3 else c
            for c in text
        )
    if rng.random() < 0.3:
        text = "\ufeff" + text
    if rng.random() < 0.2:  # a surrogate, written escaped as a string's text
        text += '\ntrain { data "npz:\\ud800.npz" }\n'
    return text


def raw_surrogates(rng: random.Random, scale: int) -> bytes:
    """Bytes that are not UTF-8: lone surrogates, latin-1, truncated sequences."""
    text = rng.choice([BASE, valid_body(rng, 5)])
    i = rng.randint(0, len(text))
    bad = rng.choice(
        ["\ud800".encode("utf-8", "surrogatepass"), b"\xe9", b"\xff\xfe", b"\xe2\x82", b"\x80"]
    )
    return text[:i].encode() + bad + text[i:].encode()


def long_expression(rng: random.Random, scale: int) -> str:
    count = pick_size(rng, scale // 4, (63, 64, 65, 1000))
    terms = [rng.choice(["f", "1", "2", "(f)", "(f + 1)", "-1"]) for _ in range(count + 1)]
    expr = terms[0] + "".join(f" {rng.choice('+-*/')} {t}" for t in terms[1:])
    if rng.random() < 0.2:
        expr = expr.replace("/", "//")
    where = rng.choice(["dense ({e})", "conv ({e}) 3x3", "if (({e}) > 1) {{ relu }}"])
    return f"block b(f) {{\n  {where.format(e=expr)}\n}}\ninput 8x8x3\nb(3)\nflatten\ndense 4\n"


def long_logic(rng: random.Random, scale: int) -> str:
    """Conditions and computed sizes past the operator limit: `not not ... x`, long `and` and
    `or` chains, sizes with many computed axes."""
    count = pick_size(rng, scale // 4, (63, 64, 65, 1000))
    if rng.random() < 0.4:
        expr = "not " * count + rng.choice(["g", "(f > 1)", "true"])
    else:
        terms = [
            rng.choice(["g", "(f > 1)", "not g", "f == 2", "(g or f < 0)"]) for _ in range(count)
        ]
        expr = terms[0] + "".join(f" {rng.choice(['and', 'or'])} {t}" for t in terms[1:])
    axes = "x".join(
        rng.choice(["1", "(f)", "(f * 2)", "(f // 3)", "(g)"]) for _ in range(count % 12 + 2)
    )
    body = rng.choice(
        [f"if ({expr}) {{ relu }}", f"reshape {axes}", f"if ({expr}) {{ reshape {axes} }}"]
    )
    return f"block b(f, g=true) {{\n  {body}\n}}\ninput 8x8x3\nb(3)\nflatten\ndense 4\n"


def many_axes(rng: random.Random, scale: int) -> str:
    axes = pick_size(rng, scale // 2, (7, 8, 9, 100))
    size = "x".join(rng.choice(["1", "2", "3", "0", "64"]) for _ in range(axes))
    return rng.choice([f"input {size}\nflatten\ndense 4\n", f"input 8x8x3\nconv 8 {size}\n"])


def long_line(rng: random.Random, scale: int) -> str:
    count = pick_size(rng, scale // 5, (1000,))
    word = rng.choice(["relu", "1", "3x3", "k=1", '"s"', "(1 + 1)", "{ }", "; relu"])
    return f"input 8\ndense 4 {' '.join([word] * count)}\n"


def blank_noise(rng: random.Random, scale: int) -> str:
    noise = rng.choice(["\r\n", "\r", "\n", ";", "\t", "\x0c", " ", "# c\n", "\n\n\r\n;"])
    runs = pick_size(rng, scale // 2)
    return noise * runs + BASE + noise * runs


def mixed(rng: random.Random, scale: int) -> str:
    """Real spec lines, generated lines and hostile fragments, shuffled and mutated."""
    lines = rng.sample(SPEC_LINES, min(len(SPEC_LINES), rng.randint(1, 60)))
    for _ in range(rng.randint(0, 3)):
        hostile = rng.choice(
            [deep_nesting, huge_number, long_name, long_expression, many_axes, long_line]
        )
        lines.insert(rng.randint(0, len(lines)), hostile(rng, max(scale // 10, 100)))
    for _ in range(rng.randint(0, 4)):
        i = rng.randrange(len(lines))
        op = rng.choice(["delete", "duplicate", "brace", "swap"])
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "brace":
            lines[i] = lines[i].replace("{", "", 1) if "{" in lines[i] else lines[i] + " }"
        else:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        if not lines:
            break
    return "\n".join(lines) + "\n"


def expansion_bomb(rng: random.Random, scale: int) -> str:
    """Work that adds few layers: huge repeat counts, blocks calling blocks, arithmetic that
    grows through block parameters.  Only with EXPANSION_BOMBS (see the module docstring)."""
    n = rng.choice(["1000000000000", "1000000000", "99999999999", str(scale * 1000)])
    depth = rng.randint(10, 41)
    chain = "".join(
        f"block b{i}(f) {{ {'dense f' if i == 0 else f'b{i - 1}(f); b{i - 1}(f)'} }}\n"
        for i in range(depth)
    )
    nested = "".join(
        f"block c{i}(f) {{ {'repeat 1 { ' * 20}{'dense f' if i == 0 else f'c{i - 1}(f)'}"
        f"{' }' * 20} }}\n"
        for i in range(depth)
    )
    growth = "".join(
        f"block g{i}(f) {{ {'dense (f)' if i == 0 else f'g{i - 1}((f * f * f * f))'} }}\n"
        for i in range(depth)
    )
    forms = [
        f"input 8\nrepeat {n} {{ }}\n",
        f"input 8\nrepeat {n} {{ flaten }}\n",
        f"input 8\nrepeat {n} {{ repeat {n} {{ }} }}\n",
        f"block a(s) {{ if (s > 1) {{ dense 4 }} }}\ninput 8\nrepeat {n} {{ a(1) }}\n",
        f"{chain}input 8\nb{depth - 1}(4)\n",
        f"{nested}input 8\nc{depth - 1}(4)\n",
        f"{growth}input 8\ng{depth - 1}(2)\n",
    ]
    return rng.choice(forms)


GENERATORS = [
    deep_nesting,
    huge_number,
    long_name,
    odd_unicode,
    raw_surrogates,
    long_expression,
    long_logic,
    many_axes,
    long_line,
    blank_noise,
    mixed,
]
if EXPANSION_BOMBS:
    GENERATORS.append(expansion_bomb)


def generate(rng: random.Random, scale: int) -> tuple[str, bytes]:
    """One hostile input: (the generator's name, the bytes of the spec file)."""
    generator = rng.choice(GENERATORS)
    data = generator(rng, scale)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return generator.__name__, data


# -- running specc in a sandboxed child ---------------------------------------------------------


@dataclass
class Outcome:
    """What one run of specc did."""

    argv: list[str]
    status: int | None  # None: killed by a signal
    signal: int | None
    stdout: str
    stderr: str
    seconds: float
    memory_growth: int  # bytes the child's peak RSS grew above its size at the fork


def prepare() -> None:
    """Import and warm up everything the commands use, before any fork: a child must not
    import (another thread of the parent could hold the import lock) and should be fast."""
    from specc import cli, equivalence, formatter, report  # noqa: F401
    from specc.compiler import check_text
    from specc.emit import emit_source

    checked = check_text(BASE, "warm.spec")
    for backend in ("keras", "torch"):
        emit_source(checked, backend)
    formatter.format_source(BASE)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _vm_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def run_isolated(argv: list[str], timeout_s: float, memory_limit: int) -> Outcome:
    """Run ``specc.cli.main(argv)`` in a forked child with limits; never raises for what the
    child does (a crash, a hang and an allocation past the limit are outcomes)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        read_end, write_end = os.pipe()
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            status = 99
            try:
                os.close(read_end)
                base = _rss_bytes()
                resource.setrlimit(resource.RLIMIT_AS, (_vm_bytes() + memory_limit,) * 2)
                signal.signal(signal.SIGALRM, signal.SIG_DFL)
                signal.setitimer(signal.ITIMER_REAL, timeout_s)
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
                sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
                from specc.cli import main

                try:
                    status = main(argv)
                except BaseException:  # what main() lets through is a failure to report
                    traceback.print_exc()
                    status = 98
                sys.stdout.flush()
                sys.stderr.flush()
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
                os.write(write_end, str(max(peak - base, 0)).encode())
            finally:
                os._exit(status)
        os.close(write_end)
        _, wait_status, _ = os.wait4(pid, 0)
        seconds = time.perf_counter() - start
        with os.fdopen(read_end, "rb") as pipe:
            growth = int(pipe.read() or b"0")
        out.seek(0)
        err.seek(0)
        return Outcome(
            argv,
            os.waitstatus_to_exitcode(wait_status) if os.WIFEXITED(wait_status) else None,
            os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else None,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            seconds,
            growth,
        )


@dataclass(frozen=True)
class Bounds:
    """What one command may spend on one input."""

    seconds: float = 60.0
    memory: int = 1 << 30  # peak RSS growth, bytes
    output: int = 256 * 1024  # bytes of stdout + stderr when the spec has errors


def problems(outcome: Outcome, bounds: Bounds, *, utf8: bool) -> list[str]:
    """What is wrong with one run: anything but exit 0/1 (2 for text that is not UTF-8),
    a traceback, an internal error, too much time, memory or echoed output."""
    found = []
    allowed = (0, 1) if utf8 else (2,)
    if outcome.status not in allowed:
        how = f"signal {outcome.signal}" if outcome.signal else f"exit {outcome.status}"
        found.append(f"{how}, expected {' or '.join(map(str, allowed))}")
    if "Traceback" in outcome.stderr or "internal error" in outcome.stderr:
        found.append("traceback or internal error: " + outcome.stderr[-1500:])
    if outcome.seconds > bounds.seconds:
        found.append(f"took {outcome.seconds:.1f} s")
    if outcome.memory_growth > bounds.memory:
        found.append(f"grew by {outcome.memory_growth >> 20} MiB")
    echoed = len(outcome.stdout) + len(outcome.stderr)
    if outcome.status == 1 and echoed > bounds.output:
        found.append(f"printed {echoed:,} characters for a spec with errors")
    return [f"{' '.join(outcome.argv[:1])}: {p}" for p in found]


def check_input(data: bytes, folder: Path, bounds: Bounds, commands: tuple[str, ...]) -> list[str]:
    """Run ``commands`` (check, json, fmt, fmt-check, emit) on one input; what went wrong."""
    try:
        data.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    spec = folder / "fuzz.spec"
    spec.write_bytes(data)
    found: list[str] = []

    def run(argv: list[str]) -> Outcome:
        outcome = run_isolated(argv, bounds.seconds * 1.5, bounds.memory * 2)
        found.extend(problems(outcome, bounds, utf8=utf8))
        return outcome

    for command in commands:
        if command == "check":
            run(["check", str(spec)])
        elif command == "json":
            run(["check", "--format", "json", str(spec)])
        elif command == "fmt-check":
            run(["fmt", "--check", str(spec)])
            if spec.read_bytes() != data:
                found.append("fmt --check: changed the file")
        elif command == "fmt":
            outcome = run(["fmt", str(spec)])
            if outcome.status != 0 and spec.read_bytes() != data:
                found.append(f"fmt: exit {outcome.status} but the file changed")
            if outcome.status == 0 and run(["fmt", "--check", str(spec)]).status != 0:
                found.append("fmt: not idempotent (fmt --check after fmt says it would change)")
            spec.write_bytes(data)
        elif command == "emit":
            target = folder / "model.py"
            sentinel = b"# an earlier file, to be kept when emit fails\n"
            existed = len(data) % 2 == 0  # sometimes the target exists already
            if existed:
                target.write_bytes(sentinel)
            backend = ("torch", "keras")[len(data) % 3 == 0]
            outcome = run(["emit", str(spec), "-b", backend, "-o", str(target)])
            if outcome.status != 0:
                now = target.read_bytes() if target.exists() else None
                if now != (sentinel if existed else None):
                    found.append(f"emit: exit {outcome.status} but the output was written")
            elif not target.exists() or target.read_bytes() == sentinel:
                found.append("emit: exit 0 but nothing written")
            target.unlink(missing_ok=True)
        leftovers = [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
        if leftovers:
            found.append(f"{command}: left temporary files {leftovers}")
    return found
