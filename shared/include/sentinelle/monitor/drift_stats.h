// Drift statistics between two binned distributions over the same edges
// (histogram.h). Every function is O(bins), pure and thread-safe.
// Definitions, defaults and how they relate to the sample-based versions:
// docs/MONITORING.md, "Statistics".
#pragma once

#include <span>

#include "sentinelle/monitor/histogram.h"

namespace sentinelle::monitor {

// Smoothing of PSI: each bin's share becomes (p + eps) / (1 + bins * eps), so
// empty bins give a large but finite term. With eps = 1e-4 two disjoint
// one-bin distributions score 2 * ln(1e4) ~ 18.4, the practical maximum.
inline constexpr double kPsiEpsilon = 1e-4;

// Population Stability Index, sum (a - e) * ln(a / e) over bins, natural log.
// Symmetric in its arguments. 0 for identical distributions. Rules of thumb:
// < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 significant shift.
double Psi(const Distribution& expected, const Distribution& actual,
           double epsilon = kPsiEpsilon);

// Binned Kolmogorov-Smirnov statistic: max |F - G| over the bin edges, in
// [0, 1]. It never exceeds the exact two-sample statistic of the underlying
// samples, and falls short of it by at most the largest single-bin mass of
// either distribution, so it converges to scipy's ks_2samp statistic as bins
// get finer.
double KsBinned(const Distribution& a, const Distribution& b);

// Wasserstein-1 (earth mover's) distance in feature units: the integral of
// |F - G|, with mass spread uniformly inside interior bins and the under- and
// overflow bins' mass placed at the mean of their values.
double Wasserstein1(std::span<const double> edges, const Distribution& a, const Distribution& b);

// Jensen-Shannon divergence with base-2 logarithms, in [0, 1]: 0 for
// identical distributions, 1 for disjoint ones. (scipy's
// spatial.distance.jensenshannon returns its square root.)
double JensenShannon(const Distribution& a, const Distribution& b);

// Quantile q in [0, 1] of a distribution, interpolating linearly inside
// interior bins; tail bins answer their mean. NaN for an empty distribution.
double Quantile(std::span<const double> edges, const Distribution& d, double q);

}  // namespace sentinelle::monitor
