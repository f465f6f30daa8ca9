#include "sentinelle/collector/rollout_gate.h"

#include <cmath>
#include <map>

namespace sentinelle::collector {

Result<LiveComparison> MeasureShadow(const ModelRecord& record, ModelRegistry& registry,
                                     HistoryStore& store) {
  LiveComparison live;
  live.candidate_version = record.version;
  auto target = VariableFromName(record.family.target);
  if (!target) return MakeError("unknown target '" + record.family.target + "'");
  const int64_t horizon_s = int64_t{record.family.horizon_min} * 60;
  auto shadow = registry.ShadowPredictions(record.version);
  if (!shadow) return MakeError("shadow predictions: " + shadow.message());

  // Rows come ordered by station then window: one store pass per station.
  double cand_se = 0, cur_se = 0;
  int64_t pairs = 0;
  size_t i = 0;
  while (i < shadow->size()) {
    const std::string station = (*shadow)[i].station;
    size_t j = i;
    while (j < shadow->size() && (*shadow)[j].station == station) ++j;
    const int64_t first = (*shadow)[i].issued_s, last = (*shadow)[j - 1].issued_s;
    auto answers = store.QueryPredictions(station, TimeRange{first, last + 1}, INT64_MAX);
    if (!answers) return MakeError("store: " + answers.message());
    std::map<int64_t, double> answered;
    for (const PredictionRecord& p : *answers) {
      if (p.target != record.family.target || p.horizon_min != record.family.horizon_min) continue;
      if (std::isnan(p.value) || p.model_kind == "none") continue;
      answered[p.issued_s] = p.value;
    }
    auto readings =
        store.QueryReadings(station, TimeRange{first + horizon_s, last + horizon_s + 1}, INT64_MAX);
    if (!readings) return MakeError("store: " + readings.message());
    std::map<int64_t, double> actual;
    for (const StoredReading& r : *readings) {
      if (r.reading.valid(*target)) actual[r.reading.window_end_s] = r.reading.value(*target);
    }
    for (size_t k = i; k < j; ++k) {
      const ShadowPrediction& s = (*shadow)[k];
      auto a = answered.find(s.issued_s);
      auto y = actual.find(s.issued_s + horizon_s);
      if (a == answered.end() || y == actual.end()) continue;
      cand_se += (s.value - y->second) * (s.value - y->second);
      cur_se += (a->second - y->second) * (a->second - y->second);
      ++pairs;
    }
    i = j;
  }
  live.candidate_samples = live.current_samples = pairs;
  if (pairs > 0) {
    live.candidate_rmse = std::sqrt(cand_se / static_cast<double>(pairs));
    live.current_rmse = std::sqrt(cur_se / static_cast<double>(pairs));
  }
  return live;
}

}  // namespace sentinelle::collector
