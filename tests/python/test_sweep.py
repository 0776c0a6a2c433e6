"""scripts/sweep.py and scripts/plot_sweep.py: spec expansion, local and Dask backends,
resume after a deleted point / a killed simulation / a killed sweep, failed points, plots.

Needs the simulate binary: $MASESIM_SIMULATE (CMake sets it), else build/simulate.
The Dask test starts a scheduler and two workers on 127.0.0.1 (skipped without
python3-distributed); every process a test starts is killed in tearDown.
"""
import csv
import io
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import warnings

import helpers  # noqa: F401  (puts scripts/ on sys.path)
from masesim_sweep import spec as sweep_spec

ROOT = helpers.ROOT
PY = "/usr/bin/python3"
SWEEP = os.path.join(ROOT, "scripts", "sweep.py")
PLOT = os.path.join(ROOT, "scripts", "plot_sweep.py")
MNIST_SPEC = os.path.join(ROOT, "configs", "sweeps", "mnist_parallelism.yaml")
SIMULATE = os.path.abspath(os.environ.get("MASESIM_SIMULATE") or os.path.join(ROOT, "build", "simulate"))
HAVE_SIM = os.access(SIMULATE, os.X_OK)

try:
    import distributed  # noqa: F401
    HAVE_DASK = True
except ImportError:
    HAVE_DASK = False
try:
    import matplotlib  # noqa: F401
    HAVE_MPL = True
except ImportError:
    HAVE_MPL = False

# a simulate stand-in: logs which point runs (and its pid), can sleep, can die by SIGKILL
# for one point, can hang (SWEEPTEST_HANG: a child `sleep`, so the point is a process group
# of two), can write a stats.json of its own (SWEEPTEST_STATS) instead of simulating
WRAPPER = """#!/bin/sh
if [ "$1" = "--list-keys" ]; then exec "{real}" "$@"; fi
basename "$(pwd)" >> "{log}"
echo $$ >> "{log}.pids"
if [ -n "$SWEEPTEST_KILL_MATCH" ] && grep -q "$SWEEPTEST_KILL_MATCH" config.yaml; then kill -9 $$; fi
if [ -n "$SWEEPTEST_DELAY" ]; then sleep "$SWEEPTEST_DELAY"; fi
if [ -n "$SWEEPTEST_HANG" ]; then sleep "$SWEEPTEST_HANG"; exit 0; fi
if [ -n "$SWEEPTEST_STATS" ]; then mkdir -p out; printf '%s' "$SWEEPTEST_STATS" > out/stats.json; exit 0; fi
exec "{real}" "$@"
"""


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_text(path):
    with open(path) as f:
        return f.read()


def pid_alive(pid):
    """True while pid runs (a zombie counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def group_alive(pgid):
    """True while a process of group pgid runs."""
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def listening(pid):
    """The local addresses ('127.0.0.1', '0.0.0.0', '::', ...) pid's TCP sockets listen on."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    found = []
    for name in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{name}") as f:
            for line in f.readlines()[1:]:
                x = line.split()
                if x[3] == "0A" and x[9] in inodes:  # LISTEN
                    raw = bytes.fromhex(x[1].split(":")[0])
                    if name == "tcp":
                        found.append(".".join(str(b) for b in reversed(raw)))
                    else:
                        import ipaddress
                        words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
                        found.append(str(ipaddress.IPv6Address(b"".join(words))))
    return found


class Tmp(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="test_sweep-")
        self.procs = []

    def tearDown(self):
        for p in self.procs:  # the process groups this test started, by id
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for s in (p.stdout, p.stderr):
                if s:
                    s.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, text):
        p = os.path.join(self.tmp, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def wrapper(self):
        """A simulate wrapper logging into self.log (one line per point run)."""
        self.log = os.path.join(self.tmp, "runs.log")
        p = self.write("simulate.sh", WRAPPER.format(real=SIMULATE, log=self.log))
        os.chmod(p, 0o755)
        return p

    def runs(self):
        """Point ids the wrapper has run (the scratch dir is point-<id>-XXXX)."""
        if not os.path.exists(self.log):
            return []
        return [l.split("-")[1] for l in read_text(self.log).split()]

    def pids(self):
        """Process ids of the wrapper runs (each the leader of its point's process group)."""
        p = self.log + ".pids"
        return [int(x) for x in read_text(p).split()] if os.path.exists(p) else []

    def sweep(self, out, *args, spec=MNIST_SPEC, simulate=SIMULATE, env=None, timeout=60):
        e = dict(os.environ, **(env or {}))
        return subprocess.run([PY, SWEEP, "--spec", spec, "--out", out, "--simulate", simulate, *args],
                              capture_output=True, text=True, timeout=timeout, env=e)


class SpecExpansion(unittest.TestCase):
    """Pure: no simulate needed."""

    def load(self, text, name="s.yaml"):
        d = tempfile.mkdtemp(prefix="test_sweep_spec-")
        self.addCleanup(shutil.rmtree, d, True)
        os.makedirs(os.path.join(d, "cfg"))
        with open(os.path.join(d, "cfg", "base.yaml"), "w") as f:
            f.write("workload:\n  graph: ../g/model.json\n  inferences: 4\n"
                    "system:\n  devices:\n    - {name: fpga0, type: u250}\n")
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
        return d, sweep_spec.Spec.load(os.path.join(d, name))

    def test_product_range_zip_order_and_ids(self):
        d, s = self.load("base: cfg/base.yaml\n"
                         "axes:\n  a.x: [1, 2]\n  b.y: {range: [0, 6, 2]}\n  c.z: [p, q, r]\n"
                         "zip: [[b.y, c.z]]\n")
        got = [tuple(p.assignments.values()) for p in s.points]
        self.assertEqual(got, [(1, 0, "p"), (1, 2, "q"), (1, 4, "r"), (2, 0, "p"), (2, 2, "q"), (2, 4, "r")])
        self.assertEqual(s.points[0].name, "x=1,y=0,z=p")
        # ids: hash of the assignments, independent of key order, distinct per point
        self.assertEqual(s.points[0].id, sweep_spec.point_id({"c.z": "p", "a.x": 1, "b.y": 0}))
        self.assertEqual(len({p.id for p in s.points}), 6)
        _, s2 = self.load("base: cfg/base.yaml\naxes:\n  a.x: [1, 2]\n  b.y: {range: [0, 6, 2]}\n"
                          "  c.z: [p, q, r]\nzip: [[b.y, c.z]]\n")
        self.assertEqual([p.id for p in s.points], [p.id for p in s2.points])

    def test_ranges(self):
        self.assertEqual(sweep_spec.axis_values("k", {"range": [1, 5]}), [1, 2, 3, 4])
        self.assertEqual(sweep_spec.axis_values("k", {"range": [0.1, 0.4, 0.1]}), [0.1, 0.2, 0.3])
        self.assertEqual(sweep_spec.axis_values("k", {"range": [8, 0, -4]}), [8, 4])
        with self.assertRaises(sweep_spec.SpecError):
            sweep_spec.axis_values("k", {"range": [5, 1]})

    def test_merge_paths_and_list_index(self):
        d, s = self.load("base: cfg/base.yaml\n"
                         "set:\n  system.devices: [{count: 1, type: u250}]\n"
                         "axes:\n  system.devices.0.count: [1, 3]\n"
                         "  workload.graph: [g/other.json, /abs/x.json]\n"
                         "  system.devices.0.type: [u280, types/mine.yaml]\n")
        cfg = s.config_for(s.points[0])
        self.assertEqual(cfg["system"]["devices"], [{"count": 1, "type": "u280"}])
        self.assertEqual(cfg["workload"]["graph"], os.path.join(d, "g", "other.json"))  # spec-relative
        self.assertEqual(cfg["workload"]["inferences"], 4)
        last = s.config_for(s.points[-1])
        self.assertEqual(last["system"]["devices"], [{"count": 3, "type": os.path.join(d, "types", "mine.yaml")}])
        self.assertEqual(last["workload"]["graph"], "/abs/x.json")
        self.assertEqual(s.points[-1].name, "count=3,graph=x,type=mine")
        # the base's own relative graph path is relative to the base config
        d2, b = self.load("base: cfg/base.yaml\naxes:\n  workload.inferences: [1]\n")
        self.assertEqual(b.config_for(b.points[0])["workload"]["graph"], os.path.join(d2, "g", "model.json"))

    def test_errors(self):
        bad = {
            "axes:\n  a: [1]\n": "base",
            "base: cfg/base.yaml\naxes:\n  a.x: [1, 1]\n": "identical",
            "base: cfg/base.yaml\naxes:\n  a.x: [1, 2]\n  b.y: [1]\nzip: [[a.x, b.y]]\n": "different lengths",
            "base: cfg/base.yaml\naxes:\n  a.x: [1]\nzip: [[a.x, nope]]\n": "not an axis",
            "base: cfg/base.yaml\naxes:\n  a.x: {foo: 1}\n": "expected a list",
            "base: cfg/base.yaml\naxes: {a.x: [1]}\nbogus: 1\n": "unknown key",
            "base: missing.yaml\naxes: {a.x: [1]}\n": "not found",
        }
        for text, msg in bad.items():
            with self.subTest(text=text), self.assertRaisesRegex(sweep_spec.SpecError, msg):
                self.load(text)

    def test_key_check(self):
        _, s = self.load("base: cfg/base.yaml\naxes:\n  mapping.default_paralelism: [1]\n")
        keys = ["mapping.default_parallelism", "workload.dims.*", "system.devices"]
        with self.assertRaisesRegex(sweep_spec.SpecError, "did you mean 'mapping.default_parallelism'"):
            s.check_keys(keys)
        _, ok = self.load("base: cfg/base.yaml\naxes:\n  workload.dims.seq: [1]\n"
                          "  system.devices.0.count: [2]\n")
        ok.check_keys(keys)


class RunnerScratch(Tmp):
    """Scratch folders of a killed runner (driver or Dask worker) are removed by the next one."""

    def test_stale_scratch_purged(self):
        from masesim_sweep import runner
        dead = subprocess.Popen(["true"])
        dead.wait()  # a pid that no longer runs
        root = os.path.join(self.tmp, "scratch")
        stale = os.path.join(root, f"point-0123456789ab-{dead.pid}-x1")
        mine = os.path.join(root, f"point-0123456789ab-{os.getpid()}-x2")
        other = os.path.join(root, "not-a-point")
        for d in (stale, mine, other):
            os.makedirs(os.path.join(d, "out"))
        res = runner.run_point({"id": "abc", "config_text": "", "simulate": "/bin/false",
                                "timeout_s": 10, "scratch_root": root})
        self.assertEqual((res["status"], res["exit_code"]), ("failed", 1))
        self.assertEqual(sorted(os.listdir(root)), sorted(os.path.basename(d) for d in (mine, other)))


@unittest.skipUnless(HAVE_SIM, f"no simulate binary at {SIMULATE} (set MASESIM_SIMULATE)")
class LocalSweep(Tmp):
    ref_dir = None

    @classmethod
    def setUpClass(cls):
        cls.ref_root = tempfile.mkdtemp(prefix="test_sweep_ref-")
        cls.ref_dir = os.path.join(cls.ref_root, "ref")
        r = subprocess.run([PY, SWEEP, "--spec", MNIST_SPEC, "--out", cls.ref_dir, "--simulate", SIMULATE,
                            "--jobs", "2"], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"reference sweep failed ({r.returncode}): {r.stderr}")
        cls.ref_csv = read_text(os.path.join(cls.ref_dir, "results.csv"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.ref_root, ignore_errors=True)

    def test_results(self):
        rows = list(csv.DictReader(io.StringIO(self.ref_csv)))
        spec = sweep_spec.Spec.load(MNIST_SPEC)
        self.assertEqual([r["id"] for r in rows], [p.id for p in spec.points])  # spec order
        self.assertEqual(len(rows), 8)
        for r in rows:
            self.assertEqual((r["status"], r["exit_code"], r["error"]), ("ok", "0", ""))
            self.assertEqual((r["devices"], r["device_types"]), ("1", "u250"))
            for k in ("latency_us", "lut_used", "dsp_utilisation", "uram_used"):
                self.assertGreater(float(r[k]), 0, k)
            # fc1 ((6272/p)·(1024/p) cycles) bounds it up to p = 16; at 32 the convs'
            # 28·28·3·3 = 7056 cycles (channel lanes; docs/architecture.md "Tiling") exceed
            # fc1's 6272, and conv1 (first of the tie with conv2) is named
            want = "conv1" if r["mapping.default_parallelism"] == "32" else "fc1"
            self.assertEqual(r["bottleneck_node"], want)
            d = os.path.join(self.ref_dir, "points", r["id"])
            for f in ("config.yaml", "result.json", "out/stats.json", "out/stats.csv", "out/config.yaml"):
                self.assertTrue(os.path.isfile(os.path.join(d, f)), f)
            stats = json.loads(read_text(os.path.join(d, "out", "stats.json")))
            self.assertEqual(float(r["throughput_inferences_per_s"]), stats["throughput_inferences_per_s"])
        # the exported graph takes its tile width from mapping.default_parallelism:
        # throughput grows with it (4 -> 32), independent of the number of inferences
        thr = {(r["mapping.default_parallelism"], r["workload.inferences"]): float(r["throughput_inferences_per_s"])
               for r in rows}
        self.assertLess(thr[("4", "2")], thr[("8", "2")])
        self.assertLess(thr[("16", "4")], thr[("32", "4")])
        self.assertAlmostEqual(thr[("8", "2")], thr[("8", "4")], delta=thr[("8", "2")] * 1e-6)
        # nothing left behind
        self.assertEqual([f for f in os.listdir(os.path.join(self.ref_dir, "points")) if f.startswith(".")], [])
        self.assertFalse(os.path.exists(os.path.join(self.ref_dir, ".work")))

    def test_rerun_is_noop(self):
        out = os.path.join(self.tmp, "o")
        shutil.copytree(self.ref_dir, out)
        r = self.sweep(out, "--jobs", "2", simulate=self.wrapper())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.runs(), [])
        self.assertEqual(read_text(os.path.join(out, "results.csv")), self.ref_csv)

    def test_resume_after_deleted_point_and_killed_simulation(self):
        out = os.path.join(self.tmp, "o")
        shutil.copytree(self.ref_dir, out)
        spec = sweep_spec.Spec.load(MNIST_SPEC)
        gone = spec.points[3]
        shutil.rmtree(os.path.join(out, "points", gone.id))
        wrap = self.wrapper()
        # the re-run's simulation of the deleted point is killed (SIGKILL): not kept, exit 2
        r = self.sweep(out, "--jobs", "2", simulate=wrap, env={"SWEEPTEST_KILL_MATCH": "inferences: 4"})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(self.runs(), [gone.id])
        row = [x for x in read_csv(os.path.join(out, "results.csv")) if x["id"] == gone.id][0]
        self.assertEqual(row["status"], "killed")
        self.assertIn("SIGKILL", row["error"])
        self.assertFalse(os.path.exists(os.path.join(out, "points", gone.id)))
        # next run: only that point again, and the CSV equals the fresh run's
        r = self.sweep(out, "--jobs", "2", simulate=wrap)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.runs(), [gone.id, gone.id])
        self.assertEqual(read_text(os.path.join(out, "results.csv")), self.ref_csv)

    def test_resume_reruns_corrupt_and_partial_points(self):
        out = os.path.join(self.tmp, "o")
        shutil.copytree(self.ref_dir, out)
        pts = sweep_spec.Spec.load(MNIST_SPEC).points
        res = json.loads(read_text(os.path.join(out, "points", pts[5].id, "result.json")))
        del res["config_sha256"]
        bad = {  # point -> (file, content, what the driver must say)
            pts[0]: ("result.json", "null\n", "expected a JSON object, found null"),
            pts[2]: ("out/stats.json", "{}\n", "missing keys 'throughput_inferences_per_s', 'latency_us', 'devices'"),
            pts[4]: ("result.json", '{"status": "ok", "exit_co', "not valid JSON"),
            pts[5]: ("result.json", json.dumps(res), "missing key 'config_sha256'"),
            pts[6]: ("out/stats.json", '{"throughput_inferences_per_s": null, "latency_us": 1, "devices": {}}',
                     "key 'throughput_inferences_per_s' is null"),
        }
        for p, (f, text, _) in bad.items():
            self.write(os.path.join(out, "points", p.id, f), text)
        # a file that cannot be read at all (root reads any mode bits, so: a directory)
        unreadable = os.path.join(out, "points", pts[7].id, "out", "stats.json")
        os.unlink(unreadable)
        os.mkdir(unreadable)
        wrap = self.wrapper()
        r = self.sweep(out, "--jobs", "2", "--quiet", simulate=wrap)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(self.runs()), sorted([p.id for p in bad] + [pts[7].id]))  # exactly those
        for p, (f, _, why) in bad.items():
            path = os.path.join(out, "points", p.id, f)
            self.assertIn(f"sweep: warning: {path}: {why}", r.stderr)
            self.assertIn(f"point {p.id} ({p.name}) runs again", r.stderr)
        self.assertIn(f"sweep: warning: {unreadable}: cannot read (Is a directory)", r.stderr)
        self.assertEqual(read_text(os.path.join(out, "results.csv")), self.ref_csv)
        r = self.sweep(out, "--jobs", "2", simulate=wrap)  # all repaired: nothing runs
        self.assertEqual((r.returncode, len(self.runs())), (0, 6), r.stderr)
        self.assertNotIn("warning", r.stderr)

    def test_unusable_stats_from_simulate_is_not_kept(self):
        spec = self.write("two.yaml", f"base: {os.path.join(ROOT, 'configs', 'mnist_cnn_u250.yaml')}\n"
                                      "axes:\n  mapping.default_parallelism: [4, 8]\n")
        out = os.path.join(self.tmp, "o")
        r = self.sweep(out, "--jobs", "2", spec=spec, simulate=self.wrapper(), env={"SWEEPTEST_STATS": "{}"})
        self.assertEqual(r.returncode, 2, r.stderr)  # no point has a result
        rows = read_csv(os.path.join(out, "results.csv"))
        self.assertEqual({x["status"] for x in rows}, {"error"})
        self.assertEqual(rows[0]["error"], "stats.json from simulate unusable: missing keys "
                                           "'throughput_inferences_per_s', 'latency_us', 'devices'")
        self.assertEqual([f for f in os.listdir(os.path.join(out, "points"))], [])
        r = self.sweep(out, "--jobs", "2", spec=spec, simulate=self.wrapper(), env={"SWEEPTEST_STATS": "{}"})
        self.assertEqual((r.returncode, len(self.runs())), (2, 4), r.stderr)  # both of them again

    def start_hanging_sweep(self, out):
        """A sweep whose two points in flight hang; returns (sweep process, their pids)."""
        env = dict(os.environ, SWEEPTEST_HANG="60")
        p = subprocess.Popen([PY, SWEEP, "--spec", MNIST_SPEC, "--out", out, "--simulate", self.wrapper(),
                              "--jobs", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                             text=True, start_new_session=True)
        self.procs.append(p)
        deadline = time.monotonic() + 30
        while len(self.pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(self.pids()), 2, "two points did not start within 30 s")
        return p, self.pids()

    def assert_groups_end(self, groups):
        deadline = time.monotonic() + 10
        alive = groups
        while alive and time.monotonic() < deadline:
            alive = [g for g in alive if group_alive(g)]
            time.sleep(0.05)
        self.assertEqual(alive, [], "simulate process groups outlived the sweep")

    def test_interrupted_sweep_ends_its_process_groups(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig.name):
                out = os.path.join(self.tmp, sig.name)
                p, pids = self.start_hanging_sweep(out)
                # each point is its own process group (the wrapper and its `sleep`)
                self.assertTrue(all(os.getpgid(x) == x for x in pids))
                os.kill(p.pid, sig)
                self.assertEqual(p.wait(timeout=20), 130)
                self.assertIn("interrupted", p.stderr.read())
                self.assert_groups_end(pids)
                os.unlink(self.log + ".pids")

    def test_killed_sweep_takes_its_simulations(self):
        p, pids = self.start_hanging_sweep(os.path.join(self.tmp, "o"))
        os.kill(p.pid, signal.SIGKILL)  # the driver alone, not its group
        p.wait(timeout=10)
        deadline = time.monotonic() + 10  # PR_SET_PDEATHSIG: the kernel kills the wrappers
        while any(pid_alive(x) for x in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual([x for x in pids if pid_alive(x)], [])

    def test_kill_sweep_then_rerun(self):
        out = os.path.join(self.tmp, "o")
        wrap = self.wrapper()
        env = dict(os.environ, SWEEPTEST_DELAY="0.5")
        p = subprocess.Popen([PY, SWEEP, "--spec", MNIST_SPEC, "--out", out, "--simulate", wrap, "--jobs", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                             start_new_session=True)
        self.procs.append(p)
        pts, deadline = os.path.join(out, "points"), time.monotonic() + 30
        first = []
        while time.monotonic() < deadline and not first:
            if os.path.isdir(pts):
                first = [f for f in os.listdir(pts) if not f.startswith(".")]
            time.sleep(0.02)
        self.assertTrue(first, "no point finished within 30 s")
        os.killpg(p.pid, signal.SIGKILL)  # the sweep and its in-flight simulation
        p.wait(timeout=10)
        done = sorted(f for f in os.listdir(pts) if not f.startswith("."))
        self.assertLess(len(done), 8)
        kept = {d: os.stat(os.path.join(pts, d, "result.json")).st_mtime_ns for d in done}
        before = len(self.runs())
        r = self.sweep(out, "--jobs", "2", simulate=wrap)
        self.assertEqual(r.returncode, 0, r.stderr)
        rerun = self.runs()[before:]
        self.assertEqual(len(rerun), 8 - len(done))
        self.assertFalse(set(rerun) & set(done))  # finished points were not recomputed
        for d, m in kept.items():
            self.assertEqual(os.stat(os.path.join(pts, d, "result.json")).st_mtime_ns, m)
        self.assertEqual(read_text(os.path.join(out, "results.csv")), self.ref_csv)
        self.assertEqual([f for f in os.listdir(pts) if f.startswith(".")], [])

    def test_failed_point_recorded(self):
        spec = self.write("bad.yaml", f"base: {os.path.join(ROOT, 'configs', 'mnist_cnn_u250.yaml')}\n"
                                      "axes:\n  mapping.default_parallelism: [0, 8]\n")
        out = os.path.join(self.tmp, "o")
        wrap = self.wrapper()
        r = self.sweep(out, "--jobs", "2", spec=spec, simulate=wrap)
        self.assertEqual(r.returncode, 0, r.stderr)  # a failed point is not fatal
        rows = read_csv(os.path.join(out, "results.csv"))
        self.assertEqual([x["status"] for x in rows], ["failed", "ok"])
        self.assertEqual(rows[0]["exit_code"], "1")
        self.assertIn("mapping.default_parallelism = 0 is out of range", rows[0]["error"])
        self.assertEqual(rows[0]["throughput_inferences_per_s"], "")
        res = json.loads(read_text(os.path.join(out, "points", rows[0]["id"], "result.json")))
        self.assertEqual(res["status"], "failed")
        # failures are final: a re-run skips them, --retry-failed runs them again, --strict exits 2
        self.assertEqual(self.sweep(out, spec=spec, simulate=wrap).returncode, 0)
        self.assertEqual(len(self.runs()), 2)
        r = self.sweep(out, "--retry-failed", "--strict", spec=spec, simulate=wrap)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(self.runs()[2:], [rows[0]["id"]])

    def test_bad_spec_and_config_change(self):
        spec = self.write("typo.yaml", f"base: {os.path.join(ROOT, 'configs', 'mnist_cnn_u250.yaml')}\n"
                                       "axes:\n  mapping.default_paralelism: [4]\n")
        r = self.sweep(os.path.join(self.tmp, "t"), spec=spec)
        self.assertEqual(r.returncode, 1)
        self.assertIn("did you mean 'mapping.default_parallelism'", r.stderr)
        # a point whose merged config changed (here: the spec's `set`) is recomputed
        spec = self.write("s.yaml", f"base: {os.path.join(ROOT, 'configs', 'mnist_cnn_u250.yaml')}\n"
                                    "set: {{simulation.stream_depth: {d}}}\naxes:\n  workload.inferences: [2]\n")
        out = os.path.join(self.tmp, "o")
        wrap = self.wrapper()
        with open(spec) as f:
            tmpl = f.read()
        for depth, runs in ((2, 1), (2, 1), (4, 2)):
            self.write("s.yaml", tmpl.format(d=depth))
            self.assertEqual(self.sweep(out, spec=spec, simulate=wrap).returncode, 0)
            self.assertEqual(len(self.runs()), runs)

    @unittest.skipUnless(HAVE_MPL, "matplotlib missing (apt-get install python3-matplotlib)")
    def test_plots(self):
        plots = os.path.join(self.tmp, "plots")
        r = subprocess.run([PY, PLOT, self.ref_dir, "--plots-dir", plots, "--x", "mapping.default_parallelism"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        best = read_csv(os.path.join(self.ref_dir, "results.csv"))[6]["id"]  # parallelism 32, first
        for f in ("throughput_vs_default_parallelism.png", "pareto.png", f"utilisation_{best}.png"):
            with open(os.path.join(plots, f), "rb") as fh:
                self.assertEqual(fh.read(8), b"\x89PNG\r\n\x1a\n", f)
        front = read_csv(os.path.join(plots, "pareto.csv"))
        norm = [x["id"] for x in front if x["cost"] == "norm"]
        self.assertEqual(len(norm), 4)  # one point per tile width: more DSP/LUT, more throughput
        r = subprocess.run([PY, PLOT, self.ref_dir, "--plots-dir", plots, "--point", "nope"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)


@unittest.skipUnless(HAVE_SIM, f"no simulate binary at {SIMULATE} (set MASESIM_SIMULATE)")
@unittest.skipUnless(HAVE_DASK, "python3-distributed (Dask) not installed")
class DaskSweep(Tmp):
    def start(self, *args, env=None):
        env = dict(os.environ, DASK_DISTRIBUTED__WORKER__DAEMON="False", **(env or {}))
        env.pop("PYTHONPATH", None)  # workers must not need scripts/ (the runner is shipped)
        p = subprocess.Popen([PY, "-m", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             cwd=self.tmp, env=env, start_new_session=True)
        self.procs.append(p)
        return p

    def cluster(self, workers, env=None):
        """A scheduler and `workers` workers on 127.0.0.1; returns the scheduler's address."""
        sched_file = os.path.join(self.tmp, "scheduler.json")
        # the commands of docs/sweeps.md: every listening socket on 127.0.0.1
        sched = self.start("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                           "--dashboard-address", "127.0.0.1:0", "--no-dashboard",
                           "--scheduler-file", sched_file, "--idle-timeout", "120s")
        deadline = time.monotonic() + 30
        while not os.path.exists(sched_file) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertTrue(os.path.exists(sched_file), "dask scheduler did not start")
        time.sleep(0.2)  # the file is complete once it parses
        address = json.loads(read_text(sched_file))["address"]
        self.assertTrue(address.startswith("tcp://127.0.0.1:"), address)
        ws = [self.start("distributed.cli.dask_worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                         "--no-nanny", "--dashboard-address", "127.0.0.1:0", "--no-dashboard",
                         "--name", f"w{i}", "--death-timeout", "60",
                         "--local-directory", os.path.join(self.tmp, f"w{i}"), env=env)
              for i in range(workers)]
        from distributed import Client
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # tornado's make_current
            with Client(address, timeout="20s", set_as_default=False) as c:
                c.wait_for_workers(workers, timeout=30)
        for p in [sched] + ws:
            addrs = listening(p.pid)
            self.assertGreaterEqual(len(addrs), 2, addrs)  # the comm and the HTTP server
            self.assertEqual(set(addrs), {"127.0.0.1"})
        return address

    def test_killed_driver_cancels_worker_simulations(self):
        wrap = self.wrapper()
        address = self.cluster(1, env={"SWEEPTEST_HANG": "60"})
        p = subprocess.Popen([PY, SWEEP, "--spec", MNIST_SPEC, "--out", os.path.join(self.tmp, "o"),
                              "--simulate", wrap, "--backend", "dask", "--scheduler", address],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(p)
        deadline = time.monotonic() + 30
        while not self.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(self.pids()), 1, "no point started on the worker within 30 s")
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=10)
        # the scheduler releases the dead client's tasks; the worker's runner sees its task
        # cancelled and ends the point's process group (the wrapper and its sleep)
        deadline = time.monotonic() + 20
        while group_alive(self.pids()[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertFalse(group_alive(self.pids()[0]), "the worker's simulation outlived the driver")
        time.sleep(1.5)  # the worker is free again: it does not start the other points
        self.assertEqual(len(self.pids()), 1)
        scratch = os.path.join(self.tmp, "w0")
        left = [os.path.join(r, d) for r, ds, _ in os.walk(scratch) for d in ds if d.startswith("point-")]
        self.assertEqual(left, [])

    def test_local_cluster(self):
        """--backend dask without --scheduler: a local cluster on 127.0.0.1 runs every point."""
        spec = self.write("two.yaml", f"base: {os.path.join(ROOT, 'configs', 'mnist_cnn_u250.yaml')}\n"
                                      "axes:\n  mapping.default_parallelism: [4, 8]\n")
        out = os.path.join(self.tmp, "o")
        r = self.sweep(out, "--backend", "dask", "--jobs", "1", spec=spec, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"sweep: local Dask cluster tcp://127\.0\.0\.1:\d+ \(1 worker\)")
        rows = read_csv(os.path.join(out, "results.csv"))
        self.assertEqual([x["status"] for x in rows], ["ok"] * 2)

    def test_dask_equals_local(self):
        address = self.cluster(2)
        dask_out, local_out = os.path.join(self.tmp, "dask"), os.path.join(self.tmp, "local")
        r = self.sweep(dask_out, "--backend", "dask", "--scheduler", address)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.sweep(local_out, "--jobs", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read_text(os.path.join(dask_out, "results.csv")),
                         read_text(os.path.join(local_out, "results.csv")))
        rows = read_csv(os.path.join(dask_out, "results.csv"))
        self.assertEqual(len(rows), 8)
        self.assertTrue(all(x["status"] == "ok" for x in rows))
        for x in rows:
            self.assertTrue(os.path.isfile(os.path.join(dask_out, "points", x["id"], "out", "stats.json")))


@unittest.skipUnless(HAVE_SIM, f"no simulate binary at {SIMULATE} (set MASESIM_SIMULATE)")
class LlmSweep(Tmp):
    """A generate sweep: results.csv carries TTFT, TPOT, tokens/s and the decode limit."""

    def test_llm_columns(self):
        graph = os.path.join(ROOT, "workloads", "graphs", "opt125m_int8.json")
        self.write("base.yaml", "workload:\n  graph: " + graph + "\n  phase: generate\n"
                   "  prompt_len: 16\n  gen_tokens: 3\nsystem:\n  devices: [{name: fpga0, type: u250}]\n"
                   "mapping:\n  weights: auto\n")
        spec = self.write("llm.yaml", "name: llm\nbase: base.yaml\naxes:\n  workload.batch: [1, 2]\n")
        out = os.path.join(self.tmp, "o")
        r = self.sweep(out, "--jobs", "2", spec=spec, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = list(csv.DictReader(io.StringIO(read_text(os.path.join(out, "results.csv")))))
        self.assertEqual([x["workload.batch"] for x in rows], ["1", "2"])
        for x in rows:
            self.assertEqual(x["status"], "ok", x["error"])
            stats = json.loads(read_text(os.path.join(out, "points", x["id"], "out", "stats.json")))
            for k in ("ttft_us", "tpot_us", "tpot_p99_us", "tokens_per_s", "kv_cache_bytes_per_sequence"):
                self.assertEqual(float(x[k]), stats[k], k)
            # 2 x 12 layers x (16 + 3) tokens x 768 x 1 byte
            self.assertEqual(x["kv_cache_bytes_per_sequence"], str(2 * 12 * 19 * 768))
            self.assertEqual(x["decode_bound"], stats["llm"]["phases"]["decode"]["bound"])
            self.assertIn(x["decode_limited_by"], ("latency", "compute", "on-chip bandwidth",
                                                   "off-chip bandwidth", "link"))
        # two sequences in flight share one device: each waits for the other's steps
        self.assertGreater(float(rows[1]["tpot_us"]), float(rows[0]["tpot_us"]))


if __name__ == "__main__":
    unittest.main()
