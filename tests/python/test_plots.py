"""scripts/plot_sweep.py on a synthetic results directory (no simulate needed): every PNG
is written, failed points are counted in the legend, a 256-device point gets a heatmap of
bounded width, log2 device axes, Pareto costs that compare boards, unreadable inputs."""
import contextlib
import csv
import io
import json
import os
import shutil
import struct
import subprocess
import tempfile
import unittest

import helpers  # noqa: F401  (puts scripts/ on sys.path)

try:
    import matplotlib  # noqa: F401
    HAVE_MPL = True
except ImportError:
    HAVE_MPL = False

ROOT = helpers.ROOT
PY = "/usr/bin/python3"
PLOT = os.path.join(ROOT, "scripts", "plot_sweep.py")

# per-device capacity of the two synthetic boards (LUT, FF, DSP, BRAM36, URAM)
BOARDS = {"big": (1000, 2000, 100, 50, 20), "small": (500, 1000, 50, 25, 10)}
RES = ("lut", "ff", "dsp", "bram36", "uram")


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def make_results(d):
    """A sweep dir: graph {g_a, g_b} x board {big, small} x count {1, 4, 16, 64, 256}.
    g_b on one small board does not fit (failed, exit 2); g_a and g_b on big boards have
    equal throughput (coincident series); the 256-device points have 256 devices."""
    from masesim_sweep.results import csv_text, make_row
    from masesim_sweep.spec import point_id

    class P:
        def __init__(self, i, a):
            self.index, self.assignments, self.id = i, a, point_id(a)
            self.name = ",".join(f"{k.split('.')[-1]}={os.path.basename(str(v)).split('.')[0]}"
                                 for k, v in a.items())

    axes = {"workload.graph": ["/g/net_g_a.json", "/g/net_g_b.json"], "system.devices.0.type": ["big", "small"],
            "system.devices.0.count": [1, 4, 16, 64, 256]}
    pts, rows = [], []
    for g in axes["workload.graph"]:
        for b in axes["system.devices.0.type"]:
            for n in axes["system.devices.0.count"]:
                p = P(len(pts), {"workload.graph": g, "system.devices.0.type": b, "system.devices.0.count": n})
                pts.append(p)
                if g.endswith("g_b.json") and b == "small" and n == 1:
                    rows.append(make_row(p, "failed", 2, None, "simulation failed: partition: the 40 nodes do "
                                         "not fit on 1 device (utilisation cap 0.8); more devices are needed"))
                    continue
                used = min(n, 8)  # the mapper uses at most 8 boards
                thr = 100.0 * used * (1 if b == "big" else 0.5)
                devs = {}
                for i in range(n):
                    u = 0.0 if i >= used else 0.1 + 0.7 * ((i * 37) % 11) / 10
                    devs[f"fpga{i}"] = {"type": b, "resources": {
                        r: {"used": int(c * u), "available": c, "utilisation": int(c * u) / c}
                        for r, c in zip(RES, BOARDS[b])}}
                stats = {"throughput_inferences_per_s": thr, "latency_us": 10.0, "system": {"devices": n},
                         "mapping": {"devices_used": used}, "devices": devs,
                         "bottleneck": {"node": "fc1", "bound": "compute"}}
                os.makedirs(os.path.join(d, "points", p.id, "out"))
                with open(os.path.join(d, "points", p.id, "out", "stats.json"), "w") as f:
                    json.dump(stats, f)
                with open(os.path.join(d, "points", p.id, "out", "config.yaml"), "w") as f:
                    f.write("mapping:\n  utilisation_cap: 0.8\n")
                rows.append(make_row(p, "ok", 0, stats))
    with open(os.path.join(d, "results.csv"), "w") as f:
        f.write(csv_text(axes, rows))
    with open(os.path.join(d, "sweep.json"), "w") as f:
        json.dump({"name": "synthetic", "axes": axes, "points": [{"id": p.id, "name": p.name, "index": p.index,
                                                                 "assignments": p.assignments} for p in pts]}, f)
    return pts


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@unittest.skipUnless(HAVE_MPL, "matplotlib missing (apt-get install python3-matplotlib)")
class Plots(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="test_plots-")
        cls.dir = os.path.join(cls.tmp, "sweep")
        cls.pts = make_results(cls.dir)
        cls.by_name = {p.name: p for p in cls.pts}
        cls.big256 = cls.by_name["graph=net_g_a,type=big,count=256"]
        cls.out = os.path.join(cls.tmp, "plots")
        cls.cli = subprocess.run([PY, PLOT, cls.dir, "--plots-dir", cls.out, "--point", cls.big256.id],
                                 capture_output=True, text=True, timeout=120)
        import plot_sweep
        cls.ps = plot_sweep

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def plot(self, *args, d=None):
        """plot_sweep.main in this process (the CLI itself runs once, in setUpClass):
        (exit code, stderr)."""
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = self.ps.main([d or self.dir, *args])
        return rc, err.getvalue()

    def test_cli_writes_every_plot_bounded(self):
        r = self.cli
        self.assertEqual(r.returncode, 0, r.stderr)
        files = ["throughput_vs_devices.png", "pareto.png", "pareto.csv", f"utilisation_{self.big256.id}.png"]
        self.assertEqual(r.stdout.splitlines()[:4], [os.path.join(self.out, f) for f in files])
        for f in files[:2] + files[3:]:
            w, h = png_size(os.path.join(self.out, f))
            self.assertLessEqual(w, 12 * 120, f)  # FIG_WIDTH_MAX_IN x dpi, whatever the device count
            self.assertGreater(h, 300, f)

    def test_throughput_axes_series_and_failures(self):
        man, rows = self.ps.load(self.dir)
        series = self.ps.default_series(man, rows, "devices")
        self.assertEqual(series, ["workload.graph", "system.devices.0.type"])
        info = self.ps.plot_throughput(man, rows, "devices", series, os.path.join(self.tmp, "t.png"))
        self.assertEqual(info["series"], ["a, big", "a, small", "b, big", "b, small"])  # no repeated "net_g_"
        self.assertTrue(info["log2"])
        self.assertEqual(info["xticks"], [1, 2, 4, 8, 16, 32, 64, 128, 256])
        self.assertEqual(info["failed"], {"does not fit": 1})  # drawn, with a legend entry
        # g_a and g_b coincide at every count: 5 counts on big boards, 4 on small ones (g_b
        # on one small board failed): each of these points is drawn beside its twin
        self.assertEqual(info["side_by_side"], 2 * 5 + 2 * 4)

    def test_pareto_costs_compare_boards(self):
        front = read_csv(os.path.join(self.out, "pareto.csv"))
        self.assertEqual({x["cost"] for x in front}, {"boards", "norm", "lut", "dsp", "bram36", "uram"})
        boards = [(float(x["cost_value"]), float(x["throughput_inferences_per_s"])) for x in front
                  if x["cost"] == "boards"]
        self.assertEqual(boards, [(1, 100), (4, 400), (8, 800)])
        # LUT+DSP in units of one reference board (the first: big) for every point, so a
        # small board's point costs half of a big board's at the same utilisation
        rows = {x["id"]: x for x in read_csv(os.path.join(self.dir, "results.csv"))}
        norm = [x for x in front if x["cost"] == "norm"]
        self.assertEqual(rows[norm[0]["id"]]["device_types"], "small")
        for x in norm:
            row = rows[x["id"]]
            want = (float(row["lut_used"]) / 1000 + float(row["dsp_used"]) / 100) / 2
            self.assertAlmostEqual(float(x["cost_value"]), want, places=6)
        one_big, one_small = (float(x["cost_value"]) for x in norm[:2][::-1])
        self.assertEqual((rows[norm[1]["id"]]["device_types"], one_small / one_big), ("big", 0.5))

    def test_utilisation_bars_then_heatmap(self):
        man, rows = self.ps.load(self.dir)
        for name, kind in (("graph=net_g_a,type=small,count=4", "bars"),
                           ("graph=net_g_a,type=big,count=16", "heatmap")):
            r = [x for x in rows if x["name"] == name][0]
            devs, util, cap = self.ps.point_devices(self.dir, r)
            self.assertEqual(cap, 0.8)
            path = os.path.join(self.tmp, f"u_{kind}.png")
            self.assertEqual(self.ps.plot_utilisation(man, r, devs, util, cap, path), kind)
            self.assertLessEqual(png_size(path)[0], 12 * 120)

    def test_failed_point_and_unreadable_inputs_named(self):
        failed = self.by_name["graph=net_g_b,type=small,count=1"]
        rc, err = self.plot("--plots-dir", os.path.join(self.tmp, "p1"), "--point", failed.id)
        self.assertEqual(rc, 1)
        self.assertIn(f"point {failed.id} (graph=net_g_b,type=small,count=1) has no stats.json (status failed)", err)
        d = os.path.join(self.tmp, "broken")
        shutil.copytree(self.dir, d)
        p = self.by_name["graph=net_g_a,type=big,count=16"]
        sj = os.path.join(d, "points", p.id, "out", "stats.json")
        with open(sj, "w") as f:
            f.write("null")
        rc, err = self.plot("--plots-dir", os.path.join(self.tmp, "p2"), "--point", p.id, d=d)
        self.assertEqual(rc, 1)
        self.assertIn(f"plot_sweep: error: {sj}: unreadable", err)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "p2")))  # checked before drawing
        with open(os.path.join(d, "sweep.json"), "w") as f:
            f.write('{"name": ')
        rc, err = self.plot(d=d)
        self.assertEqual(rc, 1)
        self.assertIn(f"plot_sweep: error: {os.path.join(d, 'sweep.json')}: unreadable", err)


if __name__ == "__main__":
    unittest.main()
