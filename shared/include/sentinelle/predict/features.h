// The feature pipeline: one implementation for training (collector, batch
// over a stored history) and inference (agent, one reading at a time).
//
// Both paths feed the same incremental FeatureBuilder in time order; the
// batch helper BuildTrainingMatrix is a loop over Push/Compute. Features of a
// window therefore depend only on the readings up to that window, and the two
// paths produce identical floats bit for bit (tests/predict/features_test.cc).
//
// Missing data: a variable whose QC flag is not ok (or whose value is NaN) is
// missing; a window absent from the history (a gap on the interval grid) is a
// window with every variable missing. Missing features are NaN.
//
// Features, in this order (names from FeatureSpec::Names()):
//   for each series variable v:  v_lag{k} for k in lags (0 = the window itself),
//     v_mean{w}, v_std{w} for w in windows (rolling over the last w windows
//     including the current one; NaN with fewer than min_valid_fraction*w
//     valid windows; std is the population standard deviation, needs 2),
//     v_trend{k} for k in trends (= v[t] - v[t-k]);
//   for each meteo variable: its current value;
//   wind_u, wind_v (m/s, the direction the air moves to: u east, v north) when
//     wind_vector;
//   hour_sin, hour_cos, dow_sin, dow_cos (UTC, from window_end) when calendar.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sentinelle/predict/matrix.h"
#include "sentinelle/reading.h"
#include "sentinelle/result.h"

namespace sentinelle::predict {

// The feature algorithm implemented by this build. A model whose spec names
// another version is refused.
inline constexpr int kFeatureVersion = 1;
inline constexpr int kMaxHistorySteps = 4032;  // 14 days of 5-minute windows

struct FeatureSpec {
  int version = kFeatureVersion;
  int interval_s = 300;
  std::vector<Variable> series;
  std::vector<int> lags;
  std::vector<int> windows;
  std::vector<int> trends;
  std::vector<Variable> meteo;
  bool wind_vector = true;
  bool calendar = true;
  double min_valid_fraction = 0.5;

  // series = pm25, pm10, no2, o3; lags 0,1,2,3,6,12,288; windows 12,36,288
  // (1 h, 3 h, 24 h); trends 12,36; meteo = temperature, humidity, pressure,
  // wind speed, rain; wind vector and calendar on. 71 features.
  static FeatureSpec Default(int interval_s = 300);
  // Default() with `targets` added to the series when absent, so every
  // target's own past is an input.
  static FeatureSpec ForTargets(const std::vector<Variable>& targets, int interval_s = 300);

  // Checks parameters (version, interval, steps within kMaxHistorySteps, no
  // duplicates, wind_vector needs wind speed and direction readable).
  Status Validate() const;
  std::vector<std::string> Names() const;
  size_t Width() const;
  // Windows of history before the current one that features look at.
  int HistorySteps() const;
  // Input variables read from readings (series, meteo, wind speed/direction).
  std::vector<Variable> Inputs() const;

  // {"version":1,"interval_s":300,"series":[...],"lags":[...],...,"names":[...]}
  nlohmann::json ToJson() const;
  // Strict: refuses unknown keys, an unsupported version, unknown variables,
  // invalid parameters, and a "names" list that differs from what this build
  // computes for those parameters. That is the acceptance check for a model's
  // specification.
  static Result<FeatureSpec> FromJson(const nlohmann::json& j);
  // SHA-256 hex of the canonical ToJson().dump(): equal specs, equal features.
  std::string Fingerprint() const;
  bool operator==(const FeatureSpec&) const = default;
};

// Steps of `interval_s` in `horizon_min`; error unless it divides exactly
// and lies in 1..kMaxHistorySteps.
Result<int> HorizonSteps(int interval_s, int horizon_min);

// The incremental builder. Not thread-safe; cheap to copy.
class FeatureBuilder {
 public:
  // `spec` must pass Validate() (programmer error otherwise: throws
  // std::invalid_argument).
  explicit FeatureBuilder(FeatureSpec spec);

  enum class PushResult { kAccepted, kStale, kWrongInterval };
  // Feeds the next window. A reading not newer than the last is ignored
  // (kStale); one on another interval or off the grid is ignored
  // (kWrongInterval). Windows skipped between the last and this one count as
  // missing.
  PushResult Push(const Reading& reading);

  // Features of the latest accepted window into out[0 .. Width()). Before
  // any Push, every feature is NaN.
  void Compute(float* out) const;
  std::vector<float> Compute() const;
  // Inputs missing or QC-flagged in the latest window, in spec order.
  std::vector<Variable> MissingInputs() const;
  int64_t last_window_end_s() const { return last_end_s_; }
  bool empty() const { return last_end_s_ == 0; }
  const FeatureSpec& spec() const { return spec_; }
  size_t Width() const { return width_; }

 private:
  double At(size_t input, int steps_back) const;
  // The last w windows of an input, oldest first, contiguous (w <= capacity_).
  const double* Window(size_t input, int w) const;

  FeatureSpec spec_;
  size_t width_ = 0;
  std::vector<Variable> inputs_;
  std::vector<int> series_input_, meteo_input_;
  int wind_speed_input_ = -1, wind_dir_input_ = -1;
  int capacity_ = 0;
  std::vector<double> ring_;  // per input 2 x capacity_ windows (mirrored), NaN = missing
  int head_ = -1;             // slot of the latest window
  int64_t last_end_s_ = 0;
};

struct TrainingSet {
  DenseMatrix X;
  std::vector<float> y;                // target value at window_end_s + horizon
  std::vector<int64_t> window_end_s;   // the window each row's features describe
};

// Features of every window of `history` (one station, any order; sorted,
// de-duplicated by window_end_s) through FeatureBuilder, keeping the rows
// whose target at t + horizon is valid. Error for an invalid spec or horizon.
Result<TrainingSet> BuildTrainingMatrix(std::vector<Reading> history, const FeatureSpec& spec,
                                        Variable target, int horizon_min);

}  // namespace sentinelle::predict
