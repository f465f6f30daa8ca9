// Real models for the chain tests: trained here with libxgboost on synthetic
// station histories, written as model files the way the collector will.
#pragma once

#include <string>
#include <vector>

#include "sentinelle/predict/features.h"
#include "sentinelle/predict/model_file.h"
#include "sentinelle/xgboost/xgb_booster.h"
#include "synthetic.h"

namespace sentinelle::predict::testing {

inline constexpr int64_t kTrainedUntil = 1767225600 + 5 * 86400;

struct TrainedFiles {
  std::vector<Reading> history;  // the station's own history (5 days)
  std::string station_xgb;       // pm25 / 60 min, station scope, UBJSON
  std::string network_xgb;       // pm25 / 60 min, network scope, JSON
  std::string linear;            // pm25 / 60 min
  std::string out_of_range_xgb;  // pm25 / 60 min station model whose outputs exceed 1000 ug/m3
};

inline ModelFileRequest Request(ModelScope scope, const std::string& version, Variable target = Variable::kPm25,
                                int horizon_min = 60) {
  ModelFileRequest r;
  r.scope = scope;
  r.station = scope == ModelScope::kStation ? "st-1" : "";
  r.target = target;
  r.horizon_min = horizon_min;
  r.version = version;
  r.created_at_s = kTrainedUntil + 600;
  r.trained_until_s = kTrainedUntil;
  r.spec = FeatureSpec::ForTargets({Variable::kPm25, Variable::kPm10, Variable::kNo2, Variable::kO3});
  return r;
}

inline xgb::TrainParams SmallParams(int rounds = 30, int depth = 4) {
  xgb::TrainParams p;
  p.num_rounds = rounds;
  p.max_depth = depth;
  p.eta = 0.2;
  return p;
}

inline TrainedFiles TrainFiles() {
  TrainedFiles f;
  SyntheticOptions o;
  o.seed = 3;
  o.flag_rate = 0.01;
  f.history = MakeHistory(5 * 288, o);
  const ModelFileRequest station = Request(ModelScope::kStation, "st-v1");
  auto train = BuildTrainingMatrix(f.history, station.spec, Variable::kPm25, 60);
  if (!train) throw std::runtime_error(train.message());
  auto s = xgb::TrainXgbModelFile(station, *train, nullptr, SmallParams(), 0, 1, XgbEncoding::kUbjson);
  if (!s) throw std::runtime_error(s.message());
  f.station_xgb = *s;

  // The network model learns from three other stations.
  std::vector<Reading> network;
  for (int k = 0; k < 3; ++k) {
    SyntheticOptions n;
    n.station = "net-" + std::to_string(k);
    n.seed = 100 + k;
    n.level = 0.7 + 0.3 * k;
    auto h = MakeHistory(3 * 288, n);
    network.insert(network.end(), h.begin(), h.end());
  }
  TrainingSet net_set;
  for (int k = 0; k < 3; ++k) {
    std::vector<Reading> one(network.begin() + k * 3 * 288, network.begin() + (k + 1) * 3 * 288);
    auto part = BuildTrainingMatrix(one, station.spec, Variable::kPm25, 60);
    if (!part) throw std::runtime_error(part.message());
    for (size_t r = 0; r < part->X.rows; ++r) net_set.X.AppendRow(part->X.row(r), part->X.cols);
    net_set.y.insert(net_set.y.end(), part->y.begin(), part->y.end());
  }
  auto n = xgb::TrainXgbModelFile(Request(ModelScope::kNetwork, "net-v1"), net_set, nullptr, SmallParams(), 0, 2,
                                  XgbEncoding::kJson);
  if (!n) throw std::runtime_error(n.message());
  f.network_xgb = *n;

  auto l = FitLinearModelFile(Request(ModelScope::kNetwork, "lin-v1"), net_set);
  if (!l) throw std::runtime_error(l.message());
  f.linear = *l;

  TrainingSet shifted = *train;
  for (float& y : shifted.y) y += 3000.0f;
  auto bad = xgb::TrainXgbModelFile(Request(ModelScope::kStation, "st-wild"), shifted, nullptr, SmallParams(10, 2), 0,
                                    1, XgbEncoding::kJson);
  if (!bad) throw std::runtime_error(bad.message());
  f.out_of_range_xgb = *bad;
  return f;
}

}  // namespace sentinelle::predict::testing
