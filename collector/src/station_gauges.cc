#include "sentinelle/collector/station_gauges.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace sentinelle::collector {

namespace {
using prometheus::BuildCounter;
using prometheus::BuildGauge;
}  // namespace

StationGauges::StationGauges(prometheus::Registry& registry, size_t max_stations)
    : max_stations_(max_stations),
      health_(BuildGauge()
                  .Name("sentinelle_collector_station_health")
                  .Help("1 for the station's current health state (one series per station)")
                  .Register(registry)),
      value_(BuildGauge()
                 .Name("sentinelle_collector_station_value")
                 .Help("Newest window's mean of each variable that passed QC, in its unit")
                 .Register(registry)),
      aqi_(BuildGauge()
               .Name("sentinelle_collector_station_aqi")
               .Help("US EPA AQI of the station's newest window (absent when no pollutant is valid)")
               .Register(registry)),
      reading_time_(BuildGauge()
                        .Name("sentinelle_collector_station_last_reading_timestamp_seconds")
                        .Help("Window end of the station's newest stored reading (Unix s)")
                        .Register(registry)),
      prediction_(BuildGauge()
                      .Name("sentinelle_collector_station_prediction")
                      .Help("Newest prediction per target and horizon (for its issue time + horizon)")
                      .Register(registry)),
      open_gaps_(BuildGauge()
                     .Name("sentinelle_collector_station_open_gaps")
                     .Help("Open gaps of the station in the gap ledger")
                     .Register(registry)),
      fallback_rate_(BuildGauge()
                         .Name("sentinelle_collector_station_fallback_rate")
                         .Help("Share of recent predictions not made by the station's own model (EWMA)")
                         .Register(registry)),
      model_version_(BuildGauge()
                         .Name("sentinelle_collector_station_model_version")
                         .Help("Version of each model the station reports running, by slot "
                               "(target, horizon_min, kind)")
                         .Register(registry)),
      refused_(BuildCounter()
                   .Name("sentinelle_collector_station_series_refused_total")
                   .Help("Updates not exported because the per-station series cap was reached")
                   .Register(registry)
                   .Add({})) {}

bool StationGauges::Admit(const std::string& station) {
  if (admitted_.count(station)) return true;
  if (admitted_.size() >= max_stations_) {
    refused_.Increment();
    return false;
  }
  admitted_.insert(station);
  return true;
}

void StationGauges::OnReading(const StoredReading& sr) {
  const Reading& r = sr.reading;
  std::lock_guard lock(mu_);
  if (!Admit(r.station_id)) return;
  int64_t& newest = newest_window_[r.station_id];
  if (r.window_end_s < newest) return;
  newest = r.window_end_s;
  reading_time_.Add({{"station", r.station_id}}).Set(static_cast<double>(r.window_end_s));
  for (int i = 0; i < kVariableCount; ++i) {
    const auto v = static_cast<Variable>(i);
    const prometheus::Labels labels{{"station", r.station_id}, {"variable", std::string(Name(v))}};
    if (r.valid(v)) {
      value_.Add(labels).Set(r.value(v));
    } else if (value_.Has(labels)) {
      value_.Remove(&value_.Add(labels));
    }
  }
  const prometheus::Labels station{{"station", r.station_id}};
  if (r.aqi) aqi_.Add(station).Set(*r.aqi);
  else if (aqi_.Has(station)) aqi_.Remove(&aqi_.Add(station));
}

void StationGauges::OnPrediction(const PredictionRecord& p) {
  if (!std::isfinite(p.value)) return;
  std::lock_guard lock(mu_);
  if (!Admit(p.station_id)) return;
  int64_t& newest = newest_issue_[{p.station_id, p.target, p.horizon_min}];
  if (p.issued_s < newest) return;
  newest = p.issued_s;
  // The link is not a label: it changes, and a label would leave one stale
  // series per link. The dashboards read it from the agent's counters.
  prediction_
      .Add({{"station", p.station_id},
            {"target", p.target},
            {"horizon_min", std::to_string(p.horizon_min)}})
      .Set(p.value);
}

void StationGauges::OnHealth(const std::vector<StationHealth>& stations) {
  std::lock_guard lock(mu_);
  for (const StationHealth& h : stations) {
    if (!Admit(h.station_id)) continue;
    const std::string state(HealthStateName(h.state));
    std::string& current = state_[h.station_id];
    if (current != state) {
      if (!current.empty()) {
        health_.Remove(&health_.Add({{"station", h.station_id}, {"state", current}}));
      }
      health_.Add({{"station", h.station_id}, {"state", state}}).Set(1);
      current = state;
    }
    open_gaps_.Add({{"station", h.station_id}}).Set(static_cast<double>(h.open_gaps));
    fallback_rate_.Add({{"station", h.station_id}}).Set(h.fallback_rate);
    // Model slots from the station's status; slots it no longer reports go.
    std::vector<prometheus::Labels> now;
    for (const ModelVersionInfo& m : h.models) {
      char* end = nullptr;
      const double version = std::strtod(m.version.c_str(), &end);
      if (m.version.empty() || *end != '\0' || !std::isfinite(version)) continue;
      prometheus::Labels labels{{"station", h.station_id},
                                {"target", m.target},
                                {"horizon_min", std::to_string(m.horizon_min)},
                                {"kind", m.kind}};
      model_version_.Add(labels).Set(version);
      now.push_back(std::move(labels));
    }
    std::vector<prometheus::Labels>& before = model_labels_[h.station_id];
    for (const auto& labels : before) {
      if (std::find(now.begin(), now.end(), labels) == now.end() && model_version_.Has(labels)) {
        model_version_.Remove(&model_version_.Add(labels));
      }
    }
    before = std::move(now);
  }
}

size_t StationGauges::stations() const {
  std::lock_guard lock(mu_);
  return admitted_.size();
}

}  // namespace sentinelle::collector
