"""Training throughput of the harness's loops against hand-written minimal loops, in one run.

The reference model (``specs/cifar10_cnn.spec``) is written into a run folder for both
backends (``specc emit --train``); on synthetic CIFAR-shaped data (32x32x3, 10 classes) at
batch 64 we time one epoch at a time of

- PyTorch: the harness's ``torch_loop.train_epoch`` (pre-built tensors, index batches, loss and
  accuracy summed on the device, the tqdm bar) against a bare loop over slices of the same
  tensors;
- Keras: the harness's ``keras_loop.fit_epoch`` (``fit`` of the epoch's permutation, compiled
  by ``compile_model`` with the accuracy metric) against ``model.fit`` of the same architecture
  compiled with ``"adam"`` and no metrics, shuffle off.

Rounds alternate between the two loops so that both see the same machine load; we report
images/s (median over rounds) and the ratio emitted / hand-written (target >= 0.97).  The
per-epoch checkpoint write is timed separately: it is per epoch, not per step.

    .venv/bin/python benchmarks/train_throughput.py [--rounds N] [--samples N] [--threads N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "cifar10_cnn.spec"
BATCH = 64


def prepare(backend: str, folder: Path, samples: int):
    """The reference spec's run folder for ``backend``: (settings, config, build_model, data)."""
    from specc.harness.config import read_config
    from specc.harness.datasets import Inputs, load_data
    from specc.harness.main import load_builder, parse_flags

    run = folder / backend
    subprocess.run(
        [
            sys.executable,
            "-m",
            "specc",
            "emit",
            str(SPEC),
            "-b",
            backend,
            "--train",
            "-o",
            str(run),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    config = read_config(run / "config.json")
    settings = parse_flags(config, run, ["--batch", str(BATCH), "--lr", "0.001"], "bench")
    inputs = Inputs(config.input_shape, config.num_classes)
    (x, y), _, _ = load_data(f"synthetic:{samples}", inputs, None, 0.0)
    return settings, config, load_builder(run / config.model_file), (x, y)


def alternate(runs: dict[str, callable], rounds: int, images: int) -> dict[str, float]:
    """Median images/s of each runner, rounds interleaved, after one warm-up call each."""
    for run in runs.values():
        run()
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    return {name: images / statistics.median(times) for name, times in seconds.items()}


def bench_torch(samples: int, rounds: int, folder: Path) -> dict:
    """The harness's ``train_epoch`` vs a bare slice loop, same model, data and optimizer kind."""
    import torch
    import torch.nn.functional as F

    from specc.harness import torch_checkpoint, torch_loop
    from specc.harness.lifecycle import StopSignals

    settings, config, build_model, (x_np, y_np) = prepare("torch", folder, samples)
    torch.manual_seed(0)
    device = torch.device("cpu")
    x = torch_loop.to_tensor(x_np, device, channels_last=False)
    y = torch.from_numpy(y_np)
    emitted_model = build_model()
    emitted_opt = torch_loop.make_optimizer(settings, emitted_model.parameters())
    hand_model = build_model()
    hand_opt = torch.optim.Adam(hand_model.parameters(), lr=1e-3, eps=1e-7)
    step = torch_loop.Step(settings, device, 1, StopSignals())
    sampler = torch.utils.data.DistributedSampler(
        range(samples), num_replicas=1, rank=0, shuffle=True, seed=0
    )

    def emitted():
        sampler.set_epoch(0)
        order = torch.tensor(list(sampler), dtype=torch.int64)
        with contextlib.redirect_stderr(io.StringIO()):  # the bar is drawn, to nowhere
            progress = torch_loop.Progress(-(-samples // BATCH), "bench", True)
            totals = torch_loop.train_epoch(
                emitted_model, emitted_opt, (x, y), order, BATCH, step, progress
            )
            progress.close(step.mean(totals))

    def hand():
        hand_model.train()
        for i in range(0, samples, BATCH):
            loss = F.cross_entropy(hand_model(x[i : i + BATCH], logits=True), y[i : i + BATCH])
            hand_opt.zero_grad()
            loss.backward()
            hand_opt.step()

    rates = alternate({"emitted": emitted, "hand": hand}, rounds, samples)
    start = time.perf_counter()
    torch_checkpoint.save(folder / "checkpoint.pt", config, emitted_model, emitted_opt, 1, [])
    rates["checkpoint_s"] = time.perf_counter() - start
    rates["threads"] = torch.get_num_threads()
    return rates


def bench_keras(samples: int, rounds: int, folder: Path) -> dict:
    """The harness's ``fit_epoch`` vs ``fit`` with a minimal compile and no shuffle."""
    import keras

    from specc.harness import keras_checkpoint, keras_loop
    from specc.harness.lifecycle import StopSignals

    settings, config, build_model, (x, y) = prepare("keras", folder, samples)
    keras.utils.set_random_seed(0)
    emitted_model = build_model()
    keras_loop.compile_model(emitted_model, settings, config.probabilities)
    hand_model = build_model()
    hand_model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    stop = StopSignals()

    def emitted():
        keras_loop.fit_epoch(emitted_model, (x, y), None, settings, 0, stop, verbose=0)

    def hand():
        hand_model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)

    rates = alternate({"emitted": emitted, "hand": hand}, rounds, samples)
    start = time.perf_counter()
    keras_checkpoint.save(folder / "keras_checkpoint", config, emitted_model, 1, [])
    rates["checkpoint_s"] = time.perf_counter() - start
    return rates


def set_threads(count: int) -> None:
    """Limit both frameworks to ``count`` compute threads (before either starts computing)."""
    import tensorflow as tf
    import torch

    torch.set_num_threads(count)
    tf.config.threading.set_intra_op_parallelism_threads(count)
    tf.config.threading.set_inter_op_parallelism_threads(count)


def main() -> int:
    """Run the benchmark and print a table and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=2048, help="images per timed epoch")
    parser.add_argument("--backend", choices=("torch", "keras", "both"), default="both")
    parser.add_argument("--threads", type=int, default=0, help="compute threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        set_threads(args.threads)
    backends = ("torch", "keras") if args.backend == "both" else (args.backend,)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for backend in backends:
            bench = bench_torch if backend == "torch" else bench_keras
            results[backend] = bench(args.samples, args.rounds, folder)
            results[backend]["ratio"] = results[backend]["emitted"] / results[backend]["hand"]
    print(
        f"cifar10_cnn, synthetic 32x32x3, batch {BATCH}, {args.samples} images per epoch, "
        f"median of {args.rounds} alternating rounds, threads: {args.threads or 'default'}"
    )
    print(f"{'backend':<8}{'emitted img/s':>15}{'hand img/s':>13}{'ratio':>8}{'ckpt s':>8}")
    for backend, r in results.items():
        print(
            f"{backend:<8}{r['emitted']:>15.0f}{r['hand']:>13.0f}{r['ratio']:>8.3f}"
            f"{r['checkpoint_s']:>8.3f}"
        )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
