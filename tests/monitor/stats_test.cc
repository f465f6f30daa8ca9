// Known-answer tests of the binned drift statistics, and their agreement
// with the exact sample statistics for fine bins.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "sentinelle/monitor/drift_stats.h"
#include "sentinelle/monitor/histogram.h"

namespace sentinelle::monitor {
namespace {

Distribution D(std::vector<double> mass, double under_mean = 0, double over_mean = 0) {
  return Distribution{std::move(mass), under_mean, over_mean};
}

TEST(DriftStatsTest, IdenticalDistributionsScoreZero) {
  const std::vector<double> edges = {0, 1, 2, 4};
  const auto a = D({0.1, 0.3, 0.4, 0.15, 0.05}, -1.0, 7.0);
  EXPECT_NEAR(Psi(a, a), 0.0, 1e-12);
  EXPECT_NEAR(KsBinned(a, a), 0.0, 1e-12);
  EXPECT_NEAR(JensenShannon(a, a), 0.0, 1e-12);
  EXPECT_NEAR(Wasserstein1(edges, a, a), 0.0, 1e-12);
}

TEST(DriftStatsTest, DisjointDistributionsScoreTheMaximum) {
  const std::vector<double> edges = {0, 1, 2};
  const auto a = D({0, 1, 0, 0});
  const auto b = D({0, 0, 1, 0});
  EXPECT_DOUBLE_EQ(KsBinned(a, b), 1.0);
  EXPECT_NEAR(JensenShannon(a, b), 1.0, 1e-12);
  // Uniform on [0,1) against uniform on [1,2): everything moves by 1.
  EXPECT_NEAR(Wasserstein1(edges, a, b), 1.0, 1e-12);
  // Two bins at 1 - eps-ish, two at eps: 2 * (1/1.0004) * ln(10001).
  EXPECT_NEAR(Psi(a, b), 2.0 / 1.0004 * std::log(10001.0), 1e-9);
  EXPECT_GT(Psi(a, b), 18.0);
}

TEST(DriftStatsTest, HandComputedSmallCase) {
  const std::vector<double> edges = {0, 1, 2};
  const auto a = D({0, 0.5, 0.5, 0});
  const auto b = D({0, 0.25, 0.75, 0});
  EXPECT_NEAR(KsBinned(a, b), 0.25, 1e-12);
  // A quarter of the mass moves one unit to the right.
  EXPECT_NEAR(Wasserstein1(edges, a, b), 0.25, 1e-12);
  // PSI without smoothing: 0.25 ln 2 + 0.25 ln 1.5; eps = 0 reproduces it exactly.
  EXPECT_NEAR(Psi(a, b, 0.0), 0.25 * std::log(2.0) + 0.25 * std::log(1.5), 1e-12);
  EXPECT_NEAR(Psi(a, b), 0.25 * std::log(2.0) + 0.25 * std::log(1.5), 1e-3);
  // JS = 1/2 KL(a||m) + 1/2 KL(b||m), m = (0.375, 0.625), base 2.
  const double m1 = 0.375, m2 = 0.625;
  const double js = 0.5 * (0.5 * std::log2(0.5 / m1) + 0.5 * std::log2(0.5 / m2)) +
                    0.5 * (0.25 * std::log2(0.25 / m1) + 0.75 * std::log2(0.75 / m2));
  EXPECT_NEAR(JensenShannon(a, b), js, 1e-12);
  // Symmetry.
  EXPECT_NEAR(Psi(a, b), Psi(b, a), 1e-12);
  EXPECT_NEAR(JensenShannon(a, b), JensenShannon(b, a), 1e-12);
  EXPECT_NEAR(Wasserstein1(edges, a, b), Wasserstein1(edges, b, a), 1e-12);
}

TEST(DriftStatsTest, WassersteinCrossingInsideABin) {
  // a uniform on [0,2), b all in [0,1) then nothing: F_a - F_b goes
  // 0 -> -0.5 -> 0; plus a sign change case: a = [.5,.5], b = [.5,.5] shifted.
  const std::vector<double> edges = {0, 1, 2};
  const auto a = D({0, 0.5, 0.5, 0});
  const auto b = D({0, 1.0, 0.0, 0});
  // Uniform[0,2) vs uniform[0,1): W1 = |1 - 0.5| = 0.5.
  EXPECT_NEAR(Wasserstein1(edges, a, b), 0.5, 1e-12);
  // Differences +0.25 at e1 and -0.25 at e2 with 0 at e0 and e3: the middle
  // bin crosses zero, contributing 0.5 * 1 * (0.0625 + 0.0625) / 0.5 = 0.125.
  const std::vector<double> e3 = {0, 1, 2, 3};
  const auto c = D({0, 0.5, 0.0, 0.5, 0});
  const auto d = D({0, 0.25, 0.5, 0.25, 0});
  EXPECT_NEAR(Wasserstein1(e3, c, d), 0.125 + 0.125 + 0.125, 1e-12);
}

TEST(DriftStatsTest, TailsUseTheirMeans) {
  const std::vector<double> edges = {0, 1};
  const auto under = D({1, 0, 0}, -3.0, 0);
  const auto inside = D({0, 1, 0});
  const auto over = D({0, 0, 1}, 0, 11.0);
  // Point mass at -3 against uniform [0,1): 3 + 0.5.
  EXPECT_NEAR(Wasserstein1(edges, under, inside), 3.5, 1e-12);
  // Uniform [0,1) against a point mass at 11: 0.5 + 10.
  EXPECT_NEAR(Wasserstein1(edges, inside, over), 10.5, 1e-12);
  EXPECT_NEAR(Wasserstein1(edges, under, over), 14.0, 1e-12);
  EXPECT_DOUBLE_EQ(KsBinned(under, over), 1.0);
  // Two underflow masses at different means.
  const auto under2 = D({1, 0, 0}, -1.0, 0);
  EXPECT_NEAR(Wasserstein1(edges, under, under2), 2.0, 1e-12);
}

TEST(DriftStatsTest, QuantileInterpolatesInsideBins) {
  const std::vector<double> edges = {0, 10, 20};
  const auto d = D({0.1, 0.4, 0.4, 0.1}, -5, 30);
  EXPECT_NEAR(Quantile(edges, d, 0.05), -5, 1e-12);
  EXPECT_NEAR(Quantile(edges, d, 0.3), 5, 1e-12);
  EXPECT_NEAR(Quantile(edges, d, 0.5), 10, 1e-12);
  EXPECT_NEAR(Quantile(edges, d, 0.7), 15, 1e-12);
  EXPECT_NEAR(Quantile(edges, d, 0.95), 30, 1e-12);
  EXPECT_TRUE(std::isnan(Quantile(edges, D({0, 0, 0, 0}), 0.5)));
}

// Exact two-sample KS statistic (what scipy.stats.ks_2samp reports).
double ExactKs(std::vector<double> a, std::vector<double> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  size_t i = 0, j = 0;
  double d = 0;
  while (i < a.size() && j < b.size()) {
    const double x = std::min(a[i], b[j]);
    while (i < a.size() && a[i] == x) ++i;
    while (j < b.size() && b[j] == x) ++j;
    d = std::max(d, std::fabs(static_cast<double>(i) / a.size() - static_cast<double>(j) / b.size()));
  }
  return d;
}

Distribution Histogram(const std::vector<double>& edges, const std::vector<double>& xs) {
  Distribution d;
  d.mass.assign(BinCount(edges), 0.0);
  double under = 0, over = 0;
  for (double x : xs) {
    const int bin = BinOf(edges, x);
    d.mass[bin] += 1.0 / xs.size();
    if (bin == 0) under += x;
    if (bin == BinCount(edges) - 1) over += x;
  }
  if (d.mass.front() > 0) d.under_mean = under / (d.mass.front() * xs.size());
  if (d.mass.back() > 0) d.over_mean = over / (d.mass.back() * xs.size());
  return d;
}

TEST(DriftStatsTest, BinnedKsApproachesExactKsForFineBins) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> n0(0, 1), n1(0.3, 1.2);
  std::vector<double> a(20000), b(20000);
  for (auto& x : a) x = n0(rng);
  for (auto& x : b) x = n1(rng);
  const double exact = ExactKs(a, b);
  for (int bins : {10, 50, 200}) {
    ReferenceBuilder builder({"x"}, ReferenceOptions{bins});
    for (double x : a) builder.AddValue(0, 0, x);
    auto ref = builder.Build();
    ASSERT_TRUE(ref.ok());
    const auto& edges = ref->features[0].edges;
    const auto ha = Histogram(edges, a), hb = Histogram(edges, b);
    double max_bin = 0;
    for (size_t i = 0; i < ha.mass.size(); ++i) {
      max_bin = std::max({max_bin, ha.mass[i], hb.mass[i]});
    }
    const double binned = KsBinned(ha, hb);
    EXPECT_LE(binned, exact + 1e-12) << bins;
    EXPECT_GE(binned, exact - max_bin - 1e-12) << bins;
    if (bins == 200) {
      EXPECT_NEAR(binned, exact, 0.01);
    }
  }
}

TEST(DriftStatsTest, BinnedWassersteinApproachesExactForFineBins) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> n0(10, 2), n1(11, 3);
  std::vector<double> a(20000), b(20000);
  for (auto& x : a) x = n0(rng);
  for (auto& x : b) x = n1(rng);
  ReferenceBuilder builder({"x"}, ReferenceOptions{200});
  for (double x : a) builder.AddValue(0, 0, x);
  auto ref = builder.Build();
  ASSERT_TRUE(ref.ok());
  const auto& edges = ref->features[0].edges;
  auto sa = a, sb = b;
  std::sort(sa.begin(), sa.end());
  std::sort(sb.begin(), sb.end());
  double exact = 0;
  for (size_t i = 0; i < sa.size(); ++i) exact += std::fabs(sa[i] - sb[i]) / sa.size();
  const double binned = Wasserstein1(edges, Histogram(edges, a), Histogram(edges, b));
  EXPECT_NEAR(binned, exact, 0.03 * exact);
}

}  // namespace
}  // namespace sentinelle::monitor
