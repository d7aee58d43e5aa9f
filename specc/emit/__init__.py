"""Emit standalone Keras or PyTorch source for a checked spec (``specc emit``).

Each layer kind plans what it becomes (:mod:`specc.plans`); :mod:`specc.emit.torch` and
:mod:`specc.emit.keras` turn the spec's definitions into classes and functions; the templates
under ``templates/<backend>/`` lay out the file.  Nothing here imports TensorFlow or PyTorch.
"""

from __future__ import annotations

import gc
import hashlib
import textwrap
from typing import Any

from specc.compiler import CheckedModel
from specc.diagnostics import Diagnostic
from specc.emit.environment import EmitError, environment
from specc.emit.keras import KerasEmitter
from specc.emit.layout import fit
from specc.emit.torch import TorchEmitter
from specc.emit.torch_class import TorchClass
from specc.emit.torch_parts import PREFIXES
from specc.plans import BACKENDS
from specc.warning_passes import limit_diagnostics

__all__ = ["BACKENDS", "EmitError", "backend_diagnostics", "emit_source"]

INDENT = " " * 4
# helper name -> (template under templates/torch/helpers/, the nn class it extends)
TORCH_HELPERS = {
    "Conv1dSame": ("conv_same", "nn.Conv1d"),
    "Conv2dSame": ("conv_same", "nn.Conv2d"),
    "MaxPool1dSame": ("max_pool_same", "nn.MaxPool1d"),
    "MaxPool2dSame": ("max_pool_same", "nn.MaxPool2d"),
    "AvgPool1dSame": ("avg_pool_same", "nn.AvgPool1d"),
    "AvgPool2dSame": ("avg_pool_same", "nn.AvgPool2d"),
    "ConvTranspose2dSame": ("conv_transpose_same", "nn.ConvTranspose2d"),
    "MultiHeadAttention": ("multi_head_attention", "nn.Module"),
    "causal_mask": ("causal_mask", ""),
    "PositionEmbedding": ("position_embedding", "nn.Module"),
    "ClassToken": ("class_token", "nn.Module"),
    "Normalization": ("normalization", "nn.Module"),
    "LayerScale": ("layer_scale", "nn.Module"),
}
# Keras helper (a custom layer class) -> its template under templates/keras/helpers/
KERAS_HELPERS = {
    "ConstantPadding": "constant_padding",
    "PositionEmbedding": "position_embedding",
    "ClassToken": "class_token",
    "PatchEmbedding": "patch_embedding",
    "ClassTokenPooling": "class_token_pooling",
    "LayerScale": "layer_scale",
}
NEEDS_PAD_SAME = {"conv_same", "max_pool_same", "avg_pool_same"}
# init rules of modules with submodules that other rules match (nn.MultiheadAttention's
# out_proj is an nn.Linear): applied in a second pass, so that theirs is the last word
LATE_INITS = {"attention", "attention_heads"}
# import line -> the name it binds, in the order ruff's isort wants them
TORCH_IMPORTS = (
    ("import torch", "torch"),
    ("import torch.nn.functional as F", "F"),
    ("from torch import nn", "nn"),
)


def backend_diagnostics(checked: CheckedModel, backend: str) -> list[Diagnostic]:
    """What ``backend`` cannot express of this spec, as located errors (E0601)."""
    if checked.model is None:
        return []
    shapes = {i: info.shape for i, info in checked.infos.items()}
    return limit_diagnostics(checked.model, checked.params, shapes, checked.bindings, backend)


def emit_source(checked: CheckedModel, backend: str) -> str:
    """The model's complete, standalone source for ``backend`` (the model and
    ``build_model()``; the training harness is written beside it by ``specc train``).

    Raises :class:`EmitError` when the spec has errors, the backend is unknown, or the spec
    uses something the backend cannot express (:func:`backend_diagnostics` locates it).
    """
    if backend not in BACKENDS:
        raise EmitError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    # Like the front end, emission allocates many small objects and frees few before the end:
    # the cyclic collector's full passes over a large model would make it superlinear.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _emit(checked, backend)
    finally:
        if enabled:
            gc.enable()


def _emit(checked: CheckedModel, backend: str) -> str:
    if not checked.ok or checked.model is None:
        raise EmitError("cannot emit a spec that has errors; run `specc check` first")
    limits = backend_diagnostics(checked, backend)
    if limits:
        raise EmitError("; ".join(f"{d.primary_span}: {d.labels[0].message}" for d in limits))
    header = {
        "model_name": checked.model.name,
        "spec_file": checked.source.name.replace("\\", "/"),
        "spec_hash": spec_hash(checked),
    }
    if backend == "torch":
        return _torch_source(checked, header)
    return _keras_source(checked, header)


def spec_hash(checked: CheckedModel) -> str:
    """First 16 hex digits of the sha256 of the spec text."""
    return hashlib.sha256(checked.source.text.encode("utf-8")).hexdigest()[:16]


# -- PyTorch -----------------------------------------------------------------------------------


def _torch_source(checked: CheckedModel, header: dict[str, Any]) -> str:
    env = environment()
    emitter = TorchEmitter(checked)
    emitter.names |= set(TORCH_HELPERS)  # a block called `multi_head_attention` is not one
    root = emitter.run()
    _describe(checked, emitter, root)
    parts = _torch_helpers(emitter)
    parts += emitter.context.wrappers.definitions()
    template = env.get_template("torch/class.py.j2")
    for cls in emitter.order:
        parts.append(_render_class(template, emitter, cls).rstrip("\n"))
    uses = set(emitter.context.uses) | {"nn"}
    for part in parts:
        uses |= set(PREFIXES.findall(part))
    imports = "\n".join(line for line, name in TORCH_IMPORTS if name in uses)
    return env.get_template("torch/model_file.py.j2").render(
        header, imports=imports, parts=parts, class_name=root.name
    )


def _torch_helpers(emitter: TorchEmitter) -> list[str]:
    env = environment()
    used = [h for h in TORCH_HELPERS if h in emitter.context.helpers]
    families = {TORCH_HELPERS[h][0] for h in used}
    out = []
    if families & NEEDS_PAD_SAME:
        out.append(env.get_template("torch/helpers/pad_same.py.j2").render().rstrip("\n"))
    for name in used:
        family, base = TORCH_HELPERS[name]
        text = env.get_template(f"torch/helpers/{family}.py.j2").render(name=name, base=base)
        out.append(text.rstrip("\n"))
    return out


def _render_class(template, emitter: TorchEmitter, cls: TorchClass) -> str:
    params = ", ".join(
        ["self"] + [n if default is None else f"{n}={default}" for n, default in cls.params]
    )
    signature = fit(INDENT, "def ", f"__init__({params})", ":")
    init_groups, late_groups = _init_groups(emitter) if cls.root else ([], [])
    return template.render(
        c=cls,
        signature=signature,
        init_lines=_fit_lines(cls.init, INDENT * 2),
        forward_lines=_fit_lines(cls.forward, INDENT * 2),
        init_groups=init_groups,
        late_groups=late_groups,
        logit_activations=emitter.context.logit_activations(),
    )


def _init_groups(emitter: TorchEmitter) -> tuple[list, list]:
    """The ``isinstance`` branches of ``_init_weights``: the usual rules, and the rules of
    layers whose submodules other rules also match (:data:`LATE_INITS`), run after them."""
    env = environment()
    rules: dict[str, list[str]] = {}
    for cls, rule in emitter.context.inits.items():
        rules.setdefault(rule, []).append(cls)
    groups: tuple[list, list] = ([], [])
    for rule, classes in rules.items():
        chosen = groups[rule in LATE_INITS]
        names = classes[0] if len(classes) == 1 else "(" + ", ".join(classes) + ")"
        head = "elif " if chosen else "if "
        header = fit(" " * 12, head, f"isinstance(module, {names})", ":")
        body = env.get_template(f"torch/init/{rule}.py.j2").render().rstrip("\n")
        chosen.append((header, body))
    return groups


def _describe(checked: CheckedModel, emitter: TorchEmitter, root: TorchClass) -> None:
    """What the model's ``forward`` takes and returns, for its docstring."""
    model = checked.model
    ints = [getattr(checked.params.get(i), "dtype", "float32") == "int" for i in model.inputs]
    ins = [_tensor(checked.infos[i].shape, ids) for i, ids in zip(model.inputs, ints, strict=True)]
    outs = []
    for o in model.outputs:
        act = emitter.context.output_activation(o)
        what = {"softmax": "class probabilities", "sigmoid": "probabilities"}.get(act)
        text = _tensor(checked.infos[o].shape, False, what)
        outs.append(text if what else text.replace("images", "outputs", 1))
    if len(ins) > 1:
        ins = [f"{model.nodes[i].name} ({text})" for i, text in zip(model.inputs, ins, strict=True)]
    if len(outs) > 1:
        outs = [f"{model.nodes[o].name} ({t})" for o, t in zip(model.outputs, outs, strict=True)]
    text = f"Map a batch of {' and '.join(ins)} to {' and '.join(outs)}."
    root.doc_lines = textwrap.wrap(
        text, width=100, initial_indent=" " * 8 + '"""', subsequent_indent=" " * 8
    )


def _tensor(shape: tuple[int, ...], ids: bool, what: str | None = None) -> str:
    """A tensor's description: token ids, or ``what`` (images, sequences, ... by rank) with
    its channels-first dimensions."""
    if ids:
        return f"token ids, Nx{shape[0]}"
    dims = "x".join(str(d) for d in (shape[-1], *shape[:-1]))
    what = what or {3: "images", 2: "sequences", 1: "vectors"}.get(len(shape), "tensors")
    layout = {3: " (NCHW)", 2: " (NCL)"}.get(len(shape), "")
    return f"{what}, Nx{dims}{layout}"


def _fit_lines(lines: list[str], indent: str) -> list[str]:
    """Statement lines (with relative indentation) laid out within the line length."""
    out = []
    for line in lines:
        extra = line[: len(line) - len(line.lstrip(" "))]
        text = line.lstrip(" ")
        pad = indent + extra
        target, sep, expr = text.partition(" = ")
        if text.startswith("return "):
            out += fit(pad, "return ", text[len("return ") :])
        elif sep and (target.replace(".", "_").replace(", ", "_").isidentifier()):
            out += fit(pad, f"{target} = ", expr)
        else:
            out.append(pad + text)
    return out


# -- Keras -----------------------------------------------------------------------------------


def _keras_source(checked: CheckedModel, header: dict[str, Any]) -> str:
    env = environment()
    emitter = KerasEmitter(checked)
    layers = emitter.sequential()
    parts = []
    body_lines: list[str] = []
    layer_lines: list[str] = []
    if layers is not None:
        for text in layers:
            layer_lines += fit(" " * 12, "", text, ",")
    else:
        body = emitter.functional()
        body_lines = _fit_lines(body, INDENT)
        template = env.get_template("keras/function.py.j2")
        for fn in emitter.order:
            params = ", ".join(
                ["x"] + [n if d is None else f"{n}={d}" for n, d in fn.params] + ["*", "name"]
            )
            parts.append(
                template.render(
                    signature=fit("", "def ", f"{fn.name}({params})", ":"),
                    block=fn.key[1],
                    body_lines=_fit_lines(fn.lines, INDENT),
                ).rstrip("\n")
            )
    helpers = [
        env.get_template(f"keras/helpers/{KERAS_HELPERS[name]}.py.j2").render().rstrip("\n")
        for name in emitter.context.helpers
    ]
    parts = helpers + parts
    text = "\n".join(parts + layer_lines + body_lines)
    imports = ["import keras"]
    modules = [m for m in ("layers", "ops") if f"{m}." in text]
    if modules:
        imports.append(f"from keras import {', '.join(modules)}")
    return env.get_template("keras/model_file.py.j2").render(
        header,
        imports="\n".join(imports),
        parts=parts,
        sequential=layers is not None,
        layer_lines=layer_lines,
        body_lines=body_lines,
    )
