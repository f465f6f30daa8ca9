// Scenarios: the stations, the faults to inject and the regime changes of a
// run, from a JSON scenario file and/or command-line flags (docs/SIMULATOR.md,
// "Scenario"). Parsing errors are returned as values naming the flag or the
// JSON field (and for malformed JSON, the line and column).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/reading.h"
#include "sentinelle/result.h"
#include "sentinelle/sim/model.h"

namespace sentinelle::sim {

enum class FaultType : uint8_t {
  kDropout,    // no samples for the variables
  kStuck,      // constant value
  kSpike,      // isolated large jumps
  kDrift,      // reading creeps away from the truth (calibration drift)
  kNan,        // samples are NaN (invalid)
  kGarbage,    // malformed lines in the output
  kClockJump,  // timestamps shifted by offset_s
  kLate,       // samples held back and delivered late, in a burst
  kDuplicate,  // samples delivered twice
  kPowerLoss,  // the station stops (live: the process dies)
};
inline constexpr int kFaultTypeCount = 10;
std::string_view FaultTypeName(FaultType t);
std::optional<FaultType> FaultTypeFromName(std::string_view name);
// True for faults that act on chosen variables (dropout, stuck, spike, drift, nan).
bool IsVariableFault(FaultType t);
// Spikes are isolated: unless told otherwise, 5 % of records.
inline constexpr double kDefaultSpikeProbability = 0.05;

struct FaultSpec {
  FaultType type = FaultType::kDropout;
  std::string station;               // a station id, or "*" for every station
  int64_t start_s = 0;               // Unix seconds UTC, inclusive
  int64_t end_s = 0;                 // exclusive
  std::vector<Variable> variables;   // empty = every variable (variable faults only)
  // Parameters; each fault uses the ones documented in docs/SIMULATOR.md.
  std::optional<double> value;       // stuck: the constant (default: the last healthy value)
  double probability = 1.0;          // spike, nan, garbage, duplicate: chance per record
                                     // (parsers default spikes to kDefaultSpikeProbability)
  double magnitude = 0;              // spike: added jump (default 2x the QC spike step)
  double per_day = 0;                // drift: additive drift per day (units of the variable)
  double gain_per_day = 0;           // drift: relative drift per day (0.02 = +2 %/day)
  int64_t offset_s = 3600;           // clock_jump: shift of the timestamps
  int64_t delay_s = 0;               // late: extra delay after the window's end
  bool partial_line = true;          // power_loss (live): write half a line before dying
};

struct Scenario {
  uint64_t seed = 42;
  int64_t start_s = 1767225600;   // 2026-01-01T00:00:00Z
  int64_t duration_s = 86400;
  int interval_s = 300;           // history resolution
  std::vector<StationSpec> stations;
  std::vector<FaultSpec> faults;
  std::vector<Regime> regimes;
};

// Parses one `--fault` value: `TYPE,key=value,...`, keys station, start, end
// (ISO-8601 UTC), vars (`pm25+pm10`), value, probability, magnitude, per_day,
// gain_per_day, offset_s, delay_s, partial (0/1). start defaults to the
// scenario start, end to start + 1 h.
Result<FaultSpec> ParseFaultFlag(std::string_view text, int64_t default_start_s);
// Parses one `--regime` value: `KIND,key=value,...` with KIND traffic or
// industrial_source, keys station, at, factor, peak_shift_h, bearing_deg.
Result<Regime> ParseRegimeFlag(std::string_view text, int64_t default_at_s);

// Reads a scenario JSON file into *scenario; fields present in the file
// override the current values. Errors name the file and the field, or the
// line and column of a JSON syntax error.
Status LoadScenarioFile(const std::string& path, Scenario* scenario);
Status ParseScenarioJson(std::string_view text, const std::string& source, Scenario* scenario);

// Checks references (fault/regime stations exist, windows are ordered).
Status ValidateScenario(const Scenario& scenario);

}  // namespace sentinelle::sim
