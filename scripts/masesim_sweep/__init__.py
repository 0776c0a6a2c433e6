"""Design-space exploration for masesim: sweep specs, runners, results and plots.

Modules:
  spec     -- load a sweep spec, expand its axes into points, merge a point into the base config
  runner   -- run one point (simulate subprocess in a scratch dir); stdlib only, runs on Dask workers
  results  -- summarise a point's stats.json into a results.csv row; atomic file writes
  driver   -- the sweep itself: resume, backends (local, dask), progress, results.csv

CLI front ends: scripts/sweep.py and scripts/plot_sweep.py. Documentation: docs/sweeps.md.
"""
