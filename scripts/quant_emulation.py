"""PyTorch/NumPy emulation of masesim's functional model (docs/functional.md).

The same quantisers and kernels as models/functional/{quant,kernels}.cpp, written in
float64 so that the C++ model can be checked element by element:

* quantize(x, precision, rounding) — fixed / float / minifloat / block_fp / mxint /
  mxfp with the rules of docs/functional.md (blocks along the last dim, tail padded).
* eval_graph(graph, params, inputs, rounding) — interprets a mase-graph dict node by
  node: GEMMs and convolutions in torch float64 (exact: every partial sum of quantised
  operands fits in 53 bits, asserted by the C++ model for fixed point), non-linear ops
  with Python's libm functions (math.exp/erf/tanh: the same glibc routines the C++ model
  calls) and left-to-right sums in the same order as the C++ loops; every result is
  quantised to the node's output precision.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

ROUNDINGS = ("half_even", "truncate")


# ------------------------------------------------------------------ formats
def _rnd_sm(s, rounding):      # sign-magnitude: |x| rounded; truncate = toward zero
    return np.rint(s) if rounding == "half_even" else np.trunc(s)


def _rnd_tc(s, rounding):      # two's complement: truncate = toward -inf
    return np.rint(s) if rounding == "half_even" else np.floor(s)


def _frexp_exp(a):
    return np.frexp(a)[1].astype(np.int64)


def _fixed(x, width, frac, rounding):
    x = np.where(np.isnan(x), 0.0, x)
    lo, hi = -2.0 ** (width - 1), 2.0 ** (width - 1) - 1
    with np.errstate(invalid="ignore"):
        q = _rnd_tc(np.ldexp(np.clip(x, -1e300, 1e300), frac), rounding)
    return np.ldexp(np.clip(q, lo, hi), -frac)


def _fp_format_minifloat(width, ew, bias):
    m = width - 1 - ew
    emax = (1 << ew) - 1 - bias
    return dict(m=m, emin=1 - bias, maxf=(2.0 - 2.0 ** -m) * 2.0 ** emax, inf=False)


def _fp_format_float(width):
    if width == 16:
        return dict(m=10, emin=-14, maxf=65504.0, inf=True)
    return dict(m=23, emin=-126, maxf=(2.0 - 2.0 ** -23) * 2.0 ** 127, inf=True)


def mx_element_format(e, m):
    """OCP MX element E{e}M{m}; returns (format, emax_elem). See docs/functional.md."""
    bias = (1 << (e - 1)) - 1
    if e >= 5:
        emax = (1 << e) - 2 - bias
        maxf = (2.0 - 2.0 ** -m) * 2.0 ** emax
    elif e == 4 and m == 3:
        emax = (1 << e) - 1 - bias
        maxf = (1.0 + (2.0 ** m - 2) / 2.0 ** m) * 2.0 ** emax
    else:
        emax = (1 << e) - 1 - bias
        maxf = (2.0 - 2.0 ** -m) * 2.0 ** emax
    return dict(m=m, emin=1 - bias, maxf=maxf, inf=False), emax


def _round_fp(x, f, rounding):
    a = np.abs(x)
    finite = np.isfinite(a) & (a != 0)
    safe = np.where(finite, a, 1.0)
    e = np.maximum(_frexp_exp(safe) - 1, f["emin"])
    v = np.ldexp(_rnd_sm(np.ldexp(safe, f["m"] - e), rounding), e - f["m"])
    over = f["maxf"]
    if f["inf"] and rounding == "half_even":
        over = np.inf
    v = np.where(v > f["maxf"], over, v)
    v = np.where(np.isinf(a), over, v)
    v = np.where(finite | np.isinf(a), v, a)          # zeros and NaN unchanged
    return np.copysign(v, x)


def _blocks(x, bs):
    """(rows, nblocks, bs) view of x padded along the last dim, and an undo function."""
    shape = x.shape
    L = shape[-1] if len(shape) else 1
    rows = x.reshape(-1, L)
    nb = -(-L // bs)
    pad = np.zeros((rows.shape[0], nb * bs), dtype=np.float64)
    pad[:, :L] = rows
    b = pad.reshape(rows.shape[0], nb, bs)

    def undo(y):
        return y.reshape(rows.shape[0], nb * bs)[:, :L].reshape(shape)
    return b, undo


def _shared_exp(maxabs, p):
    t = p["type"]
    safe = np.where((maxabs > 0) & np.isfinite(maxabs), maxabs, 1.0)
    k = _frexp_exp(safe)
    if t == "block_fp":
        ew = p["exponent_width"]
        bias = (1 << (ew - 1)) - 1
        emin, emax = -bias, (1 << ew) - 1 - bias
        E = np.clip(k, emin, emax)
        E = np.where(maxabs == 0, emin, np.where(np.isfinite(maxabs), E, emax))
        return E
    emax_elem = 0
    if t == "mxfp":
        emax_elem = mx_element_format(p["exponent_width"], p["mantissa_width"])[1]
    E = np.clip(k - 1 - emax_elem, -127, 127)
    return np.where(maxabs == 0, -127, np.where(np.isfinite(maxabs), E, 127))


def quantize(x, p, rounding="half_even"):
    """x: array-like; p: precision dict of docs/graph-format.md. Returns float64 ndarray."""
    x = np.asarray(x, dtype=np.float64)
    t = p["type"]
    if t == "fixed":
        return _fixed(x, p["width"], p["frac_width"], rounding)
    if t == "float":
        return x.copy() if p["width"] == 64 else _round_fp(x, _fp_format_float(p["width"]), rounding)
    if t == "minifloat":
        ew = p["exponent_width"]
        bias = p.get("exponent_bias", (1 << (ew - 1)) - 1)
        return _round_fp(x, _fp_format_minifloat(p["width"], ew, bias), rounding)
    if x.size == 0:
        return x.copy()
    b, undo = _blocks(x, p["block_size"])
    maxabs = np.max(np.where(np.isnan(b), 0.0, np.abs(b)), axis=-1)
    E = _shared_exp(maxabs, p)[..., None]
    if t == "block_fp":
        w = p["width"]
        qe = E - (w - 1)
        qmax = 2.0 ** (w - 1) - 1
        s = np.abs(np.where(np.isnan(b), 0.0, b))
        with np.errstate(invalid="ignore", over="ignore"):
            q = np.minimum(_rnd_sm(np.ldexp(np.minimum(s, 1e300), -qe), rounding), qmax)
        y = np.copysign(np.ldexp(q, qe), b)
        y = np.where(np.isnan(b), 0.0, y)
    elif t == "mxint":
        w = p["width"]
        y = _fixed(np.ldexp(b, -E), w, w - 2, rounding) * np.ldexp(1.0, E)
    elif t == "mxfp":
        f, _ = mx_element_format(p["exponent_width"], p["mantissa_width"])
        y = np.ldexp(_round_fp(np.ldexp(b, -E), f, rounding), E)
    else:
        raise ValueError(f"unknown precision type {t!r}")
    return undo(y)


# ------------------------------------------------------------------- graph
def resolve_shape(shape, dims):
    return [dims[d] if isinstance(d, str) else int(d) for d in shape]


def _pair(v, default):
    if v is None:
        return [default, default]
    return list(v) if isinstance(v, (list, tuple)) else [v, v]


def _seq_sum(a, axis):
    """Left-to-right sum along `axis` (the C++ loops' order), vectorised over the rest."""
    a = np.moveaxis(a, axis, -1)
    s = np.zeros(a.shape[:-1])
    for i in range(a.shape[-1]):
        s = s + a[..., i]
    return s


_vexp = np.frompyfunc(math.exp, 1, 1)
_verf = np.frompyfunc(math.erf, 1, 1)
_vtanh = np.frompyfunc(math.tanh, 1, 1)


def _f(v, x):
    return np.asarray(v(x), dtype=np.float64).reshape(np.shape(x))


SQRT1_2 = 0.7071067811865476
SQRT2_OVER_PI = 0.7978845608028654


def _unary(op, x, attrs):
    if op == "relu":
        return np.where(x > 0, x, 0.0)
    if op == "gelu":
        if attrs.get("approximate") == "tanh":
            return 0.5 * x * (1.0 + _f(_vtanh, SQRT2_OVER_PI * (x + 0.044715 * x * x * x)))
        return 0.5 * x * (1.0 + _f(_verf, x * SQRT1_2))
    if op == "silu":
        return x / (1.0 + _f(_vexp, -x))
    if op == "sigmoid":
        return 1.0 / (1.0 + _f(_vexp, -x))
    if op == "tanh":
        return _f(_vtanh, x)
    raise AssertionError(op)


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))


def eval_node(node, args, params, dims, out_shape):
    """Unquantised result of one node (float64 ndarray). args: list of ndarrays;
    params: {param name: ndarray} already quantised."""
    op = node["op"]
    attrs = node.get("attrs", {})
    x = args[0] if args else None
    if op == "linear":
        b = params.get("bias")
        return F.linear(_t(x), _t(params["weight"]), None if b is None else _t(b)).numpy()
    if op in ("matmul", "bmm"):
        return torch.matmul(_t(args[0]), _t(args[1])).numpy()
    if op == "conv2d":
        b = params.get("bias")
        return F.conv2d(_t(x), _t(params["weight"]), None if b is None else _t(b),
                        stride=_pair(attrs.get("stride"), 1), padding=_pair(attrs.get("padding"), 0),
                        dilation=_pair(attrs.get("dilation"), 1), groups=attrs.get("groups", 1)).numpy()
    if op in ("relu", "gelu", "silu", "tanh", "sigmoid"):
        return _unary(op, x, attrs)
    if op in ("add", "sub", "mul", "div"):
        if len(args) == 2:
            b = args[1]
        else:
            b = params["other"] if "other" in params else attrs["scalar"]
        fn = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[op]
        with np.errstate(divide="ignore", invalid="ignore"):
            return fn(x, b).astype(np.float64)
    if op == "softmax":
        d = attrs.get("dim", -1)
        m = np.max(x, axis=d, keepdims=True)
        e = _f(_vexp, x - m)
        s = np.expand_dims(_seq_sum(e, d), d)
        return e / s
    if op == "layer_norm":
        w, b = params.get("weight"), params.get("bias")
        ns = attrs.get("normalized_shape", list(w.shape) if w is not None else [x.shape[-1]])
        n = int(np.prod(ns))
        rows = x.reshape(-1, n)
        mean = _seq_sum(rows, 1) / float(n)
        d = rows - mean[:, None]
        den = np.sqrt(_seq_sum(d * d, 1) / float(n) + attrs.get("eps", 1e-5))
        y = (rows - mean[:, None]) / den[:, None]
        if w is not None:
            y = y * w.reshape(-1)
        if b is not None:
            y = y + b.reshape(-1)
        return y.reshape(x.shape)
    if op == "batch_norm":
        C = x.shape[1]
        bshape = [1, C] + [1] * (x.ndim - 2)
        den = np.sqrt(params["running_var"] + attrs.get("eps", 1e-5)).reshape(bshape)
        y = (x - params["running_mean"].reshape(bshape)) / den
        if "weight" in params:
            y = y * params["weight"].reshape(bshape)
        if "bias" in params:
            y = y + params["bias"].reshape(bshape)
        return y
    if op == "embedding":
        w = params["weight"]
        ids = x.astype(np.int64)
        if np.any(ids != x) or np.any(ids < 0) or np.any(ids >= w.shape[0]):
            raise ValueError(f"{node['name']}: embedding ids out of range")
        return w[ids]
    if op in ("max_pool2d", "avg_pool2d"):
        k = _pair(attrs.get("kernel_size"), 1)
        s = _pair(attrs.get("stride"), None) if "stride" in attrs else k
        p = _pair(attrs.get("padding"), 0)
        fn = F.max_pool2d if op == "max_pool2d" else F.avg_pool2d
        return fn(_t(x), k, s, p).numpy()
    if op in ("flatten", "view", "reshape", "dropout", "contiguous"):
        return x.reshape(out_shape)
    if op == "permute":
        return np.transpose(x, attrs["dims"])
    if op == "transpose":
        return np.swapaxes(x, attrs.get("dim0", -2), attrs.get("dim1", -1))
    if op == "conv1d":
        b = params.get("bias")
        return F.conv1d(_t(x), _t(params["weight"]), None if b is None else _t(b),
                        stride=attrs.get("stride", 1), padding=attrs.get("padding", 0),
                        dilation=attrs.get("dilation", 1), groups=attrs.get("groups", 1)).numpy()
    if op == "hardtanh":
        return np.clip(x, attrs["min_val"], attrs["max_val"])
    if op == "hardswish":
        return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0
    if op == "exp":
        return _f(_vexp, x)
    if op == "erf":
        return _f(_verf, x)
    if op in ("sqrt", "rsqrt"):
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.sqrt(x)
            return r if op == "sqrt" else 1.0 / r
    if op == "softplus":
        beta, th = attrs.get("beta", 1.0), attrs.get("threshold", 20.0)
        bx = beta * x
        soft = _f(np.frompyfunc(lambda v: math.log1p(math.exp(v)) if v <= th else v, 1, 1), bx)
        return np.where(bx > th, x, soft / beta)
    if op == "pow":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.power(x, attrs["scalar"])
    if op == "mean":
        dims = sorted(d % x.ndim for d in attrs["dim"])
        rest = [d for d in range(x.ndim) if d not in dims]
        moved = np.transpose(x, rest + dims)
        n = int(np.prod([x.shape[d] for d in dims]))
        m = _seq_sum(moved.reshape(moved.shape[:len(rest)] + (n,)), -1) / float(n)
        return m.reshape(out_shape)
    if op == "rms_norm":
        w = params.get("weight")
        n = int(np.prod(attrs.get("normalized_shape", [x.shape[-1]])))
        rows = x.reshape(-1, n)
        den = np.sqrt(_seq_sum(rows * rows, 1) / float(n) + attrs.get("eps", 1e-5))
        y = rows / den[:, None]
        if w is not None:
            y = y * w.reshape(-1)
        return y.reshape(x.shape)
    if op == "rope":                    # x*cos + rotate_half(x)*sin (models/ops/rope.cpp)
        h = x.shape[-1] // 2
        rot = np.concatenate([-x[..., h:], x[..., :h]], axis=-1)
        return x * args[1] + rot * args[2]
    if op == "causal_conv1d":           # depthwise, left-padded by K - 1, same length
        w = params["weight"]
        k = w.shape[2]
        xp = np.concatenate([np.zeros(x.shape[:-1] + (k - 1,)), x], axis=-1)
        y = np.zeros(x.shape)
        for j in range(k):
            y = y + w[:, 0, j][None, :, None] * xp[..., j:j + x.shape[-1]]
        b = params.get("bias")
        return y + (0.0 if b is None else b[None, :, None])
    if op == "topk_gate":               # softmax over each row's top_k, zero elsewhere
        k = attrs["top_k"]
        idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
        top = np.take_along_axis(x, idx, -1)
        e = _f(_vexp, top - top[..., :1])
        y = np.zeros(x.shape)
        np.put_along_axis(y, idx, e / e.sum(-1, keepdims=True), -1)
        return y
    if op == "moe_experts":             # sum over experts of gate * FFN_e(x)
        w1, w2, w3 = params["w1"], params["w2"], params.get("w3")
        act = attrs.get("activation", "silu")
        y = np.zeros(x.shape)
        for e in range(w1.shape[0]):
            a = _unary(act, x @ w1[e].T, {})
            h = a * (x @ w3[e].T) if w3 is not None else a
            y = y + args[1][..., e:e + 1] * (h @ w2[e].T)
        return y
    if op == "selective_scan":          # h = exp(dt A) h + dt u B, y = C h + D u
        u, dt, bm, cm = args
        A = -_f(_vexp, params["A_log"])
        h = np.zeros((u.shape[0], u.shape[2], A.shape[1]))
        y = np.zeros(u.shape)
        for t in range(u.shape[1]):
            h = _f(_vexp, dt[:, t, :, None] * A) * h + \
                (dt[:, t] * u[:, t])[:, :, None] * bm[:, t, None, :]
            y[:, t] = (h * cm[:, t, None, :]).sum(-1)
        return y + (u * params["D"] if "D" in params else 0.0)
    if op in ("lstm", "gru"):           # PyTorch's cells from a zero state
        xs = x if attrs.get("batch_first") else np.swapaxes(x, 0, 1)
        wi, wh = params["weight_ih"], params["weight_hh"]
        bi = params.get("bias_ih", 0.0)
        bh = params.get("bias_hh", 0.0)
        H = wh.shape[1]
        h = np.zeros((xs.shape[0], H))
        c = np.zeros((xs.shape[0], H))
        out = np.zeros(xs.shape[:2] + (H,))
        sig = lambda v: _unary("sigmoid", v, {})  # noqa: E731
        for t in range(xs.shape[1]):
            gx, gh = xs[:, t] @ wi.T + bi, h @ wh.T + bh
            if op == "lstm":
                i, f, g, o = (gx[:, j * H:(j + 1) * H] + gh[:, j * H:(j + 1) * H]
                              for j in range(4))
                c = sig(f) * c + sig(i) * _f(_vtanh, g)
                h = sig(o) * _f(_vtanh, c)
            else:
                r = sig(gx[:, :H] + gh[:, :H])
                z = sig(gx[:, H:2 * H] + gh[:, H:2 * H])
                n = _f(_vtanh, gx[:, 2 * H:] + r * gh[:, 2 * H:])
                h = (1.0 - z) * n + z * h
            out[:, t] = h
        return out if attrs.get("batch_first") else np.swapaxes(out, 0, 1)
    if op == "adaptive_avg_pool2d":
        return F.adaptive_avg_pool2d(_t(x), list(attrs["output_size"])).numpy()
    if op == "slice":
        d = attrs.get("dim", -1) % x.ndim
        idx = [slice(None)] * x.ndim
        idx[d] = slice(attrs.get("start", 0), attrs.get("end", x.shape[d]))
        return x[tuple(idx)]
    if op == "cat":
        d = attrs.get("dim", -1) % x.ndim
        parts = list(args)
        if "other" in params:
            o = params["other"]
            shape = list(x.shape)
            shape[d] = o.shape[d]
            parts.insert(0, np.broadcast_to(o, shape))
        return np.concatenate(parts, axis=d)
    raise ValueError(f"no emulation for op {op!r}")


def quantize_params(graph, raw, rounding="half_even", quant=True):
    """raw: {"node.param": array} (tied parameters may be absent: their owner's array is
    used). Returns {"node.param": quantised float64 array in the node's layout}."""
    out = {}
    for n in graph["nodes"]:
        for pname, p in n.get("params", {}).items():
            key = f"{n['name']}.{pname}"
            src = p.get("shared_with", key)
            a = np.asarray(raw[src], dtype=np.float64).reshape(p["shape"])
            out[key] = quantize(a, p["precision"], rounding) if quant else a
    return out


def eval_graph(graph, params, inputs, rounding="half_even", quant=True):
    """params: quantize_params() result; inputs: {input name: array of the input's shape}.
    Returns {node name: float64 ndarray (quantised data_out_0)}. quant=False evaluates the
    same graph without any quantisation (for checking the graph against its module)."""
    dims = graph["dims"]
    values = {}
    for i in graph["inputs"]:
        a = np.asarray(inputs[i["name"]], dtype=np.float64).reshape(resolve_shape(i["shape"], dims))
        values[i["name"]] = quantize(a, i["precision"], rounding) if quant else a
    for n in graph["nodes"]:
        args = [values[a.split(".data_out_")[0]] for _, a in sorted(n["args"].items())]
        ps = {k: params[f"{n['name']}.{k}"] for k in n.get("params", {})}
        res = n["results"]["data_out_0"]
        shape = resolve_shape(res["shape"], dims)
        y = np.asarray(eval_node(n, args, ps, dims, shape), dtype=np.float64).reshape(shape)
        values[n["name"]] = quantize(y, res["precision"], rounding) if quant else y
    return values
