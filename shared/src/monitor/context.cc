#include "sentinelle/monitor/context.h"

#include <array>

namespace sentinelle::monitor {

namespace {

// Days since 1970-01-01 -> month 1..12 (H. Hinnant's civil_from_days).
int MonthOfDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  return static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

std::string_view BandName(Band b) {
  static constexpr std::array<std::string_view, kBandCount> kNames = {"night", "morning", "day",
                                                                      "evening"};
  return kNames[static_cast<int>(b)];
}

std::string_view SeasonName(Season s) { return s == Season::kDry ? "dry" : "wet"; }

Band BandOfHour(int hour) {
  if (hour >= 22 || hour < 6) return Band::kNight;
  if (hour < 10) return Band::kMorning;
  if (hour < 17) return Band::kDay;
  return Band::kEvening;
}

Band BandOf(int64_t unix_s) {
  const int64_t second_of_day = unix_s - FloorDiv(unix_s, 86400) * 86400;
  return BandOfHour(static_cast<int>(second_of_day / 3600));
}

Season SeasonOf(int64_t unix_s) {
  const int month = MonthOfDays(FloorDiv(unix_s, 86400));
  return (month >= 4 && month <= 10) ? Season::kWet : Season::kDry;
}

int ContextOf(int64_t unix_s) { return ContextIndex(SeasonOf(unix_s), BandOf(unix_s)); }

std::string_view ContextName(int context) {
  static constexpr std::array<std::string_view, kContextCount> kNames = {
      "dry/night", "dry/morning", "dry/day", "dry/evening",
      "wet/night", "wet/morning", "wet/day", "wet/evening"};
  if (context < 0 || context >= kContextCount) return "?";
  return kNames[context];
}

}  // namespace sentinelle::monitor
