"""``config.json``: what the spec decides about a run, written by specc next to the model.

specc writes it (``specc.run_folder.run_config``); the harness reads it here and refuses, with
the file's name, anything it cannot use.  Command-line flags override its ``train`` values.

    {
      "format": 3,
      "spec": {"name": "digits_cnn", "file": "specs/digits_cnn.spec", "sha256": "<64 hex>"},
      "backend": "torch",
      "model_file": "digits_cnn_torch.py",
      "input": {"shape": [8, 8, 1], "dtype": "float32", "vocab_size": null},
      "output": {"shape": [10], "classes": 10, "activation": "softmax"},
      "inputs": [],
      "outputs": [],
      "train": {"data": "digits", "task": "classify",
                "loss": "sparse_categorical_crossentropy", "loss_args": {}, "losses": [],
                "optimizer": "adam", "optimizer_args": {"lr": 0.001}, "batch": 32,
                "epochs": 20, "metrics": ["accuracy"], "metric_args": {}, "seed": 0,
                "validation_split": 0.1, "lr": 0.001, "schedule": "constant",
                "schedule_args": {}, "clip": {}, "accumulate": 1, "early_stopping": null,
                "monitor": null, "augment": {}, "normalize": {}}
    }

``monitor`` null means ``val_loss`` (``loss`` without validation data).

A model with several outputs (format 3) lists them in ``outputs``, in the model's order, each
``{"name": "cultivar", "shape": [3], "classes": 3, "activation": "softmax"}`` (``output`` is
the first of them), and ``train.losses`` has one entry per output, in the same order, with
everything that output trains with: ``{"output": "cultivar", "loss": ..., "args": {},
"weight": 1.0, "task": "classify", "metrics": ["accuracy"], "metric_args": {}}``; the
top-level ``task``, ``loss`` and ``metrics`` are then the first output's.  For a model with one
output ``outputs`` is empty and ``losses`` holds at most the loss line that named the output.
Likewise ``inputs`` lists the inputs of a model with several, in the model's order, each
``{"name": "image", "shape": [8, 8, 1], "dtype": "float32", "vocab_size": null}`` (``input`` is
the first of them), and is empty for a model with one input.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from .backends import NAMES as BACKEND_NAMES
from .errors import RunError

FORMAT = 3
CONFIG_NAME = "config.json"
ENTRY_NAME = "train.py"  # the script that runs a run folder
PACKAGE_NAME = "specc_harness"  # the harness's folder inside a run folder
# where each backend's checkpoint says it exists, relative to the run folder
CHECKPOINTS = {"torch": "checkpoint.pt", "keras": "checkpoint/state.json"}
INPUT_DTYPES = ("float32", "int64")
TRAIN_KEYS = {  # key: the types its value may have
    "data": (str,),
    "task": (str,),
    "loss": (str,),
    "loss_args": (dict,),
    "losses": (list,),
    "optimizer": (str,),
    "optimizer_args": (dict,),
    "batch": (int,),
    "epochs": (int,),
    "metrics": (list,),
    "metric_args": (dict,),
    "seed": (int,),
    "validation_split": (int, float),
    "lr": (int, float),
    "schedule": (str,),
    "schedule_args": (dict,),
    "clip": (dict,),
    "accumulate": (int,),
    "early_stopping": (dict, type(None)),
    "monitor": (str, type(None)),
    "augment": (dict,),
    "normalize": (dict,),
}


@dataclass(frozen=True)
class OutputInfo:
    """One output of a model with several: its name, shape (without the batch axis), classes
    (the last axis's size) and activation (None: linear)."""

    name: str
    shape: tuple[int, ...]
    classes: int
    activation: str | None

    def document(self) -> dict[str, Any]:
        """Its entry in ``config.json``'s ``outputs``."""
        return {"name": self.name, "shape": list(self.shape), "classes": self.classes,
                "activation": self.activation}  # fmt: skip


@dataclass(frozen=True)
class InputInfo:
    """One input of a model with several: its name, shape (without the batch axis), dtype and
    vocabulary (token ids are in [0, vocab_size))."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    vocab_size: int | None = None

    def document(self) -> dict[str, Any]:
        """Its entry in ``config.json``'s ``inputs``."""
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype,
                "vocab_size": self.vocab_size}  # fmt: skip


@dataclass(frozen=True)
class RunConfig:
    """The contents of ``config.json``."""

    spec_name: str
    spec_file: str
    spec_sha256: str
    backend: str
    model_file: str
    input_shape: tuple[int, ...]
    input_dtype: str  # "float32", or "int64" for token ids
    vocab_size: int | None  # token ids are in [0, vocab_size)
    num_classes: int | None  # None when the output is not a vector of class scores
    output_activation: str | None
    train: dict[str, Any]
    output_shape: tuple[int, ...] = ()  # without the batch axis, in the spec's order
    outputs: tuple[OutputInfo, ...] = ()  # a model with several outputs: each, in order
    inputs: tuple[InputInfo, ...] = ()  # a model with several inputs: each, in order

    @property
    def probabilities(self) -> bool:
        """True when the model outputs softmax or sigmoid probabilities (PyTorch: unless
        ``logits=True``)."""
        return self.output_activation in ("softmax", "sigmoid")

    def document(self) -> dict[str, Any]:
        """The JSON document of this configuration (what ``config.json`` holds)."""
        return {
            "format": FORMAT,
            "spec": {"name": self.spec_name, "file": self.spec_file, "sha256": self.spec_sha256},
            "backend": self.backend,
            "model_file": self.model_file,
            "input": {
                "shape": list(self.input_shape),
                "dtype": self.input_dtype,
                "vocab_size": self.vocab_size,
            },
            "output": {
                "shape": list(self.output_shape),
                "classes": self.num_classes,
                "activation": self.output_activation,
            },
            "inputs": [i.document() for i in self.inputs],
            "outputs": [o.document() for o in self.outputs],
            "train": dict(self.train),
        }


def config_text(config: RunConfig) -> str:
    """``config.json``'s text: indented, keys in a fixed order, a final newline."""
    return json.dumps(config.document(), indent=2) + "\n"


def read_config(path: str | os.PathLike) -> RunConfig:
    """Read and check ``config.json``; a :class:`RunError` names the file and the problem."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        raise RunError(
            f"no {CONFIG_NAME} in {os.path.dirname(path) or '.'}: this is not a run folder "
            "(`specc train` or `specc emit --train` writes one)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise RunError(f"{path} is not valid JSON (line {exc.lineno}): {exc.msg}") from None
    return parse_config(document, path)


def parse_config(document: Any, where: str = CONFIG_NAME) -> RunConfig:
    """A :class:`RunConfig` from a parsed ``config.json`` document, checked."""

    def need(value: Any, types: tuple[type, ...], what: str) -> Any:
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            names = " or ".join(t.__name__ for t in types)
            raise RunError(f"{where}: {what} must be {names}, not {json.dumps(value)}")
        return value

    def part(key: str) -> dict[str, Any]:
        return need(document.get(key), (dict,), key)

    need(document, (dict,), "the document")
    if document.get("format") != FORMAT:
        raise RunError(
            f"{where} has format {document.get('format')!r}; this harness reads format "
            f"{FORMAT}: write the run folder again with this specc"
        )
    spec, inputs, output, train = part("spec"), part("input"), part("output"), part("train")
    backend = need(document.get("backend"), (str,), "backend")
    if backend not in BACKEND_NAMES:
        raise RunError(f"{where}: unknown backend {backend!r} ({', '.join(BACKEND_NAMES)})")
    shape = _sizes(inputs, "input", need, where)
    dtype = need(inputs.get("dtype"), (str,), "input.dtype")
    if dtype not in INPUT_DTYPES:
        raise RunError(f"{where}: input.dtype must be one of {', '.join(INPUT_DTYPES)}")
    vocab = inputs.get("vocab_size")
    if vocab is not None and (need(vocab, (int,), "input.vocab_size") < 1):
        raise RunError(f"{where}: input.vocab_size must be positive")
    classes = output.get("classes")
    if classes is not None and need(classes, (int,), "output.classes") < 1:
        raise RunError(f"{where}: output.classes must be positive")
    activation = output.get("activation")
    if activation is not None:
        need(activation, (str,), "output.activation")
    out_shape = _sizes(output, "output", need, where)
    outputs = tuple(
        _output(o, f"outputs[{i}]", need, where)
        for i, o in enumerate(need(document.get("outputs"), (list,), "outputs"))
    )
    several_inputs = tuple(
        _input(i, f"inputs[{n}]", need, where)
        for n, i in enumerate(need(document.get("inputs"), (list,), "inputs"))
    )
    missing = [key for key in TRAIN_KEYS if key not in train]
    if missing:
        raise RunError(f"{where}: train lacks {', '.join(missing)}")
    for key, types in TRAIN_KEYS.items():
        need(train[key], types, f"train.{key}")
    return RunConfig(
        spec_name=need(spec.get("name"), (str,), "spec.name"),
        spec_file=need(spec.get("file"), (str,), "spec.file"),
        spec_sha256=need(spec.get("sha256"), (str,), "spec.sha256"),
        backend=backend,
        model_file=need(document.get("model_file"), (str,), "model_file"),
        input_shape=tuple(shape),
        input_dtype=dtype,
        vocab_size=vocab,
        num_classes=classes,
        output_activation=activation,
        train={key: train[key] for key in TRAIN_KEYS},
        output_shape=tuple(out_shape),
        outputs=outputs,
        inputs=several_inputs,
    )


def _sizes(entry: dict, what: str, need, where: str) -> list[int]:
    """``entry["shape"]``, checked: a list of positive sizes."""
    shape = need(entry.get("shape"), (list,), f"{what}.shape")
    if not shape or not all(isinstance(d, int) and d > 0 for d in shape):
        raise RunError(f"{where}: {what}.shape must be a list of positive sizes, not {shape}")
    return shape


def _input(entry: Any, what: str, need, where: str) -> InputInfo:
    """One entry of ``inputs``, checked."""
    need(entry, (dict,), what)
    name = need(entry.get("name"), (str,), f"{what}.name")
    shape = _sizes(entry, what, need, where)
    dtype = need(entry.get("dtype"), (str,), f"{what}.dtype")
    if dtype not in INPUT_DTYPES:
        raise RunError(f"{where}: {what}.dtype must be one of {', '.join(INPUT_DTYPES)}")
    vocab = entry.get("vocab_size")
    if vocab is not None and need(vocab, (int,), f"{what}.vocab_size") < 1:
        raise RunError(f"{where}: {what}.vocab_size must be positive")
    return InputInfo(name, tuple(shape), dtype, vocab)


def _output(entry: Any, what: str, need, where: str) -> OutputInfo:
    """One entry of ``outputs``, checked."""
    need(entry, (dict,), what)
    name = need(entry.get("name"), (str,), f"{what}.name")
    shape = _sizes(entry, what, need, where)
    classes = need(entry.get("classes"), (int,), f"{what}.classes")
    activation = entry.get("activation")
    if activation is not None:
        need(activation, (str,), f"{what}.activation")
    return OutputInfo(name, tuple(shape), classes, activation)
