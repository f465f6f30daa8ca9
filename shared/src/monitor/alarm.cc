#include "sentinelle/monitor/alarm.h"

#include <algorithm>
#include <stdexcept>

#include "sentinelle/reading.h"

namespace sentinelle::monitor {

std::string_view AlarmKindName(AlarmKind k) {
  switch (k) {
    case AlarmKind::kDriftSensorFault: return "drift_sensor_fault";
    case AlarmKind::kDriftRegional: return "drift_regional";
    case AlarmKind::kPredictionDrift: return "prediction_drift";
    case AlarmKind::kAccuracyDegraded: return "accuracy_degraded";
  }
  return "?";
}

std::optional<AlarmKind> AlarmKindFromName(std::string_view name) {
  for (int i = 0; i < kAlarmKindCount; ++i) {
    const auto k = static_cast<AlarmKind>(i);
    if (AlarmKindName(k) == name) return k;
  }
  return std::nullopt;
}

nlohmann::json AlarmToJson(const Alarm& a) {
  nlohmann::json j = {{"id", a.id},
                      {"kind", std::string(AlarmKindName(a.kind))},
                      {"subject", a.subject},
                      {"what", a.what},
                      {"stations", a.stations},
                      {"reason", a.reason},
                      {"start", FormatUtc(a.start_s)},
                      {"raised", FormatUtc(a.raised_s)},
                      {"end", a.end_s ? nlohmann::json(FormatUtc(*a.end_s)) : nlohmann::json()},
                      {"figures", a.figures},
                      {"peak", a.peak},
                      {"bad_evaluations", a.bad_evaluations},
                      {"clear_reason", a.open() ? nlohmann::json() : nlohmann::json(a.clear_reason)}};
  return j;
}

AlarmBook::AlarmBook(AlarmConfig config) : config_(config) {
  if (config_.raise_after < 1 || config_.clear_after < 1) {
    throw std::invalid_argument("AlarmBook: raise_after and clear_after must be >= 1");
  }
}

std::string AlarmBook::Key(AlarmKind kind, std::string_view subject, std::string_view what) {
  std::string key(AlarmKindName(kind));
  key.append("\x1f").append(subject).append("\x1f").append(what);
  return key;
}

AlarmBook::Change AlarmBook::Observe(const Observation& obs, int64_t now_s, Alarm* out) {
  Condition& c = conditions_[Key(obs.kind, obs.subject, obs.what)];
  Change change = Change::kNone;
  if (obs.bad) {
    if (c.bad_streak == 0) c.streak_start_s = now_s;
    if (c.bad_streak == 0 && !c.alarm) c.peak.clear();
    ++c.bad_streak;
    for (const auto& [name, value] : obs.figures) {
      auto it = c.peak.find(name);
      if (it == c.peak.end()) c.peak[name] = value;
      else it->second = std::max(it->second, value);
    }
    c.good_streak = 0;
    if (c.alarm) {
      c.alarm->bad_evaluations++;
    } else if (c.bad_streak >= config_.raise_after) {
      Alarm a;
      a.id = next_id_++;
      a.kind = obs.kind;
      a.subject = obs.subject;
      a.what = obs.what;
      a.start_s = c.streak_start_s;
      a.raised_s = now_s;
      a.bad_evaluations = c.bad_streak;
      c.alarm = std::move(a);
      change = Change::kRaised;
    }
    if (c.alarm) {
      c.alarm->reason = obs.reason;
      c.alarm->figures = obs.figures;
      c.alarm->stations = obs.stations;
      c.alarm->peak = c.peak;
      if (out) *out = *c.alarm;
    }
  } else {
    if (c.good_streak == 0) c.streak_start_s = now_s;
    ++c.good_streak;
    c.bad_streak = 0;
    if (c.alarm && c.good_streak >= config_.clear_after) {
      c.alarm->end_s = c.streak_start_s;
      c.alarm->cleared_s = now_s;
      c.alarm->clear_reason =
          !obs.good_reason.empty()
              ? obs.good_reason
              : "within bounds at " + std::to_string(c.good_streak) + " consecutive evaluations";
      if (out) *out = *c.alarm;
      closed_.push_back(std::move(*c.alarm));
      c.alarm.reset();
      change = Change::kCleared;
      while (closed_.size() > config_.max_closed) {
        closed_.pop_front();
        ++closed_dropped_;
      }
    } else if (c.alarm && out) {
      *out = *c.alarm;
    }
  }
  // Quiet conditions with no alarm need no memory.
  if (!c.alarm && c.bad_streak == 0) conditions_.erase(Key(obs.kind, obs.subject, obs.what));
  return change;
}

void AlarmBook::Restore(const Alarm& alarm) {
  next_id_ = std::max(next_id_, alarm.id + 1);
  if (!alarm.open()) {
    closed_.push_back(alarm);
    while (closed_.size() > config_.max_closed) {
      closed_.pop_front();
      ++closed_dropped_;
    }
    return;
  }
  Condition& c = conditions_[Key(alarm.kind, alarm.subject, alarm.what)];
  c.bad_streak = std::max(config_.raise_after, 1);
  c.good_streak = 0;
  c.streak_start_s = alarm.start_s;
  c.peak = alarm.peak;
  c.alarm = alarm;
}

std::vector<Alarm> AlarmBook::Open() const {
  std::vector<Alarm> open;
  for (const auto& [key, c] : conditions_) {
    if (c.alarm) open.push_back(*c.alarm);
  }
  std::sort(open.begin(), open.end(), [](const Alarm& a, const Alarm& b) { return a.id < b.id; });
  return open;
}

std::optional<Alarm> AlarmBook::Find(AlarmKind kind, std::string_view subject,
                                     std::string_view what) const {
  auto it = conditions_.find(Key(kind, subject, what));
  if (it == conditions_.end() || !it->second.alarm) return std::nullopt;
  return it->second.alarm;
}

bool AlarmBook::IsOpen(AlarmKind kind, std::string_view subject, std::string_view what) const {
  auto it = conditions_.find(Key(kind, subject, what));
  return it != conditions_.end() && it->second.alarm.has_value();
}

}  // namespace sentinelle::monitor
