// Configuration of the trainer, the training job runner and model
// distribution (keys `training.*` and `models.*`; configs/collector.example.json,
// docs/MODELS.md "Training" and docs/OPERATIONS.md "Model signing key").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sentinelle/config.h"
#include "sentinelle/reading.h"

namespace sentinelle::collector {

struct XgbTrainingParams {
  std::string tree_method = "hist";
  int max_depth = 6;
  double eta = 0.2;
  int num_rounds = 300;
  int early_stopping_rounds = 20;
  double subsample = 1.0;
  double colsample_bytree = 1.0;
  double min_child_weight = 1.0;
  double lambda = 1.0;
  int nthread = 1;    // OpenMP threads per booster (parallel_models boosters at once)
  int max_bin = 256;  // 64 trains ~15 % faster but costs the 5-minute models skill (docs/PERFORMANCE.md)
};

struct TrainingConfig {
  // What a full retrain trains: every target x horizon, a network model and
  // (station_models) one model per station, plus a linear fallback per model.
  std::vector<Variable> targets = {Variable::kPm25, Variable::kPm10, Variable::kNo2,
                                   Variable::kO3};
  std::vector<int> horizons_min = {5, 60};  // as the stations predict (prediction.horizons_min)
  bool station_models = true;
  int history_days = 365;             // data window ending at the newest stored reading
  double validation_fraction = 0.2;   // the latest part of the window (never shuffled)
  int min_train_rows = 500;           // per model; fewer rows: the model is skipped
  int min_validation_rows = 100;
  double min_skill = 0.0;             // promotion gate: skill vs seasonal persistence must exceed it
  uint64_t seed = 42;
  double linear_lambda = 1e-3;
  XgbTrainingParams xgb;
  // Models trained at the same time (threads), each booster with
  // xgb.nthread OpenMP threads.
  int parallel_models = 2;
  // Triggers.
  int64_t schedule_interval_s = 7 * 86400;  // 0 disables the schedule
  int64_t alarm_cooldown_s = 86400;         // between two alarm-triggered retrains of a target
  int max_queued_jobs = 8;
};

struct ModelsConfig {
  // Content-addressed artifacts and the registry database. Empty: "models"
  // next to the store file.
  std::string dir;
  // Ed25519 key pair created on first start (private 0600, public 0644).
  // Empty: signing.key / signing.pub in `dir`.
  std::string signing_key;
  std::string public_key;
  // Base URL agents download artifacts from: {public_url}/api/v1/models/{version}/artifact.
  std::string public_url = "http://127.0.0.1:8080";
  int64_t manifest_ttl_s = 30 * 86400;  // manifest expiry after signing
  // Accuracy-gated rollout: a candidate's live RMSE may exceed the current
  // model's by at most this factor, over at least min_live_samples pairs.
  double rollout_max_rmse_ratio = 1.0;
  int64_t min_live_samples = 288;
  // How often shadow versions are measured and the gate applied (0: only
  // on demand, POST /api/v1/models/{v}/rollout).
  int64_t rollout_check_interval_s = 300;
};

// Fills empty paths: dir = "models" next to the store file, keys in dir.
ModelsConfig ResolveModelsPaths(ModelsConfig models, const std::string& store_path);

// Reads the `training.*` and `models.*` keys (defaults above). Throws
// ConfigError for invalid values. `store_path` places the default models dir.
void LoadTrainingConfig(ConfigReader& reader, const std::string& store_path,
                        TrainingConfig& training, ModelsConfig& models);

}  // namespace sentinelle::collector
