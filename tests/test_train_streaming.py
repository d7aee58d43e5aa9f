"""An image folder streamed from disk (``--stream``: DataLoader worker processes, a tf.data
parallel map) trains exactly as the same folder read into memory: the same splits, order,
augmentation and normalisation, so the same history, in both backends."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from specc.harness.datasets import Inputs, load_dataset
from specc.harness.streaming import FolderStream
from tests.test_train import specc

SPEC = """model streamed
input 12x12x3
conv 8 3x3 relu
maxpool 2
flatten
dense 3 softmax
train {{
  data "folder:{root}"
  augment crop=1 flip=horizontal
  normalize mean="0.5,0.5,0.5" std=0.3
  batch 8
  epochs 2
}}
"""


def write_images(root: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, name in enumerate(("a", "b", "c")):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(20):  # 14x16: resized to the model's 12x12 on reading
            pixels = (rng.random((14, 16, 3)) * 120 + label * 60).astype("uint8")
            Image.fromarray(pixels).save(folder / f"{i:03d}.png")


def history(out: Path) -> list[dict]:
    with open(out / "history.csv", newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


def test_a_stream_has_the_in_memory_splits_and_images(tmp_path):
    write_images(tmp_path / "imgs")
    inputs = Inputs((12, 12, 3), 3)
    memory = load_dataset(f"folder:{tmp_path / 'imgs'}", inputs, None, 0.2)
    stream = FolderStream(str(tmp_path / "imgs"), (12, 12, 3), 3, 0.2)
    for split, (x, y) in zip(("train", "val", "test"), memory.splits, strict=True):
        assert np.array_equal(stream.labels(split), y)
        decoded = np.stack([stream.decode(split, i) for i in range(stream.count(split))])
        assert np.array_equal(decoded, x)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_streamed_training_is_in_memory_training(tmp_path, backend):
    pytest.importorskip("PIL")
    write_images(tmp_path / "imgs")
    spec = tmp_path / "streamed.spec"
    spec.write_text(SPEC.format(root=tmp_path / "imgs"))
    runs = {}
    for name, flags in (("memory", []), ("stream", ["--stream", "--workers", "2"])):
        result = specc("train", spec, "-b", backend, "--out", tmp_path / name, *flags)
        assert result.returncode == 0, result.stderr[-3000:]
        runs[name] = history(tmp_path / name)
    assert runs["stream"] == runs["memory"] and len(runs["memory"]) == 2
