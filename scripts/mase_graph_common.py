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
