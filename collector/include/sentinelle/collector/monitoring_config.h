// Configuration of the collector's monitor (keys `monitoring.*`;
// configs/collector.example.json, docs/MONITORING.md "Collector monitor").
#pragma once

#include <cstdint>

#include "sentinelle/config.h"
#include "sentinelle/monitor/accuracy.h"
#include "sentinelle/monitor/alarm.h"
#include "sentinelle/monitor/calibrate.h"
#include "sentinelle/monitor/classify.h"
#include "sentinelle/monitor/drift.h"

namespace sentinelle::collector {

struct MonitoringConfig {
  bool enabled = true;
  // The monitor's clock. kWall: the collector's clock (a live network).
  // kData: the newest window end stored for any station, so a network
  // replaying history or running on an accelerated clock (the demo, a
  // backfill) is evaluated at its own time, one pass per
  // evaluate_interval_s of its time. Readings far in the future cannot move
  // it: ingest refuses them (ingest.clock_tolerance_s).
  enum class Clock { kWall, kData };
  Clock clock = Clock::kWall;
  // Network pass (drift per station, classifier, accuracy, alarms).
  int evaluate_interval_s = 3600;
  // Drift window: daily buckets, so the daily cycle is always complete.
  int drift_window_days = 14;
  // Accuracy window (hourly buckets).
  int accuracy_window_h = 24;
  // How long a prediction waits for the reading of its target window, and
  // a reading for late predictions (replays), before the pair is given up.
  int join_lookback_s = 86400;
  // Bounded memory: predictions waiting per station (oldest dropped, counted).
  int max_pending_per_station = 20000;
  // Checks the registry for a new production model this often.
  int reference_refresh_s = 300;
  // Report series: one point per step, at most `series_points` kept.
  int series_step_s = 21600;
  int series_points = 56;
  // Per-station Prometheus series at most (the rest summed as "_other").
  int station_series_max = 100;
  // A regional drift alarm asks the training jobs for a retraining (subject
  // to training.alarm_cooldown_s); so do accuracy alarms open for one target
  // at retrain_accuracy_min_stations stations or more that have no sensor
  // fault alarm.
  bool retrain_on_regional_drift = true;
  bool retrain_on_accuracy = true;
  int retrain_accuracy_min_stations = 3;

  monitor::DriftConfig drift;            // thresholds, votes, minimum counts
  monitor::ClassifierConfig classifier;  // neighbours, shares, outlier test
  monitor::AlarmConfig alarms;           // hysteresis
  monitor::DegradationConfig accuracy;   // rmse_factor, hit-rate drop, min samples

  // Drift thresholds calibrated per feature on each production model's
  // training window, read back from the store when the reference is loaded
  // (docs/MONITORING.md, "Calibrated thresholds"). At most
  // calibration_max_days of that window (its newest days) are replayed.
  bool calibrate_drift = true;
  int calibration_max_days = 400;
  monitor::CalibrationOptions calibration;
  // Accuracy bound calibrated per model from its validation period (the
  // RMSE spread over sub-windows of accuracy_window_h); the configured
  // accuracy.rmse_factor is the floor. Only quantile, margin and
  // min_windows are used.
  bool calibrate_accuracy = true;
  monitor::CalibrationOptions accuracy_calibration{86400, 0.95, 1.25, 8};

  MonitoringConfig() {
    // Drift and accuracy are evaluated hourly; six bad evaluations in a row
    // (six hours) raise, six good ones clear.
    alarms.raise_after = 6;
    alarms.clear_after = 6;
  }
};

// Reads `monitoring.*` from r into c (defaults above for absent keys).
// Throws ConfigError for wrong types or values out of range.
void LoadMonitoringConfig(ConfigReader& r, MonitoringConfig& c);

}  // namespace sentinelle::collector
