// Alarms with a lifecycle: every alarm has a reason, a start, the figures
// behind it and, once over, an end. Hysteresis keeps them from flapping: a
// condition must be bad for `raise_after` consecutive evaluations to raise
// an alarm, and good for `clear_after` consecutive evaluations to end it
// (docs/MONITORING.md, "Alarm lifecycle").
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sentinelle::monitor {

enum class AlarmKind {
  kDriftSensorFault,   // one station drifts, its neighbours do not: check the sensor, no retraining
  kDriftRegional,      // stations of a region drift together: real change, retraining candidate
  kPredictionDrift,    // the model's predictions drift at a station
  kAccuracyDegraded,   // live error well above the model's validation error
};
inline constexpr int kAlarmKindCount = 4;
std::string_view AlarmKindName(AlarmKind k);
std::optional<AlarmKind> AlarmKindFromName(std::string_view name);

struct Alarm {
  uint64_t id = 0;                    // unique within an AlarmBook, increasing
  AlarmKind kind = AlarmKind::kDriftSensorFault;
  std::string subject;                // station id, or "network" for a regional alarm
  std::string what;                   // feature / target the alarm is about, e.g. "pm25"
  std::vector<std::string> stations;  // stations involved (latest evaluation)
  std::string reason;                 // human sentence from the latest bad evaluation
  int64_t start_s = 0;                // first bad evaluation of the streak that raised it
  int64_t raised_s = 0;               // evaluation that raised it (start + raise_after - 1 steps)
  std::optional<int64_t> end_s;       // first good evaluation of the streak that cleared it
  std::optional<int64_t> cleared_s;   // evaluation that cleared it
  std::map<std::string, double> figures;  // latest bad evaluation's figures
  std::map<std::string, double> peak;     // per figure, the largest value since start
  int bad_evaluations = 0;            // bad evaluations since start
  // Why it cleared, from the evaluation that cleared it (its good_reason, or
  // a generic sentence); empty while open. `reason` and `figures` keep the
  // last bad evaluation, so a closed alarm still says what was wrong.
  std::string clear_reason;
  bool open() const { return !end_s.has_value(); }
};

nlohmann::json AlarmToJson(const Alarm& a);

// One evaluation of one condition.
struct Observation {
  AlarmKind kind = AlarmKind::kDriftSensorFault;
  std::string subject;
  std::string what;
  bool bad = false;
  std::string reason;                      // used when bad
  std::vector<std::string> stations;
  std::map<std::string, double> figures;   // used when bad
  std::string good_reason;                 // used when good, to clear an open alarm: why it is not bad
};

struct AlarmConfig {
  int raise_after = 3;       // consecutive bad evaluations to raise
  int clear_after = 3;       // consecutive good evaluations to clear
  size_t max_closed = 1000;  // closed alarms kept (oldest dropped first)
};

// Keeps conditions' streaks, open alarms and recently closed ones. A
// condition is identified by (kind, subject, what). Not thread-safe.
class AlarmBook {
 public:
  explicit AlarmBook(AlarmConfig config = {});

  enum class Change { kNone, kRaised, kCleared };
  // Records one evaluation at now_s (evaluations of one condition come in
  // time order). Returns what changed; *alarm (when given) receives the
  // alarm raised or cleared, or the open one that was updated.
  Change Observe(const Observation& obs, int64_t now_s, Alarm* alarm = nullptr);

  // Puts back an alarm that was open before a restart (from a store): its
  // condition counts as bad, the next good evaluations clear it as usual,
  // and new alarms get ids above it. An alarm with an end is added to the
  // closed ones. Call before the first Observe.
  void Restore(const Alarm& alarm);

  std::vector<Alarm> Open() const;
  const std::deque<Alarm>& Closed() const { return closed_; }
  // The open alarm for a condition, if any.
  std::optional<Alarm> Find(AlarmKind kind, std::string_view subject, std::string_view what) const;
  // Whether that condition has an open alarm (no copy): evaluators build an
  // Observation's good_reason only then, as only a clearing uses it.
  bool IsOpen(AlarmKind kind, std::string_view subject, std::string_view what) const;
  uint64_t closed_dropped() const { return closed_dropped_; }

 private:
  struct Condition {
    int bad_streak = 0;
    int good_streak = 0;
    int64_t streak_start_s = 0;
    std::map<std::string, double> peak;  // of the current bad streak
    std::optional<Alarm> alarm;
  };
  static std::string Key(AlarmKind kind, std::string_view subject, std::string_view what);

  AlarmConfig config_;
  std::map<std::string, Condition> conditions_;
  std::deque<Alarm> closed_;
  uint64_t next_id_ = 1;
  uint64_t closed_dropped_ = 0;
};

}  // namespace sentinelle::monitor
