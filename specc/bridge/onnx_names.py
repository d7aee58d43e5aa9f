"""Name an exported ONNX graph's nodes after the spec's layers (``layer2.0.conv1/Conv``).

``torch.onnx.export`` records, on every node, the module path it came from (the
``pkg.torch.onnx.name_scopes`` metadata).  The emitted PyTorch model's submodules are named
after the spec's nodes, so a node inside a layer's module takes that layer's name.  Layers
that are plain tensor operations in ``forward`` (activations, merges, global pooling,
reshapes) are found by data flow instead: the op reads the outputs of the layers the spec
says that layer reads, and is of the kind that layer computes; an activation fused into a
layer (``conv 32 3x3 relu``) is named after that layer.  Other ops (layout transposes) are
named after the layer whose output they read.  Names are made unique with ``_2``, ``_3``...
"""

from __future__ import annotations

from specc.compiler import CheckedModel
from specc.emit.planning import plan_model

SCOPES_KEY = "pkg.torch.onnx.name_scopes"
ACTIVATION_OPS = {
    "relu": {"Relu"},
    "relu6": {"Clip"},
    "sigmoid": {"Sigmoid"},
    "tanh": {"Tanh"},
    "softmax": {"Softmax"},
    "gelu": {"Gelu", "Div", "Erf"},
    "silu": {"Sigmoid"},
    "leaky_relu": {"LeakyRelu"},
    "elu": {"Elu", "Mul"},
}
# the ONNX op a layer that is a plain tensor operation becomes
FUNCTIONAL_OPS = {
    "add": {"Add"},
    "concat": {"Concat"},
    "globalavgpool": {"ReduceMean", "GlobalAveragePool"},
    "globalmaxpool": {"ReduceMax", "GlobalMaxPool"},
    "reshape": {"Reshape"},
    "flatten": {"Reshape", "Flatten"},
}


def name_scopes(node) -> list[str]:
    """The module paths a node was made in, outermost first (the list's last entry, the
    traced op's own name, left out)."""
    for prop in node.metadata_props:
        if prop.key == SCOPES_KEY:
            return [s.strip().strip("'\"") for s in prop.value.strip("[]").split(",")][:-1]
    return []


def name_nodes(model, checked: CheckedModel) -> None:
    """Rename the nodes of the ONNX ``model`` (a ModelProto) after the spec's layers."""
    plans = plan_model(checked, "torch")
    nodes = checked.model.nodes
    modules = {
        n.name: n
        for n in nodes
        if plans[n.index].module is not None and plans[n.index].fused_into is None
    }
    # layers with an activation of their own (`conv 32 3x3 relu`), not applied yet
    pending = {
        n.name for n in nodes if n.kind != "activation" and plans[n.index].activation is not None
    }
    by_name = {n.name: n for n in nodes}
    inputs_of = {n.name: {nodes[i].name for i in n.inputs} for n in nodes}
    claimed: set[str] = set()
    stored = {t.name for t in model.graph.initializer}
    graph_inputs = [i.name for i in model.graph.input if i.name not in stored]
    inputs = zip(graph_inputs, checked.model.inputs, strict=True)
    owner = {name: nodes[i].name for name, i in inputs}
    # layers that are a bare nn.Parameter (a class token, a layer scale): the ops that read
    # the parameter, whose initializer has the layer's name, are the layer's
    params = {}  # tensor -> the bare-parameter layer it is, or was computed from alone
    for n in nodes:
        module = plans[n.index].module
        if getattr(module, "cls", "") == "nn.Parameter" and n.name in stored:
            params[n.name] = n.name
    used: dict[str, int] = {}
    for op in model.graph.node:
        sources = {owner[i] for i in op.input if i in owner}
        bare = next((params[i] for i in op.input if i in params), None)
        if bare is not None and not sources:  # the parameter reshaped, expanded: still its
            params.update(dict.fromkeys(op.output, bare))
        if bare is not None and (not sources or sources <= inputs_of[bare]):
            base = result = bare
        else:
            base = next((s for s in reversed(name_scopes(op)) if s in modules), None)
            result = base
        if base is None:
            base, result = _functional(op, sources, by_name, plans, inputs_of, claimed, pending)
        for out in op.output:
            if result is not None and op.op_type != "Shape":  # a shape is no layer's output
                owner[out] = result
        text = f"{base}/{op.op_type}" if base else f"/{op.op_type}"
        used[text] = used.get(text, 0) + 1
        op.name = text if used[text] == 1 else f"{text}_{used[text]}"


def _functional(op, sources, by_name, plans, inputs_of, claimed, pending):
    """(the name of the layer the op belongs to, the layer its output is) for an op outside
    every layer module."""
    if len(sources) == 1:
        (source,) = sources
        act = plans[by_name[source].index].activation
        if source in pending and op.op_type in ACTIVATION_OPS.get(act.name, ()):
            pending.discard(source)
            return source, source
    for node in by_name.values():
        if node.name in claimed or not node.index:
            continue
        ops = FUNCTIONAL_OPS.get(node.kind, set())
        act = plans[node.index].activation
        if node.kind == "activation" and act is not None:
            ops = ACTIVATION_OPS.get(act.name, set())
        if op.op_type in ops and inputs_of[node.name] == sources:
            claimed.add(node.name)
            return node.name, node.name
    if len(sources) == 1:  # glue after a layer: a layout transpose, a shape
        (source,) = sources
        return source, source
    return None, None
