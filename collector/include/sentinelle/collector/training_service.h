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
#pragma once

#include <memory>

#include "sentinelle/collector/config.h"
#include "sentinelle/collector/distribution.h"
#include "sentinelle/collector/registry.h"
#include "sentinelle/collector/registry_api.h"
#include "sentinelle/collector/store.h"
#include "sentinelle/collector/training.h"
#include "sentinelle/collector/training_jobs.h"
#include "sentinelle/env.h"

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

  ModelRegistry& registry() { return *registry_; }
  Distributor& distributor() { return *distributor_; }
  Trainer& trainer() { return *trainer_; }
  TrainingJobs& jobs() { return *jobs_; }
  RegistryApi& api() { return *api_; }

 private:
  TrainingService() = default;
  Env* env_ = nullptr;
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
