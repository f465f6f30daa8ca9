// TrainingService: the collector's model side in one object — registry,
// signing key, distributor, trainer, job runner and their HTTP endpoints —
// so the Collector wires it with a few lines (docs/ARCHITECTURE.md,
// "Training, registry and distribution").
//
// Start() re-signs and re-announces every shadow, canary and production
// version (fresh expiry; retained messages survive a broker without
// persistence this way), again every models.manifest_ttl_s / 2, and within
// about 5 s of a stage change made by another process on the same registry
// (the CLI).
//
// Accuracy gate: the shadow answers stations publish (the "shadow" entries
// of their prediction batches, OnStationMessage) are kept in the registry;
// every models.rollout_check_interval_s each shadow version is measured
// against the stations' own answers and the readings that followed
// (rollout_gate.h) and promoted network-wide or rolled back
// (models.min_live_samples, models.rollout_max_rmse_ratio). Both run on the
// job worker's idle ticks, so they pause while a training job runs.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "sentinelle/collector/config.h"
#include "sentinelle/collector/distribution.h"
#include "sentinelle/collector/registry.h"
#include "sentinelle/collector/registry_api.h"
#include "sentinelle/collector/store.h"
#include "sentinelle/collector/training.h"
#include "sentinelle/collector/training_jobs.h"
#include "sentinelle/env.h"
#include "sentinelle/topics.h"

namespace sentinelle::collector {

class TrainingService {
 public:
  // Opens the registry and loads (or on first start creates) the signing
  // key. store and env are borrowed; publisher may be empty.
  static Result<std::unique_ptr<TrainingService>> Open(const CollectorConfig& config,
                                                       HistoryStore* store, Env* env,
                                                       RetainedPublisher publisher);
  ~TrainingService();  // Stop()

  void Start();
  void Stop();
  // Signs and publishes the manifest of every shadow/canary/production version.
  void AnnounceAll();

  // Every message the collector receives on station topics (the MQTT
  // sink, next to the ingest pipeline; paho's callback thread). Takes the
  // shadow answers out of prediction batches that carry any; cheap for the
  // rest (no parse). Never blocks on storage: answers wait in a bounded
  // buffer (the oldest are dropped beyond 100,000, counted).
  void OnStationMessage(std::string_view topic, std::string_view payload, int64_t arrival_ms);
  // Writes buffered shadow answers to the registry, then measures every
  // shadow version and applies the gate. Returns the versions decided.
  std::vector<int64_t> CheckShadows();
  int64_t shadow_answers_dropped() const { return shadow_dropped_.load(); }

  ModelRegistry& registry() { return *registry_; }
  Distributor& distributor() { return *distributor_; }
  Trainer& trainer() { return *trainer_; }
  TrainingJobs& jobs() { return *jobs_; }
  RegistryApi& api() { return *api_; }

 private:
  TrainingService() = default;
  void FlushShadowAnswers();
  Env* env_ = nullptr;
  HistoryStore* store_ = nullptr;
  std::unique_ptr<Topics> topics_;
  std::mutex shadow_mu_;
  std::vector<ShadowPrediction> shadow_buffer_;  // guarded by shadow_mu_
  std::atomic<int64_t> shadow_dropped_{0};
  int64_t last_gate_s_ = 0;
  ModelsConfig models_config_;
  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<Distributor> distributor_;
  std::unique_ptr<Trainer> trainer_;
  std::unique_ptr<TrainingJobs> jobs_;
  std::unique_ptr<RegistryApi> api_;
  std::string AnnouncedState();
  int64_t last_announce_s_ = 0;
  int64_t last_check_s_ = 0;
  std::string last_state_;
};

}  // namespace sentinelle::collector
