#!/usr/bin/python3
"""Statistics of a mase-graph file: parameters, MACs, nodes, weight bytes.

    /usr/bin/python3 scripts/graph_stats.py workloads/graphs/opt125m_int8.json [--dims seq=512] [--json]

MACs are counted as executed by the graph: linear = numel(out) * IN,
matmul/bmm = numel(out) * K (full attention score matrices, logits for every
position), conv2d = numel(out) * C/groups * kh * kw. Other ops count 0 MACs.
Parameters and weight bytes skip parameters marked `shared_with` (stored once).
Weight bytes = sum over parameters of numel * bits_per_element / 8 (shared
exponents amortised, see docs/graph-format.md).
"""
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mase_graph_common import (BUFFER_PARAMS, GraphError, bits_per_element,  # noqa: E402
                               load_graph, parse_dims)

MAC_OPS = ("linear", "matmul", "bmm", "conv2d", "conv1d", "causal_conv1d", "selective_scan",
           "moe_experts", "lstm", "gru")


def resolve(shape, dims):
    out = []
    for d in shape:
        if isinstance(d, str):
            if d not in dims:
                raise GraphError(f"unknown dim '{d}'")
            out.append(dims[d])
        else:
            out.append(int(d))
    return out


def _producer_shape(graph, ref, dims):
    name, _, port = ref.partition(".data_out_")
    port = port or "0"
    for i in graph["inputs"]:
        if i["name"] == ref:
            return resolve(i["shape"], dims)
    for n in graph["nodes"]:
        if n["name"] == ref:
            return resolve(n["results"]["data_out_0"]["shape"], dims)
        if n["name"] == name:
            return resolve(n["results"][f"data_out_{port}"]["shape"], dims)
    raise GraphError(f"unresolved reference '{ref}'")


def node_macs(graph, n, dims):
    op = n["op"]
    if op not in MAC_OPS:
        return 0
    out = resolve(n["results"]["data_out_0"]["shape"], dims)
    numel = math.prod(out)
    if op == "linear":
        return numel * n["params"]["weight"]["shape"][1]
    if op in ("matmul", "bmm"):
        a = _producer_shape(graph, n["args"]["data_in_0"], dims)
        return numel * a[-1]
    if op == "conv2d":
        w = n["params"]["weight"]["shape"]
        return numel * w[1] * w[2] * w[3]
    if op == "conv1d":
        w = n["params"]["weight"]["shape"]
        return numel * w[1] * w[2]
    if op == "causal_conv1d":                       # depthwise: K per output
        return numel * n["params"]["weight"]["shape"][2]
    if op == "selective_scan":                      # 4N + 1 (+ D·u) per token and channel
        state = n["params"]["A_log"]["shape"][1]
        return numel * (4 * state + 1 + (1 if "D" in n["params"] else 0))
    if op == "moe_experts":                         # each routed slot: 2 or 3 GEMVs of D x F
        e, f, d = n["params"]["w1"]["shape"]
        gemvs = 3 if "w3" in n["params"] else 2
        return numel // d * n["attrs"]["top_k"] * gemvs * d * f
    if op in ("lstm", "gru"):                       # every step: G·H x (I + H)
        gh, h = n["params"]["weight_hh"]["shape"]
        i = n["params"]["weight_ih"]["shape"][1]
        return numel // h * gh * (i + h)
    return 0


def stats(graph, dims_override=None):
    dims = dict(graph.get("dims", {}))
    dims.update(dims_override or {})
    params = 0
    weight_bits = 0.0
    macs = 0
    by_op = {}
    macs_by_op = {}
    for n in graph["nodes"]:
        by_op[n["op"]] = by_op.get(n["op"], 0) + 1
        for pname, p in n.get("params", {}).items():
            if "shared_with" in p:
                continue
            k = math.prod(resolve(p["shape"], dims))
            if pname not in BUFFER_PARAMS:
                params += k
            weight_bits += k * bits_per_element(p["precision"])
        m = node_macs(graph, n, dims)
        macs += m
        if m:
            macs_by_op[n["op"]] = macs_by_op.get(n["op"], 0) + m
    return {
        "name": graph.get("name"),
        "dims": dims,
        "nodes": len(graph["nodes"]),
        "compute_nodes": sum(1 for n in graph["nodes"] if not n.get("implicit", False)),
        "params": params,
        "macs": macs,
        "weight_bytes": int(math.ceil(weight_bits / 8)),
        "ops": dict(sorted(by_op.items())),
        "macs_by_op": dict(sorted(macs_by_op.items())),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description="mase-graph statistics")
    ap.add_argument("graph")
    ap.add_argument("--dims", default="", help="override dims, e.g. seq=512")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    try:
        s = stats(load_graph(a.graph), parse_dims(a.dims))
    except GraphError as e:
        print(f"graph_stats: error: {e}", file=sys.stderr)
        return 1
    if a.json:
        print(json.dumps(s, indent=1, sort_keys=True))
    else:
        print(f"{s['name']}  dims {s['dims']}")
        print(f"  nodes {s['nodes']} (compute {s['compute_nodes']})")
        print(f"  params {s['params']:,}  weight bytes {s['weight_bytes']:,}")
        print(f"  MACs {s['macs']:,}")
        for op, m in s["macs_by_op"].items():
            print(f"    {op:8s} {m:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
