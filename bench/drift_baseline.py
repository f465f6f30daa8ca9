#!/usr/bin/python3
"""Baseline for the drift statistics benchmark (docs/PERFORMANCE.md).

Reads the data set written by `bench_monitoring --write-data=DIR` (the same
reference rows, window rows and reference bin edges the C++ side used) and
computes, per feature, on the raw samples:
  - scipy.stats.ks_2samp (exact two-sample KS statistic),
  - a numpy PSI over the reference's bins (same epsilon smoothing),
  - scipy.stats.wasserstein_distance (exact W1 of the samples),
then compares them with the C++ figures (global comparison, as numpy/scipy
do not know context bands) and times both sides.

Usage: /usr/bin/python3 bench/drift_baseline.py DIR   (Debian's python3-numpy, python3-scipy)
"""
import json
import platform
import statistics
import sys
import time

import numpy as np
import scipy
from scipy import stats


def numpy_psi(expected, actual, edges, eps):
    # Bins as in shared/include/sentinelle/monitor/histogram.h: underflow,
    # [e[i-1], e[i]) interior bins, overflow.
    k = len(edges) + 1
    e = np.bincount(np.searchsorted(edges, expected, side="right"), minlength=k) / len(expected)
    a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=k) / len(actual)
    norm = 1.0 + k * eps
    e = (e + eps) / norm
    a = (a + eps) / norm
    return float(np.sum((a - e) * np.log(a / e)))


def timed(fn, repeats):
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs) * 1000.0


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    d = sys.argv[1]
    cpp = json.load(open(f"{d}/cpp_stats.json"))
    ref_set = json.load(open(f"{d}/reference.json"))
    nf = cpp["features"]
    ref = np.fromfile(f"{d}/reference.f64", dtype="<f8").reshape(-1, nf)
    win = np.fromfile(f"{d}/window.f64", dtype="<f8").reshape(-1, nf)
    edges = [np.array(f["edges"]) for f in ref_set["features"]]
    eps = cpp["psi_epsilon"]

    ks_exact, psi_np, w_exact = [], [], []
    for k in range(nf):
        ks_exact.append(float(stats.ks_2samp(ref[:, k], win[:, k]).statistic))
        psi_np.append(numpy_psi(ref[:, k], win[:, k], edges[k], eps))
        w_exact.append(float(stats.wasserstein_distance(ref[:, k], win[:, k])))

    g = cpp["global"]
    psi_diff = max(abs(g[k]["psi"] - psi_np[k]) for k in range(nf))
    ks_diff = [g[k]["ks"] - ks_exact[k] for k in range(nf)]
    w_rel = [abs(g[k]["wasserstein"] - w_exact[k]) / max(w_exact[k], 1e-12) for k in range(nf)]
    # Drift decisions: same features flagged by exact KS > 0.15 and binned KS > 0.15?
    agree = sum((g[k]["ks"] > 0.15) == (ks_exact[k] > 0.15) for k in range(nf))

    repeats = 20
    # scipy's default method ('auto') computes an exact p-value for these
    # sizes, which dominates; 'asymp' is the cheapest scipy can do.
    t_ks = timed(lambda: [stats.ks_2samp(ref[:, k], win[:, k]) for k in range(nf)], 3)
    t_ks_asymp = timed(lambda: [stats.ks_2samp(ref[:, k], win[:, k], method="asymp")
                                for k in range(nf)], repeats)
    t_psi = timed(lambda: [numpy_psi(ref[:, k], win[:, k], edges[k], eps) for k in range(nf)],
                  repeats)

    print(f"machine: {platform.machine()}, {platform.platform()}, python {platform.python_version()},"
          f" numpy {np.__version__}, scipy {scipy.__version__}")
    print(f"data: {nf} features, {win.shape[0]} window rows, {ref.shape[0]} reference rows")
    print("feature  psi_cpp   psi_numpy  ks_binned  ks_exact  w1_binned  w1_exact")
    for k in range(nf):
        print(f"{g[k]['feature']:>7}  {g[k]['psi']:8.5f}  {psi_np[k]:9.5f}  {g[k]['ks']:9.5f}"
              f"  {ks_exact[k]:8.5f}  {g[k]['wasserstein']:9.4f}  {w_exact[k]:8.4f}")
    print(f"max |psi_cpp - psi_numpy|            = {psi_diff:.2e}")
    print(f"ks_binned - ks_exact: min {min(ks_diff):+.4f}, max {max(ks_diff):+.4f}"
          f" (binned <= exact by construction)")
    print(f"w1 relative difference: median {statistics.median(w_rel):.4f}, max {max(w_rel):.4f}")
    print(f"KS > 0.15 decisions agreeing: {agree}/{nf}")
    print(f"time, {nf} features: scipy ks_2samp {t_ks:.2f} ms (default method, median of 3),"
          f" ks_2samp method='asymp' {t_ks_asymp:.2f} ms, numpy PSI {t_psi:.2f} ms"
          f" (median of {repeats}); C++ all four statistics from summaries"
          f" {cpp['evaluate_40_features_ms']:.4f} ms")
    ok = psi_diff < 1e-9 and max(ks_diff) <= 1e-12
    print("consistent" if ok else "INCONSISTENT")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
