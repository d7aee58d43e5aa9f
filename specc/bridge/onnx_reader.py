"""Read an ONNX model into a :class:`~specc.bridge.graph.Graph` of specc layers.

The reader walks the ONNX graph in order, keeping for every tensor what it knows of it
(:mod:`specc.bridge.onnx_values`): a constant, or a spec layer's output with its physical
layout.  Layer ops (the ``onnx_*`` handler modules) check the layout they need (``Conv`` reads
NCHW: ``phys`` ``("N", 2, 0, 1)``), and become spec layers; layout ops (``Transpose``, and
``Reshape``/``Squeeze``/``Unsqueeze`` that only add or drop axes of size 1) change the layout
and add no layer; shape computations are evaluated, with the batch size kept symbolic.  Every
op or setting specc cannot express is collected and reported at once (E0701).  Needs only
``onnx`` (and numpy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from specc.bridge.graph import Graph, ImportFailure, Layer, NotAModel, Unsupported, Weights
from specc.bridge.onnx_values import (
    BATCH,
    Const,
    Data,
    Filled,
    Poison,
    Value,
    channels_first,
    channels_last,
)
from specc.bridge.simplify import fuse_activations, fuse_separable, output_shape
from specc.bridge.spec_text import model_name

SCOPES_KEY = "pkg.torch.onnx.name_scopes"


def read_onnx(path: str | Path) -> Graph:
    """The model of an ONNX file as a graph of specc layers; raises :class:`ImportFailure`
    listing every op it cannot express (E0701)."""
    import onnx

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError, or a truncated file
        raise NotAModel(f"{path} is not an ONNX model ({type(exc).__name__})") from None
    if not model.graph.node:
        raise NotAModel(f"{path} is not an ONNX model (its graph has no nodes)")
    reader = OnnxReader(model, Path(path).name, Path(path).stem)
    graph = reader.run()
    fuse_separable(graph)
    fuse_activations(graph)
    return graph


class OnnxReader:
    """The walk over one ONNX graph (see the module doc)."""

    def __init__(self, model, source: str, stem: str):
        from onnx import numpy_helper

        self.model = model
        self.onnx_graph = model.graph
        name = model_name(self.onnx_graph.name, model_name(stem))
        self.graph = Graph(name if name != "main_graph" else model_name(stem))
        self.unsupported = Unsupported(source)
        self.values: dict[str, Value] = {}
        self.stored = {tensor.name for tensor in self.onnx_graph.initializer}
        for tensor in self.onnx_graph.initializer:
            self.values[tensor.name] = Const(numpy_helper.to_array(tensor))
        self.readers: dict[str, int] = {}  # how many nodes (or outputs) read each tensor
        for node in self.onnx_graph.node:
            for name_ in node.input:
                self.readers[name_] = self.readers.get(name_, 0) + 1
        for output in self.onnx_graph.output:
            self.readers[output.name] = self.readers.get(output.name, 0) + 1
        self.producer: dict[str, Any] = {o: n for n in self.onnx_graph.node for o in n.output}
        self.uses: dict[int, set[str]] = {}  # recurrent layer -> variants read ("seq", "last")
        self.after: list = []  # checks to run once every node is read
        self.transposes: dict[int, Data] = {}  # conv transpose layer -> its (cropped) output
        # the shapes the file records (a symbolic batch size as a string)
        self.shapes: dict[str, list] = {}
        for info in [*self.onnx_graph.value_info, *self.onnx_graph.output]:
            dims = info.type.tensor_type.shape.dim
            self.shapes[info.name] = [d.dim_value if d.HasField("dim_value") else "N" for d in dims]

    # -- the walk ---------------------------------------------------------------------------

    def run(self) -> Graph:
        """Read every node; returns the graph (raises :class:`ImportFailure` for what specc
        cannot express)."""
        from specc.bridge import onnx_tensors  # noqa: F401  (registers every handler)
        from specc.bridge.onnx_attention import find_regions, read_attention
        from specc.bridge.onnx_common import HANDLERS

        self.read_input()
        regions = find_regions(self.onnx_graph.node, self.stored)
        for k, node in enumerate(self.onnx_graph.node):
            region = regions.get(k)
            if region is not None:  # an attention module's ops: one layer, at its last op
                if k == region.last:
                    try:
                        read_attention(self, region)
                    except Unexpressible as exc:
                        self.unsupported.add(exc.what, region.prefix, exc.why)
                        for i in region.members:
                            self.set_outputs(self.onnx_graph.node[i], [Poison()] * 8)
                continue
            ins = [self.values.get(name) if name else None for name in node.input]
            missing = [n for n, v in zip(node.input, ins, strict=True) if n and v is None]
            if missing:
                raise ImportFailure(
                    "E0702", f"node {self.describe(node)} reads {missing[0]}, which nothing makes"
                )
            # after an unsupported op, read on with its data input, reporting only what is
            # unsupported in itself (a guess about the data may be wrong)
            tainted = any(isinstance(v, Poison) for v in ins)
            ins = [v.data if isinstance(v, Poison) else v for v in ins]
            handler = HANDLERS.get(node.op_type)
            if node.domain not in ("", "ai.onnx") or handler is None:
                outputs = self.reject(node, node.op_type, data=ins)
            elif tainted and any(v is None for n, v in zip(node.input, ins, strict=True) if n):
                outputs = [Poison()] * len(node.output)
            else:
                try:
                    outputs = handler(self, node, ins, attributes(node))
                except Unexpressible as exc:
                    if tainted and isinstance(exc, Misfit):
                        outputs = [Poison(_first_data(ins))] * len(node.output)
                    else:
                        outputs = self.reject(node, exc.what, exc.why, data=ins)
                if tainted:  # what follows a guess stays a guess
                    outputs = [_tainted(o) for o in outputs]
            self.set_outputs(node, outputs)
        for check in self.after:
            check()
        self.read_output()
        self.unsupported.raise_if_any()
        return self.graph

    def set_outputs(self, node, outputs: list[Value]) -> None:
        for name, value in zip(node.output, outputs, strict=False):
            if name:
                self.values[name] = value

    def read_input(self) -> None:
        """Every input of the graph (its initializers aside) as an ``input`` layer."""
        initializers = {t.name for t in self.onnx_graph.initializer}
        inputs = [i for i in self.onnx_graph.input if i.name not in initializers]
        if not inputs or not self.onnx_graph.output:
            raise NotAModel("the ONNX graph has no inputs or no outputs")
        for graph_input in inputs:
            self.read_one_input(graph_input)

    def read_one_input(self, graph_input) -> None:
        """One input of the graph: its shape in the spec's layout."""
        tensor = graph_input.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        sizes = dims[1:]
        if not dims or any(d is None or d <= 0 for d in sizes):
            self.unsupported.add(
                "an input with a size that is not fixed", graph_input.name, f"shape {dims}"
            )
            sizes = [d or 1 for d in sizes] or [1]
        integer = tensor.elem_type in (6, 7, 2, 3, 4, 5, 12, 13)  # int32/64, uint8..
        rank = len(sizes)
        if integer or rank == 1 or self.read_channels_last(graph_input.name, rank):
            shape, phys = tuple(sizes), channels_last(rank)
        else:  # NCHW / NCL: channels first, PyTorch's layout
            shape, phys = (*sizes[1:], sizes[0]), channels_first(rank)
        args = {"shape": shape, "dtype": "int" if integer else "float32"}
        name = graph_input.name if graph_input.name != "input" else ""
        index = self.graph.add(Layer("input", args, [], name, "input"))
        self.values[graph_input.name] = Data(index, shape, phys)

    def read_channels_last(self, name: str, rank: int) -> bool:
        """An image input read only by transposes to channels-first is channels-last."""
        readers = [n for n in self.onnx_graph.node if name in n.input]
        perm_first = [0, rank, *range(1, rank)]
        return bool(readers) and all(
            n.op_type == "Transpose" and list(attributes(n).get("perm", [])) == perm_first
            for n in readers
        )

    def read_output(self) -> None:
        """The graph's outputs, in order, as the graph's outputs."""
        outputs = []
        for graph_output in self.onnx_graph.output:
            value = self.values.get(graph_output.name)
            if isinstance(value, Poison) or value is None:
                return
            if not isinstance(value, Data):
                raise ImportFailure(
                    "E0702", f"the model's output {graph_output.name} does not depend on its input"
                )
            value = self.materialize(value)
            self.use(value)
            outputs.append(value.layer)
            if graph_output.name != "output" and not self.graph.layers[value.layer].name:
                self.graph.layers[value.layer].name = graph_output.name
        self.graph.outputs = outputs

    # -- building layers --------------------------------------------------------------------

    def add(
        self,
        node,
        kind: str,
        args: dict,
        inputs: list[Data],
        weights: dict | None = None,
        name: str | None = None,
    ) -> tuple[int, tuple]:
        """Append a spec layer reading ``inputs``; returns its index and output shape."""
        for data in inputs:
            self.use(data)
        layer = Layer(
            kind,
            args,
            [d.layer for d in inputs],
            self.layer_name(node) if name is None else name,
            node.op_type if node is not None else kind,
            Weights("torch", weights) if weights else None,
        )
        shape = output_shape(layer, [d.shape for d in inputs])
        if shape is None:
            raise Misfit(f"{layer.source} that specc's {kind} rules refuse", str(args))
        return self.graph.add(layer), shape

    def use(self, data: Data) -> None:
        """Note that a layer reads ``data`` (a recurrent layer's sequence or last step)."""
        if data.extra.get("needs_division"):
            raise Unexpressible(
                "AveragePool counting zero padding",
                "only TensorFlow's `same` average (divided by the real elements) is expressible",
            )
        if data.variant:
            self.uses.setdefault(data.layer, set()).add(data.variant)

    def materialize(self, data: Data) -> Data:
        """``data`` with a pending padding made a ``zeropad`` layer (when it is one)."""
        if data.pad is None:
            return data
        before = [b for b, _a, _v in data.pad]
        after = [a for _b, a, _v in data.pad]
        values = {v for *_, v in data.pad}
        if values != {0.0} or len(before) != 2:
            raise Unexpressible("Pad", "only zero padding of images (zeropad) is expressible")
        source = data.with_(pad=None)
        args = {"padding": tuple(before), "bottom": after[0], "right": after[1]}
        index, shape = self.add(None, "zeropad2d", args, [source], name="")
        return Data(index, shape, data.phys, nonneg=data.nonneg)

    def image(self, data: Data, rank: int) -> Data:
        """``data`` as a channels-first tensor of spec rank ``rank`` (NCHW for 3, NCL for 2),
        adding ``reshape 1x1xC`` for a vector held as (N, C, 1, 1); raises
        :class:`Unexpressible` when it is not one."""
        if data.phys == channels_first(rank) and len(data.shape) == rank:
            return data
        if len(data.shape) == 1 and len(data.phys) == rank + 1 and data.phys[:2] == ("N", 0):
            shape = (1,) * (rank - 1) + (data.shape[0],)
            index, _ = self.add(None, "reshape", {"shape": shape}, [data], name="")
            return Data(index, shape, channels_first(rank))
        raise Misfit(
            "an op on a tensor in another layout",
            f"expected {rank}-d channels-first data, got a {len(data.phys)}-d tensor",
        )

    # -- values -----------------------------------------------------------------------------

    def const(self, value: Value | None, node, what: str) -> np.ndarray | None:
        """A constant input as an array (None when absent); raises when it is not constant."""
        if value is None:
            return None
        if isinstance(value, Const):
            return value.array
        if isinstance(value, Filled) and value.pads is None and value.pooled is None:
            if any(d is BATCH for d in value.shape):
                raise Unexpressible(f"{node.op_type} with a {what} that depends on the batch")
            return np.full([int(d) for d in value.shape], value.value, dtype=np.float32)
        raise Unexpressible(f"{node.op_type} with a {what} computed from the data")

    # -- names ------------------------------------------------------------------------------

    def describe(self, node) -> str:
        """A node as messages name it."""
        return node.name or (node.output[0] if node.output else node.op_type)

    def layer_name(self, node) -> str:
        """The model's name for the layer a node makes: the module path in the node's name
        (``layer1.0.conv1/Conv``, ``/layer1/conv1/Conv``) or in PyTorch's name scopes, or the
        common prefix of its weights' names (``conv1.weight``)."""
        if node is None:
            return ""
        parts = [p for p in node.name.split("/") if p]
        if len(parts) >= 2:
            return parts[-2]
        for prop in node.metadata_props:
            if prop.key == SCOPES_KEY:
                scopes = [s.strip(" '\"") for s in prop.value.strip("[]").split(",")]
                if len(scopes) >= 2 and scopes[-2]:  # the last is the traced op's own name
                    return scopes[-2].rsplit(".", 1)[-1]
        weights = [n for n in node.input[1:] if n.endswith((".weight", ".bias"))]
        if weights:
            return weights[0].rsplit(".", 1)[0]
        return ""

    def reject(self, node, what: str, why: str = "", data: list | None = None) -> list[Value]:
        """Record ``node`` as unsupported; its outputs are poison (carrying its data input)."""
        self.unsupported.add(what, self.describe(node), why)
        return [Poison(_first_data(data or []))] * len(node.output)


def _tainted(value: Value) -> Poison:
    if isinstance(value, Poison):
        return value
    return Poison(value if isinstance(value, Data) else None)


def _first_data(values: list) -> Data | None:
    return next((v for v in values if isinstance(v, Data)), None)


class Unexpressible(Exception):
    """An op, or a setting of one, that no spec layer expresses."""

    def __init__(self, what: str, why: str = ""):
        super().__init__(what)
        self.what = what
        self.why = why


class Misfit(Unexpressible):
    """An op whose input is not in the layout or shape it needs: after an unsupported op,
    whose output the reader only guessed, not reported."""


def attributes(node) -> dict[str, Any]:
    """A node's attributes as Python values."""
    from onnx import helper

    out = {}
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        out[attr.name] = value
    return out
