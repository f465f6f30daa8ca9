#include "updater_fixture.h"

#include <civetweb.h>

#include <cstring>
#include <stdexcept>

#include "../predict/synthetic.h"
#include "process.h"
#include "sentinelle/crypto.h"
#include "sentinelle/xgboost/xgb_booster.h"

namespace sentinelle::agent::test {

namespace {

predict::ModelFileRequest Request(predict::ModelScope scope, int64_t version) {
  predict::ModelFileRequest r;
  r.scope = scope;
  r.target = Variable::kPm25;
  r.horizon_min = 60;
  r.version = std::to_string(version);
  r.created_at_s = kNowS - 86400;
  r.trained_until_s = kNowS - 86400;
  r.spec = predict::FeatureSpec::ForTargets(
      {Variable::kPm25, Variable::kPm10, Variable::kNo2, Variable::kO3});
  return r;
}

const std::vector<Reading>& History() {
  static const std::vector<Reading> h = [] {
    predict::testing::SyntheticOptions o;
    o.seed = 7;
    return predict::testing::MakeHistory(3 * 288, o);
  }();
  return h;
}

const std::string& BaseModel() {
  static const std::string base = [] {
    const auto req = Request(predict::ModelScope::kNetwork, 1);
    auto train = predict::BuildTrainingMatrix(History(), req.spec, Variable::kPm25, 60);
    if (!train) throw std::runtime_error(train.message());
    xgb::TrainParams p;
    p.num_rounds = 8;
    p.max_depth = 3;
    p.eta = 0.3;
    auto file = xgb::TrainXgbModelFile(req, *train, nullptr, p, 0, 1, predict::XgbEncoding::kJson);
    if (!file) throw std::runtime_error(file.message());
    return *file;
  }();
  return base;
}

predict::ModelEnvelope Envelope(const std::string& bytes) {
  auto e = predict::ReadModelFile(bytes);
  if (!e) throw std::runtime_error(e.message());
  return *e;
}

int HandleThunk(mg_connection* conn, void* data) {
  return static_cast<ArtifactServer*>(data)->Handle(conn);
}

}  // namespace

std::string ModelFile(int64_t version) {
  auto e = Envelope(BaseModel());
  e.version = std::to_string(version);
  return predict::WriteModelFile(e);
}

std::string GoldenMismatchFile(int64_t version) {
  auto e = Envelope(BaseModel());
  e.version = std::to_string(version);
  e.self_test.at(0).y += 50.0f;
  return predict::WriteModelFile(e);
}

std::string LinearModelFile(int64_t version) {
  const auto req = Request(predict::ModelScope::kNetwork, version);
  auto train = predict::BuildTrainingMatrix(History(), req.spec, Variable::kPm25, 60);
  if (!train) throw std::runtime_error(train.message());
  auto file = predict::FitLinearModelFile(req, *train);
  if (!file) throw std::runtime_error(file.message());
  return *file;
}

const Keys& CollectorKeys() {
  static const Keys k = [] {
    auto kp = GenerateEd25519KeyPair();
    if (!kp) throw std::runtime_error(kp.message());
    return Keys{kp->private_key, kp->public_key};
  }();
  return k;
}

const Keys& ForeignKeys() {
  static const Keys k = [] {
    auto kp = GenerateEd25519KeyPair();
    if (!kp) throw std::runtime_error(kp.message());
    return Keys{kp->private_key, kp->public_key};
  }();
  return k;
}

ArtifactServer::ArtifactServer() : port_(testing::FreeLoopbackPort()) {
  const std::string ports = "127.0.0.1:" + std::to_string(port_);
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", "2", nullptr};
  ctx_ = mg_start(nullptr, nullptr, options);
  if (ctx_ == nullptr) throw std::runtime_error("civetweb did not start on " + ports);
  mg_set_request_handler(ctx_, "/api/v1/models/", HandleThunk, this);
}

ArtifactServer::~ArtifactServer() {
  if (ctx_) mg_stop(ctx_);
}

void ArtifactServer::Put(int64_t version, std::string bytes) {
  std::lock_guard lock(mu_);
  files_[version] = std::move(bytes);
}

std::string ArtifactServer::Url(int64_t version) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/models/" + std::to_string(version) +
         "/artifact";
}

int ArtifactServer::Handle(void* c) {
  auto* conn = static_cast<mg_connection*>(c);
  ++requests_;
  auto reply = [&](int code, const char* text) {
    mg_printf(conn, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", code, text);
    return code;
  };
  if (fail_) return reply(503, "Service Unavailable");
  const char* auth = mg_get_header(conn, "Authorization");
  if (auth == nullptr || std::string(auth) != "Bearer " + kToken) {
    ++unauthorized_;
    return reply(401, "Unauthorized");
  }
  const std::string uri = mg_get_request_info(conn)->local_uri;
  const std::string prefix = "/api/v1/models/";
  const size_t slash = uri.find('/', prefix.size());
  if (slash == std::string::npos || uri.substr(slash) != "/artifact") return reply(404, "Not Found");
  std::string body;
  {
    std::lock_guard lock(mu_);
    auto it = files_.find(std::stoll(uri.substr(prefix.size(), slash - prefix.size())));
    if (it == files_.end()) return reply(404, "Not Found");
    body = it->second;
  }
  size_t from = 0;
  if (const char* range = mg_get_header(conn, "Range")) from = std::stoul(std::string(range).substr(6));
  if (from >= body.size() && from > 0) return reply(416, "Range Not Satisfiable");
  const std::string rest = body.substr(from);
  if (from > 0) {
    mg_printf(conn,
              "HTTP/1.1 206 Partial Content\r\nContent-Length: %zu\r\nContent-Range: bytes "
              "%zu-%zu/%zu\r\nConnection: close\r\n\r\n",
              rest.size(), from, body.size() - 1, body.size());
  } else {
    mg_printf(conn, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", rest.size());
  }
  mg_write(conn, rest.data(), rest.size());
  return from > 0 ? 206 : 200;
}

Manifest MakeManifest(int64_t version, const std::string& bytes, const std::string& url,
                      const std::string& stage) {
  auto e = Envelope(bytes);
  Manifest m;
  m.target = "pm25";
  m.horizon_min = 60;
  m.kind = e.kind == predict::ModelKind::kLinear ? "linear" : "network";
  m.version = version;
  m.stage = stage;
  m.created_s = kNowS - 3600;
  m.expires_s = kNowS + 30 * 86400;
  m.artifact_url = url;
  m.artifact_sha256 = Sha256Hex(bytes);
  m.artifact_size = static_cast<int64_t>(bytes.size());
  m.xgboost_version = e.kind == predict::ModelKind::kLinear ? "" : xgb::LibraryVersion();
  m.feature_spec = e.spec.ToJson();
  return m;
}

std::string Signed(Manifest m, const std::string& private_key) {
  if (auto st = SignManifest(m, private_key); !st) throw std::runtime_error(st.message());
  return EncodeManifest(m);
}

}  // namespace sentinelle::agent::test
