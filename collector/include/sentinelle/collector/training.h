// The trainer: station and network models per target and horizon from the
// stored history, with the shared feature pipeline (predict/features.h), a
// time-ordered split, early stopping on the validation window, a linear
// fallback on the same features, and metrics against seasonal persistence
// (docs/MODELS.md, "Training").
//
// Split. Over the data window [from, to) the cutoff is
//   cutoff = from + (1 - validation_fraction) * (to - from)
// A row (features at t, target at t + horizon) is a training row when its
// target time is before the cutoff, a validation row when t >= cutoff; rows
// straddling the cutoff are dropped, so no validation value is ever seen in
// training. Rows are never shuffled. Network models use the same cutoff for
// every station.
//
// Metrics on the validation rows: RMSE, MAE, R² and skill against seasonal
// persistence (1 - RMSE_model / RMSE_persistence over the rows where
// persistence answers), overall and per station. The gate passes when the
// overall skill exceeds training.min_skill.
//
// Reproducible: the same rows, parameters, seed and nthread give the same
// booster bytes (XGBoost hist is deterministic), and with the same version
// and clock the same model file bytes.
//
// Thread safety: a Trainer may run on any thread; concurrent Run calls on one
// Trainer are allowed (no shared mutable state) but the job runner runs one at
// a time. Reads go through HistoryStore's reader connections, never the
// ingest writer.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sentinelle/collector/store.h"
#include "sentinelle/collector/training_config.h"
#include "sentinelle/env.h"
#include "sentinelle/predict/features.h"
#include "sentinelle/predict/model_file.h"
#include "sentinelle/result.h"

namespace sentinelle::collector {

struct FitMetrics {
  int64_t rows = 0;
  double rmse = 0, mae = 0, r2 = 0;
  int64_t persistence_rows = 0;  // rows where persistence answered
  double model_rmse_on_persistence_rows = 0;
  double persistence_rmse = 0;
  double skill = 0;  // 1 - model / persistence RMSE on those rows; 0 when none
  nlohmann::json ToJson() const;
};

// Computes FitMetrics from aligned vectors (NaN persistence = did not answer).
FitMetrics ComputeFitMetrics(const std::vector<float>& actual, const std::vector<float>& predicted,
                             const std::vector<double>& persistence);

// Seasonal persistence forecasts for every window of one station's history
// from `from_s` on, as an agent would have made them at that window
// (profile and last value from the readings up to and including it, the
// earlier ones included). Keyed by window end.
std::map<int64_t, double> PersistenceForecasts(const std::vector<Reading>& history,
                                               Variable target, int horizon_min,
                                               int64_t from_s = INT64_MIN);

// The time-ordered split above: rows whose target time (t + horizon) is
// before cutoff_s go to `train`, rows with t >= cutoff_s to `val`, in their
// original order; the rest are dropped.
void SplitByTime(const predict::TrainingSet& all, int64_t cutoff_s, int horizon_min,
                 predict::TrainingSet& train, predict::TrainingSet& val);

// Name of the reference entry holding a model's predictions on its
// validation window (context at the target time): "pred/{target}/{horizon_min}",
// the prediction stream the drift monitor compares live answers with
// (docs/MONITORING.md, "Prediction drift").
std::string PredictionReferenceName(Variable target, int horizon_min);

// One model the trainer produced (before the registry gives it a number).
struct TrainedModel {
  predict::ModelKind kind = predict::ModelKind::kXgboost;
  predict::ModelScope scope = predict::ModelScope::kNetwork;
  std::string station;             // station scope only
  Variable target = Variable::kPm25;
  int horizon_min = 60;
  predict::FeatureSpec spec;
  // Builds the model file for a registry version (deterministic: the same
  // version and created_at give the same bytes).
  std::function<Result<std::string>(const std::string& version, int64_t created_at_s)> write;
  std::string booster_sha256;      // of the raw booster / linear weights
  int rounds = 0;                  // xgboost: trees kept
  int64_t train_rows = 0, validation_rows = 0;
  int64_t window_from_s = 0, window_to_s = 0, cutoff_s = 0;
  std::vector<std::string> stations;  // stations whose rows it saw
  FitMetrics overall;
  std::map<std::string, FitMetrics> per_station;
  bool gate_passed = false;
  std::string gate_reason;
  nlohmann::json hyperparameters;
  std::string xgboost_version;     // "" for linear
  // Drift reference histograms (monitor::ReferenceSet JSON, docs/MODELS.md):
  // one entry per input feature, and "pred/{target}/{horizon}" for every
  // boosted model of the same scope trained in the same run.
  nlohmann::json reference;
};

struct TrainRequest {
  std::vector<Variable> targets;   // empty: config targets
  std::vector<int> horizons_min;   // empty: config horizons
  bool network = true;
  bool station_models = true;      // AND config.station_models
  bool linear = true;              // a linear fallback next to every boosted model
  std::vector<std::string> stations;  // empty: every station in the store
  std::optional<int64_t> to_s;     // end of the data window; default: newest reading + 1
  std::optional<uint64_t> seed;    // default: config seed
  // Test hook: permutes the training labels (seeded) so the model learns
  // nothing real; the skill gate must then refuse it.
  bool TEST_shuffle_train_labels = false;
};

struct TrainProgress {
  int done = 0;
  int total = 0;
  std::string step;  // e.g. "pm25/60 network"
};
using ProgressFn = std::function<void(const TrainProgress&)>;

class Trainer {
 public:
  // store and env are borrowed and must outlive the trainer.
  Trainer(TrainingConfig config, HistoryStore* store, Env* env);

  // Trains everything the request names. Models with too few rows are
  // skipped (listed in *skipped when given). Errors: store failures,
  // invalid request, XGBoost failures; `cancel` (may be null) aborts between
  // models with an error.
  Result<std::vector<TrainedModel>> Run(const TrainRequest& request, const ProgressFn& progress,
                                        const std::atomic<bool>* cancel,
                                        std::vector<std::string>* skipped = nullptr);

  const TrainingConfig& config() const { return config_; }

 private:
  TrainingConfig config_;
  HistoryStore* store_;
  Env* env_;
};

}  // namespace sentinelle::collector
