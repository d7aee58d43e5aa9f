"""The model being imported, as a graph of specc layer kinds.

A reader (Keras or ONNX) fills a :class:`Graph`: one :class:`Layer` per spec layer, with the
kind's parameters by name (``filters``, ``kernel``, ...: what the kind's ``Params`` take), its
inputs, and its weights in the framework's layout.  Layers are kept in topological order;
``inputs`` are indices of earlier layers.  What a reader cannot express is collected in an
:class:`Unsupported` list instead of raising, so that one run names all of it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Kinds whose output is their input transformed elementwise: a `flatten` seen through them
# still feeds the layers after them (specc.plans.PlanContext.feeds looks through the same).
ELEMENTWISE = ("activation", "dropout", "batchnorm")


class NotAModel(Exception):
    """A file that is not a model specc can read at all (a usage error, exit 2)."""


class ImportFailure(Exception):
    """A model that cannot be imported; ``code`` is its diagnostic code, ``notes`` the
    details (one per line)."""

    def __init__(self, code: str, message: str, notes=(), help: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.notes = tuple(notes)
        self.help = help


@dataclass
class Weights:
    """A layer's weights as the framework stores them.

    ``layout`` "keras": ``arrays`` is the list of ``layer.get_weights()``; "torch": a dict of
    arrays by the state_dict suffix the layer kind's PyTorch plan uses (``weight``, ``bias``,
    ``running_mean``, ``0.weight`` ...).
    """

    layout: str
    arrays: Any


@dataclass
class Layer:
    """One layer of the imported model.

    ``name`` is the framework's name for it ("" when it has none), ``source`` what it was in
    the framework (``Conv2D``, ``Conv``), for messages.
    """

    kind: str
    args: dict[str, Any] = field(default_factory=dict)
    inputs: list[int] = field(default_factory=list)
    name: str = ""
    source: str = ""
    weights: Weights | None = None


@dataclass
class Graph:
    """A whole model: its layers in topological order; layer 0 is the (first) input, every
    ``input`` layer an input of the model, in order; ``outputs`` the indices of the layers
    whose outputs are the model's, in order (``output``: the first)."""

    name: str
    layers: list[Layer] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    # what the spec leaves out that changes only training (said, not refused)
    warnings: list[str] = field(default_factory=list)

    @property
    def output(self) -> int:
        """The first output (-1 before any is set)."""
        return self.outputs[0] if self.outputs else -1

    @output.setter
    def output(self, index: int) -> None:
        self.outputs = [index]

    @property
    def inputs(self) -> list[int]:
        """The model's inputs, in order."""
        return [i for i, layer in enumerate(self.layers) if layer.kind == "input"]

    def replace(self, old: int, new: int) -> None:
        """Every reader of layer ``old`` (and the outputs) reads layer ``new`` instead."""
        for layer in self.layers:
            layer.inputs = [new if i == old else i for i in layer.inputs]
        self.outputs = [new if i == old else i for i in self.outputs]

    def add(self, layer: Layer) -> int:
        """Append ``layer``; returns its index."""
        self.layers.append(layer)
        return len(self.layers) - 1

    def consumers(self) -> dict[int, list[int]]:
        """Each layer's readers, in order."""
        users: dict[int, list[int]] = {i: [] for i in range(len(self.layers))}
        for i, layer in enumerate(self.layers):
            for j in layer.inputs:
                users[j].append(i)
        return users

    def compact(self) -> None:
        """Drop layers that do not lead to an output (removed, or never used), renumbering
        the rest; the inputs always stay."""
        keep = set(self.outputs)
        for i in range(len(self.layers) - 1, -1, -1):
            if i in keep:
                keep.update(self.layers[i].inputs)
        keep.update(self.inputs)
        keep.add(0)
        order = sorted(keep)
        new_index = {old: new for new, old in enumerate(order)}
        layers = []
        for old in order:
            layer = self.layers[old]
            layer.inputs = [new_index[i] for i in layer.inputs]
            layers.append(layer)
        self.layers = layers
        self.outputs = [new_index[i] for i in self.outputs]


@dataclass(frozen=True)
class Problem:
    """Something of the model specc cannot express: the framework's type (``Multiply``,
    ``Conv with group=4``), the layer or node name, and why when the type alone does not
    say it."""

    what: str
    name: str
    why: str = ""


class Unsupported:
    """Collects every :class:`Problem` of a model; :meth:`raise_if_any` reports them all at
    once, grouped by type, with counts and names (E0701)."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []

    def add(self, what: str, name: str, why: str = "") -> None:
        """Record one layer or op that specc cannot express."""
        self.problems.append(Problem(what, name, why))

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self) -> None:
        """Raise :class:`ImportFailure` listing every problem, if there is one."""
        if not self.problems:
            return
        counts = Counter(p.what for p in self.problems)
        notes = []
        for what, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            found = [p for p in self.problems if p.what == what]
            names = [p.name or "(unnamed)" for p in found]
            shown = ", ".join(names[:6]) + (f", ... ({count - 6} more)" if count > 6 else "")
            why = found[0].why
            notes.append(f"{what} ×{count}: {shown}" + (f" ({why})" if why else ""))
        kinds = len(counts)
        total = len(self.problems)
        plural = "s" if kinds != 1 else ""
        raise ImportFailure(
            "E0701",
            f"{self.source} uses {kinds} layer type{plural} that specc cannot express "
            f"({total} in all); no spec was written",
            notes,
            help="`specc layers` lists the layer kinds a spec can use",
        )
