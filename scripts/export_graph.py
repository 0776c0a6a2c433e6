#!/usr/bin/python3
"""Export a PyTorch nn.Module to a masesim mase-graph (docs/graph-format.md).

    /usr/bin/python3 scripts/export_graph.py --model opt-125m --quant-preset int8 \
        --dims batch=1,seq=128 --out workloads/graphs/opt125m_int8.json
    /usr/bin/python3 scripts/export_graph.py --module my_model.py:make \
        --input x:batch,seq,64 --dims seq=128 --quant my_quant.yaml --out my_model.json

How it works (docs/workloads.md has the long version):

1. torch.fx symbolic trace with a tracer that records, for every fx node, the
   path of the module whose forward created it and the user's source line (for
   names and error messages), and that unpacks tuple results on Python 3.11
   (`B, T, C = x.size()`, `q, k, v = x.chunk(3)`).
2. The traced graph is run on the ``meta`` device with sample inputs whose
   symbolic dims are unusual primes (pass A: batch=5, seq=37). Non-tensor values
   (x.size(), getattr shape, getitem on sizes, arithmetic on them) are folded into
   the consumers' attributes; ops on parameters only fold into constants.
3. The same is done again with other primes (pass B: batch=7, seq=43), and the two
   concrete graphs are merged entry by entry: equal entries are constants, entries
   that follow the samples are dims, anything else (a dim inside a product such as
   batch*heads) is an error naming the entry.
4. Decomposed RMSNorm / GELU / SiLU patterns are fused (a top-k gate written with
   plain torch ops is one topk_gate); a MASE-style quantization config sets every
   tensor's precision.
"""
import argparse
import dis
import inspect
import math
import operator
import os
import sys

import numpy as np

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mase_graph_common import (INDEX_PRECISION, SAMPLE_A, SAMPLE_B,  # noqa: E402,F401
                               GraphError, QuantConfig, add_quant_args, apply_quant,
                               first_difference, fuse_patterns, merge_samples, nearest, parse_dims,
                               parse_input_spec, quant_from_args, sample_dims, write_graph,
                               add_moe_args, apply_moe_args)

IMPLICIT_OPS = {"view", "reshape", "flatten", "permute", "transpose", "dropout", "contiguous"}

# MASE op for leaf modules: type -> op (params and attrs are read in module_node)
MODULE_OPS = {
    nn.Linear: "linear", nn.Conv2d: "conv2d", nn.Conv1d: "conv1d", nn.ReLU: "relu",
    nn.GELU: "gelu", nn.SiLU: "silu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid",
    nn.Softmax: "softmax", nn.LayerNorm: "layer_norm", nn.BatchNorm1d: "batch_norm",
    nn.BatchNorm2d: "batch_norm", nn.Embedding: "embedding", nn.MaxPool2d: "max_pool2d",
    nn.AvgPool2d: "avg_pool2d", nn.Flatten: "flatten", nn.Dropout: "dropout",
    nn.AdaptiveAvgPool2d: "adaptive_avg_pool2d", nn.ReLU6: "hardtanh", nn.Hardtanh: "hardtanh",
    nn.Hardswish: "hardswish", nn.Softplus: "softplus",
}
ELEMENTWISE_FUNCS = {
    F.relu: "relu", torch.relu: "relu", F.gelu: "gelu", F.silu: "silu", torch.tanh: "tanh",
    torch.sigmoid: "sigmoid", F.dropout: "dropout", F.hardswish: "hardswish", torch.exp: "exp",
    torch.erf: "erf", torch.sqrt: "sqrt", torch.rsqrt: "rsqrt", F.sigmoid: "sigmoid",
    F.tanh: "tanh",
}
BINARY_FUNCS = {
    operator.add: "add", torch.add: "add", operator.sub: "sub", torch.sub: "sub",
    operator.mul: "mul", torch.mul: "mul", operator.truediv: "div", torch.div: "div",
    operator.iadd: "add", operator.isub: "sub", operator.imul: "mul", operator.itruediv: "div",
}
BINARY_METHODS = {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "__add__": "add",
                  "__mul__": "mul", "__sub__": "sub", "__truediv__": "div", "add_": "add",
                  "mul_": "mul", "__iadd__": "add", "__imul__": "mul"}
ELEMENTWISE_METHODS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid",
                       "contiguous": "contiguous", "exp": "exp", "sqrt": "sqrt",
                       "rsqrt": "rsqrt", "erf": "erf"}
# value-preserving casts: the graph's precision comes from the quantization config
PASSTHROUGH_METHODS = {"to", "float", "half", "bfloat16", "double", "type_as", "clone",
                       "detach"}
SPLIT_OPS = {"chunk", "split", "unbind", "tensor_split"}

# What this exporter converts (for "nearest supported" in error messages).
SUPPORTED_TORCH = sorted(
    {t.__name__ for t in MODULE_OPS} | {"Identity", "MultiheadAttention"} |
    {_f.__name__ for _f in ELEMENTWISE_FUNCS} |
    {"add", "sub", "mul", "div", "matmul", "bmm", "softmax", "flatten", "transpose", "permute",
     "reshape", "view", "linear", "embedding", "mean", "pow", "cat", "chunk", "split",
     "unsqueeze", "squeeze",
     "unbind", "getitem", "size", "adaptive_avg_pool2d", "hardtanh", "relu6", "clamp",
     "softplus", "neg", "expand", "contiguous", "to", "layer_norm", "LSTM", "GRU"})


# The nearest supported ops of common unsupported ones (error messages).
UNSUPPORTED_HINTS = {
    "topk": "nearest supported: topk_gate, a TopKGate module (scripts/masesim_models.py): "
            "softmax over each row's top-k logits, zero elsewhere",
    "sort": "nearest supported: none; sorting is not a mase op",
    "argmax": "nearest supported: softmax; argmax is not a mase op",
    "cumsum": "nearest supported: selective_scan (a SelectiveScan module, "
              "scripts/masesim_models.py); cumsum is not a mase op",
    "gather": "nearest supported: embedding (rows of a parameter) or slice",
    "index_select": "nearest supported: embedding (rows of a parameter) or slice",
    "scatter": "nearest supported: topk_gate, a top-k gate's softmax weights scattered into "
               "zeros along the last dim (docs/workloads.md); scatter is not a mase op",
    "scatter_": "nearest supported: topk_gate, a top-k gate's softmax weights scattered into "
                "zeros along the last dim (docs/workloads.md); scatter is not a mase op",
    "RNN": "nearest supported: nn.GRU or nn.LSTM (ops gru, lstm), or linear + tanh (an "
           "unrolled cell)",
    "expand": "nearest supported: broadcasting add/sub/mul/div",
    "repeat": "nearest supported: cat, or broadcasting add/sub/mul/div",
    "masked_fill": "nearest supported: add of an additive mask given as a graph input; "
                   "masks add no MACs, so dropping them keeps the cost",
    "where": "nearest supported: add of an additive mask given as a graph input; masks add "
             "no MACs, so dropping them keeps the cost",
}


def _fname(target):
    return getattr(target, "__name__", str(target))


# Results of these calls are tuples of a known length (for `a, b = ...` where the
# bytecode is not an UNPACK_SEQUENCE, e.g. `for t in x.chunk(3)`).
def _known_arity(node):
    t = node.target
    name = _fname(t) if node.op != "call_method" else t
    args = node.args
    kw = node.kwargs
    if name == "chunk":
        c = args[1] if len(args) > 1 else kw.get("chunks")
        return c if isinstance(c, int) else None
    if name in ("split", "tensor_split"):
        s = args[1] if len(args) > 1 else kw.get("split_size_or_sections", kw.get("sections"))
        return len(s) if isinstance(s, (list, tuple)) else None
    if name in ("topk", "sort", "max", "min", "kthvalue", "mode", "median"):
        return 2
    return None


class _UnpackProxy(fx.Proxy):
    """torch 1.13's Proxy.__iter__ indexes the instruction list by f_lasti // 2, which
    is wrong on Python >= 3.11 (inline caches), so `a, b, c = x.size()` fails with
    'Proxy object cannot be iterated'. This one finds the instruction at f_lasti by its
    byte offset; UNPACK_SEQUENCE n (and UNPACK_EX) give the arity. Other iteration
    (a for loop over a chunk) uses the known arity of the producing op."""

    def __iter__(self):
        frame = inspect.currentframe().f_back
        n = None
        for inst in dis.get_instructions(frame.f_code):
            if inst.offset == frame.f_lasti:
                if inst.opname == "UNPACK_SEQUENCE":
                    n = inst.argval
                break
        if n is None:
            n = _known_arity(self.node)
        if n is None:       # `*x.shape[:-1]`: the length of the traced sample value
            shadow = getattr(self.tracer, "shadow", {}).get(self.node, _MISSING)
            if isinstance(shadow, (tuple, list)):
                n = len(shadow)
        if n is None:
            raise fx.proxy.TraceError(
                f"cannot iterate over the result of '{_fname(self.node.target)}' while "
                f"tracing: its length is unknown (unpack it into a fixed number of names, "
                f"e.g. a, b = ...)")
        return (self[i] for i in range(n))

    def __len__(self):
        """The length of a traced size tuple (`(*x.shape[:-1], -1)` asks for it); a
        tensor's len() stays untraceable."""
        shadow = getattr(self.tracer, "shadow", {}).get(self.node, _MISSING)
        if isinstance(shadow, (tuple, list)):
            return len(shadow)
        raise RuntimeError("'len' of a traced tensor is not supported; use x.size(0)")

    def __getattr__(self, k):
        return _UnpackAttribute(self, k)


class _UnpackAttribute(fx.proxy.Attribute):
    """`x.shape` etc.: an Attribute that unpacks like _UnpackProxy."""
    __iter__ = _UnpackProxy.__iter__
    __len__ = _UnpackProxy.__len__

    def __getattr__(self, k):
        return _UnpackAttribute(self, k)


_MISSING = object()
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_THIS_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_line(frame):
    """'file:line: code' of the innermost frame outside torch and these scripts."""
    while frame is not None:
        f = frame.f_code.co_filename
        if not f.startswith(_TORCH_DIR) and os.path.dirname(os.path.abspath(f)) != _THIS_DIR \
                and not f.startswith("<"):
            import linecache
            code = linecache.getline(f, frame.f_lineno).strip()
            return f"{os.path.relpath(f) if not os.path.isabs(f) else f}:{frame.f_lineno}" + \
                (f": {code}" if code else "")
        frame = frame.f_back
    return None


class ScopeTracer(fx.Tracer):
    """Records the module path that created each node (fx in torch 1.13 has no
    nn_module_stack for symbolic_trace) and the user's source line; knows the arity
    of tuple results (see _UnpackProxy)."""

    def __init__(self):
        super().__init__()
        self.stack = [""]
        self.scope = {}
        self.lines = {}
        self.last_line = None
        self.fail_scope = None
        self.sample_inputs = None       # {forward arg: sample tensor}, for _run_shadow
        self.shadow = {}
        self._in_shadow = False
        self.proxy_buffer_attributes = True     # self.bias[:, :, :T, :T] with traced T

    def is_leaf_module(self, m, qualname):
        if isinstance(m, nn.MultiheadAttention) or hasattr(type(m), "mase_op"):
            return True
        return super().is_leaf_module(m, qualname)

    def proxy(self, node):
        return _UnpackProxy(node, self)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if self._in_shadow:                 # _run_shadow: the real parameter
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def call_module(self, m, forward, args, kwargs):
        if self._in_shadow:                 # _run_shadow: run it, record nothing
            return forward(*args, **kwargs)
        self.stack.append(self.path_of_module(m))
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.fail_scope is None:
                self.fail_scope = self.stack[-1]        # the innermost module that failed
            raise
        finally:
            self.stack.pop()

    def _run_shadow(self, node):
        """The node's value on the sample inputs (meta tensors), computed while tracing,
        only to know the length of a traced tuple (`*x.shape[:-1]`); _MISSING when it
        cannot be computed (the arity is then unknown, an error, as before)."""
        self._in_shadow = True
        try:
            args, kwargs = fx.node.map_arg((node.args, node.kwargs), lambda a: self.shadow[a])
            with torch.no_grad():
                if node.op == "placeholder":
                    return self.sample_inputs[node.target]
                if node.op == "get_attr":
                    v = self.root
                    for part in node.target.split("."):
                        v = getattr(v, part)
                    return v
                if node.op == "call_function":
                    return node.target(*args, **kwargs)
                if node.op == "call_method":
                    return getattr(args[0], node.target)(*args[1:], **kwargs)
                if node.op == "call_module":
                    return self.root.get_submodule(node.target)(*args, **kwargs)
        except Exception:
            pass
        finally:
            self._in_shadow = False
        return _MISSING

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, *a, **k):
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr, *a, **k)
        if self.sample_inputs is not None:
            v = self._run_shadow(proxy.node)
            if v is not _MISSING:
                self.shadow[proxy.node] = v
        self.scope[proxy.node] = self.stack[-1]
        line = _user_line(inspect.currentframe().f_back)
        if line:
            self.lines[proxy.node] = line
            self.last_line = line
        return proxy


# Tensor factories whose size arguments may be traced values (torch.arange(t) with t =
# x.size(1)): torch's argument parser rejects a Proxy there, so they are wrapped while
# tracing and recorded as call_function nodes of the original function.
FACTORIES = ("arange", "ones", "zeros", "full", "empty", "eye")


class _Factories:
    def __init__(self, tracer):
        self.tracer = tracer
        self.saved = {}

    def __enter__(self):
        for name in FACTORIES:
            orig = getattr(torch, name)
            self.saved[name] = orig

            def wrapper(*args, _orig=orig, **kwargs):
                found = []
                fx.node.map_aggregate((args, kwargs), lambda a: found.append(a)
                                      if isinstance(a, fx.Proxy) else None)
                if found:
                    return self.tracer.create_proxy("call_function", _orig, args, kwargs)
                return _orig(*args, **kwargs)
            setattr(torch, name, wrapper)
        return self

    def __exit__(self, *exc):
        for name, orig in self.saved.items():
            setattr(torch, name, orig)
        return False


def trace(model, model_name, sample_inputs=None):
    tracer = ScopeTracer()
    tracer.sample_inputs = sample_inputs
    try:
        with _Factories(tracer):
            graph = tracer.trace(model)
    except GraphError:
        raise
    except Exception as e:  # fx cannot trace data-dependent control flow etc.
        tb = sys.exc_info()[2]
        while tb.tb_next is not None:
            tb = tb.tb_next
        where = _user_line(tb.tb_frame) or tracer.last_line
        scope = tracer.fail_scope or ""
        raise GraphError(f"torch.fx could not trace {model_name}"
                         f"{f' in module {scope!r}' if scope else ''}"
                         f"{f' at {where}' if where else ''}: {type(e).__name__}: {e}") from None
    gm = fx.GraphModule(tracer.root, graph)
    _eliminate_dead_code(gm.graph)      # unused results (r0 of r0, r1 = x.unbind(1))
    return gm, tracer.scope, tracer.lines


def _eliminate_dead_code(graph):
    """fx's dead-code elimination, keeping in-place scatters (`gates.scatter_(-1, idx, w)`
    as a statement: its result is unused, its effect is on `gates`), so that a top-k gate
    written so is seen (_Builder.find_gates) or is an error, never silently zeros."""
    graph.lint()
    for node in reversed(graph.nodes):
        if not node.users and not node.is_impure() and \
                not (node.op == "call_method" and node.target == "scatter_"):
            graph.erase_node(node)


class _Recorder(fx.Interpreter):
    def __init__(self, gm):
        super().__init__(gm)
        self.values = {}

    def run_node(self, n):
        v = super().run_node(n)
        self.values[n] = v
        return v


class _Const:
    """A tensor that is no graph data: a parameter/buffer, or computed from them only
    (expand of a class token, a slice of a position table). `base` is what a node
    stores as its parameter (an expand's input, since binary ops and cat broadcast)."""

    def __init__(self, base, source):
        self.base = base
        self.source = source


class _Split:
    """A tuple of slices of one tensor (chunk/split/unbind): per item (dim, start, end,
    squeeze)."""

    def __init__(self, src, items):
        self.src = src
        self.items = items


class _Builder:
    def __init__(self, gm, scope, lines, values, sample, model_name):
        self.gm = gm
        self.scope = scope
        self.lines = lines
        self.values = values
        self.sample = sample
        self.model_name = model_name
        self.modules = dict(gm.named_modules())
        self.ref = {}           # fx node -> mase reference (tensor producers)
        self.consts = {}        # fx node -> _Const
        self.splits = {}        # fx node -> _Split
        self.mha_out = {}       # fx node of a MultiheadAttention -> its output's node
        self.rnn_out = {}       # fx node of an LSTM/GRU -> its output sequence's node
        self.unexported = {}    # fx node -> why it has no mase node (an LSTM's h_n, c_n)
        self.names = set()
        self.counters = {}
        self.nodes = []
        self.inputs = []
        self.integer = set()
        self.param_owner = {}   # id(Parameter) -> "node.param" of first use
        self.gates = {}         # fx scatter node -> (logits node, k, zeros node): topk_gate
        self.absorbed = set()   # fx nodes of those gates' patterns (no mase node)

    # --- helpers -----------------------------------------------------------
    def where(self, n):
        s = self.scope.get(n, "")
        w = f"module '{s}'" if s else "the top-level module"
        line = self.lines.get(n)
        return f"{w} at {line}" if line else w

    def unsupported(self, n, what, hint=None):
        key = what.split(" ")[0].split(".")[-1]
        hint = hint or UNSUPPORTED_HINTS.get(key)
        near = nearest(key, SUPPORTED_TORCH) if hint is None else f" ({hint})"
        raise GraphError(f"unsupported PyTorch op '{what}' ({n.op} {n.name}) in {self.where(n)} "
                         f"of {self.model_name}{near}")

    def _hint(self, key):
        h = UNSUPPORTED_HINTS.get(key)
        return f" ({h})" if h else nearest(key, SUPPORTED_TORCH)

    def sym_dim(self, v):
        for name, s in self.sample.items():
            if v == s:
                return name
        return int(v)

    def sym_shape(self, shape):
        return [self.sym_dim(int(d)) for d in shape]

    def unique(self, base):
        name = base
        k = 1
        while name in self.names:
            name = f"{base}_{k}"
            k += 1
        self.names.add(name)
        return name

    def auto_name(self, n, op):
        s = self.scope.get(n, "")
        key = (s, op)
        c = self.counters.get(key, 0)
        self.counters[key] = c + 1
        base = op if c == 0 else f"{op}_{c}"
        return self.unique(f"{s}.{base}" if s else base)

    def scoped(self, n, suffix):
        s = self.scope.get(n, "")
        return self.unique(f"{s}.{suffix}" if s else suffix)

    def concrete(self, a):
        """Fold non-tensor fx values (sizes, ints) into Python constants."""
        if isinstance(a, fx.Node):
            v = self.values[a]
            if isinstance(v, torch.Tensor) or a in self.splits:
                return a
            return v
        if isinstance(a, (list, tuple)):
            return type(a)(self.concrete(x) for x in a)
        if isinstance(a, slice):
            return slice(self.concrete(a.start), self.concrete(a.stop), self.concrete(a.step))
        return a

    def is_const(self, a):
        return isinstance(a, fx.Node) and a in self.consts

    def tensor_arg(self, n, a):
        if isinstance(a, fx.Node) and a in self.unexported:
            raise GraphError(self.unexported[a])
        if not isinstance(a, fx.Node) or not isinstance(self.values.get(a), torch.Tensor):
            raise GraphError(f"expected a tensor operand in {n.name} ({self.where(n)})")
        if a not in self.ref:
            if a in self.consts:
                raise GraphError(f"unsupported: parameter/buffer '{self.consts[a].source}' used "
                                 f"as a data operand of '{_fname(n.target)}' in {self.where(n)} "
                                 f"of {self.model_name}; a constant operand is supported by "
                                 f"add/sub/mul/div (param 'other') and cat (first operand)")
            raise GraphError(f"internal: {a.name} has no mase node")
        return self.ref[a]

    def ndim(self, n):
        return self.values[n].dim()

    def norm_dim(self, d, rank):
        return d + rank if d < 0 else d

    def param(self, node_name, pname, t):
        entry = {"shape": self.sym_shape(t.shape) if pname == "other"
                 else [int(d) for d in t.shape]}
        key = id(t)
        if key in self.param_owner:
            entry["shared_with"] = self.param_owner[key]
        else:
            self.param_owner[key] = f"{node_name}.{pname}"
        return entry

    def emit(self, n, op, data, params=None, attrs=None, name=None, value=None):
        v = self.values[n] if value is None else value
        if not isinstance(v, torch.Tensor):
            self.unsupported(n, f"{op} with non-tensor result")
        name = name or self.auto_name(n, op)
        node = {"name": name, "op": op,
                "args": {f"data_in_{i}": r for i, r in enumerate(data)},
                "results": {"data_out_0": {"shape": self.sym_shape(v.shape)}}}
        if params:
            node["params"] = {}
            for k, t in params.items():
                node["params"][k] = self.param(name, k, t)
                node["params"][k]["_tensor"] = t      # popped by export_module
        if attrs:
            node["attrs"] = attrs
        if op in IMPLICIT_OPS:
            node["implicit"] = True
        if not v.is_floating_point():
            self.integer.add(name)
        self.nodes.append(node)
        if value is None:
            self.ref[n] = name
        return node

    # --- per fx node -------------------------------------------------------
    def build(self):
        outputs = []
        self.find_gates()
        for n in self.gm.graph.nodes:
            if n.op == "placeholder":
                v = self.values[n]
                if not isinstance(v, torch.Tensor):
                    raise GraphError(f"input '{n.target}' is not a tensor")
                name = self.unique(n.target)
                self.inputs.append({"name": name, "shape": self.sym_shape(v.shape)})
                if not v.is_floating_point():
                    self.integer.add(name)
                self.ref[n] = name
            elif n.op == "get_attr":
                if isinstance(self.values[n], torch.Tensor):
                    self.consts[n] = _Const(self.values[n], n.target)
            elif n.op == "output":
                flat = []
                fx.node.map_arg(n.args[0], flat.append)
                for o in flat:
                    if o in self.rnn_out:
                        m = self.modules[o.target]
                        line = self.lines.get(o, "an unknown line")
                        raise GraphError(
                            f"unsupported: the output of {type(m).__name__} '{o.target}' is "
                            f"returned whole (output, final state) at {line} in "
                            f"{self.model_name}; only its output sequence "
                            f"(item 0) is exported (nearest supported: `out, _ = rnn(x)`)")
                    if isinstance(self.values.get(o), torch.Tensor):
                        outputs.append(self.tensor_arg(n, o))
            elif n in self.absorbed:
                continue
            elif n in self.gates:
                self.topk_gate(n)
            elif self.const_node(n):
                continue
            elif n.op == "call_function" and n.target is operator.getitem and \
                    self.getitem(n):
                continue
            elif not isinstance(self.values[n], torch.Tensor):
                v = self.values[n]
                if isinstance(v, (tuple, list)) and any(isinstance(x, torch.Tensor) for x in v):
                    self.tuple_node(n)
                continue
            elif n.op == "call_module":
                self.module_node(n)
            elif n.op == "call_function":
                self.function_node(n)
            elif n.op == "call_method":
                self.method_node(n)
            else:
                self.unsupported(n, n.op)
        return outputs

    def const_node(self, n):
        """An op whose tensor operands are all constants is folded into a constant."""
        if n.op not in ("call_function", "call_method", "call_module") or \
                not isinstance(self.values[n], torch.Tensor):
            return False
        tensors = []
        fx.node.map_arg((n.args, n.kwargs), lambda a: tensors.append(a)
                        if isinstance(self.values.get(a), torch.Tensor) else None)
        name = n.target if n.op != "call_function" else _fname(n.target)
        if not tensors:
            if n.op != "call_function" or n.target in (operator.getitem,):
                return False
            # a factory (torch.arange(t), torch.ones(...)): a constant
            self.consts[n] = _Const(self.values[n], f"{name}(...)")
            return True
        if not all(a in self.consts for a in tensors):
            return False
        first = self.consts[tensors[0]]
        if name in ("expand", "expand_as") and len(tensors) <= 2:
            self.consts[n] = _Const(first.base, first.source)        # broadcast: keep base
        else:
            self.consts[n] = _Const(self.values[n], f"{name}({first.source})")
        return True

    def tuple_node(self, n):
        name = n.target if n.op == "call_method" else _fname(n.target)
        if n.op == "call_module":
            m = self.modules[n.target]
            if isinstance(m, nn.MultiheadAttention):
                return self.mha(n, m)
            if isinstance(m, (nn.LSTM, nn.GRU)):
                return self.rnn(n, m)
            raise GraphError(f"unsupported PyTorch op '{type(m).__module__}.{type(m).__name__}' "
                             f"(module '{n.target}', several outputs) at "
                             f"{self.lines.get(n, 'an unknown line')} in {self.model_name}"
                             f"{self._hint(type(m).__name__)}")
        if name in SPLIT_OPS:
            return self.split(n, name)
        self.unsupported(n, name)

    def split(self, n, name):
        x = n.args[0]
        if x in self.consts:
            self.unsupported(n, f"{name} of a parameter")
        self.tensor_arg(n, x)
        rest = list(self.concrete(n.args[1:]))
        kw = {k: self.concrete(v) for k, v in n.kwargs.items()}
        shape = list(self.values[x].shape)
        rank = len(shape)
        # the items' sizes come from the recorded results; only the dim is read here
        if name == "unbind":
            dim = rest[0] if rest else kw.get("dim", 0)
        else:
            dim = rest[1] if len(rest) > 1 else kw.get("dim", 0)
        dim = self.norm_dim(dim, rank)
        outs = self.values[n]
        items, start = [], 0
        for o in outs:
            size = o.shape[dim] if o.dim() == rank else 1
            items.append((dim, start, start + size, name == "unbind"))
            start += size
        self.splits[n] = _Split(x, items)

    def getitem(self, n):
        """getitem of a split tuple or a tensor index. True when handled."""
        src, idx = n.args[0], self.concrete(n.args[1])
        if src in self.unexported:
            self.unexported[n] = self.unexported[src]
            return True
        if src in self.rnn_out:
            if idx == 0:
                self.ref[n] = self.rnn_out[src]
            else:
                m = self.modules[src.target]
                line = self.lines.get(n, "an unknown line")
                state = "h_n, c_n" if isinstance(m, nn.LSTM) else "h_n"
                self.unexported[n] = (
                    f"unsupported: the final state ({state}) of {type(m).__name__} "
                    f"'{src.target}' is used at {line} in {self.model_name}; only its output "
                    f"sequence (item 0) is "
                    f"exported (nearest supported: slice the output's last step, out[:, -1])")
            return True
        if src in self.mha_out:
            if idx != 0 and self.values[n] is None:
                return True             # need_weights=False: no attention weights
            if idx != 0:
                self.unsupported(n, "MultiheadAttention attention weights",
                                 "only the attention output (item 0) is exported")
            self.ref[n] = self.mha_out[src]
            return True
        if src in self.splits:
            sp = self.splits[src]
            dim, start, end, squeeze = sp.items[idx]
            return self._slices(n, sp.src, [(dim, start, end)],
                                squeeze=[dim] if squeeze else [])
        if not isinstance(self.values.get(src), torch.Tensor) or src in self.consts:
            return False
        if isinstance(self.values.get(src), torch.Tensor) and \
                not isinstance(self.values[n], torch.Tensor):
            return False
        idx = idx if isinstance(idx, tuple) else (idx,)
        shape = list(self.values[src].shape)
        if any(isinstance(i, (fx.Node, torch.Tensor, list)) for i in idx):
            self.unsupported(n, "getitem with a tensor index", "only ints, slices, None and "
                             "... index a tensor; gather/scatter are not mase ops")
        n_real = sum(1 for i in idx if i is not None and i is not Ellipsis)
        d = 0
        slices, squeeze, unsq, neg = [], [], 0, {}
        for i in idx:
            if i is Ellipsis:
                d += len(shape) - n_real
                continue
            if i is None:
                unsq += 1
                continue
            size = shape[d]
            if isinstance(i, int):
                k = i + size if i < 0 else i
                slices.append((d, k, k + 1))
                squeeze.append(d)
                if i < 0:
                    neg[(d, "start")] = neg[(d, "end")] = True
            elif isinstance(i, slice):
                if i.step not in (None, 1):
                    self.unsupported(n, "getitem with a step", "slice steps are not mase ops")
                a, b, _ = i.indices(size)
                if (a, b) != (0, size):
                    slices.append((d, a, b))
                    neg[(d, "start")] = i.start is not None and i.start < 0
                    neg[(d, "end")] = i.stop is not None and i.stop < 0
            else:
                self.unsupported(n, f"getitem with index {i!r}")
            d += 1
        return self._slices(n, src, slices, squeeze=squeeze, reshape=bool(unsq), neg=neg)

    def _slices(self, n, src, slices, squeeze=(), reshape=False, neg=None):
        neg = neg or {}
        ref = self.tensor_arg(n, src)
        cur = self.values[src]
        if not slices and not squeeze and not reshape:
            self.ref[n] = ref
            return True
        for k, (dim, a, b) in enumerate(slices):
            idx = [slice(None)] * cur.dim()
            idx[dim] = slice(a, b)
            cur = cur[tuple(idx)]
            last = k == len(slices) - 1 and not squeeze and not reshape
            # from the end when written so (x[:, -1]): independent of a symbolic size
            size = self.values[src].shape[dim]
            attrs = {"dim": dim, "start": a - size if neg.get((dim, "start")) else a}
            if b != size:
                attrs["end"] = b - size if neg.get((dim, "end")) else b
            node = self.emit(n, "slice", [ref], attrs=attrs, value=None if last else cur)
            ref = node["name"]
        if squeeze or reshape:
            self.emit(n, "reshape", [ref], attrs={"shape": self.sym_shape(self.values[n].shape)})
        return True

    def mha(self, n, m):
        """nn.MultiheadAttention (self-attention, batch_first or not, no masks) as MASE
        ops: in_proj linear [..., 3E], three slices, head view/transposes, matmul,
        scale, softmax, matmul, merge, out_proj linear."""
        kw = dict(n.kwargs)
        args = list(n.args)
        q, k, v = (args + [None] * 3)[:3]
        q = q if q is not None else kw.pop("query", None)
        k = k if k is not None else kw.pop("key", None)
        v = v if v is not None else kw.pop("value", None)
        for key in ("key_padding_mask", "attn_mask"):
            if kw.get(key) is not None:
                self.unsupported(n, f"MultiheadAttention with {key}", "masks add no MACs; "
                                 "drop them for the export")
        if not (q is k is v) or m._qkv_same_embed_dim is False or m.bias_k is not None or \
                m.in_proj_bias is None:
            self.unsupported(n, "MultiheadAttention other than self-attention with one "
                             "in_proj and biases")
        path = n.target
        x = self.values[q]
        E, H = m.embed_dim, m.num_heads
        hd = E // H
        if not m.batch_first:
            x_b = x.transpose(0, 1)
        else:
            x_b = x
        ref = self.tensor_arg(n, q)
        B, S = x_b.shape[0], x_b.shape[1]
        meta = dict(device=x.device, dtype=x.dtype)

        def val(*shape):
            return torch.empty(*shape, **meta)
        if not m.batch_first:
            ref = self.emit(n, "transpose", [ref], attrs={"dim0": 0, "dim1": 1},
                            name=self.unique(f"{path}.transpose_in"), value=x_b)["name"]
        qkv = self.emit(n, "linear", [ref], {"weight": m.in_proj_weight, "bias": m.in_proj_bias},
                        name=self.unique(f"{path}.in_proj"), value=val(B, S, 3 * E))["name"]
        heads = []
        for i, nm in enumerate("qkv"):
            s = self.emit(n, "slice", [qkv], attrs={"dim": 2, "start": i * E, "end": (i + 1) * E},
                          name=self.unique(f"{path}.{nm}"), value=val(B, S, E))["name"]
            vw = self.emit(n, "view", [s], attrs={"shape": self.sym_shape([B, S, H, hd])},
                           name=self.unique(f"{path}.{nm}_view"), value=val(B, S, H, hd))["name"]
            heads.append(self.emit(n, "transpose", [vw], attrs={"dim0": 1, "dim1": 2},
                                   name=self.unique(f"{path}.{nm}_heads"),
                                   value=val(B, H, S, hd))["name"])
        kt = self.emit(n, "transpose", [heads[1]], attrs={"dim0": 2, "dim1": 3},
                       name=self.unique(f"{path}.k_t"), value=val(B, H, hd, S))["name"]
        sc = self.emit(n, "matmul", [heads[0], kt], name=self.unique(f"{path}.scores"),
                       value=val(B, H, S, S))["name"]
        sc = self.emit(n, "mul", [sc], attrs={"scalar": float(hd) ** -0.5},
                       name=self.unique(f"{path}.scale"), value=val(B, H, S, S))["name"]
        pr = self.emit(n, "softmax", [sc], attrs={"dim": 3}, name=self.unique(f"{path}.softmax"),
                       value=val(B, H, S, S))["name"]
        ctx = self.emit(n, "matmul", [pr, heads[2]], name=self.unique(f"{path}.context"),
                        value=val(B, H, S, hd))["name"]
        ctx = self.emit(n, "transpose", [ctx], attrs={"dim0": 1, "dim1": 2},
                        name=self.unique(f"{path}.merge_t"), value=val(B, S, H, hd))["name"]
        ctx = self.emit(n, "reshape", [ctx], attrs={"shape": self.sym_shape([B, S, E])},
                        name=self.unique(f"{path}.merge"), value=val(B, S, E))["name"]
        out = self.emit(n, "linear", [ctx], {"weight": m.out_proj.weight, "bias": m.out_proj.bias},
                        name=self.unique(f"{path}.out_proj"), value=val(B, S, E))["name"]
        if not m.batch_first:
            out = self.emit(n, "transpose", [out], attrs={"dim0": 0, "dim1": 1},
                            name=self.unique(f"{path}.transpose_out"), value=x)["name"]
        # (attn_output, attn_weights): item 0 is the output; weights are not produced
        self.mha_out[n] = out

    def rnn(self, n, m):
        """nn.LSTM / nn.GRU as one lstm / gru node per layer (one direction, no initial
        state): the output sequence only."""
        kind = "lstm" if isinstance(m, nn.LSTM) else "gru"
        where = f"{type(m).__name__} '{n.target}' at {self.lines.get(n, 'an unknown line')} " \
                f"in {self.model_name}"
        if m.bidirectional:
            raise GraphError(f"unsupported: bidirectional {where} (nearest supported: two "
                             f"{kind} modules, one on the reversed sequence)")
        if getattr(m, "proj_size", 0):
            raise GraphError(f"unsupported: proj_size in {where}")
        if len(n.args) != 1 or n.kwargs:
            raise GraphError(f"unsupported: an initial state passed to {where} (nearest "
                             f"supported: {kind} from a zero state)")
        ref = self.tensor_arg(n, n.args[0])
        out = self.values[n][0]
        for layer in range(m.num_layers):
            params = {"weight_ih": getattr(m, f"weight_ih_l{layer}"),
                      "weight_hh": getattr(m, f"weight_hh_l{layer}")}
            if m.bias:
                params["bias_ih"] = getattr(m, f"bias_ih_l{layer}")
                params["bias_hh"] = getattr(m, f"bias_hh_l{layer}")
            last = layer == m.num_layers - 1
            name = self.unique(n.target if m.num_layers == 1 else f"{n.target}.l{layer}")
            node = self.emit(n, kind, [ref], params, {"batch_first": bool(m.batch_first)},
                             name=name, value=out)
            ref = node["name"]
            if last:
                self.rnn_out[n] = ref

    # --- top-k gates written with plain torch ops ----------------------------
    def find_gates(self):
        """Top-k gating written with plain torch ops, one topk_gate each (as
        onnx_to_graph.py imports it from ONNX): a scatter along the last dim, indices
        from `w, idx = torch.topk(t, k, dim=-1)`, into zeros of the logits' shape
        (torch.zeros_like, Tensor.new_zeros, torch.zeros; Tensor.scatter, scatter_ or
        torch.scatter), of w = softmax(w, -1) with t = logits, or (Mixtral) of
        w = w / w.sum(-1, keepdim=True) with t = softmax(logits, -1). Every
        intermediate is used by the pattern only (the zeros of an in-place scatter_ also
        after it); the pattern's nodes are absorbed. Any other topk is not matched and
        stays unsupported (its error names the op, module and line)."""
        for n in self.gm.graph.nodes:
            found = self._gate(n)
            if found is not None:
                logits, k, zeros, absorbed = found
                self.gates[n] = (logits, k, zeros)
                self.absorbed.update(absorbed)

    def _gate(self, s):
        """(logits, k, zeros, absorbed nodes) when s is the scatter of a gate, else None."""
        def calls(n, funcs, methods=()):
            return isinstance(n, fx.Node) and (
                n.op == "call_function" and n.target in funcs or
                n.op == "call_method" and n.target in methods)

        def arg(n, i, key, default=None):
            return self.concrete(n.args[i] if len(n.args) > i else n.kwargs.get(key, default))

        def last_dim(d, ref):        # d (an int or a one-item list) is ref's last dim
            if isinstance(d, (list, tuple)) and len(d) == 1:
                d = d[0]
            r = self.values[ref].dim()
            return isinstance(d, int) and not isinstance(d, bool) and r > 0 and \
                -r <= d < r and d % r == r - 1

        def softmax_input(n):        # x of softmax(x) over the last dim, else None
            if calls(n, (torch.softmax, F.softmax), ("softmax",)):
                if len(n.args) > 2 or set(n.kwargs) - {"dim", "dtype", "_stacklevel"}:
                    return None
                x, d = n.args[0], arg(n, 1, "dim")
            elif n.op == "call_module" and isinstance(self.modules.get(n.target), nn.Softmax) \
                    and len(n.args) == 1 and not n.kwargs:
                x, d = n.args[0], self.modules[n.target].dim
            else:
                return None
            return x if isinstance(x, fx.Node) and d is not None and last_dim(d, x) else None

        if not calls(s, (torch.scatter,), ("scatter", "scatter_")) or len(s.args) > 4 or \
                set(s.kwargs) - {"dim", "index", "src"} or not s.args:
            return None
        zeros, idx, src = s.args[0], arg(s, 2, "index"), arg(s, 3, "src")
        if not all(isinstance(a, fx.Node) for a in (zeros, idx, src)) or \
                not last_dim(arg(s, 1, "dim"), zeros):
            return None
        # idx = topk(t, k, dim=-1, largest=True)[1], used by this scatter only
        if not calls(idx, (operator.getitem,)) or idx.args[1] != 1 or list(idx.users) != [s]:
            return None
        topk = idx.args[0]
        if not calls(topk, (torch.topk,), ("topk",)) or len(topk.args) > 5 or \
                set(topk.kwargs) - {"k", "dim", "largest", "sorted"}:
            return None
        t, k = topk.args[0], arg(topk, 1, "k")
        if not isinstance(t, fx.Node) or not last_dim(arg(topk, 2, "dim", -1), t) or \
                arg(topk, 3, "largest", True) is not True or \
                isinstance(k, bool) or not isinstance(k, int) or \
                not 1 <= k <= self.values[t].shape[-1]:
            return None
        items = list(topk.users)
        vals = [u for u in items if calls(u, (operator.getitem,)) and u.args[1] == 0]
        if len(vals) != 1 or len(items) != 2 or idx not in items:
            return None
        vals = vals[0]
        if softmax_input(src) is vals and list(vals.users) == [src] and \
                list(src.users) == [s]:
            logits, absorbed = t, [topk, vals, idx, src]
        elif calls(src, (operator.truediv, operator.itruediv, torch.div),
                   ("div", "__truediv__")) and not src.kwargs and len(src.args) == 2 and \
                src.args[0] is vals and list(src.users) == [s]:
            # Mixtral: w / w.sum(-1, keepdim=True) of the top-k of softmax(logits, -1)
            sm = src.args[1]
            if not calls(sm, (torch.sum,), ("sum",)) or sm.args[0] is not vals or \
                    len(sm.args) > 3 or set(sm.kwargs) - {"dim", "keepdim", "dtype"} or \
                    list(sm.users) != [src] or set(vals.users) != {sm, src} or \
                    not last_dim(arg(sm, 1, "dim"), vals) or \
                    arg(sm, 2, "keepdim", False) is not True:
                return None
            logits = softmax_input(t)
            # t is read by the topk only (and for its shape etc.: t.shape, t.size(), t.dtype,
            # t.device, zeros_like(t))
            meta = (torch.Size, int, torch.dtype, torch.device)
            if logits is None or any(u is not topk and u is not zeros and
                                     not isinstance(self.values.get(u), meta) for u in t.users):
                return None
            absorbed = [t, topk, vals, idx, sm, src]
        else:
            return None
        # zeros of the logits' shape, used by this scatter only (an in-place scatter_:
        # its other users come after it and read the gate)
        if not (calls(zeros, (torch.zeros_like, torch.zeros), ("new_zeros",))) or \
                list(self.values[zeros].shape) != list(self.values[logits].shape):
            return None
        if s.target == "scatter_":
            order = {n: i for i, n in enumerate(self.gm.graph.nodes)}
            if any(order[u] < order[s] for u in zeros.users):
                return None
        elif list(zeros.users) != [s]:
            return None
        return logits, k, zeros, absorbed + [zeros]

    def topk_gate(self, n):
        logits, k, zeros = self.gates[n]
        node = self.emit(n, "topk_gate", [self.tensor_arg(n, logits)], attrs={"top_k": k})
        if n.target == "scatter_":          # the zeros now hold the gate
            self.ref[zeros] = node["name"]

    def _project_op(self, n, m):
        """A module that declares itself one mase op (class attribute `mase_op`, method
        `mase_node()` -> (params, attrs)): scripts/masesim_models.py's TopKGate,
        MoeExperts and SelectiveScan."""
        if n.kwargs:
            self.unsupported(n, f"{type(m).__name__} with keyword arguments")
        params, attrs = m.mase_node()
        self.emit(n, m.mase_op, [self.tensor_arg(n, a) for a in n.args], params, attrs,
                  name=self.unique(n.target))

    def _hardsigmoid(self, n, x, name=None):
        """hardsigmoid(x) = relu6(x + 3) / 6 = clamp(x / 6 + 1/2, 0, 1): three MASE ops."""
        base = self.unique(name) if name else self.auto_name(n, "hardsigmoid")
        a = self.emit(n, "mul", [self.tensor_arg(n, x)], attrs={"scalar": 1.0 / 6.0},
                      name=self.unique(f"{base}.scale"), value=self.values[n])["name"]
        b = self.emit(n, "add", [a], attrs={"scalar": 0.5}, name=self.unique(f"{base}.shift"),
                      value=self.values[n])["name"]
        return self.emit(n, "hardtanh", [b], attrs={"min_val": 0.0, "max_val": 1.0}, name=base)

    def module_node(self, n):
        m = self.modules[n.target]
        op = MODULE_OPS.get(type(m))
        if isinstance(m, nn.Identity):
            self.ref[n] = self.tensor_arg(n, n.args[0])
            return
        if isinstance(m, nn.Hardsigmoid):
            return self._hardsigmoid(n, n.args[0], name=n.target)
        if hasattr(type(m), "mase_op"):
            return self._project_op(n, m)
        if op is None:
            raise GraphError(f"unsupported PyTorch op '{type(m).__module__}.{type(m).__name__}' "
                             f"(module '{n.target}') at {self.lines.get(n, 'an unknown line')} "
                             f"in {self.model_name}{self._hint(type(m).__name__)}")
        if n.kwargs or len(n.args) != 1:
            self.unsupported(n, f"{type(m).__name__} with extra arguments")
        x = self.tensor_arg(n, n.args[0])
        params, attrs = {}, {}
        if op in ("linear", "conv2d", "conv1d", "layer_norm", "batch_norm", "embedding"):
            if getattr(m, "weight", None) is not None:
                params["weight"] = m.weight
            if getattr(m, "bias", None) is not None:
                params["bias"] = m.bias
        if op in ("conv2d", "conv1d"):
            if isinstance(m.padding, str) or m.padding_mode != "zeros":
                self.unsupported(n, f"{type(m).__name__} padding={m.padding!r} "
                                 f"mode={m.padding_mode}")
            if op == "conv2d":
                attrs = {"stride": list(m.stride), "padding": list(m.padding),
                         "dilation": list(m.dilation), "groups": m.groups}
            else:
                attrs = {"stride": m.stride[0], "padding": m.padding[0],
                         "dilation": m.dilation[0], "groups": m.groups}
        elif op == "layer_norm":
            attrs = {"normalized_shape": list(m.normalized_shape), "eps": m.eps}
        elif op == "batch_norm":
            if m.running_mean is None:
                self.unsupported(n, "BatchNorm without running stats")
            params["running_mean"] = m.running_mean
            params["running_var"] = m.running_var
            attrs = {"eps": m.eps}
        elif op == "softmax":
            attrs = {"dim": self.norm_dim(m.dim, self.ndim(n))}
        elif op in ("max_pool2d", "avg_pool2d"):
            pair = lambda v: list(v) if isinstance(v, (tuple, list)) else [v, v]  # noqa: E731
            if op == "max_pool2d" and (m.dilation not in (1, (1, 1)) or m.ceil_mode):
                self.unsupported(n, "MaxPool2d with dilation/ceil_mode")
            attrs = {"kernel_size": pair(m.kernel_size),
                     "stride": pair(m.stride if m.stride is not None else m.kernel_size),
                     "padding": pair(m.padding)}
        elif op == "flatten":
            r = self.ndim(n.args[0])
            attrs = {"start_dim": self.norm_dim(m.start_dim, r),
                     "end_dim": self.norm_dim(m.end_dim, r)}
        elif op == "embedding" and (m.max_norm is not None):
            self.unsupported(n, "Embedding with max_norm")
        elif op == "adaptive_avg_pool2d":
            attrs = {"output_size": [int(d) for d in self.values[n].shape[-2:]]}
        elif op == "hardtanh":
            attrs = {"min_val": float(m.min_val), "max_val": float(m.max_val)}
        elif op == "softplus":
            attrs = {"beta": float(m.beta), "threshold": float(m.threshold)}
        elif op == "gelu" and getattr(m, "approximate", "none") != "none":
            attrs = self._gelu_attrs(n, m.approximate)
        self.emit(n, op, [x], params, attrs, name=self.unique(n.target))

    def _gelu_attrs(self, n, approximate):
        """GELU's form: erf (no attribute) or 'tanh' (GPT-2's gelu_new)."""
        if approximate == "tanh":
            return {"approximate": "tanh"}
        if approximate in (None, "none"):
            return {}
        self.unsupported(n, f"gelu with approximate={approximate!r}", "supported: approximate='none' or 'tanh'")

    def _param_of(self, n, a):
        if isinstance(a, fx.Node) and a.op == "get_attr":
            return self.values[a], a.target
        self.unsupported(n, f"{_fname(n.target)} with a non-parameter weight")

    def _binary(self, n, op, a, b):
        a, b = self.concrete(a), self.concrete(b)
        ta, tb = isinstance(a, fx.Node), isinstance(b, fx.Node)
        ca, cb = ta and a in self.consts, tb and b in self.consts
        if ta and tb and not ca and not cb:
            return self.emit(n, op, [self.tensor_arg(n, a), self.tensor_arg(n, b)])
        if ta and cb and not ca:
            return self.emit(n, op, [self.tensor_arg(n, a)], {"other": self.consts[b].base})
        if tb and ca and op in ("add", "mul"):
            return self.emit(n, op, [self.tensor_arg(n, b)], {"other": self.consts[a].base})
        if ta and not ca and isinstance(b, (int, float)) and not isinstance(b, bool):
            return self.emit(n, op, [self.tensor_arg(n, a)], attrs={"scalar": b})
        if tb and not cb and isinstance(a, (int, float)) and op in ("add", "mul"):
            return self.emit(n, op, [self.tensor_arg(n, b)], attrs={"scalar": a})
        if tb and not cb and a == 1 and op == "div":
            self.unsupported(n, "div with the number first", "write torch.rsqrt or x ** -1")
        self.unsupported(n, f"{op} with operands {type(a).__name__}, {type(b).__name__}",
                         "a constant first is supported by add and mul only")

    def _shape_op(self, n, op, x, rest):
        """view/reshape/transpose/permute/flatten/softmax given the non-tensor args."""
        rank = self.ndim(x)
        if op in ("view", "reshape"):
            return self.emit(n, op, [self.tensor_arg(n, x)],
                             attrs={"shape": self.sym_shape(self.values[n].shape)})
        if op == "transpose":
            d0, d1 = sorted(self.norm_dim(d, rank) for d in rest)   # a swap is symmetric
            return self.emit(n, op, [self.tensor_arg(n, x)], attrs={"dim0": d0, "dim1": d1})
        if op == "permute":
            dims = rest[0] if len(rest) == 1 and isinstance(rest[0], (list, tuple)) else rest
            return self.emit(n, op, [self.tensor_arg(n, x)],
                             attrs={"dims": [self.norm_dim(d, rank) for d in dims]})
        if op == "flatten":
            s = rest[0] if len(rest) > 0 else 0
            e = rest[1] if len(rest) > 1 else -1
            return self.emit(n, op, [self.tensor_arg(n, x)],
                             attrs={"start_dim": self.norm_dim(s, rank),
                                    "end_dim": self.norm_dim(e, rank)})
        if op == "softmax":
            return self.emit(n, op, [self.tensor_arg(n, x)],
                             attrs={"dim": self.norm_dim(rest[0], rank)})
        raise AssertionError(op)

    def _mean(self, n, x, dim, keepdim):
        rank = self.ndim(x)
        if dim is None:
            dim = list(range(rank))
        dims = [dim] if isinstance(dim, int) else list(dim)
        return self.emit(n, "mean", [self.tensor_arg(n, x)],
                         attrs={"dim": sorted(self.norm_dim(d, rank) for d in dims),
                                "keepdim": bool(keepdim)})

    def _pow(self, n, x, e):
        if isinstance(e, bool) or not isinstance(e, (int, float)):
            self.unsupported(n, "pow with a tensor exponent", "the exponent must be a number")
        return self.emit(n, "pow", [self.tensor_arg(n, x)], attrs={"scalar": e})

    def _hardtanh(self, n, x, lo, hi):
        if lo is None or hi is None:
            self.unsupported(n, "clamp with one bound", "hardtanh needs min and max")
        return self.emit(n, "hardtanh", [self.tensor_arg(n, x)],
                         attrs={"min_val": float(lo), "max_val": float(hi)})

    def _cat(self, n, tensors, dim):
        tensors = list(tensors)
        rank = self.values[n].dim()
        dim = self.norm_dim(dim, rank)
        params = None
        if tensors and tensors[0] in self.consts:
            params = {"other": self.consts[tensors[0]].base}
            tensors = tensors[1:]
        if any(t in self.consts for t in tensors):
            self.unsupported(n, "cat with a constant operand after the first",
                             "a constant is supported as the first operand only")
        refs = [self.tensor_arg(n, t) for t in tensors]
        if len(refs) + (1 if params else 0) < 2:
            self.ref[n] = refs[0]
            return None
        return self.emit(n, "cat", refs, params, attrs={"dim": dim})

    def function_node(self, n):
        t = n.target
        args = list(self.concrete(n.args))
        kw = {k: self.concrete(v) for k, v in n.kwargs.items()}
        if t in BINARY_FUNCS:
            if kw.get("alpha", 1) != 1 or "rounding_mode" in kw:
                self.unsupported(n, f"{_fname(t)} with alpha/rounding_mode")
            return self._binary(n, BINARY_FUNCS[t], args[0], args[1])
        if t is operator.neg or t is torch.neg:
            return self.emit(n, "mul", [self.tensor_arg(n, args[0])], attrs={"scalar": -1})
        if t in (torch.matmul, operator.matmul):
            return self.emit(n, "matmul", [self.tensor_arg(n, args[0]), self.tensor_arg(n, args[1])])
        if t is torch.bmm:
            return self.emit(n, "bmm", [self.tensor_arg(n, args[0]), self.tensor_arg(n, args[1])])
        if t is F.gelu:
            return self.emit(n, "gelu", [self.tensor_arg(n, args[0])],
                             attrs=self._gelu_attrs(n, kw.get("approximate", "none")))
        if t in ELEMENTWISE_FUNCS:
            return self.emit(n, ELEMENTWISE_FUNCS[t], [self.tensor_arg(n, args[0])])
        if t in (F.softmax, torch.softmax):
            dim = kw.get("dim", args[1] if len(args) > 1 else None)
            if dim is None:
                self.unsupported(n, "softmax without dim")
            return self._shape_op(n, "softmax", n.args[0], [dim])
        if t is torch.flatten:
            return self._shape_op(n, "flatten", n.args[0],
                                  [kw.get("start_dim", args[1] if len(args) > 1 else 0),
                                   kw.get("end_dim", args[2] if len(args) > 2 else -1)])
        if t is torch.transpose:
            return self._shape_op(n, "transpose", n.args[0], args[1:3])
        if t is torch.permute:
            return self._shape_op(n, "permute", n.args[0], args[1:])
        if t is torch.reshape:
            return self._shape_op(n, "reshape", n.args[0], args[1:])
        if t in (torch.unsqueeze, torch.squeeze):
            return self.emit(n, "reshape", [self.tensor_arg(n, args[0])],
                             attrs={"shape": self.sym_shape(self.values[n].shape)})
        if t is torch.mean:
            return self._mean(n, n.args[0], kw.get("dim", args[1] if len(args) > 1 else None),
                              kw.get("keepdim", args[2] if len(args) > 2 else False))
        if t is torch.pow:
            return self._pow(n, n.args[0], args[1] if len(args) > 1 else kw.get("exponent"))
        if t is operator.pow:
            return self._pow(n, n.args[0], args[1])
        if t in (torch.cat, torch.concat):
            return self._cat(n, n.args[0] if n.args else n.kwargs["tensors"],
                             kw.get("dim", args[1] if len(args) > 1 else 0))
        if t in (F.relu6,):
            return self._hardtanh(n, n.args[0], 0.0, 6.0)
        if t is F.hardtanh:
            return self._hardtanh(n, n.args[0],
                                  kw.get("min_val", args[1] if len(args) > 1 else -1.0),
                                  kw.get("max_val", args[2] if len(args) > 2 else 1.0))
        if t in (torch.clamp, torch.clip):
            return self._hardtanh(n, n.args[0], kw.get("min", args[1] if len(args) > 1 else None),
                                  kw.get("max", args[2] if len(args) > 2 else None))
        if t is F.softplus:
            return self.emit(n, "softplus", [self.tensor_arg(n, args[0])],
                             attrs={"beta": float(kw.get("beta", args[1] if len(args) > 1 else 1)),
                                    "threshold": float(kw.get("threshold", args[2]
                                                              if len(args) > 2 else 20))})
        if t is F.hardsigmoid:
            return self._hardsigmoid(n, n.args[0])
        if _fname(t) == "stochastic_depth" and getattr(t, "__module__", "").startswith(
                "torchvision"):
            training = kw.get("training", args[3] if len(args) > 3 else True)
            if training:
                self.unsupported(n, "stochastic_depth in training mode", "export in eval mode")
            self.ref[n] = self.tensor_arg(n, args[0])       # identity at inference
            return None
        if t is F.adaptive_avg_pool2d:
            return self.emit(n, "adaptive_avg_pool2d", [self.tensor_arg(n, args[0])],
                             attrs={"output_size": [int(d) for d in self.values[n].shape[-2:]]})
        if t is F.layer_norm:
            w = n.args[2] if len(n.args) > 2 else n.kwargs.get("weight")
            b = n.args[3] if len(n.args) > 3 else n.kwargs.get("bias")
            params = {}
            if w is not None:
                params["weight"] = self._param_of(n, w)[0]
            if b is not None:
                params["bias"] = self._param_of(n, b)[0]
            return self.emit(n, "layer_norm", [self.tensor_arg(n, args[0])], params,
                             attrs={"normalized_shape": list(args[1]),
                                    "eps": kw.get("eps", args[4] if len(args) > 4 else 1e-5)})
        if t is F.embedding:
            w, wname = self._param_of(n, n.args[1])
            if any(a is not None for a in args[2:4]) or kw.get("max_norm") is not None:
                self.unsupported(n, "embedding with max_norm")
            return self.emit(n, "embedding", [self.tensor_arg(n, args[0])], {"weight": w},
                             name=self.unique(wname.rsplit(".", 1)[0]))
        if t is F.linear:
            w, wname = self._param_of(n, n.args[1])
            params = {"weight": w}
            b = n.args[2] if len(n.args) > 2 else n.kwargs.get("bias")
            if b is not None:
                params["bias"] = self._param_of(n, b)[0]
            return self.emit(n, "linear", [self.tensor_arg(n, args[0])], params,
                             name=self.unique(wname.rsplit(".", 1)[0]))
        self.unsupported(n, _fname(t))

    def method_node(self, n):
        name = n.target
        x = n.args[0]
        rest = list(self.concrete(n.args[1:]))
        kw = {k: self.concrete(v) for k, v in n.kwargs.items()}
        if name in ("unsqueeze", "squeeze"):
            return self.emit(n, "reshape", [self.tensor_arg(n, x)],
                             attrs={"shape": self.sym_shape(self.values[n].shape)})
        if name in ("view", "reshape", "transpose", "permute", "flatten"):
            if name == "flatten" and kw:
                rest = [kw.get("start_dim", 0), kw.get("end_dim", -1)]
            return self._shape_op(n, name, x, rest)
        if name == "softmax":
            return self._shape_op(n, "softmax", x, [kw.get("dim", rest[0] if rest else None)])
        if name in BINARY_METHODS:
            return self._binary(n, BINARY_METHODS[name], x, n.args[1])
        if name in ("matmul", "bmm"):
            return self.emit(n, name, [self.tensor_arg(n, x), self.tensor_arg(n, n.args[1])])
        if name in ELEMENTWISE_METHODS:
            return self.emit(n, ELEMENTWISE_METHODS[name], [self.tensor_arg(n, x)])
        if name in PASSTHROUGH_METHODS:
            self.ref[n] = self.tensor_arg(n, x)
            return None
        if name == "mean":
            return self._mean(n, x, kw.get("dim", rest[0] if rest else None),
                              kw.get("keepdim", rest[1] if len(rest) > 1 else False))
        if name == "pow" or name == "__pow__":
            return self._pow(n, x, rest[0] if rest else kw.get("exponent"))
        if name == "neg":
            return self.emit(n, "mul", [self.tensor_arg(n, x)], attrs={"scalar": -1})
        if name in ("clamp", "clip"):
            return self._hardtanh(n, x, kw.get("min", rest[0] if rest else None),
                                  kw.get("max", rest[1] if len(rest) > 1 else None))
        if name in ("expand", "expand_as"):
            if list(self.values[n].shape) == list(self.values[x].shape):
                self.ref[n] = self.tensor_arg(n, x)
                return None
            self.unsupported(n, f"Tensor.{name} of graph data", "binary ops broadcast: "
                             "pass the unexpanded tensor")
        self.unsupported(n, f"Tensor.{name}")


def _symbolic_graph(model, model_name, sample, make_inputs):
    inputs = make_inputs(sample)
    gm, scope, lines = trace(model, model_name, inputs)
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    args = []
    for p in placeholders:
        if p.target not in inputs:
            raise GraphError(f"no sample input for forward argument '{p.target}' of "
                             f"{model_name} (inputs given: {', '.join(inputs) or 'none'})")
        args.append(inputs[p.target])
    extra = set(inputs) - {p.target for p in placeholders}
    if extra:
        raise GraphError(f"input(s) {', '.join(sorted(extra))} are not arguments of "
                         f"{model_name}.forward ({', '.join(p.target for p in placeholders)})")
    rec = _Recorder(gm)
    with torch.no_grad():
        try:
            rec.run(*args)
        except GraphError:
            raise
        except Exception as e:
            bad = next((n for n in gm.graph.nodes if n not in rec.values and
                        n.op != "placeholder"), None)
            where = ""
            if bad is not None:
                s = scope.get(bad, "")
                where = f" at {_fname(bad.target)} in {f'module {s!r}' if s else 'the top level'}" \
                    f"{' (' + lines[bad] + ')' if bad in lines else ''}"
            msg = str(e).split("\n\nWhile executing")[0].strip()
            raise GraphError(f"running {model_name} on sample inputs {sample} failed{where}: "
                             f"{type(e).__name__}: {msg}") from None
    # concrete shapes; merge_samples() makes them symbolic from passes A and B
    b = _Builder(gm, scope, lines, rec.values, {}, model_name)
    outputs = b.build()
    nodes = b.nodes
    fuse_patterns(nodes, outputs, {i["name"]: i["shape"] for i in b.inputs})
    return {"inputs": b.inputs, "nodes": nodes, "outputs": outputs}, b.integer


_first_difference = first_difference


def export_module(model, model_name, dim_names, make_inputs, quant, dims=None, attrs=None,
                  tensors=None):
    """Export an nn.Module to a mase-graph dict.

    dim_names: symbolic dims the inputs use (e.g. ('batch', 'seq'));
    make_inputs(sample_dims) -> {forward arg name: tensor};
    quant: a QuantConfig; dims: default values written to the graph;
    tensors: a dict to fill with {"node.param": the tensor (pass A's)} (values for a
    module on the CPU: constants such as a sliced position table included)."""
    dims = dict(dims or {})
    for k in dims:
        if k not in dim_names:
            raise GraphError(f"--dims: '{k}' is not a dim of {model_name} "
                             f"(dims: {', '.join(dim_names) or 'none'})")
    full = {d: dims.get(d, 1) for d in dim_names}
    sa = sample_dims(dim_names, "A")
    sb = sample_dims(dim_names, "B")
    ga, integer = _symbolic_graph(model, model_name, sa, make_inputs)
    gb, _ = _symbolic_graph(model, model_name, sb, make_inputs)
    for g, out in ((ga, tensors), (gb, None)):
        for n in g["nodes"]:
            for pname, p in n.get("params", {}).items():
                t = p.pop("_tensor")
                if out is not None:
                    out[f"{n['name']}.{pname}"] = t
    try:
        ga = merge_samples(ga, gb, sa, sb)
    except GraphError as e:
        raise GraphError(f"{model_name}: shapes/attributes are not expressible with dims "
                         f"{', '.join(dim_names)} (a dim appears only inside a product such as "
                         f"batch*heads, or an attribute depends on a dim): {e}") from None
    graph = {"format": "mase-graph", "version": 1, "name": model_name, "dims": full,
             "inputs": ga["inputs"], "nodes": ga["nodes"], "outputs": ga["outputs"],
             "attrs": dict(attrs or {})}
    apply_quant(graph, quant, integer)
    return graph


TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
                "float64": torch.float64, "int64": torch.int64, "int32": torch.int32,
                "bool": torch.bool, "uint8": torch.uint8, "int8": torch.int8}


def load_user_module(spec):
    """'path/to/file.py:factory' -> (module in eval mode on the meta device, label).
    The factory is called without arguments and returns an nn.Module."""
    import importlib.util
    if ":" not in spec:
        raise GraphError(f"--module '{spec}': expected path/to/file.py:factory")
    path, factory = spec.rsplit(":", 1)
    if not os.path.isfile(path):
        raise GraphError(f"--module: no file '{path}'")
    name = "masesim_user_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        s = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(s)
        try:
            s.loader.exec_module(mod)
        except Exception as e:
            raise GraphError(f"--module: importing '{path}' failed: {type(e).__name__}: {e}"
                             f"{_exc_line(path)}") from None
        if not hasattr(mod, factory):
            names = [k for k, v in vars(mod).items() if callable(v) and not k.startswith("_")]
            raise GraphError(f"--module: '{path}' has no '{factory}'"
                             f"{nearest(factory, names)}")
        try:
            m = getattr(mod, factory)()
        except Exception as e:
            raise GraphError(f"--module: {path}:{factory}() raised {type(e).__name__}: {e}"
                             f"{_exc_line(path)}") from None
    finally:
        sys.path.pop(0)
    if not isinstance(m, nn.Module):
        raise GraphError(f"--module: {path}:{factory}() returned a {type(m).__name__}, "
                         f"not a torch.nn.Module")
    m.eval()
    try:
        m.to("meta")
    except Exception as e:
        raise GraphError(f"--module: moving {factory}() to the meta device failed: {e}") from None
    return m, f"{os.path.splitext(os.path.basename(path))[0]}.{factory}"


def _exc_line(path):
    tb = sys.exc_info()[2]
    line = None
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename) == os.path.abspath(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (at {path}:{line})" if line else ""


def export_user_module(model, model_name, input_specs, quant, dims=None, attrs=None):
    """Export a module given --input specs [(name, shape with dim names, dtype)]."""
    dim_names = []
    for _, shape, _ in input_specs:
        for d in shape:
            if isinstance(d, str) and d not in dim_names:
                dim_names.append(d)
    if not input_specs:
        raise GraphError("--module needs at least one --input NAME:SHAPE[:DTYPE]")

    def make(sample):
        out = {}
        for name, shape, dtype in input_specs:
            concrete = [sample[d] if isinstance(d, str) else d for d in shape]
            out[name] = torch.zeros(concrete, dtype=TORCH_DTYPES[dtype], device="meta")
        return out
    return export_module(model, model_name, tuple(dim_names), make, quant, dims,
                         attrs=dict(attrs or {}))

# Small models for the functional tests (not in the published zoo): name ->
# (constructor(device), dims). opt-tiny is tests/python/test_onnx_import.py's
# two-layer OPT-style decoder (hidden 64, 4 heads, FFN 256, vocabulary 1000);
# vit-micro a one-layer torchvision ViT (MultiheadAttention, class token).
EXTRA_MODELS = {
    "opt-tiny": (lambda device="meta": __import__("masesim_models").OPTForCausalLM(
        hidden=64, layers=2, heads=4, ffn=256, proj=64, pre_ln=True, vocab=1000, max_pos=128,
        device=device), ("batch", "seq")),
    # torchvision VisionTransformer, 32x32, patch 8, 1 layer, 2 heads, hidden 16, MLP 32
    "vit-micro": (lambda device="meta": __import__("masesim_models").vit_tiny(
        device, image_size=32, patch_size=8, num_layers=1, num_heads=2, hidden_dim=16,
        mlp_dim=32), ("batch",)),
    # functional-mode data of the new ops (tests/functional_data.sh): a Mixtral layer of
    # hidden 16 (4 heads, 2 kv heads, 4 experts of 24, top-2), a Mamba block of d_model 8
    # (state 4), an LSTM/GRU tagger
    "mixtral-micro": (lambda device="meta": __import__("masesim_models").mixtral_layer(
        device, hidden=16, heads=4, kv_heads=2, ffn=24, experts=4, top_k=2),
        ("batch", "seq")),
    "mamba-micro": (lambda device="meta": __import__("masesim_models").mamba_block(
        device, d_model=8, d_state=4), ("batch", "seq")),
    "rnn-micro": (lambda device="meta": __import__("masesim_models").RecurrentTagger(
        device=device), ("batch", "seq")),
}


def model_names():
    import masesim_models as zoo
    return sorted(set(zoo.ZOO) | set(EXTRA_MODELS))


def build_named_model(name, device="meta"):
    """(module in eval mode, symbolic dim names) of a zoo or EXTRA_MODELS model."""
    import masesim_models as zoo
    if name in EXTRA_MODELS:
        ctor, dim_names = EXTRA_MODELS[name]
        return ctor(device).eval(), dim_names
    if name not in zoo.ZOO:
        raise GraphError(f"unknown model '{name}' (models: {', '.join(model_names())})")
    return zoo.build_model(name, device=device), zoo.ZOO[name][1]


def export_zoo(name, quant, dims=None):
    import masesim_models as zoo
    model, dim_names = build_named_model(name, device="meta")
    make = lambda s: zoo.example_inputs(model, s, device="meta")  # noqa: E731
    return export_module(model, name, dim_names, make, quant, dims,
                         attrs={"source": "masesim scripts/export_graph.py (torch.fx)",
                                "model": name})


# The graphs committed under workloads/graphs/ (file -> zoo model, preset).
COMMITTED = {
    "opt125m_int8.json": ("opt-125m", "int8"),
    "opt125m_msfp12.json": ("opt-125m", "msfp12"),
    "opt125m_mxint8.json": ("opt-125m", "mxint8"),
    "opt350m_int8.json": ("opt-350m", "int8"),
    "opt1.3b_int8.json": ("opt-1.3b", "int8"),
    "bert_base_int8.json": ("bert-base", "int8"),
    "mnist_cnn_int8.json": ("mnist-cnn", "int8"),
    "resnet18_int8.json": ("resnet-18", "int8"),
    "gpt2_int8.json": ("gpt2", "int8"),
    "gpt2_medium_int8.json": ("gpt2-medium", "int8"),
    "gpt2_medium_w4a8.json": ("gpt2-medium", "w4a8"),
    "gpt2_medium_fp16.json": ("gpt2-medium", "fp16"),
    "gpt2_1.5b_dfx_fp16.json": ("gpt2-1.5b-dfx", "fp16"),
}
DEFAULT_DIMS = {"batch": 1, "seq": 128}


def regenerate(out_dir, files=None):
    """Write the committed graphs (default dims batch 1, seq 128) into out_dir."""
    import masesim_models as zoo
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for fname, (model, preset) in sorted(COMMITTED.items()):
        if files is not None and fname not in files:
            continue
        dims = {k: v for k, v in DEFAULT_DIMS.items() if k in zoo.ZOO[model][1]}
        g = export_zoo(model, QuantConfig.load(preset=preset), dims)
        path = os.path.join(out_dir, fname)
        write_graph(g, path)
        written.append(path)
    return written


# --------------------------------------------------------------- tensor data (--data)
# Layout (docs/graph-format.md "Tensor data files"):
#   DIR/params/<node>.<param>.npy   raw parameter values (the module's dtype, e.g. <f4);
#                                   tied parameters only at their owner
#   DIR/inputs/<input>.npy          [inferences, ...input shape], unquantised values
#   DIR/reference/<node>.npy        <f8 data_out_0 of every node for inference 0, computed
#                                   by scripts/quant_emulation.py with the graph's precisions
#   DIR/meta.json                   model, seed, rounding, inferences (informational)

def _uniform(t, lo, hi, gen):
    with torch.no_grad():
        t.copy_(torch.rand(t.shape, generator=gen, dtype=torch.float64).to(t.dtype) * (hi - lo) + lo)


def _quantum(p):
    return 2.0 ** -p["frac_width"] if p["type"] == "fixed" else 0.0


def graph_tensors(model, model_name, graph):
    """{"node.param": the module's tensor} for every parameter of `graph`: the state_dict
    entry of that name, else (nn.MultiheadAttention's in_proj, constant operands 'other')
    the tensor the exporter read, found by exporting `model` (on the CPU) again."""
    sd = model.state_dict(keep_vars=True)     # tied tensors under every name
    keys = [f"{n['name']}.{p}" for n in graph["nodes"] for p in n.get("params", {})]
    if all(k in sd for k in keys):
        return sd
    import masesim_models as zoo
    found = {}
    dim_names = tuple(graph["dims"])
    export_module(model, model_name, dim_names,
                  lambda s: zoo.example_inputs(model, s, device="cpu"),
                  QuantConfig({"default": {"type": "float", "width": 32}}, "float32"),
                  tensors=found)
    return {k: sd[k] if k in sd else found[k] for k in keys if k in sd or k in found}


def init_in_range(model, graph, seed, tensors=None):
    """Seeded random parameters scaled so that the graph's formats see non-trivial values:
    GEMM/conv weights U(-a, a), a = max(2/sqrt(fan_in), 2 LSBs of a fixed-point weight);
    biases U(-0.5, 0.5); norm scales U(0.5, 1.5), shifts U(-0.25, 0.25); embeddings
    U(-1, 1); batch-norm statistics mean U(-0.5, 0.5), variance U(0.5, 2)."""
    gen = torch.Generator().manual_seed(seed)
    if tensors is None:
        tensors = model.state_dict(keep_vars=True)     # tied tensors under every name
    for n in graph["nodes"]:
        for pname, p in n.get("params", {}).items():
            if "shared_with" in p:
                continue
            t = tensors[f"{n['name']}.{pname}"]
            op = n["op"]
            if op in ("linear", "conv2d", "conv1d") and pname == "weight":
                fan_in = int(np.prod(t.shape[1:]))
                a = max(2.0 / math.sqrt(fan_in), 2 * _quantum(p["precision"]))
                _uniform(t, -a, a, gen)
            elif op in ("linear", "conv2d", "conv1d"):
                _uniform(t, -0.5, 0.5, gen)
            elif op == "embedding":
                _uniform(t, -1.0, 1.0, gen)
            elif pname == "running_mean":
                _uniform(t, -0.5, 0.5, gen)
            elif pname == "running_var":
                _uniform(t, 0.5, 2.0, gen)
            elif pname == "weight":
                _uniform(t, 0.5, 1.5, gen)
            else:
                _uniform(t, -0.25, 0.25, gen)


# seven-segment strokes of the digits in a unit box (x right, y down)
_SEGMENTS = {"a": ((0, 0), (1, 0)), "b": ((1, 0), (1, .5)), "c": ((1, .5), (1, 1)),
             "d": ((0, 1), (1, 1)), "e": ((0, .5), (0, 1)), "f": ((0, 0), (0, .5)),
             "g": ((0, .5), (1, .5))}
_DIGITS = ["abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abcdfg"]


def digit_images(count, rng):
    """MNIST-like synthetic digits: 28x28 in [0, 1], a random digit drawn as thick,
    slanted, anti-aliased seven-segment strokes at a random size and position."""
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float64)
    out = np.zeros((count, 1, 28, 28))
    for i in range(count):
        digit = rng.integers(0, 10)
        w, h = rng.uniform(8, 12), rng.uniform(14, 19)
        x0, y0 = rng.uniform(4, 24 - w), rng.uniform(3, 25 - h)
        slant, thick = rng.uniform(-0.25, 0.25), rng.uniform(1.0, 2.0)
        img = np.zeros((28, 28))
        for seg in _DIGITS[digit]:
            (ax, ay), (bx, by) = _SEGMENTS[seg]
            p = np.array([x0 + ax * w + slant * (h * (1 - ay)), y0 + ay * h])
            q = np.array([x0 + bx * w + slant * (h * (1 - by)), y0 + by * h])
            d = q - p
            tt = np.clip(((xx - p[0]) * d[0] + (yy - p[1]) * d[1]) / max(d @ d, 1e-9), 0, 1)
            dist = np.hypot(xx - (p[0] + tt * d[0]), yy - (p[1] + tt * d[1]))
            img = np.maximum(img, np.clip(thick + 0.5 - dist, 0, 1))
        out[i, 0] = img
    return out


def make_inputs(graph, model_name, inferences, rng):
    """{input name: [inferences, ...shape] array}: MNIST-like digits for mnist-cnn,
    position ids 0..seq-1, token/other ids uniform over the consuming embedding's rows,
    other float inputs uniform in [-4, 4] (clamped to a fixed format's range)."""
    from quant_emulation import resolve_shape
    dims = graph["dims"]
    out = {}
    for i in graph["inputs"]:
        shape = resolve_shape(i["shape"], dims)
        name = i["name"]
        if model_name == "mnist-cnn" and name == "x":
            out[name] = digit_images(inferences, rng).reshape([inferences] + shape)
        elif name == "position_ids":
            out[name] = np.broadcast_to(np.arange(shape[-1], dtype=np.int64),
                                        [inferences] + shape).copy()
        elif i["precision"] == INDEX_PRECISION or name.endswith("_ids"):
            rows = None
            for n in graph["nodes"]:
                if n["op"] == "embedding" and n["args"].get("data_in_0") == name:
                    rows = n["params"]["weight"]["shape"][0]
            if rows is None:
                raise GraphError(f"--data: cannot tell the range of integer input '{name}'")
            out[name] = rng.integers(0, rows, size=[inferences] + shape).astype(np.int64)
        else:
            p = i["precision"]
            r = 4.0
            if p["type"] == "fixed":
                r = min(r, (2.0 ** (p["width"] - 1) - 1) * 2.0 ** -p["frac_width"])
            out[name] = rng.uniform(-r, r, size=[inferences] + shape)
    return out


def write_data(graph, model_name, data_dir, seed=0, inferences=2, rounding="half_even",
               weights=None, check_module=True):
    """Writes parameters, inputs and per-node references of `graph` into data_dir."""
    import copy
    import json
    from quant_emulation import eval_graph, quantize_params
    model, _ = build_named_model(model_name, device="cpu")
    if weights:
        sd = torch.load(weights, map_location="cpu")
        try:
            model.load_state_dict(sd)
        except RuntimeError as e:
            raise GraphError(f"--weights {weights}: {e}") from None
    else:
        init_in_range(model, graph, seed, graph_tensors(model, model_name, graph))
    model.eval()
    tensors = graph_tensors(model, model_name, graph)
    raw = {}
    for sub in ("params", "inputs", "reference"):
        os.makedirs(os.path.join(data_dir, sub), exist_ok=True)
    for n in graph["nodes"]:
        for pname, p in n.get("params", {}).items():
            if "shared_with" in p:
                continue
            key = f"{n['name']}.{pname}"
            if key not in tensors:
                raise GraphError(f"--data: parameter '{key}' is not a tensor of the module")
            a = tensors[key].detach().cpu().numpy()
            raw[key] = a
            np.save(os.path.join(data_dir, "params", key + ".npy"), a)
    rng = np.random.default_rng(seed)
    inputs = make_inputs(graph, model_name, inferences, rng)
    for k, v in inputs.items():
        np.save(os.path.join(data_dir, "inputs", k + ".npy"), v)
    first = {k: v[0] for k, v in inputs.items()}
    if check_module:
        # The graph's semantics equal the module's: unquantised graph vs module in float64.
        got = eval_graph(graph, quantize_params(graph, raw, quant=False), first, quant=False)
        m64 = copy.deepcopy(model).double()
        with torch.no_grad():
            want = m64(**{k: torch.from_numpy(np.asarray(v) if np.asarray(v).dtype == np.int64
                                              else np.asarray(v, dtype=np.float64))
                          for k, v in first.items()})
        want = [want] if isinstance(want, torch.Tensor) else list(want)
        for ref, w in zip(graph["outputs"], want):
            g = got[ref.split(".data_out_")[0]]
            err = float(np.max(np.abs(g - w.numpy()))) if g.size else 0.0
            if not err <= 1e-9 * max(1.0, float(np.max(np.abs(g)))):
                raise GraphError(f"--data: the unquantised graph differs from the module at "
                                 f"output {ref} (max abs error {err})")
    ref = eval_graph(graph, quantize_params(graph, raw, rounding), first, rounding)
    for n in graph["nodes"]:
        np.save(os.path.join(data_dir, "reference", n["name"] + ".npy"),
                np.ascontiguousarray(ref[n["name"]], dtype="<f8"))
    with open(os.path.join(data_dir, "meta.json"), "w") as f:
        json.dump({"model": model_name, "seed": seed, "rounding": rounding,
                   "inferences": inferences, "weights": weights or "seeded random (in range)"},
                  f, indent=1, sort_keys=True)
        f.write("\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--model", help=f"zoo model: {', '.join(model_names())}")
    src.add_argument("--module", metavar="FILE.py:FACTORY",
                     help="any nn.Module: FACTORY() in FILE.py returns it (called without "
                     "arguments); needs --input for every forward argument")
    ap.add_argument("--input", action="append", default=[], metavar="NAME:SHAPE[:DTYPE]",
                    help="a forward argument of --module: SHAPE is a comma list of sizes and "
                    "dim names (x:batch,3,224,224 or input_ids:batch,seq:int64); DTYPE "
                    "float32 (default), int64, ...; repeat per argument, in any order")
    ap.add_argument("--regen", metavar="DIR", help="write all committed graphs "
                    "(workloads/graphs/*.json made by this script) into DIR and exit")
    add_quant_args(ap)
    add_moe_args(ap)
    ap.add_argument("--dims", default=None,
                    help="default dim values written to the graph, e.g. batch=1,seq=128 "
                    "(--model: default batch=1,seq=128 for the dims the model has; --module: "
                    "1 for dims not given)")
    ap.add_argument("--name", help="graph name (default: the model or FILE.FACTORY)")
    ap.add_argument("--out", help="output .json")
    ap.add_argument("--data", metavar="DIR", help="also write tensor data: parameters, inputs "
                    "and every node's reference output (docs/graph-format.md, 'Tensor data "
                    "files'); by convention DIR is the graph's name with .data for .json "
                    "(zoo models)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random parameters and "
                    "inputs (--data)")
    ap.add_argument("--weights", help="state_dict file (torch.save) to use instead of seeded "
                    "random parameters (--data)")
    ap.add_argument("--inferences", type=int, default=2, help="inputs per graph input (--data)")
    ap.add_argument("--rounding", choices=("half_even", "truncate"), default="half_even",
                    help="rounding of the reference outputs (--data)")
    a = ap.parse_args(argv)
    if a.regen:
        for p in regenerate(a.regen):
            print(p)
        return 0
    if not (a.model or a.module) or not a.out or not (a.quant or a.quant_preset):
        ap.error("one of --model/--module, --out and one of --quant/--quant-preset are required")
    try:
        qc = quant_from_args(a)
        if a.module:
            if a.data:
                raise GraphError("--data is for zoo models (--model) only")
            specs = [parse_input_spec(t) for t in a.input]
            names = [s[0] for s in specs]
            dup = sorted({x for x in names if names.count(x) > 1})
            if dup:
                raise GraphError(f"--input {dup[0]} is given twice")
            model, label = load_user_module(a.module)
            g = export_user_module(model, a.name or label, specs, qc, parse_dims(a.dims or ""),
                                   attrs={"source": "masesim scripts/export_graph.py (torch.fx)",
                                          "module": a.module})
        else:
            import masesim_models as zoo
            if a.input:
                raise GraphError("--input is for --module; zoo models know their inputs")
            dims = parse_dims(a.dims if a.dims is not None else "batch=1,seq=128")
            if a.model not in zoo.ZOO and a.model not in EXTRA_MODELS:
                raise GraphError(f"unknown model '{a.model}' (zoo: {', '.join(model_names())})")
            if a.dims is None:
                known = zoo.ZOO[a.model][1] if a.model in zoo.ZOO else EXTRA_MODELS[a.model][1]
                dims = {k: v for k, v in dims.items() if k in known}
            g = export_zoo(a.model, qc, dims)
            if a.name:
                g["name"] = a.name
        apply_moe_args(g, a)
        write_graph(g, a.out)
        if a.data:
            try:
                write_data(g, a.model, a.data, seed=a.seed, inferences=a.inferences,
                           rounding=a.rounding, weights=a.weights)
            except ValueError as e:         # quant_emulation: no emulation, ids out of range
                raise GraphError(f"--data: {e}") from None
    except GraphError as e:
        print(f"export_graph: error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug here, not bad input: exit 3, still one line
        import traceback
        last = traceback.extract_tb(e.__traceback__)[-1]
        print(f"export_graph: internal error: {type(e).__name__}: {e} (at "
              f"{os.path.basename(last.filename)}:{last.lineno}; please report it with the "
              f"model)", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
