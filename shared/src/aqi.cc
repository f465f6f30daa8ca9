#include "sentinelle/aqi.h"

#include <cmath>
#include <span>

namespace sentinelle {
namespace {

struct Breakpoint {
  double lo, hi;   // concentration, in the table's unit
  int aqi_lo, aqi_hi;
};

// US EPA tables (40 CFR Part 58 App. G; PM2.5 as revised 2024-02).
constexpr Breakpoint kPm25[] = {{0.0, 9.0, 0, 50},       {9.1, 35.4, 51, 100},
                                {35.5, 55.4, 101, 150},  {55.5, 125.4, 151, 200},
                                {125.5, 225.4, 201, 300}, {225.5, 325.4, 301, 500}};
constexpr Breakpoint kPm10[] = {{0, 54, 0, 50},       {55, 154, 51, 100},  {155, 254, 101, 150},
                                {255, 354, 151, 200}, {355, 424, 201, 300}, {425, 604, 301, 500}};
// O3 in ppm: 8-hour table up to 0.200, then the 1-hour table's upper rows.
constexpr Breakpoint kO3[] = {{0.000, 0.054, 0, 50},    {0.055, 0.070, 51, 100},
                              {0.071, 0.085, 101, 150}, {0.086, 0.105, 151, 200},
                              {0.106, 0.200, 201, 300}, {0.405, 0.604, 301, 500}};
constexpr Breakpoint kNo2[] = {{0, 53, 0, 50},        {54, 100, 51, 100},    {101, 360, 101, 150},
                               {361, 649, 151, 200},  {650, 1249, 201, 300}, {1250, 2049, 301, 500}};
constexpr Breakpoint kSo2[] = {{0, 35, 0, 50},       {36, 75, 51, 100},    {76, 185, 101, 150},
                               {186, 304, 151, 200}, {305, 604, 201, 300}, {605, 1004, 301, 500}};
constexpr Breakpoint kCo[] = {{0.0, 4.4, 0, 50},     {4.5, 9.4, 51, 100},   {9.5, 12.4, 101, 150},
                              {12.5, 15.4, 151, 200}, {15.5, 30.4, 201, 300}, {30.5, 50.4, 301, 500}};

// Molar volume at 25 °C and 1 atm, litres.
constexpr double kMolarVolume = 24.45;

double Truncate(double x, int decimals) {
  const double f = std::pow(10.0, decimals);
  return std::floor(x * f + 1e-9) / f;
}

int Interpolate(std::span<const Breakpoint> table, double c) {
  for (const auto& bp : table) {
    if (c <= bp.hi) {
      const double cc = c < bp.lo ? bp.lo : c;  // concentration in a gap between rows
      const double aqi = (bp.aqi_hi - bp.aqi_lo) / (bp.hi - bp.lo) * (cc - bp.lo) + bp.aqi_lo;
      return static_cast<int>(std::lround(aqi));
    }
  }
  return 500;
}

}  // namespace

std::optional<int> SubIndex(Variable v, double c) {
  if (std::isnan(c) || c < 0) return std::nullopt;
  switch (v) {
    case Variable::kPm25:
      return Interpolate(kPm25, Truncate(c, 1));
    case Variable::kPm10:
      return Interpolate(kPm10, Truncate(c, 0));
    case Variable::kO3:
      return Interpolate(kO3, Truncate(c * kMolarVolume / 47.998 / 1000.0, 3));
    case Variable::kNo2:
      return Interpolate(kNo2, Truncate(c * kMolarVolume / 46.0055, 0));
    case Variable::kSo2:
      return Interpolate(kSo2, Truncate(c * kMolarVolume / 64.066, 0));
    case Variable::kCo:
      return Interpolate(kCo, Truncate(c * kMolarVolume / 28.010, 1));
    default:
      return std::nullopt;
  }
}

std::optional<AqiResult> ComputeAqi(const Reading& r) {
  std::optional<AqiResult> best;
  for (int i = kFirstPollutant; i < kVariableCount; ++i) {
    const auto v = static_cast<Variable>(i);
    if (!r.valid(v)) continue;
    auto sub = SubIndex(v, r.value(v));
    if (sub && (!best || *sub > best->aqi)) best = AqiResult{*sub, v};
  }
  return best;
}

int AqiCategory(int aqi) {
  if (aqi <= 50) return 0;
  if (aqi <= 100) return 1;
  if (aqi <= 150) return 2;
  if (aqi <= 200) return 3;
  if (aqi <= 300) return 4;
  return 5;
}

}  // namespace sentinelle
