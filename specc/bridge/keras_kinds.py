"""Keras layers of the newer spec kinds: attention, tokens, scaling, gating and cropping.

Registered into :data:`specc.bridge.keras_layers.CONVERTERS` like the classic layers: Keras's
``MultiHeadAttention``, ``Multiply``, ``Rescaling``, ``Normalization``, ``Cropping2D``, and the
layers that specc's emitted Keras files define themselves (registered as ``specc>LayerScale``,
``specc>ClassToken``, ``specc>PositionEmbedding``, ``specc>ClassTokenPooling``,
``specc>PatchEmbedding``, ``specc>ConstantPadding``); their configs are read as saved, without
the classes.
"""

from __future__ import annotations

import math
from typing import Any

from specc.bridge.keras_layers import Rejected, _axes, _channels_last, activation, converter, pair

# the keyword arguments of the call that made a layer (``use_causal_mask``), added to the
# config a converter reads under this key
CALL_KWARGS = "__call_kwargs__"
# classes called on the same tensor twice that read it once (self-attention: query and value)
ONE_SOURCE = ("MultiHeadAttention",)


def _numbers(value: Any) -> tuple[float, ...]:
    """A number or a list of numbers (per channel) as a tuple of floats."""
    if isinstance(value, list | tuple):
        flat: list[float] = []
        for item in value:
            flat += _numbers(item)
        return tuple(flat)
    return (float(value),)


@converter("Multiply")
def multiply(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Multiply of two tensors (a gate times a map): a ``branch multiply``."""
    if len(shapes) != 2:
        raise Rejected(f"{cls} of {len(shapes)} tensors", "a spec multiplies two")
    return [("multiply", {})]


@converter("Rescaling")
def rescaling(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Rescaling: ``rescaling SCALE [offset=]`` (per channel when lists)."""
    return [("rescaling", {"scale": _numbers(cfg["scale"]), "offset": _numbers(cfg["offset"])})]


@converter("Normalization")
def normalization(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Normalization over the last axis: ``normalization`` with the statistics of its config,
    or none (then they are the layer's non-trainable weights)."""
    axis = cfg.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    if axis not in (-1, len(shapes[0])):
        raise Rejected(f"{cls} over axis {cfg.get('axis')}", "specc normalises the channels")
    if cfg.get("invert"):
        raise Rejected(f"{cls} with invert=True")
    mean, variance = cfg.get("mean"), cfg.get("variance")
    if mean is None or variance is None:
        return [("normalization", {})]
    return [("normalization", {"mean": _numbers(mean), "variance": _numbers(variance)})]


@converter("Cropping2D")
def cropping(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Cropping2D: ``cropping2d`` (``top= bottom= left= right=`` when uneven)."""
    _channels_last(cfg, cls)
    value = cfg["cropping"]
    if isinstance(value, int):
        sides = ((value, value), (value, value))
    elif all(isinstance(v, int) for v in value):
        sides = ((value[0], value[0]), (value[1], value[1]))
    else:
        sides = tuple(tuple(int(v) for v in side) for side in value)
    (top, bottom), (left, right) = sides
    args: dict[str, Any] = {"cropping": (top, left)}
    if bottom != top:
        args["bottom"] = bottom
    if right != left:
        args["right"] = right
    return [("cropping2d", args)]


@converter("LayerScale")
def layer_scale(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """specc's LayerScale: ``layer_scale init=``."""
    return [("layer_scale", {"init": float(cfg.get("init", 1e-5))})]


@converter("ClassToken")
def class_token(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """specc's ClassToken: ``class_token``."""
    return [("class_token", {})]


@converter("PositionEmbedding")
def position_embedding(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """specc's PositionEmbedding: ``position_embedding``."""
    return [("position_embedding", {})]


@converter("ClassTokenPooling")
def token_pool(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """specc's ClassTokenPooling (the first token): ``token_pool cls``."""
    return [("token_pool", {"mode": "cls"})]


@converter("PatchEmbedding")
def patch_embedding(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """specc's PatchEmbedding (a Conv2D with kernel = stride, its output as tokens):
    ``patch_embedding P DIM``."""
    _channels_last(cfg, cls)
    kernel = _axes(pair(cfg["kernel_size"]), 2)
    if _axes(pair(cfg.get("strides", 1)), 2) != kernel or cfg.get("padding", "valid") != "valid":
        raise Rejected(f"{cls} whose stride is not its kernel")
    if activation(cfg.get("activation"), cls) is not None:
        raise Rejected(f"{cls} with an activation")
    args = {"patch": kernel, "dim": int(cfg["filters"]), "use_bias": bool(cfg.get("use_bias", 1))}
    return [("patch_embedding", args)]


@converter("ConstantPadding")
def constant_padding(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """specc's ConstantPadding: a zero padding, or the −inf padding of a max pooling after it
    (``fill``; :func:`specc.bridge.simplify.fold_window_padding` gives it to the pooling)."""
    sides = tuple(tuple(int(v) for v in side) for side in cfg["padding"])
    if len(sides) != 2:
        raise Rejected(f"{cls} of a {len(sides)}-d tensor")
    value = float(cfg.get("value", 0.0))
    if value not in (0.0, -math.inf):
        raise Rejected(f"{cls} with value={value}", "zeros, or −inf before a max pooling")
    args: dict[str, Any] = {"padding": tuple(b for b, _a in sides), "pads": sides}
    if value:
        args["fill"] = value
    return [("zeropad2d", args)]


@converter("MultiHeadAttention")
def attention(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Self-attention over an LxC sequence: ``attention HEADS [KEY_DIM] ...`` (``causal`` from
    the call's ``use_causal_mask``)."""
    call = cfg.get(CALL_KWARGS, {})
    if len(shapes) != 1 or len(shapes[0]) != 2:
        raise Rejected(f"{cls} other than self-attention over a sequence")
    if cfg.get("output_shape") is not None or cfg.get("attention_axes") not in (None, [1], 1):
        raise Rejected(f"{cls} with output_shape or attention_axes")
    if cfg.get("use_gate") or cfg.get("sliding_window") is not None:
        raise Rejected(f"{cls} with use_gate or sliding_window")
    if call.get("key") is not None or call.get("attention_mask") is not None:
        raise Rejected(f"{cls} with a key or a mask", "the spec's attention is self-attention")
    heads, channels = int(cfg["num_heads"]), shapes[0][-1]
    key = int(cfg["key_dim"])
    value = cfg.get("value_dim")
    args: dict[str, Any] = {
        "heads": heads,
        "key_dim": None if key * heads == channels else key,
        "value_dim": None if value is None or int(value) == key else int(value),
        "dropout": float(cfg.get("dropout", 0.0)),
        "causal": bool(call.get("use_causal_mask", False)),
        "use_bias": bool(cfg.get("use_bias", True)),
    }
    return [("attention", args)]
