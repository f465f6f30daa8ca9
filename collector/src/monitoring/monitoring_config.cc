#include "sentinelle/collector/monitoring_config.h"

namespace sentinelle::collector {

namespace {

template <typename T>
T AtLeast(ConfigReader& r, const std::string& key, T fallback, T min) {
  T v = r.Get<T>(key, fallback);
  if (!(v >= min)) {
    throw ConfigError(r.source() + ": " + key + " must be at least " + std::to_string(min));
  }
  return v;
}

}  // namespace

void LoadMonitoringConfig(ConfigReader& r, MonitoringConfig& c) {
  const std::string p = "monitoring.";
  c.enabled = r.Get<bool>(p + "enabled", c.enabled);
  const std::string clock = r.Get<std::string>(p + "clock", "wall");
  if (clock == "wall") {
    c.clock = MonitoringConfig::Clock::kWall;
  } else if (clock == "data") {
    c.clock = MonitoringConfig::Clock::kData;
  } else {
    throw ConfigError(r.source() + ": " + p + "clock must be \"wall\" or \"data\", not \"" +
                      clock + "\"");
  }
  c.evaluate_interval_s = AtLeast(r, p + "evaluate_interval_s", c.evaluate_interval_s, 1);
  c.drift_window_days = AtLeast(r, p + "drift_window_days", c.drift_window_days, 1);
  c.accuracy_window_h = AtLeast(r, p + "accuracy_window_h", c.accuracy_window_h, 1);
  c.join_lookback_s = AtLeast(r, p + "join_lookback_s", c.join_lookback_s, 300);
  c.max_pending_per_station =
      AtLeast(r, p + "max_pending_per_station", c.max_pending_per_station, 1);
  c.reference_refresh_s = AtLeast(r, p + "reference_refresh_s", c.reference_refresh_s, 1);
  c.series_step_s = AtLeast(r, p + "series_step_s", c.series_step_s, 60);
  c.series_points = AtLeast(r, p + "series_points", c.series_points, 1);
  c.station_series_max = AtLeast(r, p + "station_series_max", c.station_series_max, 0);
  c.retrain_on_regional_drift =
      r.Get<bool>(p + "retrain_on_regional_drift", c.retrain_on_regional_drift);
  c.retrain_on_accuracy = r.Get<bool>(p + "retrain_on_accuracy", c.retrain_on_accuracy);
  c.retrain_accuracy_min_stations = AtLeast(r, p + "retrain_accuracy_min_stations",
                                            c.retrain_accuracy_min_stations, 1);

  monitor::DriftConfig& d = c.drift;
  d.thresholds.psi = AtLeast(r, p + "drift.psi", d.thresholds.psi, 0.0);
  d.thresholds.ks = AtLeast(r, p + "drift.ks", d.thresholds.ks, 0.0);
  d.thresholds.js = AtLeast(r, p + "drift.js", d.thresholds.js, 0.0);
  d.thresholds.wasserstein_iqr =
      AtLeast(r, p + "drift.wasserstein_iqr", d.thresholds.wasserstein_iqr, 0.0);
  d.min_votes = AtLeast(r, p + "drift.min_votes", d.min_votes, 1);
  if (d.min_votes > 4) throw ConfigError(r.source() + ": " + p + "drift.min_votes must be 1..4");
  d.min_window_count = static_cast<uint64_t>(AtLeast<int64_t>(
      r, p + "drift.min_window_count", static_cast<int64_t>(d.min_window_count), 1));
  d.min_reference_per_context = static_cast<uint64_t>(
      AtLeast<int64_t>(r, p + "drift.min_reference_per_context",
                       static_cast<int64_t>(d.min_reference_per_context), 1));
  d.min_covered_share = AtLeast(r, p + "drift.min_covered_share", d.min_covered_share, 0.0);

  c.calibrate_drift = r.Get<bool>(p + "drift.calibrate", c.calibrate_drift);
  c.calibration_max_days =
      AtLeast(r, p + "drift.calibration_max_days", c.calibration_max_days, 1);
  monitor::CalibrationOptions& cal = c.calibration;
  cal.step_s = int64_t{86400} * AtLeast<int64_t>(r, p + "drift.calibration_step_days",
                                                 cal.step_s / 86400, 1);
  cal.quantile = AtLeast(r, p + "drift.calibration_quantile", cal.quantile, 0.0);
  if (cal.quantile > 1) {
    throw ConfigError(r.source() + ": " + p + "drift.calibration_quantile must be 0..1");
  }
  cal.margin = AtLeast(r, p + "drift.calibration_margin", cal.margin, 1.0);
  cal.min_windows = AtLeast(r, p + "drift.calibration_min_windows", cal.min_windows, 1);

  monitor::ClassifierConfig& k = c.classifier;
  k.k_nearest = AtLeast(r, p + "classifier.k_nearest", k.k_nearest, 1);
  k.radius_km = AtLeast(r, p + "classifier.radius_km", k.radius_km, 0.0);
  k.sensor_fault_max_share =
      AtLeast(r, p + "classifier.sensor_fault_max_share", k.sensor_fault_max_share, 0.0);
  k.regional_min_share = AtLeast(r, p + "classifier.regional_min_share", k.regional_min_share, 0.0);
  k.min_region_stations =
      AtLeast(r, p + "classifier.min_region_stations", k.min_region_stations, 1);
  k.network_share = AtLeast(r, p + "classifier.network_share", k.network_share, 0.0);
  k.min_relative_z = AtLeast(r, p + "classifier.min_relative_z", k.min_relative_z, 0.0);
  k.min_shift_spread = AtLeast(r, p + "classifier.min_shift_spread", k.min_shift_spread, 0.0);
  k.max_neighbour_shift = r.Get<double>(p + "classifier.max_neighbour_shift", k.max_neighbour_shift);
  k.sensor_min_relative_shift =
      r.Get<double>(p + "classifier.sensor_min_relative_shift", k.sensor_min_relative_shift);
  // The relative bound is calibrated like the drift thresholds.
  k.relative_quantile = cal.quantile;
  k.relative_margin = cal.margin;
  k.min_relative_windows = cal.min_windows;

  c.alarms.raise_after = AtLeast(r, p + "alarms.raise_after", c.alarms.raise_after, 1);
  c.alarms.clear_after = AtLeast(r, p + "alarms.clear_after", c.alarms.clear_after, 1);
  c.alarms.max_closed = static_cast<size_t>(AtLeast<int64_t>(
      r, p + "alarms.max_closed", static_cast<int64_t>(c.alarms.max_closed), 1));

  c.accuracy.rmse_factor = AtLeast(r, p + "accuracy.rmse_factor", c.accuracy.rmse_factor, 1.0);
  c.accuracy.skill_factor = AtLeast(r, p + "accuracy.skill_factor", c.accuracy.skill_factor, 1.0);
  c.accuracy.max_hit_rate_drop =
      AtLeast(r, p + "accuracy.max_hit_rate_drop", c.accuracy.max_hit_rate_drop, 0.0);
  c.accuracy.min_samples = static_cast<uint64_t>(AtLeast<int64_t>(
      r, p + "accuracy.min_samples", static_cast<int64_t>(c.accuracy.min_samples), 1));
  c.calibrate_accuracy = r.Get<bool>(p + "accuracy.calibrate", c.calibrate_accuracy);
  monitor::CalibrationOptions& ac = c.accuracy_calibration;
  ac.quantile = AtLeast(r, p + "accuracy.calibration_quantile", ac.quantile, 0.0);
  if (ac.quantile > 1) {
    throw ConfigError(r.source() + ": " + p + "accuracy.calibration_quantile must be 0..1");
  }
  ac.margin = AtLeast(r, p + "accuracy.calibration_margin", ac.margin, 1.0);
  ac.min_windows = AtLeast(r, p + "accuracy.calibration_min_windows", ac.min_windows, 1);
}

}  // namespace sentinelle::collector
