"""Multi-head self-attention in an ONNX graph: the ops of one attention module, read as one
spec ``attention`` layer.

An exporter writes attention as dozens of ops (projections, reshapes into heads, scaled
scores, a softmax, a mask, the weighted sum, the output projection).  The reader finds each
attention module from its ``Softmax``: the module is the node-name prefix of the softmax
(``encoder.layers.0.self_attention/Softmax``, as ``specc export`` names nodes) or its innermost
PyTorch name scope, and its ops are the nodes with that prefix or scope.  From those ops:

- the projections are the ``MatMul``/``Gemm`` nodes by a constant matrix; the query and key
  are what the score ``MatMul`` (the one the softmax reads) multiplies, the value what the
  softmax's output multiplies, traced back through reshapes, transposes and the split of a
  packed projection (``nn.MultiheadAttention``'s ``in_proj``, split by ``Gather`` 0, 1, 2);
  the output projection is the one left;
- the key size from the scores' scale (1/√key, applied once or as key^-¼ to both sides),
  the heads from the query's width over it;
- ``causal`` from an additive mask (−inf above the diagonal) or a ``Where`` on a triangular
  mask; any other mask is not a spec's attention;
- the output's layout from the model's shape information (``value_info``), the channels
  told from the tokens, when there are as many of each, by following them from the output
  projection (last in its result) through the transposes after it.

The weights are PyTorch's: ``in_proj_weight``/``in_proj_bias`` and ``out_proj.*`` when the
projections are packed, else ``query.*``, ``key.*``, ``value.*``, ``output.*`` (the emitted
``MultiHeadAttention`` module's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from specc.bridge.onnx_reader import OnnxReader, Unexpressible
from specc.bridge.onnx_values import Const, Data

SCOPES_KEY = "pkg.torch.onnx.name_scopes"
PASS_THROUGH = ("Reshape", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Cast", "CastLike")


@dataclass
class Region:
    """The nodes (indices into the graph's node list) of one attention module."""

    prefix: str
    members: list[int] = field(default_factory=list)

    @property
    def last(self) -> int:
        """The module's last node: where the reader reads it as one layer."""
        return self.members[-1]


def _scopes(node) -> list[str]:
    for prop in node.metadata_props:
        if prop.key == SCOPES_KEY:
            return [s.strip().strip("'\"") for s in prop.value.strip("[]").split(",")][:-1]
    return []


def _prefix(node) -> str:
    return node.name.rsplit("/", 1)[0] if "/" in node.name.strip("/") else ""


def find_regions(nodes, stored: set[str]) -> dict[int, Region]:
    """Every attention module of the graph, by the index of each of its nodes (``stored``:
    the initializers' names).  A module ends at its output projection (and the reshapes and
    bias after it): ops after that which carry its name (a residual add) are not its."""
    regions: list[Region] = []
    for node in nodes:
        if node.op_type != "Softmax":
            continue
        prefix = _prefix(node) or (_scopes(node)[-1] if _scopes(node) else "")
        if prefix and all(r.prefix != prefix for r in regions):
            regions.append(Region(prefix))
    out: dict[int, Region] = {}
    for k, node in enumerate(nodes):
        scopes = _scopes(node)
        for region in regions:
            p = region.prefix
            inside = _prefix(node) == p if _prefix(node) else False
            inside = inside or any(s == p or s.startswith(p + ".") for s in scopes[-1:])
            if inside:
                region.members.append(k)
                out[k] = region
                break
    for region in regions:
        _trim(nodes, region, stored)
    # a module whose ops hold no matrix products is no attention (a plain softmax layer)
    kept: dict[int, Region] = {}
    for region in regions:
        ops = [nodes[i].op_type for i in region.members]
        if ops.count("MatMul") + ops.count("Gemm") >= 3:
            kept.update(dict.fromkeys(region.members, region))
    return kept


def _trim(nodes, region: Region, stored: set[str]) -> None:
    """Keep the module's ops up to its output (see :func:`find_regions`)."""
    members = [nodes[i] for i in region.members]
    projections = [
        n
        for n in members
        if n.op_type in ("MatMul", "Gemm") and len(n.input) > 1 and n.input[1] in stored
    ]
    if not projections:
        return
    end = projections[-1].output[0]
    while True:
        readers = [n for n in members if end in n.input]
        if len(readers) != 1:
            break
        step = readers[0]
        bias = step.op_type == "Add" and any(i in stored for i in step.input)
        if step.op_type not in PASS_THROUGH and not bias:
            break
        end = step.output[0]
    maker = {o: k for k, n in zip(region.members, members, strict=True) for o in n.output}
    keep: set[int] = set()
    stack = [maker[end]]
    while stack:
        k = stack.pop()
        if k in keep:
            continue
        keep.add(k)
        stack += [maker[i] for i in nodes[k].input if i in maker]
    region.members = [k for k in region.members if k in keep]


class _Module:
    """The ops of one region, with the constants they read."""

    def __init__(self, r: OnnxReader, region: Region):
        self.r = r
        self.nodes = [r.onnx_graph.node[i] for i in region.members]
        self.maker = {out: n for n in self.nodes for out in n.output}
        self.readers: dict[str, list] = {}
        for n in self.nodes:
            for name in n.input:
                self.readers.setdefault(name, []).append(n)

    def const(self, name: str) -> np.ndarray | None:
        """A tensor's value when it is constant (an initializer, or cast from one)."""
        value = self.r.values.get(name)
        if isinstance(value, Const) and value.array.dtype != object:
            return value.array
        node = self.maker.get(name)
        if node is not None and node.op_type in ("Cast", "CastLike", "Identity"):
            return self.const(node.input[0])
        return None

    def data_inputs(self, node) -> list[str]:
        return [name for name in node.input if name and self.const(name) is None]

    def is_projection(self, node) -> bool:
        return node.op_type in ("MatMul", "Gemm") and self.weight(node) is not None

    def weight(self, node) -> np.ndarray | None:
        """A projection's matrix in PyTorch's (out, in) layout."""
        if len(node.input) < 2:
            return None
        matrix = self.const(node.input[1])
        if matrix is None or matrix.ndim != 2:
            return None
        trans_b = any(a.name == "transB" and a.i for a in node.attribute)
        return matrix if trans_b else np.ascontiguousarray(matrix.T)

    def bias(self, node) -> np.ndarray | None:
        """A projection's bias: Gemm's third input, or an Add of a constant vector after it."""
        if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2]:
            return self.const(node.input[2])
        for reader in self.readers.get(node.output[0], []):
            if reader.op_type == "Add":
                other = [i for i in reader.input if i != node.output[0]]
                value = self.const(other[0]) if other else None
                if value is not None and value.ndim == 1:
                    return value
        return None

    def trace(self, name: str) -> tuple:
        """Back from a tensor to the projection it comes from: (the projection node, the
        product of the scalar factors on the way, the ``Gather`` index of a packed split)."""
        factor, split = 1.0, None
        while True:
            node = self.maker.get(name)
            if node is None:
                raise Unexpressible("attention", "a score or value that is no projection")
            if self.is_projection(node):
                return node, factor, split
            if node.op_type in ("Mul", "Div"):
                data = self.data_inputs(node)
                other = [i for i in node.input if i not in data]
                value = self.const(other[0]) if other else None
                if len(data) != 1 or value is None or value.size != 1:
                    raise Unexpressible("attention", f"a {node.op_type} inside it")
                scalar = float(value.reshape(()))
                factor *= scalar if node.op_type == "Mul" else 1.0 / scalar
                name = data[0]
            elif node.op_type == "Gather":
                index = self.const(node.input[1])
                split = int(np.asarray(index).reshape(())) if index is not None else None
                name = node.input[0]
            elif node.op_type == "Add" and self.bias_add(node):
                name = self.data_inputs(node)[0]
            elif node.op_type in PASS_THROUGH or node.op_type in ("Slice", "Split"):
                name = node.input[0]
            else:
                raise Unexpressible("attention", f"a {node.op_type} inside it")

    def bias_add(self, node) -> bool:
        data = self.data_inputs(node)
        return len(data) == 1 and self.is_projection(self.maker.get(data[0]) or node)

    def causal(self, length: int) -> bool:
        """Whether the scores are masked causally (−inf above the diagonal); raises for any
        other mask."""
        masked = False
        for node in self.nodes:
            if node.op_type not in ("Add", "Where"):
                continue
            for name in node.input:
                value = self.const(name)
                if value is None or value.ndim < 2 or value.shape[-2:] != (length, length):
                    continue
                plane = np.asarray(value).reshape(-1, length, length)[0]
                above = np.triu(np.ones((length, length), dtype=bool), 1)
                if value.dtype == bool:
                    ok = np.array_equal(plane, above) or np.array_equal(plane, ~above)
                else:
                    ok = np.all(plane[above] < -1e30) and np.all(plane[~above] == 0)
                if not ok:
                    raise Unexpressible("attention with a mask", "only the causal mask")
                masked = True
        return masked


def read_attention(r: OnnxReader, region: Region) -> None:
    """Read the module ``region`` as one ``attention`` layer; its output tensor gets the
    layer's data."""
    module = _Module(r, region)
    member_outputs = set(module.maker)
    outside = [
        name
        for n in module.nodes
        for name in module.data_inputs(n)
        if name not in member_outputs and name in r.values and n.op_type != "Shape"
    ]
    sources = {id(r.values[name]): r.values[name] for name in outside}
    data = [v for v in sources.values() if isinstance(v, Data)]
    if len({d.layer for d in data}) != 1:
        raise Unexpressible("attention", "only self-attention over one sequence")
    x = r.materialize(data[0])
    if len(x.shape) != 2:
        raise Unexpressible("attention", "on a tensor that is not a sequence")
    length, channels = x.shape
    softmax = next(n for n in module.nodes if n.op_type == "Softmax")
    score = module.maker.get(module.data_inputs(softmax)[0])
    while score is not None and score.op_type != "MatMul":  # past the mask and the scale
        score = module.maker.get(module.data_inputs(score)[0])
    mixing = [n for n in module.nodes if n.op_type == "MatMul" and len(module.data_inputs(n)) == 2]
    weighted = next((n for n in mixing if n is not score), None)
    if score is None or weighted is None:
        raise Unexpressible("attention", "no score and value products")
    query, q_factor, q_split = module.trace(score.input[0])
    key, k_factor, k_split = module.trace(score.input[1])
    value, _, v_split = module.trace(weighted.input[1])
    projections = [n for n in module.nodes if module.is_projection(n)]
    output = next((n for n in projections if n not in (query, key, value)), None)
    if output is None:
        raise Unexpressible("attention", "no output projection")
    scale = q_factor * k_factor
    key_dim = round(1.0 / scale**2) if scale > 0 else 0
    if key_dim <= 0 or abs(key_dim**-0.5 - scale) > 1e-4 * scale:
        raise Unexpressible("attention", f"scores scaled by {scale:.6g}, not 1/√key")
    packed = query is key is value and (q_split, k_split, v_split) == (0, 1, 2)
    in_weight = module.weight(query)
    if packed:
        width = in_weight.shape[0] // 3
        weights = {"in_proj_weight": in_weight}
        bias = module.bias(query)
        if bias is not None:
            weights["in_proj_bias"] = bias
        prefix, v_width = "out_proj.", width
    elif len({id(query), id(key), id(value)}) == 3:
        width = in_weight.shape[0]
        v_width = module.weight(value).shape[0]
        weights = {}
        for part, node in (("query", query), ("key", key), ("value", value)):
            weights[f"{part}.weight"] = module.weight(node)
            bias = module.bias(node)
            if bias is not None:
                weights[f"{part}.bias"] = bias
        prefix = "output."
    else:
        raise Unexpressible("attention", "projections that are neither packed nor apart")
    weights[prefix + "weight"] = module.weight(output)
    out_bias = module.bias(output)
    if out_bias is not None:
        weights[prefix + "bias"] = out_bias
    heads = width // key_dim
    if heads * key_dim != width or v_width % heads:
        raise Unexpressible("attention", "projections that do not split into the heads")
    use_bias = out_bias is not None
    args = {
        "heads": heads,
        "key_dim": None if heads * key_dim == channels else key_dim,
        "value_dim": None if v_width // heads == key_dim else v_width // heads,
        "dropout": 0.0,
        "causal": module.causal(length),
        "use_bias": use_bias,
    }
    floats = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
    index, shape = r.add(None, "attention", args, [x], floats, name=region.prefix)
    r.graph.layers[index].source = "attention ops"
    ends = [
        name
        for n in module.nodes
        for name in n.output
        if name and (r.readers.get(name, 0) > len(module.readers.get(name, [])))
    ]
    if len(ends) != 1:
        raise Unexpressible("attention", f"a module with {len(ends)} outputs")
    at = _channels_axis(module, output, ends[0], channels)
    r.values[ends[0]] = Data(index, shape, _layout(r, ends[0], length, channels, at))


def _channels_axis(module: _Module, projection, end: str, channels: int) -> int | None:
    """Where the channels are in the module's output ``end`` (an index from the end), followed
    from the output projection, whose result has them last, through the transposes, reshapes
    and bias after it; None when that path does not tell."""
    chain = []
    name = end
    while name != projection.output[0]:
        node = module.maker.get(name)
        if node is None or node.op_type not in (*PASS_THROUGH, "Add"):
            return None
        chain.append(node)
        data = module.data_inputs(node) if node.op_type == "Add" else node.input[:1]
        if len(data) != 1:
            return None
        name = data[0]
    axis = -1
    for node in reversed(chain):
        if node.op_type == "Transpose":
            perm = [a.ints for a in node.attribute if a.name == "perm"]
            if not perm:
                return None
            perm = list(perm[0])
            axis = perm.index(axis % len(perm)) - len(perm)
        elif node.op_type in ("Reshape", "Squeeze", "Unsqueeze"):
            # a reshape keeps the channels last when it keeps the last axis's size
            dims = module.r.shapes.get(node.output[0])
            if axis != -1 or not dims or dims[-1] != channels:
                return None
    return axis


def _layout(r: OnnxReader, name: str, length: int, channels: int, at: int | None) -> tuple:
    """The physical layout of the module's output, from the model's shape information and
    ``at``, where the channels are (see :func:`_channels_axis`), which tells them from the
    tokens when there are as many tokens as channels: (N, L, C) unless they say (N, C, L) or
    (L, N, C)."""
    dims = r.shapes.get(name)
    if dims is None or len(dims) != 3 or (length == channels and at is None):
        return ("N", 0, 1)
    out: list = []
    for k, d in enumerate(dims):
        if not isinstance(d, int) or d <= 0:
            out.append("N")
        elif length == channels:
            out.append(1 if k == at % 3 else 0)
        elif d == length:
            out.append(0)
        elif d == channels:
            out.append(1)
        else:
            return ("N", 0, 1)
    return tuple(out) if sorted(map(str, out)) == ["0", "1", "N"] else ("N", 0, 1)
