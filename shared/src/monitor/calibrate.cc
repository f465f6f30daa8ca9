#include "sentinelle/monitor/calibrate.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sentinelle::monitor {

double SampleQuantile(std::vector<double> values, double q) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return values[lo] + frac * (values[hi] - values[lo]);
}

void CollectNullSamples(const std::shared_ptr<const ReferenceSet>& reference,
                        std::span<const Reading> readings, const WindowOptions& window,
                        const DriftConfig& config, const CalibrationOptions& options,
                        std::vector<NullSample>& samples) {
  if (!reference) throw std::invalid_argument("CollectNullSamples: no reference");
  if (options.step_s <= 0) throw std::invalid_argument("CollectNullSamples: step_s <= 0");
  samples.resize(reference->features.size());
  if (readings.empty()) return;
  std::vector<const Reading*> sorted;
  sorted.reserve(readings.size());
  for (const Reading& r : readings) sorted.push_back(&r);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Reading* a, const Reading* b) {
    return a->window_end_s < b->window_end_s;
  });
  StationDriftWindow w("calibration", reference, window);
  const int64_t span = window.bucket_s * window.buckets;
  const int64_t first = sorted.front()->window_end_s;
  // Null windows end on bucket boundaries (the first full bucket onwards), so
  // each one holds `buckets` whole buckets.
  int64_t next = (first / window.bucket_s + 1) * window.bucket_s + span;
  auto evaluate = [&](int64_t at) {
    const auto result = w.Evaluate(at, config);
    for (size_t i = 0; i < result.size(); ++i) {
      const FeatureDrift& f = result[i];
      if (f.status == DriftStatus::kInsufficient) continue;
      samples[i].psi.push_back(f.psi);
      samples[i].ks.push_back(f.ks);
      samples[i].js.push_back(f.js);
      samples[i].wasserstein_iqr.push_back(f.wasserstein_iqr);
      samples[i].shift.push_back(f.shift);
      samples[i].at.push_back(at);
    }
  };
  for (const Reading* r : sorted) {
    // The window [next - span, next) is complete once a value at or after
    // its end comes (a value at `next` belongs to the following bucket).
    while (r->window_end_s >= next) {
      evaluate(next - 1);
      next += options.step_s;
    }
    w.AddReading(*r);
  }
}

std::vector<std::optional<DriftThresholds>> CalibrateThresholds(
    const std::vector<NullSample>& samples, const DriftThresholds& base,
    const CalibrationOptions& options) {
  std::vector<std::optional<DriftThresholds>> out(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    const NullSample& s = samples[i];
    if (s.size() < static_cast<size_t>(std::max(options.min_windows, 1))) continue;
    auto at = [&](const std::vector<double>& v, double floor) {
      return std::max(floor, SampleQuantile(v, options.quantile) * options.margin);
    };
    DriftThresholds t;
    t.psi = at(s.psi, base.psi);
    t.ks = at(s.ks, base.ks);
    t.js = at(s.js, base.js);
    t.wasserstein_iqr = at(s.wasserstein_iqr, base.wasserstein_iqr);
    std::vector<double> moved;
    moved.reserve(s.shift.size());
    for (double x : s.shift) moved.push_back(std::fabs(x));
    t.shift = moved.empty() ? base.shift : at(moved, base.shift);
    out[i] = t;
  }
  return out;
}

}  // namespace sentinelle::monitor
