#!/usr/bin/python3
"""Accuracy study: float vs emulated-quantised vs simulated-hardware MNIST CNN.

    /usr/bin/python3 scripts/accuracy.py [--simulate PATH] [--train N --test M \
        --epochs E --seed S] [--preset int8|msfp12|...] [--out DIR]

1. Generates a seeded synthetic digit data set (no downloads): 28x28 digits 0-9 drawn
   from hand-made polyline glyphs (two variants for some digits) with random control-point
   jitter, affine jitter (shift, scale, aspect, rotation, shear), stroke width, intensity,
   distractor strokes and Gaussian noise (docs/accuracy.md).
2. Trains the zoo's MNIST CNN (scripts/masesim_models.py) in float32 on the CPU.
3. Rescales the trained layers by powers of two (exact in float: ReLU and max-pool commute
   with positive scaling; the argmax of the logits is unchanged) so that the fixed-point
   formats' range is used ("range balancing", --no-balance to skip), saves the state_dict
   and exports the graph with those weights (export_graph.write_data) and the test images
   as the graph input's inferences.
4. Reports the accuracy of the float model, of the emulated quantised model
   (scripts/quant_emulation.py over the whole test set) and of the simulated hardware
   (`simulate` in functional mode over the test images: OUT/outputs/<output>.npy, argmax),
   the number of test images whose hardware logits differ from the emulation's, and the
   simulator's wall time. Writes DIR/accuracy.json (+ model.pt, graph, data, sim output).
"""
import argparse
import copy
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

MODEL = "mnist-cnn"
GEMM_LAYERS = ("conv1", "conv2", "fc1", "fc2")      # in order; ReLU/max-pool between them


# ------------------------------------------------------------------ data set
def _arc(cx, cy, rx, ry, a0, a1, n=None):
    """Polyline of an elliptic arc; angles in degrees, 0 = right, 90 = down (y down)."""
    n = n or max(4, int(abs(a1 - a0) / 20))
    t = np.radians(np.linspace(a0, a1, n + 1))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _pl(*pts):
    return np.array(pts, dtype=np.float64)


# digit -> list of variants; a variant is a list of strokes (polylines in a unit box,
# x right, y down)
GLYPHS = {
    0: [[_arc(.5, .5, .36, .48, 0, 360)],
        [_arc(.5, .5, .3, .48, -60, 300)]],
    1: [[_pl((.5, 0), (.5, 1))],
        [_pl((.28, .22), (.55, 0), (.55, 1)), _pl((.3, 1), (.8, 1))]],
    2: [[np.concatenate([_arc(.5, .28, .32, .27, 195, 390), _pl((.12, 1), (.88, 1))])],
        [np.concatenate([_arc(.5, .3, .33, .3, 180, 370), _pl((.2, .8), (.1, 1), (.9, .98))])]],
    3: [[_arc(.48, .27, .3, .25, 200, 450), _arc(.48, .74, .35, .26, 270, 520)],
        [_pl((.15, 0), (.85, 0), (.45, .42)), _arc(.48, .72, .35, .28, 250, 520)]],
    4: [[_pl((.66, 1), (.66, 0), (.08, .7), (.92, .7))],
        [_pl((.25, 0), (.15, .6), (.9, .6)), _pl((.68, .25), (.68, 1))]],
    5: [[_pl((.82, 0), (.25, 0), (.2, .45)), _arc(.48, .7, .33, .3, 225, 510)],
        [_pl((.85, .02), (.3, 0), (.25, .42), (.6, .4), (.85, .62), (.7, .95), (.35, 1),
             (.15, .85))]],
    6: [[_pl((.78, 0), (.42, .2), (.2, .55), (.2, .72)), _arc(.5, .73, .3, .26, 0, 360)],
        [np.concatenate([_arc(.6, .55, .42, .55, 250, 180, 6), _arc(.5, .75, .3, .24, 180, 540)])]],
    7: [[_pl((.1, 0), (.9, 0), (.38, 1))],
        [_pl((.12, .1), (.12, 0), (.9, 0), (.45, 1)), _pl((.38, .5), (.82, .5))]],
    8: [[_arc(.5, .26, .27, .24, 0, 360), _arc(.5, .74, .32, .26, 0, 360)],
        [_arc(.5, .25, .25, .23, 90, 450), _pl((.5, .48), (.2, .75), (.5, 1), (.8, .75), (.5, .48))]],
    9: [[_arc(.5, .28, .3, .26, 0, 360), _pl((.8, .28), (.76, .65), (.55, 1))],
        [_arc(.48, .27, .3, .26, 0, 360), _pl((.78, .27), (.78, 1))]],
}


def _segments(strokes):
    p = np.concatenate([s[:-1] for s in strokes])
    q = np.concatenate([s[1:] for s in strokes])
    return p, q


def _render(p, q, thick, grid):
    """Anti-aliased strokes: intensity clip(thick/2 + 0.5 - distance, 0, 1)."""
    d = q - p                                                   # [S, 2]
    g = grid[:, None, :] - p[None]                              # [784, S, 2]
    den = np.maximum(np.sum(d * d, axis=1), 1e-9)
    t = np.clip(np.sum(g * d[None], axis=2) / den, 0.0, 1.0)    # [784, S]
    dist = np.min(np.hypot(g[..., 0] - t * d[:, 0], g[..., 1] - t * d[:, 1]), axis=1)
    return np.clip(thick / 2 + 0.5 - dist, 0.0, 1.0)


def make_digits(count, seed):
    """(images [count, 1, 28, 28] float32 in [0, 1], labels [count] int64); deterministic
    for a seed. Labels are balanced-random (uniform)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float64)
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
    images = np.zeros((count, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, size=count).astype(np.int64)
    for i in range(count):
        variants = GLYPHS[int(labels[i])]
        strokes = variants[rng.integers(0, len(variants))]
        strokes = [s + rng.normal(0, 0.035, size=s.shape) for s in strokes]   # wobble
        p, q = _segments(strokes)
        # unit box -> centred box, then shear, rotation, scale, shift (pixels)
        h = rng.uniform(15, 21)
        w = h * rng.uniform(0.5, 0.8)
        ang = math.radians(rng.uniform(-15, 15))
        shear = rng.uniform(-0.3, 0.3)
        c = np.array([14 + rng.uniform(-3, 3), 14 + rng.uniform(-2.5, 2.5)])
        m = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
        m = m @ np.array([[w, -shear * h], [0, h]])

        def tf(a):
            return (a - 0.5) @ m.T + c
        p, q = tf(p), tf(q)
        img = _render(p, q, rng.uniform(1.0, 2.6), grid) * rng.uniform(0.6, 1.0)
        # a distractor stroke in a third of the images
        if rng.random() < 0.33:
            a = rng.uniform(0, 28, size=2)
            b = a + rng.normal(0, 4, size=2)
            img = np.maximum(img, _render(a[None], b[None], rng.uniform(0.5, 1.5), grid)
                             * rng.uniform(0.3, 0.8))
        img = img + rng.normal(0, rng.uniform(0.02, 0.15), size=img.shape)
        images[i, 0] = np.clip(img, 0.0, 1.0).reshape(28, 28)
    return images, labels


# ------------------------------------------------------------------ training
def forward(model, x, fq=None, ks=None):
    """The MNIST CNN's forward with fc1 computed as a 14x14 convolution over the pooled
    [B, 32, 14, 14] map (the same weights viewed as [1024, 32, 14, 14]; nn.Flatten's order):
    identical results, but ~15x faster on CPUs where torch has no MKL (Debian's torch runs
    nn.Linear's GEMMs on the generic BLAS and its convolutions on oneDNN).
    fq: optional fixed-point fake quantisation for balance(): {"x": q, layer: (q_weight,
    q_bias, q_out)} of callables; ks: {layer: power-of-two exponent} applied to the weights
    (biases by the cumulative exponent)."""
    import torch.nn.functional as F
    ident = (lambda t: t)
    q = fq or {}
    cum = 0
    h = q.get("x", ident)(x)
    for l in GEMM_LAYERS:
        m = getattr(model, l)
        k = (ks or {}).get(l, 0)
        cum += k
        qw, qb, qo = q.get(l, (ident, ident, ident))
        w, b = qw(m.weight * 2.0 ** k), qb(m.bias * 2.0 ** cum)
        if l == "fc1":
            h = F.conv2d(h, w.view(w.shape[0], 32, 14, 14), b).flatten(1)
        elif l == "fc2":
            h = F.linear(h, w, b)
        else:
            h = F.conv2d(h, w, b, padding=1)
        h = qo(h)
        if l != "fc2":
            h = F.relu(h)
        if l == "conv2":
            h = F.max_pool2d(h, 2)
    return h


def train(train_x, train_y, epochs, seed, batch=64, lr=1e-3, log=print):
    import torch
    import torch.nn.functional as F
    import masesim_models as zoo
    torch.manual_seed(seed)
    model = zoo.build_model(MODEL, device="cpu")
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x = torch.from_numpy(train_x)
    y = torch.from_numpy(train_y)
    gen = torch.Generator().manual_seed(seed)
    for ep in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        total, correct, loss_sum = 0, 0, 0.0
        for s in range(0, len(x), batch):
            idx = perm[s:s + batch]
            out = forward(model, x[idx])
            loss = F.cross_entropy(out, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += float(loss) * len(idx)
            correct += int((out.argmax(1) == y[idx]).sum())
            total += len(idx)
        log(f"  epoch {ep + 1}/{epochs}: loss {loss_sum / total:.4f}, "
            f"train accuracy {correct / total:.4f}")
    model.eval()
    return model


def float_logits(model, x, **kw):
    import torch
    with torch.no_grad():
        return np.concatenate([forward(model, torch.from_numpy(x[s:s + 256]), **kw).numpy()
                               for s in range(0, len(x), 256)])


# ------------------------------------------------------------------ range balancing
def _fixed_q(p):
    """Fake quantiser (torch) of a fixed-point precision, round half to even; None for
    other formats."""
    import torch
    if p["type"] != "fixed":
        return None
    sc = 2.0 ** p["frac_width"]
    lo, hi = -2.0 ** (p["width"] - 1), 2.0 ** (p["width"] - 1) - 1
    return lambda t: torch.clamp(torch.round(t * sc), lo, hi) / sc


def balance(model, graph, calib_x, calib_y, span=7, passes=2, log=print):
    """Power-of-two rescaling of conv1, conv2, fc1, fc2 for fixed-point formats.

    Layer l's weight is scaled by 2^k_l and its bias by 2^(k_1+...+k_l): every activation
    after layer l is 2^(k_1+...+k_l) times the float one (ReLU and max-pool are positively
    homogeneous), the float logits are scaled by 2^sum(k) and their argmax is unchanged (the
    float model is the same model, exactly, in float32). A fixed-point format (int8: 8 bits,
    4 fractional) has one range for weights and activations, so the exponents trade weight
    resolution against activation overflow: starting from the largest k_l that keeps
    |weight| in range (or from all k_l = 0 if that scores better), coordinate descent
    (`passes` sweeps over the layers, k_l from that maximum down by `span`, and 0) picks the k_l with the best accuracy of a fake-quantised forward
    (float32, round half even, saturating; a proxy of the emulation) on the calibration
    images (training images), ties broken by the cross entropy. Returns ({layer: k}, rescaled
    model copy); all 0 (a copy of the model) when the graph's formats are not fixed point."""
    import torch
    import torch.nn.functional as F
    nodes = {n["name"]: n for n in graph["nodes"]}
    fq = {"x": _fixed_q(graph["inputs"][0]["precision"])}
    for l in GEMM_LAYERS:
        n = nodes[l]
        fq[l] = (_fixed_q(n["params"]["weight"]["precision"]),
                 _fixed_q(n["params"]["bias"]["precision"]),
                 _fixed_q(n["results"]["data_out_0"]["precision"]))
    ks = {l: 0 for l in GEMM_LAYERS}
    if fq["x"] is not None and all(f is not None for l in GEMM_LAYERS for f in fq[l]):
        x = torch.from_numpy(calib_x)
        y = torch.from_numpy(calib_y)

        def score(k):
            with torch.no_grad():
                out = forward(model, x, fq=fq, ks=k)
            return (float((out.argmax(1) == y).float().mean()),
                    -float(F.cross_entropy(out / 2.0 ** sum(k.values()), y)))
        kmax = {}
        for l in GEMM_LAYERS:
            n = nodes[l]
            p = n["params"]["weight"]["precision"]
            wmax = (2.0 ** (p["width"] - 1) - 1) * 2.0 ** -p["frac_width"]
            w = float(getattr(model, l).weight.detach().abs().max())
            kmax[l] = math.floor(math.log2(wmax / w)) if w > 0 else 0
        ks, best = dict(kmax), score(kmax)
        zero = {l: 0 for l in GEMM_LAYERS}
        s0 = score(zero)
        if s0 > best:                       # never worse than the weights as trained
            ks, best = zero, s0
        for _ in range(passes):
            changed = False
            for l in GEMM_LAYERS:
                for k in range(max(kmax[l], 0), min(kmax[l] - span, 0) - 1, -1):
                    if k == ks[l]:
                        continue
                    s = score(dict(ks, **{l: k}))
                    if s > best:
                        best, ks, changed = s, dict(ks, **{l: k}), True
            if not changed:
                break
        log(f"  balance: 2^k per layer {ks}, calibration accuracy (fake-quantised) "
            f"{best[0]:.4f} on {len(calib_x)} training images")
    out = copy.deepcopy(model)
    cum = 0
    with torch.no_grad():
        for l in GEMM_LAYERS:
            cum += ks[l]
            m = getattr(out, l)
            m.weight.mul_(2.0 ** ks[l])
            m.bias.mul_(2.0 ** cum)
    return ks, out


# ------------------------------------------------------------------ emulation
def emulate(graph, state_dict, x, rounding="half_even", quant=True, chunk=128):
    """Quantised (quant_emulation.eval_graph) output node values for every image:
    (logits [N, 10], {node: values of image 0} for the reference files)."""
    from quant_emulation import eval_graph, quantize_params
    raw = {k: v.detach().cpu().numpy() for k, v in state_dict.items()}
    params = quantize_params(graph, raw, rounding, quant=quant)
    out_node = graph["outputs"][0].split(".data_out_")[0]
    logits, first = [], None
    for s in range(0, len(x), chunk):
        xs = x[s:s + chunk]
        g = dict(graph, dims=dict(graph["dims"], batch=len(xs)))
        vals = eval_graph(g, params, {"x": xs.astype(np.float64)}, rounding, quant=quant)
        logits.append(vals[out_node].reshape(len(xs), -1))
        if first is None:
            first = {k: v[:1] for k, v in vals.items()}
    return np.concatenate(logits), first


# ------------------------------------------------------------------ export + simulate
def export(model, preset, test_x, out_dir, seed, rounding="half_even"):
    """Graph + tensor data with the model's weights and the test images as the input's
    inferences. Returns (graph path, data dir, graph dict, emulated logits)."""
    import torch
    from export_graph import export_zoo, write_data
    from mase_graph_common import QuantConfig, write_graph
    graph = export_zoo(MODEL, QuantConfig.load(preset=preset), {"batch": 1})
    gpath = os.path.join(out_dir, f"mnist_cnn_{preset}.json")
    data = gpath[:-len(".json")] + ".data"
    write_graph(graph, gpath)
    wpath = os.path.join(out_dir, f"model_{preset}.pt")
    torch.save(model.state_dict(), wpath)
    if os.path.isdir(data):
        shutil.rmtree(data)
    # params, meta and the module check; its own (seven-segment) inputs are replaced below
    write_data(graph, MODEL, data, seed=seed, inferences=1, rounding=rounding, weights=wpath)
    x = test_x.reshape(len(test_x), 1, 1, 28, 28).astype(np.float64)
    np.save(os.path.join(data, "inputs", "x.npy"), x)
    logits, first = emulate(graph, model.state_dict(), test_x, rounding)
    for name, v in first.items():                   # references = inference 0 (test image 0)
        if name == "x":
            continue
        np.save(os.path.join(data, "reference", name + ".npy"),
                np.ascontiguousarray(v.reshape(np.load(os.path.join(
                    data, "reference", name + ".npy")).shape), dtype="<f8"))
    with open(os.path.join(data, "meta.json")) as f:
        meta = json.load(f)
    meta.update(inferences=len(test_x), inputs="scripts/accuracy.py synthetic digit test set")
    with open(os.path.join(data, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    return gpath, data, graph, logits


def find_simulate(path=None):
    for c in (path, os.environ.get("MASESIM_SIMULATE"), os.path.join(ROOT, "build", "simulate")):
        if c and os.access(c, os.X_OK):
            return c
    return None


def simulate(sim, graph_path, data, inferences, out_dir, check_reference=True):
    """Runs simulate in functional mode; returns (logits [N, 10], wall seconds)."""
    sim_out = os.path.join(out_dir, "sim")
    if os.path.isdir(sim_out):
        shutil.rmtree(sim_out)
    cfg = os.path.join(out_dir, os.path.basename(graph_path)[:-5] + "_config.yaml")
    with open(cfg, "w") as f:
        f.write(f"workload: {{graph: {os.path.abspath(graph_path)}, data: {os.path.abspath(data)}, "
                f"inferences: {inferences}}}\nsimulation: {{mode: functional}}\n")
    cmd = [sim, "--config", cfg, "--out", sim_out, "--quiet"]
    if check_reference:
        cmd.append("--check-reference")
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    outs = [f for f in os.listdir(os.path.join(sim_out, "outputs")) if f.endswith(".npy")]
    if len(outs) != 1:
        raise RuntimeError(f"expected one output tensor in {sim_out}/outputs, got {outs}")
    y = np.load(os.path.join(sim_out, "outputs", outs[0]))
    return y.reshape(inferences, -1), wall, os.path.splitext(outs[0])[0]


def accuracy(logits, labels):
    return float(np.mean(np.argmax(logits, axis=1) == labels))


# ------------------------------------------------------------------ main
def run(args, log=print):
    import torch
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.monotonic()
    tr_x, tr_y = make_digits(args.train, args.seed)
    te_x, te_y = make_digits(args.test, args.seed + 1000003)
    t_data = time.monotonic() - t0
    log(f"data set: {args.train} train / {args.test} test images ({t_data:.1f} s)")
    t0 = time.monotonic()
    model = train(tr_x, tr_y, args.epochs, args.seed, batch=args.batch, log=log)
    t_train = time.monotonic() - t0
    log(f"trained in {t_train:.1f} s")
    torch.save(model.state_dict(), os.path.join(args.out, "model_float.pt"))
    res = {"model": MODEL, "seed": args.seed, "train_images": args.train,
           "test_images": args.test, "epochs": args.epochs, "batch": args.batch,
           "threads": args.threads, "data_seconds": round(t_data, 3),
           "train_seconds": round(t_train, 3),
           "float": {"accuracy": accuracy(float_logits(model, te_x), te_y)},
           "presets": {}}
    sim = find_simulate(args.simulate)
    if sim is None and not args.no_simulate:
        raise SystemExit("accuracy.py: no simulate binary (--simulate PATH, $MASESIM_SIMULATE "
                         "or build/simulate); --no-simulate to skip the hardware column")
    for preset in args.preset:
        from export_graph import export_zoo
        from mase_graph_common import QuantConfig
        graph = export_zoo(MODEL, QuantConfig.load(preset=preset), {"batch": 1})
        pr = {}
        t0 = time.monotonic()
        if args.no_balance:
            ks, m = {l: 0 for l in GEMM_LAYERS}, model
        else:
            ks, m = balance(model, graph, tr_x[:args.calib], tr_y[:args.calib], log=log)
            pr["balance_seconds"] = round(time.monotonic() - t0, 3)
            if any(ks.values()):
                naive, _ = emulate(graph, model.state_dict(), te_x, args.rounding)
                pr["emulation_unbalanced_accuracy"] = accuracy(naive, te_y)
        pr["balance_exponents"] = ks
        pr["float_balanced_accuracy"] = accuracy(float_logits(m, te_x), te_y)
        t0 = time.monotonic()
        gpath, data, graph, emu = export(m, preset, te_x, args.out, args.seed, args.rounding)
        pr["export_and_emulation_seconds"] = round(time.monotonic() - t0, 3)
        pr["graph"] = os.path.relpath(gpath, args.out)
        pr["emulation"] = {"accuracy": accuracy(emu, te_y)}
        if sim is not None and not args.no_simulate:
            hw, wall, out_name = simulate(sim, gpath, data, args.test, args.out)
            diff = np.any(hw != emu, axis=1)
            pr["output_node"] = out_name
            pr["hardware"] = {
                "accuracy": accuracy(hw, te_y),
                "images_differing_from_emulation": int(np.sum(diff)),
                "max_abs_logit_difference": float(np.max(np.abs(hw - emu))),
                "argmax_disagreements_with_emulation": int(np.sum(
                    np.argmax(hw, 1) != np.argmax(emu, 1))),
                "simulate_wall_seconds": round(wall, 3),
                "simulate": sim}
        res["presets"][preset] = pr
    with open(os.path.join(args.out, "accuracy.json"), "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
        f.write("\n")
    return res


def table(res):
    lines = [f"MNIST CNN, synthetic digits: {res['train_images']} train / {res['test_images']} "
             f"test images, {res['epochs']} epochs, seed {res['seed']}",
             f"{'model':<28} {'accuracy':>9}  notes",
             f"{'float32':<28} {res['float']['accuracy']:>9.4f}  "
             f"train {res['train_seconds']:.1f} s"]
    for preset, pr in res["presets"].items():
        if "emulation_unbalanced_accuracy" in pr:
            lines.append(f"{preset + ' emulation, unbalanced':<28} "
                         f"{pr['emulation_unbalanced_accuracy']:>9.4f}  raw float weights")
        ks = ",".join(str(pr["balance_exponents"][l]) for l in GEMM_LAYERS)
        lines.append(f"{preset + ' emulation':<28} {pr['emulation']['accuracy']:>9.4f}  "
                     f"scales 2^({ks})")
        if "hardware" in pr:
            hw = pr["hardware"]
            lines.append(f"{preset + ' hardware (simulate)':<28} {hw['accuracy']:>9.4f}  "
                         f"{hw['images_differing_from_emulation']} images' logits differ from "
                         f"emulation, simulate {hw['simulate_wall_seconds']:.1f} s")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--simulate", help="simulate binary (default $MASESIM_SIMULATE, build/simulate)")
    ap.add_argument("--train", type=int, default=4000, help="training images")
    ap.add_argument("--test", type=int, default=500, help="test images (= inferences simulated)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--preset", action="append", help="quant preset(s) of the graph "
                    "(repeatable; default int8)")
    ap.add_argument("--calib", type=int, default=512,
                    help="training images used to choose the power-of-two layer scales")
    ap.add_argument("--rounding", choices=("half_even", "truncate"), default="half_even")
    ap.add_argument("--no-balance", action="store_true",
                    help="export the trained weights as they are (no power-of-two rescaling)")
    ap.add_argument("--no-simulate", action="store_true", help="float and emulation only")
    ap.add_argument("--out", default="accuracy_out", help="output directory")
    a = ap.parse_args(argv)
    a.preset = a.preset or ["int8"]
    res = run(a)
    print(table(res))
    print(f"wrote {os.path.join(a.out, 'accuracy.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
