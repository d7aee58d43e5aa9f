"""The PyTorch checkpoint, ``RUN/checkpoint.pt``: everything that makes a resumed run the same
run as an unbroken one.

It is one ``torch.save`` file, written atomically after every epoch: the model's and the
optimizer's ``state_dict``, the epoch count, the history so far, the CPU and CUDA random
states, the loop's state (the batch count, gradients accumulated but not yet applied, the
monitor of early stopping and reduce-on-plateau) and the spec's sha256.  (The shuffle
order is a function of the seed and the epoch, so it needs no state.)  It is read with
``weights_only=True`` (no pickled code runs) and checked before any training: a damaged file,
another spec's checkpoint or one that does not fit the model is a :class:`RunError` naming
the file.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .config import CHECKPOINTS
from .errors import RunError
from .runfiles import replace_atomically

CHECKPOINT_NAME = CHECKPOINTS["torch"]
FORMAT = 1
KEYS = ("format", "spec_sha256", "epoch", "model", "optimizer", "history", "torch_rng", "cuda_rng",
        "loop")  # fmt: skip


def save(path: Path, config, model, optimizer, epoch: int, rows: list[dict], loop: dict) -> None:
    """Write the checkpoint after ``epoch`` epochs, atomically; ``loop`` is the loop's own
    state (the batch count, pending accumulated gradients, the monitor's state)."""
    state = {
        "format": FORMAT,
        "spec_sha256": config.spec_sha256,
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "history": rows,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "loop": loop,
    }
    replace_atomically(path, lambda tmp: torch.save(state, tmp))


def read(path: Path, config) -> dict:
    """Load and check the checkpoint at ``path`` (before any data or model is built)."""
    if path.stat().st_size == 0:
        raise RunError(f"the checkpoint {path} is empty (0 bytes): remove it to start again")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a damaged file
        raise RunError(
            f"the checkpoint {path} is damaged or truncated ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'}); "
            "remove it to start again"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise RunError(f"{path} is not a checkpoint this harness writes; remove it to start again")
    missing = [key for key in KEYS if key not in state]
    if missing:
        raise RunError(f"the checkpoint {path} lacks {', '.join(missing)}; it is damaged")
    if state["spec_sha256"] != config.spec_sha256:
        raise RunError(
            f"{path} was written for another version of the spec; remove it to start again "
            "or use another --out"
        )
    epoch, rows = state["epoch"], state["history"]
    if not isinstance(epoch, int) or epoch < 0 or not isinstance(rows, list) or len(rows) != epoch:
        raise RunError(f"the checkpoint {path} is inconsistent (epoch {epoch!r}); it is damaged")
    return state


def restore(state: dict, path: Path, model, optimizer) -> tuple[int, list[dict]]:
    """Load a checked ``state`` into ``model`` and ``optimizer`` and restore the random state;
    returns (epochs done, history rows)."""
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"the checkpoint {path} does not fit this model: {first}") from None
    if state["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state["epoch"], state["history"]
