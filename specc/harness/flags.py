"""The command-line flags of a run: one definition for ``specc train`` and ``RUN/train.py``.

``specc train`` adds them with no defaults (a flag not given leaves the spec's value, which
the run folder's ``config.json`` holds) and hands the ones given on to ``train.py``
(:func:`to_argv`); ``train.py`` adds them with the configuration's values as defaults.  Both
refuse the same bad values (:func:`problems`).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from typing import Any

from .catalog import source_names

SEED_LIMIT = 2**32  # numpy's seeds are 32-bit


class Flag:
    """One command-line flag and the values it accepts.

    (A plain class rather than a dataclass: ``specc check`` builds the command line, and a
    dataclass costs a millisecond to create.)
    """

    __slots__ = ("choices", "default", "forward", "help", "high", "low", "option", "setting",
                 "type")  # fmt: skip

    def __init__(self, option: str, help: str, type: type | None = None,
                 setting: str | None = None, *, default: Any = None,
                 choices: tuple[str, ...] = (), low: float | None = None,
                 high: float | None = None, forward: bool = True) -> None:  # fmt: skip
        self.option = option
        self.help = help
        self.type = type  # None: a switch
        self.setting = setting  # the config's train key that gives the default
        self.default = default  # the default otherwise (in train.py)
        self.choices = choices
        self.low = low  # the smallest value allowed
        self.high = high  # values must be below it
        self.forward = forward  # specc train hands it on to train.py

    @property
    def dest(self) -> str:
        """The attribute argparse stores the value in (``--data-dir`` -> ``data_dir``)."""
        return self.option.lstrip("-").replace("-", "_")


FLAGS = (
    Flag("--data", f"what to train on: {source_names()}", str, setting="data"),
    Flag("--data-dir", "where dataset files are found or cached", str),
    Flag("--epochs", "epochs to train", int, setting="epochs", low=1),
    Flag("--batch", "global batch size (over every process)", int, setting="batch", low=1),
    Flag(
        "--seed",
        "seed of the initial weights, shuffling and dropout",
        int,
        "seed",
        low=0,
        high=SEED_LIMIT,
    ),
    Flag("--lr", "learning rate", float, setting="lr", low=0.0),
    Flag(
        "--validation-split",
        "fraction of the training data held out for validation",
        float,
        setting="validation_split",
        low=0.0,
        high=1.0,
    ),
    Flag(
        "--out",
        "run folder (specc train: default runs/MODEL-BACKEND; train.py: its own folder)",
        str,
        forward=False,
    ),
    Flag("--device", "where to train", str, default="auto", choices=("auto", "cpu", "cuda")),
    Flag("--nproc", "processes (torchrun) or replicas (tf.distribute)", int, default=1, low=1),
    Flag("--nnodes", "machines of a PyTorch run (torchrun; Keras reads TF_CONFIG)", int,
         default=1, low=1),
    Flag("--node-rank", "this machine's rank among --nnodes (0 is the first)", int, default=0,
         low=0),
    Flag("--rdzv-endpoint", "HOST:PORT where the machines of a PyTorch run meet (the first's)",
         str),
    Flag("--workers", "processes decoding a streamed image folder (0: in the training process)",
         int, default=0, low=0),
    Flag("--stream", "read an image folder from disk batch by batch (automatic when large)"),
    Flag("--resume", "continue from the run folder's checkpoint"),
    Flag("--compile", "torch.compile / XLA jit_compile"),
    Flag("--mixed-precision", "bfloat16 compute (autocast / mixed_bfloat16)"),
    Flag("--track", "record the run in a tracker", str, choices=("mlflow",)),
    Flag("--track-uri", "the tracker's store (default: MLflow's, sqlite:///mlflow.db here)", str),
    Flag("--tensorboard", "write TensorBoard event files into RUN/tensorboard/"),
)  # fmt: skip
# values that must be strictly positive rather than at least `low`
_POSITIVE = ("lr",)


def add_flags(parser: argparse.ArgumentParser, defaults: Mapping[str, Any] | None) -> None:
    """Add every flag to ``parser``.

    ``defaults`` maps the configuration's train keys to values (``train.py``); ``None`` leaves
    every flag unset by default (``specc train``, where the spec decides).
    """
    for flag in FLAGS:
        if flag.type is None:
            parser.add_argument(flag.option, action="store_true", help=flag.help)
            continue
        default = None
        if defaults is not None:
            default = defaults[flag.setting] if flag.setting else flag.default
        shown = f" (default: {default})" if default is not None and flag.dest != "out" else ""
        parser.add_argument(
            flag.option,
            type=flag.type,
            default=default,
            choices=flag.choices or None,
            help=flag.help + shown,
            metavar=None if flag.choices else flag.dest.split("_")[-1].upper(),
        )


def problems(args: argparse.Namespace) -> list[str]:
    """What is wrong with the values in ``args`` (unset values are not checked)."""
    found = []
    for flag in FLAGS:
        value = getattr(args, flag.dest, None)
        if flag.type not in (int, float) or value is None:
            continue
        positive = flag.dest in _POSITIVE
        if flag.type is float and not math.isfinite(value):
            found.append(f"{flag.option} must be a finite number")
        elif flag.low is not None and (value <= flag.low if positive else value < flag.low):
            found.append(f"{flag.option} must be {'above' if positive else 'at least'} {flag.low}")
        elif flag.high is not None and value >= flag.high:
            found.append(f"{flag.option} must be below {flag.high}")
    return found


def to_argv(args: argparse.Namespace) -> list[str]:
    """The flags set in ``args`` as command-line words, for ``train.py``."""
    argv: list[str] = []
    for flag in FLAGS:
        value = getattr(args, flag.dest, None)
        if not flag.forward or value is None or value is False:
            continue
        argv += [flag.option] if flag.type is None else [flag.option, str(value)]
    return argv
