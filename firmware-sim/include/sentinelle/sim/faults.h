// Fault injection and the ground-truth log.
//
// A FaultInjector sits between one station's model and its output. Each
// healthy record (a sensor sample in live mode, a 5-minute row in generate
// mode) goes in; what the faulty station would emit comes out: the record
// altered, dropped, delayed, duplicated, preceded by a garbage line, or a
// request to die (power loss in live mode). Every fault that takes effect is
// written to the TruthLog. Deterministic for a given seed. Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sentinelle/result.h"
#include "sentinelle/sensor_line.h"
#include "sentinelle/sim/model.h"
#include "sentinelle/sim/random.h"
#include "sentinelle/sim/scenario.h"

namespace sentinelle::sim {

// Ground-truth log: JSON Lines, one object per injected fault:
//   {"station":"abj-plateau","fault":"stuck","start":"2026-01-02T00:00:00Z",
//    "end":"2026-01-02T06:00:00Z","variables":["pm25"],"params":{"value":31.2}}
// Spikes get one line each (start = end = the spiked record's time). Regime
// changes are logged with "fault":"regime_change" (not a sensor fault: the
// target of drift tests). Each line is flushed as written, so the log
// survives a power-loss kill.
class TruthLog {
 public:
  // Opens (truncates) `path`; an empty path gives a log that discards.
  static Result<std::unique_ptr<TruthLog>> Open(const std::string& path);
  TruthLog() = default;
  ~TruthLog();
  TruthLog(const TruthLog&) = delete;
  TruthLog& operator=(const TruthLog&) = delete;

  void Write(const std::string& station, std::string_view fault, int64_t start_s, int64_t end_s,
             const std::vector<Variable>& variables, const nlohmann::json& params);
  void WriteRegime(const Regime& r);
  int64_t lines() const { return lines_; }

 private:
  std::FILE* f_ = nullptr;
  int64_t lines_ = 0;
};

// One thing the station emits.
struct Emission {
  enum class Kind : uint8_t { kRecord, kGarbage };
  Kind kind = Kind::kRecord;
  int64_t ts_s = 0;  // the timestamp written (after clock jumps)
  Values values{};
  std::array<SampleState, kVariableCount> state{};  // kAbsent, kValue or kInvalid
  int garbage_variant = 0;  // for kGarbage: which kind of malformed line
};
inline constexpr int kGarbageVariants = 5;

class FaultInjector {
 public:
  // Keeps the faults that apply to `station_id` (theirs and "*"). `live`
  // selects the power-loss behaviour (die instead of dropping records).
  FaultInjector(std::string station_id, const std::vector<FaultSpec>& faults, uint64_t seed,
                TruthLog* log, bool live);

  // Processes the healthy record of time t_s; appends emissions in order.
  // Returns the power-loss fault when the station must die now (live mode);
  // nothing has been appended for t_s then.
  const FaultSpec* Apply(int64_t t_s, const Values& truth, std::vector<Emission>* out);
  // Releases held (late) records, e.g. at the end of a run.
  void Flush(std::vector<Emission>* out);

 private:
  struct Active {
    FaultSpec spec;
    bool logged = false;
    Values stuck{};  // resolved stuck values
  };
  bool Applies(const Active& a, int v) const;
  void LogOnce(Active& a, const nlohmann::json& params);

  std::string station_;
  std::vector<Active> faults_;
  Rng rng_;
  TruthLog* log_;
  bool live_;
  struct Held {
    int64_t release_s;
    Emission e;
  };
  std::deque<Held> held_;
};

}  // namespace sentinelle::sim
