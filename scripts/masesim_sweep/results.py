"""results.csv rows from a point's stats.json, and atomic file/directory writes."""
import csv
import io
import json
import os
import shutil
import tempfile

from .spec import csv_value

RESOURCES = ("lut", "ff", "dsp", "bram36", "uram")

METRIC_COLUMNS = (
    ["throughput_inferences_per_s", "latency_us", "latency_cycles", "total_us",
     "devices", "devices_used", "device_types"]
    + [f"{r}_{c}" for r in RESOURCES for c in ("used", "available", "utilisation", "max_device_utilisation")]
    + ["bottleneck_node", "bottleneck_bound", "busiest_link", "busiest_link_utilisation"]
    # LLM runs (workload.phase); empty otherwise.
    + ["ttft_us", "tpot_us", "tpot_p99_us", "tokens_per_s", "decode_tokens_per_s",
       "kv_cache_bytes_per_sequence", "decode_bound", "decode_limited_by"]
    # mapping.auto's split search: what bounds the throughput (empty without it).
    + ["scale_bound", "split_nodes"]
)
STATUS_COLUMNS = ["status", "exit_code"]
TAIL_COLUMNS = ["error"]


def columns(axis_keys):
    return ["id", "name"] + list(axis_keys) + STATUS_COLUMNS + METRIC_COLUMNS + TAIL_COLUMNS


def fmt_num(x):
    """Deterministic text for a number (10 significant digits for floats)."""
    if x is None or x == "":
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if x == int(x) and abs(x) < 1e15:
            return str(int(x))
        return f"{x:.10g}"
    return str(x)


def summarise(stats):
    """The metric columns of one point from its stats.json (a dict)."""
    row = {}
    for k in ("throughput_inferences_per_s", "latency_us", "latency_cycles", "total_us"):
        row[k] = fmt_num(stats.get(k))
    devs = stats.get("devices") or {}
    row["devices"] = fmt_num((stats.get("system") or {}).get("devices", len(devs)))
    row["devices_used"] = fmt_num((stats.get("mapping") or {}).get("devices_used", ""))
    types = []
    for d in devs.values():
        t = str(d.get("type", ""))
        if t not in types:
            types.append(t)
    row["device_types"] = "+".join(types)
    for r in RESOURCES:
        used = avail = 0
        umax = None
        for d in devs.values():
            e = (d.get("resources") or {}).get(r)
            if not e:
                continue
            used += e.get("used", 0)
            avail += e.get("available", 0)
            u = e.get("utilisation")
            if u is not None:
                umax = u if umax is None else max(umax, u)
        row[f"{r}_used"] = fmt_num(used)
        row[f"{r}_available"] = fmt_num(avail)
        row[f"{r}_utilisation"] = fmt_num(used / avail) if avail else ""
        row[f"{r}_max_device_utilisation"] = fmt_num(umax)
    for k in ("ttft_us", "tpot_us", "tpot_p99_us", "tokens_per_s", "decode_tokens_per_s",
              "kv_cache_bytes_per_sequence"):
        row[k] = fmt_num(stats.get(k))
    dec = ((stats.get("llm") or {}).get("phases") or {}).get("decode") or {}
    row["decode_bound"] = str(dec.get("bound", ""))
    row["decode_limited_by"] = str(dec.get("limited_by", "")).split(" (")[0]
    mp = stats.get("mapping") or {}
    row["scale_bound"] = str(mp.get("scale_bound", ""))
    row["split_nodes"] = fmt_num(mp.get("split_nodes", ""))
    b = stats.get("bottleneck") or {}
    row["bottleneck_node"] = str(b.get("node", ""))
    row["bottleneck_bound"] = str(b.get("bound", ""))
    links = stats.get("links") or {}
    if links:
        name = max(sorted(links), key=lambda n: links[n].get("utilisation", 0))  # ties: first by name
        row["busiest_link"] = name
        row["busiest_link_utilisation"] = fmt_num(links[name].get("utilisation"))
    else:
        row["busiest_link"] = row["busiest_link_utilisation"] = ""
    return row


def error_text(stderr, limit=400):
    """One-line error message for the CSV from simulate's stderr."""
    lines = [l.strip() for l in (stderr or "").splitlines() if l.strip()]
    if not lines:
        return ""
    pick = [l for l in lines if "error" in l.lower()] or lines[-1:]
    text = " | ".join(pick if len(" | ".join(pick)) <= limit else pick[:1])
    for prefix in ("simulate: error: ", "simulate: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def make_row(point, status, exit_code=None, stats=None, error=""):
    row = {"id": point.id, "name": point.name, "status": status,
           "exit_code": "" if exit_code is None else str(exit_code), "error": error}
    for k, v in point.assignments.items():
        row[k] = csv_value(v)
    row.update(summarise(stats) if stats else {c: "" for c in METRIC_COLUMNS})
    return row


def csv_text(axis_keys, rows):
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns(axis_keys), lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


# ----------------------------------------------------------------------------- atomic writes

_UMASK = os.umask(0)
os.umask(_UMASK)


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_file_atomic(path, text):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".tmp-", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_dir_atomic(final, files):
    """Writes {relative path: text} into a temp dir next to `final`, then renames it to
    `final` (replacing an existing one). A reader sees the old dir or the complete new one."""
    parent = os.path.dirname(os.path.abspath(final))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-" + os.path.basename(final) + "-", dir=parent)
    try:
        for rel, text in files.items():
            p = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o777 & ~_UMASK)
        old = None
        if os.path.exists(final):
            old = tempfile.mkdtemp(prefix=".old-" + os.path.basename(final) + "-", dir=parent)
            os.rmdir(old)
            os.rename(final, old)
        os.rename(tmp, final)
        _fsync_dir(parent)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_json(path):
    with open(path) as f:
        return json.load(f)


class Unreadable(Exception):
    """A per-point file that is missing, not JSON, or lacks what the driver needs."""


# what a point's files must hold to count as finished (resume) and to fill a CSV row
RESULT_KEYS = {"status": str, "exit_code": (int, type(None)), "config_sha256": str}
STATS_KEYS = {"throughput_inferences_per_s": (int, float), "latency_us": (int, float),
              "devices": dict}


def _kind(v):
    return "null" if v is None else {dict: "an object", list: "a list", str: "a string",
                                     bool: "a boolean"}.get(type(v), "a number")


def check_keys(obj, keys):
    """None when obj is a JSON object with every key of `keys` of its type, else what is wrong."""
    if not isinstance(obj, dict):
        return f"expected a JSON object, found {_kind(obj)}"
    missing = [k for k in keys if k not in obj]
    if missing:
        return "missing key" + ("s " if len(missing) > 1 else " ") + ", ".join(f"'{k}'" for k in missing)
    for k, t in keys.items():
        v = obj[k]
        if not isinstance(v, t) or isinstance(v, bool):
            return f"key '{k}' is {_kind(v)}"
    return None


def parse_checked(text, keys):
    """json.loads(text), checked against `keys`; raises Unreadable saying what is wrong."""
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise Unreadable(f"not valid JSON ({e})") from None
    why = check_keys(obj, keys)
    if why:
        raise Unreadable(why)
    return obj


def load_checked(path, keys):
    try:
        with open(path, errors="strict") as f:
            text = f.read()
    except FileNotFoundError:
        raise Unreadable("missing") from None
    except (OSError, UnicodeDecodeError) as e:
        raise Unreadable(f"cannot read ({getattr(e, 'strerror', None) or e})") from None
    return parse_checked(text, keys)
