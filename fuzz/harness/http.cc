// Harness for the collector's HTTP API: request line, query parameters,
// headers and bodies go through HttpApi::Handle (what civetweb's handler
// calls) against a real SQLite store.
#include <cstdlib>
#include <memory>
#include <string>

#include "harness.h"
#include "http_harness.h"
#include "sentinelle/collector/auth.h"
#include "sentinelle/collector/gap_ledger.h"
#include "sentinelle/collector/health.h"
#include "sentinelle/collector/http_api.h"
#include "sentinelle/collector/metrics.h"
#include "sentinelle/collector/sqlite_store.h"
#include "sentinelle/env.h"

namespace sentinelle::fuzz {
namespace {

using namespace sentinelle::collector;  // NOLINT(build/namespaces)

// One API for the whole run: a store in a fresh directory (tmpfs when
// available), tokens for each role, reads not public.
class Api {
 public:
  Api() {
    const char* base = std::getenv("TMPDIR");
    std::string dir = std::string(base && *base ? base : "/tmp") + "/sentinelle-fuzz-http-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) std::abort();
    SqliteStoreOptions o;
    o.path = dir + "/collector.db";
    o.reader_connections = 1;
    auto store = SqliteHistoryStore::Open(o);
    SENTINELLE_FUZZ_CHECK(store.ok());
    store_ = std::move(store.value());
    ledger_ = std::make_unique<GapLedger>(config_.gaps);
    health_ = std::make_unique<HealthTracker>(config_.health);
    config_.http.tokens.push_back(
        TokenEntry{"fuzz-admin", TokenAuth::HashToken(kFuzzAdminToken), Role::kAdmin});
    config_.http.tokens.push_back(
        TokenEntry{"fuzz-viewer", TokenAuth::HashToken("fuzz-viewer-token"), Role::kViewer});
    config_.http.max_body_bytes = 64 * 1024;
    config_.http.max_query_rows = 1000;
    ApiDeps deps;
    deps.store = store_.get();
    deps.ledger = ledger_.get();
    deps.health = health_.get();
    deps.metrics = &metrics_;
    deps.env = &env_;
    api_ = std::make_unique<HttpApi>(config_.http, deps);
  }
  HttpApi& api() { return *api_; }

 private:
  collector::CollectorConfig config_;
  SystemEnv env_;
  CollectorMetrics metrics_;
  std::unique_ptr<SqliteHistoryStore> store_;
  std::unique_ptr<GapLedger> ledger_;
  std::unique_ptr<HealthTracker> health_;
  std::unique_ptr<HttpApi> api_;
};

// Next '\n'-terminated line of *in (the rest when there is no '\n').
std::string_view TakeLine(std::string_view* in) {
  const size_t nl = in->find('\n');
  std::string_view line = in->substr(0, nl);
  in->remove_prefix(nl == std::string_view::npos ? in->size() : nl + 1);
  return line;
}

}  // namespace

collector::HttpResponse HandleHttpInput(std::string_view input) {
  static Api* api = new Api();  // lives for the process; the store stays open
  collector::HttpRequest req;
  req.method = TakeLine(&input);
  req.path = TakeLine(&input);
  req.query = TakeLine(&input);
  if (auto a = TakeLine(&input); !a.empty()) req.authorization = std::string(a);
  if (auto r = TakeLine(&input); !r.empty()) req.range = std::string(r);
  req.body = input;
  req.remote = "127.0.0.1";
  return api->api().Handle(req);
}

void HttpRequest(std::string_view input) {
  const HttpResponse resp = HandleHttpInput(input);
  SENTINELLE_FUZZ_CHECK(resp.status >= 200 && resp.status <= 599);
  // No 5xx for anything a client sends: the store is healthy, so every
  // refusal is the client's (4xx).
  SENTINELLE_FUZZ_CHECK(resp.status < 500);
}

}  // namespace sentinelle::fuzz
