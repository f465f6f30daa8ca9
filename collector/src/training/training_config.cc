#include <filesystem>

#include "sentinelle/collector/training_config.h"
#include "sentinelle/predict/features.h"

namespace sentinelle::collector {

namespace {

[[noreturn]] void Fail(const ConfigReader& r, const std::string& key, const std::string& what) {
  throw ConfigError(r.source() + ": " + key + " " + what);
}

}  // namespace

ModelsConfig ResolveModelsPaths(ModelsConfig m, const std::string& store_path) {
  if (m.dir.empty()) {
    const auto parent = std::filesystem::path(store_path).parent_path();
    m.dir = (parent.empty() ? std::filesystem::path("models") : parent / "models").string();
  }
  if (m.signing_key.empty()) m.signing_key = m.dir + "/signing.key";
  if (m.public_key.empty()) m.public_key = m.dir + "/signing.pub";
  return m;
}

void LoadTrainingConfig(ConfigReader& r, const std::string& store_path, TrainingConfig& t,
                        ModelsConfig& m) {
  if (const nlohmann::json* targets = r.Raw("training.targets")) {
    if (!targets->is_array() || targets->empty()) Fail(r, "training.targets", "must be a non-empty array");
    t.targets.clear();
    for (const auto& v : *targets) {
      auto var = v.is_string() ? VariableFromName(v.get<std::string>()) : std::nullopt;
      if (!var || !IsPollutant(*var)) Fail(r, "training.targets", "must name pollutants");
      t.targets.push_back(*var);
    }
  }
  if (const nlohmann::json* horizons = r.Raw("training.horizons_min")) {
    if (!horizons->is_array() || horizons->empty()) {
      Fail(r, "training.horizons_min", "must be a non-empty array");
    }
    t.horizons_min.clear();
    for (const auto& v : *horizons) {
      if (!v.is_number_integer() || !predict::HorizonSteps(300, v.get<int>())) {
        Fail(r, "training.horizons_min", "must be multiples of 5 minutes up to 14 days");
      }
      t.horizons_min.push_back(v.get<int>());
    }
  }
  t.station_models = r.Get<bool>("training.station_models", t.station_models);
  t.history_days = r.Get<int>("training.history_days", t.history_days);
  if (t.history_days < 1) Fail(r, "training.history_days", "must be positive");
  t.validation_fraction = r.Get<double>("training.validation_fraction", t.validation_fraction);
  if (!(t.validation_fraction > 0 && t.validation_fraction < 1)) {
    Fail(r, "training.validation_fraction", "must lie strictly between 0 and 1");
  }
  t.min_train_rows = r.Get<int>("training.min_train_rows", t.min_train_rows);
  t.min_validation_rows = r.Get<int>("training.min_validation_rows", t.min_validation_rows);
  t.min_skill = r.Get<double>("training.min_skill", t.min_skill);
  const int64_t seed = r.Get<int64_t>("training.seed", static_cast<int64_t>(t.seed));
  if (seed < 0) Fail(r, "training.seed", "must not be negative");
  t.seed = static_cast<uint64_t>(seed);
  t.linear_lambda = r.Get<double>("training.linear_lambda", t.linear_lambda);
  XgbTrainingParams& x = t.xgb;
  x.tree_method = r.Get<std::string>("training.xgboost.tree_method", x.tree_method);
  if (x.tree_method != "hist" && x.tree_method != "exact" && x.tree_method != "approx") {
    Fail(r, "training.xgboost.tree_method", "must be hist, approx or exact");
  }
  x.max_depth = r.Get<int>("training.xgboost.max_depth", x.max_depth);
  x.eta = r.Get<double>("training.xgboost.eta", x.eta);
  x.num_rounds = r.Get<int>("training.xgboost.num_rounds", x.num_rounds);
  x.early_stopping_rounds =
      r.Get<int>("training.xgboost.early_stopping_rounds", x.early_stopping_rounds);
  x.subsample = r.Get<double>("training.xgboost.subsample", x.subsample);
  x.colsample_bytree = r.Get<double>("training.xgboost.colsample_bytree", x.colsample_bytree);
  x.min_child_weight = r.Get<double>("training.xgboost.min_child_weight", x.min_child_weight);
  x.lambda = r.Get<double>("training.xgboost.lambda", x.lambda);
  x.nthread = r.Get<int>("training.xgboost.nthread", x.nthread);
  x.max_bin = r.Get<int>("training.xgboost.max_bin", x.max_bin);
  if (x.max_bin < 2 || x.max_bin > 65536) Fail(r, "training.xgboost.max_bin", "must lie in 2..65536");
  if (x.max_depth < 1 || x.num_rounds < 1 || !(x.eta > 0) || x.nthread < 1 ||
      !(x.subsample > 0 && x.subsample <= 1) ||
      !(x.colsample_bytree > 0 && x.colsample_bytree <= 1)) {
    Fail(r, "training.xgboost", "has an out-of-range parameter");
  }
  t.parallel_models = r.Get<int>("training.parallel_models", t.parallel_models);
  if (t.parallel_models < 1 || t.parallel_models > 64) {
    Fail(r, "training.parallel_models", "must lie in 1..64");
  }
  t.schedule_interval_s = r.Get<int64_t>("training.schedule_interval_s", t.schedule_interval_s);
  t.alarm_cooldown_s = r.Get<int64_t>("training.alarm_cooldown_s", t.alarm_cooldown_s);
  if (t.schedule_interval_s < 0 || t.alarm_cooldown_s < 0) {
    Fail(r, "training.schedule_interval_s/alarm_cooldown_s", "must not be negative");
  }
  t.max_queued_jobs = r.Get<int>("training.max_queued_jobs", t.max_queued_jobs);
  if (t.max_queued_jobs < 1) Fail(r, "training.max_queued_jobs", "must be positive");

  m.dir = r.Get<std::string>("models.dir", m.dir);
  m.signing_key = r.Get<std::string>("models.signing_key", m.signing_key);
  m.public_key = r.Get<std::string>("models.public_key", m.public_key);
  m = ResolveModelsPaths(m, store_path);
  m.public_url = r.Get<std::string>("models.public_url", m.public_url);
  m.manifest_ttl_s = r.Get<int64_t>("models.manifest_ttl_s", m.manifest_ttl_s);
  if (m.manifest_ttl_s < 60) Fail(r, "models.manifest_ttl_s", "must be at least 60");
  m.rollout_max_rmse_ratio = r.Get<double>("models.rollout_max_rmse_ratio", m.rollout_max_rmse_ratio);
  if (!(m.rollout_max_rmse_ratio > 0)) Fail(r, "models.rollout_max_rmse_ratio", "must be positive");
  m.min_live_samples = r.Get<int64_t>("models.min_live_samples", m.min_live_samples);
  if (m.min_live_samples < 1) Fail(r, "models.min_live_samples", "must be positive");
  m.rollout_check_interval_s =
      r.Get<int64_t>("models.rollout_check_interval_s", m.rollout_check_interval_s);
  if (m.rollout_check_interval_s < 0) Fail(r, "models.rollout_check_interval_s", "must not be negative");
}

}  // namespace sentinelle::collector
