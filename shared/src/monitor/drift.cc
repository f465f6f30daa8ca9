#include "sentinelle/monitor/drift.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "sentinelle/monitor/drift_stats.h"

namespace sentinelle::monitor {

std::string_view DriftStatusName(DriftStatus s) {
  switch (s) {
    case DriftStatus::kOk: return "ok";
    case DriftStatus::kDrift: return "drift";
    case DriftStatus::kInsufficient: return "insufficient";
  }
  return "?";
}

FeatureDrift CompareToReference(const ReferenceFeature& reference, const RollingHistogram& window,
                                const DriftConfig& config) {
  if (window.edges() != reference.edges) {
    throw std::invalid_argument("CompareToReference: window and reference edges differ for '" +
                                reference.name + "'");
  }
  FeatureDrift r;
  r.feature = reference.name;
  const int bins = BinCount(reference.edges);

  // Which contexts take part, and with what weight.
  std::array<double, kContextCount> weight{};
  std::array<uint64_t, kContextCount> ref_total{};
  uint64_t ref_all = 0;
  for (int c = 0; c < kContextCount; ++c) {
    ref_total[c] = reference.Total(c);
    ref_all += ref_total[c];
    r.window_count += window.Count(c);
  }
  for (int c = 0; c < kContextCount; ++c) {
    const bool usable = config.context_aware
                            ? ref_total[c] >= config.min_reference_per_context
                            : ref_all >= config.min_reference_per_context;
    if (usable) r.compared_count += window.Count(c);
    weight[c] = usable ? 1.0 : 0.0;
  }
  r.covered_share = r.window_count ? static_cast<double>(r.compared_count) / r.window_count : 0;
  if (r.compared_count < config.min_window_count) {
    r.detail = std::to_string(r.compared_count) + " comparable values, need " +
               std::to_string(config.min_window_count);
    return r;
  }
  if (r.covered_share < config.min_covered_share) {
    r.detail = "reference covers only " + std::to_string(r.covered_share) +
               " of the window's values";
    return r;
  }

  Distribution expected, observed;
  expected.mass.assign(bins, 0.0);
  observed.mass.assign(bins, 0.0);
  double under_n = 0, under_sum = 0, over_n = 0, over_sum = 0;
  const double n = static_cast<double>(r.compared_count);
  for (int c = 0; c < kContextCount; ++c) {
    if (weight[c] == 0 || window.Count(c) == 0) continue;
    const auto counts = window.Counts(c);
    for (int i = 0; i < bins; ++i) observed.mass[i] += static_cast<double>(counts[i]) / n;
    under_n += static_cast<double>(counts[0]);
    over_n += static_cast<double>(counts[bins - 1]);
    under_sum += window.UnderflowSum(c);
    over_sum += window.OverflowSum(c);
    if (config.context_aware) {
      // Reference of this context, weighted by the window's share of it.
      const double w = static_cast<double>(window.Count(c)) / n / ref_total[c];
      for (int i = 1; i + 1 < bins; ++i) {
        expected.mass[i] += w * static_cast<double>(reference.counts[c][i - 1]);
      }
    }
  }
  if (!config.context_aware) {
    for (int c = 0; c < kContextCount; ++c) {
      for (int i = 1; i + 1 < bins; ++i) {
        expected.mass[i] += static_cast<double>(reference.counts[c][i - 1]) / ref_all;
      }
    }
  }
  if (under_n > 0) observed.under_mean = under_sum / under_n;
  if (over_n > 0) observed.over_mean = over_sum / over_n;

  r.psi = Psi(expected, observed, config.psi_epsilon);
  r.ks = KsBinned(expected, observed);
  r.js = JensenShannon(expected, observed);
  r.wasserstein = Wasserstein1(reference.edges, expected, observed);
  r.reference_iqr = Quantile(reference.edges, expected, 0.75) -
                    Quantile(reference.edges, expected, 0.25);
  // A constant-ish feature has no spread: fall back on the mean bin width.
  const double scale =
      r.reference_iqr > 0
          ? r.reference_iqr
          : (reference.edges.back() - reference.edges.front()) / (reference.edges.size() - 1);
  r.wasserstein_iqr = r.wasserstein / scale;
  r.shift = (Quantile(reference.edges, observed, 0.5) - Quantile(reference.edges, expected, 0.5)) /
            scale;

  const auto& t = config.thresholds;
  r.shift_bound = t.shift;
  const double ratios[] = {r.psi / t.psi, r.ks / t.ks, r.js / t.js,
                           r.wasserstein_iqr / t.wasserstein_iqr};
  for (double q : ratios) {
    r.votes += q > 1.0 ? 1 : 0;
    r.score = std::max(r.score, q);
  }
  r.status = r.votes >= config.min_votes ? DriftStatus::kDrift : DriftStatus::kOk;
  return r;
}

StationDriftWindow::StationDriftWindow(std::string station_id,
                                       std::shared_ptr<const ReferenceSet> reference,
                                       WindowOptions options)
    : station_id_(std::move(station_id)), reference_(std::move(reference)) {
  if (!reference_) throw std::invalid_argument("StationDriftWindow: no reference");
  windows_.reserve(reference_->features.size());
  for (const auto& f : reference_->features) windows_.emplace_back(f.edges, options);
  feature_of_variable_.fill(-1);
  for (int v = 0; v < kVariableCount; ++v) {
    feature_of_variable_[v] = reference_->Find(Name(static_cast<Variable>(v)));
  }
}

void StationDriftWindow::AddReading(const Reading& reading) {
  for (int v = 0; v < kVariableCount; ++v) {
    const int f = feature_of_variable_[v];
    if (f < 0) continue;
    if (!reading.valid(static_cast<Variable>(v))) {
      ++flagged_skipped_;
      continue;
    }
    AddValue(static_cast<size_t>(f), reading.window_end_s, reading.values[v]);
  }
}

void StationDriftWindow::AddRow(int64_t ts_s, std::span<const double> values) {
  if (values.size() != windows_.size()) {
    throw std::invalid_argument("StationDriftWindow::AddRow: " + std::to_string(values.size()) +
                                " values for " + std::to_string(windows_.size()) + " features");
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(values[i])) {
      ++flagged_skipped_;
      continue;
    }
    AddValue(i, ts_s, values[i]);
  }
}

bool StationDriftWindow::AddValue(size_t feature, int64_t ts_s, double value) {
  if (feature >= windows_.size()) return false;
  const auto result = windows_[feature].Add(ts_s, value);
  if (result == RollingHistogram::AddResult::kTooOld) ++too_old_;
  return result == RollingHistogram::AddResult::kAdded;
}

std::vector<FeatureDrift> StationDriftWindow::Evaluate(int64_t now_s, const DriftConfig& config) {
  std::vector<FeatureDrift> out;
  out.reserve(windows_.size());
  for (size_t i = 0; i < windows_.size(); ++i) {
    windows_[i].AdvanceTo(now_s);
    if (i < thresholds_.size() && thresholds_[i]) {
      DriftConfig calibrated = config;
      calibrated.thresholds = *thresholds_[i];
      out.push_back(CompareToReference(reference_->features[i], windows_[i], calibrated));
    } else {
      out.push_back(CompareToReference(reference_->features[i], windows_[i], config));
    }
  }
  return out;
}

void StationDriftWindow::SetThresholds(std::vector<std::optional<DriftThresholds>> thresholds) {
  if (!thresholds.empty() && thresholds.size() != windows_.size()) {
    throw std::invalid_argument("StationDriftWindow::SetThresholds: " +
                                std::to_string(thresholds.size()) + " entries for " +
                                std::to_string(windows_.size()) + " features");
  }
  thresholds_ = std::move(thresholds);
}

size_t StationDriftWindow::MemoryBytes() const {
  size_t bytes = sizeof(*this) + station_id_.capacity();
  for (const auto& w : windows_) bytes += w.MemoryBytes();
  return bytes;
}

}  // namespace sentinelle::monitor
