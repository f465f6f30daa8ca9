// Seasonal persistence: the last link of the fallback chain, needing nothing
// from the collector. The forecast blends the last valid value of the target
// with the station's own hour-of-day profile, trusting the last value less
// as the horizon and the value's age grow:
//
//   a = exp(-(horizon_min + age_min) / tau_min)
//   forecast = a * last + (1 - a) * profile[hour(target time)]
//
// With no profile bin for that hour the last value answers alone; with no
// last value the profile does; with neither there is no forecast.
//
// The profile is a count-capped running mean per (variable, UTC hour): the
// first `cap` values average exactly, later ones weigh 1/cap, so months of
// operation keep memory constant and the profile follows the seasons. The
// agent rebuilds it from its SQLite buffer at start-up. Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "sentinelle/reading.h"

namespace sentinelle::predict {

class SeasonalProfile {
 public:
  // 14 days of 5-minute windows per hour bin.
  explicit SeasonalProfile(int cap = 14 * 12) : cap_(cap) {}

  // Adds the valid (QC ok) values of a reading to its hour's bins.
  void Add(const Reading& reading);
  // Mean for (variable, UTC hour 0..23); nullopt before any value.
  std::optional<double> At(Variable v, int hour_utc) const;
  int64_t count(Variable v, int hour_utc) const;

 private:
  int cap_;
  std::array<std::array<double, 24>, kVariableCount> mean_{};
  std::array<std::array<int32_t, 24>, kVariableCount> n_{};
};

struct PersistenceInputs {
  double last_value = kMissingValue;  // NaN = never seen
  int64_t last_time_s = 0;            // window end of last_value
  int64_t now_s = 0;                  // window end the forecast is made at
  int64_t target_time_s = 0;          // now_s + horizon
  double tau_min = 180.0;
};

// NaN when neither a last value nor a profile bin exists. The result is
// clamped to the variable's physical range.
double SeasonalPersistence(const SeasonalProfile& profile, Variable target,
                           const PersistenceInputs& in);

int HourUtc(int64_t unix_s);

}  // namespace sentinelle::predict
