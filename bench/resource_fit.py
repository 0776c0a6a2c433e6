#!/usr/bin/python3
"""Refit masesim's calibrated resource model (models/resource_model.cpp) to MASE's
published Vitis HLS synthesis points and print the fit error per CSV.

Usage:
    /usr/bin/python3 bench/resource_fit.py [CALIBRATION_DIR]

CALIBRATION_DIR defaults to ../shared/calibration/mase-hls-u250 next to the repository.
Needs numpy only.

Hold-out: every 5th data row of each CSV (0-based row index i with i % 5 == 4, i.e.
20 %) is never used in a fit; the "held" columns are the error on those rows.
Error of one row = |predicted - reported| / max(reported, 1) (so a DSP count of 0 that
is predicted as 0 is exact). The fit is a weighted least squares on the fitted rows,
weight 1/max(y,1) (relative error), with coefficients constrained >= 0 (features whose
coefficient goes negative are dropped and the fit repeated), so every formula is
monotone in lanes and widths.

The printed coefficients are the constants in models/resource_model.cpp (rounded to 3
significant digits there). The last table compares with the previous first-order
estimate (`estimate_resources` in models/op_cost.cpp, mirrored below) on the same rows.
"""
import csv
import math
import os
import sys

import numpy as np


def clog2(x):
    x = int(x)
    r = 0
    while (1 << r) < x:
        r += 1
    return r


def load(d, f):
    with open(os.path.join(d, f)) as fh:
        return [{k: float(v) for k, v in r.items() if k} for r in csv.DictReader(fh)]


def split(n):
    idx = np.arange(n)
    held = idx % 5 == 4
    return ~held, held


def nnls_rel(X, y):
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


def err(p, y):
    return np.abs(p - y) / np.maximum(y, 1.0) * 100.0


# --------------------------------------------------------------------------------------
# Feature sets: one per CSV and resource. Names match the constants in resource_model.cpp.
# HLS maps a multiplier to a DSP48E2 unless it is tiny: a 1-bit operand or a product of
# at most 4 bits (2x2) stays in LUTs (observed in int_linear2d: widths (2,3) use DSPs).
def hls_dsp_mode(a, b):
    return 0.0 if (a <= 1 or b <= 1 or a * b <= 4) else 1.0


def lin_vars(r):
    a, b = r["x_width"], r["w_width"]
    k = r["x_row"]                    # reduction lanes (w_col == x_row)
    O = r["x_col"] * r["w_row"]       # outputs per beat
    P = k * O                         # MACs per cycle
    acc = a + b + clog2(k * r["x_row_depth"])
    m = hls_dsp_mode(a, b)
    return a, b, P, O, acc, m


MODELS = {
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


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(here, "..", "..", "shared", "calibration", "mase-hls-u250"))
    if not os.path.isdir(d):
        sys.exit(f"calibration directory not found: {d}")
    print(f"calibration data: {d}")
    print("hold-out: rows with index % 5 == 4 (20 %); error = |pred-y|/max(y,1)\n")
    table = []
    compare = []
    for f, res in MODELS.items():
        rows = load(d, f)
        tr, te = split(len(rows))
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
            coef = nnls_rel(X[tr], y[tr])
            p = X @ coef
            e = err(p, y)
            print(f"   {key:4s} " + "  ".join(f"{n}={c:.4g}" for n, c in zip(names, coef)))
            table.append((f, key, e[tr].mean(), e[tr].max(), e[te].mean(), e[te].max()))
            old = [old_estimate(f, r) for r in rows]
            if old[0] is not None:
                po = np.array([o[key] for o in old])
                eo = err(po, y)
                compare.append((f, key, e[te].mean(), eo[te].mean(), eo[te].max(), po[te].sum() / max(y[te].sum(), 1)))
    print("\nFit error (mean abs % / max abs %)")
    print(f"{'csv':20s} {'res':4s} {'fit mean':>9s} {'fit max':>8s} {'held mean':>10s} {'held max':>9s}")
    for f, k, a, b, c, dd in table:
        print(f"{f:20s} {k:4s} {a:9.2f} {b:8.1f} {c:10.2f} {dd:9.1f}")
    print("\nCalibrated vs previous estimate_resources on the held-out rows")
    print(f"{'csv':20s} {'res':4s} {'calibrated mean%':>16s} {'previous mean%':>15s} {'previous max%':>14s} {'previous sum/HLS sum':>21s}")
    for f, k, a, b, c, ratio in compare:
        print(f"{f:20s} {k:4s} {a:16.2f} {b:15.2f} {c:14.1f} {ratio:21.2f}")


if __name__ == "__main__":
    main()
