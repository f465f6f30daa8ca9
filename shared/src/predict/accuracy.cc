#include "sentinelle/predict/accuracy.h"

#include <cmath>

namespace sentinelle::predict {

AccuracyTracker::AccuracyTracker(AccuracyConfig config) : config_(config) {
  if (config_.window == 0) config_.window = 1;
}

void AccuracyTracker::AddPredictions(const std::vector<Prediction>& predictions) {
  for (const Prediction& p : predictions) {
    if (!p.answered()) continue;
    pending_.emplace(p.target_time_s, Pending{p.target_time_s, p.target, p.horizon_min, p.link, p.value});
  }
  while (pending_.size() > config_.max_pending) {
    pending_.erase(pending_.begin());
    ++overflow_total_;
  }
}

std::vector<JoinedError> AccuracyTracker::Observe(const Reading& r) {
  std::vector<JoinedError> joined;
  auto it = pending_.begin();
  while (it != pending_.end() && it->first <= r.window_end_s) {
    const Pending& p = it->second;
    if (it->first == r.window_end_s && r.valid(p.target)) {
      const double actual = r.value(p.target);
      Series& s = series_[{p.target, p.horizon_min, p.link}];
      s.errors.push_back(p.value - actual);
      if (s.errors.size() > config_.window) s.errors.pop_front();
      ++s.joined_total;
      joined.push_back({p.target, p.horizon_min, p.link, p.value, actual, p.target_time_s});
    } else {
      ++unlabelled_total_;
    }
    it = pending_.erase(it);
  }
  return joined;
}

ErrorStats AccuracyTracker::Summarise(const Series& s) {
  ErrorStats st;
  st.joined_total = s.joined_total;
  st.window_count = s.errors.size();
  if (s.errors.empty()) return st;
  double abs_sum = 0, sq_sum = 0, sum = 0;
  for (double e : s.errors) {
    abs_sum += std::fabs(e);
    sq_sum += e * e;
    sum += e;
  }
  const double n = static_cast<double>(s.errors.size());
  st.mae = abs_sum / n;
  st.rmse = std::sqrt(sq_sum / n);
  st.bias = sum / n;
  return st;
}

std::optional<ErrorStats> AccuracyTracker::Stats(Variable target, int horizon_min, LinkKind link) const {
  auto it = series_.find({target, horizon_min, link});
  if (it == series_.end()) return std::nullopt;
  return Summarise(it->second);
}

std::vector<AccuracyTracker::Entry> AccuracyTracker::All() const {
  std::vector<Entry> out;
  for (const auto& [key, s] : series_) {
    out.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), Summarise(s)});
  }
  return out;
}

}  // namespace sentinelle::predict
