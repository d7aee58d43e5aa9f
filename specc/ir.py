"""The intermediate representation: a model is a graph of layer nodes.

The IR is made of frozen, validated pydantic models, whose schemas are built on first use
(``defer_build``).  Spans and raw arguments are named tuples that the models accept by
isinstance: a large spec has one per token, and pydantic's validation of them would dominate.

Every node carries the span of the spec line it came from and, when it was produced by a block
instance, the spans of the call sites that produced it (innermost first), so that any later
pass can point at the right place.  Shapes are layout-neutral and exclude the batch dimension:
``(H, W, C)`` for images, ``(L, C)`` for sequences, ``(N,)`` for vectors.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from specc.source import Span

Shape = tuple[int, ...]


class NoParams(BaseModel):
    """Parameter schema of a layer kind that takes no arguments."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class RawArg(NamedTuple):
    """An argument after block substitution, before it is validated by the layer's schema.

    A named tuple (a large spec has several per layer); the validate pass turns a node's raw
    arguments into its kind's pydantic ``Params``.
    """

    key: str | None
    value: Any
    text: str
    span: Span
    value_kind: str = "name"
    # the argument as written (a ``syntax.Value``): inside a block, ``f`` or ``(f * 4)``,
    # which the emitters write as Python when the block becomes a class or function
    source: Any = None

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):
        """In pydantic models a raw argument is checked with isinstance only."""
        from pydantic_core import core_schema

        return core_schema.is_instance_schema(cls)


class Node(BaseModel):
    """One layer of the graph.

    ``inputs`` are indices of earlier nodes (the graph is stored in topological order).
    ``args`` are the arguments as written (block parameters substituted); the validate pass
    binds them to the kind's parameter schema.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, defer_build=True)

    index: int
    name: str
    kind: str
    args: tuple[RawArg, ...] = ()
    inputs: tuple[int, ...] = ()
    span: Span
    name_span: Span
    trace: tuple[Span, ...] = ()
    explicit_name: bool = False
    # how a merge node came to be: "residual", "residual_identity" or "branch"
    role: str = ""
    # the innermost scope (block instance, repeat, iteration, sequential group) it belongs to:
    # an index into Model.scopes, 0 being the model itself
    scope: int = 0


class Scope(NamedTuple):
    """Where nodes came from: the model, a block instance, a ``repeat``, one of its iterations,
    or a ``sequential`` group.  The emitters keep this structure: a block is a class (PyTorch)
    or a function (Keras), a ``repeat`` or ``sequential`` group an ``nn.Sequential`` stage.

    ``name`` is the dotted path of the scope (``layer2.0``; the model's is ""), which prefixes
    the names of its nodes.  Scopes that share ``key`` are instances of one definition
    (``("block", "basic")``, ``("repeat", span)`` and ``("iteration", span)`` for a repeat and
    its iterations, ``("sequential", span)``, ``("model",)``),
    whose AST body is ``definition``.  ``env`` holds a block instance's bound parameters,
    ``decisions`` the outcome of every ``if`` decided directly in this scope's body.
    """

    index: int
    parent: int  # -1 for the model
    kind: str  # "model" | "block" | "repeat" | "iteration" | "sequential"
    name: str
    local: str
    label: str
    key: tuple
    span: Span | None
    env: tuple[tuple[str, Any], ...] = ()
    decisions: tuple[tuple[Span, bool], ...] = ()
    definition: tuple = ()
    collapse: bool = False
    formals: tuple = ()  # a block's parameters as written (syntax.Formal: name, default)
    stmt: Any = None  # the call or statement that opened it, as written

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):
        """In pydantic models a scope is checked with isinstance only."""
        from pydantic_core import core_schema

        return core_schema.is_instance_schema(cls)


class TrainConfig(BaseModel):
    """The ``train { ... }`` section: what ``specc train`` and the emitted ``main()`` use."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    data: str | None = None  # None: `specc train` defaults to digits
    loss: str = "sparse_categorical_crossentropy"
    optimizer: str = "adam"
    optimizer_args: dict[str, float] = Field(default_factory=dict)
    batch_size: int = Field(default=64, gt=0)
    epochs: int = Field(default=10, gt=0)
    metrics: tuple[str, ...] = ("accuracy",)
    seed: int = 0
    validation_split: float = Field(default=0.1, ge=0.0, lt=1.0)
    # what the harness trains beyond the basics (specc/harness/tasks.py, schedules.py,
    # augment.py hold the tables; specc/train_section.py reads them): None/empty = not set
    task: str | None = None
    loss_args: dict[str, float] = Field(default_factory=dict)
    # one loss per named output: (output, loss, args, weight)
    losses: tuple[tuple[str, str, dict[str, float], float], ...] = ()
    metric_args: dict[str, dict[str, float]] = Field(default_factory=dict)
    # the metrics lines that name an output: (output, metrics, their arguments)
    output_metrics: tuple[tuple[str, tuple[str, ...], dict[str, dict[str, float]]], ...] = ()
    schedule: str | None = None
    schedule_args: dict[str, float] = Field(default_factory=dict)
    clip: dict[str, float] = Field(default_factory=dict)
    accumulate: int = Field(default=1, gt=0)
    early_stopping: dict[str, float] | None = None
    monitor: str | None = None
    augment: dict[str, Any] = Field(default_factory=dict)
    normalize: dict[str, tuple[float, ...]] = Field(default_factory=dict)
    span: Span | None = None
    spans: dict[str, Span] = Field(default_factory=dict)

    @property
    def learning_rate(self) -> float:
        """The optimizer's learning rate (Keras's default of 0.001 unless set)."""
        return float(self.optimizer_args.get("lr", self.optimizer_args.get("learning_rate", 1e-3)))


class Model(BaseModel):
    """A whole spec: name, graph and training section."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    name: str
    file: str
    nodes: tuple[Node, ...]
    output: int  # the first (often the only) output
    outputs: tuple[int, ...] = ()  # every output, in the order `output` names them
    inputs: tuple[int, ...] = (0,)  # every input node, in the order they are declared
    # nodes whose output a later layer reads by name (`from=`, a merge's names, `output`):
    # the emitters keep each in a variable of its own
    references: tuple[int, ...] = ()
    # each of those reads as resolved: (the name as written, where the name it resolved to is
    # written -- a `name=` value, a `sequential` group's name, or the kind or block name of a
    # generated name --, the node); a line in a block body or a repeat has one per instance
    links: tuple[tuple[Span, Span, int], ...] = ()
    train: TrainConfig = Field(default_factory=TrainConfig)
    span: Span | None = None
    scopes: tuple[Scope, ...] = ()
    _consumers: dict[int, list[int]] | None = PrivateAttr(default=None)

    @property
    def is_sequential(self) -> bool:
        """True when every node feeds only the next one: a plain stack."""
        return all(n.inputs == ((n.index - 1,) if n.index else ()) for n in self.nodes)

    def consumers(self) -> dict[int, list[int]]:
        """Map each node index to the indices of the nodes that read its output (computed
        once per model: emitters ask for it for every node)."""
        if self._consumers is None:
            users: dict[int, list[int]] = {n.index: [] for n in self.nodes}
            for node in self.nodes:
                for i in node.inputs:
                    users[i].append(node.index)
            self._consumers = users
        return self._consumers
