"""Exporter behaviour: errors, the dims trick, quantization configs."""
import os
import tempfile
import unittest

import numpy as np

import torch
import torch.nn as nn
import torch.nn.functional as F

import helpers  # noqa: F401
import export_graph
import graph_stats
import masesim_models as zoo
from mase_graph_common import GraphError, QuantConfig


def export(model, dim_names=("batch",), make=None, quant=None, dims=None):
    make = make or (lambda s: {"x": torch.zeros(s["batch"], 8, device="meta")})
    return export_graph.export_module(model.eval(), "test", dim_names, make,
                                      quant or QuantConfig.load(preset="int8"), dims)


class Inner(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, dim=-1)


class WithCumsum(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8, device="meta")
        self.block = nn.Module()
        self.block.inner = Inner()

    def forward(self, x):
        return self.block.inner(self.fc(x))


class WithLSTM(nn.Module):
    def __init__(self, rnn=nn.LSTM):
        super().__init__()
        self.enc = nn.Module()
        self.enc.rnn = rnn(8, 8, device="meta")

    def forward(self, x):
        return self.enc.rnn(x)


class Recurrent(nn.Module):
    """Two-layer LSTM (batch first), then a GRU, then a linear head."""

    def __init__(self, use_state=False, device="meta"):
        super().__init__()
        self.use_state = use_state
        self.lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True, device=device)
        self.gru = nn.GRU(32, 8, batch_first=True, device=device)
        self.head = nn.Linear(8, 4, device=device)

    def forward(self, x):
        y, (h, c) = self.lstm(x)
        z, _ = self.gru(y)
        return self.head(h[-1][:, :8] if self.use_state else z)


class FlattenBatchSeq(nn.Module):
    """view(batch*seq, hidden): not expressible with named dims."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8, device="meta")

    def forward(self, x):
        return self.fc(x.view(x.size(0) * x.size(1), x.size(2)))


class ConstEqualsSample(nn.Module):
    """A hidden size equal to a sample value of 'batch' (5) is caught by pass B."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, export_graph.SAMPLE_A["batch"], device="meta")

    def forward(self, x):
        return self.fc(x)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16, device="meta")
        self.fc2 = nn.Linear(16, 4, device="meta")

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        return self.fc2(h) , h * 0.5


class Errors(unittest.TestCase):
    def test_unsupported_function_names_op_and_module_path(self):
        with self.assertRaises(GraphError) as cm:
            export(WithCumsum())
        msg = str(cm.exception)
        self.assertIn("cumsum", msg)
        self.assertIn("block.inner", msg)

    def test_unsupported_module_names_type_and_path(self):
        with self.assertRaises(GraphError) as cm:
            export(WithLSTM(nn.RNN),
                   make=lambda s: {"x": torch.zeros(3, s["batch"], 8, device="meta")})
        msg = str(cm.exception)
        self.assertIn("'torch.nn.modules.rnn.RNN' (module 'enc.rnn', several outputs)", msg)
        self.assertIn("nearest supported: nn.GRU or nn.LSTM (ops gru, lstm)", msg)

    def test_bert_pooler_token0_is_a_slice(self):
        # x[:, 0] -> slice(dim 1, [0, 1)) + reshape dropping the dim
        m = zoo.BertModel(layers=1, pooler=True, device="meta").eval()
        g = export(m, ("batch", "seq"), lambda s: zoo.example_inputs(m, s))
        tail = [(n["op"], n.get("attrs"), n["results"]["data_out_0"]["shape"])
                for n in g["nodes"][-4:]]
        self.assertEqual(tail, [("slice", {"dim": 1, "start": 0, "end": 1}, ["batch", 1, 768]),
                                ("reshape", {"shape": ["batch", 768]}, ["batch", 768]),
                                ("linear", None, ["batch", 768]), ("tanh", None, ["batch", 768])])
        self.assertEqual(len(g["outputs"]), 2)
        self.assertEqual(graph_stats.stats(g)["params"], zoo.count_params(m))

    def test_unmatched_by_op_key(self):
        q = QuantConfig({"default": {"type": "fixed", "width": 8, "frac_width": 4},
                         "by_op": {"softmax": {"type": "fixed", "width": 16, "frac_width": 8}}}, "q")
        with self.assertRaises(GraphError) as cm:
            export(Mlp(), quant=q)
        self.assertIn("'softmax'", str(cm.exception))

    def test_unmatched_by_name_key(self):
        q = QuantConfig({"default": {"type": "fixed", "width": 8, "frac_width": 4},
                         "by_name": {"fc*": {"weight": {"type": "fixed", "width": 4, "frac_width": 3}},
                                     "decoder.*.fc1": {"type": "fixed", "width": 4, "frac_width": 3}}},
                        "q")
        with self.assertRaises(GraphError) as cm:
            export(Mlp(), quant=q)
        self.assertIn("'decoder.*.fc1'", str(cm.exception))

    def test_bad_quant_configs(self):
        with self.assertRaises(GraphError):
            QuantConfig({"by_op": {}}, "q")                       # no default
        with self.assertRaises(GraphError):
            QuantConfig({"default": {"type": "fixed", "width": 8}}, "q")    # no frac_width
        with self.assertRaises(GraphError) as cm:
            QuantConfig({"default": {"type": "fixed", "width": 8, "frac_width": 4}, "by_typ": {}}, "q")
        self.assertIn("by_typ", str(cm.exception))
        with self.assertRaises(GraphError):
            QuantConfig.load(preset="int3")

    def test_dims_not_expressible(self):
        with self.assertRaises(GraphError) as cm:
            export(FlattenBatchSeq(), ("batch", "seq"),
                   lambda s: {"x": torch.zeros(s["batch"], s["seq"], 8, device="meta")})
        self.assertIn("not expressible", str(cm.exception))
        self.assertIn("(185 vs 301)", str(cm.exception))     # batch*seq in pass A and B

    def test_constant_equal_to_a_sample_size_stays_a_constant(self):
        # out_features 5 = pass A's batch: equal in both passes, so a constant
        g = export(ConstEqualsSample())
        self.assertEqual(g["nodes"][0]["results"]["data_out_0"]["shape"], ["batch", 5])

    def test_cli_errors_exit_1(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "g.json")
            self.assertEqual(export_graph.main(["--model", "gpt-5", "--quant-preset", "int8",
                                                "--out", out]), 1)
            self.assertEqual(export_graph.main(["--model", "mnist-cnn", "--quant-preset", "int8",
                                                "--dims", "seq=4", "--out", out]), 1)
            self.assertEqual(export_graph.main(["--model", "mnist-cnn", "--quant-preset", "int8",
                                                "--dims", "batch=4", "--out", out]), 0)
            self.assertTrue(os.path.exists(out))


class QuantFileCli(unittest.TestCase):
    def test_quant_yaml_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = os.path.join(tmp, "q.yaml")
            with open(cfg, "w") as f:
                f.write("default: {type: fixed, width: 8, frac_width: 4}\n"
                        "by_op:\n  conv2d: {weight: {type: fixed, width: 4, frac_width: 3}}\n"
                        "by_name:\n  'fc*': {type: msfp, width: 4}\n")
            out = os.path.join(tmp, "g.json")
            # a malformed precision type is an error naming it
            self.assertEqual(export_graph.main(["--model", "mnist-cnn", "--quant", cfg,
                                                "--out", out]), 1)
            with open(cfg, "w") as f:
                f.write("default: {type: fixed, width: 8, frac_width: 4}\n"
                        "by_op:\n  conv2d: {weight: {type: fixed, width: 4, frac_width: 3}}\n"
                        "by_name:\n  'fc*': {type: minifloat, width: 8, exponent_width: 4}\n")
            self.assertEqual(export_graph.main(["--model", "mnist-cnn", "--quant", cfg,
                                                "--out", out]), 0)
            from mase_graph_common import load_graph
            g = {n["name"]: n for n in load_graph(out)["nodes"]}
            self.assertEqual(g["conv1"]["params"]["weight"]["precision"]["width"], 4)
            self.assertEqual(g["conv1"]["params"]["bias"]["precision"]["width"], 8)
            self.assertEqual(g["fc2"]["results"]["data_out_0"]["precision"]["type"], "minifloat")
            self.assertEqual(g["relu3"]["results"]["data_out_0"]["precision"]["type"], "fixed")


class Graphs(unittest.TestCase):
    def test_mlp_structure_multi_consumer_and_scalar(self):
        g = export(Mlp(), dims={"batch": 3})
        self.assertEqual(g["dims"], {"batch": 3})
        ops = [(n["name"], n["op"]) for n in g["nodes"]]
        self.assertEqual(ops, [("fc1", "linear"), ("relu", "relu"), ("fc2", "linear"),
                               ("mul", "mul")])
        self.assertEqual(g["nodes"][3]["attrs"], {"scalar": 0.5})
        self.assertEqual(g["nodes"][2]["args"], {"data_in_0": "relu"})
        self.assertEqual(g["nodes"][3]["args"], {"data_in_0": "relu"})   # two consumers
        self.assertEqual(g["outputs"], ["fc2", "mul"])
        self.assertEqual(g["nodes"][0]["results"]["data_out_0"]["shape"], ["batch", 16])

    def test_opt_attention_structure(self):
        m = zoo.opt("opt-125m", layers=1)
        g = export(m, ("batch", "seq"), lambda s: zoo.example_inputs(m, s))
        attn = [n for n in g["nodes"] if ".self_attn." in n["name"]]
        self.assertEqual([n["op"] for n in attn],
                         ["linear", "mul", "view", "transpose", "linear", "view", "transpose",
                          "linear", "view", "transpose", "transpose", "matmul", "softmax",
                          "dropout", "matmul", "transpose", "contiguous", "reshape", "linear"])
        by = {n["name"].split(".self_attn.")[1]: n for n in attn}
        self.assertEqual(by["mul"]["attrs"], {"scalar": 0.125})
        self.assertEqual(by["matmul"]["results"]["data_out_0"]["shape"],
                         ["batch", 12, "seq", "seq"])
        self.assertEqual(by["softmax"]["attrs"], {"dim": 3})
        self.assertEqual(by["transpose_3"]["attrs"], {"dim0": 2, "dim1": 3})
        self.assertEqual(by["view"]["attrs"], {"shape": ["batch", "seq", 12, 64]})
        for n in attn:
            self.assertEqual(n.get("implicit", False),
                             n["op"] in ("view", "transpose", "dropout", "contiguous", "reshape"))
        ids = g["inputs"][0]
        self.assertEqual(ids["precision"], {"type": "fixed", "width": 32, "frac_width": 0})

    def test_quant_precedence(self):
        m = zoo.opt("opt-125m", layers=2)
        q = QuantConfig({
            "default": {"type": "fixed", "width": 8, "frac_width": 4},
            "by_op": {"softmax": {"type": "fixed", "width": 16, "frac_width": 12},
                      "linear": {"weight": {"type": "block_fp", "width": 4, "exponent_width": 8,
                                            "block_size": 16}}},
            "by_name": {"model.decoder.layers.1.fc?": {"type": "mxint", "width": 4, "block_size": 32},
                        "lm_head": {"data_out": {"type": "float", "width": 32}}},
        }, "q")
        g = export(m, ("batch", "seq"), lambda s: zoo.example_inputs(m, s), quant=q)
        n = {x["name"]: x for x in g["nodes"]}
        fx8 = {"type": "fixed", "width": 8, "frac_width": 4}
        bfp = {"type": "block_fp", "width": 4, "exponent_width": 8, "block_size": 16}
        mx4 = {"type": "mxint", "width": 4, "block_size": 32}
        sm = n["model.decoder.layers.0.self_attn.softmax"]
        self.assertEqual(sm["results"]["data_out_0"]["precision"]["width"], 16)
        fc1 = n["model.decoder.layers.0.fc1"]
        self.assertEqual(fc1["params"]["weight"]["precision"], bfp)
        self.assertEqual(fc1["params"]["bias"]["precision"], fx8)
        self.assertEqual(fc1["results"]["data_out_0"]["precision"], fx8)
        for k in ("fc1", "fc2"):
            l1 = n[f"model.decoder.layers.1.{k}"]
            self.assertEqual(l1["params"]["weight"]["precision"], mx4)
            self.assertEqual(l1["results"]["data_out_0"]["precision"], mx4)
        self.assertEqual(n["lm_head"]["results"]["data_out_0"]["precision"],
                         {"type": "float", "width": 32})
        self.assertEqual(n["lm_head"]["params"]["weight"]["precision"], bfp)

    def test_presets(self):
        for preset, want in [("msfp12", 4), ("msfp16", 8), ("mxint8", 8)]:
            g = export(Mlp(), quant=QuantConfig.load(preset=preset))
            p = g["nodes"][0]["params"]["weight"]["precision"]
            self.assertEqual(p["width"], want)
        g = export(Mlp(), quant=QuantConfig.load(preset="msfp12"))
        self.assertEqual(g["nodes"][0]["params"]["weight"]["precision"],
                         {"type": "block_fp", "width": 4, "exponent_width": 8, "block_size": 16})
        g = export(Mlp(), quant=QuantConfig.load(preset="mxfp8"))
        self.assertEqual(g["inputs"][0]["precision"],
                         {"type": "mxfp", "exponent_width": 4, "mantissa_width": 3, "block_size": 32})


if __name__ == "__main__":
    unittest.main()


# ----------------------------------------------------------------- issue 14 behaviour
HERE = os.path.dirname(os.path.abspath(__file__))
USER_MODELS = os.path.join(HERE, "user_models.py")
SIMULATE = os.environ.get("MASESIM_SIMULATE") or os.path.join(helpers.ROOT, "build", "simulate")


def _line_of(text, path=__file__):
    """'file:line' of the first line of `path` containing text (for error messages)."""
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if text in line:
                return f"{path}:{i}"
    raise AssertionError(text)


def ops_of(g):
    return [(n["op"], n.get("attrs"), n["results"]["data_out_0"]["shape"]) for n in g["nodes"]]


class Unpack(nn.Module):
    """Tuple unpacking of sizes, chunk, split, unbind and a loop over a chunk."""

    def __init__(self, device="meta"):
        super().__init__()
        self.fc = nn.Linear(8, 24, device=device)

    def forward(self, x):
        B, T, C = x.size()
        n, t, c = x.shape
        q, k, v = self.fc(x).chunk(3, dim=-1)
        a, b = torch.split(q, [2, 6], dim=-1)
        r0, r1 = k.view(n, t, 2, 4).unbind(2)
        parts = [p for p in v.chunk(2, dim=-1)]         # iteration: chunk's known arity
        return torch.cat([b, a], dim=-1) * r1.mean(-1, keepdim=True) + \
            torch.cat(parts, dim=-1).view(B, T, C)


class Capture(unittest.TestCase):
    def test_unpacking_sizes_chunk_split_unbind(self):
        g = export(Unpack(), ("batch", "seq"),
                   lambda s: {"x": torch.zeros(s["batch"], s["seq"], 8, device="meta")})
        self.assertEqual(ops_of(g), [
            ("linear", None, ["batch", "seq", 24]),
            ("slice", {"dim": 2, "start": 0, "end": 8}, ["batch", "seq", 8]),      # q
            ("slice", {"dim": 2, "start": 8, "end": 16}, ["batch", "seq", 8]),     # k
            ("slice", {"dim": 2, "start": 16}, ["batch", "seq", 8]),               # v
            ("slice", {"dim": 2, "start": 0, "end": 2}, ["batch", "seq", 2]),      # a
            ("slice", {"dim": 2, "start": 2}, ["batch", "seq", 6]),                # b
            ("view", {"shape": ["batch", "seq", 2, 4]}, ["batch", "seq", 2, 4]),
            ("slice", {"dim": 2, "start": 1}, ["batch", "seq", 1, 4]),             # r1
            ("reshape", {"shape": ["batch", "seq", 4]}, ["batch", "seq", 4]),      # r0: dead
            ("slice", {"dim": 2, "start": 0, "end": 4}, ["batch", "seq", 4]),      # parts
            ("slice", {"dim": 2, "start": 4}, ["batch", "seq", 4]),
            ("cat", {"dim": 2}, ["batch", "seq", 8]),
            ("mean", {"dim": [2], "keepdim": True}, ["batch", "seq", 1]),
            ("mul", None, ["batch", "seq", 8]),
            ("cat", {"dim": 2}, ["batch", "seq", 8]),
            ("view", {"shape": ["batch", "seq", 8]}, ["batch", "seq", 8]),
            ("add", None, ["batch", "seq", 8])])
        cat = g["nodes"][11]
        self.assertEqual(cat["args"], {"data_in_0": "slice_4", "data_in_1": "slice_3"})

    def test_starred_sizes(self):
        # HF style: hidden_shape = (*x.shape[:-1], -1, head_dim); the length of the traced
        # size tuple comes from the sample value computed while tracing
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.q = nn.Linear(16, 16, device="meta")

            def forward(self, x):
                input_shape = x.shape[:-1]
                q = self.q(x).view((*input_shape, -1, 4)).transpose(1, 2)
                return q.transpose(1, 2).reshape(*input_shape, -1)
        g = export(M(), ("batch", "seq"),
                   lambda s: {"x": torch.zeros(s["batch"], s["seq"], 16, device="meta")})
        self.assertEqual([(n["op"], n.get("attrs")) for n in g["nodes"]], [
            ("linear", None), ("view", {"shape": ["batch", "seq", 4, 4]}),
            ("transpose", {"dim0": 1, "dim1": 2}), ("transpose", {"dim0": 1, "dim1": 2}),
            ("reshape", {"shape": ["batch", "seq", 16]})])

    def test_torchvision_vit_traces(self):
        # torchvision's ViT: n, c, h, w = x.shape, a class token (cat with a parameter),
        # a learned position table (add with a parameter), nn.MultiheadAttention, x[:, 0]
        m = zoo.vit_tiny(image_size=48, num_layers=1)
        g = export(m, ("batch",), lambda s: m.example_inputs(s["batch"], device="meta"))
        by = {n["name"]: n for n in g["nodes"]}
        cat = [n for n in g["nodes"] if n["op"] == "cat"][0]
        self.assertEqual(cat["params"]["other"]["shape"], [1, 1, 192])      # the class token
        self.assertEqual(cat["attrs"], {"dim": 1})
        self.assertEqual(cat["results"]["data_out_0"]["shape"], ["batch", 10, 192])
        pos = [n for n in g["nodes"] if n["op"] == "add" and "params" in n][0]
        self.assertEqual(pos["params"]["other"]["shape"], [1, 10, 192])     # pos_embedding
        attn = "encoder.layers.encoder_layer_0.self_attention"
        self.assertEqual(by[f"{attn}.in_proj"]["params"]["weight"]["shape"], [576, 192])
        self.assertEqual(by[f"{attn}.scores"]["results"]["data_out_0"]["shape"],
                         ["batch", 3, 10, 10])
        self.assertEqual(by[f"{attn}.scale"]["attrs"], {"scalar": 64 ** -0.5})
        self.assertEqual(graph_stats.stats(g)["params"], zoo.count_params(m))

    def test_unsupported_op_names_op_module_line_and_nearest(self):
        import user_models
        with self.assertRaises(GraphError) as cm:
            export(user_models.moe().to("meta"), make=lambda s: {
                "x": torch.zeros(s["batch"], 16, device="meta")})
        line = _line_of("torch.topk(self.gate(x)", USER_MODELS)
        self.assertEqual(str(cm.exception),
                         f"unsupported PyTorch op 'topk' (call_function topk) in module 'router' "
                         f"at {line}: weights, experts = torch.topk(self.gate(x), 2, dim=-1) of "
                         f"test (nearest supported: topk_gate, a TopKGate module "
                         f"(scripts/masesim_models.py): softmax over each row's top-k logits, "
                         f"zero elsewhere)")

    def test_lstm_state_returned_names_module_line_and_nearest(self):
        with self.assertRaises(GraphError) as cm:
            export(WithLSTM(), make=lambda s: {"x": torch.zeros(3, s["batch"], 8, device="meta")})
        self.assertEqual(str(cm.exception),
                         "unsupported: the output of LSTM 'enc.rnn' is returned whole (output, "
                         f"final state) at {_line_of('return self.enc.rnn(x)')}: return "
                         "self.enc.rnn(x) in test; only its output sequence (item 0) is exported "
                         "(nearest supported: `out, _ = rnn(x)`)")

    def test_lstm_gru_layers_params_and_macs(self):
        g = export(Recurrent(), ("batch", "seq"),
                   make=lambda s: {"x": torch.zeros(s["batch"], s["seq"], 16, device="meta")},
                   dims={"batch": 2, "seq": 10})
        self.assertEqual([(n["name"], n["op"]) for n in g["nodes"]],
                         [("lstm.l0", "lstm"), ("lstm.l1", "lstm"), ("gru", "gru"),
                          ("head", "linear")])
        l0 = g["nodes"][0]
        self.assertEqual(l0["attrs"], {"batch_first": True})
        self.assertEqual({k: v["shape"] for k, v in l0["params"].items()},
                         {"weight_ih": [128, 16], "weight_hh": [128, 32], "bias_ih": [128],
                          "bias_hh": [128]})
        self.assertEqual(l0["results"]["data_out_0"]["shape"], ["batch", "seq", 32])
        st = graph_stats.stats(g)
        # LSTM layer: 4H(I + H) + 8H; GRU: 3H(I + H) + 6H; head 8·4 + 4
        params = (4 * 32 * 48 + 8 * 32) + (4 * 32 * 64 + 8 * 32) + (3 * 8 * 40 + 6 * 8) + 36
        self.assertEqual(params, sum(p.numel() for p in Recurrent().parameters()))
        self.assertEqual(st["params"], params)
        # every step of every sequence a GEMV of G·H x (I + H): batch 2 x seq 10 steps
        steps = 2 * 10
        self.assertEqual(st["macs"], steps * (4 * 32 * 48 + 4 * 32 * 64 + 3 * 8 * 40 + 8 * 4))

    def test_bidirectional_gru_names_module_line_and_nearest(self):
        class Bi(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.GRU(8, 8, bidirectional=True, device="meta")

            def forward(self, x):
                y, _ = self.rnn(x)
                return y
        with self.assertRaises(GraphError) as cm:
            export(Bi(), make=lambda s: {"x": torch.zeros(3, s["batch"], 8, device="meta")})
        self.assertEqual(str(cm.exception),
                         f"unsupported: bidirectional GRU 'rnn' at {_line_of('y, _ = self.rnn(x)')}"
                         f": y, _ = self.rnn(x) in test (nearest supported: two "
                         f"gru modules, one on the reversed sequence)")

    def test_lstm_final_state_names_module_and_line(self):
        with self.assertRaises(GraphError) as cm:
            export(Recurrent(use_state=True), ("batch", "seq"),
                   make=lambda s: {"x": torch.zeros(s["batch"], s["seq"], 16, device="meta")})
        msg = str(cm.exception)
        self.assertIn("the final state (h_n, c_n) of LSTM 'lstm' is used at "
                      f"{_line_of('y, (h, c) = self.lstm(x)')}", msg)
        self.assertIn("only its output sequence (item 0) is exported", msg)

    def test_untraceable_control_flow_names_module_and_line(self):
        class Inner(nn.Module):
            def forward(self, x):
                if x.sum() > 0:                 # data-dependent: fx cannot trace it
                    return x
                return -x

        class Outer(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = Inner()

            def forward(self, x):
                return self.body(x)
        with self.assertRaises(GraphError) as cm:
            export(Outer())
        msg = str(cm.exception)
        self.assertIn("torch.fx could not trace test in module 'body' at "
                      f"{_line_of('if x.sum() > 0:')}", msg)
        self.assertIn("TraceError: symbolically traced variables cannot be used as inputs to "
                      "control flow", msg)


class PlainRouter(nn.Module):
    """A router linear 16 -> 4 and a top-2 gate written with plain torch ops, in one of
    the forms export_graph.py recognises as topk_gate, or (form bad_*) a partial one."""

    def __init__(self, form, device="meta"):
        super().__init__()
        self.form = form
        self.gate = nn.Linear(16, 4, bias=False, device=device)

    def forward(self, x):
        logits = self.gate(x)
        form = self.form
        if form == "softmax":       # softmax over the k largest logits, scattered into zeros
            w, idx = torch.topk(logits, 2, dim=-1)
            return torch.zeros_like(logits).scatter(-1, idx, torch.softmax(w, dim=-1))
        if form == "mixtral":       # softmax, top-k, renormalised over the k
            p = F.softmax(logits, dim=-1)
            w, idx = torch.topk(p, 2, dim=-1)
            w = w / w.sum(dim=-1, keepdim=True)
            return logits.new_zeros(logits.shape).scatter(-1, idx, w)
        if form == "in_place":      # methods, the last dim by number, scatter_ as a statement
            w, idx = logits.topk(2, 2)
            gates = torch.zeros(logits.shape, dtype=logits.dtype, device=logits.device)
            gates.scatter_(2, idx, w.softmax(2))
            return gates
        if form == "mixtral_in_place":
            p = logits.softmax(-1)
            w, idx = p.topk(2)
            w /= w.sum(-1, keepdim=True)
            return torch.scatter(torch.zeros_like(p), -1, idx, w)
        if form == "mixtral_zeros":         # the probabilities' shape, dtype and device read
            p = torch.softmax(logits, dim=2)
            w, idx = torch.topk(p, 2)
            w = torch.div(w, torch.sum(w, dim=[-1], keepdim=True))
            zeros = torch.zeros(p.shape, dtype=p.dtype, device=p.device)
            return zeros.scatter_(dim=-1, index=idx, src=w)
        if form == "bad_probs_reused":      # the probabilities also used elsewhere
            p = torch.softmax(logits, dim=-1)
            w, idx = torch.topk(p, 2, dim=-1)  # bad_probs_reused
            w = w / w.sum(dim=-1, keepdim=True)
            return torch.zeros_like(logits).scatter(-1, idx, w) + p
        if form == "bad_indices":   # the indices also used elsewhere
            w, idx = torch.topk(logits, 2, dim=-1)  # bad_indices
            gates = torch.zeros_like(logits).scatter(-1, idx, torch.softmax(w, dim=-1))
            return gates + idx.float().mean(-1, keepdim=True)
        if form == "bad_ones":      # scattered into something non-zero
            w, idx = torch.topk(logits, 2, dim=-1)  # bad_ones
            return torch.ones_like(logits).scatter(-1, idx, torch.softmax(w, dim=-1))
        if form == "bad_unnormalised":      # the k values themselves
            w, idx = torch.topk(logits, 2, dim=-1)  # bad_unnormalised
            return torch.zeros_like(logits).scatter(-1, idx, w)
        if form == "bad_read_before":       # the zeros read before the in-place scatter
            w, idx = torch.topk(logits, 2, dim=-1)  # bad_read_before
            gates = logits.new_zeros(logits.shape)
            before = gates + 1
            gates.scatter_(-1, idx, torch.softmax(w, dim=-1))
            return gates * before
        raise AssertionError(form)


class PlainMoe(nn.Module):
    """PlainRouter's gates weighting the project's MoeExperts (4 experts, 16 -> 24)."""

    def __init__(self, form, device="meta"):
        super().__init__()
        self.router = PlainRouter(form, device)
        self.experts = zoo.MoeExperts(4, 16, 24, 2, device=device)

    def forward(self, x):
        return self.experts(x, self.router(x))


GATE_FORMS = ("softmax", "mixtral", "in_place", "mixtral_in_place", "mixtral_zeros")


def seq_make(s):
    return {"x": torch.zeros(s["batch"], s["seq"], 16, device="meta")}


class PlainTorchGates(unittest.TestCase):
    def test_each_form_is_one_topk_gate(self):
        for form in GATE_FORMS:
            with self.subTest(form=form):
                g = export(PlainRouter(form), ("batch", "seq"), seq_make)
                self.assertEqual([(n["name"], n["op"], n["args"]) for n in g["nodes"]],
                                 [("gate", "linear", {"data_in_0": "x"}),
                                  ("topk_gate", "topk_gate", {"data_in_0": "gate"})])
                self.assertEqual(ops_of(g)[1], ("topk_gate", {"top_k": 2}, ["batch", "seq", 4]))
                self.assertEqual(g["outputs"], ["topk_gate"])
                g = export(PlainMoe(form), ("batch", "seq"), seq_make)
                self.assertEqual(ops_of(g), [
                    ("linear", None, ["batch", "seq", 4]),
                    ("topk_gate", {"top_k": 2}, ["batch", "seq", 4]),
                    ("moe_experts", {"top_k": 2, "activation": "silu"}, ["batch", "seq", 16])])
                self.assertEqual(g["nodes"][2]["args"], {"data_in_0": "x",
                                                         "data_in_1": "router.topk_gate"})

    def test_same_nodes_as_the_project_gate(self):
        want = export(zoo.SparseMoeBlock(16, 24, 4, 2, device="meta"), ("batch", "seq"),
                      seq_make)
        strip = lambda g: [(n["op"], n.get("attrs"), n["results"], {  # noqa: E731
            k: p["shape"] for k, p in n.get("params", {}).items()}) for n in g["nodes"]]
        for form in GATE_FORMS:
            with self.subTest(form=form):
                got = export(PlainMoe(form), ("batch", "seq"), seq_make)
                self.assertEqual(strip(got), strip(want))
                self.assertEqual(graph_stats.stats(got)["macs"], graph_stats.stats(want)["macs"])

    def test_partial_patterns_stay_errors(self):
        for form in ("bad_indices", "bad_ones", "bad_unnormalised", "bad_read_before",
                     "bad_probs_reused"):
            with self.subTest(form=form):
                with self.assertRaises(GraphError) as cm:
                    export(PlainMoe(form), ("batch", "seq"), seq_make)
                self.assertEqual(str(cm.exception),
                                 f"unsupported PyTorch op 'topk' (call_function topk) in module "
                                 f"'router' at {_line_of('# ' + form)}: w, idx = "
                                 f"torch.topk({'p' if 'probs' in form else 'logits'}, 2, "
                                 f"dim=-1)  # {form} of test (nearest "
                                 f"supported: topk_gate, a TopKGate module "
                                 f"(scripts/masesim_models.py): softmax over each row's top-k "
                                 f"logits, zero elsewhere)")


class Convs(nn.Module):
    def __init__(self, device="meta"):
        super().__init__()
        d = dict(device=device)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8, **d)
        self.act = nn.ReLU6()
        self.pool = nn.AdaptiveAvgPool2d((2, 1))
        self.c1 = nn.Conv1d(8, 4, 3, stride=2, padding=1, **d)
        self.hs = nn.Hardswish()
        self.sp = nn.Softplus(beta=2.0, threshold=10.0)

    def forward(self, x):
        h = self.pool(self.act(self.dw(x)))            # [b, 8, 2, 1]
        y = self.c1(h.flatten(2))                      # [b, 4, 1]
        z = torch.clamp(self.sp(self.hs(y)), -1.0, 3.0)
        return torch.exp(z) + torch.erf(z) + torch.sqrt(z) + torch.rsqrt(z) + z ** 3 \
            + F.hardtanh(z, -2.0, 2.0) + z.mean(dim=(1, 2), keepdim=True)


class ConstOperands(nn.Module):
    def __init__(self, device="meta"):
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(1, 64, 8, device=device))
        self.cls = nn.Parameter(torch.zeros(1, 1, 8, device=device))
        self.register_buffer("scale", torch.ones(8, device=device))

    def forward(self, x):
        b, t, _ = x.shape
        x = x + self.pos[:, :t]                       # learned positions, sliced
        x = torch.cat([self.cls.expand(b, -1, -1), x], dim=1)
        return self.scale * x - self.cls


class NewOps(unittest.TestCase):
    def test_new_ops_and_attrs(self):
        g = export(Convs(), make=lambda s: {"x": torch.zeros(s["batch"], 8, 6, 6, device="meta")})
        comp = [(n["op"], n.get("attrs")) for n in g["nodes"] if n["op"] not in ("add", "flatten")]
        self.assertEqual(comp, [
            ("conv2d", {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": 8}),
            ("hardtanh", {"min_val": 0.0, "max_val": 6.0}),
            ("adaptive_avg_pool2d", {"output_size": [2, 1]}),
            ("conv1d", {"stride": 2, "padding": 1, "dilation": 1, "groups": 1}),
            ("hardswish", None), ("softplus", {"beta": 2.0, "threshold": 10.0}),
            ("hardtanh", {"min_val": -1.0, "max_val": 3.0}),
            ("exp", None), ("erf", None), ("sqrt", None), ("rsqrt", None), ("pow", {"scalar": 3}),
            ("hardtanh", {"min_val": -2.0, "max_val": 2.0}),
            ("mean", {"dim": [1, 2], "keepdim": True})])
        self.assertEqual(g["nodes"][4]["results"]["data_out_0"]["shape"], ["batch", 4, 1])
        st = graph_stats.stats(g)
        # depthwise 3x3: 8*6*6 outputs x 1*9; conv1d: 4*1 outputs x 8*3
        self.assertEqual(st["macs"], 8 * 6 * 6 * 9 + 4 * 1 * 8 * 3)
        self.assertEqual(st["params"], zoo.count_params(Convs()))

    def test_constant_operands_are_param_other(self):
        g = export(ConstOperands(), ("batch",),
                   lambda s: {"x": torch.zeros(s["batch"], 6, 8, device="meta")})
        self.assertEqual([(n["name"], {k: p["shape"] for k, p in n["params"].items()}, n["args"],
                           n.get("attrs"), n["results"]["data_out_0"]["shape"])
                          for n in g["nodes"]],
                         [("add", {"other": [1, 6, 8]}, {"data_in_0": "x"}, None, ["batch", 6, 8]),
                          ("cat", {"other": [1, 1, 8]}, {"data_in_0": "add"}, {"dim": 1},
                           ["batch", 7, 8]),
                          ("mul", {"other": [8]}, {"data_in_0": "cat"}, None, ["batch", 7, 8]),
                          ("sub", {"other": [1, 1, 8]}, {"data_in_0": "mul"}, None,
                           ["batch", 7, 8])])
        self.assertEqual(g["nodes"][3]["params"]["other"]["shared_with"], "cat.other")
        # the used rows of the table, the class token once, the buffer
        self.assertEqual(graph_stats.stats(g)["params"], 6 * 8 + 8 + 8)

    def test_position_slice_follows_seq(self):
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.pos = nn.Parameter(torch.zeros(1, 64, 8, device="meta"))

            def forward(self, x):
                return x + self.pos[:, :x.size(1)]
        g = export(M(), ("batch", "seq"),
                   lambda s: {"x": torch.zeros(s["batch"], s["seq"], 8, device="meta")})
        self.assertEqual(g["nodes"][0]["params"]["other"]["shape"], [1, "seq", 8])

    def test_rms_norm_is_fused(self):
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.norm = zoo.RMSNorm(16, eps=1e-6, device="meta")

            def forward(self, x):
                return self.norm(x)
        g = export(M(), make=lambda s: {"x": torch.zeros(s["batch"], 16, device="meta")})
        self.assertEqual(g["nodes"], [{
            "name": "norm", "op": "rms_norm", "args": {"data_in_0": "x"},
            "attrs": {"normalized_shape": [16], "eps": 1e-6},
            "params": {"weight": {"shape": [16], "precision": FX8}},
            "results": {"data_out_0": {"shape": ["batch", 16], "precision": FX8}}}])
        self.assertEqual(graph_stats.stats(g)["params"], 16)


FX8 = {"type": "fixed", "width": 8, "frac_width": 4}


class UserModuleCli(unittest.TestCase):
    def test_export_simulate_user_module(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "gpt.json")
            r = helpers.run_main(export_graph.main, [
                "--module", f"{USER_MODELS}:gpt_block", "--input", "x:batch,seq,32",
                "--dims", "batch=1,seq=16", "--quant-preset", "int8", "--out", out])
            self.assertEqual(r, (0, ""))
            from mase_graph_common import load_graph
            g = load_graph(out)
            self.assertEqual(g["name"], "user_models.gpt_block")
            self.assertEqual(g["dims"], {"batch": 1, "seq": 16})
            self.assertEqual(g["inputs"], [{"name": "x", "shape": ["batch", "seq", 32],
                                            "precision": FX8}])
            self.assertEqual([n["op"] for n in g["nodes"]][:5],
                             ["layer_norm", "linear", "slice", "slice", "slice"])
            # LayerNorm 2*32, qkv 32*96 + 96, proj 32*32 + 32
            params = 64 + 32 * 96 + 96 + 32 * 32 + 32
            # qkv 16*32*96, scores and context 4 heads x 16x16x8 each, proj 16*32*32
            macs = 16 * 32 * 96 + 2 * 4 * 16 * 16 * 8 + 16 * 32 * 32
            st = graph_stats.stats(g)
            self.assertEqual((st["params"], st["macs"]), (params, macs))
            if not os.access(SIMULATE, os.X_OK):
                self.skipTest(f"no simulate binary at {SIMULATE}")
            cfg = os.path.join(tmp, "sys.yaml")
            with open(cfg, "w") as f:
                f.write("workload:\n  graph: gpt.json\n  inferences: 2\nsystem:\n  devices:\n"
                        "    - {name: fpga0, type: u250}\n")
            import subprocess
            r = subprocess.run([SIMULATE, "--config", cfg, "--summary"], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"parameters    {params}\n", r.stdout)
            self.assertIn(f"macs          {macs}\n", r.stdout)
            r = subprocess.run([SIMULATE, "--config", cfg, "--quiet"], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_bad_input_exits_1_without_traceback(self):
        cases = [
            (["--module", "nope.py:make", "--input", "x:4"], "--module: no file 'nope.py'"),
            (["--module", f"{USER_MODELS}:gpt_blok", "--input", "x:4"],
             f"--module: '{USER_MODELS}' has no 'gpt_blok' (nearest supported: gpt_block"),
            (["--module", f"{USER_MODELS}:broken", "--input", "x:4"],
             f"--module: {USER_MODELS}:broken() raised ValueError: hidden size must be even "
             f"(at {_line_of('raise ValueError', USER_MODELS)})"),
            (["--module", f"{USER_MODELS}:not_a_module", "--input", "x:4"],
             "returned a int, not a torch.nn.Module"),
            (["--module", f"{USER_MODELS}:gpt_block", "--input", "x:batch,seq"],
             "running user_models.gpt_block on sample inputs {'batch': 5, 'seq': 37} failed"),
            (["--module", f"{USER_MODELS}:gpt_block", "--input", "y:batch,seq,32"],
             "no sample input for forward argument 'x' of user_models.gpt_block "
             "(inputs given: y)"),
            (["--module", f"{USER_MODELS}:gpt_block", "--input", "x:batch,-3,32"],
             "--input 'x:batch,-3,32': shape entries must be positive, got -3"),
            (["--module", f"{USER_MODELS}:gpt_block", "--input", "x:batch,seq,32:complex"],
             "unknown dtype 'complex'"),
            (["--module", f"{USER_MODELS}:gpt_block", "--input", "x:batch,seq,32",
              "--dims", "tokens=4"], "--dims: 'tokens' is not a dim of user_models.gpt_block"),
            (["--module", f"{USER_MODELS}:moe", "--input", "x:batch,16"],
             "unsupported PyTorch op 'topk' (call_function topk) in module 'router' at "
             f"{_line_of('torch.topk(self.gate(x)', USER_MODELS)}"),
        ]
        with tempfile.TemporaryDirectory() as tmp:
            for args, want in cases:
                with self.subTest(args=args):
                    rc, err = helpers.run_main(export_graph.main, args + [
                        "--quant-preset", "int8", "--out", os.path.join(tmp, "g.json")])
                    self.assertEqual(rc, 1, err)
                    self.assertTrue(err.startswith("export_graph: error: "), err)
                    self.assertEqual(err.count("\n"), 1, err)          # one line, no traceback
                    self.assertIn(want, err)
                    self.assertFalse(os.path.exists(os.path.join(tmp, "g.json")))


class MoeRouting(unittest.TestCase):
    def run_export(self, *extra):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "g.json")
            rc, err = helpers.run_main(export_graph.main, [
                "--model", "mixtral-moe-layer", "--quant-preset", "int8", "--dims",
                "batch=1,seq=8", "--out", out] + list(extra))
            if rc != 0:
                return rc, err, None
            from mase_graph_common import load_graph
            g = load_graph(out)
            return rc, err, [n for n in g["nodes"] if n["op"] == "moe_experts"][0]["attrs"]

    def test_routing_options_set_the_node_attributes(self):
        rc, err, attrs = self.run_export("--routing", "seeded:7", "--expert-parallel", "2")
        self.assertEqual(rc, 0, err)
        self.assertEqual(attrs, {"top_k": 2, "activation": "silu", "routing": "seeded",
                                 "routing_seed": 7, "expert_parallel": 2})
        rc, err, attrs = self.run_export("--routing", "load:2,1,1,1,1,1,1,1")
        self.assertEqual(attrs["expert_load"], [2, 1, 1, 1, 1, 1, 1, 1])

    def test_bad_routing_is_one_line(self):
        for args, want in ((["--routing", "zipf"], "--routing 'zipf': expected balanced, "
                            "seeded[:SEED] or load:W0,W1,... (integers)"),
                           (["--routing", "load:1,2"], "--routing load: 2 weights, but node "
                            "'block_sparse_moe.experts' has 8 experts"),
                           (["--expert-parallel", "9"], "--expert-parallel 9: node "
                            "'block_sparse_moe.experts' has 8 experts")):
            rc, err, _ = self.run_export(*args)
            self.assertEqual(rc, 1)
            self.assertEqual(err, f"export_graph: error: {want}\n")


class Semantics(unittest.TestCase):
    """The exported graph computes what the module computes: the graph evaluated
    unquantised by scripts/quant_emulation.py (the simulator's reference semantics of
    each op) against the module in float64, on random parameters and inputs."""

    def check(self, model, dim_names, make, dims):
        from quant_emulation import eval_graph, quantize_params
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for t in list(model.parameters()) + list(model.buffers()):
                if t.is_floating_point():
                    t.copy_((torch.rand(t.shape, generator=gen) - 0.5) * 0.5)
        model = model.eval()
        tensors = {}
        g = export_graph.export_module(model, "m", dim_names, make,
                                       QuantConfig.load(preset="int8"), dims, tensors=tensors)
        raw = {k: t.detach().double().numpy() for k, t in tensors.items()}
        inputs = make(dims)
        inputs = {k: (torch.rand(v.shape, generator=gen, dtype=torch.float64) * 2 - 1)
                  if v.is_floating_point() else v for k, v in inputs.items()}
        got = eval_graph(g, quantize_params(g, raw, quant=False),
                         {k: v.numpy() for k, v in inputs.items()}, quant=False)
        with torch.no_grad():
            want = model.double()(**inputs)
        want = [want] if isinstance(want, torch.Tensor) else list(want)
        self.assertEqual(len(g["outputs"]), len(want))
        for ref, w in zip(g["outputs"], want):
            np.testing.assert_allclose(got[ref], w.numpy(), rtol=1e-9, atol=1e-9)
        return g

    def test_new_ops(self):
        self.check(Convs("cpu"), ("batch",), lambda s: {"x": torch.zeros(s["batch"], 8, 6, 6)},
                   {"batch": 2})

    def test_unpacking_and_constant_operands(self):
        self.check(Unpack("cpu"), ("batch", "seq"),
                   lambda s: {"x": torch.zeros(s["batch"], s["seq"], 8)}, {"batch": 2, "seq": 3})
        self.check(ConstOperands("cpu"), ("batch",), lambda s: {"x": torch.zeros(s["batch"], 6, 8)},
                   {"batch": 2})

    def test_llama_rope_gqa_rmsnorm(self):
        m = zoo.tinyllama("cpu", hidden=32, layers=1, heads=4, kv_heads=2, ffn=48, vocab=50)
        ids = torch.tensor([[3, 1, 4, 1], [5, 9, 2, 6]])

        def make(s):
            x = m.example_inputs(s["batch"], s["seq"])
            x["input_ids"] = ids[:s["batch"], :s["seq"]] if s["seq"] <= 4 else x["input_ids"]
            return x
        g = self.check(m, ("batch", "seq"), make, {"batch": 2, "seq": 4})
        self.assertEqual(sum(n["op"] == "rms_norm" for n in g["nodes"]), 3)

    def test_mamba_scan_causal_conv(self):
        m = zoo.mamba_block("cpu", d_model=8, d_state=4)
        g = self.check(m, ("batch", "seq"), lambda s: m.example_inputs(s["batch"], s["seq"]),
                       {"batch": 2, "seq": 5})
        self.assertEqual({n["op"] for n in g["nodes"]} >= {"selective_scan", "causal_conv1d"}, True)

    def test_mixtral_topk_gate_experts(self):
        m = zoo.mixtral_layer("cpu", hidden=16, heads=4, kv_heads=2, ffn=24, experts=4, top_k=2)
        g = self.check(m, ("batch", "seq"), lambda s: m.example_inputs(s["batch"], s["seq"]),
                       {"batch": 2, "seq": 3})
        self.assertEqual(sum(n["op"] in ("topk_gate", "moe_experts", "rope") for n in g["nodes"]),
                         4)

    def test_plain_torch_gates(self):
        for form in GATE_FORMS:
            with self.subTest(form=form):
                g = self.check(PlainMoe(form, "cpu"), ("batch", "seq"),
                               lambda s: {"x": torch.zeros(s["batch"], s["seq"], 16)},
                               {"batch": 2, "seq": 3})
                self.assertEqual([n["op"] for n in g["nodes"]],
                                 ["linear", "topk_gate", "moe_experts"])

    def test_lstm_gru(self):
        self.check(Recurrent(device="cpu"), ("batch", "seq"),
                   lambda s: {"x": torch.zeros(s["batch"], s["seq"], 16)}, {"batch": 2, "seq": 3})

    def test_vit_mha_class_token(self):
        m = zoo.vit_tiny("cpu", image_size=32, patch_size=8, num_layers=1, num_heads=2,
                         hidden_dim=16, mlp_dim=32)
        self.check(m, ("batch",), lambda s: {"x": torch.zeros(s["batch"], 3, 32, 32)},
                   {"batch": 2})


class TorchvisionExtras(unittest.TestCase):
    def test_hardsigmoid_and_stochastic_depth(self):
        from torchvision.ops import StochasticDepth

        class M(nn.Module):
            def __init__(self, device="meta"):
                super().__init__()
                self.gate = nn.Hardsigmoid()
                self.drop = StochasticDepth(0.2, "row")

            def forward(self, x):
                return self.drop(self.gate(x)) + F.hardsigmoid(x)
        g = export(M())
        self.assertEqual([(n["name"], n["op"], n.get("attrs")) for n in g["nodes"]], [
            ("gate.scale", "mul", {"scalar": 1 / 6}), ("gate.shift", "add", {"scalar": 0.5}),
            ("gate", "hardtanh", {"min_val": 0.0, "max_val": 1.0}),
            ("hardsigmoid.scale", "mul", {"scalar": 1 / 6}),
            ("hardsigmoid.shift", "add", {"scalar": 0.5}),
            ("hardsigmoid", "hardtanh", {"min_val": 0.0, "max_val": 1.0}),
            ("add", "add", None)])
        Semantics.check(self, M("cpu"), ("batch",), lambda s: {"x": torch.zeros(s["batch"], 8)},
                        {"batch": 3})


class Gpt2Style(nn.Module):
    """nanoGPT-style: positions from torch.arange(t), a causal-mask buffer sliced to T."""

    def __init__(self, masked_fill, device="meta"):
        super().__init__()
        self.masked_fill = masked_fill
        self.wte = nn.Embedding(100, 16, device=device)
        self.wpe = nn.Embedding(64, 16, device=device)
        self.c_attn = nn.Linear(16, 48, device=device)
        self.register_buffer("bias", torch.tril(torch.ones(64, 64, device=device))
                             .view(1, 1, 64, 64))

    def forward(self, idx):
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        q, k, v = self.c_attn(x).split(16, dim=2)
        att = q.unsqueeze(1) @ k.unsqueeze(1).transpose(-2, -1)
        if self.masked_fill:
            att = att.masked_fill(self.bias[:, :, :t, :t] == 0, float("-inf"))
        return F.softmax(att, dim=-1) @ v.unsqueeze(1)


class Gpt2(unittest.TestCase):
    def make(self, s):
        return {"idx": torch.zeros(s["batch"], s["seq"], dtype=torch.long, device="meta")}

    def test_arange_positions_are_a_constant_operand(self):
        with self.assertRaises(GraphError) as cm:
            export(Gpt2Style(True), ("batch", "seq"), self.make)
        self.assertIn("unsupported PyTorch op 'Tensor.masked_fill' (call_method masked_fill) "
                      f"in the top-level module at {_line_of('att = att.masked_fill(')}",
                      str(cm.exception))
        self.assertIn("nearest supported: add of an additive mask given as a graph input",
                      str(cm.exception))
        g = export(Gpt2Style(False), ("batch", "seq"), self.make)
        add = g["nodes"][1]
        # wpe(arange(t)) is the first t rows of the table: a constant [seq, 16]
        self.assertEqual((add["op"], add["params"]["other"]["shape"], add["args"]),
                         ("add", ["seq", 16], {"data_in_0": "wte"}))
        self.assertEqual([n["op"] for n in g["nodes"][2:6]], ["linear", "slice", "slice", "slice"])


class TensorData(unittest.TestCase):
    def test_data_of_a_vit_with_mha_and_class_token(self):
        # write_data checks the unquantised graph against the module (float64, 1e-9)
        # and needs every parameter: MHA's in_proj_weight and the class token are found
        # through the exporter, not by state_dict name
        g = export_graph.export_zoo("vit-micro", QuantConfig.load(preset="int8"), {"batch": 1})
        with tempfile.TemporaryDirectory() as tmp:
            export_graph.write_data(g, "vit-micro", tmp, inferences=1)
            files = sorted(os.listdir(os.path.join(tmp, "params")))
            attn = "encoder.layers.encoder_layer_0.self_attention"
            for f in ("cat.other.npy", f"{attn}.in_proj.weight.npy", "encoder.add.other.npy"):
                self.assertIn(f, files)
            w = np.load(os.path.join(tmp, "params", f"{attn}.in_proj.weight.npy"))
            self.assertEqual(w.shape, (48, 16))


class Gpt2Simulate(unittest.TestCase):
    def make(self, s):
        return {"idx": torch.zeros(s["batch"], s["seq"], dtype=torch.long, device="meta")}

    def test_simulate_constant_operand_with_a_dim(self):
        # add with param 'other' [seq, 16] (wpe(arange(t))): needs the op registry's 'other'
        if not os.access(SIMULATE, os.X_OK):
            self.skipTest(f"no simulate binary at {SIMULATE}")
        import subprocess
        from mase_graph_common import write_graph
        g = export(Gpt2Style(False), ("batch", "seq"), self.make, dims={"batch": 1, "seq": 8})
        with tempfile.TemporaryDirectory() as tmp:
            write_graph(g, os.path.join(tmp, "gpt2.json"))
            cfg = os.path.join(tmp, "sys.yaml")
            with open(cfg, "w") as f:
                f.write("workload:\n  graph: gpt2.json\n  inferences: 2\nsystem:\n  devices:\n"
                        "    - {name: fpga0, type: u250}\n")
            r = subprocess.run([SIMULATE, "--config", cfg, "--summary"], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            # wte 100*16 + the 8 used rows of wpe + c_attn 16*48 + 48
            self.assertIn(f"parameters    {100 * 16 + 8 * 16 + 16 * 48 + 48}\n", r.stdout)
            self.assertEqual(graph_stats.stats(g)["params"], 100 * 16 + 8 * 16 + 16 * 48 + 48)
            r = subprocess.run([SIMULATE, "--config", cfg, "--quiet"], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
