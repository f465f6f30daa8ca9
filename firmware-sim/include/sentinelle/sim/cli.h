// The sentinelle-sim command line (docs/SIMULATOR.md, "Command line").
#pragma once

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "sentinelle/result.h"
#include "sentinelle/sim/engine.h"
#include "sentinelle/sim/replay.h"
#include "sentinelle/sim/scenario.h"

namespace sentinelle::sim {

enum class Command { kHelp, kVersion, kGenerate, kLive, kReplay, kStations };

struct CliOptions {
  Command command = Command::kHelp;
  Scenario scenario;
  GenerateOptions generate;
  LiveOptions live;
  ReplayOptions replay;
};

// Parses argv[1..] (without the program name). Errors name the offending
// argument, e.g. "--days 'abc': not a number".
Result<CliOptions> ParseCli(const std::vector<std::string>& args);

std::string Usage();

// The scenario's stations, one JSON object per line, each the body that
// registers it with the collector (POST /api/v1/stations): id, name,
// latitude, longitude, type.
std::string StationsJsonLines(const Scenario& scenario);

// Runs a parsed command line; returns the process exit code: 0 success,
// 1 runtime failure (I/O, agent unreachable), 2 usage error. Messages go to
// `err`; `stop` ends live and replay runs early.
int RunCli(const std::vector<std::string>& args, std::FILE* err,
           const std::atomic<bool>* stop = nullptr);

}  // namespace sentinelle::sim
