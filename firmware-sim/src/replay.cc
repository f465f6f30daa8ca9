#include "sentinelle/sim/replay.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>

#include "json_file.h"
#include "line_sink.h"
#include "sentinelle/env.h"
#include "sentinelle/history_csv.h"
#include "sentinelle/json_util.h"
#include "sentinelle/sensor_line.h"

namespace sentinelle::sim {

using nlohmann::json;

namespace {

// Molar masses (g/mol) for ppb <-> µg/m³ at 25 °C, 1 atm (docs/PROTOCOL.md).
double MolarMass(Variable v) {
  switch (v) {
    case Variable::kNo2: return 46.0055;
    case Variable::kO3: return 47.998;
    case Variable::kSo2: return 64.066;
    case Variable::kCo: return 28.010;
    default: return 0;
  }
}
constexpr double kMolarVolume = 24.45;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Splits one CSV line (RFC 4180 quotes, configurable delimiter). Returns the
// 1-based column of a quoting error, or 0.
int SplitCsv(const std::string& line, char delim, std::vector<std::string>* out) {
  out->clear();
  std::string field;
  bool quoted = false, was_quoted = false;
  int column = 1;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field.push_back(c);
      }
    } else if (c == '"' && field.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == delim) {
      out->push_back(std::move(field));
      field.clear();
      was_quoted = false;
      ++column;
    } else if (c == '"') {
      return column;
    } else {
      field.push_back(c);
    }
  }
  if (quoted) return column;
  out->push_back(std::move(field));
  return 0;
}

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool ReadInt(std::string_view s, size_t* pos, int digits_max, int* out) {
  int v = 0, n = 0;
  while (*pos < s.size() && n < digits_max && std::isdigit(static_cast<unsigned char>(s[*pos]))) {
    v = v * 10 + (s[*pos] - '0');
    ++*pos;
    ++n;
  }
  *out = v;
  return n > 0;
}

// Civil time -> Unix seconds through ParseUtc's validation.
std::optional<int64_t> FromParts(int y, int mo, int d, int h, int mi, int se) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, se);
  return ParseUtc(buf);
}

std::optional<int64_t> ParsePattern(std::string_view s, std::string_view pattern) {
  int y = 1970, mo = 1, d = 1, h = 0, mi = 0, se = 0;
  size_t pos = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size()) {
      const char f = pattern[++i];
      int* target = f == 'Y' ? &y : f == 'm' ? &mo : f == 'd' ? &d : f == 'H' ? &h
                    : f == 'M' ? &mi : f == 'S' ? &se : nullptr;
      if (target == nullptr) return std::nullopt;
      if (!ReadInt(s, &pos, f == 'Y' ? 4 : 2, target)) return std::nullopt;
    } else {
      if (pos >= s.size() || s[pos] != pattern[i]) return std::nullopt;
      ++pos;
    }
  }
  if (pos != s.size()) return std::nullopt;
  return FromParts(y, mo, d, h, mi, se);
}

std::optional<int64_t> ParseTime(const std::string& s, const ColumnMap& map) {
  if (map.time_format == "unix_s" || map.time_format == "unix_ms") {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return map.time_format == "unix_s" ? v : v / 1000;
  }
  if (map.time_format == "iso8601") {
    for (const char* pattern : {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                                "%Y-%m-%dT%H:%MZ", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"}) {
      if (auto t = ParsePattern(s, pattern)) return t;
    }
    return std::nullopt;
  }
  return ParsePattern(s, map.time_format);
}

}  // namespace

Result<std::pair<double, double>> UnitConversion(Variable v, const std::string& unit_in) {
  const std::string u = Lower(unit_in);
  auto any = [&](std::initializer_list<const char*> names) {
    for (const char* n : names) {
      if (u == n) return true;
    }
    return false;
  };
  const bool ugm3 = any({"ug/m3", "µg/m³", "µg/m3", "ug m-3", "microgram/m3"});
  const bool mgm3 = any({"mg/m3", "mg/m³", "mg m-3"});
  switch (v) {
    case Variable::kTemperatureC:
      if (any({"degc", "c", "°c", "celsius"})) return std::pair(1.0, 0.0);
      if (any({"degf", "f", "°f", "fahrenheit"})) return std::pair(5.0 / 9.0, -32.0 * 5.0 / 9.0);
      if (any({"k", "kelvin"})) return std::pair(1.0, -273.15);
      return MakeError("unit '" + unit_in + "' for temperature_c: use degC, degF or K");
    case Variable::kHumidityPct:
      if (any({"%", "pct", "percent"})) return std::pair(1.0, 0.0);
      if (any({"fraction", "1"})) return std::pair(100.0, 0.0);
      return MakeError("unit '" + unit_in + "' for humidity_pct: use % or fraction");
    case Variable::kPressureHpa:
      if (any({"hpa", "mbar", "mb"})) return std::pair(1.0, 0.0);
      if (u == "kpa") return std::pair(10.0, 0.0);
      if (u == "pa") return std::pair(0.01, 0.0);
      if (u == "inhg") return std::pair(33.8639, 0.0);
      if (u == "mmhg") return std::pair(1.33322, 0.0);
      return MakeError("unit '" + unit_in + "' for pressure_hpa: use hPa, mbar, kPa, Pa, inHg or mmHg");
    case Variable::kWindSpeedMs:
      if (any({"m/s", "ms-1", "m s-1"})) return std::pair(1.0, 0.0);
      if (any({"km/h", "kmh", "kph"})) return std::pair(1.0 / 3.6, 0.0);
      if (any({"knots", "kt", "kn"})) return std::pair(0.514444, 0.0);
      if (u == "mph") return std::pair(0.44704, 0.0);
      return MakeError("unit '" + unit_in + "' for wind_speed_ms: use m/s, km/h, knots or mph");
    case Variable::kWindDirDeg:
      if (any({"deg", "degrees", "°"})) return std::pair(1.0, 0.0);
      return MakeError("unit '" + unit_in + "' for wind_dir_deg: use deg");
    case Variable::kRainMm:
      if (u == "mm") return std::pair(1.0, 0.0);
      if (u == "cm") return std::pair(10.0, 0.0);
      if (any({"in", "inch", "inches"})) return std::pair(25.4, 0.0);
      return MakeError("unit '" + unit_in + "' for rain_mm: use mm, cm or in");
    case Variable::kPm25:
    case Variable::kPm10:
      if (ugm3) return std::pair(1.0, 0.0);
      if (mgm3) return std::pair(1000.0, 0.0);
      return MakeError("unit '" + unit_in + "' for " + std::string(Name(v)) + ": use ug/m3 or mg/m3");
    case Variable::kNo2:
    case Variable::kO3:
    case Variable::kSo2:
      if (ugm3) return std::pair(1.0, 0.0);
      if (mgm3) return std::pair(1000.0, 0.0);
      if (u == "ppb") return std::pair(MolarMass(v) / kMolarVolume, 0.0);
      if (u == "ppm") return std::pair(1000.0 * MolarMass(v) / kMolarVolume, 0.0);
      return MakeError("unit '" + unit_in + "' for " + std::string(Name(v)) +
                       ": use ug/m3, mg/m3, ppb or ppm");
    case Variable::kCo:
      if (mgm3) return std::pair(1.0, 0.0);
      if (ugm3) return std::pair(0.001, 0.0);
      if (u == "ppm") return std::pair(MolarMass(v) / kMolarVolume, 0.0);
      if (u == "ppb") return std::pair(MolarMass(v) / kMolarVolume / 1000.0, 0.0);
      return MakeError("unit '" + unit_in + "' for co: use mg/m3, ug/m3, ppm or ppb");
  }
  return MakeError("unknown variable");
}

Result<ColumnMap> ParseColumnMap(std::string_view text, const std::string& source) {
  auto parsed = ParseJsonFile(text, source);
  if (!parsed) return parsed.error();
  const json& j = *parsed;
  StrictObject o(j, source);
  o.OnlyKeys({"delimiter", "time_column", "time_format", "utc_offset_min", "time_is_start",
              "interval_s", "station_column", "station", "station_ids", "missing", "columns"});
  ColumnMap m;
  if (j.contains("delimiter")) {
    const std::string d = o.Str("delimiter", 8);
    if (o.ok() && d != "\\t" && d.size() != 1) o.FailField("delimiter", "must be one character");
    m.delimiter = d == "\\t" || d == "\t" ? '\t' : (d.empty() ? ',' : d[0]);
  }
  m.time_column = o.Str("time_column", 256);
  if (j.contains("time_format")) m.time_format = o.Str("time_format", 64);
  if (j.contains("utc_offset_min")) m.utc_offset_min = static_cast<int>(o.Int("utc_offset_min", -900, 900));
  if (j.contains("time_is_start")) m.time_is_start = o.Bool("time_is_start");
  if (j.contains("interval_s")) m.interval_s = static_cast<int>(o.Int("interval_s", 1, 86400));
  if (j.contains("station_column")) m.station_column = o.Str("station_column", 256);
  if (j.contains("station")) {
    m.station = o.Str("station", 64);
    if (o.ok() && !ValidStationId(m.station)) o.FailField("station", "'" + m.station + "' is not [a-z0-9_-]{1,64}");
  }
  if (o.ok() && m.station_column.empty() && m.station.empty()) {
    o.Fail("needs \"station_column\" or \"station\"");
  }
  if (const json* ids = o.OptField("station_ids", json::value_t::object)) {
    for (auto it = ids->begin(); it != ids->end() && o.ok(); ++it) {
      if (!it->is_string() || !ValidStationId(it->get<std::string>())) {
        o.FailField("station_ids", "'" + it.key() + "' must map to a station id [a-z0-9_-]{1,64}");
      } else {
        m.station_ids[it.key()] = it->get<std::string>();
      }
    }
  }
  if (const json* miss = o.OptField("missing", json::value_t::array)) {
    m.missing.clear();
    for (const json& s : *miss) {
      if (!s.is_string()) {
        o.FailField("missing", "must be an array of strings");
        break;
      }
      m.missing.push_back(s.get<std::string>());
    }
  }
  if (o.ok() && m.time_format != "iso8601" && m.time_format != "unix_s" &&
      m.time_format != "unix_ms" && m.time_format.find('%') == std::string::npos) {
    o.FailField("time_format", "'" + m.time_format + "' is not iso8601, unix_s, unix_ms or a %Y-%m-%d pattern");
  }
  if (const json* cols = o.Field("columns", json::value_t::object)) {
    for (auto it = cols->begin(); it != cols->end() && o.ok(); ++it) {
      StrictObject c(*it, source + ".columns." + it.key());
      c.OnlyKeys({"variable", "unit"});
      ColumnMapping cm;
      cm.column = it.key();
      const std::string var = c.Str("variable", 32);
      cm.unit = c.Str("unit", 32);
      if (c.ok()) {
        auto v = VariableFromName(var);
        if (!v) {
          c.FailField("variable", "'" + var + "' is not one of the 12 schema variables");
        } else {
          cm.variable = *v;
          auto conv = UnitConversion(*v, cm.unit);
          if (!conv) c.FailField("unit", conv.message());
          else std::tie(cm.scale, cm.offset) = *conv;
        }
      }
      o.Adopt(c);
      m.columns.push_back(cm);
    }
    if (o.ok() && m.columns.empty()) o.FailField("columns", "maps no column");
  }
  if (!o.ok()) return o.error();
  return m;
}

Result<ColumnMap> LoadColumnMap(const std::string& path) {
  auto text = ReadSmallFile(path, 1 << 20);
  if (!text) return text.error();
  return ParseColumnMap(*text, path);
}

Result<std::vector<ReplayRow>> ReadForeignCsv(const std::string& path, const ColumnMap& map) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) return MakeError("cannot open " + path + ": " + std::strerror(errno));
  std::string line;
  std::vector<std::string> fields;
  if (!std::getline(in, line)) return MakeError(path + " line 1: empty file, expected a header");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
  if (int bad = SplitCsv(line, map.delimiter, &fields)) {
    return MakeError(path + " line 1, column " + std::to_string(bad) + ": unbalanced quote");
  }
  std::vector<std::string> header;
  for (auto& f : fields) header.push_back(Trim(f));
  auto find = [&](const std::string& name) -> int {
    auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  auto not_found = [&](const std::string& what, const std::string& name) {
    return MakeError(path + " line 1: no column '" + name + "' (" + what +
                     " in the column map); the header has " + std::to_string(header.size()) +
                     " columns");
  };
  const int time_col = find(map.time_column);
  if (time_col < 0) return not_found("time_column", map.time_column);
  int station_col = -1;
  if (!map.station_column.empty()) {
    station_col = find(map.station_column);
    if (station_col < 0) return not_found("station_column", map.station_column);
  }
  std::vector<int> value_cols;
  for (const ColumnMapping& c : map.columns) {
    const int idx = find(c.column);
    if (idx < 0) return not_found("columns." + c.column, c.column);
    value_cols.push_back(idx);
  }

  std::vector<ReplayRow> rows;
  int64_t line_no = 1;
  auto err = [&](int col, const std::string& what) {
    return MakeError(path + " line " + std::to_string(line_no) + ", column " +
                     std::to_string(col + 1) + " (" + header[static_cast<size_t>(col)] + "): " + what);
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (Trim(line).empty()) continue;  // blank lines are common in exports
    if (int bad = SplitCsv(line, map.delimiter, &fields)) {
      return MakeError(path + " line " + std::to_string(line_no) + ", column " +
                       std::to_string(bad) + ": unbalanced quote");
    }
    if (fields.size() != header.size()) {
      return MakeError(path + " line " + std::to_string(line_no) + ", column " +
                       std::to_string(std::min(fields.size(), header.size()) + 1) + ": the line has " +
                       std::to_string(fields.size()) + " fields, the header " +
                       std::to_string(header.size()));
    }
    ReplayRow row;
    row.values.fill(kMissingValue);
    const std::string ts_text = Trim(fields[static_cast<size_t>(time_col)]);
    auto ts = ParseTime(ts_text, map);
    if (!ts) {
      return err(time_col, "'" + ts_text + "' does not match the time format '" + map.time_format + "'");
    }
    row.ts_s = *ts - static_cast<int64_t>(map.utc_offset_min) * 60 +
               (map.time_is_start ? map.interval_s : 0);
    if (station_col >= 0) {
      const std::string name = Trim(fields[static_cast<size_t>(station_col)]);
      auto it = map.station_ids.find(name);
      row.station = it != map.station_ids.end() ? it->second : name;
      if (!ValidStationId(row.station)) {
        return err(station_col, "'" + name +
                                    "' is not a station id; map it in \"station_ids\" to [a-z0-9_-]{1,64}");
      }
    } else {
      row.station = map.station;
    }
    for (size_t k = 0; k < map.columns.size(); ++k) {
      const int col = value_cols[k];
      const std::string text = Trim(fields[static_cast<size_t>(col)]);
      if (std::find(map.missing.begin(), map.missing.end(), text) != map.missing.end()) continue;
      double v = 0;
      const char* b = text.data();
      if (!text.empty() && *b == '+') ++b;
      auto [p, ec] = std::from_chars(b, text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v)) {
        return err(col, "'" + text + "' is not a number (nor a missing marker)");
      }
      row.values[static_cast<int>(map.columns[k].variable)] = v * map.columns[k].scale + map.columns[k].offset;
    }
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const ReplayRow& a, const ReplayRow& b) {
    return a.ts_s != b.ts_s ? a.ts_s < b.ts_s : a.station < b.station;
  });
  return rows;
}

Result<ReplayStats> RunReplay(const ReplayOptions& options) {
  if (options.input.empty()) return MakeError("replay needs --input FILE");
  if (options.map.empty()) return MakeError("replay needs --map FILE");
  if (options.out.empty() && options.target.empty()) return MakeError("replay needs --to TARGET and/or --out FILE");
  auto map = LoadColumnMap(options.map);
  if (!map) return map.error();
  auto rows = ReadForeignCsv(options.input, *map);
  if (!rows) return rows.error();
  ReplayStats stats;
  stats.rows = static_cast<int64_t>(rows->size());

  if (!options.out.empty()) {
    auto w = HistoryCsvWriter::Create(options.out);
    if (!w) return w.error();
    Status s = (*w)->WriteHeader();
    for (const ReplayRow& r : *rows) {
      if (!s.ok()) break;
      s = (*w)->WriteRow(r.station, r.ts_s, r.values);
    }
    if (s.ok()) s = (*w)->Close();
    if (!s.ok()) return s.error();
  }
  if (options.target.empty()) return stats;

  // Feeding an agent: one station.
  std::string station = options.station;
  if (station.empty()) {
    for (const ReplayRow& r : *rows) {
      if (station.empty()) station = r.station;
      else if (r.station != station) {
        return MakeError(options.input + " holds several stations ('" + station + "', '" +
                         r.station + "'): choose one with --station");
      }
    }
  }
  if (options.sample_s <= 0 || options.sample_s > map->interval_s) {
    return MakeError("--sample-s must be within 1.." + std::to_string(map->interval_s) +
                     " (the map's interval_s)");
  }
  auto sink_or = MakeLineSink(options.target);
  if (!sink_or) return sink_or.error();
  LineSink& sink = **sink_or;
  if (!sink.Connected()) {
    const int64_t deadline = RealMonotonicMs() + static_cast<int64_t>(options.connect_timeout_s * 1000);
    while (!sink.Reconnect()) {
      if (RealMonotonicMs() >= deadline) {
        return MakeError("cannot connect to " + options.target + ": " + std::strerror(errno));
      }
      Env::Default()->SleepMs(50);
    }
  }
  std::vector<const ReplayRow*> mine;
  for (const ReplayRow& r : *rows) {
    if (r.station == station) mine.push_back(&r);
  }
  if (mine.empty()) return MakeError("--station '" + station + "': no row in " + options.input);

  const int per = std::max(1, map->interval_s / options.sample_s);
  const int64_t start_s = mine.front()->ts_s - map->interval_s;
  AcceleratedEnv clock(start_s * 1000, options.speed > 0 ? options.speed : 1);
  std::string pending;
  int64_t pending_lines = 0;
  auto flush = [&]() {
    if (pending.empty()) return;
    if (!sink.Connected()) (void)sink.Reconnect();
    if (sink.Connected() && sink.Send(pending)) stats.lines += pending_lines;
    else stats.dropped_lines += pending_lines;
    pending.clear();
    pending_lines = 0;
  };
  auto add = [&](const std::string& line, int64_t ts_s) {
    if (options.speed > 0) {
      const int64_t ahead = ts_s * 1000 - clock.WallMs();
      if (ahead > 0) {
        flush();
        clock.SleepMs(ahead);
      }
    }
    pending += line;
    pending += '\n';
    ++pending_lines;
    if (pending.size() > (64 << 10)) flush();
  };
  int64_t next_tick = options.tick_s > 0 ? start_s + options.tick_s : INT64_MAX;
  std::array<bool, kVariableCount> present{};
  for (const ReplayRow* r : mine) {
    if (options.stop != nullptr && options.stop->load()) break;
    std::array<double, kVariableCount> v = r->values;
    const int rain = static_cast<int>(Variable::kRainMm);
    if (!std::isnan(v[rain])) v[rain] /= per;
    for (int i = 0; i < kVariableCount; ++i) present[i] = !std::isnan(v[i]);
    for (int k = 1; k <= per; ++k) {
      // Stamped just inside the interval (end exclusive, as the agent's windows).
      const int64_t t = r->ts_s - map->interval_s + static_cast<int64_t>(k) * options.sample_s - 1;
      while (next_tick <= t) {
        add(EncodeClockTick(next_tick * 1000), next_tick);
        next_tick += options.tick_s;
      }
      add(EncodeSensorLine(t * 1000, v, present), t);
    }
  }
  const int64_t last = mine.back()->ts_s + 1;
  add(EncodeClockTick(last * 1000), last);
  flush();
  return stats;
}

}  // namespace sentinelle::sim
