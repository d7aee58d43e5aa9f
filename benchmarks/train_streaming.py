"""Streaming an image folder from disk against in-memory arrays: samples per second.

.venv/bin/python benchmarks/train_streaming.py [--images 3000] [--size 64] [--rounds 3]

Writes a folder of PNG images (3 classes, SIZExSIZE RGB, decoded and resized to 32x32), then
times one pass over its training split through each input path the harness uses, as the
training loops consume them (augmented with a crop and a flip, normalised):

- in memory: the folder read into arrays once (its time reported apart), then batches sliced
  from them (the augmentation of the epoch included);
- PyTorch streamed: ``torch_loop.stream_batches`` with 0, 2 and 4 DataLoader workers;
- Keras streamed: ``keras_loop.stream_dataset`` with 1, 2 and 4 parallel decoding threads and
  tf.data's own choice (AUTOTUNE).

Rounds are interleaved; the script prints the median samples/s of each path and its ratio to
in-memory batches.  No model runs: this is the input pipeline's throughput.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from specc.harness.datasets import Inputs, load_dataset  # noqa: E402
from specc.harness.epochs import Preprocess  # noqa: E402
from specc.harness.settings import Settings  # noqa: E402
from specc.harness.streaming import FolderStream  # noqa: E402

SHAPE = (32, 32, 3)
BATCH = 64


def write_folder(root: Path, images: int, size: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(images):
        folder = root / f"class{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.png")


def settings(root: Path, workers: int) -> Settings:
    return Settings(data=f"folder:{root}", data_dir=None, epochs=1, batch=BATCH, seed=0,
                    lr=0.1, validation_split=0.1, out=".", device="cpu", nproc=1, resume=False,
                    compile=False, mixed_precision=False, loss="sparse_categorical_crossentropy",
                    metrics=(), optimizer="adam", optimizer_args={},
                    augment={"crop": 2, "flip": "horizontal"},
                    normalize={"mean": (0.5,), "std": (0.25,)}, workers=workers)  # fmt: skip


def in_memory(x, y, prep) -> int:
    import torch

    x = prep.training(x, 0)
    order = np.random.default_rng(0).permutation(len(x))
    seen = 0
    for start in range(0, len(order), BATCH):
        idx = order[start : start + BATCH]
        batch = torch.from_numpy(np.ascontiguousarray(x[idx].transpose(0, 3, 1, 2)))
        seen += len(batch) + 0 * int(y[idx][0])
    return seen


def torch_stream(stream, run, prep) -> int:
    import torch

    from specc.harness.torch_loop import stream_batches

    order = torch.randperm(stream.count("train"))
    batches = stream_batches(stream, "train", order, BATCH, run, prep, 0, torch.device("cpu"),
                             False)  # fmt: skip
    return sum(len(xb) for xb, _ in batches)


def keras_stream(stream, run, prep) -> int:
    from specc.harness.keras_loop import stream_dataset

    return sum(int(x.shape[0]) for x, _ in stream_dataset(stream, "train", 0, run, prep))


def main() -> int:
    """Write the folder, time every path, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import tensorflow as tf  # noqa: F401  (imported before the timing starts)
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "images"
        write_folder(root, args.images, args.size)
        base = settings(root, 0)
        prep = Preprocess(base, SHAPE)
        tick = time.perf_counter()
        data = load_dataset(base.data, Inputs(SHAPE, 3), None, base.validation_split)
        load = time.perf_counter() - tick
        (x, y), _, _ = data.splits
        stream = FolderStream(str(root), SHAPE, 3, base.validation_split)
        paths = {"in memory (arrays)": lambda: in_memory(x, y, prep)}
        for workers in (0, 2, 4):
            run = dataclasses.replace(base, workers=workers)
            paths[f"torch stream, {workers} workers"] = lambda r=run: torch_stream(stream, r,
                                                                                prep)  # fmt: skip
        for workers in (1, 2, 4, 0):
            run = dataclasses.replace(base, workers=workers)
            label = f"{workers} threads" if workers else "AUTOTUNE"
            paths[f"keras stream, {label}"] = lambda r=run: keras_stream(stream, r, prep)
        rates: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.rounds):
            for name, path in paths.items():
                tick = time.perf_counter()
                seen = path()
                rates[name].append(seen / (time.perf_counter() - tick))
        memory = statistics.median(rates["in memory (arrays)"])
        print(f"{args.images} PNG images {args.size}x{args.size}, read as 32x32x3; "
              f"{len(x)} training samples; {os.cpu_count()} cores")  # fmt: skip
        print(f"reading the folder into memory first: {load:.2f} s "
              f"({len(x) / load:.0f} samples/s incl. test and validation)")  # fmt: skip
        print(f"{'path':32} {'samples/s':>10} {'vs memory':>10}")
        for name, values in rates.items():
            median = statistics.median(values)
            print(f"{name:32} {median:10.0f} {median / memory:10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
