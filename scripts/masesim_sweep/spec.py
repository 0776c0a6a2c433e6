"""Sweep specs: loading, axis expansion into points, per-point config merging.

A spec (YAML, docs/sweeps.md):

    name: mnist_parallelism              # optional, defaults to the file's stem
    base: ../mnist_cnn_u250.yaml         # base config, relative to the spec
    set:                                 # optional: fixed settings for every point
      workload.graph: ../../workloads/graphs/mnist_cnn_int8.json
    axes:                                # ordered; first axis varies slowest
      mapping.default_parallelism: [4, 8, 16]
      workload.inferences: {range: [2, 8, 2]}      # 2, 4, 6 (stop exclusive)
    zip: [[axis_a, axis_b]]              # optional: these axes advance together
    timeout_s: 600                       # optional per-point wall-clock limit

Paths inside the base config are relative to the base config's directory; paths written
in the spec (set/axes values of workload.graph, device type files) are relative to the
spec's directory. Both are made absolute in the merged per-point config.
"""
import copy
import hashlib
import json
import os
import re

import yaml

SPEC_KEYS = {"name", "description", "base", "set", "axes", "zip", "timeout_s"}


class SpecError(Exception):
    """A problem with the spec (exit code 1)."""


# ----------------------------------------------------------------------------- values

def _range_values(spec, where):
    if not isinstance(spec, list) or not 1 <= len(spec) <= 3:
        raise SpecError(f"{where}: range must be [stop], [start, stop] or [start, stop, step]")
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in spec):
        raise SpecError(f"{where}: range bounds must be numbers, got {spec}")
    start, stop, step = (0, spec[0], 1) if len(spec) == 1 else (spec[0], spec[1], spec[2] if len(spec) == 3 else 1)
    if step == 0:
        raise SpecError(f"{where}: range step must not be 0")
    if all(isinstance(x, int) for x in (start, stop, step)):
        vals = list(range(start, stop, step))
    else:
        vals, i = [], 0
        while True:
            v = round(start + i * step, 12)  # no accumulated rounding error
            if (step > 0 and v >= stop - abs(step) * 1e-9) or (step < 0 and v <= stop + abs(step) * 1e-9):
                break
            vals.append(v)
            i += 1
            if i > 100000:
                raise SpecError(f"{where}: range has more than 100000 values")
    if not vals:
        raise SpecError(f"{where}: range {spec} is empty (stop is exclusive)")
    return vals


def axis_values(key, spec):
    """Values of one axis: a list, {range: [...]}, or {values: [...]}; a scalar is one value."""
    where = f"axes.{key}"
    if isinstance(spec, list):
        vals = spec
    elif isinstance(spec, dict) and set(spec) == {"range"}:
        vals = _range_values(spec["range"], where)
    elif isinstance(spec, dict) and set(spec) == {"values"}:
        vals = spec["values"]
        if not isinstance(vals, list):
            raise SpecError(f"{where}: values must be a list")
    elif isinstance(spec, dict):
        raise SpecError(f"{where}: expected a list, {{range: [start, stop, step]}} or {{values: [...]}}; "
                        f"got a mapping with keys {sorted(spec)} (wrap a mapping-valued setting in a list)")
    else:
        vals = [spec]
    if not vals:
        raise SpecError(f"{where}: no values")
    return vals


def canonical(value):
    """Stable text of a value (for ids and duplicate detection)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def format_value(value):
    """Short readable form of a value (names, CSV axis columns use canonical text)."""
    if isinstance(value, str):
        if "/" in value or value.endswith((".json", ".yaml", ".yml")):
            return os.path.splitext(os.path.basename(value))[0]
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and value and all(isinstance(d, dict) and "type" in d for d in value):
        # system.devices: [{count: 2, type: u250}, {name: x, type: u280}] -> 2xu250+u280
        parts = []
        for d in value:
            t = format_value(str(d["type"]))
            parts.append(f"{d['count']}x{t}" if "count" in d else t)
        return "+".join(parts)
    if isinstance(value, (list, dict)):
        return re.sub(r'["\s]', "", canonical(value))
    return str(value)


def csv_value(value):
    """How an axis value appears in results.csv: scalars as text, lists/maps as compact JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return canonical(value)
    return "" if value is None else str(value)


# ----------------------------------------------------------------------------- config trees

def split_key(key):
    return [int(p) if re.fullmatch(r"\d+", p) else p for p in key.split(".")]


def norm_key(key):
    """Dotted key without list indices: system.devices.0.type -> system.devices.type."""
    return ".".join(p for p in key.split(".") if not re.fullmatch(r"\d+", p))


def expand_top_level_dots(cfg):
    """A config may write `mapping.weights: auto` at the top level; nest such keys."""
    out = {}
    for k, v in (cfg or {}).items():
        if isinstance(k, str) and "." in k:
            set_dotted(out, k, v)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k].update(v)
        else:
            out[k] = v
    return out


def set_dotted(tree, key, value):
    """Set a dotted key in nested dicts/lists; numeric parts index lists (system.devices.0.count)."""
    parts = split_key(key)
    node = tree
    for i, p in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(p, int):
            if not isinstance(node, list):
                raise SpecError(f"{key}: '{'.'.join(map(str, parts[:i]))}' is not a list in the base config")
            if p >= len(node):
                raise SpecError(f"{key}: index {p} out of range (the base config's list has {len(node)} entries)")
            if last:
                node[p] = copy.deepcopy(value)
            else:
                if not isinstance(node[p], (dict, list)):
                    node[p] = {}
                node = node[p]
        else:
            if not isinstance(node, dict):
                raise SpecError(f"{key}: '{'.'.join(map(str, parts[:i]))}' is not a mapping")
            if last:
                node[p] = copy.deepcopy(value)
            else:
                nxt = parts[i + 1]
                if not isinstance(node.get(p), (dict, list)):
                    if isinstance(nxt, int):
                        raise SpecError(f"{key}: '{'.'.join(map(str, parts[:i + 1]))}' is not a list in the base config")
                    node[p] = {}
                node = node[p]


class PathResolver:
    """Makes the path-valued settings of a config (fragment) absolute.

    workload.graph: relative to `rel_dir`. system.devices[].type: a *.yaml path relative to
    `rel_dir`; a bare name (u250) becomes the absolute path of <dir>/devices/<name>.yaml for
    the first of `device_dirs` that has it (simulate looks in <config dir>/devices first),
    otherwise it stays a name (simulate finds it in MASESIM_DATA_DIR or its source tree).
    """

    def __init__(self, rel_dir, device_dirs):
        self.rel_dir = rel_dir
        self.device_dirs = device_dirs

    def _path(self, p):
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(self.rel_dir, p))

    def resolve(self, key, value):
        """Returns `value` (the setting at dotted `key`, '' = the whole config) with paths resolved."""
        if isinstance(value, dict):
            return {k: self.resolve(f"{key}.{k}" if key else str(k), v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(f"{key}.{i}", v) for i, v in enumerate(value)]
        if not isinstance(value, str):
            return value
        nk = norm_key(key)
        if nk == "workload.graph":
            return self._path(value)
        if nk == "system.devices.type":
            if value.endswith(".yaml"):
                return self._path(value)
            for d in self.device_dirs:
                f = os.path.join(d, "devices", value + ".yaml")
                if os.path.isfile(f):
                    return os.path.abspath(f)
        return value


# ----------------------------------------------------------------------------- points

class Point:
    __slots__ = ("index", "assignments", "id", "name")

    def __init__(self, index, assignments, name):
        self.index = index
        self.assignments = assignments  # ordered dict: axis key -> value (as written in the spec)
        self.id = point_id(assignments)
        self.name = name

    def as_dict(self):
        return {"index": self.index, "id": self.id, "name": self.name, "assignments": self.assignments}


def point_id(assignments):
    """Stable id: hash of the point's assignments (key order does not matter)."""
    text = canonical(sorted(assignments.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Spec:
    def __init__(self, path, data):
        self.path = os.path.abspath(path)
        self.dir = os.path.dirname(self.path)
        if not isinstance(data, dict):
            raise SpecError(f"{path}: expected a mapping at the top level")
        unknown = set(data) - SPEC_KEYS
        if unknown:
            raise SpecError(f"{path}: unknown key(s) {sorted(unknown)} (known: {sorted(SPEC_KEYS)})")
        self.name = str(data.get("name") or os.path.splitext(os.path.basename(path))[0])
        if "base" not in data or not isinstance(data["base"], str):
            raise SpecError(f"{path}: 'base' (the base config, relative to the spec) is required")
        self.base_path = os.path.normpath(os.path.join(self.dir, data["base"]))
        if not os.path.isfile(self.base_path):
            raise SpecError(f"{path}: base config '{self.base_path}' not found")
        self.base_dir = os.path.dirname(self.base_path)
        self.set = data.get("set") or {}
        if not isinstance(self.set, dict):
            raise SpecError(f"{path}: 'set' must be a mapping of dotted keys to values")
        axes = data.get("axes")
        if not isinstance(axes, dict) or not axes:
            raise SpecError(f"{path}: 'axes' must be a non-empty mapping of dotted config keys to values")
        self.axes = {}
        for k, v in axes.items():
            if not isinstance(k, str) or not re.fullmatch(r"[A-Za-z_][\w\-]*(\.[\w\-*]+)*", k):
                raise SpecError(f"{path}: axis '{k}' is not a dotted config key")
            if k in self.set:
                raise SpecError(f"{path}: '{k}' is both an axis and in 'set'")
            self.axes[k] = axis_values(k, v)
        self.zip = data.get("zip") or []
        if not isinstance(self.zip, list) or not all(isinstance(g, list) and len(g) >= 2 for g in self.zip):
            raise SpecError(f"{path}: 'zip' must be a list of groups, each a list of 2+ axis names")
        seen = set()
        for g in self.zip:
            for a in g:
                if a not in self.axes:
                    raise SpecError(f"{path}: zip: '{a}' is not an axis")
                if a in seen:
                    raise SpecError(f"{path}: zip: axis '{a}' is in more than one group")
                seen.add(a)
            lens = {len(self.axes[a]) for a in g}
            if len(lens) != 1:
                raise SpecError(f"{path}: zip group {g}: axes have different lengths "
                                f"({', '.join(f'{a}: {len(self.axes[a])}' for a in g)})")
        self.timeout_s = data.get("timeout_s")
        if self.timeout_s is not None and (not isinstance(self.timeout_s, (int, float)) or self.timeout_s <= 0):
            raise SpecError(f"{path}: timeout_s must be a positive number of seconds")
        self.description = data.get("description", "")
        with open(self.base_path) as f:
            try:
                base = yaml.safe_load(f)
            except yaml.YAMLError as e:
                raise SpecError(f"{self.base_path}: {e}")
        if base is not None and not isinstance(base, dict):
            raise SpecError(f"{self.base_path}: expected a mapping at the top level")
        base_res = PathResolver(self.base_dir, [self.base_dir])
        self.base = base_res.resolve("", expand_top_level_dots(base))
        self._spec_res = PathResolver(self.dir, [self.dir, self.base_dir])
        self.points = self._expand()

    @classmethod
    def load(cls, path):
        try:
            with open(path) as f:
                data = yaml.safe_load(f)
        except OSError as e:
            raise SpecError(f"{path}: {e.strerror}")
        except yaml.YAMLError as e:
            raise SpecError(f"{path}: {e}")
        return cls(path, data)

    # groups in axis order: each group is a list of axis keys advanced together
    def groups(self):
        zipped = {a: g for g in self.zip for a in g}
        out, done = [], set()
        for a in self.axes:
            if a in done:
                continue
            g = zipped.get(a, [a])
            out.append(g)
            done.update(g)
        return out

    def _labels(self):
        last = {}
        for k in self.axes:
            parts = [p for p in k.split(".") if not p.isdigit()]
            last.setdefault(parts[-1], []).append(k)
        labels = {}
        for k in self.axes:
            parts = [p for p in k.split(".") if not p.isdigit()]
            labels[k] = parts[-1] if len(last[parts[-1]]) == 1 else k
        return labels

    def _expand(self):
        groups = self.groups()
        combos = [{}]
        for g in groups:  # first group outermost (slowest)
            n = len(self.axes[g[0]])
            combos = [dict(c, **{a: self.axes[a][i] for a in g}) for c in combos for i in range(n)]
        labels = self._labels()
        points, ids = [], {}
        for i, c in enumerate(combos):
            a = {k: c[k] for k in self.axes}  # spec axis order
            name = ",".join(f"{labels[k]}={format_value(v)}" for k, v in a.items())
            p = Point(i, a, name)
            if p.id in ids:
                raise SpecError(f"{self.path}: points {ids[p.id]} and {i} are identical ({name}); "
                                f"an axis lists a value twice")
            ids[p.id] = i
            points.append(p)
        return points

    def config_for(self, point):
        """The merged config (a dict) of one point: base, then `set`, then the axes."""
        cfg = copy.deepcopy(self.base)
        for k, v in list(self.set.items()) + list(point.assignments.items()):
            set_dotted(cfg, k, self._spec_res.resolve(k, v))
        return cfg

    def config_text(self, point):
        head = (f"# masesim sweep '{self.name}', point {point.id} ({point.name})\n"
                f"# base: {self.base_path}\n")
        return head + yaml.safe_dump(self.config_for(point), sort_keys=False, default_flow_style=None, width=100)

    def check_keys(self, known):
        """Checks axis/set keys against `simulate --list-keys` names (known: list of keys,
        entries ending in '.*' are families). Raises SpecError for an unknown key."""
        import difflib
        families = [k[:-2] for k in known if k.endswith(".*")]
        plain = [k for k in known if not k.endswith(".*")]
        for k in list(self.set) + list(self.axes):
            nk = norm_key(k)
            ok = (nk in plain or any(nk.startswith(p + ".") for p in plain)
                  or any(p.startswith(nk + ".") for p in plain)
                  or any(nk.startswith(f + ".") and nk.count(".") == f.count(".") + 1 for f in families)
                  or any(f.startswith(nk + ".") or f == nk for f in families))
            if not ok:
                close = difflib.get_close_matches(nk, plain, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise SpecError(f"{self.path}: '{k}' is not a config key{hint}; see simulate --list-keys")
