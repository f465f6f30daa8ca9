#include "sentinelle/manifest.h"

#include <algorithm>

#include "sentinelle/codec.h"
#include "sentinelle/crypto.h"
#include "sentinelle/json_util.h"
#include "sentinelle/reading.h"
#include "sentinelle/topics.h"

namespace sentinelle {

using nlohmann::json;

bool Manifest::InScope(std::string_view station_id) const {
  return stations.empty() ||
         std::find(stations.begin(), stations.end(), station_id) != stations.end();
}

namespace {

json ToJson(const Manifest& m, bool with_signature) {
  json j = {{"schema", kSchemaVersion},
            {"target", m.target},
            {"horizon_min", m.horizon_min},
            {"kind", m.kind},
            {"version", m.version},
            {"stage", m.stage},
            {"stations", m.stations},
            {"created", FormatUtc(m.created_s)},
            {"expires", FormatUtc(m.expires_s)},
            {"rollback", m.rollback},
            {"artifact", {{"url", m.artifact_url}, {"sha256", m.artifact_sha256},
                          {"size", m.artifact_size}}},
            {"xgboost_version", m.xgboost_version},
            {"feature_spec", m.feature_spec.is_null() ? json::object() : m.feature_spec}};
  if (with_signature) j["signature"] = m.signature;
  return j;
}

bool IsLowerHex(const std::string& s, size_t len) {
  return s.size() == len && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

std::string ManifestCanonicalBytes(const Manifest& m) { return ToJson(m, false).dump(); }

Status SignManifest(Manifest& m, std::string_view private_key) {
  auto sig = Ed25519Sign(private_key, ManifestCanonicalBytes(m));
  if (!sig) return sig.error();
  m.signature = ToHex(*sig);
  return Status::Ok();
}

bool VerifyManifest(const Manifest& m, std::string_view public_key) {
  auto sig = FromHex(m.signature);
  return sig && Ed25519Verify(public_key, ManifestCanonicalBytes(m), *sig);
}

std::string EncodeManifest(const Manifest& m) { return ToJson(m, true).dump(); }

Result<Manifest> DecodeManifest(std::string_view payload) {
  auto parsed = ParseJsonLimited(payload, kMaxManifestBytes, kMaxJsonDepth);
  if (!parsed) return parsed.error();
  StrictObject o(*parsed, "manifest");
  o.OnlyKeys({"schema", "target", "horizon_min", "kind", "version", "stage", "stations",
              "created", "expires", "rollback", "artifact", "xgboost_version", "feature_spec",
              "signature"});
  o.Int("schema", kSchemaVersion, kSchemaVersion);
  Manifest m;
  m.target = o.Str("target", 32);
  if (o.ok() && !VariableFromName(m.target)) o.FailField("target", "unknown variable");
  m.horizon_min = static_cast<int>(o.Int("horizon_min", 1, 10080));
  m.kind = o.Str("kind", 16);
  if (o.ok() && m.kind != "station" && m.kind != "network" && m.kind != "linear") {
    o.FailField("kind", "must be station, network or linear");
  }
  m.version = o.Int("version", 1, int64_t{1} << 53);
  m.stage = o.Str("stage", 16);
  if (o.ok() && m.stage != "shadow" && m.stage != "canary" && m.stage != "production") {
    o.FailField("stage", "must be shadow, canary or production");
  }
  if (const json* st = o.Field("stations", json::value_t::array)) {
    if (st->size() > 10000) o.FailField("stations", "too many entries");
    for (const auto& s : *st) {
      if (!s.is_string() || !IsValidStationId(s.get_ref<const std::string&>())) {
        o.FailField("stations", "entries must be station ids");
        break;
      }
      m.stations.push_back(s.get<std::string>());
    }
  }
  for (auto [key, out] : {std::pair<const char*, int64_t*>{"created", &m.created_s},
                          {"expires", &m.expires_s}}) {
    const std::string t = o.Str(key, 32);
    if (!o.ok()) break;
    auto parsed_t = ParseUtc(t);
    if (!parsed_t) o.FailField(key, "not a UTC time");
    else *out = *parsed_t;
  }
  m.rollback = o.Bool("rollback");
  if (const json* a = o.Field("artifact", json::value_t::object)) {
    StrictObject ao(*a, "manifest.artifact");
    ao.OnlyKeys({"url", "sha256", "size"});
    m.artifact_url = ao.Str("url", 2048);
    m.artifact_sha256 = ao.Str("sha256", 64);
    m.artifact_size = ao.Int("size", 1, int64_t{1} << 31);
    if (ao.ok() && !IsLowerHex(m.artifact_sha256, 64)) ao.FailField("sha256", "not a sha256 hex");
    if (ao.ok() && m.artifact_url.rfind("http://", 0) != 0 &&
        m.artifact_url.rfind("https://", 0) != 0) {
      ao.FailField("url", "must be an http(s) URL");
    }
    o.Adopt(ao);
  }
  m.xgboost_version = o.Str("xgboost_version", 32);
  if (const json* fs = o.Field("feature_spec", json::value_t::object)) m.feature_spec = *fs;
  m.signature = o.Str("signature", 128);
  if (o.ok() && !IsLowerHex(m.signature, 128)) o.FailField("signature", "not a hex signature");
  if (!o.ok()) return o.error();
  return m;
}

}  // namespace sentinelle
