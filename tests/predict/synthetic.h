// Synthetic station histories for the prediction tests and benchmarks:
// diurnal and weekly cycles, weather-driven pollution, noise, and optional
// gaps (absent windows), QC-flagged values and dead sensors.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "sentinelle/reading.h"

namespace sentinelle::predict::testing {

struct SyntheticOptions {
  std::string station = "st-1";
  int64_t start_s = 1767225600;  // 2026-01-01T00:00:00Z
  int interval_s = 300;
  double level = 1.0;            // scales every pollutant (stations differ)
  double gap_rate = 0.0;         // probability that a window is absent
  double flag_rate = 0.0;        // probability that a variable is QC-flagged
  uint32_t seed = 1;
};

inline std::vector<Reading> MakeHistory(size_t windows, const SyntheticOptions& o = {}) {
  std::mt19937 rng(o.seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<Reading> out;
  out.reserve(windows);
  double pm_state = 0.0, wind_state = 3.0;
  int64_t seq = 0;
  for (size_t i = 0; i < windows; ++i) {
    const int64_t t = o.start_s + static_cast<int64_t>(i + 1) * o.interval_s;
    const double day = 2.0 * std::numbers::pi * static_cast<double>(t % 86400) / 86400.0;
    const int dow = static_cast<int>(((t / 86400) + 3) % 7);
    pm_state = 0.97 * pm_state + noise(rng);
    wind_state = std::clamp(0.95 * wind_state + 0.05 * 3.0 + 0.3 * noise(rng), 0.0, 20.0);
    const double rush = std::exp(-std::pow(std::sin((day - 2.2) / 2.0), 2) * 8.0) +
                        std::exp(-std::pow(std::sin((day - 4.6) / 2.0), 2) * 8.0);
    const double weekday = dow < 5 ? 1.0 : 0.6;
    const double temp = 26.0 + 5.0 * std::sin(day - 2.0) + 0.3 * noise(rng);
    Reading r;
    r.station_id = o.station;
    r.window_end_s = t;
    r.interval_s = o.interval_s;
    r.seq = ++seq;
    r.boot_id = "boot";
    auto set = [&](Variable v, double x) {
      const auto& info = Info(v);
      x = std::clamp(x, info.min, info.max);
      r.values[static_cast<int>(v)] = x;
      r.qc[static_cast<int>(v)] = QcFlag::kOk;
      r.samples[static_cast<int>(v)] = 30;
    };
    const double dispersion = 1.0 / (0.5 + 0.25 * wind_state);
    set(Variable::kTemperatureC, temp);
    set(Variable::kHumidityPct, 70.0 - 1.5 * (temp - 26.0) + noise(rng));
    set(Variable::kPressureHpa, 1010.0 + 3.0 * std::sin(static_cast<double>(t) / 200000.0));
    set(Variable::kWindSpeedMs, wind_state);
    set(Variable::kWindDirDeg, std::fmod(200.0 + 40.0 * std::sin(static_cast<double>(t) / 50000.0) + 360.0, 360.0));
    set(Variable::kRainMm, u(rng) < 0.03 ? 0.5 * u(rng) : 0.0);
    const double pm25 = o.level * (15.0 + 25.0 * rush * weekday * dispersion + 2.0 * pm_state);
    set(Variable::kPm25, pm25);
    set(Variable::kPm10, 1.6 * pm25 + 3.0 + noise(rng));
    set(Variable::kNo2, o.level * (20.0 + 40.0 * rush * weekday * dispersion) + 2.0 * noise(rng));
    set(Variable::kO3, 60.0 + 30.0 * std::sin(day - 1.5) - 0.3 * (pm25 - 15.0) + 2.0 * noise(rng));
    set(Variable::kSo2, o.level * 8.0 + noise(rng));
    set(Variable::kCo, o.level * (0.4 + 0.3 * rush) + 0.02 * noise(rng));
    for (int v = 0; v < kVariableCount; ++v) {
      if (o.flag_rate > 0 && u(rng) < o.flag_rate) {
        // Flagged values keep a (wrong) number: consumers must ignore it.
        r.qc[v] = u(rng) < 0.5 ? QcFlag::kStuck : QcFlag::kSpike;
      }
    }
    if (o.gap_rate > 0 && u(rng) < o.gap_rate) continue;
    out.push_back(r);
  }
  return out;
}

}  // namespace sentinelle::predict::testing
