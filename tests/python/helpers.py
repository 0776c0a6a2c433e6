"""Shared set-up of the Python test-suite: puts scripts/ on sys.path."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(ROOT, "scripts")
GRAPHS = os.path.join(ROOT, "workloads", "graphs")
if SCRIPTS not in sys.path:
    sys.path.insert(0, SCRIPTS)


def run_main(main, args):
    """(exit code, stderr) of a script's main() run in this process (a subprocess would
    pay torch's import again); an exception other than SystemExit fails the test, as a
    traceback would."""
    import contextlib
    import io
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            rc = main(args)
        except SystemExit as e:
            rc = e.code
    return rc, err.getvalue()
