// Model fixtures for trainer, registry and distribution tests (collector
// side, and the agent-side updater's tests): simulated history in a real
// store, a small fast training configuration, and a running collector that
// serves a real trained, signed and announced model over HTTP and MQTT.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sentinelle/collector/collector.h"
#include "sentinelle/collector/registry.h"
#include "sentinelle/collector/sqlite_store.h"
#include "sentinelle/collector/training_config.h"
#include "sentinelle/collector/training_jobs.h"
#include "sentinelle/manifest.h"
#include "process.h"

namespace sentinelle::testing {

// Runs `sentinelle-sim generate` for `stations` stations over `days` days
// into {dir}/history.csv. Returns the path, or "" when the simulator failed.
std::string GenerateHistory(const std::string& dir, int stations, int days, uint64_t seed = 42);
// Imports a history CSV into `store`; false on failure.
bool ImportHistory(collector::HistoryStore& store, const std::string& csv_path);
// A store at {dir}/collector.db holding `days` of simulated history.
std::unique_ptr<collector::SqliteHistoryStore> SimulatedStore(const TempDir& dir, int stations,
                                                             int days, uint64_t seed = 42);
// pm25 at 60 minutes, few shallow trees, one thread: seconds under ASan.
collector::TrainingConfig SmallTrainingConfig();

inline const std::string kFixtureViewerToken = "fixture-viewer-token-0123456789";
inline const std::string kFixtureScientistToken = "fixture-scientist-token-0123456789";
inline const std::string kFixtureAdminToken = "fixture-admin-token-0123456789";

struct ServedModelOptions {
  std::string broker_uri;              // the collector's MQTT broker
  int stations = 2;
  int days = 30;
  collector::Stage stage = collector::Stage::kProduction;
  std::vector<std::string> rollout_stations;  // shadow/canary scope
  std::string topic_prefix = "sentinelle/v1";
  // Called last on the collector's configuration, before it starts.
  std::function<void(collector::CollectorConfig&)> configure;
  // Accuracy gate settings of the collector (models.*).
  int64_t min_live_samples = 288;
  int64_t rollout_check_interval_s = 300;
};

// A running collector (its own TempDir) with simulated history imported,
// a pm25/60 network model trained through a real training job, promoted to
// `stage` and announced: the retained manifest is on the broker, the
// artifact at manifest.artifact_url (GET with kFixtureViewerToken).
class ServedModel {
 public:
  // nullptr on failure, with the reason in *error.
  static std::unique_ptr<ServedModel> Start(const ServedModelOptions& options, std::string* error);
  ~ServedModel();

  collector::Collector& collector() { return *collector_; }
  collector::CollectorConfig& config() { return config_; }
  int http_port() const { return collector_->http_port(); }
  const std::string& dir() const { return dir_.path(); }

  int64_t version = 0;
  Manifest manifest;               // as announced
  std::string public_key;          // raw 32 bytes
  std::string public_key_path;     // the collector's exported public key file
  std::string artifact;            // the model file bytes

 private:
  ServedModel() = default;
  TempDir dir_;
  collector::CollectorConfig config_;
  std::unique_ptr<collector::Collector> collector_;
};

// Waits for a training job of `collector` to finish; returns its status.
std::optional<collector::JobStatus> WaitForJob(collector::TrainingJobs& jobs, const std::string& id,
                                               std::chrono::milliseconds timeout);

}  // namespace sentinelle::testing
