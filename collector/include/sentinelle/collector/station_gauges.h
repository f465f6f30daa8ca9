// Per-station series on the collector's /metrics, for the dashboards (the
// network overview's station table and AQI, the station detail's readings
// and predictions, the models dashboard's versions): each station's health
// state, its newest reading (values that passed QC, AQI), its newest
// prediction per target and horizon, the model versions its status reports,
// its open gaps and fallback rate. docs/MONITORING.md, "Dashboards".
//
// Cardinality is bounded: per station one series of each gauge, one per
// variable with a valid value (12 at most), one per (target, horizon)
// predicted and one per model slot it reports; at most `max_stations` stations get series (the first ones
// seen), the others are counted in sentinelle_collector_station_series_refused_total.
// Label values come from fixed sets (variable names, health states) or from
// station ids and the models' targets/horizons.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "sentinelle/collector/health.h"
#include "sentinelle/collector/store.h"

namespace sentinelle::collector {

class StationGauges {
 public:
  static constexpr size_t kDefaultMaxStations = 1000;

  // Registers the families in `registry` (throws on a name clash: programmer error).
  explicit StationGauges(prometheus::Registry& registry,
                         size_t max_stations = kDefaultMaxStations);

  // A committed reading. Only the station's newest window moves the gauges
  // (a backfilled older window does not); variables that failed QC or are
  // missing lose their series until a valid value comes.
  void OnReading(const StoredReading& r);
  // A stored prediction; the newest issue time per (station, target, horizon) wins.
  void OnPrediction(const PredictionRecord& p);
  // The health of every station (HealthTracker::All), e.g. once per maintenance tick.
  void OnHealth(const std::vector<StationHealth>& stations);

  size_t stations() const;

 private:
  bool Admit(const std::string& station);  // mu_ held

  mutable std::mutex mu_;
  size_t max_stations_;
  std::set<std::string> admitted_;
  std::map<std::string, int64_t> newest_window_;
  std::map<std::string, std::string> state_;
  std::map<std::tuple<std::string, std::string, int>, int64_t> newest_issue_;
  std::map<std::string, std::vector<prometheus::Labels>> model_labels_;

  prometheus::Family<prometheus::Gauge>& health_;
  prometheus::Family<prometheus::Gauge>& value_;
  prometheus::Family<prometheus::Gauge>& aqi_;
  prometheus::Family<prometheus::Gauge>& reading_time_;
  prometheus::Family<prometheus::Gauge>& prediction_;
  prometheus::Family<prometheus::Gauge>& open_gaps_;
  prometheus::Family<prometheus::Gauge>& fallback_rate_;
  prometheus::Family<prometheus::Gauge>& model_version_;
  prometheus::Counter& refused_;
};

}  // namespace sentinelle::collector
