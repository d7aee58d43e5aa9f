"""Port trained weights between the emitted Keras and PyTorch models of one spec.

The two emitted models compute the same function, but store weights differently (DESIGN.md):
conv kernels are HWIO in Keras and OIHW in PyTorch, dense kernels (in, out) and (out, in),
BatchNorm statistics are weights in Keras and buffers in PyTorch, and PyTorch's ``nn.Flatten``
orders features C,H,W where Keras orders them H,W,C, so the first dense layer after a flatten
has its input columns permuted.  Converters are found by naming convention:
``_to_torch_<kind>`` and ``_to_keras_<kind>``; kinds without weights have none.

TensorFlow and PyTorch are imported lazily: only ``specc port-weights`` pays for them.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from specc.compiler import CheckedModel
from specc.emit import emit_source
from specc.emit.graph import PASS_THROUGH, feeds

KERAS_SUFFIXES = (".weights.h5", ".keras")
TORCH_SUFFIXES = (".pt", ".pth")
_ELEMENTWISE = PASS_THROUGH


class PortError(Exception):
    """A weights file that cannot be ported: wrong format, or it does not fit the spec."""


# -- per-kind converters ----------------------------------------------------------------------
# to_torch: (keras weight list, ctx) -> {torch state_dict suffix: array}
# to_keras: ({torch state_dict suffix: array}, ctx) -> keras weight list


def _to_torch_conv2d(w: list, ctx: dict) -> dict:
    out = {"weight": w[0].transpose(3, 2, 0, 1)}
    if len(w) > 1:
        out["bias"] = w[1]
    return out


def _to_keras_conv2d(s: dict, ctx: dict) -> list:
    return [s["weight"].transpose(2, 3, 1, 0)] + ([s["bias"]] if "bias" in s else [])


def _to_torch_conv1d(w: list, ctx: dict) -> dict:
    out = {"weight": w[0].transpose(2, 1, 0)}
    if len(w) > 1:
        out["bias"] = w[1]
    return out


def _to_keras_conv1d(s: dict, ctx: dict) -> list:
    return [s["weight"].transpose(2, 1, 0)] + ([s["bias"]] if "bias" in s else [])


def _to_torch_dense(w: list, ctx: dict) -> dict:
    kernel = w[0]
    perm = ctx.get("perm")
    if perm is not None:
        kernel = kernel[perm, :]
    out = {"weight": kernel.T}
    if len(w) > 1:
        out["bias"] = w[1]
    return out


def _to_keras_dense(s: dict, ctx: dict) -> list:
    kernel = s["weight"].T
    perm = ctx.get("perm")
    if perm is not None:
        kernel = kernel[np.argsort(perm), :]
    return [kernel] + ([s["bias"]] if "bias" in s else [])


_BN_ORDER = (("scale", "weight"), ("center", "bias"))


def _to_torch_batchnorm(w: list, ctx: dict) -> dict:
    p, perm = ctx["params"], ctx.get("perm")
    names = [t for flag, t in _BN_ORDER if getattr(p, flag)] + ["running_mean", "running_var"]
    out = dict(zip(names, w, strict=True))
    if perm is not None:
        out = {k: v[perm] for k, v in out.items()}
    return out


def _to_keras_batchnorm(s: dict, ctx: dict) -> list:
    p, perm = ctx["params"], ctx.get("perm")
    names = [t for flag, t in _BN_ORDER if getattr(p, flag)] + ["running_mean", "running_var"]
    values = [s[n] for n in names]
    if perm is not None:
        inverse = np.argsort(perm)
        values = [v[inverse] for v in values]
    return values


def _to_torch_depthwise_conv2d(w: list, ctx: dict) -> dict:
    kh, kw, c, m = w[0].shape  # Keras (kh, kw, C, M); torch (C·M, 1, kh, kw), channel c·M + m
    out = {"weight": w[0].transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)}
    if len(w) > 1:
        out["bias"] = w[1]
    return out


def _to_keras_depthwise_conv2d(s: dict, ctx: dict) -> list:
    cm, _, kh, kw = s["weight"].shape
    c = ctx["in_shape"][-1]
    kernel = s["weight"].reshape(c, cm // c, kh, kw).transpose(2, 3, 0, 1)
    return [kernel] + ([s["bias"]] if "bias" in s else [])


def _to_torch_separable_conv2d(w: list, ctx: dict) -> dict:
    depthwise = _to_torch_depthwise_conv2d(w[:1], ctx)["weight"]
    out = {"0.weight": depthwise, "1.weight": w[1].transpose(3, 2, 0, 1)}
    if len(w) > 2:
        out["1.bias"] = w[2]
    return out


def _to_keras_separable_conv2d(s: dict, ctx: dict) -> list:
    depthwise = _to_keras_depthwise_conv2d({"weight": s["0.weight"]}, ctx)[0]
    pointwise = s["1.weight"].transpose(2, 3, 1, 0)
    return [depthwise, pointwise] + ([s["1.bias"]] if "1.bias" in s else [])


def _to_torch_conv2d_transpose(w: list, ctx: dict) -> dict:
    # Keras (kh, kw, out, in); torch ConvTranspose2d (in, out, kh, kw)
    out = {"weight": w[0].transpose(3, 2, 0, 1)}
    if len(w) > 1:
        out["bias"] = w[1]
    return out


def _to_keras_conv2d_transpose(s: dict, ctx: dict) -> list:
    return [s["weight"].transpose(2, 3, 1, 0)] + ([s["bias"]] if "bias" in s else [])


def _to_torch_layernorm(w: list, ctx: dict) -> dict:
    p = ctx["params"]
    names = [t for flag, t in _BN_ORDER if getattr(p, flag)]
    return dict(zip(names, w, strict=True))


def _to_keras_layernorm(s: dict, ctx: dict) -> list:
    p = ctx["params"]
    return [s[t] for flag, t in _BN_ORDER if getattr(p, flag)]


def _to_torch_embedding(w: list, ctx: dict) -> dict:
    return {"weight": w[0]}


def _to_keras_embedding(s: dict, ctx: dict) -> list:
    return [s["weight"]]


# Gate blocks along the last axis: Keras LSTM i,f,c,o = torch i,f,g,o; Keras GRU z,r,h and
# torch r,z,n.  Keras's LSTM has one bias (torch's bias_hh stays zero); its GRU
# (reset_after=True) has an input and a recurrent bias, like torch.
_GATES = {"lstm": (0, 1, 2, 3), "gru": (1, 0, 2)}


def _reorder(a: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    blocks = np.split(a, len(order), axis=-1)
    return np.concatenate([blocks[i] for i in order], axis=-1)


def _to_torch_recurrent(w: list, ctx: dict) -> dict:
    order = _GATES[ctx["node"].kind]
    kernel, recurrent, bias = w
    biases = bias if bias.ndim == 2 else np.stack([bias, np.zeros_like(bias)])
    return {
        "weight_ih_l0": _reorder(kernel, order).T,
        "weight_hh_l0": _reorder(recurrent, order).T,
        "bias_ih_l0": _reorder(biases[0], order),
        "bias_hh_l0": _reorder(biases[1], order),
    }


def _to_keras_recurrent(s: dict, ctx: dict) -> list:
    order = _GATES[ctx["node"].kind]
    inverse = tuple(int(i) for i in np.argsort(order))
    kernel = _reorder(s["weight_ih_l0"].T, inverse)
    recurrent = _reorder(s["weight_hh_l0"].T, inverse)
    bias_ih = _reorder(s["bias_ih_l0"], inverse)
    bias_hh = _reorder(s["bias_hh_l0"], inverse)
    if ctx["node"].kind == "gru":
        return [kernel, recurrent, np.stack([bias_ih, bias_hh])]
    # Keras's single LSTM bias: torch adds both, so their sum is the same function
    return [kernel, recurrent, bias_ih + bias_hh]


_to_torch_lstm = _to_torch_gru = _to_torch_recurrent
_to_keras_lstm = _to_keras_gru = _to_keras_recurrent


# -- the flatten permutation ------------------------------------------------------------------


def flatten_permutations(checked: CheckedModel, channels_first_flattens: set[int]) -> dict:
    """For each node fed (through elementwise layers) by a channels-first flatten, the
    permutation ``perm`` with ``torch_features[i] == keras_features[perm[i]]``."""
    perms: dict[int, np.ndarray] = {}
    model = checked.model
    for node in model.nodes:
        if node.kind == "flatten" and node.index in channels_first_flattens:
            shape = checked.infos[node.inputs[0]].shape
            perms[node.index] = _chw_to_hwc(shape)
        elif node.kind in _ELEMENTWISE and node.inputs and node.inputs[0] in perms:
            perms[node.index] = perms[node.inputs[0]]
    return perms


def _chw_to_hwc(shape: tuple[int, ...]) -> np.ndarray:
    """Index map from channels-first flattening to channels-last flattening of ``shape``."""
    if len(shape) < 2:
        return np.arange(shape[0])
    hwc = np.arange(int(np.prod(shape))).reshape(shape)  # keras index at each (h, w, c)
    return np.moveaxis(hwc, -1, 0).reshape(-1)  # read in (c, h, w) order


# -- whole models -----------------------------------------------------------------------------


def channels_first_flattens(checked: CheckedModel) -> set[int]:
    """The flatten nodes that the torch backend writes as ``nn.Flatten()`` (C,H,W order)."""
    model = checked.model
    return {
        n.index
        for n in model.nodes
        if n.kind == "flatten"
        and len(checked.infos[n.inputs[0]].shape) > 1
        and feeds(model, n.index) == ("dense",)
    }


def _contexts(checked: CheckedModel):
    perms = flatten_permutations(checked, channels_first_flattens(checked))
    for node in checked.model.nodes:
        ctx: dict[str, Any] = {"node": node, "params": checked.params.get(node.index)}
        if node.inputs:
            ctx["in_shape"] = checked.infos[node.inputs[0]].shape
        source = node.inputs[0] if node.inputs else None
        if node.kind in _ELEMENTWISE:
            ctx["perm"] = perms.get(node.index)
        elif source is not None:
            ctx["perm"] = perms.get(source)
        yield node, ctx


def keras_to_torch(checked: CheckedModel, keras_model, torch_model) -> None:
    """Copy every weight of ``keras_model`` into ``torch_model`` (in place)."""
    import torch

    state = torch_model.state_dict()
    for node, ctx in _contexts(checked):
        convert = globals().get(f"_to_torch_{node.kind}")
        if convert is None:
            continue
        weights = [np.asarray(w) for w in keras_model.get_layer(node.name).get_weights()]
        for suffix, value in convert(weights, ctx).items():
            key = f"{node.name}.{suffix}"
            if key not in state:
                raise PortError(f"the PyTorch model has no tensor {key!r}")
            state[key] = torch.from_numpy(np.ascontiguousarray(value)).to(state[key].dtype)
    torch_model.load_state_dict(state)


def torch_to_keras(checked: CheckedModel, torch_model, keras_model) -> None:
    """Copy every weight of ``torch_model`` into ``keras_model`` (in place)."""
    state = {k: v.detach().cpu().numpy() for k, v in torch_model.state_dict().items()}
    for node, ctx in _contexts(checked):
        convert = globals().get(f"_to_keras_{node.kind}")
        if convert is None:
            continue
        prefix = f"{node.name}."
        own = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        keras_model.get_layer(node.name).set_weights(convert(own, ctx))


# -- files ------------------------------------------------------------------------------------


def load_emitted(checked: CheckedModel, backend: str, folder: Path) -> ModuleType:
    """Emit ``backend`` source for the spec into ``folder`` and import it as a module."""
    path = folder / f"{checked.model.name}_{backend}.py"
    path.write_text(emit_source(checked, backend), encoding="utf-8")
    name = f"_specc_emitted_{checked.model.name}_{backend}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _kind_of(path: str) -> str:
    lower = path.lower()
    if lower.endswith(KERAS_SUFFIXES):
        return "keras"
    if lower.endswith(TORCH_SUFFIXES):
        return "torch"
    raise PortError(
        f"cannot tell the framework of {path!r}: use .weights.h5 or .keras for Keras, "
        ".pt or .pth for a PyTorch state_dict"
    )


def port_file(checked: CheckedModel, source: str, target: str) -> None:
    """Convert the weights file ``source`` into ``target`` for the other framework."""
    src_kind, dst_kind = _kind_of(source), _kind_of(target)
    if src_kind == dst_kind:
        raise PortError(f"{source!r} and {target!r} are both {src_kind} files")
    if not Path(source).is_file():
        raise PortError(f"no such file: {source}")
    with tempfile.TemporaryDirectory(prefix="specc-port-") as tmp:
        keras_mod = load_emitted(checked, "keras", Path(tmp))
        torch_mod = load_emitted(checked, "torch", Path(tmp))
        keras_model, torch_model = keras_mod.build_model(), torch_mod.build_model()
        if src_kind == "keras":
            _load_keras(keras_model, source, checked)
            keras_to_torch(checked, keras_model, torch_model)
            _save_torch(torch_model, target)
        else:
            _load_torch(torch_model, source, checked)
            torch_to_keras(checked, torch_model, keras_model)
            _save_keras(keras_model, target)


def _load_keras(model, path: str, checked: CheckedModel) -> None:
    try:
        if path.lower().endswith(".keras"):
            import keras

            loaded = keras.models.load_model(path, compile=False)
            model.set_weights(loaded.get_weights())
        else:
            model.load_weights(path)
    except Exception as exc:
        raise PortError(
            f"{path} does not fit the Keras model of {checked.source.name}: {_first_line(exc)}"
        ) from None


def _load_torch(model, path: str, checked: CheckedModel) -> None:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PortError(f"{path} is not a PyTorch state_dict: {_first_line(exc)}") from None
    if not isinstance(state, dict):
        raise PortError(f"{path} holds a {type(state).__name__}, not a state_dict")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise PortError(
            f"{path} does not fit the PyTorch model of {checked.source.name}: "
            f"{_first_line(exc, skip_header=True)}"
        ) from None


def _save_torch(model, path: str) -> None:
    import torch

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(path).with_name(f".{Path(path).name}.tmp")
    torch.save(model.state_dict(), tmp)
    tmp.replace(path)


def _save_keras(model, path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    suffix = ".keras" if path.lower().endswith(".keras") else ".weights.h5"
    tmp = Path(path).with_name(f".tmp-{Path(path).name[: -len(suffix)]}{suffix}")
    if suffix == ".keras":
        model.save(tmp)
    else:
        model.save_weights(tmp)
    tmp.replace(path)


def _first_line(exc: BaseException, skip_header: bool = False) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if skip_header and len(lines) > 1:
        return "; ".join(lines[1:4])
    return lines[0] if lines else type(exc).__name__


def port_command(checked: CheckedModel, args) -> int:
    """``specc port-weights SPEC --from FILE --to FILE``; returns the exit status."""
    try:
        port_file(checked, args.source, args.target)
    except PortError as exc:
        print(f"specc: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.target} (weights of {checked.model.name} from {args.source})")
    return 0
