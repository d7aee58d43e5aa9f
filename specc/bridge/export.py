"""``specc export SPEC --format onnx``: the spec's model as an ONNX file.

The spec's emitted PyTorch model (fresh, or with ``--weights``) goes through
``torch.onnx.export`` with the dynamo exporter (``torch.export`` then onnxscript's translation:
the TorchScript exporter is deprecated, writes ``onnx::Conv_217`` for weight names and folds
BatchNorm into the convolutions).  Its graph is then cleaned with onnxscript's optimizer, minus
two of its rewrites that would change the model's structure (folding BatchNorm into the conv
before it, dropping a bias that happens to be zero), and the biases PyTorch writes as computed
zeros for ``bias=False`` layers are dropped.  The batch axis is dynamic, weights keep their
``state_dict`` names (``layer1.0.conv1.weight``) and nodes are named after the spec's layers
(:mod:`specc.bridge.onnx_names`).  The file passes ``onnx.checker``, and ONNX Runtime's output
is compared with PyTorch's before anything is written.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from specc.compiler import CheckedModel
from specc.emit import backend_diagnostics, spec_hash

DEFAULT_OPSET = 20  # Gelu is an op from opset 20; torch 2.13's default
OPSETS = range(18, 24)  # what the dynamo exporter writes (18+) and ONNX Runtime 1.32 runs
TOLERANCE = 1e-4


class ExportError(Exception):
    """A spec that the exporter could not turn into a valid ONNX file."""


@dataclass
class Exported:
    """What was written: the file, its opset and size, and how far ONNX Runtime's output was
    from PyTorch's (None when not checked)."""

    path: str
    opset: int
    nodes: int
    difference: float | None


def export_diagnostics(checked: CheckedModel):
    """What the export cannot express, located in the spec: it goes through the PyTorch
    model, so PyTorch's limits (E0601) are the export's."""
    return backend_diagnostics(checked, "torch")


def example_inputs(checked: CheckedModel, batch: int, seed: int = 0) -> tuple:
    """A random batch for every input of the emitted PyTorch model (NCHW / NCL, or token
    ids), in the spec's order."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    model = checked.model
    out = []
    for index in model.inputs:
        shape = checked.infos[index].shape
        if getattr(checked.params[index], "dtype", "float32") == "int":
            vocab = min(checked.params[n.index].vocab for n in model.nodes if n.kind == "embedding")
            out.append(torch.randint(0, vocab, (batch, *shape), generator=generator))
            continue
        layout = (shape[-1], *shape[:-1]) if len(shape) > 1 else shape
        out.append(torch.randn((batch, *layout), generator=generator))
    return tuple(out)


def io_names(checked: CheckedModel) -> tuple[list[str], list[str]]:
    """The ONNX graph's input and output names: ``input`` and ``output`` for a model of one
    of each, else the spec's names of its inputs and outputs."""
    model = checked.model
    inputs = [model.nodes[i].name for i in model.inputs]
    outputs = [model.nodes[i].name for i in model.outputs]
    return (
        ["input"] if len(inputs) == 1 else inputs,
        ["output"] if len(outputs) == 1 else outputs,
    )


def export_onnx(
    checked: CheckedModel,
    output: str,
    *,
    weights: str | None = None,
    opset: int = DEFAULT_OPSET,
    verify: bool = True,
) -> Exported:
    """Write the spec's model to ``output`` as ONNX; raises :class:`ExportError` (nothing is
    written) when the exporter fails or ONNX Runtime disagrees with PyTorch."""
    from specc.bridge.files import write_bytes
    from specc.bridge.weights import load_into_torch
    from specc.port_weights import load_emitted

    with tempfile.TemporaryDirectory(prefix="specc-export-") as tmp:
        model = load_emitted(checked, "torch", Path(tmp)).build_model().eval()
        if weights:
            load_into_torch(checked, model, weights)
        proto = _export(checked, model, opset)
    try:
        data = proto.SerializeToString()
    except ValueError as exc:  # protobuf refuses messages above 2 GB
        raise ExportError(f"the model does not fit in one ONNX file: {_first_line(exc)}") from None
    difference = None
    if verify:
        difference = _compare(checked, model, data)
        if difference > TOLERANCE:
            raise ExportError(
                f"ONNX Runtime's output differs from PyTorch's by {difference:.3g} "
                f"(more than {TOLERANCE}); nothing was written"
            )
    write_bytes(output, data)
    return Exported(output, opset, len(proto.graph.node), difference)


def _export(checked: CheckedModel, model, opset: int):
    """The cleaned, named, checked ModelProto of the PyTorch ``model``."""
    import onnx
    import onnx_ir as ir
    import torch

    from specc.bridge.onnx_names import name_nodes

    examples = example_inputs(checked, batch=2)
    batch = torch.export.Dim("batch")
    input_names, output_names = io_names(checked)
    quiet = io.StringIO()
    try:
        with _quiet(), contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            program = torch.onnx.export(
                model,
                examples,
                dynamo=True,
                optimize=False,
                opset_version=opset,
                dynamic_shapes=tuple({0: batch} for _ in examples),
                input_names=input_names,
                output_names=output_names,
                verbose=False,
            )
            graph = program.model
            _clean(graph, set(model.state_dict()))
    except Exception as exc:
        raise ExportError(f"torch.onnx.export failed: {_first_line(exc)}") from None
    proto = ir.serde.serialize_model(graph)
    name_nodes(proto, checked)
    proto.graph.name = checked.model.name
    proto.producer_name = "specc"
    proto.doc_string = f"{checked.model.name}, exported by specc from {checked.source.name}"
    for key, value in (("spec", checked.source.name), ("spec_sha256", spec_hash(checked))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:
        raise ExportError(f"the exported model fails onnx.checker: {_first_line(exc)}") from None
    return proto


def _clean(model, parameters: set[str]) -> None:
    """Fold constants and apply onnxscript's simplifying rewrites (not the ones that change
    the model's structure: BatchNorm folded into a conv, a zero bias dropped), then drop the
    computed zero biases that ``bias=False`` layers export as."""
    import onnx_ir as ir
    import onnx_ir.passes.common as common
    from onnxscript import optimizer, rewriter

    for _ in range(2):
        optimizer.fold_constants(model)
        rewriter.rewrite(model, pattern_rewrite_rules=_rewrite_rules())
        optimizer.remove_unused_nodes(model)
    for node in model.graph:
        if node.op_type not in ("Conv", "ConvTranspose", "Gemm") or len(node.inputs) < 3:
            continue
        bias = node.inputs[2]
        if bias is None or bias.name in parameters:
            continue
        tensor = ir.convenience.get_const_tensor(bias)
        if tensor is not None and not tensor.numpy().any():
            node.resize_inputs(2)
    optimizer.remove_unused_nodes(model)
    common.LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0)(model)


def _rewrite_rules() -> list:
    """The rewrites that only simplify: no-ops, casts, reshapes and transposes merged, slices
    collapsed, shapes made constant, a zero Pad folded into the Conv after it."""
    from onnxscript.rewriter.rules import common as rules

    names = (
        "add_0_rule",
        "sub_0_rule",
        "mul_by_1_rule",
        "div_by_1_rule",
        "dropout_zero_rule",
        "dropout_inference_rule",
        "cast_cast_rule",
        "no_op_cast_rule",
        "no_op_expand_rule",
        "no_op_transpose_rule",
        "reshape_reshape_rule",
        "squeeze_reshape_1d_rule",
        "transpose_transpose_rule",
        "unsqueeze_unsqueeze_rule",
        "collapse_slice_rule",
        "collapse_slice2_rule",
        "materialize_reshape_shape_rule",
        "cast_constant_of_shape_rule",
        "cast_constant_of_shape_without_value_rule",
        "normalize_pad_format_conv_rule",
        "fuse_pad_into_conv_rule",
    )
    return [getattr(rules, name) for name in names]


@contextlib.contextmanager
def _quiet():
    """The exporter's progress lines, warnings and logs kept off the terminal."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(previous)


def _compare(checked: CheckedModel, model, data: bytes) -> float:
    """The largest difference between ONNX Runtime's and PyTorch's outputs on a random batch
    (relative to the output's size when it is above 1)."""
    import numpy as np
    import onnxruntime
    import torch

    examples = example_inputs(checked, batch=3, seed=1)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    feeds = {i.name: x.numpy() for i, x in zip(session.get_inputs(), examples, strict=True)}
    got = session.run(None, feeds)
    with torch.no_grad():
        want = model(*examples)
    want = want if isinstance(want, tuple | list) else (want,)
    worst = 0.0
    for g, w in zip(got, want, strict=True):
        w = w.numpy()
        scale = max(1.0, float(np.abs(w).max()))
        worst = max(worst, float(np.abs(g - w).max()) / scale)
    return worst


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
