#include "sentinelle/sim/model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sentinelle::sim {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int64_t kDay = 86400;

double Bump(double x, double mu, double sd) {
  const double z = (x - mu) / sd;
  return std::exp(-0.5 * z * z);
}
// A Gaussian bump on a circle of circumference `period` (hours of a day,
// days of a year).
double CyclicBump(double x, double mu, double sd, double period) {
  double d = std::fmod(x - mu, period);
  if (d < -period / 2) d += period;
  if (d > period / 2) d -= period;
  return Bump(d, 0, sd);
}
double AngleDiff(double a, double b) {
  double d = std::fmod(a - b, 360.0);
  if (d < -180) d += 360;
  if (d > 180) d -= 360;
  return d;
}
double Wrap360(double a) {
  a = std::fmod(a, 360.0);
  return a < 0 ? a + 360 : a;
}
double Relax(double state, double target, double dt_s, double tau_s) {
  return target + (state - target) * std::exp(-dt_s / tau_s);
}

struct TimeParts {
  double hour;  // 0..24, local = UTC in Abidjan
  int dow;      // 0 = Monday
  double doy;   // 0..365.24, day of the year
};
TimeParts Split(double t_s) {
  const double days = std::floor(t_s / kDay);
  TimeParts p;
  p.hour = (t_s - days * kDay) / 3600.0;
  p.dow = static_cast<int>((static_cast<int64_t>(days) % 7 + 7 + 3) % 7);  // 1970-01-01: Thursday
  p.doy = std::fmod(t_s / kDay - 10957.0, 365.2425);                      // from 2000-01-01
  if (p.doy < 0) p.doy += 365.2425;
  return p;
}

// Seasons of coastal Abidjan: harmattan (dry, dusty) around mid-January, the
// long rains peaking mid-June, the short rains late October.
double HarmattanIndex(double doy) { return CyclicBump(doy, 18, 24, 365.2425); }
double WetSeasonIndex(double doy) {
  return std::max(CyclicBump(doy, 160, 30, 365.2425), 0.6 * CyclicBump(doy, 298, 16, 365.2425));
}

struct TypeMix {
  double traffic, industrial, domestic;
};
TypeMix MixOf(StationType t) {
  switch (t) {
    case StationType::kTraffic: return {1.6, 0.2, 0.5};
    case StationType::kUrbanBackground: return {0.7, 0.25, 0.6};
    case StationType::kIndustrial: return {0.8, 1.5, 0.5};
    case StationType::kResidential: return {0.45, 0.1, 1.3};
  }
  return {1, 1, 1};
}

double Clamp(double v, double lo, double hi) { return std::min(hi, std::max(lo, v)); }

// A stable hash (std::hash is not specified), so a station's stream depends
// only on its id and the seed.
uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

std::string_view StationTypeName(StationType t) {
  switch (t) {
    case StationType::kTraffic: return "traffic";
    case StationType::kUrbanBackground: return "urban_background";
    case StationType::kIndustrial: return "industrial";
    case StationType::kResidential: return "residential";
  }
  return "?";
}

std::optional<StationType> StationTypeFromName(std::string_view name) {
  for (StationType t : {StationType::kTraffic, StationType::kUrbanBackground,
                        StationType::kIndustrial, StationType::kResidential}) {
    if (StationTypeName(t) == name) return t;
  }
  return std::nullopt;
}

std::string_view RegimeKindName(Regime::Kind k) {
  return k == Regime::Kind::kTraffic ? "traffic" : "industrial_source";
}

std::vector<StationSpec> DefaultNetwork(int count) {
  static const StationSpec kNamed[] = {
      {"abj-plateau", "Plateau", 5.3236, -4.0197, StationType::kTraffic, 250},
      {"abj-cocody", "Cocody", 5.3600, -3.9900, StationType::kResidential, 240},
      {"abj-yopougon", "Yopougon", 5.3450, -4.0820, StationType::kIndustrial, 200},
      {"abj-treichville", "Treichville", 5.2920, -4.0130, StationType::kUrbanBackground, 180},
      {"abj-abobo", "Abobo", 5.4180, -4.0200, StationType::kResidential, 210},
      {"abj-adjame", "Adjame", 5.3660, -4.0220, StationType::kTraffic, 230},
      {"abj-marcory", "Marcory", 5.3000, -3.9830, StationType::kUrbanBackground, 200},
      {"abj-koumassi", "Koumassi", 5.2970, -3.9500, StationType::kIndustrial, 160},
      {"abj-port-bouet", "Port-Bouet", 5.2550, -3.9260, StationType::kUrbanBackground, 290},
      {"abj-attecoube", "Attecoube", 5.3330, -4.0400, StationType::kResidential, 260},
  };
  constexpr int kNamedCount = sizeof(kNamed) / sizeof(kNamed[0]);
  std::vector<StationSpec> out;
  out.reserve(static_cast<size_t>(std::max(count, 0)));
  for (int i = 0; i < count; ++i) {
    if (i < kNamedCount) {
      out.push_back(kNamed[i]);
      continue;
    }
    // Deterministic spread over greater Abidjan, types in rotation.
    uint64_t s = static_cast<uint64_t>(i);
    const double u1 = static_cast<double>(SplitMix64(s) >> 11) * 0x1.0p-53;
    const double u2 = static_cast<double>(SplitMix64(s) >> 11) * 0x1.0p-53;
    char id[32];
    std::snprintf(id, sizeof(id), "abj-s%03d", i + 1);
    StationSpec spec;
    spec.id = id;
    spec.name = std::string("Station ") + std::to_string(i + 1);
    spec.lat = 5.25 + 0.25 * u1;
    spec.lon = -4.12 + 0.25 * u2;
    spec.type = static_cast<StationType>(i % 4);
    spec.source_bearing_deg = 150 + 120 * u1;
    out.push_back(spec);
  }
  return out;
}

double TrafficActivity(double hour, int dow, double peak_shift_h) {
  const double h = hour - peak_shift_h;
  if (dow <= 4) {  // weekdays: two rush hours and a midday plateau
    return 0.18 + 1.0 * CyclicBump(h, 7.5, 1.2, 24) + 0.35 * CyclicBump(h, 12.8, 2.0, 24) +
           0.95 * CyclicBump(h, 18.3, 1.5, 24);
  }
  if (dow == 5) {  // Saturday: markets, a late-morning hump
    return 0.18 + 0.65 * CyclicBump(h, 11.0, 3.0, 24) + 0.45 * CyclicBump(h, 19.0, 2.0, 24);
  }
  return 0.15 + 0.4 * CyclicBump(h, 12.0, 3.5, 24) + 0.3 * CyclicBump(h, 19.5, 2.0, 24);
}

double MixingFactor(double hour) {
  if (hour < 7 || hour > 19) return 0.35;
  return 0.35 + 0.65 * std::pow(std::sin(kPi * (hour - 7) / 12), 0.8);
}

double SolarFactor(double hour) {
  if (hour <= 6.1 || hour >= 18.3) return 0;
  return std::sin(kPi * (hour - 6.1) / 12.2);
}

WeatherModel::WeatherModel(uint64_t seed, int64_t start_s)
    : rng_(DeriveSeed(seed, 0x57ea7e5)),
      temp_anom_(0.9, 18 * 3600.0),
      hum_anom_(3.5, 10 * 3600.0),
      pres_anom_(1.6, 2.5 * kDay),
      wind_anom_(0.6, 4 * 3600.0),
      dir_anom_(28, 6 * 3600.0) {
  temp_anom_.Init(rng_);
  hum_anom_.Init(rng_);
  pres_anom_.Init(rng_);
  wind_anom_.Init(rng_);
  dir_anom_.Init(rng_);
  // Settle the slow states (wetness, dust) so the first day is typical.
  const double kWarmup = 3 * kDay;
  for (double t = static_cast<double>(start_s) - kWarmup; t < start_s; t += 1800) {
    Step(static_cast<int64_t>(t), 1800);
  }
}

void WeatherModel::Step(int64_t t_s, double dt_s) {
  const TimeParts p = Split(static_cast<double>(t_s) - dt_s / 2);
  w_.harmattan = HarmattanIndex(p.doy);
  w_.wet_season = WetSeasonIndex(p.doy);

  // Rain: events start at a seasonal, afternoon-convective rate; each has an
  // exponential duration and a lognormal intensity.
  double rain_mm = 0;
  double remaining = dt_s;
  while (remaining > 0) {
    if (rain_left_s_ > 0) {
      const double used = std::min(remaining, rain_left_s_);
      rain_mm += rain_intensity_mm_h_ * used / 3600.0;
      rain_left_s_ -= used;
      remaining -= used;
      continue;
    }
    const double rate_per_h =
        0.002 + 0.08 * w_.wet_season * (0.45 + 1.1 * CyclicBump(p.hour, 16, 3.5, 24) +
                                          0.5 * CyclicBump(p.hour, 4, 3, 24));
    const double wait_s = rng_.Exponential(3600.0 / rate_per_h);
    if (wait_s >= remaining) break;
    remaining -= wait_s;
    rain_left_s_ = rng_.Exponential(1.6 * 3600.0) + 300;
    rain_intensity_mm_h_ = std::exp(1.2 + 0.8 * rng_.Normal()) * (0.4 + 0.8 * w_.wet_season);
  }
  w_.rain_rate_mm_h = rain_mm * 3600.0 / dt_s;
  w_.wetness_mm = w_.wetness_mm * std::exp(-dt_s / (8 * 3600.0)) + rain_mm;
  rain_cooling_c_ = Relax(rain_cooling_c_, 3.0 * std::min(1.0, w_.rain_rate_mm_h / 4.0), dt_s,
                          rain_mm > 0 ? 1200.0 : 3 * 3600.0);

  // Saharan dust: episodes (days long) in the harmattan season over a haze
  // background proportional to the season index.
  if (dust_left_s_ <= 0 && w_.harmattan > 0.25 &&
      rng_.Bernoulli(1 - std::exp(-dt_s * w_.harmattan / (6.0 * kDay)))) {
    dust_total_s_ = dust_left_s_ = (1.5 + 3.0 * rng_.Uniform()) * kDay;
    dust_episode_ugm3_ = std::exp(4.6 + 0.45 * rng_.Normal());  // ~100 µg/m³ PM10
  }
  double episode = 0;
  if (dust_left_s_ > 0) {
    const double x = 1 - dust_left_s_ / dust_total_s_;  // 0..1 through the episode
    episode = dust_episode_ugm3_ * std::sin(kPi * x);
    dust_left_s_ -= dt_s;
  }
  w_.dust_ugm3 = 40 * w_.harmattan + episode;

  // Temperature: seasonal mean, diurnal cycle (wider in dry weather), slow
  // anomalies, rain cooling.
  const double t_season = 27.0 + 1.6 * std::cos(2 * kPi * (p.doy - 75) / 365.2425);
  const double amp = 2.0 + 1.6 * (1 - w_.wet_season) + 0.8 * w_.harmattan;
  const double t_diurnal = amp * std::cos(2 * kPi * (p.hour - 14.5) / 24);
  w_.temperature_c = t_season + t_diurnal + temp_anom_.Step(rng_, dt_s) - rain_cooling_c_;

  // Humidity falls as the air warms; rain and the rainy season raise it,
  // the harmattan dries it.
  const double rh_season = 81 + 7 * w_.wet_season - 22 * w_.harmattan;
  w_.humidity_pct = Clamp(rh_season - 3.4 * (t_diurnal - rain_cooling_c_) +
                              6 * std::min(1.0, w_.wetness_mm / 5) + hum_anom_.Step(rng_, dt_s),
                          18, 100);

  w_.pressure_hpa = 1012.5 - 1.5 * w_.wet_season + 1.1 * std::cos(4 * kPi * (p.hour - 10) / 24) +
                    pres_anom_.Step(rng_, dt_s);

  // Wind: a sea breeze in the afternoon over a weak land breeze at night;
  // south-westerly monsoon flow, north-easterly harmattan.
  const double breeze = CyclicBump(p.hour, 15, 3.5, 24);
  w_.wind_speed_ms = std::max(0.1, (1.4 + 2.6 * breeze + 0.8 * w_.wet_season) *
                                       std::exp(0.25 * wind_anom_.Step(rng_, dt_s)));
  const double base_dir = w_.harmattan > 0.5 && breeze < 0.3 ? 40 : 215;
  w_.wind_dir_deg = Wrap360(base_dir - 25 * breeze + dir_anom_.Step(rng_, dt_s));

  const double cloud = Clamp(0.25 * w_.wet_season + 0.5 * std::min(1.0, w_.rain_rate_mm_h) +
                                 0.25 * w_.harmattan,  // dust haze dims the sun too
                             0, 0.85);
  w_.solar = SolarFactor(p.hour) * (1 - cloud);
}

StationModel::StationModel(StationSpec spec, uint64_t seed, std::vector<Regime> regimes,
                           double sample_period_s)
    : spec_(std::move(spec)),
      sample_period_s_(sample_period_s > 0 ? sample_period_s : 10),
      rng_(DeriveSeed(seed, Fnv1a(spec_.id) ^ 0x5a7105ULL)),
      temp_noise_(0.25, 3 * 3600.0),
      hum_noise_(1.2, 3 * 3600.0),
      wind_noise_(0.25, 2 * 3600.0),
      dir_noise_(12, 2 * 3600.0),
      pres_noise_(0.15, 6 * 3600.0) {
  for (const Regime& r : regimes) {
    if (r.station == "*" || r.station == spec_.id) regimes_.push_back(r);
  }
  // Persistent, partly unpredictable pollution noise (lognormal factors).
  static constexpr double kNoiseSd[6] = {0.22, 0.25, 0.2, 0.15, 0.3, 0.2};
  static constexpr double kNoiseTauH[6] = {4, 2, 2, 3, 3, 2};
  for (int i = 0; i < 6; ++i) {
    log_noise_[i] = Ar1(kNoiseSd[i], kNoiseTauH[i] * 3600.0);
    log_noise_[i].Init(rng_);
  }
  temp_noise_.Init(rng_);
  hum_noise_.Init(rng_);
  wind_noise_.Init(rng_);
  dir_noise_.Init(rng_);
  pres_noise_.Init(rng_);
  rain_factor_ = std::exp(0.15 * rng_.Normal());
}

void StationModel::Step(int64_t t_s, double dt_s, const Weather& w, Values* out) {
  const TimeParts p = Split(static_cast<double>(t_s) - dt_s / 2);
  const TypeMix mix = MixOf(spec_.type);

  double traffic_factor = 1, peak_shift = 0, new_source = 0, new_bearing = 0;
  for (const Regime& r : regimes_) {
    if (t_s - dt_s / 2 < static_cast<double>(r.at_s)) continue;
    if (r.kind == Regime::Kind::kTraffic) {
      traffic_factor *= r.factor;
      peak_shift += r.peak_shift_h;
    } else {
      new_source += r.factor;
      new_bearing = r.bearing_deg;
    }
  }

  // Station meteorology: the city's, plus a small local offset and noise.
  const double heat_island = spec_.type == StationType::kTraffic      ? 0.6
                             : spec_.type == StationType::kIndustrial ? 0.4
                             : spec_.type == StationType::kResidential ? -0.2
                                                                       : 0.1;
  const double wind_rough = spec_.type == StationType::kUrbanBackground ? 1.1 : 0.85;
  const double ws = std::max(0.0, w.wind_speed_ms * wind_rough * std::exp(wind_noise_.Step(rng_, dt_s)));
  const double rain_mm = w.rain_rate_mm_h * dt_s / 3600.0 * rain_factor_;

  // Emissions, the mixing layer and dispersion by wind.
  const double traffic = mix.traffic * traffic_factor * TrafficActivity(p.hour, p.dow, peak_shift);
  auto plume = [&](double bearing) {
    return 0.3 + 1.7 * std::exp(-0.5 * std::pow(AngleDiff(w.wind_dir_deg, bearing) / 35, 2));
  };
  const double industrial = mix.industrial * (p.dow <= 5 ? 1.0 : 0.75) * plume(spec_.source_bearing_deg) +
                            new_source * plume(new_bearing);
  const double domestic = mix.domestic * (0.6 * CyclicBump(p.hour, 6.5, 1.0, 24) +
                                          1.0 * CyclicBump(p.hour, 19.5, 1.5, 24));
  const double dispersion = 1.0 / (MixingFactor(p.hour) * (0.45 + 0.22 * ws));

  const double wash = std::exp(-0.3 * w.wetness_mm);            // lagged washout
  const double dry = std::exp(-1.5 * w.wetness_mm);             // no resuspension when wet
  const double pm25_eq = (9 + 12 * w.harmattan + 0.3 * w.dust_ugm3 +
                          dispersion * (9 * traffic + 5 * industrial + 14 * domestic)) *
                         (0.35 + 0.65 * wash);
  const double coarse_eq =
      (10 + 0.7 * w.dust_ugm3 + dispersion * (7 * traffic + 4 * industrial + 3 * domestic) +
       1.8 * std::pow(std::max(0.0, ws - 2.5), 2) * dry) *
      (0.25 + 0.75 * wash);
  const double no2_eq = 10 + dispersion * (26 * traffic + 9 * industrial + 4 * domestic);
  const double so2_eq = 3 + dispersion * (7 * industrial + 1.2 * traffic);
  const double co_eq = 0.22 + dispersion * (0.5 * traffic + 0.08 * industrial + 0.3 * domestic);
  // Photochemical ozone builds with sunlight (higher in the dry season) and
  // is titrated by local NO.
  const double o3_eq = std::max(
      2.0, 18 + (38 + 30 * (1 - w.wet_season)) * w.solar - 0.35 * (c_[2] - 10));

  const std::array<double, 6> eq = {pm25_eq, coarse_eq, no2_eq, o3_eq, so2_eq, co_eq};
  static constexpr double kTauH[6] = {2.5, 1.2, 1.0, 1.3, 1.0, 1.0};
  if (!initialised_) {
    c_ = eq;
    initialised_ = true;
  }
  for (int i = 0; i < 6; ++i) c_[i] = Relax(c_[i], eq[i], dt_s, kTauH[i] * 3600.0);
  // Rain scavenges particles directly, within the hour.
  if (rain_mm > 0) {
    c_[0] *= std::exp(-0.06 * rain_mm);
    c_[1] *= std::exp(-0.12 * rain_mm);
  }

  // Measurement noise of a mean of dt_s / sample_period_s samples.
  const double white = std::sqrt(std::min(1.0, sample_period_s_ / dt_s));
  auto observe = [&](int i, double rel_sd) {
    const double f = std::exp(log_noise_[i].Step(rng_, dt_s));
    return std::max(0.0, c_[i] * f * (1 + rel_sd * white * rng_.Normal()));
  };
  const double pm25 = observe(0, 0.06);
  const double coarse = observe(1, 0.08);

  Values& v = *out;
  v[static_cast<int>(Variable::kTemperatureC)] =
      w.temperature_c + heat_island + temp_noise_.Step(rng_, dt_s) + 0.1 * white * rng_.Normal();
  v[static_cast<int>(Variable::kHumidityPct)] =
      Clamp(w.humidity_pct - 2.5 * heat_island + hum_noise_.Step(rng_, dt_s) +
                0.5 * white * rng_.Normal(),
            5, 100);
  v[static_cast<int>(Variable::kPressureHpa)] =
      w.pressure_hpa - (spec_.lat - 5.3) * 20 + pres_noise_.Step(rng_, dt_s) + 0.05 * white * rng_.Normal();
  v[static_cast<int>(Variable::kWindSpeedMs)] = std::max(0.0, ws * (1 + 0.2 * white * rng_.Normal()));
  v[static_cast<int>(Variable::kWindDirDeg)] =
      Wrap360(w.wind_dir_deg + dir_noise_.Step(rng_, dt_s) + 15 * white * rng_.Normal());
  v[static_cast<int>(Variable::kRainMm)] = rain_mm;
  v[static_cast<int>(Variable::kPm25)] = Clamp(pm25, 0, 900);
  v[static_cast<int>(Variable::kPm10)] = Clamp(pm25 + coarse, pm25, 1800);
  v[static_cast<int>(Variable::kNo2)] = Clamp(observe(2, 0.05), 0, 1500);
  v[static_cast<int>(Variable::kO3)] = Clamp(observe(3, 0.05), 0, 800);
  v[static_cast<int>(Variable::kSo2)] = Clamp(observe(4, 0.08), 0, 1500);
  v[static_cast<int>(Variable::kCo)] = Clamp(observe(5, 0.06), 0, 80);
}

}  // namespace sentinelle::sim
