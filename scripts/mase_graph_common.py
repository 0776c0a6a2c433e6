"""Shared helpers of masesim's graph scripts: precisions, quantization configs,
deterministic mase-graph serialisation. Used by export_graph.py, onnx_to_graph.py
and graph_stats.py. See docs/graph-format.md and docs/workloads.md."""
import copy
import fnmatch
import json

import yaml


class GraphError(Exception):
    """A user-facing export / import error (printed without a traceback)."""


# ----------------------------------------------------------------- precisions
PRECISION_KEYS = {
    "fixed": ({"width", "frac_width"}, set()),
    "float": ({"width"}, set()),
    "minifloat": ({"width", "exponent_width"}, {"exponent_bias"}),
    "block_fp": ({"width", "exponent_width", "block_size"}, set()),
    "mxint": ({"width", "block_size"}, set()),
    "mxfp": ({"exponent_width", "mantissa_width", "block_size"}, set()),
}


def check_precision(p, where):
    if not isinstance(p, dict) or "type" not in p:
        raise GraphError(f"{where}: a precision is a map with a 'type' key, got {p!r}")
    t = p["type"]
    if t not in PRECISION_KEYS:
        raise GraphError(f"{where}: unknown precision type '{t}' "
                         f"(known: {', '.join(sorted(PRECISION_KEYS))})")
    req, opt = PRECISION_KEYS[t]
    keys = set(p) - {"type"}
    if req - keys:
        raise GraphError(f"{where}: precision '{t}' needs {', '.join(sorted(req - keys))}")
    if keys - req - opt:
        raise GraphError(f"{where}: precision '{t}' has unknown key(s) "
                         f"{', '.join(sorted(keys - req - opt))}")
    for k in keys:
        if not isinstance(p[k], int) or isinstance(p[k], bool):
            raise GraphError(f"{where}: precision key '{k}' must be an integer")
    return p


def bits_per_element(p):
    t = p["type"]
    if t in ("fixed", "float", "minifloat"):
        return float(p["width"])
    if t == "block_fp":
        return p["width"] + p["exponent_width"] / p["block_size"]
    if t == "mxint":
        return p["width"] + 8.0 / p["block_size"]
    if t == "mxfp":
        return 1 + p["exponent_width"] + p["mantissa_width"] + 8.0 / p["block_size"]
    raise GraphError(f"unknown precision type '{t}'")


# ------------------------------------------------------ quantization configs
FIXED8 = {"type": "fixed", "width": 8, "frac_width": 4}
INDEX_PRECISION = {"type": "fixed", "width": 32, "frac_width": 0}

PRESETS = {
    # int8: 8-bit fixed point, 4 fractional bits, for every activation and weight.
    "int8": {"default": FIXED8},
    # Microsoft floating point (block floating point): 8-bit shared exponent per 16.
    "msfp12": {"default": {"type": "block_fp", "width": 4, "exponent_width": 8, "block_size": 16}},
    "msfp16": {"default": {"type": "block_fp", "width": 8, "exponent_width": 8, "block_size": 16}},
    # OCP microscaling: E8M0 scale per 32 elements.
    "mxint8": {"default": {"type": "mxint", "width": 8, "block_size": 32}},
    "mxfp8": {"default": {"type": "mxfp", "exponent_width": 4, "mantissa_width": 3, "block_size": 32}},
    # W4A8 (the spatial GPT-2 accelerator on a U280, ../shared/designs section 3): int8
    # activations, int4 weights of every linear (two packed per DSP); attention's matmuls
    # stay int8 x int8.
    "w4a8": {"default": FIXED8,
             "by_op": {"linear": {"weight": {"type": "fixed", "width": 4, "frac_width": 2}}}},
    # IEEE half precision everywhere (DFX's FP16 datapath, section 4).
    "fp16": {"default": {"type": "float", "width": 16}},
}

SLOT_KEYS = {"data_out", "params", "weight", "bias", "running_mean", "running_var"}
PARAM_SLOTS = {"weight", "bias", "running_mean", "running_var"}
QUANT_TOP_KEYS = {"default", "by_op", "by_name", "index"}


def _norm_entry(entry, where):
    """A config entry is a precision (applies to every result and parameter of the
    node) or a map of slots {data_out, params, weight, bias, ...} -> precision."""
    if isinstance(entry, dict) and "type" in entry:
        check_precision(entry, where)
        return {"data_out": entry, "params": entry}
    if not isinstance(entry, dict) or not entry:
        raise GraphError(f"{where}: expected a precision or a map of "
                         f"{'/'.join(sorted(SLOT_KEYS))} -> precision")
    out = {}
    for k, v in entry.items():
        if k not in SLOT_KEYS:
            raise GraphError(f"{where}: unknown key '{k}' (known: {', '.join(sorted(SLOT_KEYS))})")
        out[k] = check_precision(v, f"{where}.{k}")
    return out


class QuantConfig:
    """MASE-style quantization config:

        default: {type: fixed, width: 8, frac_width: 4}     # required
        by_op:   {softmax: {type: fixed, width: 16, frac_width: 8}}
        by_name: {"model.decoder.layers.*.fc1": {weight: {...}, data_out: {...}}}
        index:   {type: fixed, width: 32, frac_width: 0}    # integer tensors (ids)

    Priority: default < by_op < by_name (in file order; a later match wins)."""

    def __init__(self, cfg, label):
        if not isinstance(cfg, dict):
            raise GraphError(f"quant config {label}: top level must be a map")
        unknown = set(cfg) - QUANT_TOP_KEYS
        if unknown:
            raise GraphError(f"quant config {label}: unknown key(s) {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(sorted(QUANT_TOP_KEYS))})")
        if "default" not in cfg:
            raise GraphError(f"quant config {label}: 'default' is required")
        self.label = label
        self.raw = copy.deepcopy(cfg)
        self.default = _norm_entry(cfg["default"], "default")
        for slot in ("data_out", "params"):
            if slot not in self.default:
                raise GraphError(f"quant config {label}: default needs '{slot}' (or be a precision)")
        self.index = check_precision(cfg.get("index", INDEX_PRECISION), "index")
        self.by_op = {k: _norm_entry(v, f"by_op.{k}") for k, v in (cfg.get("by_op") or {}).items()}
        self.by_name = [(k, _norm_entry(v, f"by_name.{k}"))
                        for k, v in (cfg.get("by_name") or {}).items()]
        self.used_ops = set()
        self.used_names = set()

    @staticmethod
    def load(path=None, preset=None):
        if preset is not None:
            if preset not in PRESETS:
                raise GraphError(f"unknown quant preset '{preset}' (known: {', '.join(sorted(PRESETS))})")
            return QuantConfig(PRESETS[preset], f"preset:{preset}")
        with open(path) as f:
            return QuantConfig(yaml.safe_load(f), path)

    def _entries(self, name, op):
        entries = [self.default]
        if op is not None and op in self.by_op:
            self.used_ops.add(op)
            entries.append(self.by_op[op])
        for pat, e in self.by_name:
            if fnmatch.fnmatchcase(name, pat):
                self.used_names.add(pat)
                entries.append(e)
        return entries

    def precision(self, name, op, slot):
        """slot: 'data_out' or a parameter name."""
        generic = "params" if slot != "data_out" else "data_out"
        val = None
        for e in self._entries(name, op):
            if slot in e:
                val = e[slot]
            elif generic in e:
                val = e[generic]
        return copy.deepcopy(val)

    def check_all_used(self):
        """A key that matched no node is an error naming the key."""
        for op in self.by_op:
            if op not in self.used_ops:
                raise GraphError(f"quant config {self.label}: by_op key '{op}' matches no node")
        for pat, _ in self.by_name:
            if pat not in self.used_names:
                raise GraphError(f"quant config {self.label}: by_name key '{pat}' matches no node "
                                 f"or input")


def apply_quant(graph, qc, integer_tensors=()):
    """Set the precision of every tensor of a mase-graph dict in place.
    integer_tensors: names of inputs / nodes whose data_out values are integers."""
    integer_tensors = set(integer_tensors)
    for inp in graph["inputs"]:
        inp["precision"] = (copy.deepcopy(qc.index) if inp["name"] in integer_tensors
                            else qc.precision(inp["name"], None, "data_out"))
    for n in graph["nodes"]:
        for pname, p in n.get("params", {}).items():
            p["precision"] = qc.precision(n["name"], n["op"], pname)
        for rname, r in n["results"].items():
            r["precision"] = (copy.deepcopy(qc.index) if n["name"] in integer_tensors
                              else qc.precision(n["name"], n["op"], "data_out"))
    qc.check_all_used()
    graph.setdefault("attrs", {})["quant_config"] = qc.label


# ----------------------------------------------------------------- serialise
def _is_flat(v):
    if isinstance(v, list):
        return all(not isinstance(x, (list, dict)) for x in v)
    if isinstance(v, dict):
        return all(not isinstance(x, (list, dict)) for x in v.values())
    return True


def _dump(v, level):
    flat = json.dumps(v, sort_keys=True, separators=(", ", ": "))
    if _is_flat(v) or len(flat) + level <= 100:
        return flat
    pad = " " * (level + 1)
    end = " " * level
    if isinstance(v, list):
        items = [pad + _dump(x, level + 1) for x in v]
        return "[\n" + ",\n".join(items) + "\n" + end + "]"
    items = [pad + json.dumps(k) + ": " + _dump(v[k], level + 1) for k in sorted(v)]
    return "{\n" + ",\n".join(items) + "\n" + end + "}"


def dumps_graph(graph):
    """Deterministic JSON: sorted keys, list order kept, flat lists and maps and
    any value whose JSON fits in 100 columns on one line, trailing newline."""
    return _dump(graph, 0) + "\n"


def write_graph(graph, path):
    text = dumps_graph(graph)
    with open(path, "w") as f:
        f.write(text)
    return text


def load_graph(path):
    with open(path) as f:
        text = f.read()
    if path.endswith(".json"):
        return json.loads(text)
    return yaml.safe_load(text)


def parse_dims(text):
    dims = {}
    if not text:
        return dims
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise GraphError(f"--dims: expected name=value, got '{item}'")
        k, v = item.split("=", 1)
        try:
            dims[k.strip()] = int(v)
        except ValueError:
            raise GraphError(f"--dims: '{k}' needs an integer, got '{v}'") from None
        if dims[k.strip()] <= 0:
            raise GraphError(f"--dims: '{k}' must be positive")
    return dims


# ----------------------------------------------------- shared command-line options
def add_quant_args(ap):
    """--quant FILE / --quant-preset NAME, the same for export_graph.py and
    onnx_to_graph.py (one MASE-style per-tensor config, docs/workloads.md)."""
    q = ap.add_mutually_exclusive_group()
    q.add_argument("--quant", metavar="CONFIG", help="MASE-style quantization config YAML "
                   "(default / by_op / by_name / index, docs/workloads.md)")
    q.add_argument("--quant-preset", metavar="NAME",
                   help=f"preset: {', '.join(sorted(PRESETS))}")
    return q


def add_moe_args(ap):
    """Routing of the graph's moe_experts nodes (both exporters; docs/graph-format.md)."""
    ap.add_argument("--routing", metavar="RULE",
                    help="tokens per expert of every moe_experts node: balanced (default), "
                    "seeded[:SEED] (each token draws top_k experts from a seeded stream) or "
                    "load:W0,W1,... (integer weights, one per expert)")
    ap.add_argument("--expert-parallel", type=int, metavar="P",
                    help="expert datapaths of every moe_experts node (default 1)")


def apply_moe_args(graph, a):
    """Sets the routing attributes of every moe_experts node from --routing and
    --expert-parallel; GraphError on a bad value."""
    attrs = {}
    r = getattr(a, "routing", None)
    if r:
        rule, _, arg = r.partition(":")
        try:
            if rule == "balanced" and not arg:
                attrs["routing"] = "balanced"
            elif rule == "seeded":
                attrs.update(routing="seeded", routing_seed=int(arg or 0))
            elif rule == "load" and arg:
                attrs.update(routing="load", expert_load=[int(w) for w in arg.split(",")])
            else:
                raise ValueError
        except ValueError:
            raise GraphError(f"--routing '{r}': expected balanced, seeded[:SEED] or "
                             f"load:W0,W1,... (integers)") from None
    p = getattr(a, "expert_parallel", None)
    if p is not None:
        if p < 1:
            raise GraphError(f"--expert-parallel must be at least 1, got {p}")
        attrs["expert_parallel"] = p
    if not attrs:
        return
    moe = [n for n in graph["nodes"] if n["op"] == "moe_experts"]
    if not moe:
        raise GraphError("--routing/--expert-parallel given, but the graph has no moe_experts "
                         "node")
    for n in moe:
        experts = n["params"]["w1"]["shape"][0]
        if "expert_load" in attrs and len(attrs["expert_load"]) != experts:
            raise GraphError(f"--routing load: {len(attrs['expert_load'])} weights, but node "
                             f"'{n['name']}' has {experts} experts")
        if attrs.get("expert_parallel", 1) > experts:
            raise GraphError(f"--expert-parallel {attrs['expert_parallel']}: node "
                             f"'{n['name']}' has {experts} experts")
        n["attrs"] = {k: v for k, v in n["attrs"].items()
                      if not ("routing" in attrs and k in ("routing", "routing_seed",
                                                           "expert_load"))}
        n["attrs"].update(attrs)


def quant_from_args(a):
    """The QuantConfig of parsed --quant/--quant-preset, or None when neither is given."""
    if a.quant or a.quant_preset:
        return QuantConfig.load(a.quant, a.quant_preset)
    return None


# The dims trick (docs/workloads.md): symbolic dims get unusual primes as sample sizes,
# pass A and pass B; the two symbolic graphs must be identical. batch and seq keep their
# historical values; other dim names take the next unused primes in name order.
SAMPLE_A = {"batch": 5, "seq": 37}
SAMPLE_B = {"batch": 7, "seq": 43}
_SPARE_A = (41, 53, 59, 67, 73, 79, 83, 89, 97, 101, 103)
_SPARE_B = (47, 61, 71, 109, 113, 127, 131, 137, 139, 149, 151)


def sample_dims(dim_names, which):
    """{dim: sample size} of pass 'A' or 'B' for the given symbolic dim names."""
    base, spare = (SAMPLE_A, _SPARE_A) if which == "A" else (SAMPLE_B, _SPARE_B)
    out, k = {}, 0
    for d in sorted(dim_names, key=lambda d: (d not in base, d)):
        if d in base:
            out[d] = base[d]
        else:
            if k >= len(spare):
                raise GraphError(f"too many symbolic dims ({len(dim_names)}); at most "
                                 f"{len(spare) + len(base)}")
            out[d] = spare[k]
            k += 1
    return out


INPUT_DTYPES = {"float32": "float32", "float": "float32", "f32": "float32",
                "float16": "float16", "f16": "float16", "bfloat16": "bfloat16",
                "float64": "float64", "int64": "int64", "long": "int64", "int32": "int32",
                "int": "int32", "bool": "bool", "uint8": "uint8", "int8": "int8"}


def parse_input_spec(text):
    """'NAME:SHAPE[:DTYPE]' with SHAPE a comma list of ints and dim names, e.g.
    'input_ids:batch,seq:int64' or 'x:batch,3,224,224' (dtype float32).
    Returns (name, [int | str], dtype name)."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise GraphError(f"--input '{text}': expected NAME:SHAPE[:DTYPE], e.g. "
                         f"x:batch,3,224,224:float32")
    name, shape_text = parts[0].strip(), parts[1]
    dtype = parts[2].strip() if len(parts) == 3 else "float32"
    if dtype not in INPUT_DTYPES:
        raise GraphError(f"--input '{text}': unknown dtype '{dtype}' "
                         f"(known: {', '.join(sorted(set(INPUT_DTYPES.values())))})")
    shape = []
    for item in shape_text.split(","):
        item = item.strip()
        if not item:
            raise GraphError(f"--input '{text}': empty shape entry")
        if item.lstrip("-").isdigit():
            v = int(item)
            if v <= 0:
                raise GraphError(f"--input '{text}': shape entries must be positive, got {v}")
            shape.append(v)
        elif item.isidentifier():
            shape.append(item)
        else:
            raise GraphError(f"--input '{text}': shape entry '{item}' is neither a positive "
                             f"integer nor a dim name")
    return name, shape, INPUT_DTYPES[dtype]


def first_difference(a, b, path="graph"):
    """Path of the first entry where two JSON-like values differ, or None."""
    if type(a) is not type(b):
        return f"{path} ({a!r} vs {b!r})"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path} (length {len(a)} vs {len(b)})"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path} ({a!r} vs {b!r})"


def nearest(name, known, n=3):
    """' (nearest supported: a, b)' for an error message, or '' when nothing is close."""
    import difflib
    lower = {k.lower(): k for k in sorted(known)}
    close = difflib.get_close_matches(str(name).lower(), list(lower), n=n, cutoff=0.4)
    return f" (nearest supported: {', '.join(lower[c] for c in close)})" if close else ""


# Parameters that are buffers in PyTorch (state, not learned): stored and counted in
# weight bytes, not in parameter counts (BatchNorm's running statistics).
BUFFER_PARAMS = {"running_mean", "running_var"}


# -------------------------------------------------------- pattern fusion (both paths)
def _consumers(nodes, outputs):
    cons = {}
    for n in nodes:
        for r in n["args"].values():
            cons.setdefault(r.split(".data_out_")[0], []).append(n)
    for o in outputs:
        cons.setdefault(o.split(".data_out_")[0], []).append(None)
    return cons


def _scope_of(name, fallback):
    return name.rsplit(".", 1)[0] if "." in name else fallback


def _near(v, want, rel=1e-3):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and \
        abs(v - want) <= rel * abs(want)


def _rope(add, nodes, shapes, only):
    """(nodes to drop, the rope node) when `add` ends a rotate-half RoPE: add(mul(x, cos),
    mul(cat(mul(slice(x, D/2:), -1), slice(x, :D/2)), sin)), cos and sin data operands
    (tables of the trailing shape of x), every intermediate with one consumer."""
    by = {n["name"]: n for n in nodes}

    def plain_mul(n):
        return n is not None and n["op"] == "mul" and len(n["args"]) == 2 and \
            not n.get("params") and "scalar" not in n.get("attrs", {}) and only(n["name"]) is \
            not None

    ms = [by.get(a) for a in add["args"].values()]
    if not all(plain_mul(m) and only(m["name"]) is add for m in ms):
        return None
    for m_cos, m_sin in (ms, ms[::-1]):
        for cat_ref in m_sin["args"].values():
            cat = by.get(cat_ref)
            if cat is None or cat["op"] != "cat" or cat.get("params") or \
                    len(cat["args"]) != 2 or only(cat["name"]) is not m_sin:
                continue
            sin = next(v for v in m_sin["args"].values() if v != cat_ref)
            neg, lo = by.get(cat["args"]["data_in_0"]), by.get(cat["args"]["data_in_1"])
            if neg is None or neg["op"] != "mul" or len(neg["args"]) != 1 or \
                    neg.get("params") or neg.get("attrs", {}).get("scalar") != -1 or \
                    only(neg["name"]) is not cat:
                continue
            hi = by.get(neg["args"]["data_in_0"])
            if hi is None or lo is None or hi["op"] != "slice" or lo["op"] != "slice" or \
                    only(hi["name"]) is not neg or only(lo["name"]) is not cat:
                continue
            x = hi["args"]["data_in_0"]
            if lo["args"]["data_in_0"] != x or x not in shapes:
                continue
            xs = shapes[x]
            rank, d = len(xs), xs[-1]
            if not isinstance(d, int) or d % 2:
                continue
            last = {rank - 1, -1}
            ha, la = hi.get("attrs", {}), lo.get("attrs", {})
            if ha.get("dim") not in last or cat.get("attrs", {}).get("dim") not in last or \
                    la.get("dim") not in last:
                continue
            if ha.get("start") not in (d // 2, -(d // 2)) or ha.get("end", d) not in (d,):
                continue
            if la.get("start", 0) != 0 or la.get("end") not in (d // 2, -(d // 2)):
                continue
            if x not in m_cos["args"].values():
                continue
            cos = next((v for v in m_cos["args"].values() if v != x), None)
            if cos is None or shapes.get(cos) != shapes.get(sin):
                continue
            ts = list(shapes[cos])
            while len(ts) > 1 and ts[0] == 1:
                ts = ts[1:]
            if len(ts) > rank or list(xs[rank - len(ts):]) != ts:
                continue
            node = {"name": add["name"], "op": "rope",
                    "args": {"data_in_0": x, "data_in_1": cos, "data_in_2": sin},
                    "results": add["results"]}
            return [hi, neg, lo, cat, m_cos, m_sin, add], node
    return None


def fuse_patterns(nodes, outputs, input_shapes):
    """Fuses decomposed patterns of a mase-graph node list (in place, order kept):

    * RMSNorm: pow(x, 2) -> mean(dim [-1], keepdim) -> add(eps) -> rsqrt -> mul(x, .)
      [-> mul by a constant `other` of shape [D]] becomes rms_norm (param weight,
      attrs normalized_shape [D], eps), named after the pattern's scope;
    * GELU (erf form, ONNX): div(x, sqrt 2) | mul(x, 1/sqrt 2) -> erf -> add(1) ->
      mul(x, .) -> mul(0.5) becomes gelu;
    * SiLU: sigmoid(x) -> mul(x, .) becomes silu;
    * causal depthwise conv: conv1d(groups C, padding K-1) -> slice(end -(K-1)) becomes
      causal_conv1d (Mamba's short convolution), keeping the conv's name;
    * RoPE (rotate half): add(mul(x, cos), mul(cat(mul(slice(x, D/2:), -1),
      slice(x, :D/2)), sin)) becomes rope(x, cos, sin), named <scope>.rope.

    Every intermediate must have exactly one consumer. input_shapes: {ref: shape} of
    the graph inputs. Returns {old "node.param": new "node.param"} renames."""
    renames = {}
    shapes = dict(input_shapes)
    for n in nodes:
        shapes[n["name"]] = n["results"]["data_out_0"]["shape"]

    def only(cons, name):
        c = cons.get(name, [])
        return c[0] if len(c) == 1 and c[0] is not None else None

    def rename(node, first):
        """Names a fused node after the scope of the pattern's first node when free."""
        old, new = node["name"], _scope_of(first["name"], node["name"])
        if new == old or any(q["name"] == new for q in nodes) or new in shapes:
            return
        node["name"] = new
        for q in nodes:
            for k, v in q["args"].items():
                if v == old:
                    q["args"][k] = new
        outputs[:] = [new if o == old else o for o in outputs]
        for k, v in list(renames.items()):
            if v.startswith(old + "."):
                renames[k] = new + v[len(old):]
        shapes[new] = shapes.pop(old)

    def one_input(n, op):
        return n is not None and n["op"] == op and len(n["args"]) == 1 and not n.get("params")

    changed = True
    while changed:
        changed = False
        cons = _consumers(nodes, outputs)
        for p in nodes:
            # ---- RMSNorm
            if one_input(p, "pow") and p.get("attrs", {}).get("scalar") == 2:
                x = p["args"]["data_in_0"]
                r = only(cons, p["name"])
                if not one_input(r, "mean") or r.get("attrs", {}).get("keepdim") is not True:
                    continue
                rank = len(shapes.get(x, []))
                if r["attrs"].get("dim") not in ([rank - 1], [-1]):
                    continue
                a = only(cons, r["name"])
                if not one_input(a, "add") or "scalar" not in a.get("attrs", {}):
                    continue
                s = only(cons, a["name"])
                if not one_input(s, "rsqrt"):
                    continue
                m = only(cons, s["name"])
                if m is None or m["op"] != "mul" or m.get("params") or \
                        sorted(m["args"].values()) != sorted([x, s["name"]]):
                    continue
                d = shapes[x][-1]
                w = only(cons, m["name"])
                last, weight = m, None
                if w is not None and w["op"] == "mul" and len(w["args"]) == 1 and \
                        list(w.get("params", {})) == ["other"] and \
                        w["params"]["other"]["shape"] == [d]:
                    last, weight = w, w["params"]["other"]
                fused = {"name": last["name"], "op": "rms_norm", "args": {"data_in_0": x},
                         "attrs": {"normalized_shape": [d], "eps": a["attrs"]["scalar"]},
                         "results": last["results"]}
                if weight is not None:
                    fused["params"] = {"weight": weight}
                    renames[f"{last['name']}.other"] = f"{last['name']}.weight"
                drop = {id(q) for q in (p, r, a, s, m, last)}
                at = nodes.index(p)
                nodes[:] = [q for q in nodes if id(q) not in drop]
                nodes.insert(at, fused)
                rename(fused, p)
                changed = True
                break
            # ---- causal depthwise conv1d: conv1d(padding K-1) -> slice(:-(K-1)) (Mamba)
            if p["op"] == "conv1d" and len(p["args"]) == 1 and "weight" in p.get("params", {}):
                w = p["params"]["weight"]["shape"]
                at_ = p.get("attrs", {})
                k = w[2] if len(w) == 3 else None
                sl = only(cons, p["name"])
                x_shape = shapes.get(p["args"]["data_in_0"], [])
                if k and k > 1 and w[1] == 1 and len(x_shape) == 3 and \
                        at_.get("groups") == w[0] == x_shape[1] and \
                        at_.get("padding") == k - 1 and at_.get("stride", 1) == 1 and \
                        at_.get("dilation", 1) == 1 and sl is not None and \
                        sl["op"] == "slice" and sl.get("attrs", {}).get("dim") in (2, -1) and \
                        sl["attrs"].get("start", 0) == 0 and sl["attrs"].get("end") == -(k - 1):
                    fused = {"name": p["name"], "op": "causal_conv1d", "args": dict(p["args"]),
                             "params": p["params"], "results": sl["results"]}
                    at = nodes.index(p)
                    nodes[:] = [q for q in nodes if q is not p and q is not sl]
                    nodes.insert(at, fused)
                    for q in nodes:
                        for a, v in q["args"].items():
                            if v == sl["name"]:
                                q["args"][a] = p["name"]
                    outputs[:] = [p["name"] if o == sl["name"] else o for o in outputs]
                    shapes[p["name"]] = shapes.pop(sl["name"])
                    changed = True
                    break
            # ---- RoPE: x*cos + cat(-x[..., D/2:], x[..., :D/2])*sin
            if p["op"] == "add" and len(p["args"]) == 2 and not p.get("params") and \
                    "scalar" not in p.get("attrs", {}):
                fused = _rope(p, nodes, shapes, lambda name: only(cons, name))
                if fused is not None:
                    drop, node = fused
                    at = min(nodes.index(q) for q in drop)
                    nodes[:] = [q for q in nodes if id(q) not in {id(q) for q in drop}]
                    nodes.insert(at, node)
                    old_name = node["name"]
                    base = _scope_of(old_name, "") + ".rope" if "." in old_name else "rope"
                    new_name, k = base, 1
                    taken = {q["name"] for q in nodes if q is not node} | set(input_shapes)
                    while new_name in taken:
                        new_name, k = f"{base}_{k}", k + 1
                    node["name"] = new_name
                    for q in nodes:
                        for a, v in q["args"].items():
                            if v == old_name:
                                q["args"][a] = new_name
                    outputs[:] = [new_name if o == old_name else o for o in outputs]
                    shapes[new_name] = shapes.pop(old_name)
                    changed = True
                    break
            # ---- SiLU: x * sigmoid(x) (ONNX before opset 22 has no SiLU)
            if one_input(p, "sigmoid"):
                x = p["args"]["data_in_0"]
                m = only(cons, p["name"])
                if m is None or m["op"] != "mul" or m.get("params") or \
                        sorted(m["args"].values()) != sorted([x, p["name"]]):
                    continue
                fused = {"name": m["name"], "op": "silu", "args": {"data_in_0": x},
                         "results": m["results"]}
                at = nodes.index(p)
                nodes[:] = [q for q in nodes if q is not p and q is not m]
                nodes.insert(at, fused)
                rename(fused, p)
                changed = True
                break
            # ---- GELU from erf
            if one_input(p, "erf"):
                d = next((q for q in nodes if q["name"] == p["args"]["data_in_0"]), None)
                if not (one_input(d, "div") and _near(d.get("attrs", {}).get("scalar"), 2 ** 0.5)
                        or one_input(d, "mul") and _near(d.get("attrs", {}).get("scalar"),
                                                          2 ** -0.5)):
                    continue
                if only(cons, d["name"]) is not p:
                    continue
                x = d["args"]["data_in_0"]
                a = only(cons, p["name"])
                if not one_input(a, "add") or not _near(a.get("attrs", {}).get("scalar"), 1.0):
                    continue
                m = only(cons, a["name"])
                if m is None or m["op"] != "mul" or m.get("params") or len(m["args"]) != 2:
                    continue
                other = [v for v in m["args"].values() if v != a["name"]]
                h, last = None, None
                if other == [x]:
                    h = only(cons, m["name"])
                    if not one_input(h, "mul") or not _near(h.get("attrs", {}).get("scalar"), 0.5):
                        continue
                    last, extra = h, [h]
                else:
                    pre = next((q for q in nodes if other and q["name"] == other[0]), None)
                    if not one_input(pre, "mul") or pre["args"]["data_in_0"] != x or \
                            not _near(pre.get("attrs", {}).get("scalar"), 0.5) or \
                            only(cons, pre["name"]) is not m:
                        continue
                    last, extra = m, [pre]
                fused = {"name": last["name"], "op": "gelu", "args": {"data_in_0": x},
                         "results": last["results"]}
                drop = {id(q) for q in [d, p, a, m] + extra}
                at = min(nodes.index(q) for q in [d, p, a, m] + extra)
                nodes[:] = [q for q in nodes if id(q) not in drop]
                nodes.insert(at, fused)
                rename(fused, d)
                changed = True
                break
    if renames:
        for n in nodes:
            for pe in n.get("params", {}).values():
                if pe.get("shared_with") in renames:
                    pe["shared_with"] = renames[pe["shared_with"]]
    return renames


def merge_samples(a, b, sample_a, sample_b, path="graph", key=None):
    """The symbolic graph of two concrete exports at the sample sizes of pass A and B.

    Entries of shape lists (any list under a key named `shape`) that are equal in both
    passes are constants; an entry equal to sample_a[d] in A and sample_b[d] in B
    becomes the dim name d. Anything else that differs (a dim inside a product such as
    batch*heads, an attribute that depends on a dim) raises GraphError naming the entry.
    A model constant that equals a sample size is thus told apart from the dim."""
    if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        raise GraphError(f"{path} ({a!r} vs {b!r})")
    if isinstance(a, dict):
        if set(a) != set(b):
            k = sorted(set(a) ^ set(b))[0]
            raise GraphError(f"{path}.{k}")
        return {k: merge_samples(a[k], b[k], sample_a, sample_b, f"{path}.{k}", k) for k in a}
    if isinstance(a, list):
        if len(a) != len(b):
            raise GraphError(f"{path} (length {len(a)} vs {len(b)})")
        if key == "shape" and all(isinstance(x, int) for x in a + b):
            out = []
            for i, (x, y) in enumerate(zip(a, b)):
                if x == y:
                    out.append(x)
                    continue
                d = [n for n in sample_a if sample_a[n] == x and sample_b.get(n) == y]
                if not d:
                    raise GraphError(f"{path}[{i}] ({x} vs {y})")
                out.append(d[0])
            return out
        return [merge_samples(x, y, sample_a, sample_b, f"{path}[{i}]", key)
                for i, (x, y) in enumerate(zip(a, b))]
    if a != b:
        raise GraphError(f"{path} ({a!r} vs {b!r})")
    return a
