"""Sequences: embeddings (``Gather`` of a table by integer ids), LSTM and GRU (ONNX's gate
order turned into PyTorch's), and the last step of a sequence (a recurrent layer without
``return_sequences``)."""

from __future__ import annotations

import numpy as np

from specc.bridge.onnx_common import (
    data_input,
    handles,
    is_zero,
)
from specc.bridge.onnx_reader import Misfit, OnnxReader, Unexpressible
from specc.bridge.onnx_values import (
    BATCH,
    Data,
    Shaped,
    Value,
)

RECURRENT_ORDER = {"LSTM": (0, 2, 3, 1), "GRU": (1, 0, 2)}  # torch gate block i = ONNX block


def embedding(r: OnnxReader, node, table: np.ndarray, ids: Data) -> list:
    """``Gather(table, ids)``: an embedding of integer ids."""
    if table.ndim != 2 or len(ids.shape) != 1:
        raise Misfit("Gather of a table by more than a sequence of ids")
    args = {"vocab": int(table.shape[0]), "dim": int(table.shape[1])}
    index, shape = r.add(node, "embedding", args, [ids], {"weight": table.astype(np.float32)})
    return [Data(index, shape, (*ids.phys, 1))]


def last_step(r: OnnxReader, node, data: Data, index: np.ndarray, axis: int) -> list:
    """``Gather`` of the last step of a recurrent layer's sequence: its final state."""
    if data.variant != "seq" or index.size != 1:
        raise Unexpressible("Gather", "only a recurrent layer's last step")
    axis %= len(data.phys)
    length = data.shape[0]
    if data.phys[axis] != 0 or int(index.reshape(())) not in (-1, length - 1):
        raise Unexpressible("Gather", "only a recurrent layer's last step")
    phys = tuple(0 if p == 1 else p for i, p in enumerate(data.phys) if i != axis)
    return [Data(data.layer, (data.shape[1],), phys, variant="last")]


@handles("LSTM", "GRU")
def recurrent(r: OnnxReader, node, ins: list, attrs: dict) -> list:
    op = node.op_type
    data = r.materialize(data_input(ins, op))
    if attrs.get("direction", "forward") != "forward" or attrs.get("layout", 0) != 0:
        raise Unexpressible(f"{op} other than forward, sequence-first")
    if "clip" in attrs or attrs.get("input_forget", 0):
        raise Unexpressible(f"{op} with clip or input_forget")
    defaults = ["Sigmoid", "Tanh", "Tanh"] if op == "LSTM" else ["Sigmoid", "Tanh"]
    if [a.capitalize() for a in attrs.get("activations", defaults)] != defaults:
        raise Unexpressible(f"{op} with other activations")
    if op == "GRU" and not attrs.get("linear_before_reset", 0):
        raise Unexpressible("GRU with linear_before_reset=0", "Keras's GRU resets after")
    if len(data.shape) != 2 or data.phys != (0, "N", 1):
        raise Misfit(f"{op} on a tensor in another layout")
    for k in (4, 5, 6, 7):
        if len(ins) > k and ins[k] is not None and not (k in (5, 6) and is_zero(ins[k])):
            raise Unexpressible(f"{op} with sequence lengths, initial states or peepholes")
    w, rec = (r.const(v, node, "weight")[0] for v in ins[1:3])
    units = int(attrs["hidden_size"])
    gates = w.shape[0] // units
    bias = ins[3] if len(ins) > 3 and ins[3] is not None else None
    b = r.const(bias, node, "bias")[0] if bias is not None else np.zeros(2 * gates * units)
    order = RECURRENT_ORDER[op]

    def torch_order(a: np.ndarray) -> np.ndarray:
        blocks = np.split(a, gates, axis=0)
        return np.concatenate([blocks[i] for i in order], axis=0).astype(np.float32)

    weights = {
        "weight_ih_l0": torch_order(w),
        "weight_hh_l0": torch_order(rec),
        "bias_ih_l0": torch_order(b[: gates * units]),
        "bias_hh_l0": torch_order(b[gates * units :]),
    }
    args = {"units": units, "return_sequences": True}
    index, shape = r.add(node, op.lower(), args, [data], weights)
    r.after.append(lambda: _settle_recurrent(r, index))
    sequence = Data(index, shape, (0, None, "N", 1), variant="seq")
    last = Data(index, (units,), (None, "N", 0), variant="last")
    outputs: list[Value] = [sequence, last]
    if op == "LSTM":  # the cell state: nothing a spec layer gives
        outputs.append(Shaped([1, BATCH, units], "LSTM's cell state"))
    return outputs[: len(node.output)]


def _settle_recurrent(r: OnnxReader, index: int) -> None:
    used = r.uses.get(index, set())
    layer = r.graph.layers[index]
    if used == {"last"}:
        layer.args["return_sequences"] = False
    elif len(used) > 1:
        r.unsupported.add(
            f"{layer.source} read both as a sequence and as its last state", layer.name or "rnn"
        )
