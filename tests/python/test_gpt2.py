"""GPT-2 in the zoo: parameter counts and MACs against hand formulas, the exported
structure (learned positions, pre-LN, tanh GELU, tied head), the committed graphs through
`simulate --summary`, and one short LLM-mode run (docs/workloads.md "GPT-2")."""
import json
import os
import subprocess
import tempfile
import unittest

import torch
import torch.nn as nn
import torch.nn.functional as F

import helpers
import export_graph
import graph_stats
import masesim_models as zoo
from mase_graph_common import QuantConfig

INT8 = QuantConfig.load(preset="int8")
V, P = 50257, 1024          # vocabulary, positions

# name: (layers, hidden, heads)
SHAPES = {
    "gpt2": (12, 768, 12),
    "gpt2-medium": (24, 1024, 16),
    "gpt2-large": (36, 1280, 20),
    "gpt2-xl": (48, 1600, 25),
    "gpt2-1.5b-dfx": (48, 1536, 24),
}


def hand_params(L, h):
    """wte V*h + wpe P*h + L * (ln_1 2h + q,k,v,c_proj 4(h*h + h) + ln_2 2h
    + c_fc 4h*h + 4h + mlp.c_proj 4h*h + h) + ln_f 2h; the tied LM head adds nothing.
    Per layer: 12h^2 + 13h."""
    per_layer = 2 * h + 4 * (h * h + h) + 2 * h + (4 * h * h + 4 * h) + (4 * h * h + h)
    assert per_layer == 12 * h * h + 13 * h
    return V * h + P * h + L * per_layer + 2 * h


def hand_macs(L, h, s):
    """MACs of one prefill of s tokens, batch 1: per layer q, k, v, c_proj 4*s*h^2,
    c_fc and mlp.c_proj 2*s*h*4h = 8*s*h^2, scores Q K^T (heads x [s, d] x [d, s] =
    s^2*h) and context P V (s^2*h); the LM head s*h*V (logits for every position;
    embeddings, LayerNorms, GELU, softmax and adds are not MACs)."""
    return L * (12 * s * h * h + 2 * s * s * h) + s * h * V


def export(name, seq=128):
    return export_graph.export_zoo(name, INT8, {"batch": 1, "seq": seq})


class Gpt2Params(unittest.TestCase):
    def test_hand_values(self):
        # the published HF GPT2LMHeadModel sizes (tied head counted once)
        self.assertEqual(hand_params(12, 768), 124_439_808)
        self.assertEqual(hand_params(24, 1024), 354_823_168)
        self.assertEqual(hand_params(36, 1280), 774_030_080)
        self.assertEqual(hand_params(48, 1600), 1_557_611_200)
        self.assertEqual(hand_params(48, 1536), 1_438_683_648)

    def test_module_and_graph_counts_equal_hand_formula(self):
        for name, (L, h, heads) in SHAPES.items():
            with self.subTest(model=name):
                m = zoo.build_model(name)
                self.assertEqual(zoo.count_params(m), hand_params(L, h))
                self.assertEqual(zoo.PUBLISHED_PARAMS[name], hand_params(L, h))
                self.assertEqual(zoo.gpt2_params(L, h), hand_params(L, h))
                self.assertEqual(len(m.transformer.h), L)
                self.assertEqual(m.transformer.h[0].attn.heads, heads)
                self.assertEqual(graph_stats.stats(export(name, 16))["params"],
                                 hand_params(L, h))

    def test_tied_head_is_counted_once(self):
        m = zoo.build_model("gpt2")
        self.assertIs(m.lm_head.weight, m.transformer.wte.weight)
        untied = sum(p.numel() for p in m.parameters()) + V * 768
        self.assertEqual(untied, 124_439_808 + 38_597_376)    # V*h = 38,597,376


class Gpt2Graph(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.g = export("gpt2")
        cls.by = {n["name"]: n for n in cls.g["nodes"]}

    def test_learned_positions_and_tied_head(self):
        by = self.by
        self.assertEqual(by["transformer.wpe"]["op"], "embedding")
        self.assertEqual(by["transformer.wpe"]["params"]["weight"]["shape"], [P, 768])
        self.assertEqual(by["transformer.wpe"]["args"], {"data_in_0": "position_ids"})
        self.assertEqual(by["transformer.wte"]["params"]["weight"]["shape"], [V, 768])
        lm = by["lm_head"]
        self.assertEqual(lm["params"]["weight"]["shared_with"], "transformer.wte.weight")
        self.assertNotIn("bias", lm["params"])
        self.assertEqual(lm["args"], {"data_in_0": "transformer.ln_f"})
        self.assertEqual(self.g["outputs"], ["lm_head"])

    def test_pre_layer_norm_and_tanh_gelu(self):
        by, b = self.by, "transformer.h.0"
        for p in ("q_proj", "k_proj", "v_proj"):
            self.assertEqual(by[f"{b}.attn.{p}"]["args"], {"data_in_0": f"{b}.ln_1"})
            self.assertEqual(by[f"{b}.attn.{p}"]["params"]["weight"]["shape"], [768, 768])
        self.assertEqual(by[f"{b}.mlp.c_fc"]["args"], {"data_in_0": f"{b}.ln_2"})
        self.assertEqual(by[f"{b}.mlp.c_fc"]["params"]["weight"]["shape"], [3072, 768])
        self.assertEqual((by[f"{b}.mlp.act"]["op"], by[f"{b}.mlp.act"]["attrs"]),
                         ("gelu", {"approximate": "tanh"}))
        # scores scaled by 1/sqrt(64), not the query
        self.assertEqual(by[f"{b}.attn.mul"]["args"], {"data_in_0": f"{b}.attn.matmul"})
        self.assertEqual(by[f"{b}.attn.mul"]["attrs"], {"scalar": 0.125})
        st = graph_stats.stats(self.g)
        self.assertEqual(st["ops"]["layer_norm"], 2 * 12 + 1)
        self.assertEqual(st["ops"]["gelu"], 12)

    def test_macs(self):
        self.assertEqual(hand_macs(12, 768, 128), 16_114_089_984)
        self.assertEqual(graph_stats.stats(self.g)["macs"], hand_macs(12, 768, 128))
        self.assertEqual(graph_stats.stats(self.g, {"seq": 37})["macs"], hand_macs(12, 768, 37))
        med = export("gpt2-medium", 16)
        self.assertEqual(graph_stats.stats(med)["macs"], hand_macs(24, 1024, 16))

    def test_functional_gelu_keeps_its_form(self):
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 8, device="meta")

            def forward(self, x):
                return F.gelu(self.fc(x), approximate="tanh") + F.gelu(x)

        g = export_graph.export_module(M().eval(), "m", ("batch",),
                                       lambda s: {"x": torch.zeros(s["batch"], 8,
                                                                   device="meta")}, INT8)
        gelus = [n.get("attrs", {}) for n in g["nodes"] if n["op"] == "gelu"]
        self.assertEqual(gelus, [{"approximate": "tanh"}, {}])


SIMULATE = os.environ.get("MASESIM_SIMULATE") or os.path.join(helpers.ROOT, "build", "simulate")
COMMITTED = {"gpt2_int8.json": (12, 768), "gpt2_medium_int8.json": (24, 1024)}


@unittest.skipUnless(os.access(SIMULATE, os.X_OK), f"no simulate binary at {SIMULATE}")
class Gpt2Simulate(unittest.TestCase):
    def run_sim(self, yaml_text, *args):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = os.path.join(tmp, "sys.yaml")
            with open(cfg, "w") as f:
                f.write(yaml_text)
            out = [] if "--summary" in args else ["-o", os.path.join(tmp, "out")]
            r = subprocess.run([SIMULATE, "--config", cfg, *args, *out], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            if not out:
                return r.stdout, None
            with open(os.path.join(tmp, "out", "stats.json")) as f:
                return r.stdout, json.load(f)

    def test_committed_graphs_summary_macs(self):
        for fname, (L, h) in COMMITTED.items():
            for seq in (128, 64):
                with self.subTest(graph=fname, seq=seq):
                    out, _ = self.run_sim(
                        f"workload:\n  graph: {os.path.join(helpers.GRAPHS, fname)}\n"
                        f"  inferences: 1\n  dims: {{seq: {seq}}}\nsystem:\n  devices:\n"
                        f"    - {{name: fpga0, type: u250}}\n", "--summary")
                    self.assertIn(f"parameters    {hand_params(L, h)}\n", out)
                    self.assertIn(f"macs          {hand_macs(L, h, seq)}\n", out)

    def test_gpt2_generates_on_one_u280(self):
        # 16-token prompt, 4 new tokens: the KV cache at the longest context (20 tokens)
        # is 2 (K, V) x 12 layers x 20 x 768 x 1 byte (int8) = 368,640 bytes
        _, st = self.run_sim(
            f"workload:\n  graph: {os.path.join(helpers.GRAPHS, 'gpt2_int8.json')}\n"
            "  phase: generate\n  prompt_len: 16\n  gen_tokens: 4\n  batch: 1\n"
            "system:\n  devices:\n    - {name: fpga0, type: u280}\n"
            "mapping:\n  weights: auto\n  kv_cache: auto\n  auto: true\n"
            "  utilisation_cap: 0.9\n", "-q")
        self.assertEqual(st["kv_cache_bytes_per_sequence"], 2 * 12 * 20 * 768)
        self.assertEqual(st["llm"]["tokens"], 4)
        self.assertGreater(st["ttft_us"], 0)
        self.assertGreater(st["tpot_us"], 0)


if __name__ == "__main__":
    unittest.main()
