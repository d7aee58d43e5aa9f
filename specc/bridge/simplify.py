"""Rewrites of an imported graph into what a spec says most simply, exactly.

- :func:`fold_uneven_padding`: a zero padding with unequal sides (Keras's ``ZeroPadding2D(((0,
  1), (0, 1)))`` before a strided valid conv, as keras.applications write TensorFlow's
  ``same``) becomes the conv's ``padding=same`` when that pads the same way;
- :func:`fuse_activations`: an activation right after the only use of a conv or dense layer
  becomes that layer's activation (``conv 64 3x3 relu``), as the emitted code computes it;
- :func:`fuse_separable`: a depthwise conv without bias straight into a 1x1 conv is a
  ``separable_conv2d``.

:func:`infer_shapes` runs specc's own shape rules over the graph.
"""

from __future__ import annotations

from specc.bridge.graph import Graph, Layer, Unsupported
from specc.bridge.padding import express
from specc.layers import ShapeError, lookup
from specc.layers.activations import LEAKY_RELU_SLOPE

CONV_LIKE = ("conv2d", "depthwise_conv2d", "separable_conv2d")
# kinds whose `padding=P` is a zero padding before them (a max pooling's is -inf)
WINDOWED = ("conv2d", "depthwise_conv2d", "maxpool2d", "avgpool2d")
# kinds that take an `activation` parameter
WITH_ACTIVATION = (
    "conv2d",
    "conv1d",
    "dense",
    "depthwise_conv2d",
    "separable_conv2d",
    "conv2d_transpose",
)


def params(layer: Layer):
    """The layer's validated parameters (its kind's ``Params``)."""
    kind = lookup(layer.kind)
    fields = kind.Params.model_fields
    return kind.Params(**{k: v for k, v in layer.args.items() if k in fields})


def output_shape(layer: Layer, inputs: list[tuple[int, ...]]) -> tuple[int, ...] | None:
    """The layer's output shape by specc's rules (None when they refuse it).  A zero padding
    with uneven sides (``pads``, not yet folded) adds both sides."""
    if layer.kind == "zeropad2d" and "pads" in layer.args:
        (t, b), (left, r) = layer.args["pads"]
        h, w, c = inputs[0]
        return (h + t + b, w + left + r, c)
    try:
        return lookup(layer.kind).output_shape(params(layer), inputs)
    except (ShapeError, ValueError, TypeError):
        return None


def infer_shapes(graph: Graph) -> dict[int, tuple[int, ...]]:
    """Every layer's output shape by specc's rules (layers whose rule fails are left out)."""
    shapes: dict[int, tuple[int, ...]] = {}
    for i, layer in enumerate(graph.layers):
        if any(j not in shapes for j in layer.inputs):
            continue
        shape = output_shape(layer, [shapes[j] for j in layer.inputs])
        if shape is not None:
            shapes[i] = shape
    return shapes


def bypass(graph: Graph, index: int) -> None:
    """Remove a one-input layer: its readers read its input (call :meth:`Graph.compact`
    after)."""
    graph.replace(index, graph.layers[index].inputs[0])


def fold_uneven_padding(graph: Graph, unsupported: Unsupported) -> None:
    """Zero paddings with unequal sides folded into the conv they feed (see module doc)."""
    users = graph.consumers()
    shapes = infer_shapes(graph)
    for i, layer in enumerate(graph.layers):
        if layer.kind != "zeropad2d" or "pads" not in layer.args:
            continue
        sides = layer.args.pop("pads")
        if all(b == a for b, a in sides):
            continue
        target = users[i][0] if len(users[i]) == 1 else None
        conv = graph.layers[target] if target is not None else None
        form = None
        if conv is not None and conv.kind in CONV_LIKE and conv.args["padding"] == "valid":
            form = express(
                shapes[layer.inputs[0]][:2],
                conv.args["kernel"],
                conv.args["stride"],
                conv.args["dilation"],
                [b for b, _ in sides],
                [a for _, a in sides],
            )
        if form is None or form[1] != "same":
            (top, bottom), (left, right) = sides
            layer.args["padding"] = (top, left)
            layer.args.update({"bottom": bottom, "right": right})
            continue
        zeropad, conv.args["padding"] = form
        if zeropad and any(zeropad):
            layer.args["padding"] = zeropad
        else:
            bypass(graph, i)
    graph.compact()


def fold_window_padding(graph: Graph, unsupported: Unsupported) -> None:
    """A symmetric padding layer before a valid conv or pooling that it was written for: the
    reader's ``padding=P``.  That is a padding the emitted Keras code names ``<reader>.pad``
    (a spec's ``conv ... padding=1`` as Keras writes it), and every ``-inf`` padding (PyTorch's
    padded max pooling, which only the pooling's own ``padding=`` says)."""
    users = graph.consumers()
    for i, layer in enumerate(graph.layers):
        if layer.kind != "zeropad2d" or "pads" not in layer.args:
            continue
        sides = layer.args["pads"]
        fill = layer.args.pop("fill", 0.0)
        reader = graph.layers[users[i][0]] if len(users[i]) == 1 else None
        fits = (
            reader is not None
            and reader.kind in (("maxpool2d",) if fill else WINDOWED)
            and reader.args.get("padding") == "valid"
            and all(b == a for b, a in sides)
        )
        if fits and (fill or layer.name == f"{reader.name}.pad"):
            reader.args["padding"] = tuple(b for b, _a in sides)
            bypass(graph, i)
        elif fill:
            unsupported.add(
                "a -inf padding", layer.name, "only as the padding of the max pooling after it"
            )
    graph.compact()


def fuse_activations(graph: Graph) -> None:
    """Activations folded into the conv or dense layer they follow, when that layer has no
    activation and no other reader."""
    users = graph.consumers()
    for i, layer in enumerate(graph.layers):
        if layer.kind != "activation" or not _plain(layer):
            continue
        source = graph.layers[layer.inputs[0]]
        if (
            source.kind in WITH_ACTIVATION
            and source.args.get("activation") is None
            and users[layer.inputs[0]] == [i]
        ):
            source.args["activation"] = layer.args["fn"]
            bypass(graph, i)
    graph.compact()


def _plain(layer: Layer) -> bool:
    """An activation with the parameters a fused one has (Keras's defaults)."""
    slope = layer.args.get("negative_slope", LEAKY_RELU_SLOPE)
    return abs(slope - LEAKY_RELU_SLOPE) < 1e-6 and abs(layer.args.get("alpha", 1.0) - 1) < 1e-6


def fuse_separable(graph: Graph) -> None:
    """A depthwise conv (no bias, no activation) whose only reader is a 1x1 conv: one
    ``separable_conv2d``, with the PyTorch plan's weight names (``0.weight``, ``1.weight``,
    ``1.bias``)."""
    users = graph.consumers()
    for i, layer in enumerate(graph.layers):
        if layer.kind != "depthwise_conv2d" or len(users[i]) != 1:
            continue
        point = graph.layers[users[i][0]]
        a = layer.args
        if a["use_bias"] or a["activation"] is not None or point.kind != "conv2d":
            continue
        b = point.args
        if (
            b["kernel"] != (1, 1)
            or b["stride"] != (1, 1)
            or b["dilation"] != (1, 1)
            or b["padding"] != "valid"
        ):
            continue
        point.kind = "separable_conv2d"
        point.args = {
            "filters": b["filters"],
            "kernel": a["kernel"],
            "depth_multiplier": a["depth_multiplier"],
            "stride": a["stride"],
            "padding": a["padding"],
            "dilation": a["dilation"],
            "use_bias": b["use_bias"],
            "activation": b["activation"],
        }
        point.name = point.name or layer.name
        if layer.weights is not None and point.weights is not None:
            arrays = {"0.weight": layer.weights.arrays["weight"]}
            arrays["1.weight"] = point.weights.arrays["weight"]
            if "bias" in point.weights.arrays:
                arrays["1.bias"] = point.weights.arrays["bias"]
            point.weights.arrays = arrays
        bypass(graph, i)
    graph.compact()
