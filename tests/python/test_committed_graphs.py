"""The committed workloads/graphs/*.json are exactly what export_graph.py makes."""
import os
import tempfile
import unittest

import helpers
import export_graph
import graph_stats
from mase_graph_common import load_graph


class CommittedGraphs(unittest.TestCase):
    def test_regenerated_graphs_are_byte_identical(self):
        with tempfile.TemporaryDirectory() as tmp:
            written = export_graph.regenerate(tmp)
            self.assertEqual(len(written), len(export_graph.COMMITTED))
            for path in written:
                fname = os.path.basename(path)
                with self.subTest(graph=fname):
                    committed = os.path.join(helpers.GRAPHS, fname)
                    self.assertTrue(os.path.exists(committed), f"{committed} is not committed; "
                                    f"run scripts/export_graph.py --regen workloads/graphs")
                    with open(path, "rb") as a, open(committed, "rb") as b:
                        self.assertEqual(a.read(), b.read(),
                                         f"{fname} differs; run scripts/export_graph.py --regen "
                                         f"workloads/graphs")

    def test_committed_graphs_are_small_and_well_formed(self):
        allowed_top = {"format", "version", "name", "dims", "inputs", "nodes", "outputs", "attrs"}
        allowed_node = {"name", "op", "args", "params", "attrs", "results", "hw", "implicit"}
        for fname in export_graph.COMMITTED:
            path = os.path.join(helpers.GRAPHS, fname)
            with self.subTest(graph=fname):
                self.assertLess(os.path.getsize(path), 2_000_000)
                g = load_graph(path)
                self.assertEqual(set(g) - allowed_top, set())
                self.assertEqual(g["format"], "mase-graph")
                self.assertEqual(g["version"], 1)
                names = {i["name"] for i in g["inputs"]}
                for n in g["nodes"]:
                    self.assertEqual(set(n) - allowed_node, set(), n["name"])
                    for ref in n["args"].values():
                        self.assertIn(ref.split(".data_out_")[0] if ".data_out_" in ref else ref,
                                      names, f"{n['name']} refers to a later/unknown producer")
                    self.assertNotIn(n["name"], names)
                    names.add(n["name"])
                    for t in list(n.get("params", {}).values()) + list(n["results"].values()):
                        self.assertIn("precision", t)
                # multi-consumer outputs are preserved (residuals, shared LN output)
                uses = {}
                for n in g["nodes"]:
                    for ref in n["args"].values():
                        uses[ref] = uses.get(ref, 0) + 1
                if fname.startswith(("opt", "bert", "gpt2")):
                    self.assertGreater(max(uses.values()), 1)
                self.assertGreater(graph_stats.stats(g)["macs"], 0)


if __name__ == "__main__":
    unittest.main()
