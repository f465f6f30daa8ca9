// The reading schema: one station, one aggregation window.
//
// Units are fixed (docs/PROTOCOL.md): temperature °C, humidity %, pressure hPa,
// wind speed m/s, wind direction degrees (0 = from north, clockwise), rain mm
// per window, PM2.5/PM10/NO2/O3/SO2 µg/m³, CO mg/m³.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace sentinelle {

enum class Variable : uint8_t {
  kTemperatureC = 0,
  kHumidityPct,
  kPressureHpa,
  kWindSpeedMs,
  kWindDirDeg,
  kRainMm,
  kPm25,
  kPm10,
  kNo2,
  kO3,
  kSo2,
  kCo,
};
inline constexpr int kVariableCount = 12;
inline constexpr int kFirstPollutant = static_cast<int>(Variable::kPm25);

struct VariableInfo {
  Variable variable;
  std::string_view name;  // wire name, e.g. "pm25"
  std::string_view unit;  // e.g. "ug/m3"
  double min;             // physical plausibility range, inclusive
  double max;
  double max_step;        // largest plausible change between two consecutive samples (spike QC)
};

// Table of all variables, indexed by static_cast<int>(Variable).
const std::array<VariableInfo, kVariableCount>& Variables();
inline const VariableInfo& Info(Variable v) { return Variables()[static_cast<int>(v)]; }
inline std::string_view Name(Variable v) { return Info(v).name; }
std::optional<Variable> VariableFromName(std::string_view name);
inline bool IsPollutant(Variable v) { return static_cast<int>(v) >= kFirstPollutant; }

// QC flag of one variable in one reading. Order is part of the wire contract
// only through the names below.
enum class QcFlag : uint8_t {
  kOk = 0,
  kMissing,      // no valid sample in the window
  kOutOfRange,   // samples outside the physical range (they are excluded from the mean)
  kStuck,        // sensor reports the same value for too long
  kSpike,        // implausible jump between consecutive samples
  kInvalid,      // samples were NaN/garbage
};
inline constexpr int kQcFlagCount = 6;
std::string_view QcFlagName(QcFlag f);
std::optional<QcFlag> QcFlagFromName(std::string_view name);

// Where the agent's wall clock comes from and whether it is trusted.
struct TimeQuality {
  bool synced = false;
  std::string source;  // "ntp", "gps", "rtc", "sim", "none"
};

inline constexpr double kMissingValue = std::numeric_limits<double>::quiet_NaN();

struct Reading {
  std::string station_id;
  int64_t window_end_s = 0;   // end of the window, Unix seconds UTC (exclusive end)
  int32_t interval_s = 300;   // window length
  int64_t seq = 0;            // per-station monotonically increasing sequence number
  std::string boot_id;        // random id of the agent process that made the reading
  TimeQuality time;
  std::array<double, kVariableCount> values{};      // NaN = missing
  std::array<QcFlag, kVariableCount> qc{};
  std::array<uint16_t, kVariableCount> samples{};   // valid samples averaged
  std::optional<int> aqi;                             // US EPA AQI, absent when no pollutant is valid
  std::optional<Variable> aqi_dominant;

  Reading() { values.fill(kMissingValue); qc.fill(QcFlag::kMissing); samples.fill(0); }
  double value(Variable v) const { return values[static_cast<int>(v)]; }
  QcFlag flag(Variable v) const { return qc[static_cast<int>(v)]; }
  // True when the value is present and passed QC.
  bool valid(Variable v) const {
    return flag(v) == QcFlag::kOk && !std::isnan(value(v));
  }
};

// ISO-8601 UTC ("2026-11-22T10:05:00Z") <-> Unix seconds.
std::string FormatUtc(int64_t unix_s);
std::optional<int64_t> ParseUtc(std::string_view text);

}  // namespace sentinelle
