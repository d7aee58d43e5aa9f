"""How one imported layer is written on a spec line: its kind and its arguments, minimal.

Positional parameters come first (``conv 64 3x3``), then every other parameter whose value is
not the kind's default, as ``key=value``; the activation is a bare word (``relu``),
``return_sequences`` too.  Values are written so that the spec's parser reads them back to the
same parameters: sizes as ``3x3`` (``2`` when every axis is the same, for strides and pools),
booleans as ``true``/``false``, floats in their shortest form (float32 ones as the shortest
decimal that is the same float32).  No numpy: importing a ``.keras`` config needs none.
"""

from __future__ import annotations

import keyword
import re
import struct
from decimal import Decimal
from typing import Any

from specc.layers import lookup

# the short names the README and specs/ use
SHORT_KINDS = {
    "conv2d": "conv",
    "maxpool2d": "maxpool",
    "avgpool2d": "avgpool",
    "zeropad2d": "zeropad",
}
# parameters always written with every axis (a kernel reads better as 3x3 than 3)
FULL_DIMS = ("kernel", "shape")
# parameters written as bare words when true (or set)
BARE_WORDS = {"return_sequences", "keepdims", "causal"}
# per-channel numbers: one number, or several in quotes ("0.5 1 2")
NUMBER_LISTS = ("scale", "offset", "mean", "variance")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# attribute names an emitted nn.Module or Keras model has already: not usable as layer names
RESERVED_NAMES = {
    "forward",
    "training",
    "modules",
    "parameters",
    "children",
    "buffers",
    "eval",
    "train",
    "to",
    "cuda",
    "cpu",
    "type",
    "half",
    "float",
    "double",
    "apply",
    "input",
    "inputs",
    "output",
    "outputs",
    "layers",
    "model",
    "name",
    "x",
}


def float32(value: float) -> float:
    """``value`` rounded to float32 and back: what an ONNX attribute or tensor holds."""
    return struct.unpack("f", struct.pack("f", value))[0]


def number(value: Any, single: bool = False) -> str:
    """A number as the spec writes it: ints plainly, floats in their shortest form, without
    an exponent (``0.00001``).  ``single``: the shortest decimal that is the same float32."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    text = repr(value)
    if single:
        target = float32(value)
        for digits in range(1, 10):
            candidate = f"{value:.{digits}g}"
            if float32(float(candidate)) == target:
                text = candidate
                break
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if "." not in text:
        text += ".0"
    return text


def dims(value: Any, full: bool = False) -> str:
    """A size: ``(3, 3)`` -> ``3x3``; ``(2, 2)`` -> ``2`` unless ``full``; ``(5,)`` -> ``5``."""
    if isinstance(value, int):
        return str(value)
    values = tuple(int(v) for v in value)
    if not full and values and all(v == values[0] for v in values):
        return str(values[0])
    return "x".join(str(v) for v in values)


def value_text(key: str, value: Any, single: bool = False) -> str:
    """One parameter value as the spec writes it."""
    if key in NUMBER_LISTS and isinstance(value, tuple | list):
        if len(value) == 1:
            return number(value[0], single)
        return '"' + " ".join(number(v, single) for v in value) + '"'
    if isinstance(value, tuple | list):
        return dims(value, full=key in FULL_DIMS)
    if isinstance(value, str):
        return value
    return number(value, single)


def defaults(kind: str) -> dict[str, Any]:
    """The default value of every parameter of ``kind`` that has one."""
    fields = lookup(kind).Params.model_fields
    return {k: f.default for k, f in fields.items() if not f.is_required()}


def is_default(kind: str, key: str, value: Any, args: dict[str, Any]) -> bool:
    """Whether ``key=value`` may be left out of a ``kind`` line."""
    table = defaults(kind)
    if key == "stride" and table.get("stride", 0) is None:  # pools: the stride defaults to pool
        return _same(value, args.get("pool"))
    if key not in table:
        return False
    return _same(value, table[key])


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return tuple(a) == tuple(b)
    if isinstance(a, tuple | list) and isinstance(b, int) and not isinstance(b, bool):
        return all(v == b for v in a)
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, int | float) and isinstance(b, int | float) and float32(a) == float32(b)
        )
    return a == b


def layer_words(
    kind: str,
    args: dict[str, Any],
    *,
    written: dict[str, str] | None = None,
    single: bool = False,
) -> list[str]:
    """The words after the kind on a layer line.  ``written`` gives the text of some
    parameters instead of their values (a block's ``f`` or ``(f * 4)``): those are always
    written."""
    registered = lookup(kind)
    written = written or {}
    words: list[str] = []
    for key in registered.positional:
        if key in written:
            words.append(written[key])
        elif args.get(key) is not None:
            words.append(value_text(key, args[key], single))
    for key in registered.Params.model_fields:
        if key in registered.positional or (key not in args and key not in written):
            continue
        if key in written:
            words.append(f"{key}={written[key]}")
            continue
        value = args[key]
        if key == "activation":
            if value not in (None, "linear"):
                words.append(value)
            continue
        # a default that follows another parameter (a pool's stride is its size) is written
        # when that parameter is a block's: each instance would otherwise get its own
        follows_written = key == "stride" and "pool" in written
        if is_default(kind, key, value, args) and not follows_written:
            continue
        if key in BARE_WORDS and value is True:
            words.append(key)
            continue
        words.append(f"{key}={value_text(key, value, single)}")
    return words


def layer_line(kind: str, args: dict[str, Any], **options: Any) -> str:
    """A whole layer line: ``conv 64 3x3 stride=2 relu``; a plain activation is just its
    name (``relu``)."""
    name = options.pop("name", None)
    if kind == "activation" and not options.get("written"):
        fn = args.get("fn")
        extras = layer_words(kind, {k: v for k, v in args.items() if k != "fn"}, **options)
        words = [fn, *extras] if not extras else ["activation", fn, *extras]
    else:
        words = [SHORT_KINDS.get(kind, kind), *layer_words(kind, args, **options)]
    if name:
        words.append(f"name={name}")
    return " ".join(words)


def usable_name(name: str) -> bool:
    """Whether a framework's layer name can be a spec's ``name=`` (and so a Keras layer name
    and a PyTorch attribute) as it is."""
    return bool(NAME.match(name)) and not keyword.iskeyword(name) and name not in RESERVED_NAMES


def model_name(name: str, fallback: str = "model") -> str:
    """A model name the ``model`` line accepts: letters, digits and underscores."""
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name or "").strip("_") or fallback
    return cleaned if not cleaned[0].isdigit() else f"model_{cleaned}"
