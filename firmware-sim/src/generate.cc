#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>

#include "sentinelle/history_csv.h"
#include "sentinelle/sim/engine.h"

namespace sentinelle::sim {

using nlohmann::json;

namespace {

constexpr size_t kFlushBytes = 1 << 20;

double Round3(double v) { return std::round(v * 1000.0) / 1000.0; }

// A buffered output file; errors are sticky and reported by Close().
class OutFile {
 public:
  Status Open(const std::string& path) {
    path_ = path;
    if (path == "-") {
      f_ = stdout;
      return Status::Ok();
    }
    f_ = std::fopen(path.c_str(), "wb");
    owned_ = true;
    if (f_ == nullptr) return MakeError("cannot create " + path + ": " + std::strerror(errno));
    buf_.reserve(kFlushBytes + 8192);
    return Status::Ok();
  }
  bool open() const { return f_ != nullptr; }
  std::string& buf() { return buf_; }
  Status MaybeDrain() { return buf_.size() >= kFlushBytes ? Drain() : Status::Ok(); }
  Status Drain() {
    if (!error_.ok() || buf_.empty()) return error_;
    if (std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size()) {
      error_ = MakeError("writing " + path_ + ": " + std::strerror(errno));
    }
    buf_.clear();
    return error_;
  }
  Status Close() {
    if (f_ == nullptr) return error_;
    (void)Drain();
    if (std::fflush(f_) != 0 && error_.ok()) {
      error_ = MakeError("writing " + path_ + ": " + std::strerror(errno));
    }
    if (owned_ && std::fclose(f_) != 0 && error_.ok()) {
      error_ = MakeError("closing " + path_ + ": " + std::strerror(errno));
    }
    f_ = nullptr;
    return error_;
  }
  ~OutFile() { (void)Close(); }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  bool owned_ = false;
  std::string buf_;
  Status error_;
};

// Window aggregation of samples, as the agent does it.
struct WindowAcc {
  Values sum{};
  double dir_x = 0, dir_y = 0;
  int n = 0;
  void Add(const Values& v) {
    for (int i = 0; i < kVariableCount; ++i) sum[i] += v[i];
    const double rad = v[static_cast<int>(Variable::kWindDirDeg)] * M_PI / 180.0;
    dir_x += std::sin(rad);
    dir_y += std::cos(rad);
    ++n;
  }
  Values Take() {
    Values out{};
    for (int i = 0; i < kVariableCount; ++i) out[i] = sum[i] / n;
    out[static_cast<int>(Variable::kRainMm)] = sum[static_cast<int>(Variable::kRainMm)];
    double deg = std::atan2(dir_x, dir_y) * 180.0 / M_PI;
    if (deg < 0) deg += 360;
    out[static_cast<int>(Variable::kWindDirDeg)] = deg;
    *this = WindowAcc();
    return out;
  }
};

}  // namespace

void AppendCsvEmission(std::string& out, const std::string& station, const Emission& e) {
  if (e.kind == Emission::Kind::kGarbage) {
    switch (e.garbage_variant) {
      case 0: out += station + ",###,garbage###\n"; break;
      case 1: out += station + "," + FormatUtc(e.ts_s) + ",27.1,84\n"; break;
      case 2: out += station + "," + FormatUtc(e.ts_s) + ",abc,84,1012,2,200,0,x,y,z,1,2,3\n"; break;
      case 3: out += "NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN\n"; break;
      default: out += "\"" + station + "\";\"" + FormatUtc(e.ts_s) + "\";27,1\n"; break;
    }
    return;
  }
  Values v = e.values;
  for (int i = 0; i < kVariableCount; ++i) {
    if (e.state[i] != SampleState::kValue) v[i] = kMissingValue;
  }
  AppendHistoryCsvRow(out, station, e.ts_s, v);
}

std::string SensorLineFor(const Emission& e) {
  const int64_t ts_ms = e.ts_s * 1000;
  if (e.kind == Emission::Kind::kGarbage) {
    const std::string ts = std::to_string(ts_ms);
    switch (e.garbage_variant) {
      case 0: return "garbage: #%&! not json";
      case 1: return "{\"v\":1,\"ts_ms\":" + ts + ",\"values\":{\"pm25\":12";
      case 2: return "{\"v\":9,\"ts_ms\":" + ts + ",\"values\":{}}";
      case 3: return "{\"v\":1,\"ts_ms\":" + ts + ",\"values\":[1,2,3]}";
      default: return "{\"v\":1,\"ts_ms\":" + ts + ",\"values\":{\"pad\":\"" +
                      std::string(kMaxSensorLineBytes, 'x') + "\"}}";
    }
  }
  bool any_invalid = false;
  std::array<bool, kVariableCount> present{};
  Values rounded{};
  for (int i = 0; i < kVariableCount; ++i) {
    present[i] = e.state[i] != SampleState::kAbsent;
    any_invalid |= e.state[i] == SampleState::kInvalid;
    rounded[i] = Round3(e.values[i]);
  }
  if (!any_invalid) return EncodeSensorLine(ts_ms, rounded, present);
  // The shared encoder writes NaN as null (= no sample); an invalid sample
  // is the string "NaN", which the agent must flag as invalid.
  json vals = json::object();
  for (int i = 0; i < kVariableCount; ++i) {
    const std::string name(Variables()[i].name);
    if (e.state[i] == SampleState::kValue) vals[name] = rounded[i];
    else if (e.state[i] == SampleState::kInvalid) vals[name] = "NaN";
  }
  return json{{"v", 1}, {"ts_ms", ts_ms}, {"values", std::move(vals)}}.dump();
}

Result<GenerateStats> Generate(const Scenario& sc, const GenerateOptions& options) {
  Status valid = ValidateScenario(sc);
  if (!valid.ok()) return valid.error();
  const int interval = sc.interval_s;
  if (options.sample_s < 0 || (options.sample_s > 0 && interval % options.sample_s != 0)) {
    return MakeError("--sample-s " + std::to_string(options.sample_s) +
                     " must divide the interval of " + std::to_string(interval) + " s");
  }
  const int sample_s = options.sample_s > 0 ? options.sample_s : interval;
  const int per_window = interval / sample_s;

  auto log = TruthLog::Open(options.truth_log);
  if (!log) return log.error();
  OutFile out, truth;
  if (Status s = out.Open(options.out_path); !s.ok()) return s.error();
  if (!options.truth_out.empty()) {
    if (Status s = truth.Open(options.truth_out); !s.ok()) return s.error();
    truth.buf().append(kHistoryCsvHeader).push_back('\n');
  }
  out.buf().append(kHistoryCsvHeader).push_back('\n');

  for (const Regime& r : sc.regimes) (*log)->WriteRegime(r);

  // Align the first window end to the interval grid.
  const int64_t first_end = (sc.start_s / interval + 1) * interval;
  const int64_t end_s = sc.start_s + sc.duration_s;
  WeatherModel weather(sc.seed, first_end - interval);
  std::vector<StationModel> models;
  std::vector<FaultInjector> injectors;
  std::vector<WindowAcc> acc(sc.stations.size());
  models.reserve(sc.stations.size());
  injectors.reserve(sc.stations.size());
  for (size_t i = 0; i < sc.stations.size(); ++i) {
    models.emplace_back(sc.stations[i], sc.seed, sc.regimes, sample_s);
    injectors.emplace_back(sc.stations[i].id, sc.faults, DeriveSeed(sc.seed, 0xFA017 + i),
                           log->get(), /*live=*/false);
  }

  GenerateStats stats;
  std::vector<Emission> emitted;
  Values v;
  auto write = [&](size_t station, const std::vector<Emission>& es) {
    for (const Emission& e : es) {
      AppendCsvEmission(out.buf(), sc.stations[station].id, e);
      if (e.kind == Emission::Kind::kGarbage) ++stats.garbage_lines;
      else ++stats.rows;
    }
  };
  std::vector<Values> window(models.size());
  for (int64_t t_end = first_end; t_end <= end_s; t_end += interval) {
    if (per_window == 1) {
      weather.Step(t_end, interval);
      for (size_t i = 0; i < models.size(); ++i) {
        models[i].Step(t_end, interval, weather.state(), &window[i]);
      }
    } else {
      for (int k = 1; k <= per_window; ++k) {
        const int64_t t = t_end - interval + static_cast<int64_t>(k) * sample_s;
        weather.Step(t, sample_s);
        for (size_t i = 0; i < models.size(); ++i) {
          models[i].Step(t, sample_s, weather.state(), &v);
          acc[i].Add(v);
        }
      }
      for (size_t i = 0; i < models.size(); ++i) window[i] = acc[i].Take();
    }
    for (size_t i = 0; i < models.size(); ++i) {
      if (truth.open()) AppendHistoryCsvRow(truth.buf(), sc.stations[i].id, t_end, window[i]);
      emitted.clear();
      (void)injectors[i].Apply(t_end, window[i], &emitted);
      write(i, emitted);
    }
    if (Status s = out.MaybeDrain(); !s.ok()) return s.error();
    if (truth.open()) {
      if (Status s = truth.MaybeDrain(); !s.ok()) return s.error();
    }
  }
  for (size_t i = 0; i < models.size(); ++i) {
    emitted.clear();
    injectors[i].Flush(&emitted);
    write(i, emitted);
  }
  if (Status s = out.Close(); !s.ok()) return s.error();
  if (Status s = truth.Close(); !s.ok()) return s.error();
  stats.truth_log_lines = (*log)->lines();
  return stats;
}

}  // namespace sentinelle::sim
