"""Zoo parameter counts (module and exported graph) and the OPT-125M MAC count."""
import json
import os
import subprocess
import tempfile
import unittest

import helpers  # noqa: F401
import export_graph
import graph_stats
import masesim_models as zoo
from mase_graph_common import QuantConfig

INT8 = QuantConfig.load(preset="int8")


def export(name, dims=None):
    d = dims or {k: v for k, v in {"batch": 1, "seq": 128}.items() if k in zoo.ZOO[name][1]}
    return export_graph.export_zoo(name, QuantConfig.load(preset="int8"), d)


class ParamCounts(unittest.TestCase):
    def test_module_counts_equal_published(self):
        self.assertEqual(zoo.count_params(zoo.build_model("opt-125m")), 125_239_296)
        # published to 0.1M: OPT-350M 331.2M, OPT-1.3B 1315.8M
        self.assertEqual(round(zoo.count_params(zoo.build_model("opt-350m")) / 1e5), 3312)
        self.assertEqual(round(zoo.count_params(zoo.build_model("opt-1.3b")) / 1e5), 13158)
        # BERT-base: BertModel with pooler is 109,482,240 (~109.5M); the zoo graph has
        # no pooler (it reads token 0 only, a slice the op set cannot express).
        self.assertEqual(zoo.count_params(zoo.bert_base(pooler=True)), 109_482_240)
        self.assertEqual(zoo.count_params(zoo.build_model("bert-base")), 108_891_648)
        self.assertEqual(zoo.count_params(zoo.build_model("mnist-cnn")), 6_438_602)
        for name, n in zoo.PUBLISHED_PARAMS.items():
            self.assertEqual(zoo.count_params(zoo.build_model(name)), n, name)

    def test_graph_counts_equal_module_counts(self):
        # every zoo model, OPT-1.3B included (meta device: ~1.5 s)
        for name in zoo.ZOO:
            with self.subTest(model=name):
                s = graph_stats.stats(export(name))
                self.assertEqual(s["params"], zoo.count_params(zoo.build_model(name)))

    def test_tied_lm_head(self):
        g = export("opt-125m")
        lm = [n for n in g["nodes"] if n["name"] == "lm_head"][0]
        self.assertEqual(lm["params"]["weight"]["shared_with"], "model.decoder.embed_tokens.weight")
        self.assertNotIn("bias", lm["params"])
        self.assertEqual(g["outputs"], ["lm_head"])


class OptMacs(unittest.TestCase):
    def test_opt125m_macs_seq128(self):
        s, h, L, V = 128, 768, 12, 50272
        ffn = 4 * h                      # 3072
        per_layer = (
            4 * s * h * h                # q, k, v, out_proj: [s,h] x [h,h] each
            + s * s * h                  # scores Q K^T: 12 heads x [s,64] x [64,s] = s*s*h
            + s * s * h                  # context P V: 12 heads x [s,s] x [s,64] = s*s*h
            + 2 * s * h * ffn            # fc1 [s,h]x[h,4h] and fc2 [s,4h]x[4h,h]
        )                                # = 931,135,488
        lm_head = s * h * V              # logits for every position: 4,941,938,688
        expected = L * per_layer + lm_head
        self.assertEqual(per_layer, 931_135_488)
        self.assertEqual(expected, 16_115_564_544)
        st = graph_stats.stats(export("opt-125m"))
        self.assertEqual(st["macs"], expected)
        # the graph's dims are symbolic: the same file at seq 512
        s2 = 512
        exp512 = L * (4 * s2 * h * h + 2 * s2 * s2 * h + 2 * s2 * h * ffn) + s2 * h * V
        self.assertEqual(graph_stats.stats(export("opt-125m"), {"seq": s2})["macs"], exp512)

    def test_mnist_macs(self):
        # conv1 28*28*16*9 + conv2 28*28*32*16*9 + fc1 6272*1024 + fc2 1024*10
        expected = 28 * 28 * 16 * 9 + 28 * 28 * 32 * 144 + 6272 * 1024 + 1024 * 10
        self.assertEqual(graph_stats.stats(export("mnist-cnn"))["macs"], expected)


if __name__ == "__main__":
    unittest.main()


def mobilenet_v2_macs(r):
    """MACs of MobileNetV2 (width 1.0) at r x r from the architecture table (Sandler et
    al. 2018, Table 2): stem 3x3 s2 conv 3->32; inverted residuals (expansion t, out
    channels c, repeats n, first stride s): 1x1 expand (t != 1), 3x3 depthwise, 1x1
    project; 1x1 conv 320->1280; classifier 1280->1000."""
    table = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
             (6, 160, 3, 2), (6, 320, 1, 1)]
    h = (r - 1) // 2 + 1
    macs, cin = h * h * 32 * 3 * 9, 32
    for t, c, n, s in table:
        for i in range(n):
            stride = s if i == 0 else 1
            hid = cin * t
            if t != 1:
                macs += h * h * cin * hid
            h = (h - 1) // stride + 1
            macs += h * h * hid * 9 + h * h * hid * c
            cin = c
    return macs + h * h * cin * 1280 + 1280 * 1000


class NewZoo(unittest.TestCase):
    def test_resnet18_params_buffers_macs(self):
        st = graph_stats.stats(export("resnet-18"))
        self.assertEqual(st["params"], 11_689_512)          # torch: BN stats are buffers
        # 4800 BatchNorm channels (64 + 4x64 + 5x128 + 5x256 + 5x512) carry 2 x 4800
        # running statistics: stored (weight bytes, int8) but not parameters
        self.assertEqual(st["weight_bytes"], 11_689_512 + 2 * 4800)
        conv3 = 3 * 3
        expected = (112 * 112 * 64 * 3 * 7 * 7                      # conv1 7x7 s2
                    + 4 * 56 * 56 * 64 * 64 * conv3                  # layer1
                    + sum(hw * hw * c * (c // 2) * conv3             # first conv, stride 2
                          + 3 * hw * hw * c * c * conv3              # other three 3x3
                          + hw * hw * c * (c // 2)                   # 1x1 downsample
                          for hw, c in ((28, 128), (14, 256), (7, 512)))
                    + 512 * 1000)                                    # fc
        self.assertEqual(expected, 1_814_073_344)
        self.assertEqual(st["macs"], expected)
        self.assertEqual(st["ops"]["adaptive_avg_pool2d"], 1)

    def test_mobilenet_v2(self):
        g = export("mobilenet-v2")
        st = graph_stats.stats(g)
        self.assertEqual(st["params"], 3_504_872)
        self.assertEqual(mobilenet_v2_macs(224), 300_774_272)
        self.assertEqual(st["macs"], mobilenet_v2_macs(224))
        self.assertEqual(st["ops"]["hardtanh"], 35)                      # ReLU6
        dw = [n for n in g["nodes"] if n["op"] == "conv2d" and n["attrs"]["groups"] > 1]
        self.assertEqual(len(dw), 17)                                    # one per block
        self.assertEqual(dw[0]["params"]["weight"]["shape"], [32, 1, 3, 3])

    def test_vit_tiny(self):
        st = graph_stats.stats(export("vit-tiny"))
        self.assertEqual(st["params"], 5_717_416)
        n, d, mlp, layers = 197, 192, 768, 12          # 14x14 patches + class token
        per_layer = n * d * 3 * d + 2 * n * n * d + n * d * d + 2 * n * d * mlp
        self.assertEqual(st["macs"], 196 * d * 3 * 16 * 16 + layers * per_layer + d * 1000)

    def test_tinyllama_shapes_and_macs(self):
        m = zoo.tinyllama(layers=2)
        g = export_graph.export_module(m, "tinyllama-2", ("batch", "seq"),
                                       lambda s: zoo.example_inputs(m, s), INT8,
                                       {"batch": 1, "seq": 128})
        by = {n["name"]: n for n in g["nodes"]}
        attn = "model.layers.0.self_attn"
        self.assertEqual(by[f"{attn}.k_proj"]["params"]["weight"]["shape"], [256, 2048])
        scores = by[f"{attn}.matmul"]["results"]["data_out_0"]["shape"]
        self.assertEqual(scores, ["batch", 4, 8, "seq", "seq"])            # GQA: 4 x 8 heads
        norm = by["model.layers.0.input_layernorm"]
        self.assertEqual((norm["op"], norm["attrs"]),
                         ("rms_norm", {"normalized_shape": [2048], "eps": 1e-5}))
        st = graph_stats.stats(g)
        self.assertEqual(st["ops"]["rms_norm"], 2 * 2 + 1)
        self.assertEqual(st["params"], zoo.count_params(m))
        s, h, kv, ffn, V = 128, 2048, 256, 5632, 32000
        per_layer = (2 * s * h * h + 2 * s * h * kv        # q, o; k, v (4 kv heads x 64)
                     + 2 * s * s * h                        # scores and context, 32 heads
                     + 3 * s * h * ffn)                     # gate, up, down
        self.assertEqual(st["macs"], 2 * per_layer + s * h * V)
        # RoPE (x*cos + cat(-x2, x1)*sin) is fused: one rope per layer for q and one for k
        self.assertEqual(st["ops"]["rope"], 2 * 2)
        self.assertNotIn("cat", st["ops"])
        rope = by[f"{attn}.rope"]
        self.assertEqual(rope["args"], {"data_in_0": f"{attn}.permute", "data_in_1": "cos",
                                        "data_in_2": "sin"})
        self.assertEqual(rope["results"]["data_out_0"]["shape"], ["batch", 4, 8, "seq", 64])
        self.assertEqual(zoo.count_params(zoo.tinyllama()), 1_100_048_384)

    def test_mamba_block_params_and_macs(self):
        m = zoo.build_model("mamba-block")
        d, di, n, r, k = 768, 1536, 16, 48, 4        # Mamba-130M: expand 2, dt_rank 768/16
        params = (d                                   # RMSNorm weight
                  + d * 2 * di                        # in_proj (x and z, no bias)
                  + di * k + di                       # depthwise conv1d and bias
                  + di * (r + 2 * n)                  # x_proj (dt, B, C; no bias)
                  + r * di + di                       # dt_proj
                  + di * n + di                       # A_log, D
                  + di * d)                           # out_proj
        self.assertEqual(params, 3_771_648)
        self.assertEqual(zoo.count_params(m), params)       # torch
        g = export("mamba-block")
        st = graph_stats.stats(g)
        self.assertEqual(st["params"], params)
        s = 128
        macs = (s * d * 2 * di + s * di * k + s * di * (r + 2 * n) + s * r * di
                + s * di * (4 * n + 2)                # scan: 4 per state + delta*u + D*u
                + s * di * d)
        self.assertEqual(macs, 491_913_216)
        self.assertEqual(st["macs"], macs)
        self.assertEqual(st["ops"]["selective_scan"], 1)
        self.assertEqual(st["ops"]["causal_conv1d"], 1)      # conv1d + slice fused
        by = {x["name"]: x for x in g["nodes"]}
        self.assertEqual(by["mixer.scan"]["params"]["A_log"]["shape"], [di, n])
        self.assertEqual(by["mixer.conv1d"]["results"]["data_out_0"]["shape"],
                         ["batch", di, "seq"])

    def test_mixtral_layer_params_and_macs(self):
        m = zoo.build_model("mixtral-moe-layer")
        h, kv, f, e, top = 4096, 1024, 14336, 8, 2
        params = 2 * h * h + 2 * h * kv + h * e + e * 3 * h * f + 2 * h
        self.assertEqual(params, 1_451_270_144)
        self.assertEqual(zoo.count_params(m), params)       # torch
        g = export("mixtral-moe-layer")
        st = graph_stats.stats(g)
        self.assertEqual(st["params"], params)
        s = 128
        attn = 2 * s * h * h + 2 * s * h * kv + 2 * s * s * h
        moe = s * h * e + s * top * 3 * h * f               # router; 2 SwiGLU experts a token
        self.assertEqual(st["macs"], attn + moe)
        self.assertEqual(st["macs"], 50_604_277_760)
        by = {x["name"]: x for x in g["nodes"]}
        ex = by["block_sparse_moe.experts"]
        self.assertEqual((ex["op"], ex["attrs"]), ("moe_experts", {"top_k": 2, "activation": "silu"}))
        self.assertEqual(ex["params"]["w1"]["shape"], [e, f, h])
        self.assertEqual(ex["args"]["data_in_1"], "block_sparse_moe.router")
        self.assertEqual(by["block_sparse_moe.router"]["op"], "topk_gate")
        self.assertEqual(st["ops"]["rope"], 2)


SIMULATE = os.environ.get("MASESIM_SIMULATE") or os.path.join(helpers.ROOT, "build", "simulate")


@unittest.skipUnless(os.access(SIMULATE, os.X_OK), f"no simulate binary at {SIMULATE}")
class NewZooLoads(unittest.TestCase):
    """Every op the exporters emit for the new zoo models is one the simulator's op
    registry knows, with the same shapes: simulate --summary loads each graph and counts
    the exporter's parameters and MACs."""

    def summary(self, g):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "g.json"), "w") as f:
                json.dump(g, f)
            cfg = os.path.join(tmp, "sys.yaml")
            with open(cfg, "w") as f:
                f.write("workload:\n  graph: g.json\n  inferences: 1\nsystem:\n  devices:\n"
                        "    - {name: fpga0, type: u250}\n")
            r = subprocess.run([SIMULATE, "--config", cfg, "--summary"], capture_output=True,
                               text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def check(self, g):
        st = graph_stats.stats(g)
        out = self.summary(g)
        self.assertIn(f"parameters    {st['params']}\n", out)
        self.assertIn(f"macs          {st['macs']}\n", out)

    def test_resnet18(self):
        self.check(export("resnet-18"))

    def test_mobilenet_v2(self):
        self.check(export("mobilenet-v2"))

    def test_vit_tiny(self):
        self.check(export("vit-tiny"))

    def test_mamba_block(self):
        self.check(export("mamba-block"))

    def test_mixtral_moe_layer(self):
        self.check(export("mixtral-moe-layer"))

    def run_sim(self, g):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "g.json"), "w") as f:
                json.dump(g, f)
            cfg = os.path.join(tmp, "sys.yaml")
            with open(cfg, "w") as f:
                f.write("workload:\n  graph: g.json\n  inferences: 2\nsystem:\n  devices:\n"
                        "    - {name: fpga0, type: u250}\n")
            r = subprocess.run([SIMULATE, "--config", cfg], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_small_mamba_and_mixtral_simulate(self):
        """The new ops' timing and resources run end to end (small shapes that fit)."""
        for m in (zoo.mamba_block(d_model=64), zoo.mixtral_layer(hidden=64, heads=4, kv_heads=2,
                                                                  ffn=128)):
            m.eval()
            g = export_graph.export_module(m, "small", ("batch", "seq"),
                                           lambda s, m=m: zoo.example_inputs(m, s), INT8,
                                           {"batch": 1, "seq": 16})
            self.assertIn("throughput", self.run_sim(g))

    def test_tinyllama_two_layers(self):
        m = zoo.tinyllama(layers=2)
        self.check(export_graph.export_module(m, "tinyllama-2", ("batch", "seq"),
                                              lambda s: zoo.example_inputs(m, s), INT8,
                                              {"batch": 1, "seq": 32}))
