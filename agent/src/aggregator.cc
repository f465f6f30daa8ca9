#include "sentinelle/agent/aggregator.h"

#include <cmath>
#include <numbers>

#include "sentinelle/aqi.h"

namespace sentinelle::agent {

namespace {
constexpr int kWindDir = static_cast<int>(Variable::kWindDirDeg);
constexpr int kRain = static_cast<int>(Variable::kRainMm);

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

QcFlag VerdictFlag(SampleVerdict v) {
  switch (v) {
    case SampleVerdict::kOutOfRange: return QcFlag::kOutOfRange;
    case SampleVerdict::kSpike: return QcFlag::kSpike;
    case SampleVerdict::kInvalid: return QcFlag::kInvalid;
    case SampleVerdict::kAccept: break;
  }
  return QcFlag::kOk;
}
}  // namespace

Aggregator::Aggregator(std::string station_id, AggregationConfig config, QcConfig qc)
    : station_id_(std::move(station_id)), config_(config), qc_(qc) {}

void Aggregator::SetLastClosedWindowEnd(int64_t end_s) {
  last_closed_end_s_ = end_s;
  while (!open_.empty() && open_.begin()->first <= end_s) open_.erase(open_.begin());
}

int64_t Aggregator::WindowEndFor(int64_t ts_ms) const {
  const int64_t interval_ms = int64_t{config_.interval_s} * 1000;
  return (FloorDiv(ts_ms, interval_ms) + 1) * config_.interval_s;
}

Aggregator::AddResult Aggregator::Add(const SensorLine& line) {
  if (line.clock_tick) return AddResult::kAccepted;
  const int64_t end_s = WindowEndFor(line.ts_ms);
  if (end_s <= last_closed_end_s_) return AddResult::kLate;
  Window& w = open_[end_s];
  ++w.lines;
  for (int i = 0; i < kVariableCount; ++i) {
    if (line.state[i] == SampleState::kAbsent) continue;
    VarAcc& acc = w.vars[i];
    const auto var = static_cast<Variable>(i);
    const SampleVerdict verdict = line.state[i] == SampleState::kInvalid
                                      ? SampleVerdict::kInvalid
                                      : qc_.CheckSample(var, line.value[i]);
    if (verdict != SampleVerdict::kAccept) {
      const auto flag = static_cast<int>(VerdictFlag(verdict));
      ++acc.rejected[flag];
      ++qc_counts_[i][flag];
      continue;
    }
    const double x = line.value[i];
    ++acc.n;
    if (i == kWindDir) {
      const double rad = x * std::numbers::pi / 180.0;
      acc.sin_sum += std::sin(rad);
      acc.cos_sum += std::cos(rad);
    } else {
      acc.sum += x;
    }
  }
  return AddResult::kAccepted;
}

Reading Aggregator::Finalize(int64_t end_s, const Window* w, const TimeQuality& time) {
  Reading r;
  r.station_id = station_id_;
  r.window_end_s = end_s;
  r.interval_s = config_.interval_s;
  r.time = time;
  for (int i = 0; w != nullptr && i < kVariableCount; ++i) {
    const VarAcc& acc = w->vars[i];
    uint32_t rejected = 0;
    int worst = 0;
    for (int f = 0; f < kQcFlagCount; ++f) {
      rejected += acc.rejected[f];
      if (acc.rejected[f] > acc.rejected[worst]) worst = f;
    }
    r.samples[i] = static_cast<uint16_t>(std::min<uint32_t>(acc.n, 65535));
    if (acc.n > 0) {
      if (i == kWindDir) {
        double deg = std::atan2(acc.sin_sum, acc.cos_sum) * 180.0 / std::numbers::pi;
        if (deg < 0) deg += 360.0;
        if (deg >= 360.0) deg -= 360.0;
        r.values[i] = deg;
      } else if (i == kRain) {
        r.values[i] = acc.sum;
      } else {
        r.values[i] = acc.sum / acc.n;
      }
    }
    if (acc.n == 0 && rejected == 0) {
      r.qc[i] = QcFlag::kMissing;
    } else if (rejected > acc.n) {
      r.qc[i] = static_cast<QcFlag>(worst);
    } else {
      r.qc[i] = QcFlag::kOk;
      const VariableInfo& info = Variables()[i];
      if (r.values[i] < info.min || r.values[i] > info.max) r.qc[i] = QcFlag::kOutOfRange;
    }
  }
  qc_.CheckWindow(r);
  for (int i = 0; i < kVariableCount; ++i) {
    if (r.qc[i] == QcFlag::kStuck) ++qc_counts_[i][static_cast<int>(QcFlag::kStuck)];
  }
  if (auto aqi = ComputeAqi(r)) {
    r.aqi = aqi->aqi;
    r.aqi_dominant = aqi->dominant;
  }
  return r;
}

std::vector<Reading> Aggregator::CloseDue(int64_t now_ms, const TimeQuality& time) {
  std::vector<Reading> out;
  const int64_t interval = config_.interval_s;
  // Latest window end whose end + grace has passed.
  const int64_t due_end = FloorDiv(FloorDiv(now_ms, 1000) - config_.grace_s, interval) * interval;
  int64_t next = last_closed_end_s_ > 0 ? last_closed_end_s_ + interval
                                        : (open_.empty() ? due_end + interval : open_.begin()->first);
  while (next <= due_end) {
    auto it = open_.find(next);
    if (it != open_.end()) {
      out.push_back(Finalize(next, &it->second, time));
      open_.erase(it);
      last_closed_end_s_ = next;
      next += interval;
      continue;
    }
    // A run of windows without samples: up to the next open window or due_end.
    auto later = open_.upper_bound(next);
    const int64_t run_end =
        (later != open_.end() && later->first <= due_end) ? later->first : due_end + interval;
    const int64_t run_len = (run_end - next) / interval;
    if (run_len > config_.max_gap_windows) {
      skipped_gap_windows_ += run_len;
      last_closed_end_s_ = run_end - interval;
      next = run_end;
      continue;
    }
    out.push_back(Finalize(next, nullptr, time));
    last_closed_end_s_ = next;
    next += interval;
  }
  return out;
}

int Aggregator::EnforceOpenLimit() {
  int dropped = 0;
  while (open_.size() > static_cast<size_t>(config_.max_open_windows)) {
    open_.erase(open_.begin());
    ++dropped;
  }
  return dropped;
}

QcCounts Aggregator::TakeQcCounts() {
  QcCounts c = qc_counts_;
  qc_counts_ = {};
  return c;
}

}  // namespace sentinelle::agent
