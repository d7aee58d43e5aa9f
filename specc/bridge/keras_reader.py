"""Read a Keras ``.keras`` file's model config into a :class:`~specc.bridge.graph.Graph`.

A ``.keras`` file is a zip archive; its ``config.json`` describes the model layer by layer
(class, settings, and for a functional model the tensors each layer was called on).  Reading
it needs neither TensorFlow nor h5py; the weights (``model.weights.h5`` in the archive) are
read only for ``--weights`` (:mod:`specc.bridge.weights`).  Functional and Sequential models
are read; every layer class specc cannot express is collected and reported at once.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from specc.bridge.graph import Graph, Layer, NotAModel, Unsupported
from specc.bridge.keras_kinds import CALL_KWARGS, ONE_SOURCE
from specc.bridge.keras_layers import CAVEATS, CONVERTERS, Rejected
from specc.bridge.simplify import output_shape
from specc.bridge.spec_text import model_name

MODEL_CLASSES = ("Functional", "Model", "Sequential")


def read_config(path: str | Path) -> dict:
    """The model config of a ``.keras`` file (its ``config.json``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise NotAModel(
            f"{path} is not a Keras model file ({exc}); save one with `model.save('m.keras')`"
        ) from None


def read_keras(path: str | Path) -> Graph:
    """The model of a ``.keras`` file as a graph of specc layers; raises
    :class:`ImportFailure` listing every layer it cannot express (E0701)."""
    config = read_config(path)
    if config.get("class_name") not in MODEL_CLASSES:
        raise NotAModel(f"{path} holds a {config.get('class_name')}, not a Keras model")
    body = config["config"]
    reader = _Reader(Path(path).name)
    reader.graph.name = model_name(body.get("name", ""), model_name(Path(path).stem))
    if config["class_name"] == "Sequential":
        reader.sequential(body.get("layers", []), body)
    else:
        reader.functional(body)
    reader.unsupported.raise_if_any()
    return reader.graph


class _Reader:
    def __init__(self, source: str):
        self.graph = Graph("model")
        self.unsupported = Unsupported(source)
        self.outputs: dict[str, int] = {}  # Keras layer name -> index of the graph layer
        self.shapes: dict[int, tuple] = {}  # graph layer -> its output shape, by specc's rules

    def add(self, layer: Layer) -> int:
        """Append ``layer`` and work out its output shape (for the layers after it)."""
        index = self.graph.add(layer)
        inputs = [self.shapes.get(i) for i in layer.inputs]
        if None in inputs:
            return index
        shape = output_shape(layer, inputs)
        if shape is not None:
            self.shapes[index] = shape
        return index

    # -- models -----------------------------------------------------------------------------

    def functional(self, body: dict) -> None:
        layers = body.get("layers", [])
        inputs = [ref[0] for ref in _refs(body.get("input_layers", []))]
        outputs = _refs(body.get("output_layers", []))
        if not inputs or not outputs:
            raise NotAModel("the model's config names no inputs or no outputs")
        by_name = {layer["name"]: layer for layer in layers}
        # the model's inputs first, in its order (a spec's `input` lines come in that order)
        for name in inputs:
            if name not in by_name:
                raise NotAModel(f"the model's input {name} is not one of its layers")
            self.input(by_name[name]["config"], name)
        for layer in _topological(layers):
            if layer["class_name"] == "InputLayer":
                continue
            self.layer(layer, by_name)
        self.graph.outputs = [self.outputs.get(ref[0], 0) for ref in outputs]
        for name, node, tensor in outputs:
            if node != 0 or tensor != 0:
                self.unsupported.add("an output that is a layer's second output", name)

    def sequential(self, layers: list[dict], body: dict) -> None:
        previous = None
        for layer in layers:
            if layer["class_name"] == "InputLayer":
                self.input(layer["config"], layer["config"].get("name", "input"))
                previous = layer["config"].get("name", "input")
                continue
            if previous is None:  # built from an input_shape given to the first layer
                shape = _build_shape(layer) or body.get("build_input_shape")
                self.input({"batch_shape": shape}, "input")
                previous = "input"
            name = layer["config"].get("name", layer.get("name", ""))
            entry = {**layer, "name": name}
            self.layer(entry, {}, sources=[previous])
            previous = name
        self.graph.output = self.outputs.get(previous, 0)

    # -- layers -----------------------------------------------------------------------------

    def input(self, config: dict, name: str) -> None:
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        dims = list(shape[1:]) if shape else []
        if not dims or any(d is None for d in dims):
            self.unsupported.add(
                "InputLayer with a size of None", name, "a spec's input has fixed sizes"
            )
            dims = [d or 1 for d in dims] or [1]
        dtype = "int" if str(config.get("dtype", "float32")).startswith(("int", "uint")) else None
        args: dict[str, Any] = {"shape": tuple(int(d) for d in dims)}
        args["dtype"] = dtype or "float32"
        self.outputs[name] = self.add(Layer("input", args, [], name, "InputLayer"))

    def layer(self, layer: dict, by_name: dict, sources: list[str] | None = None) -> None:
        cls, name, config = layer["class_name"], layer["name"], layer.get("config", {})
        nodes = layer.get("inbound_nodes", [])
        if sources is None:
            if len(nodes) != 1:
                self.unsupported.add(f"{cls} called {len(nodes)} times", name, "shared layer")
                return
            refs = _node_refs(nodes[0])
            if any(node != 0 or tensor != 0 for _, node, tensor in refs):
                self.unsupported.add(f"{cls} reading a layer's second output", name)
            sources = [ref[0] for ref in refs]
        inputs = [self.outputs.get(s) for s in sources]
        if cls in ONE_SOURCE and len(inputs) > 1 and len(set(inputs)) == 1:
            inputs = inputs[:1]  # self-attention: the query is the key and value source
        if any(i is None for i in inputs):  # after an unsupported layer: already reported
            self.outputs[name] = next((i for i in inputs if i is not None), 0)
            return
        self.outputs[name] = inputs[0]  # until converted: a rejected layer passes through
        shapes = _input_shapes(layer, nodes)
        if not shapes and all(i in self.shapes for i in inputs):
            shapes = [self.shapes[i] for i in inputs]
        shapes = shapes[: len(inputs)]
        kwargs = nodes[0].get("kwargs", {}) if nodes and isinstance(nodes[0], dict) else {}
        config = {**config, CALL_KWARGS: kwargs}
        convert = CONVERTERS.get(cls)
        if cls in MODEL_CLASSES:
            self.unsupported.add(f"{cls} (a nested model)", name)
            return
        if convert is None:
            self.unsupported.add(cls, name)
            return
        try:
            produced = convert(config, shapes, cls)
        except Rejected as exc:
            self.unsupported.add(exc.what, name, exc.why)
            return
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            self.unsupported.add(f"{cls} with an unexpected config", name, str(exc))
            return
        caveat = CAVEATS.get(cls, lambda _: None)(config)
        if caveat:
            self.graph.warnings.append(f"{name} ({cls}): {caveat}")
        current = inputs
        for k, (kind, args) in enumerate(produced):
            layer_name = name if k == 0 else ""
            index = self.add(Layer(kind, args, list(current), layer_name, cls))
            current = [index]
        self.outputs[name] = current[0] if produced else inputs[0]


def _refs(value: Any) -> list[list]:
    """``[[name, node, tensor], ...]`` from Keras's nested lists (or one such triple)."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [value]
    out = []
    for item in value or []:
        out += _refs(item)
    return out


def _node_refs(node: Any) -> list[tuple[str, int, int]]:
    """The (layer, node index, tensor index) a call of a layer read, in order (Keras 3's
    ``{"args": [...], "kwargs": {}}`` or Keras 2's nested lists)."""
    found: list[tuple[str, int, int]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                name, node_index, tensor = value["config"]["keras_history"]
                found.append((name, int(node_index), int(tensor)))
                return
            for key in ("args",):
                if key in value:
                    walk(value[key])
            return
        if isinstance(value, list):
            if len(value) >= 3 and isinstance(value[0], str) and isinstance(value[1], int):
                found.append((value[0], int(value[1]), int(value[2])))
                return
            for item in value:
                walk(item)

    walk(node)
    return found


def _input_shapes(layer: dict, nodes: list) -> list[tuple]:
    """The shapes (batch axis dropped) the layer was called on: from the tensors of its call,
    or its ``build_config``."""
    shapes: list[tuple] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                shapes.append(tuple(value["config"]["shape"][1:]))
                return
            if "args" in value:
                walk(value["args"])
        elif isinstance(value, list):
            for item in value:
                walk(item)

    if nodes:
        walk(nodes[0])
    if not shapes:
        built = _build_shape(layer)
        if built:
            multi = built and isinstance(built[0], list)
            shapes = [tuple(s[1:]) for s in built] if multi else [tuple(built[1:])]
    return shapes


def _build_shape(layer: dict) -> list | None:
    built = (layer.get("build_config") or {}).get("input_shape")
    if built is None:
        config = layer.get("config", {})
        built = config.get("batch_input_shape") or config.get("batch_shape")
    return built


def _topological(layers: list[dict]) -> list[dict]:
    """The layers with every layer after those it reads (Keras saves them so already; this
    guards hand-written configs)."""
    by_name = {layer["name"]: layer for layer in layers}
    done: set[str] = set()
    order: list[dict] = []

    def visit(name: str, trail: set[str]) -> None:
        if name in done or name not in by_name or name in trail:
            return
        trail.add(name)
        for node in by_name[name].get("inbound_nodes", []):
            for source, _, _ in _node_refs(node):
                visit(source, trail)
        done.add(name)
        order.append(by_name[name])

    for layer in layers:
        visit(layer["name"], set())
    return order
