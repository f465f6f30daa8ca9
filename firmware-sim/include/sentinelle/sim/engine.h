// The simulator's modes: generate (history CSV), live (sensor lines to one
// agent) and the formatting they share. See docs/SIMULATOR.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "sentinelle/result.h"
#include "sentinelle/sim/faults.h"
#include "sentinelle/sim/model.h"
#include "sentinelle/sim/scenario.h"

namespace sentinelle::sim {

// Appends `e` as one history CSV line (missing and invalid values are empty
// fields; garbage emissions become malformed lines).
void AppendCsvEmission(std::string& out, const std::string& station, const Emission& e);
// `e` as one sensor line without '\n' (NaN samples as "NaN" strings, which the
// agent marks invalid; garbage emissions as deliberately invalid lines).
std::string SensorLineFor(const Emission& e);

struct GenerateOptions {
  std::string out_path = "-";  // history CSV; "-" = stdout
  std::string truth_out;       // optional: the healthy series, same schema
  std::string truth_log;       // optional: ground-truth log (JSON Lines)
  // Sensor sample period. 0 = step the model directly at the interval; a
  // divisor of the interval = step at that rate and write window means (as
  // the agent aggregates: vector mean for wind direction, sum for rain).
  int sample_s = 0;
};

struct GenerateStats {
  int64_t rows = 0;           // data rows written (including duplicates)
  int64_t garbage_lines = 0;
  int64_t truth_log_lines = 0;
};

// Writes the scenario's history. Errors: invalid scenario, files that cannot
// be written (disk full included).
Result<GenerateStats> Generate(const Scenario& scenario, const GenerateOptions& options);

struct LiveOptions {
  std::string station;        // id from the scenario; empty = the first station
  // "stdout", "tcp:127.0.0.1:PORT" (or "tcp:PORT") or "unix:/path/to/socket".
  std::string target = "stdout";
  double speed = 1;            // simulated seconds per real second; <= 0 = unpaced
  int sample_s = 10;           // sensor sample period (simulated seconds)
  int tick_s = 30;             // clock tick period (simulated seconds); 0 = none
  std::string truth_log;
  double connect_timeout_s = 10;  // real seconds to wait for the agent to listen
  const std::atomic<bool>* stop = nullptr;  // set to end the run early (signals)
};

struct LiveStats {
  int64_t lines = 0;           // lines written (samples, ticks, garbage)
  int64_t dropped_lines = 0;   // lines lost while the agent was unreachable
  int64_t reconnects = 0;
};

// Streams one station's samples from scenario.start_s for
// scenario.duration_s, paced at `speed`. A power-loss fault ends the process
// with SIGKILL. Errors: bad target, agent not reachable within the timeout.
Result<LiveStats> RunLive(const Scenario& scenario, const LiveOptions& options);

}  // namespace sentinelle::sim
