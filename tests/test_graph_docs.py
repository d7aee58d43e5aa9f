"""The README's pictures are what ``specc graph`` draws now, with the README's own commands."""

from __future__ import annotations

import pytest

from specc import cli
from tests.emitted import ROOT
from tests.golden_graph import PICTURES, command, draw

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("spec", "picture", "options"), PICTURES, ids=[p[1] for p in PICTURES])
def test_the_committed_picture_is_what_the_code_draws(spec, picture, options):
    committed = (ROOT / picture).read_text(encoding="utf-8")
    assert committed == draw(spec, options), f"{picture} is stale: run `make golden`"


@pytest.mark.parametrize(("spec", "picture", "options"), PICTURES, ids=[p[1] for p in PICTURES])
def test_the_readme_shows_the_picture_and_the_command_that_draws_it(
    spec, picture, options, tmp_path, monkeypatch
):
    line = command(spec, picture, options)
    assert line in README
    assert f"({picture})" in README or f'src="{picture}"' in README
    argv = line.split()[1:]
    argv[-1] = str(tmp_path / "picture.svg")
    monkeypatch.chdir(ROOT)
    assert cli.main(argv) == 0
    assert (tmp_path / "picture.svg").read_text() == (ROOT / picture).read_text()
