// Live accuracy: rolling RMSE, MAE, bias and AQI-category hit rate per
// (station, target, horizon, fallback link, model version), compared with
// the model's validation figures; a sustained degradation raises an
// accuracy alarm (docs/MONITORING.md, "Live accuracy").
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sentinelle/monitor/alarm.h"
#include "sentinelle/reading.h"

namespace sentinelle::monitor {

struct AccuracyKey {
  std::string station_id;
  Variable target = Variable::kPm25;
  int horizon_min = 0;
  std::string link;           // fallback-chain link that answered, e.g. "xgboost", "persistence"
  int64_t model_version = 0;  // registry version (0 for links without one)
  auto operator<=>(const AccuracyKey&) const = default;
  // "pm25/60/xgboost/v12": the alarm's `what`.
  std::string Label() const;
};

// The model's figures on its validation set (from the trainer).
struct ValidationFigures {
  double rmse = 0;
  double hit_rate = NAN;  // NaN: unknown, hit rate not compared
  // Calibrated bound on live RMSE / validation RMSE for this model (the
  // spread of its RMSE over validation sub-windows of the accuracy window's
  // length, RmseFactorFromWindows); NaN: DegradationConfig::rmse_factor.
  double rmse_factor = NAN;
  // The model's RMSE over the persistence forecast's RMSE (the value at
  // issue time) on the same validation pairs; NaN: unknown, the skill
  // condition below is not applied.
  double baseline_ratio = NAN;
  // Calibrated bound on the live model/persistence ratio over
  // baseline_ratio (its spread over validation sub-windows); NaN:
  // DegradationConfig::skill_factor.
  double skill_factor = NAN;
};

// The RMSE factor a model's own validation period supports: each window's
// RMSE (one per entry of `window_rmse`, windows of the live accuracy
// window's length) over the whole period's RMSE `overall_rmse`; returns
// max(floor, quantile(ratios) x margin), or NaN with fewer than
// min_windows windows or a non-positive overall RMSE.
double RmseFactorFromWindows(const std::vector<double>& window_rmse, double overall_rmse,
                             double quantile, double margin, double floor, size_t min_windows);

struct AccuracySummary {
  uint64_t n = 0;
  double rmse = 0, mae = 0;
  double bias = 0;              // mean of predicted - actual
  uint64_t category_n = 0;      // pairs with an AQI category on both sides (pollutants)
  double hit_rate = NAN;        // share of equal AQI categories; NaN when category_n == 0
  // Pairs that also had the persistence forecast (the actual value at issue
  // time), the model's RMSE and persistence's RMSE over those pairs.
  uint64_t baseline_n = 0;
  double paired_rmse = NAN, baseline_rmse = NAN;
};

struct AccuracyOptions {
  int64_t bucket_s = 3600;   // expiry granularity
  int buckets = 24;          // window = 24 h
  size_t max_keys = 100000;  // new keys beyond this are refused (counted)
};

struct DegradationConfig {
  double rmse_factor = 1.5;        // bad when live RMSE > factor x validation RMSE
  double max_hit_rate_drop = 0.2;  // or live hit rate < validation hit rate - this
  uint64_t min_samples = 36;       // 3 h of 5-minute predictions; fewer: no verdict
  // Skill condition (when the persistence baseline is known on both sides,
  // with min_samples pairs live): a key is bad only when the model also lost
  // skill against persistence, i.e. (live model RMSE / live persistence
  // RMSE) / ValidationFigures::baseline_ratio > skill_factor (the
  // calibrated one, this value as its floor). Weather that is harder to
  // predict raises both errors and leaves the ratio alone.
  double skill_factor = 1.2;
};

// Bounded memory: per key, `buckets` sums (about 56 bytes each). Not
// thread-safe.
class AccuracyTracker {
 public:
  // Throws std::invalid_argument for bad options.
  explicit AccuracyTracker(AccuracyOptions options = {});

  // One prediction and the value that actually came, for the window ending
  // at ts_s. `actual` must have passed QC; pass NaN otherwise (refused, false).
  // `baseline`: the persistence forecast for the same window (the target's
  // value at issue time), NaN when unknown.
  bool Add(const AccuracyKey& key, int64_t ts_s, double predicted, double actual,
           double baseline = NAN);
  // Same with the reading that arrived for the predicted window: refused
  // when its target variable is missing or QC-flagged.
  bool Add(const AccuracyKey& key, double predicted, const Reading& actual);

  // Figures over the window ending at now_s; nullopt for an unknown key.
  std::optional<AccuracySummary> Summary(const AccuracyKey& key, int64_t now_s) const;
  std::vector<AccuracyKey> Keys() const;
  // Forgets keys with no data in the window ending at now_s.
  void Prune(int64_t now_s);

  // Evaluates every key at now_s against validation(key) (nullopt: no
  // figures, key skipped) and feeds (kAccuracyDegraded, station,
  // key.Label()) conditions into `book`; keys with fewer than min_samples
  // give no verdict. Returns alarms raised or cleared.
  std::vector<Alarm> Evaluate(
      int64_t now_s,
      const std::function<std::optional<ValidationFigures>(const AccuracyKey&)>& validation,
      const DegradationConfig& config, AlarmBook& book) const;

  uint64_t refused_keys() const { return refused_keys_; }
  uint64_t refused_values() const { return refused_values_; }

 private:
  struct Bucket {
    int64_t id = INT64_MIN;
    uint64_t n = 0, category_n = 0, hits = 0, baseline_n = 0;
    double sum_err = 0, sum_abs = 0, sum_sq = 0;
    double paired_sq = 0, baseline_sq = 0;  // over the pairs with a baseline
  };
  struct Series {
    std::vector<Bucket> ring;
    int64_t head = INT64_MIN;
  };
  AccuracyOptions options_;
  std::map<AccuracyKey, Series> series_;
  uint64_t refused_keys_ = 0;
  uint64_t refused_values_ = 0;
};

}  // namespace sentinelle::monitor
