#include "sentinelle/collector/http_api.h"

#include <civetweb.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>

#include "rate_limited_log.h"
#include "sentinelle/collector/import.h"
#include "sentinelle/collector/monitoring.h"
#include "sentinelle/collector/registry_api.h"
#include "sentinelle/history_csv.h"
#include "sentinelle/json_util.h"
#include "sentinelle/topics.h"

namespace sentinelle::collector {

using nlohmann::json;

namespace {

RateLimitedLog& HttpLog() {
  static RateLimitedLog log;
  return log;
}

// Error messages quote what the client sent (a CSV field, a station id), which
// need not be UTF-8: replace invalid bytes instead of letting dump() throw.
HttpResponse Json(int status, const json& j) {
  return HttpResponse{status, "application/json", j.dump(-1, ' ', false, json::error_handler_t::replace)};
}

HttpResponse ErrorJson(int status, const std::string& message) {
  return Json(status, json{{"error", message}});
}

json Num(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

std::string MsToUtc(int64_t ms) { return ms > 0 ? FormatUtc(ms / 1000) : std::string(); }

json HealthJson(const StationHealth& h) {
  json models = json::array();
  for (const auto& m : h.models) {
    models.push_back({{"target", m.target},
                      {"horizon_min", m.horizon_min},
                      {"kind", m.kind},
                      {"version", m.version}});
  }
  return json{{"state", HealthStateName(h.state)},
              {"reasons", h.reasons},
              {"status", h.status_state.empty() ? json(nullptr) : json(h.status_state)},
              {"last_reading", h.last_reading_ms ? json(MsToUtc(h.last_reading_ms)) : json(nullptr)},
              {"last_status", h.last_status_ms ? json(MsToUtc(h.last_status_ms)) : json(nullptr)},
              {"interval_s", h.interval_s},
              {"qc_failure_rate", h.qc_failure_rate},
              {"fallback_rate", h.fallback_rate},
              {"open_gaps", h.open_gaps},
              {"buffer_depth", h.buffer_depth},
              {"last_seq", h.last_seq},
              {"clock", h.clock},
              {"models", models}};
}

json StationJson(const StationRecord& rec, const std::optional<StationHealth>& h) {
  json j = {{"id", rec.info.id},
            {"name", rec.info.name},
            {"latitude", Num(rec.info.latitude)},
            {"longitude", Num(rec.info.longitude)},
            {"type", rec.info.type},
            {"registered", rec.info.registered},
            {"reading_count", rec.reading_count},
            {"last_window_end",
             rec.last_window_end_s ? json(FormatUtc(rec.last_window_end_s)) : json(nullptr)}};
  j["health"] = h ? HealthJson(*h) : json(nullptr);
  return j;
}

// ISO-8601 UTC or Unix seconds.
std::optional<int64_t> ParseTime(const std::string& s) {
  if (s.empty()) return std::nullopt;
  if (auto t = ParseUtc(s)) return t;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(v);
}

}  // namespace

std::optional<std::string> QueryVar(const std::string& query, const char* name) {
  if (query.empty()) return std::nullopt;
  std::string buf(query.size() + 1, '\0');
  const int n = mg_get_var(query.data(), query.size(), name, buf.data(), buf.size());
  if (n < 0) return std::nullopt;
  buf.resize(static_cast<size_t>(n));
  return buf;
}

struct HttpApi::Server {
  mg_context* ctx = nullptr;
};

HttpApi::HttpApi(HttpConfig config, ApiDeps deps)
    : config_(std::move(config)), deps_(std::move(deps)), auth_(config_.tokens) {}

HttpApi::~HttpApi() { Stop(); }

namespace {

int HandleRequest(mg_connection* conn, void* cbdata) {
  auto* api = static_cast<HttpApi*>(cbdata);
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest req;
  req.method = info->request_method ? info->request_method : "";
  req.path = info->local_uri ? info->local_uri : "";
  req.query = info->query_string ? info->query_string : "";
  req.remote = info->remote_addr;
  if (const char* a = mg_get_header(conn, "Authorization")) req.authorization = a;
  if (const char* r = mg_get_header(conn, "Range")) req.range = r;
  const size_t limit = api->max_body_bytes();
  if (info->content_length > 0 && static_cast<uint64_t>(info->content_length) > limit) {
    req.body_too_large = true;
  } else if (req.method == "POST" || req.method == "PUT") {
    char buf[16384];
    while (true) {
      const int n = mg_read(conn, buf, sizeof(buf));
      if (n <= 0) break;
      req.body.append(buf, static_cast<size_t>(n));
      if (req.body.size() > limit) {
        req.body_too_large = true;
        req.body.clear();
        break;
      }
    }
  }
  HttpResponse resp;
  try {
    resp = api->Handle(req);
  } catch (const std::exception& e) {
    resp = ErrorJson(500, "internal error");
    spdlog::error("HTTP {} {}: {}", req.method, req.path, e.what());
  }
  const char* reason = mg_get_response_code_text(conn, resp.status);
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\n%s%s\r\n",
            resp.status, reason ? reason : "", resp.content_type.c_str(), resp.body.size(),
            resp.status == 401 ? "WWW-Authenticate: Bearer\r\n" : "", resp.extra_headers.c_str());
  if (req.method != "HEAD") mg_write(conn, resp.body.data(), resp.body.size());
  return resp.status;
}

int LogMessage(const mg_connection*, const char* message) {
  spdlog::warn("http: {}", message);
  return 1;
}

}  // namespace

Status HttpApi::Start() {
  static std::once_flag init;
  std::call_once(init, [] { mg_init_library(0); });
  const std::string threads = std::to_string(config_.threads);
  const std::string timeout = std::to_string(config_.request_timeout_ms);
  const char* options[] = {"listening_ports",       config_.listen.c_str(),
                           "num_threads",           threads.c_str(),
                           "request_timeout_ms",    timeout.c_str(),
                           "enable_keep_alive",     "yes",
                           "keep_alive_timeout_ms", "5000",
                           nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  callbacks.log_message = LogMessage;
  mg_context* ctx = mg_start(&callbacks, nullptr, options);
  if (ctx == nullptr) return MakeError("HTTP server cannot listen on " + config_.listen);
  mg_set_request_handler(ctx, "/", HandleRequest, this);
  mg_server_port ports[4];
  std::memset(ports, 0, sizeof(ports));
  const int n = mg_get_server_ports(ctx, 4, ports);
  port_ = n > 0 ? ports[0].port : 0;
  server_ = std::make_unique<Server>();
  server_->ctx = ctx;
  spdlog::info("HTTP API listening on {}", config_.listen);
  return Status::Ok();
}

void HttpApi::Stop() {
  if (server_ && server_->ctx) {
    mg_stop(server_->ctx);
    server_->ctx = nullptr;
  }
  server_.reset();
}

HttpResponse HttpApi::Refuse(const HttpRequest& req, HttpRejectReason reason, int status,
                             const std::string& message, const std::string& who) {
  deps_.metrics->http_rejected(reason).Increment();
  HttpLog().Warn(std::string(HttpRejectReasonName(reason)),
                 "HTTP refused (" + std::string(HttpRejectReasonName(reason)) + ") " +
                     req.method + " " + req.path.substr(0, 200) + " from " + req.remote +
                     (who.empty() ? "" : " token '" + who + "'") + ": " + message);
  return ErrorJson(status, message);
}

std::optional<HttpResponse> HttpApi::Authorize(const HttpRequest& req, Permission permission,
                                               bool public_access) {
  if (public_access && !req.authorization) return std::nullopt;
  AuthFailure failure;
  auto principal = auth_.Authenticate(req.authorization, &failure);
  if (!principal) {
    if (failure == AuthFailure::kMissingToken) {
      return Refuse(req, HttpRejectReason::kMissingToken, 401, "bearer token required");
    }
    return Refuse(req, HttpRejectReason::kInvalidToken, 401, "invalid token");
  }
  if (!RoleAllows(principal->role, permission)) {
    return Refuse(req, HttpRejectReason::kForbidden, 403,
                  "role " + std::string(RoleName(principal->role)) + " may not " +
                      std::string(PermissionName(permission)),
                  principal->name);
  }
  return std::nullopt;
}

HttpResponse HttpApi::Handle(const HttpRequest& req) {
  deps_.metrics->http_requests->Increment();
  const std::string& p = req.path;
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  if (req.body_too_large) {
    return Refuse(req, HttpRejectReason::kBodyTooLarge, 413,
                  "request body over " + std::to_string(config_.max_body_bytes) + " bytes");
  }
  if (p == "/healthz") {
    if (!get) return Refuse(req, HttpRejectReason::kMethodNotAllowed, 405, "use GET");
    return HttpResponse{200, "text/plain", "ok\n"};
  }
  if (p == "/readyz") {
    if (!get) return Refuse(req, HttpRejectReason::kMethodNotAllowed, 405, "use GET");
    return Ready();
  }
  if (p == "/metrics") {
    if (!get) return Refuse(req, HttpRejectReason::kMethodNotAllowed, 405, "use GET");
    if (auto refused = Authorize(req, Permission::kRead, config_.metrics_public)) return *refused;
    return HttpResponse{200, "text/plain; version=0.0.4", deps_.metrics->Serialize()};
  }
  const std::string api = "/api/v1/";
  if (p.rfind(api, 0) != 0) return Refuse(req, HttpRejectReason::kNotFound, 404, "no such path");
  const std::string rest = p.substr(api.size());
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= rest.size()) {
    const size_t slash = rest.find('/', start);
    parts.push_back(rest.substr(start, slash == std::string::npos ? std::string::npos
                                                                  : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (!parts.empty() && parts.back().empty()) parts.pop_back();

  if (parts.size() == 1 && parts[0] == "import") {
    if (!post) return Refuse(req, HttpRejectReason::kMethodNotAllowed, 405, "use POST");
    if (auto refused = Authorize(req, Permission::kImport, false)) return *refused;
    return Import(req);
  }
  if (deps_.models && RegistryApi::Owns(parts)) {
    return deps_.models->Handle(req, parts, [&](Permission permission, std::string* who) {
      const bool public_read = permission == Permission::kRead && config_.read_public;
      auto refused = Authorize(req, permission, public_read);
      AuthFailure failure;
      auto principal = auth_.Authenticate(req.authorization, &failure);
      *who = principal ? principal->name : "anonymous";
      return refused;
    });
  }
  if (deps_.monitor && MonitoringOwns(parts)) {
    if (!get) return Refuse(req, HttpRejectReason::kMethodNotAllowed, 405, "use GET");
    if (auto refused = Authorize(req, Permission::kRead, config_.read_public)) return *refused;
    return HandleMonitoring(*deps_.monitor, req, parts,
                            deps_.monitor->Now().value_or(deps_.env->WallMs() / 1000));
  }
  if (parts.size() == 1 && parts[0] == "stations" && post) {
    if (auto refused = Authorize(req, Permission::kRegistry, false)) return *refused;
    return RegisterStation(req);
  }
  const bool known = (parts.size() == 1 && (parts[0] == "stations" || parts[0] == "gaps")) ||
                     (parts.size() == 2 && parts[0] == "stations") ||
                     (parts.size() == 3 && parts[0] == "stations" &&
                      (parts[2] == "readings" || parts[2] == "predictions"));
  if (!known) return Refuse(req, HttpRejectReason::kNotFound, 404, "no such path");
  if (!get) return Refuse(req, HttpRejectReason::kMethodNotAllowed, 405, "use GET");
  if (auto refused = Authorize(req, Permission::kRead, config_.read_public)) return *refused;
  if (parts[0] == "gaps") return Gaps(req);
  if (parts.size() == 1) return Stations();
  if (!IsValidStationId(parts[1])) {
    return Refuse(req, HttpRejectReason::kBadRequest, 400, "invalid station id");
  }
  if (parts.size() == 2) return Station(parts[1]);
  if (parts[2] == "readings") return Readings(req, parts[1]);
  return Predictions(req, parts[1]);
}

HttpResponse HttpApi::Ready() {
  json problems = json::array();
  if (!deps_.store->Healthy()) problems.push_back("store not readable");
  if (deps_.pipeline && !deps_.pipeline->StoreWritable()) problems.push_back("store not writable");
  if (deps_.mqtt_connected && !deps_.mqtt_connected()) problems.push_back("MQTT not connected");
  if (problems.empty()) return Json(200, json{{"ready", true}});
  return Json(503, json{{"ready", false}, {"problems", problems}});
}

HttpResponse HttpApi::Stations() {
  auto stations = deps_.store->ListStations();
  if (!stations) return ErrorJson(500, "store: " + stations.message());
  const int64_t now = deps_.env->WallMs();
  const auto gaps = deps_.ledger->OpenGapCounts();
  json list = json::array();
  for (const StationRecord& rec : *stations) {
    auto g = gaps.find(rec.info.id);
    list.push_back(StationJson(
        rec, deps_.health->Get(rec.info.id, now, g == gaps.end() ? 0 : g->second)));
  }
  return Json(200, json{{"stations", list}});
}

HttpResponse HttpApi::Station(const std::string& id) {
  auto rec = deps_.store->GetStation(id);
  if (!rec) return ErrorJson(500, "store: " + rec.message());
  if (!*rec) {
    deps_.metrics->http_rejected(HttpRejectReason::kNotFound).Increment();
    return ErrorJson(404, "unknown station");
  }
  return Json(200, StationJson(**rec, deps_.health->Get(id, deps_.env->WallMs(),
                                                        deps_.ledger->OpenGapCount(id))));
}

namespace {

struct RangeQuery {
  TimeRange range;
  int64_t limit = 0;
  bool csv = false;
  std::string error;
};

RangeQuery ParseRange(const std::string& query, int64_t now_ms, int64_t max_rows) {
  RangeQuery q;
  const int64_t now_s = now_ms / 1000;
  q.range.to_s = now_s + 1;
  if (auto to = QueryVar(query, "to")) {
    auto t = ParseTime(*to);
    if (!t) q.error = "to: not a UTC time or Unix seconds";
    else q.range.to_s = *t;
  }
  q.range.from_s = q.range.to_s - 86400;
  if (auto from = QueryVar(query, "from")) {
    auto t = ParseTime(*from);
    if (!t) q.error = "from: not a UTC time or Unix seconds";
    else q.range.from_s = *t;
  }
  if (q.error.empty() && q.range.from_s > q.range.to_s) q.error = "from is after to";
  q.limit = max_rows;
  if (auto limit = QueryVar(query, "limit")) {
    auto l = ParseTime(*limit);
    if (!l || *l < 1) q.error = "limit: must be a positive integer";
    else q.limit = std::min(*l, max_rows);
  }
  if (auto format = QueryVar(query, "format")) {
    if (*format == "csv") q.csv = true;
    else if (*format != "json") q.error = "format: json or csv";
  }
  return q;
}

}  // namespace

HttpResponse HttpApi::Readings(const HttpRequest& req, const std::string& id) {
  RangeQuery q = ParseRange(req.query, deps_.env->WallMs(), config_.max_query_rows);
  if (!q.error.empty()) return Refuse(req, HttpRejectReason::kBadRequest, 400, q.error);
  auto rows = deps_.store->QueryReadings(id, q.range, q.limit);
  if (!rows) return ErrorJson(500, "store: " + rows.message());
  if (q.csv) {
    // The history CSV schema: only values whose QC flag is ok are exported,
    // so an export re-imports as the same trusted values.
    std::string out(kHistoryCsvHeader);
    out += '\n';
    for (const StoredReading& sr : *rows) {
      std::array<double, kVariableCount> values;
      for (int i = 0; i < kVariableCount; ++i) {
        values[i] = sr.reading.qc[i] == QcFlag::kOk ? sr.reading.values[i] : kMissingValue;
      }
      AppendHistoryCsvRow(out, id, sr.reading.window_end_s, values);
    }
    return HttpResponse{200, "text/csv", std::move(out)};
  }
  json list = json::array();
  for (const StoredReading& sr : *rows) {
    const Reading& r = sr.reading;
    json values = json::object();
    for (const auto& info : Variables()) {
      const int i = static_cast<int>(info.variable);
      values[std::string(info.name)] = {
          {"v", Num(r.values[i])}, {"qc", QcFlagName(r.qc[i])}, {"n", r.samples[i]}};
    }
    list.push_back({{"window_end", FormatUtc(r.window_end_s)},
                    {"seq", r.seq},
                    {"interval_s", r.interval_s},
                    {"origin", OriginName(sr.origin)},
                    {"clock", ClockFlagName(sr.clock)},
                    {"time", {{"synced", r.time.synced}, {"source", r.time.source}}},
                    {"arrival_ms", sr.arrival_ms},
                    {"values", std::move(values)},
                    {"aqi", r.aqi ? json(*r.aqi) : json(nullptr)},
                    {"aqi_dominant", r.aqi_dominant ? json(Name(*r.aqi_dominant)) : json(nullptr)}});
  }
  return Json(200, json{{"station", id},
                        {"from", FormatUtc(q.range.from_s)},
                        {"to", FormatUtc(q.range.to_s)},
                        {"readings", list}});
}

HttpResponse HttpApi::Predictions(const HttpRequest& req, const std::string& id) {
  RangeQuery q = ParseRange(req.query, deps_.env->WallMs(), config_.max_query_rows);
  if (!q.error.empty()) return Refuse(req, HttpRejectReason::kBadRequest, 400, q.error);
  auto rows = deps_.store->QueryPredictions(id, q.range, q.limit);
  if (!rows) return ErrorJson(500, "store: " + rows.message());
  if (q.csv) {
    std::string out =
        "station_id,issued,target,horizon_min,value,model_kind,model_version,fallback_reason\n";
    for (const PredictionRecord& p : *rows) {
      char value[64] = "";
      if (!std::isnan(p.value)) std::snprintf(value, sizeof(value), "%.6g", p.value);
      out += id + "," + FormatUtc(p.issued_s) + "," + p.target + "," +
             std::to_string(p.horizon_min) + "," + value + "," + p.model_kind + "," +
             p.model_version + "," + p.fallback_reason + "\n";
    }
    return HttpResponse{200, "text/csv", std::move(out)};
  }
  json list = json::array();
  for (const PredictionRecord& p : *rows) {
    list.push_back({{"issued", FormatUtc(p.issued_s)},
                    {"target", p.target},
                    {"horizon_min", p.horizon_min},
                    {"value", Num(p.value)},
                    {"model", {{"kind", p.model_kind}, {"version", p.model_version}}},
                    {"fallback_reason", p.fallback_reason.empty() ? json(nullptr)
                                                                  : json(p.fallback_reason)}});
  }
  return Json(200, json{{"station", id}, {"predictions", list}});
}

HttpResponse HttpApi::Gaps(const HttpRequest& req) {
  int64_t lost_since_ms = deps_.env->WallMs() - 7 * 86400 * 1000LL;
  if (auto since = QueryVar(req.query, "lost_since")) {
    auto t = ParseTime(*since);
    if (!t) return Refuse(req, HttpRejectReason::kBadRequest, 400, "lost_since: bad time");
    lost_since_ms = *t * 1000;
  }
  const auto station = QueryVar(req.query, "station");
  auto stored = deps_.store->ListGaps(lost_since_ms);
  if (!stored) return ErrorJson(500, "store: " + stored.message());
  json open = json::array(), lost = json::array();
  int64_t outstanding = 0;
  auto gap_json = [](const GapRecord& g) {
    json j = {{"station", g.station_id},   {"from_seq", g.from_seq},
              {"to_seq", g.to_seq},        {"seqs", g.to_seq - g.from_seq + 1},
              {"detected", MsToUtc(g.detected_ms)}, {"attempts", g.attempts},
              {"last_request", g.last_request_ms ? json(MsToUtc(g.last_request_ms)) : json(nullptr)}};
    if (g.state == "lost") {
      j["closed"] = MsToUtc(g.closed_ms);
      j["reason"] = g.reason;
    }
    return j;
  };
  // Open gaps from the ledger (it has the live attempt counters), lost ones from the store.
  for (const GapRecord& g : deps_.ledger->OpenGaps()) {
    if (station && g.station_id != *station) continue;
    outstanding += g.to_seq - g.from_seq + 1;
    open.push_back(gap_json(g));
  }
  for (const GapRecord& g : *stored) {
    if (g.state != "lost" || (station && g.station_id != *station)) continue;
    lost.push_back(gap_json(g));
  }
  return Json(200, json{{"open", open}, {"outstanding_seqs", outstanding}, {"lost", lost}});
}

HttpResponse HttpApi::Import(const HttpRequest& req) {
  auto text = std::make_shared<const std::string>(req.body);
  ImportOptions options;
  options.max_rows = config_.max_query_rows * 10;
  auto result = ImportHistoryCsv(*deps_.store, CsvTextSource(text), options, deps_.env->WallMs());
  if (!result) return Refuse(req, HttpRejectReason::kBadRequest, 400, result.message());
  deps_.metrics->readings_imported->Increment(static_cast<double>(result->inserted));
  return Json(200, json{{"rows", result->rows},
                        {"inserted", result->inserted},
                        {"duplicates", result->duplicates},
                        {"stations", result->stations}});
}

HttpResponse HttpApi::RegisterStation(const HttpRequest& req) {
  auto parsed = ParseJsonLimited(req.body, 64 * 1024, 4);
  if (!parsed) return Refuse(req, HttpRejectReason::kBadRequest, 400, parsed.message());
  StrictObject o(*parsed, "station");
  o.OnlyKeys({"id", "name", "latitude", "longitude", "type"});
  StationInfo info;
  info.id = o.Str("id", 64);
  info.name = o.Str("name", 200);
  info.latitude = o.NumberOrNull("latitude", -90, 90);
  info.longitude = o.NumberOrNull("longitude", -180, 180);
  info.type = o.Str("type", 64);
  if (!o.ok()) return Refuse(req, HttpRejectReason::kBadRequest, 400, o.error().message);
  if (!IsValidStationId(info.id)) {
    return Refuse(req, HttpRejectReason::kBadRequest, 400, "station.id: invalid station id");
  }
  if (auto st = deps_.store->UpsertStation(info); !st) {
    return ErrorJson(500, "store: " + st.message());
  }
  deps_.health->Track(info.id);
  if (deps_.pipeline) deps_.pipeline->NoteRegistered(info.id);
  auto rec = deps_.store->GetStation(info.id);
  if (!rec || !*rec) return ErrorJson(500, "store: station not readable after write");
  return Json(201, StationJson(**rec, std::nullopt));
}

}  // namespace sentinelle::collector
