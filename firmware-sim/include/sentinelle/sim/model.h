// The station model: city-wide weather plus per-station pollution, stepped
// at any resolution (a sensor's sample period or directly 5 minutes) with the
// same statistics. The equations are described in docs/SIMULATOR.md.
//
// Everything is deterministic for a given seed: two models built with the same
// seed, stations and regimes and stepped with the same times produce the same
// values bit for bit. Not thread-safe; one model per thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/reading.h"
#include "sentinelle/sim/random.h"

namespace sentinelle::sim {

using Values = std::array<double, kVariableCount>;

enum class StationType : uint8_t { kTraffic, kUrbanBackground, kIndustrial, kResidential };
std::string_view StationTypeName(StationType t);
std::optional<StationType> StationTypeFromName(std::string_view name);

struct StationSpec {
  std::string id;     // [a-z0-9_-]{1,64}
  std::string name;   // human name, e.g. "Plateau"
  double lat = 0;
  double lon = 0;
  StationType type = StationType::kUrbanBackground;
  // Bearing (degrees, where the wind comes from) of the nearest industrial
  // source: SO2 and PM rise when the wind blows from there.
  double source_bearing_deg = 225;
};

// The default network: Abidjan districts (Plateau, Cocody, Yopougon,
// Treichville, Abobo, then other communes); past the named ones, stations
// "abj-sNNN" with deterministic coordinates. count >= 1.
std::vector<StationSpec> DefaultNetwork(int count);

// A concept-drift event: from `at_s` on, a station's emissions change while
// its sensors stay healthy.
struct Regime {
  enum class Kind : uint8_t { kTraffic, kIndustrialSource };
  Kind kind = Kind::kTraffic;
  std::string station;  // a station id, or "*" for every station
  int64_t at_s = 0;     // Unix seconds UTC
  // kTraffic: traffic emissions multiplied by `factor`, rush hours moved by
  // `peak_shift_h` hours (positive = later).
  double factor = 1.0;
  double peak_shift_h = 0.0;
  // kIndustrialSource: a new source of strength `factor` (1 = a typical
  // industrial zone) at bearing `bearing_deg` from the station.
  double bearing_deg = 90;
};
std::string_view RegimeKindName(Regime::Kind k);

// City-wide weather state for the interval that ended at the last step.
struct Weather {
  double temperature_c = 27;
  double humidity_pct = 80;
  double pressure_hpa = 1012;
  double wind_speed_ms = 2.5;
  double wind_dir_deg = 215;
  double rain_rate_mm_h = 0;  // mean rate over the last step
  double wetness_mm = 0;      // recent rain, decaying (time constant 8 h)
  double dust_ugm3 = 0;       // regional Saharan dust (PM10 mass) from episodes + haze
  double solar = 0;           // 0..1 clear-sky-and-cloud-adjusted irradiance
  double harmattan = 0;       // 0..1 seasonal index of the dry dusty season
  double wet_season = 0;      // 0..1 seasonal index of the rainy seasons
};

class WeatherModel {
 public:
  WeatherModel(uint64_t seed, int64_t start_s);
  // Advances by dt_s to time t_s (the end of the step).
  void Step(int64_t t_s, double dt_s);
  const Weather& state() const { return w_; }

 private:
  Rng rng_;
  Weather w_;
  Ar1 temp_anom_, hum_anom_, pres_anom_, wind_anom_, dir_anom_;
  double rain_cooling_c_ = 0;
  double rain_left_s_ = 0;        // remaining duration of the current rain event
  double rain_intensity_mm_h_ = 0;
  double dust_episode_ugm3_ = 0;  // current episode's amplitude
  double dust_left_s_ = 0;
  double dust_total_s_ = 0;
};

// One station. `regimes` may contain events for other stations; they are
// ignored. `sample_period_s` is the sensor's nominal sample period: white
// measurement noise is scaled so that a step of dt_s carries the noise of a
// mean of dt_s / sample_period_s samples.
class StationModel {
 public:
  StationModel(StationSpec spec, uint64_t seed, std::vector<Regime> regimes,
               double sample_period_s = 10);
  // Advances by dt_s to t_s using the city weather of the same step and
  // writes the true values (rain_mm = rain fallen during the step).
  void Step(int64_t t_s, double dt_s, const Weather& w, Values* out);
  const StationSpec& spec() const { return spec_; }

 private:
  StationSpec spec_;
  std::vector<Regime> regimes_;
  double sample_period_s_;
  Rng rng_;
  bool initialised_ = false;
  // Pollutant states (µg/m³; CO mg/m³): pm25, coarse, no2, o3, so2, co.
  std::array<double, 6> c_{};
  std::array<Ar1, 6> log_noise_;
  Ar1 temp_noise_, hum_noise_, wind_noise_, dir_noise_, pres_noise_;
  double rain_factor_;
};

// Hour-of-day shape helpers, exposed for tests and docs.
// Traffic activity (1 = a weekday rush-hour peak) at local hour h, weekday
// dow (0 = Monday .. 6 = Sunday).
double TrafficActivity(double hour, int dow, double peak_shift_h = 0);
// Mixing-layer factor: ~0.35 at night, 1 in mid-afternoon.
double MixingFactor(double hour);
// Clear-sky solar elevation factor (0 at night, 1 at solar noon).
double SolarFactor(double hour);

}  // namespace sentinelle::sim
