"""Port trained weights between the emitted Keras and PyTorch models of one spec.

The two emitted models compute the same function, but store weights differently (DESIGN.md):
conv kernels are HWIO in Keras and OIHW in PyTorch, dense kernels (in, out) and (out, in),
BatchNorm statistics are weights in Keras and buffers in PyTorch, and PyTorch's ``nn.Flatten``
orders features C,H,W where Keras orders them H,W,C, so the first dense layer after a flatten
has its input columns permuted.  Every layer kind declares how, in its PyTorch plan's weight
map (:class:`specc.plans.WeightEntry`); this module is the one driver that follows the maps,
in both directions, and refuses a layer whose map does not cover all its weights.  A layer is
the Keras layer and the PyTorch submodule of the same name (``layer2.0.conv1``).

TensorFlow and PyTorch are imported lazily: only ``specc port-weights`` pays for them.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np

from specc.compiler import CheckedModel
from specc.emit import emit_source
from specc.emit.torch import TorchEmitter

KERAS_SUFFIXES = (".weights.h5", ".keras")
TORCH_SUFFIXES = (".pt", ".pth")


class PortError(Exception):
    """A weights file that cannot be ported: wrong format, or it does not fit the spec."""


# -- the driver --------------------------------------------------------------------------------


def _weight_maps(checked: CheckedModel):
    """Every node with its PyTorch plan (whose ``weights`` is its declarative weight map):
    the plans the emitted code was written from, which for a block whose instances needed
    one form are the generic ones (an attention layer's own module for every instance)."""
    emitter = TorchEmitter(checked)
    emitter.run()
    for node in checked.model.nodes:
        yield node, emitter.context.plans[node.index]


def _keras_weights(keras_model, node) -> list:
    try:
        layer = keras_model.get_layer(node.name)
    except ValueError:
        return []
    return [np.asarray(w) for w in layer.get_weights()]


def _check_map(node, plan, n_keras: int) -> None:
    covered = sorted(i for entry in plan.weights for i in entry.keras)
    if covered != list(range(n_keras)):
        raise PortError(
            f"{node.name} ({node.kind}): its weight map covers Keras weights {covered}, "
            f"but the layer has {n_keras}; this is a bug in specc's {node.kind} plan"
        )


def keras_to_torch(checked: CheckedModel, keras_model, torch_model) -> None:
    """Copy every weight of ``keras_model`` into ``torch_model`` (in place), following each
    layer kind's weight map."""
    import torch

    state = torch_model.state_dict()
    filled: set[str] = set()
    for node, plan in _weight_maps(checked):
        weights = _keras_weights(keras_model, node)
        _check_map(node, plan, len(weights))
        for entry in plan.weights:
            arrays = entry.transform.to_torch([weights[i] for i in entry.keras])
            for suffix, value in zip(entry.torch, arrays, strict=True):
                key = _tensor_key(node.name, suffix)
                if key not in state:
                    raise PortError(f"the PyTorch model has no tensor {key!r}")
                if tuple(state[key].shape) != tuple(value.shape):
                    raise PortError(
                        f"{key}: PyTorch has shape {tuple(state[key].shape)}, the ported "
                        f"weight {tuple(value.shape)}"
                    )
                state[key] = torch.from_numpy(np.ascontiguousarray(value)).to(state[key].dtype)
                filled.add(key)
    _check_filled(state, filled)
    torch_model.load_state_dict(state)


def torch_to_keras(checked: CheckedModel, torch_model, keras_model) -> None:
    """Copy every weight of ``torch_model`` into ``keras_model`` (in place)."""
    state = {k: v.detach().cpu().numpy() for k, v in torch_model.state_dict().items()}
    used: set[str] = set()
    for node, plan in _weight_maps(checked):
        weights = _keras_weights(keras_model, node)
        _check_map(node, plan, len(weights))
        if not weights:
            continue
        new = list(weights)
        for entry in plan.weights:
            keys = [_tensor_key(node.name, suffix) for suffix in entry.torch]
            missing = [k for k in keys if k not in state]
            if missing:
                raise PortError(f"the PyTorch model has no tensor {missing[0]!r}")
            used.update(keys)
            arrays = entry.transform.to_keras([state[k] for k in keys])
            for i, value in zip(entry.keras, arrays, strict=True):
                new[i] = value
        layer = keras_model.get_layer(node.name)
        layer.set_weights(new)
        _refresh(layer)
    _check_filled(state, used)


def _refresh(layer) -> None:
    """Make a layer use weights just set: Keras's Normalization computes its mean and
    variance from its weights when it is built or loaded (``finalize_state``), not when
    ``set_weights`` changes them."""
    finalize = getattr(layer, "finalize_state", None)
    if callable(finalize):
        finalize()


def _tensor_key(name: str, suffix: str) -> str:
    """The state_dict key of a layer's tensor: ``conv1.weight``; a layer that is a bare
    ``nn.Parameter`` of its class (a class token) is its own key (``suffix`` "")."""
    return f"{name}.{suffix}" if suffix else name


def _check_filled(state: dict, filled: set[str]) -> None:
    """Every PyTorch tensor (but BatchNorm's step counter) came from a weight map."""
    left = sorted(k for k in state if k not in filled and not k.endswith("num_batches_tracked"))
    if left:
        raise PortError(
            f"no Keras weight maps to {', '.join(left[:5])}; this is a bug in specc's plans"
        )


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


def framework_of(path: str) -> str | None:
    """``"keras"`` for ``.weights.h5``/``.keras``, ``"torch"`` for ``.pt``/``.pth``, else None."""
    lower = path.lower()
    if lower.endswith(KERAS_SUFFIXES):
        return "keras"
    if lower.endswith(TORCH_SUFFIXES):
        return "torch"
    return None


def _kind_of(path: str) -> str:
    kind = framework_of(path)
    if kind is not None:
        return kind
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
            load_keras_weights(keras_model, source, checked)
            keras_to_torch(checked, keras_model, torch_model)
            _save_torch(torch_model, target)
        else:
            _load_torch(torch_model, source, checked)
            torch_to_keras(checked, torch_model, keras_model)
            _save_keras(keras_model, target)


def load_keras_weights(model, path: str, checked: CheckedModel) -> None:
    """Load a ``.keras`` model file's or a ``.weights.h5`` file's weights into the emitted
    Keras model; :class:`PortError` when they do not fit."""
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
