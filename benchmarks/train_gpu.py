"""GPU training throughput of the emitted PyTorch loop against a hand-tuned loop, in one run.

The reference model (``specs/cifar10_cnn.spec``) on synthetic CIFAR-shaped images (50,000 by
default), as the issue asks: the data on the GPU, ``channels_last``, bf16 autocast and
``torch.compile`` for both loops, at batch 64 and 2048.  The emitted loop is the harness's
``torch_loop.train_epoch`` (with its progress bar, drawn to nowhere); the hand-tuned loop is
the shortest correct loop over the same tensors.  One warm-up epoch each (compilation), then
the median of ``--rounds`` epochs, rounds interleaved.  Reports images/s and emitted / hand-tuned.

Targets from the issue, on an H200: >= 65,000 images/s at batch 64 and >= 590,000 at batch
2048 (a hand-tuned loop reached 737,000 there).  Needs a CUDA device; ``--device cpu
--samples 512 --batches 64`` is a smoke test of the script itself.

    python benchmarks/train_gpu.py [--samples 50000] [--batches 64 2048] [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "cifar10_cnn.spec"


def prepare(folder: Path, samples: int):
    """The reference spec's PyTorch run folder: (settings, build_model, samples, labels)."""
    from specc.harness.config import read_config
    from specc.harness.datasets import Inputs, load_data
    from specc.harness.main import load_builder, parse_flags

    run = folder / "torch"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "specc",
            "emit",
            str(SPEC),
            "-b",
            "torch",
            "--train",
            "-o",
            str(run),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    config = read_config(run / "config.json")
    settings = parse_flags(config, run, ["--lr", "0.001", "--mixed-precision"], "bench")
    (x, y), _, _ = load_data(
        f"synthetic:{samples}", Inputs(config.input_shape, config.num_classes), None, 0.0
    )
    return settings, load_builder(run / config.model_file), x, y


def bench(prepared_run, device_name: str, samples: int, batch: int, rounds: int) -> dict:
    """images/s of the emitted and the hand-tuned loop at ``batch``."""
    import torch
    import torch.nn.functional as F

    from specc.harness import torch_loop
    from specc.harness.lifecycle import StopSignals

    settings, build_model, x_np, y_np = prepared_run
    device = torch.device(device_name)
    cuda = device.type == "cuda"
    torch.manual_seed(0)
    x = torch_loop.to_tensor(x_np, device, channels_last=cuda)
    y = torch.from_numpy(y_np).to(device)
    step = torch_loop.Step(settings, device, 1, StopSignals())

    def prepared():
        model = build_model().to(device)
        if cuda:
            model = model.to(memory_format=torch.channels_last)
        optimizer = torch_loop.make_optimizer(settings, model.parameters())
        return model, optimizer, torch.compile(model)

    _, emitted_opt, emitted_net = prepared()
    hand_model, hand_opt, hand_net = prepared()

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    def emitted():
        order = torch.randperm(samples, device=device)
        with contextlib.redirect_stderr(io.StringIO()):
            progress = torch_loop.Progress(-(-samples // batch), "bench", True)
            torch_loop.train_epoch(emitted_net, emitted_opt, (x, y), order, batch, step, progress)
            progress.close({})
        sync()

    def hand():
        hand_model.train()
        order = torch.randperm(samples, device=device)
        for i in range(0, samples, batch):
            idx = order[i : i + batch]
            with torch.autocast(device.type, dtype=torch.bfloat16):
                loss = F.cross_entropy(hand_net(x[idx], logits=True).float(), y[idx])
            hand_opt.zero_grad(set_to_none=True)
            loss.backward()
            hand_opt.step()
        sync()

    runs = {"emitted": emitted, "hand-tuned": hand}
    for run in runs.values():  # warm-up: compilation, autotuning, allocator
        run()
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    rates = {name: samples / statistics.median(t) for name, t in seconds.items()}
    rates["ratio"] = rates["emitted"] / rates["hand-tuned"]
    return rates


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark and print a table (and the figures as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 2048])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args(argv)

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(
            "no CUDA device: run this on a GPU machine (or --device cpu to smoke-test)"
        )
    with tempfile.TemporaryDirectory() as folder:
        prepared_run = prepare(Path(folder), args.samples)
        results = {
            b: bench(prepared_run, args.device, args.samples, b, args.rounds) for b in args.batches
        }
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"{name}, torch {torch.__version__}, {args.samples:,} images, median of {args.rounds}")
    print(f"{'batch':>6}  {'emitted img/s':>14}  {'hand-tuned img/s':>16}  ratio")
    for batch, r in results.items():
        print(f"{batch:>6}  {r['emitted']:>14,.0f}  {r['hand-tuned']:>16,.0f}  {r['ratio']:.2f}")
    print(json.dumps({str(b): r for b, r in results.items()}))
    return results


if __name__ == "__main__":
    main()
