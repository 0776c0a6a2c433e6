"""Runs one sweep point: the simulate subprocess in a scratch directory.

Standard library only, and self-contained, so that it can run on a Dask worker (the driver
ships it by value with cloudpickle; workers need no masesim checkout on sys.path, but the
simulate binary, the graphs and the device type files must exist at the same absolute
paths). The result carries the output files' text back to the driver, which writes the
point directory; so workers need no shared file system.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

OUT_FILES = ("stats.json", "stats.csv", "config.yaml")

class LiveProcesses:
    """The simulate processes a local driver has running, to kill them on interrupt."""

    def __init__(self):
        self._procs = set()
        self._lock = threading.Lock()

    def add(self, p):
        with self._lock:
            self._procs.add(p)

    def discard(self, p):
        with self._lock:
            self._procs.discard(p)

    def kill_all(self):
        with self._lock:
            procs = list(self._procs)
        for p in procs:  # by pid, only processes this driver started
            try:
                p.kill()
            except OSError:
                pass


def run_point(task, live=None):
    """task: {id, config_text, simulate, timeout_s, scratch_root (or None)}.

    Returns {id, status, exit_code, stdout, stderr, files: {name: text}, wall_s, host}.
    status: ok (exit 0), failed (simulate exited non-zero), timeout, killed (by a signal),
    error (could not start simulate). Only ok and failed are final (kept for resume).
    """
    t0 = time.monotonic()
    res = {"id": task["id"], "status": "error", "exit_code": None, "stdout": "", "stderr": "",
           "files": {}, "wall_s": 0.0, "host": socket.gethostname()}
    root = task.get("scratch_root")
    if root:
        os.makedirs(root, exist_ok=True)
    work = tempfile.mkdtemp(prefix=f"point-{task['id']}-", dir=root)
    try:
        with open(os.path.join(work, "config.yaml"), "w") as f:
            f.write(task["config_text"])
        cmd = [task["simulate"], "--config", "config.yaml", "--out", "out", "--quiet"]
        try:
            proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, text=True, errors="replace")
        except OSError as e:
            res["stderr"] = f"cannot run {task['simulate']}: {e.strerror or e}"
            return res
        if live is not None:
            live.add(proc)
        try:
            out, err = proc.communicate(timeout=task.get("timeout_s"))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            res.update(status="timeout", stdout=out, exit_code=None,
                       stderr=(err + f"\nsweep: point timed out after {task['timeout_s']} s").strip())
            return res
        finally:
            if live is not None:
                live.discard(proc)
        rc = proc.returncode
        # messages name the scratch dir; make them independent of where the point ran
        err = err.replace(work + "/", "").replace(work, ".")
        out = out.replace(work + "/", "").replace(work, ".")
        res.update(exit_code=rc, stdout=out, stderr=err)
        if rc < 0:
            try:
                sig = signal.Signals(-rc).name
            except ValueError:
                sig = str(-rc)
            res["status"] = "killed"
            res["stderr"] = (err + f"\nsweep: simulate was killed by {sig}").strip()
            return res
        res["status"] = "ok" if rc == 0 else "failed"
        for name in OUT_FILES:
            p = os.path.join(work, "out", name)
            if os.path.isfile(p):
                with open(p, errors="replace") as f:
                    res["files"][name] = f.read()
        if rc == 0 and "stats.json" not in res["files"]:
            res["status"] = "error"
            res["stderr"] = (err + "\nsweep: simulate exited 0 but wrote no stats.json").strip()
        return res
    finally:
        res["wall_s"] = round(time.monotonic() - t0, 3)
        shutil.rmtree(work, ignore_errors=True)
