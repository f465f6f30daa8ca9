// Helpers shared by the agent's integration tests: sample lines with known
// values, engine configs pointing at a test broker, /metrics scraping.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sentinelle/agent/config.h"
#include "sentinelle/reading.h"

namespace sentinelle::agent::test {

inline constexpr int64_t kT0Ms = 1767225600000;  // 2026-01-01T00:00:00Z
inline constexpr int64_t kT0s = kT0Ms / 1000;
inline constexpr int kSamplesPerWindow = 5;

// The value every sample of window w carries for variable v (so a window's
// mean is exactly this value): distinct per window, inside QC ranges, never
// stuck, no spike between windows.
double ValueFor(Variable v, int w);
// kSamplesPerWindow sample lines (all 12 variables) inside window w
// (window end = kT0s + 300 * (w + 1)).
std::vector<std::string> WindowLines(int w);
// A clock tick that makes windows [0, w) due (end + 30 s grace).
std::string TickClosing(int w);
// Lines for windows [first, first + count) followed by the closing tick.
std::vector<std::string> Burst(int first, int count);

// A config for an in-process engine: input clock, no input thread (lines
// are fed with HandleLine), metrics on a free port, fast reconnects.
AgentConfig TestConfig(const std::string& station, const std::string& broker_uri,
                       const std::string& db_path);

// GET http://127.0.0.1:port/metrics ("" on failure).
std::string ScrapeMetrics(int port);

}  // namespace sentinelle::agent::test
