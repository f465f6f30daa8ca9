// Drift thresholds calibrated on the reference period itself
// (docs/MONITORING.md, "Calibrated thresholds").
//
// Fixed rules of thumb (PSI 0.25, ...) assume independent samples. Weather
// is not: a 14-day window of pressure or humidity wanders far more than
// independent draws would, so fixed thresholds read ordinary weather as
// drift. The calibration replays the reference period through windows of
// the live window's length, compares each with the reference exactly as the
// live monitor will (context-aware), and takes, per feature and statistic,
// a high quantile of those "null" values times a margin. A feature that is
// naturally non-stationary over the window length (pressure) thus gets a
// correspondingly high threshold.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "sentinelle/monitor/drift.h"

namespace sentinelle::monitor {

struct CalibrationOptions {
  int64_t step_s = 86400;  // one null window ending every step
  double quantile = 0.95;  // of the null values of each statistic
  double margin = 1.5;     // threshold = max(default, quantile x margin)
  int min_windows = 8;     // fewer null windows for a feature: default thresholds kept
};

// The null values of one feature, one per replayed window with a verdict:
// the four statistics, the signed shift (FeatureDrift::shift) and the time
// the window ended (`at`, the evaluation time; windows end on bucket
// boundaries, so the windows of different stations replayed over the same
// period line up and their shifts can be compared, classify.h).
struct NullSample {
  std::vector<double> psi, ks, js, wasserstein_iqr, shift;
  std::vector<int64_t> at;
  size_t size() const { return psi.size(); }
};

// Replays `readings` (one station, any order) through a StationDriftWindow
// of `window` options over `reference`, evaluating every `step_s` from the
// first full window on, and appends each feature's statistics (windows with
// a verdict only) to `samples` (resized to the reference's features).
// Readings go through AddReading, so only values that passed QC count.
void CollectNullSamples(const std::shared_ptr<const ReferenceSet>& reference,
                        std::span<const Reading> readings, const WindowOptions& window,
                        const DriftConfig& config, const CalibrationOptions& options,
                        std::vector<NullSample>& samples);

// Empirical quantile (linear interpolation between order statistics) of
// `values`; NaN when empty.
double SampleQuantile(std::vector<double> values, double q);

// Per feature: nullopt with fewer than min_windows samples, otherwise each
// threshold = max(base threshold, quantile(null) x margin); the shift bound
// (DriftThresholds::shift) = quantile(|null shift|) x margin.
std::vector<std::optional<DriftThresholds>> CalibrateThresholds(
    const std::vector<NullSample>& samples, const DriftThresholds& base,
    const CalibrationOptions& options);

}  // namespace sentinelle::monitor
