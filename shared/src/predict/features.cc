#include "sentinelle/predict/features.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "sentinelle/crypto.h"

namespace sentinelle::predict {

using nlohmann::json;

namespace {

constexpr int64_t kSecondsPerDay = 86400;
constexpr size_t kMaxWindows = 16;

std::string VarName(Variable v) { return std::string(Name(v)); }

template <typename T>
bool HasDuplicates(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return std::adjacent_find(v.begin(), v.end()) != v.end();
}

}  // namespace

FeatureSpec FeatureSpec::Default(int interval_s) {
  FeatureSpec s;
  s.interval_s = interval_s;
  s.series = {Variable::kPm25, Variable::kPm10, Variable::kNo2, Variable::kO3};
  // Expressed in 5-minute steps; scaled for other intervals.
  const int per_hour = std::max(1, 3600 / interval_s);
  s.lags = {0, 1, 2, 3, per_hour / 2, per_hour, 24 * per_hour};
  s.windows = {per_hour, 3 * per_hour, 24 * per_hour};
  s.trends = {per_hour, 3 * per_hour};
  std::sort(s.lags.begin(), s.lags.end());
  s.lags.erase(std::unique(s.lags.begin(), s.lags.end()), s.lags.end());
  s.meteo = {Variable::kTemperatureC, Variable::kHumidityPct, Variable::kPressureHpa,
             Variable::kWindSpeedMs, Variable::kRainMm};
  return s;
}

FeatureSpec FeatureSpec::ForTargets(const std::vector<Variable>& targets, int interval_s) {
  FeatureSpec s = Default(interval_s);
  for (Variable t : targets) {
    if (std::find(s.series.begin(), s.series.end(), t) != s.series.end()) continue;
    // A meteorological target moves from the current-value list to the series.
    s.meteo.erase(std::remove(s.meteo.begin(), s.meteo.end(), t), s.meteo.end());
    s.series.push_back(t);
  }
  return s;
}

Status FeatureSpec::Validate() const {
  if (version != kFeatureVersion) {
    return MakeError("feature spec version " + std::to_string(version) +
                     " is not computable (this build computes version " +
                     std::to_string(kFeatureVersion) + ")");
  }
  if (interval_s < 10 || interval_s > 86400) return MakeError("interval_s out of range");
  auto steps_ok = [](const std::vector<int>& v, int lo) {
    return std::all_of(v.begin(), v.end(),
                       [lo](int k) { return k >= lo && k <= kMaxHistorySteps; });
  };
  if (!steps_ok(lags, 0)) return MakeError("lags must lie in 0.." + std::to_string(kMaxHistorySteps));
  if (!steps_ok(windows, 1)) return MakeError("windows must lie in 1.." + std::to_string(kMaxHistorySteps));
  if (!steps_ok(trends, 1)) return MakeError("trends must lie in 1.." + std::to_string(kMaxHistorySteps));
  if (lags.size() > 32 || windows.size() > kMaxWindows || trends.size() > 32) {
    return MakeError("too many lags, windows or trends");
  }
  if (HasDuplicates(lags) || HasDuplicates(windows) || HasDuplicates(trends)) {
    return MakeError("duplicate step in lags, windows or trends");
  }
  std::vector<Variable> all = series;
  all.insert(all.end(), meteo.begin(), meteo.end());
  if (HasDuplicates(all)) return MakeError("a variable appears twice in series/meteo");
  if (series.empty() && meteo.empty() && !calendar) return MakeError("spec computes nothing");
  if (!(min_valid_fraction > 0.0 && min_valid_fraction <= 1.0)) {
    return MakeError("min_valid_fraction must lie in (0, 1]");
  }
  return Status::Ok();
}

std::vector<std::string> FeatureSpec::Names() const {
  std::vector<std::string> names;
  for (Variable v : series) {
    const std::string n = VarName(v);
    for (int k : lags) names.push_back(n + "_lag" + std::to_string(k));
    for (int w : windows) names.push_back(n + "_mean" + std::to_string(w));
    for (int w : windows) names.push_back(n + "_std" + std::to_string(w));
    for (int k : trends) names.push_back(n + "_trend" + std::to_string(k));
  }
  for (Variable v : meteo) names.push_back(VarName(v));
  if (wind_vector) {
    names.push_back("wind_u");
    names.push_back("wind_v");
  }
  if (calendar) {
    for (const char* n : {"hour_sin", "hour_cos", "dow_sin", "dow_cos"}) names.push_back(n);
  }
  return names;
}

size_t FeatureSpec::Width() const {
  return series.size() * (lags.size() + 2 * windows.size() + trends.size()) + meteo.size() +
         (wind_vector ? 2 : 0) + (calendar ? 4 : 0);
}

int FeatureSpec::HistorySteps() const {
  int h = 0;
  for (int k : lags) h = std::max(h, k);
  for (int w : windows) h = std::max(h, w - 1);
  for (int k : trends) h = std::max(h, k);
  return h;
}

std::vector<Variable> FeatureSpec::Inputs() const {
  std::vector<Variable> in = series;
  in.insert(in.end(), meteo.begin(), meteo.end());
  if (wind_vector) {
    for (Variable v : {Variable::kWindSpeedMs, Variable::kWindDirDeg}) {
      if (std::find(in.begin(), in.end(), v) == in.end()) in.push_back(v);
    }
  }
  return in;
}

json FeatureSpec::ToJson() const {
  json s = json::array(), m = json::array();
  for (Variable v : series) s.push_back(VarName(v));
  for (Variable v : meteo) m.push_back(VarName(v));
  return json{{"version", version},       {"interval_s", interval_s},
              {"series", s},              {"lags", lags},
              {"windows", windows},       {"trends", trends},
              {"meteo", m},               {"wind_vector", wind_vector},
              {"calendar", calendar},     {"min_valid_fraction", min_valid_fraction},
              {"names", Names()}};
}

Result<FeatureSpec> FeatureSpec::FromJson(const json& j) {
  if (!j.is_object()) return MakeError("feature_spec: not an object");
  static const std::set<std::string> kKeys = {
      "version", "interval_s", "series",   "lags",     "windows",           "trends",
      "meteo",   "wind_vector", "calendar", "names",   "min_valid_fraction"};
  for (const auto& [k, v] : j.items()) {
    if (!kKeys.count(k)) return MakeError("feature_spec: unknown parameter '" + k + "'");
  }
  for (const auto& k : kKeys) {
    if (!j.contains(k)) return MakeError("feature_spec." + k + ": missing");
  }
  FeatureSpec s;
  auto int_of = [&](const char* key, int& out) -> Status {
    const json& v = j[key];
    if (!v.is_number_integer() || v.get<int64_t>() < -1000000 || v.get<int64_t>() > 1000000) {
      return MakeError(std::string("feature_spec.") + key + ": not an integer");
    }
    out = v.get<int>();
    return Status::Ok();
  };
  auto ints_of = [&](const char* key, std::vector<int>& out) -> Status {
    const json& v = j[key];
    if (!v.is_array() || v.size() > 64) return MakeError(std::string("feature_spec.") + key + ": not a list");
    for (const auto& e : v) {
      if (!e.is_number_integer() || e.get<int64_t>() < 0 || e.get<int64_t>() > 1000000) {
        return MakeError(std::string("feature_spec.") + key + ": not a list of steps");
      }
      out.push_back(e.get<int>());
    }
    return Status::Ok();
  };
  auto vars_of = [&](const char* key, std::vector<Variable>& out) -> Status {
    const json& v = j[key];
    if (!v.is_array() || v.size() > kVariableCount) {
      return MakeError(std::string("feature_spec.") + key + ": not a list of variables");
    }
    for (const auto& e : v) {
      auto var = e.is_string() ? VariableFromName(e.get<std::string>()) : std::nullopt;
      if (!var) {
        return MakeError(std::string("feature_spec.") + key + ": unknown variable " + e.dump());
      }
      out.push_back(*var);
    }
    return Status::Ok();
  };
  for (Status st : {int_of("version", s.version), int_of("interval_s", s.interval_s),
                    ints_of("lags", s.lags), ints_of("windows", s.windows),
                    ints_of("trends", s.trends), vars_of("series", s.series),
                    vars_of("meteo", s.meteo)}) {
    if (!st) return st.error();
  }
  if (!j["wind_vector"].is_boolean() || !j["calendar"].is_boolean() ||
      !j["min_valid_fraction"].is_number()) {
    return MakeError("feature_spec: wind_vector/calendar must be booleans, min_valid_fraction a number");
  }
  s.wind_vector = j["wind_vector"].get<bool>();
  s.calendar = j["calendar"].get<bool>();
  s.min_valid_fraction = j["min_valid_fraction"].get<double>();
  if (Status st = s.Validate(); !st) return MakeError("feature_spec: " + st.message());
  const json& names = j["names"];
  if (!names.is_array()) return MakeError("feature_spec.names: not a list");
  const std::vector<std::string> mine = s.Names();
  if (names.size() != mine.size()) {
    return MakeError("feature_spec.names: " + std::to_string(names.size()) +
                     " names, this build computes " + std::to_string(mine.size()));
  }
  for (size_t i = 0; i < mine.size(); ++i) {
    if (!names[i].is_string() || names[i].get<std::string>() != mine[i]) {
      return MakeError("feature_spec.names[" + std::to_string(i) + "]: " + names[i].dump() +
                       " but this build computes \"" + mine[i] + "\" there");
    }
  }
  return s;
}

std::string FeatureSpec::Fingerprint() const { return Sha256Hex(ToJson().dump()); }

Result<int> HorizonSteps(int interval_s, int horizon_min) {
  if (interval_s <= 0 || horizon_min <= 0 || (horizon_min * 60) % interval_s != 0) {
    return MakeError("horizon " + std::to_string(horizon_min) +
                     " min is not a whole number of " + std::to_string(interval_s) + " s windows");
  }
  const int steps = horizon_min * 60 / interval_s;
  if (steps > kMaxHistorySteps) return MakeError("horizon too long");
  return steps;
}

FeatureBuilder::FeatureBuilder(FeatureSpec spec) : spec_(std::move(spec)) {
  if (Status st = spec_.Validate(); !st) throw std::invalid_argument(st.message());
  width_ = spec_.Width();
  inputs_ = spec_.Inputs();
  auto index_of = [&](Variable v) {
    return static_cast<int>(std::find(inputs_.begin(), inputs_.end(), v) - inputs_.begin());
  };
  for (Variable v : spec_.series) series_input_.push_back(index_of(v));
  for (Variable v : spec_.meteo) meteo_input_.push_back(index_of(v));
  if (spec_.wind_vector) {
    wind_speed_input_ = index_of(Variable::kWindSpeedMs);
    wind_dir_input_ = index_of(Variable::kWindDirDeg);
  }
  capacity_ = spec_.HistorySteps() + 1;
  ring_.assign(2 * static_cast<size_t>(capacity_) * inputs_.size(), kMissingValue);
}

FeatureBuilder::PushResult FeatureBuilder::Push(const Reading& r) {
  if (r.interval_s != spec_.interval_s || r.window_end_s % spec_.interval_s != 0) {
    return PushResult::kWrongInterval;
  }
  if (last_end_s_ != 0 && r.window_end_s <= last_end_s_) return PushResult::kStale;
  const size_t n = inputs_.size();
  const size_t span = 2 * static_cast<size_t>(capacity_);
  int64_t advance = last_end_s_ == 0 ? capacity_ : (r.window_end_s - last_end_s_) / spec_.interval_s;
  advance = std::min<int64_t>(advance, capacity_);
  // Windows in the gap are missing; the last slot written is this reading's.
  // Each value is stored twice (slot and slot + capacity) so that any window
  // of the last w values is contiguous.
  for (int64_t s = 0; s < advance; ++s) {
    head_ = (head_ + 1) % capacity_;
    for (size_t i = 0; i < n; ++i) {
      ring_[i * span + static_cast<size_t>(head_)] = kMissingValue;
      ring_[i * span + static_cast<size_t>(head_ + capacity_)] = kMissingValue;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const double x = r.valid(inputs_[i]) ? r.value(inputs_[i]) : kMissingValue;
    ring_[i * span + static_cast<size_t>(head_)] = x;
    ring_[i * span + static_cast<size_t>(head_ + capacity_)] = x;
  }
  last_end_s_ = r.window_end_s;
  return PushResult::kAccepted;
}

const double* FeatureBuilder::Window(size_t input, int w) const {
  return ring_.data() + input * 2 * static_cast<size_t>(capacity_) + static_cast<size_t>(head_ + capacity_ - w + 1);
}

double FeatureBuilder::At(size_t input, int steps_back) const { return Window(input, steps_back + 1)[0]; }

void FeatureBuilder::Compute(float* out) const {
  if (head_ < 0) {
    std::fill_n(out, width_, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  size_t o = 0;
  for (int in : series_input_) {
    const size_t i = static_cast<size_t>(in);
    for (int k : spec_.lags) out[o++] = static_cast<float>(At(i, k));
    double stats[2 * kMaxWindows];
    size_t ns = 0;
    for (int w : spec_.windows) {
      const double* win = Window(i, w);  // oldest first
      double sum = 0.0;
      int count = 0;
      for (int k = 0; k < w; ++k) {
        const double x = win[k];
        if (!std::isnan(x)) {
          sum += x;
          ++count;
        }
      }
      const double need = std::ceil(spec_.min_valid_fraction * w);
      const double mean = count > 0 && count >= need ? sum / count : kMissingValue;
      double var_sum = 0.0;
      if (!std::isnan(mean)) {
        for (int k = 0; k < w; ++k) {
          const double x = win[k];
          if (!std::isnan(x)) var_sum += (x - mean) * (x - mean);
        }
      }
      const double sd = !std::isnan(mean) && count >= 2 ? std::sqrt(var_sum / count) : kMissingValue;
      stats[ns++] = mean;
      stats[ns++] = sd;
    }
    for (size_t w = 0; w < spec_.windows.size(); ++w) out[o++] = static_cast<float>(stats[2 * w]);
    for (size_t w = 0; w < spec_.windows.size(); ++w) out[o++] = static_cast<float>(stats[2 * w + 1]);
    const double now = At(i, 0);
    for (int k : spec_.trends) out[o++] = static_cast<float>(now - At(i, k));
  }
  for (int in : meteo_input_) out[o++] = static_cast<float>(At(static_cast<size_t>(in), 0));
  if (spec_.wind_vector) {
    const double speed = At(static_cast<size_t>(wind_speed_input_), 0);
    const double dir_rad = At(static_cast<size_t>(wind_dir_input_), 0) * std::numbers::pi / 180.0;
    // The direction is where the wind comes from; the vector points downwind.
    out[o++] = static_cast<float>(-speed * std::sin(dir_rad));
    out[o++] = static_cast<float>(-speed * std::cos(dir_rad));
  }
  if (spec_.calendar) {
    const int64_t sec_of_day = ((last_end_s_ % kSecondsPerDay) + kSecondsPerDay) % kSecondsPerDay;
    const int64_t days = (last_end_s_ - sec_of_day) / kSecondsPerDay;
    const int64_t dow = ((days + 3) % 7 + 7) % 7;  // 1970-01-01 was a Thursday; Monday = 0
    const double hour_angle = 2.0 * std::numbers::pi * static_cast<double>(sec_of_day) / kSecondsPerDay;
    const double dow_angle = 2.0 * std::numbers::pi * static_cast<double>(dow) / 7.0;
    out[o++] = static_cast<float>(std::sin(hour_angle));
    out[o++] = static_cast<float>(std::cos(hour_angle));
    out[o++] = static_cast<float>(std::sin(dow_angle));
    out[o++] = static_cast<float>(std::cos(dow_angle));
  }
}

std::vector<float> FeatureBuilder::Compute() const {
  std::vector<float> out(width_);
  Compute(out.data());
  return out;
}

std::vector<Variable> FeatureBuilder::MissingInputs() const {
  std::vector<Variable> missing;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    if (head_ < 0 || std::isnan(At(i, 0))) missing.push_back(inputs_[i]);
  }
  return missing;
}

Result<TrainingSet> BuildTrainingMatrix(std::vector<Reading> history, const FeatureSpec& spec,
                                        Variable target, int horizon_min) {
  if (Status st = spec.Validate(); !st) return st.error();
  auto steps = HorizonSteps(spec.interval_s, horizon_min);
  if (!steps) return steps.error();
  std::stable_sort(history.begin(), history.end(), [](const Reading& a, const Reading& b) {
    return a.window_end_s < b.window_end_s;
  });
  std::unordered_map<int64_t, float> target_at;
  for (const Reading& r : history) {
    if (r.valid(target)) target_at.emplace(r.window_end_s, static_cast<float>(r.value(target)));
  }
  const int64_t ahead_s = static_cast<int64_t>(*steps) * spec.interval_s;
  FeatureBuilder builder(spec);
  TrainingSet set;
  set.X.cols = builder.Width();
  std::vector<float> row(builder.Width());
  for (const Reading& r : history) {
    if (builder.Push(r) != FeatureBuilder::PushResult::kAccepted) continue;
    auto it = target_at.find(r.window_end_s + ahead_s);
    if (it == target_at.end()) continue;
    builder.Compute(row.data());
    set.X.AppendRow(row.data(), row.size());
    set.y.push_back(it->second);
    set.window_end_s.push_back(r.window_end_s);
  }
  return set;
}

}  // namespace sentinelle::predict
