"""Shared set-up of the Python test-suite: puts scripts/ on sys.path."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(ROOT, "scripts")
GRAPHS = os.path.join(ROOT, "workloads", "graphs")
if SCRIPTS not in sys.path:
    sys.path.insert(0, SCRIPTS)
