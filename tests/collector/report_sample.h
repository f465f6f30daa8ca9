// A monitoring report (docs/MONITORING.md, "Report JSON") for the HTML
// renderer's tests: two stations, the second with a drifting sensor, an
// ongoing and a closed alarm, accuracy series with a gap, a network-wide
// alarm and pooled accuracy.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "sentinelle/reading.h"

namespace sentinelle::testing {

inline constexpr int64_t kReportFrom = 1790000000 - 1790000000 % 3600;  // an hour boundary
inline constexpr int64_t kReportTo = kReportFrom + 24 * 3600;

// Hourly series over the report window: value(i) for hour i; `gap_at` hours
// (>= 0) get a null value.
inline nlohmann::json HourlySeries(const char* key, double base, double step, int gap_at = -1) {
  nlohmann::json s = nlohmann::json::array();
  for (int i = 0; i <= 24; ++i) {
    nlohmann::json p = {{"t", FormatUtc(kReportFrom + i * 3600)}};
    if (i == gap_at) p[key] = nullptr;
    else p[key] = base + step * i;
    s.push_back(p);
  }
  return s;
}

inline nlohmann::json AccuracyEntry(const std::string& target, int horizon, const std::string& link,
                                    double rmse, double validation, int gap_at = -1) {
  return {{"target", target},          {"horizon_min", horizon},
          {"link", link},              {"model_version", 7},
          {"n", 288},                  {"rmse", rmse},
          {"mae", rmse * 0.8},         {"bias", -0.4},
          {"aqi_hit_rate", 0.91},      {"validation_rmse", validation},
          {"series", HourlySeries("rmse", validation, rmse / 24.0, gap_at)}};
}

inline nlohmann::json DriftEntry(const std::string& feature, double psi, const std::string& status) {
  return {{"feature", feature}, {"psi", psi},           {"ks", 0.08},
          {"wasserstein", 1.7}, {"js", 0.04},           {"status", status},
          {"series", HourlySeries("psi", 0.01, psi / 24.0)}};
}

inline nlohmann::json SampleReport() {
  using nlohmann::json;
  json alarm_open = {{"kind", "drift_sensor_fault"},
                     {"subject", "abj-cocody"},
                     {"what", "pm25"},
                     {"reason", "pm25 drifts alone: 0 of 3 neighbours drift"},
                     {"start", FormatUtc(kReportFrom + 6 * 3600)},
                     {"end", nullptr},
                     {"figures", {{"psi", 0.81}, {"neighbours", 3}, {"drifting_neighbours", 0}}}};
  json alarm_closed = {{"kind", "accuracy_degraded"},
                       {"subject", "abj-cocody"},
                       {"what", "pm25/60/network/v7"},
                       {"reason", "live RMSE 14.2 > 1.5 x validation 8.1"},
                       {"start", FormatUtc(kReportFrom + 2 * 3600)},
                       {"end", FormatUtc(kReportFrom + 5 * 3600)},
                       {"figures", {{"rmse", 14.2}, {"validation_rmse", 8.1}}}};
  json a = {{"id", "abj-plateau"},
            {"health", "ready"},
            {"alarms", json::array()},
            {"accuracy", {AccuracyEntry("pm25", 60, "network", 6.1, 5.9),
                          AccuracyEntry("no2", 180, "seasonal", 9.0, 8.0, 10)}},
            {"drift", {DriftEntry("pm25", 0.03, "ok"), DriftEntry("humidity_pct", 0.02, "ok")}}};
  json b = {{"id", "abj-cocody"},
            {"health", "degraded"},
            {"alarms", {alarm_open, alarm_closed}},
            {"accuracy", {AccuracyEntry("pm25", 60, "network", 14.2, 8.1)}},
            {"drift", {DriftEntry("pm25", 0.81, "drift"), DriftEntry("temperature_c", 0.05, "ok"),
                       DriftEntry("pm10", 0.0, "insufficient")}}};
  json network_alarm = {{"kind", "drift_regional"},
                        {"subject", "network"},
                        {"what", "o3"},
                        {"reason", "o3 drifts at 4 of 5 stations"},
                        {"start", FormatUtc(kReportFrom + 12 * 3600)},
                        {"end", nullptr},
                        {"figures", {{"stations", 4}, {"retrain_candidate", 1}}}};
  json net_acc = AccuracyEntry("pm25", 60, "network", 10.0, 7.0);
  net_acc["model_version"] = 0;  // pooled over versions
  return {{"generated", FormatUtc(kReportTo + 60)},
          {"scope", "network"},
          {"window", {{"from", FormatUtc(kReportFrom)}, {"to", FormatUtc(kReportTo)}}},
          {"stations", {a, b}},
          {"network", {{"alarms", {network_alarm}}, {"accuracy", {net_acc}}}}};
}

}  // namespace sentinelle::testing
