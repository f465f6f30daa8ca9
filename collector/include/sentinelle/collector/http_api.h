// The collector's HTTP API and /metrics on one port (civetweb; the choice is
// explained in docs/ARCHITECTURE.md). Endpoints, roles and formats:
// docs/PROTOCOL.md, "HTTP API". civetweb headers are included only by
// http_api.cc.
//
// Bound to 127.0.0.1 by default; request bodies are bounded
// (http.max_body_bytes) and requests time out (http.request_timeout_ms).
// Every refused request is counted by reason and logged (rate-limited).
// Thread-safe: civetweb runs handlers on its worker threads.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "sentinelle/collector/auth.h"
#include "sentinelle/collector/config.h"
#include "sentinelle/collector/gap_ledger.h"
#include "sentinelle/collector/health.h"
#include "sentinelle/collector/ingest.h"
#include "sentinelle/collector/metrics.h"
#include "sentinelle/collector/store.h"
#include "sentinelle/env.h"

namespace sentinelle::collector {

class RegistryApi;
class Monitor;

struct ApiDeps {
  HistoryStore* store = nullptr;
  GapLedger* ledger = nullptr;
  HealthTracker* health = nullptr;
  CollectorMetrics* metrics = nullptr;
  IngestPipeline* pipeline = nullptr;        // may be null (no live ingest)
  Env* env = nullptr;
  std::function<bool()> mqtt_connected;      // may be empty (treated as connected)
  RegistryApi* models = nullptr;             // models/jobs/train endpoints; may be null
  Monitor* monitor = nullptr;                // alarms/accuracy/drift/report; may be null
};

// One HTTP response, independent of the server library (handlers are unit
// testable through HttpApi::Handle).
struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string extra_headers;  // "Name: value\r\n" lines (e.g. Content-Range)
};

struct HttpRequest {
  std::string method;
  std::string path;                         // decoded, without the query string
  std::string query;                        // raw query string
  std::optional<std::string> authorization; // Authorization header
  std::optional<std::string> range;         // Range header (artifact downloads resume)
  std::string body;
  std::string remote;                       // peer address, for logs
  bool body_too_large = false;
};

// The URL-decoded value of `name` in a query string; nullopt when absent.
std::optional<std::string> QueryVar(const std::string& query, const char* name);

class HttpApi {
 public:
  HttpApi(HttpConfig config, ApiDeps deps);
  ~HttpApi();  // Stop()

  // Starts listening. Errors: the port is taken, bad listen address.
  Status Start();
  void Stop();
  // The port actually bound (after Start).
  int port() const { return port_; }
  size_t max_body_bytes() const { return config_.max_body_bytes; }

  // Routes one request (what the civetweb handler calls).
  HttpResponse Handle(const HttpRequest& request);

 private:
  struct Server;
  HttpResponse Refuse(const HttpRequest& req, HttpRejectReason reason, int status,
                      const std::string& message, const std::string& who = "");
  // Returns a refusal, or nullopt when allowed.
  std::optional<HttpResponse> Authorize(const HttpRequest& req, Permission permission,
                                        bool public_access);
  HttpResponse Stations();
  HttpResponse Station(const std::string& id);
  HttpResponse Readings(const HttpRequest& req, const std::string& id);
  HttpResponse Predictions(const HttpRequest& req, const std::string& id);
  HttpResponse Gaps(const HttpRequest& req);
  HttpResponse Import(const HttpRequest& req);
  HttpResponse RegisterStation(const HttpRequest& req);
  HttpResponse Ready();

  HttpConfig config_;
  ApiDeps deps_;
  TokenAuth auth_;
  std::unique_ptr<Server> server_;
  int port_ = 0;
};

}  // namespace sentinelle::collector
