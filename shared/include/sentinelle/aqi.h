// Air Quality Index: US EPA breakpoint table (PM2.5 as revised in 2024),
// applied to one window's mean concentrations. docs/PROTOCOL.md documents the
// table, the unit conversions (µg/m³ -> ppb at 25 °C, 1 atm) and the
// averaging-period simplification.
#pragma once

#include <optional>

#include "sentinelle/reading.h"

namespace sentinelle {

struct AqiResult {
  int aqi = 0;
  Variable dominant = Variable::kPm25;
};

// Sub-index of one pollutant from a concentration in the project's units.
// Returns nullopt for non-pollutants, NaN or negative input. Values above the
// table's top breakpoint are capped at 500.
std::optional<int> SubIndex(Variable pollutant, double concentration);

// AQI of a reading: the maximum sub-index over pollutants that passed QC;
// nullopt when none did. Ties go to the first pollutant in schema order.
std::optional<AqiResult> ComputeAqi(const Reading& reading);

// AQI category 0..5 (good .. hazardous) of an AQI value.
int AqiCategory(int aqi);

}  // namespace sentinelle
