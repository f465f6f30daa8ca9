// The sensor line protocol (docs/PROTOCOL.md, "Sensor input"): one JSON
// object per line, from station firmware (or sentinelle-sim) to the agent.
//
//   {"v":1,"ts_ms":1767225601000,"values":{"pm25":12.4,"temperature_c":28.1}}
//   {"v":1,"ts_ms":1767225660000,"clock":true}        (clock tick, no values)
//
// A variable may be null or absent (no sample). A non-numeric value for a
// known variable marks that variable's sample invalid without discarding the
// rest of the line; unknown variable names are reported and ignored.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/reading.h"
#include "sentinelle/result.h"

namespace sentinelle {

inline constexpr size_t kMaxSensorLineBytes = 4096;

enum class SampleState : uint8_t { kAbsent, kValue, kInvalid };

struct SensorLine {
  int64_t ts_ms = 0;
  bool clock_tick = false;
  std::array<SampleState, kVariableCount> state{};
  std::array<double, kVariableCount> value{};
  std::vector<std::string> unknown_variables;
};

Result<SensorLine> ParseSensorLine(std::string_view line);

// Encodes one sample line; NaN values are written as null. Variables whose
// `present` bit is false are omitted.
std::string EncodeSensorLine(int64_t ts_ms, const std::array<double, kVariableCount>& values,
                             const std::array<bool, kVariableCount>& present);
std::string EncodeClockTick(int64_t ts_ms);

}  // namespace sentinelle
