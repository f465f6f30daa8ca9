#include "sentinelle/predict/model_file.h"

#include <algorithm>
#include <cmath>

#include "sentinelle/crypto.h"
#include "sentinelle/json_util.h"
#include "sentinelle/topics.h"

namespace sentinelle::predict {

using nlohmann::json;
using VT = json::value_t;

std::string_view ModelKindName(ModelKind k) { return k == ModelKind::kXgboost ? "xgboost" : "linear"; }
std::string_view ModelScopeName(ModelScope s) { return s == ModelScope::kStation ? "station" : "network"; }

namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s : {18, 12, 6, 0}) out.push_back(kB64[(v >> s) & 63]);
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view in) {
  if (in.size() % 4 != 0) return MakeError("base64 length is not a multiple of 4");
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    const int pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=') : 0;
    if (in[i + 2] == '=' && in[i + 3] != '=') return MakeError("bad base64 padding");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const int d = k >= 4 - pad ? 0 : val(in[i + k]);
      if (d < 0) return MakeError("bad base64 character");
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out.push_back(static_cast<char>(v >> 16));
    if (pad < 2) out.push_back(static_cast<char>((v >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(v & 0xff));
  }
  return out;
}

class XgbAdapter final : public Model {
 public:
  explicit XgbAdapter(XgbModel m) : m_(std::move(m)) {}
  Result<float> Predict(const float* x) const override { return m_.Predict(x); }
  size_t num_features() const override { return static_cast<size_t>(m_.num_features()); }
  size_t MemoryBytes() const override { return m_.MemoryBytes(); }

 private:
  XgbModel m_;
};

class LinearAdapter final : public Model {
 public:
  explicit LinearAdapter(LinearModel m) : m_(std::move(m)) {}
  Result<float> Predict(const float* x) const override { return static_cast<float>(m_.Predict(x)); }
  size_t num_features() const override { return m_.num_features(); }
  size_t MemoryBytes() const override { return sizeof(double) * 3 * m_.weight.capacity() + sizeof(*this); }

 private:
  LinearModel m_;
};

json EncodeFloat(float v) { return std::isnan(v) ? json(nullptr) : json(static_cast<double>(v)); }

}  // namespace

std::shared_ptr<const Model> MakeXgbModel(XgbModel m) {
  return std::make_shared<XgbAdapter>(std::move(m));
}
std::shared_ptr<const Model> MakeLinearModel(LinearModel m) {
  return std::make_shared<LinearAdapter>(std::move(m));
}

std::string WriteModelFile(const ModelEnvelope& e) {
  json pairs = json::array();
  for (const GoldenPair& g : e.self_test) {
    json x = json::array();
    for (float v : g.x) x.push_back(EncodeFloat(v));
    pairs.push_back(json{{"x", std::move(x)}, {"y", static_cast<double>(g.y)}});
  }
  json j{{"format", "sentinelle-model"},
         {"format_version", kModelFormatVersion},
         {"kind", ModelKindName(e.kind)},
         {"scope", ModelScopeName(e.scope)},
         {"station", e.scope == ModelScope::kStation ? json(e.station) : json(nullptr)},
         {"target", Name(e.target)},
         {"horizon_min", e.horizon_min},
         {"version", e.version},
         {"created_at", FormatUtc(e.created_at_s)},
         {"trained_until", FormatUtc(e.trained_until_s)},
         {"feature_spec", e.spec.ToJson()},
         {"training", e.training},
         {"booster",
          {{"encoding", e.encoding},
           {"size", e.booster.size()},
           {"sha256", Sha256Hex(e.booster)},
           {"data", Base64Encode(e.booster)}}},
         {"self_test", std::move(pairs)}};
  return j.dump();
}

Result<ModelEnvelope> ReadModelFile(std::string_view bytes) {
  auto parsed = ParseJsonLimited(bytes, kMaxModelFileBytes, 32);
  if (!parsed) return MakeError("model file: " + parsed.message());
  StrictObject o(*parsed, "model");
  o.OnlyKeys({"format", "format_version", "kind", "scope", "station", "target", "horizon_min",
              "version", "created_at", "trained_until", "feature_spec", "training", "booster",
              "self_test"});
  ModelEnvelope e;
  if (o.Str("format", 32) != "sentinelle-model" && o.ok()) o.FailField("format", "not a model file");
  if (o.Int("format_version", 1, 1000) != kModelFormatVersion && o.ok()) {
    o.FailField("format_version", "unsupported");
  }
  const std::string kind = o.Str("kind", 16), scope = o.Str("scope", 16);
  const std::string target = o.Str("target", 32), version = o.Str("version", 64);
  const std::string created = o.Str("created_at", 32), until = o.Str("trained_until", 32);
  e.horizon_min = static_cast<int>(o.Int("horizon_min", 1, 7 * 24 * 60));
  auto station = o.OptStr("station", 64);
  const json* spec = o.Field("feature_spec", VT::object);
  const json* training = o.Field("training", VT::object);
  const json* booster = o.Field("booster", VT::object);
  const json* self_test = o.Field("self_test", VT::array);
  if (!o.ok()) return o.error();
  if (kind == "xgboost") e.kind = ModelKind::kXgboost;
  else if (kind == "linear") e.kind = ModelKind::kLinear;
  else return MakeError("model.kind: unknown kind '" + kind + "'");
  if (scope == "station") e.scope = ModelScope::kStation;
  else if (scope == "network") e.scope = ModelScope::kNetwork;
  else return MakeError("model.scope: unknown scope '" + scope + "'");
  if (e.scope == ModelScope::kStation) {
    if (!station || !IsValidStationId(*station)) return MakeError("model.station: a station model names its station");
    e.station = *station;
  } else if (station) {
    return MakeError("model.station: a network model names no station");
  }
  auto var = VariableFromName(target);
  if (!var) return MakeError("model.target: unknown variable '" + target + "'");
  e.target = *var;
  if (version.empty()) return MakeError("model.version: empty");
  e.version = version;
  auto c = ParseUtc(created), u = ParseUtc(until);
  if (!c || !u) return MakeError("model.created_at/trained_until: not UTC times");
  e.created_at_s = *c;
  e.trained_until_s = *u;
  e.training = *training;

  auto fs = FeatureSpec::FromJson(*spec);
  if (!fs) return MakeError("model." + fs.message());
  e.spec = std::move(fs.value());
  if (!HorizonSteps(e.spec.interval_s, e.horizon_min)) {
    return MakeError("model.horizon_min: not a whole number of feature intervals");
  }

  StrictObject b(*booster, "model.booster");
  b.OnlyKeys({"encoding", "size", "sha256", "data"});
  e.encoding = b.Str("encoding", 16);
  const int64_t size = b.Int("size", 1, static_cast<int64_t>(kMaxModelFileBytes));
  e.sha256 = b.Str("sha256", 64);
  const std::string data = b.Str("data", kMaxModelFileBytes);
  if (!b.ok()) return b.error();
  const bool encoding_ok = e.kind == ModelKind::kLinear ? e.encoding == "linear"
                                                        : (e.encoding == "json" || e.encoding == "ubjson");
  if (!encoding_ok) return MakeError("model.booster.encoding: '" + e.encoding + "' does not fit kind " + kind);
  auto raw = Base64Decode(data);
  if (!raw) return MakeError("model.booster.data: " + raw.message());
  if (static_cast<int64_t>(raw->size()) != size) return MakeError("model.booster: size mismatch");
  if (Sha256Hex(*raw) != e.sha256) return MakeError("model.booster: sha256 mismatch");
  e.booster = std::move(raw.value());

  if (self_test->empty() || self_test->size() > kMaxSelfTestPairs) {
    return MakeError("model.self_test: 1.." + std::to_string(kMaxSelfTestPairs) + " pairs required");
  }
  const size_t width = e.spec.Width();
  for (size_t i = 0; i < self_test->size(); ++i) {
    StrictObject p((*self_test)[i], "model.self_test[" + std::to_string(i) + "]");
    p.OnlyKeys({"x", "y"});
    const json* x = p.Field("x", VT::array);
    GoldenPair g;
    g.y = static_cast<float>(p.Number("y", -1e30, 1e30));
    if (!p.ok()) return p.error();
    if (x->size() != width) return MakeError(p.path() + ".x: length differs from the feature spec");
    for (const auto& v : *x) {
      if (v.is_null()) g.x.push_back(NAN);
      else if (v.is_number()) g.x.push_back(v.get<float>());
      else return MakeError(p.path() + ".x: not a number or null");
    }
    e.self_test.push_back(std::move(g));
  }
  return e;
}

Status SelfTest(const Model& model, const std::vector<GoldenPair>& pairs, float tolerance) {
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].x.size() != model.num_features()) {
      return MakeError("self-test pair " + std::to_string(i) + " has the wrong width");
    }
    auto got = model.Predict(pairs[i].x.data());
    if (!got) return MakeError("self-test pair " + std::to_string(i) + ": " + got.message());
    const float want = pairs[i].y;
    if (!(std::fabs(*got - want) <= tolerance * std::max(1.0f, std::fabs(want)))) {
      return MakeError("self-test pair " + std::to_string(i) + ": got " + std::to_string(*got) +
                       ", expected " + std::to_string(want));
    }
  }
  return Status::Ok();
}

Result<std::shared_ptr<const LoadedModel>> LoadModel(std::string_view file_bytes,
                                                     const LoadOptions& options) {
  auto envelope = ReadModelFile(file_bytes);
  if (!envelope) return envelope.error();
  ModelEnvelope& e = envelope.value();
  if (e.scope == ModelScope::kStation && !options.station_id.empty() && e.station != options.station_id) {
    return MakeError("model is for station '" + e.station + "', not '" + options.station_id + "'");
  }
  std::shared_ptr<const Model> model;
  if (e.kind == ModelKind::kXgboost) {
    auto m = XgbModel::Parse(e.booster, e.encoding == "ubjson" ? XgbEncoding::kUbjson : XgbEncoding::kJson);
    if (!m) return MakeError("booster: " + m.message());
    model = MakeXgbModel(std::move(m.value()));
  } else {
    auto j = ParseJsonLimited(e.booster, kMaxModelFileBytes, 8);
    if (!j) return MakeError("linear booster: " + j.message());
    auto m = LinearModel::FromJson(*j);
    if (!m) return m.error();
    model = MakeLinearModel(std::move(m.value()));
  }
  if (model->num_features() != e.spec.Width()) {
    return MakeError("booster takes " + std::to_string(model->num_features()) +
                     " features, the feature spec computes " + std::to_string(e.spec.Width()));
  }
  if (Status st = SelfTest(*model, e.self_test, options.self_test_tolerance); !st) {
    return MakeError("self-test failed: " + st.message());
  }
  auto loaded = std::make_shared<LoadedModel>();
  e.booster.clear();
  e.booster.shrink_to_fit();
  loaded->meta = std::move(e);
  loaded->model = std::move(model);
  return std::shared_ptr<const LoadedModel>(std::move(loaded));
}

ModelEnvelope EnvelopeFor(const ModelFileRequest& r) {
  ModelEnvelope e;
  e.scope = r.scope;
  e.station = r.station;
  e.target = r.target;
  e.horizon_min = r.horizon_min;
  e.version = r.version;
  e.created_at_s = r.created_at_s;
  e.trained_until_s = r.trained_until_s;
  e.spec = r.spec;
  e.training = r.training;
  return e;
}

Result<std::string> FitLinearModelFile(const ModelFileRequest& request, const TrainingSet& train,
                                       double lambda) {
  if (train.X.cols != request.spec.Width()) return MakeError("training rows do not match the feature spec");
  auto fit = FitRidge(train.X, train.y, lambda);
  if (!fit) return fit.error();
  ModelEnvelope e = EnvelopeFor(request);
  e.kind = ModelKind::kLinear;
  e.encoding = "linear";
  e.booster = fit->ToJson().dump();
  e.training["rows"] = train.X.rows;
  e.training["lambda"] = lambda;
  const LinearModel& m = fit.value();
  e.self_test = MakeGoldenPairs(train.X, 8, [&](const float* x) { return static_cast<float>(m.Predict(x)); });
  return WriteModelFile(e);
}

}  // namespace sentinelle::predict
