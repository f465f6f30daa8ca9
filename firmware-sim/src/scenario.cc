#include "sentinelle/sim/scenario.h"

#include <charconv>
#include <set>

#include "json_file.h"
#include "sentinelle/history_csv.h"
#include "sentinelle/json_util.h"

namespace sentinelle::sim {

using nlohmann::json;

namespace {

constexpr std::string_view kFaultNames[kFaultTypeCount] = {
    "dropout", "stuck", "spike", "drift", "nan",
    "garbage", "clock_jump", "late", "duplicate", "power_loss"};

std::string FaultTypeList() {
  std::string out;
  for (auto n : kFaultNames) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

bool ParseDouble(std::string_view s, double* out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(*out);
}
bool ParseInt64(std::string_view s, int64_t* out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

Result<std::vector<Variable>> ParseVariableList(std::string_view s, char sep) {
  std::vector<Variable> out;
  while (!s.empty()) {
    const size_t p = s.find(sep);
    const std::string_view name = s.substr(0, p);
    auto v = VariableFromName(name);
    if (!v) return MakeError("unknown variable '" + std::string(name) + "'");
    out.push_back(*v);
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

// Splits "HEAD,k=v,k=v" and calls fn(key, value) for each pair; fn returns
// an error message or "".
template <typename Fn>
Status ForEachPair(std::string_view text, const std::string& flag, Fn fn) {
  size_t comma = text.find(',');
  std::string_view rest = comma == std::string_view::npos ? "" : text.substr(comma + 1);
  while (!rest.empty()) {
    const size_t c = rest.find(',');
    const std::string_view pair = rest.substr(0, c);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      return MakeError(flag + ": '" + std::string(pair) + "' is not key=value");
    }
    const std::string err = fn(pair.substr(0, eq), pair.substr(eq + 1));
    if (!err.empty()) return MakeError(flag + ": " + err);
    if (c == std::string_view::npos) break;
    rest.remove_prefix(c + 1);
  }
  return Status::Ok();
}

std::string BadValue(std::string_view key, std::string_view value, const char* what) {
  return "'" + std::string(key) + "=" + std::string(value) + "': " + what;
}

}  // namespace

std::string_view FaultTypeName(FaultType t) { return kFaultNames[static_cast<int>(t)]; }

std::optional<FaultType> FaultTypeFromName(std::string_view name) {
  for (int i = 0; i < kFaultTypeCount; ++i) {
    if (kFaultNames[i] == name) return static_cast<FaultType>(i);
  }
  return std::nullopt;
}

bool IsVariableFault(FaultType t) {
  return t == FaultType::kDropout || t == FaultType::kStuck || t == FaultType::kSpike ||
         t == FaultType::kDrift || t == FaultType::kNan;
}

Result<FaultSpec> ParseFaultFlag(std::string_view text, int64_t default_start_s) {
  const std::string flag = "--fault '" + std::string(text) + "'";
  const std::string_view head = text.substr(0, text.find(','));
  auto type = FaultTypeFromName(head);
  if (!type) {
    return MakeError(flag + ": unknown fault type '" + std::string(head) + "' (one of " +
                     FaultTypeList() + ")");
  }
  FaultSpec f;
  f.type = *type;
  f.station = "*";
  f.start_s = default_start_s;
  bool has_end = false;
  Status s = ForEachPair(text, flag, [&](std::string_view k, std::string_view v) -> std::string {
    double d = 0;
    int64_t i = 0;
    if (k == "station") {
      if (v != "*" && !ValidStationId(v)) return BadValue(k, v, "not a station id");
      f.station = v;
    } else if (k == "start" || k == "end") {
      auto t = ParseUtc(v);
      if (!t) return BadValue(k, v, "expected YYYY-MM-DDTHH:MM:SSZ");
      (k == "start" ? f.start_s : f.end_s) = *t;
      if (k == "end") has_end = true;
    } else if (k == "vars") {
      auto vars = ParseVariableList(v, '+');
      if (!vars) return vars.message();
      f.variables = *vars;
    } else if (k == "offset_s" || k == "delay_s") {
      if (!ParseInt64(v, &i)) return BadValue(k, v, "not an integer");
      (k == "offset_s" ? f.offset_s : f.delay_s) = i;
    } else if (k == "partial") {
      if (v != "0" && v != "1") return BadValue(k, v, "expected 0 or 1");
      f.partial_line = v == "1";
    } else if (ParseDouble(v, &d)) {
      if (k == "value") f.value = d;
      else if (k == "probability") {
        if (d < 0 || d > 1) return BadValue(k, v, "must be within [0, 1]");
        f.probability = d;
      } else if (k == "magnitude") f.magnitude = d;
      else if (k == "per_day") f.per_day = d;
      else if (k == "gain_per_day") f.gain_per_day = d;
      else return "unknown key '" + std::string(k) + "'";
    } else {
      return BadValue(k, v, "not a number (or unknown key)");
    }
    return "";
  });
  if (!s.ok()) return s.error();
  if (!has_end) f.end_s = f.start_s + 3600;
  if (f.type == FaultType::kSpike && text.find("probability=") == std::string_view::npos) {
    f.probability = kDefaultSpikeProbability;
  }
  if (f.end_s <= f.start_s) return MakeError(flag + ": end must be after start");
  if (!f.variables.empty() && !IsVariableFault(f.type)) {
    return MakeError(flag + ": vars only apply to dropout, stuck, spike, drift and nan");
  }
  return f;
}

Result<Regime> ParseRegimeFlag(std::string_view text, int64_t default_at_s) {
  const std::string flag = "--regime '" + std::string(text) + "'";
  const std::string_view head = text.substr(0, text.find(','));
  Regime r;
  if (head == "traffic") r.kind = Regime::Kind::kTraffic;
  else if (head == "industrial_source") r.kind = Regime::Kind::kIndustrialSource;
  else return MakeError(flag + ": unknown regime kind '" + std::string(head) +
                        "' (traffic or industrial_source)");
  r.station = "*";
  r.at_s = default_at_s;
  Status s = ForEachPair(text, flag, [&](std::string_view k, std::string_view v) -> std::string {
    double d = 0;
    if (k == "station") {
      if (v != "*" && !ValidStationId(v)) return BadValue(k, v, "not a station id");
      r.station = v;
    } else if (k == "at") {
      auto t = ParseUtc(v);
      if (!t) return BadValue(k, v, "expected YYYY-MM-DDTHH:MM:SSZ");
      r.at_s = *t;
    } else if (!ParseDouble(v, &d)) {
      return BadValue(k, v, "not a number (or unknown key)");
    } else if (k == "factor") {
      if (d < 0 || d > 100) return BadValue(k, v, "must be within [0, 100]");
      r.factor = d;
    } else if (k == "peak_shift_h") {
      if (d < -12 || d > 12) return BadValue(k, v, "must be within [-12, 12]");
      r.peak_shift_h = d;
    } else if (k == "bearing_deg") {
      if (d < 0 || d > 360) return BadValue(k, v, "must be within [0, 360]");
      r.bearing_deg = d;
    } else {
      return "unknown key '" + std::string(k) + "'";
    }
    return "";
  });
  if (!s.ok()) return s.error();
  return r;
}

namespace {

int64_t TimeField(StrictObject& o, const char* key) {
  const std::string s = o.Str(key, 64);
  if (!o.ok()) return 0;
  auto t = ParseUtc(s);
  if (!t) o.FailField(key, "'" + s + "' is not YYYY-MM-DDTHH:MM:SSZ");
  return t.value_or(0);
}

StationSpec ParseStation(const json& j, const std::string& path, StrictObject& parent) {
  StrictObject o(j, path);
  o.OnlyKeys({"id", "name", "lat", "lon", "type", "source_bearing_deg"});
  StationSpec s;
  s.id = o.Str("id", 64);
  if (o.ok() && !ValidStationId(s.id)) o.FailField("id", "'" + s.id + "' is not [a-z0-9_-]{1,64}");
  s.name = j.contains("name") ? o.Str("name", 128) : s.id;
  s.lat = o.Number("lat", -90, 90);
  s.lon = o.Number("lon", -180, 180);
  const std::string type = o.Str("type", 32);
  if (o.ok()) {
    auto t = StationTypeFromName(type);
    if (!t) o.FailField("type", "'" + type + "' is not traffic, urban_background, industrial or residential");
    else s.type = *t;
  }
  if (j.contains("source_bearing_deg")) s.source_bearing_deg = o.Number("source_bearing_deg", 0, 360);
  parent.Adopt(o);
  return s;
}

FaultSpec ParseFault(const json& j, const std::string& path, const Scenario& sc,
                     StrictObject& parent) {
  StrictObject o(j, path);
  o.OnlyKeys({"type", "station", "start", "end", "variables", "value", "probability", "magnitude",
              "per_day", "gain_per_day", "offset_s", "delay_s", "partial_line"});
  FaultSpec f;
  const std::string type = o.Str("type", 32);
  if (o.ok()) {
    auto t = FaultTypeFromName(type);
    if (!t) o.FailField("type", "unknown fault type '" + type + "' (one of " + FaultTypeList() + ")");
    else f.type = *t;
  }
  f.station = j.contains("station") ? o.Str("station", 64) : "*";
  if (o.ok() && f.station != "*" && !ValidStationId(f.station)) {
    o.FailField("station", "'" + f.station + "' is not a station id");
  }
  f.start_s = j.contains("start") ? TimeField(o, "start") : sc.start_s;
  f.end_s = j.contains("end") ? TimeField(o, "end") : f.start_s + 3600;
  if (o.ok() && f.end_s <= f.start_s) o.FailField("end", "must be after start");
  if (const json* vars = o.OptField("variables", json::value_t::array)) {
    for (size_t i = 0; i < vars->size() && o.ok(); ++i) {
      const json& v = (*vars)[i];
      auto var = v.is_string() ? VariableFromName(v.get<std::string>()) : std::nullopt;
      if (!var) {
        o.FailField("variables", "element " + std::to_string(i) + " is not a variable name");
      } else {
        f.variables.push_back(*var);
      }
    }
    if (o.ok() && !IsVariableFault(f.type)) {
      o.FailField("variables", "only apply to dropout, stuck, spike, drift and nan");
    }
  }
  if (j.contains("value")) f.value = o.Number("value", -1e6, 1e6);
  if (j.contains("probability")) f.probability = o.Number("probability", 0, 1);
  else if (f.type == FaultType::kSpike) f.probability = kDefaultSpikeProbability;
  if (j.contains("magnitude")) f.magnitude = o.Number("magnitude", -1e6, 1e6);
  if (j.contains("per_day")) f.per_day = o.Number("per_day", -1e6, 1e6);
  if (j.contains("gain_per_day")) f.gain_per_day = o.Number("gain_per_day", -10, 10);
  if (j.contains("offset_s")) f.offset_s = o.Int("offset_s", -10 * 365 * 86400LL, 10 * 365 * 86400LL);
  if (j.contains("delay_s")) f.delay_s = o.Int("delay_s", 0, 365 * 86400LL);
  if (j.contains("partial_line")) f.partial_line = o.Bool("partial_line");
  parent.Adopt(o);
  return f;
}

Regime ParseRegime(const json& j, const std::string& path, const Scenario& sc,
                   StrictObject& parent) {
  StrictObject o(j, path);
  o.OnlyKeys({"kind", "station", "at", "factor", "peak_shift_h", "bearing_deg"});
  Regime r;
  const std::string kind = o.Str("kind", 32);
  if (o.ok()) {
    if (kind == "traffic") r.kind = Regime::Kind::kTraffic;
    else if (kind == "industrial_source") r.kind = Regime::Kind::kIndustrialSource;
    else o.FailField("kind", "'" + kind + "' is not traffic or industrial_source");
  }
  r.station = j.contains("station") ? o.Str("station", 64) : "*";
  r.at_s = j.contains("at") ? TimeField(o, "at") : sc.start_s;
  if (j.contains("factor")) r.factor = o.Number("factor", 0, 100);
  if (j.contains("peak_shift_h")) r.peak_shift_h = o.Number("peak_shift_h", -12, 12);
  if (j.contains("bearing_deg")) r.bearing_deg = o.Number("bearing_deg", 0, 360);
  parent.Adopt(o);
  return r;
}

}  // namespace

Status ParseScenarioJson(std::string_view text, const std::string& source, Scenario* sc) {
  auto parsed = ParseJsonFile(text, source);
  if (!parsed) return parsed.error();
  const json& j = *parsed;
  StrictObject o(j, source);
  o.OnlyKeys({"seed", "start", "days", "duration_s", "interval_s", "stations", "faults", "regimes"});
  if (j.contains("seed")) sc->seed = static_cast<uint64_t>(o.Int("seed", 0, INT64_MAX));
  if (j.contains("start")) sc->start_s = TimeField(o, "start");
  if (j.contains("days")) sc->duration_s = static_cast<int64_t>(o.Number("days", 0, 36600) * 86400);
  if (j.contains("duration_s")) sc->duration_s = o.Int("duration_s", 1, 36600 * 86400LL);
  if (j.contains("interval_s")) sc->interval_s = static_cast<int>(o.Int("interval_s", 1, 86400));
  if (j.contains("stations")) {
    const json& st = j["stations"];
    if (st.is_number_integer()) {
      sc->stations = DefaultNetwork(static_cast<int>(o.Int("stations", 1, 10000)));
    } else if (const json* arr = o.Field("stations", json::value_t::array)) {
      sc->stations.clear();
      for (size_t i = 0; i < arr->size() && o.ok(); ++i) {
        sc->stations.push_back(
            ParseStation((*arr)[i], source + ".stations[" + std::to_string(i) + "]", o));
      }
    }
  }
  if (const json* arr = o.OptField("faults", json::value_t::array)) {
    for (size_t i = 0; i < arr->size() && o.ok(); ++i) {
      sc->faults.push_back(
          ParseFault((*arr)[i], source + ".faults[" + std::to_string(i) + "]", *sc, o));
    }
  }
  if (const json* arr = o.OptField("regimes", json::value_t::array)) {
    for (size_t i = 0; i < arr->size() && o.ok(); ++i) {
      sc->regimes.push_back(
          ParseRegime((*arr)[i], source + ".regimes[" + std::to_string(i) + "]", *sc, o));
    }
  }
  if (!o.ok()) return o.error();
  return Status::Ok();
}

Status LoadScenarioFile(const std::string& path, Scenario* scenario) {
  auto text = ReadSmallFile(path, 1 << 20);
  if (!text) return text.error();
  return ParseScenarioJson(*text, path, scenario);
}

Status ValidateScenario(const Scenario& sc) {
  if (sc.stations.empty()) return MakeError("the scenario has no station");
  std::set<std::string> ids;
  for (const StationSpec& s : sc.stations) {
    if (!ids.insert(s.id).second) return MakeError("station id '" + s.id + "' appears twice");
  }
  if (sc.interval_s <= 0 || 86400 % sc.interval_s != 0) {
    return MakeError("interval_s " + std::to_string(sc.interval_s) + " must divide a day");
  }
  for (size_t i = 0; i < sc.faults.size(); ++i) {
    const FaultSpec& f = sc.faults[i];
    if (f.station != "*" && !ids.count(f.station)) {
      return MakeError("fault " + std::to_string(i) + " (" + std::string(FaultTypeName(f.type)) +
                       "): unknown station '" + f.station + "'");
    }
  }
  for (size_t i = 0; i < sc.regimes.size(); ++i) {
    const Regime& r = sc.regimes[i];
    if (r.station != "*" && !ids.count(r.station)) {
      return MakeError("regime " + std::to_string(i) + ": unknown station '" + r.station + "'");
    }
  }
  return Status::Ok();
}

}  // namespace sentinelle::sim
