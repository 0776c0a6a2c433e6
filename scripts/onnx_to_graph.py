#!/usr/bin/python3
"""Convert an ONNX model (float or QDQ-quantized) to a masesim mase-graph.

    /usr/bin/python3 scripts/onnx_to_graph.py model.onnx --out model.json \
        --sample batch=5,seq=37 --dims batch=1,seq=128 [--quant-preset int8]

Shapes: the ONNX model should have static shapes (torch.onnx.export without
dynamic_axes, at sample sizes that are unusual primes). --sample says which
concrete sizes are which symbolic dims; every shape entry equal to a sample
value becomes the dim name (the same trick as export_graph.py). Inputs with
symbolic dim_params named like a --sample dim are fixed to the sample value
before ONNX shape inference.

Ops: MatMul (+ following bias Add) / Gemm -> linear when the right operand is a
constant, else matmul; Conv; Relu/Gelu/Tanh/Sigmoid; Softmax; LayerNormalization;
BatchNormalization; Add/Sub/Mul/Div (constant scalars become attr `scalar`);
Gather on a constant table -> embedding; MaxPool/AveragePool; Flatten; Reshape;
Transpose (a two-axis swap -> transpose, else permute). Identity, Dropout, Cast
and shape arithmetic (Shape, Gather/Unsqueeze/Concat on constants) are folded.

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
from mase_graph_common import (GraphError, QuantConfig,  # noqa: E402
                               apply_quant, parse_dims, write_graph)

FLOAT32 = {"type": "float", "width": 32}
IMPLICIT_OPS = {"view", "reshape", "flatten", "permute", "transpose", "dropout", "contiguous"}
INT_WIDTH = {onnx.TensorProto.INT8: 8, onnx.TensorProto.UINT8: 8, onnx.TensorProto.INT16: 16,
             onnx.TensorProto.UINT16: 16, onnx.TensorProto.INT32: 32}
INTEGER_TYPES = {onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.INT16,
                 onnx.TensorProto.INT8, onnx.TensorProto.UINT8, onnx.TensorProto.BOOL}


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


class Converter:
    def __init__(self, model, sample, name):
        self.sample = sample
        self.name = name
        for inp in model.graph.input:
            for d in inp.type.tensor_type.shape.dim:
                if d.dim_param and d.dim_param in sample:
                    v = sample[d.dim_param]
                    d.Clear()
                    d.dim_value = v
        try:
            model = shape_inference.infer_shapes(model)
        except Exception as e:
            raise GraphError(f"ONNX shape inference failed: {e}") from None
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
        self.values[out_name] = Tensor(name, shape, integer=integer)
        return node

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
            out = vals[0].astype(helper.tensor_dtype_to_np_dtype(self.attr(n, "to")))
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
        elif op == "Reshape":
            out = vals[0].reshape([int(x) for x in vals[1]])
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
        if c.value.size != 1:
            raise GraphError(f"{self.where(n)}: {op} with a non-scalar constant operand "
                             f"(shape {list(c.value.shape)}) is unsupported")
        if first and op in ("sub", "div"):
            raise GraphError(f"{self.where(n)}: scalar {op} with the constant first is unsupported")
        s = c.value.reshape(()).item()
        if isinstance(s, float) and s.is_integer() and np.issubdtype(c.value.dtype, np.integer):
            s = int(s)
        return self.emit(n, op, [t], n.output[0], attrs={"scalar": s})

    def convert(self, n):
        op = n.op_type
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
            if op == "Conv":
                x, w = self.tensor(n.input[0], n), self.get(n.input[1], n)
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
            if not isinstance(w, Const) or w.value.ndim != 4:
                raise GraphError(f"{self.where(n)}: only 2-D convolution with constant weights")
            pads = list(self.attr(n, "pads", [0, 0, 0, 0]))
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
        simple = {"Relu": "relu", "Gelu": "gelu", "Tanh": "tanh", "Sigmoid": "sigmoid"}
        if op in simple:
            return self.emit(n, simple[op], [self.tensor(n.input[0], n)], n.output[0])
        if op in ("Add", "Sub", "Mul", "Div"):
            return self.binary(n, op.lower())
        if op == "Gather":
            data, ids = self.get(n.input[0], n), self.get(n.input[1], n)
            if isinstance(data, Const) and isinstance(ids, Tensor) and data.value.ndim == 2 \
                    and self.attr(n, "axis", 0) == 0:
                return self.emit(n, "embedding", [ids], n.output[0],
                                 lambda nm: {"weight": self.param(nm, "weight", data)},
                                 name=self.scope_name(n))
            raise GraphError(f"{self.where(n)}: Gather on a computed tensor is unsupported")
        x = self.tensor(n.input[0], n)
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
        raise GraphError(f"unsupported ONNX op '{op}' at {self.where(n)}")

    def elem_width(self, name):
        return INT_WIDTH.get(self.elem.get(name), 8)


def convert_model(model, sample, dims, quant=None, name=None):
    """Convert a loaded onnx.ModelProto to a mase-graph dict."""
    name = name or model.graph.name or "onnx-model"
    conv = Converter(model, sample, name)
    g = conv.run()
    for k in dims:
        if k not in sample:
            raise GraphError(f"--dims: '{k}' has no --sample value")
    used = set()
    for t in g["inputs"]:
        used.update(d for d in t["shape"] if isinstance(d, str))
    graph = {"format": "mase-graph", "version": 1, "name": name,
             "dims": {d: dims.get(d, 1) for d in sample if d in used},
             "inputs": g["inputs"], "nodes": g["nodes"], "outputs": g["outputs"],
             "attrs": {"source": "masesim scripts/onnx_to_graph.py"}}
    qc = quant or QuantConfig({"default": FLOAT32}, "float32")
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


def main(argv=None):
    ap = argparse.ArgumentParser(description="ONNX -> mase-graph")
    ap.add_argument("onnx")
    ap.add_argument("--out", required=True)
    ap.add_argument("--sample", default="batch=5,seq=37",
                    help="concrete sizes of the symbolic dims in the ONNX shapes")
    ap.add_argument("--dims", default="", help="default dim values written to the graph")
    ap.add_argument("--name", default=None)
    q = ap.add_mutually_exclusive_group()
    q.add_argument("--quant")
    q.add_argument("--quant-preset")
    a = ap.parse_args(argv)
    try:
        qc = None
        if a.quant or a.quant_preset:
            qc = QuantConfig.load(a.quant, a.quant_preset)
        model = onnx.load(a.onnx)
        g = convert_model(model, parse_dims(a.sample), parse_dims(a.dims), qc, a.name)
        write_graph(g, a.out)
    except GraphError as e:
        print(f"onnx_to_graph: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
