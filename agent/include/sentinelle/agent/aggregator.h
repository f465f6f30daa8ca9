// Aggregator: turns sensor samples into closed windows (readings).
//
// Rules (docs/PROTOCOL.md, "Aggregation"):
// - A sample with timestamp t belongs to the window [end - interval, end)
//   with end = floor(t / interval) * interval + interval (Unix seconds, UTC).
// - A window closes when the clock passes end + grace; CloseDue() is driven
//   by the caller's clock. A sample for a window at or before the last closed
//   one is late: Add() returns kLate and the sample is not used.
// - Value = mean of the window's valid samples, except wind_dir_deg (direction
//   of the mean unit vector) and rain_mm (sum of the samples: each sample is
//   the rain fallen since the previous one).
// - Flag: missing when no sample at all; the most frequent rejection reason
//   (out_of_range, spike, invalid) when rejected samples outnumber valid ones
//   (value = mean of the valid ones, possibly null); else ok, then the
//   window-level stuck check; a summed rain value above the plausible range
//   is out_of_range. AQI from the ok pollutants.
// - Runs of windows without any sample between the first window and the clock
//   are closed as all-missing readings, up to max_gap_windows in a row; a
//   longer run is skipped (counted in skipped_gap_windows()).
//
// Not thread-safe: the engine serialises calls.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sentinelle/agent/config.h"
#include "sentinelle/qc.h"
#include "sentinelle/reading.h"
#include "sentinelle/sensor_line.h"

namespace sentinelle::agent {

// Sample-level and window-level QC failures per variable and flag, counted
// since the last TakeQcCounts().
using QcCounts = std::array<std::array<uint64_t, kQcFlagCount>, kVariableCount>;

class Aggregator {
 public:
  enum class AddResult { kAccepted, kLate };

  Aggregator(std::string station_id, AggregationConfig config, QcConfig qc);

  // Windows ending at or before end_s are closed for good (restored from the
  // store at start-up so a restart never reopens a committed window).
  void SetLastClosedWindowEnd(int64_t end_s);
  int64_t last_closed_window_end() const { return last_closed_end_s_; }

  // Adds the samples of one line (clock ticks carry none). Samples must come
  // in time order per variable for the spike check.
  AddResult Add(const SensorLine& line);

  // Closes every window with end + grace <= now_ms, oldest first, stamping
  // them with `time`. seq and boot_id are left for the store/engine to set.
  std::vector<Reading> CloseDue(int64_t now_ms, const TimeQuality& time);

  // Drops the oldest open windows beyond max_open_windows; returns how many
  // windows were dropped (their samples are lost and must be counted).
  int EnforceOpenLimit();

  QcCounts TakeQcCounts();
  size_t open_windows() const { return open_.size(); }
  int64_t skipped_gap_windows() const { return skipped_gap_windows_; }
  int64_t WindowEndFor(int64_t ts_ms) const;

 private:
  struct VarAcc {
    double sum = 0;
    double sin_sum = 0;
    double cos_sum = 0;
    uint32_t n = 0;
    std::array<uint32_t, kQcFlagCount> rejected{};
  };
  struct Window {
    std::array<VarAcc, kVariableCount> vars;
    uint32_t lines = 0;
  };

  Reading Finalize(int64_t end_s, const Window* w, const TimeQuality& time);

  std::string station_id_;
  AggregationConfig config_;
  QcChecker qc_;
  std::map<int64_t, Window> open_;  // by window end (Unix s)
  int64_t last_closed_end_s_ = 0;   // 0: nothing closed yet
  int64_t skipped_gap_windows_ = 0;
  QcCounts qc_counts_{};
};

}  // namespace sentinelle::agent
