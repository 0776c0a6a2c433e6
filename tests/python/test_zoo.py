"""Zoo parameter counts (module and exported graph) and the OPT-125M MAC count."""
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
