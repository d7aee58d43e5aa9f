"""Weights across the bridge: an imported model's weights written for the emitted model of its
new spec, and a weights file loaded into the emitted PyTorch model for export.

Every layer kind's PyTorch plan has a weight map (:class:`specc.plans.WeightEntry`): which
Keras weights become which PyTorch tensors, through which transform.  The importers hold each
layer's weights in its framework's layout (Keras's ``get_weights()`` list, or PyTorch tensors
by the plan's names); the maps turn either into the other.  TensorFlow is imported only to
read or write Keras files, PyTorch only to write ``.pt`` files.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from specc.bridge.files import write_atomically
from specc.bridge.graph import Weights
from specc.compiler import CheckedModel
from specc.emit.planning import plan_model
from specc.port_weights import _tensor_key, framework_of, load_emitted


class WeightsError(Exception):
    """Weights that cannot be read, or do not fit the model."""


def output_kind(path: str) -> str:
    """``"keras"`` for ``.weights.h5``/``.keras``, ``"torch"`` for ``.pt``/``.pth``."""
    kind = framework_of(path)
    if kind is not None:
        return kind
    raise WeightsError(
        f"cannot tell the format of {path!r}: use .weights.h5 for Keras or .pt for PyTorch"
    )


# -- an imported model's weights ---------------------------------------------------------------


def attach_keras_weights(graph, path: str, checked: CheckedModel | None = None) -> None:
    """Read a ``.keras`` file's weights (with Keras) onto the graph's layers, by layer name.
    ``checked``: the imported spec, whose emitted Keras file defines the layer classes of
    specc's own (``specc>LayerScale``, ...) that a file saved from specc's Keras code holds."""
    import keras

    if checked is not None:
        with tempfile.TemporaryDirectory(prefix="specc-import-") as tmp:
            load_emitted(checked, "keras", Path(tmp))  # registers specc's layer classes
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:
        raise WeightsError(f"Keras cannot load {path}: {_first_line(exc)}") from None
    for layer in graph.layers:
        if not layer.name or layer.kind in ("input", "add", "concat", "multiply"):
            continue
        try:
            arrays = model.get_layer(layer.name).get_weights()
        except ValueError:
            continue
        if arrays:
            layer.weights = Weights("keras", [a.copy() for a in arrays])


def node_weights(checked: CheckedModel, graph, origin: list[int]):
    """For every node with weights: the node, its PyTorch plan, and the original layer's
    :class:`Weights`."""
    plans = plan_model(checked, "torch")
    for node in checked.model.nodes:
        plan = plans[node.index]
        if not plan.weights:
            continue
        layer = graph.layers[origin[node.index]]
        if layer.weights is None:
            raise WeightsError(f"{layer.name or node.name}: the model file holds no weights for it")
        yield node, plan, layer.weights


def keras_arrays(plan, weights: Weights) -> list:
    """A layer's weights as Keras's ``get_weights()`` list."""
    if weights.layout == "keras":
        return list(weights.arrays)
    count = 1 + max(i for entry in plan.weights for i in entry.keras)
    out: list = [None] * count
    named = torch_arrays(plan, weights)  # by the plan's names
    for entry in plan.weights:
        arrays = entry.transform.to_keras([named[name] for name in entry.torch])
        for i, value in zip(entry.keras, arrays, strict=True):
            out[i] = value
    return out


def torch_arrays(plan, weights: Weights) -> dict:
    """A layer's weights as PyTorch tensors (numpy arrays), by the plan's names."""
    if weights.layout == "torch":
        names = [name for entry in plan.weights for name in entry.torch]
        arrays = dict(weights.arrays)
        if len(names) == len(arrays) == 1 and set(names) != set(arrays):
            arrays = {names[0]: next(iter(arrays.values()))}  # a bare parameter or a module's
        return _attention_projections(names, arrays)
    out = {}
    for entry in plan.weights:
        arrays = entry.transform.to_torch([weights.arrays[i] for i in entry.keras])
        out.update(zip(entry.torch, arrays, strict=True))
    return out


PARTS = ("query", "key", "value")


def _attention_projections(names: list[str], arrays: dict) -> dict:
    """An attention layer's PyTorch weights in the form its plan names them: the packed
    ``in_proj_*`` and ``out_proj.*`` of ``nn.MultiheadAttention`` or the ``query``, ``key``,
    ``value`` and ``output`` projections of the emitted module (one PyTorch class may have
    served attention layers of both forms in the original)."""
    import numpy as np

    if "in_proj_weight" in names and "query.weight" in arrays:
        out = {"in_proj_weight": np.concatenate([arrays[f"{p}.weight"] for p in PARTS])}
        if "query.bias" in arrays:
            out["in_proj_bias"] = np.concatenate([arrays[f"{p}.bias"] for p in PARTS])
        out.update({f"out_proj.{k[7:]}": v for k, v in arrays.items() if k.startswith("output.")})
        return out
    if "query.weight" in names and "in_proj_weight" in arrays:
        out = {}
        for part, weight in zip(PARTS, np.split(arrays["in_proj_weight"], 3), strict=True):
            out[f"{part}.weight"] = weight
        if "in_proj_bias" in arrays:
            for part, bias in zip(PARTS, np.split(arrays["in_proj_bias"], 3), strict=True):
                out[f"{part}.bias"] = bias
        out.update({f"output.{k[9:]}": v for k, v in arrays.items() if k.startswith("out_proj.")})
        return out
    return arrays


def write_weights(imported, path: str) -> None:
    """Write the imported model's weights for the emitted model of its spec: a Keras
    ``.weights.h5`` or a PyTorch ``.pt`` state_dict, by ``path``'s suffix."""
    kind = output_kind(path)
    checked = imported.checked
    with tempfile.TemporaryDirectory(prefix="specc-import-") as tmp:
        if kind == "keras":
            if path.lower().endswith(".keras"):
                raise WeightsError("write Keras weights as .weights.h5 (the spec is the model)")
            model = load_emitted(checked, "keras", Path(tmp)).build_model()
            for node, plan, weights in node_weights(checked, imported.graph, imported.origin):
                try:
                    model.get_layer(node.name).set_weights(keras_arrays(plan, weights))
                except ValueError as exc:
                    raise WeightsError(f"{node.name}: {_first_line(exc)}") from None
            write_atomically(path, model.save_weights, suffix=".weights.h5")
        else:
            import numpy as np
            import torch

            model = load_emitted(checked, "torch", Path(tmp)).build_model()
            state = model.state_dict()
            filled = set()
            for node, plan, weights in node_weights(checked, imported.graph, imported.origin):
                for suffix, value in torch_arrays(plan, weights).items():
                    key = _tensor_key(node.name, suffix)
                    if key in state and value.size == state[key].numel():
                        value = value.reshape(tuple(state[key].shape))  # (C,) or (C, 1, 1)
                    if key not in state or tuple(state[key].shape) != tuple(value.shape):
                        raise WeightsError(f"{key}: the weights do not fit the emitted model")
                    state[key] = torch.from_numpy(np.ascontiguousarray(value)).to(state[key].dtype)
                    filled.add(key)
            left = [k for k in state if k not in filled and not k.endswith("num_batches_tracked")]
            if left:
                raise WeightsError(f"no weights for {', '.join(left[:3])}")
            model.load_state_dict(state)
            write_atomically(path, lambda tmp_path: torch.save(model.state_dict(), tmp_path))


# -- weights given to `specc export` ------------------------------------------------------------


def load_into_torch(checked: CheckedModel, model, path: str) -> None:
    """Load a ``.pt`` state_dict, or Keras weights (ported), into the emitted PyTorch model."""
    if not Path(path).is_file():
        raise WeightsError(f"no such file: {path}")
    if output_kind(path) == "torch":
        import torch

        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state, strict=True)
        except Exception as exc:
            raise WeightsError(
                f"{path} does not fit the PyTorch model of {checked.source.name}: "
                f"{_first_line(exc, skip_header=True)}"
            ) from None
        return
    from specc.port_weights import PortError, keras_to_torch, load_keras_weights

    with tempfile.TemporaryDirectory(prefix="specc-export-") as tmp:
        keras_model = load_emitted(checked, "keras", Path(tmp)).build_model()
        try:
            load_keras_weights(keras_model, path, checked)
        except PortError as exc:
            raise WeightsError(str(exc)) from None
        keras_to_torch(checked, keras_model, model)


def _first_line(exc: BaseException, skip_header: bool = False) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if skip_header and len(lines) > 1:
        return "; ".join(lines[1:3])
    return lines[0] if lines else type(exc).__name__
