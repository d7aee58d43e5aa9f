"""specc.emit.layout breaks long lines exactly as ``ruff format`` does."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

from specc.emit.layout import LINE_LENGTH, fit

ROOT = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).with_name("ruff")


def _name(rng: random.Random, lo: int, hi: int) -> str:
    return "layer_" + "x" * rng.randint(lo, hi)


def _statements(rng: random.Random) -> list[tuple[str, str, str]]:
    """(prefix, expression, suffix) triples in the shapes the emitters write."""
    out = []
    for _ in range(60):
        name = _name(rng, 0, 70)
        args = ", ".join(str(rng.randint(1, 512)) for _ in range(rng.randint(1, 3)))
        kwargs = ['padding="same"', "use_bias=False", f'name="{name}"', "strides=(2, 1)"]
        call = f"layers.Conv2D({args}, {', '.join(rng.sample(kwargs, rng.randint(1, 4)))})"
        var = rng.choice(["x", "shortcut", "branch_" + "1" * rng.randint(1, 30)])
        out += [
            ("x = ", f"{call}({var})", ""),
            ("", call, ","),
            ("x = ", f'layers.Add(name="{name}")([x, {var}])', ""),
            (f"{var} = ", f"F.relu(self.{name}({var}))", ""),
            (f"self.{name} = ", f"nn.Conv2d({args}, kernel_size=(3, 5), padding=(1, 2))", ""),
            ("x = ", f"torch.cat([{var}, {var}, {name}], dim=1)", ""),
            ("if ", f"isinstance(module, (nn.Conv2d, nn.Linear, nn.{name}))", ":"),
            ("return ", f'keras.Model(inputs, {var}, name="{name}")', ""),
        ]
    return out


def test_fit_matches_ruff_format(tmp_path):
    rng = random.Random(0)
    lines = ["def f():"]
    for prefix, expr, suffix in _statements(rng):
        if suffix == ",":  # a list element: wrap in a list so the file parses
            fitted = ["    y = [", *fit(" " * 8, prefix, expr, suffix), "    ]"]
        else:
            fitted = fit("    ", prefix, expr, suffix)
        if suffix == ":":
            fitted = [*fitted, "        pass"]
        lines += fitted
    source = tmp_path / "fitted.py"
    source.write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [
            str(RUFF),
            "format",
            "--no-cache",
            "--diff",
            "--config",
            str(ROOT / "pyproject.toml"),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[:6000]
    assert max(len(line) for line in lines) <= LINE_LENGTH + 60  # only unbreakable names overflow
