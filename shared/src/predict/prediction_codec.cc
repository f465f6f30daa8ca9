#include "sentinelle/predict/prediction_codec.h"

#include <cmath>

#include "sentinelle/codec.h"
#include "sentinelle/json_util.h"
#include "sentinelle/topics.h"

namespace sentinelle::predict {

using nlohmann::json;
using VT = json::value_t;

namespace {

constexpr int64_t kMaxSeq = int64_t{1} << 53;
constexpr int64_t kMaxHorizonMin = 7 * 24 * 60;

}  // namespace

PredictionBatch MakePredictionBatch(const std::vector<Prediction>& predictions) {
  PredictionBatch b;
  if (!predictions.empty()) {
    b.station_id = predictions.front().station_id;
    b.seq = predictions.front().from_seq;
    b.window_end_s = predictions.front().from_window_end_s;
  }
  b.predictions = predictions;
  return b;
}

namespace {

json EncodeEntry(const Prediction& p) {
  json skipped = json::array();
  for (const LinkSkip& s : p.skipped) {
    skipped.push_back(json{{"link", LinkKindName(s.link)}, {"reason", SkipReasonName(s.reason)}});
  }
  json missing = json::array();
  for (Variable v : p.missing_inputs) missing.push_back(Name(v));
  const bool model = p.answered() && p.link != LinkKind::kPersistence;
  return json{{"target", Name(p.target)},
              {"horizon_min", p.horizon_min},
              {"target_time", FormatUtc(p.target_time_s)},
              {"value", p.answered() ? json(p.value) : json(nullptr)},
              {"link", p.answered() ? json(LinkKindName(p.link)) : json(nullptr)},
              {"model_version", model ? json(p.model_version) : json(nullptr)},
              {"model_sha256", model ? json(p.model_sha256) : json(nullptr)},
              {"skipped", std::move(skipped)},
              {"missing_inputs", std::move(missing)}};
}

}  // namespace

std::string EncodePredictionBatch(const PredictionBatch& batch) {
  json list = json::array();
  for (const Prediction& p : batch.predictions) list.push_back(EncodeEntry(p));
  json out{{"schema", kSchemaVersion},
           {"station", batch.station_id},
           {"seq", batch.seq},
           {"window_end", FormatUtc(batch.window_end_s)},
           {"predictions", std::move(list)}};
  if (!batch.shadow.empty()) {
    json shadow = json::array();
    for (const Prediction& p : batch.shadow) shadow.push_back(EncodeEntry(p));
    out["shadow"] = std::move(shadow);
  }
  return out.dump();
}

Result<PredictionBatch> DecodePredictionBatch(std::string_view payload, std::string_view expected_station) {
  auto parsed = ParseJsonLimited(payload, kMaxPayloadBytes, kMaxJsonDepth);
  if (!parsed) return parsed.error();
  StrictObject o(*parsed, "prediction batch");
  o.OnlyKeys({"schema", "station", "seq", "window_end", "predictions", "shadow"});
  PredictionBatch b;
  if (o.Int("schema", 1, 1000) != kSchemaVersion && o.ok()) o.FailField("schema", "unsupported version");
  b.station_id = o.Str("station", 64);
  b.seq = o.Int("seq", 1, kMaxSeq);
  const std::string end = o.Str("window_end", 32);
  const json* list = o.Field("predictions", VT::array);
  const json* shadow = o.OptField("shadow", VT::array);
  if (!o.ok()) return o.error();
  if (!IsValidStationId(b.station_id)) return MakeError("station: invalid station id");
  if (b.station_id != expected_station) {
    return MakeError("station: payload names '" + b.station_id + "' but the topic names '" +
                     std::string(expected_station) + "'");
  }
  auto t = ParseUtc(end);
  if (!t) return MakeError("window_end: not a UTC time");
  b.window_end_s = *t;
  if (list->empty() || list->size() > kMaxPredictionsPerBatch) {
    return MakeError("predictions: 1.." + std::to_string(kMaxPredictionsPerBatch) + " entries");
  }
  auto decode_entry = [&](const json& entry, const std::string& name) -> Result<Prediction> {
    StrictObject po(entry, name);
    po.OnlyKeys({"target", "horizon_min", "target_time", "value", "link", "model_version", "model_sha256",
                 "skipped", "missing_inputs"});
    Prediction p;
    p.station_id = b.station_id;
    p.from_seq = b.seq;
    p.from_window_end_s = b.window_end_s;
    const std::string target = po.Str("target", 32);
    p.horizon_min = static_cast<int>(po.Int("horizon_min", 1, kMaxHorizonMin));
    const std::string target_time = po.Str("target_time", 32);
    p.value = po.NumberOrNull("value", 0.0, 1e6);
    const json* link = po.Field("link", VT::null);
    auto version = po.OptStr("model_version", 64);
    auto sha = po.OptStr("model_sha256", 64);
    const json* skipped = po.Field("skipped", VT::array);
    const json* missing = po.Field("missing_inputs", VT::array);
    if (!po.ok()) return po.error();
    const std::string where = po.path();
    auto var = VariableFromName(target);
    if (!var) return MakeError(where + ".target: unknown variable '" + target + "'");
    p.target = *var;
    auto tt = ParseUtc(target_time);
    if (!tt || *tt != b.window_end_s + static_cast<int64_t>(p.horizon_min) * 60) {
      return MakeError(where + ".target_time: must be window_end + horizon_min");
    }
    p.target_time_s = *tt;
    if (p.answered() && (p.value < Info(p.target).min || p.value > Info(p.target).max)) {
      return MakeError(where + ".value: outside the target's physical range");
    }
    if (p.answered()) {
      auto k = link->is_string() ? LinkKindFromName(link->get<std::string>()) : std::nullopt;
      if (!k) return MakeError(where + ".link: unknown link");
      p.link = *k;
    } else if (!link->is_null()) {
      return MakeError(where + ".link: must be null when value is null");
    }
    const bool model = p.answered() && p.link != LinkKind::kPersistence;
    if (model != version.has_value() || model != sha.has_value()) {
      return MakeError(where + ": model_version and model_sha256 are set exactly when a model answered");
    }
    if (model) {
      if (version->empty() || sha->size() != 64) return MakeError(where + ": bad model version or sha256");
      p.model_version = *version;
      p.model_sha256 = *sha;
    }
    if (skipped->size() > static_cast<size_t>(kLinkCount)) return MakeError(where + ".skipped: too many");
    for (const auto& s : *skipped) {
      StrictObject so(s, where + ".skipped");
      so.OnlyKeys({"link", "reason"});
      const std::string l = so.Str("link", 16), r = so.Str("reason", 32);
      if (!so.ok()) return so.error();
      auto lk = LinkKindFromName(l);
      auto rs = SkipReasonFromName(r);
      if (!lk || !rs) return MakeError(where + ".skipped: unknown link or reason");
      p.skipped.push_back({*lk, *rs});
    }
    if (missing->size() > static_cast<size_t>(kVariableCount)) return MakeError(where + ".missing_inputs: too many");
    for (const auto& m : *missing) {
      auto v = m.is_string() ? VariableFromName(m.get<std::string>()) : std::nullopt;
      if (!v) return MakeError(where + ".missing_inputs: unknown variable");
      p.missing_inputs.push_back(*v);
    }
    return p;
  };
  for (size_t i = 0; i < list->size(); ++i) {
    auto p = decode_entry((*list)[i], "predictions[" + std::to_string(i) + "]");
    if (!p) return p.error();
    b.predictions.push_back(std::move(*p));
  }
  // Shadow answers: models running next to the answering ones (stage
  // "shadow"); each one answered with a model and skipped nothing.
  if (shadow) {
    if (shadow->size() > kMaxPredictionsPerBatch) {
      return MakeError("shadow: at most " + std::to_string(kMaxPredictionsPerBatch) + " entries");
    }
    for (size_t i = 0; i < shadow->size(); ++i) {
      const std::string name = "shadow[" + std::to_string(i) + "]";
      auto p = decode_entry((*shadow)[i], name);
      if (!p) return p.error();
      if (!p->answered() || p->link == LinkKind::kPersistence || !p->skipped.empty()) {
        return MakeError(name + ": a shadow entry is a model's answer, with nothing skipped");
      }
      b.shadow.push_back(std::move(*p));
    }
  }
  return b;
}

}  // namespace sentinelle::predict
