#include "sentinelle/sensor_line.h"

#include <cmath>

#include "sentinelle/json_util.h"

namespace sentinelle {

using nlohmann::json;

namespace {
// Accepted sample timestamps: 2000-01-01 .. 2100-01-01. Whether a timestamp
// is plausible *now* is the agent's decision (it knows its clock).
constexpr int64_t kMinTsMs = 946684800000;
constexpr int64_t kMaxTsMs = 4102444800000;
}  // namespace

Result<SensorLine> ParseSensorLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.size() > kMaxSensorLineBytes) {
    return MakeError("line of " + std::to_string(line.size()) + " bytes exceeds " +
                     std::to_string(kMaxSensorLineBytes));
  }
  auto parsed = ParseJsonLimited(line, kMaxSensorLineBytes, 4);
  if (!parsed) return parsed.error();
  StrictObject o(*parsed, "line");
  o.OnlyKeys({"v", "ts_ms", "values", "clock"});
  o.Int("v", 1, 1);
  SensorLine out;
  out.state.fill(SampleState::kAbsent);
  out.value.fill(kMissingValue);
  out.ts_ms = o.Int("ts_ms", kMinTsMs, kMaxTsMs);
  if (!o.ok()) return o.error();
  if (parsed->contains("clock")) {
    out.clock_tick = o.Bool("clock");
    if (!o.ok()) return o.error();
    if (!out.clock_tick) return MakeError("line.clock: must be true when present");
    if (parsed->contains("values")) return MakeError("line: a clock tick carries no values");
    return out;
  }
  const json* values = o.Field("values", json::value_t::object);
  if (!o.ok()) return o.error();
  for (auto it = values->begin(); it != values->end(); ++it) {
    auto v = VariableFromName(it.key());
    if (!v) {
      if (out.unknown_variables.size() < 16) out.unknown_variables.push_back(it.key().substr(0, 32));
      continue;
    }
    const int i = static_cast<int>(*v);
    if (it->is_null()) continue;
    if (it->is_number()) {
      const double d = it->get<double>();
      if (std::isfinite(d)) {
        out.state[i] = SampleState::kValue;
        out.value[i] = d;
        continue;
      }
    }
    out.state[i] = SampleState::kInvalid;  // strings, NaN, objects...
  }
  return out;
}

std::string EncodeSensorLine(int64_t ts_ms, const std::array<double, kVariableCount>& values,
                             const std::array<bool, kVariableCount>& present) {
  json vals = json::object();
  for (const auto& info : Variables()) {
    const int i = static_cast<int>(info.variable);
    if (!present[i]) continue;
    vals[std::string(info.name)] = std::isnan(values[i]) ? json(nullptr) : json(values[i]);
  }
  return json{{"v", 1}, {"ts_ms", ts_ms}, {"values", std::move(vals)}}.dump();
}

std::string EncodeClockTick(int64_t ts_ms) {
  return json{{"v", 1}, {"ts_ms", ts_ms}, {"clock", true}}.dump();
}

}  // namespace sentinelle
