// Harness for the collector's HTTP API: request line, query parameters,
// headers and bodies go through HttpApi::Handle (what civetweb's handler
// calls) against a real SQLite store holding 30 days of simulated history,
// a real model registry with trained models (the models/jobs/train
// endpoints: list, inspect, compare, download, promote, rollout, rollback)
// and the monitor (alarms, accuracy, drift, report). State carries over
// between inputs, as it does on a live collector.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "harness.h"
#include "http_harness.h"
#include "sentinelle/collector/auth.h"
#include "sentinelle/collector/gap_ledger.h"
#include "sentinelle/collector/health.h"
#include "sentinelle/collector/http_api.h"
#include "sentinelle/collector/import.h"
#include "sentinelle/collector/metrics.h"
#include "sentinelle/collector/monitoring.h"
#include "sentinelle/collector/sqlite_store.h"
#include "sentinelle/collector/training_service.h"
#include "sentinelle/env.h"
#include "sentinelle/sim/engine.h"
#include "sentinelle/sim/model.h"

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
    config_.db_path = dir + "/collector.db";
    SqliteStoreOptions o;
    o.path = config_.db_path;
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
    config_.http.tokens.push_back(TokenEntry{"fuzz-scientist",
                                             TokenAuth::HashToken("fuzz-scientist-token"),
                                             Role::kDataScientist});
    config_.http.max_body_bytes = 64 * 1024;
    config_.http.max_query_rows = 1000;
    ImportSimulatedHistory(dir);
    OpenModels();
    OpenMonitor();
    ApiDeps deps;
    deps.store = store_.get();
    deps.ledger = ledger_.get();
    deps.health = health_.get();
    deps.metrics = &metrics_;
    deps.env = &env_;
    deps.models = &models_->api();
    deps.monitor = monitor_.get();
    api_ = std::make_unique<HttpApi>(config_.http, deps);
  }
  HttpApi& api() { return *api_; }

 private:
  // Two stations, 30 days of the simulator's default network.
  void ImportSimulatedHistory(const std::string& dir) {
    sim::Scenario sc;
    sc.stations = sim::DefaultNetwork(2);
    sc.duration_s = 30 * 86400;
    sim::GenerateOptions g;
    g.out_path = dir + "/history.csv";
    SENTINELLE_FUZZ_CHECK(sim::Generate(sc, g).ok());
    auto imported = ImportHistoryCsv(*store_, CsvFileSource(g.out_path), {}, env_.WallMs());
    SENTINELLE_FUZZ_CHECK(imported.ok() && imported->inserted > 0);
  }

  // The registry holds the network pm25/60 models (boosted and linear) of a
  // small training run, the boosted one in production, so that promote,
  // rollout, rollback, compare and downloads all reach real records.
  void OpenModels() {
    config_.models.dir = "";  // next to the database
    config_.training.targets = {Variable::kPm25};
    config_.training.horizons_min = {60};
    config_.training.station_models = false;
    config_.training.min_train_rows = 200;
    config_.training.min_validation_rows = 50;
    config_.training.xgb.num_rounds = 30;
    config_.training.xgb.eta = 0.3;
    config_.training.xgb.early_stopping_rounds = 5;
    config_.training.xgb.max_depth = 4;
    config_.training.xgb.nthread = 1;
    config_.training.schedule_interval_s = 0;
    auto models = TrainingService::Open(config_, store_.get(), &env_, nullptr);
    SENTINELLE_FUZZ_CHECK(models.ok());
    models_ = std::move(*models);
    auto trained = models_->trainer().Run(TrainRequest{}, {}, nullptr);
    SENTINELLE_FUZZ_CHECK(trained.ok() && !trained->empty());
    const int64_t now_s = env_.WallMs() / 1000;
    for (const TrainedModel& m : *trained) {
      auto rec = models_->registry().Register(m, TriggerInfo{"manual", "fuzz", ""}, now_s);
      SENTINELLE_FUZZ_CHECK(rec.ok());
      if (m.kind == predict::ModelKind::kXgboost) {
        auto promoted =
            models_->registry().Promote(rec->version, Stage::kProduction, {}, "fuzz", "seed", now_s);
        if (!promoted) std::fprintf(stderr, "promote: %s\n", promoted.message().c_str());
        SENTINELLE_FUZZ_CHECK(promoted.ok());
      }
    }
  }

  void OpenMonitor() {
    MonitorDeps md;
    md.store = store_.get();
    md.registry = &models_->registry();
    md.jobs = &models_->jobs();
    md.metrics = &metrics_;
    md.health = health_.get();
    md.ledger = ledger_.get();
    md.env = &env_;
    auto monitor = Monitor::Open(config_.monitoring, config_.db_path, md);
    SENTINELLE_FUZZ_CHECK(monitor.ok());
    monitor_ = std::move(*monitor);
  }

  collector::CollectorConfig config_;
  SystemEnv env_;
  CollectorMetrics metrics_;
  std::unique_ptr<SqliteHistoryStore> store_;
  std::unique_ptr<GapLedger> ledger_;
  std::unique_ptr<HealthTracker> health_;
  std::unique_ptr<TrainingService> models_;
  std::unique_ptr<Monitor> monitor_;
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

namespace {
bool IsTrainRequest(std::string_view input) {
  const std::string_view method = TakeLine(&input);
  return method == "POST" && TakeLine(&input) == "/api/v1/train";
}
}  // namespace

void HttpRequest(std::string_view input) {
  const HttpResponse resp = HandleHttpInput(input);
  SENTINELLE_FUZZ_CHECK(resp.status >= 200 && resp.status <= 599);
  // No 5xx for anything a client sends: the store is healthy, so every
  // refusal is the client's (4xx). The one documented exception is capacity:
  // training jobs queue without a worker here, so once
  // training.max_queued_jobs valid requests are waiting, POST train answers
  // 503 "training queue full" (docs/PROTOCOL.md), as a busy collector does.
  const bool queue_full = resp.status == 503 && IsTrainRequest(input) &&
                          resp.body.find("training queue full") != std::string::npos;
  SENTINELLE_FUZZ_CHECK(resp.status < 500 || queue_full);
}

}  // namespace sentinelle::fuzz
