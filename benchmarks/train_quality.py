"""Proof by training: every task's spec trains offline to a stated quality in both backends.

.venv/bin/python benchmarks/train_quality.py                  # every task, seeds 0 1 2
.venv/bin/python benchmarks/train_quality.py --specs char_lm --seeds 0 --backends torch

Each run is ``specc train SPEC --backend B --seed S`` as a fresh process (the spec's own train
section otherwise), whose ``run.json`` gives the test metrics.  For each task the script
prints every run's figure, the mean per backend, the gap between the two means, and whether
each run reaches the threshold and the gap stays within its bound (exit status 1 if not).
The language model's threshold is a fraction of the unigram perplexity of its test text
(the perplexity of predicting each character by its frequency in the training text).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# spec: (metric, threshold, higher is better, bound on the gap of the backends' means), or a
# list of those for a spec with several outputs (one figure per output)
TASKS = {
    "breast_cancer_mlp": ("test_accuracy", 0.95, True, 0.02),
    "multilabel_mlp": ("test_auc", 0.84, True, 0.02),
    "diabetes_mlp": ("test_r2", 0.40, True, 0.05),
    "digits_augmented": ("test_accuracy", 0.96, True, 0.02),
    "shapes_segmenter": ("test_mean_iou", 0.90, True, 0.03),
    "chunk_tagger": ("test_accuracy", 0.98, True, 0.01),
    "char_lm": ("test_perplexity", "unigram/4", False, 0.15),
    "wine_multitask_mlp": [
        ("test_cultivar_accuracy", 0.85, True, 0.05),
        ("test_alcohol_r2", 0.20, True, 0.15),
    ],
}


def unigram_perplexity() -> float:
    """The perplexity of char_lm's test characters under their training frequencies."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from specc.harness.datasets import Inputs, load_dataset

    inputs = Inputs((64,), 30, "int64", 30, "language_model", (64, 30))
    (_, y_train), _, (_, y_test) = load_dataset("corpus", inputs, None, 0.1).splits
    counts = np.bincount(y_train.reshape(-1), minlength=30) + 1.0
    logp = np.log(counts / counts.sum())
    return float(np.exp(-logp[y_test.reshape(-1)].mean()))


def run(spec: str, backend: str, seed: int, out: Path) -> tuple[dict, float]:
    """Train ``spec`` once; returns run.json's final metrics and the wall time."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    tick = time.time()
    result = subprocess.run(
        [sys.executable, "-m", "specc", "train", str(ROOT / "specs" / f"{spec}.spec"),
         "--backend", backend, "--seed", str(seed), "--out", str(out), "--device", "cpu"],
        env=env, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"{spec} {backend} seed {seed} failed:\n{result.stderr[-3000:]}")
    info = json.loads((out / "run.json").read_text())
    return info["metrics"], time.time() - tick


def main() -> int:
    """Run the grid and print the table; non-zero when a figure misses its threshold."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", nargs="*", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--backends", nargs="*", default=["keras", "torch"])
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()
    unigram = unigram_perplexity() if "char_lm" in args.specs else None
    if unigram is not None:
        print(f"char_lm: unigram perplexity of the test text {unigram:.2f}", flush=True)
    figures, failures = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.specs:
            targets = TASKS[spec] if isinstance(TASKS[spec], list) else [TASKS[spec]]
            runs = {}
            for backend in args.backends:
                for seed in args.seeds:
                    out = Path(tmp) / f"{spec}-{backend}-{seed}"
                    runs[backend, seed] = run(spec, backend, seed, out)
            for metric, threshold, higher, bound in targets:
                if threshold == "unigram/4":
                    threshold = unigram / 4
                key = spec if len(targets) == 1 else f"{spec}:{metric}"
                for (backend, seed), (metrics, seconds) in runs.items():
                    value = metrics[metric]
                    figures.setdefault(key, {}).setdefault(backend, []).append(value)
                    ok = value >= threshold if higher else value <= threshold
                    if not ok:
                        failures.append(f"{spec} {backend} seed {seed}: {metric} {value:.4f}")
                    print(f"{spec:18} {backend:5} seed {seed}: {metric} {value:.4f} "
                          f"({'ok' if ok else 'MISSES'} {'>=' if higher else '<='} "
                          f"{threshold:.3f}; {seconds:.0f} s)", flush=True)  # fmt: skip
                means = {b: sum(v) / len(v) for b, v in figures[key].items()}
                if len(means) == 2:
                    gap = abs(means["keras"] - means["torch"])
                    relative = gap / max(abs(means["torch"]), 1e-12) if not higher else gap
                    within = relative <= bound
                    if not within:
                        failures.append(f"{key}: gap {gap:.4f} above {bound}")
                    print(f"{key:18} means " + ", ".join(f"{b} {m:.4f}" for b, m in means.items())
                          + f"; gap {gap:.4f} ({'ok' if within else 'ABOVE'} bound {bound}"
                          + (" relative" if not higher else "") + ")", flush=True)  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"unigram": unigram, "figures": figures}, indent=1))
    for failure in failures:
        print("FAILED:", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
