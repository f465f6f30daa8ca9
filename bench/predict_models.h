// The benchmark's models: 200 trees of depth 6 on the default 71 features,
// one per (target, horizon), trained on 5 days of a synthetic station.
#pragma once

#include <string>
#include <vector>

#include "sentinelle/predict/features.h"
#include "sentinelle/predict/model_file.h"
#include "sentinelle/xgboost/xgb_booster.h"
#include "synthetic.h"

namespace sentinelle::predict::bench {

inline constexpr int64_t kTrainedUntil = 1767225600 + 5 * 86400;

inline ModelFileRequest BenchRequest(Variable target, int horizon_min) {
  ModelFileRequest r;
  r.scope = ModelScope::kStation;
  r.station = "st-1";
  r.target = target;
  r.horizon_min = horizon_min;
  r.version = "bench-" + std::string(Name(target)) + "-" + std::to_string(horizon_min);
  r.created_at_s = kTrainedUntil;
  r.trained_until_s = kTrainedUntil;
  r.spec = FeatureSpec::ForTargets({Variable::kPm25, Variable::kPm10, Variable::kNo2, Variable::kO3});
  return r;
}

inline xgb::TrainParams BenchParams() {
  xgb::TrainParams p;
  p.num_rounds = 200;
  p.max_depth = 6;
  p.eta = 0.05;
  p.nthread = 2;
  return p;
}

inline std::vector<Reading> BenchHistory(size_t windows = 5 * 288) {
  testing::SyntheticOptions o;
  o.seed = 9;
  o.flag_rate = 0.01;
  return testing::MakeHistory(windows, o);
}

// The 8 model files (4 targets x 5 and 60 minutes); throws on failure.
inline std::vector<std::string> TrainBenchModels(const std::vector<Reading>& history) {
  std::vector<std::string> files;
  for (Variable t : {Variable::kPm25, Variable::kPm10, Variable::kNo2, Variable::kO3}) {
    for (int h : {5, 60}) {
      const ModelFileRequest req = BenchRequest(t, h);
      auto set = BuildTrainingMatrix(history, req.spec, t, h);
      if (!set) throw std::runtime_error(set.message());
      auto file = xgb::TrainXgbModelFile(req, *set, nullptr, BenchParams(), 0, 1, XgbEncoding::kUbjson);
      if (!file) throw std::runtime_error(file.message());
      files.push_back(std::move(file.value()));
    }
  }
  return files;
}

}  // namespace sentinelle::predict::bench
