#!/usr/bin/python3
"""Convert an ONNX model (float or QDQ-quantized) to a masesim mase-graph.

    /usr/bin/python3 scripts/onnx_to_graph.py model.onnx --out model.json \
        --input x:batch,seq,64 --dims batch=1,seq=128 [--quant-preset int8]

Shapes: --input NAME:SHAPE[:DTYPE] names which axes of each graph input are which
symbolic dims (as export_graph.py --module). Dynamic axes (dim_params) are set to the
sample sizes of pass A and pass B, shape arithmetic is folded with numpy and shapes
are inferred with onnx.shape_inference until a fixpoint, and the two converted graphs
must agree entry by entry (docs/workloads.md, "ONNX path"). A static export's sizes
are pass A; --second FILE (the same model exported at other sizes) is pass B, else
entries equal to a sample size are named by value with a note. The default ONNX domain
at a known opset is accepted, and besides it only the project's domain `masesim`
(version 1: MoeExperts, SelectiveScan, TopKGate, as scripts/masesim_models.py exports
them with custom_opsets={"masesim": 1}) and ONNX Runtime's com.microsoft MoE. The
historical --sample batch=5,seq=37 (a static export at those sizes) still works.

Ops: MatMul (+ following bias Add) / Gemm -> linear when the right operand is a
constant, else matmul; Conv (1-D -> conv1d); Relu/Gelu/Tanh/Sigmoid/Erf/Sqrt/Exp/
HardSwish/HardSigmoid/Softplus/Neg/Pow/Clip; ReduceMean; GlobalAveragePool; a zero Pad
before Conv/AveragePool (merged); Softmax; LayerNormalization; BatchNormalization;
Add/Sub/Mul/Div (constant scalars become attr `scalar`, constant tensors param
`other`); Concat; Slice/Split -> slice; Gather on a constant table -> embedding;
MaxPool/AveragePool; Flatten; Reshape; Squeeze/Unsqueeze; Transpose (a two-axis swap
-> transpose, else permute). Identity, Dropout, Cast and shape arithmetic are folded;
RMSNorm, Erf-GELU and x*sigmoid(x) patterns are fused (mase_graph_common).
Mixture of experts and scans: TopK -> Softmax -> ScatterElements into zeros (or
Mixtral's Softmax -> TopK -> Div by ReduceSum -> ScatterElements) -> topk_gate;
masesim::TopKGate / MoeExperts / SelectiveScan -> topk_gate / moe_experts /
selective_scan; com.microsoft::MoE -> topk_gate + moe_experts. Loop/Scan/If (control
flow) are errors naming the node.

Quantization: QuantizeLinear/DequantizeLinear pairs are precision annotations:
the tensor (or initializer) they wrap gets `fixed` with the zero point's width
(int8/uint8 -> 8, int32 -> 32) and frac_width = round(-log2(scale)) clamped to
[0, width] (the largest scale for per-channel scales; the zero point offset is
not represented). QLinearMatMul, MatMulInteger and QLinearConv are converted to
linear/matmul/conv2d with the precisions of their operands and outputs
(MatMulInteger's int32 output: fixed 32.0). Tensors without a QDQ annotation
get the --quant/--quant-preset config precision, or float32 without one.
"""
import argparse
import math
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mase_graph_common import (SAMPLE_A, GraphError, QuantConfig,  # noqa: E402
                               add_moe_args, apply_moe_args,
                               add_quant_args, apply_quant, fuse_patterns, merge_samples, nearest,
                               parse_dims, parse_input_spec, quant_from_args, sample_dims,
                               write_graph)

FLOAT32 = {"type": "float", "width": 32}
IMPLICIT_OPS = {"view", "reshape", "flatten", "permute", "transpose", "dropout", "contiguous"}
INT_WIDTH = {onnx.TensorProto.INT8: 8, onnx.TensorProto.UINT8: 8, onnx.TensorProto.INT16: 16,
             onnx.TensorProto.UINT16: 16, onnx.TensorProto.INT32: 32}
INTEGER_TYPES = {onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.INT16,
                 onnx.TensorProto.INT8, onnx.TensorProto.UINT8, onnx.TensorProto.BOOL}


def _scalar(a):
    """A one-element constant as a Python number; float32 values as their shortest
    round-trip decimal (1e-05, not 9.99999974738e-06)."""
    a = np.asarray(a).reshape(())
    if np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_:
        return int(a)
    if a.dtype == np.float32:
        return float(str(a))
    return float(a)


def fixed_from_qparams(scale, zp_dtype_width):
    s = float(np.max(np.abs(np.asarray(scale, dtype=np.float64))))
    w = zp_dtype_width
    if s <= 0:
        raise GraphError("quantization scale must be positive")
    frac = int(round(-math.log2(s)))
    return {"type": "fixed", "width": w, "frac_width": max(0, min(w, frac))}


class Const:
    """A constant: an initializer, a Constant node or a folded shape value."""

    def __init__(self, value, origin=None, precision=None, transposed=False):
        self.value = np.asarray(value)
        self.origin = origin            # initializer name (for shared_with)
        self.precision = precision      # from DequantizeLinear
        self.transposed = transposed


class Tensor:
    def __init__(self, ref, shape, precision=None, integer=False):
        self.ref = ref
        self.shape = list(shape)
        self.precision = precision
        self.integer = integer


# ------------------------------------------------------------ opsets and domains
MIN_OPSET = 7
# Besides the default domain: the project's own ops (masesim_models.MASESIM_OPSET) and
# ONNX Runtime's contrib MoE. {domain: (versions, ops)}
EXTRA_DOMAINS = {"masesim": ({1}, ("MoeExperts", "SelectiveScan", "TopKGate")),
                 "com.microsoft": ({1}, ("MoE",))}
CONTROL_FLOW = ("Loop", "Scan", "If")


def _node_label(n):
    return n.name or (n.output[0] if n.output else n.op_type)


def check_opsets(model, label):
    """The default domain at a known opset, masesim version 1 and com.microsoft's MoE;
    anything else says so. Control flow (Loop/Scan/If) is an error naming the node."""
    newest = onnx.defs.onnx_opset_version()
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            if not MIN_OPSET <= o.version <= newest:
                raise GraphError(f"{label}: opset {o.version} of the default domain is not "
                                 f"supported (this onnx {onnx.__version__} knows opsets "
                                 f"{MIN_OPSET}..{newest})")
        elif o.domain in EXTRA_DOMAINS:
            versions = EXTRA_DOMAINS[o.domain][0]
            if o.version not in versions and any(n.domain == o.domain for n in model.graph.node):
                raise GraphError(f"{label}: operator domain '{o.domain}' version {o.version} is "
                                 f"not supported (only version "
                                 f"{', '.join(str(v) for v in sorted(versions))})")
        elif any(n.domain == o.domain for n in model.graph.node):
            raise GraphError(f"{label}: operator domain '{o.domain}' (version {o.version}) is not "
                             f"supported; only the default ONNX domain (ai.onnx) is")
    for n in model.graph.node:
        if n.domain in ("", "ai.onnx"):
            if n.op_type in CONTROL_FLOW:
                raise GraphError(
                    f"{label}: ONNX node '{_node_label(n)}' ({n.op_type}) is control flow, which "
                    f"is not imported (nearest supported: for a selective scan the project's "
                    f"SelectiveScan module, exported as masesim::SelectiveScan with "
                    f"custom_opsets={{'masesim': 1}}; for a recurrent cell an LSTM or GRU op; a "
                    f"Python loop that torch unrolls imports as ordinary ops)")
            continue
        if n.domain in EXTRA_DOMAINS:
            ops = EXTRA_DOMAINS[n.domain][1]
            if n.op_type not in ops:
                raise GraphError(f"{label}: ONNX node '{_node_label(n)}' ({n.op_type}) is not "
                                 f"supported in domain '{n.domain}' (supported: "
                                 f"{', '.join(ops)})")
            continue
        raise GraphError(f"{label}: ONNX node '{_node_label(n)}' ({n.op_type}) is in "
                         f"domain '{n.domain}'; only the default ONNX domain is supported")


# ----------------------------------------------------------- constant folding
def _attr(n, key, default=None):
    for a in n.attribute:
        if a.name == key:
            return helper.get_attribute_value(a)
    return default


def _np_slice(n, v):
    x = v[0]
    if len(v) > 1:
        starts, ends = v[1], v[2]
        axes = v[3] if len(v) > 3 and v[3] is not None else range(len(starts))
        steps = v[4] if len(v) > 4 and v[4] is not None else [1] * len(starts)
    else:
        starts, ends = _attr(n, "starts"), _attr(n, "ends")
        axes = _attr(n, "axes", list(range(len(starts))))
        steps = [1] * len(starts)
    idx = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        idx[int(a)] = slice(int(s), int(e), int(st))
    return x[tuple(idx)]


def _np_axes(n, v, k=1):
    axes = v[k] if len(v) > k and v[k] is not None else _attr(n, "axes")
    return None if axes is None else [int(a) for a in np.atleast_1d(axes)]


def _np_unsqueeze(n, v):
    out = v[0]
    axes = _np_axes(n, v)
    rank = out.ndim + len(axes)
    for a in sorted(a % rank for a in axes):
        out = np.expand_dims(out, a)
    return out


def _np_reshape(n, v):
    shape = [int(d) for d in v[1]]
    if not _attr(n, "allowzero", 0):
        shape = [v[0].shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return v[0].reshape(shape)


def _np_reduce(f):
    def g(n, v):
        axes = _np_axes(n, v)
        return f(v[0], axis=tuple(axes) if axes else None, keepdims=bool(_attr(n, "keepdims", 1)))
    return g


NP_FOLD = {
    "Identity": lambda n, v: v[0],
    "Gather": lambda n, v: np.take(v[0], v[1], axis=_attr(n, "axis", 0)),
    "Unsqueeze": _np_unsqueeze,
    "Squeeze": lambda n, v: np.squeeze(v[0], axis=tuple(_np_axes(n, v)) if _np_axes(n, v)
                                       is not None else None),
    "Concat": lambda n, v: np.concatenate([np.atleast_1d(x) for x in v], axis=_attr(n, "axis")),
    "Cast": lambda n, v: v[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[_attr(n, "to")]),
    "Add": lambda n, v: np.add(v[0], v[1]), "Sub": lambda n, v: np.subtract(v[0], v[1]),
    "Mul": lambda n, v: np.multiply(v[0], v[1]),
    "Div": lambda n, v: (np.floor_divide(v[0], v[1]) if np.issubdtype(v[0].dtype, np.integer)
                         else np.divide(v[0], v[1])),
    "Mod": lambda n, v: np.mod(v[0], v[1]), "Pow": lambda n, v: np.power(v[0], v[1]),
    "Neg": lambda n, v: -v[0], "Abs": lambda n, v: np.abs(v[0]),
    "Sqrt": lambda n, v: np.sqrt(v[0]), "Floor": lambda n, v: np.floor(v[0]),
    "Ceil": lambda n, v: np.ceil(v[0]),
    "Min": lambda n, v: np.minimum.reduce(v), "Max": lambda n, v: np.maximum.reduce(v),
    "Equal": lambda n, v: np.equal(v[0], v[1]), "Less": lambda n, v: np.less(v[0], v[1]),
    "Greater": lambda n, v: np.greater(v[0], v[1]), "Not": lambda n, v: np.logical_not(v[0]),
    "Where": lambda n, v: np.where(v[0], v[1], v[2]),
    "Reshape": _np_reshape,
    "Slice": _np_slice,
    "Expand": lambda n, v: v[0] * np.ones([int(d) for d in v[1]], dtype=v[0].dtype),
    "Tile": lambda n, v: np.tile(v[0], [int(d) for d in v[1]]),
    "ConstantOfShape": lambda n, v: np.full(
        [int(d) for d in v[0]], numpy_helper.to_array(_attr(n, "value")).reshape(-1)[0]
        if _attr(n, "value") is not None else np.float32(0)),
    "Range": lambda n, v: np.arange(v[0], v[1], v[2]).astype(v[0].dtype),
    "ReduceProd": _np_reduce(np.prod), "ReduceSum": _np_reduce(np.sum),
    "Transpose": lambda n, v: np.transpose(v[0], _attr(n, "perm")),
    "Size": lambda n, v: np.array(v[0].size, dtype=np.int64),
}
# never folded here: precision annotations and ops the converter maps itself
NO_FOLD = {"QuantizeLinear", "DequantizeLinear"}


def _is_param_like(init):
    """An original initializer that holds weights (kept for the converter, which tracks
    its origin for shared_with), as opposed to shape arithmetic constants."""
    return init.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16,
                              onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16,
                              onnx.TensorProto.INT8, onnx.TensorProto.UINT8) and \
        int(np.prod(init.dims)) > 1


def _shapes_of(model):
    shapes = {}
    for vi in list(model.graph.input) + list(model.graph.value_info) + list(model.graph.output):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None
                               for d in t.shape.dim]
    return shapes


def prepare(model, fixed, label):
    """A copy of `model` with the input dims in `fixed` ({input: [size or None]}) set,
    shape arithmetic folded to initializers with numpy and shapes inferred by
    onnx.shape_inference, repeated until nothing more folds (Shape -> Gather -> Concat
    -> Reshape chains, ConstantOfShape/Expand/Range of known sizes)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    for inp in g.input:
        sizes = fixed.get(inp.name)
        if sizes is None:
            continue
        for d, v in zip(inp.type.tensor_type.shape.dim, sizes):
            if v is not None:
                d.Clear()
                d.dim_value = v
    del g.value_info[:]
    for o in g.output:
        o.type.tensor_type.ClearField("shape")
    params = {i.name for i in g.initializer if _is_param_like(i)}
    # the masesim / com.microsoft ops have no ONNX schema: shape inference sees an
    # Identity of their first input (each one's result has its shape) in their place
    custom = {}
    for k, n in enumerate(g.node):
        if n.domain not in ("", "ai.onnx") and n.input and n.input[0]:
            custom[n.output[0]] = onnx.NodeProto()
            custom[n.output[0]].CopyFrom(n)
            g.node[k].CopyFrom(helper.make_node("Identity", [n.input[0]], [n.output[0]],
                                                name=n.name))
    for _ in range(16):
        try:
            m = shape_inference.infer_shapes(m, strict_mode=True, data_prop=True)
        except Exception as e:
            msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            raise GraphError(f"{label}: ONNX shape inference failed: {msg}") from None
        g = m.graph
        shapes = _shapes_of(m)
        known = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        keep, folded = [], []
        for n in g.node:
            vals = None
            try:
                if n.op_type == "Constant":
                    t = _attr(n, "value")
                    if t is not None:
                        vals = [numpy_helper.to_array(t)]
                elif n.op_type == "Shape" and n.input[0] in shapes and \
                        None not in shapes[n.input[0]]:
                    s = shapes[n.input[0]]
                    start, end = _attr(n, "start", 0), _attr(n, "end", len(s))
                    vals = [np.array(s[start:end], dtype=np.int64)]
                elif n.op_type in NP_FOLD and n.op_type not in NO_FOLD and \
                        n.output[0] not in custom and \
                        all(i == "" or i in known for i in n.input) and \
                        not any(i in params for i in n.input):
                    vals = [NP_FOLD[n.op_type](n, [known[i] if i else None for i in n.input])]
            except Exception as e:
                raise GraphError(f"{label}: folding ONNX node '{n.name or n.output[0]}' "
                                 f"({n.op_type}) on constants failed: {e}") from None
            if vals is None:
                keep.append(n)
                continue
            for out, v in zip(n.output, vals):
                known[out] = np.asarray(v)
                folded.append(numpy_helper.from_array(np.asarray(v), out))
        if not folded:
            break
        del g.node[:]
        g.node.extend(keep)
        g.initializer.extend(folded)
        del g.value_info[:]
    for n in m.graph.node:
        if n.op_type == "Identity" and n.output[0] in custom:
            n.CopyFrom(custom[n.output[0]])
    return m


SUPPORTED_ONNX = sorted({
    "MatMul", "Gemm", "QLinearMatMul", "MatMulInteger", "Conv", "QLinearConv", "Relu", "Gelu",
    "Tanh", "Sigmoid", "Erf", "Sqrt", "Exp", "HardSwish", "HardSigmoid", "Softplus", "Neg",
    "Pow", "Clip",
    "ReduceMean", "GlobalAveragePool", "Pad", "Concat", "Slice", "Split", "Squeeze",
    "Unsqueeze", "Expand", "Add", "Sub", "Mul", "Div", "Gather", "Softmax",
    "LayerNormalization", "BatchNormalization", "MaxPool", "AveragePool", "Flatten",
    "Reshape", "Transpose", "Identity", "Dropout", "Cast", "Constant", "Shape",
    "QuantizeLinear", "DequantizeLinear", "LSTM", "GRU"})
ONNX_HINTS = {
    "TopK": " (nearest supported: topk_gate, from TopK(logits) -> Softmax -> ScatterElements "
            "into zeros along the last axis, or Mixtral's Softmax -> TopK -> Div by ReduceSum -> "
            "ScatterElements; or Softmax over all experts (dense gating))",
    "ScatterElements": " (nearest supported: topk_gate, a top-k gate's weights scattered into "
                       "zeros; scatter is not a mase op)",
    "RNN": " (nearest supported: LSTM or GRU, or MatMul + Tanh, an unrolled cell)",
    "CumSum": " (nearest supported: Add; scans are not mase ops)",
    "ScatterND": " (nearest supported: none; scatter is not a mase op)",
}


class Converter:
    """model: prepared (prepare()); sample: {dim: size} for symbolising shapes by value
    ({} keeps them concrete, for merge_samples)."""

    def __init__(self, model, sample, name):
        self.sample = sample
        self.name = name
        self.model = model
        g = model.graph
        self.shapes = {}
        self.elem = {}
        for vi in list(g.input) + list(g.value_info) + list(g.output):
            t = vi.type.tensor_type
            self.elem[vi.name] = t.elem_type
            if t.HasField("shape"):
                dims = []
                for d in t.shape.dim:
                    dims.append(d.dim_value if d.HasField("dim_value") else None)
                self.shapes[vi.name] = dims
        self.values = {}
        for init in g.initializer:
            self.values[init.name] = Const(numpy_helper.to_array(init), origin=init.name)
        self.consumers = {}
        for n in g.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.nodes = []
        self.inputs = []
        self.names = set()
        self.integer = set()
        self.prec_override = {}     # ref -> precision from QDQ
        self.param_origin = {}      # (origin, transposed) -> "node.param"
        self.param_values = []      # (array, "node.param") for value-equality sharing
        self.fused = set()          # outputs of ONNX nodes folded into a predecessor
        self.param_prec = {}        # (node, param) -> precision from DequantizeLinear
        self.pads = {}              # output of a zero Pad -> (input Tensor, pads) (merged)
        self.producer = {}          # mase node name -> node dict
        self.gates = {}             # ScatterElements output -> (logits, k) (topk_gate)

    # ---------------------------------------------------------------- helpers
    def sym(self, shape, what):
        out = []
        for d in shape:
            if d is None:
                raise GraphError(f"{what}: unknown dimension after shape inference; export the "
                                 f"ONNX model with static shapes at the --sample sizes")
            out.append(next((k for k, v in self.sample.items() if v == d), int(d)))
        return out

    def unique(self, base):
        base = base.strip("/").replace("/", ".") or "node"
        name, k = base, 1
        while name in self.names:
            name = f"{base}_{k}"
            k += 1
        self.names.add(name)
        return name

    def where(self, n):
        return f"ONNX node '{n.name or n.output[0]}' ({n.op_type})"

    def get(self, name, n):
        if name == "":
            return None
        if name not in self.values:
            raise GraphError(f"{self.where(n)}: input '{name}' is not produced by any node")
        return self.values[name]

    def tensor(self, name, n):
        v = self.get(name, n)
        if not isinstance(v, Tensor):
            raise GraphError(f"{self.where(n)}: constant operand '{name}' where a tensor is "
                             f"expected (unsupported)")
        return v

    def attr(self, n, key, default=None):
        for a in n.attribute:
            if a.name == key:
                return helper.get_attribute_value(a)
        return default

    def param(self, node_name, pname, c, value=None):
        arr = c.value if value is None else value
        entry = {"shape": [int(d) for d in arr.shape]}
        if c.precision is not None:
            self.param_prec[(node_name, pname)] = dict(c.precision)
        owner = None
        if c.origin is not None and c.origin in self.param_origin:
            owner = self.param_origin[c.origin]
        else:
            for other, who in self.param_values:
                if other.shape == arr.shape and np.array_equal(other, arr):
                    owner = who
                    break
        if owner is not None:
            entry["shared_with"] = owner
        else:
            if c.origin is not None:
                self.param_origin[c.origin] = f"{node_name}.{pname}"
            self.param_values.append((arr, f"{node_name}.{pname}"))
        return entry

    def emit(self, n, op, data, out_name, params=None, attrs=None, name=None, out_prec=None):
        shape = self.shapes.get(out_name)
        if shape is None:
            raise GraphError(f"{self.where(n)}: no shape for output '{out_name}'")
        name = self.unique(name or n.name or out_name)
        node = {"name": name, "op": op,
                "args": {f"data_in_{i}": t.ref for i, t in enumerate(data)},
                "results": {"data_out_0": {"shape": self.sym(shape, self.where(n))}}}
        if params:
            node["params"] = params(name)
        if attrs:
            node["attrs"] = attrs
        if op in IMPLICIT_OPS:
            node["implicit"] = True
        integer = self.elem.get(out_name) in INTEGER_TYPES
        if integer:
            self.integer.add(name)
        if out_prec is not None:
            self.prec_override[name] = out_prec
        self.nodes.append(node)
        self.producer[name] = node
        self.values[out_name] = Tensor(name, shape, integer=integer)
        return node

    def emit_mid(self, n, op, x, shape, attrs, suffix):
        """An intermediate node of a chain (its ONNX output is not a tensor name)."""
        name = self.unique((n.name or n.output[0]) + suffix)
        node = {"name": name, "op": op, "args": {"data_in_0": x.ref},
                "results": {"data_out_0": {"shape": self.sym(shape, self.where(n))}},
                "attrs": attrs}
        if op in IMPLICIT_OPS:
            node["implicit"] = True
        self.nodes.append(node)
        self.producer[name] = node
        return Tensor(name, shape, integer=x.integer)

    def scope_name(self, n):
        """'/decoder/layers.0/fc1/MatMul' -> 'decoder.layers.0.fc1' for fused linears."""
        nm = (n.name or "").strip("/")
        if "/" in nm:
            return nm.rsplit("/", 1)[0]
        return nm or n.output[0]

    def annotate(self, v, prec):
        if isinstance(v, Tensor):
            self.prec_override[v.ref] = prec
            return Tensor(v.ref, v.shape, prec, v.integer)
        return Const(v.value, v.origin, prec, v.transposed)

    # ------------------------------------------------------------------- run
    def run(self):
        g = self.model.graph
        init_names = {i.name for i in g.initializer}
        for inp in g.input:
            if inp.name in init_names:
                continue
            shape = self.shapes.get(inp.name)
            if shape is None:
                raise GraphError(f"graph input '{inp.name}' has no shape")
            name = self.unique(inp.name)
            integer = self.elem.get(inp.name) in INTEGER_TYPES
            if integer:
                self.integer.add(name)
            self.inputs.append({"name": name, "shape": self.sym(shape, f"input '{inp.name}'")})
            self.values[inp.name] = Tensor(name, shape, integer=integer)
        self.find_gates()
        for n in g.node:
            if n.output[0] in self.fused:
                continue
            self.convert(n)
        outputs = []
        for o in g.output:
            v = self.values.get(o.name)
            if not isinstance(v, Tensor):
                raise GraphError(f"graph output '{o.name}' is not a computed tensor")
            outputs.append(v.ref)
        return {"inputs": self.inputs, "nodes": self.nodes, "outputs": outputs}

    def fold(self, n):
        """Evaluate shape arithmetic on constants. Returns True when folded."""
        op = n.op_type
        ins = [self.values.get(i) if i else None for i in n.input]
        if op == "Constant":
            t = self.attr(n, "value")
            if t is None:
                raise GraphError(f"{self.where(n)}: only tensor-valued Constant is supported")
            self.values[n.output[0]] = Const(numpy_helper.to_array(t))
            return True
        if op == "Shape":
            v = ins[0]
            shape = v.shape if isinstance(v, Tensor) else list(v.value.shape)
            if any(d is None for d in shape):
                raise GraphError(f"{self.where(n)}: Shape of a tensor with unknown dims")
            self.values[n.output[0]] = Const(np.array(shape, dtype=np.int64))
            return True
        if not all(isinstance(v, Const) or v is None for v in ins):
            return False
        vals = [v.value if v is not None else None for v in ins]
        if op == "Gather":
            out = np.take(vals[0], vals[1], axis=self.attr(n, "axis", 0))
        elif op == "Unsqueeze":
            axes = vals[1] if len(vals) > 1 and vals[1] is not None else self.attr(n, "axes")
            out = vals[0]
            for a in sorted(int(x) for x in np.atleast_1d(axes)):
                out = np.expand_dims(out, a)
        elif op == "Squeeze":
            axes = vals[1] if len(vals) > 1 and vals[1] is not None else self.attr(n, "axes")
            out = np.squeeze(vals[0], axis=tuple(int(x) for x in np.atleast_1d(axes))
                             if axes is not None else None)
        elif op == "Concat":
            out = np.concatenate([np.atleast_1d(x) for x in vals], axis=self.attr(n, "axis"))
        elif op == "Cast":
            out = vals[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[self.attr(n, "to")])
        elif op == "Identity":
            self.values[n.output[0]] = ins[0]
            return True
        elif op == "Transpose":
            perm = self.attr(n, "perm")
            c = ins[0]
            self.values[n.output[0]] = Const(np.transpose(c.value, perm), c.origin, c.precision,
                                             not c.transposed)
            return True
        elif op in ("Add", "Sub", "Mul", "Div"):
            f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
            out = f(vals[0], vals[1])
        elif op == "Expand":        # a broadcast: binary ops and cat broadcast the base
            c = ins[0]
            self.values[n.output[0]] = Const(c.value, c.origin, c.precision, c.transposed)
            return True
        elif op in NP_FOLD:
            try:
                out = NP_FOLD[op](n, vals)
            except Exception as e:
                raise GraphError(f"{self.where(n)}: folding on constants failed: {e}") from None
        else:
            raise GraphError(f"unsupported ONNX op '{op}' on constants at {self.where(n)}")
        self.values[n.output[0]] = Const(out)
        return True

    def bias_add(self, n, out_dim):
        """A following Add of a 1-D constant [out_dim] that is the MatMul's only
        consumer is the linear's bias. Returns (add_node, bias Const) or None."""
        cons = self.consumers.get(n.output[0], [])
        if len(cons) != 1 or cons[0].op_type != "Add":
            return None
        add = cons[0]
        other = [i for i in add.input if i != n.output[0]]
        if len(other) != 1:
            return None
        c = self.values.get(other[0])
        if isinstance(c, Const) and c.value.shape == (out_dim,):
            return add, c
        return None

    def linear(self, n, x, w_kn, bias=None, out_prec=None):
        """w_kn: Const [K, N] (ONNX MatMul layout); mase weight is [N, K]."""
        name = self.scope_name(n)
        out_name = n.output[0]
        fused = None
        if bias is None:
            fused = self.bias_add(n, w_kn.value.shape[1])
            if fused is not None:
                self.fused.add(fused[0].output[0])
                out_name = fused[0].output[0]
                bias = fused[1]
        wt = Const(w_kn.value.T, w_kn.origin, w_kn.precision, not w_kn.transposed)

        def params(node_name):
            p = {"weight": self.param(node_name, "weight", wt)}
            if bias is not None:
                p["bias"] = self.param(node_name, "bias", bias)
            return p
        node = self.emit(n, "linear", [x], out_name, params, name=name, out_prec=out_prec)
        if fused is not None:
            self.shapes.setdefault(n.output[0], self.shapes[out_name])
        return node

    def binary(self, n, op):
        a, b = (self.get(i, n) for i in n.input[:2])
        if isinstance(a, Tensor) and isinstance(b, Tensor):
            return self.emit(n, op, [a, b], n.output[0])
        t, c, first = (a, b, False) if isinstance(a, Tensor) else (b, a, True)
        if not isinstance(t, Tensor):
            return self.fold(n)
        if first and op == "div" and c.value.size == 1 and float(c.value.reshape(())) == 1.0:
            prod = self.producer.get(t.ref)
            cons = self.consumers.get(n.input[1] if first else n.input[0], [])
            if prod is not None and prod["op"] == "sqrt" and len(cons) == 1:
                prod["op"] = "rsqrt"                      # 1 / sqrt(x): torch's rsqrt
                self.values[n.output[0]] = t
                return prod
            raise GraphError(f"{self.where(n)}: 1 / x is unsupported (only 1 / sqrt(x), "
                             f"exported as rsqrt)")
        if first and op in ("sub", "div"):
            raise GraphError(f"{self.where(n)}: {op} with the constant first is unsupported "
                             f"(nearest supported: {op} with the constant second)")
        if c.value.size != 1 or c.value.ndim > len(t.shape):
            if c.value.ndim > len(t.shape):
                raise GraphError(f"{self.where(n)}: constant operand of rank {c.value.ndim} "
                                 f"exceeds the data's rank {len(t.shape)}")
            return self.emit(n, op, [t], n.output[0],
                             lambda nm: {"other": self.param(nm, "other", c)})
        s = _scalar(c.value)
        return self.emit(n, op, [t], n.output[0], attrs={"scalar": s})

    def pad_input(self, n, x_name, spatial):
        """(Tensor, extra [h, w] padding) when x_name is the output of a zero Pad."""
        if x_name in self.pads:
            x, pads = self.pads[x_name]
            r = len(pads) // 2
            begin, end = pads[:r], pads[r:]
            if list(begin) != list(end) or any(begin[:r - spatial]):
                raise GraphError(f"{self.where(n)}: the Pad before it is asymmetric or pads "
                                 f"batch/channels ({list(pads)})")
            return x, [int(v) for v in begin[r - spatial:]]
        return self.tensor(x_name, n), [0] * spatial

    def slice_chain(self, n, x, cuts, out_name, squeeze=False):
        """cuts: [(dim, start, end)] of x; the last node produces out_name. Negative
        bounds stay negative (from the end), independent of a symbolic size."""
        shape = list(x.shape)
        cur = x
        for k, (dim, a0, b0) in enumerate(cuts):
            size = shape[dim]
            a = max(0, min(size, a0 + size if a0 < 0 else a0))
            b = max(0, min(size, b0 + size if b0 < 0 else b0))
            if b <= a:
                raise GraphError(f"{self.where(n)}: empty slice [{a}, {b}) of dim {dim}")
            attrs = {"dim": dim, "start": a0 if a0 < 0 else a}
            if b != size:
                attrs["end"] = b0 if b0 < 0 else b
            shape[dim] = b - a
            last = k == len(cuts) - 1 and not squeeze
            if last:
                return self.emit(n, "slice", [cur], out_name, attrs=attrs)
            cur = self.emit_mid(n, "slice", cur, list(shape), attrs, f"_slice{k}")
        if squeeze:
            return self.emit(n, "reshape", [cur], out_name,
                             attrs={"shape": self.sym(self.shapes[out_name], self.where(n))})
        self.values[out_name] = cur
        return None

    def convert(self, n):
        op = n.op_type
        if n.domain == "masesim":
            return self.masesim_op(n)
        if n.domain == "com.microsoft":
            return self.ort_moe(n)
        if op == "ScatterElements" and n.output[0] in self.gates:
            logits, k = self.gates[n.output[0]]
            return self.emit(n, "topk_gate", [self.tensor(logits, n)], n.output[0],
                             attrs={"top_k": k}, name=self.scope_name(n))
        ins = [self.values.get(i) if i else None for i in n.input]
        if op in ("Constant", "Shape") or (ins and all(isinstance(v, Const) or v is None for v in ins)
                                            and op not in ("QuantizeLinear", "DequantizeLinear")):
            self.fold(n)
            return
        if op in ("Identity", "Dropout", "Cast"):
            v = self.get(n.input[0], n)
            self.values[n.output[0]] = v
            return
        if op == "QuantizeLinear" or op == "DequantizeLinear":
            v = self.get(n.input[0], n)
            zp = self.get(n.input[2], n) if len(n.input) > 2 and n.input[2] else None
            scale = self.get(n.input[1], n)
            if op == "QuantizeLinear":
                dt = zp.value.dtype if zp is not None else np.dtype(np.uint8)
            else:
                dt = v.value.dtype if isinstance(v, Const) else (
                    zp.value.dtype if zp is not None else np.dtype(np.int8))
            prec = fixed_from_qparams(scale.value, np.dtype(dt).itemsize * 8)
            self.values[n.output[0]] = self.annotate(v, prec)
            return
        if op == "MatMul":
            a, b = self.get(n.input[0], n), self.get(n.input[1], n)
            if isinstance(b, Const) and b.value.ndim == 2:
                return self.linear(n, self.tensor(n.input[0], n), b)
            return self.emit(n, "matmul", [self.tensor(n.input[0], n), self.tensor(n.input[1], n)],
                             n.output[0])
        if op == "Gemm":
            if self.attr(n, "transA", 0) or self.attr(n, "alpha", 1.0) != 1.0 or \
                    self.attr(n, "beta", 1.0) != 1.0:
                raise GraphError(f"{self.where(n)}: Gemm with transA/alpha/beta is unsupported")
            b = self.get(n.input[1], n)
            if not isinstance(b, Const):
                raise GraphError(f"{self.where(n)}: Gemm with a non-constant B is unsupported")
            w = b if not self.attr(n, "transB", 0) else Const(b.value.T, b.origin, b.precision,
                                                              not b.transposed)
            bias = self.get(n.input[2], n) if len(n.input) > 2 and n.input[2] else None
            return self.linear(n, self.tensor(n.input[0], n), w, bias)
        if op in ("QLinearMatMul", "MatMulInteger"):
            if op == "QLinearMatMul":
                a, a_s, a_zp, b, b_s, b_zp, y_s, y_zp = (self.get(i, n) for i in n.input)
                out_prec = fixed_from_qparams(y_s.value, y_zp.value.dtype.itemsize * 8)
            else:
                a, b = self.get(n.input[0], n), self.get(n.input[1], n)
                a_s = b_s = None
                out_prec = {"type": "fixed", "width": 32, "frac_width": 0}
            a_prec = (fixed_from_qparams(a_s.value, self.elem_width(n.input[0]))
                      if a_s is not None else {"type": "fixed", "width": self.elem_width(n.input[0]),
                                               "frac_width": 0})
            if isinstance(a, Tensor):
                self.prec_override.setdefault(a.ref, a_prec)
            if isinstance(b, Const) and b.value.ndim == 2:
                bw = b.value.dtype.itemsize * 8
                bp = (fixed_from_qparams(b_s.value, bw) if b_s is not None
                      else {"type": "fixed", "width": bw, "frac_width": 0})
                return self.linear(n, self.tensor(n.input[0], n), Const(b.value, b.origin, bp),
                                   out_prec=out_prec)
            return self.emit(n, "matmul", [self.tensor(n.input[0], n), self.tensor(n.input[1], n)],
                             n.output[0], out_prec=out_prec)
        if op in ("Conv", "QLinearConv"):
            extra = None
            if op == "Conv":
                w = self.get(n.input[1], n)
                spatial = w.value.ndim - 2 if isinstance(w, Const) else 2
                x, extra = self.pad_input(n, n.input[0], spatial)
                bias = self.get(n.input[2], n) if len(n.input) > 2 and n.input[2] else None
                out_prec = None
            else:
                x, xs, xzp, w, ws, wzp, ys, yzp = (self.get(i, n) for i in n.input[:8])
                bias = self.get(n.input[8], n) if len(n.input) > 8 and n.input[8] else None
                out_prec = fixed_from_qparams(ys.value, yzp.value.dtype.itemsize * 8)
                self.prec_override.setdefault(x.ref, fixed_from_qparams(xs.value, xzp.value.dtype.itemsize * 8))
                w = Const(w.value, w.origin, fixed_from_qparams(ws.value, w.value.dtype.itemsize * 8))
                if bias is not None:
                    bias = Const(bias.value, bias.origin, {"type": "fixed", "width": 32, "frac_width": 0})
            if not isinstance(w, Const) or w.value.ndim not in (3, 4):
                raise GraphError(f"{self.where(n)}: only 1-D and 2-D convolution with constant "
                                 f"weights")
            if w.value.ndim == 3:
                return self.conv1d(n, x, w, bias, extra, out_prec)
            pads = list(self.attr(n, "pads", [0, 0, 0, 0]))
            if extra:
                pads = [pads[0] + extra[0], pads[1] + extra[1], pads[2] + extra[0],
                        pads[3] + extra[1]]
            if pads[0] != pads[2] or pads[1] != pads[3]:
                raise GraphError(f"{self.where(n)}: asymmetric padding {pads} is unsupported")
            if self.attr(n, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                raise GraphError(f"{self.where(n)}: auto_pad is unsupported")
            attrs = {"stride": list(self.attr(n, "strides", [1, 1])), "padding": pads[:2],
                     "dilation": list(self.attr(n, "dilations", [1, 1])),
                     "groups": int(self.attr(n, "group", 1))}

            def params(node_name):
                p = {"weight": self.param(node_name, "weight", w)}
                if bias is not None:
                    p["bias"] = self.param(node_name, "bias", bias)
                return p
            return self.emit(n, "conv2d", [x], n.output[0], params, attrs,
                             name=self.scope_name(n), out_prec=out_prec)
        simple = {"Relu": "relu", "Gelu": "gelu", "Tanh": "tanh", "Sigmoid": "sigmoid",
                  "Erf": "erf", "Sqrt": "sqrt", "Exp": "exp", "HardSwish": "hardswish"}
        if op in simple:
            return self.emit(n, simple[op], [self.tensor(n.input[0], n)], n.output[0])
        if op in ("Add", "Sub", "Mul", "Div"):
            return self.binary(n, op.lower())
        if op == "HardSigmoid":         # clamp(alpha x + beta, 0, 1): three MASE ops
            x = self.tensor(n.input[0], n)
            a = _scalar(np.float32(self.attr(n, "alpha", 0.2)))
            b = _scalar(np.float32(self.attr(n, "beta", 0.5)))
            t = self.emit_mid(n, "mul", x, x.shape, {"scalar": a}, "_scale")
            t = self.emit_mid(n, "add", t, x.shape, {"scalar": b}, "_shift")
            return self.emit(n, "hardtanh", [t], n.output[0],
                             attrs={"min_val": 0.0, "max_val": 1.0})
        if op == "Softplus":
            return self.emit(n, "softplus", [self.tensor(n.input[0], n)], n.output[0],
                             attrs={"beta": 1.0, "threshold": 20.0})
        if op == "Neg":
            return self.emit(n, "mul", [self.tensor(n.input[0], n)], n.output[0],
                             attrs={"scalar": -1})
        if op == "Pow":
            e = self.get(n.input[1], n)
            if not isinstance(e, Const) or e.value.size != 1:
                raise GraphError(f"{self.where(n)}: Pow with a tensor exponent is unsupported")
            v = _scalar(e.value)
            v = int(v) if float(v).is_integer() else float(v)
            return self.emit(n, "pow", [self.tensor(n.input[0], n)], n.output[0],
                             attrs={"scalar": v})
        if op == "Clip":
            if len(n.input) > 1:
                lo = self.get(n.input[1], n) if n.input[1] else None
                hi = self.get(n.input[2], n) if len(n.input) > 2 and n.input[2] else None
                lo = None if lo is None else float(_scalar(lo.value))
                hi = None if hi is None else float(_scalar(hi.value))
            else:
                lo, hi = self.attr(n, "min"), self.attr(n, "max")
            x = self.tensor(n.input[0], n)
            if lo == 0.0 and hi is None:
                return self.emit(n, "relu", [x], n.output[0])
            if lo is None or hi is None:
                raise GraphError(f"{self.where(n)}: Clip with one bound other than min 0 is "
                                 f"unsupported (nearest supported: hardtanh, relu)")
            return self.emit(n, "hardtanh", [x], n.output[0],
                             attrs={"min_val": lo, "max_val": hi})
        if op == "ReduceMean":
            x = self.tensor(n.input[0], n)
            axes = self.attr(n, "axes")
            if axes is None and len(n.input) > 1 and n.input[1]:
                axes = [int(a) for a in self.get(n.input[1], n).value.reshape(-1)]
            r = len(x.shape)
            dims = sorted(int(a) % r for a in axes) if axes is not None else list(range(r))
            return self.emit(n, "mean", [x], n.output[0],
                             attrs={"dim": dims, "keepdim": bool(self.attr(n, "keepdims", 1))})
        if op == "GlobalAveragePool":
            x = self.tensor(n.input[0], n)
            if len(x.shape) != 4:
                raise GraphError(f"{self.where(n)}: GlobalAveragePool of rank {len(x.shape)} "
                                 f"(only 2-D pooling)")
            return self.emit(n, "adaptive_avg_pool2d", [x], n.output[0],
                             attrs={"output_size": [1, 1]}, name=self.scope_name(n))
        if op == "Pad":
            x = self.tensor(n.input[0], n)
            mode = self.attr(n, "mode", b"constant")
            pads = self.attr(n, "pads")
            if pads is None:
                pads = [int(v) for v in self.get(n.input[1], n).value.reshape(-1)]
            value = 0.0
            if len(n.input) > 2 and n.input[2]:
                value = float(self.get(n.input[2], n).value.reshape(()))
            elif self.attr(n, "value") is not None:
                value = float(self.attr(n, "value"))
            if mode not in (b"constant", "constant") or value != 0.0:
                raise GraphError(f"{self.where(n)}: Pad mode {mode!r} value {value} is "
                                 f"unsupported (only zero padding)")
            if not any(pads):
                self.values[n.output[0]] = x
                return None
            cons = self.consumers.get(n.output[0], [])
            if not cons or any(c.op_type not in ("Conv", "AveragePool") for c in cons):
                raise GraphError(f"{self.where(n)}: a zero Pad is supported before Conv and "
                                 f"AveragePool only (merged into their padding)")
            self.pads[n.output[0]] = (x, list(pads))
            self.values[n.output[0]] = x        # read through pad_input() by its consumers
            return None
        if op == "Concat":
            parts = [self.get(i, n) for i in n.input]
            ax = self.attr(n, "axis") % len(self.shapes[n.output[0]])
            params = None
            if isinstance(parts[0], Const):
                c = parts[0]
                params = lambda nm: {"other": self.param(nm, "other", c)}  # noqa: E731
                parts = parts[1:]
            if any(isinstance(p_, Const) for p_ in parts):
                raise GraphError(f"{self.where(n)}: Concat with a constant operand after the "
                                 f"first is unsupported")
            if len(parts) == 1 and params is None:
                self.values[n.output[0]] = parts[0]
                return None
            return self.emit(n, "cat", parts, n.output[0], params, attrs={"dim": ax})
        if op == "Slice":
            x = self.tensor(n.input[0], n)
            vals = [self.get(i, n) if i else None for i in n.input[1:]]
            if any(v is not None and not isinstance(v, Const) for v in vals):
                raise GraphError(f"{self.where(n)}: Slice with computed bounds is unsupported")
            vals = [None if v is None else v.value for v in vals]
            if n.input[1:]:
                starts, ends = vals[0], vals[1]
                axes = vals[2] if len(vals) > 2 and vals[2] is not None else range(len(starts))
                steps = vals[3] if len(vals) > 3 and vals[3] is not None else [1] * len(starts)
            else:
                starts, ends = self.attr(n, "starts"), self.attr(n, "ends")
                axes = self.attr(n, "axes", list(range(len(starts))))
                steps = [1] * len(starts)
            if any(int(st) != 1 for st in steps):
                raise GraphError(f"{self.where(n)}: Slice with steps is unsupported")
            r = len(x.shape)
            cuts = [(int(a) % r, int(st), int(min(e, 2 ** 62)) if e > 0 else int(e))
                    for st, e, a in zip(starts, ends, axes)]
            cuts = [(d, a, b) for d, a, b in cuts if not (a == 0 and b >= x.shape[d])]
            if not cuts:
                self.values[n.output[0]] = x
                return None
            return self.slice_chain(n, x, cuts, n.output[0])
        if op == "Split":
            x = self.tensor(n.input[0], n)
            ax = self.attr(n, "axis", 0) % len(x.shape)
            split = self.attr(n, "split")
            if split is None and len(n.input) > 1 and n.input[1]:
                split = [int(v) for v in self.get(n.input[1], n).value.reshape(-1)]
            if split is None:
                k = len(n.output)
                split = [x.shape[ax] // k] * k
            start = 0
            for out, size in zip(n.output, split):
                if out:
                    self.slice_chain(n, x, [(ax, start, start + size)], out)
                start += size
            return None
        if op in ("Squeeze", "Unsqueeze", "Expand"):
            x = self.tensor(n.input[0], n)
            out_shape = self.shapes.get(n.output[0])
            if op == "Expand":
                if out_shape == x.shape:
                    self.values[n.output[0]] = x
                    return None
                raise GraphError(f"{self.where(n)}: Expand of graph data is unsupported "
                                 f"(nearest supported: broadcasting Add/Sub/Mul/Div)")
            return self.emit(n, "reshape", [x], n.output[0],
                             attrs={"shape": self.sym(out_shape, self.where(n))})
        if op == "Reciprocal":
            raise GraphError(f"{self.where(n)}: Reciprocal is unsupported (nearest supported: "
                             f"rsqrt, div by a constant)")
        if op == "Gather":
            data, ids = self.get(n.input[0], n), self.get(n.input[1], n)
            if isinstance(data, Const) and isinstance(ids, Tensor) and data.value.ndim == 2 \
                    and self.attr(n, "axis", 0) == 0:
                return self.emit(n, "embedding", [ids], n.output[0],
                                 lambda nm: {"weight": self.param(nm, "weight", data)},
                                 name=self.scope_name(n))
            if isinstance(data, Tensor) and isinstance(ids, Const) and ids.value.size == 1:
                ax = self.attr(n, "axis", 0) % len(data.shape)
                i = int(ids.value.reshape(()))
                return self.slice_chain(n, data, [(ax, i, i + 1 if i != -1 else data.shape[ax])],
                                        n.output[0], squeeze=ids.value.ndim == 0)
            raise GraphError(f"{self.where(n)}: Gather on a computed tensor is unsupported "
                             f"(nearest supported: embedding on a constant table, slice)")
        x = self.pads[n.input[0]][0] if n.input[0] in self.pads else self.tensor(n.input[0], n)
        rank = len(x.shape)
        if op == "Softmax":
            ax = self.attr(n, "axis", -1)
            return self.emit(n, "softmax", [x], n.output[0], attrs={"dim": ax % rank})
        if op == "LayerNormalization":
            ax = self.attr(n, "axis", -1) % rank
            w = self.get(n.input[1], n)
            b = self.get(n.input[2], n) if len(n.input) > 2 and n.input[2] else None

            def params(node_name):
                p = {"weight": self.param(node_name, "weight", w)}
                if b is not None:
                    p["bias"] = self.param(node_name, "bias", b)
                return p
            return self.emit(n, "layer_norm", [x], n.output[0], params,
                             {"normalized_shape": [int(d) for d in x.shape[ax:]],
                              "eps": float(np.float32(self.attr(n, "epsilon", 1e-5)))},
                             name=self.scope_name(n))
        if op == "BatchNormalization":
            cs = [self.get(i, n) for i in n.input[1:5]]

            def params(node_name):
                return {k: self.param(node_name, k, c) for k, c in
                        zip(("weight", "bias", "running_mean", "running_var"), cs)}
            return self.emit(n, "batch_norm", [x], n.output[0], params,
                             {"eps": float(np.float32(self.attr(n, "epsilon", 1e-5)))},
                             name=self.scope_name(n))
        if op in ("MaxPool", "AveragePool"):
            k = list(self.attr(n, "kernel_shape"))
            pads = list(self.attr(n, "pads", [0, 0, 0, 0]))
            if op == "AveragePool":
                x, extra = self.pad_input(n, n.input[0], 2)
                if any(extra) and not self.attr(n, "count_include_pad", 0) and any(pads):
                    raise GraphError(f"{self.where(n)}: a Pad before AveragePool with its own "
                                     f"pads and count_include_pad 0 is unsupported")
                pads = [pads[0] + extra[0], pads[1] + extra[1], pads[2] + extra[0],
                        pads[3] + extra[1]]
            if pads[0] != pads[2] or pads[1] != pads[3] or self.attr(n, "ceil_mode", 0):
                raise GraphError(f"{self.where(n)}: asymmetric padding / ceil_mode unsupported")
            return self.emit(n, "max_pool2d" if op == "MaxPool" else "avg_pool2d", [x], n.output[0],
                             attrs={"kernel_size": k, "stride": list(self.attr(n, "strides", k)),
                                    "padding": pads[:2]}, name=self.scope_name(n))
        if op == "Flatten":
            ax = self.attr(n, "axis", 1) % max(rank, 1)
            if ax == 1:
                return self.emit(n, "flatten", [x], n.output[0],
                                 attrs={"start_dim": 1, "end_dim": rank - 1})
            return self.emit(n, "reshape", [x], n.output[0],
                             attrs={"shape": self.sym(self.shapes[n.output[0]], self.where(n))})
        if op == "Reshape":
            return self.emit(n, "reshape", [x], n.output[0],
                             attrs={"shape": self.sym(self.shapes[n.output[0]], self.where(n))})
        if op == "Transpose":
            perm = list(self.attr(n, "perm", list(range(rank))[::-1]))
            moved = [i for i, p in enumerate(perm) if p != i]
            if len(moved) == 2:
                return self.emit(n, "transpose", [x], n.output[0],
                                 attrs={"dim0": moved[0], "dim1": moved[1]})
            return self.emit(n, "permute", [x], n.output[0], attrs={"dims": perm})
        if op in ("LSTM", "GRU"):
            return self.rnn(n)
        raise GraphError(f"unsupported ONNX op '{op}' at {self.where(n)}"
                         f"{ONNX_HINTS.get(op) or nearest(op, SUPPORTED_ONNX)}")

    # ------------------------------------------------------- mixture of experts
    def find_gates(self):
        """Top-k gating as torch exports it from ordinary code, one topk_gate each:
        ScatterElements(zeros of the logits' shape, TopK(t).indices, w) along the last
        axis, with t = logits and w = Softmax(TopK(t).values), or (Mixtral) t =
        Softmax(logits) and w = TopK(t).values / ReduceSum(TopK(t).values, -1). The TopK,
        Softmax, ReduceSum and Div are absorbed; any other TopK stays unsupported."""
        g = self.model.graph
        prod = {o: n for n in g.node for o in n.output}
        for n in g.node:
            if n.op_type == "ScatterElements":
                found = self._gate(n, prod)
                if found is not None:
                    logits, k, absorbed = found
                    self.gates[n.output[0]] = (logits, k)
                    self.fused.update(q.output[0] for q in absorbed)

    def _gate(self, n, prod):
        def only(name, node):           # `node` is the only consumer of `name`
            return [c.output[0] for c in self.consumers.get(name, [])] == [node.output[0]] and \
                name not in {o.name for o in self.model.graph.output}

        def last_axis(axis, rank):
            return axis is not None and rank and int(axis) % rank == rank - 1

        opset = next((o.version for o in self.model.opset_import if o.domain in ("", "ai.onnx")),
                     13)
        softmax_axis = -1 if opset >= 13 else 1     # Softmax's default axis

        if len(n.input) != 3 or self.attr(n, "reduction", b"none") not in (b"none", "none"):
            return None
        data, idx, upd = n.input
        topk = prod.get(idx)
        if topk is None or topk.op_type != "TopK" or topk.output[1] != idx or \
                not only(idx, n) or self.attr(topk, "largest", 1) != 1:
            return None
        rank = len(self.shapes.get(topk.input[0]) or [])
        if not last_axis(self.attr(topk, "axis", -1), rank) or \
                not last_axis(self.attr(n, "axis", 0), rank):
            return None
        kc = self.values.get(topk.input[1]) if len(topk.input) > 1 else None
        k = (int(kc.value.reshape(-1)[0]) if isinstance(kc, Const) and kc.value.size == 1
             else self.attr(topk, "k"))
        if k is None:
            return None
        vals = topk.output[0]
        u = prod.get(upd)
        if u is None:
            return None
        if u.op_type == "Softmax" and u.input[0] == vals and only(vals, u) and only(upd, n) and \
                last_axis(self.attr(u, "axis", softmax_axis), rank):
            logits, absorbed = topk.input[0], [topk, u]
        elif u.op_type == "Div" and u.input[0] == vals and only(upd, n):
            rs = prod.get(u.input[1])
            sm = prod.get(topk.input[0])
            if rs is None or rs.op_type != "ReduceSum" or rs.input[0] != vals or \
                    not only(u.input[1], u) or not self.attr(rs, "keepdims", 1) or \
                    sorted(c.output[0] for c in self.consumers.get(vals, [])) != \
                    sorted([u.output[0], rs.output[0]]):
                return None
            axes = self.attr(rs, "axes")
            if axes is None and len(rs.input) > 1 and isinstance(self.values.get(rs.input[1]),
                                                                  Const):
                axes = self.values[rs.input[1]].value.reshape(-1).tolist()
            if axes is None or len(axes) != 1 or not last_axis(axes[0], rank):
                return None
            if sm is None or sm.op_type != "Softmax" or not only(topk.input[0], topk) or \
                    not last_axis(self.attr(sm, "axis", softmax_axis), rank):
                return None
            logits, absorbed = sm.input[0], [sm, topk, rs, u]
        else:
            return None
        zeros = self.values.get(data)
        shape = self.shapes.get(logits)
        if not isinstance(zeros, Const) or np.any(zeros.value) or shape is None or \
                list(zeros.value.shape) != list(shape) or not 1 <= k <= shape[-1]:
            return None
        return logits, k, absorbed

    def const_input(self, n, i, what):
        c = self.get(n.input[i], n) if len(n.input) > i and n.input[i] else None
        if c is not None and not isinstance(c, Const):
            raise GraphError(f"{self.where(n)}: {what} (input {i}) must be a constant "
                             f"(an initializer)")
        return c

    def masesim_op(self, n):
        """The project's ops (scripts/masesim_models.py, domain masesim version 1):
        TopKGate(logits) top_k; MoeExperts(x, gates, w1, w2[, w3]) top_k, activation,
        routing, expert_load, routing_seed, expert_parallel; SelectiveScan(u, delta, B, C,
        A_log[, D]). The same nodes as the fx path."""
        where = f"ONNX node '{n.name or n.output[0]}' (masesim::{n.op_type})"
        ints, string, int_list = onnx.AttributeProto.INT, onnx.AttributeProto.STRING, \
            onnx.AttributeProto.INTS
        spec = {"TopKGate": (["logits"], [], {"top_k": ints}),
                "MoeExperts": (["x", "gates", "w1", "w2"], ["w3"],
                               {"top_k": ints, "activation": string, "routing": string,
                                "expert_load": int_list, "routing_seed": ints,
                                "expert_parallel": ints}),
                "SelectiveScan": (["u", "delta", "B", "C", "A_log"], ["D"], {})}[n.op_type]
        need, optional, allowed = spec
        names = need + [o + "?" for o in optional]
        if not len(need) <= len(n.input) <= len(need) + len(optional) or \
                any(not i for i in n.input[:len(need)]):
            raise GraphError(f"{where}: {len(n.input)} inputs; it takes {len(need)}"
                             f"{'..' + str(len(need) + len(optional)) if optional else ''} "
                             f"({', '.join(names)})")
        attrs = {}
        for a in n.attribute:
            if a.name not in allowed:
                raise GraphError(f"{where}: unknown attribute '{a.name}' (its attributes: "
                                 f"{', '.join(allowed) or 'none'})")
            if a.type != allowed[a.name]:
                kind = {ints: "an int", string: "a string", int_list: "a list of ints"}
                raise GraphError(f"{where}: attribute '{a.name}' must be "
                                 f"{kind[allowed[a.name]]}")
            v = helper.get_attribute_value(a)
            attrs[a.name] = v.decode() if isinstance(v, bytes) else (
                [int(x) for x in v] if a.type == int_list else int(v))
        if "top_k" in allowed and "top_k" not in attrs:
            raise GraphError(f"{where}: attribute 'top_k' is required")
        if n.op_type == "TopKGate":
            x = self.tensor(n.input[0], n)
            if not 1 <= attrs["top_k"] <= x.shape[-1]:
                raise GraphError(f"{where}: top_k {attrs['top_k']} is not in 1..{x.shape[-1]} "
                                 f"(the experts)")
            return self.emit(n, "topk_gate", [x], n.output[0], attrs=attrs,
                             name=self.scope_name(n))
        if n.op_type == "MoeExperts":
            x, gates = self.tensor(n.input[0], n), self.tensor(n.input[1], n)
            w = {k: self.const_input(n, i, k) for i, k in enumerate(("w1", "w2", "w3"), 2)}
            attrs = dict({"top_k": attrs["top_k"], "activation": attrs.get("activation", "silu")},
                         **{k: attrs[k] for k in ("routing", "expert_load", "routing_seed",
                                                  "expert_parallel") if k in attrs})
            return self.moe(n, where, x, gates, w, attrs)
        u, delta, b, c = (self.tensor(i, n) for i in n.input[:4])
        a_log, d = self.const_input(n, 4, "A_log"), self.const_input(n, 5, "D")
        ch, state = u.shape[-1], b.shape[-1]
        if list(a_log.value.shape) != [ch, state] or (d is not None and
                                                       list(d.value.shape) != [ch]):
            raise GraphError(f"{where}: A_log {list(a_log.value.shape)} / D "
                             f"{None if d is None else list(d.value.shape)} do not fit u's "
                             f"{ch} channels and B's {state} states (A_log [{ch}, {state}], "
                             f"D [{ch}])")
        if delta.shape != u.shape or c.shape != b.shape:
            raise GraphError(f"{where}: delta must have u's shape and C B's")

        def params(nm):
            p = {"A_log": self.param(nm, "A_log", a_log)}
            if d is not None:
                p["D"] = self.param(nm, "D", d)
            return p
        return self.emit(n, "selective_scan", [u, delta, b, c], n.output[0], params,
                         name=self.scope_name(n))

    def moe(self, n, where, x, gates, w, attrs, gates_name=None):
        """A moe_experts node: w {"w1": Const [E, F, D], "w2": [E, D, F], "w3": [E, F, D]
        or None}; attrs as docs/graph-format.md."""
        w1, w2, w3 = w["w1"], w["w2"], w["w3"]
        if w1.value.ndim != 3:
            raise GraphError(f"{where}: w1 must be [experts, ffn, hidden], got "
                             f"{list(w1.value.shape)}")
        e, f, d = w1.value.shape
        if d != x.shape[-1] or list(w2.value.shape) != [e, d, f] or \
                (w3 is not None and list(w3.value.shape) != [e, f, d]):
            raise GraphError(f"{where}: expert weights w1 {list(w1.value.shape)}, w2 "
                             f"{list(w2.value.shape)}"
                             f"{'' if w3 is None else ', w3 ' + str(list(w3.value.shape))} do "
                             f"not fit hidden size {x.shape[-1]} (w1/w3 [E, F, D], w2 [E, D, F])")
        if gates.shape[-1] != e:
            raise GraphError(f"{where}: the gates have {gates.shape[-1]} experts, the weights "
                             f"{e}")
        if attrs["activation"] not in ("silu", "gelu", "relu"):
            raise GraphError(f"{where}: activation '{attrs['activation']}' is not silu, gelu "
                             f"or relu")
        if not 1 <= attrs["top_k"] <= e:
            raise GraphError(f"{where}: top_k {attrs['top_k']} is not in 1..{e} (the experts)")
        if attrs.get("routing", "balanced") not in ("balanced", "load", "seeded"):
            raise GraphError(f"{where}: routing '{attrs['routing']}' is not balanced, load or "
                             f"seeded")
        if "expert_load" in attrs and (len(attrs["expert_load"]) != e or
                                       min(attrs["expert_load"]) < 0):
            raise GraphError(f"{where}: expert_load must be {e} non-negative ints")
        if not 1 <= attrs.get("expert_parallel", 1) <= e:
            raise GraphError(f"{where}: expert_parallel {attrs['expert_parallel']} is not in "
                             f"1..{e}")

        def params(nm):
            p = {"w1": self.param(nm, "w1", w1), "w2": self.param(nm, "w2", w2)}
            if w3 is not None:
                p["w3"] = self.param(nm, "w3", w3)
            return p
        return self.emit(n, "moe_experts", [x, gates], n.output[0], params, attrs,
                         name=self.scope_name(n))

    def ort_moe(self, n):
        """ONNX Runtime's com.microsoft MoE (input, router_probs, fc1_experts_weights,
        fc1_experts_bias?, fc2_experts_weights, fc2_experts_bias?, fc3_experts_weights?,
        fc3_experts_bias?): a topk_gate over router_probs (ORT's softmax -> top-k,
        renormalised with normalize_routing_weights 1) and a moe_experts node. Weights
        are [E, F, D] / [E, D, F] / [E, F, D] (the current spec) or, as older ORT versions
        wrote them, [E, D, F] / [E, F, D] / [E, D, F] (transposed here). SwiGLU (alpha 1,
        beta 0, no limit: silu(g)·l) is silu with w3 = l, split from a fused FC1."""
        where = f"ONNX node '{n.name or n.output[0]}' (com.microsoft::MoE)"
        if not 5 <= len(n.input) <= 8 or any(not n.input[i] for i in (0, 1, 2, 4)):
            raise GraphError(f"{where}: {len(n.input)} inputs; it takes 5..8 (input, "
                             f"router_probs, fc1_experts_weights, fc1_experts_bias?, "
                             f"fc2_experts_weights, fc2_experts_bias?, fc3_experts_weights?, "
                             f"fc3_experts_bias?)")
        known = {"activation_type", "k", "normalize_routing_weights", "use_sparse_mixer",
                 "swiglu_fusion", "activation_alpha", "activation_beta", "swiglu_limit"}
        for a in n.attribute:
            if a.name not in known:
                raise GraphError(f"{where}: unknown attribute '{a.name}'")
        act = self.attr(n, "activation_type", b"relu")
        act = act.decode() if isinstance(act, bytes) else str(act)
        if act not in ("relu", "gelu", "silu", "swiglu"):
            raise GraphError(f"{where}: activation_type '{act}' is unsupported (nearest "
                             f"supported: relu, gelu, silu; swiglu)")
        fusion = int(self.attr(n, "swiglu_fusion", 0))
        if act == "swiglu":             # G·sigmoid(alpha G)·(L + beta), G and L clamped
            alpha = float(self.attr(n, "activation_alpha", 1.0))
            beta = float(self.attr(n, "activation_beta", 0.0))
            limit = float(self.attr(n, "swiglu_limit", float("inf")))
            if alpha != 1.0 or beta != 0.0 or limit != float("inf"):
                raise GraphError(f"{where}: activation_type 'swiglu' with activation_alpha "
                                 f"{alpha:g}, activation_beta {beta:g}, swiglu_limit {limit:g} "
                                 f"is not silu(g)·l (nearest supported: swiglu with alpha 1, "
                                 f"beta 0 and no limit, or silu with fc3_experts_weights)")
            if fusion not in (0, 1, 2):
                raise GraphError(f"{where}: swiglu_fusion {fusion} is not 0, 1 or 2")
        if self.attr(n, "use_sparse_mixer", 0):
            raise GraphError(f"{where}: use_sparse_mixer 1 is unsupported (nearest supported: "
                             f"top-k routing, use_sparse_mixer 0)")
        if self.attr(n, "normalize_routing_weights", 0) != 1:
            raise GraphError(f"{where}: normalize_routing_weights 0 is unsupported: masesim's "
                             f"topk_gate renormalises over the k selected experts (nearest "
                             f"supported: normalize_routing_weights 1)")
        x, router = self.tensor(n.input[0], n), self.tensor(n.input[1], n)
        fc = {k: self.const_input(n, i, name) for k, i, name in
              (("w1", 2, "fc1_experts_weights"), ("w2", 4, "fc2_experts_weights"),
               ("w3", 6, "fc3_experts_weights"))}
        for i, name in ((3, "fc1_experts_bias"), (5, "fc2_experts_bias"),
                        (7, "fc3_experts_bias")):
            b = self.const_input(n, i, name)
            if b is not None and np.any(b.value):
                raise GraphError(f"{where}: {name} is non-zero; expert biases are not "
                                 f"supported (moe_experts has no bias parameters)")
        if fc["w1"].value.ndim != 3 or fc["w2"].value.ndim != 3:
            raise GraphError(f"{where}: fc1/fc2_experts_weights must be 3-D")
        hidden = x.shape[-1]
        if fc["w1"].value.shape[2] != hidden and fc["w1"].value.shape[1] == hidden:
            fc = {k: None if c is None else Const(np.swapaxes(c.value, 1, 2), c.origin,
                                                  c.precision, not c.transposed)
                  for k, c in fc.items()}
        if act == "swiglu":             # silu(g) * l: w1 = g, w3 = l
            if fusion == 0 and fc["w3"] is None:
                raise GraphError(f"{where}: activation_type 'swiglu' with swiglu_fusion 0 "
                                 f"needs fc3_experts_weights")
            if fusion and fc["w3"] is not None:
                raise GraphError(f"{where}: swiglu_fusion {fusion} fuses fc3 into fc1, but "
                                 f"fc3_experts_weights is given")
            if fusion:                  # FC1 [E, 2F, D]: g, l interleaved (1) or halves (2)
                w, rows = fc["w1"], fc["w1"].value.shape[1]
                if rows % 2:
                    raise GraphError(f"{where}: a fused fc1_experts_weights has an odd "
                                     f"{rows} rows")
                g, l = ((w.value[:, 0::2], w.value[:, 1::2]) if fusion == 1 else
                        (w.value[:, :rows // 2], w.value[:, rows // 2:]))
                fc["w1"], fc["w3"] = (Const(np.ascontiguousarray(a), None, w.precision)
                                      for a in (g, l))
            act = "silu"
        if self.attr(n, "k") is None:
            raise GraphError(f"{where}: attribute 'k' is required")
        k = int(self.attr(n, "k"))
        experts = router.shape[-1]
        if not 1 <= k <= experts:
            raise GraphError(f"{where}: k {k} is not in 1..{experts} (the experts)")
        gates = self.emit_mid(n, "topk_gate", router, router.shape, {"top_k": k}, ".gate")
        if router.shape[:-1] != x.shape[:-1]:       # [tokens, E] gates of [b, s, D] input
            if int(np.prod(router.shape[:-1])) != int(np.prod(x.shape[:-1])):
                raise GraphError(f"{where}: router_probs {router.shape} has not one row per "
                                 f"token of the input {x.shape}")
            gates = self.emit_mid(n, "reshape", gates, x.shape[:-1] + [experts],
                                  {"shape": self.sym(x.shape[:-1] + [experts], where)},
                                  ".gate.reshape")
        return self.moe(n, where, x, gates, fc, {"top_k": k, "activation": act})

    def rnn(self, n):
        """ONNX LSTM / GRU (one direction, zero initial state, layout 0) as an lstm / gru
        node with PyTorch's gate order (LSTM i,o,f,c -> i,f,g,o; GRU z,r,h -> r,z,n), then a
        reshape to Y [seq, 1, batch, hidden]. Y_h / Y_c are not exported."""
        kind = n.op_type.lower()
        if self.attr(n, "direction", b"forward") not in (b"forward", "forward"):
            raise GraphError(f"{self.where(n)}: direction "
                             f"{self.attr(n, 'direction').decode()} is unsupported (nearest "
                             f"supported: a forward {n.op_type} on the reversed sequence)")
        if self.attr(n, "layout", 0) != 0:
            raise GraphError(f"{self.where(n)}: layout 1 is unsupported")
        for a in ("activations", "clip", "input_forget"):
            if self.attr(n, a) not in (None, 0):
                raise GraphError(f"{self.where(n)}: attribute {a} is unsupported")
        if kind == "gru" and self.attr(n, "linear_before_reset", 0) != 1:
            raise GraphError(f"{self.where(n)}: linear_before_reset 0 is unsupported (PyTorch's "
                             f"GRU, exported with linear_before_reset 1, is)")
        x = self.tensor(n.input[0], n)
        w, r = self.get(n.input[1], n), self.get(n.input[2], n)
        b = self.get(n.input[3], n) if len(n.input) > 3 and n.input[3] else None
        if not isinstance(w, Const) or not isinstance(r, Const) or \
                (b is not None and not isinstance(b, Const)):
            raise GraphError(f"{self.where(n)}: W, R and B must be constants")
        if len(n.input) > 4 and n.input[4]:
            raise GraphError(f"{self.where(n)}: sequence_lens is unsupported")
        for i in n.input[5:]:
            v = self.get(i, n) if i else None
            if v is not None and not (isinstance(v, Const) and not np.any(v.value)):
                raise GraphError(f"{self.where(n)}: a non-zero initial state is unsupported "
                                 f"(nearest supported: {kind} from a zero state)")
        for o in n.output[1:]:
            if o and any(o in q.input for q in self.model.graph.node):
                raise GraphError(f"{self.where(n)}: its final state '{o}' is used; only the "
                                 f"output sequence Y is exported")
        H = int(self.attr(n, "hidden_size"))
        order = [0, 2, 3, 1] if kind == "lstm" else [1, 0, 2]
        G = len(order)

        def gates(a):           # [G·H, ...] blocks in PyTorch's order
            return np.concatenate([a[k * H:(k + 1) * H] for k in order], axis=0)
        wi, wh = gates(w.value[0]), gates(r.value[0])

        def params(node_name):
            p = {"weight_ih": self.param(node_name, "weight_ih", w, wi),
                 "weight_hh": self.param(node_name, "weight_hh", r, wh)}
            if b is not None:       # two parameters of one ONNX initializer (not shared)
                for k, half in (("bias_ih", b.value[0][:G * H]), ("bias_hh", b.value[0][G * H:])):
                    p[k] = self.param(node_name, k, Const(gates(half), None, b.precision))
            return p
        y = self.shapes.get(n.output[0])
        if y is None or len(y) != 4:
            raise GraphError(f"{self.where(n)}: no 4-D shape for output Y")
        seq_shape = [y[0], y[2], y[3]]
        name = self.unique(self.scope_name(n))
        node = {"name": name, "op": kind, "args": {"data_in_0": x.ref},
                "params": params(name), "attrs": {"batch_first": False},
                "results": {"data_out_0": {"shape": self.sym(seq_shape, self.where(n))}}}
        self.nodes.append(node)
        self.producer[name] = node
        return self.emit(n, "reshape", [Tensor(name, seq_shape)], n.output[0],
                         attrs={"shape": self.sym(y, self.where(n))},
                         name=name + ".reshape")

    def conv1d(self, n, x, w, bias, extra, out_prec):
        pads = list(self.attr(n, "pads", [0, 0]))
        if pads[0] != pads[1]:
            raise GraphError(f"{self.where(n)}: asymmetric padding {pads} is unsupported")
        if self.attr(n, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise GraphError(f"{self.where(n)}: auto_pad is unsupported")
        attrs = {"stride": int(self.attr(n, "strides", [1])[0]),
                 "padding": int(pads[0] + (extra[0] if extra else 0)),
                 "dilation": int(self.attr(n, "dilations", [1])[0]),
                 "groups": int(self.attr(n, "group", 1))}

        def params(node_name):
            p = {"weight": self.param(node_name, "weight", w)}
            if bias is not None:
                p["bias"] = self.param(node_name, "bias", bias)
            return p
        return self.emit(n, "conv1d", [x], n.output[0], params, attrs, name=self.scope_name(n),
                         out_prec=out_prec)

    def elem_width(self, name):
        return INT_WIDTH.get(self.elem.get(name), 8)


def _dims_of_inputs(model, inputs, label):
    """{input: [dim name | int | dim_param str]} of the non-initializer graph inputs, from
    --input specs (name, shape, dtype) or, without them, the model's own dims."""
    init = {i.name for i in model.graph.initializer}
    graph_inputs = [i for i in model.graph.input if i.name not in init]
    out = {}
    specs = {s[0]: s for s in inputs or []}
    for name in specs:
        if name not in {i.name for i in graph_inputs}:
            raise GraphError(f"{label}: --input '{name}' is not a graph input "
                             f"(inputs: {', '.join(i.name for i in graph_inputs)})")
    for i in graph_inputs:
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                for d in i.type.tensor_type.shape.dim]
        if i.name in specs:
            want = specs[i.name][1]
            if len(want) != len(dims):
                raise GraphError(f"{label}: --input {i.name} has rank {len(want)}, the model's "
                                 f"input has rank {len(dims)} {dims}")
            for k, (w, d) in enumerate(zip(want, dims)):
                if isinstance(w, int) and isinstance(d, int) and w != d:
                    raise GraphError(f"{label}: --input {i.name} dim {k} is {w}, the model has {d}")
            out[i.name] = [(w, d) for w, d in zip(want, dims)]
        elif inputs:
            raise GraphError(f"{label}: graph input '{i.name}' has no --input")
        else:
            out[i.name] = [(d if isinstance(d, str) else None, d) for d in dims]
    return out


def _one_pass(model, fixed, sample, name):
    """One conversion at the sizes `fixed`, patterns fused (before the two samples are
    merged, as in the fx path: a Conv with padding d_conv - 1 is seq + 3 long until its
    slice is fused into causal_conv1d)."""
    conv = Converter(prepare(model, fixed, name), sample, name)
    g = conv.run()
    fuse_patterns(g["nodes"], g["outputs"], {i["name"]: i["shape"] for i in g["inputs"]})
    return g, conv


def convert_model(model, sample=None, dims=None, quant=None, name=None, inputs=None,
                  second=None):
    """Convert a loaded onnx.ModelProto to a mase-graph dict.

    Symbolic dims come from `inputs` ([(name, shape with dim names, dtype)], as
    --input) or from the inputs' dim_params. Dynamic dims (dim_params) are set to the
    sample sizes of pass A and pass B (mase_graph_common.sample_dims) and both
    conversions must agree entry by entry (merge_samples); static dims take the
    model's sizes as pass A, and `second` (the same model exported at other sizes)
    gives pass B. With `sample` ({dim: size}) and neither, entries equal to a sample
    size are named by value, unchecked (the historical --sample behaviour)."""
    dims = dict(dims or {})
    name = name or model.graph.name or "onnx-model"
    check_opsets(model, name)
    spec = _dims_of_inputs(model, inputs, name)
    dim_names = []
    for axes in spec.values():
        for w, _ in axes:
            if isinstance(w, str) and w not in dim_names:
                dim_names.append(w)
    static = {}         # dim -> size where the model has a fixed size for it
    dynamic = set()
    for iname, axes in spec.items():
        for w, d in axes:
            if not isinstance(w, str):
                continue
            if isinstance(d, int):
                if static.get(w, d) != d:
                    raise GraphError(f"{name}: dim '{w}' is {static[w]} and {d} in the inputs")
                static[w] = d
            else:
                dynamic.add(w)
    if static and dynamic & set(static):
        raise GraphError(f"{name}: dim(s) {', '.join(sorted(dynamic & set(static)))} are "
                         f"fixed in one input and dynamic in another")
    if sample:
        for k, v in sample.items():
            if k in static and static[k] != v:
                raise GraphError(f"{name}: --sample {k}={v} but the model has {static[k]}")
    for k in dims:
        if k not in dim_names and not (sample and k in sample):
            raise GraphError(f"--dims: '{k}' is not a dim of the inputs "
                             f"({', '.join(dim_names) or 'none'})")
    qc = quant or QuantConfig({"default": FLOAT32}, "float32")
    if dim_names and (dynamic or second is not None):
        sa = dict(sample_dims(dim_names, "A"))
        sa.update(static)
        sa.update({k: v for k, v in (sample or {}).items() if k in dynamic})
        sb = sample_dims(dim_names, "B")
        if second is not None:
            check_opsets(second, name + " (--second)")
            spec_b = _dims_of_inputs(second, inputs, name + " (--second)")
            for axes in spec_b.values():
                for w, d in axes:
                    if isinstance(w, str) and isinstance(d, int):
                        sb[w] = d
            if any(sa[d] == sb[d] for d in dim_names):
                same = [d for d in dim_names if sa[d] == sb[d]]
                raise GraphError(f"{name}: --second has the same size for {', '.join(same)}")
        fix = lambda s_: {i: [s_[w] if isinstance(w, str) else None for w, _ in axes]  # noqa
                          for i, axes in spec.items()}
        ga, conv = _one_pass(model, fix(sa), {}, name)
        gb, _ = _one_pass(second if second is not None else model, fix(sb), {}, name)
        try:
            g = merge_samples(ga, gb, sa, sb)
        except GraphError as e:
            raise GraphError(f"{name}: shapes/attributes differ between the two samples "
                             f"{sa} and {sb} in a way dims cannot express (a dim inside a "
                             f"product, or a size fixed by the export): {e}") from None
        used = dim_names
    else:
        sa = dict(sample or {})
        sa.update(static)
        if not sa and dim_names:
            sa = sample_dims(dim_names, "A")
        g, conv = _one_pass(model, {i: [sa.get(w) if isinstance(w, str) else None
                                        for w, _ in axes] for i, axes in spec.items()}, sa, name)
        used = [d for d in sa if any(d in t["shape"] for t in g["inputs"])]
    graph = {"format": "mase-graph", "version": 1, "name": name,
             "dims": {d: dims.get(d, 1) for d in used},
             "inputs": g["inputs"], "nodes": g["nodes"], "outputs": g["outputs"],
             "attrs": {"source": "masesim scripts/onnx_to_graph.py"}}
    apply_quant(graph, qc, conv.integer)
    # QDQ annotations win over the config
    for t in graph["inputs"]:
        if t["name"] in conv.prec_override:
            t["precision"] = dict(conv.prec_override[t["name"]])
    for nd in graph["nodes"]:
        if nd["name"] in conv.prec_override:
            nd["results"]["data_out_0"]["precision"] = dict(conv.prec_override[nd["name"]])
        for pname, p in nd.get("params", {}).items():
            if (nd["name"], pname) in conv.param_prec:
                p["precision"] = dict(conv.param_prec[(nd["name"], pname)])
    return graph


def load_onnx(path, label="onnx"):
    if not os.path.isfile(path):
        raise GraphError(f"{label}: no file '{path}'")
    try:
        return onnx.load(path)
    except Exception as e:
        raise GraphError(f"{label}: '{path}' is not an ONNX model: {type(e).__name__}: {e}") \
            from None


def main(argv=None):
    ap = argparse.ArgumentParser(description="ONNX -> mase-graph")
    ap.add_argument("onnx")
    ap.add_argument("--out", required=True)
    ap.add_argument("--input", action="append", default=[], metavar="NAME:SHAPE[:DTYPE]",
                    help="symbolic shape of a graph input, as for export_graph.py --module "
                    "(x:batch,seq,64): names which axes are which dims; dynamic axes are set "
                    "to two sample sizes and checked, static axes are the model's sizes")
    ap.add_argument("--second", metavar="FILE", help="the same model exported at other sizes "
                    "of the symbolic dims (second-sample check of a static export)")
    ap.add_argument("--sample", default=None,
                    help="historical: concrete sizes of the symbolic dims in a static export "
                    "(entries equal to a sample size are named by value, unchecked), e.g. "
                    "batch=5,seq=37")
    ap.add_argument("--dims", default="", help="default dim values written to the graph")
    ap.add_argument("--name", default=None)
    add_quant_args(ap)
    add_moe_args(ap)
    a = ap.parse_args(argv)
    try:
        qc = quant_from_args(a)
        specs = [parse_input_spec(t) for t in a.input]
        model = load_onnx(a.onnx)
        second = load_onnx(a.second, "--second") if a.second else None
        sample = parse_dims(a.sample) if a.sample else None
        if sample is None and not specs and not any(
                d.dim_param for i in model.graph.input for d in i.type.tensor_type.shape.dim):
            sample = dict(SAMPLE_A)
        g = convert_model(model, sample, parse_dims(a.dims), qc, a.name, inputs=specs or None,
                          second=second)
        if second is None and not any(d.dim_param for i in model.graph.input
                                      for d in i.type.tensor_type.shape.dim) and g["dims"]:
            print(f"onnx_to_graph: note: static export, dims {', '.join(g['dims'])} named by "
                  f"value without a second-sample check (export with dynamic_axes or pass "
                  f"--second)", file=sys.stderr)
        apply_moe_args(g, a)
        write_graph(g, a.out)
    except GraphError as e:
        print(f"onnx_to_graph: error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug here, not bad input: exit 3, still one line
        import traceback
        last = traceback.extract_tb(e.__traceback__)[-1]
        print(f"onnx_to_graph: internal error: {type(e).__name__}: {e} (at "
              f"{os.path.basename(last.filename)}:{last.lineno}; please report it with the "
              f"model)", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
