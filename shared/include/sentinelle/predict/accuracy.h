// Self-labelled accuracy at the edge: when the reading for t+h arrives, the
// prediction made for it is joined with it, and rolling error figures are
// kept per (target, horizon, chain link). Works offline: it needs only the
// station's own predictions and readings.
//
// Labels stay bounded: at most 12 targets x configured horizons x 4 links.
// Pending predictions are bounded too (max_pending; the oldest are dropped
// and counted). Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <tuple>
#include <vector>

#include "sentinelle/predict/chain.h"

namespace sentinelle::predict {

struct AccuracyConfig {
  size_t window = 288;         // joined errors kept per (target, horizon, link)
  size_t max_pending = 20000;  // predictions waiting for their target window
};

struct ErrorStats {
  int64_t joined_total = 0;  // every join since start
  size_t window_count = 0;   // joins in the rolling window
  double mae = 0.0;          // over the rolling window
  double rmse = 0.0;
  double bias = 0.0;         // mean(prediction - actual)
};

struct JoinedError {
  Variable target;
  int horizon_min;
  LinkKind link;
  double predicted;
  double actual;
  int64_t target_time_s;
};

class AccuracyTracker {
 public:
  explicit AccuracyTracker(AccuracyConfig config = {});

  // Remembers answered predictions until their target window arrives.
  void AddPredictions(const std::vector<Prediction>& predictions);
  // Joins the reading with the predictions made for its window (those whose
  // target is valid in it); predictions for earlier windows that never got a
  // valid reading are dropped as unlabelled. Returns the joins.
  std::vector<JoinedError> Observe(const Reading& reading);

  std::optional<ErrorStats> Stats(Variable target, int horizon_min, LinkKind link) const;
  struct Entry {
    Variable target;
    int horizon_min;
    LinkKind link;
    ErrorStats stats;
  };
  std::vector<Entry> All() const;
  size_t pending() const { return pending_.size(); }
  int64_t unlabelled_total() const { return unlabelled_total_; }
  int64_t overflow_total() const { return overflow_total_; }

 private:
  using Key = std::tuple<Variable, int, LinkKind>;
  struct Pending {
    int64_t target_time_s;
    Variable target;
    int horizon_min;
    LinkKind link;
    double value;
  };
  struct Series {
    std::deque<double> errors;  // prediction - actual
    int64_t joined_total = 0;
  };
  static ErrorStats Summarise(const Series& s);

  AccuracyConfig config_;
  std::multimap<int64_t, Pending> pending_;  // by target time
  std::map<Key, Series> series_;
  int64_t unlabelled_total_ = 0;
  int64_t overflow_total_ = 0;
};

}  // namespace sentinelle::predict
