"""What the templates receive: the script-wide context and one :class:`NodeView` per layer."""

from __future__ import annotations

import hashlib
import re
import textwrap
from dataclasses import dataclass, replace
from typing import Any

import jinja2

from specc.compiler import CheckedModel
from specc.data_catalog import DEFAULT_DATA
from specc.emit.environment import EmitError, environment
from specc.emit.graph import feeds
from specc.ir import Node
from specc.layers import lookup


@dataclass(frozen=True)
class NodeView:
    """One layer as a snippet sees it (see ``templates/README.md`` for the contract)."""

    index: int
    name: str  # the IR node name: layer name in Keras, submodule name in PyTorch
    kind: str
    p: Any  # the validated parameters (the kind's Params instance)
    in_shape: tuple[int, ...]  # first input's shape, layout-neutral, without batch
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]
    act: str | None  # the fused activation to apply (None for none/linear, or deferred)
    feeds: tuple[str, ...]  # kinds of the consuming layers (through dropout/activation/bn)
    is_output: bool
    x: str = "x"  # expression of the (first) input
    xs: tuple[str, ...] = ()  # expressions of every input
    out: str = "x"  # variable the snippet assigns

    @property
    def self(self) -> str:
        """``self.<name>``: the submodule attribute (PyTorch)."""
        return f"self.{self.name}"

    @property
    def rank(self) -> int:
        """Rank of the input without batch: 3 image, 2 sequence, 1 vector."""
        return len(self.in_shape)


def node_view(checked: CheckedModel, node: Node, **wires: Any) -> NodeView:
    """The snippet's view of ``node``; ``wires`` sets x / xs / out / act."""
    model = checked.model
    assert model is not None
    params = checked.params.get(node.index)
    kind = lookup(node.kind)
    in_shapes = tuple(checked.infos[i].shape for i in node.inputs)
    act = kind.activation(params) if kind is not None and params is not None else None
    view = NodeView(
        index=node.index,
        name=node.name,
        kind=node.kind,
        p=params,
        in_shape=in_shapes[0] if in_shapes else checked.infos[node.index].shape,
        in_shapes=in_shapes,
        out_shape=checked.infos[node.index].shape,
        act=None if act == "linear" else act,
        feeds=feeds(model, node.index),
        is_output=node.index == model.output,
    )
    return replace(view, **wires)


def snippet(backend: str, kind: str) -> Any:
    """The module of ``templates/<backend>/layers/<kind>.py.j2`` (its macros are attributes)."""
    try:
        return environment().get_template(f"{backend}/layers/{kind}.py.j2").module
    except jinja2.TemplateNotFound:
        raise EmitError(
            f"the {backend} backend has no template for layer kind `{kind}` "
            f"(expected templates/{backend}/layers/{kind}.py.j2)"
        ) from None


def render_lines(text: str) -> list[str]:
    """A macro's output as statement lines: dedented, blank lines dropped."""
    return [line.rstrip() for line in textwrap.dedent(str(text)).splitlines() if line.strip()]


def render_expr(text: str) -> str:
    """A macro's output as one expression: surrounding whitespace and line breaks removed."""
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


def spec_hash(checked: CheckedModel) -> str:
    """First 16 hex digits of the sha256 of the spec text."""
    return hashlib.sha256(checked.source.text.encode("utf-8")).hexdigest()[:16]


def class_name(model_name: str) -> str:
    """``cifar10_cnn`` -> ``Cifar10Cnn`` (a valid class name for any model name)."""
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", model_name) if p]
    name = "".join(p[0].upper() + p[1:] for p in parts) or "Model"
    return f"Model{name}" if name[0].isdigit() else name


def output_activation(checked: CheckedModel) -> str | None:
    """The activation of the output layer (``softmax``, ``sigmoid``, ...), or None."""
    model = checked.model
    assert model is not None
    node = model.nodes[model.output]
    kind = lookup(node.kind)
    params = checked.params.get(node.index)
    act = kind.activation(params) if kind is not None and params is not None else None
    return None if act in (None, "linear") else act


def input_vocab(checked: CheckedModel) -> int | None:
    """For integer inputs (``input L dtype=int``): the smallest vocabulary among the layers
    that read the ids, so that every id in [0, vocab) is valid for all of them; else None."""
    model = checked.model
    assert model is not None
    if getattr(checked.params.get(0), "dtype", "float32") != "int":
        return None
    readers = [n for n in model.nodes if getattr(lookup(n.kind), "int_input", False)]
    vocabs = [checked.params[n.index].vocab for n in readers if n.index in checked.params]
    return min(vocabs) if vocabs else None


def script_context(checked: CheckedModel, backend: str) -> dict[str, Any]:
    """The context every part of the script is rendered with (training templates included)."""
    model = checked.model
    assert model is not None
    out_shape = checked.infos[model.output].shape
    train = model.train
    ints = getattr(checked.params.get(0), "dtype", "float32") == "int"
    return {
        "backend": backend,
        "spec_file": checked.source.name.replace("\\", "/"),
        "spec_hash": spec_hash(checked),
        "model_name": model.name,
        "class_name": class_name(model.name),
        "input_shape": tuple(checked.infos[0].shape),
        "input_dtype": "int64" if ints else "float32",
        "vocab_size": input_vocab(checked),
        "num_classes": out_shape[0] if len(out_shape) == 1 else None,
        "output_activation": output_activation(checked),
        "train": {
            "data": train.data or DEFAULT_DATA,
            "loss": train.loss,
            "optimizer": train.optimizer,
            "optimizer_args": dict(train.optimizer_args),
            "batch_size": train.batch_size,
            "epochs": train.epochs,
            "metrics": list(train.metrics),
            "seed": train.seed,
            "validation_split": train.validation_split,
            "learning_rate": train.learning_rate,
        },
    }
