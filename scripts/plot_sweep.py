#!/usr/bin/python3
"""Plots of a masesim sweep (docs/sweeps.md): PNGs with matplotlib (Agg).

    scripts/plot_sweep.py DIR                      # DIR written by scripts/sweep.py
    scripts/plot_sweep.py DIR --point 4e9f27a274d0 --series workload.graph --x devices

Writes into DIR/plots/ (or --plots-dir):
  throughput_vs_devices.png  throughput against the --x column (default: devices; a log2
                             axis with ticks 1, 2, 4, ... when x spans 4x or more), one line
                             per value of the --series axes (default: every varying axis
                             that is not just another name for x): colour by the first
                             series axis, marker and line style by the others; failed points
                             (e.g. does not fit) as crosses at the bottom; where other axes
                             vary too, the best point per x is drawn
  pareto.png                 throughput against boards used, LUT+DSP in boards of one
                             reference type, and total LUT, DSP, BRAM36, URAM; the Pareto
                             front (more throughput for fewer resources) as a step line;
                             pareto.csv lists each panel's front
  utilisation_<id>.png       per-device LUT/FF/DSP/BRAM36/URAM utilisation of one point
                             (--point ID or name; default: the highest-throughput point):
                             grouped bars up to 8 devices, a heatmap beyond
"""
import csv
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import EngFormatter, FixedLocator, FuncFormatter, NullLocator  # noqa: E402

from masesim_sweep.driver import ArgParser  # noqa: E402
from masesim_sweep.spec import format_value  # noqa: E402

RES = ("lut", "ff", "dsp", "bram36", "uram")
RES_LABEL = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "bram36": "BRAM36", "uram": "URAM"}
THR_LABEL = "throughput (inferences/s)"
# Okabe-Ito (colour-blind safe), markers and dashes: coincident series stay apart
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)))
BAR_DEVICES_MAX = 8      # more devices: a heatmap instead of grouped bars
FIG_WIDTH_MAX_IN = 12.0  # every figure at most this wide (x dpi = pixels)


class PlotError(Exception):
    pass


def num(s):
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def load(d):
    man_p, csv_p = os.path.join(d, "sweep.json"), os.path.join(d, "results.csv")
    if not os.path.isfile(csv_p) or not os.path.isfile(man_p):
        raise PlotError(f"{d}: no results.csv / sweep.json (run scripts/sweep.py --out {d} first)")
    try:
        with open(man_p) as f:
            man = json.load(f)
        if not isinstance(man, dict) or not isinstance(man.get("points"), list) \
                or not isinstance(man.get("axes"), dict):
            raise ValueError("expected an object with 'axes' and 'points'")
        by_id = {p["id"]: p for p in man["points"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise PlotError(f"{man_p}: unreadable ({e}); re-run scripts/sweep.py to rewrite it")
    try:
        with open(csv_p, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError) as e:
        raise PlotError(f"{csv_p}: unreadable ({e})")
    for col in ("id", "name", "status", "throughput_inferences_per_s"):
        if rows and col not in rows[0]:
            raise PlotError(f"{csv_p}: no column '{col}' (not written by scripts/sweep.py?)")
    man.setdefault("name", os.path.basename(os.path.abspath(d)))
    for r in rows:
        p = by_id.get(r["id"])
        r["_assign"] = p["assignments"] if p else {}
    return man, rows


def varying_axes(man):
    return [k for k, v in man["axes"].items() if isinstance(v, list) and len(v) > 1]


def value_key(r, col):
    """Hashable value and display label of column/axis `col` in row r."""
    if col in r["_assign"]:
        v = r["_assign"][col]
        return json.dumps(v, sort_keys=True), format_value(v)
    return r.get(col, ""), r.get(col, "")


def determined_by(rows, a, b):
    """True when column a and column b determine each other (a bijection) over rows."""
    ab, ba = {}, {}
    for r in rows:
        va, vb = value_key(r, a)[0], value_key(r, b)[0]
        if ab.setdefault(va, vb) != vb or ba.setdefault(vb, va) != va:
            return False
    return True


def default_series(man, rows, x):
    good = ok_rows(rows) or rows
    return [a for a in varying_axes(man) if a != x and not determined_by(good, a, x)]


def short(col):
    parts = [p for p in col.split(".") if not p.isdigit()]
    return parts[-1]


def ok_rows(rows):
    return [r for r in rows if r.get("status") == "ok" and num(r.get("throughput_inferences_per_s")) is not None]


def strip_common(labels):
    """Drops a prefix/suffix every label shares, cut at a separator (opt125m_int8,
    opt125m_msfp12 -> int8, msfp12), so legends do not repeat it."""
    if len(labels) < 2:
        return labels
    def cut(ls):
        pre = os.path.commonprefix(ls)
        i = max(pre.rfind(c) for c in "_-.:/ ") + 1
        return [l[i:] for l in ls] if i > 0 and all(l[i:] for l in ls) else ls
    out = cut(labels)
    return [l[::-1] for l in cut([l[::-1] for l in out])]


class Styles:
    """Colour, marker, line style and size per series (a tuple of series-axis values).
    Colour follows the first series axis, marker and line style the others (or all of
    them with one axis); markers shrink and lines thin with the series index so series
    drawn on top of each other stay visible (nested hollow markers)."""

    def __init__(self, rows, series):
        self.series = series
        self.keys = []  # series keys in order of appearance
        values = [[] for _ in series]
        for r in rows:
            k = self.key(r)
            if k not in self.keys:
                self.keys.append(k)
            for i, v in enumerate(k):
                if v not in values[i]:
                    values[i].append(v)
        self.short = [dict(zip(vs, strip_common([value_key_label(v) for v in vs]))) for vs in values]
        rest = []
        for k in self.keys:
            if k[1:] not in rest:
                rest.append(k[1:])
        self.rest = rest
        self.values = values

    def key(self, r):
        return tuple(value_key(r, s)[0] for s in self.series)

    def label(self, k):
        if not self.series:
            return "all points"
        return ", ".join(self.short[i][v] for i, v in enumerate(k))

    def title(self):
        return ", ".join(short(s) for s in self.series) or None

    def style(self, k):
        i = self.keys.index(k)
        if len(self.series) >= 2:
            c = self.values[0].index(k[0])
            m = self.rest.index(k[1:])
        else:
            c = m = i
        colour = shade(COLOURS[c % len(COLOURS)], m if len(self.series) >= 2 else 0)
        return {"color": colour, "marker": MARKERS[m % len(MARKERS)],
                "linestyle": LINESTYLES[m % len(LINESTYLES)],
                "markersize": max(5.0, 8.5 - 0.5 * i), "linewidth": 2.6 if m == 0 else 1.5,
                "markerfacecolor": "none", "markeredgewidth": 1.5, "zorder": 3 + 0.01 * i}


def shade(colour, m):
    """The m-th shade of a colour: itself, darker, lighter, ... (a second series axis
    shows in dash, marker and shade, so a dashed line on a solid one stays visible)."""
    import matplotlib.colors as mc
    rgb = mc.to_rgb(colour)
    f = (0.0, -0.45, 0.45, -0.25, 0.25)[m % 5]
    return tuple(x * (1 + f) if f < 0 else x + (1 - x) * f for x in rgb)


def dodge(points, log2, span):
    """points: [(series index, x, y)] -> {(series index, x): x drawn}: points of several
    series at the same x whose y agree within 0.5 % are drawn side by side (0.09 octave
    apart on a log2 axis, else 1.5 % of the x span), so none hides another."""
    by_x = {}
    for i, x, y in points:
        by_x.setdefault(x, []).append((y, i))
    out = {}
    for x, ys in by_x.items():
        ys.sort()
        groups, cur = [], [ys[0]]
        for y, i in ys[1:]:
            if abs(y - cur[-1][0]) <= 0.005 * max(abs(y), abs(cur[-1][0]), 1e-300):
                cur.append((y, i))
            else:
                groups.append(cur)
                cur = [(y, i)]
        groups.append(cur)
        for g in groups:
            g.sort(key=lambda p: p[1])
            for j, (_, i) in enumerate(g):
                off = j - (len(g) - 1) / 2
                out[(i, x)] = x * 2 ** (0.09 * off) if log2 else x + 0.015 * span * off
    return out


_LABELS = {}


def value_key_label(v):
    return _LABELS.get(v, v)


def remember_labels(rows, series):
    for r in rows:
        for s in series:
            k, lab = value_key(r, s)
            _LABELS[k] = lab


def failure_kind(r):
    e = (r.get("error") or "").lower()
    if "not fit" in e or "more devices are needed" in e:
        return "does not fit"
    return "failed" if r.get("status") == "failed" else f"no result ({r.get('status')})"


def log2_axis(ax, values, axis="x"):
    """A log2 axis with ticks at the powers of two (labelled 1, 2, 4, ...) when the
    positive values span 4x or more; True when set."""
    vals = [v for v in values if v is not None]
    if not vals or min(vals) <= 0 or max(vals) / min(vals) < 4:
        return False
    lo, hi = math.floor(math.log2(min(vals))), math.ceil(math.log2(max(vals)))
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log", base=2)
    a = ax.xaxis if axis == "x" else ax.yaxis
    a.set_major_locator(FixedLocator([2.0 ** e for e in range(lo, hi + 1)]))
    a.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    a.set_minor_locator(NullLocator())
    (ax.set_xlim if axis == "x" else ax.set_ylim)(min(vals) / 2 ** 0.3, max(vals) * 2 ** 0.3)
    return True


def log_if_wide(ax, values, axis="y"):
    vals = [v for v in values if v and v > 0]
    if vals and max(vals) / min(vals) > 20:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
        return True
    if axis == "y":  # linear: from 0, no offset notation (flat series read as flat)
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    if vals:
        (ax.set_ylim if axis == "y" else ax.set_xlim)(0, max(vals) * 1.08)
    return False


def x_values(man, rows, x):
    """{row id: x value}. A failed point has no results columns: its x comes from an axis
    in one-to-one correspondence with x over the successful points (e.g. the device
    count axis for x = devices)."""
    def direct(r):
        v = num(r.get(x))
        return v if v is not None else num(value_key(r, x)[1])
    good = ok_rows(rows)
    maps = []
    for a in man["axes"]:
        if a == x or not good or not determined_by(good, a, x):
            continue
        m = {value_key(r, a)[0]: direct(r) for r in good}
        maps.append((a, m))
    out = {}
    for r in rows:
        v = direct(r)
        for a, m in maps:
            if v is not None:
                break
            v = m.get(value_key(r, a)[0])
        if v is None and x == "devices":  # an axis that is the device count itself
            for a in man["axes"]:
                if a.endswith(".count") and num(value_key(r, a)[1]) is not None:
                    v = num(value_key(r, a)[1])
                    break
        if v is not None:
            out[r["id"]] = v
    return out


def failure_handles(kinds):
    """Legend entries for failed points: {kind: count} -> [Line2D]."""
    return [Line2D([], [], color="0.3", marker="x", linestyle="none", markersize=8, markeredgewidth=2,
                   label=f"{k} ({n} point{'s' if n > 1 else ''})") for k, n in sorted(kinds.items())]


def plot_throughput(man, rows, x, series, path):
    remember_labels(rows, series)
    st = Styles(rows, series)
    good = ok_rows(rows)
    fig, ax = plt.subplots(figsize=(8.8, 4.8), dpi=120)
    best, failed = {}, {}  # series key -> {x: (throughput, row)} / {x: [rows]}
    xmap = x_values(man, rows, x)
    for r in rows:
        xv = xmap.get(r["id"])
        if xv is None:
            continue
        k = st.key(r)
        if r in good:
            t = num(r["throughput_inferences_per_s"])
            g = best.setdefault(k, {})
            if xv not in g or t > g[xv][0]:
                g[xv] = (t, r)
        else:
            failed.setdefault(k, {}).setdefault(xv, []).append(r)
    xs_all = sorted({v for g in list(best.values()) + list(failed.values()) for v in g})
    is_log2 = log2_axis(ax, xs_all)
    span = (max(xs_all) - min(xs_all)) if xs_all else 1.0
    drawn = dodge([(st.keys.index(k), xv, t) for k, g in best.items() for xv, (t, _) in g.items()],
                  is_log2, span or 1.0)
    kinds = {}
    stacked = {}  # x -> failed markers drawn there so far
    for k in st.keys:
        sty = st.style(k)
        g = best.get(k, {})
        xs = sorted(g)
        ax.plot([drawn[(st.keys.index(k), v)] for v in xs], [g[v][0] for v in xs], label=st.label(k), **sty)
        for xv, rs in sorted(failed.get(k, {}).items()):
            if xv in g:
                continue  # a better point of this series exists at x
            kinds[failure_kind(rs[0])] = kinds.get(failure_kind(rs[0]), 0) + 1
            stacked.setdefault(xv, []).append(sty["color"])
    # failed points: crosses on the x axis (no throughput), side by side where several
    fx = dodge([(i, xv, 0.0) for xv, cs in stacked.items() for i in range(len(cs))], is_log2, span or 1.0)
    for xv, cs in stacked.items():
        for i, c in enumerate(cs):
            ax.plot([fx[(i, xv)]], [0.0], transform=ax.get_xaxis_transform(), clip_on=False, marker="x",
                    markersize=8, markeredgewidth=2.2, color=c, linestyle="none", zorder=6)
    if not is_log2 and xs_all and all(float(v).is_integer() for v in xs_all) and len(xs_all) <= 16:
        ax.set_xticks(xs_all)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("devices in the system" if x == "devices" else x)
    ax.set_ylabel(THR_LABEL)
    if not log_if_wide(ax, [num(r["throughput_inferences_per_s"]) for r in good]):
        lo, hi = ax.get_ylim()
        ax.set_ylim(0, hi)
    others = [a for a in varying_axes(man) if a not in series and a != x and not determined_by(good, a, x)]
    ax.set_title(man["name"] + (f"\n(best point over {', '.join(short(a) for a in others)})" if others else ""),
                 fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    fh = failure_handles(kinds)
    if fh:
        handles += fh
        labels += [h.get_label() + ", on the x axis" for h in fh]
    if any(drawn[key] != key[1] for key in drawn):
        handles.append(Line2D([], [], linestyle="none"))
        labels.append("equal points: side by side")
    ax.legend(handles, labels, title=st.title(), fontsize=8, title_fontsize=8,
              loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return {"series": [st.label(k) for k in st.keys], "failed": kinds, "log2": is_log2,
            "xticks": [t for t in ax.get_xticks()], "side_by_side": sum(drawn[k] != k[1] for k in drawn)}


def pareto_front(pts):
    """pts: [(cost, throughput, row)] -> the non-dominated ones, by increasing cost.
    A point needs 1 ppm more throughput than the cheaper ones to be on the front."""
    best, front = -math.inf, []
    for c, t, r in sorted(pts, key=lambda p: (p[0], -p[1])):
        if not front or t > best + abs(best) * 1e-6:
            front.append((c, t, r))
            best = t
    return front


def board_capacity(rows):
    """{device type: {resource: available per device}} from single-type points."""
    cap = {}
    for r in rows:
        t, n = r.get("device_types", ""), num(r.get("devices"))
        if not t or "+" in t or not n or t in cap:
            continue
        c = {res: num(r.get(f"{res}_available")) for res in RES}
        if all(c[res] for res in ("lut", "dsp")):
            cap[t] = {res: v / n for res, v in c.items() if v}
    return cap


def reference_board(rows):
    """The board type whose LUT and DSP count measure every point's LUT+DSP: the first
    single-type board in the results (the same yardstick for every board)."""
    cap = board_capacity(ok_rows(rows))
    if not cap:
        return None, None
    t = next(iter(cap))
    return t, cap[t]


def fmt_count(v):
    return EngFormatter(sep="")(v) if v >= 1000 else f"{v:g}"


def plot_pareto(man, rows, series, path, csv_path):
    remember_labels(rows, series)
    st = Styles(rows, series)
    good = ok_rows(rows)
    ref, refcap = reference_board(rows)
    panels = [("boards", "boards holding nodes (devices_used)",
               lambda r: num(r.get("devices_used")) or num(r.get("devices")))]
    if ref:
        panels.append(("norm", f"LUT+DSP used, in {ref} boards\n"
                               f"(LUT/{fmt_count(refcap['lut'])} + DSP/{fmt_count(refcap['dsp'])}) / 2",
                       lambda r: (((num(r.get("lut_used")) or 0) / refcap["lut"]
                                   + (num(r.get("dsp_used")) or 0) / refcap["dsp"]) / 2)
                       if num(r.get("lut_used")) is not None else None))
    panels += [(res, f"{RES_LABEL[res]} used (all devices)",
                (lambda res: lambda r: num(r.get(f"{res}_used")))(res)) for res in ("lut", "dsp", "bram36", "uram")]
    ncol = 3
    nrow = math.ceil(len(panels) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(FIG_WIDTH_MAX_IN, 3.4 * nrow + 1.3), dpi=110,
                             sharey=True, squeeze=False)
    axes = axes.flatten()
    fronts = {}
    for ax, (key, label, cost) in zip(axes, panels):
        pts = [(cost(r), num(r["throughput_inferences_per_s"]), r) for r in good]
        pts = [p for p in pts if p[0] is not None]
        for i, k in enumerate(st.keys):
            # no lines here: every series its own marker, shrinking, so equal points nest
            sty = dict(st.style(k), marker=MARKERS[i % len(MARKERS)], markersize=max(4.0, 10.5 - 1.3 * i))
            mine = [(c, t) for c, t, r in pts if st.key(r) == k]
            ax.plot([c for c, _ in mine], [t for _, t in mine], linestyle="none", label=st.label(k),
                    **{a: v for a, v in sty.items() if a not in ("linestyle", "linewidth")})
        front = pareto_front(pts)
        fronts[key] = front
        if front:
            fx, fy = [p[0] for p in front], [p[1] for p in front]
            ax.step(fx, fy, where="post", color="black", linewidth=1.1, zorder=2, label="Pareto front")
        ax.set_xlabel(label, fontsize=9)
        if key == "boards":
            bs = sorted({p[0] for p in pts})
            if bs and bs[-1] <= 16:
                ax.set_xticks(range(int(min(bs)), int(bs[-1]) + 1))
                ax.set_xlim(min(bs) - 0.5, bs[-1] + 0.5)
            elif not log2_axis(ax, bs):
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        else:
            log_if_wide(ax, [p[0] for p in pts], axis="x")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}") if key == "norm"
                                         else EngFormatter(sep=""))
        ax.grid(True, which="major", alpha=0.3)
        ax.tick_params(labelsize=8)
    log_if_wide(axes[0], [num(r["throughput_inferences_per_s"]) for r in good])
    for ax in axes[len(panels):]:
        ax.axis("off")
    for i in range(0, len(panels), ncol):
        axes[i].set_ylabel(THR_LABEL, fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    kinds = {}
    for r in rows:
        if r not in good:
            kinds[failure_kind(r)] = kinds.get(failure_kind(r), 0) + 1
    fh = failure_handles(kinds)
    handles += fh
    labels += [h.get_label() + ": no resources, not drawn" for h in fh]
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(handles)), fontsize=8,
               title=st.title(), title_fontsize=8, frameon=False)
    fig.suptitle(f"{man['name']}: throughput against resources (black: Pareto front, where no point "
                 f"has more throughput for less)", fontsize=10)
    legend_lines = math.ceil(len(handles) / min(4, max(1, len(handles)))) + 1  # + its title
    fig.tight_layout(rect=(0, (0.2 + 0.2 * legend_lines) / (3.4 * nrow + 1.3), 1, 0.97))
    fig.savefig(path)
    plt.close(fig)
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["cost", "cost_value", "throughput_inferences_per_s", "id", "name"])
        for key, front in fronts.items():
            for c, t, r in front:
                w.writerow([key, f"{c:.10g}", f"{t:.10g}", r["id"], r["name"]])
    return fronts


def pick_point(rows, want):
    if want:
        for r in rows:
            if want in (r["id"], r["name"]):
                return r
        cands = [r for r in rows if r["id"].startswith(want)]
        if len(cands) == 1:
            return cands[0]
        raise PlotError(f"no point '{want}' (give an id, an id prefix or a name from results.csv)")
    good = ok_rows(rows)
    if not good:
        raise PlotError("no successful point to show")
    return max(good, key=lambda r: num(r["throughput_inferences_per_s"]))  # first on ties


def utilisation_of(devs):
    return [[float(((dv.get("resources") or {}).get(res) or {}).get("utilisation") or 0) for _, dv in devs]
            for res in RES]


def point_devices(d, r):
    """(devices [(name, stats)], utilisation [resource][device], utilisation cap or None)
    of point r from its stats.json and config.yaml; PlotError naming the file if unusable."""
    sp = os.path.join(d, "points", r["id"], "out", "stats.json")
    if not os.path.isfile(sp):
        raise PlotError(f"point {r['id']} ({r['name']}) has no stats.json (status {r.get('status')})")
    try:
        with open(sp) as f:
            stats = json.load(f)
        devs = list((stats.get("devices") or {}).items())
        util = utilisation_of(devs)
    except (OSError, ValueError, AttributeError, TypeError) as e:
        raise PlotError(f"{sp}: unreadable ({e}); re-run the sweep to re-simulate the point")
    if not devs:
        raise PlotError(f"{sp}: no devices")
    cap = None
    cp = os.path.join(d, "points", r["id"], "out", "config.yaml")
    if os.path.isfile(cp):
        import yaml
        try:
            with open(cp) as f:
                cap = num(((yaml.safe_load(f) or {}).get("mapping") or {}).get("utilisation_cap"))
        except (OSError, yaml.YAMLError, AttributeError):
            cap = None
    return devs, util, cap


def plot_utilisation(man, r, devs, util, cap, path):
    n = len(devs)
    types = {}
    for _, dv in devs:
        t = str(dv.get("type", "?"))
        types[t] = types.get(t, 0) + 1
    top = max([1.0] + [v for row in util for v in row])
    t = num(r.get("throughput_inferences_per_s"))
    sub = [f"point {r['id']}"]
    if t is not None:
        sub.append(f"{t:.4g} inferences/s")
    if r.get("bottleneck_node"):
        sub.append(f"bottleneck {r['bottleneck_node']}")
    title = r["name"].replace(",", ", ") + "\n" + " · ".join(sub)
    if n <= BAR_DEVICES_MAX:
        fig, ax = plt.subplots(figsize=(min(FIG_WIDTH_MAX_IN, max(6.5, 1.1 * n + 3)), 4.4), dpi=120)
        width = 0.8 / len(RES)
        for j, res in enumerate(RES):
            xs = [i + (j - (len(RES) - 1) / 2) * width for i in range(n)]
            ax.bar(xs, util[j], width=width * 0.95, color=COLOURS[j], label=RES_LABEL[res],
                   edgecolor="black", linewidth=0.3)
        ax.axhline(1.0, color="red", linewidth=1, label="capacity")
        if cap:
            ax.axhline(cap, color="grey", linestyle="--", linewidth=1, label=f"utilisation cap {cap:g}")
        ax.set_xticks(range(n))
        idle = [not any(util[j][i] for j in range(len(RES))) for i in range(n)]
        ax.set_xticklabels([f"{name}\n({dv.get('type', '')}{', idle' if idle[i] else ''})"
                            for i, (name, dv) in enumerate(devs)], fontsize=8)
        ax.set_ylim(0, top * 1.12)
        ax.set_ylabel("utilisation (used / available)")
        ax.legend(fontsize=8, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        ax.grid(True, axis="y", alpha=0.3)
    else:
        fig, ax = plt.subplots(figsize=(min(FIG_WIDTH_MAX_IN, max(7.0, 4.0 + 0.06 * n)), 3.6), dpi=120)
        import numpy as np
        cmap = plt.get_cmap("viridis").copy()
        cmap.set_over("red")
        cmap.set_bad("0.88")  # idle: nothing of this resource used on the device
        data = np.ma.masked_equal(np.array(util, dtype=float), 0.0)
        im = ax.imshow(data, aspect="auto", cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest",
                       extent=(-0.5, n - 0.5, len(RES) - 0.5, -0.5))
        ax.set_yticks(range(len(RES)))
        ax.set_yticklabels([RES_LABEL[x] for x in RES], fontsize=8)
        step = 1
        while n / step > 16:
            step *= 2
        ax.set_xticks(range(0, n, step))
        ax.tick_params(axis="x", labelsize=8)
        ax.set_xlabel(f"device index ({', '.join(f'{c} x {t}' for t, c in types.items())}; "
                      "order of stats.json)", fontsize=9)
        cb = fig.colorbar(im, ax=ax, extend="max" if top > 1.0 else "neither", pad=0.015)
        cb.set_label("utilisation (used / available)\ngrey: none used"
                     + (f"; white line: cap {cap:g}" if cap else "")
                     + ("; red: over capacity" if top > 1.0 else ""), fontsize=8)
        cb.ax.tick_params(labelsize=8)
        if cap:
            cb.ax.axhline(cap, color="white", linewidth=2)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return "bars" if n <= BAR_DEVICES_MAX else "heatmap"


def main(argv=None):
    ap = ArgParser(prog="plot_sweep.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="sweep output directory (results.csv, sweep.json, points/)")
    ap.add_argument("--point", help="point (id, id prefix or name) for the utilisation plot")
    ap.add_argument("--x", default="devices", help="x column/axis of the throughput plot (default: devices)")
    ap.add_argument("--series", help="comma-separated axes (or results.csv columns) for the lines")
    ap.add_argument("--plots-dir", help="where to write the PNGs (default: DIR/plots)")
    a = ap.parse_args(argv)
    try:
        man, rows = load(a.dir)
        if not rows:
            raise PlotError(f"{a.dir}: results.csv has no points")
        cols = set(rows[0]) | set(man["axes"])
        if a.x not in cols:
            raise PlotError(f"--x {a.x}: not a column or axis (axes: {', '.join(man['axes'])})")
        if a.series:
            series = [s.strip() for s in a.series.split(",") if s.strip()]
            for s in series:
                if s not in cols:
                    raise PlotError(f"--series {s}: not a column or axis (axes: {', '.join(man['axes'])})")
        else:
            series = default_series(man, rows, a.x)
        r_util = pick_point(rows, a.point)  # checked before drawing anything
        devs, util, cap = point_devices(a.dir, r_util)
        out = a.plots_dir or os.path.join(a.dir, "plots")
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as e:
            raise PlotError(f"{out}: cannot create ({e.strerror})")
        written = []
        p = os.path.join(out, "throughput_vs_devices.png" if a.x == "devices" else f"throughput_vs_{short(a.x)}.png")
        plot_throughput(man, rows, a.x, series, p)
        written.append(p)
        p = os.path.join(out, "pareto.png")
        fronts = plot_pareto(man, rows, series, p, os.path.join(out, "pareto.csv"))
        written += [p, os.path.join(out, "pareto.csv")]
        p = os.path.join(out, f"utilisation_{r_util['id']}.png")
        plot_utilisation(man, r_util, devs, util, cap, p)
        written.append(p)
    except OSError as e:  # writing a PNG or pareto.csv
        print(f"plot_sweep: error: {e.filename or out}: cannot write ({e.strerror})", file=sys.stderr)
        return 1
    except PlotError as e:
        print(f"plot_sweep: error: {e}", file=sys.stderr)
        return 1
    for w in written:
        print(w)
    front = fronts.get("norm") or []
    if front:
        print(f"Pareto front (LUT+DSP in {reference_board(rows)[0]} boards -> inferences/s): "
              + "; ".join(f"{r['name']}: {c:.3g} -> {t:.4g}" for c, t, r in front))
    return 0


if __name__ == "__main__":
    sys.exit(main())
