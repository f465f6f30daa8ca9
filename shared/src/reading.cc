#include "sentinelle/reading.h"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace sentinelle {

const std::array<VariableInfo, kVariableCount>& Variables() {
  static const std::array<VariableInfo, kVariableCount> kTable = {{
      {Variable::kTemperatureC, "temperature_c", "degC", -40.0, 60.0, 5.0},
      {Variable::kHumidityPct, "humidity_pct", "%", 0.0, 100.0, 25.0},
      {Variable::kPressureHpa, "pressure_hpa", "hPa", 850.0, 1100.0, 5.0},
      {Variable::kWindSpeedMs, "wind_speed_ms", "m/s", 0.0, 75.0, 30.0},
      {Variable::kWindDirDeg, "wind_dir_deg", "deg", 0.0, 360.0, 360.0},
      {Variable::kRainMm, "rain_mm", "mm", 0.0, 200.0, 200.0},
      {Variable::kPm25, "pm25", "ug/m3", 0.0, 1000.0, 250.0},
      {Variable::kPm10, "pm10", "ug/m3", 0.0, 2000.0, 500.0},
      {Variable::kNo2, "no2", "ug/m3", 0.0, 2000.0, 400.0},
      {Variable::kO3, "o3", "ug/m3", 0.0, 1000.0, 200.0},
      {Variable::kSo2, "so2", "ug/m3", 0.0, 2000.0, 400.0},
      {Variable::kCo, "co", "mg/m3", 0.0, 100.0, 20.0},
  }};
  return kTable;
}

std::optional<Variable> VariableFromName(std::string_view name) {
  for (const auto& info : Variables()) {
    if (info.name == name) return info.variable;
  }
  return std::nullopt;
}

namespace {
constexpr std::array<std::string_view, kQcFlagCount> kQcNames = {
    "ok", "missing", "out_of_range", "stuck", "spike", "invalid"};
}

std::string_view QcFlagName(QcFlag f) { return kQcNames[static_cast<int>(f)]; }

std::optional<QcFlag> QcFlagFromName(std::string_view name) {
  for (int i = 0; i < kQcFlagCount; ++i) {
    if (kQcNames[i] == name) return static_cast<QcFlag>(i);
  }
  return std::nullopt;
}

namespace {
// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool ParseInt(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

std::string FormatUtc(int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::optional<int64_t> ParseUtc(std::string_view s) {
  // Exactly YYYY-MM-DDTHH:MM:SSZ.
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || s[19] != 'Z') {
    return std::nullopt;
  }
  int y, mo, d, h, mi, se;
  if (!ParseInt(s.substr(0, 4), y) || !ParseInt(s.substr(5, 2), mo) ||
      !ParseInt(s.substr(8, 2), d) || !ParseInt(s.substr(11, 2), h) ||
      !ParseInt(s.substr(14, 2), mi) || !ParseInt(s.substr(17, 2), se)) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return std::nullopt;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  const int mdays = kDays[mo - 1] + ((mo == 2 && leap) ? 1 : 0);
  if (d > mdays) return std::nullopt;
  return DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
         h * 3600 + mi * 60 + se;
}

}  // namespace sentinelle
