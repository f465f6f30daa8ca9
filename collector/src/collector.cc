#include "sentinelle/collector/collector.h"

#include <spdlog/spdlog.h>

#include "sentinelle/collector/monitoring.h"
#include "sentinelle/collector/sqlite_store.h"
#include "sentinelle/collector/training_service.h"

namespace sentinelle::collector {

namespace {
// Tells station health what the collector distributes for `family` now: its
// production version for every station and canary versions for the stations
// in their scope, with the stage change time and the manifest expiry.
void SyncExpectedModels(ModelRegistry& registry, const Distributor& distributor,
                        HealthTracker& health, const ModelFamily& family) {
  std::vector<DistributedModel> models;
  auto add = [&](const ModelRecord& r, std::vector<std::string> stations) {
    DistributedModel d;
    d.version = std::to_string(r.version);
    d.stations = std::move(stations);
    d.since_ms = r.updated_s * 1000;
    if (auto m = distributor.LatestManifest(r.version)) d.expires_ms = m->expires_s * 1000;
    models.push_back(std::move(d));
  };
  auto production = registry.Production(family);
  if (!production) {
    spdlog::warn("station health, models of {}: {}", family.Label(), production.message());
    return;
  }
  if (*production) add(**production, {});
  ModelFilter f;
  f.target = family.target;
  f.horizon_min = family.horizon_min;
  f.kind = family.kind;
  f.stage = Stage::kCanary;
  auto canaries = registry.List(f);
  if (!canaries) {
    spdlog::warn("station health, models of {}: {}", family.Label(), canaries.message());
    return;
  }
  for (const ModelRecord& r : *canaries) {
    if (r.family != family) continue;
    // A station model's canary is for its own station.
    if (family.kind == "station") {
      add(r, {family.station});
    } else if (!r.rollout_stations.empty()) {
      add(r, r.rollout_stations);
    }
  }
  health.SetDistributedModels({family.target, family.horizon_min, family.kind, family.station},
                              std::move(models));
}
}  // namespace

Collector::Collector(CollectorConfig config, Env* env)
    : config_(std::move(config)), env_(env ? env : Env::Default()) {}

Collector::~Collector() { Stop(); }

Status Collector::Start() {
  metrics_ = std::make_unique<CollectorMetrics>();
  SqliteStoreOptions so;
  so.path = config_.db_path;
  so.synchronous = config_.db_synchronous;
  so.reader_connections = config_.reader_connections;
  auto store = SqliteHistoryStore::Open(so);
  if (!store) return MakeError("store " + config_.db_path + ": " + store.message());
  store_ = std::move(*store);
  monitored_store_ = std::make_unique<MonitoredStore>(store_.get());
  ledger_ = std::make_unique<GapLedger>(config_.gaps);
  health_ = std::make_unique<HealthTracker>(config_.health);
  // The link needs the pipeline as its sink and the pipeline needs the link
  // as its outbound: the sink captures the pointer, set before connecting.
  mqtt_ = std::make_unique<MqttLink>(
      config_.mqtt,
      [this](std::string_view topic, std::string_view payload, int64_t arrival_ms) {
        pipeline_->Submit(topic, payload, arrival_ms);
        if (models_) models_->OnStationMessage(topic, payload, arrival_ms);
      },
      metrics_.get(), env_);
  pipeline_ = std::make_unique<IngestPipeline>(config_, monitored_store_.get(), ledger_.get(),
                                               health_.get(),
                                               metrics_.get(), mqtt_.get(), env_);
  if (auto st = pipeline_->Start(); !st) return st;
  auto models = TrainingService::Open(
      config_, store_.get(), env_,
      [this](const std::string& topic, const std::string& payload) {
        mqtt_->PublishRetained(topic, payload);
      });
  if (!models) {
    pipeline_->Stop();
    return MakeError("models: " + models.message());
  }
  models_ = std::move(*models);
  // Every announcement (start-up, promotion, rollback, re-signing) updates the
  // versions station health expects.
  models_->distributor().SetObserver(
      [ts = models_.get(), health = health_.get()](const ModelFamily& family) {
        SyncExpectedModels(ts->registry(), ts->distributor(), *health, family);
      });
  if (config_.monitoring.enabled) {
    MonitorDeps md;
    md.store = store_.get();
    md.registry = &models_->registry();
    md.jobs = &models_->jobs();
    md.metrics = metrics_.get();
    md.health = health_.get();
    md.ledger = ledger_.get();
    md.env = env_;
    auto monitor = Monitor::Open(config_.monitoring, config_.db_path, md);
    if (!monitor) {
      pipeline_->Stop();
      return MakeError(monitor.message());
    }
    monitor_ = std::move(*monitor);
    // Attached before the rebuild: what ingest commits meanwhile is seen
    // twice at most, and counted once.
    monitored_store_->Attach(monitor_.get());
    if (auto st = monitor_->Start(); !st) {
      pipeline_->Stop();
      return MakeError("monitor: " + st.message());
    }
  }
  if (config_.http.enabled) {
    ApiDeps deps;
    deps.store = store_.get();
    deps.ledger = ledger_.get();
    deps.health = health_.get();
    deps.metrics = metrics_.get();
    deps.pipeline = pipeline_.get();
    deps.env = env_;
    deps.mqtt_connected = [this] { return mqtt_->connected(); };
    deps.models = &models_->api();
    deps.monitor = monitor_.get();
    http_ = std::make_unique<HttpApi>(config_.http, deps);
    if (auto st = http_->Start(); !st) {
      pipeline_->Stop();
      return st;
    }
  }
  mqtt_->Start();
  models_->Start();
  started_ = true;
  spdlog::info("collector started: store {}, broker {}", config_.db_path, config_.mqtt.uri);
  return Status::Ok();
}

void Collector::Stop() {
  if (!started_) return;
  started_ = false;
  // Order: stop serving HTTP, let the writer commit what is queued and hand
  // its acks to the link, then disconnect (paho waits for in-flight acks).
  if (http_) http_->Stop();
  models_->Stop();
  if (monitor_) monitor_->Stop();
  pipeline_->Stop();
  monitored_store_->Attach(nullptr);
  mqtt_->Stop();
  spdlog::info("collector stopped");
}

}  // namespace sentinelle::collector
