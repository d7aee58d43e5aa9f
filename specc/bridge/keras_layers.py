"""Keras layers as specc layer kinds: one converter per Keras class.

A converter reads a layer's config (as saved in a ``.keras`` file's ``config.json``) and the
shapes of its inputs (batch axis dropped) and returns the spec layers it is, as ``(kind,
parameters)`` pairs, or raises :class:`Rejected` saying what about it specc cannot express.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from specc.layers.activations import ACTIVATIONS


class Rejected(Exception):
    """A Keras layer (or one of its settings) that no spec layer expresses."""

    def __init__(self, what: str, why: str = ""):
        super().__init__(what)
        self.what = what
        self.why = why


# Keras activation names -> specc's (None: no activation)
ACTIVATION_NAMES = {a: a for a in ACTIVATIONS} | {"swish": "silu", "linear": None, None: None}

Converter = Callable[[dict, list[tuple], str], list[tuple[str, dict]]]
CONVERTERS: dict[str, Converter] = {}
# what a converted layer leaves out that changes only training, said as a warning
CAVEATS: dict[str, Callable[[dict], str | None]] = {
    "Dropout": lambda cfg: (
        f"its noise_shape {cfg['noise_shape']} is left out: the same at inference, but in "
        "training the spec's dropout drops single values"
        if cfg.get("noise_shape")
        else None
    ),
}


def converter(*names: str):
    """Register a converter for the Keras classes ``names``."""

    def register(fn: Converter) -> Converter:
        for name in names:
            CONVERTERS[name] = fn
        return fn

    return register


def activation(value: Any, cls: str) -> str | None:
    """A Keras activation setting (a name, or a serialized function) as specc's name."""
    if isinstance(value, dict):
        value = value.get("config", value.get("class_name"))
        if isinstance(value, dict):
            value = value.get("name")
    if value not in ACTIVATION_NAMES:
        raise Rejected(f"{cls} with activation={value}")
    return ACTIVATION_NAMES[value]


def pair(value: Any) -> tuple[int, ...]:
    """A Keras size (int or list) as a tuple."""
    return tuple(int(v) for v in value) if isinstance(value, list | tuple) else (int(value),)


def _channels_last(cfg: dict, cls: str) -> None:
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise Rejected(f"{cls} with data_format={cfg['data_format']}")


def _padding(cfg: dict, cls: str) -> str:
    padding = cfg.get("padding", "valid")
    if padding not in ("valid", "same"):
        raise Rejected(f"{cls} with padding={padding}")
    return padding


def _window(cfg: dict, cls: str, rank: int) -> dict:
    _channels_last(cfg, cls)
    dilation = pair(cfg.get("dilation_rate", 1))
    return {
        "stride": _axes(pair(cfg.get("strides", 1)), rank),
        "padding": _padding(cfg, cls),
        "dilation": _axes(dilation, rank),
    }


def _axes(value: tuple[int, ...], rank: int) -> tuple[int, ...]:
    return value * rank if len(value) == 1 else value


def _rank(shapes: list[tuple], cls: str, rank: int) -> tuple:
    if len(shapes) != 1 or len(shapes[0]) != rank:
        raise Rejected(f"{cls} on a rank-{len(shapes[0]) + 1} tensor" if shapes else cls)
    return shapes[0]


@converter("Conv2D", "Conv1D")
def conv(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Conv2D/Conv1D: ``conv2d`` / ``conv1d``."""
    rank = 2 if cls == "Conv2D" else 1
    _rank(shapes, cls, rank + 1)
    args = {
        "filters": int(cfg["filters"]),
        "kernel": _axes(pair(cfg["kernel_size"]), rank),
        **_window(cfg, cls, rank),
        "groups": int(cfg.get("groups", 1)),
        "use_bias": bool(cfg.get("use_bias", True)),
        "activation": activation(cfg.get("activation"), cls),
    }
    return [("conv2d" if rank == 2 else "conv1d", args)]


@converter("DepthwiseConv2D")
def depthwise(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """DepthwiseConv2D: ``depthwise_conv2d``."""
    _rank(shapes, cls, 3)
    args = {
        "kernel": _axes(pair(cfg["kernel_size"]), 2),
        "depth_multiplier": int(cfg.get("depth_multiplier", 1)),
        **_window(cfg, cls, 2),
        "use_bias": bool(cfg.get("use_bias", True)),
        "activation": activation(cfg.get("activation"), cls),
    }
    return [("depthwise_conv2d", args)]


@converter("SeparableConv2D")
def separable(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """SeparableConv2D: ``separable_conv2d``."""
    _rank(shapes, cls, 3)
    args = {
        "filters": int(cfg["filters"]),
        "kernel": _axes(pair(cfg["kernel_size"]), 2),
        "depth_multiplier": int(cfg.get("depth_multiplier", 1)),
        **_window(cfg, cls, 2),
        "use_bias": bool(cfg.get("use_bias", True)),
        "activation": activation(cfg.get("activation"), cls),
    }
    return [("separable_conv2d", args)]


@converter("Conv2DTranspose")
def transpose(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Conv2DTranspose: ``conv2d_transpose`` (Keras's own output sizes)."""
    _rank(shapes, cls, 3)
    window = _window(cfg, cls, 2)
    if cfg.get("output_padding") is not None:
        raise Rejected(f"{cls} with output_padding")
    if max(window["dilation"]) > 1:
        raise Rejected(f"{cls} with dilation_rate > 1")
    args = {
        "filters": int(cfg["filters"]),
        "kernel": _axes(pair(cfg["kernel_size"]), 2),
        "stride": window["stride"],
        "padding": window["padding"],
        "use_bias": bool(cfg.get("use_bias", True)),
        "activation": activation(cfg.get("activation"), cls),
    }
    return [("conv2d_transpose", args)]


@converter("Dense")
def dense(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Dense on a vector, or on each token of a sequence: ``dense``."""
    if len(shapes) != 1 or len(shapes[0]) not in (1, 2):
        raise Rejected("Dense on a tensor of rank > 3", "specc's dense takes vectors and LxC")
    args = {
        "units": int(cfg["units"]),
        "use_bias": bool(cfg.get("use_bias", True)),
        "activation": activation(cfg.get("activation"), cls),
    }
    return [("dense", args)]


def _last_axis(cfg: dict, shapes: list[tuple], cls: str) -> None:
    axis = cfg.get("axis", -1)
    if isinstance(axis, list):
        axis = axis[0] if len(axis) == 1 else None
    rank = len(shapes[0]) + 1 if shapes else 0
    if axis not in (-1, rank - 1):
        raise Rejected(f"{cls} over axis {cfg.get('axis')}", "specc normalises the last axis")


@converter("BatchNormalization")
def batchnorm(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """BatchNormalization over the channels: ``batchnorm``."""
    _last_axis(cfg, shapes, cls)
    if cfg.get("renorm") or cfg.get("synchronized"):
        raise Rejected(f"{cls} with renorm or synchronized")
    args = {
        "momentum": float(cfg.get("momentum", 0.99)),
        "epsilon": float(cfg.get("epsilon", 1e-3)),
        "center": bool(cfg.get("center", True)),
        "scale": bool(cfg.get("scale", True)),
    }
    return [("batchnorm", args)]


@converter("LayerNormalization")
def layernorm(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """LayerNormalization over the channels: ``layernorm``."""
    _last_axis(cfg, shapes, cls)
    if cfg.get("rms_scaling"):
        raise Rejected(f"{cls} with rms_scaling")
    args = {
        "epsilon": float(cfg.get("epsilon", 1e-3)),
        "center": bool(cfg.get("center", True)),
        "scale": bool(cfg.get("scale", True)),
    }
    return [("layernorm", args)]


@converter("MaxPooling2D", "AveragePooling2D", "MaxPooling1D", "AveragePooling1D")
def pool(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Max and average pooling: ``maxpool2d``, ``avgpool1d``, ..."""
    rank = 2 if cls.endswith("2D") else 1
    _rank(shapes, cls, rank + 1)
    _channels_last(cfg, cls)
    size = _axes(pair(cfg["pool_size"]), rank)
    strides = cfg.get("strides")
    args = {
        "pool": size,
        "stride": size if strides is None else _axes(pair(strides), rank),
        "padding": _padding(cfg, cls),
    }
    op = "maxpool" if cls.startswith("Max") else "avgpool"
    return [(f"{op}{rank}d", args)]


@converter(
    "GlobalAveragePooling2D",
    "GlobalAveragePooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling1D",
)
def global_pool(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Global pooling: ``globalavgpool``/``globalmaxpool`` [``keepdims``]."""
    _channels_last(cfg, cls)
    kind = "globalavgpool" if "Average" in cls else "globalmaxpool"
    return [(kind, {"keepdims": bool(cfg.get("keepdims", False))})]


@converter("Flatten")
def flatten(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Flatten: ``flatten``."""
    _channels_last(cfg, cls)
    return [("flatten", {})]


@converter("Reshape")
def reshape(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Reshape: ``reshape`` (a -1 is worked out from the input's size)."""
    target = [int(v) for v in cfg["target_shape"]]
    if -1 in target:
        total = 1
        for d in shapes[0]:
            total *= d
        known = 1
        for d in target:
            known *= d if d != -1 else 1
        target[target.index(-1)] = total // known
    return [("reshape", {"shape": tuple(target)})]


@converter("Dropout")
def dropout(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Dropout: ``dropout`` (a ``noise_shape`` is dropped: the same at inference)."""
    return [("dropout", {"rate": float(cfg["rate"])})]


@converter("Activation")
def activation_layer(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Activation: an ``activation`` layer (``linear`` is no layer at all)."""
    fn = activation(cfg.get("activation"), cls)
    return [] if fn is None else [("activation", {"fn": fn})]


@converter("ReLU")
def relu(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """ReLU: ``relu``, or ``relu6`` with ``max_value=6``."""
    if float(cfg.get("negative_slope") or 0) != 0 or float(cfg.get("threshold") or 0) != 0:
        raise Rejected(f"{cls} with negative_slope or threshold")
    top = cfg.get("max_value")
    if top is None:
        return [("activation", {"fn": "relu"})]
    if float(top) == 6.0:
        return [("activation", {"fn": "relu6"})]
    raise Rejected(f"{cls} with max_value={top}")


@converter("LeakyReLU")
def leaky_relu(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """LeakyReLU: ``leaky_relu`` with its slope."""
    slope = cfg.get("negative_slope", cfg.get("alpha", 0.3))
    return [("activation", {"fn": "leaky_relu", "negative_slope": float(slope)})]


@converter("ELU")
def elu(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """ELU: ``elu`` with its alpha."""
    return [("activation", {"fn": "elu", "alpha": float(cfg.get("alpha", 1.0))})]


@converter("Softmax")
def softmax(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Softmax over the last axis: ``softmax``."""
    axis = cfg.get("axis", -1)
    if axis not in (-1, [-1], len(shapes[0]), [len(shapes[0])]):
        raise Rejected(f"{cls} over axis {axis}")
    return [("activation", {"fn": "softmax"})]


@converter("ZeroPadding2D")
def zeropad(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """ZeroPadding2D: ``zeropad2d`` when symmetric; uneven sides are kept as ``pads`` for
    :mod:`specc.bridge.simplify` to fold into the convolution after it."""
    _channels_last(cfg, cls)
    padding = cfg["padding"]
    if isinstance(padding, int):
        sides = ((padding, padding), (padding, padding))
    elif all(isinstance(p, int) for p in padding):
        sides = ((padding[0], padding[0]), (padding[1], padding[1]))
    else:
        sides = tuple(tuple(int(v) for v in p) for p in padding)
    return [("zeropad2d", {"padding": tuple(b for b, _a in sides), "pads": sides})]


@converter("UpSampling2D")
def upsampling(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """UpSampling2D (nearest): ``upsampling2d``."""
    _channels_last(cfg, cls)
    if cfg.get("interpolation", "nearest") != "nearest":
        raise Rejected(f"{cls} with interpolation={cfg['interpolation']}")
    return [("upsampling2d", {"size": _axes(pair(cfg.get("size", 2)), 2)})]


@converter("Embedding")
def embedding(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Embedding: ``embedding VOCAB DIM``."""
    if cfg.get("mask_zero"):
        raise Rejected(f"{cls} with mask_zero")
    return [("embedding", {"vocab": int(cfg["input_dim"]), "dim": int(cfg["output_dim"])})]


@converter("LSTM", "GRU")
def recurrent(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """LSTM/GRU with Keras's default activations: ``lstm``/``gru``."""
    _rank(shapes, cls, 2)
    settings = {
        "activation": ("tanh", cfg.get("activation", "tanh")),
        "recurrent_activation": ("sigmoid", cfg.get("recurrent_activation", "sigmoid")),
        "use_bias": (True, cfg.get("use_bias", True)),
        "go_backwards": (False, cfg.get("go_backwards", False)),
        "return_state": (False, cfg.get("return_state", False)),
        "stateful": (False, cfg.get("stateful", False)),
    }
    if cls == "GRU":
        settings["reset_after"] = (True, cfg.get("reset_after", True))
    for key, (wanted, got) in settings.items():
        if got != wanted:
            raise Rejected(f"{cls} with {key}={got}")
    kind = cls.lower()
    return [(kind, {"units": int(cfg["units"]), "return_sequences": bool(cfg["return_sequences"])})]


@converter("Add")
def add(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Add: a residual's or a branch's ``add``."""
    return [("add", {})]


@converter("Concatenate")
def concatenate(cfg: dict, shapes: list[tuple], cls: str) -> list[tuple[str, dict]]:
    """Concatenate on the last axis: a ``branch concat``."""
    axis = cfg.get("axis", -1)
    if axis not in (-1, len(shapes[0])):
        raise Rejected(f"{cls} on axis {axis}", "specc concatenates channels")
    return [("concat", {})]
