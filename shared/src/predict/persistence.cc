#include "sentinelle/predict/persistence.h"

#include <algorithm>
#include <cmath>

namespace sentinelle::predict {

int HourUtc(int64_t unix_s) {
  return static_cast<int>(((unix_s % 86400) + 86400) % 86400 / 3600);
}

void SeasonalProfile::Add(const Reading& r) {
  const int h = HourUtc(r.window_end_s);
  for (int v = 0; v < kVariableCount; ++v) {
    if (!r.valid(static_cast<Variable>(v))) continue;
    int32_t& n = n_[v][h];
    if (n < cap_) ++n;
    mean_[v][h] += (r.values[v] - mean_[v][h]) / n;
  }
}

std::optional<double> SeasonalProfile::At(Variable v, int hour_utc) const {
  const int i = static_cast<int>(v);
  if (hour_utc < 0 || hour_utc > 23 || n_[i][hour_utc] == 0) return std::nullopt;
  return mean_[i][hour_utc];
}

int64_t SeasonalProfile::count(Variable v, int hour_utc) const {
  return n_[static_cast<int>(v)][hour_utc];
}

double SeasonalPersistence(const SeasonalProfile& profile, Variable target,
                           const PersistenceInputs& in) {
  const auto seasonal = profile.At(target, HourUtc(in.target_time_s));
  const bool has_last = !std::isnan(in.last_value);
  double out;
  if (has_last && seasonal) {
    const double horizon_min = static_cast<double>(in.target_time_s - in.now_s) / 60.0;
    const double age_min = static_cast<double>(std::max<int64_t>(0, in.now_s - in.last_time_s)) / 60.0;
    const double a = std::exp(-(horizon_min + age_min) / in.tau_min);
    out = a * in.last_value + (1.0 - a) * *seasonal;
  } else if (has_last) {
    out = in.last_value;
  } else if (seasonal) {
    out = *seasonal;
  } else {
    return kMissingValue;
  }
  return std::clamp(out, Info(target).min, Info(target).max);
}

}  // namespace sentinelle::predict
