// Collector: wires the store, gap ledger, health tracker, ingest pipeline,
// MQTT link and HTTP API together (what `sentinelle-collector run` runs).
#pragma once

#include <memory>

#include "sentinelle/collector/config.h"
#include "sentinelle/collector/gap_ledger.h"
#include "sentinelle/collector/health.h"
#include "sentinelle/collector/http_api.h"
#include "sentinelle/collector/ingest.h"
#include "sentinelle/collector/metrics.h"
#include "sentinelle/collector/mqtt_link.h"
#include "sentinelle/collector/store.h"
#include "sentinelle/env.h"

namespace sentinelle::collector {

class TrainingService;
class Monitor;
class MonitoredStore;

class Collector {
 public:
  // env is borrowed (Env::Default() when null).
  explicit Collector(CollectorConfig config, Env* env = nullptr);
  ~Collector();  // Stop()

  // Opens the store, restores ledger and health, starts the writer, the MQTT
  // link (which keeps connecting in the background) and the HTTP API.
  // Errors: the store cannot be opened or migrated, the HTTP port is taken.
  Status Start();
  // Stops taking messages, commits what is queued, acks it, stops. Idempotent.
  void Stop();

  HistoryStore& store() { return *store_; }
  GapLedger& ledger() { return *ledger_; }
  HealthTracker& health() { return *health_; }
  CollectorMetrics& metrics() { return *metrics_; }
  IngestPipeline& pipeline() { return *pipeline_; }
  int http_port() const { return http_ ? http_->port() : 0; }
  // Trainer, registry and distribution (null before Start).
  TrainingService* models() { return models_.get(); }
  // Live accuracy, drift and alarms (null before Start or when disabled).
  Monitor* monitor() { return monitor_.get(); }

 private:
  CollectorConfig config_;
  Env* env_;
  std::unique_ptr<CollectorMetrics> metrics_;
  std::unique_ptr<HistoryStore> store_;
  // The store as ingest sees it: commits are handed to the monitor.
  std::unique_ptr<MonitoredStore> monitored_store_;
  std::unique_ptr<Monitor> monitor_;
  std::unique_ptr<GapLedger> ledger_;
  std::unique_ptr<HealthTracker> health_;
  std::unique_ptr<MqttLink> mqtt_;
  std::unique_ptr<IngestPipeline> pipeline_;
  std::unique_ptr<TrainingService> models_;
  std::unique_ptr<HttpApi> http_;
  bool started_ = false;
};

}  // namespace sentinelle::collector
