#!/usr/bin/python3
"""Design-space sweep over masesim configs (docs/sweeps.md).

    scripts/sweep.py --spec configs/sweeps/mnist_parallelism.yaml --out out/mnist --jobs 2
    scripts/sweep.py --spec SPEC --out DIR --backend dask --scheduler tcp://127.0.0.1:8786
    scripts/sweep.py --spec SPEC --out DIR --backend dask --jobs 4   # local cluster on 127.0.0.1

Writes DIR/results.csv (one row per point, spec order), DIR/points/<id>/ (config.yaml,
result.json, out/stats.json ...), DIR/sweep.json. Re-running skips finished points; a point
whose result.json or stats.json is unreadable or incomplete is named and run again.
Exit codes: 0 every point has a result (ok or failed), 1 bad spec or arguments,
2 some points have no result (timeout, killed, could not run; or failed with --strict),
130 interrupted.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from masesim_sweep.driver import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
