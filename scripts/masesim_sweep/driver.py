"""The sweep driver: resume, backends, progress, results.csv (CLI: scripts/sweep.py)."""
import argparse
import concurrent.futures as cf
import datetime
import errno
import fcntl
import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

from . import runner
from .results import (RESULT_KEYS, STATS_KEYS, Unreadable, csv_text, error_text, load_checked, make_row,
                      parse_checked, write_dir_atomic, write_file_atomic)
from .spec import Spec, SpecError

FINAL = ("ok", "failed")  # statuses kept on disk; others are retried by the next run
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_SIMULATE = os.path.join(ROOT, "build", "simulate")
MAX_TEXT = 64 * 1024


class Interrupted(Exception):
    pass


def _on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def config_sha(text):
    body = "".join(l for l in text.splitlines(True) if not l.startswith("#"))
    return hashlib.sha256(body.encode()).hexdigest()


def known_keys(simulate):
    """Config keys from `simulate --list-keys` (None when it cannot be run)."""
    try:
        out = subprocess.run([simulate, "--list-keys"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    keys = []
    for line in out.stdout.splitlines():
        if line and not line[0].isspace():
            keys.append(line.split()[0])
    return keys or None


class Sweep:
    def __init__(self, spec, out_dir, simulate, timeout_s=None, retry_failed=False, force=False):
        self.spec = spec
        self.out = os.path.abspath(out_dir)
        self.points_dir = os.path.join(self.out, "points")
        self.simulate = simulate
        self.timeout_s = timeout_s if timeout_s is not None else spec.timeout_s
        self.retry_failed = retry_failed
        self.force = force
        self.texts = {p.id: spec.config_text(p) for p in spec.points}
        self.rows = {}  # id -> csv row
        self.pending = []
        self.unreadable = []  # (point, path, what is wrong) found by scan()
        self.reused = self.stale = 0

    # ------------------------------------------------------------------ directory state

    def lock(self):
        os.makedirs(self.points_dir, exist_ok=True)
        self._lock_f = open(os.path.join(self.out, ".lock"), "w")
        try:
            fcntl.flock(self._lock_f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise SpecError(f"{self.out}: another sweep is running in this directory")
            raise
        # leftovers of a killed run: partial point dirs, scratch dirs of simulate runs
        for d in glob.glob(os.path.join(self.points_dir, ".tmp-*")) + glob.glob(os.path.join(self.points_dir, ".old-*")):
            shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(os.path.join(self.out, ".work"), ignore_errors=True)
        for f in glob.glob(os.path.join(self.out, ".*.tmp-*")):
            try:
                os.unlink(f)
            except OSError:
                pass

    def write_manifest(self):
        s = self.spec
        man = {"name": s.name, "description": s.description, "spec": s.path, "base": s.base_path,
               "set": s.set, "axes": s.axes, "zip": s.zip,
               "points": [p.as_dict() for p in s.points]}
        write_file_atomic(os.path.join(self.out, "sweep.json"), json.dumps(man, indent=1, default=str) + "\n")

    def scan(self):
        """Finds finished points (kept from earlier runs) and the ones to run. A point dir
        whose result.json or stats.json is unreadable, not a JSON object or lacks a key the
        CSV needs is not finished: its path goes to self.unreadable and the point runs again."""
        for p in self.spec.points:
            d = os.path.join(self.points_dir, p.id)
            row = None
            if not self.force and os.path.lexists(d):
                try:
                    row = self.kept_row(p, d)
                except Unreadable as e:
                    self.unreadable.append((p, e.args[0], e.args[1]))
            if row is None:
                self.rows[p.id] = make_row(p, "pending")
                self.pending.append(p)
            else:
                self.rows[p.id] = row
                self.reused += 1

    def kept_row(self, p, d):
        """The CSV row of a point finished by an earlier run, or None to run it again."""
        rj = os.path.join(d, "result.json")
        try:
            r = load_checked(rj, RESULT_KEYS)
        except Unreadable as e:
            raise Unreadable(rj, str(e)) from None
        if r["config_sha256"] != config_sha(self.texts[p.id]):
            self.stale += 1
            return None
        if r["status"] not in FINAL or (self.retry_failed and r["status"] == "failed"):
            return None
        stats = None
        if r["status"] == "ok":
            sj = os.path.join(d, "out", "stats.json")
            try:
                stats = load_checked(sj, STATS_KEYS)
            except Unreadable as e:
                raise Unreadable(sj, str(e)) from None
        return make_row(p, r["status"], r.get("exit_code"), stats, str(r.get("error") or ""))

    def write_csv(self):
        text = csv_text(self.spec.axes.keys(), [self.rows[p.id] for p in self.spec.points])
        write_file_atomic(os.path.join(self.out, "results.csv"), text)

    # ------------------------------------------------------------------ one point

    def task(self, p, scratch_root):
        return {"id": p.id, "config_text": self.texts[p.id], "simulate": self.simulate,
                "timeout_s": self.timeout_s, "scratch_root": scratch_root}

    def commit(self, p, res):
        """Records a finished run of point p: writes the point dir (final statuses) and its row."""
        err = error_text(res.get("stderr", "")) if res["status"] != "ok" else ""
        stats = None
        if res["status"] == "ok":
            try:
                stats = parse_checked(res["files"]["stats.json"], STATS_KEYS)
            except (KeyError, Unreadable) as e:
                why = "missing" if isinstance(e, KeyError) else e.args[0]
                res = dict(res, status="error", stderr=(res.get("stderr", "") + "\nsweep: simulate exited 0 but "
                                                        f"its stats.json is unusable: {why}").strip())
                err = f"stats.json from simulate unusable: {why}"
        if res["status"] in FINAL:
            meta = {"id": p.id, "name": p.name, "index": p.index, "assignments": p.assignments,
                    "status": res["status"], "exit_code": res.get("exit_code"), "error": err,
                    "stderr": res.get("stderr", "")[-MAX_TEXT:], "stdout": res.get("stdout", "")[-MAX_TEXT:],
                    "config_sha256": config_sha(self.texts[p.id]), "simulate": self.simulate,
                    "wall_s": res.get("wall_s"), "host": res.get("host"),
                    "finished": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
            files = {"config.yaml": self.texts[p.id],
                     "result.json": json.dumps(meta, indent=1, default=str) + "\n"}
            for name, text in res.get("files", {}).items():
                files["out/" + name] = text
            write_dir_atomic(os.path.join(self.points_dir, p.id), files)
        self.rows[p.id] = make_row(p, res["status"], res.get("exit_code"), stats, err)
        self.write_csv()
        return res["status"]

    # ------------------------------------------------------------------ backends

    def run_local(self, jobs, report):
        live = runner.LiveProcesses()
        scratch = os.path.join(self.out, ".work")
        ex = cf.ThreadPoolExecutor(max_workers=max(1, jobs))
        futs = {}
        try:
            for p in self.pending:
                futs[ex.submit(runner.run_point, self.task(p, scratch), live)] = p
            for f in cf.as_completed(futs):
                p = futs[f]
                try:
                    res = f.result()
                except Exception as e:  # noqa: BLE001 - a bug in the runner, not in the point
                    res = {"status": "error", "stderr": f"sweep: {type(e).__name__}: {e}"}
                report(p, res, self.commit(p, res))
        except BaseException:
            ex.shutdown(wait=False, cancel_futures=True)
            live.kill_all()
            raise
        finally:
            ex.shutdown(wait=True)
            shutil.rmtree(scratch, ignore_errors=True)

    def run_dask(self, scheduler, report, jobs=1, host="127.0.0.1", say=None):
        """Runs the pending points on the Dask scheduler `scheduler`; without one, on a
        local cluster of `jobs` one-thread workers whose scheduler and workers listen on
        `host` only (127.0.0.1 unless told otherwise), shut down at the end."""
        try:
            import cloudpickle
            from distributed import Client, LocalCluster, as_completed
        except ImportError as e:
            raise SpecError(f"--backend dask needs Debian's python3-distributed ({e})")
        # ship the runner by value: workers need not have scripts/ on their sys.path
        if hasattr(cloudpickle, "register_pickle_by_value"):
            cloudpickle.register_pickle_by_value(runner)
        cluster = None
        if scheduler is None:
            import logging
            try:
                # the HTTP servers (dashboard, health, metrics) listen even without a
                # dashboard, by default on every interface: bind them to `host` too
                http = f"[{host}]:0" if ":" in host else f"{host}:0"
                cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, host=host,
                                       dashboard_address=None, worker_dashboard_address=http,
                                       scheduler_kwargs={"dashboard": False, "dashboard_address": http},
                                       silence_logs=logging.ERROR)
            except (OSError, ValueError) as e:
                raise SpecError(f"cannot start a local Dask cluster on {host}: {e}")
            scheduler = cluster.scheduler_address
            if say:
                say(f"sweep: local Dask cluster {scheduler} ({jobs} worker{'s' if jobs > 1 else ''})")
        try:
            client = Client(scheduler, timeout="20s", set_as_default=False)
        except (OSError, TimeoutError) as e:
            if cluster is not None:
                cluster.close()
            raise SpecError(f"cannot connect to the Dask scheduler {scheduler}: {e}")
        futs = {}
        try:
            tag = uuid.uuid4().hex[:8]
            for p in self.pending:
                f = client.submit(runner.run_point, self.task(p, None), key=f"masesim-{p.id}-{tag}", pure=False)
                futs[f] = p
            for f in as_completed(list(futs), loop=client.loop):
                p = futs[f]
                try:
                    res = f.result()
                except Exception as e:  # noqa: BLE001 - worker lost, pickling, ...
                    res = {"status": "error", "stderr": f"sweep: dask: {type(e).__name__}: {e}"}
                report(p, res, self.commit(p, res))
        finally:
            try:
                if futs:
                    client.cancel(list(futs))
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()


class ArgParser(argparse.ArgumentParser):
    def error(self, message):  # bad arguments are bad input: exit 1, as documented (argparse: 2)
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def parse_args(argv):
    ap = ArgParser(
        prog="sweep.py", description="Runs a masesim design-space sweep (docs/sweeps.md).")
    ap.add_argument("--spec", required=True, help="sweep spec (YAML)")
    ap.add_argument("--out", required=True, help="output directory (results.csv, points/<id>/)")
    ap.add_argument("--backend", choices=("local", "dask"), default="local")
    ap.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1,
                    help="local backend, or dask without --scheduler: concurrent simulations "
                         "(default: CPU count)")
    ap.add_argument("--scheduler", help="dask backend: scheduler address, e.g. tcp://127.0.0.1:8786 "
                    "(default: start a local cluster of --jobs workers)")
    ap.add_argument("--dask-host",
                    help="dask backend without --scheduler: the address the local cluster listens on "
                         "(default 127.0.0.1: this machine only)")
    ap.add_argument("--simulate", default=os.environ.get("MASESIM_SIMULATE") or DEFAULT_SIMULATE,
                    help="simulate binary (default: $MASESIM_SIMULATE or build/simulate)")
    ap.add_argument("--timeout", type=float, help="per-point wall-clock limit in s (overrides the spec)")
    ap.add_argument("--retry-failed", action="store_true", help="re-run points that failed before")
    ap.add_argument("--force", action="store_true", help="re-run every point")
    ap.add_argument("--strict", action="store_true", help="exit 2 when a point failed")
    ap.add_argument("--list", action="store_true", help="print the points (id, name) and exit")
    ap.add_argument("--quiet", "-q", action="store_true",
                    help="no progress output (unreadable point files are still reported)")
    a = ap.parse_args(argv)
    if a.jobs < 1:
        ap.error("--jobs must be at least 1")
    if a.dask_host is not None and (a.backend != "dask" or a.scheduler):
        ap.error("--dask-host applies to --backend dask without --scheduler (the local cluster it starts)")
    if a.scheduler and a.backend != "dask":
        ap.error("--scheduler needs --backend dask")
    a.dask_host = a.dask_host or "127.0.0.1"
    return a


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    t0 = time.monotonic()
    try:
        spec = Spec.load(a.spec)
    except SpecError as e:
        print(f"sweep: error: {e}", file=sys.stderr)
        return 1
    if a.list:
        for p in spec.points:
            print(f"{p.id}  {p.name}")
        return 0
    simulate = os.path.abspath(a.simulate) if os.path.exists(a.simulate) else a.simulate
    if a.backend == "local" and not os.access(simulate, os.X_OK):
        print(f"sweep: error: simulate binary '{simulate}' not found (build it, or pass --simulate)",
              file=sys.stderr)
        return 1
    keys = known_keys(simulate) if os.access(simulate, os.X_OK) else None
    try:
        if keys:
            spec.check_keys(keys)
        sw = Sweep(spec, a.out, simulate, a.timeout, a.retry_failed, a.force)
        sw.lock()
        sw.write_manifest()
        sw.scan()
        sw.write_csv()
    except SpecError as e:
        print(f"sweep: error: {e}", file=sys.stderr)
        return 1

    n = len(spec.points)
    tty = sys.stderr.isatty() and not a.quiet
    bar = None
    if tty:
        try:
            from tqdm import tqdm
            bar = tqdm(total=n, initial=sw.reused, unit="pt", desc=spec.name, dynamic_ncols=True)
        except ImportError:
            bar = None
    counts = {}
    done = [sw.reused]

    def say(msg):
        if bar is not None:
            bar.write(msg, file=sys.stderr)
        elif not a.quiet:
            print(msg, file=sys.stderr, flush=True)

    def report(p, res, status):
        counts[status] = counts.get(status, 0) + 1
        done[0] += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix({k: v for k, v in sorted(counts.items())}, refresh=False)
        if status != "ok":
            say(f"sweep: point {p.id} ({p.name}) {status}"
                + (f" (exit {res.get('exit_code')})" if res.get("exit_code") not in (None, 0) else "")
                + f": {error_text(res.get('stderr', ''))}")
        elif bar is None and not a.quiet:
            say(f"sweep: [{done[0]}/{n}] {p.id} {p.name} ok ({res.get('wall_s', 0):.1f} s)")

    for p, path, why in sw.unreadable:  # printed with --quiet too: results were lost
        print(f"sweep: warning: {path}: {why}; point {p.id} ({p.name}) runs again", file=sys.stderr)
    if not a.quiet:
        say(f"sweep: {spec.name}: {n} points, {sw.reused} already done"
            + (f", {len(sw.unreadable)} unreadable" if sw.unreadable else "")
            + (f", {sw.stale} stale (config changed)" if sw.stale else "")
            + f", {len(sw.pending)} to run ({a.backend}"
            + (f", {a.jobs} jobs" if a.backend == "local" or not a.scheduler else "")
            + (f", {a.scheduler}" if a.backend == "dask" and a.scheduler else "") + ")")
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    rc = 0
    try:
        if sw.pending:
            if a.backend == "local":
                sw.run_local(a.jobs, report)
            else:
                sw.run_dask(a.scheduler, report, a.jobs, a.dask_host, say)
    except (KeyboardInterrupt, Interrupted) as e:
        say(f"sweep: interrupted ({e or 'SIGINT'}); finished points are kept, re-run to continue")
        rc = 130
    except SpecError as e:
        print(f"sweep: error: {e}", file=sys.stderr)
        rc = 1
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if bar is not None:
            bar.close()
        sw.write_csv()
    statuses = [sw.rows[p.id]["status"] for p in spec.points]
    summary = {s: statuses.count(s) for s in sorted(set(statuses))}
    if not a.quiet:
        print(f"sweep: {spec.name}: " + ", ".join(f"{v} {k}" for k, v in summary.items())
              + f" ({sum(counts.values())} run now, {time.monotonic() - t0:.1f} s); "
              + os.path.join(sw.out, "results.csv"), file=sys.stderr)
    if rc:
        return rc
    if any(s not in FINAL for s in statuses):
        return 2
    if a.strict and any(s != "ok" for s in statuses):
        return 2
    return 0
