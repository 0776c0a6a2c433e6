"""Runs one sweep point: the simulate subprocess in a scratch directory.

Standard library only, and self-contained, so that it can run on a Dask worker (the driver
ships it by value with cloudpickle; workers need no masesim checkout on sys.path, but the
simulate binary, the graphs and the device type files must exist at the same absolute
paths). The result carries the output files' text back to the driver, which writes the
point directory; so workers need no shared file system.

Orphans: each simulate runs in its own session (process group, so the driver can end it
and anything it started with one killpg) and asks the kernel to SIGKILL it when its parent
dies (prctl PR_SET_PDEATHSIG, set between fork and exec), so a driver or Dask worker killed
by SIGKILL takes its simulations with it. Scratch folders are named
point-<id>-<pid of the runner>-*; a runner removes the ones in its scratch root whose
runner process is gone (a killed driver or Dask worker). On a Dask worker the scratch root
is the worker's own local directory, which Dask removes when the worker ends.
"""
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

OUT_FILES = ("stats.json", "stats.csv", "config.yaml")

PR_SET_PDEATHSIG = 1


def die_with_parent():
    """A preexec_fn: the child gets SIGKILL when the thread that started it ends (a killed
    driver or worker). None where prctl is missing (not Linux): then only the signal
    handlers of the driver end the simulations. (Looked up per call, not at import: the
    module is pickled by value for Dask, and ctypes handles cannot be pickled.)"""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def fn():  # runs in the child between fork and exec: no allocation-heavy work
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(137)

    return fn


def kill_group(proc):
    """SIGKILL to proc's process group (its own session), while proc is not yet reaped
    (so the id cannot belong to another process)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class LiveProcesses:
    """The simulate processes a local driver has running, to kill them on interrupt."""

    def __init__(self):
        self._procs = set()
        self._lock = threading.Lock()
        self._closed = False

    def add(self, p):
        """Registers p; after kill_all (a run that started while the driver was being
        interrupted) p is killed at once."""
        with self._lock:
            if self._closed:
                kill_group(p)
            else:
                self._procs.add(p)

    def discard(self, p):
        with self._lock:
            self._procs.discard(p)

    def kill_all(self):
        with self._lock:
            self._closed = True
            procs = list(self._procs)
        for p in procs:  # by process group, only groups this driver started
            kill_group(p)


_SCRATCH_RE = re.compile(r"point-[0-9a-f]+-(\d+)-")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def purge_stale_scratch(root):
    """Removes point-<id>-<pid>-* folders in root whose runner process no longer exists."""
    try:
        names = os.listdir(root)
    except OSError:
        return []
    gone = []
    for n in names:
        m = _SCRATCH_RE.match(n)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(os.path.join(root, n), ignore_errors=True)
            gone.append(n)
    return gone


def default_scratch_root():
    """The Dask worker's local directory (cleaned by Dask when the worker ends), else
    <tempdir>/masesim-sweep."""
    try:
        from distributed import get_worker
        return os.path.join(get_worker().local_directory, "masesim-sweep")
    except (ImportError, ValueError, AttributeError):
        return os.path.join(tempfile.gettempdir(), "masesim-sweep")


def dask_cancelled_probe():
    """On a Dask worker: a function telling whether this task was cancelled or released
    (its driver was interrupted or died); None elsewhere."""
    try:
        from distributed import get_worker
        from distributed.worker import thread_state
        worker, key = get_worker(), thread_state.key
    except (ImportError, ValueError, AttributeError):
        return None

    def cancelled():
        ts = worker.state.tasks.get(key)
        return ts is None or ts.state not in ("executing", "long-running", "resumed")

    return cancelled


def _wait(proc, timeout_s, cancelled, poll_s=1.0):
    """proc.communicate(), polling `cancelled` every poll_s; ends proc's group when it says
    so. Returns (stdout, stderr, None or 'cancelled'); raises TimeoutExpired after timeout_s."""
    if cancelled is None:
        return proc.communicate(timeout=timeout_s) + (None,)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        step = poll_s if deadline is None else max(0.0, min(poll_s, deadline - time.monotonic()))
        try:
            return proc.communicate(timeout=step) + (None,)
        except subprocess.TimeoutExpired:
            if deadline is not None and time.monotonic() >= deadline:
                raise
            if cancelled():
                kill_group(proc)
                return proc.communicate() + ("cancelled",)


def run_point(task, live=None):
    """task: {id, config_text, simulate, timeout_s, scratch_root (or None)}.

    Returns {id, status, exit_code, stdout, stderr, files: {name: text}, wall_s, host}.
    status: ok (exit 0), failed (simulate exited non-zero), timeout, killed (by a signal),
    error (could not start simulate). Only ok and failed are final (kept for resume).
    """
    t0 = time.monotonic()
    res = {"id": task["id"], "status": "error", "exit_code": None, "stdout": "", "stderr": "",
           "files": {}, "wall_s": 0.0, "host": socket.gethostname()}
    root = task.get("scratch_root") or default_scratch_root()
    os.makedirs(root, exist_ok=True)
    purge_stale_scratch(root)
    work = tempfile.mkdtemp(prefix=f"point-{task['id']}-{os.getpid()}-", dir=root)
    try:
        with open(os.path.join(work, "config.yaml"), "w") as f:
            f.write(task["config_text"])
        cmd = [task["simulate"], "--config", "config.yaml", "--out", "out", "--quiet"]
        try:
            proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, text=True, errors="replace",
                                    start_new_session=True, preexec_fn=die_with_parent())
        except OSError as e:
            res["stderr"] = f"cannot run {task['simulate']}: {e.strerror or e}"
            return res
        if live is not None:
            live.add(proc)
        try:
            out, err, why = _wait(proc, task.get("timeout_s"), dask_cancelled_probe())
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            res.update(status="timeout", stdout=out, exit_code=None,
                       stderr=(err + f"\nsweep: point timed out after {task['timeout_s']} s").strip())
            return res
        except BaseException:
            kill_group(proc)
            raise
        finally:
            if live is not None:
                live.discard(proc)
        rc = proc.returncode
        if why == "cancelled":
            res.update(status="killed", stderr="sweep: the driver cancelled this point (interrupted or gone)")
            return res
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
