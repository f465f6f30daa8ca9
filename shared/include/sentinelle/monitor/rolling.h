// Rolling window histograms: incremental, bounded memory, expiring old data
// by time buckets, never keeping or rescanning raw values.
//
// The window is a ring of `buckets` time buckets of `bucket_s` seconds
// aligned to UTC (bucket k covers [k * bucket_s, (k + 1) * bucket_s)). A
// bucket keeps the counts of its values per bin for each context band it
// overlaps, plus the sums of its under/overflow values; running totals per
// context are kept alongside. Adding a value is O(log bins); expiring a
// bucket and reading the totals are O(bins) per context. The window holds
// the latest `buckets` buckets up to the newest time seen (by Add or
// AdvanceTo); a value older than that is refused.
//
// Memory per histogram (MemoryBytes): about
//   buckets * (12 + slots * (4 * bins + 16)) + kContextCount * (8 * bins + 24)
// bytes, where bins = interior bins + 2 and slots is the number of bands one
// bucket can overlap (4 for daily buckets, 1 for hourly ones).
// docs/MONITORING.md has the figures.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "sentinelle/monitor/context.h"

namespace sentinelle::monitor {

struct WindowOptions {
  // A whole number of hours dividing a day: 3600, 7200, 10800, 14400,
  // 21600, 28800, 43200 or 86400.
  int64_t bucket_s = 86400;
  int buckets = 14;  // window length = buckets * bucket_s (default 14 days)
};

// Single-writer; not thread-safe.
class RollingHistogram {
 public:
  // `edges` as in histogram.h (m >= 2, strictly increasing, finite).
  // Throws std::invalid_argument for bad edges or options (programmer error).
  RollingHistogram(std::vector<double> edges, WindowOptions options = {});

  enum class AddResult { kAdded, kNotFinite, kTooOld };
  // Adds a value observed at ts_s (Unix seconds UTC). The caller passes only
  // values that passed QC; NaN/inf are refused (kNotFinite). Moves the window
  // forward when ts_s is newer than anything seen.
  AddResult Add(int64_t ts_s, double value);
  // Moves the window's end to now_s, expiring buckets that fall out of it
  // (a silent station's window empties this way). Never moves it back.
  void AdvanceTo(int64_t now_s);

  // Totals over the window for one context (0..kContextCount-1).
  uint64_t Count(int context) const { return n_[context]; }
  // BinCount(edges) counts: [underflow, interior..., overflow].
  std::span<const uint64_t> Counts(int context) const {
    return {counts_.data() + static_cast<size_t>(context) * bins_, static_cast<size_t>(bins_)};
  }
  double UnderflowSum(int context) const { return under_sum_[context]; }
  double OverflowSum(int context) const { return over_sum_[context]; }
  uint64_t Total() const;

  const std::vector<double>& edges() const { return edges_; }
  const WindowOptions& options() const { return options_; }
  // Start and end (exclusive) of the window in Unix seconds; both 0 while
  // nothing was added or advanced.
  int64_t window_start_s() const;
  int64_t window_end_s() const;
  size_t MemoryBytes() const;

 private:
  static constexpr int64_t kNoBucket = std::numeric_limits<int64_t>::min();
  int Slot(int64_t bucket_id, Band band) const;
  void Expire(int ring_index);

  std::vector<double> edges_;
  WindowOptions options_;
  int bins_;
  int slots_ = 1;
  int positions_ = 1;                 // buckets per day
  std::vector<int8_t> slot_of_band_;  // [position][band] -> slot or -1
  std::vector<int8_t> band_of_slot_;  // [position][slot] -> band or -1
  // Ring storage.
  std::vector<int64_t> bucket_id_;
  std::vector<uint32_t> bucket_n_;
  std::vector<uint32_t> bucket_counts_;  // [ring][slot][bin]
  std::vector<double> bucket_under_;     // [ring][slot]
  std::vector<double> bucket_over_;      // [ring][slot]
  int64_t head_ = kNoBucket;
  // Totals.
  std::vector<uint64_t> counts_;  // [context][bin]
  std::vector<uint64_t> n_;
  std::vector<double> under_sum_, over_sum_;
};

}  // namespace sentinelle::monitor
