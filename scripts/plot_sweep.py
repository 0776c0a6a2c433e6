#!/usr/bin/python3
"""Plots of a masesim sweep (docs/sweeps.md): PNGs with matplotlib (Agg).

    scripts/plot_sweep.py DIR                      # DIR written by scripts/sweep.py
    scripts/plot_sweep.py DIR --point 4e9f27a274d0 --series workload.graph --x devices

Writes into DIR/plots/ (or --plots-dir):
  throughput_vs_devices.png  throughput against the --x column (default: devices), one line
                             per value of the --series axes (default: every varying axis that
                             is not just another name for x, e.g. graph and board type); where
                             other axes vary too, the best point per x is drawn
  pareto.png                 throughput against resources: device-normalised LUT+DSP and
                             total LUT, DSP, BRAM36, URAM; the Pareto front (more throughput
                             for fewer resources) as a line; pareto.csv lists the front
  utilisation_<id>.png       per-device LUT/FF/DSP/BRAM36/URAM utilisation of one point
                             (--point ID or name; default: the highest-throughput point)
"""
import argparse
import csv
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from masesim_sweep.spec import format_value  # noqa: E402

RES = ("lut", "ff", "dsp", "bram36", "uram")
RES_LABEL = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "bram36": "BRAM36", "uram": "URAM"}


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
    with open(man_p) as f:
        man = json.load(f)
    with open(csv_p, newline="") as f:
        rows = list(csv.DictReader(f))
    by_id = {p["id"]: p for p in man["points"]}
    for r in rows:
        p = by_id.get(r["id"])
        r["_assign"] = p["assignments"] if p else {}
    return man, rows


def varying_axes(man):
    return [k for k, v in man["axes"].items() if len(v) > 1]


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


def series_label(r, series):
    if not series:
        return "all points"
    return ", ".join(value_key(r, s)[1] if len(series) == 1 else f"{short(s)}={value_key(r, s)[1]}"
                     for s in series)


def ok_rows(rows):
    return [r for r in rows if r.get("status") == "ok" and num(r.get("throughput_inferences_per_s"))]


def series_colours(rows, series):
    labels = []
    for r in rows:
        lab = series_label(r, series)
        if lab not in labels:
            labels.append(lab)
    cmap = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")
    return {lab: cmap(i % cmap.N) for i, lab in enumerate(labels)}


def log_if_wide(ax, values, axis="y"):
    vals = [v for v in values if v and v > 0]
    if vals and max(vals) / min(vals) > 20:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    else:  # linear: from 0, no offset notation (flat series read as flat)
        ax.ticklabel_format(axis=axis, useOffset=False, style="plain")
        if vals:
            (ax.set_ylim if axis == "y" else ax.set_xlim)(0, max(vals) * 1.08)


def plot_throughput(man, rows, x, series, path):
    good = ok_rows(rows)
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    colours = series_colours(good, series)
    groups = {}
    for r in good:
        xv = num(r.get(x)) if num(r.get(x)) is not None else num(value_key(r, x)[1])
        if xv is None:
            continue
        g = groups.setdefault(series_label(r, series), {})
        t = num(r["throughput_inferences_per_s"])
        if xv not in g or t > g[xv][0]:
            g[xv] = (t, r)
    markers = "osD^v<>ph*"
    for i, (lab, g) in enumerate(groups.items()):
        xs = sorted(g)
        ax.plot(xs, [g[v][0] for v in xs], marker=markers[i % len(markers)], color=colours[lab],
                label=lab, linewidth=1.6, markersize=6)
    failed = [r for r in rows if r.get("status") != "ok"]
    ax.set_xlabel("number of devices" if x == "devices" else x)
    ax.set_ylabel("throughput (inferences/s)")
    log_if_wide(ax, [num(r["throughput_inferences_per_s"]) for r in good])
    xs_all = sorted({v for g in groups.values() for v in g})
    if xs_all and all(float(v).is_integer() for v in xs_all) and len(xs_all) <= 16:
        ax.set_xticks(xs_all)
    title = f"{man['name']}: throughput vs {'devices' if x == 'devices' else short(x)}"
    others = [a for a in varying_axes(man) if a not in series and a != x and not determined_by(good, a, x)]
    sub = []
    if others:
        sub.append("best over " + ", ".join(short(a) for a in others))
    if failed:
        sub.append(f"{len(failed)} point(s) failed/not run, not shown")
    ax.set_title(title + ("\n(" + "; ".join(sub) + ")" if sub else ""), fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if groups:
        ax.legend(title=", ".join(short(s) for s in series) or None, fontsize=8, title_fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def pareto_front(pts):
    """pts: [(cost, throughput, row)] -> the non-dominated ones, by increasing cost.
    A point needs 1 ppm more throughput than the cheaper ones to be on the front."""
    best, front = -math.inf, []
    for c, t, r in sorted(pts, key=lambda p: (p[0], -p[1])):
        if not front or t > best + abs(best) * 1e-6:
            front.append((c, t, r))
            best = t
    return front


def norm_cost(r):
    """LUT+DSP in boards' worth: (LUT used / LUT per board + DSP used / DSP per board) / 2."""
    n = num(r.get("devices")) or 1
    parts = []
    for res in ("lut", "dsp"):
        u, a = num(r.get(f"{res}_used")), num(r.get(f"{res}_available"))
        if u is None or not a:
            return None
        parts.append(u / (a / n))
    return sum(parts) / len(parts)


def plot_pareto(man, rows, series, path, csv_path):
    good = ok_rows(rows)
    colours = series_colours(good, series)
    panels = [("norm", "LUT+DSP (boards' worth, normalised)", norm_cost)] + [
        (res, f"total {RES_LABEL[res]} used", (lambda res: lambda r: num(r.get(f"{res}_used")))(res))
        for res in ("lut", "dsp", "bram36", "uram")]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), dpi=110)
    axes = axes.flatten()
    fronts = {}
    for ax, (key, label, cost) in zip(axes, panels):
        pts = [(cost(r), num(r["throughput_inferences_per_s"]), r) for r in good]
        pts = [p for p in pts if p[0] is not None]
        seen = set()
        for c, t, r in pts:
            lab = series_label(r, series)
            ax.scatter([c], [t], color=colours[lab], s=26, alpha=0.8,
                       label=lab if lab not in seen else None, zorder=2)
            seen.add(lab)
        front = pareto_front(pts)
        fronts[key] = front
        if front:
            fx, fy = [p[0] for p in front], [p[1] for p in front]
            ax.step(fx, fy, where="post", color="black", linewidth=1.2, zorder=3, label="Pareto front")
            ax.scatter(fx, fy, facecolors="none", edgecolors="black", s=70, linewidths=1.2, zorder=4)
        ax.set_xlabel(label, fontsize=9)
        ax.set_ylabel("throughput (inferences/s)", fontsize=9)
        log_if_wide(ax, [p[1] for p in pts])
        log_if_wide(ax, [p[0] for p in pts], axis="x")
        ax.grid(True, which="both", alpha=0.3)
        ax.tick_params(labelsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    axes[-1].axis("off")
    if handles:
        axes[-1].legend(handles, labels, loc="center", fontsize=9,
                        title=", ".join(short(s) for s in series) or None)
    fig.suptitle(f"{man['name']}: throughput vs resources (Pareto front: no other point has "
                 f"more throughput for fewer resources)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
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


def plot_utilisation(d, man, r, path):
    sp = os.path.join(d, "points", r["id"], "out", "stats.json")
    if not os.path.isfile(sp):
        raise PlotError(f"point {r['id']} ({r['name']}) has no stats.json (status {r.get('status')})")
    with open(sp) as f:
        stats = json.load(f)
    cap = None
    cp = os.path.join(d, "points", r["id"], "out", "config.yaml")
    if os.path.isfile(cp):
        import yaml
        with open(cp) as f:
            cap = num(((yaml.safe_load(f) or {}).get("mapping") or {}).get("utilisation_cap"))
    devs = list((stats.get("devices") or {}).items())
    if not devs:
        raise PlotError(f"point {r['id']}: stats.json has no devices")
    fig, ax = plt.subplots(figsize=(max(6.5, 1.3 * len(devs) + 3), 4.6), dpi=120)
    width = 0.8 / len(RES)
    cmap = plt.get_cmap("tab10")
    top = 1.0
    for j, res in enumerate(RES):
        xs = [i + (j - (len(RES) - 1) / 2) * width for i in range(len(devs))]
        ys = [((dv.get("resources") or {}).get(res) or {}).get("utilisation", 0) for _, dv in devs]
        top = max([top] + ys)
        ax.bar(xs, ys, width=width * 0.95, color=cmap(j), label=RES_LABEL[res])
    ax.axhline(1.0, color="red", linewidth=1, label="capacity")
    if cap:
        ax.axhline(cap, color="grey", linestyle="--", linewidth=1, label=f"utilisation cap {cap:g}")
    ax.set_xticks(range(len(devs)))
    ax.set_xticklabels([f"{n}\n({dv.get('type', '')})" for n, dv in devs], fontsize=9)
    ax.set_ylim(0, top * 1.1)
    ax.set_ylabel("utilisation (used / available)")
    t = num(r.get("throughput_inferences_per_s"))
    ax.set_title(f"{man['name']}: {r['name']}\n(point {r['id']}, "
                 f"{t:.4g} inferences/s, bottleneck {r.get('bottleneck_node') or '-'})", fontsize=9)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="plot_sweep.py", description=__doc__.split("\n\n")[0])
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
        out = a.plots_dir or os.path.join(a.dir, "plots")
        os.makedirs(out, exist_ok=True)
        written = []
        p = os.path.join(out, "throughput_vs_devices.png" if a.x == "devices" else f"throughput_vs_{short(a.x)}.png")
        plot_throughput(man, rows, a.x, series, p)
        written.append(p)
        p = os.path.join(out, "pareto.png")
        fronts = plot_pareto(man, rows, series, p, os.path.join(out, "pareto.csv"))
        written += [p, os.path.join(out, "pareto.csv")]
        r = pick_point(rows, a.point)
        p = os.path.join(out, f"utilisation_{r['id']}.png")
        plot_utilisation(a.dir, man, r, p)
        written.append(p)
    except PlotError as e:
        print(f"plot_sweep: error: {e}", file=sys.stderr)
        return 1
    for w in written:
        print(w)
    front = fronts.get("norm") or []
    if front:
        print("Pareto front (LUT+DSP boards' worth -> inferences/s): "
              + "; ".join(f"{r['name']}: {c:.3g} -> {t:.4g}" for c, t, r in front))
    return 0


if __name__ == "__main__":
    sys.exit(main())
