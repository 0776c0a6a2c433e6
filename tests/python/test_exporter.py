"""Exporter behaviour: errors, the dims trick, quantization configs."""
import os
import tempfile
import unittest

import torch
import torch.nn as nn

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
    def __init__(self):
        super().__init__()
        self.enc = nn.Module()
        self.enc.rnn = nn.LSTM(8, 8, device="meta")

    def forward(self, x):
        return self.enc.rnn(x)


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
            export(WithLSTM(), make=lambda s: {"x": torch.zeros(3, s["batch"], 8, device="meta")})
        msg = str(cm.exception)
        self.assertIn("LSTM", msg)
        self.assertIn("enc.rnn", msg)

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
