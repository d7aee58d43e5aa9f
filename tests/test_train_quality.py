"""Proof by training, small: every task's spec learns in both backends within seconds.

Each run is in this process (the run folder's ``train.py`` does the same in a child; the
tests of ``test_train.py`` cover that path), on fewer samples and epochs than the spec says,
so the thresholds are above what the task's trivial answer scores, not the spec's own
(``benchmarks/train_quality.py`` trains the specs as written, three seeds per backend, and
``benchmarks/README.md`` has its figures).  Where a short run is stable, the two backends'
figures must also be close.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specc import cli

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("torch")
pytest.importorskip("keras")

# spec: (flags, metric, threshold, higher is better, bound on |keras - torch| or None)
CASES = {
    "breast_cancer_mlp": (["--epochs", "8"], "test_accuracy", 0.92, True, 0.05),
    "multilabel_mlp": (["--epochs", "6"], "test_auc", 0.8, True, 0.03),
    "diabetes_mlp": (["--epochs", "25"], "test_r2", 0.35, True, 0.1),
    "digits_augmented": (["--epochs", "3"], "test_accuracy", 0.9, True, None),
    "shapes_segmenter": (["--data", "shapes:200", "--epochs", "6", "--lr", "0.01",
                          "--batch", "16"], "test_mean_iou", 0.35, True, None),
    "chunk_tagger": (["--data", "chunks:400", "--epochs", "6"], "test_accuracy", 0.95, True,
                     0.04),
    # the corpus's unigram perplexity is 18
    "char_lm": (["--data", "corpus:300", "--epochs", "6", "--lr", "0.02"], "test_perplexity",
                12.0, False, None),
    "tiny_gpt": (["--data", "corpus:300", "--epochs", "6"], "test_perplexity", 10.0, False, None),
}  # fmt: skip
# what the trivial answer scores, for the record: all-background mean IoU 0.27, the majority
# class 0.63 (breast_cancer), r2 0, chunk tags' majority 0.55


@pytest.fixture
def one_thread():
    """PyTorch on one thread while the test runs (two test workers share two cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def train_here(spec: str, backend: str, out: Path, flags: list[str]) -> dict:
    """Write the run folder and train it in this process; returns run.json."""
    from specc.harness.main import main

    assert cli.main(["emit", str(ROOT / "specs" / f"{spec}.spec"), "-b", backend, "--train",
                     "-o", str(out)]) == 0  # fmt: skip
    assert main([*flags, "--device", "cpu"], folder=out) == 0
    return json.loads((out / "run.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("spec", sorted(CASES))
def test_each_task_learns_in_both_backends(spec, tmp_path, one_thread):
    flags, metric, threshold, higher, bound = CASES[spec]
    values = {}
    for backend in ("torch", "keras"):
        info = train_here(spec, backend, tmp_path / backend, flags)
        values[backend] = info["metrics"][metric]
        assert (values[backend] >= threshold) if higher else (values[backend] <= threshold), (
            backend,
            values[backend],
        )
        out = tmp_path / backend
        assert (out / ("best.pt" if backend == "torch" else "best.keras")).is_file()
        header = (out / "history.csv").read_text().splitlines()[0].split(",")
        assert header[-2:] == ["lr", "seconds"] and f"val_{metric[5:]}" in header
    if bound is not None:
        assert abs(values["keras"] - values["torch"]) <= bound, values


# a spec with several outputs: flags, then per output (metric, threshold, higher is better,
# bound on |keras - torch|); the trivial answers: the majority cultivar 0.40, r2 0
SEVERAL_OUTPUTS = {
    "wine_multitask_mlp": (["--epochs", "12"], [("test_cultivar_accuracy", 0.8, True, 0.1),
                                                ("test_alcohol_r2", 0.1, True, 0.3)]),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("spec", sorted(SEVERAL_OUTPUTS))
def test_each_output_of_a_several_output_spec_learns_in_both_backends(spec, tmp_path, one_thread):
    flags, targets = SEVERAL_OUTPUTS[spec]
    infos = {b: train_here(spec, b, tmp_path / b, flags) for b in ("torch", "keras")}
    for metric, threshold, higher, bound in targets:
        values = {b: info["metrics"][metric] for b, info in infos.items()}
        for backend, value in values.items():
            assert (value >= threshold) if higher else (value <= threshold), (
                backend,
                metric,
                value,
            )
        assert abs(values["keras"] - values["torch"]) <= bound, (metric, values)
    for backend in infos:
        header = (tmp_path / backend / "history.csv").read_text().splitlines()[0].split(",")
        assert {f"val_{m[5:]}" for m, *_ in targets} <= set(header)
