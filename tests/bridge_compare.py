"""Comparing two ``specc check --format json`` documents as graphs, for the round trips.

A spec that went out to a framework and came back through ``specc import`` cannot keep every
name (inside a block, specc names layers itself) nor, for ONNX, what an inference graph does
not hold.  :func:`graph_signature` reduces a document to what must survive: each layer's
kind, output shape, parameter counts and MACs, and which layers it reads, as a multiset of
hashes over the graph (each layer's hash covers everything it depends on), so that two
documents compare equal when they are the same graph, whatever the names and the order of
independent layers.
"""

from __future__ import annotations

import hashlib
import json

# what an exported inference graph does not keep, or keeps in another form (and: a depthwise
# conv of a single channel is a plain conv)
ONNX_INVISIBLE = (
    "dropout",  # an inference graph has no dropout
    "activation",  # `conv; relu` and `conv relu` are the same ONNX nodes
    "zeropad2d",  # a zeropad before a conv is the conv's padding in PyTorch and ONNX
)


# what an inference graph holds as constants: Keras's adapted Normalization statistics (its
# non-trainable weights) are, in ONNX, the numbers the graph subtracts and divides by
ONNX_CONSTANTS = ("normalization",)
# kinds that the frameworks write alike, compared as one (the round trips also compare the
# outputs, which tell them apart where they differ): Keras has no adaptive pooling (a plain
# pooling with the window H/Ho is what the Keras backend writes), and on a sequence both
# `token_pool mean` and `globalavgpool` are GlobalAveragePooling1D
SAME_KINDS = {
    "adaptive_avgpool2d": "avgpool2d",
    "adaptive_maxpool2d": "maxpool2d",
    "token_pool": "globalavgpool",
}
# a pooling to 1x1 is a global pooling that keeps its axes (PyTorch's AdaptiveAvgPool2d(1)
# is ONNX's GlobalAveragePool)
TO_ONE = {"avgpool2d": "globalavgpool", "maxpool2d": "globalmaxpool"}


def _kind(layer: dict) -> str:
    kind = SAME_KINDS.get(layer["kind"], layer["kind"])
    if kind in TO_ONE and layer["output_shape"][:-1] == [1, 1]:
        return TO_ONE[kind]
    return kind


def graph_signature(
    document: dict, drop: tuple[str, ...] = (), constants: tuple[str, ...] = ()
) -> list[str]:
    """The layers of a check document as sorted content hashes (see the module doc); layers
    of the kinds in ``drop`` are skipped (their readers read their input), and those in
    ``constants`` count no non-trainable weights."""
    layers = document["layers"]
    by_name = {layer["name"]: layer for layer in layers}

    def resolve(name: str) -> str:
        layer = by_name[name]
        while layer["kind"] in drop and layer["inputs"]:
            layer = by_name[layer["inputs"][0]]
        return layer["name"]

    hashes: dict[str, str] = {}
    for layer in layers:
        if layer["kind"] in drop:
            continue
        inputs = [hashes[resolve(i)] for i in layer["inputs"]]
        if layer["kind"] == "add":
            inputs.sort()
        kind = _kind(layer)
        if (
            kind == "depthwise_conv2d"
            and by_name[resolve(layer["inputs"][0])]["output_shape"][-1] == 1
        ):
            kind = "conv2d"  # on one channel a depthwise conv is a conv (ONNX: group=1)
        label = {
            "kind": kind,
            "shape": layer["output_shape"],
            "params": layer["trainable_params"] if kind in constants else layer["params"],
            "trainable": layer["trainable_params"],
            "macs": layer["macs"],
            "inputs": inputs,
        }
        text = json.dumps(label, sort_keys=True)
        hashes[layer["name"]] = hashlib.sha256(text.encode()).hexdigest()[:16]
    return sorted(hashes.values())


def totals(document: dict, drop: tuple[str, ...] = (), constants: tuple[str, ...] = ()) -> dict:
    """A document's totals; without the activations' memory when layers are dropped (a
    zeropad's output is memory that a conv's own padding does not take), and without the
    non-trainable weights of the kinds in ``constants``."""
    out = dict(document["totals"])
    if drop:
        out.pop("activation_bytes")
    held = sum(
        layer["non_trainable_params"] for layer in document["layers"] if layer["kind"] in constants
    )
    if held:
        out["params"] -= held
        out["non_trainable_params"] -= held
        out["weight_bytes"] -= 4 * held
    return out


def same_graph(
    a: dict, b: dict, drop: tuple[str, ...] = (), constants: tuple[str, ...] = ()
) -> bool:
    """Whether two check documents are the same graph (see :func:`graph_signature`) with the
    same totals."""
    return graph_signature(a, drop, constants) == graph_signature(b, drop, constants) and totals(
        a, drop, constants
    ) == totals(b, drop, constants)


def differences(a: dict, b: dict, drop: tuple[str, ...] = ()) -> str:
    """A readable account of how two documents differ, for assertion messages."""
    kinds_a = [(_kind(x), x["output_shape"]) for x in a["layers"] if x["kind"] not in drop]
    kinds_b = [(_kind(x), x["output_shape"]) for x in b["layers"] if x["kind"] not in drop]
    first = next(
        (i for i, (x, y) in enumerate(zip(kinds_a, kinds_b, strict=False)) if x != y), None
    )
    return (
        f"{len(kinds_a)} vs {len(kinds_b)} layers; first difference at {first}: "
        f"{kinds_a[first] if first is not None else ''} vs "
        f"{kinds_b[first] if first is not None else ''}; totals {a['totals']} vs {b['totals']}"
    )
