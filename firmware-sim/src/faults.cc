#include "sentinelle/sim/faults.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

namespace sentinelle::sim {

using nlohmann::json;

Result<std::unique_ptr<TruthLog>> TruthLog::Open(const std::string& path) {
  auto log = std::make_unique<TruthLog>();
  if (path.empty()) return log;
  log->f_ = std::fopen(path.c_str(), "wb");
  if (log->f_ == nullptr) {
    return MakeError("cannot create truth log " + path + ": " + std::strerror(errno));
  }
  return log;
}

TruthLog::~TruthLog() {
  if (f_ != nullptr) std::fclose(f_);
}

void TruthLog::Write(const std::string& station, std::string_view fault, int64_t start_s,
                     int64_t end_s, const std::vector<Variable>& variables, const json& params) {
  ++lines_;
  if (f_ == nullptr) return;
  json vars = json::array();
  for (Variable v : variables) vars.push_back(std::string(Name(v)));
  json line = {{"station", station},       {"fault", std::string(fault)},
               {"start", FormatUtc(start_s)}, {"end", FormatUtc(end_s)},
               {"variables", std::move(vars)}, {"params", params}};
  const std::string text = line.dump() + "\n";
  std::fwrite(text.data(), 1, text.size(), f_);
  std::fflush(f_);
}

void TruthLog::WriteRegime(const Regime& r) {
  json params = {{"kind", std::string(RegimeKindName(r.kind))}, {"factor", r.factor}};
  if (r.kind == Regime::Kind::kTraffic) params["peak_shift_h"] = r.peak_shift_h;
  else params["bearing_deg"] = r.bearing_deg;
  Write(r.station, "regime_change", r.at_s, r.at_s, {}, params);
}

FaultInjector::FaultInjector(std::string station_id, const std::vector<FaultSpec>& faults,
                             uint64_t seed, TruthLog* log, bool live)
    : station_(std::move(station_id)), rng_(seed), log_(log), live_(live) {
  for (const FaultSpec& f : faults) {
    if (f.station == "*" || f.station == station_) faults_.push_back({f, false, {}});
  }
}

bool FaultInjector::Applies(const Active& a, int v) const {
  if (a.spec.variables.empty()) return true;
  return std::find(a.spec.variables.begin(), a.spec.variables.end(), static_cast<Variable>(v)) !=
         a.spec.variables.end();
}

void FaultInjector::LogOnce(Active& a, const json& params) {
  if (a.logged) return;
  a.logged = true;
  if (log_ != nullptr) {
    log_->Write(station_, FaultTypeName(a.spec.type), a.spec.start_s, a.spec.end_s,
                a.spec.variables, params);
  }
}

const FaultSpec* FaultInjector::Apply(int64_t t_s, const Values& truth,
                                      std::vector<Emission>* out) {
  // Late records whose delay is over go out first, in their original order.
  while (!held_.empty() && held_.front().release_s <= t_s) {
    out->push_back(std::move(held_.front().e));
    held_.pop_front();
  }

  Emission e;
  e.ts_s = t_s;
  e.values = truth;
  e.state.fill(SampleState::kValue);
  int copies = 1;
  bool garbage = false;
  const FaultSpec* hold = nullptr;

  for (Active& a : faults_) {
    const FaultSpec& f = a.spec;
    if (t_s < f.start_s || t_s >= f.end_s) continue;
    switch (f.type) {
      case FaultType::kPowerLoss:
        if (live_) {
          LogOnce(a, {{"partial_line", f.partial_line}});
          return &f;
        }
        LogOnce(a, json::object());
        return nullptr;  // the station is off: nothing at all
      case FaultType::kDropout:
        LogOnce(a, json::object());
        for (int v = 0; v < kVariableCount; ++v) {
          if (Applies(a, v)) e.state[v] = SampleState::kAbsent;
        }
        break;
      case FaultType::kStuck:
        if (!a.logged) {
          json params = json::object();
          for (int v = 0; v < kVariableCount; ++v) {
            a.stuck[v] = f.value.value_or(truth[v]);
            if (Applies(a, v)) params[std::string(Variables()[v].name)] = a.stuck[v];
          }
          LogOnce(a, {{"value", params}});
        }
        for (int v = 0; v < kVariableCount; ++v) {
          if (Applies(a, v)) e.values[v] = a.stuck[v];
        }
        break;
      case FaultType::kSpike:
        for (int v = 0; v < kVariableCount; ++v) {
          if (!Applies(a, v) || !rng_.Bernoulli(f.probability)) continue;
          const VariableInfo& info = Variables()[v];
          const double jump = f.magnitude != 0 ? f.magnitude : 2 * info.max_step;
          const double spiked = std::min(info.max, std::max(info.min, e.values[v] + jump));
          if (log_ != nullptr) {
            log_->Write(station_, "spike", t_s, t_s, {static_cast<Variable>(v)},
                        {{"value", spiked}, {"truth", e.values[v]}});
          }
          e.values[v] = spiked;
        }
        break;
      case FaultType::kDrift: {
        LogOnce(a, {{"per_day", f.per_day}, {"gain_per_day", f.gain_per_day}});
        const double days = static_cast<double>(t_s - f.start_s) / 86400.0;
        for (int v = 0; v < kVariableCount; ++v) {
          if (!Applies(a, v)) continue;
          const VariableInfo& info = Variables()[v];
          const double drifted = e.values[v] * (1 + f.gain_per_day * days) + f.per_day * days;
          e.values[v] = std::min(info.max, std::max(info.min, drifted));
        }
        break;
      }
      case FaultType::kNan:
        LogOnce(a, {{"probability", f.probability}});
        for (int v = 0; v < kVariableCount; ++v) {
          if (Applies(a, v) && rng_.Bernoulli(f.probability)) e.state[v] = SampleState::kInvalid;
        }
        break;
      case FaultType::kGarbage:
        LogOnce(a, {{"probability", f.probability}});
        if (rng_.Bernoulli(f.probability)) garbage = true;
        break;
      case FaultType::kClockJump:
        LogOnce(a, {{"offset_s", f.offset_s}});
        e.ts_s += f.offset_s;
        break;
      case FaultType::kLate:
        LogOnce(a, {{"delay_s", f.delay_s}, {"release", FormatUtc(f.end_s + f.delay_s)}});
        hold = &f;
        break;
      case FaultType::kDuplicate:
        LogOnce(a, {{"probability", f.probability}});
        if (rng_.Bernoulli(f.probability)) copies = 2;
        break;
    }
  }

  if (garbage) {
    Emission g;
    g.kind = Emission::Kind::kGarbage;
    g.ts_s = e.ts_s;
    g.garbage_variant = static_cast<int>(rng_.Next() % kGarbageVariants);
    out->push_back(g);
  }
  for (int c = 0; c < copies; ++c) {
    if (hold != nullptr) {
      held_.push_back({hold->end_s + hold->delay_s, e});
    } else {
      out->push_back(e);
    }
  }
  return nullptr;
}

void FaultInjector::Flush(std::vector<Emission>* out) {
  while (!held_.empty()) {
    out->push_back(std::move(held_.front().e));
    held_.pop_front();
  }
}

}  // namespace sentinelle::sim
