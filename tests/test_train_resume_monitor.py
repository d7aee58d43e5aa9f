"""A resumed run is the same run with the new settings too: gradients accumulated across the
break, the batch count the schedule reads, reduce-on-plateau's rate and early stopping's
count carry over the checkpoint, in both backends."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from specc import cli

SPEC = """model resumed
input 4
dense 16 relu
dense 3 softmax
train {
  data iris
  optimizer sgd lr=0.05 momentum=0.9
  accumulate 3
  schedule plateau factor=0.5 patience=1 min_delta=0.3
  early_stopping patience=4 min_delta=0.05
  monitor val_loss
  batch 16
  epochs 6
}
"""


def history(out: Path) -> list[dict]:
    with open(out / "history.csv", newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_a_run_resumed_after_a_break_ends_as_an_unbroken_one(tmp_path, backend):
    pytest.importorskip(backend)
    from specc.harness.main import main

    spec = tmp_path / "resumed.spec"
    spec.write_text(SPEC)
    runs = {}
    for name in ("whole", "broken"):
        out = tmp_path / name
        assert cli.main(["emit", str(spec), "-b", backend, "--train", "-o", str(out)]) == 0
        runs[name] = out
    assert main(["--device", "cpu"], folder=runs["whole"]) == 0
    assert main(["--device", "cpu", "--epochs", "2"], folder=runs["broken"]) == 0
    assert main(["--device", "cpu", "--resume"], folder=runs["broken"]) == 0
    whole = history(runs["whole"])
    assert history(runs["broken"]) == whole
    rates = [float(row["lr"]) for row in whole]
    assert rates[-1] < rates[0], "the plateau lowered the rate"
