// Synthetic series for the monitoring tests: a deterministic diurnal
// pollutant with noise, and small station networks around Abidjan.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sentinelle/monitor/context.h"

namespace sentinelle::monitor::testing {

inline constexpr int64_t kDay = 86400;
inline constexpr int64_t k5Min = 300;
// 2026-01-05T00:00:00Z, a Monday in the dry season.
inline constexpr int64_t kDryStart = 1767571200;
// 2026-06-01T00:00:00Z, wet season.
inline constexpr int64_t kWetStart = 1780272000;

// PM2.5-like value with a strong daily cycle: high at night and at the rush
// hours, low in the afternoon. `scale` multiplies it (a calibration drift).
class DiurnalSeries {
 public:
  explicit DiurnalSeries(uint64_t seed) : rng_(seed) {}
  double At(int64_t ts_s, double scale = 1.0) {
    const double mean = BandMean(BandOf(ts_s));
    std::normal_distribution<double> noise(0.0, 0.15 * mean);
    return std::max(0.0, scale * (mean + noise(rng_)));
  }
  static double BandMean(Band b) {
    switch (b) {
      case Band::kNight: return 60;
      case Band::kMorning: return 45;
      case Band::kDay: return 18;
      case Band::kEvening: return 40;
    }
    return 0;
  }

 private:
  std::mt19937_64 rng_;
};

struct SiteXY {
  std::string id;
  double lat, lon;
};

// A 4 x 3 grid of stations about 4 km apart around Abidjan (5.35 N, 4.0 W).
inline std::vector<SiteXY> GridNetwork() {
  std::vector<SiteXY> sites;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 4; ++c) {
      sites.push_back({"abj-g" + std::to_string(r) + std::to_string(c), 5.30 + 0.036 * r,
                       -4.06 + 0.036 * c});
    }
  }
  return sites;
}

}  // namespace sentinelle::monitor::testing
