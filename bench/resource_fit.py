#!/usr/bin/python3
"""Fit and validate masesim's HLS block resource model (models/hls_blocks.{hpp,cpp}) on
MASE's published Vitis HLS synthesis points, with held-out families.

Usage:
    /usr/bin/python3 bench/resource_fit.py [--data DIR] [--write-doc FILE] [--cpp]
                                           [--golden] [--quiet]

--data       calibration directory (default ../shared/calibration/mase-hls-u250 beside
             the repository); any subset of its CSVs may be present.
--write-doc  replace the generated section of FILE (between the markers
             "<!-- BEGIN resource_fit.py -->" and "<!-- END resource_fit.py -->") with the
             validation tables; the markers must exist.
--cpp        print the fitted constants as the C++ table held by models/hls_blocks.cpp.
--golden     print the model's estimate at a few parameter points (the values that
             tests/test_hls_blocks.cpp checks the C++ functions against).
--check-cpp  exit 3 unless FILE (models/hls_blocks.cpp) holds exactly the --cpp block.
--node-model instead, refit and print the per-CSV model of models/resource_model.cpp
             (node_resources, what `simulate` reports today; the previous script).
Needs numpy only. Exit 1 on bad input (missing directory, no CSV, missing markers).

Model (docs/resource-model.md). Every block is a sum of shared primitives whose
counts follow the structure of MASE's HLS templates (DeepWok/mase ba8c3896,
mase_components/hls): HLS processes, stream ports, adder bits, 2:1 select bits,
LUT-multiplier partial-product bits, DSP multipliers, divider cells, exponential input
bits, square-root units, shallow-array (LUTRAM) bits and arrays. One constant per
primitive and resource (LUT, FF, DSP), shared by all blocks: fitted by weighted (1/y)
non-negative least squares. A primitive that no training family exercises keeps its
first-principles prior (PRIOR below), so a held-out family is predicted from the others.

Validation, error of a row = |pred - y| / max(y, 1):
  * leave-one-family-out: fit on every family but one, predict all rows of that one;
  * leave-widths-out: fit on rows whose widths are all <= 6 bits, test on rows with a
    7- or 8-bit operand (the data has only fixed-point formats: no format can be left
    out, this is the closest check of a width the fit never saw);
  * leave-lanes-out: fit on rows with <= 16 lanes (linear: <= 32 MACs), test on > 32;
  * interpolation: fit on rows with index % 5 != 4 of every CSV, test on the others.
The constants in models/hls_blocks.cpp are the interpolation fit (rows index % 5 == 4 of
every CSV never enter it), rounded to 4 significant digits; every reported error uses the
rounded constants.
"""
import argparse
import csv
import math
import os
import sys

import numpy as np

PRIMS = ["proc", "port", "add_bits", "sel_bits", "lmul_pp", "lmul_io", "dsp_mul", "dsp_tree",
         "div_cells", "exp_bits", "sqrt_units", "ram_bits", "ram_arrays"]
RESOURCES = ["lut", "ff", "dsp"]
# Which primitives a resource may use (DSP only comes from multipliers bound to DSPs).
USES = {"lut": [p for p in PRIMS if p != "dsp_tree"],
        "ff": [p for p in PRIMS if p != "dsp_tree"],
        "dsp": ["dsp_mul", "dsp_tree"]}
# First-principles priors, used only for a primitive no training family exercises.
# LUT6: one adder bit per LUT with the carry chain; a 4:1 mux (two 2:1 stages) per LUT;
# one LUT per partial-product bit of a LUT multiplier; a non-restoring divider cell is an
# add/subtract bit (1 LUT, 1 FF when pipelined); hls::exp ~ 16 LUT per input bit (range
# reduction + table + polynomial); a 16-bit fixed square root with 16 result bits ~ 16
# non-restoring stages of an 18-bit add/subtract (288 cells);
# LUTRAM: 64 bits per LUT (RAM64X1S), a few LUTs of address decode per array.
PRIOR = {
    "lut": {"proc": 60, "port": 9, "add_bits": 1, "sel_bits": 0.5, "lmul_pp": 1,
            "lmul_io": 1, "dsp_mul": 2, "div_cells": 1, "exp_bits": 16, "sqrt_units": 288,
            "ram_bits": 1 / 64, "ram_arrays": 4},
    "ff": {"proc": 10, "port": 0, "add_bits": 1, "sel_bits": 0, "lmul_pp": 0.5,
           "lmul_io": 1, "dsp_mul": 2, "div_cells": 1, "exp_bits": 8, "sqrt_units": 288,
           "ram_bits": 0, "ram_arrays": 1},
    "dsp": {"dsp_mul": 1, "dsp_tree": 0},
}


def clog2(x):
    x = int(x)
    r = 0
    while (1 << r) < x:
        r += 1
    return r


# --------------------------------------------------------------------------------------
# Multiplier binding of Vitis HLS as observed per template (the "hls_default" binding).
def hls_linear_dsp(a, b):
    """int_linear2d: a product goes to a DSP unless an operand is 1 bit or a*b <= 4."""
    return not (a <= 1 or b <= 1 or a * b <= 4)


def hls_lane_dsp(a):
    """layernorm/rope lane multipliers (a x a): DSP from 4-bit operands on."""
    return a >= 4


def mul(p, n, a, b, dsp):
    """n multipliers of a x b bits, in DSPs or in LUTs."""
    if dsp:
        p["dsp_mul"] += n
    else:
        p["lmul_pp"] += n * a * b
        p["lmul_io"] += n * (a + b)


def zero():
    return {k: 0.0 for k in PRIMS}


# Primitive counts per block, from the templates (see docs/resource-model.md). The C++
# functions in models/hls_blocks.cpp compute the same counts.
def prims_linear(K, C, N, Kd, Nd, a, b):
    """int_linear2d: x_row=K (reduction lanes), x_col=C rows, w_row=N outputs per row."""
    p = zero()
    P, O, y = K * C * N, C * N, a + b
    p["proc"], p["port"] = 1, 2
    mul(p, P, a, b, hls_linear_dsp(a, b))
    if hls_linear_dsp(a, b):
        p["dsp_tree"] = O
    p["add_bits"] = O * (K + 1) * y        # K-1 tree adders + accumulate + bias
    p["sel_bits"] = O * y                  # accumulate / restart select
    p["ram_bits"] = N * K * Kd * Nd * b + O * Nd * y + N * Nd * y
    p["ram_arrays"] = N * K + O + N
    return p


def prims_relu(L, a):
    p = zero()
    p["proc"], p["port"] = 1, 2
    p["sel_bits"] = L * (a - 1)            # the a-1 value bits gated by the sign
    return p


def prims_add(L, a, b):
    p = zero()
    p["proc"], p["port"] = 1, 3
    p["add_bits"] = L * (max(a, b) + 1)
    return p


def prims_mult(L, a, b):
    p = zero()
    p["proc"], p["port"] = 1, 3
    mul(p, L, a, b, False)                 # HLS keeps <= 8-bit element-wise products in LUTs
    return p


def prims_softmax(R, Kr, a):
    """int_softmax: R = x_col rows of Kr = x_row lanes; exp per lane, row sum, divide."""
    p = zero()
    L = R * Kr
    p["proc"], p["port"] = 2, 6
    p["exp_bits"] = L * a
    p["add_bits"] = R * Kr * a             # row-sum tree + accumulate
    p["div_cells"] = L * (2 * a - 1) * a   # a-bit / a-bit fixed: 2a-1 quotient bits
    return p


def prims_layernorm(R, Kr, a):
    """int_layernorm: mean, variance (+16-bit sqrt per row), normalise per lane."""
    p = zero()
    L = R * Kr
    p["proc"], p["port"] = 3, 12
    p["add_bits"] = R * Kr * a + R * Kr * 2 * a + 3 * L * a  # mean, var trees; 2 sub + bias
    mul(p, L, a, a, hls_lane_dsp(a))                          # (d - mean)^2
    if hls_lane_dsp(a):
        p["dsp_tree"] = R
    p["lmul_pp"] += R * a * a                                 # mean: / constant
    p["sqrt_units"] = R
    p["div_cells"] = L * (2 * a - 1) * a                      # (d - mean) / sigma
    return p


def prims_rmsnorm(R, Kr, Rd, Kd, a):
    """int_rmsnorm: sum of squares / N, 1/mean, buffered tensor, two scale multipliers."""
    p = zero()
    L = R * Kr
    p["proc"], p["port"] = 3, 4            # mean: two loops, prod: one
    mul(p, 3 * L, a, a, False)             # d*d, buff*mean_w, data*w (LUTs in the data)
    p["lmul_pp"] += L * 2 * a * a          # / N (constant) per lane
    p["add_bits"] = L * 2 * a
    p["div_cells"] = a * a                 # 1 / mean
    p["ram_bits"] = Kd * Rd * L * a
    p["ram_arrays"] = L
    return p


def prims_rope(R, Kr, Kd, a):
    """int_rope: column buffer with two read ports, x1*a + x2*b per lane."""
    p = zero()
    L = R * Kr
    p["proc"], p["port"] = 2, 6
    depth = Kd * Kr
    p["ram_bits"] = depth * R * a
    p["ram_arrays"] = R
    p["sel_bits"] = 2 * L * a * clog2(depth)   # two dynamic-index reads per lane
    mul(p, 2 * L, a, a, hls_lane_dsp(a))
    p["add_bits"] = L * 2 * a
    return p


def prims_buffer(L, Td, a):
    """buffer / int_transpose: the whole tensor of Td tiles in one array per lane."""
    p = zero()
    p["proc"], p["port"] = 2, 2            # write loop, read loop
    p["ram_bits"] = Td * L * a
    p["ram_arrays"] = L
    return p


def prims_fork(n):
    p = zero()
    p["proc"], p["port"] = 1, 1 + n
    return p


def row_prims(fam, r):
    a = int(r["x_width"])
    R, Kr = int(r["x_col"]), int(r["x_row"])
    L = R * Kr
    if fam == "linear":
        return prims_linear(Kr, R, int(r["w_row"]), int(r["x_row_depth"]), int(r["w_row_depth"]),
                            a, int(r["w_width"]))
    if fam == "relu":
        return prims_relu(L, a)
    if fam == "add":
        return prims_add(L, a, int(r["w_width"]))
    if fam == "mult":
        return prims_mult(L, a, int(r["w_width"]))
    if fam == "softmax":
        return prims_softmax(R, Kr, a)
    if fam == "layernorm":
        return prims_layernorm(R, Kr, a)
    if fam == "rmsnorm":
        return prims_rmsnorm(R, Kr, int(r["x_col_depth"]), int(r["x_row_depth"]), a)
    if fam == "rope":
        return prims_rope(R, Kr, int(r["x_row_depth"]), a)
    if fam == "buffer":
        return prims_buffer(L, int(r["x_row_depth"] * r["x_col_depth"]), a)
    if fam == "fork":
        return prims_fork(int(r["fork_num"]))
    raise ValueError(fam)


FAMILIES = {  # CSV -> op family (transpose and buffer are the same block in the data)
    "int_linear2d.csv": "linear", "int_relu.csv": "relu", "int_add.csv": "add",
    "int_mult.csv": "mult", "int_softmax.csv": "softmax", "int_layernorm.csv": "layernorm",
    "int_rmsnorm.csv": "rmsnorm", "int_rope.csv": "rope", "int_transpose.csv": "buffer",
    "buffer.csv": "buffer", "fork.csv": "fork",
}


def lanes_of(fam, r):
    if fam == "linear":
        return r["x_row"] * r["x_col"] * r["w_row"] / 2  # MACs / 2: 32 MACs ~ 16 lanes
    if fam == "fork":
        return 1
    return r["x_row"] * r["x_col"]


def max_width(fam, r):
    w = r["x_width"]
    if fam in ("linear", "add", "mult"):
        w = max(w, r["w_width"])
    return w


# --------------------------------------------------------------------------------------
class Data:
    def __init__(self, d):
        self.rows = []  # (csv, family, index in csv, row dict)
        self.csvs = []
        for f in sorted(os.listdir(d)):
            if f not in FAMILIES:
                continue
            with open(os.path.join(d, f)) as fh:
                rs = [{k: float(v) for k, v in r.items() if k} for r in csv.DictReader(fh)]
            self.csvs.append((f, len(rs)))
            for i, r in enumerate(rs):
                self.rows.append((f, FAMILIES[f], i, r))
        if not self.rows:
            raise SystemExit(f"resource_fit.py: no calibration CSV in {d} (expected any of "
                             + ", ".join(sorted(FAMILIES)) + ")")
        self.X = np.array([[row_prims(fam, r)[k] for k in PRIMS] for _, fam, _, r in self.rows])
        self.Y = {k: np.array([r[k] for *_, r in self.rows]) for k in RESOURCES}
        self.fam = np.array([fam for _, fam, _, _ in self.rows])
        self.idx = np.array([i for _, _, i, _ in self.rows])
        self.lanes = np.array([lanes_of(fam, r) for _, fam, _, r in self.rows])
        self.width = np.array([max_width(fam, r) for _, fam, _, r in self.rows])


def round_sig(x, n=4):
    return 0.0 if abs(x) < 1e-9 else float(f"{x:.{n}g}")


def fit(data, train, fallback=None):
    """theta[res][prim] by weighted non-negative least squares on rows `train`; for
    primitives with no support among them, `fallback` (a theta) or the priors."""
    theta = {}
    for res in RESOURCES:
        cols = [PRIMS.index(p) for p in USES[res]]
        X = data.X[train][:, cols]
        y = data.Y[res][train]
        support = [j for j in range(len(cols)) if np.abs(X[:, j]).sum() > 0]
        unsupported = [j for j in range(len(cols)) if j not in support]
        fixed = np.zeros(len(cols))
        for j in unsupported:
            fixed[j] = (fallback or PRIOR)[res][USES[res][j]]
        # Relative error, each family weighted equally (a family's rows sum to one).
        fams = data.fam[train]
        count = {f: (fams == f).sum() for f in set(fams.tolist())}
        w = 1.0 / np.maximum(y, 1.0) / np.sqrt(np.array([count[f] for f in fams], float))
        active = list(support)
        coef = np.zeros(len(cols))
        while active:
            c, *_ = np.linalg.lstsq(X[:, active] * w[:, None], y * w, rcond=None)
            if (c >= -1e-12).all():
                coef[active] = np.maximum(c, 0)
                break
            del active[int(np.argmin(c))]
        coef[unsupported] = fixed[unsupported]
        theta[res] = {USES[res][j]: round_sig(coef[j]) for j in range(len(cols))}
    return theta


def predict(data, theta, res, rows=None):
    """theta: one table, or {family: table} (each row with its family's table)."""
    cols = [PRIMS.index(p) for p in USES[res]]
    rows = np.ones(len(data.rows), bool) if rows is None else rows
    X = data.X[rows][:, cols]
    if "lut" in theta:
        return X @ np.array([theta[res][p] for p in USES[res]])
    fams = data.fam[rows]
    out = np.zeros(len(fams))
    for f in set(fams.tolist()):
        m = fams == f
        out[m] = X[m] @ np.array([theta[f][res][p] for p in USES[res]])
    return out


def fit_families(data, train, shared):
    """Per-family tables: each family's own fit, `shared` for primitives it lacks."""
    return {f: fit(data, train & (data.fam == f), shared) for f in sorted(set(data.fam.tolist()))}


def stats(data, theta, test):
    """{res: (n, median %, p90 %, share within 15 %)} on rows `test` (skips all-zero DSP)."""
    out = {}
    for res in RESOURCES:
        y = data.Y[res][test]
        if len(y) == 0:
            continue
        p = predict(data, theta, res, test)
        if res == "dsp" and y.max() == 0 and np.abs(p).max() == 0:
            out[res] = None  # zero in the data and in the model: nothing to report
            continue
        e = np.abs(p - y) / np.maximum(y, 1.0) * 100.0
        out[res] = (len(y), float(np.median(e)), float(np.percentile(e, 90)),
                    float((e <= 15.0).mean() * 100.0))
    return out


def fmt_stats(s):
    cells = []
    for res in RESOURCES:
        v = s.get(res)
        cells.append("–" if v is None else f"{v[1]:.1f} / {v[2]:.0f} / {v[3]:.0f}")
    return cells


def validation(data):
    n = len(data.rows)
    every = np.ones(n, bool)
    interp_train = data.idx % 5 != 4
    sections = []
    fams = sorted(set(data.fam.tolist()))
    # Interpolation: the shipped constants (shared table + per-family tables).
    theta = fit(data, interp_train)
    per_family = fit_families(data, interp_train, theta)
    rows = []
    for f in fams:
        m = (data.fam == f) & ~interp_train
        rows.append((f, int(m.sum()), fmt_stats(stats(data, per_family, m))))
    sections.append(("Per-family tables, interpolation (rows index % 5 == 4 of every CSV held out; the shipped constants)", rows))
    rows = []
    for f in fams:
        m = (data.fam == f) & ~interp_train
        rows.append((f, int(m.sum()), fmt_stats(stats(data, theta, m))))
    sections.append(("Shared table, interpolation (the composed model on the same held-out rows)", rows))
    # Leave one family out.
    rows = []
    for f in fams:
        th = fit(data, every & (data.fam != f))
        m = data.fam == f
        rows.append((f, int(m.sum()), fmt_stats(stats(data, th, m))))
    sections.append(("Leave one family out: shared table fitted on all other families, tested on every row of this one (how a block or format the data never shows is estimated)", rows))
    # Leave widths out.
    rows = []
    sub = data.width <= 6
    th = fit_families(data, sub, fit(data, sub))
    for f in fams:
        m = (data.fam == f) & (data.width >= 7)
        if m.any():
            rows.append((f, int(m.sum()), fmt_stats(stats(data, th, m))))
    sections.append(("Leave widths out, per-family tables (fit on rows with all widths <= 6 bits, test on rows with a 7- or 8-bit operand)", rows))
    # Leave lanes out.
    rows = []
    sub = data.lanes <= 16
    th = fit_families(data, sub, fit(data, sub))
    for f in fams:
        m = (data.fam == f) & (data.lanes > 32)
        if m.any():
            rows.append((f, int(m.sum()), fmt_stats(stats(data, th, m))))
    sections.append(("Leave lanes out, per-family tables (fit on rows with <= 16 lanes / <= 32 MACs, test on > 32 lanes / > 64 MACs)", rows))
    return theta, per_family, sections


def markdown(data, sections):
    out = ["Generated by `bench/resource_fit.py` on " + ", ".join(f"{f} ({k})" for f, k in data.csvs)
           + ". Cells: median / 90th percentile of |pred − HLS| / max(HLS, 1) in %, / share of rows "
           "within 15 % in %. `–`: zero in every row and predicted zero.", ""]
    for title, rows in sections:
        out += [f"**{title}**", "", "| family | rows | LUT | FF | DSP |", "|---|---|---|---|---|"]
        out += [f"| {f} | {n} | " + " | ".join(c) + " |" for f, n, c in rows]
        out.append("")
    return "\n".join(out)


def theta_table(theta, per_family):
    out = ["| primitive | shared LUT | FF | DSP | " + " | ".join(f"{f} LUT/FF/DSP" for f in per_family) + " |",
           "|---" * (4 + len(per_family)) + "|"]
    for p in PRIMS:
        cells = [f"{theta[r][p]:.4g}" if p in theta[r] else "" for r in RESOURCES]
        for f, t in per_family.items():
            cells.append("/".join(f"{t[r][p]:.4g}" if p in t[r] else "" for r in RESOURCES))
        out.append(f"| {p} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def cpp_row(t):
    return "{" + ", ".join("{" + ", ".join(repr(t[r].get(p, 0.0)) for r in RESOURCES) + "}" for p in PRIMS) + "}"


def cpp_table(theta, per_family):
    lines = ["// Generated by bench/resource_fit.py --cpp: per primitive (order of enum Prim) {LUT, FF, DSP}.",
             "// kShared: fitted on every family (rows index % 5 != 4); kFamily: each family's own fit,",
             "// kShared where the family lacks a primitive. 4 significant digits.",
             "constexpr double kShared[kPrims][3] = " + cpp_row(theta) + ";",
             "constexpr double kFamily[][kPrims][3] = {"]
    for f, t in per_family.items():
        lines.append(f"    {cpp_row(t)},  // {f}")
    lines.append("};")
    return "\n".join(lines)


GOLDEN = [  # (family, description, primitive counts)
    ("linear", "K=4 C=2 N=3 Kd=Nd=8 a=b=8", prims_linear(4, 2, 3, 8, 8, 8, 8)),
    ("linear", "K=8 C=1 N=1 Kd=Nd=8 a=2 b=2", prims_linear(8, 1, 1, 8, 8, 2, 2)),
    ("relu", "L=16 a=8", prims_relu(16, 8)),
    ("add", "L=8 a=4 b=6", prims_add(8, 4, 6)),
    ("mult", "L=8 a=4 b=6", prims_mult(8, 4, 6)),
    ("softmax", "R=2 Kr=4 a=8", prims_softmax(2, 4, 8)),
    ("layernorm", "R=2 Kr=4 a=8", prims_layernorm(2, 4, 8)),
    ("rmsnorm", "R=2 Kr=4 depth 8x8 a=8", prims_rmsnorm(2, 4, 8, 8, 8)),
    ("rope", "R=2 Kr=4 Kd=8 a=8", prims_rope(2, 4, 8, 8)),
    ("buffer", "L=16 Td=64 a=8", prims_buffer(16, 64, 8)),
    ("fork", "n=3", prims_fork(3)),
]


def golden_lines(per_family):
    out = []
    for fam, desc, p in GOLDEN:
        theta = per_family[fam]
        v = [sum(theta[r][k] * p[k] for k in USES[r]) for r in RESOURCES]
        out.append(f"{fam:10s} {desc:28s} lut={v[0]:.6g} ff={v[1]:.6g} dsp={v[2]:.6g}")
    return out


# ======================================================================================
# --node-model: the per-CSV fit of models/resource_model.cpp (node_resources, what
# `simulate` reports today), unchanged: every 5th row held out, one regression per CSV
# and resource. Its printed coefficients are the constants in resource_model.cpp.
def load(d, f):
    with open(os.path.join(d, f)) as fh:
        return [{k: float(v) for k, v in r.items() if k} for r in csv.DictReader(fh)]


def legacy_split(n):
    idx = np.arange(n)
    held = idx % 5 == 4
    return ~held, held


def legacy_nnls_rel(X, y):
    """Weighted (1/y) least squares with non-negative coefficients (active-set drop)."""
    w = 1.0 / np.maximum(y, 1.0)
    active = list(range(X.shape[1]))
    while True:
        c, *_ = np.linalg.lstsq(X[:, active] * w[:, None], y * w, rcond=None)
        if (c >= -1e-12).all():
            break
        del active[int(np.argmin(c))]
    coef = np.zeros(X.shape[1])
    coef[active] = np.maximum(c, 0)
    return coef


def legacy_err(p, y):
    return np.abs(p - y) / np.maximum(y, 1.0) * 100.0


# --------------------------------------------------------------------------------------
# Feature sets: one per CSV and resource. Names match the constants in resource_model.cpp.
# HLS maps a multiplier to a DSP48E2 unless it is tiny: a 1-bit operand or a product of
# at most 4 bits (2x2) stays in LUTs (observed in int_linear2d: widths (2,3) use DSPs).
def legacy_hls_dsp_mode(a, b):
    return 0.0 if (a <= 1 or b <= 1 or a * b <= 4) else 1.0


def lin_vars(r):
    a, b = r["x_width"], r["w_width"]
    k = r["x_row"]                    # reduction lanes (w_col == x_row)
    O = r["x_col"] * r["w_row"]       # outputs per beat
    P = k * O                         # MACs per cycle
    acc = a + b + clog2(k * r["x_row_depth"])
    m = legacy_hls_dsp_mode(a, b)
    return a, b, P, O, acc, m


LEGACY_MODELS = {
    "int_linear2d.csv": {
        "dsp": (["m_P", "m_O"], lambda r: (lambda a, b, P, O, acc, m: [m * P, m * O])(*lin_vars(r))),
        "lut": (["c", "m", "m_P", "P_ab", "O_acc", "l_Pab", "l_P"],
                lambda r: (lambda a, b, P, O, acc, m: [1, m, m * P, P * (a + b), O * acc,
                                                       (1 - m) * P * a * b, (1 - m) * P])(*lin_vars(r))),
        "ff": (["c", "m", "m_P", "P_ab", "O_acc", "in_bits"],
               lambda r: (lambda a, b, P, O, acc, m: [1, m, m * P, P * (a + b), O * acc,
                                                      r["x_row"] * r["x_col"] * a + r["w_row"] * r["w_col"] * b])(*lin_vars(r))),
    },
    "int_relu.csv": {
        # 1-bit relu is constant (sign bit only); data bits = width-1 per lane.
        "lut": (["c", "L_bits"], lambda r: [1, r["x_row"] * r["x_col"] * (r["x_width"] - 1)]),
        "ff": (["c", "L_bits"], lambda r: [1, r["x_row"] * r["x_col"] * (r["x_width"] - 1)]),
    },
    "int_add.csv": {
        "lut": (["c", "L", "L_w"], lambda r: [1, r["x_row"] * r["x_col"], r["x_row"] * r["x_col"] * max(r["x_width"], r["w_width"])]),
        "ff": (["c", "L", "L_w"], lambda r: [1, r["x_row"] * r["x_col"], r["x_row"] * r["x_col"] * max(r["x_width"], r["w_width"])]),
    },
    "int_mult.csv": {
        "lut": (["c", "L", "L_ab", "L_apb"], lambda r: (lambda L, a, b: [1, L, L * a * b, L * (a + b)])(r["x_row"] * r["x_col"], r["x_width"], r["w_width"])),
        "ff": (["c", "L", "L_ab", "L_apb"], lambda r: (lambda L, a, b: [1, L, L * a * b, L * (a + b)])(r["x_row"] * r["x_col"], r["x_width"], r["w_width"])),
    },
    "int_softmax.csv": {
        "lut": (["c", "L", "L_a", "R", "R_a"], lambda r: (lambda L, a, R: [1, L, L * a, R, R * a])(r["x_row"] * r["x_col"], r["x_width"], r["x_col"])),
        "ff": (["c", "L", "L_a", "R", "R_a"], lambda r: (lambda L, a, R: [1, L, L * a, R, R * a])(r["x_row"] * r["x_col"], r["x_width"], r["x_col"])),
    },
    "int_layernorm.csv": {
        # x_col rows normalised in parallel, each with its own mean/variance/rsqrt unit;
        # one multiplier per lane (DSP from 4-bit inputs on).
        "dsp": (["m_L"], lambda r: [(1.0 if r["x_width"] >= 4 else 0.0) * r["x_row"] * r["x_col"]]),
        "lut": (["c", "R", "R_a", "L", "L_a", "l_L_aa"],
                lambda r: (lambda L, a, R, m: [1, R, R * a, L, L * a, (1 - m) * L * a * a])(r["x_row"] * r["x_col"], r["x_width"], r["x_col"], 1.0 if r["x_width"] >= 4 else 0.0)),
        "ff": (["c", "R", "R_a", "L", "L_a", "m_L_a"],
               lambda r: (lambda L, a, R, m: [1, R, R * a, L, L * a, m * L * a])(r["x_row"] * r["x_col"], r["x_width"], r["x_col"], 1.0 if r["x_width"] >= 4 else 0.0)),
    },
    "int_transpose.csv": {
        "lut": (["c", "L", "L_a"], lambda r: [1, r["x_row"] * r["x_col"], r["x_row"] * r["x_col"] * r["x_width"]]),
        "ff": (["c", "L", "L_a"], lambda r: [1, r["x_row"] * r["x_col"], r["x_row"] * r["x_col"] * r["x_width"]]),
    },
    "buffer.csv": {
        "lut": (["c", "L", "L_a"], lambda r: [1, r["x_row"] * r["x_col"], r["x_row"] * r["x_col"] * r["x_width"]]),
        "ff": (["c", "L", "L_a"], lambda r: [1, r["x_row"] * r["x_col"], r["x_row"] * r["x_col"] * r["x_width"]]),
    },
    "fork.csv": {
        "lut": (["c", "n"], lambda r: [1, r["fork_num"]]),
        "ff": (["c"], lambda r: [1]),
    },
}


# --------------------------------------------------------------------------------------
# Mirror of the previous estimate_resources (models/op_cost.cpp) on the CSV parameters,
# with MASE's HLS output widths (linear: a+b+log2 K, add: max+1, mult: a+b).
def dsp_per_mac(a, b):
    lo, hi = min(a, b), max(a, b)
    if hi <= 4:
        return 0.0
    if hi <= 8:
        return 0.5
    if lo <= 18 and hi <= 27:
        return 1.0
    return math.ceil(lo / 18.0) * math.ceil(hi / 27.0)


def old_estimate(f, r):
    L = r["x_row"] * r["x_col"]
    a = r["x_width"]
    if f == "int_linear2d.csv":
        b = r["w_width"]
        P = r["x_row"] * r["x_col"] * r["w_row"]
        O = r["x_col"] * r["w_row"]
        out_w = a + b + clog2(r["x_row"] * r["x_row_depth"])
        acc = a + b + clog2(max(2, P))
        d = dsp_per_mac(a, b)
        return {"lut": 20 + P * (acc + (a * b if d == 0 else 0)), "ff": 2 * out_w * O + P * acc, "dsp": P * d}
    if f == "int_relu.csv":
        return {"lut": 20 + L * a, "ff": 2 * a * L, "dsp": 0}
    if f == "int_add.csv":
        w = max(a, r["w_width"]) + 1
        return {"lut": 20 + L * 1.5 * w, "ff": 2 * w * L, "dsp": 0}
    if f == "int_mult.csv":
        w = a + r["w_width"]
        return {"lut": 20 + L * 3 * w, "ff": 2 * w * L, "dsp": L * dsp_per_mac(a, a)}
    if f in ("int_softmax.csv", "int_layernorm.csv"):
        return {"lut": 20 + L * 60 * a / 8 + 400, "ff": 2 * a * L + 40 * L, "dsp": L}
    if f in ("int_transpose.csv", "buffer.csv"):
        return {"lut": 20, "ff": 2 * a * L, "dsp": 0}
    return None


def node_model_main(d):
    print(f"calibration data: {d}")
    print("hold-out: rows with index % 5 == 4 (20 %); error = |pred-y|/max(y,1)\n")
    table = []
    compare = []
    for f, res in LEGACY_MODELS.items():
        rows = load(d, f)
        tr, te = legacy_split(len(rows))
        # BRAM/URAM: every published row reports 0 (the blocks' buffers stay in fabric).
        nz = {k: sum(1 for r in rows if r[k] != 0) for k in ("bram", "uram")}
        print(f"== {f}: {len(rows)} rows ({tr.sum()} fitted, {te.sum()} held out); rows with bram>0: {nz['bram']}, uram>0: {nz['uram']}")
        for key in ("lut", "ff", "dsp"):
            y = np.array([r[key] for r in rows])
            if key not in res:
                if y.max() == 0:
                    print(f"   {key:4s} always 0 in the data; model predicts 0")
                continue
            names, feat = res[key]
            X = np.array([feat(r) for r in rows], dtype=float)
            coef = legacy_nnls_rel(X[tr], y[tr])
            p = X @ coef
            e = legacy_err(p, y)
            print(f"   {key:4s} " + "  ".join(f"{n}={c:.4g}" for n, c in zip(names, coef)))
            table.append((f, key, e[tr].mean(), e[tr].max(), e[te].mean(), e[te].max()))
            old = [old_estimate(f, r) for r in rows]
            if old[0] is not None:
                po = np.array([o[key] for o in old])
                eo = legacy_err(po, y)
                compare.append((f, key, e[te].mean(), eo[te].mean(), eo[te].max(), po[te].sum() / max(y[te].sum(), 1)))
    print("\nFit error (mean abs % / max abs %)")
    print(f"{'csv':20s} {'res':4s} {'fit mean':>9s} {'fit max':>8s} {'held mean':>10s} {'held max':>9s}")
    for f, k, a, b, c, dd in table:
        print(f"{f:20s} {k:4s} {a:9.2f} {b:8.1f} {c:10.2f} {dd:9.1f}")
    print("\nCalibrated vs previous estimate_resources on the held-out rows")
    print(f"{'csv':20s} {'res':4s} {'calibrated mean%':>16s} {'previous mean%':>15s} {'previous max%':>14s} {'previous sum/HLS sum':>21s}")
    for f, k, a, b, c, ratio in compare:
        print(f"{f:20s} {k:4s} {a:16.2f} {b:15.2f} {c:14.1f} {ratio:21.2f}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.normpath(os.path.join(here, "..", "..", "shared", "calibration", "mase-hls-u250")))
    ap.add_argument("--write-doc")
    ap.add_argument("--cpp", action="store_true")
    ap.add_argument("--golden", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--check-cpp")
    ap.add_argument("--node-model", action="store_true")
    a = ap.parse_args()
    if not os.path.isdir(a.data):
        print(f"resource_fit.py: calibration directory not found: {a.data}", file=sys.stderr)
        return 1
    if a.node_model:
        node_model_main(a.data)
        return 0
    data = Data(a.data)
    theta, per_family, sections = validation(data)
    md = (markdown(data, sections) + "\n**Fitted constants** (per primitive: the shared table, then each family's)\n\n"
          + theta_table(theta, per_family) + "\n")
    if not a.quiet:
        print(md)
    if a.cpp:
        print(cpp_table(theta, per_family))
    if a.golden:
        print("\n".join(golden_lines(per_family)))
    if a.check_cpp:
        try:
            with open(a.check_cpp) as fh:
                src = fh.read()
        except OSError as e:
            print(f"resource_fit.py: --check-cpp {a.check_cpp}: {e.strerror}", file=sys.stderr)
            return 1
        if cpp_table(theta, per_family) not in src:
            print(f"resource_fit.py: {a.check_cpp} does not hold the fitted constants; paste the "
                  "output of --cpp over its generated block", file=sys.stderr)
            return 3
        print(f"{a.check_cpp}: constants match the fit")
    if a.write_doc:
        begin, end = "<!-- BEGIN resource_fit.py -->", "<!-- END resource_fit.py -->"
        try:
            with open(a.write_doc) as fh:
                doc = fh.read()
        except OSError as e:
            print(f"resource_fit.py: --write-doc {a.write_doc}: {e.strerror}", file=sys.stderr)
            return 1
        if begin not in doc or end not in doc or doc.index(begin) > doc.index(end):
            print(f"resource_fit.py: --write-doc {a.write_doc}: markers '{begin}' … '{end}' not found",
                  file=sys.stderr)
            return 1
        doc = doc[: doc.index(begin) + len(begin)] + "\n" + md + doc[doc.index(end):]
        with open(a.write_doc, "w") as fh:
            fh.write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
