"""ONNX import (scripts/onnx_to_graph.py): equivalence with the torch.fx exporter on
models exported with torch.onnx.export, and QDQ / QLinear / integer ops built with
onnx.helper."""
import collections
import io
import os
import unittest

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

import helpers  # noqa: F401
import export_graph
import graph_stats
import masesim_models as zoo
import onnx_to_graph
from mase_graph_common import GraphError, QuantConfig

SAMPLE = dict(export_graph.SAMPLE_A)     # the ONNX models are exported at these sizes


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 256)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))

    @staticmethod
    def example_inputs(batch, seq=None, device=None):
        return {"x": torch.zeros(batch, 64, device=device)}


def small_opt():
    return zoo.OPTForCausalLM(hidden=64, layers=2, heads=4, ffn=256, proj=64, pre_ln=True,
                              vocab=1000, max_pos=128, device="cpu")


def randomize(model):
    # torch.onnx.export de-duplicates initializers with equal values (LayerNorm's
    # ones/zeros at init); random values keep every parameter distinct.
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval()


def custom_opsets(model):
    """The project's operator domain (masesim_models.MASESIM_OPSET) for a model with its
    MoeExperts / SelectiveScan modules (masesim::MoeExperts / SelectiveScan nodes); None
    otherwise (torch warns about an unused domain)."""
    return zoo.MASESIM_OPSET if any(isinstance(m, (zoo.MoeExperts, zoo.SelectiveScan))
                                    for m in model.modules()) else None


def to_onnx(model, dim_names):
    inputs = type(model).example_inputs(SAMPLE["batch"], SAMPLE.get("seq", 1), device="cpu")
    buf = io.BytesIO()
    torch.onnx.export(model, tuple(inputs.values()), buf, input_names=list(inputs),
                      opset_version=17, do_constant_folding=True,
                      custom_opsets=custom_opsets(model))
    return onnx.load_from_string(buf.getvalue())


def both(model, dim_names, dims):
    q = QuantConfig.load(preset="int8")
    fx_graph = export_graph.export_module(
        model, "m", dim_names,
        lambda s: type(model).example_inputs(s["batch"], s.get("seq", 1), device="cpu"), q, dims)
    sample = {d: SAMPLE[d] for d in dim_names}
    onnx_graph = onnx_to_graph.convert_model(to_onnx(model, dim_names), sample, dims,
                                             QuantConfig.load(preset="int8"))
    return fx_graph, onnx_graph


def compute_profile(g):
    """Op kind counts and (op, output shape) multiset of the compute (non-implicit) nodes."""
    comp = [n for n in g["nodes"] if not n.get("implicit", False)]
    kinds = collections.Counter(n["op"] for n in comp)
    shapes = collections.Counter((n["op"], tuple(n["results"]["data_out_0"]["shape"])) for n in comp)
    return kinds, shapes


class Equivalence(unittest.TestCase):
    def check(self, model, dim_names, dims):
        fx_graph, onnx_graph = both(randomize(model), dim_names, dims)
        k1, s1 = compute_profile(fx_graph)
        k2, s2 = compute_profile(onnx_graph)
        self.assertEqual(k1, k2)
        self.assertEqual(s1, s2)
        st1, st2 = graph_stats.stats(fx_graph), graph_stats.stats(onnx_graph)
        self.assertEqual(st1["macs"], st2["macs"])
        self.assertEqual(st1["params"], st2["params"])
        self.assertEqual(st1["params"], zoo.count_params(model))
        self.assertEqual(st1["weight_bytes"], st2["weight_bytes"])
        self.assertEqual([i["shape"] for i in fx_graph["inputs"]],
                         [i["shape"] for i in onnx_graph["inputs"]])
        self.assertEqual(fx_graph["dims"], onnx_graph["dims"])
        return fx_graph, onnx_graph

    def test_mlp(self):
        fx_graph, og = self.check(Mlp(), ("batch",), {"batch": 2})
        self.assertEqual([n["op"] for n in og["nodes"]], ["linear", "relu", "linear"])
        self.assertEqual(og["nodes"][0]["params"]["weight"]["shape"], [256, 64])

    def test_mnist_cnn(self):
        fx_graph, og = self.check(zoo.mnist_cnn(device="cpu"), ("batch",), {"batch": 1})
        conv = [n for n in og["nodes"] if n["op"] == "conv2d"]
        self.assertEqual(conv[0]["attrs"], {"stride": [1, 1], "padding": [1, 1],
                                            "dilation": [1, 1], "groups": 1})
        pool = [n for n in og["nodes"] if n["op"] == "max_pool2d"][0]
        self.assertEqual(pool["attrs"], {"kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0]})

    def test_opt_style_decoder(self):
        fx_graph, og = self.check(small_opt(), ("batch", "seq"), {"batch": 1, "seq": 128})
        shared = [n["name"] for n in og["nodes"]
                  if "shared_with" in n.get("params", {}).get("weight", {})]
        self.assertEqual(len(shared), 1)       # the tied LM head (a transposed copy in ONNX)
        self.assertEqual(graph_stats.stats(og)["macs"],
                         # 2 layers: 4 s h^2 + 2 s^2 h + 2 s h 4h ; LM head s h V
                         2 * (4 * 128 * 64 * 64 + 2 * 128 * 128 * 64 + 2 * 128 * 64 * 256)
                         + 128 * 64 * 1000)


def qdq_linear_model():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 8])
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(np.array(1 / 16, np.float32), "x_scale"),
        numpy_helper.from_array(np.array(0, np.int8), "x_zp"),
        numpy_helper.from_array(rng.integers(-128, 127, (16, 8)).astype(np.int8), "w_q"),
        numpy_helper.from_array(np.full((8,), 1 / 64, np.float32), "w_scale"),
        numpy_helper.from_array(np.zeros((8,), np.int8), "w_zp"),
        numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "bias"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zp"], ["xq"], name="q_x"),
        helper.make_node("DequantizeLinear", ["xq", "x_scale", "x_zp"], ["xd"], name="dq_x"),
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zp"], ["wd"], name="dq_w",
                         axis=1),
        helper.make_node("MatMul", ["xd", "wd"], ["mm"], name="/fc/MatMul"),
        helper.make_node("Add", ["mm", "bias"], ["fc"], name="/fc/Add"),
        helper.make_node("Relu", ["fc"], ["y"], name="/act/Relu"),
    ]
    g = helper.make_graph(nodes, "qdq_linear", [x], [y], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


class Quantized(unittest.TestCase):
    def test_qdq_matmul(self):
        m = qdq_linear_model()
        onnx.checker.check_model(m)
        g = onnx_to_graph.convert_model(m, {"batch": 5}, {"batch": 1})
        self.assertEqual([n["op"] for n in g["nodes"]], ["linear", "relu"])
        fc = g["nodes"][0]
        self.assertEqual(fc["name"], "fc")
        self.assertEqual(fc["params"]["weight"]["shape"], [8, 16])
        self.assertEqual(fc["params"]["weight"]["precision"],
                         {"type": "fixed", "width": 8, "frac_width": 6})
        self.assertEqual(fc["params"]["bias"]["precision"], {"type": "float", "width": 32})
        self.assertEqual(g["inputs"][0]["precision"], {"type": "fixed", "width": 8, "frac_width": 4})
        self.assertEqual(g["inputs"][0]["shape"], ["batch", 16])
        self.assertEqual(fc["results"]["data_out_0"]["shape"], ["batch", 8])

    def _qlinear(self, integer):
        a = helper.make_tensor_value_info("a", TensorProto.INT8 if integer else TensorProto.UINT8,
                                          [5, 37, 32])
        out_t = TensorProto.INT32 if integer else TensorProto.UINT8
        y = helper.make_tensor_value_info("y", out_t, [5, 37, 16])
        rng = np.random.default_rng(1)
        w = numpy_helper.from_array(rng.integers(-127, 127, (32, 16)).astype(np.int8), "w")
        if integer:
            inits = [w, numpy_helper.from_array(np.array(0, np.int8), "a_zp"),
                     numpy_helper.from_array(np.array(0, np.int8), "w_zp")]
            node = helper.make_node("MatMulInteger", ["a", "w", "a_zp", "w_zp"], ["y"], name="/p/MatMulInteger")
        else:
            inits = [w,
                     numpy_helper.from_array(np.array(0.25, np.float32), "a_s"),
                     numpy_helper.from_array(np.array(128, np.uint8), "a_zp"),
                     numpy_helper.from_array(np.array(1 / 128, np.float32), "w_s"),
                     numpy_helper.from_array(np.array(0, np.int8), "w_zp"),
                     numpy_helper.from_array(np.array(1 / 8, np.float32), "y_s"),
                     numpy_helper.from_array(np.array(128, np.uint8), "y_zp")]
            node = helper.make_node("QLinearMatMul", ["a", "a_s", "a_zp", "w", "w_s", "w_zp",
                                                      "y_s", "y_zp"], ["y"], name="/p/QLinearMatMul")
        m = helper.make_model(helper.make_graph([node], "q", [a], [y], inits),
                              opset_imports=[helper.make_opsetid("", 13)])
        onnx.checker.check_model(m)
        return onnx_to_graph.convert_model(m, SAMPLE, {"batch": 1, "seq": 128})

    def test_qlinear_matmul(self):
        g = self._qlinear(False)
        (n,) = g["nodes"]
        self.assertEqual(n["op"], "linear")
        self.assertEqual(n["params"]["weight"]["shape"], [16, 32])
        self.assertEqual(n["params"]["weight"]["precision"], {"type": "fixed", "width": 8, "frac_width": 7})
        self.assertEqual(n["results"]["data_out_0"],
                         {"shape": ["batch", "seq", 16],
                          "precision": {"type": "fixed", "width": 8, "frac_width": 3}})
        # a_scale 0.25 = 2^-2
        self.assertEqual(g["inputs"][0]["precision"], {"type": "fixed", "width": 8, "frac_width": 2})

    def test_matmul_integer(self):
        g = self._qlinear(True)
        (n,) = g["nodes"]
        self.assertEqual(n["op"], "linear")
        self.assertEqual(n["params"]["weight"]["precision"], {"type": "fixed", "width": 8, "frac_width": 0})
        self.assertEqual(n["results"]["data_out_0"]["precision"],
                         {"type": "fixed", "width": 32, "frac_width": 0})

    def test_qlinear_conv(self):
        x = helper.make_tensor_value_info("x", TensorProto.UINT8, [5, 1, 28, 28])
        y = helper.make_tensor_value_info("y", TensorProto.UINT8, [5, 16, 28, 28])
        rng = np.random.default_rng(2)
        inits = [numpy_helper.from_array(np.array(1 / 255, np.float32), "xs"),
                 numpy_helper.from_array(np.array(0, np.uint8), "xzp"),
                 numpy_helper.from_array(rng.integers(-127, 127, (16, 1, 3, 3)).astype(np.int8), "w"),
                 numpy_helper.from_array(np.full((16,), 1 / 32, np.float32), "ws"),
                 numpy_helper.from_array(np.zeros((16,), np.int8), "wzp"),
                 numpy_helper.from_array(np.array(1 / 16, np.float32), "ys"),
                 numpy_helper.from_array(np.array(0, np.uint8), "yzp"),
                 numpy_helper.from_array(np.zeros((16,), np.int32), "b")]
        node = helper.make_node("QLinearConv", ["x", "xs", "xzp", "w", "ws", "wzp", "ys", "yzp", "b"],
                                ["y"], name="/conv1/QLinearConv", pads=[1, 1, 1, 1],
                                kernel_shape=[3, 3])
        m = helper.make_model(helper.make_graph([node], "qc", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", 13)])
        onnx.checker.check_model(m)
        g = onnx_to_graph.convert_model(m, {"batch": 5}, {"batch": 1})
        (n,) = g["nodes"]
        self.assertEqual((n["name"], n["op"]), ("conv1", "conv2d"))
        self.assertEqual(n["results"]["data_out_0"]["shape"], ["batch", 16, 28, 28])
        self.assertEqual(n["params"]["weight"]["precision"]["frac_width"], 5)
        self.assertEqual(n["params"]["bias"]["precision"], {"type": "fixed", "width": 32, "frac_width": 0})
        self.assertEqual(n["results"]["data_out_0"]["precision"]["frac_width"], 4)
        self.assertEqual(graph_stats.stats(g)["macs"], 28 * 28 * 16 * 9)

    def test_unsupported_onnx_op(self):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 16])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 16])
        m = helper.make_model(helper.make_graph(
            [helper.make_node("Sin", ["x"], ["y"], name="/blk/Sin")], "e", [x], [y]),
            opset_imports=[helper.make_opsetid("", 13)])
        with self.assertRaises(GraphError) as cm:
            onnx_to_graph.convert_model(m, {"batch": 5}, {})
        self.assertEqual(str(cm.exception), "unsupported ONNX op 'Sin' at ONNX node '/blk/Sin' "
                         "(Sin) (nearest supported: Split, Slice, Sigmoid)")


if __name__ == "__main__":
    unittest.main()


# ----------------------------------------------------------------- issue 14 behaviour
def export_onnx(model, inputs, dynamic=None, opset=17):
    """torch.onnx.export, with the project's operator domain when the model needs it."""
    import warnings
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # TracerWarnings of torch's own asserts
        torch.onnx.export(model, tuple(inputs.values()), buf, input_names=list(inputs),
                          opset_version=opset, do_constant_folding=True, dynamic_axes=dynamic,
                          custom_opsets=custom_opsets(model))
    return onnx.load_from_string(buf.getvalue())


def fx_export(model, dim_names, make):
    return export_graph.export_module(model, "m", dim_names, make, QuantConfig.load(preset="int8"))


class Width(nn.Module):
    """out_features equal to pass A's seq (37)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, export_graph.SAMPLE_A["seq"])

    def forward(self, x):
        return self.fc(x)


class Flat2(nn.Module):
    """flatten(2), a zero Pad before average pooling (count_include_pad), a learned
    position table sliced to the token count, GELU (Erf at opset 17), x[:, 0]."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.pool = nn.AvgPool2d(3, 1, padding=1)
        self.pos = nn.Parameter(torch.zeros(1, 64, 16))
        self.act = nn.GELU()
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        h = self.pool(self.conv(x)).flatten(2).transpose(1, 2)
        h = h + self.pos[:, :h.shape[1]]
        return self.fc(self.act(h))[:, 0]


class Mobile(nn.Module):
    """Depthwise conv, ReLU6 (Clip), hardswish, global average pooling, conv1d."""

    def __init__(self):
        super().__init__()
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.act = nn.ReLU6()
        self.hs = nn.Hardswish()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.c1 = nn.Conv1d(8, 4, 1)

    def forward(self, x):
        return self.c1(self.pool(self.hs(self.act(self.dw(x)))).flatten(2))


class Dynamic(unittest.TestCase):
    def test_dynamic_axes_opt_equals_fx(self):
        m = randomize(small_opt())
        inputs = m.example_inputs(3, 11)
        om = export_onnx(m, inputs, {"input_ids": {0: "batch", 1: "seq"},
                                     "position_ids": {0: "batch", 1: "seq"}})
        specs = [("input_ids", ["batch", "seq"], "int64"), ("position_ids", ["batch", "seq"],
                                                            "int64")]
        og = onnx_to_graph.convert_model(om, None, {"batch": 1, "seq": 128},
                                         QuantConfig.load(preset="int8"), inputs=specs)
        fg = fx_export(m, ("batch", "seq"), lambda s: m.example_inputs(s["batch"], s["seq"]))
        self.assertEqual(compute_profile(og), compute_profile(fg))
        self.assertEqual(og["dims"], {"batch": 1, "seq": 128})
        self.assertEqual(graph_stats.stats(og)["macs"], graph_stats.stats(fg, {"seq": 128})["macs"])

    def test_width_equal_to_sample_seq_is_a_constant(self):
        m = Width().eval()
        x = {"x": torch.zeros(SAMPLE["batch"], SAMPLE["seq"], 16)}
        spec = [("x", ["batch", "seq", 16], "float32")]
        dyn = export_onnx(m, x, {"x": {0: "batch", 1: "seq"}})
        g = onnx_to_graph.convert_model(dyn, None, {}, inputs=spec)
        self.assertEqual(g["nodes"][0]["results"]["data_out_0"]["shape"], ["batch", "seq", 37])
        # a static export named by value cannot tell (hence the CLI's note) ...
        static = export_onnx(m, x)
        g = onnx_to_graph.convert_model(static, None, {}, inputs=spec)
        self.assertEqual(g["nodes"][0]["results"]["data_out_0"]["shape"],
                         ["batch", "seq", "seq"])
        # ... a second export at other sizes can
        other = export_onnx(m, {"x": torch.zeros(7, 43, 16)})
        g = onnx_to_graph.convert_model(static, None, {}, inputs=spec, second=other)
        self.assertEqual(g["nodes"][0]["results"]["data_out_0"]["shape"], ["batch", "seq", 37])

    def test_shape_arithmetic_pad_pool_position_slice_gelu(self):
        m = randomize(Flat2())
        make = lambda s: {"x": torch.zeros(s["batch"], 3, 8, 8)}  # noqa: E731
        om = export_onnx(m, make(SAMPLE), {"x": {0: "batch"}})
        self.assertIn("Pad", [n.op_type for n in om.graph.node])
        self.assertIn("Erf", [n.op_type for n in om.graph.node])
        og = onnx_to_graph.convert_model(om, None, {}, QuantConfig.load(preset="int8"),
                                         inputs=[("x", ["batch", 3, 8, 8], "float32")])
        fg = fx_export(m, ("batch",), make)
        self.assertEqual(compute_profile(og), compute_profile(fg))
        pool = [n for n in og["nodes"] if n["op"] == "avg_pool2d"][0]
        self.assertEqual(pool["attrs"], {"kernel_size": [3, 3], "stride": [1, 1],
                                         "padding": [1, 1]})
        pos = [n for n in og["nodes"] if n["op"] == "add"][0]
        self.assertEqual(pos["params"]["other"]["shape"], [1, 64, 16])
        self.assertEqual(graph_stats.stats(og)["macs"], graph_stats.stats(fg)["macs"])
        self.assertEqual(graph_stats.stats(og)["params"], zoo.count_params(m))

    def test_mobile_ops(self):
        m = randomize(Mobile())
        make = lambda s: {"x": torch.zeros(s["batch"], 8, 6, 6)}  # noqa: E731
        om = export_onnx(m, make(SAMPLE), {"x": {0: "batch"}})
        og = onnx_to_graph.convert_model(om, None, {}, inputs=[("x", ["batch", 8, 6, 6],
                                                                 "float32")])
        self.assertEqual([(n["op"], n.get("attrs")) for n in og["nodes"]
                          if not n.get("implicit")], [
            ("conv2d", {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": 8}),
            ("hardtanh", {"min_val": 0.0, "max_val": 6.0}), ("hardswish", None),
            ("adaptive_avg_pool2d", {"output_size": [1, 1]}),
            ("conv1d", {"stride": 1, "padding": 0, "dilation": 1, "groups": 1})])
        self.assertEqual(compute_profile(og), compute_profile(fx_export(m, ("batch",), make)))
        self.assertEqual(graph_stats.stats(og)["macs"], 8 * 36 * 9 + 4 * 8)

    def test_llama_rms_norm_silu_rope_gqa(self):
        m = randomize(zoo.tinyllama("cpu", hidden=64, layers=1, heads=8, kv_heads=2, ffn=176,
                                    vocab=256))
        om = export_onnx(m, m.example_inputs(3, 11),
                         {"input_ids": {0: "batch", 1: "seq"}, "cos": {0: "seq"},
                          "sin": {0: "seq"}})
        specs = [("input_ids", ["batch", "seq"], "int64"), ("cos", ["seq", 8], "float32"),
                 ("sin", ["seq", 8], "float32")]
        og = onnx_to_graph.convert_model(om, None, {}, inputs=specs)
        fg = fx_export(m, ("batch", "seq"), lambda s: m.example_inputs(s["batch"], s["seq"]))
        self.assertEqual(compute_profile(og), compute_profile(fg))
        norm = [n for n in og["nodes"] if n["op"] == "rms_norm"]
        self.assertEqual([n["name"] for n in norm], ["layers.0.input_layernorm",
                                                     "layers.0.post_attention_layernorm", "norm"])
        self.assertEqual(norm[0]["attrs"], {"normalized_shape": [64], "eps": 1e-5})
        self.assertEqual(graph_stats.stats(og)["params"], zoo.count_params(m))
        # Slice/Neg/Concat/Mul/Add of rotate-half RoPE fused as in the fx path (q and k)
        rope = [n for n in og["nodes"] if n["op"] == "rope"]
        self.assertEqual([n["args"]["data_in_1"] for n in rope], ["cos", "cos"])
        self.assertNotIn("cat", graph_stats.stats(og)["ops"])


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True)
        self.gru = nn.GRU(32, 8, batch_first=True)

    def forward(self, x):
        y, _ = self.lstm(x)
        z, _ = self.gru(y)
        return z


class RecurrentOnnx(unittest.TestCase):
    def test_lstm_gru_as_in_the_fx_path(self):
        m = randomize(Recurrent())
        make = lambda s: {"x": torch.zeros(s["batch"], s["seq"], 16)}  # noqa: E731
        om = export_onnx(m, make({"batch": 3, "seq": 5}), {"x": {0: "batch", 1: "seq"}})
        og = onnx_to_graph.convert_model(om, None, {}, inputs=[("x", ["batch", "seq", 16],
                                                                 "float32")])
        fg = fx_export(m, ("batch", "seq"), make)
        self.assertEqual([n["op"] for n in og["nodes"] if n["op"] in ("lstm", "gru")],
                         ["lstm", "lstm", "gru"])
        lstm = [n for n in og["nodes"] if n["op"] == "lstm"][0]
        self.assertEqual({k: v["shape"] for k, v in lstm["params"].items()},
                         {"weight_ih": [128, 16], "weight_hh": [128, 32], "bias_ih": [128],
                          "bias_hh": [128]})
        self.assertEqual(lstm["results"]["data_out_0"]["shape"], ["seq", "batch", 32])
        so, sf = graph_stats.stats(og), graph_stats.stats(fg)
        self.assertEqual((so["params"], so["macs"]), (sf["params"], sf["macs"]))
        self.assertEqual(so["params"], sum(p.numel() for p in m.parameters()))


class BadOnnx(unittest.TestCase):
    def _model(self, opset, domain=""):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 16])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 16])
        node = helper.make_node("Relu", ["x"], ["y"], name="/act/Relu", domain=domain)
        ops = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(domain, 1)]
                                                 if domain else [])
        return helper.make_model(helper.make_graph([node], "r", [x], [y]), opset_imports=ops)

    def test_unknown_domain_and_opset(self):
        with self.assertRaises(GraphError) as cm:
            onnx_to_graph.convert_model(self._model(13, "org.pytorch.aten"), {"batch": 5}, {})
        self.assertEqual(str(cm.exception), "r: operator domain 'org.pytorch.aten' (version 1) "
                         "is not supported; only the default ONNX domain (ai.onnx) is")
        with self.assertRaises(GraphError) as cm:
            onnx_to_graph.convert_model(self._model(99), {"batch": 5}, {})
        self.assertEqual(str(cm.exception), f"r: opset 99 of the default domain is not supported "
                         f"(this onnx {onnx.__version__} knows opsets 7.."
                         f"{onnx.defs.onnx_opset_version()})")

    def test_vit_mha_batch_times_heads_is_not_expressible(self):
        m = randomize(zoo.vit_tiny("cpu", image_size=48, num_layers=1))
        om = export_onnx(m, {"x": torch.zeros(2, 3, 48, 48)}, {"x": {0: "batch"}})
        with self.assertRaises(GraphError) as cm:
            onnx_to_graph.convert_model(om, None, {}, inputs=[("x", ["batch", 3, 48, 48],
                                                               "float32")])
        self.assertIn("(15 vs 21)", str(cm.exception))         # batch*heads, 3 heads

    def test_cli_exit_1(self):
        import tempfile
        from helpers import run_main
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "g.json")
            rc, err = run_main(onnx_to_graph.main, [os.path.join(tmp, "none.onnx"), "--out", out])
            self.assertEqual((rc, err), (1, f"onnx_to_graph: error: onnx: no file "
                                            f"'{os.path.join(tmp, 'none.onnx')}'\n"))
            bad = os.path.join(tmp, "bad.onnx")
            with open(bad, "w") as f:
                f.write("not protobuf")
            rc, err = run_main(onnx_to_graph.main, [bad, "--out", out])
            self.assertEqual(rc, 1)
            self.assertTrue(err.startswith("onnx_to_graph: error: onnx: '"), err)
            path = os.path.join(tmp, "m.onnx")
            onnx.save(BadOnnx._model(self, 13), path)
            rc, err = run_main(onnx_to_graph.main, [path, "--out", out, "--input", "y:batch,16"])
            self.assertEqual((rc, err), (1, "onnx_to_graph: error: r: --input 'y' is not a graph "
                                            "input (inputs: x)\n"))
            rc, err = run_main(onnx_to_graph.main, [path, "--out", out, "--input", "x:batch,16",
                                                   "--quant-preset", "int8"])
            self.assertEqual(rc, 0, err)
            self.assertIn("without a second-sample check", err)
            from mase_graph_common import load_graph
            self.assertEqual(load_graph(out)["inputs"][0]["shape"], ["batch", 16])
            self.assertFalse(os.path.exists(os.path.join(tmp, "none.json")))


class HardSigmoidOnnx(unittest.TestCase):
    def test_hardsigmoid_is_three_ops(self):
        m = nn.Sequential(nn.Linear(8, 8), nn.Hardsigmoid()).eval()
        make = lambda s: {"input": torch.zeros(s["batch"], 8)}  # noqa: E731
        om = export_onnx(m, make(SAMPLE), {"input": {0: "batch"}})
        self.assertIn("HardSigmoid", [n.op_type for n in om.graph.node])
        og = onnx_to_graph.convert_model(om, None, {}, inputs=[("input", ["batch", 8],
                                                                 "float32")])
        self.assertEqual([(n["op"], n.get("attrs")) for n in og["nodes"]][1:], [
            ("mul", {"scalar": 0.16666667}), ("add", {"scalar": 0.5}),
            ("hardtanh", {"min_val": 0.0, "max_val": 1.0})])
        self.assertEqual(compute_profile(og), compute_profile(fx_export(m, ("batch",), make)))


class UnsupportedOnnx(unittest.TestCase):
    def test_topk_names_node_and_nearest(self):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 16])
        v = helper.make_tensor_value_info("v", TensorProto.FLOAT, [5, 2])
        i = helper.make_tensor_value_info("i", TensorProto.INT64, [5, 2])
        k = numpy_helper.from_array(np.array([2], np.int64), "k")
        node = helper.make_node("TopK", ["x", "k"], ["v", "i"], name="/router/TopK")
        m = helper.make_model(helper.make_graph([node], "moe", [x], [v, i], [k]),
                              opset_imports=[helper.make_opsetid("", 13)])
        with self.assertRaises(GraphError) as cm:
            onnx_to_graph.convert_model(m, None, {}, inputs=[("x", ["batch", 16], "float32")])
        self.assertEqual(str(cm.exception), "unsupported ONNX op 'TopK' at ONNX node "
                         "'/router/TopK' (TopK) (nearest supported: topk_gate, from TopK(logits) "
                         "-> Softmax -> ScatterElements into zeros along the last axis, or "
                         "Mixtral's Softmax -> TopK -> Div by ReduceSum -> ScatterElements; or "
                         "Softmax over all experts (dense gating))")


# ------------------------------------------- MoE routing, selective scans, control flow
class PlainGate(nn.Module):
    """A user's router written with plain torch ops: top-k, softmax over the k, scattered
    into zeros (or, mixtral=True, softmax, top-k, renormalised by the sum of the k)."""

    def __init__(self, top_k, mixtral=False):
        super().__init__()
        self.top_k, self.mixtral = top_k, mixtral
        self.router = nn.Linear(16, 8, bias=False)

    def forward(self, x):
        logits = self.router(x)
        if self.mixtral:
            w, idx = torch.topk(torch.softmax(logits, dim=-1), self.top_k, dim=-1)
            w = w / w.sum(dim=-1, keepdim=True)
        else:
            w, idx = torch.topk(logits, self.top_k, dim=-1)
            w = torch.softmax(w, dim=-1)
        return torch.zeros_like(logits).scatter(-1, idx, w)


class ProjectGate(nn.Module):
    def __init__(self, router, top_k):
        super().__init__()
        self.router, self.gate = router, zoo.TopKGate(top_k)

    def forward(self, x):
        return self.gate(self.router(x))


class PlainGateMoe(nn.Module):
    """A user's MoE block: PlainGate's gates (8 experts, top-3) weighting MoeExperts."""

    def __init__(self, mixtral=False):
        super().__init__()
        self.router = PlainGate(3, mixtral)
        self.experts = zoo.MoeExperts(8, 16, 24, 3)

    def forward(self, x):
        return self.experts(x, self.router(x))


def seq_inputs(width):
    return lambda s: {"x": torch.zeros(s["batch"], s["seq"], width)}  # noqa: E731


class MoeScanOnnx(unittest.TestCase):
    """The project's MoE and Mamba modules through both paths: the ONNX export (TopK
    gate pattern, masesim::MoeExperts / SelectiveScan) imports as the fx export does."""

    def check(self, model, make, specs):
        m = randomize(model)
        dyn = {name: {i: d for i, d in enumerate(shape) if isinstance(d, str)}
               for name, shape, _ in specs}
        om = export_onnx(m, make({"batch": 3, "seq": 11}), dyn)
        self.assertEqual({(o.domain, o.version) for o in om.opset_import},
                         {("", 17), ("masesim", 1)})
        og = onnx_to_graph.convert_model(om, None, {"batch": 1, "seq": 16},
                                         QuantConfig.load(preset="int8"), inputs=specs)
        fg = export_graph.export_module(m, "m", ("batch", "seq"), make,
                                        QuantConfig.load(preset="int8"), {"batch": 1, "seq": 16})
        self.assertEqual(compute_profile(og), compute_profile(fg))
        so, sf = graph_stats.stats(og), graph_stats.stats(fg)
        for k in ("macs", "params", "weight_bytes"):
            self.assertEqual(so[k], sf[k], k)
        self.assertEqual(so["params"], zoo.count_params(m))
        self.assertEqual(og["dims"], fg["dims"])
        special = lambda g: [(n["op"], n.get("attrs") or {}, {k: p["shape"] for k, p in  # noqa
                              n.get("params", {}).items()}) for n in g["nodes"]
                             if n["op"] in ("topk_gate", "moe_experts", "selective_scan")]
        self.assertEqual(special(og), special(fg))
        return og, so

    def test_sparse_moe_block(self):
        og, st = self.check(zoo.SparseMoeBlock(32, 48, 4, 2, routing={
            "routing": "load", "expert_load": [3, 1, 1, 1]}), seq_inputs(32),
            [("x", ["batch", "seq", 32], "float32")])
        self.assertEqual([(n["name"], n["op"]) for n in og["nodes"]],
                         [("gate", "linear"), ("router", "topk_gate"), ("experts", "moe_experts")])
        self.assertEqual(og["nodes"][2]["attrs"], {"top_k": 2, "activation": "silu",
                                                   "routing": "load", "expert_load": [3, 1, 1, 1]})
        # 16 tokens: router 16·32·4; experts 16·top-2 slots × 3 GEMVs of 32 × 48
        self.assertEqual(st["macs"], 16 * 32 * 4 + 16 * 2 * 3 * 32 * 48)
        self.assertEqual(st["params"], 32 * 4 + 3 * 4 * 48 * 32)

    def test_mixtral_decoder_layer(self):
        m = zoo.MixtralDecoderLayer(32, 4, 2, 48, 4, 2)
        self.check(m, lambda s: m.example_inputs(s["batch"], s["seq"]),
                   [("x", ["batch", "seq", 32], "float32"), ("cos", ["seq", 8], "float32"),
                    ("sin", ["seq", 8], "float32")])

    def test_mamba_block(self):
        og, st = self.check(zoo.MambaBlock(16, d_state=4), seq_inputs(16),
                            [("x", ["batch", "seq", 16], "float32")])
        scan = [n for n in og["nodes"] if n["op"] == "selective_scan"][0]
        self.assertEqual(scan["name"], "mixer.scan")
        self.assertEqual(scan["results"]["data_out_0"]["shape"], ["batch", "seq", 32])
        self.assertIn("causal_conv1d", [n["op"] for n in og["nodes"]])

    def test_plain_torch_gates(self):
        for mixtral in (False, True):
            m = randomize(PlainGate(3, mixtral))
            make = seq_inputs(16)
            om = export_onnx(m, make({"batch": 3, "seq": 11}), {"x": {0: "batch", 1: "seq"}})
            self.assertIn("ScatterElements", [n.op_type for n in om.graph.node])
            og = onnx_to_graph.convert_model(om, None, {}, inputs=[("x", ["batch", "seq", 16],
                                                                     "float32")])
            self.assertEqual([(n["op"], n.get("attrs"), n["results"]["data_out_0"]["shape"])
                              for n in og["nodes"]],
                             [("linear", None, ["batch", "seq", 8]),
                              ("topk_gate", {"top_k": 3}, ["batch", "seq", 8])])
            self.assertEqual(compute_profile(og),
                             compute_profile(fx_export(ProjectGate(m.router, 3),
                                                       ("batch", "seq"), make)))
            fg = fx_export(m, ("batch", "seq"), make)       # the same gate through fx
            self.assertEqual([(n["op"], n.get("attrs"), n["results"]["data_out_0"]["shape"])
                              for n in fg["nodes"]],
                             [(n["op"], n.get("attrs"), n["results"]["data_out_0"]["shape"])
                              for n in og["nodes"]])

    def test_plain_torch_gate_moe_block_through_both_paths(self):
        for mixtral in (False, True):
            with self.subTest(mixtral=mixtral):
                og, st = self.check(PlainGateMoe(mixtral), seq_inputs(16),
                                    [("x", ["batch", "seq", 16], "float32")])
                self.assertEqual([n["op"] for n in og["nodes"]],
                                 ["linear", "topk_gate", "moe_experts"])
                # 16 tokens: router 16·16·8; experts 16·top-3 slots × 3 GEMVs of 16 × 24
                self.assertEqual(st["macs"], 16 * 16 * 8 + 16 * 3 * 3 * 16 * 24)

    def test_eager_forward_unchanged_by_export(self):
        m = randomize(zoo.SparseMoeBlock(8, 12, 4, 2))
        x = torch.randn(2, 3, 8, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            before = m(x)
            export_onnx(m, {"x": x})
            gates = m.router(m.gate(x))
            want = sum(gates[..., e:e + 1] * ((torch.nn.functional.silu(x @ m.experts.w1[e].t())
                                              * (x @ m.experts.w3[e].t())) @ m.experts.w2[e].t())
                       for e in range(4))
        self.assertTrue(torch.allclose(before, m(x)))
        self.assertTrue(torch.allclose(before, want, atol=1e-6))
        self.assertEqual(int((gates > 0).sum(-1).max()), 2)


def ort_moe_model(layout="current", attrs=None, biases=None, fc3=True, fused=False):
    """A router MatMul and com.microsoft MoE over 6 tokens of hidden 8: 4 experts of ffn
    12, top-2, SwiGLU-style experts (silu with fc3; fused: fc1 holds 2 × 12 rows)."""
    rng = np.random.default_rng(3)
    e, f, d = 4, 12, 8
    w = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    fc1, fc2, fc3w = w(e, 2 * f if fused else f, d), w(e, d, f), w(e, f, d)
    if layout == "old":                 # ORT before the [E, F, D] / [E, D, F] layout
        fc1, fc2, fc3w = (np.swapaxes(a, 1, 2).copy() for a in (fc1, fc2, fc3w))
    inits = [numpy_helper.from_array(w(d, e), "router_w"),
             numpy_helper.from_array(fc1, "fc1"), numpy_helper.from_array(fc2, "fc2")]
    ins = ["x", "logits", "fc1", "", "fc2", ""]
    if fc3:
        inits.append(numpy_helper.from_array(fc3w, "fc3"))
        ins.append("fc3")
    for i, b in (biases or {}).items():
        inits.append(numpy_helper.from_array(b, f"bias{i}"))
        while len(ins) <= i:
            ins.append("")
        ins[i] = f"bias{i}"
    kw = dict(activation_type="silu", k=2, normalize_routing_weights=1)
    kw.update(attrs or {})
    nodes = [helper.make_node("MatMul", ["x", "router_w"], ["logits"], name="/moe/gate/MatMul"),
             helper.make_node("MoE", ins, ["y"], name="/moe/MoE", domain="com.microsoft", **kw)]
    g = helper.make_graph(nodes, "ort_moe",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [6, d])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [6, d])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                               helper.make_opsetid("com.microsoft", 1)])


class OrtMoe(unittest.TestCase):
    SPEC = [("x", ["tokens", 8], "float32")]

    def convert(self, m):
        return onnx_to_graph.convert_model(m, None, {"tokens": 6}, inputs=self.SPEC)

    def test_moe_is_topk_gate_and_moe_experts(self):
        for layout in ("current", "old"):
            g = self.convert(ort_moe_model(layout, biases={3: np.zeros((4, 12), np.float32)}))
            self.assertEqual([(n["name"], n["op"], n.get("attrs")) for n in g["nodes"]], [
                ("moe.gate", "linear", None), ("moe.MoE.gate", "topk_gate", {"top_k": 2}),
                ("moe", "moe_experts", {"top_k": 2, "activation": "silu"})])
            moe = g["nodes"][2]
            self.assertEqual({k: p["shape"] for k, p in moe["params"].items()},
                             {"w1": [4, 12, 8], "w2": [4, 8, 12], "w3": [4, 12, 8]})
            self.assertEqual(moe["args"], {"data_in_0": "x", "data_in_1": "moe.MoE.gate"})
            self.assertEqual(moe["results"]["data_out_0"]["shape"], ["tokens", 8])
            st = graph_stats.stats(g)
            self.assertEqual(st["params"], 8 * 4 + 3 * 4 * 12 * 8)
            # 6 tokens: router 6·8·4; 6 × top-2 slots × 3 GEMVs of 8 × 12
            self.assertEqual(st["macs"], 6 * 8 * 4 + 6 * 2 * 3 * 8 * 12)
        for fusion in (0, 1, 2):        # SwiGLU: silu(g)·l, g and l fused in FC1 or not
            m = ort_moe_model(attrs={"activation_type": "swiglu", "swiglu_fusion": fusion},
                              fc3=fusion == 0, fused=fusion != 0)
            moe = self.convert(m)["nodes"][-1]
            self.assertEqual(({k: p["shape"] for k, p in moe["params"].items()}, moe["attrs"]),
                             ({"w1": [4, 12, 8], "w2": [4, 8, 12], "w3": [4, 12, 8]},
                              {"top_k": 2, "activation": "silu"}))
        g = self.convert(ort_moe_model(fc3=False, attrs={"activation_type": "gelu"}))
        moe = g["nodes"][-1]
        self.assertEqual((sorted(moe["params"]), moe["attrs"]["activation"]), (["w1", "w2"], "gelu"))
        self.assertEqual(graph_stats.stats(g)["macs"], 6 * 8 * 4 + 6 * 2 * 2 * 8 * 12)

    def test_3d_input_and_masesim_topk_gate(self):
        """A [batch, seq, D] input with [tokens, E] router_probs: the gates are reshaped to
        the input's token dims; a masesim::TopKGate node is a topk_gate."""
        rng = np.random.default_rng(4)
        w = lambda *s: numpy_helper.from_array(rng.standard_normal(s).astype(np.float32))  # noqa
        inits = [numpy_helper.from_array(np.array([-1, 8], np.int64), "shape")]
        for name, shape in (("rw", (8, 4)), ("fc1", (4, 12, 8)), ("fc2", (4, 8, 12))):
            t = w(*shape)
            t.name = name
            inits.append(t)
        nodes = [helper.make_node("Reshape", ["x", "shape"], ["x2"], name="/flat"),
                 helper.make_node("MatMul", ["x2", "rw"], ["logits"], name="/gate/MatMul"),
                 helper.make_node("MoE", ["x", "logits", "fc1", "", "fc2"], ["y"], name="/moe/MoE",
                                  domain="com.microsoft", k=1, normalize_routing_weights=1),
                 helper.make_node("TopKGate", ["logits"], ["g"], name="/router/TopKGate",
                                  domain="masesim", top_k=2)]
        g = helper.make_graph(nodes, "m3", [helper.make_tensor_value_info(
            "x", TensorProto.FLOAT, [2, 3, 8])], [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 8]),
            helper.make_tensor_value_info("g", TensorProto.FLOAT, [6, 4])], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                                helper.make_opsetid("com.microsoft", 1),
                                                helper.make_opsetid("masesim", 1)])
        out = onnx_to_graph.convert_model(m, None, {}, inputs=[("x", [2, 3, 8], "float32")])
        self.assertEqual([(n["name"], n["op"], n.get("attrs"), n["results"]["data_out_0"]["shape"])
                          for n in out["nodes"] if not n.get("implicit")], [
            ("gate", "linear", None, [6, 4]), ("moe.MoE.gate", "topk_gate", {"top_k": 1}, [6, 4]),
            ("moe", "moe_experts", {"top_k": 1, "activation": "relu"}, [2, 3, 8]),
            ("router", "topk_gate", {"top_k": 2}, [6, 4])])
        self.assertEqual(out["nodes"][4]["args"]["data_in_1"], "moe.MoE.gate.reshape")

    def test_moe_errors(self):
        where = "ONNX node '/moe/MoE' (com.microsoft::MoE): "
        for kw, msg in (
                (dict(attrs={"normalize_routing_weights": 0}), "normalize_routing_weights 0 is "
                 "unsupported: masesim's topk_gate renormalises over the k selected experts "
                 "(nearest supported: normalize_routing_weights 1)"),
                (dict(attrs={"use_sparse_mixer": 1}), "use_sparse_mixer 1 is unsupported "
                 "(nearest supported: top-k routing, use_sparse_mixer 0)"),
                (dict(attrs={"activation_type": "identity"}), "activation_type 'identity' is "
                 "unsupported (nearest supported: relu, gelu, silu; swiglu)"),
                (dict(attrs={"activation_type": "swiglu", "activation_alpha": 1.702,
                             "activation_beta": 1.0, "swiglu_limit": 7.0}),
                 "activation_type 'swiglu' with activation_alpha 1.702, activation_beta 1, "
                 "swiglu_limit 7 is not silu(g)·l (nearest supported: swiglu with alpha 1, beta "
                 "0 and no limit, or silu with fc3_experts_weights)"),
                (dict(attrs={"activation_type": "swiglu"}, fc3=False), "activation_type "
                 "'swiglu' with swiglu_fusion 0 needs fc3_experts_weights"),
                (dict(biases={5: np.ones((4, 8), np.float32)}), "fc2_experts_bias is non-zero; "
                 "expert biases are not supported (moe_experts has no bias parameters)")):
            with self.assertRaises(GraphError) as cm:
                self.convert(ort_moe_model(**kw))
            self.assertEqual(str(cm.exception), where + msg)

    def test_cli_errors_exit_1(self):
        import tempfile
        from helpers import run_main
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 16])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 16])

        def model(nodes, domain=None, inits=()):
            ops = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)]
                                                   if domain else [])
            return helper.make_model(helper.make_graph(nodes, "e", [x], [y], list(inits)),
                                     opset_imports=ops)
        body = helper.make_graph(
            [helper.make_node("Identity", ["c_in"], ["c_out"]),
             helper.make_node("Relu", ["s_in"], ["s_out"])], "body",
            [helper.make_tensor_value_info("i", TensorProto.INT64, []),
             helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
             helper.make_tensor_value_info("s_in", TensorProto.FLOAT, [5, 16])],
            [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
             helper.make_tensor_value_info("s_out", TensorProto.FLOAT, [5, 16])])
        trip = [numpy_helper.from_array(np.array(3, np.int64), "n"),
                numpy_helper.from_array(np.array(True), "c")]
        w = [numpy_helper.from_array(np.zeros((4, 12, 16), np.float32), "w1"),
             numpy_helper.from_array(np.zeros((4, 16, 12), np.float32), "w2")]
        cases = [
            (model([helper.make_node("Router", ["x"], ["y"], name="/moe/Router",
                                     domain="masesim")], "masesim"),
             "e: ONNX node '/moe/Router' (Router) is not supported in domain 'masesim' "
             "(supported: MoeExperts, SelectiveScan, TopKGate)"),
            (model([helper.make_node("Attention", ["x"], ["y"], name="/attn",
                                     domain="com.microsoft")], "com.microsoft"),
             "e: ONNX node '/attn' (Attention) is not supported in domain 'com.microsoft' "
             "(supported: MoE)"),
            (model([helper.make_node("Loop", ["n", "c", "x"], ["y"], name="/scan/Loop",
                                     body=body)], inits=trip),
             "e: ONNX node '/scan/Loop' (Loop) is control flow, which is not imported (nearest "
             "supported: for a selective scan the project's SelectiveScan module, exported as "
             "masesim::SelectiveScan with custom_opsets={'masesim': 1}; for a recurrent cell an "
             "LSTM or GRU op; a Python loop that torch unrolls imports as ordinary ops)"),
            (model([helper.make_node("MoeExperts", ["x", "x", "w1", "w2"], ["y"], name="/moe",
                                     domain="masesim", top_k=2, experts=4)], "masesim", w),
             "ONNX node '/moe' (masesim::MoeExperts): unknown attribute 'experts' (its "
             "attributes: top_k, activation, routing, expert_load, routing_seed, "
             "expert_parallel)"),
            (model([helper.make_node("SelectiveScan", ["x", "x", "x"], ["y"], name="/scan",
                                     domain="masesim")], "masesim"),
             "ONNX node '/scan' (masesim::SelectiveScan): 3 inputs; it takes 5..6 (u, delta, "
             "B, C, A_log, D?)"),
        ]
        with tempfile.TemporaryDirectory() as tmp:
            path, out = os.path.join(tmp, "m.onnx"), os.path.join(tmp, "g.json")
            for m, msg in cases:
                onnx.save(m, path)
                rc, err = run_main(onnx_to_graph.main, [path, "--out", out, "--input",
                                                        "x:batch,16"])
                self.assertEqual((rc, err), (1, f"onnx_to_graph: error: {msg}\n"))
            self.assertFalse(os.path.exists(out))
