// Data and prediction drift of one station against its model's reference
// histograms, per feature, comparing like with like (docs/MONITORING.md).
//
// Context-aware comparison: the window's values are counted per context band
// (context.h); the expected distribution is the mixture of the reference's
// per-context distributions weighted by the window's own context mix. A
// night-only window is thus compared with the reference's nights, and a
// window that follows the daily cycle of the reference scores ~0 whatever
// its band mix. Contexts the reference has too few values for are left out
// of both sides (and reported through covered_share).
//
// QC: values enter a window only through AddReading (which takes variables
// that passed QC, Reading::valid) or as finite numbers through AddRow /
// AddValue, whose callers pass NaN for missing or flagged values. A flagged
// value therefore never counts towards drift.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sentinelle/monitor/drift_stats.h"
#include "sentinelle/monitor/histogram.h"
#include "sentinelle/monitor/rolling.h"
#include "sentinelle/reading.h"

namespace sentinelle::monitor {

// A statistic above its threshold is one vote for drift.
struct DriftThresholds {
  double psi = 0.25;             // "significant shift" in credit-scoring practice
  double ks = 0.15;              // binned KS
  double js = 0.10;              // base-2 Jensen-Shannon divergence
  double wasserstein_iqr = 0.5;  // W1 divided by the expected distribution's IQR
  // Not a vote: how far the feature's median wanders from the reference in
  // ordinary weather, |FeatureDrift::shift| in reference IQRs (calibrated,
  // calibrate.h; 0 = unknown). Reported only: as a stillness bound for the
  // neighbours it is too wide (docs/MONITORING.md, "Sensor faults are
  // judged against the neighbours").
  double shift = 0;
};

struct DriftConfig {
  DriftThresholds thresholds;
  int min_votes = 2;                          // of the four statistics
  uint64_t min_window_count = 288;            // one day of 5-minute readings
  uint64_t min_reference_per_context = 100;   // reference values a context needs to be used
  double min_covered_share = 0.5;             // of the window's values in usable contexts
  bool context_aware = true;                  // false: one global comparison (naive)
  double psi_epsilon = kPsiEpsilon;
};

enum class DriftStatus { kOk, kDrift, kInsufficient };
std::string_view DriftStatusName(DriftStatus s);

struct FeatureDrift {
  std::string feature;
  DriftStatus status = DriftStatus::kInsufficient;
  uint64_t window_count = 0;    // values in the window
  uint64_t compared_count = 0;  // of those, in contexts the reference covers
  double covered_share = 0;     // compared_count / window_count
  double psi = 0, ks = 0, js = 0;
  double wasserstein = 0;       // feature units
  double reference_iqr = 0;     // feature units, of the expected distribution
  double wasserstein_iqr = 0;   // wasserstein / reference_iqr
  // Signed location shift: (window median - expected median) / the expected
  // IQR (or mean bin width). What the classifier compares across neighbours.
  double shift = 0;
  double shift_bound = 0;       // DriftThresholds::shift of the thresholds used (0 = unknown)
  int votes = 0;                // statistics above their threshold
  double score = 0;             // max over statistics of value / threshold
  std::string detail;           // why insufficient, when it is
};

// Compares one rolling window with one reference feature. The window must
// use the reference's edges (programmer error otherwise: throws
// std::invalid_argument). O(contexts x bins).
FeatureDrift CompareToReference(const ReferenceFeature& reference, const RollingHistogram& window,
                                const DriftConfig& config);

// The windows of one station, one per reference feature. Single-writer; not
// thread-safe (the collector keeps one per station and feeds it from its
// ingest thread).
class StationDriftWindow {
 public:
  // Throws std::invalid_argument for a null reference or bad options.
  StationDriftWindow(std::string station_id, std::shared_ptr<const ReferenceSet> reference,
                     WindowOptions options = {});

  // Every reference feature named after a variable ("pm25", ...) takes the
  // reading's value when it passed QC; flagged and missing values are
  // counted in flagged_skipped() and never enter the window.
  void AddReading(const Reading& reading);
  // One value per reference feature, in reference order; NaN = missing or
  // QC-flagged (skipped). Throws std::invalid_argument on a size mismatch.
  void AddRow(int64_t ts_s, std::span<const double> values);
  // One value of one feature (e.g. a prediction, "pred/pm25/60"). False when
  // refused (not finite, older than the window, unknown index).
  bool AddValue(size_t feature, int64_t ts_s, double value);

  // Expires data older than the window ending at now_s, then compares every
  // feature. Results are in reference order. A feature with calibrated
  // thresholds (SetThresholds) is judged by them instead of
  // config.thresholds.
  std::vector<FeatureDrift> Evaluate(int64_t now_s, const DriftConfig& config);

  // Per-feature thresholds in reference order (calibrate.h); nullopt keeps
  // the config's. Throws std::invalid_argument on a size mismatch (an empty
  // vector clears them).
  void SetThresholds(std::vector<std::optional<DriftThresholds>> thresholds);
  const std::vector<std::optional<DriftThresholds>>& thresholds() const { return thresholds_; }

  const std::string& station_id() const { return station_id_; }
  const ReferenceSet& reference() const { return *reference_; }
  const RollingHistogram& window(size_t feature) const { return windows_[feature]; }
  uint64_t flagged_skipped() const { return flagged_skipped_; }
  uint64_t too_old() const { return too_old_; }
  size_t MemoryBytes() const;

 private:
  std::string station_id_;
  std::shared_ptr<const ReferenceSet> reference_;
  std::vector<RollingHistogram> windows_;
  std::vector<std::optional<DriftThresholds>> thresholds_;  // empty or one per feature
  std::array<int, kVariableCount> feature_of_variable_{};
  uint64_t flagged_skipped_ = 0;
  uint64_t too_old_ = 0;
};

}  // namespace sentinelle::monitor
