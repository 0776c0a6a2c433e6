"""bench/resource_fit.py: a run on a subset of the calibration CSVs writes its validation
tables into a document's generated section; bad inputs exit 1 with a message; on the full
data the constants in models/hls_blocks.cpp are the script's.

Reads ../shared/calibration/mase-hls-u250 beside the repository (skipped without it).
Asserts that the script runs and what it writes, not an error threshold.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

import helpers

ROOT = helpers.ROOT
PY = "/usr/bin/python3"
FIT = os.path.join(ROOT, "bench", "resource_fit.py")
DATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "calibration", "mase-hls-u250"))
SUBSET = ["int_relu.csv", "int_add.csv", "int_softmax.csv", "fork.csv"]
BEGIN, END = "<!-- BEGIN resource_fit.py -->", "<!-- END resource_fit.py -->"


def run(*args):
    return subprocess.run([PY, FIT, *args], capture_output=True, text=True, timeout=600)


@unittest.skipUnless(os.path.isdir(DATA), f"no calibration data at {DATA}")
class ResourceFit(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="resource_fit_")
        self.data = os.path.join(self.tmp, "data")
        os.mkdir(self.data)
        for f in SUBSET:
            shutil.copy(os.path.join(DATA, f), self.data)
        self.doc = os.path.join(self.tmp, "doc.md")
        with open(self.doc, "w") as fh:
            fh.write(f"# before\n\n{BEGIN}\nstale table\n{END}\n\nafter\n")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_subset_writes_tables(self):
        r = run("--data", self.data, "--write-doc", self.doc, "--quiet")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.doc) as fh:
            doc = fh.read()
        self.assertTrue(doc.startswith("# before\n\n" + BEGIN + "\n"))
        self.assertTrue(doc.endswith(END + "\n\nafter\n"))
        self.assertNotIn("stale table", doc)
        for title in ("Per-family tables, interpolation", "Leave one family out",
                      "Leave widths out", "Leave lanes out", "Fitted constants"):
            self.assertIn(title, doc)
        self.assertIn("| family | rows | LUT | FF | DSP |", doc)
        lofo = doc[doc.index("Leave one family out"):doc.index("Leave widths out")]
        # One row per family of the subset, with every row of its CSV.
        for fam, rows in (("relu", 512), ("add", 4096), ("softmax", 512), ("fork", 5120)):
            self.assertIn(f"| {fam} | {rows} | ", lofo)
        self.assertNotIn("| linear |", lofo)
        self.assertIn("int_relu.csv (512)", doc)

    def test_bad_inputs(self):
        r = run("--data", os.path.join(self.tmp, "missing"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("calibration directory not found", r.stderr)
        empty = os.path.join(self.tmp, "empty")
        os.mkdir(empty)
        r = run("--data", empty)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no calibration CSV in", r.stderr)
        nomark = os.path.join(self.tmp, "nomark.md")
        with open(nomark, "w") as fh:
            fh.write("no markers\n")
        r = run("--data", self.data, "--write-doc", nomark, "--quiet")
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"--write-doc {nomark}: markers", r.stderr)
        self.assertNotIn("Traceback", r.stderr)

    def test_cpp_constants_are_the_fit(self):
        r = run("--quiet", "--check-cpp", os.path.join(ROOT, "models", "hls_blocks.cpp"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("constants match the fit", r.stdout)


if __name__ == "__main__":
    unittest.main()
