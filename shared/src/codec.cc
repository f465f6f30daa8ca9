#include "sentinelle/codec.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "sentinelle/json_util.h"
#include "sentinelle/topics.h"

namespace sentinelle {

using nlohmann::json;
using VT = json::value_t;

std::string_view DeliveryKindName(DeliveryKind k) {
  return k == DeliveryKind::kLive ? "live" : "replay";
}

namespace {

constexpr int64_t kMaxSeq = int64_t{1} << 53;  // exactly representable everywhere JSON goes
constexpr size_t kMaxIdLen = 64;

json EncodeTime(const TimeQuality& t) { return json{{"synced", t.synced}, {"source", t.source}}; }

TimeQuality DecodeTime(StrictObject& parent) {
  TimeQuality t;
  const json* tj = parent.Field("time", VT::object);
  if (!tj) return t;
  StrictObject o(*tj, parent.path() + ".time");
  o.OnlyKeys({"synced", "source"});
  t.synced = o.Bool("synced");
  t.source = o.Str("source", 16);
  parent.Adopt(o);
  return t;
}

Status CheckStation(StrictObject& o, const std::string& id, std::string_view expected) {
  if (!o.ok()) return o.error();
  if (!IsValidStationId(id)) return MakeError("station: invalid station id");
  if (id != expected) {
    return MakeError("station: payload names '" + id + "' but the topic names '" +
                     std::string(expected) + "'");
  }
  return Status::Ok();
}

Result<Reading> DecodeReading(const json& rj, const std::string& station, size_t index) {
  StrictObject o(rj, "readings[" + std::to_string(index) + "]");
  o.OnlyKeys({"seq", "boot_id", "window_end", "interval_s", "time", "values", "aqi",
              "aqi_dominant"});
  Reading r;
  r.station_id = station;
  r.seq = o.Int("seq", 1, kMaxSeq);
  r.boot_id = o.Str("boot_id", kMaxIdLen);
  r.interval_s = static_cast<int32_t>(o.Int("interval_s", 10, 86400));
  const std::string end = o.Str("window_end", 32);
  r.time = DecodeTime(o);
  if (o.ok()) {
    auto t = ParseUtc(end);
    if (!t) o.FailField("window_end", "not a UTC time of the form YYYY-MM-DDTHH:MM:SSZ");
    else if (*t % r.interval_s != 0) o.FailField("window_end", "not aligned to interval_s");
    else r.window_end_s = *t;
  }
  const json* vals = o.Field("values", VT::object);
  if (vals) {
    if (vals->size() != kVariableCount) {
      o.FailField("values", "must hold exactly the 12 variables");
    }
    for (const auto& info : Variables()) {
      if (!o.ok()) break;
      const int i = static_cast<int>(info.variable);
      auto it = vals->find(std::string(info.name));
      if (it == vals->end()) {
        o.FailField("values", "missing variable '" + std::string(info.name) + "'");
        break;
      }
      StrictObject vo(*it, o.path() + ".values." + std::string(info.name));
      vo.OnlyKeys({"v", "qc", "n"});
      const std::string qc = vo.Str("qc", 16);
      r.samples[i] = static_cast<uint16_t>(vo.Int("n", 0, 65535));
      auto flag = QcFlagFromName(qc);
      if (vo.ok() && !flag) vo.FailField("qc", "unknown QC flag");
      if (vo.ok()) {
        r.qc[i] = *flag;
        // A value that passed QC must be physically plausible; a flagged one
        // is kept as the agent measured it, but must still be finite.
        if (*flag == QcFlag::kOk) {
          r.values[i] = vo.Number("v", info.min, info.max);
        } else {
          r.values[i] = vo.NumberOrNull("v", -1e9, 1e9);
        }
      }
      if (!vo.ok()) {
        return vo.error();
      }
    }
  }
  const json* aqi = o.Field("aqi", VT::null);
  if (aqi && !aqi->is_null()) r.aqi = static_cast<int>(o.Int("aqi", 0, 500));
  if (o.ok()) {
    auto dom = o.OptStr("aqi_dominant", 16);
    if (dom) {
      auto v = VariableFromName(*dom);
      if (!v || !IsPollutant(*v)) o.FailField("aqi_dominant", "not a pollutant");
      else r.aqi_dominant = v;
    }
    if (o.ok() && r.aqi.has_value() != r.aqi_dominant.has_value()) {
      o.Fail("aqi and aqi_dominant must both be set or both be null");
    }
  }
  if (!o.ok()) return o.error();
  return r;
}

}  // namespace

std::string EncodeReadingBatch(const ReadingBatch& batch) {
  json readings = json::array();
  for (const Reading& r : batch.readings) {
    json values = json::object();
    for (const auto& info : Variables()) {
      const int i = static_cast<int>(info.variable);
      json v = std::isnan(r.values[i]) ? json(nullptr) : json(r.values[i]);
      values[std::string(info.name)] = {{"v", v}, {"qc", QcFlagName(r.qc[i])}, {"n", r.samples[i]}};
    }
    readings.push_back({{"seq", r.seq},
                        {"boot_id", r.boot_id},
                        {"window_end", FormatUtc(r.window_end_s)},
                        {"interval_s", r.interval_s},
                        {"time", EncodeTime(r.time)},
                        {"values", std::move(values)},
                        {"aqi", r.aqi ? json(*r.aqi) : json(nullptr)},
                        {"aqi_dominant", r.aqi_dominant ? json(Name(*r.aqi_dominant))
                                                        : json(nullptr)}});
  }
  json j = {{"schema", kSchemaVersion},
            {"station", batch.station_id},
            {"kind", DeliveryKindName(batch.kind)},
            {"readings", std::move(readings)}};
  return j.dump();
}

namespace {
std::atomic<bool> g_reading_batch_dom_only{false};
}  // namespace

void detail::TEST_SetReadingBatchDomOnly(bool dom_only) { g_reading_batch_dom_only = dom_only; }

Result<ReadingBatch> DecodeReadingBatch(std::string_view payload, std::string_view expected) {
  if (!g_reading_batch_dom_only.load(std::memory_order_relaxed)) {
    if (auto fast = detail::DecodeReadingBatchFast(payload, expected)) return std::move(*fast);
  }
  return detail::DecodeReadingBatchDom(payload, expected);
}

Result<ReadingBatch> detail::DecodeReadingBatchDom(std::string_view payload,
                                                   std::string_view expected) {
  auto parsed = ParseJsonLimited(payload, kMaxPayloadBytes, kMaxJsonDepth);
  if (!parsed) return parsed.error();
  const json& j = *parsed;
  StrictObject o(j, "batch");
  o.OnlyKeys({"schema", "station", "kind", "readings"});
  o.Int("schema", kSchemaVersion, kSchemaVersion);
  ReadingBatch batch;
  batch.station_id = o.Str("station", kMaxIdLen);
  const std::string kind = o.Str("kind", 8);
  if (o.ok() && kind != "live" && kind != "replay") o.FailField("kind", "must be live or replay");
  batch.kind = kind == "replay" ? DeliveryKind::kReplay : DeliveryKind::kLive;
  const json* arr = o.Field("readings", VT::array);
  if (auto st = CheckStation(o, batch.station_id, expected); !st) return st.error();
  if (arr->empty() || arr->size() > kMaxReadingsPerBatch) {
    return MakeError("batch.readings: must hold 1.." + std::to_string(kMaxReadingsPerBatch) +
                     " readings");
  }
  batch.readings.reserve(arr->size());
  for (size_t i = 0; i < arr->size(); ++i) {
    auto r = DecodeReading((*arr)[i], batch.station_id, i);
    if (!r) return r.error();
    batch.readings.push_back(std::move(*r));
  }
  return batch;
}

std::vector<SeqRange> ToRanges(std::vector<int64_t> seqs) {
  std::sort(seqs.begin(), seqs.end());
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  std::vector<SeqRange> out;
  for (int64_t s : seqs) {
    if (!out.empty() && out.back().last + 1 == s) out.back().last = s;
    else out.push_back({s, s});
  }
  return out;
}

std::string EncodeAck(const Ack& ack) {
  json ranges = json::array();
  for (const auto& r : ack.committed) ranges.push_back({r.first, r.last});
  return json{{"schema", kSchemaVersion}, {"station", ack.station_id}, {"committed", ranges}}
      .dump();
}

Result<Ack> DecodeAck(std::string_view payload, std::string_view expected) {
  auto parsed = ParseJsonLimited(payload, kMaxPayloadBytes, kMaxJsonDepth);
  if (!parsed) return parsed.error();
  StrictObject o(*parsed, "ack");
  o.OnlyKeys({"schema", "station", "committed"});
  o.Int("schema", kSchemaVersion, kSchemaVersion);
  Ack ack;
  ack.station_id = o.Str("station", kMaxIdLen);
  const json* arr = o.Field("committed", VT::array);
  if (auto st = CheckStation(o, ack.station_id, expected); !st) return st.error();
  if (arr->size() > 10000) return MakeError("ack.committed: too many ranges");
  for (const auto& e : *arr) {
    if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer() ||
        !e[1].is_number_integer()) {
      return MakeError("ack.committed: each range must be [first, last] integers");
    }
    SeqRange r{e[0].get<int64_t>(), e[1].get<int64_t>()};
    if (r.first < 1 || r.last < r.first || r.last > kMaxSeq) {
      return MakeError("ack.committed: invalid range");
    }
    ack.committed.push_back(r);
  }
  return ack;
}

std::string EncodeStatus(const StationStatus& s) {
  json models = json::array();
  for (const auto& m : s.models) {
    models.push_back({{"target", m.target},
                      {"horizon_min", m.horizon_min},
                      {"kind", m.kind},
                      {"version", m.version}});
  }
  json j = {{"schema", kSchemaVersion},  {"station", s.station_id},
            {"state", s.state},           {"agent_version", s.agent_version},
            {"boot_id", s.boot_id},       {"ts", s.ts_s > 0 ? json(FormatUtc(s.ts_s)) : json(nullptr)},
            {"buffer_depth", s.buffer_depth}, {"last_seq", s.last_seq},
            {"time", EncodeTime(s.time)}, {"models", std::move(models)}};
  return j.dump();
}

Result<StationStatus> DecodeStatus(std::string_view payload, std::string_view expected) {
  auto parsed = ParseJsonLimited(payload, 64 * 1024, kMaxJsonDepth);
  if (!parsed) return parsed.error();
  StrictObject o(*parsed, "status");
  o.OnlyKeys({"schema", "station", "state", "agent_version", "boot_id", "ts", "buffer_depth",
              "last_seq", "time", "models"});
  o.Int("schema", kSchemaVersion, kSchemaVersion);
  StationStatus s;
  s.station_id = o.Str("station", kMaxIdLen);
  s.state = o.Str("state", 16);
  if (o.ok() && s.state != "online" && s.state != "offline") {
    o.FailField("state", "must be online or offline");
  }
  s.agent_version = o.Str("agent_version", 32);
  s.boot_id = o.Str("boot_id", kMaxIdLen);
  if (auto ts = o.OptStr("ts", 32)) {
    auto t = ParseUtc(*ts);
    if (!t) o.FailField("ts", "not a UTC time");
    else s.ts_s = *t;
  }
  s.buffer_depth = o.Int("buffer_depth", 0, kMaxSeq);
  s.last_seq = o.Int("last_seq", 0, kMaxSeq);
  s.time = DecodeTime(o);
  const json* models = o.Field("models", VT::array);
  if (auto st = CheckStation(o, s.station_id, expected); !st) return st.error();
  if (models->size() > 256) return MakeError("status.models: too many entries");
  for (size_t i = 0; i < models->size(); ++i) {
    StrictObject mo((*models)[i], "status.models[" + std::to_string(i) + "]");
    mo.OnlyKeys({"target", "horizon_min", "kind", "version"});
    ModelVersionInfo m;
    m.target = mo.Str("target", 32);
    m.horizon_min = static_cast<int>(mo.Int("horizon_min", 1, 10080));
    m.kind = mo.Str("kind", 16);
    m.version = mo.Str("version", 64);
    if (!mo.ok()) return mo.error();
    s.models.push_back(std::move(m));
  }
  return s;
}

std::string EncodeCommand(const Command& c) {
  json j = {{"schema", kSchemaVersion}, {"station", c.station_id}, {"id", c.id}, {"cmd", c.name}};
  if (c.name == "backfill") {
    j["from_seq"] = c.from_seq;
    j["to_seq"] = c.to_seq;
  } else if (c.name == "rollback") {
    j["target"] = c.target;
    j["horizon_min"] = c.horizon_min;
  }
  return j.dump();
}

Result<Command> DecodeCommand(std::string_view payload, std::string_view expected) {
  auto parsed = ParseJsonLimited(payload, 64 * 1024, kMaxJsonDepth);
  if (!parsed) return parsed.error();
  StrictObject o(*parsed, "command");
  o.OnlyKeys({"schema", "station", "id", "cmd", "from_seq", "to_seq", "target", "horizon_min"});
  o.Int("schema", kSchemaVersion, kSchemaVersion);
  Command c;
  c.station_id = o.Str("station", kMaxIdLen);
  c.id = o.Str("id", 64);
  c.name = o.Str("cmd", 32);
  if (o.ok()) {
    if (c.name == "backfill") {
      c.from_seq = o.Int("from_seq", 1, kMaxSeq);
      c.to_seq = o.Int("to_seq", 1, kMaxSeq);
      if (o.ok() && c.to_seq < c.from_seq) o.FailField("to_seq", "must be >= from_seq");
    } else if (c.name == "rollback") {
      c.target = o.Str("target", 32);
      c.horizon_min = static_cast<int>(o.Int("horizon_min", 1, 10080));
    } else if (c.name != "resync") {
      o.FailField("cmd", "unknown command '" + c.name + "'");
    }
  }
  if (auto st = CheckStation(o, c.station_id, expected); !st) return st.error();
  return c;
}

}  // namespace sentinelle
