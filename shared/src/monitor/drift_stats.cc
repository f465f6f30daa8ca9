#include "sentinelle/monitor/drift_stats.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace sentinelle::monitor {

double Psi(const Distribution& expected, const Distribution& actual, double epsilon) {
  const size_t k = expected.mass.size();
  const double norm = 1.0 + static_cast<double>(k) * epsilon;
  double psi = 0;
  for (size_t i = 0; i < k; ++i) {
    const double e = (expected.mass[i] + epsilon) / norm;
    const double a = (actual.mass[i] + epsilon) / norm;
    if (a == e) continue;  // also keeps 0 * log(0 / 0) out when epsilon is 0
    psi += (a - e) * std::log(a / e);
  }
  return psi;
}

double KsBinned(const Distribution& a, const Distribution& b) {
  double fa = 0, fb = 0, d = 0;
  // The CDF at the upper edge of every bin but the overflow (whose upper end
  // is +inf, where both CDFs are 1).
  for (size_t i = 0; i + 1 < a.mass.size(); ++i) {
    fa += a.mass[i];
    fb += b.mass[i];
    d = std::max(d, std::fabs(fa - fb));
  }
  return std::min(d, 1.0);
}

namespace {

// Integral over one bin of |d(x)| for d linear from d0 to d1 over width w.
double AbsLinearIntegral(double d0, double d1, double w) {
  if ((d0 >= 0) == (d1 >= 0)) return 0.5 * w * std::fabs(d0 + d1);
  const double a0 = std::fabs(d0), a1 = std::fabs(d1);
  return 0.5 * w * (a0 * a0 + a1 * a1) / (a0 + a1);
}

// Integral of |g| for a step function g that is constant between the sorted
// breakpoints pts[0..n) and zero outside [pts[0], pts[n-1]); value(x) gives g
// on [x, next breakpoint).
template <typename F>
double StepIntegral(std::array<double, 3> pts, int n, F value) {
  std::sort(pts.begin(), pts.begin() + n);
  double s = 0;
  for (int i = 0; i + 1 < n; ++i) s += std::fabs(value(pts[i])) * (pts[i + 1] - pts[i]);
  return s;
}

}  // namespace

double Wasserstein1(std::span<const double> edges, const Distribution& a, const Distribution& b) {
  const size_t m = edges.size();
  const double a_under = a.mass.front(), b_under = b.mass.front();
  const double a_over = a.mass.back(), b_over = b.mass.back();
  double w = 0;

  // Lower tail: point masses at the underflow means, CDF step up to e[0].
  {
    const double e0 = edges.front();
    const double ua = std::min(a.under_mean, e0), ub = std::min(b.under_mean, e0);
    std::array<double, 3> pts{e0, 0, 0};
    int n = 1;
    if (a_under > 0) pts[n++] = ua;
    if (b_under > 0) pts[n++] = ub;
    w += StepIntegral(pts, n, [&](double x) {
      return (a_under > 0 && x >= ua ? a_under : 0.0) - (b_under > 0 && x >= ub ? b_under : 0.0);
    });
  }
  // Interior: CDFs linear inside each bin.
  double fa = a_under, fb = b_under;
  for (size_t i = 1; i < m; ++i) {
    const double fa1 = fa + a.mass[i], fb1 = fb + b.mass[i];
    w += AbsLinearIntegral(fa - fb, fa1 - fb1, edges[i] - edges[i - 1]);
    fa = fa1;
    fb = fb1;
  }
  // Upper tail: 1 - F steps down to 0 at the overflow means.
  {
    const double el = edges.back();
    const double oa = std::max(a.over_mean, el), ob = std::max(b.over_mean, el);
    std::array<double, 3> pts{el, 0, 0};
    int n = 1;
    if (a_over > 0) pts[n++] = oa;
    if (b_over > 0) pts[n++] = ob;
    w += StepIntegral(pts, n, [&](double x) {
      return (a_over > 0 && x < oa ? a_over : 0.0) - (b_over > 0 && x < ob ? b_over : 0.0);
    });
  }
  return w;
}

double JensenShannon(const Distribution& a, const Distribution& b) {
  double js = 0;
  for (size_t i = 0; i < a.mass.size(); ++i) {
    const double p = a.mass[i], q = b.mass[i];
    const double mid = 0.5 * (p + q);
    if (p > 0) js += 0.5 * p * std::log2(p / mid);
    if (q > 0) js += 0.5 * q * std::log2(q / mid);
  }
  return std::clamp(js, 0.0, 1.0);
}

double Quantile(std::span<const double> edges, const Distribution& d, double q) {
  double total = 0;
  for (double p : d.mass) total += p;
  if (!(total > 0)) return NAN;
  q = std::clamp(q, 0.0, 1.0) * total;
  double cum = d.mass.front();
  if (q <= cum && cum > 0) return d.under_mean;
  for (size_t i = 1; i < edges.size(); ++i) {
    const double p = d.mass[i];
    if (p > 0 && cum + p >= q) return edges[i - 1] + (q - cum) / p * (edges[i] - edges[i - 1]);
    cum += p;
  }
  return d.mass.back() > 0 ? d.over_mean : edges.back();
}

}  // namespace sentinelle::monitor
