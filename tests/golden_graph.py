"""The diagrams under ``docs/`` that the README shows, as golden files.

``make golden`` (``python -m tests.regenerate_golden``) redraws them with the current code;
``tests/test_graph_docs.py`` fails when a committed picture is not what the code draws now.
"""

from __future__ import annotations

from pathlib import Path

from specc.diagram.output import render
from tests.emitted import ROOT, check_spec

# (spec, picture, options of `specc graph`, as the README's commands give them)
PICTURES = (
    ("specs/cifar10_cnn.spec", "docs/cifar10_cnn.svg", {}),
    ("specs/tiny_inception.spec", "docs/tiny_inception.svg", {}),
    ("specs/cifar_resnet.spec", "docs/cifar_resnet_depth1.svg", {"depth": 1}),
)


def command(spec: str, picture: str, options: dict) -> str:
    """The ``specc graph`` command line that draws ``picture``."""
    flags = "".join(f" --{key} {value}" for key, value in options.items())
    return f"specc graph {spec}{flags} -o {picture}"


def draw(spec: str, options: dict) -> str:
    """The SVG that ``specc graph`` writes for ``spec`` with ``options``."""
    return render(check_spec(ROOT / spec), "svg", **options)


def regenerate() -> list[Path]:
    """Redraw every picture under ``docs/``."""
    written = []
    for spec, picture, options in PICTURES:
        path = ROOT / picture
        path.write_text(draw(spec, options), encoding="utf-8", newline="\n")
        written.append(path)
    return written
