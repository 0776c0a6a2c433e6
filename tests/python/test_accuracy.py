"""scripts/accuracy.py: synthetic digits, training, float / int8 emulation / int8 hardware
accuracy of the MNIST CNN (docs/accuracy.md), in a reduced configuration (~50 s).

Needs torch and the simulate binary: $MASESIM_SIMULATE (CMake sets it), else build/simulate.
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import numpy as np

import helpers  # noqa: F401  (puts scripts/ on sys.path)

ROOT = helpers.ROOT
PY = "/usr/bin/python3"
SCRIPT = os.path.join(ROOT, "scripts", "accuracy.py")
SIMULATE = os.environ.get("MASESIM_SIMULATE") or os.path.join(ROOT, "build", "simulate")
HAVE_SIM = os.access(SIMULATE, os.X_OK)
try:
    import torch  # noqa: F401
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False

if HAVE_TORCH:
    import accuracy


@unittest.skipUnless(HAVE_TORCH, "needs python3-torch")
class Digits(unittest.TestCase):
    def test_deterministic_and_varied(self):
        a, la = accuracy.make_digits(40, 7)
        b, lb = accuracy.make_digits(40, 7)
        c, _ = accuracy.make_digits(40, 8)
        self.assertEqual(a.shape, (40, 1, 28, 28))
        self.assertEqual(a.dtype, np.float32)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(la, lb)
        self.assertFalse(np.array_equal(a, c))
        self.assertGreaterEqual(a.min(), 0.0)
        self.assertLessEqual(a.max(), 1.0)
        self.assertTrue(set(range(10)) <= set(accuracy.make_digits(200, 1)[1].tolist()))
        # two images of the same digit differ (jitter)
        d = la[0]
        same = [i for i in range(1, 40) if la[i] == d]
        self.assertTrue(same)
        self.assertGreater(np.abs(a[0] - a[same[0]]).mean(), 0.01)

    def test_fast_forward_is_the_module(self):
        import masesim_models as zoo
        torch.manual_seed(0)
        m = zoo.build_model("mnist-cnn", device="cpu")
        x = torch.rand(3, 1, 28, 28)
        with torch.no_grad():
            self.assertLess(float((accuracy.forward(m, x) - m(x)).abs().max()), 1e-5)


@unittest.skipUnless(HAVE_TORCH, "needs python3-torch")
@unittest.skipUnless(HAVE_SIM, f"no simulate binary at {SIMULATE}")
class Study(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="test_accuracy-")
        cls.proc = subprocess.run(
            [PY, SCRIPT, "--simulate", SIMULATE, "--train", "1500", "--test", "64",
             "--epochs", "3", "--calib", "256", "--seed", "0", "--out", cls.tmp],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
        cls.res = None
        path = os.path.join(cls.tmp, "accuracy.json")
        if cls.proc.returncode == 0 and os.path.exists(path):
            with open(path) as f:
                cls.res = json.load(f)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stdout + self.proc.stderr)
        self.assertIsNotNone(self.res)

    def test_keys(self):
        r = self.res
        for k in ("model", "seed", "train_images", "test_images", "epochs", "float",
                  "presets", "train_seconds"):
            self.assertIn(k, r)
        self.assertEqual((r["train_images"], r["test_images"], r["epochs"]), (1500, 64, 3))
        pr = r["presets"]["int8"]
        for k in ("balance_exponents", "emulation", "hardware", "output_node", "graph"):
            self.assertIn(k, pr)
        for k in ("accuracy", "images_differing_from_emulation", "simulate_wall_seconds",
                  "max_abs_logit_difference"):
            self.assertIn(k, pr["hardware"])
        self.assertEqual(pr["output_node"], "fc2")
        self.assertIn("int8 hardware", self.proc.stdout)      # the table

    def test_float_above_chance(self):
        self.assertGreater(self.res["float"]["accuracy"], 0.5)
        # power-of-two balancing does not change the float model's predictions
        pr = self.res["presets"]["int8"]
        self.assertEqual(pr["float_balanced_accuracy"], self.res["float"]["accuracy"])
        self.assertGreater(pr["emulation"]["accuracy"], 0.3)

    def test_hardware_equals_emulation(self):
        pr = self.res["presets"]["int8"]
        hw = pr["hardware"]
        self.assertEqual(hw["accuracy"], pr["emulation"]["accuracy"])
        self.assertEqual(hw["images_differing_from_emulation"], 0)
        self.assertEqual(hw["max_abs_logit_difference"], 0.0)

    def test_outputs_bit_exact(self):
        """The simulator's fc2.npy against an independent quant_emulation run over the
        exported graph, data and test inputs."""
        from mase_graph_common import load_graph
        pr = self.res["presets"]["int8"]
        gpath = os.path.join(self.tmp, pr["graph"])
        graph = load_graph(gpath)
        data = gpath[:-len(".json")] + ".data"
        hw = np.load(os.path.join(self.tmp, "sim", "outputs", "fc2.npy"))
        x = np.load(os.path.join(data, "inputs", "x.npy"))
        self.assertEqual(x.shape, (64, 1, 1, 28, 28))
        self.assertEqual(hw.shape, (64, 1, 10))
        sd = torch.load(os.path.join(self.tmp, "model_int8.pt"))
        emu, _ = accuracy.emulate(graph, sd, x.reshape(64, 1, 28, 28).astype(np.float32))
        np.testing.assert_array_equal(hw.reshape(64, 10), emu)


if __name__ == "__main__":
    unittest.main()
